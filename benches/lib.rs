//! Helpers shared by the benchmarks: timing with median and spread, table output, and the
//! benchmark guest component.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

pub mod floor;

/// What the host-side rows time, on whatever the host calls directly: Zero's `Process` (a) or
/// a floor component ([`floor::FloorHost`], (h) and (i)). Each call panics if the operation fails.
pub trait HostOps {
    /// Stores `value` under `key`.
    fn set(&mut self, key: &str, value: &[u8]);
    /// The value under `key`, if any.
    fn get(&mut self, key: &str) -> Option<Vec<u8>>;
    /// Whether `key` holds a value.
    fn exists(&mut self, key: &str) -> bool;
    /// Removes `key`.
    fn delete(&mut self, key: &str);
    /// The first page of keys.
    fn list(&mut self) -> Vec<String>;
}

impl HostOps for zero_storage::Process {
    fn set(&mut self, key: &str, value: &[u8]) {
        zero_storage::Process::set(self, key, value, 0).expect("set");
    }
    fn get(&mut self, key: &str) -> Option<Vec<u8>> {
        match zero_storage::Process::get(self, key) {
            Ok(value) => Some(value),
            Err(zero_storage::Error::Storage(zero_storage::StorageError::NotFound)) => None,
            Err(error) => panic!("get: {error}"),
        }
    }
    fn exists(&mut self, key: &str) -> bool {
        zero_storage::Process::exists(self, key).expect("exists")
    }
    fn delete(&mut self, key: &str) {
        zero_storage::Process::delete(self, key).expect("delete");
    }
    fn list(&mut self) -> Vec<String> {
        zero_storage::Process::list(self, "", 100, None).expect("list").keys
    }
}

/// The per-operation time of a benchmark over several rounds.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// Median per-operation time of the rounds, in nanoseconds.
    pub median_ns: f64,
    /// Fastest round, per operation.
    pub min_ns: f64,
    /// Slowest round, per operation.
    pub max_ns: f64,
}

/// Runs `op` `ops` times per round for `rounds` rounds (after one warm-up round).
///
/// `op` gets the iteration's number counted across all rounds, the warm-up included
/// (`round * ops + i`), so a write can store a value that no earlier iteration stored.
pub fn time(rounds: usize, ops: usize, mut op: impl FnMut(usize)) -> Timing {
    time_with_setup(rounds, ops, &mut (), |_| {}, |_, i| op(i))
}

/// Like [`time`], with an untimed `setup` of `state` before each round; `op` gets the same
/// global iteration number.
pub fn time_with_setup<S: ?Sized>(
    rounds: usize,
    ops: usize,
    state: &mut S,
    mut setup: impl FnMut(&mut S),
    mut op: impl FnMut(&mut S, usize),
) -> Timing {
    let mut per_op: Vec<f64> = Vec::with_capacity(rounds);
    for round in 0..=rounds {
        setup(state);
        let start = Instant::now();
        for i in 0..ops {
            op(state, round * ops + i);
        }
        if round > 0 {
            per_op.push(start.elapsed().as_nanos() as f64 / ops as f64);
        }
    }
    summarize(per_op)
}

/// Like [`time`] for several subjects side by side: each round times `op` `ops` times on every
/// one of `subjects` in turn, so drift during the run (a disk's sync cost, a cluster settling,
/// another build on the cores) falls on all of them alike. One timing per subject, in order.
pub fn time_interleaved<S>(
    rounds: usize,
    ops: usize,
    subjects: &mut [S],
    mut op: impl FnMut(&mut S, usize),
) -> Vec<Timing> {
    let mut per_op: Vec<Vec<f64>> = subjects.iter().map(|_| Vec::with_capacity(rounds)).collect();
    for round in 0..=rounds {
        for (subject, samples) in subjects.iter_mut().zip(&mut per_op) {
            let start = Instant::now();
            for i in 0..ops {
                op(subject, round * ops + i);
            }
            if round > 0 {
                samples.push(start.elapsed().as_nanos() as f64 / ops as f64);
            }
        }
    }
    per_op.into_iter().map(summarize).collect()
}

/// Median and spread of per-operation samples.
pub fn summarize(mut samples: Vec<f64>) -> Timing {
    samples.sort_by(f64::total_cmp);
    Timing { median_ns: samples[samples.len() / 2], min_ns: samples[0], max_ns: samples[samples.len() - 1] }
}

/// Prints a table header.
pub fn header(title: &str) {
    println!("\n## {title}\n");
    println!("| benchmark | median | min .. max | ratio |");
    println!("|---|---:|---:|---:|");
}

/// Prints one row: name, median, spread, and the ratio of its median to a baseline's.
pub fn report(name: &str, timing: &Timing, baseline: Option<(&str, &Timing)>) {
    report_ratios(name, timing, baseline.as_slice());
}

/// Like [`report`], with a ratio to each of `baselines` in the ratio column.
pub fn report_ratios(name: &str, timing: &Timing, baselines: &[(&str, &Timing)]) {
    let ratios: Vec<String> =
        baselines.iter().map(|(label, b)| format!("{:.2}x {label}", timing.median_ns / b.median_ns)).collect();
    let ratio = ratios.join(", ");
    println!(
        "| {name} | {} | {} .. {} | {ratio} |",
        format_ns(timing.median_ns),
        format_ns(timing.min_ns),
        format_ns(timing.max_ns)
    );
}

/// A duration in ns, µs or ms.
pub fn format_ns(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("benches/ is in the workspace").to_path_buf()
}

/// The benchmark guest component (`benches/guest`), built for wasm32-wasip2 on first use.
pub fn guest_wasm() -> Vec<u8> {
    wasm_package("bench-guest")
}

/// The wasm32-wasip2 component of the workspace package `package`, built (release) on first use.
pub(crate) fn wasm_package(package: &str) -> Vec<u8> {
    let target_dir = workspace().join("target").join("wasm");
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(workspace())
        .args(["build", "--quiet", "--release", "--target", "wasm32-wasip2", "--package", package])
        .arg("--target-dir")
        .arg(&target_dir)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .status()
        .unwrap_or_else(|e| panic!("run cargo to build {package}: {e}"));
    assert!(status.success(), "building {package} failed");
    let file = format!("wasm32-wasip2/release/{}.wasm", package.replace('-', "_"));
    std::fs::read(target_dir.join(file)).unwrap_or_else(|e| panic!("read {package}'s component: {e}"))
}

/// The 16-byte key `i` (of 100) used by every peer, as the guest formats it.
pub fn key(i: usize) -> String {
    format!("key-{:012}", i % 100)
}

/// An `N`-byte value that differs for every `n`: `n` in its first 8 bytes, then filler.
///
/// A durable write must store one of these: an engine may skip a write that changes nothing
/// (SQLite commits an `INSERT OR REPLACE` of an identical row without writing its log or
/// syncing), and a bench that rewrites the same value would time that skip, not a commit.
pub fn stamped<const N: usize>(n: usize) -> [u8; N] {
    let mut value = [7u8; N];
    stamp(&mut value, n);
    value
}

/// Writes `n` into the first 8 bytes of `value` (all of it if shorter), as [`stamped`] does, so
/// that a timed write of `value` changes the stored data.
pub fn stamp(value: &mut [u8], n: usize) {
    let stamp = (n as u64).to_le_bytes();
    let len = stamp.len().min(value.len());
    value[..len].copy_from_slice(&stamp[..len]);
}

/// The resident memory of this process, in bytes (Linux).
pub fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches(" kB").trim().parse::<u64>().ok())
        .map_or(0, |kib| kib * 1024)
}

/// The release `zero-storage` binary (`target/release/zero-storage`), built first so that it is
/// the current code.
pub fn zero_storage_binary() -> PathBuf {
    let mut build = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    build.current_dir(workspace()).args([
        "build",
        "--quiet",
        "--release",
        "--package",
        "zero-storage",
        "--bin",
        "zero-storage",
    ]);
    // Cargo describes the bench's own package in these; passing them on would make build
    // scripts that watch them rebuild here, and again in the next plain `cargo build`.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        let describes_package = ["CARGO_PKG_", "CARGO_MANIFEST_", "CARGO_CRATE_", "CARGO_BIN_", "CARGO_PRIMARY_"]
            .iter()
            .any(|prefix| name.starts_with(prefix));
        if describes_package || name == "CARGO_TARGET_TMPDIR" || name == "OUT_DIR" {
            build.env_remove(&*name);
        }
    }
    assert!(build.status().expect("run cargo to build zero-storage").success(), "building zero-storage failed");
    workspace().join("target/release/zero-storage")
}

/// The `q` quantile (0.0 ..= 1.0) of `sorted`, which must be in ascending order and not empty.
pub fn quantile(sorted: &[u64], q: f64) -> u64 {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}
