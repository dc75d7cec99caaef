//! Unit tests of the storage rules over an in-memory backend.

use super::*;
use crate::testing::{MapBackend, TestIdentity};

fn fixture(quota: u64) -> (MapBackend, TestIdentity) {
    (MapBackend::default(), TestIdentity::app(quota))
}

#[test]
fn set_get_overwrite_and_delete_round_trip() {
    let (backend, identity) = fixture(1 << 20);
    let storage = Storage::new(&backend, &identity);
    let ns = storage.own().clone();
    assert_eq!(storage.get(&ns, "a"), Err(Error::NotFound));
    storage.set(&ns, "a", b"one", 0).unwrap();
    assert_eq!(storage.get(&ns, "a").unwrap(), b"one");
    storage.set(&ns, "a", b"three", 0).unwrap();
    assert_eq!(storage.get(&ns, "a").unwrap(), b"three");
    assert!(storage.exists(&ns, "a").unwrap());
    assert!(storage.delete(&ns, "a").unwrap());
    assert!(!storage.delete(&ns, "a").unwrap());
    assert!(!storage.exists(&ns, "a").unwrap());
    let quota = storage.quota(&ns).unwrap();
    assert_eq!((quota.used_bytes, quota.key_count), (0, 0));
    assert_eq!(backend.records("app:test"), 1, "only the usage record remains");
}

#[test]
fn usage_counts_key_and_value_bytes_and_overwrites_count_the_difference() {
    let (backend, identity) = fixture(1 << 20);
    let storage = Storage::new(&backend, &identity);
    let ns = storage.own().clone();
    storage.set(&ns, "ab", &[0; 10], 0).unwrap();
    storage.set(&ns, "c", &[0; 5], 0).unwrap();
    assert_eq!(storage.quota(&ns).unwrap().used_bytes, 12 + 6);
    storage.set(&ns, "ab", &[0; 3], 0).unwrap();
    let quota = storage.quota(&ns).unwrap();
    assert_eq!((quota.used_bytes, quota.key_count, quota.quota_bytes), (5 + 6, 2, 1 << 20));
}

#[test]
fn write_landing_exactly_on_quota_succeeds_and_one_byte_over_keeps_the_old_value() {
    let (backend, identity) = fixture(100);
    let storage = Storage::new(&backend, &identity);
    let ns = storage.own().clone();
    storage.set(&ns, "k", &[1; 99], 0).unwrap();
    assert_eq!(storage.quota(&ns).unwrap().used_bytes, 100);
    assert_eq!(storage.set(&ns, "k", &[2; 100], 0), Err(Error::QuotaExceeded));
    assert_eq!(storage.set(&ns, "other", b"", 0), Err(Error::QuotaExceeded));
    assert_eq!(storage.get(&ns, "k").unwrap(), vec![1; 99]);
    assert_eq!(storage.quota(&ns).unwrap().used_bytes, 100);
    // Shrinking is always allowed.
    storage.set(&ns, "k", &[3; 10], 0).unwrap();
    assert_eq!(storage.quota(&ns).unwrap().used_bytes, 11);
}

#[test]
fn bad_keys_and_values_get_typed_errors_and_change_nothing() {
    let (backend, identity) = fixture(1 << 30);
    let storage = Storage::new(&backend, &identity);
    let ns = storage.own().clone();
    storage.set(&ns, "keep", b"v", 0).unwrap();
    let long = "k".repeat(257);
    assert_eq!(storage.set(&ns, &long, b"", 0), Err(Error::KeyTooLong));
    assert_eq!(storage.get(&ns, &long), Err(Error::KeyTooLong));
    assert!(matches!(storage.set(&ns, "", b"", 0), Err(Error::InvalidArgument(_))));
    assert_eq!(storage.set(&ns, "keep", &vec![0; (1 << 20) + 1], 0), Err(Error::ValueTooLarge));
    assert!(matches!(storage.set(&ns, "keep", b"", u64::MAX), Err(Error::InvalidArgument(_))));
    storage.set(&ns, &"k".repeat(256), &vec![0; 1 << 20], 0).unwrap();
    assert_eq!(storage.get(&ns, "keep").unwrap(), b"v");
    assert_eq!(storage.quota(&ns).unwrap().used_bytes, 5 + 256 + (1 << 20));
}

#[test]
fn entry_disappears_exactly_at_expiry_and_stops_counting() {
    let (backend, identity) = fixture(1 << 20);
    let storage = Storage::new(&backend, &identity);
    let ns = storage.own().clone();
    storage.set(&ns, "t", &[0; 9], 2).unwrap();
    identity.now_ms.set(identity.now_ms.get() + 1999);
    assert!(storage.exists(&ns, "t").unwrap());
    assert_eq!(storage.list(&ns, "", 0, None).unwrap().keys, ["t"]);
    identity.now_ms.set(identity.now_ms.get() + 1);
    assert_eq!(storage.get(&ns, "t"), Err(Error::NotFound));
    assert!(!storage.exists(&ns, "t").unwrap());
    assert!(storage.list(&ns, "", 0, None).unwrap().keys.is_empty());
    let quota = storage.quota(&ns).unwrap();
    assert_eq!((quota.used_bytes, quota.key_count), (0, 0));
    assert_eq!(backend.records("app:test"), 1, "quota reclaimed the expired entry");
}

#[test]
fn overwriting_with_no_ttl_removes_the_expiry() {
    let (backend, identity) = fixture(1 << 20);
    let storage = Storage::new(&backend, &identity);
    let ns = storage.own().clone();
    storage.set(&ns, "t", b"a", 1).unwrap();
    storage.set(&ns, "t", b"b", 0).unwrap();
    identity.now_ms.set(identity.now_ms.get() + 10_000);
    assert_eq!(storage.get(&ns, "t").unwrap(), b"b");
    assert_eq!(storage.sweep(&ns).unwrap(), 0);
}

#[test]
fn write_over_quota_reclaims_expired_entries_first() {
    let (backend, identity) = fixture(100);
    let storage = Storage::new(&backend, &identity);
    let ns = storage.own().clone();
    storage.set(&ns, "old", &[0; 90], 5).unwrap();
    identity.now_ms.set(identity.now_ms.get() + 5000);
    storage.set(&ns, "new", &[0; 90], 0).unwrap();
    assert_eq!(storage.quota(&ns).unwrap().used_bytes, 93);
}

#[test]
fn delete_of_expired_entry_reports_absent_and_frees_it() {
    let (backend, identity) = fixture(100);
    let storage = Storage::new(&backend, &identity);
    let ns = storage.own().clone();
    storage.set(&ns, "t", &[0; 10], 1).unwrap();
    identity.now_ms.set(identity.now_ms.get() + 1000);
    assert!(!storage.delete(&ns, "t").unwrap());
    assert_eq!(backend.records("app:test"), 1);
}

#[test]
fn list_pages_in_byte_order_and_resumes_after_the_cursor_across_changes() {
    let (backend, identity) = fixture(1 << 20);
    let storage = Storage::new(&backend, &identity);
    let ns = storage.own().clone();
    for key in ["b", "a", "c", "d", "é", "aa", "z"] {
        storage.set(&ns, key, b"", 0).unwrap();
    }
    let first = storage.list(&ns, "", 3, None).unwrap();
    assert_eq!(first.keys, ["a", "aa", "b"]);
    storage.delete(&ns, "c").unwrap();
    storage.set(&ns, "ab", b"", 0).unwrap(); // before the cursor: not seen
    storage.set(&ns, "bb", b"", 0).unwrap(); // after the cursor: seen
    let second = storage.list(&ns, "", 3, first.next_cursor.as_deref()).unwrap();
    assert_eq!(second.keys, ["bb", "d", "z"]);
    let third = storage.list(&ns, "", 3, second.next_cursor.as_deref()).unwrap();
    assert_eq!(third.keys, ["é"]);
    assert_eq!(third.next_cursor, None);
}

#[test]
fn list_filters_by_prefix_and_a_full_last_page_has_no_cursor() {
    let (backend, identity) = fixture(1 << 20);
    let storage = Storage::new(&backend, &identity);
    let ns = storage.own().clone();
    for key in ["user/1", "user/2", "users", "a", "v"] {
        storage.set(&ns, key, b"", 0).unwrap();
    }
    let page = storage.list(&ns, "user/", 2, None).unwrap();
    assert_eq!(page.keys, ["user/1", "user/2"]);
    assert_eq!(page.next_cursor, None);
    assert!(storage.list(&ns, "nothing", 10, None).unwrap().keys.is_empty());
}

#[test]
fn list_skips_expired_entries_without_losing_live_ones() {
    let (backend, identity) = fixture(1 << 20);
    let storage = Storage::new(&backend, &identity);
    let ns = storage.own().clone();
    for i in 0..50 {
        storage.set(&ns, &format!("k{i:02}"), b"", if i % 5 == 0 { 0 } else { 1 }).unwrap();
    }
    identity.now_ms.set(identity.now_ms.get() + 1000);
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = storage.list(&ns, "k", 2, cursor.as_deref()).unwrap();
        seen.extend(page.keys);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, (0..50).step_by(5).map(|i| format!("k{i:02}")).collect::<Vec<_>>());
}

#[test]
fn garbage_cursor_and_long_prefix_are_rejected() {
    let (backend, identity) = fixture(1 << 20);
    let storage = Storage::new(&backend, &identity);
    let ns = storage.own().clone();
    assert!(matches!(storage.list(&ns, "", 10, Some("garbage")), Err(Error::InvalidArgument(_))));
    assert_eq!(storage.list(&ns, &"p".repeat(257), 10, None), Err(Error::KeyTooLong));
}

#[test]
fn other_namespaces_need_a_grant_and_read_only_grants_refuse_writes() {
    let (backend, mut identity) = fixture(1 << 20);
    identity.grants.insert("user:alice".into(), Access::ReadWrite);
    identity.grants.insert("system".into(), Access::ReadOnly);
    let storage = Storage::new(&backend, &identity);
    assert_eq!(storage.open("app:other"), Err(Error::PermissionDenied));
    assert!(matches!(storage.open("app:a:b"), Err(Error::InvalidArgument(_))));
    let alice = storage.open("user:alice").unwrap();
    storage.set(&alice, "k", b"v", 0).unwrap();
    assert_eq!(storage.get(storage.own(), "k"), Err(Error::NotFound), "namespaces are isolated");
    let system = storage.open("system").unwrap();
    assert_eq!(storage.set(&system, "k", b"", 0), Err(Error::PermissionDenied));
    assert_eq!(storage.delete(&system, "k"), Err(Error::PermissionDenied));
    assert_eq!(storage.get(&system, "k"), Err(Error::NotFound));
}

#[test]
fn backend_failure_is_reported_and_changes_nothing() {
    let (backend, identity) = fixture(1 << 20);
    let storage = Storage::new(&backend, &identity);
    let ns = storage.own().clone();
    storage.set(&ns, "k", b"old", 0).unwrap();
    backend.fail_commits.set(true);
    assert!(matches!(storage.set(&ns, "k", b"new", 0), Err(Error::Backend(_))));
    assert!(matches!(storage.delete(&ns, "k"), Err(Error::Backend(_))));
    backend.fail_commits.set(false);
    assert_eq!(storage.get(&ns, "k").unwrap(), b"old");
    assert_eq!(storage.quota(&ns).unwrap().used_bytes, 4);
}

#[test]
fn two_instances_over_one_backend_never_act_on_stale_knowledge() {
    let (backend, identity) = fixture(100);
    let a = Storage::new(&backend, &identity);
    let b = Storage::new(&backend, &identity);
    let ns = a.own().clone();
    a.set(&ns, "k", b"from a", 0).unwrap();
    b.set(&ns, "k", b"from b, longer", 0).unwrap();
    // a last wrote "k" itself, but b changed it since: a must notice, not trust what it wrote.
    assert_eq!(a.get(&ns, "k").unwrap(), b"from b, longer");
    b.delete(&ns, "k").unwrap();
    assert!(!a.delete(&ns, "k").unwrap(), "a must see that b already deleted it");
    a.set(&ns, "k", b"again", 0).unwrap();
    assert!(b.delete(&ns, "k").unwrap(), "b must see that a wrote it again");
    // Usage seen through a stale cache must not decide a quota error.
    a.set(&ns, "big", &[0; 90], 0).unwrap();
    b.delete(&ns, "big").unwrap();
    a.set(&ns, "other", &[0; 90], 0).unwrap();
    assert_eq!(a.quota(&ns).unwrap().used_bytes, 95);
    assert_eq!(b.quota(&ns).unwrap().used_bytes, 95);
    // Nor a failed precondition.
    b.delete(&ns, "other").unwrap();
    let absent = [crate::Precondition::Absent("other".into())];
    assert_eq!(a.transact(&ns, &absent, &[]), Ok(0));
}

#[test]
fn a_get_reads_one_record_when_it_knows_the_directory_record_and_never_serves_a_stale_one() {
    let (backend, identity) = fixture(1 << 20);
    let a = Storage::new(&backend, &identity);
    let b = Storage::new(&backend, &identity);
    let ns = a.own().clone();
    let read_by = |get: &dyn Fn() -> Result<Vec<u8>>| {
        let before = backend.bytes_read.get();
        let got = get();
        (got, backend.bytes_read.get() - before)
    };
    a.set(&ns, "k", b"0123456789", 0).unwrap();
    // a wrote "k": its value record alone answers (10 bytes read, no directory record).
    assert_eq!(read_by(&|| a.get(&ns, "k")), (Ok(b"0123456789".to_vec()), 10));
    // b rewrites it with a time to live: a's cached directory record is stale, the versions
    // differ, and a reads both records and sees b's value.
    b.set(&ns, "k", b"from b", 2).unwrap();
    let (got, bytes) = read_by(&|| a.get(&ns, "k"));
    assert_eq!(got.unwrap(), b"from b");
    assert!(bytes > 6 + 6, "the directory record was read too ({bytes} bytes)");
    // Now a knows b's record, expiry included: one record, and the expiry still applies.
    assert_eq!(read_by(&|| a.get(&ns, "k")), (Ok(b"from b".to_vec()), 6));
    identity.now_ms.set(identity.now_ms.get() + 2000);
    assert_eq!(a.get(&ns, "k"), Err(Error::NotFound));
    // b deletes it, then writes it again: a never answers from what it knew.
    identity.now_ms.set(identity.now_ms.get() - 2000);
    assert!(b.delete(&ns, "k").unwrap());
    assert_eq!(a.get(&ns, "k"), Err(Error::NotFound));
    b.set(&ns, "k", b"again", 0).unwrap();
    assert_eq!(a.get(&ns, "k").unwrap(), b"again");
    // A get that remembered a directory record leaves writes exact: a's write plans from it,
    // b changed usage meanwhile, and usage stays the sum of the live entries.
    b.set(&ns, "other", b"xyz", 0).unwrap();
    a.set(&ns, "k", b"longer value", 0).unwrap();
    let quota = a.quota(&ns).unwrap();
    assert_eq!((quota.used_bytes, quota.key_count), (1 + 12 + 5 + 3, 2));
}
