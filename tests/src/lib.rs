//! Shared helpers for the integration tests.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use zero_storage::backend::{Backend, FsBackend, MemoryBackend};
use zero_storage::{Clock, Config, ManualClock, Runtime, RuntimeBuilder};

/// The path of a guest component built by this crate's build script, e.g. `store-tour`.
pub fn guest(name: &str) -> PathBuf {
    Path::new(env!("GUEST_DIR")).join(format!("{name}.wasm"))
}

/// The bytes of a guest component.
pub fn guest_bytes(name: &str) -> Vec<u8> {
    std::fs::read(guest(name)).unwrap_or_else(|e| panic!("guest {name} was not built: {e}"))
}

/// A backend under test, with whatever keeps it alive (the fs backend's directory).
pub struct TestBackend {
    /// The backend's name, for messages.
    pub name: &'static str,
    /// The backend.
    pub backend: Arc<dyn Backend>,
    /// The fs backend's data directory, removed when the test ends.
    pub dir: Option<tempfile::TempDir>,
}

/// Every backend the conformance suite runs on.
pub fn backends() -> Vec<TestBackend> {
    let dir = tempfile::tempdir().expect("temp dir");
    let fs = FsBackend::open(dir.path()).expect("open fs backend");
    vec![
        TestBackend { name: "memory", backend: Arc::new(MemoryBackend::new()), dir: None },
        TestBackend { name: "fs", backend: Arc::new(fs), dir: Some(dir) },
    ]
}

/// A runtime over `backend` with a manual clock and `config`; compiled components are cached
/// in a shared directory under the target dir so tests do not recompile them.
pub fn runtime_with(backend: Arc<dyn Backend>, config: Config) -> (Runtime, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    let runtime = RuntimeBuilder::new()
        .backend(backend)
        .config(config)
        .clock(clock.clone() as Arc<dyn Clock>)
        .cache_dir(Some(cache_dir()))
        .build()
        .expect("runtime builds");
    (runtime, clock)
}

/// The compile cache shared by the tests.
pub fn cache_dir() -> PathBuf {
    Path::new(env!("GUEST_DIR")).join("test-compile-cache")
}

/// A configuration with small quotas so that tests can reach them.
pub fn small_quotas(app: u64) -> Config {
    let mut config = Config::default();
    config.quotas.app = app;
    config
}
