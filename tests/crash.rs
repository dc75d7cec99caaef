//! Process-crash test: a writer process is killed with SIGKILL at random moments, and every write
//! it had acknowledged must still be there when the data directory is reopened.
//!
//! The writer is this test binary itself, re-executed with `ZERO_CRASH_CHILD=<data dir>`. It
//! opens the `fs` backend and loops over random sets, deletes, batches, counters and
//! transactions in three namespaces. Before each operation it prints `BEGIN <seq> <op>`, and
//! after the call returns `ACK <seq>`, flushing each line. The parent kills it after a random
//! delay, replays the acknowledged operations on its own copy of the data, and reopens the
//! directory. The stored data must equal that copy, or that copy plus the one operation that
//! was in flight (all of it: a transaction or batch is never half there). Usage must equal the
//! sum recomputed from the entries, and the store must take new writes. The next round starts
//! a new writer on the same directory, so every round also starts from a recovered database.
//!
//! `ZERO_CRASH_ROUNDS=N` runs N rounds instead of the regular suite's 100 (long mode);
//! `ZERO_SEED=S` replays a run.

use std::io::{BufRead, BufReader, Write as _};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use zero_storage::backend::FsBackend;
use zero_storage::{Config, ProcessIdentity};
use zero_storage_tests::workload::{InFlightOutcomes, NAMESPACES, Op, State, execute, read_state};
use zero_storage_tests::{Rng, runtime_with};

const CHILD_ENV: &str = "ZERO_CRASH_CHILD";
const TEST_NAME: &str = "acknowledged_writes_survive_sigkill_of_the_writer_process";
// ---------------------------------------------------------------------------------------------
// The writer (child process)
// ---------------------------------------------------------------------------------------------

fn writer(dir: &Path) -> ! {
    let env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok()).expect(name);
    let mut rng = Rng::new(env("ZERO_CRASH_SEED"));
    let first_seq = env("ZERO_CRASH_FIRST_SEQ");
    let backend = FsBackend::open(dir).expect("the writer opens the data directory");
    let (runtime, _clock) = runtime_with(Arc::new(backend), Config::default());
    let mut procs: Vec<_> =
        NAMESPACES.iter().map(|name| runtime.process(ProcessIdentity::new(name).unwrap()).unwrap()).collect();
    let mut out = std::io::stdout().lock();
    let mut say = |line: String| {
        // A leading newline keeps our lines apart from the test harness's own output.
        out.write_all(format!("\n{line}\n").as_bytes()).and_then(|()| out.flush()).expect("stdout")
    };
    say("READY".into());
    for seq in first_seq.. {
        let op = Op::random(&mut rng);
        say(format!("BEGIN {seq} {op}"));
        let outcome = execute(&mut procs, seq, &op);
        if let Err(e) = outcome {
            panic!("operation {seq} ({op}) failed: {e}");
        }
        say(format!("ACK {seq}"));
    }
    unreachable!("the writer runs until it is killed")
}

// ---------------------------------------------------------------------------------------------
// The parent
// ---------------------------------------------------------------------------------------------

/// What one killed writer reported.
struct Report {
    acked: Vec<(u64, Op)>,
    in_flight: Option<(u64, Op)>,
}

/// Reads the writer's protocol: `BEGIN` and `ACK` pairs, possibly ending in one open `BEGIN`.
fn parse_report(lines: &[String]) -> Report {
    let mut acked = Vec::new();
    let mut in_flight: Option<(u64, Op)> = None;
    for line in lines {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["BEGIN", seq, op @ ..] => {
                assert!(in_flight.is_none(), "a BEGIN before the previous operation's ACK: {line}");
                let op = Op::parse(op).unwrap_or_else(|| panic!("unreadable operation: {line}"));
                in_flight = Some((seq.parse().unwrap(), op));
            }
            ["ACK", seq] => {
                let (begun, op) = in_flight.take().unwrap_or_else(|| panic!("an ACK without a BEGIN: {line}"));
                assert_eq!(seq.parse::<u64>().unwrap(), begun, "ACK for another operation");
                acked.push((begun, op));
            }
            _ => {}
        }
    }
    Report { acked, in_flight }
}

/// Starts a writer on `dir`, kills it after a random delay, and returns its complete lines.
fn run_and_kill_writer(dir: &Path, seed: u64, first_seq: u64, delay_ms: u64) -> Vec<String> {
    let stderr_path = dir.with_extension("stderr");
    let stderr = std::fs::File::create(&stderr_path).unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([TEST_NAME, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, dir)
        .env("ZERO_CRASH_SEED", seed.to_string())
        .env("ZERO_CRASH_FIRST_SEQ", first_seq.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("start the writer");
    let stdout = child.stdout.take().unwrap();
    let (ready_tx, ready_rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut lines = Vec::new();
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => return lines,
                // A line cut off by the kill has no newline: it was never fully reported.
                Ok(_) if buf.last() != Some(&b'\n') => return lines,
                Ok(_) => {
                    let line = String::from_utf8_lossy(&buf).trim().to_string();
                    if line == "READY" {
                        let _ = ready_tx.send(());
                    }
                    lines.push(line);
                }
            }
        }
    });
    let ready = ready_rx.recv_timeout(Duration::from_secs(120));
    if ready.is_ok() {
        std::thread::sleep(Duration::from_millis(delay_ms));
    }
    let exited_early = child.try_wait().unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    let lines = reader.join().unwrap();
    if ready.is_err() || exited_early.is_some() {
        let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
        panic!("the writer did not keep running until killed ({exited_early:?}); stderr:\n{stderr}");
    }
    lines
}

/// Reopens `dir` and returns everything stored, after checking usage in each namespace and that
/// each namespace still takes a write (whose probe entry is left in `probe_state`).
fn reopen_and_read(dir: &Path, round: usize, probe_state: &mut State) -> State {
    let backend = FsBackend::open(dir).expect("the data directory reopens after the crash");
    let (runtime, _clock) = runtime_with(Arc::new(backend), Config::default());
    let mut procs: Vec<_> =
        NAMESPACES.iter().map(|name| runtime.process(ProcessIdentity::new(name).unwrap()).unwrap()).collect();
    let stored = read_state(&mut procs);
    for (ns, p) in procs.iter_mut().enumerate() {
        let probe = format!("probe {round}").into_bytes();
        p.set("probe", &probe, 0).expect("the store takes a write after the crash");
        assert_eq!(p.get("probe").unwrap(), probe);
        probe_state.insert((ns, "probe".into()), probe);
    }
    stored
}

#[test]
fn acknowledged_writes_survive_sigkill_of_the_writer_process() {
    if let Some(dir) = std::env::var_os(CHILD_ENV) {
        writer(Path::new(&dir));
    }
    let rounds: usize = std::env::var("ZERO_CRASH_ROUNDS").ok().and_then(|n| n.parse().ok()).unwrap_or(100);
    let seed = Rng::seed_from_env();
    eprintln!("crash test: {rounds} rounds, ZERO_SEED={seed}");
    let mut rng = Rng::new(seed);
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("data");
    let mut state = State::new();
    let mut next_seq = 1;
    let (mut acked_total, mut outcomes) = (0, InFlightOutcomes::default());
    let started = std::time::Instant::now();
    for round in 0..rounds {
        let delay_ms = if rng.percent(20) { rng.below(3) } else { rng.below(40) };
        let lines = run_and_kill_writer(&dir, rng.next_u64(), next_seq, delay_ms);
        let report = parse_report(&lines);
        acked_total += report.acked.len();
        let mut acknowledged = state.clone();
        for (seq, op) in &report.acked {
            op.apply(*seq, &mut acknowledged);
        }
        next_seq = report.in_flight.as_ref().or(report.acked.last()).map_or(next_seq, |(seq, _)| seq + 1);
        let mut probes = State::new();
        let stored = reopen_and_read(&dir, round, &mut probes);
        if let Err(difference) = outcomes.judge(&stored, &acknowledged, report.in_flight.as_ref()) {
            panic!("round {round} (ZERO_SEED={seed}): {difference}");
        }
        state = stored;
        state.extend(probes);
    }
    eprintln!(
        "crash test: {rounds} rounds in {:.1?}, {acked_total} acknowledged operations, none lost; \
         the operation in flight landed {} times, was lost {} times, changed nothing {} times",
        started.elapsed(),
        outcomes.landed,
        outcomes.lost,
        outcomes.idle
    );
    assert!(acked_total > 0, "the writers never acknowledged anything");
}
