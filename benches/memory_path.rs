//! Group 1: the in-memory path, per operation, five ways in one run:
//! (a) host → storage component → memory backend (the `Process` API);
//! (b) an app component → host → storage component → memory backend: the host serves the app's
//!     imports and calls its storage instance, as `zero-storage run` runs a plain app;
//! (e) the same app composed with the storage component ahead of time (`zero-storage compose`),
//!     its calls crossing fused adapters;
//! (c) the peer: the same app component on `wasmtime-wasi-keyvalue`'s in-memory host;
//! (d) the floor: a native `BTreeMap` in the host;
//! (f), (g), (h): the floors of a design with a separate storage component: `benches/floor`, a
//!     component with no rules that turns each call into one host `BTreeMap` call, reached by
//!     the host (h), by the app through host forwarding (g) and composed with the app (f);
//! (i), (j), (k): the floors of Zero Storage's records: `benches/records-floor`, a component
//!     with no rules that makes the backend calls the storage component makes (the same
//!     records, the same commit conditions, the same host link and memory backend), reached by
//!     the host (i), by the app through host forwarding (j) and composed with the app (k).
//! Keys are 16 bytes; values 100 B and 64 KiB; 100 keys; list is one 100-key page. Every timed
//! set stores a value no earlier set stored (a count in its first 8 bytes), on every path.

use std::collections::BTreeMap;
use std::sync::Arc;

use wasmtime::Store;
use wasmtime::component::{Linker, ResourceTable, TypedFunc};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_keyvalue::{WasiKeyValue, WasiKeyValueCtx, WasiKeyValueCtxBuilder};
use zero_storage::backend::MemoryBackend;
use zero_storage::{ProcessIdentity, RuntimeBuilder};
use zero_storage_benches::floor::{FloorComposed, FloorForwarded, FloorHost, floor_wasm, records_floor_wasm};
use zero_storage_benches::{
    HostOps, Timing, guest_wasm, header, key, report, report_ratios, stamp, time, time_with_setup,
};

const ROUNDS: usize = 9;
const OPS: usize = 2000;
const SET: u8 = 0;
const GET: u8 = 1;
const EXISTS: u8 = 2;
const DELETE: u8 = 3;
const LIST: u8 = 4;

/// The peer host's state, as wasmtime-wasi-keyvalue's documentation sets it up.
struct PeerCtx {
    table: ResourceTable,
    wasi: WasiCtx,
    kv: WasiKeyValueCtx,
}

impl WasiView for PeerCtx {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

/// Something that runs `op` `count` times per call on 100 keys, and returns the guest's checksum.
trait Target {
    fn run(&mut self, op: u8, count: u32, value_size: u32) -> u64;
}

struct Guest<T: 'static> {
    store: Store<T>,
    run: TypedFunc<(u8, u32, u32), (u64,)>,
}

impl<T> Target for Guest<T> {
    fn run(&mut self, op: u8, count: u32, value_size: u32) -> u64 {
        self.run.call(&mut self.store, (op, count, value_size)).expect("guest run").0
    }
}

struct App(zero_storage::AppInstance, TypedFunc<(u8, u32, u32), (u64,)>);

impl Target for FloorComposed {
    fn run(&mut self, op: u8, count: u32, value_size: u32) -> u64 {
        FloorComposed::run(self, op, count, value_size)
    }
}

impl Target for FloorForwarded {
    fn run(&mut self, op: u8, count: u32, value_size: u32) -> u64 {
        FloorForwarded::run(self, op, count, value_size)
    }
}

impl Target for App {
    fn run(&mut self, op: u8, count: u32, value_size: u32) -> u64 {
        self.0.call(&self.1, (op, count, value_size)).expect("app run").0
    }
}

/// Times each operation through `target`, which loops inside the guest.
fn guest_timings(target: &mut dyn Target, value_size: u32) -> [Timing; 5] {
    let per_call = 100u32;
    let calls = OPS / per_call as usize;
    let set = time(ROUNDS, calls, |_| {
        target.run(SET, per_call, value_size);
    });
    // Every path really stores: a get of the 100 keys finds each value, whole.
    assert_eq!(target.run(GET, 100, value_size), 100 * u64::from(value_size), "a get after the sets");
    let get = time(ROUNDS, calls, |_| {
        target.run(GET, per_call, value_size);
    });
    let exists = time(ROUNDS, calls, |_| {
        target.run(EXISTS, per_call, value_size);
    });
    let list = time(ROUNDS, 20, |_| assert_eq!(target.run(LIST, 1, value_size), 100, "a page of the 100 keys"));
    let delete = time_with_setup(
        ROUNDS,
        1,
        target,
        |target| {
            target.run(SET, 100, value_size);
        },
        |target, _| {
            target.run(DELETE, 100, value_size);
        },
    );
    assert_eq!(target.run(EXISTS, 100, value_size), 0, "an exists after the deletes");
    let per_op = |t: Timing, n: f64| Timing { median_ns: t.median_ns / n, min_ns: t.min_ns / n, max_ns: t.max_ns / n };
    [per_op(set, 100.0), per_op(get, 100.0), per_op(exists, 100.0), per_op(delete, 100.0), list]
}

/// Checks that the records floor keeps Zero Storage's records: the storage component, over the
/// floor's backend, reads back the 100 values it last wrote and exact usage.
fn check_records(floor: &FloorHost, value: &[u8]) {
    let runtime = RuntimeBuilder::new().backend(floor.backend()).build().unwrap();
    let mut process = runtime.process(ProcessIdentity::new("bench").unwrap()).unwrap();
    for i in 0..100 {
        assert_eq!(process.get(&key(i)).unwrap(), value, "the records floor's value under {}", key(i));
    }
    let quota = process.quota().unwrap();
    assert_eq!((quota.key_count, quota.used_bytes), (100, 100 * (16 + value.len() as u64)), "its usage record");
}

/// Times each operation on what the host calls directly: Zero's `Process` or a floor component.
fn host_timings(target: &mut impl HostOps, value: &[u8]) -> [Timing; 5] {
    [
        {
            let mut stamped = value.to_vec();
            time(ROUNDS, OPS, |i| {
                stamp(&mut stamped, i);
                target.set(&key(i), &stamped);
            })
        },
        time(ROUNDS, OPS, |i| drop(std::hint::black_box(target.get(&key(i))))),
        time(ROUNDS, OPS, |i| {
            std::hint::black_box(target.exists(&key(i)));
        }),
        time_with_setup(
            ROUNDS,
            100,
            target,
            |t| (0..100).for_each(|i| t.set(&key(i), value)),
            |t, i| t.delete(&key(i)),
        ),
        {
            (0..100).for_each(|i| target.set(&key(i), value));
            time(ROUNDS, 20, |_| drop(std::hint::black_box(target.list())))
        },
    ]
}

fn main() {
    let guest = guest_wasm();
    let floor = floor_wasm();
    let records_floor = records_floor_wasm();
    // Zero's engine settings (epoch interruption included) for the peer and the floors too.
    let engine = zero_storage_benches::floor::engine();

    for value_size in [100u32, 64 << 10] {
        // (a) host → component → memory.
        let runtime = RuntimeBuilder::new().backend(Arc::new(MemoryBackend::new())).build().unwrap();
        let mut process = runtime.process(ProcessIdentity::new("bench").unwrap()).unwrap();
        let value = vec![7u8; value_size as usize];
        let host = host_timings(&mut process, &value);

        // (b) app → host → storage → memory, as `zero-storage run` runs a plain app.
        let runtime = RuntimeBuilder::new().backend(Arc::new(MemoryBackend::new())).build().unwrap();
        let mut app = runtime.instantiate_app(ProcessIdentity::new("bench").unwrap(), &guest).unwrap();
        let run = app.func("zero:bench/ops", "run").unwrap();
        let zero_app = guest_timings(&mut App(app, run), value_size);

        // (e) app + storage composed ahead of time: fused adapters between them.
        let runtime = RuntimeBuilder::new().backend(Arc::new(MemoryBackend::new())).build().unwrap();
        let composed = zero_storage::compose(&guest).unwrap();
        let mut app = runtime.instantiate_app(ProcessIdentity::new("bench").unwrap(), &composed).unwrap();
        let run = app.func("zero:bench/ops", "run").unwrap();
        let composed_app = guest_timings(&mut App(app, run), value_size);

        // (c) the same app on wasmtime-wasi-keyvalue's in-memory host.
        let mut linker = Linker::<PeerCtx>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).unwrap();
        wasmtime_wasi_keyvalue::add_to_linker(&mut linker, |ctx| WasiKeyValue::new(&ctx.kv, &mut ctx.table)).unwrap();
        let component = wasmtime::component::Component::new(&engine, &guest).unwrap();
        let ctx = PeerCtx {
            table: ResourceTable::new(),
            wasi: WasiCtx::builder().build(),
            kv: WasiKeyValueCtxBuilder::new().build(),
        };
        let mut store = Store::new(&engine, ctx);
        store.set_epoch_deadline(1 << 40);
        let instance = linker.instantiate(&mut store, &component).unwrap();
        let (_, ops) = instance.get_export(&mut store, None, "zero:bench/ops").unwrap();
        let (_, run) = instance.get_export(&mut store, Some(&ops), "run").unwrap();
        let run = instance.get_typed_func(&mut store, run).unwrap();
        let peer = guest_timings(&mut Guest { store, run }, value_size);

        // (f), (g), (h): the floors of a separate storage component, the pass-through one.
        let floor_composed = guest_timings(&mut FloorComposed::new(&engine, &guest, &floor).unwrap(), value_size);
        let floor_forwarded = guest_timings(&mut FloorForwarded::new(&engine, &guest, &floor).unwrap(), value_size);
        let floor_host = host_timings(&mut FloorHost::new(&engine, &floor).unwrap(), &value);

        // (i), (j), (k): the floors of Zero Storage's records, the records floor.
        let mut records_floor_host = FloorHost::new(&engine, &records_floor).unwrap();
        let records_host = host_timings(&mut records_floor_host, &value);
        check_records(&records_floor_host, &value);
        let records_forwarded =
            guest_timings(&mut FloorForwarded::new(&engine, &guest, &records_floor).unwrap(), value_size);
        let records_composed =
            guest_timings(&mut FloorComposed::new(&engine, &guest, &records_floor).unwrap(), value_size);

        // (d) the floor: a native BTreeMap.
        let mut map: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        let native = [
            {
                let mut stamped = value.clone();
                time(ROUNDS, OPS, |i| {
                    stamp(&mut stamped, i);
                    drop(map.insert(key(i).into_bytes(), stamped.clone()));
                })
            },
            time(ROUNDS, OPS, |i| drop(std::hint::black_box(map.get(key(i).as_bytes()).cloned()))),
            time(ROUNDS, OPS, |i| {
                std::hint::black_box(map.contains_key(key(i).as_bytes()));
            }),
            time_with_setup(
                ROUNDS,
                100,
                &mut map,
                |map| (0..100).for_each(|i| drop(map.insert(key(i).into_bytes(), value.clone()))),
                |map, i| drop(map.remove(key(i).as_bytes())),
            ),
            {
                (0..100).for_each(|i| drop(map.insert(key(i).into_bytes(), value.clone())));
                time(ROUNDS, 20, |_| drop(std::hint::black_box(map.keys().take(100).cloned().collect::<Vec<_>>())))
            },
        ];

        let size = if value_size == 100 { "100 B".to_string() } else { "64 KiB".to_string() };
        header(&format!("In-memory path, per operation, {size} values"));
        for (index, op) in ["set", "get", "exists", "delete", "list 100 keys"].iter().enumerate() {
            report(&format!("{op}: (d) native BTreeMap"), &native[index], None);
            report(
                &format!("{op}: (h) floor: host → pass-through component → map"),
                &floor_host[index],
                Some(("of (d)", &native[index])),
            );
            report(
                &format!("{op}: (i) records floor: host → records-only component → memory"),
                &records_host[index],
                Some(("of (d)", &native[index])),
            );
            report_ratios(
                &format!("{op}: (a) host → component → memory"),
                &host[index],
                &[("of (d)", &native[index]), ("of (i)", &records_host[index])],
            );
            report(&format!("{op}: (c) app → wasmtime-wasi-keyvalue"), &peer[index], None);
            report(
                &format!("{op}: (f) floor: app → composed pass-through → map"),
                &floor_composed[index],
                Some(("of (c)", &peer[index])),
            );
            report(
                &format!("{op}: (g) floor: app → host → pass-through → map"),
                &floor_forwarded[index],
                Some(("of (c)", &peer[index])),
            );
            report(
                &format!("{op}: (j) records floor: app → host → records-only → memory"),
                &records_forwarded[index],
                Some(("of (c)", &peer[index])),
            );
            report_ratios(
                &format!("{op}: (b) app → host → component → memory"),
                &zero_app[index],
                &[("of (c)", &peer[index]), ("of (j)", &records_forwarded[index])],
            );
            report(
                &format!("{op}: (k) records floor: app → composed records-only → memory"),
                &records_composed[index],
                Some(("of (c)", &peer[index])),
            );
            report_ratios(
                &format!("{op}: (e) app → composed component → memory"),
                &composed_app[index],
                &[("of (c)", &peer[index]), ("of (k)", &records_composed[index])],
            );
        }
    }
}
