//! The WASI key-value standard (`wasi:keyvalue` `store`, `atomics`, `batch`) in both versions,
//! served by forwarding, with exactly the mapping the storage component's own bindings use
//! (`component/src/bindings/keyvalue.rs`):
//!
//! - `open("")` and `open("default")` give the caller's own namespace; any other identifier is a
//!   namespace the caller may use, and every refusal is `access-denied`.
//! - Errors: `permission-denied` becomes `access-denied`, everything else `other` with the
//!   storage error's message. Entries set through the standard never expire.
//! - draft2's string cursors are Zero's; draft's numeric cursors are looked up in the bucket's
//!   table of the last [`REMEMBERED_CURSORS`] it returned.
//! - draft's counters are unsigned: `increment` refuses a counter that is or would become
//!   negative, and a delta above `i64::MAX`. Unlike in process this is not one atomic step
//!   (the wire's increment has no bound): if another writer makes the counter negative while
//!   the call runs, the increment lands, is undone, and the call is refused; readers may see
//!   the value in between (see `ServiceCalls::increment_within`).

use std::collections::VecDeque;

use wasmtime::component::Resource;
use zero_storage_component::limits::MAX_KEY_BYTES;
use zero_storage_component::{Error, Precondition, Write};

use super::ForwardView;
use super::generated::wasi::{keyvalue0_2_0_draft as draft, keyvalue0_2_0_draft2 as draft2};

/// Page size of `list-keys`.
const LIST_KEYS_PAGE: u32 = 100;
/// How many `list-keys` cursors of the numeric (draft) flavour a bucket remembers.
pub(crate) const REMEMBERED_CURSORS: usize = 64;
/// The longest cursor Zero hands out: `c` and the hex of a maximal key.
const MAX_CURSOR_BYTES: usize = 1 + 2 * MAX_KEY_BYTES;

/// A draft2 bucket: a namespace the caller opened (`None`: its own).
pub struct KvBucket {
    namespace: Option<String>,
}

/// A draft bucket: a namespace the caller opened, and the numeric cursors it handed out.
pub struct DraftBucket {
    namespace: Option<String>,
    cursors: Cursors,
}

/// draft's cursors are numbers; this maps the numbers a bucket handed out to Zero's key cursors
/// (newest last), so paging stays O(page) and state stays bounded.
#[derive(Default)]
pub(crate) struct Cursors {
    remembered: VecDeque<(u64, String)>,
    next_id: u64,
}

impl Cursors {
    /// Remembers `cursor` under a fresh number, forgetting the oldest past
    /// [`REMEMBERED_CURSORS`].
    pub(crate) fn remember(&mut self, cursor: String) -> u64 {
        // Numbers start at 1, as the component's do; 2^64 pages cannot be reached.
        self.next_id = self.next_id.wrapping_add(1);
        if self.remembered.len() == REMEMBERED_CURSORS {
            self.remembered.pop_front();
        }
        self.remembered.push_back((self.next_id, cursor));
        self.next_id
    }

    /// The cursor remembered under `id`, if it is still remembered.
    pub(crate) fn recall(&self, id: u64) -> Option<String> {
        self.remembered.iter().find(|(known, _)| *known == id).map(|(_, cursor)| cursor.clone())
    }
}

/// A draft2 compare-and-swap handle: the key, and the version and value it had when taken.
pub struct KvCas {
    namespace: Option<String>,
    key: String,
    version: Option<u64>,
    value: Option<Vec<u8>>,
}

impl KvCas {
    /// The bytes this handle keeps in host memory.
    fn held(&self) -> usize {
        let namespace = self.namespace.as_ref().map_or(0, String::len);
        namespace + self.key.len() + self.value.as_ref().map_or(0, Vec::len)
    }
}

/// Who the standard's calls act on: the own namespace, or a name `open` accepted.
fn ns(namespace: &Option<String>) -> Option<&str> {
    namespace.as_deref()
}

/// What `open(identifier)` means: `Ok(None)` for the own namespace, `Ok(Some(name))` for another
/// the caller may use, or why not.
fn resolve(view: &mut ForwardView<'_>, identifier: String) -> Result<Option<String>, Error> {
    match identifier.as_str() {
        "" | "default" => Ok(None),
        _ => view.calls().open(&identifier).map(|()| Some(identifier)),
    }
}

/// What both versions' `store` and `batch` interfaces share: the error mapping, `open`, and
/// every method but `list-keys` (whose cursor type differs), which the caller supplies, as it
/// does `new` (a bucket of this version for a namespace) and `held` (the bytes such a bucket may
/// keep in host memory).
macro_rules! store_interface {
    ($module:ident, $bucket:ident, new: $new:expr, held: $held:path, $($list_keys:tt)*) => {
        /// Zero's errors in the standard's three cases.
        fn standard_error(error: Error) -> $module::store::Error {
            match error {
                Error::PermissionDenied => $module::store::Error::AccessDenied,
                other => $module::store::Error::Other(other.to_string()),
            }
        }

        type Outcome<T> = wasmtime::Result<Result<T, $module::store::Error>>;

        impl $module::store::Host for ForwardView<'_> {
            fn open(&mut self, identifier: String) -> Outcome<Resource<$bucket>> {
                let namespace = match resolve(self, identifier) {
                    Ok(namespace) => namespace,
                    // The storage behind could not be asked: say so, not that access is denied.
                    Err(Error::Backend(why)) => return Ok(Err($module::store::Error::Other(why))),
                    // As in the component: any refusal of the name is `access-denied`.
                    Err(_) => return Ok(Err($module::store::Error::AccessDenied)),
                };
                let bucket: $bucket = $new(namespace);
                let held = $held(&bucket.namespace);
                Ok(self.hold(bucket, held)?.map_err($module::store::Error::Other))
            }
        }

        impl $module::store::HostBucket for ForwardView<'_> {
            fn get(&mut self, bucket: Resource<$bucket>, key: String) -> Outcome<Option<Vec<u8>>> {
                let namespace = &self.table.get(&bucket)?.namespace;
                Ok(match self.ctx.calls.get(ns(namespace), &key) {
                    Ok(value) => Ok(Some(value)),
                    Err(Error::NotFound) => Ok(None),
                    Err(error) => Err(standard_error(error)),
                })
            }
            fn set(&mut self, bucket: Resource<$bucket>, key: String, value: Vec<u8>) -> Outcome<()> {
                let namespace = &self.table.get(&bucket)?.namespace;
                Ok(self.ctx.calls.set(ns(namespace), &key, value, 0).map_err(standard_error))
            }
            fn delete(&mut self, bucket: Resource<$bucket>, key: String) -> Outcome<()> {
                let namespace = &self.table.get(&bucket)?.namespace;
                Ok(self.ctx.calls.delete(ns(namespace), &key).map(drop).map_err(standard_error))
            }
            fn exists(&mut self, bucket: Resource<$bucket>, key: String) -> Outcome<bool> {
                let namespace = &self.table.get(&bucket)?.namespace;
                Ok(self.ctx.calls.exists(ns(namespace), &key).map_err(standard_error))
            }
            $($list_keys)*
            fn drop(&mut self, bucket: Resource<$bucket>) -> wasmtime::Result<()> {
                self.release(bucket, |bucket| $held(&bucket.namespace)).map(drop)
            }
        }

        impl $module::batch::Host for ForwardView<'_> {
            fn get_many(&mut self, bucket: Resource<$bucket>, keys: Vec<String>) -> Outcome<GetMany> {
                let namespace = &self.table.get(&bucket)?.namespace;
                Ok(self.ctx.calls.get_many(ns(namespace), &keys).map(|values| get_many_answer(keys, values)).map_err(standard_error))
            }
            fn set_many(&mut self, bucket: Resource<$bucket>, key_values: Vec<(String, Vec<u8>)>) -> Outcome<()> {
                let namespace = &self.table.get(&bucket)?.namespace;
                Ok(self.ctx.calls.set_many(ns(namespace), key_values, 0).map_err(standard_error))
            }
            fn delete_many(&mut self, bucket: Resource<$bucket>, keys: Vec<String>) -> Outcome<()> {
                let namespace = &self.table.get(&bucket)?.namespace;
                Ok(self.ctx.calls.delete_many(ns(namespace), keys).map(drop).map_err(standard_error))
            }
        }
    };
}

/// The bytes a bucket of either version keeps in host memory besides its cursors.
fn bucket_held(namespace: &Option<String>) -> usize {
    namespace.as_ref().map_or(0, String::len)
}

mod v2 {
    use super::*;
    use draft2::atomics::CasError;
    use draft2::store::KeyResponse;

    /// draft2's `get-many` answer: each key with its value, or none.
    type GetMany = Vec<(String, Option<Vec<u8>>)>;

    fn get_many_answer(keys: Vec<String>, values: Vec<Option<Vec<u8>>>) -> GetMany {
        keys.into_iter().zip(values).collect()
    }

    store_interface!(
        draft2,
        KvBucket,
        new: |namespace| KvBucket { namespace },
        held: bucket_held,
        fn list_keys(&mut self, bucket: Resource<KvBucket>, cursor: Option<String>) -> Outcome<KeyResponse> {
            let namespace = &self.table.get(&bucket)?.namespace;
            let page = self.ctx.calls.list(ns(namespace), "", LIST_KEYS_PAGE, cursor.as_deref());
            Ok(page.map(|page| KeyResponse { keys: page.keys, cursor: page.next_cursor }).map_err(standard_error))
        }
    );

    impl ForwardView<'_> {
        /// A compare-and-swap handle on `key` in `namespace`: its version and value now.
        fn take_cas(&mut self, namespace: Option<String>, key: String) -> Result<KvCas, Error> {
            match self.calls().get_versioned(namespace.as_deref(), &key) {
                Ok(found) => Ok(KvCas { namespace, key, version: Some(found.version), value: Some(found.value) }),
                Err(Error::NotFound) => Ok(KvCas { namespace, key, version: None, value: None }),
                Err(other) => Err(other),
            }
        }

        /// Keeps `cas` in the table, within the bound on what handles hold.
        fn hold_cas(&mut self, cas: KvCas) -> Outcome<Resource<KvCas>> {
            let held = cas.held();
            Ok(self.hold(cas, held)?.map_err(draft2::store::Error::Other))
        }
    }

    impl draft2::atomics::HostCas for ForwardView<'_> {
        fn new(&mut self, bucket: Resource<KvBucket>, key: String) -> Outcome<Resource<KvCas>> {
            let namespace = self.table.get(&bucket)?.namespace.clone();
            match self.take_cas(namespace, key) {
                Ok(cas) => self.hold_cas(cas),
                Err(error) => Ok(Err(standard_error(error))),
            }
        }
        fn current(&mut self, cas: Resource<KvCas>) -> Outcome<Option<Vec<u8>>> {
            Ok(Ok(self.table.get(&cas)?.value.clone()))
        }
        fn drop(&mut self, cas: Resource<KvCas>) -> wasmtime::Result<()> {
            self.release(cas, KvCas::held).map(drop)
        }
    }

    impl draft2::atomics::Host for ForwardView<'_> {
        fn increment(&mut self, bucket: Resource<KvBucket>, key: String, delta: i64) -> Outcome<i64> {
            let namespace = &self.table.get(&bucket)?.namespace;
            Ok(self.ctx.calls.increment(ns(namespace), &key, delta).map_err(standard_error))
        }
        fn swap(&mut self, cas: Resource<KvCas>, value: Vec<u8>) -> wasmtime::Result<Result<(), CasError>> {
            let cas = self.release(cas, KvCas::held)?;
            let precondition = match cas.version {
                Some(version) => Precondition::VersionIs(cas.key.clone(), version),
                None => Precondition::Absent(cas.key.clone()),
            };
            let write = Write::Set { key: cas.key.clone(), value, ttl_secs: 0 };
            let store_error = |error| CasError::StoreError(standard_error(error));
            match self.calls().transact(ns(&cas.namespace), vec![precondition], vec![write]) {
                Ok(_) => Ok(Ok(())),
                // Someone wrote in between: a fresh handle, holding what is there now, to retry with.
                Err(Error::PreconditionFailed(_)) => match self.take_cas(cas.namespace, cas.key) {
                    Ok(fresh) => Ok(Err(match self.hold_cas(fresh)? {
                        Ok(fresh) => CasError::CasFailed(fresh),
                        Err(too_many) => CasError::StoreError(too_many),
                    })),
                    Err(error) => Ok(Err(store_error(error))),
                },
                Err(error) => Ok(Err(store_error(error))),
            }
        }
    }
}

mod v1 {
    use super::*;
    use draft::store::KeyResponse;

    /// draft's `get-many` answer: each key that has a value, with it.
    type GetMany = Vec<Option<(String, Vec<u8>)>>;

    fn get_many_answer(keys: Vec<String>, values: Vec<Option<Vec<u8>>>) -> GetMany {
        keys.into_iter().zip(values).map(|(key, value)| value.map(|value| (key, value))).collect()
    }

    fn draft_bucket(namespace: Option<String>) -> DraftBucket {
        DraftBucket { namespace, cursors: Cursors::default() }
    }

    /// What a full cursor table holds: each cursor and its number.
    const CURSOR_TABLE_BYTES: usize = REMEMBERED_CURSORS * (MAX_CURSOR_BYTES + 8);

    /// The bytes a draft bucket may keep in host memory. It is charged for a full cursor table
    /// when it opens, so the bound on what handles hold covers the table as it fills.
    fn draft_bucket_held(namespace: &Option<String>) -> usize {
        bucket_held(namespace) + CURSOR_TABLE_BYTES
    }

    store_interface!(
        draft,
        DraftBucket,
        new: draft_bucket,
        held: draft_bucket_held,
        fn list_keys(&mut self, bucket: Resource<DraftBucket>, cursor: Option<u64>) -> Outcome<KeyResponse> {
            let open = self.table.get(&bucket)?;
            let resume = match cursor {
                None => None,
                Some(id) => match open.cursors.recall(id) {
                    Some(resume) => Some(resume),
                    None => {
                        let why = format!("cursor {id} is unknown or too old; start the listing again");
                        return Ok(Err(draft::store::Error::Other(why)));
                    }
                },
            };
            let page = match self.ctx.calls.list(ns(&open.namespace), "", LIST_KEYS_PAGE, resume.as_deref()) {
                Ok(page) => page,
                Err(error) => return Ok(Err(standard_error(error))),
            };
            let cursors = &mut self.table.get_mut(&bucket)?.cursors;
            Ok(Ok(KeyResponse { keys: page.keys, cursor: page.next_cursor.map(|next| cursors.remember(next)) }))
        }
    );

    impl draft::atomics::Host for ForwardView<'_> {
        fn increment(&mut self, bucket: Resource<DraftBucket>, key: String, delta: u64) -> Outcome<u64> {
            let Ok(delta) = i64::try_from(delta) else {
                let why = format!("delta {delta} is larger than a counter can hold");
                return Ok(Err(draft::store::Error::Other(why)));
            };
            let namespace = &self.table.get(&bucket)?.namespace;
            // This version's counters are unsigned: refuse, before anything is written, a
            // counter that is or would become negative.
            let value = match self.ctx.calls.increment_within(ns(namespace), &key, delta, 0) {
                Ok(value) => value,
                Err(error) => return Ok(Err(standard_error(error))),
            };
            Ok(u64::try_from(value)
                .map_err(|_| draft::store::Error::Other(format!("the counter `{key}` is negative ({value})"))))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draft_cursors_are_remembered_up_to_sixty_four_then_the_oldest_is_forgotten() {
        let mut cursors = Cursors::default();
        let ids: Vec<u64> = (0..REMEMBERED_CURSORS + 1).map(|i| cursors.remember(format!("c{i:02x}"))).collect();
        assert_eq!(ids[0], 1, "numbers start at 1");
        assert_eq!(cursors.recall(ids[0]), None, "the oldest was forgotten");
        assert_eq!(cursors.recall(ids[1]).as_deref(), Some("c01"));
        assert_eq!(cursors.recall(*ids.last().unwrap()).as_deref(), Some("c40"));
        assert_eq!(cursors.recall(0), None);
        assert_eq!(cursors.recall(u64::MAX), None, "a number never handed out is unknown");
    }
}
