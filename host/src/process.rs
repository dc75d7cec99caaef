//! A process: one storage component instance bound to one identity, with a native API.

use wasmtime::Store;
use wasmtime::component::ResourceAny;

use crate::error::{Error, Result};
use crate::link::generated::Storage;
use crate::link::generated::zero::storage::types::{
    Error as WitError, Precondition as WitPrecondition, Write as WitWrite,
};
use crate::store::{HostState, STORAGE_CALL_DEADLINE, ticks};

pub use zero_storage_component::{ListPage, Precondition, QuotaInfo, Versioned, Write};

/// One process's storage instance. Calls go through the real storage component, exactly as an
/// app's calls do. By default they work on the process's own namespace; [`Process::use_namespace`]
/// switches to another namespace the process may use.
pub struct Process {
    store: Store<HostState>,
    storage: Storage,
    bucket: Option<ResourceAny>,
}

/// Flattens a call's two layers of failure: the runtime's (trap) and the component's (error).
fn flatten<T>(outcome: wasmtime::Result<Result<T, WitError>>) -> Result<T> {
    match outcome {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(Error::Storage(error.into())),
        Err(trap) => Err(Error::Runtime(trap)),
    }
}

/// Calls the free function `$func` on the own namespace, or the bucket method on the opened one.
macro_rules! dispatch {
    ($self:ident, $func:ident ( $($arg:expr),* )) => {{
        $self.store.set_epoch_deadline(ticks(STORAGE_CALL_DEADLINE));
        let store_api = $self.storage.zero_storage_store();
        flatten(match $self.bucket {
            Some(bucket) => store_api.bucket().$func(&mut $self.store, bucket $(, $arg)*),
            None => store_api.$func(&mut $self.store $(, $arg)*),
        })
    }};
}

impl Process {
    pub(crate) fn new(store: Store<HostState>, storage: Storage) -> Self {
        Process { store, storage, bucket: None }
    }

    /// Directs the following calls to `namespace` (which the process must be allowed to use).
    pub fn use_namespace(&mut self, namespace: &str) -> Result<()> {
        self.store.set_epoch_deadline(ticks(STORAGE_CALL_DEADLINE));
        let bucket = flatten(self.storage.zero_storage_store().call_open(&mut self.store, namespace))?;
        if let Some(old) = self.bucket.replace(bucket) {
            old.resource_drop(&mut self.store).map_err(Error::Runtime)?;
        }
        Ok(())
    }

    /// The value under `key`.
    pub fn get(&mut self, key: &str) -> Result<Vec<u8>> {
        dispatch!(self, call_get(key))
    }

    /// Stores `value` under `key`, expiring after `ttl_secs` seconds (0 = never).
    pub fn set(&mut self, key: &str, value: &[u8], ttl_secs: u64) -> Result<()> {
        dispatch!(self, call_set(key, value, ttl_secs))
    }

    /// Removes `key`; returns whether a live entry existed.
    pub fn delete(&mut self, key: &str) -> Result<bool> {
        dispatch!(self, call_delete(key))
    }

    /// Whether a live entry exists under `key`.
    pub fn exists(&mut self, key: &str) -> Result<bool> {
        dispatch!(self, call_exists(key))
    }

    /// One page of keys starting with `prefix` (limit 0 = 100, at most 1000).
    pub fn list(&mut self, prefix: &str, limit: u32, cursor: Option<&str>) -> Result<ListPage> {
        dispatch!(self, call_list(prefix, limit, cursor)).map(Into::into)
    }

    /// The namespace's usage and quota.
    pub fn quota(&mut self) -> Result<QuotaInfo> {
        dispatch!(self, call_quota()).map(Into::into)
    }

    /// The value under `key` with its version, for a later `version-is` precondition.
    pub fn get_versioned(&mut self, key: &str) -> Result<Versioned> {
        dispatch!(self, call_get_versioned(key)).map(Into::into)
    }

    /// The values under `keys` from one snapshot (none where absent).
    pub fn get_many(&mut self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>> {
        dispatch!(self, call_get_many(keys))
    }

    /// Stores every pair, all or nothing.
    pub fn set_many(&mut self, entries: &[(String, Vec<u8>)], ttl_secs: u64) -> Result<()> {
        dispatch!(self, call_set_many(entries, ttl_secs))
    }

    /// Removes every key, all or nothing; returns how many live entries existed.
    pub fn delete_many(&mut self, keys: &[String]) -> Result<u64> {
        dispatch!(self, call_delete_many(keys))
    }

    /// Atomically adds `delta` to the decimal counter under `key`; returns the new value.
    pub fn increment(&mut self, key: &str, delta: i64) -> Result<i64> {
        dispatch!(self, call_increment(key, delta))
    }

    /// Applies `writes` all or nothing if every precondition holds; returns the new version.
    pub fn transact(&mut self, preconditions: &[Precondition], writes: &[Write]) -> Result<u64> {
        let preconditions: Vec<WitPrecondition> = preconditions.iter().map(Into::into).collect();
        let writes: Vec<WitWrite> = writes.iter().map(Into::into).collect();
        dispatch!(self, call_transact(&preconditions, &writes))
    }

    /// Reclaims the expired entries of `namespace`; returns how many were removed.
    pub fn sweep(&mut self, namespace: &str) -> Result<u64> {
        self.store.set_epoch_deadline(ticks(STORAGE_CALL_DEADLINE));
        flatten(self.storage.zero_storage_admin().call_sweep(&mut self.store, namespace))
    }
}
