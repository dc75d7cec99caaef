//! The floors: the benchmark guest (`benches/guest`) talking to a storage component with no
//! rules, one of two:
//! - `benches/floor` ([`floor_wasm`]), the floor of any design with a separate storage
//!   component: it turns every `wasi:keyvalue/store@0.2.0-draft` call into one call of a host
//!   `BTreeMap`;
//! - `benches/records-floor` ([`records_floor_wasm`]), the floor of Zero Storage's records: it
//!   makes the backend calls the storage component makes, with the same records and commit
//!   conditions, through the same host link (`zero_storage::add_to_linker`) to a memory backend.
//!
//! Three ways to reach either, one type each ([`FloorHost`]: the host calls it), and two ways
//! to join it to the guest:
//! - [`FloorComposed`]: composed with `wac_graph::plug` into one component in one `Store`, so a
//!   call from the guest to the floor goes through wasmtime's fused adapters;
//! - [`FloorForwarded`]: each in its own `Store`, the guest's imports being host functions that
//!   call the floor's exports with typed calls (wasmtime has no way to link one instance's
//!   exports to another's imports, so a host that keeps them apart must forward).

use std::collections::BTreeMap;

use wasmtime::component::{Component, HasSelf, Linker, Resource, ResourceAny, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use zero_storage::backend::MemoryBackend;
use zero_storage::{ProcessIdentity, ZeroStorageCtx, ZeroStorageView};

/// The host side of the pass-through floor: its `zero:floor/map` import and its store export
/// (which the records floor exports too).
mod floor_world {
    wasmtime::component::bindgen!({ path: ["../wit", "floor/wit"], world: "zero:floor/floor" });
}

/// The host side of the benchmark guest: its store import and its `zero:bench/ops` export.
/// Imports are trappable so that a trap in the floor's store becomes a trap in the guest's.
mod guest_world {
    /// The guest's handle to a bucket: the floor's bucket, which lives in the floor's store.
    /// (Public in this private module because the bindings re-export it.)
    pub struct FloorBucket(pub wasmtime::component::ResourceAny);

    wasmtime::component::bindgen!({
        path: ["../wit", "guest/wit"],
        world: "zero:bench/bench-guest",
        imports: { default: trappable },
        with: { "wasi:keyvalue/store@0.2.0-draft.bucket": self::FloorBucket },
    });
}

use floor_world::exports::wasi::keyvalue0_2_0_draft::store as floor_store;
use guest_world::FloorBucket;
use guest_world::wasi::keyvalue0_2_0_draft::store as guest_store;

/// The pass-through floor component (`benches/floor`), built for wasm32-wasip2 on first use.
pub fn floor_wasm() -> Vec<u8> {
    super::wasm_package("bench-floor")
}

/// The records floor component (`benches/records-floor`), built for wasm32-wasip2 on first use.
pub fn records_floor_wasm() -> Vec<u8> {
    super::wasm_package("bench-records-floor")
}

/// The data of the store that instantiates a floor component: WASI with nothing granted, the
/// map behind `zero:floor/map` (the pass-through floor's import), and an empty memory backend
/// behind Zero Storage's `backend` import (the records floor's), seen as the process `bench`.
struct FloorState {
    wasi: WasiCtx,
    table: ResourceTable,
    map: BTreeMap<String, Vec<u8>>,
    zero: ZeroStorageCtx,
    identity: ProcessIdentity,
}

impl FloorState {
    fn new() -> Self {
        Self {
            wasi: WasiCtx::builder().build(),
            table: ResourceTable::new(),
            map: BTreeMap::new(),
            zero: ZeroStorageCtx::builder().backend(std::sync::Arc::new(MemoryBackend::new())).build(),
            identity: ProcessIdentity::new("bench").expect("a valid process name"),
        }
    }
}

impl WasiView for FloorState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl floor_world::zero::floor::map::Host for FloorState {
    fn get(&mut self, key: String) -> Option<Vec<u8>> {
        self.map.get(&key).cloned()
    }

    fn set(&mut self, key: String, value: Vec<u8>) {
        self.map.insert(key, value);
    }

    fn exists(&mut self, key: String) -> bool {
        self.map.contains_key(&key)
    }

    fn delete(&mut self, key: String) {
        self.map.remove(&key);
    }

    fn keys(&mut self, limit: u32) -> Vec<String> {
        self.map.keys().take(limit as usize).cloned().collect()
    }
}

/// Engine settings as Zero Storage's runtime has them (`zero_storage::engine_config`), so that
/// the floors' code carries the same epoch checks as the storage component's.
pub fn engine() -> Engine {
    Engine::new(&zero_storage::engine_config()).expect("an engine")
}

/// A store on `engine` (whose epoch never advances here) with a deadline that never comes, as
/// Zero's `Process` sets one before each call.
fn new_store<T: 'static>(engine: &Engine, data: T) -> Store<T> {
    let mut store = Store::new(engine, data);
    store.set_epoch_deadline(1 << 40);
    store
}

/// A linker with WASI p2 (sync) and both floors' imports served by [`FloorState`]: the
/// pass-through floor's `zero:floor/map` and Zero Storage's `backend` (with `identity`).
fn floor_linker(engine: &Engine) -> anyhow::Result<Linker<FloorState>> {
    let mut linker = Linker::<FloorState>::new(engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
    floor_world::Floor::add_to_linker::<_, HasSelf<_>>(&mut linker, |state| state)?;
    zero_storage::add_to_linker(&mut linker, |state| ZeroStorageView::new(&state.zero, &state.identity))?;
    Ok(linker)
}

/// Instantiates the floor component `floor_wasm` in a store of its own, and finds its store
/// export (both floors export the same interface).
fn instantiate_floor(engine: &Engine, floor_wasm: &[u8]) -> anyhow::Result<(Store<FloorState>, floor_store::Guest)> {
    let pre = floor_linker(engine)?.instantiate_pre(&Component::new(engine, floor_wasm)?)?;
    let exports = floor_store::GuestIndices::new(&pre)?;
    let mut store = new_store(engine, FloorState::new());
    let instance = pre.instantiate(&mut store)?;
    let kv = exports.load(&mut store, &instance)?;
    Ok((store, kv))
}

/// The guest and the floor composed into one component, as `zero-storage run` composes an app
/// with its storage: the guest's store import is plugged with the floor's export.
fn compose(guest_wasm: &[u8], floor_wasm: &[u8]) -> anyhow::Result<Vec<u8>> {
    use wac_graph::{CompositionGraph, EncodeOptions, types::Package};
    let mut graph = CompositionGraph::new();
    let guest = Package::from_bytes("zero:bench-guest", None, guest_wasm.to_vec(), graph.types_mut())?;
    let guest = graph.register_package(guest)?;
    let floor = Package::from_bytes("zero:bench-floor", None, floor_wasm.to_vec(), graph.types_mut())?;
    let floor = graph.register_package(floor)?;
    wac_graph::plug(&mut graph, vec![floor], guest)?;
    Ok(graph.encode(EncodeOptions::default())?)
}

/// The guest and the floor composed with `wac_graph::plug` and instantiated in one `Store`:
/// guest → floor calls are wasmtime's fused adapters, floor → map (or backend) calls are host
/// calls.
pub struct FloorComposed {
    store: Store<FloorState>,
    guest: guest_world::BenchGuest,
}

impl FloorComposed {
    /// Composes `guest_wasm` (the benchmark guest) with `floor_wasm` (the floor component) and
    /// instantiates the result on `engine` with an empty map and memory backend.
    pub fn new(engine: &Engine, guest_wasm: &[u8], floor_wasm: &[u8]) -> anyhow::Result<Self> {
        let component = Component::new(engine, compose(guest_wasm, floor_wasm)?)?;
        let mut store = new_store(engine, FloorState::new());
        let guest = guest_world::BenchGuest::instantiate(&mut store, &component, &floor_linker(engine)?)?;
        Ok(Self { store, guest })
    }

    /// Calls the guest's `run(op, count, value-size)` and returns its checksum.
    ///
    /// # Panics
    /// If the guest traps (its storage calls `expect` success).
    pub fn run(&mut self, op: u8, count: u32, value_size: u32) -> u64 {
        self.guest.zero_bench_ops().call_run(&mut self.store, op, count, value_size).expect("composed guest run")
    }
}

/// The data of the guest's store: WASI with nothing granted, the guest's bucket handles, and the
/// floor instance with its own store, to which every storage import is forwarded.
struct GuestState {
    wasi: WasiCtx,
    table: ResourceTable,
    floor_store: Store<FloorState>,
    kv: floor_store::Guest,
}

impl WasiView for GuestState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

/// The floor's error as the guest's bindings spell it (the same WIT variant).
fn guest_error(error: floor_store::Error) -> guest_store::Error {
    match error {
        floor_store::Error::NoSuchStore => guest_store::Error::NoSuchStore,
        floor_store::Error::AccessDenied => guest_store::Error::AccessDenied,
        floor_store::Error::Other(message) => guest_store::Error::Other(message),
    }
}

impl GuestState {
    /// The floor's bucket behind the guest's handle `bucket`.
    fn floor_bucket(&self, bucket: &Resource<FloorBucket>) -> wasmtime::Result<ResourceAny> {
        Ok(self.table.get(bucket)?.0)
    }
}

impl guest_store::Host for GuestState {
    fn open(&mut self, identifier: String) -> wasmtime::Result<Result<Resource<FloorBucket>, guest_store::Error>> {
        match self.kv.call_open(&mut self.floor_store, &identifier)? {
            Ok(bucket) => Ok(Ok(self.table.push(FloorBucket(bucket))?)),
            Err(error) => Ok(Err(guest_error(error))),
        }
    }
}

impl guest_store::HostBucket for GuestState {
    fn get(
        &mut self,
        bucket: Resource<FloorBucket>,
        key: String,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, guest_store::Error>> {
        let bucket = self.floor_bucket(&bucket)?;
        let api = self.kv.bucket();
        Ok(api.call_get(&mut self.floor_store, bucket, &key)?.map_err(guest_error))
    }

    fn set(
        &mut self,
        bucket: Resource<FloorBucket>,
        key: String,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), guest_store::Error>> {
        let bucket = self.floor_bucket(&bucket)?;
        let api = self.kv.bucket();
        Ok(api.call_set(&mut self.floor_store, bucket, &key, &value)?.map_err(guest_error))
    }

    fn delete(
        &mut self,
        bucket: Resource<FloorBucket>,
        key: String,
    ) -> wasmtime::Result<Result<(), guest_store::Error>> {
        let bucket = self.floor_bucket(&bucket)?;
        let api = self.kv.bucket();
        Ok(api.call_delete(&mut self.floor_store, bucket, &key)?.map_err(guest_error))
    }

    fn exists(
        &mut self,
        bucket: Resource<FloorBucket>,
        key: String,
    ) -> wasmtime::Result<Result<bool, guest_store::Error>> {
        let bucket = self.floor_bucket(&bucket)?;
        let api = self.kv.bucket();
        Ok(api.call_exists(&mut self.floor_store, bucket, &key)?.map_err(guest_error))
    }

    fn list_keys(
        &mut self,
        bucket: Resource<FloorBucket>,
        cursor: Option<u64>,
    ) -> wasmtime::Result<Result<guest_store::KeyResponse, guest_store::Error>> {
        let bucket = self.floor_bucket(&bucket)?;
        let api = self.kv.bucket();
        let page = api.call_list_keys(&mut self.floor_store, bucket, cursor)?;
        Ok(page.map(|page| guest_store::KeyResponse { keys: page.keys, cursor: page.cursor }).map_err(guest_error))
    }

    fn drop(&mut self, bucket: Resource<FloorBucket>) -> wasmtime::Result<()> {
        let FloorBucket(bucket) = self.table.delete(bucket)?;
        bucket.resource_drop(&mut self.floor_store)
    }
}

/// The guest and the floor each in its own `Store`: the guest's store imports are host
/// functions that make typed calls to the floor's exports in the floor's store, which the
/// guest's store data owns. Bucket handles are proxied through the guest store's
/// `ResourceTable`.
pub struct FloorForwarded {
    store: Store<GuestState>,
    guest: guest_world::BenchGuest,
}

impl FloorForwarded {
    /// Instantiates `floor_wasm` (the floor component) with an empty map and memory backend in
    /// one store, and `guest_wasm` (the benchmark guest) in another that forwards its storage
    /// calls to it.
    pub fn new(engine: &Engine, guest_wasm: &[u8], floor_wasm: &[u8]) -> anyhow::Result<Self> {
        let (floor_store, kv) = instantiate_floor(engine, floor_wasm)?;
        let mut linker = Linker::new(engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
        guest_world::BenchGuest::add_to_linker::<_, HasSelf<_>>(&mut linker, |state| state)?;
        let state = GuestState { wasi: WasiCtx::builder().build(), table: ResourceTable::new(), floor_store, kv };
        let mut store = new_store(engine, state);
        let guest = guest_world::BenchGuest::instantiate(&mut store, &Component::new(engine, guest_wasm)?, &linker)?;
        Ok(Self { store, guest })
    }

    /// Calls the guest's `run(op, count, value-size)` and returns its checksum.
    ///
    /// # Panics
    /// If the guest traps (its storage calls `expect` success) or the floor does.
    pub fn run(&mut self, op: u8, count: u32, value_size: u32) -> u64 {
        self.guest.zero_bench_ops().call_run(&mut self.store, op, count, value_size).expect("forwarded guest run")
    }
}

/// The floor component called by the host itself, as the host's `Process` API calls the storage
/// component: host → floor (one typed call) → host map or memory backend.
pub struct FloorHost {
    store: Store<FloorState>,
    kv: floor_store::Guest,
    bucket: ResourceAny,
}

impl FloorHost {
    /// Instantiates `floor_wasm` (a floor component) with an empty map and memory backend, and
    /// opens a bucket.
    pub fn new(engine: &Engine, floor_wasm: &[u8]) -> anyhow::Result<Self> {
        let (mut store, kv) = instantiate_floor(engine, floor_wasm)?;
        let bucket = kv.call_open(&mut store, "")?.map_err(|_| anyhow::anyhow!("open"))?;
        Ok(Self { store, kv, bucket })
    }

    /// The memory backend behind the records floor's `backend` import (the pass-through floor
    /// leaves it empty).
    pub fn backend(&self) -> std::sync::Arc<dyn zero_storage::backend::Backend> {
        self.store.data().zero.backend().clone()
    }
}

/// The floor's bucket operations; each panics if the floor traps or fails (it never does).
impl crate::HostOps for FloorHost {
    fn get(&mut self, key: &str) -> Option<Vec<u8>> {
        let api = self.kv.bucket();
        api.call_get(&mut self.store, self.bucket, key)
            .expect("floor get")
            .unwrap_or_else(|_| panic!("floor get failed"))
    }

    fn set(&mut self, key: &str, value: &[u8]) {
        let api = self.kv.bucket();
        api.call_set(&mut self.store, self.bucket, key, value)
            .expect("floor set")
            .unwrap_or_else(|_| panic!("floor set failed"))
    }

    fn exists(&mut self, key: &str) -> bool {
        let api = self.kv.bucket();
        api.call_exists(&mut self.store, self.bucket, key)
            .expect("floor exists")
            .unwrap_or_else(|_| panic!("floor exists failed"))
    }

    fn delete(&mut self, key: &str) {
        let api = self.kv.bucket();
        api.call_delete(&mut self.store, self.bucket, key)
            .expect("floor delete")
            .unwrap_or_else(|_| panic!("floor delete failed"))
    }

    fn list(&mut self) -> Vec<String> {
        let api = self.kv.bucket();
        api.call_list_keys(&mut self.store, self.bucket, None)
            .expect("floor list")
            .unwrap_or_else(|_| panic!("floor list failed"))
            .keys
    }
}
