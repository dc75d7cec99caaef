//! What this instance last knew of a namespace's usage record and directory records, with their
//! versions, so that a write can plan without reading the backend first.
//!
//! A plan made from the cache is only accepted if its commit succeeds: the commit's conditions
//! check every version the plan relied on, so a stale cache costs one conflict and a fresh read,
//! never a wrong answer. A plan that would fail or write nothing is redone from a fresh read.
//! Typically one process writes its own namespace, and then every write needs one backend call
//! instead of two.

use rustc_hash::FxHashMap as HashMap;
use std::cell::RefCell;

use crate::layout::{Meta, Usage};

/// The most directory records remembered per namespace; the cache starts over past it.
const MAX_KEYS: usize = 4096;

/// What the cache knows of one record: that it is absent, or its value and version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Known<T> {
    /// The record does not exist.
    Absent,
    /// The record exists with this value, written at this version.
    Present(T, u64),
}

impl<T> Known<T> {
    /// The record's version, or none if it is absent (as a commit condition states it).
    pub(crate) fn version(&self) -> Option<u64> {
        match self {
            Known::Absent => None,
            Known::Present(_, version) => Some(*version),
        }
    }
}

#[derive(Default)]
struct NamespaceCache {
    /// The usage record, if known.
    usage: Option<Known<Usage>>,
    /// The directory records known; a key not here is unknown.
    metas: HashMap<String, Known<Meta>>,
}

impl NamespaceCache {
    /// Remembers `meta` for `key`, starting over past [`MAX_KEYS`]. A key already known is
    /// updated in place, without allocating.
    fn set(&mut self, key: &str, meta: Known<Meta>) {
        if let Some(known) = self.metas.get_mut(key) {
            *known = meta;
            return;
        }
        if self.metas.len() >= MAX_KEYS {
            self.metas.clear();
        }
        self.metas.insert(key.to_owned(), meta);
    }
}

/// The cache of `namespace` in `namespaces`, created empty if there is none (the name is
/// copied only then).
fn namespace_cache<'c>(namespaces: &'c mut HashMap<String, NamespaceCache>, namespace: &str) -> &'c mut NamespaceCache {
    if !namespaces.contains_key(namespace) {
        namespaces.insert(namespace.to_owned(), NamespaceCache::default());
    }
    namespaces.get_mut(namespace).expect("inserted above")
}

/// The cache of one storage instance.
#[derive(Default)]
pub(crate) struct WriteCache {
    namespaces: RefCell<HashMap<String, NamespaceCache>>,
}

impl WriteCache {
    /// The usage record, if it and the directory records of all `keys` are known; `each` is
    /// given each key's record in order, until one is unknown (then the answer is none, and
    /// whatever `each` built from the earlier keys must be dropped).
    pub(crate) fn lookup<'k>(
        &self,
        namespace: &str,
        keys: &[&'k str],
        mut each: impl FnMut(&'k str, Known<Meta>),
    ) -> Option<Known<Usage>> {
        let namespaces = self.namespaces.borrow();
        let cache = namespaces.get(namespace)?;
        let usage = cache.usage?;
        for key in keys {
            each(key, *cache.metas.get(*key)?);
        }
        Some(usage)
    }

    /// Remembers records read from one snapshot. Every write to a namespace rewrites its usage
    /// record, so a usage version other than the cached one means other records may have changed
    /// too: the cached directory records are dropped before these are added.
    pub(crate) fn remember_read<'k>(
        &self,
        namespace: &str,
        usage: Known<Usage>,
        metas: impl IntoIterator<Item = (&'k str, Known<Meta>)>,
    ) {
        self.remember(namespace, usage, metas, true);
    }

    /// Remembers what this instance's own commit wrote. The commit was conditional on the
    /// cached usage version, so nothing else changed in between and the rest stays valid.
    pub(crate) fn remember_commit<'k>(
        &self,
        namespace: &str,
        usage: Known<Usage>,
        metas: impl IntoIterator<Item = (&'k str, Known<Meta>)>,
    ) {
        self.remember(namespace, usage, metas, false);
    }

    fn remember<'k>(
        &self,
        namespace: &str,
        usage: Known<Usage>,
        metas: impl IntoIterator<Item = (&'k str, Known<Meta>)>,
        read: bool,
    ) {
        let mut namespaces = self.namespaces.borrow_mut();
        let cache = namespace_cache(&mut namespaces, namespace);
        if read && cache.usage.map(|known| known.version()) != Some(usage.version()) {
            cache.metas.clear();
        }
        cache.usage = Some(usage);
        for (key, meta) in metas {
            cache.set(key, meta);
        }
    }

    /// The directory record of `key` and its version, if the cache knows that it exists.
    pub(crate) fn meta(&self, namespace: &str, key: &str) -> Option<(Meta, u64)> {
        match self.namespaces.borrow().get(namespace)?.metas.get(key)? {
            Known::Present(meta, version) => Some((*meta, *version)),
            Known::Absent => None,
        }
    }

    /// Remembers the directory record of `key` from a read that did not read the usage record
    /// (a `get`). It may be stale by the time a write plans with it; that costs the write one
    /// conflict, since every plan made from the cache is committed on the condition of each
    /// version it relied on.
    pub(crate) fn remember_meta(&self, namespace: &str, key: &str, meta: Known<Meta>) {
        namespace_cache(&mut self.namespaces.borrow_mut(), namespace).set(key, meta);
    }

    /// Forgets everything about `namespace` (after a conflict or a change made elsewhere).
    pub(crate) fn forget(&self, namespace: &str) {
        self.namespaces.borrow_mut().remove(namespace);
    }
}
