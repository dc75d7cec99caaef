//! The engine below every operation: reads and commits against the backend, the one write
//! path, and reclaiming expired entries. It imports nothing above it; `storage.rs` (single-key
//! operations, listing, quota) and `atomic.rs` (batches, counters, transactions) are built on it.
//!
//! The write path reads a consistent snapshot of some keys, plans writes from it, and commits
//! them atomically on the condition that nothing read has changed — retrying if it has.
//!
//! Every write operation (`set`, `delete`, batches, `increment`, `transact`) is a plan over this
//! engine, so all of them keep usage exact, honour quotas and time to live the same way, and are
//! all-or-nothing. The snapshot may come from this instance's [write cache]; the commit's
//! conditions make that safe.
//!
//! [write cache]: crate::write_cache

use rustc_hash::FxHashMap as HashMap;
use std::borrow::Cow;

use crate::backend::{Answer, BackendImport, CommitResult, Condition, Entry, Identity, Mutation, Query, Visit};
use crate::error::{Error, Result};
use crate::layout::{self, Meta, USAGE_KEY, Usage};
use crate::limits::{MAX_READ_VALUE_BYTES, MAX_VALUE_BYTES, ReadBudget, expiry_ms};
use crate::write_cache::{Known, WriteCache};

/// How many times an update starts over after losing a race before it gives up.
pub(crate) const MAX_ATTEMPTS: u32 = 500;
/// Expired entries reclaimed per commit, which bounds the size of one commit.
const RECLAIM_BATCH: u32 = 128;

/// A write an update plans. Values may borrow from the caller, so they are never copied.
pub(crate) enum Planned<'a> {
    /// Store `value` under `key`, expiring at `expires_at_ms` (none = never).
    Set { key: &'a str, value: Cow<'a, [u8]>, expires_at_ms: Option<u64> },
    /// Remove `key`.
    Delete { key: &'a str },
}

impl Planned<'_> {
    fn key(&self) -> &str {
        match self {
            Planned::Set { key, .. } | Planned::Delete { key } => key,
        }
    }
}

/// An entry an update read: its directory record and version, and its value if the update
/// asked for it. The plan sees it only while it is live.
pub(crate) struct Current {
    /// Its directory record.
    pub(crate) meta: Meta,
    /// The version of its last write.
    pub(crate) version: u64,
    /// Its value, if the update asked for this key's value.
    pub(crate) value: Option<Vec<u8>>,
}

/// What an update's plan sees: the keys it read, each with its directory record as stored. The
/// slots are in the order of the update's keys, which are sorted and distinct, so a key is found
/// by binary search: an update usually reads one key, and a sorted `Vec` costs it one allocation
/// and no hashing.
pub(crate) struct View<'k> {
    slots: Vec<Slot<'k>>,
}

/// One key an update read.
struct Slot<'k> {
    key: &'k str,
    /// Its entry as stored, expired or not (none: absent): what usage accounting counts.
    entry: Option<Current>,
    /// Whether that entry is live (present and not expired): what the plan sees.
    live: bool,
}

impl<'k> View<'k> {
    fn with_capacity(keys: usize) -> Self {
        View { slots: Vec::with_capacity(keys) }
    }

    /// Adds the next key (in sorted order) with its stored directory record.
    fn push(&mut self, key: &'k str, record: Known<Meta>, now_ms: impl FnOnce() -> u64) {
        let entry = match record {
            Known::Present(meta, version) => Some(Current { meta, version, value: None }),
            Known::Absent => None,
        };
        let live = entry.as_ref().is_some_and(|entry| !entry.meta.is_expired_lazy(now_ms));
        self.slots.push(Slot { key, entry, live });
    }

    fn index(&self, key: &str) -> Option<usize> {
        self.slots.binary_search_by(|slot| slot.key.cmp(key)).ok()
    }

    /// The live entry under `key`, if any (expired entries are absent).
    pub(crate) fn get(&self, key: &str) -> Option<&Current> {
        let slot = &self.slots[self.index(key)?];
        if slot.live { slot.entry.as_ref() } else { None }
    }

    /// The live entry under `key`, to fill in its value.
    fn get_mut(&mut self, key: &str) -> Option<&mut Current> {
        let index = self.index(key)?;
        let slot = &mut self.slots[index];
        if slot.live { slot.entry.as_mut() } else { None }
    }

    /// The entry stored under `key`, expired or not.
    fn stored(&self, key: &str) -> Option<&Current> {
        self.slots[self.index(key)?].entry.as_ref()
    }

    /// What the write cache should remember of each key.
    fn records(&self) -> impl Iterator<Item = (&'k str, Known<Meta>)> + '_ {
        self.slots.iter().map(|slot| {
            (slot.key, slot.entry.as_ref().map_or(Known::Absent, |entry| Known::Present(entry.meta, entry.version)))
        })
    }
}

/// A namespace the caller has opened, with its rights and quota resolved once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenNamespace {
    name: String,
    writable: bool,
    quota_bytes: u64,
}

impl OpenNamespace {
    pub(crate) fn new(name: String, writable: bool, quota_bytes: u64) -> Self {
        OpenNamespace { name, writable, quota_bytes }
    }

    /// The namespace's name, e.g. `app:notes`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the caller may write here.
    pub fn writable(&self) -> bool {
        self.writable
    }

    /// The namespace's quota in bytes.
    pub fn quota_bytes(&self) -> u64 {
        self.quota_bytes
    }
}

/// What an update read: the usage record and its version, and its keys' records.
type Snapshot<'k> = (Usage, Option<u64>, View<'k>);

/// `keys` in ascending order without duplicates: borrowed if they already are (a single key
/// always is), else a sorted copy.
fn sorted_unique<'k, 'a>(keys: &'k [&'a str]) -> Cow<'k, [&'a str]> {
    if keys.windows(2).all(|pair| pair[0] < pair[1]) {
        return Cow::Borrowed(keys);
    }
    let mut owned = keys.to_vec();
    owned.sort_unstable();
    owned.dedup();
    Cow::Owned(owned)
}

/// How one attempt of an update ended, short of a backend failure.
enum Step<T> {
    /// Committed at this version, or had nothing to write (none).
    Committed(T, Option<u64>),
    /// The plan or the records refused it: the caller gets this error.
    Refused(Error),
    /// The write would grow usage past the quota.
    OverQuota,
    /// Something the attempt read changed before its commit.
    Conflict,
}

/// The engine the operations run on, for one process: its backend, its identity and clock,
/// and what it remembers of the records it last read or wrote.
pub(crate) struct Engine<B, I> {
    backend: B,
    identity: I,
    cache: WriteCache,
}

impl<B: BackendImport, I: Identity> Engine<B, I> {
    pub(crate) fn new(backend: B, identity: I) -> Self {
        Engine { backend, identity, cache: WriteCache::default() }
    }

    /// Who is calling, and the clock.
    pub(crate) fn identity(&self) -> &I {
        &self.identity
    }

    /// What this instance's cache knows of the directory record of `key`: its record and
    /// version, if it is known to exist.
    pub(crate) fn cached_meta(&self, ns: &OpenNamespace, key: &str) -> Option<(Meta, u64)> {
        self.cache.meta(ns.name(), key)
    }

    /// Remembers the directory record of `key` read by a `get` (none: absent).
    pub(crate) fn remember_meta(&self, ns: &OpenNamespace, key: &str, meta: Option<(Meta, u64)>) {
        let known = meta.map_or(Known::Absent, |(meta, version)| Known::Present(meta, version));
        self.cache.remember_meta(ns.name(), key, known);
    }

    /// The expiry for a time to live given now (0 = never), asking the clock only if needed.
    pub(crate) fn expiry(&self, ttl_secs: u64) -> Result<Option<u64>> {
        if ttl_secs == 0 { Ok(None) } else { expiry_ms(self.identity.now_ms(), ttl_secs) }
    }

    /// Reads `keys` from one snapshot, with the values of those in `values_of` (which must be
    /// among `keys`), lets `plan` decide the writes, and commits them atomically if none of the
    /// keys and not the usage record changed meanwhile. Returns the plan's result and the
    /// commit's version (none if nothing to write). The values read may total at most
    /// [`MAX_READ_VALUE_BYTES`](crate::limits::MAX_READ_VALUE_BYTES).
    pub(crate) fn update<'a, T>(
        &self,
        ns: &OpenNamespace,
        keys: &[&'a str],
        values_of: &[&'a str],
        mut plan: impl FnMut(&View<'a>) -> Result<(Vec<Planned<'a>>, T)>,
    ) -> Result<(T, Option<u64>)> {
        if !ns.writable() {
            return Err(Error::PermissionDenied);
        }
        let keys = sorted_unique(keys);
        let values_of = sorted_unique(values_of);
        self.check_read_size(ns, &values_of)?;
        let mut reclaimed = false;
        // The cache holds no values.
        let mut trust_cache = values_of.is_empty();
        for _ in 0..MAX_ATTEMPTS {
            let cached = if trust_cache { self.cached_snapshot(ns, &keys) } else { None };
            let from_cache = cached.is_some();
            let snapshot = match cached {
                Some(snapshot) => snapshot,
                None => self.snapshot(ns, &keys, &values_of)?,
            };
            let step = self.attempt(ns, &keys, snapshot, &mut plan)?;
            // A plan from the cache counts only if its commit succeeded (see write_cache.rs):
            // a refusal, nothing to write, a quota miss or a conflict is redone from a fresh read.
            if from_cache && !matches!(step, Step::Committed(_, Some(_))) {
                self.cache.forget(ns.name());
                trust_cache = false;
                continue;
            }
            match step {
                Step::Committed(result, version) => return Ok((result, version)),
                Step::Refused(error) => return Err(error),
                Step::Conflict => self.cache.forget(ns.name()),
                Step::OverQuota => {
                    if !reclaimed && self.reclaim_expired(ns, self.identity.now_ms())? > 0 {
                        reclaimed = true;
                        continue;
                    }
                    return Err(Error::QuotaExceeded);
                }
            }
        }
        Err(contended())
    }

    /// One attempt of [`Engine::update`] on `snapshot`: plans, checks the quota, and commits on
    /// the condition that nothing in the snapshot changed. Fails only when the backend does.
    fn attempt<'a, T>(
        &self,
        ns: &OpenNamespace,
        keys: &[&'a str],
        (usage, usage_version, view): Snapshot<'a>,
        plan: &mut impl FnMut(&View<'a>) -> Result<(Vec<Planned<'a>>, T)>,
    ) -> Result<Step<T>> {
        let (planned, result) = match plan(&view) {
            Ok(planned) => planned,
            Err(error) => return Ok(Step::Refused(error)),
        };
        // The last write to a key wins, as if the writes were applied in order. (`keys` is sorted:
        // finding a key there is a binary search.)
        let mut last: HashMap<&str, usize> = HashMap::default();
        for (index, write) in planned.iter().enumerate() {
            if keys.binary_search(&write.key()).is_err() {
                return Ok(Step::Refused(Error::Backend("internal: an update wrote a key it did not read".into())));
            }
            if planned.len() > 1 {
                last.insert(write.key(), index);
            }
        }
        // One write is its own last: no map needed.
        let is_last = |index: usize, key: &str| planned.len() == 1 || last.get(key) == Some(&index);
        let mut new_usage = usage;
        let mut mutations = Vec::with_capacity(4 * planned.len() + 1);
        for (index, write) in planned.iter().enumerate() {
            if !is_last(index, write.key()) {
                continue;
            }
            let key = write.key().as_bytes();
            let old = view.stored(write.key());
            if let Some(old) = old {
                let old_size = key.len() as u64 + u64::from(old.meta.value_len);
                let (Some(bytes), Some(keys)) = (new_usage.bytes.checked_sub(old_size), new_usage.keys.checked_sub(1))
                else {
                    // The stored records disagree (or, from the cache, the cache is stale).
                    return Ok(Step::Refused(corrupt_usage()));
                };
                new_usage = Usage { bytes, keys };
                if let Some(at) = old.meta.expires_at_ms {
                    mutations.push(Mutation::Delete(layout::expiry_key(at, key)));
                }
            }
            match write {
                Planned::Delete { .. } if old.is_none() => {}
                Planned::Delete { .. } => {
                    mutations.push(Mutation::Delete(layout::meta_key(key)));
                    mutations.push(Mutation::Delete(layout::data_key(key)));
                }
                Planned::Set { value, expires_at_ms, .. } => {
                    let Ok(value_len) = u32::try_from(value.len()) else {
                        return Ok(Step::Refused(Error::ValueTooLarge));
                    };
                    new_usage.bytes += key.len() as u64 + u64::from(value_len);
                    new_usage.keys += 1;
                    let meta = Meta { value_len, expires_at_ms: *expires_at_ms };
                    mutations.push(Mutation::Put(layout::meta_key(key), Cow::Owned(meta.encode())));
                    mutations.push(Mutation::Put(layout::data_key(key), Cow::Borrowed(value.as_ref())));
                    if let Some(at) = expires_at_ms {
                        let index_value = layout::encode_expiry_value(value_len);
                        mutations.push(Mutation::Put(layout::expiry_key(*at, key), Cow::Owned(index_value)));
                    }
                }
            }
        }
        if mutations.is_empty() {
            return Ok(Step::Committed(result, None));
        }
        // Writes that do not grow usage are always allowed, even over the quota.
        if new_usage.bytes > ns.quota_bytes() && new_usage.bytes > usage.bytes {
            return Ok(Step::OverQuota);
        }
        mutations.push(Mutation::Put(USAGE_KEY.to_vec(), Cow::Owned(new_usage.encode())));
        let mut conditions = Vec::with_capacity(keys.len() + 1);
        conditions.push(Condition { key: USAGE_KEY.to_vec(), version: usage_version });
        for key in keys {
            let version = view.stored(key).map(|old| old.version);
            conditions.push(Condition { key: layout::meta_key(key.as_bytes()), version });
        }
        match self.commit(ns, &conditions, &mutations) {
            Ok(CommitResult::Committed(version)) => {
                // Now known exactly: the usage record and every written key, at this version.
                let written = planned.iter().enumerate().filter(|(index, write)| is_last(*index, write.key()));
                let metas = written.map(|(_, write)| match write {
                    Planned::Set { key, value, expires_at_ms } => {
                        let meta = Meta { value_len: value.len() as u32, expires_at_ms: *expires_at_ms };
                        (*key, Known::Present(meta, version))
                    }
                    Planned::Delete { key } => (*key, Known::Absent),
                });
                self.cache.remember_commit(ns.name(), Known::Present(new_usage, version), metas);
                Ok(Step::Committed(result, Some(version)))
            }
            Ok(CommitResult::Conflict(_)) => Ok(Step::Conflict),
            Err(error) => {
                // The commit may or may not have happened: what the cache knows may be stale.
                self.cache.forget(ns.name());
                Err(error)
            }
        }
    }

    /// The snapshot the write cache holds for `keys`, if it knows all of them.
    fn cached_snapshot<'k>(&self, ns: &OpenNamespace, keys: &[&'k str]) -> Option<Snapshot<'k>> {
        // Allocated only once the first key is known (`push` reserves): a miss on it costs nothing.
        let mut view = View::with_capacity(0);
        let mut now = None;
        let usage = self.cache.lookup(ns.name(), keys, |key, known| {
            view.slots.reserve_exact(keys.len() - view.slots.len());
            view.push(key, known, || *now.get_or_insert_with(|| self.identity.now_ms()));
        })?;
        let usage_version = usage.version();
        let usage = match usage {
            Known::Present(usage, _) => usage,
            Known::Absent => Usage::default(),
        };
        Some((usage, usage_version, view))
    }

    /// Reads the usage record, `keys`, and the values of `values_of`, from one snapshot.
    fn snapshot<'k>(&self, ns: &OpenNamespace, keys: &[&'k str], values_of: &[&'k str]) -> Result<Snapshot<'k>> {
        let mut queries = Vec::with_capacity(1 + keys.len() + values_of.len());
        queries.push(Query::Get(USAGE_KEY.to_vec()));
        queries.extend(keys.iter().map(|key| Query::Get(layout::meta_key(key.as_bytes()))));
        queries.extend(values_of.iter().map(|key| Query::Get(layout::data_key(key.as_bytes()))));
        let mut answers = self.read(ns, queries)?;
        let usage_entry = take_got(&mut answers, 0)?;
        let usage = usage_entry.as_ref().map(|entry| Usage::decode(&entry.value)).transpose()?.unwrap_or_default();
        let mut view = View::with_capacity(keys.len());
        let mut now = None;
        for (index, key) in keys.iter().enumerate() {
            let record = match take_got(&mut answers, 1 + index)? {
                Some(entry) => Known::Present(Meta::decode(&entry.value)?, entry.version),
                None => Known::Absent,
            };
            view.push(key, record, || *now.get_or_insert_with(|| self.identity.now_ms()));
        }
        // Values that grew since `check_read_size` looked are caught here.
        let mut budget = ReadBudget::default();
        for (index, key) in values_of.iter().enumerate() {
            let data = take_got(&mut answers, 1 + keys.len() + index)?;
            let Some(current) = view.get_mut(key) else { continue };
            let data = data.ok_or_else(|| Error::Backend("an entry's value is missing from the backend".into()))?;
            budget.take(data.value.len())?;
            current.value = Some(data.value);
        }
        let usage_version = usage_entry.map(|entry| entry.version);
        let known_usage = usage_version.map_or(Known::Absent, |version| Known::Present(usage, version));
        self.cache.remember_read(ns.name(), known_usage, view.records());
        Ok((usage, usage_version, view))
    }

    /// Removes entries that expired at or before `now_ms`, in bounded batches; returns how many.
    pub(crate) fn reclaim_expired(&self, ns: &OpenNamespace, now_ms: u64) -> Result<u64> {
        let mut reclaimed = 0;
        let mut attempts = 0;
        loop {
            let (start, end) = layout::expired_range(now_ms);
            let mut answers = self.read(
                ns,
                vec![
                    Query::Get(USAGE_KEY.to_vec()),
                    Query::Scan { start, end, limit: RECLAIM_BATCH, keys_only: false },
                ],
            )?;
            let expired = take_scanned(&mut answers, 1)?;
            if expired.is_empty() {
                return Ok(reclaimed);
            }
            let usage_entry = take_got(&mut answers, 0)?;
            let mut usage =
                usage_entry.as_ref().map(|entry| Usage::decode(&entry.value)).transpose()?.unwrap_or_default();
            let mut conditions =
                vec![Condition { key: USAGE_KEY.to_vec(), version: usage_entry.map(|entry| entry.version) }];
            let mut mutations = Vec::with_capacity(3 * expired.len() + 1);
            for entry in &expired {
                let (_, key) = layout::parse_expiry_key(&entry.key)?;
                let size = key.len() as u64 + u64::from(layout::decode_expiry_value(&entry.value)?);
                usage.bytes = usage.bytes.checked_sub(size).ok_or_else(corrupt_usage)?;
                usage.keys = usage.keys.checked_sub(1).ok_or_else(corrupt_usage)?;
                conditions.push(Condition { key: entry.key.clone(), version: Some(entry.version) });
                mutations.push(Mutation::Delete(layout::meta_key(key)));
                mutations.push(Mutation::Delete(layout::data_key(key)));
                mutations.push(Mutation::Delete(entry.key.clone()));
            }
            mutations.push(Mutation::Put(USAGE_KEY.to_vec(), Cow::Owned(usage.encode())));
            match self.commit(ns, &conditions, &mutations)? {
                CommitResult::Committed(_) => {
                    self.cache.forget(&ns.name);
                    reclaimed += expired.len() as u64;
                }
                CommitResult::Conflict(_) => {
                    attempts += 1;
                    if attempts >= MAX_ATTEMPTS {
                        return Err(contended());
                    }
                }
            }
        }
    }

    /// Refuses, before any value is fetched, a call whose live values under `keys` (each mention
    /// counted) come to more than [`MAX_READ_VALUE_BYTES`]. It reads only the directory records,
    /// which hold each value's length, and is skipped when there are too few keys to reach the
    /// cap even at the largest value size. The backend answers a read all at once, so this is
    /// what keeps an oversized answer from being fetched at all. The caller still counts the
    /// values as they arrive, because a writer may grow them between this read and the next.
    pub(crate) fn check_read_size<K: AsRef<str>>(&self, ns: &OpenNamespace, keys: &[K]) -> Result<()> {
        if keys.len().saturating_mul(MAX_VALUE_BYTES) <= MAX_READ_VALUE_BYTES {
            return Ok(());
        }
        let queries = keys.iter().map(|key| Query::Get(layout::meta_key(key.as_ref().as_bytes()))).collect();
        let mut answers = self.read(ns, queries)?;
        let mut budget = ReadBudget::default();
        let mut now = None;
        for index in 0..keys.len() {
            let Some(entry) = take_got(&mut answers, index)? else { continue };
            let meta = Meta::decode(&entry.value)?;
            if !meta.is_expired_lazy(|| *now.get_or_insert_with(|| self.identity.now_ms())) {
                budget.take(meta.value_len as usize)?;
            }
        }
        Ok(())
    }

    pub(crate) fn read(&self, ns: &OpenNamespace, queries: Vec<Query>) -> Result<Vec<Answer>> {
        let answers = self.backend.read(&ns.name, &queries).map_err(Error::Backend)?;
        let expected = queries.len();
        if answers.len() != expected {
            return Err(Error::Backend("the backend answered a different number of queries than asked".into()));
        }
        Ok(answers)
    }

    /// Visits the entries one [`Query::Scan`] answers, in order, without copying them; returns
    /// how many there were.
    pub(crate) fn scan(&self, ns: &OpenNamespace, scan: &Query, visit: &mut Visit<'_>) -> Result<usize> {
        self.backend.scan(&ns.name, scan, visit).map_err(Error::Backend)
    }

    /// The entry under one backend `key`: [`Engine::read`] of one get, more cheaply.
    pub(crate) fn get(&self, ns: &OpenNamespace, key: &[u8]) -> Result<Option<Entry>> {
        self.backend.get(&ns.name, key).map_err(Error::Backend)
    }

    pub(crate) fn commit(
        &self,
        ns: &OpenNamespace,
        conditions: &[Condition],
        mutations: &[Mutation<'_>],
    ) -> Result<CommitResult> {
        self.backend.commit(&ns.name, conditions, mutations).map_err(Error::Backend)
    }
}

pub(crate) fn corrupt_usage() -> Error {
    Error::Backend("the stored usage record disagrees with the stored entries; the data may be damaged".into())
}

impl Meta {
    /// [`Meta::is_expired`], asking the clock only if the entry has an expiry at all.
    pub(crate) fn is_expired_lazy(&self, now_ms: impl FnOnce() -> u64) -> bool {
        self.expires_at_ms.is_some() && self.is_expired(now_ms())
    }
}

pub(crate) fn take_got(answers: &mut [Answer], index: usize) -> Result<Option<Entry>> {
    match answers.get_mut(index) {
        Some(Answer::Got(entry)) => Ok(entry.take()),
        _ => Err(Error::Backend("the backend answered a get with something else".into())),
    }
}

pub(crate) fn take_scanned(answers: &mut [Answer], index: usize) -> Result<Vec<Entry>> {
    match answers.get_mut(index) {
        Some(Answer::Scanned(entries)) => Ok(std::mem::take(entries)),
        _ => Err(Error::Backend("the backend answered a scan with something else".into())),
    }
}

pub(crate) fn contended() -> Error {
    Error::Backend("too many concurrent writers on this namespace; retry the operation".into())
}
