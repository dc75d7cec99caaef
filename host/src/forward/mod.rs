//! Host forwarding: the host serves an app's storage imports itself, with typed bindings, and
//! hands every call to a [`StorageCalls`].
//!
//! This is how a plain app (one that imports storage, not composed with it ahead of time) runs:
//! its `zero:storage/store` and `wasi:keyvalue` (`0.2.0-draft2` and `0.2.0-draft`: `store`,
//! `atomics`, `batch`) imports are defined here, and each call goes to a [`StorageCalls`]:
//! [`LocalCalls`] calls the app's own storage instance in this process, [`ServiceCalls`] sends
//! the call to a Storage Service over its socket, as the app's identity. The storage rules stay
//! where they are, in the storage component; this module keeps only what the component's
//! bindings keep per instance (open buckets, the draft's numeric cursors, compare-and-swap
//! handles) and maps the standard's shapes and errors exactly as
//! `component/src/bindings/keyvalue.rs` does.
//!
//! - `store.rs`: `zero:storage/store` (the free functions and the `bucket` resource).
//! - `keyvalue.rs`: both versions of `wasi:keyvalue`.
//! - `local.rs`: [`StorageCalls`] on a storage instance in this process.
//! - `service.rs`: [`StorageCalls`] over the Storage Service's protocol.
//! - `checks.rs`: the component's refusal of a call too large to hand on.
//! - `convert.rs`: every conversion between the generated types and the storage logic's.
//!
//! Guest input is bounded here: what the open handles hold is capped ([`MAX_HELD_BYTES`]), and
//! nothing the guest passes can panic the host; a request the socket could not carry is refused
//! with the storage component's own error for it.

mod checks;
mod convert;
mod keyvalue;
mod local;
mod service;
mod store;

use wasmtime::component::{HasData, Linker, Resource, ResourceTable};
use zero_storage_component::{ListPage, Precondition, QuotaInfo, Result, Versioned, Write};

pub(crate) use local::LocalCalls;
pub(crate) use service::ServiceCalls;

pub(crate) mod generated {
    wasmtime::component::bindgen!({
        path: "../wit",
        inline: "
            package zero:forward;

            /// Every storage import an app may have: what the host serves when it forwards.
            world app-storage {
                import zero:storage/store@0.1.0;
                import wasi:keyvalue/store@0.2.0-draft2;
                import wasi:keyvalue/atomics@0.2.0-draft2;
                import wasi:keyvalue/batch@0.2.0-draft2;
                import wasi:keyvalue/store@0.2.0-draft;
                import wasi:keyvalue/atomics@0.2.0-draft;
                import wasi:keyvalue/batch@0.2.0-draft;
            }
        ",
        world: "zero:forward/app-storage",
        // Host failures (a bad handle, a full resource table) trap; storage failures are the
        // WIT error variants.
        imports: { default: trappable },
        with: {
            "zero:storage/store@0.1.0.bucket": crate::forward::store::StoreBucket,
            "wasi:keyvalue/store@0.2.0-draft2.bucket": crate::forward::keyvalue::KvBucket,
            "wasi:keyvalue/atomics@0.2.0-draft2.cas": crate::forward::keyvalue::KvCas,
            "wasi:keyvalue/store@0.2.0-draft.bucket": crate::forward::keyvalue::DraftBucket,
        },
    });
}

/// The storage operations an app's imports come down to, on a namespace: `None` is the
/// caller's own, `Some(name)` one that [`open`](Self::open) accepted. Each has the meaning,
/// checks and errors of the storage component's operation of the same name
/// (`zero_storage_component::Storage`), for the identity the implementation acts as.
///
/// [`LocalCalls`] makes them on a storage instance in this process; [`ServiceCalls`] sends them
/// to a Storage Service.
pub(crate) trait StorageCalls: Send {
    /// Checks that the caller may use `namespace`, as `store.open` does: `invalid-argument` for
    /// a malformed name, then `permission-denied`.
    fn open(&mut self, namespace: &str) -> Result<()>;
    /// The value under `key`; `not-found` if there is no live entry.
    fn get(&mut self, ns: Option<&str>, key: &str) -> Result<Vec<u8>>;
    /// Stores `value` under `key`, expiring after `ttl_secs` (0 = never).
    fn set(&mut self, ns: Option<&str>, key: &str, value: Vec<u8>, ttl_secs: u64) -> Result<()>;
    /// Removes `key`; returns whether a live entry existed.
    fn delete(&mut self, ns: Option<&str>, key: &str) -> Result<bool>;
    /// Whether a live entry exists under `key`.
    fn exists(&mut self, ns: Option<&str>, key: &str) -> Result<bool>;
    /// One page of the live keys starting with `prefix`, after `cursor`.
    fn list(&mut self, ns: Option<&str>, prefix: &str, limit: u32, cursor: Option<&str>) -> Result<ListPage>;
    /// The namespace's usage and quota.
    fn quota(&mut self, ns: Option<&str>) -> Result<QuotaInfo>;
    /// The value under `key` with its version; `not-found` if there is no live entry.
    fn get_versioned(&mut self, ns: Option<&str>, key: &str) -> Result<Versioned>;
    /// The values under `keys` from one snapshot (none where absent).
    fn get_many(&mut self, ns: Option<&str>, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>>;
    /// Stores every pair, all or nothing.
    fn set_many(&mut self, ns: Option<&str>, entries: Vec<(String, Vec<u8>)>, ttl_secs: u64) -> Result<()>;
    /// Removes every key, all or nothing; returns how many live entries existed.
    fn delete_many(&mut self, ns: Option<&str>, keys: Vec<String>) -> Result<u64>;
    /// Adds `delta` to the decimal counter under `key`; returns the new value.
    fn increment(&mut self, ns: Option<&str>, key: &str, delta: i64) -> Result<i64>;
    /// [`increment`](Self::increment), refusing with `invalid-argument` (and changing nothing)
    /// a result below `min`.
    fn increment_within(&mut self, ns: Option<&str>, key: &str, delta: i64, min: i64) -> Result<i64>;
    /// Applies `writes` all or nothing if every precondition holds; returns the new version.
    fn transact(&mut self, ns: Option<&str>, preconditions: Vec<Precondition>, writes: Vec<Write>) -> Result<u64>;
}

/// The most bytes the handles an app holds open (buckets, compare-and-swap handles with their
/// values, the draft's remembered cursors) may keep in host memory. In the composed path they
/// live in the storage instance's memory, under the app's memory limit; here they are host
/// memory, so they get a bound of their own.
pub(crate) const MAX_HELD_BYTES: usize = 32 << 20;

/// What one open handle costs beyond its data (the table slot, the struct, allocator slack), so
/// that a flood of empty handles reaches [`MAX_HELD_BYTES`] too.
const HANDLE_OVERHEAD: usize = 256;

/// One store's forwarding state: where calls go, and what its open handles hold.
pub(crate) struct ForwardCtx {
    calls: Box<dyn StorageCalls>,
    held_bytes: usize,
}

impl ForwardCtx {
    /// Forwards every storage call to `calls`.
    pub(crate) fn new(calls: Box<dyn StorageCalls>) -> Self {
        ForwardCtx { calls, held_bytes: 0 }
    }
}

/// One store's view for the generated host traits: its [`ForwardCtx`] and the resource table
/// its handles live in (shared with WASI).
pub(crate) struct ForwardView<'a> {
    ctx: &'a mut ForwardCtx,
    table: &'a mut ResourceTable,
}

impl<'a> ForwardView<'a> {
    /// The view of `ctx`, keeping handles in `table`.
    pub(crate) fn new(ctx: &'a mut ForwardCtx, table: &'a mut ResourceTable) -> Self {
        ForwardView { ctx, table }
    }

    /// Where the calls go.
    fn calls(&mut self) -> &mut dyn StorageCalls {
        &mut *self.ctx.calls
    }

    /// Keeps `resource`, which holds `bytes` of data, in the table; `Ok(Err(why))` if the app's
    /// handles would hold more than [`MAX_HELD_BYTES`].
    fn hold<T: Send + 'static>(
        &mut self,
        resource: T,
        bytes: usize,
    ) -> wasmtime::Result<std::result::Result<Resource<T>, String>> {
        let cost = bytes.saturating_add(HANDLE_OVERHEAD);
        let total = self.ctx.held_bytes.saturating_add(cost);
        if total > MAX_HELD_BYTES {
            return Ok(Err(format!(
                "the app holds too many open storage handles (buckets and compare-and-swap handles may hold \
                 {MAX_HELD_BYTES} bytes in all); drop the ones it no longer uses"
            )));
        }
        let handle = self.table.push(resource)?;
        self.ctx.held_bytes = total;
        Ok(Ok(handle))
    }

    /// Takes `handle` out of the table and gives back the `bytes` it held.
    fn release<T: 'static>(&mut self, handle: Resource<T>, bytes: impl FnOnce(&T) -> usize) -> wasmtime::Result<T> {
        let resource = self.table.delete(handle)?;
        let cost = bytes(&resource).saturating_add(HANDLE_OVERHEAD);
        self.ctx.held_bytes = self.ctx.held_bytes.saturating_sub(cost);
        Ok(resource)
    }
}

struct Forwarding;

impl HasData for Forwarding {
    type Data<'a> = ForwardView<'a>;
}

/// Adds `zero:storage/store` (with `types`) and both versions of `wasi:keyvalue` `store`,
/// `atomics` and `batch` to `linker`, served by forwarding; `view` finds a store's
/// [`ForwardView`] in its data.
pub(crate) fn add_to_linker<T: 'static>(
    linker: &mut Linker<T>,
    view: fn(&mut T) -> ForwardView<'_>,
) -> wasmtime::Result<()> {
    generated::AppStorage::add_to_linker::<T, Forwarding>(linker, view)
}

#[cfg(test)]
mod tests;
