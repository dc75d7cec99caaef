//! What the storage logic needs from its surroundings: a [`BackendImport`] to keep data in and an
//! [`Identity`] that says who is calling. In the component both are WIT imports served by the
//! host; in unit tests they are plain Rust.

use std::borrow::Cow;

/// One stored entry, as the backend returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The backend key.
    pub key: Vec<u8>,
    /// The value; empty for a keys-only scan.
    pub value: Vec<u8>,
    /// The version stamped by the commit that last wrote the entry (never 0).
    pub version: u64,
}

/// One thing to read in a [`BackendImport::read`] call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    /// The entry under a key.
    Get(Vec<u8>),
    /// The entries with `start <= key < end`, ascending, at most `limit`.
    Scan {
        /// First key included.
        start: Vec<u8>,
        /// First key excluded.
        end: Vec<u8>,
        /// Most entries returned.
        limit: u32,
        /// Return empty values.
        keys_only: bool,
    },
}

/// The answer to one [`Query`], in the same position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The entry, if present. Its `key` may be empty, since the query names it: the WIT
    /// backend does not send it back.
    Got(Option<Entry>),
    /// The entries in the range.
    Scanned(Vec<Entry>),
}

/// A condition a commit depends on: the key has this version, or (`None`) is absent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// The key to check.
    pub key: Vec<u8>,
    /// The required version, or `None` for "absent".
    pub version: Option<u64>,
}

/// One change in a commit. Values may be borrowed, so a value travels from the caller to the
/// backend without being copied inside the storage logic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mutation<'a> {
    /// Store a value under a key.
    Put(Vec<u8>, Cow<'a, [u8]>),
    /// Remove a key (absent is fine).
    Delete(Vec<u8>),
}

/// What became of a commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitResult {
    /// Applied, stamped with this version.
    Committed(u64),
    /// The condition at this index failed; nothing was applied.
    Conflict(u32),
}

/// The `zero:storage/backend` contract: per-namespace ordered maps with snapshot reads and an
/// atomic conditional commit. Errors are messages safe to show to applications.
pub trait BackendImport {
    /// Answers `queries` in `namespace` from one consistent snapshot.
    fn read(&self, namespace: &str, queries: &[Query]) -> Result<Vec<Answer>, String>;
    /// Applies `mutations` atomically if every condition holds.
    fn commit(
        &self,
        namespace: &str,
        conditions: &[Condition],
        mutations: &[Mutation<'_>],
    ) -> Result<CommitResult, String>;
}

/// What a process may do in a namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Nothing.
    None,
    /// Read only.
    ReadOnly,
    /// Read and write.
    ReadWrite,
}

/// The `zero:storage/identity` contract: the caller, its rights and the clock.
pub trait Identity {
    /// The caller's own namespace.
    fn own_namespace(&self) -> String;
    /// What the caller may do in a well-formed `namespace`.
    fn access(&self, namespace: &str) -> Access;
    /// The quota of `namespace` in bytes.
    fn quota_bytes(&self, namespace: &str) -> u64;
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> u64;
}
