//! The store contract, end to end through the real storage component in the real host, run on
//! every backend. Each test runs its scenario once per backend.

use zero_storage::{Config, Error, ProcessIdentity, StorageError};
use zero_storage_tests::{backends, runtime_with, small_quotas};

const MIB: usize = 1 << 20;

fn storage_error<T: std::fmt::Debug>(result: Result<T, Error>) -> StorageError {
    match result {
        Err(Error::Storage(error)) => error,
        other => panic!("expected a storage error, got {other:?}"),
    }
}

fn app(name: &str) -> ProcessIdentity {
    ProcessIdentity::new(name).unwrap()
}

#[test]
fn every_operation_round_trips_on_every_backend() {
    for b in backends() {
        let (runtime, _) = runtime_with(b.backend.clone(), Config::default());
        let mut p = runtime.process(app("notes")).unwrap();
        assert!(p.get("k").unwrap_err().is_not_found(), "{}", b.name);
        p.set("k", b"v1", 0).unwrap();
        p.set("k", &[0, 159, 146, 150, 255], 0).unwrap();
        assert_eq!(p.get("k").unwrap(), [0, 159, 146, 150, 255], "{}: binary-safe overwrite", b.name);
        assert!(p.exists("k").unwrap());
        p.set("empty", b"", 0).unwrap();
        assert_eq!(p.get("empty").unwrap(), b"");
        let quota = p.quota().unwrap();
        assert_eq!(quota.namespace, "app:notes");
        assert_eq!(
            (quota.used_bytes, quota.key_count, quota.quota_bytes),
            (1 + 5 + 5, 2, 10 * MIB as u64),
            "{}",
            b.name
        );
        assert!(p.delete("k").unwrap());
        assert!(!p.delete("k").unwrap());
        assert!(!p.exists("k").unwrap());
        assert_eq!(p.list("", 0, None).unwrap().keys, ["empty"]);
        assert_eq!(p.quota().unwrap().used_bytes, 5);
    }
}

#[test]
fn keys_and_values_at_the_limits_are_accepted_and_one_byte_more_is_refused() {
    for b in backends() {
        let mut config = Config::default();
        config.quotas.app = 4 * MIB as u64;
        let (runtime, _) = runtime_with(b.backend.clone(), config);
        let mut p = runtime.process(app("limits")).unwrap();
        let key256 = "k".repeat(256);
        p.set(&key256, &vec![7; MIB], 0).unwrap();
        assert_eq!(p.get(&key256).unwrap().len(), MIB, "{}", b.name);
        assert_eq!(storage_error(p.set(&"k".repeat(257), b"x", 0)), StorageError::KeyTooLong);
        assert_eq!(storage_error(p.get(&"k".repeat(257))), StorageError::KeyTooLong);
        assert_eq!(storage_error(p.set(&key256, &vec![8; MIB + 1], 0)), StorageError::ValueTooLarge);
        assert!(matches!(storage_error(p.set("", b"x", 0)), StorageError::InvalidArgument(_)));
        assert!(matches!(storage_error(p.set("t", b"x", u64::MAX)), StorageError::InvalidArgument(_)));
        // Multi-byte UTF-8: 128 two-byte characters are 256 bytes; one more is too long.
        p.set(&"é".repeat(128), b"", 0).unwrap();
        assert_eq!(storage_error(p.set(&format!("{}a", "é".repeat(128)), b"", 0)), StorageError::KeyTooLong);
        // Nothing the refused writes carried was stored.
        assert_eq!(p.get(&key256).unwrap(), vec![7; MIB], "{}", b.name);
        let quota = p.quota().unwrap();
        assert_eq!((quota.used_bytes, quota.key_count), (256 + MIB as u64 + 256, 2), "{}", b.name);
    }
}

#[test]
fn write_landing_exactly_on_the_quota_succeeds_and_one_byte_over_keeps_the_old_value() {
    for b in backends() {
        let (runtime, _) = runtime_with(b.backend.clone(), small_quotas(1000));
        let mut p = runtime.process(app("q")).unwrap();
        p.set("a", &[1; 499], 0).unwrap(); // 500
        p.set("b", &[2; 499], 0).unwrap(); // 1000: exactly the quota
        assert_eq!(p.quota().unwrap().used_bytes, 1000, "{}", b.name);
        assert_eq!(storage_error(p.set("b", &[3; 500], 0)), StorageError::QuotaExceeded);
        assert_eq!(storage_error(p.set("c", b"", 0)), StorageError::QuotaExceeded);
        assert_eq!(p.get("b").unwrap(), vec![2; 499], "{}: the old value stays", b.name);
        assert!(!p.exists("c").unwrap());
        // Freeing space makes room again; shrinking is always allowed.
        p.set("a", &[1; 99], 0).unwrap();
        p.set("c", &[4; 399], 0).unwrap();
        let quota = p.quota().unwrap();
        assert_eq!((quota.used_bytes, quota.key_count), (1000, 3), "{}", b.name);
    }
}

#[test]
fn entries_expire_exactly_at_their_ttl_and_stop_counting() {
    for b in backends() {
        let (runtime, clock) = runtime_with(b.backend.clone(), small_quotas(100));
        let mut p = runtime.process(app("ttl")).unwrap();
        p.set("short", &[0; 45], 2).unwrap(); // 50 bytes
        p.set("keep", &[0; 46], 0).unwrap(); // 50 bytes: exactly the quota
        clock.advance_ms(1999);
        assert_eq!(p.get("short").unwrap().len(), 45, "{}: still live 1 ms before expiry", b.name);
        assert_eq!(p.list("", 10, None).unwrap().keys, ["keep", "short"]);
        assert_eq!(storage_error(p.set("new", &[0; 40], 0)), StorageError::QuotaExceeded);
        clock.advance_ms(1);
        assert!(p.get("short").unwrap_err().is_not_found(), "{}: gone exactly at expiry", b.name);
        assert!(!p.exists("short").unwrap());
        assert_eq!(p.list("", 10, None).unwrap().keys, ["keep"]);
        // The expired bytes no longer count: a write that needs them succeeds.
        p.set("new", &[0; 40], 0).unwrap();
        let quota = p.quota().unwrap();
        assert_eq!((quota.used_bytes, quota.key_count), (50 + 43, 2), "{}", b.name);
    }
}

#[test]
fn sweep_reclaims_expired_entries_and_keeps_live_ones() {
    for b in backends() {
        let (runtime, clock) = runtime_with(b.backend.clone(), Config::default());
        let mut p = runtime.process(app("sweep")).unwrap();
        for i in 0..300 {
            p.set(&format!("k{i:03}"), b"v", if i % 3 == 0 { 0 } else { 10 }).unwrap();
        }
        clock.advance_ms(10_000);
        let mut admin = runtime.process(ProcessIdentity::system("admin").unwrap()).unwrap();
        assert_eq!(admin.sweep("app:sweep").unwrap(), 200, "{}", b.name);
        assert_eq!(admin.sweep("app:sweep").unwrap(), 0);
        let quota = p.quota().unwrap();
        assert_eq!((quota.key_count, quota.used_bytes), (100, 100 * 5), "{}", b.name);
        let mut mallory = runtime.process(app("mallory")).unwrap();
        assert_eq!(storage_error(mallory.sweep("app:sweep")), StorageError::PermissionDenied);
    }
}

#[test]
fn list_is_ordered_bytewise_filtered_by_prefix_and_paginates_across_changes() {
    for b in backends() {
        let (runtime, _) = runtime_with(b.backend.clone(), Config::default());
        let mut p = runtime.process(app("list")).unwrap();
        // UTF-8 byte order: U+FF5E (EF BD 9E) sorts before U+1F600 (F0 9F 98 80), although in
        // UTF-16 the surrogate pair D83D sorts before FF5E.
        for key in ["b", "a", "😀", "～", "a/2", "a/1", "a/10", "B", "\u{0}x"] {
            p.set(key, b"", 0).unwrap();
        }
        let all = p.list("", 1000, None).unwrap();
        assert_eq!(all.keys, ["\u{0}x", "B", "a", "a/1", "a/10", "a/2", "b", "～", "😀"], "{}", b.name);
        assert_eq!(all.next_cursor, None);
        assert_eq!(p.list("a/", 0, None).unwrap().keys, ["a/1", "a/10", "a/2"]);
        assert!(p.list("zzz", 10, None).unwrap().keys.is_empty());

        let first = p.list("", 3, None).unwrap();
        assert_eq!(first.keys, ["\u{0}x", "B", "a"]);
        p.delete("a/1").unwrap(); // after the cursor, deleted: not seen
        p.set("A", b"", 0).unwrap(); // before the cursor: not seen
        p.set("a/0", b"", 0).unwrap(); // after the cursor, inserted: seen
        let second = p.list("", 3, first.next_cursor.as_deref()).unwrap();
        assert_eq!(second.keys, ["a/0", "a/10", "a/2"], "{}", b.name);
        let third = p.list("", 3, second.next_cursor.as_deref()).unwrap();
        assert_eq!(third.keys, ["b", "～", "😀"]);
        assert_eq!(third.next_cursor, None, "{}: no cursor when nothing follows", b.name);
    }
}

#[test]
fn list_limits_are_clamped_and_bad_cursors_and_prefixes_are_refused() {
    for b in backends() {
        let (runtime, _) = runtime_with(b.backend.clone(), Config::default());
        let mut p = runtime.process(app("pages")).unwrap();
        for i in 0..1005 {
            p.set(&format!("{i:04}"), b"", 0).unwrap();
        }
        assert_eq!(p.list("", 0, None).unwrap().keys.len(), 100, "{}: 0 means the default", b.name);
        let big = p.list("", u32::MAX, None).unwrap();
        assert_eq!(big.keys.len(), 1000, "{}: clamped to 1000", b.name);
        assert_eq!(p.list("", 1000, big.next_cursor.as_deref()).unwrap().keys.len(), 5);
        for cursor in ["", "garbage", "c", "c6", "cZZ", "cff", &format!("c{}", "61".repeat(300))] {
            assert!(
                matches!(storage_error(p.list("", 10, Some(cursor))), StorageError::InvalidArgument(_)),
                "{cursor}"
            );
        }
        assert_eq!(storage_error(p.list(&"p".repeat(257), 10, None)), StorageError::KeyTooLong);
    }
}

#[test]
fn namespaces_are_isolated_and_names_cannot_collide() {
    for b in backends() {
        let (runtime, _) = runtime_with(b.backend.clone(), Config::default());
        let mut a = runtime.process(app("a")).unwrap();
        let mut ab = runtime.process(app("ab")).unwrap();
        a.set("b:c", b"from app:a", 0).unwrap();
        a.set("shared", b"a", 0).unwrap();
        ab.set("shared", b"ab", 0).unwrap();
        assert!(ab.get("b:c").unwrap_err().is_not_found(), "{}", b.name);
        assert_eq!(a.get("shared").unwrap(), b"a");
        assert_eq!(ab.get("shared").unwrap(), b"ab");
        assert_eq!(a.list("", 10, None).unwrap().keys, ["b:c", "shared"]);
        assert_eq!(ab.quota().unwrap().key_count, 1);
        // `app:a` + key `b:c` can never meet a namespace `app:a:b` + key `c`: that name is refused.
        assert!(ProcessIdentity::new("a:b").is_err());
        let mut admin = runtime.process(ProcessIdentity::system("admin").unwrap()).unwrap();
        assert!(matches!(storage_error(admin.bucket("app:a:b").map(|_| ())), StorageError::InvalidArgument(_)));
        assert_eq!(admin.bucket("app:a").unwrap().get("b:c").unwrap(), b"from app:a");
    }
}

#[test]
fn other_namespaces_are_permission_denied_before_existence_is_revealed() {
    for b in backends() {
        let (runtime, _) = runtime_with(b.backend.clone(), Config::default());
        let mut victim = runtime.process(app("victim")).unwrap();
        victim.set("secret", b"s", 0).unwrap();
        let mut p = runtime.process(app("mallory").with_user("mallory").unwrap()).unwrap();
        for namespace in ["app:victim", "app:empty", "system", "user:alice"] {
            assert_eq!(storage_error(p.bucket(namespace).map(|_| ())), StorageError::PermissionDenied, "{namespace}");
        }
        let mut mine = p.bucket("user:mallory").unwrap();
        mine.set("mine", b"m", 0).unwrap();
        assert_eq!(mine.quota().unwrap().quota_bytes, 100 * MIB as u64, "{}: user quota", b.name);
        let mut system = runtime.process(ProcessIdentity::system("ops").unwrap()).unwrap();
        assert_eq!(system.quota().unwrap().namespace, "system");
        assert_eq!(system.quota().unwrap().quota_bytes, MIB as u64);
        assert_eq!(system.bucket("user:mallory").unwrap().get("mine").unwrap(), b"m");
    }
}

#[test]
fn configured_quota_overrides_apply_to_one_namespace() {
    for b in backends() {
        let config = Config::from_toml("[quotas.namespaces]\n\"app:tiny\" = 10\n").unwrap();
        let (runtime, _) = runtime_with(b.backend.clone(), config);
        let mut tiny = runtime.process(app("tiny")).unwrap();
        tiny.set("k", &[0; 9], 0).unwrap();
        assert_eq!(storage_error(tiny.set("k", &[0; 10], 0)), StorageError::QuotaExceeded, "{}", b.name);
        let mut other = runtime.process(app("other")).unwrap();
        other.set("k", &[0; 1000], 0).unwrap();
    }
}
