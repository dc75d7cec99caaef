//! `memory`: an ephemeral backend in the host's memory, for tests and throwaway data.
//!
//! **Snapshots** are copy-on-write of one namespace. Each namespace's map sits behind an `Arc`;
//! a snapshot takes another reference to it (O(1), under the read lock for an instant). The first
//! commit to the namespace while a snapshot is alive finds the map shared and copies it before
//! changing it (`Arc::make_mut`). Keys and values are themselves `Arc`s, so that copy duplicates
//! the map's nodes and bumps reference counts, never copying key or value bytes: for a million
//! entries, tens of milliseconds and about 50 bytes per entry, once per snapshot. Later commits
//! find the map unshared and pay nothing. Plain reads hold the lock instead of a reference, so
//! they never cause a copy.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use super::{
    Answer, Backend, BackendError, CommitResult, Condition, Entry, Mutation, Query, Snapshot, condition_holds,
};

/// One namespace: key → (value, version).
type Space = BTreeMap<Arc<[u8]>, Stored>;
/// A value and its version. The value is an `Arc<Vec<u8>>`, not an `Arc<[u8]>`, so that storing
/// a commit's value moves its buffer instead of copying it.
type Stored = (Arc<Vec<u8>>, u64);

/// Namespaces as ordered maps behind one lock each; readers of a namespace share its lock.
#[derive(Default)]
pub struct MemoryBackend {
    spaces: RwLock<HashMap<String, Arc<RwLock<Arc<Space>>>>>,
    last_version: AtomicU64,
}

impl MemoryBackend {
    /// An empty backend.
    pub fn new() -> Self {
        Self::default()
    }

    fn space(&self, namespace: &str) -> Option<Arc<RwLock<Arc<Space>>>> {
        self.spaces.read().unwrap_or_else(|poison| poison.into_inner()).get(namespace).cloned()
    }

    fn space_or_create(&self, namespace: &str) -> Arc<RwLock<Arc<Space>>> {
        if let Some(space) = self.space(namespace) {
            return space;
        }
        let mut spaces = self.spaces.write().unwrap_or_else(|poison| poison.into_inner());
        spaces.entry(namespace.to_owned()).or_default().clone()
    }
}

/// Answers `queries` from one state of a namespace.
fn answer(space: &Space, queries: &[Query]) -> Vec<Answer> {
    let entry = |(key, (value, version)): (&Arc<[u8]>, &Stored), keys_only: bool| Entry {
        key: key.to_vec(),
        value: if keys_only { Vec::new() } else { value.to_vec() },
        version: *version,
    };
    queries
        .iter()
        .map(|query| match query {
            Query::Get(key) => Answer::Got(space.get_key_value(key.as_slice()).map(|kv| entry(kv, false))),
            Query::Scan { start, end, limit, keys_only } if start < end => Answer::Scanned(
                space
                    .range::<[u8], _>((Bound::Included(start.as_slice()), Bound::Excluded(end.as_slice())))
                    .take(*limit as usize)
                    .map(|kv| entry(kv, *keys_only))
                    .collect(),
            ),
            Query::Scan { .. } => Answer::Scanned(Vec::new()),
        })
        .collect()
}

impl Backend for MemoryBackend {
    fn read(&self, namespace: &str, queries: &[Query]) -> Result<Vec<Answer>, BackendError> {
        let Some(space) = self.space(namespace) else { return Ok(answer(&Space::new(), queries)) };
        let space = space.read().unwrap_or_else(|poison| poison.into_inner());
        Ok(answer(&space, queries))
    }

    fn commit(
        &self,
        namespace: &str,
        conditions: &[Condition],
        mutations: Vec<Mutation<'_>>,
    ) -> Result<CommitResult, BackendError> {
        let space = self.space_or_create(namespace);
        let mut guard = space.write().unwrap_or_else(|poison| poison.into_inner());
        for (index, condition) in conditions.iter().enumerate() {
            if !condition_holds(condition, guard.get(condition.key.as_slice()).map(|(_, version)| *version)) {
                return Ok(CommitResult::Conflict(index as u32));
            }
        }
        // Taken under the namespace's write lock, so versions rise with commit order.
        let version = self.last_version.fetch_add(1, Ordering::SeqCst) + 1;
        // Copies the map only if a snapshot still shares it (see the module's doc).
        let space = Arc::make_mut(&mut *guard);
        for mutation in mutations {
            match mutation {
                Mutation::Put(key, value) => match space.get_mut(key.as_slice()) {
                    // A key already present keeps its `Arc`, and so does its value unless a
                    // snapshot shares it: only new keys and shared values are allocated.
                    Some((stored, stored_version)) => {
                        match Arc::get_mut(stored) {
                            Some(unshared) => *unshared = value.into_owned(),
                            None => *stored = Arc::new(value.into_owned()),
                        }
                        *stored_version = version;
                    }
                    None => drop(space.insert(key.into(), (Arc::new(value.into_owned()), version))),
                },
                Mutation::Delete(key) => drop(space.remove(key.as_slice())),
            }
        }
        Ok(CommitResult::Committed(version))
    }

    fn namespaces(&self) -> Result<Vec<String>, BackendError> {
        let spaces = self.spaces.read().unwrap_or_else(|poison| poison.into_inner());
        let mut names: Vec<String> = spaces
            .iter()
            .filter(|(_, space)| !space.read().unwrap_or_else(|poison| poison.into_inner()).is_empty())
            .map(|(name, _)| name.clone())
            .collect();
        names.sort();
        Ok(names)
    }

    fn snapshot(&self, namespace: &str) -> Result<Box<dyn Snapshot + '_>, BackendError> {
        let frozen = match self.space(namespace) {
            Some(space) => space.read().unwrap_or_else(|poison| poison.into_inner()).clone(),
            None => Arc::default(),
        };
        Ok(Box::new(MemorySnapshot(frozen)))
    }
}

/// A namespace's map as it was when the snapshot was taken, shared with the backend until the
/// next commit copies it away.
struct MemorySnapshot(Arc<Space>);

impl Snapshot for MemorySnapshot {
    fn read(&self, queries: &[Query]) -> Result<Vec<Answer>, BackendError> {
        Ok(answer(&self.0, queries))
    }
}
