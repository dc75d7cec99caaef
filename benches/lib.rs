//! Timing helpers shared by the benchmarks: run an operation many times, report the median
//! and spread over several rounds.

use std::time::Instant;

/// The per-operation time of a benchmark, over several rounds.
pub struct Timing {
    /// Median per-operation time of the rounds, in nanoseconds.
    pub median_ns: f64,
    /// Fastest round, per operation, in nanoseconds.
    pub min_ns: f64,
    /// Slowest round, per operation, in nanoseconds.
    pub max_ns: f64,
}

/// Runs `op` `ops` times per round for `rounds` rounds (after one warm-up round).
pub fn time(rounds: usize, ops: usize, mut op: impl FnMut(usize)) -> Timing {
    let mut per_op: Vec<f64> = Vec::with_capacity(rounds);
    for round in 0..=rounds {
        let start = Instant::now();
        for i in 0..ops {
            op(i);
        }
        if round > 0 {
            per_op.push(start.elapsed().as_nanos() as f64 / ops as f64);
        }
    }
    per_op.sort_by(f64::total_cmp);
    Timing { median_ns: per_op[per_op.len() / 2], min_ns: per_op[0], max_ns: per_op[per_op.len() - 1] }
}

/// Prints one row: name, median, spread, and the ratio to a baseline's median.
pub fn report(name: &str, timing: &Timing, baseline: Option<&Timing>) {
    let ratio = baseline.map_or(String::new(), |b| format!("{:>7.2}x", timing.median_ns / b.median_ns));
    println!(
        "{name:<44} {:>10} {:>10} .. {:<10} {ratio}",
        format_ns(timing.median_ns),
        format_ns(timing.min_ns),
        format_ns(timing.max_ns)
    );
}

fn format_ns(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}
