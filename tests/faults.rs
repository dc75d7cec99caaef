//! A backend that fails on purpose: the app sees `backend-error`, nothing half-written remains,
//! and everything works again once the fault clears.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use zero_storage::backend::{Answer, Backend, BackendError, CommitResult, Condition, MemoryBackend, Mutation, Query};
use zero_storage::{Config, Error, ProcessIdentity, StorageError};
use zero_storage_tests::runtime_with;

/// Wraps a real backend and fails reads or commits while told to.
#[derive(Default)]
struct FlakyBackend {
    inner: MemoryBackend,
    fail_reads: AtomicBool,
    fail_commits: AtomicBool,
}

impl Backend for FlakyBackend {
    fn read(&self, namespace: &str, queries: &[Query]) -> Result<Vec<Answer>, BackendError> {
        if self.fail_reads.load(Ordering::SeqCst) {
            return Err(BackendError("injected read failure".into()));
        }
        self.inner.read(namespace, queries)
    }

    fn commit(
        &self,
        namespace: &str,
        conditions: &[Condition],
        mutations: Vec<Mutation<'_>>,
    ) -> Result<CommitResult, BackendError> {
        if self.fail_commits.load(Ordering::SeqCst) {
            return Err(BackendError("injected commit failure".into()));
        }
        self.inner.commit(namespace, conditions, mutations)
    }

    fn namespaces(&self) -> Result<Vec<String>, BackendError> {
        self.inner.namespaces()
    }
}

fn backend_error<T: std::fmt::Debug>(result: Result<T, Error>) -> String {
    match result {
        Err(Error::Storage(StorageError::Backend(message))) => message,
        other => panic!("expected backend-error, got {other:?}"),
    }
}

#[test]
fn failed_commits_report_backend_error_and_change_nothing() {
    let backend = Arc::new(FlakyBackend::default());
    let (runtime, _) = runtime_with(backend.clone(), Config::default());
    let mut p = runtime.process(ProcessIdentity::new("app").unwrap()).unwrap();
    p.set("k", b"old", 0).unwrap();
    p.set("gone-later", b"x", 0).unwrap();
    backend.fail_commits.store(true, Ordering::SeqCst);
    assert_eq!(backend_error(p.set("k", b"new", 0)), "injected commit failure");
    assert_eq!(backend_error(p.set("fresh", b"new", 0)), "injected commit failure");
    assert_eq!(backend_error(p.delete("gone-later")), "injected commit failure");
    // Reads still work during the fault and show the old state.
    assert_eq!(p.get("k").unwrap(), b"old");
    assert!(!p.exists("fresh").unwrap());
    backend.fail_commits.store(false, Ordering::SeqCst);
    let quota = p.quota().unwrap();
    assert_eq!((quota.used_bytes, quota.key_count), (4 + 11, 2));
    p.set("k", b"new", 0).unwrap();
    assert_eq!(p.get("k").unwrap(), b"new");
}

#[test]
fn failed_reads_report_backend_error_and_recover() {
    let backend = Arc::new(FlakyBackend::default());
    let (runtime, _) = runtime_with(backend.clone(), Config::default());
    let mut p = runtime.process(ProcessIdentity::new("app").unwrap()).unwrap();
    p.set("k", b"v", 0).unwrap();
    backend.fail_reads.store(true, Ordering::SeqCst);
    assert_eq!(backend_error(p.get("k")), "injected read failure");
    assert_eq!(backend_error(p.list("", 10, None)), "injected read failure");
    // A write of a key this process has not seen must read first, and fails.
    assert_eq!(backend_error(p.set("unseen", b"w", 0)), "injected read failure");
    // A write of a key it just wrote may go ahead without reading (its commit checks the
    // versions it relied on); either way, what it acknowledges is what is stored.
    let rewrite = p.set("k", b"w", 0);
    backend.fail_reads.store(false, Ordering::SeqCst);
    let expected: &[u8] = if rewrite.is_ok() { b"w" } else { b"v" };
    assert_eq!(p.get("k").unwrap(), expected);
    assert!(p.get("unseen").unwrap_err().is_not_found());
    assert_eq!(p.quota().unwrap().used_bytes, 2);
}
