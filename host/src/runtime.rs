//! The runtime: one engine, the storage component compiled once, one backend, many processes.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use wasmtime::Engine;
use wasmtime::component::{Component, Linker};
use wasmtime_wasi::WasiCtxBuilder;

use crate::app::{
    self, AppExit, AppInstance, AppShape, ConnectedLauncher, ForwardedLauncher, ForwardedState, Launcher,
};
use crate::backend::{Backend, FsBackend};
use crate::clock::Clock;
use crate::config::{AppLimits, Config};
use crate::error::{Error, Result};
use crate::forward::LocalCalls;
use crate::identity::ProcessIdentity;
use crate::link::generated::StoragePre;
use crate::link::{self, STORAGE_COMPONENT, ZeroStorageCtx, ZeroStorageCtxBuilder};
use crate::process::Process;
use crate::store::{EPOCH_TICK, HostState, STORAGE_CALL_DEADLINE, STORAGE_MEMORY_LIMIT, new_store, ticks};

/// Configures and builds a [`Runtime`].
pub struct RuntimeBuilder {
    /// The backend and the clock; the quotas come from `config` at `build`.
    storage: ZeroStorageCtxBuilder,
    config: Config,
    cache_dir: Option<PathBuf>,
    instance_pool: Option<u32>,
}

impl Default for RuntimeBuilder {
    fn default() -> Self {
        RuntimeBuilder {
            storage: ZeroStorageCtxBuilder::new(),
            config: Config::default(),
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
        self.storage = self.storage.backend(backend);
        self
    }

    /// Keeps data durably in the data directory `dir` (the `fs` backend).
    pub fn fs(self, dir: &Path) -> Result<Self> {
        Ok(self.backend(Arc::new(FsBackend::open(dir)?)))
    }

    /// Uses `config` for quotas and app limits.
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Measures time to live against `clock`.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.storage = self.storage.clock(clock);
        self
    }

    /// Caches compiled components in `dir`, or nowhere with `None`.
    pub fn cache_dir(mut self, dir: Option<PathBuf>) -> Self {
        self.cache_dir = dir;
        self
    }

    /// With `Some(count)`, takes instances from a pool of `count` slots reserved up front: a
    /// new process starts several times faster, and at most `count` processes live at once (a
    /// plain app counts twice: itself and its storage instance); one more fails with an error until one ends. With `None`,
    /// allocates each instance afresh, which suits short-lived tools that start one or two.
    /// Default: a pool of [`DEFAULT_MAX_INSTANCES`].
    pub fn instance_pool(mut self, slots: Option<u32>) -> Self {
        self.instance_pool = slots.map(|count| count.max(1));
        self
    }

    /// Compiles (or loads from the cache) the storage component and starts the runtime.
    pub fn build(self) -> Result<Runtime> {
        let mut wasm_config = engine_config();
        if let Some(max_instances) = self.instance_pool {
            wasm_config
                .allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool(&self.config, max_instances)));
        }
        let engine = Engine::new(&wasm_config).map_err(Error::Runtime)?;
        let component = crate::cache::load_component(&engine, STORAGE_COMPONENT, self.cache_dir.as_deref())
            .map_err(Error::Runtime)?;
        let mut linker = Linker::new(&engine);
        // WASI for the storage component's standard library and for apps: no preopens, no
        // sockets (the WASI contexts the stores get grant none).
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(Error::Runtime)?;
        link::add_to_linker(&mut linker, HostState::view).map_err(Error::Runtime)?;
        // Export lookups are resolved once here, not on every process start.
        let storage_pre = linker.instantiate_pre(&component).and_then(StoragePre::new).map_err(Error::Runtime)?;
        let forwarded_linker = app::forwarded_linker(&engine).map_err(Error::Runtime)?;
        let storage = self.storage.quotas(self.config.quotas.clone()).build();
        let ticker = EpochTicker::start(engine.clone());
        Ok(Runtime {
            inner: Arc::new(Inner {
                engine,
                linker,
                forwarded_linker,
                storage_pre,
                storage,
                config: self.config,
                cache_dir: self.cache_dir,
                _ticker: ticker,
            }),
        })
    }
}

/// A running Zero Storage host. Cheap to clone and safe to share between threads: each thread
/// makes its own [`Process`]es.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    linker: Linker<HostState>,
    /// The linker of plain apps, whose storage imports the host serves.
    forwarded_linker: Linker<ForwardedState>,
    storage_pre: StoragePre<HostState>,
    storage: ZeroStorageCtx,
    config: Config,
    cache_dir: Option<PathBuf>,
    _ticker: EpochTicker,
}

impl Runtime {
    /// Starts a process for `identity`: its own storage instance, bound to its namespaces.
    pub fn process(&self, identity: ProcessIdentity) -> Result<Process> {
        let wasi = WasiCtxBuilder::new().inherit_stderr().build();
        let mut store = new_store(&self.inner.engine, &self.inner.storage, identity, STORAGE_MEMORY_LIMIT, wasi);
        store.set_epoch_deadline(ticks(STORAGE_CALL_DEADLINE));
        let storage = self.inner.storage_pre.instantiate(&mut store).map_err(Error::Runtime)?;
        Ok(Process::new(store, storage))
    }

    /// Runs the `wasi:cli` command component `app_wasm` as the process `identity`, with `args`
    /// (the first is the program name). Its storage calls go to its own namespaces; it gets the
    /// host's stdio, the environment variables `ZERO_STORAGE_APP` (its name) and
    /// `ZERO_STORAGE_USER` (its user, if any), no files, no network, and the configured memory
    /// limit and deadline. A plain app's storage imports are served by the host and handed to
    /// its own storage instance; an app composed ahead of time runs as it is (see
    /// [`crate::classify`], which also says which apps are refused).
    pub fn run_app(&self, identity: ProcessIdentity, app_wasm: &[u8], args: &[String]) -> Result<AppExit> {
        match app::classify(app_wasm)? {
            AppShape::Plain => {
                let component = self.compile_app(app_wasm)?;
                let calls = Box::new(LocalCalls::new(self.process(identity.clone())?));
                self.forwarded().run(&identity, &component, args, calls)
            }
            AppShape::Composed | AppShape::NoStorage => {
                self.launcher().run(identity, &self.compile_app(app_wasm)?, args)
            }
        }
    }

    /// Instantiates the app component `app_wasm` (checked and linked as [`Runtime::run_app`]
    /// does) as the process `identity`, to call its own exports through [`AppInstance`].
    pub fn instantiate_app(&self, identity: ProcessIdentity, app_wasm: &[u8]) -> Result<AppInstance> {
        match app::classify(app_wasm)? {
            AppShape::Plain => {
                let component = self.compile_app(app_wasm)?;
                let calls = Box::new(LocalCalls::new(self.process(identity.clone())?));
                self.forwarded().instantiate(&identity, &component, calls)
            }
            AppShape::Composed | AppShape::NoStorage => {
                self.launcher().instantiate(identity, &self.compile_app(app_wasm)?)
            }
        }
    }

    /// The backend every process of this runtime stores in.
    pub fn backend(&self) -> &Arc<dyn Backend> {
        self.inner.storage.backend()
    }

    /// The configuration (quotas and app limits).
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The clock that time to live is measured against.
    pub(crate) fn clock(&self) -> &Arc<dyn Clock> {
        self.inner.storage.clock()
    }

    /// Compiles (or loads from the cache) an app that [`app::classify`] accepted.
    fn compile_app(&self, app_wasm: &[u8]) -> Result<Component> {
        let cache_dir = self.inner.cache_dir.as_deref();
        crate::cache::load_component(&self.inner.engine, app_wasm, cache_dir)
            .map_err(|e| Error::AppRefused(format!("cannot compile the app: {e:#}")))
    }

    fn forwarded(&self) -> ForwardedLauncher<'_> {
        ForwardedLauncher {
            engine: &self.inner.engine,
            linker: &self.inner.forwarded_linker,
            limits: &self.inner.config.apps,
        }
    }

    fn launcher(&self) -> Launcher<'_> {
        Launcher {
            engine: &self.inner.engine,
            linker: &self.inner.linker,
            storage: &self.inner.storage,
            limits: &self.inner.config.apps,
        }
    }
}

/// Runs app components in this process with their storage in a running Storage Service
/// (`zero-storage serve`), which owns the data: this process never opens a backend. Each app's
/// `zero:storage/store` and `wasi:keyvalue` (`0.2.0-draft2`, `0.2.0-draft`) calls are served by
/// the host and forwarded to the service on its socket, under the app's identity, with the same
/// results as when [`Runtime::run_app`] runs the app on its own storage instance. One runner compiles each
/// app once and may run many, one after another or at once from several threads.
///
/// - An app composed ahead of time with the storage component (`zero-storage compose`,
///   `wac plug`) is refused: its storage would bypass the service. Run the plain app instead.
/// - An app that uses no storage runs without connecting.
/// - If the service goes away mid-run, the app's storage calls fail with `backend-error` (the
///   standard's `other`) saying that the storage service is gone; the app keeps running.
///
/// ```no_run
/// use std::path::Path;
/// use zero_storage::{AppExit, AppLimits, ConnectedRunner, ProcessIdentity};
///
/// # fn main() -> zero_storage::Result<()> {
/// let runner = ConnectedRunner::new(Path::new("zero-data/zero-storage.sock"), AppLimits::default())?;
/// let app = std::fs::read("notes.wasm").expect("the app");
/// let identity = ProcessIdentity::new("notes")?.with_user("alice")?;
/// let exit = runner.run(identity, &app, &["notes".into(), "ls".into()])?;
/// assert_eq!(exit, AppExit::Exited(0));
/// # Ok(())
/// # }
/// ```
pub struct ConnectedRunner {
    engine: Engine,
    linker: Linker<ForwardedState>,
    socket: PathBuf,
    limits: AppLimits,
    cache_dir: Option<PathBuf>,
    _ticker: EpochTicker,
}

impl ConnectedRunner {
    /// A runner for the service listening on `socket`, running apps within `limits`. Compiled
    /// apps are cached where [`RuntimeBuilder`] caches them by default.
    pub fn new(socket: &Path, limits: AppLimits) -> Result<Self> {
        let engine = Engine::new(&engine_config()).map_err(Error::Runtime)?;
        let linker = app::forwarded_linker(&engine).map_err(Error::Runtime)?;
        let ticker = EpochTicker::start(engine.clone());
        Ok(ConnectedRunner {
            engine,
            linker,
            socket: socket.to_owned(),
            limits,
            cache_dir: crate::cache::default_cache_dir(),
            _ticker: ticker,
        })
    }

    /// Caches compiled apps in `dir`, or nowhere with `None`.
    pub fn cache_dir(mut self, dir: Option<PathBuf>) -> Self {
        self.cache_dir = dir;
        self
    }

    /// Runs the `wasi:cli` command component `app_wasm` as the process `identity`, with `args`
    /// (the first is the program name), as [`Runtime::run_app`] does, its storage in the
    /// service. Fails before the app starts if the app is refused (see [`crate::classify`]), or
    /// if the service cannot be reached or refuses the identity.
    pub fn run(&self, identity: ProcessIdentity, app_wasm: &[u8], args: &[String]) -> Result<AppExit> {
        let launcher = ConnectedLauncher {
            forwarded: ForwardedLauncher { engine: &self.engine, linker: &self.linker, limits: &self.limits },
            socket: &self.socket,
            cache_dir: self.cache_dir.as_deref(),
        };
        launcher.run(identity, app_wasm, args)
    }
}

/// Runs the `wasi:cli` command component `app_wasm` as the process `identity`, with `argv` (the
/// first is the program name) and `limits`, its storage in the Storage Service listening on
/// `socket`: the one-app form of [`ConnectedRunner`], which says what it does and refuses.
pub fn run_app_connected(
    socket: &Path,
    identity: ProcessIdentity,
    app_wasm: &[u8],
    argv: &[String],
    limits: &AppLimits,
) -> Result<AppExit> {
    ConnectedRunner::new(socket, limits.clone())?.run(identity, app_wasm, argv)
}

/// The default size of the instance pool (see [`RuntimeBuilder::instance_pool`]). Each slot
/// reserves (but does not commit) address space for its memories, several GiB each, so the pool
/// is sized for a busy host, not for the largest possible one.
pub const DEFAULT_MAX_INSTANCES: u32 = 100;

/// Instances come from a pool of pre-reserved slots (a composed app uses about three memories
/// and tables), which makes starting a process several
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

/// The engine configuration every Zero Storage engine starts from: the component model, epoch
/// interruption for deadlines, and no p3 concurrency (which costs on every call). With
/// `ZERO_STORAGE_PERFMAP=1` in the environment, wasmtime writes a perf map so that `perf report`
/// names the compiled wasm functions. Public so that a peer measured beside Zero Storage (the
/// benches' floors) can run on the same settings; a store on such an engine needs an epoch
/// deadline (`Store::set_epoch_deadline`) before it runs anything.
pub fn engine_config() -> wasmtime::Config {
    let mut config = wasmtime::Config::new();
    config.wasm_component_model(true).epoch_interruption(true).concurrency_support(false);
    // For profiling with `perf`: name the compiled wasm functions in /tmp/perf-PID.map.
    if std::env::var_os("ZERO_STORAGE_PERFMAP").is_some_and(|on| on == "1") {
        config.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    config
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
