//! The runtime: one engine, the storage component compiled once, one backend, many processes.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use wasmtime::component::{Component, InstancePre, Linker};
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
}

impl Default for RuntimeBuilder {
    fn default() -> Self {
        RuntimeBuilder {
            backend: None,
            config: Config::default(),
            clock: Arc::new(SystemClock),
            cache_dir: crate::cache::default_cache_dir(),
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

    /// Compiles (or loads from the cache) the storage component and starts the runtime.
    pub fn build(self) -> anyhow::Result<Runtime> {
        let mut wasm_config = wasmtime::Config::new();
        wasm_config.wasm_component_model(true).epoch_interruption(true).concurrency_support(false);
        let engine = Engine::new(&wasm_config)?;
        let component = crate::cache::load_component(&engine, STORAGE_COMPONENT, self.cache_dir.as_deref())?;
        let mut linker = Linker::new(&engine);
        bindings::add_to_linker(&mut linker)?;
        let storage = linker.instantiate_pre(&component)?;
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
    pub(crate) storage: InstancePre<ProcessState>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) cache_dir: Option<PathBuf>,
    _ticker: EpochTicker,
}

impl Runtime {
    /// Starts a process for `identity`: its own storage instance, bound to its namespaces.
    pub fn process(&self, identity: ProcessIdentity) -> anyhow::Result<Process> {
        let mut store = self.new_store(identity, STORAGE_MEMORY_LIMIT, WasiCtxBuilder::new().inherit_stderr().build());
        store.set_epoch_deadline(ticks(STORAGE_CALL_DEADLINE));
        let instance = self.inner.storage.instantiate(&mut store)?;
        let storage = bindings::Storage::new(&mut store, &instance)?;
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
