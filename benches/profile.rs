//! Not a benchmark: one operation on one path of `memory_path`, in a loop, for a profiler.
//!
//! `cargo bench -p zero-storage-benches --bench profile -- PATH OP SIZE [SECONDS]`, where PATH
//! is `host` ((a) the `Process` API), `app` ((b) a plain app, host forwarding), `composed`
//! ((e) the app composed with storage) or `records` ((i) the host calling the records floor,
//! `benches/records-floor`, over the same host link and memory backend); OP is `set`, `get`,
//! `exists`, `delete` or `list`; SIZE is the value size in bytes. For example, with `perf` and
//! wasmtime's perf map:
//!
//! ```text
//! ZERO_STORAGE_PERFMAP=1 perf record -e cpu-clock -g -o perf.data -- \
//!     target/release/deps/profile-HASH app get 100 5
//! perf report -i perf.data --no-children
//! ```
//!
//! It prints the operations per second it reached, so two runs can be compared too. With
//! `PROFILE_OPS=N` it runs exactly N operations (rounded up to 100) instead of for a time, for
//! `valgrind --tool=callgrind`, whose instruction counts do not drift with the machine's load;
//! it then runs without the instance pool, whose address-space reservation valgrind refuses.

use std::sync::Arc;
use std::time::{Duration, Instant};

use zero_storage::backend::MemoryBackend;
use zero_storage::{ProcessIdentity, RuntimeBuilder};
use zero_storage_benches::floor::{FloorHost, records_floor_wasm};
use zero_storage_benches::{HostOps, guest_wasm, key};

/// Runs `code` on 100 keys of `size`-byte values on `target` while `more` says so; returns
/// how many operations ran.
fn host_loop(target: &mut impl HostOps, code: u8, size: u32, more: impl Fn(u64) -> bool) -> u64 {
    let value = vec![7u8; size as usize];
    (0..100).for_each(|i| target.set(&key(i), &value));
    let mut ops = 0;
    while more(ops) {
        for i in 0..100 {
            match code {
                0 => target.set(&key(i), &value),
                1 => drop(std::hint::black_box(target.get(&key(i)))),
                2 => drop(std::hint::black_box(target.exists(&key(i)))),
                3 => target.delete(&key(i)),
                _ => drop(std::hint::black_box(target.list())),
            }
        }
        ops += 100;
    }
    ops
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|arg| arg != "--bench").collect();
    let usage = "usage: profile (host|app|composed|records) (set|get|exists|delete|list) SIZE [SECONDS]";
    if args.is_empty() {
        // `cargo bench` runs every bench target with no arguments: nothing to profile.
        println!("profile: a loop for profilers, not a benchmark; {usage}");
        return;
    }
    let [path, op, size, rest @ ..] = args.as_slice() else {
        eprintln!("{usage}");
        std::process::exit(2);
    };
    let size: u32 = size.parse().expect("SIZE is a number of bytes");
    let seconds: u64 = rest.first().map_or(5, |s| s.parse().expect("SECONDS is a number"));
    let code = match op.as_str() {
        "set" => 0u8,
        "get" => 1,
        "exists" => 2,
        "delete" => 3,
        "list" => 4,
        other => panic!("unknown operation {other}"),
    };
    let pool = if std::env::var_os("PROFILE_OPS").is_some() { None } else { Some(zero_storage::DEFAULT_MAX_INSTANCES) };
    let runtime = RuntimeBuilder::new().backend(Arc::new(MemoryBackend::new())).instance_pool(pool).build().unwrap();
    let identity = ProcessIdentity::new("bench").unwrap();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let max_ops: Option<u64> = std::env::var("PROFILE_OPS").ok().map(|n| n.parse().expect("PROFILE_OPS is a number"));
    let mut ops = 0u64;
    let more = |ops: u64| max_ops.map_or_else(|| Instant::now() < deadline, |max| ops < max);
    let started = Instant::now();
    match path.as_str() {
        "host" => ops = host_loop(&mut runtime.process(identity).unwrap(), code, size, more),
        "app" | "composed" => {
            let guest = guest_wasm();
            let wasm = if path == "app" { guest } else { zero_storage::compose(&guest).unwrap() };
            let mut app = runtime.instantiate_app(identity, &wasm).unwrap();
            let run = app.func::<(u8, u32, u32), (u64,)>("zero:bench/ops", "run").unwrap();
            app.call(&run, (0, 100, size)).unwrap();
            while more(ops) {
                app.call(&run, (code, 100, size)).unwrap();
                ops += 100;
            }
        }
        "records" => {
            // The engine settings of `memory_path`'s floors, which are Zero's; no instance pool.
            let engine = zero_storage_benches::floor::engine();
            ops = host_loop(&mut FloorHost::new(&engine, &records_floor_wasm()).unwrap(), code, size, more);
        }
        other => panic!("unknown path {other}"),
    }
    let rate = ops as f64 / started.elapsed().as_secs_f64();
    println!("{path} {op} {size} B: {ops} operations, {rate:.0}/s, {:.0} ns each", 1e9 / rate);
}
