//! `memory`: an ephemeral backend in the host's memory, for tests and throwaway data.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use super::{Answer, Backend, BackendError, CommitResult, Condition, Entry, Mutation, Query, condition_holds};

type Space = BTreeMap<Vec<u8>, (Vec<u8>, u64)>;

/// Namespaces as ordered maps behind one lock each; readers of a namespace share its lock.
#[derive(Default)]
pub struct MemoryBackend {
    spaces: RwLock<HashMap<String, Arc<RwLock<Space>>>>,
    last_version: AtomicU64,
}

impl MemoryBackend {
    /// An empty backend.
    pub fn new() -> Self {
        Self::default()
    }

    fn space(&self, namespace: &str) -> Option<Arc<RwLock<Space>>> {
        self.spaces.read().unwrap_or_else(|poison| poison.into_inner()).get(namespace).cloned()
    }

    fn space_or_create(&self, namespace: &str) -> Arc<RwLock<Space>> {
        if let Some(space) = self.space(namespace) {
            return space;
        }
        let mut spaces = self.spaces.write().unwrap_or_else(|poison| poison.into_inner());
        spaces.entry(namespace.to_owned()).or_default().clone()
    }
}

impl Backend for MemoryBackend {
    fn read(&self, namespace: &str, queries: &[Query]) -> Result<Vec<Answer>, BackendError> {
        let space = self.space(namespace);
        let guard = space.as_ref().map(|space| space.read().unwrap_or_else(|poison| poison.into_inner()));
        let empty = Space::new();
        let space = guard.as_deref().unwrap_or(&empty);
        let entry = |(key, (value, version)): (&Vec<u8>, &(Vec<u8>, u64)), keys_only: bool| Entry {
            key: key.clone(),
            value: if keys_only { Vec::new() } else { value.clone() },
            version: *version,
        };
        Ok(queries
            .iter()
            .map(|query| match query {
                Query::Get(key) => Answer::Got(space.get_key_value(key).map(|kv| entry(kv, false))),
                Query::Scan { start, end, limit, keys_only } if start < end => Answer::Scanned(
                    space
                        .range(start.clone()..end.clone())
                        .take(*limit as usize)
                        .map(|kv| entry(kv, *keys_only))
                        .collect(),
                ),
                Query::Scan { .. } => Answer::Scanned(Vec::new()),
            })
            .collect())
    }

    fn commit(
        &self,
        namespace: &str,
        conditions: &[Condition],
        mutations: Vec<Mutation<'_>>,
    ) -> Result<CommitResult, BackendError> {
        let space = self.space_or_create(namespace);
        let mut space = space.write().unwrap_or_else(|poison| poison.into_inner());
        for (index, condition) in conditions.iter().enumerate() {
            if !condition_holds(condition, space.get(&condition.key).map(|(_, version)| *version)) {
                return Ok(CommitResult::Conflict(index as u32));
            }
        }
        // Taken under the namespace's write lock, so versions rise with commit order.
        let version = self.last_version.fetch_add(1, Ordering::SeqCst) + 1;
        for mutation in mutations {
            match mutation {
                Mutation::Put(key, value) => space.insert(key, (value.into_owned(), version)),
                Mutation::Delete(key) => space.remove(&key),
            };
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
}
