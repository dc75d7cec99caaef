//! The fs backend keeps data across restarts and refuses a second opener: at once, or after a
//! wait with `open_waiting`.

use std::sync::Arc;
use std::time::{Duration, Instant};

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

#[test]
fn open_waiting_gives_up_after_its_timeout_with_the_in_use_error() {
    let dir = tempfile::tempdir().unwrap();
    let _first = FsBackend::open(dir.path()).unwrap();
    let started = Instant::now();
    let error = FsBackend::open_waiting(dir.path(), Duration::from_millis(300)).err().expect("must fail").to_string();
    let took = started.elapsed();
    assert!(error.contains("in use") && error.contains("waited 300ms"), "{error}");
    // Not a performance bound: a check that it waits, and stops.
    assert!(took >= Duration::from_millis(300) && took < Duration::from_secs(20), "gave up after {took:?}");
}

#[test]
fn open_waiting_opens_once_the_holder_lets_go() {
    let dir = tempfile::tempdir().unwrap();
    let first = FsBackend::open(dir.path()).unwrap();
    let path = dir.path().to_owned();
    let waiter = std::thread::spawn(move || FsBackend::open_waiting(&path, Duration::from_secs(30)).map(|_| ()));
    std::thread::sleep(Duration::from_millis(300));
    drop(first);
    waiter.join().unwrap().expect("opens after the holder lets go");
}

#[test]
fn open_waiting_fails_at_once_on_errors_other_than_in_use() {
    let dir = tempfile::tempdir().unwrap();
    // A directory where the database file should be: an I/O error, not a lock.
    std::fs::create_dir(dir.path().join("zero-storage.redb")).unwrap();
    let started = Instant::now();
    let error = FsBackend::open_waiting(dir.path(), Duration::from_secs(60)).err().expect("must fail").to_string();
    assert!(error.contains("cannot open the database"), "{error}");
    assert!(started.elapsed() < Duration::from_secs(20), "retried an error that is not a lock");
}
