//! The storage operations: every rule of the `store` interface, over any [`Backend`].
//!
//! Each write (through `update.rs`) reads the entry's directory record and the namespace's usage
//! record from one snapshot, checks limits and quota, and commits on the condition that neither
//! changed. If another writer got in first the commit reports a conflict and the write starts
//! over, so usage is exact without locks and works the same on a single file or a distributed
//! engine.

use std::borrow::Cow;
use std::cell::OnceCell;

use crate::backend::{Access, Answer, Backend, CommitResult, Condition, Entry, Identity, Mutation, Query};
use crate::error::{Error, Result};
use crate::layout::{self, Meta, USAGE_KEY, Usage};
use crate::limits::{
    MAX_READ_VALUE_BYTES, MAX_VALUE_BYTES, ReadBudget, check_key, check_prefix, check_value, expiry_ms, page_size,
};
use crate::namespace::check_namespace;
use crate::update::{MAX_ATTEMPTS, Planned, corrupt_usage};
use crate::write_cache::WriteCache;

/// Expired entries reclaimed per commit, which bounds the size of one commit.
const RECLAIM_BATCH: u32 = 128;
/// Backend scans a single `list` call may make while skipping expired entries.
const MAX_LIST_SCANS: u32 = 8;

/// A namespace the caller has opened, with its rights and quota resolved once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespace {
    name: String,
    writable: bool,
    quota_bytes: u64,
}

impl Namespace {
    /// The namespace's name, e.g. `app:notes`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the caller may write here.
    pub fn writable(&self) -> bool {
        self.writable
    }

    /// The namespace's quota in bytes.
    pub fn quota_bytes(&self) -> u64 {
        self.quota_bytes
    }
}

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
    backend: B,
    identity: I,
    own: OnceCell<Namespace>,
    cache: WriteCache,
}

impl<B: Backend, I: Identity> Storage<B, I> {
    /// Storage for the process that `identity` describes.
    pub fn new(backend: B, identity: I) -> Self {
        Storage { backend, identity, own: OnceCell::new(), cache: WriteCache::default() }
    }

    /// What this instance knows of the records it last read or wrote.
    pub(crate) fn write_cache(&self) -> &WriteCache {
        &self.cache
    }

    /// Who is calling, and the clock.
    pub(crate) fn identity(&self) -> &I {
        &self.identity
    }

    /// The caller's own namespace (resolved once per process).
    pub fn own(&self) -> &Namespace {
        self.own.get_or_init(|| {
            let name = self.identity.own_namespace();
            let quota_bytes = self.identity.quota_bytes(&name);
            Namespace { name, writable: true, quota_bytes }
        })
    }

    /// Opens `name` if the caller may use it. The name is checked first, then access, and only
    /// then could anything about the namespace's contents be revealed.
    pub fn open(&self, name: &str) -> Result<Namespace> {
        check_namespace(name)?;
        if name == self.own().name {
            return Ok(self.own().clone());
        }
        let writable = match self.identity.access(name) {
            Access::None => return Err(Error::PermissionDenied),
            Access::ReadOnly => false,
            Access::ReadWrite => true,
        };
        Ok(Namespace { name: name.to_owned(), writable, quota_bytes: self.identity.quota_bytes(name) })
    }

    /// The value under `key`.
    pub fn get(&self, ns: &Namespace, key: &str) -> Result<Vec<u8>> {
        check_key(key)?;
        let mut answers = self.read(
            ns,
            vec![Query::Get(layout::meta_key(key.as_bytes())), Query::Get(layout::data_key(key.as_bytes()))],
        )?;
        let data = take_got(&mut answers, 1)?;
        let meta = take_got(&mut answers, 0)?;
        match meta {
            Some(meta) if !Meta::decode(&meta.value)?.is_expired_lazy(|| self.identity.now_ms()) => match data {
                Some(data) => Ok(data.value),
                None => Err(Error::Backend("an entry's value is missing from the backend".into())),
            },
            _ => Err(Error::NotFound),
        }
    }

    /// Whether a live entry exists under `key`.
    pub fn exists(&self, ns: &Namespace, key: &str) -> Result<bool> {
        check_key(key)?;
        let mut answers = self.read(ns, vec![Query::Get(layout::meta_key(key.as_bytes()))])?;
        match take_got(&mut answers, 0)? {
            Some(meta) => Ok(!Meta::decode(&meta.value)?.is_expired_lazy(|| self.identity.now_ms())),
            None => Ok(false),
        }
    }

    /// Stores `value` under `key`, expiring after `ttl_secs` seconds (0 = never).
    pub fn set(&self, ns: &Namespace, key: &str, value: &[u8], ttl_secs: u64) -> Result<()> {
        check_key(key)?;
        check_value(value)?;
        let expires_at_ms = self.expiry(ttl_secs)?;
        self.update(ns, &[key], &[], |_| {
            Ok((vec![Planned::Set { key, value: Cow::Borrowed(value), expires_at_ms }], ()))
        })?;
        Ok(())
    }

    /// Removes `key`; returns whether a live entry existed.
    pub fn delete(&self, ns: &Namespace, key: &str) -> Result<bool> {
        check_key(key)?;
        let (existed, _) =
            self.update(ns, &[key], &[], |view| Ok((vec![Planned::Delete { key }], view.get(key).is_some())))?;
        Ok(existed)
    }

    /// The expiry for a time to live given now (0 = never), asking the clock only if needed.
    pub(crate) fn expiry(&self, ttl_secs: u64) -> Result<Option<u64>> {
        if ttl_secs == 0 { Ok(None) } else { expiry_ms(self.identity.now_ms(), ttl_secs) }
    }

    /// One page of the live keys starting with `prefix`, after `cursor`.
    pub fn list(&self, ns: &Namespace, prefix: &str, limit: u32, cursor: Option<&str>) -> Result<ListPage> {
        check_prefix(prefix)?;
        let page = page_size(limit);
        let mut after = cursor.map(crate::cursor::decode).transpose()?.map(String::into_bytes);
        let mut keys = Vec::with_capacity(page);
        let mut now = None;
        // Fetch one more live key than the page holds, to know whether more follow.
        for _ in 0..MAX_LIST_SCANS {
            let want = page + 1 - keys.len();
            let (start, end) = layout::meta_range(prefix.as_bytes(), after.as_deref());
            let query = Query::Scan { start, end, limit: want as u32, keys_only: false };
            let entries = take_scanned(&mut self.read(ns, vec![query])?, 0)?;
            let exhausted = entries.len() < want;
            for entry in entries {
                let key = layout::key_of_meta(&entry.key)?.to_vec();
                let meta = Meta::decode(&entry.value)?;
                if !meta.is_expired_lazy(|| *now.get_or_insert_with(|| self.identity.now_ms())) {
                    keys.push(
                        String::from_utf8(key.clone())
                            .map_err(|_| Error::Backend("a stored key is not UTF-8".into()))?,
                    );
                }
                after = Some(key);
            }
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
    pub fn quota(&self, ns: &Namespace) -> Result<QuotaInfo> {
        let now = self.identity.now_ms();
        self.reclaim_expired(ns, now)?;
        let mut answers = self.read(ns, vec![Query::Get(USAGE_KEY.to_vec())])?;
        let usage = match take_got(&mut answers, 0)? {
            Some(entry) => Usage::decode(&entry.value)?,
            None => Usage::default(),
        };
        Ok(QuotaInfo {
            namespace: ns.name.clone(),
            used_bytes: usage.bytes,
            quota_bytes: ns.quota_bytes,
            key_count: usage.keys,
        })
    }

    /// Removes the entries of `ns` that expired at or before now; returns how many.
    pub fn sweep(&self, ns: &Namespace) -> Result<u64> {
        self.reclaim_expired(ns, self.identity.now_ms())
    }

    /// Removes entries that expired at or before `now_ms`, in bounded batches; returns how many.
    pub(crate) fn reclaim_expired(&self, ns: &Namespace, now_ms: u64) -> Result<u64> {
        let mut reclaimed = 0;
        let mut attempts = 0;
        loop {
            let (start, end) = layout::expired_range(now_ms);
            let mut answers = self.read(
                ns,
                vec![
                    Query::Get(USAGE_KEY.to_vec()),
                    Query::Scan { start, end, limit: RECLAIM_BATCH, keys_only: false },
                ],
            )?;
            let expired = take_scanned(&mut answers, 1)?;
            if expired.is_empty() {
                return Ok(reclaimed);
            }
            let usage_entry = take_got(&mut answers, 0)?;
            let mut usage =
                usage_entry.as_ref().map(|entry| Usage::decode(&entry.value)).transpose()?.unwrap_or_default();
            let mut conditions =
                vec![Condition { key: USAGE_KEY.to_vec(), version: usage_entry.map(|entry| entry.version) }];
            let mut mutations = Vec::with_capacity(3 * expired.len() + 1);
            for entry in &expired {
                let (_, key) = layout::parse_expiry_key(&entry.key)?;
                let size = key.len() as u64 + u64::from(layout::decode_expiry_value(&entry.value)?);
                usage.bytes = usage.bytes.checked_sub(size).ok_or_else(corrupt_usage)?;
                usage.keys = usage.keys.checked_sub(1).ok_or_else(corrupt_usage)?;
                conditions.push(Condition { key: entry.key.clone(), version: Some(entry.version) });
                mutations.push(Mutation::Delete(layout::meta_key(key)));
                mutations.push(Mutation::Delete(layout::data_key(key)));
                mutations.push(Mutation::Delete(entry.key.clone()));
            }
            mutations.push(Mutation::Put(USAGE_KEY.to_vec(), Cow::Owned(usage.encode())));
            match self.commit(ns, &conditions, &mutations)? {
                CommitResult::Committed(_) => {
                    self.cache.forget(&ns.name);
                    reclaimed += expired.len() as u64;
                }
                CommitResult::Conflict(_) => {
                    attempts += 1;
                    if attempts >= MAX_ATTEMPTS {
                        return Err(contended());
                    }
                }
            }
        }
    }

    /// Refuses, before any value is fetched, a call whose live values under `keys` (each mention
    /// counted) come to more than [`MAX_READ_VALUE_BYTES`]. It reads only the directory records,
    /// which hold each value's length, and is skipped when there are too few keys to reach the
    /// cap even at the largest value size. The backend answers a read all at once, so this is
    /// what keeps an oversized answer from being fetched at all. The caller still counts the
    /// values as they arrive, because a writer may grow them between this read and the next.
    pub(crate) fn check_read_size<K: AsRef<str>>(&self, ns: &Namespace, keys: &[K]) -> Result<()> {
        if keys.len().saturating_mul(MAX_VALUE_BYTES) <= MAX_READ_VALUE_BYTES {
            return Ok(());
        }
        let queries = keys.iter().map(|key| Query::Get(layout::meta_key(key.as_ref().as_bytes()))).collect();
        let mut answers = self.read(ns, queries)?;
        let mut budget = ReadBudget::default();
        let mut now = None;
        for index in 0..keys.len() {
            let Some(entry) = take_got(&mut answers, index)? else { continue };
            let meta = Meta::decode(&entry.value)?;
            if !meta.is_expired_lazy(|| *now.get_or_insert_with(|| self.identity.now_ms())) {
                budget.take(meta.value_len as usize)?;
            }
        }
        Ok(())
    }

    pub(crate) fn read(&self, ns: &Namespace, queries: Vec<Query>) -> Result<Vec<Answer>> {
        let answers = self.backend.read(&ns.name, &queries).map_err(Error::Backend)?;
        let expected = queries.len();
        if answers.len() != expected {
            return Err(Error::Backend("the backend answered a different number of queries than asked".into()));
        }
        Ok(answers)
    }

    pub(crate) fn commit(
        &self,
        ns: &Namespace,
        conditions: &[Condition],
        mutations: &[Mutation<'_>],
    ) -> Result<CommitResult> {
        self.backend.commit(&ns.name, conditions, mutations).map_err(Error::Backend)
    }
}

impl Meta {
    /// [`Meta::is_expired`], asking the clock only if the entry has an expiry at all.
    fn is_expired_lazy(&self, now_ms: impl FnOnce() -> u64) -> bool {
        self.expires_at_ms.is_some() && self.is_expired(now_ms())
    }
}

pub(crate) fn take_got(answers: &mut [Answer], index: usize) -> Result<Option<Entry>> {
    match answers.get_mut(index) {
        Some(Answer::Got(entry)) => Ok(entry.take()),
        _ => Err(Error::Backend("the backend answered a get with something else".into())),
    }
}

fn take_scanned(answers: &mut [Answer], index: usize) -> Result<Vec<Entry>> {
    match answers.get_mut(index) {
        Some(Answer::Scanned(entries)) => Ok(std::mem::take(entries)),
        _ => Err(Error::Backend("the backend answered a scan with something else".into())),
    }
}

fn contended() -> Error {
    Error::Backend("too many concurrent writers on this namespace; retry the operation".into())
}

#[cfg(test)]
#[path = "storage_tests.rs"]
mod tests;
