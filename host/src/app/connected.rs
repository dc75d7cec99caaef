//! Running an app while a Storage Service owns the data: the app runs here, as a `wasi:cli`
//! command under the same memory limit, deadline and WASI context as [`super::Launcher`] gives
//! it, but it is not composed with the storage component. Its storage imports are served by
//! forwarding (`crate::forward`), each call sent to the service as the app's identity.

use std::path::Path;
use std::time::Duration;

use wasmtime::component::{Linker, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::p2::bindings::sync::Command;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::{AppExit, AppShape, app_wasi, classify, command_exit, memory_limit};
use crate::config::AppLimits;
use crate::error::{Error, Result};
use crate::forward::{self, ForwardCtx, ForwardView, ServiceCalls};
use crate::identity::ProcessIdentity;
use crate::store::{MemoryLimit, ticks};

/// The data of a connected app's store: its WASI context and resource table (shared with the
/// forwarded storage handles), its memory limit, and where its storage calls go.
pub(crate) struct ConnectedState {
    wasi: WasiCtx,
    table: ResourceTable,
    limits: MemoryLimit,
    forward: ForwardCtx,
}

impl ConnectedState {
    fn forward(&mut self) -> ForwardView<'_> {
        ForwardView::new(&mut self.forward, &mut self.table)
    }
}

impl WasiView for ConnectedState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

/// A linker for connected apps: WASI as for composed apps (the contexts grant no files and no
/// sockets), and every storage import an app may have, served by forwarding.
pub(crate) fn connected_linker(engine: &Engine) -> wasmtime::Result<Linker<ConnectedState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
    forward::add_to_linker(&mut linker, ConnectedState::forward)?;
    Ok(linker)
}

/// What running a connected app needs: the engine, a [`connected_linker`], the service's
/// socket, the app limits and the compile cache.
pub(crate) struct ConnectedLauncher<'a> {
    pub(crate) engine: &'a Engine,
    pub(crate) linker: &'a Linker<ConnectedState>,
    pub(crate) socket: &'a Path,
    pub(crate) limits: &'a AppLimits,
    pub(crate) cache_dir: Option<&'a Path>,
}

impl ConnectedLauncher<'_> {
    /// Runs `app_wasm` as the process `identity` with `args`, its storage in the service.
    pub(crate) fn run(&self, identity: ProcessIdentity, app_wasm: &[u8], args: &[String]) -> Result<AppExit> {
        let calls = match classify(app_wasm)? {
            AppShape::Plain => ServiceCalls::connect(self.socket, &identity, self.timeout())?,
            AppShape::NoStorage => ServiceCalls::disconnected(),
            AppShape::Composed => {
                return Err(Error::AppRefused(format!(
                    "app `{}` was composed with the storage component ahead of time, so its storage cannot go \
                     to the storage service that owns this data; run the plain app (before `zero-storage \
                     compose` or `wac plug`) instead, or stop the service",
                    identity.name()
                )));
            }
        };
        let component = crate::cache::load_component(self.engine, app_wasm, self.cache_dir)
            .map_err(|e| Error::AppRefused(format!("cannot compile the app: {e:#}")))?;
        let name = identity.name().to_owned();
        let state = ConnectedState {
            wasi: app_wasi(&identity, args),
            table: ResourceTable::new(),
            limits: MemoryLimit::new(memory_limit(self.limits)),
            forward: ForwardCtx::new(Box::new(calls)),
        };
        let mut store = Store::new(self.engine, state);
        store.limiter(|state| &mut state.limits);
        store.set_epoch_deadline(ticks(self.timeout()));
        let outcome = Command::instantiate(&mut store, &component, self.linker)
            .and_then(|command| command.wasi_cli_run().call_run(&mut store));
        command_exit(outcome, store.data().limits.exceeded, &name, self.limits)
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(self.limits.timeout_secs)
    }
}
