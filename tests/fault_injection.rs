//! Fault injection by position: a backend wrapper fails exactly the Nth read or the Nth commit
//! of a scripted workload (once, or from then on), for every N the workload reaches, on every
//! backend.
//!
//! Each failing call must reach the caller as `backend-error` with the injected message; the
//! operation must leave the namespace exactly as it was (same entries, usage equal to the
//! recomputed sum); the operations that do not touch the failing call must work; and once the
//! fault clears, everything works again. The sweep covers every position in the middle of every
//! operation, so a hand-picked fault would repeat one of its cases.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use zero_storage::backend::{Answer, Backend, BackendError, CommitResult, Condition, Mutation, Query};
use zero_storage::{Config, Error, ManualClock, Precondition, Process, ProcessIdentity, StorageError, Write};
use zero_storage_tests::{assert_usage_exact, backends, runtime_with};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Read,
    Commit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Only the Nth call fails.
    Once,
    /// The Nth call and every later one fail.
    Forever,
}

/// Wraps a real backend; while armed, counts reads and commits and fails the chosen one(s).
struct NthFault {
    inner: Arc<dyn Backend>,
    armed: AtomicBool,
    reads: AtomicU64,
    commits: AtomicU64,
    /// (kind, N, mode) of the fault, if any.
    fault: std::sync::Mutex<Option<(Kind, u64, Mode)>>,
    fired: AtomicU64,
}

impl NthFault {
    fn new(inner: Arc<dyn Backend>) -> Self {
        NthFault {
            inner,
            armed: AtomicBool::new(false),
            reads: AtomicU64::new(0),
            commits: AtomicU64::new(0),
            fault: std::sync::Mutex::new(None),
            fired: AtomicU64::new(0),
        }
    }

    fn reset(&self, fault: Option<(Kind, u64, Mode)>) {
        self.reads.store(0, Ordering::SeqCst);
        self.commits.store(0, Ordering::SeqCst);
        self.fired.store(0, Ordering::SeqCst);
        *self.fault.lock().unwrap() = fault;
    }

    /// Counts a call of `kind` and says whether it must fail.
    fn fails(&self, kind: Kind) -> Option<BackendError> {
        if !self.armed.load(Ordering::SeqCst) {
            return None;
        }
        let counter = if kind == Kind::Read { &self.reads } else { &self.commits };
        let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
        let (fault_kind, at, mode) = (*self.fault.lock().unwrap())?;
        let hit = fault_kind == kind && (n == at || (mode == Mode::Forever && n > at));
        hit.then(|| {
            self.fired.fetch_add(1, Ordering::SeqCst);
            BackendError(message(kind))
        })
    }
}

fn message(kind: Kind) -> String {
    format!("injected {kind:?} fault")
}

impl Backend for NthFault {
    fn read(&self, namespace: &str, queries: &[Query]) -> Result<Vec<Answer>, BackendError> {
        match self.fails(Kind::Read) {
            Some(error) => Err(error),
            None => self.inner.read(namespace, queries),
        }
    }

    fn commit(
        &self,
        namespace: &str,
        conditions: &[Condition],
        mutations: Vec<Mutation<'_>>,
    ) -> Result<CommitResult, BackendError> {
        match self.fails(Kind::Commit) {
            Some(error) => Err(error),
            None => self.inner.commit(namespace, conditions, mutations),
        }
    }

    fn namespaces(&self) -> Result<Vec<String>, BackendError> {
        self.inner.namespaces()
    }
}

fn set(key: &str, value: &[u8]) -> Write {
    Write::Set { key: key.into(), value: value.to_vec(), ttl_secs: 0 }
}

/// One step of the script.
type Step<'a> = Box<dyn Fn(&mut Process) -> zero_storage::Result<()> + 'a>;

/// The scripted workload: every kind of operation, including ones that reclaim expired entries.
/// Each step runs one operation and reports only whether it failed and how.
fn script(clock: &ManualClock) -> Vec<Step<'_>> {
    vec![
        Box::new(|p| p.set("a", b"1", 0)),
        Box::new(|p| p.set("b", b"expires", 1)),
        Box::new(|p| p.set_many(&[("c".into(), b"3".to_vec()), ("d".into(), b"4".to_vec())], 0)),
        Box::new(|p| p.increment("n", 5).map(drop)),
        Box::new(|p| p.get("a").map(drop)),
        Box::new(|p| p.list("", 2, None).map(drop)),
        Box::new(|p| p.delete("a").map(drop)),
        Box::new(|_| {
            clock.advance_ms(1500);
            Ok(())
        }),
        Box::new(|p| p.set("e", b"after expiry", 0)),
        Box::new(|p| p.quota().map(drop)),
        Box::new(|p| {
            let version = p.get_versioned("c")?.version;
            p.transact(
                &[Precondition::Absent("f".into()), Precondition::VersionIs("c".into(), version)],
                &[set("f", b"6"), Write::Delete("d".into()), set("c", b"33")],
            )
            .map(drop)
        }),
        Box::new(|p| p.set("g", b"short", 2)),
        Box::new(|_| {
            clock.advance_ms(2500);
            Ok(())
        }),
        Box::new(|p| p.delete_many(&["c".into(), "zz".into()]).map(drop)),
        Box::new(|p| p.get_many(&["e".into(), "f".into(), "g".into()]).map(drop)),
        Box::new(|p| p.increment("n", -2).map(drop)),
        Box::new(|p| p.exists("n").map(drop)),
        Box::new(|p| p.sweep("app:faulty").map(drop)),
        Box::new(|p| p.set("e", &[7; 3000], 0)),
    ]
}

/// Runs the script under one fault; returns how many steps failed, and the reads and commits
/// the script made.
fn run_once(backend: &Arc<NthFault>, fault: Option<(Kind, u64, Mode)>, label: &str) -> (usize, u64, u64) {
    let (runtime, clock) = runtime_with(backend.clone(), Config::default());
    let mut p = runtime.process(ProcessIdentity::new("faulty").unwrap()).unwrap();
    let mut admin = runtime.process(ProcessIdentity::system("admin").unwrap()).unwrap();
    let mut admin = admin.bucket("app:faulty").unwrap();
    // Start each run from an empty namespace, without counting that cleanup.
    backend.armed.store(false, Ordering::SeqCst);
    let keys = zero_storage_tests::read_all(&mut admin).into_keys().collect::<Vec<_>>();
    admin.delete_many(&keys).unwrap();
    backend.reset(fault);
    let mut failed = 0;
    for (step, run) in script(&clock).iter().enumerate() {
        backend.armed.store(false, Ordering::SeqCst);
        // Only listing and getting here: `quota` would reclaim expired entries, and the
        // reclaiming inside the operations under test is part of what may fail.
        let before = zero_storage_tests::read_all(&mut admin);
        backend.armed.store(true, Ordering::SeqCst);
        let fired_before = backend.fired.load(Ordering::SeqCst);
        let outcome = run(&mut p);
        backend.armed.store(false, Ordering::SeqCst);
        let fired = backend.fired.load(Ordering::SeqCst) > fired_before;
        match outcome {
            Ok(()) => assert!(!fired, "{label}, step {step}: a fault fired but the operation succeeded"),
            Err(Error::Storage(StorageError::Backend(text))) => {
                let (kind, _, _) = fault.expect("no fault was injected");
                assert!(fired, "{label}, step {step}: backend error without a fault: {text}");
                assert_eq!(text, message(kind), "{label}, step {step}: the caller gets the injected message");
                let after = assert_usage_exact(&mut admin);
                assert_eq!(after, before, "{label}, step {step}: a failed operation changed the namespace");
                failed += 1;
            }
            // After an earlier step failed, later ones may see different data (a key not
            // found, a precondition that no longer holds): that is the earlier failure's
            // effect, not this one's. Before any failure, every step must succeed.
            Err(Error::Storage(other)) if failed > 0 && !fired => {
                let after = zero_storage_tests::read_all(&mut admin);
                assert_eq!(after, before, "{label}, step {step}: a failed operation ({other}) changed the namespace");
            }
            Err(other) => panic!("{label}, step {step}: unexpected error {other}"),
        }
    }
    let calls = (backend.reads.load(Ordering::SeqCst), backend.commits.load(Ordering::SeqCst));
    // The fault clears: the store works, and what is there is consistent.
    backend.reset(None);
    p.set("after", b"works", 0).unwrap_or_else(|e| panic!("{label}: a write after the fault cleared failed: {e}"));
    assert_eq!(p.get("after").unwrap(), b"works");
    assert_usage_exact(&mut p.own());
    (failed, calls.0, calls.1)
}

#[test]
fn a_fault_at_every_read_and_commit_position_fails_cleanly_and_recovers() {
    for b in backends() {
        let backend = Arc::new(NthFault::new(b.backend.clone()));
        let (failed, reads, commits) = run_once(&backend, None, b.name);
        assert_eq!(failed, 0, "{}: the script fails without a fault", b.name);
        assert!(reads >= 10 && commits >= 5, "{}: the script made {reads} reads and {commits} commits", b.name);
        let mut runs = 0;
        for (kind, total) in [(Kind::Read, reads), (Kind::Commit, commits)] {
            for mode in [Mode::Once, Mode::Forever] {
                for n in 1..=total {
                    let label = format!("{}: {kind:?} #{n} {mode:?}", b.name);
                    let (failed, ..) = run_once(&backend, Some((kind, n, mode)), &label);
                    assert!(failed >= 1, "{label}: the fault never reached the caller");
                    if mode == Mode::Once {
                        assert_eq!(failed, 1, "{label}: one fault, one failed operation");
                    }
                    runs += 1;
                }
            }
        }
        eprintln!("{}: {reads} reads and {commits} commits per script; {runs} faulty runs", b.name);
    }
}
