//! Unit tests of batches, counters and transactions over an in-memory backend.

use std::cell::{Cell, RefCell};

use super::*;
use crate::backend::{Answer, CommitResult, Condition, Mutation};
use crate::limits::{MAX_BATCH_KEYS, MAX_READ_VALUE_BYTES, MAX_VALUE_BYTES};
use crate::testing::{MapBackend, TestIdentity};

fn set(key: &str, value: &[u8]) -> Write {
    Write::Set { key: key.into(), value: value.to_vec(), ttl_secs: 0 }
}

#[test]
fn batches_write_and_read_many_keys_at_once() {
    let (backend, identity) = (MapBackend::default(), TestIdentity::app(1 << 20));
    let storage = Storage::new(&backend, &identity);
    let ns = storage.own().clone();
    let entries: Vec<(String, Vec<u8>)> =
        vec![("a".into(), b"1".to_vec()), ("b".into(), b"2".to_vec()), ("a".into(), b"3".to_vec())];
    storage.set_many(&ns, &entries, 0).unwrap();
    let keys: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
    assert_eq!(storage.get_many(&ns, &keys).unwrap(), vec![Some(b"3".to_vec()), Some(b"2".to_vec()), None]);
    assert_eq!(storage.quota(&ns).unwrap().used_bytes, 4, "a key given twice counts once");
    assert_eq!(storage.delete_many(&ns, &keys).unwrap(), 2);
    assert_eq!(storage.quota(&ns).unwrap().key_count, 0);
}

#[test]
fn a_batch_over_quota_writes_nothing() {
    let (backend, identity) = (MapBackend::default(), TestIdentity::app(10));
    let storage = Storage::new(&backend, &identity);
    let ns = storage.own().clone();
    let entries: Vec<(String, Vec<u8>)> = vec![("a".into(), vec![0; 4]), ("b".into(), vec![0; 5])];
    assert_eq!(storage.set_many(&ns, &entries, 0), Err(Error::QuotaExceeded));
    assert_eq!(storage.get_many(&ns, &["a".to_string()]).unwrap(), vec![None]);
    let bad: Vec<(String, Vec<u8>)> = vec![("ok".into(), vec![]), ("k".repeat(257), vec![])];
    assert_eq!(storage.set_many(&ns, &bad, 0), Err(Error::KeyTooLong));
    assert_eq!(storage.quota(&ns).unwrap().key_count, 0);
}

#[test]
fn increment_counts_from_zero_and_refuses_non_numbers_and_overflow() {
    let (backend, identity) = (MapBackend::default(), TestIdentity::app(1 << 20));
    let storage = Storage::new(&backend, &identity);
    let ns = storage.own().clone();
    assert_eq!(storage.increment(&ns, "n", 5).unwrap(), 5);
    assert_eq!(storage.increment(&ns, "n", -7).unwrap(), -2);
    assert_eq!(storage.get(&ns, "n").unwrap(), b"-2");
    storage.set(&ns, "text", b"hello", 0).unwrap();
    assert!(matches!(storage.increment(&ns, "text", 1), Err(Error::InvalidArgument(_))));
    assert_eq!(storage.get(&ns, "text").unwrap(), b"hello");
    storage.set(&ns, "max", i64::MAX.to_string().as_bytes(), 0).unwrap();
    assert!(matches!(storage.increment(&ns, "max", 1), Err(Error::InvalidArgument(_))));
    assert_eq!(storage.get(&ns, "max").unwrap(), i64::MAX.to_string().as_bytes());
}

#[test]
fn increment_keeps_the_time_to_live() {
    let (backend, identity) = (MapBackend::default(), TestIdentity::app(1 << 20));
    let storage = Storage::new(&backend, &identity);
    let ns = storage.own().clone();
    storage.set(&ns, "n", b"1", 10).unwrap();
    assert_eq!(storage.increment(&ns, "n", 1).unwrap(), 2);
    identity.now_ms.set(identity.now_ms.get() + 10_000);
    assert_eq!(storage.get(&ns, "n"), Err(Error::NotFound));
    assert_eq!(storage.increment(&ns, "n", 1).unwrap(), 1, "an expired counter starts again");
}

#[test]
fn transaction_applies_all_writes_when_preconditions_hold() {
    let (backend, identity) = (MapBackend::default(), TestIdentity::app(1 << 20));
    let storage = Storage::new(&backend, &identity);
    let ns = storage.own().clone();
    storage.set(&ns, "from", b"10", 0).unwrap();
    let from = storage.get_versioned(&ns, "from").unwrap();
    let preconditions = vec![
        Precondition::VersionIs("from".into(), from.version),
        Precondition::ValueEquals("from".into(), b"10".to_vec()),
        Precondition::Absent("to".into()),
        Precondition::Exists("from".into()),
    ];
    let version = storage
        .transact(&ns, &preconditions, &[set("from", b"3"), set("to", b"7"), Write::Delete("none".into())])
        .unwrap();
    assert!(version > from.version);
    assert_eq!(storage.get_versioned(&ns, "to").unwrap(), Versioned { value: b"7".to_vec(), version });
    assert_eq!(storage.get(&ns, "from").unwrap(), b"3");
    assert_eq!(storage.quota(&ns).unwrap().used_bytes, (4 + 1) + (2 + 1));
}

#[test]
fn a_failed_precondition_names_its_index_and_changes_nothing() {
    let (backend, identity) = (MapBackend::default(), TestIdentity::app(1 << 20));
    let storage = Storage::new(&backend, &identity);
    let ns = storage.own().clone();
    storage.set(&ns, "a", b"1", 0).unwrap();
    let version = storage.get_versioned(&ns, "a").unwrap().version;
    let cases = [
        (Precondition::Absent("a".into()), 1),
        (Precondition::Exists("missing".into()), 1),
        (Precondition::VersionIs("a".into(), version + 1), 1),
        (Precondition::ValueEquals("a".into(), b"2".to_vec()), 1),
    ];
    for (failing, index) in cases {
        let preconditions = vec![Precondition::Exists("a".into()), failing];
        assert_eq!(
            storage.transact(&ns, &preconditions, &[set("a", b"X"), set("b", b"Y")]),
            Err(Error::PreconditionFailed(index))
        );
    }
    assert_eq!(storage.get(&ns, "a").unwrap(), b"1");
    assert_eq!(storage.get(&ns, "b"), Err(Error::NotFound));
    assert_eq!(storage.quota(&ns).unwrap().used_bytes, 2);
}

#[test]
fn compare_and_swap_after_delete_or_overwrite_fails() {
    let (backend, identity) = (MapBackend::default(), TestIdentity::app(1 << 20));
    let storage = Storage::new(&backend, &identity);
    let ns = storage.own().clone();
    storage.set(&ns, "k", b"v", 0).unwrap();
    let seen = storage.get_versioned(&ns, "k").unwrap().version;
    storage.set(&ns, "k", b"v", 0).unwrap();
    let cas = |storage: &Storage<_, _>| {
        storage.transact(&ns, &[Precondition::VersionIs("k".into(), seen)], &[set("k", b"new")])
    };
    assert_eq!(cas(&storage), Err(Error::PreconditionFailed(0)), "same value, new version");
    let seen_now = storage.get_versioned(&ns, "k").unwrap().version;
    storage.delete(&ns, "k").unwrap();
    assert_eq!(
        storage.transact(&ns, &[Precondition::VersionIs("k".into(), seen_now)], &[set("k", b"new")]),
        Err(Error::PreconditionFailed(0))
    );
}

#[test]
fn a_transaction_over_quota_changes_nothing_and_expired_keys_count_as_absent() {
    let (backend, identity) = (MapBackend::default(), TestIdentity::app(20));
    let storage = Storage::new(&backend, &identity);
    let ns = storage.own().clone();
    storage.set(&ns, "a", &[0; 9], 0).unwrap();
    assert_eq!(
        storage.transact(&ns, &[], &[Write::Delete("a".into()), set("b", &[0; 15]), set("c", &[0; 5])]),
        Err(Error::QuotaExceeded)
    );
    assert_eq!(storage.get(&ns, "a").unwrap().len(), 9);
    // Deleting in the same transaction frees room for the writes: quota is checked on the whole.
    storage.transact(&ns, &[], &[Write::Delete("a".into()), set("b", &[0; 18])]).unwrap();
    assert_eq!(storage.quota(&ns).unwrap().used_bytes, 19);
    storage.transact(&ns, &[], &[set("b", b""), Write::Set { key: "t".into(), value: vec![], ttl_secs: 1 }]).unwrap();
    identity.now_ms.set(identity.now_ms.get() + 1000);
    storage.transact(&ns, &[Precondition::Absent("t".into())], &[]).unwrap();
}

#[test]
fn oversized_batches_are_refused() {
    let (backend, identity) = (MapBackend::default(), TestIdentity::app(1 << 30));
    let storage = Storage::new(&backend, &identity);
    let ns = storage.own().clone();
    let keys: Vec<String> = (0..=MAX_BATCH_KEYS).map(|i| format!("k{i}")).collect();
    assert!(matches!(storage.get_many(&ns, &keys), Err(Error::InvalidArgument(_))));
    let big: Vec<(String, Vec<u8>)> = (0..17).map(|i| (format!("k{i}"), vec![0; 1 << 20])).collect();
    assert!(matches!(storage.set_many(&ns, &big, 0), Err(Error::InvalidArgument(_))));
}

/// Stores `big0`..`big15` (the last one byte short of 1 MiB) and the one-byte `one` and `two`,
/// and returns the first 17 of those keys: together exactly [`MAX_READ_VALUE_BYTES`].
fn fill_to_the_read_cap(storage: &Storage<&MapBackend, &TestIdentity>, ns: &OpenNamespace) -> Vec<String> {
    let mut entries: Vec<(String, Vec<u8>)> =
        (0..16).map(|i| (format!("big{i}"), vec![i as u8; MAX_VALUE_BYTES])).collect();
    entries[15].1.pop();
    storage.set_many(ns, &entries, 0).unwrap();
    storage.set_many(ns, &[("one".into(), b"1".to_vec()), ("two".into(), b"2".to_vec())], 0).unwrap();
    let keys: Vec<String> = entries.into_iter().map(|(key, _)| key).chain(["one".to_string()]).collect();
    assert_eq!(keys.len(), 17);
    keys
}

/// Directory records only: what a call may fetch when it is refused before reading values.
const DIRECTORY_BYTES: usize = 64 << 10;

#[test]
fn get_many_of_exactly_the_read_cap_succeeds_and_one_byte_more_is_refused_before_reading() {
    let (backend, identity) = (MapBackend::default(), TestIdentity::app(1 << 30));
    let storage = Storage::new(&backend, &identity);
    let ns = storage.own().clone();
    let mut keys = fill_to_the_read_cap(&storage, &ns);
    let values = storage.get_many(&ns, &keys).unwrap();
    assert_eq!(values.iter().flatten().map(Vec::len).sum::<usize>(), MAX_READ_VALUE_BYTES);

    let before = backend.contents();
    keys.push("two".into());
    let read_before = backend.bytes_read.get();
    assert!(
        matches!(storage.get_many(&ns, &keys), Err(Error::InvalidArgument(why)) if why.contains("smaller batches"))
    );
    assert!(backend.bytes_read.get() - read_before < DIRECTORY_BYTES, "no value was fetched");
    // A key named twice is in the answer twice, so it counts twice.
    let repeated = vec!["big0".to_string(); 17];
    assert!(matches!(storage.get_many(&ns, &repeated), Err(Error::InvalidArgument(_))));
    assert!(backend.bytes_read.get() - read_before < 2 * DIRECTORY_BYTES, "no value was fetched");
    assert_eq!(backend.contents(), before);
    assert_eq!(storage.get(&ns, "two").unwrap(), b"2");
}

/// A backend that lets `writer` run once, right after its first read: a writer racing a reader.
struct RacedAfterFirstRead<'b, F> {
    inner: &'b MapBackend,
    writer: RefCell<Option<F>>,
}

impl<F: FnOnce()> BackendImport for RacedAfterFirstRead<'_, F> {
    fn read(&self, namespace: &str, queries: &[Query]) -> std::result::Result<Vec<Answer>, String> {
        let answers = self.inner.read(namespace, queries);
        if let Some(writer) = self.writer.borrow_mut().take() {
            writer();
        }
        answers
    }

    fn commit(
        &self,
        namespace: &str,
        conditions: &[Condition],
        mutations: &[Mutation<'_>],
    ) -> std::result::Result<CommitResult, String> {
        self.inner.commit(namespace, conditions, mutations)
    }
}

#[test]
fn get_many_refuses_values_that_grew_past_the_read_cap_after_its_size_check() {
    let (backend, identity) = (MapBackend::default(), TestIdentity::app(1 << 30));
    let writer = Storage::new(&backend, &identity);
    let ns = writer.own().clone();
    let keys: Vec<String> = (0..20).map(|i| format!("k{i}")).collect();
    let small: Vec<(String, Vec<u8>)> = keys.iter().map(|key| (key.clone(), b"s".to_vec())).collect();
    writer.set_many(&ns, &small, 0).unwrap();
    let grown = Cell::new(false);
    let grow = || {
        grown.set(true);
        for half in keys.chunks(10) {
            let big: Vec<(String, Vec<u8>)> = half.iter().map(|key| (key.clone(), vec![0; MAX_VALUE_BYTES])).collect();
            writer.set_many(&ns, &big, 0).unwrap();
        }
    };
    let raced = RacedAfterFirstRead { inner: &backend, writer: RefCell::new(Some(grow)) };
    let reader = Storage::new(raced, &identity);
    assert!(matches!(reader.get_many(&ns, &keys), Err(Error::InvalidArgument(_))));
    assert!(grown.get(), "the writer ran between the two reads");
}

#[test]
fn transact_comparing_exactly_the_read_cap_commits_and_one_byte_more_is_refused_unwritten() {
    let (backend, identity) = (MapBackend::default(), TestIdentity::app(1 << 30));
    let storage = Storage::new(&backend, &identity);
    let ns = storage.own().clone();
    let mut keys = fill_to_the_read_cap(&storage, &ns);
    let stored = storage.get_many(&ns, &keys).unwrap();
    let mut preconditions: Vec<Precondition> =
        keys.iter().zip(stored).map(|(key, value)| Precondition::ValueEquals(key.clone(), value.unwrap())).collect();
    storage.transact(&ns, &preconditions, &[set("w", b"1")]).unwrap();
    assert_eq!(storage.get(&ns, "w").unwrap(), b"1");

    let before = backend.contents();
    keys.push("two".into());
    preconditions.push(Precondition::ValueEquals("two".into(), b"2".to_vec()));
    let read_before = backend.bytes_read.get();
    assert!(matches!(
        storage.transact(&ns, &preconditions, &[set("w", b"2")]),
        Err(Error::InvalidArgument(why)) if why.contains("smaller batches")
    ));
    assert!(backend.bytes_read.get() - read_before < DIRECTORY_BYTES, "no value was fetched");
    assert_eq!(backend.contents(), before);
    assert_eq!(storage.get(&ns, "w").unwrap(), b"1");
}

#[test]
fn transact_reads_only_the_values_its_preconditions_compare() {
    let (backend, identity) = (MapBackend::default(), TestIdentity::app(1 << 30));
    let storage = Storage::new(&backend, &identity);
    let ns = storage.own().clone();
    let keys: Vec<String> = (0..20).map(|i| format!("k{i}")).collect();
    for half in keys.chunks(10) {
        let big: Vec<(String, Vec<u8>)> = half.iter().map(|key| (key.clone(), vec![0; MAX_VALUE_BYTES])).collect();
        storage.set_many(&ns, &big, 0).unwrap();
    }
    storage.set(&ns, "flag", b"on", 0).unwrap();
    let read_before = backend.bytes_read.get();
    let overwrites: Vec<Write> = keys.iter().map(|key| set(key, b"small")).collect();
    storage.transact(&ns, &[Precondition::ValueEquals("flag".into(), b"on".to_vec())], &overwrites).unwrap();
    assert!(backend.bytes_read.get() - read_before < DIRECTORY_BYTES, "the overwritten values were not fetched");
    assert_eq!(storage.get(&ns, "k19").unwrap(), b"small");
}
