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
/// app's calls do. The process's own methods work on its own namespace; [`Process::bucket`]
/// opens another namespace the process may use.
pub struct Process {
    store: Store<HostState>,
    storage: Storage,
}

/// A namespace opened by a [`Process`] (the WIT `bucket` resource): the same operations, in that
/// namespace. It borrows the process, and closes the namespace when dropped.
pub struct Bucket<'p> {
    process: &'p mut Process,
    /// The open `bucket` resource, or none for the process's own namespace.
    handle: Option<ResourceAny>,
    /// Whether dropping this closes `handle` (not when the handle is kept open by its owner).
    closes: bool,
}

/// Flattens a call's two layers of failure: the runtime's (trap) and the component's (error).
fn flatten<T>(outcome: wasmtime::Result<Result<T, WitError>>) -> Result<T> {
    match outcome {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(Error::Storage(error.into())),
        Err(trap) => Err(Error::Runtime(trap)),
    }
}

/// Calls the free function `$func` on the own namespace, or the bucket method on an opened one.
macro_rules! dispatch {
    ($self:ident, $func:ident ( $($arg:expr),* )) => {{
        let process = &mut *$self.process;
        process.store.set_epoch_deadline(ticks(STORAGE_CALL_DEADLINE));
        let store_api = process.storage.zero_storage_store();
        flatten(match $self.handle {
            Some(bucket) => store_api.bucket().$func(&mut process.store, bucket $(, $arg)*),
            None => store_api.$func(&mut process.store $(, $arg)*),
        })
    }};
}

/// The operations of one namespace, as methods of [`Bucket`] and, on the own namespace, of
/// [`Process`] (which forwards to [`Process::own`]).
macro_rules! operations {
    ($($(#[$doc:meta])* fn $name:ident(&mut $this:ident $(, $arg:ident: $ty:ty)*) -> $ret:ty $body:block)*) => {
        impl Bucket<'_> {
            $($(#[$doc])* pub fn $name(&mut $this $(, $arg: $ty)*) -> $ret $body)*
        }
        impl Process {
            $($(#[$doc])* pub fn $name(&mut $this $(, $arg: $ty)*) -> $ret { $this.own().$name($($arg),*) })*
        }
    };
}

operations! {
    /// The value under `key`.
    fn get(&mut self, key: &str) -> Result<Vec<u8>> {
        dispatch!(self, call_get(key))
    }

    /// Stores `value` under `key`, expiring after `ttl_secs` seconds (0 = never).
    fn set(&mut self, key: &str, value: &[u8], ttl_secs: u64) -> Result<()> {
        dispatch!(self, call_set(key, value, ttl_secs))
    }

    /// Removes `key`; returns whether a live entry existed.
    fn delete(&mut self, key: &str) -> Result<bool> {
        dispatch!(self, call_delete(key))
    }

    /// Whether a live entry exists under `key`.
    fn exists(&mut self, key: &str) -> Result<bool> {
        dispatch!(self, call_exists(key))
    }

    /// One page of keys starting with `prefix` (limit 0 = 100, at most 1000).
    fn list(&mut self, prefix: &str, limit: u32, cursor: Option<&str>) -> Result<ListPage> {
        dispatch!(self, call_list(prefix, limit, cursor)).map(Into::into)
    }

    /// The namespace's usage and quota.
    fn quota(&mut self) -> Result<QuotaInfo> {
        dispatch!(self, call_quota()).map(Into::into)
    }

    /// The value under `key` with its version, for a later `version-is` precondition.
    fn get_versioned(&mut self, key: &str) -> Result<Versioned> {
        dispatch!(self, call_get_versioned(key)).map(Into::into)
    }

    /// The values under `keys` from one snapshot (none where absent).
    fn get_many(&mut self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>> {
        dispatch!(self, call_get_many(keys))
    }

    /// Stores every pair, all or nothing.
    fn set_many(&mut self, entries: &[(String, Vec<u8>)], ttl_secs: u64) -> Result<()> {
        dispatch!(self, call_set_many(entries, ttl_secs))
    }

    /// Removes every key, all or nothing; returns how many live entries existed.
    fn delete_many(&mut self, keys: &[String]) -> Result<u64> {
        dispatch!(self, call_delete_many(keys))
    }

    /// Atomically adds `delta` to the decimal counter under `key`; returns the new value.
    fn increment(&mut self, key: &str, delta: i64) -> Result<i64> {
        dispatch!(self, call_increment(key, delta))
    }

    /// Applies `writes` all or nothing if every precondition holds; returns the new version.
    fn transact(&mut self, preconditions: &[Precondition], writes: &[Write]) -> Result<u64> {
        let preconditions: Vec<WitPrecondition> = preconditions.iter().map(Into::into).collect();
        let writes: Vec<WitWrite> = writes.iter().map(Into::into).collect();
        dispatch!(self, call_transact(&preconditions, &writes))
    }
}

impl Process {
    pub(crate) fn new(store: Store<HostState>, storage: Storage) -> Self {
        Process { store, storage }
    }

    /// The process's own namespace, as a [`Bucket`] (for code that works on any bucket).
    pub fn own(&mut self) -> Bucket<'_> {
        Bucket { process: self, handle: None, closes: false }
    }

    /// Opens `namespace`, which the process must be allowed to use: `permission-denied`
    /// otherwise, and `invalid-argument` for a malformed name.
    pub fn bucket(&mut self, namespace: &str) -> Result<Bucket<'_>> {
        self.store.set_epoch_deadline(ticks(STORAGE_CALL_DEADLINE));
        let handle = flatten(self.storage.zero_storage_store().call_open(&mut self.store, namespace))?;
        Ok(Bucket { process: self, handle: Some(handle), closes: true })
    }

    /// Opens `namespace` as [`Process::bucket`] does, and keeps it open until
    /// [`Process::close`] (or the end of the process): for a caller that holds buckets of its
    /// own, like the host serving an app's storage imports.
    pub(crate) fn open_kept(&mut self, namespace: &str) -> Result<ResourceAny> {
        self.store.set_epoch_deadline(ticks(STORAGE_CALL_DEADLINE));
        flatten(self.storage.zero_storage_store().call_open(&mut self.store, namespace))
    }

    /// The operations on the namespace `handle` (from [`Process::open_kept`]) opened, or on the
    /// own namespace for none; the handle stays open.
    pub(crate) fn kept(&mut self, handle: Option<ResourceAny>) -> Bucket<'_> {
        Bucket { process: self, handle, closes: false }
    }

    /// Closes a handle from [`Process::open_kept`].
    pub(crate) fn close(&mut self, handle: ResourceAny) {
        // As in `Bucket`'s drop: a trap here leaves only the resource, freed with the process.
        let _ = handle.resource_drop(&mut self.store);
    }

    /// The process's own namespace, e.g. `app:notes`.
    pub(crate) fn own_namespace(&self) -> &str {
        self.store.data().identity().own_namespace()
    }

    /// Adds `delta` to the counter under `key` in `namespace`, refusing with `invalid-argument`
    /// (and changing nothing) a result below `min`, in one atomic update (`admin.increment-within`).
    pub(crate) fn increment_within(&mut self, namespace: &str, key: &str, delta: i64, min: i64) -> Result<i64> {
        self.store.set_epoch_deadline(ticks(STORAGE_CALL_DEADLINE));
        flatten(self.storage.zero_storage_admin().call_increment_within(&mut self.store, namespace, key, delta, min))
    }

    /// Reclaims the expired entries of `namespace`; returns how many were removed.
    pub fn sweep(&mut self, namespace: &str) -> Result<u64> {
        self.store.set_epoch_deadline(ticks(STORAGE_CALL_DEADLINE));
        flatten(self.storage.zero_storage_admin().call_sweep(&mut self.store, namespace))
    }
}

impl Drop for Bucket<'_> {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take().filter(|_| self.closes) {
            // Closing a bucket cannot fail in the component; a trap here leaves only the
            // resource behind, which the store frees with the process.
            let _ = handle.resource_drop(&mut self.process.store);
        }
    }
}
