//! Group 3: scale. One namespace with 1,000,000 keys on the fs backend: a list page at its
//! start, middle and end; get latency beside a namespace of 1,000 keys; and the host's
//! resident memory.

use std::sync::Arc;
use std::time::Instant;

use zero_storage::backend::FsBackend;
use zero_storage::{Config, ProcessIdentity, RuntimeBuilder};
use zero_storage_benches::{header, report, resident_bytes, time};

const BIG: usize = 1_000_000;
const SMALL: usize = 1_000;
const VALUE: [u8; 32] = [7; 32];

fn key(i: usize) -> String {
    format!("key-{i:012}")
}

fn main() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let mut config = Config::default();
    config.quotas.namespaces.insert("app:big".into(), 1 << 30);
    let runtime =
        RuntimeBuilder::new().backend(Arc::new(FsBackend::open(dir.path()).unwrap())).config(config).build().unwrap();
    let rss_start = resident_bytes();
    let mut big = runtime.process(ProcessIdentity::new("big").unwrap()).unwrap();
    let mut small = runtime.process(ProcessIdentity::new("small").unwrap()).unwrap();

    let load = Instant::now();
    for chunk in (0..BIG).collect::<Vec<_>>().chunks(1000) {
        let entries: Vec<(String, Vec<u8>)> = chunk.iter().map(|i| (key(*i), VALUE.to_vec())).collect();
        big.set_many(&entries, 0).unwrap();
    }
    let load_time = load.elapsed();
    for i in 0..SMALL {
        small.set(&key(i), &VALUE, 0).unwrap();
    }
    let rss_loaded = resident_bytes();

    let start = time(9, 50, |_| drop(std::hint::black_box(big.list("", 100, None).unwrap())));
    let middle_cursor = zero_storage_component::cursor::encode(&key(BIG / 2));
    let middle = time(9, 50, |_| drop(std::hint::black_box(big.list("", 100, Some(&middle_cursor)).unwrap())));
    let end_cursor = zero_storage_component::cursor::encode(&key(BIG - 101));
    let end = time(9, 50, |_| drop(std::hint::black_box(big.list("", 100, Some(&end_cursor)).unwrap())));
    // A pseudo-random walk over the keys, the same for both namespaces. `time` numbers the
    // iterations across rounds and the multiplier is coprime to 1,000,000, so no key of the big
    // namespace is read twice: the warm-up round does not bring the timed keys into the cache.
    let spread = |i: usize, n: usize| (i.wrapping_mul(2_654_435_761)) % n;
    let get_small = time(9, 5000, |i| drop(std::hint::black_box(small.get(&key(spread(i, SMALL))).unwrap())));
    let get_big = time(9, 5000, |i| drop(std::hint::black_box(big.get(&key(spread(i, BIG))).unwrap())));
    let rss_end = resident_bytes();

    header("Scale: one namespace with 1,000,000 keys (fs backend, 16 B keys, 32 B values)");
    report("list page of 100 at the start", &start, None);
    report("list page of 100 in the middle (depth 500,000)", &middle, Some(("of start", &start)));
    report("list page of 100 at the end (depth 999,899)", &end, Some(("of start", &start)));
    report("get, namespace of 1,000 keys", &get_small, None);
    report("get, namespace of 1,000,000 keys", &get_big, Some(("of 1k", &get_small)));
    println!();
    println!("Loading 1,000,000 keys with set-many (1,000 per call, each call one durable commit): {:?}", load_time);
    let mib = |bytes: u64| bytes as f64 / (1 << 20) as f64;
    println!(
        "Host resident memory: {:.1} MiB at start, {:.1} MiB after loading, {:.1} MiB after the reads",
        mib(rss_start),
        mib(rss_loaded),
        mib(rss_end)
    );
}
