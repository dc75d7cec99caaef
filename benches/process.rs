//! Group 4: per-process cost. The time to give a new process its own storage instance, beside a
//! bare wasmtime instantiation of the same component from an `InstancePre` on the same engine
//! settings (the floor: a store with no state but what the imports need, and the instance), and
//! the `zero-storage get` command from start to result with a warm data directory.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use zero_storage::backend::MemoryBackend;
use zero_storage::{ProcessIdentity, RuntimeBuilder, STORAGE_COMPONENT, ZeroStorageCtx, ZeroStorageView};
use zero_storage_benches::{header, report, summarize, time};

fn cli_binary() -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(workspace)
        .args(["build", "--quiet", "--release", "--package", "zero-storage", "--bin", "zero-storage"])
        .status()
        .unwrap();
    assert!(status.success(), "building zero-storage failed");
    workspace.join("target/release/zero-storage")
}

/// The bare store's data: what the storage component's imports need, nothing more.
struct Bare {
    wasi: WasiCtx,
    table: ResourceTable,
    storage: ZeroStorageCtx,
    identity: ProcessIdentity,
}

impl WasiView for Bare {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

/// An engine like the runtime's: component model, epoch interruption, no p3 concurrency, and a
/// pooling allocator.
fn engine() -> Engine {
    let mut pool = wasmtime::PoolingAllocationConfig::default();
    pool.total_component_instances(100)
        .total_core_instances(800)
        .total_memories(300)
        .total_tables(300)
        .max_core_instances_per_component(64)
        .max_memories_per_component(8)
        .max_tables_per_component(16)
        .max_memory_size(256 << 20);
    let mut config = wasmtime::Config::new();
    config
        .wasm_component_model(true)
        .epoch_interruption(true)
        .concurrency_support(false)
        .allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool));
    Engine::new(&config).unwrap()
}

fn main() {
    let runtime = RuntimeBuilder::new().backend(Arc::new(MemoryBackend::new())).build().unwrap();
    let identity = ProcessIdentity::new("app").unwrap();
    let new_process = time(9, 500, |_| drop(std::hint::black_box(runtime.process(identity.clone()).unwrap())));
    let mut first = runtime.process(identity.clone()).unwrap();
    first.set("k", b"v", 0).unwrap();
    let new_process_and_get = time(9, 500, |_| {
        let mut process = runtime.process(identity.clone()).unwrap();
        std::hint::black_box(process.get("k").unwrap());
    });

    // The floor: the same component from an `InstancePre`, in a store that holds only an empty
    // WASI context, a resource table and the storage context.
    let engine = engine();
    let component = Component::new(&engine, STORAGE_COMPONENT).unwrap();
    let mut linker = Linker::<Bare>::new(&engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker).unwrap();
    zero_storage::add_to_linker(&mut linker, |bare| ZeroStorageView::new(&bare.storage, &bare.identity)).unwrap();
    let pre = linker.instantiate_pre(&component).unwrap();
    let storage = ZeroStorageCtx::builder().backend(Arc::new(MemoryBackend::new())).build();
    let bare = time(9, 500, |_| {
        let data = Bare {
            wasi: WasiCtx::builder().build(),
            table: ResourceTable::new(),
            storage: storage.clone(),
            identity: identity.clone(),
        };
        let mut store = Store::new(&engine, data);
        store.set_epoch_deadline(1);
        std::hint::black_box(pre.instantiate(&mut store).unwrap());
    });
    let wasi_context = time(9, 500, |_| drop(std::hint::black_box(WasiCtx::builder().build())));

    let binary = cli_binary();
    let data = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(&binary).arg("--data").arg(data.path()).args(args).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    };
    run(&["set", "greeting", "hello"]); // also fills the compile cache
    let mut samples = Vec::new();
    for _ in 0..21 {
        let start = Instant::now();
        run(&["get", "greeting"]);
        samples.push(start.elapsed().as_nanos() as f64);
    }
    let cli = summarize(samples);

    header("Per-process cost");
    report("bare instantiation from an InstancePre (floor)", &bare, None);
    report("of which: an empty WASI context", &wasi_context, None);
    report("new process: its own storage instance", &new_process, Some(("of the bare instantiation", &bare)));
    report("new process + first get", &new_process_and_get, None);
    report("`zero-storage get`, start to result, warm data dir", &cli, None);
}
