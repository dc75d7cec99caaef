//! The storage logic, natively, over an in-memory backend that can fail on purpose, driven by
//! arbitrary operation sequences and checked after each one against a `BTreeMap` model: every
//! result, usage (live bytes and count, under a small quota), and a full listing walked with
//! cursors. A failed commit must change nothing.

#![no_main]

use std::collections::BTreeMap;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use zero_storage_component::testing::{MapBackend, TestIdentity};
use zero_storage_component::{Error, Precondition, Storage, Write};

const QUOTA: u64 = 300;
const KEYS: [&str; 8] = ["a", "a/1", "a/2", "ab", "b", "é", "\0", "k"];
const PREFIXES: [&str; 4] = ["", "a", "a/", "é"];

// ---------------------------------------------------------------------------------------------
// Operations and the model
// ---------------------------------------------------------------------------------------------

#[derive(Arbitrary, Debug)]
enum Op {
    Set { key: u8, len: u8, fill: u8, ttl: u8 },
    Delete { key: u8 },
    Get { key: u8 },
    GetVersioned { key: u8 },
    Exists { key: u8 },
    List { prefix: u8, limit: u8, after: Option<u8> },
    Quota,
    Sweep,
    Advance { ms: u16 },
    SetMany { entries: Vec<(u8, u8)>, ttl: u8 },
    DeleteMany { keys: Vec<u8> },
    Increment { key: u8, delta: i8 },
    Transact { pre: Vec<(u8, u8)>, writes: Vec<(u8, Option<u8>)> },
    FailCommits(bool),
    FailReads(bool),
}

#[derive(Clone, Debug)]
struct Item {
    value: Vec<u8>,
    expires_at: Option<u64>,
    version: Option<u64>,
}

#[derive(Default)]
struct Model {
    entries: BTreeMap<String, Item>,
}

type Outcome<T> = Result<T, Error>;

fn key(index: u8) -> String {
    KEYS[index as usize % KEYS.len()].to_string()
}

fn value(len: u8, fill: u8) -> Vec<u8> {
    // Small values mostly; some decimal ones so increments have something to parse.
    if fill % 4 == 0 { (fill as i64 - 128).to_string().into_bytes() } else { vec![fill; len as usize % 120] }
}

fn ttl_secs(ttl: u8) -> u64 {
    if ttl % 3 == 0 { u64::from(ttl % 4) } else { 0 }
}

impl Model {
    fn live(&self, key: &str, now: u64) -> Option<&Item> {
        self.entries.get(key).filter(|item| item.expires_at.is_none_or(|at| at > now))
    }

    fn usage(&self, now: u64) -> (u64, u64) {
        self.entries
            .iter()
            .filter(|(_, item)| item.expires_at.is_none_or(|at| at > now))
            .fold((0, 0), |(bytes, keys), (key, item)| (bytes + (key.len() + item.value.len()) as u64, keys + 1))
    }

    /// Applies writes all or nothing; fails iff live usage would rise above the quota.
    fn write(
        &mut self,
        writes: &[(String, Option<(Vec<u8>, Option<u64>)>)],
        now: u64,
        version: Option<u64>,
    ) -> Outcome<()> {
        let (before, _) = self.usage(now);
        let mut after = Model { entries: self.entries.clone() };
        for (key, write) in writes {
            match write {
                Some((value, expires_at)) => {
                    after.entries.insert(key.clone(), Item { value: value.clone(), expires_at: *expires_at, version });
                }
                None => {
                    after.entries.remove(key);
                }
            }
        }
        let (bytes, _) = after.usage(now);
        if bytes > QUOTA && bytes > before {
            return Err(Error::QuotaExceeded);
        }
        *self = after;
        Ok(())
    }
}

fn expiry(now: u64, ttl: u64) -> Option<u64> {
    (ttl > 0).then(|| now + ttl * 1000)
}

fn same<T: PartialEq + std::fmt::Debug>(op: &Op, actual: Outcome<T>, expected: Outcome<T>) {
    let normal = |outcome: Outcome<T>| {
        outcome.map_err(|error| match error {
            Error::InvalidArgument(_) => Error::InvalidArgument(String::new()),
            other => other,
        })
    };
    assert_eq!(normal(actual), normal(expected), "{op:?}");
}

fuzz_target!(|ops: Vec<Op>| {
    let backend = MapBackend::default();
    let caller = TestIdentity::app(QUOTA);
    let storage = Storage::new(&backend, &caller);
    let ns = storage.own().clone();
    let mut model = Model::default();
    let mut highest = 0u64;
    for op in ops.iter().take(200) {
        let now = caller.now_ms.get();
        let failing = backend.fail_commits.get() || backend.fail_reads.get();
        let before = backend.contents();
        match op {
            Op::FailCommits(on) => backend.fail_commits.set(*on),
            Op::FailReads(on) => backend.fail_reads.set(*on),
            Op::Advance { ms } => caller.now_ms.set(now + u64::from(*ms)),
            _ if failing => {
                // A failed operation changes nothing, and a backend-error carries the injected
                // message. A write may still succeed while only reads fail, planned from the
                // instance's write cache: then it is acknowledged and the model takes it too.
                let outcome = match op {
                    Op::Set { key: k, len, fill, ttl } => {
                        let (k, v, t) = (key(*k), value(*len, *fill), ttl_secs(*ttl));
                        let actual = storage.set(&ns, &k, &v, t);
                        if actual.is_ok() {
                            same(op, Ok(()), model.write(&[(k, Some((v, expiry(now, t))))], now, None));
                        }
                        actual
                    }
                    Op::Delete { key: k } => {
                        let k = key(*k);
                        let existed = model.live(&k, now).is_some();
                        let actual = storage.delete(&ns, &k);
                        if let Ok(deleted) = actual {
                            same(op, Ok(deleted), model.write(&[(k, None)], now, None).map(|()| existed));
                        }
                        actual.map(drop)
                    }
                    Op::Quota => storage.quota(&ns).map(drop),
                    _ => Ok(()),
                };
                if let Err(error) = &outcome {
                    if let Error::Backend(message) = error {
                        assert!(message.starts_with("injected"), "{op:?}: {message}");
                    }
                    assert!(backend.contents() == before, "{op:?}: a failed operation changed the backend");
                }
                continue;
            }
            Op::Set { key: k, len, fill, ttl } => {
                let (k, v, t) = (key(*k), value(*len, *fill), ttl_secs(*ttl));
                let actual = storage.set(&ns, &k, &v, t);
                same(op, actual, model.write(&[(k, Some((v, expiry(now, t))))], now, None));
            }
            Op::Delete { key: k } => {
                let k = key(*k);
                let existed = model.live(&k, now).is_some();
                let actual = storage.delete(&ns, &k);
                same(op, actual, model.write(&[(k, None)], now, None).map(|()| existed));
            }
            Op::Get { key: k } => {
                let k = key(*k);
                same(
                    op,
                    storage.get(&ns, &k),
                    model.live(&k, now).map(|item| item.value.clone()).ok_or(Error::NotFound),
                );
            }
            Op::GetVersioned { key: k } => {
                let k = key(*k);
                match (storage.get_versioned(&ns, &k), model.live(&k, now).cloned()) {
                    (Ok(got), Some(item)) => {
                        assert_eq!(got.value, item.value, "{op:?}");
                        if let Some(known) = item.version {
                            assert_eq!(got.version, known, "{op:?}: the version changed without a write");
                        }
                        highest = highest.max(got.version);
                        model.entries.get_mut(&k).unwrap().version = Some(got.version);
                    }
                    (actual, expected) => {
                        same(op, actual.map(|v| v.value), expected.map(|i| i.value).ok_or(Error::NotFound))
                    }
                }
            }
            Op::Exists { key: k } => {
                let k = key(*k);
                same(op, storage.exists(&ns, &k), Ok(model.live(&k, now).is_some()));
            }
            Op::List { prefix, limit, after } => {
                let prefix = PREFIXES[*prefix as usize % PREFIXES.len()];
                let after = after.map(key);
                let cursor = after.as_deref().map(zero_storage_component::cursor::encode);
                let page = storage.list(&ns, prefix, u32::from(*limit % 5), cursor.as_deref()).expect("list");
                let expected: Vec<String> = model
                    .entries
                    .iter()
                    .filter(|(k, item)| {
                        k.starts_with(prefix)
                            && after.as_ref().is_none_or(|a| *k > a)
                            && item.expires_at.is_none_or(|at| at > now)
                    })
                    .map(|(k, _)| k.clone())
                    .collect();
                assert_eq!(page.keys, expected[..page.keys.len().min(expected.len())], "{op:?}");
                if page.next_cursor.is_none() {
                    assert_eq!(page.keys, expected, "{op:?}: keys left out");
                }
            }
            Op::Quota => {
                let info = storage.quota(&ns).expect("quota");
                assert_eq!((info.used_bytes, info.key_count), model.usage(now), "quota");
                model.entries.retain(|_, item| item.expires_at.is_none_or(|at| at > now));
            }
            Op::Sweep => {
                storage.sweep(&ns).expect("sweep");
                model.entries.retain(|_, item| item.expires_at.is_none_or(|at| at > now));
            }
            Op::SetMany { entries, ttl } => {
                let t = ttl_secs(*ttl);
                let pairs: Vec<(String, Vec<u8>)> =
                    entries.iter().take(6).map(|(k, fill)| (key(*k), value(*fill, *fill))).collect();
                let actual = storage.set_many(&ns, &pairs, t);
                let writes: Vec<_> = pairs.into_iter().map(|(k, v)| (k, Some((v, expiry(now, t))))).collect();
                same(op, actual, model.write(&writes, now, None));
            }
            Op::DeleteMany { keys } => {
                let keys: Vec<String> = keys.iter().take(6).map(|k| key(*k)).collect();
                let mut distinct = keys.clone();
                distinct.sort();
                distinct.dedup();
                let existed = distinct.iter().filter(|k| model.live(k, now).is_some()).count() as u64;
                let actual = storage.delete_many(&ns, &keys);
                let writes: Vec<_> = keys.into_iter().map(|k| (k, None)).collect();
                same(op, actual, model.write(&writes, now, None).map(|()| existed));
            }
            Op::Increment { key: k, delta } => {
                let k = key(*k);
                let actual = storage.increment(&ns, &k, i64::from(*delta));
                let expected = (|| {
                    let (current, expires_at) = match model.live(&k, now) {
                        Some(item) => (
                            std::str::from_utf8(&item.value)
                                .ok()
                                .and_then(|t| t.parse::<i64>().ok())
                                .ok_or(Error::InvalidArgument(String::new()))?,
                            item.expires_at,
                        ),
                        None => (0, None),
                    };
                    let next = current.checked_add(i64::from(*delta)).ok_or(Error::InvalidArgument(String::new()))?;
                    model.write(&[(k.clone(), Some((next.to_string().into_bytes(), expires_at)))], now, None)?;
                    Ok(next)
                })();
                same(op, actual, expected);
            }
            Op::Transact { pre, writes } => {
                let preconditions: Vec<Precondition> = pre
                    .iter()
                    .take(3)
                    .map(|(k, kind)| {
                        let k = key(*k);
                        match kind % 4 {
                            0 => Precondition::Absent(k),
                            1 => Precondition::Exists(k),
                            2 => {
                                let version = model.entries.get(&k).and_then(|item| item.version).unwrap_or(0);
                                Precondition::VersionIs(k, version)
                            }
                            _ => Precondition::ValueEquals(k, value(*kind, *kind)),
                        }
                    })
                    .collect();
                let writes: Vec<(String, Option<Vec<u8>>)> =
                    writes.iter().take(4).map(|(k, v)| (key(*k), v.map(|fill| value(fill, fill)))).collect();
                let concrete: Vec<Write> = writes
                    .iter()
                    .map(|(k, v)| match v {
                        Some(v) => Write::Set { key: k.clone(), value: v.clone(), ttl_secs: 0 },
                        None => Write::Delete(k.clone()),
                    })
                    .collect();
                let actual = storage.transact(&ns, &preconditions, &concrete);
                let failed = preconditions.iter().position(|p| match p {
                    Precondition::Absent(k) => model.live(k, now).is_some(),
                    Precondition::Exists(k) => model.live(k, now).is_none(),
                    Precondition::VersionIs(k, v) => model.live(k, now).is_none_or(|i| i.version != Some(*v)),
                    Precondition::ValueEquals(k, v) => model.live(k, now).is_none_or(|i| &i.value != v),
                });
                let planned: Vec<_> = writes.iter().map(|(k, v)| (k.clone(), v.clone().map(|v| (v, None)))).collect();
                match (failed, actual) {
                    (Some(index), actual) => same(op, actual, Err(Error::PreconditionFailed(index as u32))),
                    (None, Ok(version)) => {
                        if version > 0 {
                            assert!(version > highest, "{op:?}: version {version} is not new");
                            highest = version;
                        }
                        let result = model.write(&planned, now, (version > 0).then_some(version));
                        assert_eq!(result, Ok(()), "{op:?}: committed what the model refuses");
                    }
                    (None, Err(actual)) => same(op, Err::<(), _>(actual), model.write(&planned, now, None)),
                }
            }
        }
        // After every operation that could run: a full walk lists exactly the live keys.
        if !backend.fail_reads.get() {
            let mut walked = Vec::new();
            let mut cursor: Option<String> = None;
            for _ in 0..=KEYS.len() * 2 + 2 {
                let page = storage.list(&ns, "", 2, cursor.as_deref()).expect("list");
                walked.extend(page.keys);
                cursor = page.next_cursor;
                if cursor.is_none() {
                    break;
                }
            }
            assert!(cursor.is_none(), "the listing does not end");
            let live: Vec<String> =
                model.entries.keys().filter(|k| model.live(k, caller.now_ms.get()).is_some()).cloned().collect();
            assert_eq!(walked, live, "full listing after {op:?}");
        }
    }
});
