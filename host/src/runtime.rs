//! The runtime: one engine, the storage component compiled once, one backend, many processes.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use wasmtime::component::{Component, Linker};
use wasmtime::{Engine, Store};
use wasmtime_wasi::WasiCtxBuilder;

use crate::backend::{Backend, FsBackend, MemoryBackend};
use crate::bindings::{self, MemoryLimit, ProcessState};
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::identity::ProcessIdentity;
use crate::process::Process;

/// The storage component, built from `component/` by this crate's build script.
pub static STORAGE_COMPONENT: &[u8] = include_bytes!(env!("ZERO_STORAGE_COMPONENT_WASM"));

/// How often the engine's epoch advances; deadlines are counted in these ticks.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(10);
/// The longest a single storage call may run before it is stopped (a component bug, never
/// legitimate work: every operation is bounded).
pub(crate) const STORAGE_CALL_DEADLINE: Duration = Duration::from_secs(30);
/// The memory a storage-only process may use: two maximal values plus headroom.
const STORAGE_MEMORY_LIMIT: usize = 64 << 20;

/// What every process of a runtime shares.
pub(crate) struct Shared {
    pub(crate) backend: Arc<dyn Backend>,
    pub(crate) config: Config,
    pub(crate) clock: Arc<dyn Clock>,
}

/// Configures and builds a [`Runtime`].
pub struct RuntimeBuilder {
    backend: Option<Arc<dyn Backend>>,
    config: Config,
    clock: Arc<dyn Clock>,
    cache_dir: Option<PathBuf>,
    instance_pool: Option<u32>,
}

impl Default for RuntimeBuilder {
    fn default() -> Self {
        RuntimeBuilder {
            backend: None,
            config: Config::default(),
            clock: Arc::new(SystemClock),
            cache_dir: crate::cache::default_cache_dir(),
            instance_pool: Some(DEFAULT_MAX_INSTANCES),
        }
    }
}

impl RuntimeBuilder {
    /// A builder with the default configuration, the system clock, the default compile cache
    /// and (unless another is chosen) the memory backend.
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps data in `backend`.
    pub fn backend(mut self, backend: Arc<dyn Backend>) -> Self {
        self.backend = Some(backend);
        self
    }

    /// Keeps data durably in the data directory `dir` (the `fs` backend).
    pub fn fs(self, dir: &Path) -> anyhow::Result<Self> {
        Ok(self.backend(Arc::new(FsBackend::open(dir)?)))
    }

    /// Uses `config` for quotas and app limits.
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Measures time to live against `clock`.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Caches compiled components in `dir`, or nowhere with `None`.
    pub fn cache_dir(mut self, dir: Option<PathBuf>) -> Self {
        self.cache_dir = dir;
        self
    }

    /// With `Some(count)`, takes instances from a pool of `count` slots reserved up front: a
    /// new process starts several times faster, and at most `count` processes (an app counts
    /// with its storage) live at once; one more fails with an error until one ends. With `None`,
    /// allocates each instance afresh, which suits short-lived tools that start one or two.
    /// Default: a pool of [`DEFAULT_MAX_INSTANCES`].
    pub fn instance_pool(mut self, slots: Option<u32>) -> Self {
        self.instance_pool = slots.map(|count| count.max(1));
        self
    }

    /// Compiles (or loads from the cache) the storage component and starts the runtime.
    pub fn build(self) -> anyhow::Result<Runtime> {
        let mut wasm_config = wasmtime::Config::new();
        wasm_config.wasm_component_model(true).epoch_interruption(true).concurrency_support(false);
        if let Some(max_instances) = self.instance_pool {
            wasm_config
                .allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool(&self.config, max_instances)));
        }
        let engine = Engine::new(&wasm_config)?;
        let component = crate::cache::load_component(&engine, STORAGE_COMPONENT, self.cache_dir.as_deref())?;
        let mut linker = Linker::new(&engine);
        bindings::add_to_linker(&mut linker)?;
        // Export lookups are resolved once here, not on every process start.
        let storage = bindings::StoragePre::new(linker.instantiate_pre(&component)?)?;
        let shared = Arc::new(Shared {
            backend: self.backend.unwrap_or_else(|| Arc::new(MemoryBackend::new())),
            config: self.config,
            clock: self.clock,
        });
        let ticker = EpochTicker::start(engine.clone());
        Ok(Runtime {
            inner: Arc::new(Inner { engine, linker, storage, shared, cache_dir: self.cache_dir, _ticker: ticker }),
        })
    }
}

/// A running Zero Storage host. Cheap to clone and safe to share between threads: each thread
/// makes its own [`Process`]es.
#[derive(Clone)]
pub struct Runtime {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) engine: Engine,
    pub(crate) linker: Linker<ProcessState>,
    pub(crate) storage: bindings::StoragePre<ProcessState>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) cache_dir: Option<PathBuf>,
    _ticker: EpochTicker,
}

impl Runtime {
    /// Starts a process for `identity`: its own storage instance, bound to its namespaces.
    pub fn process(&self, identity: ProcessIdentity) -> anyhow::Result<Process> {
        let mut store = self.new_store(identity, STORAGE_MEMORY_LIMIT, WasiCtxBuilder::new().inherit_stderr().build());
        store.set_epoch_deadline(ticks(STORAGE_CALL_DEADLINE));
        let storage = self.inner.storage.instantiate(&mut store)?;
        Ok(Process::new(store, storage))
    }

    /// The backend every process of this runtime stores in.
    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.inner.shared.backend
    }

    /// The configuration (quotas and app limits).
    pub fn config(&self) -> &Config {
        &self.inner.shared.config
    }

    pub(crate) fn new_store(
        &self,
        identity: ProcessIdentity,
        memory_limit: usize,
        wasi: wasmtime_wasi::WasiCtx,
    ) -> Store<ProcessState> {
        let state = ProcessState {
            wasi,
            table: Default::default(),
            limits: MemoryLimit::new(memory_limit),
            identity,
            shared: self.inner.shared.clone(),
        };
        let mut store = Store::new(&self.inner.engine, state);
        store.limiter(|state| &mut state.limits);
        store
    }

    pub(crate) fn load(&self, wasm: &[u8]) -> anyhow::Result<Component> {
        Ok(crate::cache::load_component(&self.inner.engine, wasm, self.inner.cache_dir.as_deref())?)
    }
}

/// The default size of the instance pool (see [`RuntimeBuilder::instance_pool`]). Each slot
/// reserves (but does not commit) address space for its memories, several GiB each, so the pool
/// is sized for a busy host, not for the largest possible one.
pub const DEFAULT_MAX_INSTANCES: u32 = 100;

/// Instances come from a pool of pre-reserved slots (an app composed with storage uses about
/// three memories and tables), which makes starting a process several
/// times cheaper than allocating and mapping its memory afresh each time. The pool only reserves
/// address space; memory is committed as instances grow into it.
fn pool(config: &Config, max_instances: u32) -> wasmtime::PoolingAllocationConfig {
    let largest_memory =
        usize::try_from(config.apps.memory_limit_bytes).unwrap_or(usize::MAX).max(STORAGE_MEMORY_LIMIT);
    let mut pool = wasmtime::PoolingAllocationConfig::default();
    pool.total_component_instances(max_instances)
        .total_core_instances(8 * max_instances)
        .total_memories(3 * max_instances)
        .total_tables(3 * max_instances)
        .max_core_instances_per_component(64)
        .max_memories_per_component(8)
        .max_tables_per_component(16)
        .max_memory_size(largest_memory);
    pool
}

/// Converts a duration into epoch ticks.
pub(crate) fn ticks(duration: Duration) -> u64 {
    (duration.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64
}

/// A thread that advances the engine's epoch, which is what makes deadlines fire.
struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    fn start(engine: Engine) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("zero-storage-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })
            .ok();
        EpochTicker { stop, thread }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
