//! The thin glue between WIT and the storage logic: it exports `store` and `admin`, and
//! implements [`BackendImport`] and [`Identity`] with the host's `backend` and `identity` imports.

// The generated canonical-ABI glue is `unsafe` by nature; the code written here is not.
#![allow(unsafe_code)]
use crate::backend::{self as logic, BackendImport, Identity};
use crate::storage::{OpenNamespace, Storage};

wit_bindgen::generate!({
    path: "../wit",
    world: "storage",
    // Import parameters borrow from the logic's own types: a value is never copied on its way
    // to the host.
    ownership: Borrowing { duplicate_if_necessary: false },
});

mod convert;
mod keyvalue;

use exports::zero::storage::{admin, store};
use zero::storage::{backend, identity, types};

/// The host's `backend` import.
struct HostBackend;

impl BackendImport for HostBackend {
    fn read(&self, namespace: &str, queries: &[logic::Query]) -> Result<Vec<logic::Answer>, String> {
        let queries: Vec<backend::Query<'_>> = queries.iter().map(convert::query).collect();
        backend::read(namespace, &queries)?.into_iter().map(convert::answer).collect()
    }

    fn scan(&self, namespace: &str, scan: &logic::Query, visit: &mut logic::Visit<'_>) -> Result<usize, String> {
        match backend::read(namespace, &[convert::query(scan)])?.pop() {
            Some(backend::Answer::Scanned(packed)) => logic::visit_packed(&packed, visit),
            _ => Err("the backend answered a scan with something else".into()),
        }
    }

    fn get(&self, namespace: &str, key: &[u8]) -> Result<Option<logic::Entry>, String> {
        Ok(backend::get(namespace, key)?.map(convert::found))
    }

    fn commit(
        &self,
        namespace: &str,
        conditions: &[logic::Condition],
        mutations: &[logic::Mutation<'_>],
    ) -> Result<logic::CommitResult, String> {
        let conditions: Vec<backend::Condition<'_>> = conditions.iter().map(convert::condition).collect();
        let mutations: Vec<backend::Mutation<'_>> = mutations.iter().map(convert::mutation).collect();
        Ok(convert::commit_result(backend::commit(namespace, &conditions, &mutations)?))
    }
}

/// The host's `identity` import.
struct HostIdentity;

impl Identity for HostIdentity {
    fn own_namespace(&self) -> String {
        identity::own_namespace()
    }
    fn access(&self, namespace: &str) -> logic::Access {
        convert::access(identity::access_to(namespace))
    }
    fn quota_bytes(&self, namespace: &str) -> u64 {
        identity::quota_bytes(namespace)
    }
    fn now_ms(&self) -> u64 {
        identity::now_ms()
    }
}

thread_local! {
    /// One process per component instance, so one `Storage` per instance.
    static STORAGE: Storage<HostBackend, HostIdentity> = Storage::new(HostBackend, HostIdentity);
}

fn with_storage<T>(f: impl FnOnce(&Storage<HostBackend, HostIdentity>) -> T) -> T {
    STORAGE.with(f)
}

type Outcome<T> = Result<T, types::Error>;

/// The operations `store` offers both as free functions (own namespace) and as `bucket`
/// methods, written once over a resolved namespace.
mod ops {
    use super::convert::{self, page, preconditions, versioned, writes};
    use super::*;

    pub fn get(ns: &OpenNamespace, key: String) -> Outcome<Vec<u8>> {
        with_storage(|s| s.get(ns, &key)).map_err(Into::into)
    }
    pub fn set(ns: &OpenNamespace, key: String, value: Vec<u8>, ttl_secs: u64) -> Outcome<()> {
        with_storage(|s| s.set(ns, &key, &value, ttl_secs)).map_err(Into::into)
    }
    pub fn delete(ns: &OpenNamespace, key: String) -> Outcome<bool> {
        with_storage(|s| s.delete(ns, &key)).map_err(Into::into)
    }
    pub fn exists(ns: &OpenNamespace, key: String) -> Outcome<bool> {
        with_storage(|s| s.exists(ns, &key)).map_err(Into::into)
    }
    pub fn list(ns: &OpenNamespace, prefix: String, limit: u32, cursor: Option<String>) -> Outcome<types::ListPage> {
        with_storage(|s| s.list(ns, &prefix, limit, cursor.as_deref())).map(page).map_err(Into::into)
    }
    pub fn quota(ns: &OpenNamespace) -> Outcome<types::QuotaInfo> {
        with_storage(|s| s.quota(ns)).map(convert::quota).map_err(Into::into)
    }
    pub fn get_versioned(ns: &OpenNamespace, key: String) -> Outcome<types::VersionedValue> {
        with_storage(|s| s.get_versioned(ns, &key)).map(versioned).map_err(Into::into)
    }
    pub fn get_many(ns: &OpenNamespace, keys: Vec<String>) -> Outcome<Vec<Option<Vec<u8>>>> {
        with_storage(|s| s.get_many(ns, &keys)).map_err(Into::into)
    }
    pub fn set_many(ns: &OpenNamespace, entries: Vec<(String, Vec<u8>)>, ttl_secs: u64) -> Outcome<()> {
        with_storage(|s| s.set_many(ns, &entries, ttl_secs)).map_err(Into::into)
    }
    pub fn delete_many(ns: &OpenNamespace, keys: Vec<String>) -> Outcome<u64> {
        with_storage(|s| s.delete_many(ns, &keys)).map_err(Into::into)
    }
    pub fn increment(ns: &OpenNamespace, key: String, delta: i64) -> Outcome<i64> {
        with_storage(|s| s.increment(ns, &key, delta)).map_err(Into::into)
    }
    pub fn transact(ns: &OpenNamespace, pre: Vec<types::Precondition>, w: Vec<types::Write>) -> Outcome<u64> {
        with_storage(|s| s.transact(ns, &preconditions(pre), &writes(w))).map_err(Into::into)
    }
}

/// Runs `f` on the caller's own namespace (without copying it).
fn on_own<T>(f: impl FnOnce(&OpenNamespace) -> T) -> T {
    with_storage(|s| f(s.own()))
}

/// The component itself.
struct Component;

/// A `bucket`: a namespace opened with its rights checked.
struct Bucket(OpenNamespace);

impl store::GuestBucket for Bucket {
    fn name(&self) -> String {
        self.0.name().to_owned()
    }
    fn get(&self, key: String) -> Outcome<Vec<u8>> {
        ops::get(&self.0, key)
    }
    fn set(&self, key: String, value: Vec<u8>, ttl_secs: u64) -> Outcome<()> {
        ops::set(&self.0, key, value, ttl_secs)
    }
    fn delete(&self, key: String) -> Outcome<bool> {
        ops::delete(&self.0, key)
    }
    fn exists(&self, key: String) -> Outcome<bool> {
        ops::exists(&self.0, key)
    }
    fn list(&self, prefix: String, limit: u32, cursor: Option<String>) -> Outcome<types::ListPage> {
        ops::list(&self.0, prefix, limit, cursor)
    }
    fn quota(&self) -> Outcome<types::QuotaInfo> {
        ops::quota(&self.0)
    }
    fn get_versioned(&self, key: String) -> Outcome<types::VersionedValue> {
        ops::get_versioned(&self.0, key)
    }
    fn get_many(&self, keys: Vec<String>) -> Outcome<Vec<Option<Vec<u8>>>> {
        ops::get_many(&self.0, keys)
    }
    fn set_many(&self, entries: Vec<(String, Vec<u8>)>, ttl_secs: u64) -> Outcome<()> {
        ops::set_many(&self.0, entries, ttl_secs)
    }
    fn delete_many(&self, keys: Vec<String>) -> Outcome<u64> {
        ops::delete_many(&self.0, keys)
    }
    fn increment(&self, key: String, delta: i64) -> Outcome<i64> {
        ops::increment(&self.0, key, delta)
    }
    fn transact(&self, preconditions: Vec<types::Precondition>, writes: Vec<types::Write>) -> Outcome<u64> {
        ops::transact(&self.0, preconditions, writes)
    }
}

impl store::Guest for Component {
    type Bucket = Bucket;

    fn open(namespace: String) -> Outcome<store::Bucket> {
        with_storage(|s| s.open(&namespace)).map(|ns| store::Bucket::new(Bucket(ns))).map_err(Into::into)
    }
    fn get(key: String) -> Outcome<Vec<u8>> {
        on_own(|ns| ops::get(ns, key))
    }
    fn set(key: String, value: Vec<u8>, ttl_secs: u64) -> Outcome<()> {
        on_own(|ns| ops::set(ns, key, value, ttl_secs))
    }
    fn delete(key: String) -> Outcome<bool> {
        on_own(|ns| ops::delete(ns, key))
    }
    fn exists(key: String) -> Outcome<bool> {
        on_own(|ns| ops::exists(ns, key))
    }
    fn list(prefix: String, limit: u32, cursor: Option<String>) -> Outcome<types::ListPage> {
        on_own(|ns| ops::list(ns, prefix, limit, cursor))
    }
    fn quota() -> Outcome<types::QuotaInfo> {
        on_own(ops::quota)
    }
    fn get_versioned(key: String) -> Outcome<types::VersionedValue> {
        on_own(|ns| ops::get_versioned(ns, key))
    }
    fn get_many(keys: Vec<String>) -> Outcome<Vec<Option<Vec<u8>>>> {
        on_own(|ns| ops::get_many(ns, keys))
    }
    fn set_many(entries: Vec<(String, Vec<u8>)>, ttl_secs: u64) -> Outcome<()> {
        on_own(|ns| ops::set_many(ns, entries, ttl_secs))
    }
    fn delete_many(keys: Vec<String>) -> Outcome<u64> {
        on_own(|ns| ops::delete_many(ns, keys))
    }
    fn increment(key: String, delta: i64) -> Outcome<i64> {
        on_own(|ns| ops::increment(ns, key, delta))
    }
    fn transact(preconditions: Vec<types::Precondition>, writes: Vec<types::Write>) -> Outcome<u64> {
        on_own(|ns| ops::transact(ns, preconditions, writes))
    }
}

impl admin::Guest for Component {
    fn sweep(namespace: String) -> Outcome<u64> {
        with_storage(|s| s.open(&namespace).and_then(|ns| s.sweep(&ns))).map_err(Into::into)
    }
    fn increment_within(namespace: String, key: String, delta: i64, min: i64) -> Outcome<i64> {
        with_storage(|s| s.open(&namespace).and_then(|ns| s.increment_within(&ns, &key, delta, min)))
            .map_err(Into::into)
    }
}

export!(Component);
