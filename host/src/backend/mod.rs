//! Backends: where the storage component's data lives.
//!
//! Every backend implements the one small [`Backend`] trait, the host side of the WIT
//! `zero:storage/backend` contract: per-namespace ordered maps with versions, snapshot reads and
//! an atomic conditional commit. All policy (limits, quotas, TTL, access) lives in the storage
//! component, so a backend is only storage. `tests/conformance.rs` runs one scenario on each.

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
}

/// Whether an entry's current version satisfies a commit condition.
pub(crate) fn condition_holds(condition: &Condition, current_version: Option<u64>) -> bool {
    condition.version == current_version
}
