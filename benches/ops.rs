//! Per-operation cost of Zero Storage beside its baselines, measured in the same run:
//!
//! - memory path: host → storage component → memory backend, vs a native `BTreeMap` (the floor);
//! - durable path: the fs backend (redb underneath, one fsync per write) vs raw redb with
//!   `Durability::Immediate` doing the same writes and reads.
//!
//! Run with `cargo bench -p zero-storage-benches`. Keys are 16 bytes, values 100 bytes.

use std::collections::BTreeMap;
use std::sync::Arc;

use redb::{Database, ReadableDatabase, TableDefinition};
use zero_storage::backend::{FsBackend, MemoryBackend};
use zero_storage::{Config, ProcessIdentity, RuntimeBuilder};
use zero_storage_benches::{report, time};

const KEYS: usize = 10_000;
const ROUNDS: usize = 7;
const VALUE: [u8; 100] = [7; 100];
const RAW: TableDefinition<&[u8], &[u8]> = TableDefinition::new("raw");

fn key(i: usize) -> String {
    format!("key-{:012}", i % KEYS)
}

fn main() {
    println!("{:<44} {:>10} {:>25} {:>8}", "benchmark (per operation)", "median", "min .. max", "ratio");
    memory_path();
    durable_path();
}

fn memory_path() {
    let runtime = RuntimeBuilder::new()
        .backend(Arc::new(MemoryBackend::new()))
        .config(Config::default())
        .build()
        .expect("runtime");
    let mut process = runtime.process(ProcessIdentity::new("bench").unwrap()).unwrap();
    let mut native = BTreeMap::new();

    let native_set = time(ROUNDS, KEYS, |i| {
        native.insert(key(i).into_bytes(), VALUE.to_vec());
    });
    let zero_set = time(ROUNDS, KEYS, |i| process.set(&key(i), &VALUE, 0).unwrap());
    let native_get = time(ROUNDS, KEYS, |i| {
        std::hint::black_box(native.get(key(i).as_bytes()).cloned());
    });
    let zero_get = time(ROUNDS, KEYS, |i| {
        std::hint::black_box(process.get(&key(i)).unwrap());
    });
    let zero_exists = time(ROUNDS, KEYS, |i| {
        std::hint::black_box(process.exists(&key(i)).unwrap());
    });
    let native_list = time(ROUNDS, 200, |i| {
        let start = key(i * 37).into_bytes();
        std::hint::black_box(native.range(start..).take(100).map(|(k, _)| k.clone()).collect::<Vec<_>>());
    });
    let zero_list = time(ROUNDS, 200, |i| {
        std::hint::black_box(process.list("", 100, Some(&cursor_after(&key(i * 37)))).unwrap());
    });

    report("native BTreeMap set (floor)", &native_set, None);
    report("host -> component -> memory set", &zero_set, Some(&native_set));
    report("native BTreeMap get (floor)", &native_get, None);
    report("host -> component -> memory get", &zero_get, Some(&native_get));
    report("host -> component -> memory exists", &zero_exists, Some(&native_get));
    report("native BTreeMap 100-key range (floor)", &native_list, None);
    report("host -> component -> memory list 100", &zero_list, Some(&native_list));
}

/// The cursor `list` would return after `key` (see component/src/cursor.rs).
fn cursor_after(key: &str) -> String {
    let mut cursor = String::from("c");
    for byte in key.bytes() {
        cursor.push_str(&format!("{byte:02x}"));
    }
    cursor
}

fn durable_path() {
    const DURABLE_WRITES: usize = 200;
    let zero_dir = tempfile::tempdir().unwrap();
    let runtime =
        RuntimeBuilder::new().backend(Arc::new(FsBackend::open(zero_dir.path()).unwrap())).build().expect("runtime");
    let mut process = runtime.process(ProcessIdentity::new("bench").unwrap()).unwrap();

    let raw_dir = tempfile::tempdir().unwrap();
    let db = Database::create(raw_dir.path().join("raw.redb")).unwrap();
    let raw_set = time(3, DURABLE_WRITES, |i| {
        let txn = db.begin_write().unwrap();
        txn.open_table(RAW).unwrap().insert(key(i).as_bytes(), &VALUE[..]).unwrap();
        txn.commit().unwrap();
    });
    let zero_set = time(3, DURABLE_WRITES, |i| process.set(&key(i), &VALUE, 0).unwrap());
    let raw_get = time(ROUNDS, DURABLE_WRITES * 10, |i| {
        let txn = db.begin_read().unwrap();
        let table = txn.open_table(RAW).unwrap();
        std::hint::black_box(table.get(key(i % DURABLE_WRITES).as_bytes()).unwrap().map(|v| v.value().to_vec()));
    });
    let zero_get = time(ROUNDS, DURABLE_WRITES * 10, |i| {
        std::hint::black_box(process.get(&key(i % DURABLE_WRITES)).unwrap());
    });
    report("raw redb durable set (baseline)", &raw_set, None);
    report("host -> component -> fs durable set", &zero_set, Some(&raw_set));
    report("raw redb get (baseline)", &raw_get, None);
    report("host -> component -> fs get", &zero_get, Some(&raw_get));
}
