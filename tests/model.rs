//! Model-based test: random sequences of every `store` operation run through the real storage
//! component in the real host, on each backend, and every result is checked against a plain
//! `BTreeMap` model with sizes, time to live and a small quota.
//!
//! Operations run on one storage instance, or interleaved over two instances of the same app.
//! After every operation the whole namespace is compared with the model: a listing walked page
//! by page returns exactly the live keys, once each, in byte order, and every value matches. On
//! odd-numbered cases `quota` is also checked after every operation (it reclaims expired
//! entries); on even ones it runs only as a random operation, so expired entries linger and
//! the paths that skip or overwrite them are exercised too.
//!
//! `ZERO_MODEL_CASES=N` runs N cases per backend instead of the regular suite's few (long mode).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestRunner};
use zero_storage::{
    Error, ManualClock, Precondition, Process, ProcessIdentity, QuotaInfo, Runtime, StorageError, Write,
};
use zero_storage_component::cursor;
use zero_storage_tests::{backends, runtime_with, small_quotas};

/// The quota of every namespace the model runs in: small, so that writes reach it often.
const QUOTA: u64 = 400;
/// The keys operations pick from: nested prefixes, a multi-byte one and the longest allowed.
const KEYS: [&str; 11] = ["a", "a/1", "a/2", "a/22", "ab", "b", "b/x", "c", "é", "é/ü", LONGEST_KEY];
const LONGEST_KEY: &str = concat!(
    "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk",
    "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk",
    "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk"
);
/// List prefixes: everything, nested, a non-ASCII one, and one that matches nothing.
const PREFIXES: [&str; 7] = ["", "a", "a/", "a/2", "b", "é", "z"];
/// Cursors `list` never returns.
const BAD_CURSORS: [&str; 6] = ["bogus", "c", "c6", "cZZ", "cff", "C61"];

// ---------------------------------------------------------------------------------------------
// Operations
// ---------------------------------------------------------------------------------------------

/// A precondition, resolved against the model when the operation runs.
#[derive(Debug, Clone)]
enum PreGen {
    Absent(String),
    Exists(String),
    /// `version-is` with the version the model last saw for the key (0 if it saw none).
    KnownVersion(String),
    /// `version-is` with a version the key had before a later write replaced it.
    StaleVersion(String),
    /// `value-equals` with the key's current value in the model (or these bytes if none).
    CurrentValue(String, Vec<u8>),
    /// `value-equals` with these bytes.
    Value(String, Vec<u8>),
}

/// A transaction's write as generated: a key and, for a set, the value and time to live.
type TxWrite = (String, Option<(Vec<u8>, u64)>);
/// A write as the model applies it: a key and, for a set, the value and expiry.
type ModelWrite<'a> = (&'a str, Option<(Vec<u8>, Option<u64>)>);

#[derive(Debug, Clone)]
enum Op {
    Set { p: usize, key: String, value: Vec<u8>, ttl: u64 },
    Delete { p: usize, key: String },
    Get { p: usize, key: String },
    GetVersioned { p: usize, key: String },
    Exists { p: usize, key: String },
    ListPage { p: usize, prefix: String, limit: u32, after: Option<String> },
    ListBadCursor { p: usize, cursor: String },
    Quota { p: usize },
    Sweep { p: usize },
    Advance { ms: u64 },
    GetMany { p: usize, keys: Vec<String> },
    SetMany { p: usize, entries: Vec<(String, Vec<u8>)>, ttl: u64 },
    DeleteMany { p: usize, keys: Vec<String> },
    Increment { p: usize, key: String, delta: i64 },
    Transact { p: usize, preconditions: Vec<PreGen>, writes: Vec<TxWrite> },
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        40 => proptest::sample::select(&KEYS[..]).prop_map(String::from),
        1 => Just(String::new()),
        1 => Just("k".repeat(257)),
    ]
}

fn value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        6 => proptest::collection::vec(any::<u8>(), 0..40),
        3 => prop_oneof![-50i64..50, Just(i64::MAX - 1), Just(i64::MIN + 1)].prop_map(|n| n.to_string().into_bytes()),
        1 => proptest::collection::vec(any::<u8>(), 90..200),
    ]
}

fn ttl() -> impl Strategy<Value = u64> {
    prop_oneof![12 => Just(0u64), 8 => 1u64..4, 1 => Just(u64::MAX)]
}

fn precondition() -> impl Strategy<Value = PreGen> {
    prop_oneof![
        1 => key().prop_map(PreGen::Absent),
        1 => key().prop_map(PreGen::Exists),
        2 => key().prop_map(PreGen::KnownVersion),
        1 => key().prop_map(PreGen::StaleVersion),
        1 => (key(), value()).prop_map(|(k, v)| PreGen::CurrentValue(k, v)),
        1 => (key(), value()).prop_map(|(k, v)| PreGen::Value(k, v)),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let p = 0usize..2;
    prop_oneof![
        12 => (p.clone(), key(), value(), ttl()).prop_map(|(p, key, value, ttl)| Op::Set { p, key, value, ttl }),
        4 => (p.clone(), key()).prop_map(|(p, key)| Op::Delete { p, key }),
        4 => (p.clone(), key()).prop_map(|(p, key)| Op::Get { p, key }),
        3 => (p.clone(), key()).prop_map(|(p, key)| Op::GetVersioned { p, key }),
        2 => (p.clone(), key()).prop_map(|(p, key)| Op::Exists { p, key }),
        4 => (
            p.clone(),
            proptest::sample::select(&PREFIXES[..]).prop_map(String::from),
            prop_oneof![0u32..4, Just(1000), Just(u32::MAX)],
            proptest::option::of(proptest::sample::select(&KEYS[..]).prop_map(String::from)),
        )
            .prop_map(|(p, prefix, limit, after)| Op::ListPage { p, prefix, limit, after }),
        1 => (p.clone(), proptest::sample::select(&BAD_CURSORS[..]).prop_map(String::from))
            .prop_map(|(p, cursor)| Op::ListBadCursor { p, cursor }),
        2 => p.clone().prop_map(|p| Op::Quota { p }),
        1 => p.clone().prop_map(|p| Op::Sweep { p }),
        4 => prop_oneof![Just(1u64), Just(999), Just(1000), 1..3500u64].prop_map(|ms| Op::Advance { ms }),
        2 => (p.clone(), proptest::collection::vec(key(), 0..5)).prop_map(|(p, keys)| Op::GetMany { p, keys }),
        3 => (p.clone(), proptest::collection::vec((key(), value()), 0..4), ttl())
            .prop_map(|(p, entries, ttl)| Op::SetMany { p, entries, ttl }),
        2 => (p.clone(), proptest::collection::vec(key(), 0..4)).prop_map(|(p, keys)| Op::DeleteMany { p, keys }),
        3 => (p.clone(), key(), prop_oneof![-5i64..5, Just(i64::MAX), Just(i64::MIN)])
            .prop_map(|(p, key, delta)| Op::Increment { p, key, delta }),
        5 => (
            p,
            proptest::collection::vec(precondition(), 0..3),
            proptest::collection::vec((key(), proptest::option::of((value(), ttl()))), 0..4),
        )
            .prop_map(|(p, preconditions, writes)| Op::Transact { p, preconditions, writes }),
    ]
}

// ---------------------------------------------------------------------------------------------
// The model
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Entry {
    value: Vec<u8>,
    expires_at: Option<u64>,
    /// The entry's version, if the model has seen it (from `get-versioned` or `transact`).
    version: Option<u64>,
}

/// The namespace as the contract describes it. `entries` keeps expired entries until the
/// component is known to have reclaimed them (after `quota` or `sweep`), so the model knows
/// when the component's listing may contain expired entries to skip.
#[derive(Debug, Default)]
struct Model {
    entries: BTreeMap<String, Entry>,
    /// Versions each key had before a later write replaced them: they can never match again.
    stale: HashMap<String, Vec<u64>>,
    /// The highest version seen so far; every new commit must be stamped higher.
    highest_version: u64,
}

type Outcome<T> = Result<T, StorageError>;

fn invalid() -> StorageError {
    StorageError::InvalidArgument(String::new())
}

fn check_key(key: &str) -> Outcome<()> {
    if key.is_empty() {
        Err(invalid())
    } else if key.len() > 256 {
        Err(StorageError::KeyTooLong)
    } else {
        Ok(())
    }
}

fn expiry(now: u64, ttl: u64) -> Outcome<Option<u64>> {
    if ttl == 0 {
        return Ok(None);
    }
    ttl.checked_mul(1000).and_then(|ms| now.checked_add(ms)).map(Some).ok_or_else(invalid)
}

fn parse_counter(value: &[u8]) -> Option<i64> {
    std::str::from_utf8(value).ok()?.parse().ok()
}

impl Model {
    fn live(&self, key: &str, now: u64) -> Option<&Entry> {
        self.entries.get(key).filter(|entry| entry.expires_at.is_none_or(|at| at > now))
    }

    fn live_keys(&self, now: u64) -> impl Iterator<Item = &String> {
        self.entries.iter().filter(move |(_, entry)| entry.expires_at.is_none_or(|at| at > now)).map(|(k, _)| k)
    }

    fn has_expired(&self, now: u64) -> bool {
        self.entries.values().any(|entry| entry.expires_at.is_some_and(|at| at <= now))
    }

    fn usage(&self, now: u64) -> (u64, u64) {
        self.live_keys(now)
            .fold((0, 0), |(bytes, count), key| (bytes + (key.len() + self.entries[key].value.len()) as u64, count + 1))
    }

    fn reclaim(&mut self, now: u64) {
        self.entries.retain(|_, entry| entry.expires_at.is_none_or(|at| at > now));
    }

    /// Applies writes (`None` = delete) all or nothing under the quota rule: the result fails
    /// iff it would raise live usage above the quota. Every written key's old version goes
    /// stale; set keys get `version` (if known).
    fn write(&mut self, writes: &[ModelWrite<'_>], now: u64, version: Option<u64>) -> Outcome<()> {
        let (before, _) = self.usage(now);
        let mut after = self.entries.clone();
        for (key, write) in writes {
            match write {
                Some((value, expires_at)) => {
                    after.insert(key.to_string(), Entry { value: value.clone(), expires_at: *expires_at, version });
                }
                None => {
                    after.remove(*key);
                }
            }
        }
        let after_usage: u64 = after
            .iter()
            .filter(|(_, entry)| entry.expires_at.is_none_or(|at| at > now))
            .map(|(key, entry)| (key.len() + entry.value.len()) as u64)
            .sum();
        if after_usage > QUOTA && after_usage > before {
            return Err(StorageError::QuotaExceeded);
        }
        for (key, _) in writes {
            if let Some(old) = self.entries.get(*key).and_then(|entry| entry.version) {
                self.stale.entry(key.to_string()).or_default().push(old);
            }
        }
        self.entries = after;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Running one case
// ---------------------------------------------------------------------------------------------

/// Counts of outcomes, to show that the interesting paths were reached.
#[derive(Debug, Default)]
struct Stats {
    ops: usize,
    quota_exceeded: usize,
    precondition_failed: usize,
    not_found: usize,
    invalid: usize,
    listings_with_expired_entries: usize,
}

fn outcome<T>(result: zero_storage::Result<T>) -> Outcome<T> {
    match result {
        Ok(value) => Ok(value),
        Err(Error::Storage(StorageError::InvalidArgument(_))) => Err(invalid()),
        Err(Error::Storage(error)) => Err(error),
        Err(other) => panic!("the storage runtime failed: {other}"),
    }
}

struct Case<'a> {
    procs: [Process; 2],
    /// How many of `procs` operations use: 1 (all on one instance) or 2 (interleaved).
    instances: usize,
    clock: &'a ManualClock,
    model: Model,
    namespace: String,
    quota_every_op: bool,
    walk_limit: u32,
    stats: &'a mut Stats,
}

impl Case<'_> {
    fn instance(&mut self, p: usize) -> &mut Process {
        &mut self.procs[p % self.instances]
    }

    fn now(&self) -> u64 {
        use zero_storage::Clock;
        self.clock.now_ms()
    }

    fn run(&mut self, op: &Op) {
        let now = self.now();
        self.stats.ops += 1;
        match op {
            Op::Set { p, key, value, ttl } => {
                let actual = outcome(self.instance(*p).set(key, value, *ttl));
                let expected = check_key(key)
                    .and_then(|()| expiry(now, *ttl))
                    .and_then(|expires_at| self.model.write(&[(key, Some((value.clone(), expires_at)))], now, None));
                self.same(op, actual, expected);
            }
            Op::Delete { p, key } => {
                let actual = outcome(self.instance(*p).delete(key));
                let expected = check_key(key).and_then(|()| {
                    let existed = self.model.live(key, now).is_some();
                    self.model.write(&[(key, None)], now, None).map(|()| existed)
                });
                self.same(op, actual, expected);
            }
            Op::Get { p, key } => {
                let actual = outcome(self.instance(*p).get(key));
                let expected = check_key(key).and_then(|()| {
                    self.model.live(key, now).map(|entry| entry.value.clone()).ok_or(StorageError::NotFound)
                });
                self.same(op, actual, expected);
            }
            Op::GetVersioned { p, key } => {
                let actual = outcome(self.instance(*p).get_versioned(key));
                let expected =
                    check_key(key).and_then(|()| self.model.live(key, now).cloned().ok_or(StorageError::NotFound));
                match (actual, expected) {
                    (Ok(got), Ok(entry)) => {
                        assert_eq!(got.value, entry.value, "{op:?}: value");
                        let stale = self.model.stale.get(key.as_str()).cloned().unwrap_or_default();
                        assert!(!stale.contains(&got.version), "{op:?}: a replaced version came back");
                        assert!(got.version > 0, "{op:?}: version 0 is never stamped");
                        if let Some(known) = entry.version {
                            assert_eq!(got.version, known, "{op:?}: the version changed without a write");
                        }
                        if let Some(entry) = self.model.entries.get_mut(key.as_str()) {
                            entry.version = Some(got.version);
                        }
                        self.model.highest_version = self.model.highest_version.max(got.version);
                    }
                    (actual, expected) => {
                        self.same(op, actual.map(|v| v.value), expected.map(|e| e.value));
                    }
                }
            }
            Op::Exists { p, key } => {
                let actual = outcome(self.instance(*p).exists(key));
                let expected = check_key(key).map(|()| self.model.live(key, now).is_some());
                self.same(op, actual, expected);
            }
            Op::ListPage { p, prefix, limit, after } => {
                let cursor = after.as_deref().map(cursor::encode);
                let actual = outcome(self.instance(*p).list(prefix, *limit, cursor.as_deref())).expect("list");
                self.check_page(op, prefix, *limit, after.as_deref(), &actual.keys, actual.next_cursor.as_deref());
            }
            Op::ListBadCursor { p, cursor } => {
                let actual = outcome(self.instance(*p).list("", 10, Some(cursor))).map(|page| page.keys);
                self.same(op, actual, Err(invalid()));
            }
            Op::Quota { p } => self.check_quota(*p),
            Op::Sweep { p } => {
                let namespace = self.namespace.clone();
                let swept = outcome(self.instance(*p).sweep(&namespace)).expect("sweep");
                let expired = self.model.entries.values().filter(|e| e.expires_at.is_some_and(|at| at <= now)).count();
                assert!(swept as usize <= expired, "{op:?}: swept {swept}, but only {expired} could have expired");
                self.model.reclaim(now);
            }
            Op::Advance { ms } => self.clock.advance_ms(*ms),
            Op::GetMany { p, keys } => {
                let actual = outcome(self.instance(*p).get_many(keys));
                let expected = keys.iter().try_for_each(|key| check_key(key)).map(|()| {
                    keys.iter().map(|key| self.model.live(key, now).map(|entry| entry.value.clone())).collect()
                });
                self.same(op, actual, expected);
            }
            Op::SetMany { p, entries, ttl } => {
                let actual = outcome(self.instance(*p).set_many(entries, *ttl));
                let expected = entries.iter().try_for_each(|(key, _)| check_key(key)).and_then(|()| {
                    let expires_at = expiry(now, *ttl)?;
                    let writes: Vec<_> =
                        entries.iter().map(|(key, value)| (key.as_str(), Some((value.clone(), expires_at)))).collect();
                    self.model.write(&writes, now, None)
                });
                self.same(op, actual, expected);
            }
            Op::DeleteMany { p, keys } => {
                let actual = outcome(self.instance(*p).delete_many(keys));
                let expected = keys.iter().try_for_each(|key| check_key(key)).and_then(|()| {
                    let mut distinct: Vec<&String> = keys.iter().collect();
                    distinct.sort();
                    distinct.dedup();
                    let existed = distinct.iter().filter(|key| self.model.live(key, now).is_some()).count() as u64;
                    let writes: Vec<_> = keys.iter().map(|key| (key.as_str(), None)).collect();
                    self.model.write(&writes, now, None).map(|()| existed)
                });
                self.same(op, actual, expected);
            }
            Op::Increment { p, key, delta } => {
                let actual = outcome(self.instance(*p).increment(key, *delta));
                let expected = check_key(key).and_then(|()| {
                    let (current, expires_at) = match self.model.live(key, now) {
                        Some(entry) => (parse_counter(&entry.value).ok_or_else(invalid)?, entry.expires_at),
                        None => (0, None),
                    };
                    let next = current.checked_add(*delta).ok_or_else(invalid)?;
                    self.model.write(&[(key, Some((next.to_string().into_bytes(), expires_at)))], now, None)?;
                    Ok(next)
                });
                self.same(op, actual, expected);
            }
            Op::Transact { p, preconditions, writes } => self.transact(op, *p, preconditions, writes),
        }
        self.check_everything();
    }

    fn transact(&mut self, op: &Op, p: usize, preconditions: &[PreGen], writes: &[TxWrite]) {
        let now = self.now();
        let resolved: Vec<Precondition> = preconditions
            .iter()
            .map(|pre| match pre {
                PreGen::Absent(key) => Precondition::Absent(key.clone()),
                PreGen::Exists(key) => Precondition::Exists(key.clone()),
                PreGen::KnownVersion(key) => Precondition::VersionIs(
                    key.clone(),
                    self.model.entries.get(key).and_then(|entry| entry.version).unwrap_or(0),
                ),
                PreGen::StaleVersion(key) => Precondition::VersionIs(
                    key.clone(),
                    self.model.stale.get(key).and_then(|stale| stale.last().copied()).unwrap_or(u64::MAX),
                ),
                PreGen::CurrentValue(key, fallback) => Precondition::ValueEquals(
                    key.clone(),
                    self.model.live(key, now).map_or_else(|| fallback.clone(), |entry| entry.value.clone()),
                ),
                PreGen::Value(key, value) => Precondition::ValueEquals(key.clone(), value.clone()),
            })
            .collect();
        let concrete: Vec<Write> = writes
            .iter()
            .map(|(key, write)| match write {
                Some((value, ttl_secs)) => Write::Set { key: key.clone(), value: value.clone(), ttl_secs: *ttl_secs },
                None => Write::Delete(key.clone()),
            })
            .collect();
        let actual = outcome(self.instance(p).transact(&resolved, &concrete));

        // What the model expects, in the component's order: argument checks, preconditions, quota.
        let checked = (|| {
            for pre in &resolved {
                let key = match pre {
                    Precondition::Absent(k)
                    | Precondition::Exists(k)
                    | Precondition::VersionIs(k, _)
                    | Precondition::ValueEquals(k, _) => k,
                };
                check_key(key)?;
            }
            let mut planned = Vec::new();
            for (key, write) in writes {
                check_key(key)?;
                let write = match write {
                    Some((value, ttl)) => Some((value.clone(), expiry(now, *ttl)?)),
                    None => None,
                };
                planned.push((key.as_str(), write));
            }
            for (index, pre) in resolved.iter().enumerate() {
                let holds = match pre {
                    Precondition::Absent(k) => self.model.live(k, now).is_none(),
                    Precondition::Exists(k) => self.model.live(k, now).is_some(),
                    Precondition::VersionIs(k, v) => self.model.live(k, now).is_some_and(|e| e.version == Some(*v)),
                    Precondition::ValueEquals(k, v) => self.model.live(k, now).is_some_and(|e| &e.value == v),
                };
                if !holds {
                    return Err(StorageError::PreconditionFailed(index as u32));
                }
            }
            Ok(planned)
        })();
        match (checked, actual) {
            (Err(expected), actual) => self.same(op, actual, Err(expected)),
            (Ok(planned), Ok(version)) => {
                // The last write to a key wins; deleting an absent key writes nothing.
                let last: HashMap<&str, bool> = planned.iter().map(|(key, write)| (*key, write.is_some())).collect();
                let writes_something = last.iter().any(|(key, set)| *set || self.model.live(key, now).is_some());
                if version == 0 {
                    assert!(!writes_something, "{op:?}: wrote something but returned version 0");
                } else {
                    assert!(version > self.model.highest_version, "{op:?}: version {version} is not new");
                    self.model.highest_version = version;
                }
                let result = self.model.write(&planned, now, (version > 0).then_some(version));
                assert_eq!(result, Ok(()), "{op:?}: the component committed what the model refuses");
            }
            (Ok(planned), Err(actual)) => {
                let expected = self.model.write(&planned, now, None);
                assert_eq!(Err(actual), expected, "{op:?}");
            }
        }
    }

    fn same<T: PartialEq + std::fmt::Debug>(&mut self, op: &Op, actual: Outcome<T>, expected: Outcome<T>) {
        match &actual {
            Err(StorageError::QuotaExceeded) => self.stats.quota_exceeded += 1,
            Err(StorageError::PreconditionFailed(_)) => self.stats.precondition_failed += 1,
            Err(StorageError::NotFound) => self.stats.not_found += 1,
            Err(StorageError::InvalidArgument(_) | StorageError::KeyTooLong) => self.stats.invalid += 1,
            _ => {}
        }
        assert_eq!(actual, expected, "{op:?} at {} ms diverged from the model", self.now());
    }

    /// One page must be a run of the model's live keys right after the cursor; resuming from
    /// its cursor must skip no live key; and with nothing expired left in the namespace the
    /// page must be exactly full.
    fn check_page(
        &mut self,
        op: &Op,
        prefix: &str,
        limit: u32,
        after: Option<&str>,
        keys: &[String],
        next: Option<&str>,
    ) {
        let now = self.now();
        let page = match limit {
            0 => 100,
            n => n.min(1000) as usize,
        };
        let remaining = |from: Option<&str>| -> Vec<String> {
            self.model
                .live_keys(now)
                .filter(|key| key.starts_with(prefix) && from.is_none_or(|from| key.as_str() > from))
                .cloned()
                .collect()
        };
        let expected = remaining(after);
        assert!(keys.len() <= page, "{op:?}: page of {} keys for a limit of {limit}", keys.len());
        assert_eq!(keys, &expected[..keys.len().min(expected.len())], "{op:?}: not the next live keys");
        match next {
            None => assert_eq!(keys, &expected[..], "{op:?}: no cursor, but live keys were left out"),
            Some(next) => {
                let resume = cursor::decode(next).unwrap_or_else(|e| panic!("{op:?}: list returned a bad cursor: {e}"));
                assert_eq!(remaining(Some(&resume)), expected[keys.len()..], "{op:?}: the cursor skips live keys");
            }
        }
        if !self.model.has_expired(now) {
            assert_eq!(keys.len(), page.min(expected.len()), "{op:?}: short page with nothing expired");
            assert_eq!(next.is_some(), expected.len() > page, "{op:?}: cursor iff more keys follow");
        }
    }

    fn check_quota(&mut self, p: usize) {
        let now = self.now();
        let info = outcome(self.instance(p).quota()).expect("quota");
        let (used_bytes, key_count) = self.model.usage(now);
        let expected = QuotaInfo { namespace: self.namespace.clone(), used_bytes, quota_bytes: QUOTA, key_count };
        assert_eq!(info, expected, "quota at {now} ms diverged from the model");
        self.model.reclaim(now);
    }

    /// The whole namespace equals the model: a paged walk of every key, and every value.
    fn check_everything(&mut self) {
        let now = self.now();
        let live: Vec<String> = self.model.live_keys(now).cloned().collect();
        let mut walked = Vec::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let limit = self.walk_limit;
            let page = outcome(self.instance(0).list("", limit, cursor.as_deref())).expect("list");
            pages += 1;
            assert!(pages <= self.model.entries.len() + 2, "the listing does not end");
            walked.extend(page.keys);
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        if self.model.has_expired(now) {
            self.stats.listings_with_expired_entries += 1;
        }
        assert_eq!(walked, live, "a full listing (limit {}) differs from the model's live keys", self.walk_limit);
        let pool: Vec<String> = KEYS.iter().map(|k| k.to_string()).collect();
        let values = outcome(self.instance(1).get_many(&pool)).expect("get-many");
        for (key, value) in pool.iter().zip(values) {
            assert_eq!(value, self.model.live(key, now).map(|e| e.value.clone()), "value of {key:?} at {now} ms");
        }
        if self.quota_every_op {
            self.check_quota(0);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------------------------

fn cases(regular: u32) -> u32 {
    std::env::var("ZERO_MODEL_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(regular)
}

/// Runs `cases` random sequences of up to `ops` operations on `runtime`, each in a fresh
/// namespace, spread over `instances` storage instances (1 or 2) of the same app.
fn run_model(backend: &str, runtime: &Runtime, clock: &ManualClock, cases: u32, ops: usize, instances: usize) -> Stats {
    static NAMESPACES: AtomicUsize = AtomicUsize::new(0);
    let stats = std::cell::RefCell::new(Stats::default());
    let config = ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() };
    let mut runner = TestRunner::new(config);
    let strategy = (proptest::collection::vec(op(), 1..=ops), 1u32..4);
    let started = std::time::Instant::now();
    // Shrinking a failure replays many failing cases; keep their panic messages out of the
    // output (the minimal failing case is reported below). This binary has no other test.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let result = runner.run(&strategy, |(ops, walk_limit)| {
        let n = NAMESPACES.fetch_add(1, Ordering::SeqCst);
        let name = format!("model-{backend}-{n}");
        let process = || runtime.process(ProcessIdentity::new(&name).unwrap()).unwrap();
        let mut case = Case {
            procs: [process(), process()],
            instances,
            clock,
            model: Model::default(),
            namespace: format!("app:{name}"),
            quota_every_op: n % 2 == 1,
            walk_limit,
            stats: &mut stats.borrow_mut(),
        };
        for op in &ops {
            case.run(op);
        }
        case.check_quota(1);
        Ok(())
    });
    std::panic::set_hook(default_hook);
    if let Err(failure) = result {
        panic!("{backend}: the component diverged from the model: {failure}");
    }
    let stats = stats.into_inner();
    eprintln!("{backend}: {cases} cases, {stats:?}, in {:.1?}", started.elapsed());
    stats
}

fn model_runtime(backend: Arc<dyn zero_storage::backend::Backend>) -> (Runtime, Arc<ManualClock>) {
    runtime_with(backend, small_quotas(QUOTA))
}

fn model_on_every_backend(instances: usize) {
    for b in backends() {
        let (runtime, clock) = model_runtime(b.backend.clone());
        let (cases, ops) = if b.name == "fs" { (cases(24), 80) } else { (cases(64), 100) };
        let stats = run_model(b.name, &runtime, &clock, cases, ops, instances);
        // The generator must reach the interesting paths, or the test proves little.
        assert!(stats.quota_exceeded > 0, "{}: no write hit the quota: {stats:?}", b.name);
        assert!(stats.precondition_failed > 0, "{}: no precondition failed: {stats:?}", b.name);
        assert!(stats.not_found > 0 && stats.invalid > 0, "{}: {stats:?}", b.name);
    }
}

#[test]
fn random_operation_sequences_on_one_instance_match_the_model_on_every_backend() {
    model_on_every_backend(1);
}

#[test]
fn random_operation_sequences_from_two_instances_match_the_model_on_every_backend() {
    model_on_every_backend(2);
}

/// The smallest case the model test found, on its own: instance A caches key `a`, instance B
/// deletes it, A reads fresh usage for another key, and A's next write to `a` plans from the
/// stale directory record and the fresh usage.
#[test]
fn a_second_instance_writing_the_namespace_never_makes_the_first_report_damaged_usage() {
    for b in backends() {
        let (runtime, _clock) = model_runtime(b.backend.clone());
        let mut first = runtime.process(ProcessIdentity::new("cache").unwrap()).unwrap();
        let mut second = runtime.process(ProcessIdentity::new("cache").unwrap()).unwrap();
        first.set("a", b"0123456789", 0).unwrap();
        assert!(second.delete("a").unwrap());
        first.set("c", b"1", 0).unwrap();
        let outcome = first.set("a", b"x", 0);
        assert!(outcome.is_ok(), "{}: {outcome:?}", b.name);
        assert_eq!(first.quota().unwrap().used_bytes, 2 + 2, "{}", b.name);
    }
}
