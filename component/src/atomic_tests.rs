//! Unit tests of batches, counters and transactions over an in-memory backend.

use super::*;
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
