//! The storage operations: every rule of the `store` interface, over any [`BackendImport`].
//!
//! Each write (through the engine's `update`, `engine.rs`) reads the entry's directory record and the namespace's usage
//! record from one snapshot, checks limits and quota, and commits on the condition that neither
//! changed. If another writer got in first the commit reports a conflict and the write starts
//! over, so usage is exact without locks and works the same on a single file or a distributed
//! engine.

use std::borrow::Cow;
use std::cell::OnceCell;

use crate::backend::{Access, BackendImport, Identity, Query};
pub use crate::engine::OpenNamespace;
use crate::engine::{Engine, Planned, take_got};
use crate::error::{Error, Result};
use crate::layout::{self, Meta, USAGE_KEY, Usage};
use crate::limits::{check_key, check_prefix, check_value, page_size};
use crate::namespace::check_namespace;
/// Backend scans a single `list` call may make while skipping expired entries.
const MAX_LIST_SCANS: u32 = 8;

/// A page of keys returned by [`Storage::list`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListPage {
    /// Live keys in ascending byte order.
    pub keys: Vec<String>,
    /// Present iff more keys may follow.
    pub next_cursor: Option<String>,
}

/// A namespace's usage, returned by [`Storage::quota`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaInfo {
    /// The namespace.
    pub namespace: String,
    /// Key bytes plus value bytes of live entries.
    pub used_bytes: u64,
    /// The namespace's quota.
    pub quota_bytes: u64,
    /// Live entries.
    pub key_count: u64,
}

/// The storage logic for one process: its identity, and the backend it shares with others.
pub struct Storage<B, I> {
    engine: Engine<B, I>,
    own: OnceCell<OpenNamespace>,
}

impl<B: BackendImport, I: Identity> Storage<B, I> {
    /// Storage for the process that `identity` describes.
    pub fn new(backend: B, identity: I) -> Self {
        Storage { engine: Engine::new(backend, identity), own: OnceCell::new() }
    }

    /// The engine below the operations: reads, commits, retries and reclaiming.
    pub(crate) fn engine(&self) -> &Engine<B, I> {
        &self.engine
    }

    /// The caller's own namespace (resolved once per process).
    pub fn own(&self) -> &OpenNamespace {
        self.own.get_or_init(|| {
            let name = self.engine.identity().own_namespace();
            let quota_bytes = self.engine.identity().quota_bytes(&name);
            OpenNamespace::new(name, true, quota_bytes)
        })
    }

    /// Opens `name` if the caller may use it. The name is checked first, then access, and only
    /// then could anything about the namespace's contents be revealed.
    pub fn open(&self, name: &str) -> Result<OpenNamespace> {
        check_namespace(name)?;
        if name == self.own().name() {
            return Ok(self.own().clone());
        }
        let writable = match self.engine.identity().access(name) {
            Access::None => return Err(Error::PermissionDenied),
            Access::ReadOnly => false,
            Access::ReadWrite => true,
        };
        Ok(OpenNamespace::new(name.to_owned(), writable, self.engine.identity().quota_bytes(name)))
    }

    /// The value under `key`.
    ///
    /// An entry's directory record and value record are always written (and removed) together,
    /// in one commit that stamps both with one version. So when this instance knows the
    /// directory record at some version, a value record at that same version proves the
    /// directory record is still that one, and the value record alone answers: one record read
    /// instead of two. Otherwise (unknown, or the versions differ) both are read, from one
    /// snapshot, and the directory record is remembered for next time.
    pub fn get(&self, ns: &OpenNamespace, key: &str) -> Result<Vec<u8>> {
        check_key(key)?;
        let now = || self.engine.identity().now_ms();
        if let Some((meta, version)) = self.engine.cached_meta(ns, key)
            && let Some(data) = self.engine.get(ns, &layout::data_key(key.as_bytes()))?
            && data.version == version
        {
            return if meta.is_expired_lazy(now) { Err(Error::NotFound) } else { Ok(data.value) };
        }
        let mut answers = self.engine.read(
            ns,
            vec![Query::Get(layout::meta_key(key.as_bytes())), Query::Get(layout::data_key(key.as_bytes()))],
        )?;
        let data = take_got(&mut answers, 1)?;
        let meta = take_got(&mut answers, 0)?.map(|entry| Ok::<_, Error>((Meta::decode(&entry.value)?, entry.version)));
        let meta = meta.transpose()?;
        self.engine.remember_meta(ns, key, meta);
        match meta {
            Some((meta, _)) if !meta.is_expired_lazy(now) => match data {
                Some(data) => Ok(data.value),
                None => Err(Error::Backend("an entry's value is missing from the backend".into())),
            },
            _ => Err(Error::NotFound),
        }
    }

    /// Whether a live entry exists under `key`.
    pub fn exists(&self, ns: &OpenNamespace, key: &str) -> Result<bool> {
        check_key(key)?;
        match self.engine.get(ns, &layout::meta_key(key.as_bytes()))? {
            Some(meta) => Ok(!Meta::decode(&meta.value)?.is_expired_lazy(|| self.engine.identity().now_ms())),
            None => Ok(false),
        }
    }

    /// Stores `value` under `key`, expiring after `ttl_secs` seconds (0 = never).
    pub fn set(&self, ns: &OpenNamespace, key: &str, value: &[u8], ttl_secs: u64) -> Result<()> {
        check_key(key)?;
        check_value(value)?;
        let expires_at_ms = self.engine.expiry(ttl_secs)?;
        self.engine.update(ns, &[key], &[], |_| {
            Ok((vec![Planned::Set { key, value: Cow::Borrowed(value), expires_at_ms }], ()))
        })?;
        Ok(())
    }

    /// Removes `key`; returns whether a live entry existed.
    pub fn delete(&self, ns: &OpenNamespace, key: &str) -> Result<bool> {
        check_key(key)?;
        let (existed, _) =
            self.engine.update(ns, &[key], &[], |view| Ok((vec![Planned::Delete { key }], view.get(key).is_some())))?;
        Ok(existed)
    }

    /// One page of the live keys starting with `prefix`, after `cursor`.
    pub fn list(&self, ns: &OpenNamespace, prefix: &str, limit: u32, cursor: Option<&str>) -> Result<ListPage> {
        check_prefix(prefix)?;
        let page = page_size(limit);
        // The last key examined (live or not), reused across scans: listing resumes after it.
        let mut after = cursor.map(crate::cursor::decode).transpose()?.map(String::into_bytes);
        let mut keys = Vec::with_capacity(page);
        let mut now = None;
        // Fetch one more live key than the page holds, to know whether more follow.
        for _ in 0..MAX_LIST_SCANS {
            let want = page + 1 - keys.len();
            let (start, end) = layout::meta_range(prefix.as_bytes(), after.as_deref());
            let query = Query::Scan { start, end, limit: want as u32, keys_only: false };
            // The entries are visited in place; the first bad one stops the page.
            let mut failed = None;
            let scanned = self.engine.scan(ns, &query, &mut |raw_key, raw_meta, _version| {
                if failed.is_some() {
                    return;
                }
                let examined = (|| -> Result<()> {
                    let key = layout::key_of_meta(raw_key)?;
                    let meta = Meta::decode(raw_meta)?;
                    if !meta.is_expired_lazy(|| *now.get_or_insert_with(|| self.engine.identity().now_ms())) {
                        let key =
                            std::str::from_utf8(key).map_err(|_| Error::Backend("a stored key is not UTF-8".into()))?;
                        keys.push(key.to_owned());
                    }
                    let last = after.get_or_insert_with(Vec::new);
                    last.clear();
                    last.extend_from_slice(key);
                    Ok(())
                })();
                if let Err(error) = examined {
                    failed = Some(error);
                }
            })?;
            if let Some(error) = failed {
                return Err(error);
            }
            let exhausted = scanned < want;
            if keys.len() > page {
                keys.truncate(page);
                let next_cursor = keys.last().map(|last| crate::cursor::encode(last));
                return Ok(ListPage { keys, next_cursor });
            }
            if exhausted {
                return Ok(ListPage { keys, next_cursor: None });
            }
        }
        // Too many expired entries in the way to finish in one call: return what we have and
        // let the caller resume after the last key examined.
        let resume = after.map(|key| crate::cursor::encode(&String::from_utf8_lossy(&key)));
        Ok(ListPage { keys, next_cursor: resume })
    }

    /// The namespace's usage and quota. Expired entries are reclaimed first, so the figures
    /// count live entries only.
    pub fn quota(&self, ns: &OpenNamespace) -> Result<QuotaInfo> {
        let now = self.engine.identity().now_ms();
        self.engine.reclaim_expired(ns, now)?;
        let mut answers = self.engine.read(ns, vec![Query::Get(USAGE_KEY.to_vec())])?;
        let usage = match take_got(&mut answers, 0)? {
            Some(entry) => Usage::decode(&entry.value)?,
            None => Usage::default(),
        };
        Ok(QuotaInfo {
            namespace: ns.name().to_owned(),
            used_bytes: usage.bytes,
            quota_bytes: ns.quota_bytes(),
            key_count: usage.keys,
        })
    }

    /// Removes the entries of `ns` that expired at or before now; returns how many.
    pub fn sweep(&self, ns: &OpenNamespace) -> Result<u64> {
        self.engine.reclaim_expired(ns, self.engine.identity().now_ms())
    }
}

#[cfg(test)]
#[path = "storage_tests.rs"]
mod tests;
