//! Batches, counters, compare-and-swap and transactions through the real component: exact
//! under concurrency, all-or-nothing on failure, on every backend.

use std::sync::Arc;

use zero_storage::{Config, Error, Precondition, ProcessIdentity, Runtime, StorageError, Write};
use zero_storage_component::limits::MAX_READ_VALUE_BYTES;
use zero_storage_tests::{backends, runtime_with, small_quotas};

fn storage_error<T: std::fmt::Debug>(result: Result<T, Error>) -> StorageError {
    match result {
        Err(Error::Storage(error)) => error,
        other => panic!("expected a storage error, got {other:?}"),
    }
}

fn set(key: &str, value: &[u8]) -> Write {
    Write::Set { key: key.into(), value: value.to_vec(), ttl_secs: 0 }
}

fn in_threads(
    runtime: &Runtime,
    threads: usize,
    work: impl Fn(usize, &mut zero_storage::Process) + Send + Sync + 'static,
) {
    let work = Arc::new(work);
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let runtime = runtime.clone();
            let work = work.clone();
            std::thread::spawn(move || {
                let mut process = runtime.process(ProcessIdentity::new("bank").unwrap()).unwrap();
                work(t, &mut process);
            })
        })
        .collect();
    for handle in handles {
        handle.join().expect("worker panicked");
    }
}

#[test]
fn eight_threads_incrementing_one_counter_lose_no_update() {
    for b in backends() {
        let (runtime, _) = runtime_with(b.backend.clone(), Config::default());
        let per_thread = if b.name == "fs" { 40 } else { 300 };
        in_threads(&runtime, 8, move |_, p| {
            for _ in 0..per_thread {
                p.increment("counter", 1).unwrap();
            }
        });
        let mut p = runtime.process(ProcessIdentity::new("bank").unwrap()).unwrap();
        assert_eq!(p.get("counter").unwrap(), (8 * per_thread).to_string().as_bytes(), "{}", b.name);
    }
}

#[test]
fn transfers_in_transactions_keep_the_total_invariant() {
    for b in backends() {
        let (runtime, _) = runtime_with(b.backend.clone(), Config::default());
        let accounts = 5;
        let mut p = runtime.process(ProcessIdentity::new("bank").unwrap()).unwrap();
        let opening: Vec<(String, Vec<u8>)> = (0..accounts).map(|a| (format!("acct/{a}"), b"1000".to_vec())).collect();
        p.set_many(&opening, 0).unwrap();
        let per_thread = if b.name == "fs" { 15 } else { 150 };
        in_threads(&runtime, 8, move |t, p| {
            let mut done = 0;
            let mut i = t;
            while done < per_thread {
                i += 7;
                let (from, to) =
                    (format!("acct/{}", i % accounts), format!("acct/{}", (i / accounts + 1 + i) % accounts));
                if from == to {
                    continue;
                }
                let a = p.get_versioned(&from).unwrap();
                let c = p.get_versioned(&to).unwrap();
                let amount = (i % 13) as i64;
                let balance = |v: &[u8]| std::str::from_utf8(v).unwrap().parse::<i64>().unwrap();
                let preconditions =
                    [Precondition::VersionIs(from.clone(), a.version), Precondition::VersionIs(to.clone(), c.version)];
                let writes = [
                    set(&from, (balance(&a.value) - amount).to_string().as_bytes()),
                    set(&to, (balance(&c.value) + amount).to_string().as_bytes()),
                ];
                match p.transact(&preconditions, &writes) {
                    Ok(_) => done += 1,
                    Err(Error::Storage(StorageError::PreconditionFailed(_))) => {} // raced: retry
                    Err(other) => panic!("transfer failed: {other}"),
                }
            }
        });
        let keys: Vec<String> = (0..accounts).map(|a| format!("acct/{a}")).collect();
        let total: i64 = p
            .get_many(&keys)
            .unwrap()
            .into_iter()
            .map(|v| std::str::from_utf8(&v.unwrap()).unwrap().parse::<i64>().unwrap())
            .sum();
        assert_eq!(total, 1000 * accounts as i64, "{}: money was created or destroyed", b.name);
    }
}

#[test]
fn concurrent_compare_and_swap_loops_never_lose_an_update() {
    for b in backends() {
        let (runtime, _) = runtime_with(b.backend.clone(), Config::default());
        let per_thread = if b.name == "fs" { 20 } else { 100 };
        in_threads(&runtime, 8, move |t, p| {
            for i in 0..per_thread {
                loop {
                    let (version, mut list) = match p.get_versioned("log") {
                        Ok(found) => (Some(found.version), found.value),
                        Err(e) if e.is_not_found() => (None, Vec::new()),
                        Err(e) => panic!("{e}"),
                    };
                    list.extend_from_slice(format!("{t}:{i};").as_bytes());
                    let precondition = match version {
                        Some(v) => Precondition::VersionIs("log".into(), v),
                        None => Precondition::Absent("log".into()),
                    };
                    match p.transact(&[precondition], &[set("log", &list)]) {
                        Ok(_) => break,
                        Err(Error::Storage(StorageError::PreconditionFailed(0))) => continue,
                        Err(other) => panic!("{other}"),
                    }
                }
            }
        });
        let mut p = runtime.process(ProcessIdentity::new("bank").unwrap()).unwrap();
        let log = String::from_utf8(p.get("log").unwrap()).unwrap();
        assert_eq!(log.matches(';').count(), 8 * per_thread, "{}: every swap is in the log", b.name);
    }
}

#[test]
fn failed_preconditions_and_over_quota_transactions_change_nothing() {
    for b in backends() {
        let (runtime, _) = runtime_with(b.backend.clone(), small_quotas(100));
        let mut p = runtime.process(ProcessIdentity::new("bank").unwrap()).unwrap();
        p.set_many(&[("a".into(), b"1".to_vec()), ("b".into(), b"2".to_vec())], 0).unwrap();
        let before = p.quota().unwrap();
        let v = p.get_versioned("a").unwrap().version;
        let failing = [
            (vec![Precondition::Absent("a".into())], 0),
            (vec![Precondition::Exists("a".into()), Precondition::Exists("zzz".into())], 1),
            (vec![Precondition::VersionIs("a".into(), v + 1000)], 0),
            (vec![Precondition::VersionIs("a".into(), v), Precondition::ValueEquals("b".into(), b"3".to_vec())], 1),
        ];
        for (preconditions, index) in failing {
            let result = p.transact(&preconditions, &[set("a", b"X"), Write::Delete("b".into()), set("c", b"new")]);
            assert_eq!(storage_error(result), StorageError::PreconditionFailed(index), "{}", b.name);
        }
        assert_eq!(
            storage_error(p.transact(&[], &[set("a", &[0; 60]), set("c", &[0; 60])])),
            StorageError::QuotaExceeded
        );
        assert_eq!(
            p.get_many(&["a".into(), "b".into(), "c".into()]).unwrap(),
            [Some(b"1".to_vec()), Some(b"2".to_vec()), None]
        );
        assert_eq!(p.quota().unwrap(), before, "{}", b.name);
        // Non-numeric increment and compare-and-swap after delete fail the same way.
        p.set("b", b"x", 0).unwrap();
        assert!(matches!(storage_error(p.increment("b", 1)), StorageError::InvalidArgument(_)));
        assert_eq!(p.get("b").unwrap(), b"x");
        let seen = p.get_versioned("a").unwrap().version;
        p.delete("a").unwrap();
        assert_eq!(
            storage_error(p.transact(&[Precondition::VersionIs("a".into(), seen)], &[set("a", b"2")])),
            StorageError::PreconditionFailed(0)
        );
        assert!(p.get("a").unwrap_err().is_not_found());
    }
}

#[test]
fn get_many_of_exactly_the_read_cap_is_answered_and_one_byte_more_is_refused() {
    for b in backends() {
        let (runtime, _) = runtime_with(b.backend.clone(), Config::default());
        let mut p = runtime.process(ProcessIdentity::new("bank").unwrap()).unwrap();
        p.set("big", &vec![7; 1 << 20], 0).unwrap();
        p.set("short", &vec![8; (1 << 20) - 1], 0).unwrap();
        p.set_many(&[("one".into(), b"1".to_vec()), ("two".into(), b"2".to_vec())], 0).unwrap();
        let before = p.quota().unwrap();
        // A key named twice is in the answer twice, so it counts twice: these make exactly 16 MiB.
        let mut keys = vec!["big".to_string(); 15];
        keys.extend(["short".to_string(), "one".to_string()]);
        for bucket in [false, true] {
            let mut p = if bucket { p.bucket("app:bank").unwrap() } else { p.own() };
            let values = p.get_many(&keys).unwrap();
            let bytes: usize = values.iter().flatten().map(Vec::len).sum();
            assert_eq!(bytes, MAX_READ_VALUE_BYTES, "{} (bucket: {bucket})", b.name);
            let over: Vec<String> = keys.iter().cloned().chain(["two".to_string()]).collect();
            match storage_error(p.get_many(&over)) {
                StorageError::InvalidArgument(why) => assert!(why.contains("smaller batches"), "{}: {why}", b.name),
                other => panic!("{}: expected invalid-argument, got {other:?}", b.name),
            }
        }
        assert_eq!(p.quota().unwrap(), before, "{}", b.name);
        assert_eq!(p.get_many(&["two".into()]).unwrap(), [Some(b"2".to_vec())], "{}", b.name);
    }
}
