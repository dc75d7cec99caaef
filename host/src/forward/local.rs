//! [`StorageCalls`] on a storage instance in this process: how a plain app reaches its storage
//! when no Storage Service owns the data. Each call is one typed call of the storage
//! component's `store` export on the app's own [`Process`], which lifts and lowers byte lists
//! with `memcpy` (a composed app's fused adapter copies them a byte at a time; see the README's
//! performance notes). The storage rules are the component's, unchanged.
//!
//! The buckets of namespaces other than the app's own are opened in the storage instance once
//! and kept, at most [`MAX_KEPT_BUCKETS`] of them; the own namespace needs none (the free
//! functions work on it).
//!
//! The storage instance has its own memory bound (`STORAGE_MEMORY_LIMIT`), apart from the app's:
//! a call that would copy more than [`MAX_CALL_BYTES`] into it gets the component's own refusal
//! instead (`checks.rs`), so an app cannot make its storage instance run out of memory.

use std::collections::HashMap;

use wasmtime::component::ResourceAny;
use zero_storage_component::{Error, ListPage, Precondition, QuotaInfo, Result, Versioned, Write};

use super::StorageCalls;
use super::checks::{Checker, argument_error, entries_call, key_call, keys_call, list_call, set_call, transact_call};
use crate::process::{Bucket, Process};

/// The most buckets kept open in the storage instance. Past it, the kept buckets are closed
/// and reopened on use (opening checks access again, with the same answer).
const MAX_KEPT_BUCKETS: usize = 64;

/// The most bytes one call may copy into the storage instance: half its memory. Every valid
/// call carries far less (a batch holds at most 16 MiB of values).
const MAX_CALL_BYTES: usize = crate::store::STORAGE_MEMORY_LIMIT / 2;

/// Refuses a call of up to `bound` bytes over [`MAX_CALL_BYTES`] with the error `check` (the
/// operation run natively) gives, before anything is copied into the storage instance.
fn fits(
    bound: usize,
    check: impl FnOnce(&Checker, &zero_storage_component::OpenNamespace) -> Result<()>,
) -> Result<()> {
    if bound <= MAX_CALL_BYTES {
        return Ok(());
    }
    Err(argument_error(check).unwrap_or_else(|| {
        Error::InvalidArgument(format!(
            "the call carries more than a storage call may ({MAX_CALL_BYTES} bytes); split it"
        ))
    }))
}

/// The storage calls of one app, made on its own storage instance.
pub(crate) struct LocalCalls {
    process: Process,
    /// Buckets opened in the storage instance, by namespace.
    kept: HashMap<String, ResourceAny>,
}

impl LocalCalls {
    /// Calls on `process`, the app's storage instance (of the app's identity).
    pub(crate) fn new(process: Process) -> Self {
        LocalCalls { process, kept: HashMap::new() }
    }

    /// The operations on `ns` (none = the own namespace), opening its bucket if it is not kept.
    fn on(&mut self, ns: Option<&str>) -> Result<Bucket<'_>> {
        let Some(namespace) = ns.filter(|name| *name != self.process.own_namespace()) else {
            return Ok(self.process.kept(None));
        };
        if let Some(handle) = self.kept.get(namespace) {
            return Ok(self.process.kept(Some(*handle)));
        }
        if self.kept.len() >= MAX_KEPT_BUCKETS {
            for (_, handle) in self.kept.drain() {
                self.process.close(handle);
            }
        }
        let handle = self.process.open_kept(namespace).map_err(storage_error)?;
        self.kept.insert(namespace.to_owned(), handle);
        Ok(self.process.kept(Some(handle)))
    }
}

/// The storage error of a failed call: the component's own, or a backend error if the storage
/// instance itself failed (it trapped, or ran out of time), which the app can report.
fn storage_error(error: crate::Error) -> Error {
    match error {
        crate::Error::Storage(error) => error,
        other => Error::Backend(format!("the storage instance failed: {other}")),
    }
}

/// Runs `op` on the namespace `ns` of `calls`, with its errors as storage errors.
macro_rules! on {
    ($calls:ident, $ns:ident, |$bucket:ident| $op:expr) => {{
        let mut $bucket = $calls.on($ns)?;
        $op.map_err(storage_error)
    }};
}

impl StorageCalls for LocalCalls {
    fn open(&mut self, namespace: &str) -> Result<()> {
        fits(key_call(Some(namespace), ""), |s, _| s.open(namespace).map(drop))?;
        self.on(Some(namespace)).map(drop)
    }
    fn get(&mut self, ns: Option<&str>, key: &str) -> Result<Vec<u8>> {
        fits(key_call(ns, key), |s, own| s.get(own, key).map(drop))?;
        on!(self, ns, |bucket| bucket.get(key))
    }
    fn set(&mut self, ns: Option<&str>, key: &str, value: Vec<u8>, ttl_secs: u64) -> Result<()> {
        fits(set_call(ns, key, &value), |s, own| s.set(own, key, &value, ttl_secs))?;
        on!(self, ns, |bucket| bucket.set(key, &value, ttl_secs))
    }
    fn delete(&mut self, ns: Option<&str>, key: &str) -> Result<bool> {
        fits(key_call(ns, key), |s, own| s.delete(own, key).map(drop))?;
        on!(self, ns, |bucket| bucket.delete(key))
    }
    fn exists(&mut self, ns: Option<&str>, key: &str) -> Result<bool> {
        fits(key_call(ns, key), |s, own| s.exists(own, key).map(drop))?;
        on!(self, ns, |bucket| bucket.exists(key))
    }
    fn list(&mut self, ns: Option<&str>, prefix: &str, limit: u32, cursor: Option<&str>) -> Result<ListPage> {
        fits(list_call(ns, prefix, cursor), |s, own| s.list(own, prefix, limit, cursor).map(drop))?;
        on!(self, ns, |bucket| bucket.list(prefix, limit, cursor))
    }
    fn quota(&mut self, ns: Option<&str>) -> Result<QuotaInfo> {
        on!(self, ns, |bucket| bucket.quota())
    }
    fn get_versioned(&mut self, ns: Option<&str>, key: &str) -> Result<Versioned> {
        fits(key_call(ns, key), |s, own| s.get_versioned(own, key).map(drop))?;
        on!(self, ns, |bucket| bucket.get_versioned(key))
    }
    fn get_many(&mut self, ns: Option<&str>, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>> {
        fits(keys_call(ns, keys), |s, own| s.get_many(own, keys).map(drop))?;
        on!(self, ns, |bucket| bucket.get_many(keys))
    }
    fn set_many(&mut self, ns: Option<&str>, entries: Vec<(String, Vec<u8>)>, ttl_secs: u64) -> Result<()> {
        fits(entries_call(ns, &entries), |s, own| s.set_many(own, &entries, ttl_secs))?;
        on!(self, ns, |bucket| bucket.set_many(&entries, ttl_secs))
    }
    fn delete_many(&mut self, ns: Option<&str>, keys: Vec<String>) -> Result<u64> {
        fits(keys_call(ns, &keys), |s, own| s.delete_many(own, &keys).map(drop))?;
        on!(self, ns, |bucket| bucket.delete_many(&keys))
    }
    fn increment(&mut self, ns: Option<&str>, key: &str, delta: i64) -> Result<i64> {
        fits(key_call(ns, key), |s, own| s.increment(own, key, delta).map(drop))?;
        on!(self, ns, |bucket| bucket.increment(key, delta))
    }
    fn increment_within(&mut self, ns: Option<&str>, key: &str, delta: i64, min: i64) -> Result<i64> {
        fits(key_call(ns, key), |s, own| s.increment_within(own, key, delta, min).map(drop))?;
        let namespace = ns.unwrap_or(self.process.own_namespace()).to_owned();
        self.process.increment_within(&namespace, key, delta, min).map_err(storage_error)
    }
    fn transact(&mut self, ns: Option<&str>, preconditions: Vec<Precondition>, writes: Vec<Write>) -> Result<u64> {
        fits(transact_call(ns, &preconditions, &writes).0, |s, own| {
            s.transact(own, &preconditions, &writes).map(drop)
        })?;
        on!(self, ns, |bucket| bucket.transact(&preconditions, &writes))
    }
}
