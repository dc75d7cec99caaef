//! Group 2: the durable path. Durable set and get through Zero Storage's fs backend beside raw
//! redb (`Durability::Immediate`) and SQLite (WAL, `synchronous=FULL`) doing the same
//! operations on the same disk; then write throughput with 1, 2, 8 and 32 concurrent writers
//! (one process each, in its own namespace, and all in one namespace).
//!
//! Every timed write stores a value no earlier write stored ([`stamped`]): SQLite commits an
//! `INSERT OR REPLACE` of an identical row without writing or syncing anything, so rewriting
//! the same value would time a no-op for it and a full commit for the others. Rounds interleave
//! the peers, so drift in the disk's sync cost hits all of them alike.
//!
//! `DURABLE_ONLY=redb|sqlite|zero` runs only that peer's timed sets, between two printed lines,
//! so `strace -f -e trace=fsync,fdatasync,write` can count its syncs per commit;
//! `DURABLE_ONLY=concurrent` runs only the concurrent writers.

use std::sync::Arc;
use std::time::Instant;

use redb::{Database, ReadableDatabase, TableDefinition};
use tempfile::TempDir;
use zero_storage::backend::FsBackend;
use zero_storage::{Process, ProcessIdentity, Runtime, RuntimeBuilder};
use zero_storage_benches::{Timing, format_ns, header, key, report, stamped, time_interleaved};

const RAW: TableDefinition<&[u8], &[u8]> = TableDefinition::new("raw");
const VALUE_BYTES: usize = 100;
const SET_ROUNDS: usize = 3;
const DURABLE_WRITES: usize = 200;
const GET_ROUNDS: usize = 7;
const READS: usize = 20_000;

/// One engine of the single-writer table, with its database in its own directory.
trait Peer {
    /// Stores `value` under `key` and returns once it is durable.
    fn set(&mut self, key: &str, value: &[u8]);
    /// The value under `key`, which must exist.
    fn get(&mut self, key: &str) -> Vec<u8>;
}

struct RawRedb {
    db: Database,
    _dir: TempDir,
}

impl Peer for RawRedb {
    fn set(&mut self, key: &str, value: &[u8]) {
        let txn = self.db.begin_write().unwrap();
        txn.open_table(RAW).unwrap().insert(key.as_bytes(), value).unwrap();
        txn.commit().unwrap();
    }

    fn get(&mut self, key: &str) -> Vec<u8> {
        let txn = self.db.begin_read().unwrap();
        let table = txn.open_table(RAW).unwrap();
        table.get(key.as_bytes()).unwrap().expect("the key was written").value().to_vec()
    }
}

struct Sqlite {
    connection: rusqlite::Connection,
    _dir: TempDir,
}

impl Peer for Sqlite {
    fn set(&mut self, key: &str, value: &[u8]) {
        let mut insert = self.connection.prepare_cached("INSERT OR REPLACE INTO kv (k, v) VALUES (?1, ?2)").unwrap();
        insert.execute((key.as_bytes(), value)).unwrap();
    }

    fn get(&mut self, key: &str) -> Vec<u8> {
        let mut select = self.connection.prepare_cached("SELECT v FROM kv WHERE k = ?1").unwrap();
        select.query_row([key.as_bytes()], |row| row.get(0)).unwrap()
    }
}

struct Zero {
    process: Process,
    _runtime: Runtime,
    _dir: TempDir,
}

impl Peer for Zero {
    fn set(&mut self, key: &str, value: &[u8]) {
        self.process.set(key, value, 0).unwrap();
    }

    fn get(&mut self, key: &str) -> Vec<u8> {
        self.process.get(key).unwrap()
    }
}

fn fs_runtime(dir: &std::path::Path) -> Runtime {
    RuntimeBuilder::new().backend(Arc::new(FsBackend::open(dir).unwrap())).build().unwrap()
}

/// The peers by name, in table order.
const PEERS: [&str; 3] = ["redb", "sqlite", "zero"];

fn open(peer: &str) -> Box<dyn Peer> {
    let dir = tempfile::tempdir().unwrap();
    match peer {
        "redb" => Box::new(RawRedb { db: Database::create(dir.path().join("raw.redb")).unwrap(), _dir: dir }),
        "sqlite" => {
            let connection = rusqlite::Connection::open(dir.path().join("kv.sqlite")).unwrap();
            let mode: String =
                connection.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0)).unwrap();
            connection.pragma_update(None, "synchronous", "FULL").unwrap();
            let synchronous: i64 = connection.pragma_query_value(None, "synchronous", |row| row.get(0)).unwrap();
            assert_eq!((mode.as_str(), synchronous), ("wal", 2), "SQLite must run in WAL mode with synchronous=FULL");
            connection.execute_batch("CREATE TABLE kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID;").unwrap();
            Box::new(Sqlite { connection, _dir: dir })
        }
        "zero" => {
            let runtime = fs_runtime(dir.path());
            let process = runtime.process(ProcessIdentity::new("bench").unwrap()).unwrap();
            Box::new(Zero { process, _runtime: runtime, _dir: dir })
        }
        other => panic!("unknown peer {other:?}: DURABLE_ONLY takes redb, sqlite, zero or concurrent"),
    }
}

/// Times `DURABLE_WRITES` durable sets per round on each peer, each of a value no earlier set
/// stored, and checks that the last one landed.
fn time_sets(peers: &mut [Box<dyn Peer>]) -> Vec<Timing> {
    let timings =
        time_interleaved(SET_ROUNDS, DURABLE_WRITES, peers, |peer, n| peer.set(&key(n), &stamped::<VALUE_BYTES>(n)));
    let last = (SET_ROUNDS + 1) * DURABLE_WRITES - 1;
    for peer in peers {
        assert_eq!(peer.get(&key(last)), stamped::<VALUE_BYTES>(last), "the last timed set was not stored");
    }
    timings
}

fn main() {
    match std::env::var("DURABLE_ONLY").ok().as_deref() {
        None | Some("") => {
            single_writer();
            concurrent_writers();
        }
        Some("concurrent") => concurrent_writers(),
        Some(peer) => sets_only(peer),
    }
}

/// One peer's timed sets alone, between two lines on stdout, for counting its syncs.
fn sets_only(name: &str) {
    let mut peer = [open(name)];
    let commits = (SET_ROUNDS + 1) * DURABLE_WRITES;
    println!("{name}: {commits} durable sets (warm-up included) start");
    let timing = time_sets(&mut peer)[0];
    println!("{name}: {commits} durable sets done, median {} per set", format_ns(timing.median_ns));
}

fn single_writer() {
    let mut peers: Vec<Box<dyn Peer>> = PEERS.iter().map(|name| open(name)).collect();
    let sets = time_sets(&mut peers);
    let gets = time_interleaved(GET_ROUNDS, READS, &mut peers, |peer, i| drop(std::hint::black_box(peer.get(&key(i)))));

    header("Durable path (fs backend), per operation, 16 B keys, 100 B values");
    report("durable set: raw redb, Durability::Immediate", &sets[0], None);
    report("durable set: SQLite, WAL, synchronous=FULL", &sets[1], None);
    report("durable set: Zero Storage fs", &sets[2], Some(("of redb", &sets[0])));
    report("get: raw redb", &gets[0], None);
    report("get: SQLite", &gets[1], None);
    report("get: Zero Storage fs", &gets[2], Some(("of redb", &gets[0])));
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
                // Each writer rewrites its 100 keys; the stamp makes every rewrite a change.
                for i in 0..per_writer {
                    process.set(&format!("w{w}-{}", key(i)), &stamped::<VALUE_BYTES>(i), 0).unwrap();
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
    println!("\n## Durable write throughput with concurrent writers (fs backend, every write durable on return)\n");
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
