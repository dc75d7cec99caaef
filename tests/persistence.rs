//! The fs backend keeps data across restarts and refuses a second opener.

use std::sync::Arc;

use zero_storage::backend::FsBackend;
use zero_storage::{Config, ProcessIdentity};
use zero_storage_tests::runtime_with;

#[test]
fn fs_data_survives_closing_and_reopening() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (runtime, _) = runtime_with(Arc::new(FsBackend::open(dir.path()).unwrap()), Config::default());
        let mut p = runtime.process(ProcessIdentity::new("notes").unwrap()).unwrap();
        for i in 0..50 {
            p.set(&format!("note/{i:02}"), format!("text {i}").as_bytes(), 0).unwrap();
        }
        p.delete("note/07").unwrap();
        p.set("ttl", b"expires", 3600).unwrap();
    }
    let (runtime, _) = runtime_with(Arc::new(FsBackend::open(dir.path()).unwrap()), Config::default());
    let mut p = runtime.process(ProcessIdentity::new("notes").unwrap()).unwrap();
    assert_eq!(p.get("note/42").unwrap(), b"text 42");
    assert!(p.get("note/07").unwrap_err().is_not_found());
    assert_eq!(p.get("ttl").unwrap(), b"expires");
    let quota = p.quota().unwrap();
    let expected: u64 = (0..50).filter(|i| *i != 7).map(|i| 7 + format!("text {i}").len() as u64).sum::<u64>() + 3 + 7;
    assert_eq!((quota.key_count, quota.used_bytes), (50, expected));
    assert_eq!(p.list("note/", 1000, None).unwrap().keys.len(), 49);
}

#[test]
fn a_data_directory_in_use_is_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let _first = FsBackend::open(dir.path()).unwrap();
    let error = FsBackend::open(dir.path()).err().expect("second open must fail").to_string();
    assert!(error.contains("in use"), "{error}");
}
