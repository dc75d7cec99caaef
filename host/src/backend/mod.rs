//! Backends: where the storage component's data lives.
//!
//! Every backend implements the one small [`Backend`] trait, the host side of the WIT
//! `zero:storage/backend` contract: per-namespace ordered maps with versions, snapshot reads and
//! an atomic conditional commit. All policy (limits, quotas, TTL, access) lives in the storage
//! component, so a backend is only storage. `tests/conformance.rs` runs one scenario on each.
//!
//! Besides the contract's calls, a backend can freeze one namespace as a [`Snapshot`] that many
//! reads see identically, which is how `export` streams a namespace of any size consistently.

#[cfg(feature = "etcd")]
pub mod etcd;
mod fs;
mod group_commit;
mod memory;

#[cfg(feature = "etcd")]
pub use etcd::{EtcdBackend, EtcdOptions, EtcdStats, EtcdTls};
pub use fs::FsBackend;
pub use memory::MemoryBackend;
pub use zero_storage_component::backend::{Answer, CommitResult, Condition, Entry, Mutation, Query};

use std::collections::BTreeMap;

/// A backend failure, with a message safe to show to applications (no paths or internals).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BackendError(pub String);

/// The host side of `zero:storage/backend`. See the WIT for the full contract.
pub trait Backend: Send + Sync + 'static {
    /// Answers `queries` in `namespace` from one consistent snapshot, in order.
    fn read(&self, namespace: &str, queries: &[Query]) -> Result<Vec<Answer>, BackendError>;

    /// Applies `mutations` in `namespace` atomically if every condition holds; otherwise
    /// applies nothing and reports the first condition that failed.
    fn commit(
        &self,
        namespace: &str,
        conditions: &[Condition],
        mutations: Vec<Mutation<'_>>,
    ) -> Result<CommitResult, BackendError>;

    /// Every namespace that holds data, in ascending order (for administration).
    fn namespaces(&self) -> Result<Vec<String>, BackendError>;

    /// Freezes `namespace` as it is now: every [`Snapshot::read`] of the result answers from
    /// that one state, however many reads are made and whatever is committed meanwhile. It
    /// must not block commits for longer than a read does. A namespace that holds nothing
    /// gives an empty snapshot.
    ///
    /// The default reads the whole namespace with one [`Backend::read`] and answers from that
    /// copy. That is correct for any backend, but holds the namespace in memory; `memory`,
    /// `fs` and `etcd` override it with snapshots that copy nothing up front.
    fn snapshot(&self, namespace: &str) -> Result<Box<dyn Snapshot + '_>, BackendError> {
        let everything = Query::Scan { start: Vec::new(), end: past_every_key(), limit: u32::MAX, keys_only: false };
        let entries = match self.read(namespace, &[everything])?.pop() {
            Some(Answer::Scanned(entries)) => entries,
            _ => return Err(BackendError("the backend answered a scan with something else".into())),
        };
        Ok(Box::new(CopiedSnapshot(entries.into_iter().map(|entry| (entry.key.clone(), entry)).collect())))
    }
}

/// One namespace frozen at one moment, by [`Backend::snapshot`]. Reading it never changes
/// anything, and every read sees the same entries with the same versions.
pub trait Snapshot {
    /// Answers `queries` from the frozen state, in order, like [`Backend::read`].
    fn read(&self, queries: &[Query]) -> Result<Vec<Answer>, BackendError>;
}

/// A key greater than every key the storage component writes (they start with a tag byte
/// below 0xff; see `layout::prefix_end`).
fn past_every_key() -> Vec<u8> {
    zero_storage_component::layout::prefix_end(b"")
}

/// The snapshot of [`Backend::snapshot`]'s default: a copy of the whole namespace.
struct CopiedSnapshot(BTreeMap<Vec<u8>, Entry>);

impl Snapshot for CopiedSnapshot {
    fn read(&self, queries: &[Query]) -> Result<Vec<Answer>, BackendError> {
        let keys_only = |entry: &Entry| Entry { value: Vec::new(), ..entry.clone() };
        Ok(queries
            .iter()
            .map(|query| match query {
                Query::Get(key) => Answer::Got(self.0.get(key).cloned()),
                Query::Scan { start, end, limit, keys_only: only } if start < end => Answer::Scanned(
                    self.0
                        .range(start.clone()..end.clone())
                        .take(*limit as usize)
                        .map(|(_, entry)| if *only { keys_only(entry) } else { entry.clone() })
                        .collect(),
                ),
                Query::Scan { .. } => Answer::Scanned(Vec::new()),
            })
            .collect())
    }
}

/// Whether an entry's current version satisfies a commit condition.
pub(crate) fn condition_holds(condition: &Condition, current_version: Option<u64>) -> bool {
    condition.version == current_version
}
