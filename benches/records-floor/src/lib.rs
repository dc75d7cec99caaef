//! The records floor: serves `wasi:keyvalue/store@0.2.0-draft` over Zero Storage's own
//! `backend` import with no rules at all, but with Zero Storage's records and conditions.
//!
//! Each call makes the backend calls the storage component makes for it once its write cache
//! knows the key (`component/src/engine.rs`, `component/src/storage.rs`):
//! - set: one `commit` on two conditions (the usage record and the key's directory record are
//!   unchanged) of three puts (directory record, value record, usage record);
//! - delete: the same commit with two deletes and the usage put;
//! - get: one `get` of the value record, trusted when its version is the directory record's;
//! - exists: one `get` of the directory record;
//! - list: one `read` of a scan over the directory records, keys from the packed answer.
//!
//! It checks no limit, no namespace, no time to live and no stored record, and keeps exact
//! usage only by arithmetic on what it last committed. So the time of a call here is what any
//! component keeping these records on these conditions must pay, and the time Zero Storage
//! takes beyond it is its rules and its bookkeeping. The key layout below is Zero Storage's
//! (`component/src/layout.rs`), written out again so that none of its code runs here.

use rustc_hash::FxHashMap as HashMap;
use std::cell::RefCell;

/// Generated bindings; their canonical-ABI glue is `unsafe` by nature, the code here is not.
#[allow(unsafe_code, missing_docs)]
mod bindings {
    wit_bindgen::generate!({
        path: ["../../wit", "wit"],
        world: "zero:records-floor/records-floor",
        // As in the storage component: a value is never copied on its way to the host.
        ownership: Borrowing { duplicate_if_necessary: false },
        generate_all,
    });
}

use bindings::exports::wasi::keyvalue0_2_0_draft::store::{self, Error, KeyResponse};
use bindings::zero::storage::backend::{self, Answer, CommitResult, Condition, KeyRange, Mutation, Query};

/// The storage component's allocator, so that both allocate alike.
#[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

/// The canonical ABI's allocator, on [`ALLOCATOR`], as the storage component defines it (see
/// `cabi_realloc` in `component/src/lib.rs`: without it the linker may keep wasi-libc's, whose
/// `malloc` talc cannot free; this component did, and trapped in talc within four calls).
///
/// # Safety
/// Called by the host only, as the canonical ABI specifies.
#[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cabi_realloc(old_ptr: *mut u8, old_len: usize, align: usize, new_len: usize) -> *mut u8 {
    use std::alloc::{GlobalAlloc, Layout, handle_alloc_error};
    if new_len == 0 {
        return align as *mut u8;
    }
    let Ok(layout) = Layout::from_size_align(new_len, align) else { std::process::abort() };
    // SAFETY: as in the storage component: a non-zero size, and a block this function allocated.
    let ptr = unsafe {
        if old_len == 0 {
            ALLOCATOR.alloc(layout)
        } else {
            ALLOCATOR.realloc(old_ptr, Layout::from_size_align_unchecked(old_len, align), new_len)
        }
    };
    if ptr.is_null() {
        handle_alloc_error(layout);
    }
    ptr
}

/// The one namespace: the benchmark's process is named `bench`.
const NAMESPACE: &str = "app:bench";
/// The backend key of the usage record.
const USAGE_KEY: &[u8] = b"u";
/// The key range of the directory records: every key starting with `m`.
const DIRECTORY: (&[u8], &[u8]) = (b"m", b"n");
/// The keys one `list-keys` page holds, as in the storage component; one more is scanned to
/// know whether more follow.
const PAGE: u32 = 100;
/// Commits tried before a write gives up on conflicts with other writers.
const ATTEMPTS: usize = 8;

/// `tag` followed by `key`: a directory (`m`) or value (`d`) record's backend key.
fn tagged(tag: u8, key: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + key.len());
    out.push(tag);
    out.extend_from_slice(key.as_bytes());
    out
}

/// A directory record: format 1, the value's length (u32 LE), no expiry (u64 LE 0).
fn directory_record(value_len: u32) -> [u8; 13] {
    let mut out = [0u8; 13];
    out[0] = 1;
    out[1..5].copy_from_slice(&value_len.to_le_bytes());
    out
}

/// What this instance knows of its namespace: the usage record and the directory records it
/// last read or committed.
#[derive(Default)]
struct Known {
    /// Bytes and keys in use, and the usage record's version (none: absent); none until read.
    /// A key remembered by a `get` alone is not known for a write until this is.
    usage: Option<(u64, u64, Option<u64>)>,
    /// Each key's value length and directory record version; none if the key is absent.
    keys: HashMap<String, Option<(u32, u64)>>,
}

/// The one bucket: every name opens the namespace [`NAMESPACE`].
#[derive(Default)]
struct Bucket {
    known: RefCell<Known>,
}

/// A backend failure as the standard's error.
fn failed(message: String) -> Error {
    Error::Other(message)
}

/// The first `len` bytes of `rest`, which moves past them.
fn split<'a>(rest: &mut &'a [u8], len: usize) -> Result<&'a [u8], Error> {
    let (head, tail) =
        rest.split_at_checked(len).ok_or_else(|| failed("the backend's scan answer is truncated".into()))?;
    *rest = tail;
    Ok(head)
}

/// A little-endian u32 length.
fn length(raw: &[u8]) -> usize {
    u32::from_le_bytes(raw.try_into().unwrap_or_default()) as usize
}

/// The value length a directory record holds (format byte, then u32 LE).
fn value_len(record: &[u8]) -> u32 {
    record.get(1..5).map_or(0, |raw| length(raw) as u32)
}

/// The entry of a `get` answer at `index`.
fn got(answers: &[Answer], index: usize) -> Result<Option<&backend::Found>, Error> {
    match answers.get(index) {
        Some(Answer::Got(found)) => Ok(found.as_ref()),
        _ => Err(failed("the backend answered a get with something else".into())),
    }
}

impl Bucket {
    /// The value length and directory version of `key` (none: absent), read with the usage
    /// record from one snapshot unless this instance already knows them; and whether they came
    /// from what it knows.
    fn known(&self, key: &str) -> Result<(Option<(u32, u64)>, bool), Error> {
        let known = self.known.borrow();
        if let (Some(entry), Some(_)) = (known.keys.get(key), known.usage) {
            return Ok((*entry, true));
        }
        drop(known);
        let queries = [Query::Get(USAGE_KEY), Query::Get(&tagged(b'm', key))];
        let answers = backend::read(NAMESPACE, &queries).map_err(failed)?;
        let usage = got(&answers, 0)?.map(|found| {
            let number = |at: usize| {
                let raw = found.value.get(at..at + 8).unwrap_or_default();
                u64::from_le_bytes(raw.try_into().unwrap_or_default())
            };
            (number(0), number(8), Some(found.version))
        });
        let entry = got(&answers, 1)?.map(|found| (value_len(&found.value), found.version));
        let mut known = self.known.borrow_mut();
        known.usage = Some(usage.unwrap_or_default());
        known.keys.insert(key.to_owned(), entry);
        Ok((entry, false))
    }

    /// Writes `value` under `key` (none: removes it) in one commit with the usage record, on the
    /// condition that neither the usage record nor the key's directory record changed.
    fn write(&self, key: &str, value: Option<&[u8]>) -> Result<(), Error> {
        for _ in 0..ATTEMPTS {
            let (entry, remembered) = self.known(key)?;
            if entry.is_none() && value.is_none() {
                // Nothing to commit, so no commit checks what was remembered: read it.
                if remembered {
                    self.known.borrow_mut().keys.remove(key);
                    continue;
                }
                return Ok(());
            }
            let (mut bytes, mut keys, usage_version) = self.known.borrow().usage.unwrap_or_default();
            if let Some((old_len, _)) = entry {
                let old = key.len() as u64 + u64::from(old_len);
                let (Some(rest), Some(others)) = (bytes.checked_sub(old), keys.checked_sub(1)) else {
                    return Err(failed("the usage record disagrees with the directory record".into()));
                };
                (bytes, keys) = (rest, others);
            }
            let (meta_key, data_key) = (tagged(b'm', key), tagged(b'd', key));
            let meta;
            let mut mutations = Vec::with_capacity(3);
            match value {
                Some(value) => {
                    bytes += key.len() as u64 + value.len() as u64;
                    keys += 1;
                    meta = directory_record(value.len() as u32);
                    mutations.push(Mutation::Put((&meta_key, &meta)));
                    mutations.push(Mutation::Put((&data_key, value)));
                }
                None => {
                    mutations.push(Mutation::Delete(&meta_key));
                    mutations.push(Mutation::Delete(&data_key));
                }
            }
            let mut usage = [0u8; 16];
            usage[..8].copy_from_slice(&bytes.to_le_bytes());
            usage[8..].copy_from_slice(&keys.to_le_bytes());
            mutations.push(Mutation::Put((USAGE_KEY, &usage)));
            let conditions = [
                Condition { key: USAGE_KEY, version: usage_version },
                Condition { key: &meta_key, version: entry.map(|(_, version)| version) },
            ];
            match backend::commit(NAMESPACE, &conditions, &mutations).map_err(failed)? {
                CommitResult::Committed(version) => {
                    let mut known = self.known.borrow_mut();
                    known.usage = Some((bytes, keys, Some(version)));
                    let entry = value.map(|value| (value.len() as u32, version));
                    // A key already known is updated in place, without allocating.
                    match known.keys.get_mut(key) {
                        Some(slot) => *slot = entry,
                        None => drop(known.keys.insert(key.to_owned(), entry)),
                    }
                    return Ok(());
                }
                // Someone else wrote: read again.
                CommitResult::Conflict(_) => *self.known.borrow_mut() = Known::default(),
            }
        }
        Err(failed("too many conflicting writers".into()))
    }
}

/// The component: its exports are the `wasi:keyvalue` store below.
struct RecordsFloor;

impl store::Guest for RecordsFloor {
    type Bucket = Bucket;

    fn open(_identifier: String) -> Result<store::Bucket, Error> {
        Ok(store::Bucket::new(Bucket::default()))
    }
}

impl store::GuestBucket for Bucket {
    fn get(&self, key: String) -> Result<Option<Vec<u8>>, Error> {
        let entry = self.known.borrow().keys.get(&key).copied().flatten();
        if let Some((_, version)) = entry
            && let Some(found) = backend::get(NAMESPACE, &tagged(b'd', &key)).map_err(failed)?
            && found.version == version
        {
            return Ok(Some(found.value));
        }
        // Not known, or changed since: both records from one snapshot.
        let queries = [Query::Get(&tagged(b'm', &key)), Query::Get(&tagged(b'd', &key))];
        let mut answers = backend::read(NAMESPACE, &queries).map_err(failed)?;
        let entry = got(&answers, 0)?.map(|found| (value_len(&found.value), found.version));
        self.known.borrow_mut().keys.insert(key, entry);
        match answers.pop() {
            Some(Answer::Got(found)) => Ok(found.map(|found| found.value)),
            _ => Err(failed("the backend answered a get with something else".into())),
        }
    }

    fn set(&self, key: String, value: Vec<u8>) -> Result<(), Error> {
        self.write(&key, Some(&value))
    }

    fn delete(&self, key: String) -> Result<(), Error> {
        self.write(&key, None)
    }

    fn exists(&self, key: String) -> Result<bool, Error> {
        Ok(backend::get(NAMESPACE, &tagged(b'm', &key)).map_err(failed)?.is_some())
    }

    fn list_keys(&self, cursor: Option<u64>) -> Result<KeyResponse, Error> {
        if cursor.is_some() {
            return Err(Error::Other("this store lists one page and hands out no cursors".into()));
        }
        let scan = KeyRange { start: DIRECTORY.0, end: DIRECTORY.1, limit: PAGE + 1, keys_only: false };
        let answers = backend::read(NAMESPACE, &[Query::Scan(scan)]).map_err(failed)?;
        let Some(Answer::Scanned(packed)) = answers.first() else {
            return Err(failed("the backend answered a scan with something else".into()));
        };
        // Each entry: key length (u32 LE), key, value length (u32 LE), value, version (u64 LE).
        let mut keys = Vec::with_capacity(PAGE as usize);
        let mut rest = &packed[..];
        while !rest.is_empty() && keys.len() < PAGE as usize {
            let key_len = length(split(&mut rest, 4)?);
            let key = split(&mut rest, key_len)?.get(1..).unwrap_or_default();
            keys.push(String::from_utf8(key.to_vec()).map_err(|_| failed("a stored key is not UTF-8".into()))?);
            let value_len = length(split(&mut rest, 4)?);
            split(&mut rest, value_len + 8)?;
        }
        Ok(KeyResponse { keys, cursor: None })
    }
}

// The export glue is generated `unsafe` code, like the bindings.
#[allow(unsafe_code)]
mod export {
    use super::RecordsFloor;
    crate::bindings::export!(RecordsFloor with_types_in crate::bindings);
}
