//! A wasmtime host of your own, with its own store type, that adds Zero Storage to its linker
//! the way it adds WASI: `zero_storage::add_to_linker(&mut linker, |state| state.storage())`.
//! It runs one `wasi:cli` app composed with the storage component, as the app `NAME`, over the
//! `fs` backend in `DATA_DIR`.
//!
//! ```sh
//! cargo run --release -p wasmtime-host -- DATA_DIR NAME APP.wasm [ARGS]...
//! ```
//!
//! `zero_storage::Runtime` does the same and more (a compile cache, an instance pool, memory
//! limits and deadlines per app); this shows the pieces for a host that already has its own.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::p2::bindings::sync::Command;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use zero_storage::backend::FsBackend;
use zero_storage::{ProcessIdentity, ZeroStorageCtx, ZeroStorageView};

/// The host's own store data: whatever it already keeps (here WASI), plus Zero Storage's context
/// and the identity of the app the store runs.
struct MyState {
    wasi: WasiCtx,
    table: ResourceTable,
    zero: ZeroStorageCtx,
    identity: ProcessIdentity,
}

impl MyState {
    fn storage(&mut self) -> ZeroStorageView<'_> {
        ZeroStorageView::new(&self.zero, &self.identity)
    }
}

impl WasiView for MyState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(data), Some(name), Some(app)) = (args.next(), args.next(), args.next()) else {
        bail!("usage: wasmtime-host DATA_DIR NAME APP.wasm [ARGS]...");
    };
    let app_args: Vec<String> = std::iter::once(app.clone()).chain(args).collect();

    // Once per host: the engine, the linker, and the storage context every store shares.
    let engine = Engine::default();
    let mut linker = Linker::<MyState>::new(&engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
    zero_storage::add_to_linker(&mut linker, MyState::storage)?;
    let zero = ZeroStorageCtx::builder().backend(Arc::new(FsBackend::open(&PathBuf::from(&data))?)).build();

    // Per app: check it and compose it with the storage component (an app that imports the
    // backend itself is refused here), then compile it.
    let bytes = std::fs::read(&app).with_context(|| format!("cannot read {app}"))?;
    let component = Component::new(&engine, zero_storage::prepare(&bytes)?)?;

    // Per run: a store with this app's identity, which decides its namespaces.
    let state = MyState {
        wasi: WasiCtx::builder().inherit_stdio().args(&app_args).build(),
        table: ResourceTable::new(),
        zero: zero.clone(),
        identity: ProcessIdentity::new(&name)?,
    };
    let mut store = Store::new(&engine, state);
    let command = Command::instantiate(&mut store, &component, &linker)?;
    let outcome = command.wasi_cli_run().call_run(&mut store);
    match outcome {
        Ok(Ok(())) => Ok(()),
        Ok(Err(())) => std::process::exit(1),
        Err(error) => match error.downcast_ref::<wasmtime_wasi::I32Exit>() {
            Some(exit) => std::process::exit(exit.0),
            None => Err(anyhow::anyhow!("{error:?}")),
        },
    }
}
