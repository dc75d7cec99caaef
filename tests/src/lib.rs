//! Shared helpers for the integration tests.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use zero_storage::backend::{Backend, FsBackend, MemoryBackend};
use zero_storage::{Clock, Config, ManualClock, Runtime, RuntimeBuilder};

pub mod backend_contract;
pub mod cli;
pub mod composition;
pub mod daemon;
#[cfg(feature = "etcd")]
pub mod etcd;
pub mod workload;

/// The path of a guest component built by this crate's build script, e.g. `store-tour`.
pub fn guest(name: &str) -> PathBuf {
    Path::new(env!("GUEST_DIR")).join(format!("{name}.wasm"))
}

/// The bytes of a guest component.
pub fn guest_bytes(name: &str) -> Vec<u8> {
    std::fs::read(guest(name)).unwrap_or_else(|e| panic!("guest {name} was not built: {e}"))
}

/// The `zero-storage` binary of this build, (re)built once per test run so it is never stale,
/// with the etcd backend when these tests are built with it.
pub fn binary() -> &'static Path {
    static BINARY: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BINARY.get_or_init(|| {
        // Test executables live in target/<profile>/deps; the binary in target/<profile>.
        let exe = std::env::current_exe().expect("test executable path");
        let profile_dir = exe.parent().and_then(Path::parent).expect("target/<profile>").to_path_buf();
        let release = profile_dir.file_name().is_some_and(|name| name == "release");
        let mut build = std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        build.args(["build", "--quiet", "--package", "zero-storage", "--bin", "zero-storage"]);
        if release {
            build.arg("--release");
        }
        if cfg!(feature = "etcd") {
            build.args(["--features", "etcd"]);
        }
        // Cargo describes the test's own package in these; leaking them into this build would
        // make build scripts that watch them (ring's) rebuild here, and again in the next plain
        // `cargo build`.
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy();
            let describes_package = ["CARGO_PKG_", "CARGO_MANIFEST_", "CARGO_CRATE_", "CARGO_BIN_", "CARGO_PRIMARY_"]
                .iter()
                .any(|prefix| name.starts_with(prefix));
            if describes_package || name == "CARGO_TARGET_TMPDIR" || name == "OUT_DIR" {
                build.env_remove(&*name);
            }
        }
        assert!(build.status().expect("run cargo").success(), "building the zero-storage binary failed");
        profile_dir.join("zero-storage")
    })
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

/// Every backend the conformance suite runs on: `memory`, `fs` and, with the `etcd` feature, a
/// real 3-member etcd cluster (one per test binary, each call under its own prefix).
pub fn backends() -> Vec<TestBackend> {
    let dir = tempfile::tempdir().expect("temp dir");
    let fs = FsBackend::open(dir.path()).expect("open fs backend");
    #[allow(unused_mut)]
    let mut backends = vec![
        TestBackend { name: "memory", backend: Arc::new(MemoryBackend::new()), dir: None },
        TestBackend { name: "fs", backend: Arc::new(fs), dir: Some(dir) },
    ];
    #[cfg(feature = "etcd")]
    backends.push(TestBackend { name: "etcd", backend: Arc::new(etcd::EtcdCluster::shared().backend()), dir: None });
    backends
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

/// A small deterministic random number generator (SplitMix64), so that a failing crash or fault
/// round can be replayed from the seed it prints.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator that starts from `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// A seed from `ZERO_SEED` if set, else from the clock; tests print it so a failure can be replayed.
    pub fn seed_from_env() -> u64 {
        std::env::var("ZERO_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64)
        })
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// True with probability `percent` / 100.
    pub fn percent(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// Every live entry of a namespace (`process.own()` or `process.bucket(ns)`), read by walking
/// `list` page by page and getting each key. Panics if the listing repeats a key or is out of
/// order.
pub fn read_all(process: &mut zero_storage::Bucket<'_>) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut all = std::collections::BTreeMap::new();
    let mut cursor: Option<String> = None;
    let mut last: Option<String> = None;
    loop {
        let page = process.list("", 7, cursor.as_deref()).expect("list");
        for key in page.keys {
            assert!(last.as_ref().is_none_or(|last| *last < key), "listing out of order or repeated at {key:?}");
            let value = process.get(&key).unwrap_or_else(|e| panic!("listed key {key:?} cannot be read: {e}"));
            last = Some(key.clone());
            all.insert(key, value);
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return all,
        }
    }
}

/// Checks that the namespace's reported usage equals the sum recomputed from its entries, and
/// returns the entries.
pub fn assert_usage_exact(process: &mut zero_storage::Bucket<'_>) -> std::collections::BTreeMap<String, Vec<u8>> {
    let all = read_all(process);
    let quota = process.quota().expect("quota");
    let bytes: u64 = all.iter().map(|(key, value)| (key.len() + value.len()) as u64).sum();
    assert_eq!(
        (quota.used_bytes, quota.key_count),
        (bytes, all.len() as u64),
        "usage of {} disagrees with its entries",
        quota.namespace
    );
    all
}
