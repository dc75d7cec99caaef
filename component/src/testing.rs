//! An in-memory backend and a settable identity for unit tests of the storage logic.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};

use crate::backend::*;

/// One namespace: key → (value, version).
pub type Space = BTreeMap<Vec<u8>, (Vec<u8>, u64)>;

/// Namespaced ordered maps with versions, like the host's memory backend.
#[derive(Default)]
pub struct MapBackend {
    spaces: RefCell<HashMap<String, Space>>,
    version: Cell<u64>,
    /// Fails every read while set.
    pub fail_reads: Cell<bool>,
    /// Fails every commit while set, to check that failures change nothing.
    pub fail_commits: Cell<bool>,
    /// The bytes of every value reads have answered with, directory records included, to check
    /// what a call fetched.
    pub bytes_read: Cell<usize>,
}

impl MapBackend {
    /// A copy of everything stored, to compare before and after an operation.
    pub fn contents(&self) -> HashMap<String, Space> {
        self.spaces.borrow().clone()
    }

    /// The number of backend records in `namespace`.
    pub fn records(&self, namespace: &str) -> usize {
        self.spaces.borrow().get(namespace).map_or(0, BTreeMap::len)
    }
}

impl BackendImport for &MapBackend {
    fn read(&self, namespace: &str, queries: &[Query]) -> Result<Vec<Answer>, String> {
        if self.fail_reads.get() {
            return Err("injected read failure".into());
        }
        let spaces = self.spaces.borrow();
        let empty = BTreeMap::new();
        let space = spaces.get(namespace).unwrap_or(&empty);
        let entry = |(key, (value, version)): (&Vec<u8>, &(Vec<u8>, u64)), keys_only: bool| Entry {
            key: key.clone(),
            value: if keys_only { Vec::new() } else { value.clone() },
            version: *version,
        };
        let answers: Vec<Answer> = queries
            .iter()
            .map(|query| match query {
                Query::Get(key) => Answer::Got(space.get_key_value(key).map(|kv| entry(kv, false))),
                Query::Scan { start, end, limit, keys_only } => Answer::Scanned(if start < end {
                    space
                        .range(start.clone()..end.clone())
                        .take(*limit as usize)
                        .map(|kv| entry(kv, *keys_only))
                        .collect()
                } else {
                    Vec::new()
                }),
            })
            .collect();
        let bytes: usize = answers
            .iter()
            .map(|answer| match answer {
                Answer::Got(found) => found.as_ref().map_or(0, |entry| entry.value.len()),
                Answer::Scanned(entries) => entries.iter().map(|entry| entry.value.len()).sum::<usize>(),
            })
            .sum();
        self.bytes_read.set(self.bytes_read.get() + bytes);
        Ok(answers)
    }

    fn commit(
        &self,
        namespace: &str,
        conditions: &[Condition],
        mutations: &[Mutation<'_>],
    ) -> Result<CommitResult, String> {
        if self.fail_commits.get() {
            return Err("injected commit failure".into());
        }
        let mut spaces = self.spaces.borrow_mut();
        // Checked before the namespace is created, so a conflict leaves no trace at all.
        let existing = spaces.get(namespace);
        for (index, condition) in conditions.iter().enumerate() {
            let current = existing.and_then(|space| space.get(&condition.key)).map(|(_, version)| *version);
            if current != condition.version {
                return Ok(CommitResult::Conflict(index as u32));
            }
        }
        let space = spaces.entry(namespace.to_owned()).or_default();
        let version = self.version.get() + 1;
        self.version.set(version);
        for mutation in mutations {
            match mutation {
                Mutation::Put(key, value) => space.insert(key.clone(), (value.to_vec(), version)),
                Mutation::Delete(key) => space.remove(key),
            };
        }
        Ok(CommitResult::Committed(version))
    }
}

/// A caller whose namespace, rights, quotas and clock a test sets.
pub struct TestIdentity {
    /// The caller's own namespace.
    pub own: String,
    /// Namespaces the caller may use besides its own.
    pub grants: HashMap<String, Access>,
    /// The quota of every namespace.
    pub quota: u64,
    /// The clock.
    pub now_ms: Cell<u64>,
}

impl TestIdentity {
    /// `app:test` with the given quota, at time 1,000,000 ms.
    pub fn app(quota: u64) -> Self {
        TestIdentity { own: "app:test".into(), grants: HashMap::new(), quota, now_ms: Cell::new(1_000_000) }
    }
}

impl Identity for &TestIdentity {
    fn own_namespace(&self) -> String {
        self.own.clone()
    }
    fn access(&self, namespace: &str) -> Access {
        self.grants.get(namespace).copied().unwrap_or(Access::None)
    }
    fn quota_bytes(&self, _namespace: &str) -> u64 {
        self.quota
    }
    fn now_ms(&self) -> u64 {
        self.now_ms.get()
    }
}
