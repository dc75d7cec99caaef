//! The thin glue between WIT and the storage logic: it exports `store` and `admin`, and
//! implements [`Backend`] and [`Identity`] with the host's `backend` and `identity` imports.

// The generated canonical-ABI glue is `unsafe` by nature; the code written here is not.
#![allow(unsafe_code)]
use crate::backend::{self as logic, Backend, Identity};
use crate::error::Error;
use crate::storage::{Namespace, Storage};

wit_bindgen::generate!({
    path: "../wit",
    world: "storage",
    // Import parameters borrow from the logic's own types: a value is never copied on its way
    // to the host.
    ownership: Borrowing { duplicate_if_necessary: false },
});

use exports::zero::storage::{admin, store};
use zero::storage::{backend, identity, types};

/// The host's `backend` import.
struct HostBackend;

impl Backend for HostBackend {
    fn read(&self, namespace: &str, queries: &[logic::Query]) -> Result<Vec<logic::Answer>, String> {
        let queries: Vec<backend::Query<'_>> = queries
            .iter()
            .map(|query| match query {
                logic::Query::Get(key) => backend::Query::Get(key),
                logic::Query::Scan { start, end, limit, keys_only } => {
                    backend::Query::Scan(backend::KeyRange { start, end, limit: *limit, keys_only: *keys_only })
                }
            })
            .collect();
        let entry = |entry: backend::Entry| logic::Entry { key: entry.key, value: entry.value, version: entry.version };
        Ok(backend::read(namespace, &queries)?
            .into_iter()
            .map(|answer| match answer {
                backend::Answer::Got(found) => logic::Answer::Got(found.map(entry)),
                backend::Answer::Scanned(entries) => logic::Answer::Scanned(entries.into_iter().map(entry).collect()),
            })
            .collect())
    }

    fn commit(
        &self,
        namespace: &str,
        conditions: &[logic::Condition],
        mutations: &[logic::Mutation],
    ) -> Result<logic::CommitResult, String> {
        let conditions: Vec<backend::Condition<'_>> =
            conditions.iter().map(|c| backend::Condition { key: &c.key, version: c.version }).collect();
        let mutations: Vec<backend::Mutation<'_>> = mutations
            .iter()
            .map(|mutation| match mutation {
                logic::Mutation::Put(key, value) => backend::Mutation::Put((key, value)),
                logic::Mutation::Delete(key) => backend::Mutation::Delete(key),
            })
            .collect();
        Ok(match backend::commit(namespace, &conditions, &mutations)? {
            backend::CommitResult::Committed(version) => logic::CommitResult::Committed(version),
            backend::CommitResult::Conflict(index) => logic::CommitResult::Conflict(index),
        })
    }
}

/// The host's `identity` import.
struct HostIdentity;

impl Identity for HostIdentity {
    fn own_namespace(&self) -> String {
        identity::own_namespace()
    }
    fn access(&self, namespace: &str) -> logic::Access {
        match identity::access_to(namespace) {
            identity::Access::None => logic::Access::None,
            identity::Access::ReadOnly => logic::Access::ReadOnly,
            identity::Access::ReadWrite => logic::Access::ReadWrite,
        }
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

impl From<Error> for types::Error {
    fn from(error: Error) -> Self {
        match error {
            Error::NotFound => types::Error::NotFound,
            Error::QuotaExceeded => types::Error::QuotaExceeded,
            Error::KeyTooLong => types::Error::KeyTooLong,
            Error::ValueTooLarge => types::Error::ValueTooLarge,
            Error::InvalidArgument(why) => types::Error::InvalidArgument(why),
            Error::PermissionDenied => types::Error::PermissionDenied,
            Error::Backend(why) => types::Error::BackendError(why),
        }
    }
}

type Outcome<T> = Result<T, types::Error>;

fn page(page: crate::ListPage) -> types::ListPage {
    types::ListPage { keys: page.keys, next_cursor: page.next_cursor }
}

fn quota(info: crate::QuotaInfo) -> types::QuotaInfo {
    types::QuotaInfo {
        namespace: info.namespace,
        used_bytes: info.used_bytes,
        quota_bytes: info.quota_bytes,
        key_count: info.key_count,
    }
}

/// The component itself.
struct Component;

/// A `bucket`: a namespace opened with its rights checked.
struct Bucket(Namespace);

impl store::GuestBucket for Bucket {
    fn name(&self) -> String {
        self.0.name().to_owned()
    }
    fn get(&self, key: String) -> Outcome<Vec<u8>> {
        with_storage(|s| s.get(&self.0, &key)).map_err(Into::into)
    }
    fn set(&self, key: String, value: Vec<u8>, ttl_secs: u64) -> Outcome<()> {
        with_storage(|s| s.set(&self.0, &key, value, ttl_secs)).map_err(Into::into)
    }
    fn delete(&self, key: String) -> Outcome<bool> {
        with_storage(|s| s.delete(&self.0, &key)).map_err(Into::into)
    }
    fn exists(&self, key: String) -> Outcome<bool> {
        with_storage(|s| s.exists(&self.0, &key)).map_err(Into::into)
    }
    fn list(&self, prefix: String, limit: u32, cursor: Option<String>) -> Outcome<types::ListPage> {
        with_storage(|s| s.list(&self.0, &prefix, limit, cursor.as_deref())).map(page).map_err(Into::into)
    }
    fn quota(&self) -> Outcome<types::QuotaInfo> {
        with_storage(|s| s.quota(&self.0)).map(quota).map_err(Into::into)
    }
}

impl store::Guest for Component {
    type Bucket = Bucket;

    fn open(namespace: String) -> Outcome<store::Bucket> {
        with_storage(|s| s.open(&namespace)).map(|ns| store::Bucket::new(Bucket(ns))).map_err(Into::into)
    }
    fn get(key: String) -> Outcome<Vec<u8>> {
        with_storage(|s| s.get(s.own(), &key)).map_err(Into::into)
    }
    fn set(key: String, value: Vec<u8>, ttl_secs: u64) -> Outcome<()> {
        with_storage(|s| s.set(s.own(), &key, value, ttl_secs)).map_err(Into::into)
    }
    fn delete(key: String) -> Outcome<bool> {
        with_storage(|s| s.delete(s.own(), &key)).map_err(Into::into)
    }
    fn exists(key: String) -> Outcome<bool> {
        with_storage(|s| s.exists(s.own(), &key)).map_err(Into::into)
    }
    fn list(prefix: String, limit: u32, cursor: Option<String>) -> Outcome<types::ListPage> {
        with_storage(|s| s.list(s.own(), &prefix, limit, cursor.as_deref())).map(page).map_err(Into::into)
    }
    fn quota() -> Outcome<types::QuotaInfo> {
        with_storage(|s| s.quota(s.own())).map(quota).map_err(Into::into)
    }
}

impl admin::Guest for Component {
    fn sweep(namespace: String) -> Outcome<u64> {
        with_storage(|s| s.open(&namespace).and_then(|ns| s.sweep(&ns))).map_err(Into::into)
    }
}

export!(Component);
