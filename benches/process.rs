//! Group 4: per-process cost. The time to give a new process its own storage instance, and
//! the `zero-storage get` command from start to result with a warm data directory.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use zero_storage::backend::MemoryBackend;
use zero_storage::{ProcessIdentity, RuntimeBuilder};
use zero_storage_benches::{header, report, summarize, time};

fn cli_binary() -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(workspace)
        .args(["build", "--quiet", "--release", "--package", "zero-storage", "--bin", "zero-storage"])
        .status()
        .unwrap();
    assert!(status.success(), "building zero-storage failed");
    workspace.join("target/release/zero-storage")
}

fn main() {
    let runtime = RuntimeBuilder::new().backend(Arc::new(MemoryBackend::new())).build().unwrap();
    let identity = ProcessIdentity::new("app").unwrap();
    let new_process = time(9, 500, |_| drop(std::hint::black_box(runtime.process(identity.clone()).unwrap())));
    let mut first = runtime.process(identity.clone()).unwrap();
    first.set("k", b"v", 0).unwrap();
    let new_process_and_get = time(9, 500, |_| {
        let mut process = runtime.process(identity.clone()).unwrap();
        std::hint::black_box(process.get("k").unwrap());
    });

    let binary = cli_binary();
    let data = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(&binary).arg("--data").arg(data.path()).args(args).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    };
    run(&["set", "greeting", "hello"]); // also fills the compile cache
    let mut samples = Vec::new();
    for _ in 0..21 {
        let start = Instant::now();
        run(&["get", "greeting"]);
        samples.push(start.elapsed().as_nanos() as f64);
    }
    let cli = summarize(samples);

    header("Per-process cost");
    report("new process: its own storage instance", &new_process, None);
    report("new process + first get", &new_process_and_get, None);
    report("`zero-storage get`, start to result, warm data dir", &cli, None);
}
