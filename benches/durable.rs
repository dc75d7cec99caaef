//! Group 2: the durable path. Durable set and get through Zero Storage's fs backend beside raw
//! redb (`Durability::Immediate`) and SQLite (WAL, `synchronous=FULL`) doing the same
//! operations on the same disk; then write throughput with 1, 2, 8 and 32 concurrent writers
//! (one process each, in its own namespace, and all in one namespace).

use std::sync::Arc;
use std::time::Instant;

use redb::{Database, ReadableDatabase, TableDefinition};
use zero_storage::backend::FsBackend;
use zero_storage::{ProcessIdentity, Runtime, RuntimeBuilder};
use zero_storage_benches::{header, key, report, time};

const RAW: TableDefinition<&[u8], &[u8]> = TableDefinition::new("raw");
const VALUE: [u8; 100] = [7; 100];
const DURABLE_WRITES: usize = 200;

fn fs_runtime(dir: &std::path::Path) -> Runtime {
    RuntimeBuilder::new().backend(Arc::new(FsBackend::open(dir).unwrap())).build().unwrap()
}

fn main() {
    single_writer();
    concurrent_writers();
}

fn single_writer() {
    let zero_dir = tempfile::tempdir().unwrap();
    let runtime = fs_runtime(zero_dir.path());
    let mut process = runtime.process(ProcessIdentity::new("bench").unwrap()).unwrap();

    let redb_dir = tempfile::tempdir().unwrap();
    let db = Database::create(redb_dir.path().join("raw.redb")).unwrap();

    let sqlite_dir = tempfile::tempdir().unwrap();
    let sqlite = rusqlite::Connection::open(sqlite_dir.path().join("kv.sqlite")).unwrap();
    let mode: String = sqlite.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0)).unwrap();
    sqlite.pragma_update(None, "synchronous", "FULL").unwrap();
    let synchronous: i64 = sqlite.pragma_query_value(None, "synchronous", |row| row.get(0)).unwrap();
    assert_eq!((mode.as_str(), synchronous), ("wal", 2), "SQLite must run in WAL mode with synchronous=FULL");
    sqlite.execute_batch("CREATE TABLE kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID;").unwrap();

    let redb_set = time(3, DURABLE_WRITES, |i| {
        let txn = db.begin_write().unwrap();
        txn.open_table(RAW).unwrap().insert(key(i).as_bytes(), &VALUE[..]).unwrap();
        txn.commit().unwrap();
    });
    let sqlite_set = time(3, DURABLE_WRITES, |i| {
        let mut insert = sqlite.prepare_cached("INSERT OR REPLACE INTO kv (k, v) VALUES (?1, ?2)").unwrap();
        insert.execute((key(i).as_bytes(), &VALUE[..])).unwrap();
    });
    let zero_set = time(3, DURABLE_WRITES, |i| process.set(&key(i), &VALUE, 0).unwrap());

    let reads = 20_000;
    let redb_get = time(7, reads, |i| {
        let txn = db.begin_read().unwrap();
        let table = txn.open_table(RAW).unwrap();
        std::hint::black_box(table.get(key(i).as_bytes()).unwrap().map(|v| v.value().to_vec()));
    });
    let sqlite_get = time(7, reads, |i| {
        let mut select = sqlite.prepare_cached("SELECT v FROM kv WHERE k = ?1").unwrap();
        let value: Vec<u8> = select.query_row([key(i).as_bytes()], |row| row.get(0)).unwrap();
        std::hint::black_box(value);
    });
    let zero_get = time(7, reads, |i| drop(std::hint::black_box(process.get(&key(i)).unwrap())));

    header("Durable path (fs backend), per operation, 16 B keys, 100 B values");
    report("durable set: raw redb, Durability::Immediate", &redb_set, None);
    report("durable set: SQLite, WAL, synchronous=FULL", &sqlite_set, None);
    report("durable set: Zero Storage fs", &zero_set, Some(("of redb", &redb_set)));
    report("get: raw redb", &redb_get, None);
    report("get: SQLite", &sqlite_get, None);
    report("get: Zero Storage fs", &zero_get, Some(("of redb", &redb_get)));
}

/// Writes per second with `writers` threads, each its own process; each process writes in its
/// own namespace, or all in one (`shared`).
fn throughput(writers: usize, shared: bool) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let runtime = fs_runtime(dir.path());
    let per_writer = 800 / writers.max(1);
    let start = Instant::now();
    let threads: Vec<_> = (0..writers)
        .map(|w| {
            let runtime = runtime.clone();
            std::thread::spawn(move || {
                let name = if shared { "shared".to_string() } else { format!("writer{w}") };
                let mut process = runtime.process(ProcessIdentity::new(&name).unwrap()).unwrap();
                for i in 0..per_writer {
                    process.set(&format!("w{w}-{}", key(i)), &VALUE, 0).unwrap();
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    (per_writer * writers) as f64 / start.elapsed().as_secs_f64()
}

fn concurrent_writers() {
    // Rounds interleave the configurations, so drift in the disk's fsync cost hits all alike.
    const ROUNDS: usize = 3;
    let configs = [1usize, 2, 8, 32];
    let mut own = vec![Vec::new(); configs.len()];
    let mut shared = vec![Vec::new(); configs.len()];
    for _ in 0..ROUNDS {
        for (index, writers) in configs.iter().enumerate() {
            own[index].push(throughput(*writers, false));
            shared[index].push(throughput(*writers, true));
        }
    }
    let median = |samples: &mut Vec<f64>| {
        samples.sort_by(f64::total_cmp);
        samples[samples.len() / 2]
    };
    let own: Vec<f64> = own.iter_mut().map(median).collect();
    let shared: Vec<f64> = shared.iter_mut().map(median).collect();
    println!("\n## Durable write throughput with concurrent writers (fs backend, every write fsynced)\n");
    println!("Median of {ROUNDS} interleaved rounds; each writer is its own process (storage instance).\n");
    println!("| writers | own namespaces: writes/s | vs 1 writer | one shared namespace: writes/s | vs 1 writer |");
    println!("|---:|---:|---:|---:|---:|");
    for (index, writers) in configs.iter().enumerate() {
        println!(
            "| {writers} | {:.0} | {:.2}x | {:.0} | {:.2}x |",
            own[index],
            own[index] / own[0],
            shared[index],
            shared[index] / shared[0]
        );
    }
}
