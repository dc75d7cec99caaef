//! Group 5 (feature `etcd`): Zero Storage on a 3-member etcd cluster on loopback, beside the
//! same operations on the fs backend, and beside the etcd backend alone (one `Txn` per put or
//! get, without the storage component) as the cluster's own floor. Then write throughput with
//! concurrent writers on both backends.
//!
//! Run: `cargo bench -p zero-storage-benches --features etcd --bench etcd` (needs the etcd
//! server: `apt-get install etcd-server`).

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Instant;

use zero_storage::backend::{Backend, FsBackend, Mutation, Query};
use zero_storage::{ProcessIdentity, Runtime, RuntimeBuilder};
use zero_storage_benches::{Timing, header, key, report, stamped, time_interleaved};
use zero_storage_tests::etcd::EtcdCluster;

/// Values are 100 bytes; every timed write stores one no earlier write stored ([`stamped`]), so
/// no engine can skip it as unchanged.
const VALUE_BYTES: usize = 100;

fn runtime(backend: Arc<dyn Backend>) -> Runtime {
    RuntimeBuilder::new().backend(backend).build().unwrap()
}

fn main() {
    let cluster = EtcdCluster::start(3);
    let fs_dir = tempfile::tempdir().unwrap();
    let fs: Arc<dyn Backend> = Arc::new(FsBackend::open(fs_dir.path()).unwrap());
    let etcd: Arc<dyn Backend> = Arc::new(cluster.backend());

    let raw = cluster.backend();
    let (fs_runtime, etcd_runtime) = (runtime(fs.clone()), runtime(etcd.clone()));
    let identity = || ProcessIdentity::new("bench").unwrap();
    let (mut on_fs, mut on_etcd) = (fs_runtime.process(identity()).unwrap(), etcd_runtime.process(identity()).unwrap());

    // Rounds interleave the three, so the cluster settling or the disk's sync cost drifting
    // hits all of them alike (the bare put used to run alone, first, on a fresh cluster).
    let mut sets: [Box<dyn FnMut(usize) + '_>; 3] = [
        Box::new(|i| {
            let value = stamped::<VALUE_BYTES>(i);
            raw.commit("app:raw", &[], vec![Mutation::Put(key(i).into_bytes(), Cow::Borrowed(&value[..]))]).unwrap();
        }),
        Box::new(|i| on_etcd.set(&key(i), &stamped::<VALUE_BYTES>(i), 0).unwrap()),
        Box::new(|i| on_fs.set(&key(i), &stamped::<VALUE_BYTES>(i), 0).unwrap()),
    ];
    let [raw_put, etcd_set, fs_set] = timings(time_interleaved(3, 200, &mut sets, |set, i| set(i)));
    drop(sets);
    let mut gets: [Box<dyn FnMut(usize) + '_>; 3] = [
        Box::new(|i| drop(std::hint::black_box(raw.read("app:raw", &[Query::Get(key(i).into_bytes())]).unwrap()))),
        Box::new(|i| drop(std::hint::black_box(on_etcd.get(&key(i)).unwrap()))),
        Box::new(|i| drop(std::hint::black_box(on_fs.get(&key(i)).unwrap()))),
    ];
    let [raw_get, etcd_get, fs_get] = timings(time_interleaved(5, 1000, &mut gets, |get, i| get(i)));

    header("etcd backend (3 members on loopback) beside fs, per operation, 16 B keys, 100 B values");
    report("set: etcd backend alone (one Txn put)", &raw_put, None);
    report("set: Zero Storage on etcd", &etcd_set, Some(("of the etcd Txn", &raw_put)));
    report("set: Zero Storage on fs", &fs_set, None);
    report("get: etcd backend alone (one Txn range)", &raw_get, None);
    report("get: Zero Storage on etcd", &etcd_get, Some(("of the etcd Txn", &raw_get)));
    report("get: Zero Storage on fs", &fs_get, None);

    println!("\n## Write throughput with concurrent writers, etcd beside fs\n");
    println!("Each writer is its own process (storage instance) writing 100 B values in its own namespace.\n");
    println!("| writers | fs: writes/s | etcd: writes/s | etcd vs fs |");
    println!("|---:|---:|---:|---:|");
    for writers in [1, 8, 32] {
        let (fs_rate, etcd_rate) = (throughput(&fs_runtime, writers), throughput(&etcd_runtime, writers));
        println!("| {writers} | {fs_rate:.0} | {etcd_rate:.0} | {:.2}x |", etcd_rate / fs_rate);
    }
}

/// The timings of the three subjects, in order.
fn timings(timings: Vec<Timing>) -> [Timing; 3] {
    timings.try_into().expect("one timing per subject")
}

/// Writes per second with `writers` threads, each its own process in its own namespace.
fn throughput(runtime: &Runtime, writers: usize) -> f64 {
    let per_writer = 1600 / writers;
    let start = Instant::now();
    std::thread::scope(|scope| {
        for w in 0..writers {
            scope.spawn(move || {
                let mut process = runtime.process(ProcessIdentity::new(&format!("writer{w}")).unwrap()).unwrap();
                for i in 0..per_writer {
                    process.set(&format!("w{w}-{}", key(i)), &stamped::<VALUE_BYTES>(i), 0).unwrap();
                }
            });
        }
    });
    (per_writer * writers) as f64 / start.elapsed().as_secs_f64()
}
