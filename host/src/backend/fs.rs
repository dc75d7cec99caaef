//! `fs`: the default durable backend, one [redb] database file in a data directory.
//!
//! Concurrent commits share one write transaction and one fsync ([group commit]); each is
//! acknowledged only after that transaction is durable.
//!
//! [group commit]: super::group_commit
//!
//! Layout: `DATA/zero-storage.redb` holds two tables. `entries` maps `(namespace, key)` to
//! `(version, value)`: the tuple key keeps namespaces apart structurally and orders keys bytewise
//! within one. `counters` holds the last version stamped. A commit is one redb write
//! transaction with `Durability::Immediate`: it is on disk (fsync) before `commit` returns, and a
//! crash at any point leaves either all of it or none of it. redb locks the file, so a second
//! process that opens the same data directory gets a clear "in use" error: at once from
//! [`FsBackend::open`], or once the holder has kept it for longer than the caller will wait, from
//! [`FsBackend::open_waiting`].

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use redb::{
    Database, DatabaseError, Durability, ReadOnlyTable, ReadTransaction, ReadableDatabase, ReadableTable,
    TableDefinition, TableError,
};

use super::group_commit::{GroupCommit, Outcome};
use super::{
    Answer, Backend, BackendError, CommitResult, Condition, Entry, Mutation, Query, Snapshot, condition_holds,
};

/// `(namespace, key)`: namespaces apart, keys bytewise within one.
type NamespacedKey = (&'static str, &'static [u8]);
/// `(version, value)`.
type VersionedValue = (u64, &'static [u8]);
const ENTRIES: TableDefinition<NamespacedKey, VersionedValue> = TableDefinition::new("entries");
/// The `entries` table opened for reading.
type Entries = ReadOnlyTable<NamespacedKey, VersionedValue>;
const COUNTERS: TableDefinition<&str, u64> = TableDefinition::new("counters");
const LAST_VERSION: &str = "last-version";
/// redb's page cache. redb's default (1 GiB) lets a big data set fill the host's memory; the
/// kernel's page cache still serves what falls out of this one.
const CACHE_BYTES: usize = 64 << 20;
/// The first pause of [`FsBackend::open_waiting`] between two attempts; each pause doubles, up to
/// [`MAX_RETRY_PAUSE`]. Short at first because a short command holds the lock for tens of
/// milliseconds; capped so a waiter notices the release soon without spinning.
const FIRST_RETRY_PAUSE: Duration = Duration::from_millis(5);
/// The longest pause of [`FsBackend::open_waiting`] between two attempts.
const MAX_RETRY_PAUSE: Duration = Duration::from_millis(50);
/// The database file's name inside the data directory.
pub const DATABASE_FILE: &str = "zero-storage.redb";

/// A data directory holding a redb database.
pub struct FsBackend {
    db: Database,
    path: PathBuf,
    group: GroupCommit<Request>,
}

impl FsBackend {
    /// Opens the data directory `dir`, creating it if needed. If another process (or another
    /// `FsBackend` in this one) has it open, this fails at once with an "in use" error; see
    /// [`FsBackend::open_waiting`] to wait for it instead.
    pub fn open(dir: &Path) -> Result<Self, BackendError> {
        Self::open_waiting(dir, Duration::ZERO)
    }

    /// Opens the data directory `dir` like [`FsBackend::open`], but while another process has it
    /// open, tries again (after pauses of 5 ms growing to 50 ms, never spinning) until `timeout`
    /// has passed, then fails with the "in use" error. This is how short commands run in
    /// parallel on one directory take turns. Only "in use" is retried: any other failure is
    /// returned at once.
    pub fn open_waiting(dir: &Path, timeout: Duration) -> Result<Self, BackendError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| BackendError(format!("cannot create data directory {}: {e}", dir.display())))?;
        let path = dir.join(DATABASE_FILE);
        // A timeout too long to add to the clock waits for as long as it takes.
        let deadline = Instant::now().checked_add(timeout);
        let mut pause = FIRST_RETRY_PAUSE;
        loop {
            match redb::Builder::new().set_cache_size(CACHE_BYTES).create(&path) {
                Ok(db) => return Ok(FsBackend { db, path, group: GroupCommit::default() }),
                Err(DatabaseError::DatabaseAlreadyOpen) => {
                    let left = deadline.map_or(MAX_RETRY_PAUSE, |d| d.saturating_duration_since(Instant::now()));
                    if left.is_zero() {
                        return Err(in_use(dir, timeout));
                    }
                    std::thread::sleep(pause.min(left));
                    pause = (pause * 2).min(MAX_RETRY_PAUSE);
                }
                Err(other) => {
                    return Err(BackendError(format!("cannot open the database in {}: {other}", dir.display())));
                }
            }
        }
    }

    /// A backend over any redb storage (not a data directory): how crash tests put a storage
    /// that drops unsynced writes underneath the real engine. `label` names it in messages.
    pub fn with_storage(storage: impl redb::StorageBackend, label: &str) -> Result<Self, BackendError> {
        let db = redb::Builder::new()
            .set_cache_size(CACHE_BYTES)
            .create_with_backend(storage)
            .map_err(|e| BackendError(format!("cannot open the database on {label}: {e}")))?;
        Ok(FsBackend { db, path: PathBuf::from(label), group: GroupCommit::default() })
    }

    /// The database file (or the label of a custom storage).
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The error for a data directory that another process still holds after `waited`: what holds it
/// and what to do.
fn in_use(dir: &Path, waited: Duration) -> BackendError {
    let waited = if waited.is_zero() { String::new() } else { format!(" (waited {waited:?})") };
    BackendError(format!(
        "data directory {} is in use by another zero-storage process{waited}; a `zero-storage run` \
         holds it until its app ends: wait for that process to finish or stop it, or use another --data directory",
        dir.display()
    ))
}

/// Turns a redb failure into a message that names no path.
fn failure(action: &str, error: impl std::fmt::Display) -> BackendError {
    BackendError(format!("the fs backend could not {action}: {error}"))
}

/// One commit waiting for the group's transaction.
struct Request {
    namespace: String,
    conditions: Vec<Condition>,
    mutations: Vec<Mutation<'static>>,
}

impl FsBackend {
    /// Applies `batch` in one write transaction, each request on the condition that its own
    /// conditions hold on the state left by the requests before it, and makes the whole batch
    /// durable with one commit (one fsync). If the transaction fails, every request fails and
    /// nothing is written.
    fn commit_batch(&self, batch: &[Request]) -> Vec<Outcome> {
        match self.try_commit_batch(batch) {
            Ok(outcomes) => outcomes,
            Err(error) => batch.iter().map(|_| Err(error.clone())).collect(),
        }
    }

    fn try_commit_batch(&self, batch: &[Request]) -> Result<Vec<Outcome>, BackendError> {
        let mut txn = self.db.begin_write().map_err(|e| failure("start a write", e))?;
        // redb's default, stated here because the guarantee depends on it: fsync before return.
        txn.set_durability(Durability::Immediate).map_err(|e| failure("set durability", e))?;
        let mut outcomes = Vec::with_capacity(batch.len());
        {
            let mut entries = txn.open_table(ENTRIES).map_err(|e| failure("open its table", e))?;
            let mut counters = txn.open_table(COUNTERS).map_err(|e| failure("open its table", e))?;
            let mut version = counters.get(LAST_VERSION).map_err(|e| failure("read", e))?.map_or(0, |v| v.value());
            'requests: for request in batch {
                let namespace = request.namespace.as_str();
                for (index, condition) in request.conditions.iter().enumerate() {
                    let current = entries
                        .get((namespace, condition.key.as_slice()))
                        .map_err(|e| failure("read", e))?
                        .map(|guard| guard.value().0);
                    if !condition_holds(condition, current) {
                        outcomes.push(Ok(CommitResult::Conflict(index as u32)));
                        continue 'requests;
                    }
                }
                version += 1;
                for mutation in &request.mutations {
                    match mutation {
                        Mutation::Put(key, value) => {
                            entries.insert((namespace, key.as_slice()), (version, value.as_ref()))
                        }
                        Mutation::Delete(key) => entries.remove((namespace, key.as_slice())),
                    }
                    .map_err(|e| failure("write", e))?;
                }
                outcomes.push(Ok(CommitResult::Committed(version)));
            }
            counters.insert(LAST_VERSION, version).map_err(|e| failure("write", e))?;
        }
        txn.commit().map_err(|e| failure("commit", e))?;
        Ok(outcomes)
    }
}

impl Backend for FsBackend {
    fn read(&self, namespace: &str, queries: &[Query]) -> Result<Vec<Answer>, BackendError> {
        let txn = self.db.begin_read().map_err(|e| failure("start a read", e))?;
        answer(open_entries(&txn)?.as_ref(), namespace, queries)
    }

    fn commit(
        &self,
        namespace: &str,
        conditions: &[Condition],
        mutations: Vec<Mutation<'_>>,
    ) -> Result<CommitResult, BackendError> {
        let request = Request {
            namespace: namespace.to_owned(),
            conditions: conditions.to_vec(),
            // Values arriving from the component are owned already: this moves, never copies.
            mutations: mutations
                .into_iter()
                .map(|mutation| match mutation {
                    Mutation::Put(key, value) => Mutation::Put(key, Cow::Owned(value.into_owned())),
                    Mutation::Delete(key) => Mutation::Delete(key),
                })
                .collect(),
        };
        self.group.submit(request, |batch| self.commit_batch(&batch))
    }

    fn namespaces(&self) -> Result<Vec<String>, BackendError> {
        let txn = self.db.begin_read().map_err(|e| failure("start a read", e))?;
        let table = match txn.open_table(ENTRIES) {
            Ok(table) => table,
            Err(TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(failure("open its table", e)),
        };
        let mut names = Vec::new();
        let mut after: Option<String> = None;
        loop {
            // Namespace names never contain NUL, so `name\0` is the smallest name after `name`.
            let from = after.as_ref().map_or(String::new(), |name| format!("{name}\0"));
            let mut range = table.range((from.as_str(), &[][..])..).map_err(|e| failure("scan", e))?;
            match range.next() {
                Some(item) => {
                    let name = item.map_err(|e| failure("scan", e))?.0.value().0.to_owned();
                    names.push(name.clone());
                    after = Some(name);
                }
                None => return Ok(names),
            }
        }
    }

    /// One redb read transaction: MVCC, so it costs no copy and never blocks commits. While
    /// it lives, redb cannot reuse the pages that later commits free, so the file may grow
    /// by what is written meanwhile.
    fn snapshot(&self, namespace: &str) -> Result<Box<dyn Snapshot + '_>, BackendError> {
        let txn = self.db.begin_read().map_err(|e| failure("start a read", e))?;
        let table = open_entries(&txn)?;
        Ok(Box::new(FsSnapshot { table, namespace: namespace.to_owned() }))
    }
}

/// The `entries` table as `txn` sees it, or none if nothing was ever written.
fn open_entries(txn: &ReadTransaction) -> Result<Option<Entries>, BackendError> {
    match txn.open_table(ENTRIES) {
        Ok(table) => Ok(Some(table)),
        Err(TableError::TableDoesNotExist(_)) => Ok(None),
        Err(e) => Err(failure("open its table", e)),
    }
}

/// Answers `queries` in `namespace` from one read transaction's view of the table.
fn answer(table: Option<&Entries>, namespace: &str, queries: &[Query]) -> Result<Vec<Answer>, BackendError> {
    let mut answers = Vec::with_capacity(queries.len());
    for query in queries {
        answers.push(match (query, table) {
            (Query::Get(key), Some(table)) => {
                Answer::Got(table.get((namespace, key.as_slice())).map_err(|e| failure("read", e))?.map(|guard| {
                    let (version, value) = guard.value();
                    Entry { key: key.clone(), value: value.to_vec(), version }
                }))
            }
            (Query::Scan { start, end, limit, keys_only }, Some(table)) if start < end => {
                let range = table
                    .range((namespace, start.as_slice())..(namespace, end.as_slice()))
                    .map_err(|e| failure("scan", e))?;
                let mut entries = Vec::new();
                for item in range.take(*limit as usize) {
                    let (key, value) = item.map_err(|e| failure("scan", e))?;
                    let (version, value) = value.value();
                    let value = if *keys_only { Vec::new() } else { value.to_vec() };
                    entries.push(Entry { key: key.value().1.to_vec(), value, version });
                }
                Answer::Scanned(entries)
            }
            (Query::Get(_), None) => Answer::Got(None),
            (Query::Scan { .. }, _) => Answer::Scanned(Vec::new()),
        });
    }
    Ok(answers)
}

/// One namespace as one read transaction sees it. The opened table holds the transaction open
/// for as long as it lives; no table means nothing had ever been written, so the namespace is
/// empty in this snapshot for good.
struct FsSnapshot {
    table: Option<Entries>,
    namespace: String,
}

impl Snapshot for FsSnapshot {
    fn read(&self, queries: &[Query]) -> Result<Vec<Answer>, BackendError> {
        answer(self.table.as_ref(), &self.namespace, queries)
    }
}
