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
use zero_storage_benches::{header, key, report, time};
use zero_storage_tests::etcd::EtcdCluster;

const VALUE: [u8; 100] = [7; 100];

fn runtime(backend: Arc<dyn Backend>) -> Runtime {
    RuntimeBuilder::new().backend(backend).build().unwrap()
}

fn main() {
    let cluster = EtcdCluster::start(3);
    let fs_dir = tempfile::tempdir().unwrap();
    let fs: Arc<dyn Backend> = Arc::new(FsBackend::open(fs_dir.path()).unwrap());
    let etcd: Arc<dyn Backend> = Arc::new(cluster.backend());

    let raw = cluster.backend();
    let raw_put = time(3, 200, |i| {
        raw.commit("app:raw", &[], vec![Mutation::Put(key(i).into_bytes(), Cow::Borrowed(&VALUE[..]))]).unwrap();
    });
    let raw_get =
        time(5, 1000, |i| drop(std::hint::black_box(raw.read("app:raw", &[Query::Get(key(i).into_bytes())]).unwrap())));

    let (fs_runtime, etcd_runtime) = (runtime(fs.clone()), runtime(etcd.clone()));
    let identity = || ProcessIdentity::new("bench").unwrap();
    let (mut on_fs, mut on_etcd) = (fs_runtime.process(identity()).unwrap(), etcd_runtime.process(identity()).unwrap());
    let fs_set = time(3, 200, |i| on_fs.set(&key(i), &VALUE, 0).unwrap());
    let etcd_set = time(3, 200, |i| on_etcd.set(&key(i), &VALUE, 0).unwrap());
    let fs_get = time(5, 1000, |i| drop(std::hint::black_box(on_fs.get(&key(i)).unwrap())));
    let etcd_get = time(5, 1000, |i| drop(std::hint::black_box(on_etcd.get(&key(i)).unwrap())));

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

/// Writes per second with `writers` threads, each its own process in its own namespace.
fn throughput(runtime: &Runtime, writers: usize) -> f64 {
    let per_writer = 1600 / writers;
    let start = Instant::now();
    std::thread::scope(|scope| {
        for w in 0..writers {
            scope.spawn(move || {
                let mut process = runtime.process(ProcessIdentity::new(&format!("writer{w}")).unwrap()).unwrap();
                for i in 0..per_writer {
                    process.set(&format!("w{w}-{}", key(i)), &VALUE, 0).unwrap();
                }
            });
        }
    });
    (per_writer * writers) as f64 / start.elapsed().as_secs_f64()
}
