//! The stores the runtime makes: each holds one process — a storage instance alone, or an app
//! with its storage instance — and bounds its memory and its calls' time.

use std::time::Duration;

use wasmtime::component::ResourceTable;
use wasmtime::{Engine, ResourceLimiter, Store, StoreLimits};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::identity::ProcessIdentity;
use crate::link::{ZeroStorageCtx, ZeroStorageView};

/// How often the engine's epoch advances; deadlines are counted in these ticks.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(10);
/// The longest a single storage call may run before it is stopped (a component bug, never
/// legitimate work: every operation is bounded).
pub(crate) const STORAGE_CALL_DEADLINE: Duration = Duration::from_secs(30);
/// The memory a storage-only process may use: two maximal values plus headroom.
pub(crate) const STORAGE_MEMORY_LIMIT: usize = 64 << 20;

/// Converts a duration into epoch ticks.
pub(crate) fn ticks(duration: Duration) -> u64 {
    (duration.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64
}

/// The data of one process's store: its WASI context, its identity, the shared storage context
/// and its memory limit.
pub(crate) struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limits: MemoryLimit,
    identity: ProcessIdentity,
    storage: ZeroStorageCtx,
}

impl HostState {
    /// The storage imports' view of this store.
    pub(crate) fn view(&mut self) -> ZeroStorageView<'_> {
        ZeroStorageView::new(&self.storage, &self.identity)
    }
}

impl HostState {
    /// The process this store runs.
    pub(crate) fn identity(&self) -> &ProcessIdentity {
        &self.identity
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

/// A store for the process `identity`, whose memories together may use `memory_limit` bytes.
pub(crate) fn new_store(
    engine: &Engine,
    storage: &ZeroStorageCtx,
    identity: ProcessIdentity,
    memory_limit: usize,
    wasi: WasiCtx,
) -> Store<HostState> {
    let state = HostState {
        wasi,
        table: ResourceTable::new(),
        limits: MemoryLimit::new(memory_limit),
        identity,
        storage: storage.clone(),
    };
    let mut store = Store::new(engine, state);
    store.limiter(|state| &mut state.limits);
    store
}

/// Bounds the linear memory of everything in one store (an app and its storage instance
/// together) and its tables, and remembers whether the bound was hit so the host can say so
/// instead of reporting a bare trap.
pub(crate) struct MemoryLimit {
    pub(crate) max_memory_bytes: usize,
    pub(crate) exceeded: bool,
    /// The sum of all memories' sizes as last allowed; wasm memories never shrink.
    in_use: usize,
    inner: StoreLimits,
}

impl MemoryLimit {
    pub(crate) fn new(max_memory_bytes: usize) -> Self {
        let inner = wasmtime::StoreLimitsBuilder::new().table_elements(1_000_000).instances(64).build();
        MemoryLimit { max_memory_bytes, exceeded: false, in_use: 0, inner }
    }
}

impl ResourceLimiter for MemoryLimit {
    fn memory_growing(&mut self, current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        // Called for every memory of the store, from 0 when one is created.
        let total = self.in_use.saturating_sub(current).saturating_add(desired);
        if total > self.max_memory_bytes {
            self.exceeded = true;
            wasmtime::bail!("memory limit of {} bytes exceeded", self.max_memory_bytes);
        }
        self.in_use = total;
        Ok(true)
    }

    fn table_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        self.inner.table_growing(current, desired, maximum)
    }

    fn instances(&self) -> usize {
        self.inner.instances()
    }
}
