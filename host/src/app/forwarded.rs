//! Running a plain app by host forwarding: the app is not composed with the storage component;
//! its storage imports are served by `crate::forward`, each call handed to a
//! [`StorageCalls`] — the app's own storage instance in this process ([`LocalCalls`]), or a
//! Storage Service that owns the data ([`ServiceCalls`]). The app gets the same memory limit,
//! deadline and WASI context as a composed app ([`super::Launcher`]).

use std::path::Path;
use std::time::Duration;

use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::p2::bindings::sync::Command;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::{AppExit, AppInstance, AppShape, AppStore, app_wasi, classify, command_exit, memory_limit};
use crate::config::AppLimits;
use crate::error::{Error, Result};
use crate::forward::{self, ForwardCtx, ForwardView, ServiceCalls, StorageCalls};
use crate::identity::ProcessIdentity;
use crate::store::{MemoryLimit, ticks};

/// The data of a forwarded app's store: its WASI context and resource table (shared with the
/// forwarded storage handles), its memory limit, and where its storage calls go.
pub(crate) struct ForwardedState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limits: MemoryLimit,
    forward: ForwardCtx,
}

impl ForwardedState {
    fn forward(&mut self) -> ForwardView<'_> {
        ForwardView::new(&mut self.forward, &mut self.table)
    }
}

impl WasiView for ForwardedState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

/// A linker for forwarded apps: WASI as for composed apps (the contexts grant no files and no
/// sockets), and every storage import an app may have, served by forwarding.
pub(crate) fn forwarded_linker(engine: &Engine) -> wasmtime::Result<Linker<ForwardedState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
    forward::add_to_linker(&mut linker, ForwardedState::forward)?;
    Ok(linker)
}

/// What running a forwarded app needs: the engine, a [`forwarded_linker`] and the app limits.
pub(crate) struct ForwardedLauncher<'a> {
    pub(crate) engine: &'a Engine,
    pub(crate) linker: &'a Linker<ForwardedState>,
    pub(crate) limits: &'a AppLimits,
}

impl ForwardedLauncher<'_> {
    /// A store for the app `identity` with `args`, its storage calls going to `calls`.
    fn store(
        &self,
        identity: &ProcessIdentity,
        args: &[String],
        calls: Box<dyn StorageCalls>,
    ) -> Store<ForwardedState> {
        let state = ForwardedState {
            wasi: app_wasi(identity, args),
            table: ResourceTable::new(),
            limits: MemoryLimit::new(memory_limit(self.limits)),
            forward: ForwardCtx::new(calls),
        };
        let mut store = Store::new(self.engine, state);
        store.limiter(|state| &mut state.limits);
        store.set_epoch_deadline(ticks(self.timeout()));
        store
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(self.limits.timeout_secs)
    }

    /// Runs `component` (a plain `wasi:cli` command) as the process `identity` with `args`.
    pub(crate) fn run(
        &self,
        identity: &ProcessIdentity,
        component: &Component,
        args: &[String],
        calls: Box<dyn StorageCalls>,
    ) -> Result<AppExit> {
        let mut store = self.store(identity, args, calls);
        let outcome = Command::instantiate(&mut store, component, self.linker)
            .and_then(|command| command.wasi_cli_run().call_run(&mut store));
        command_exit(outcome, store.data().limits.exceeded, identity.name(), self.limits)
    }

    /// Instantiates `component` (a plain app) as the process `identity`, to call its own
    /// exports.
    pub(crate) fn instantiate(
        &self,
        identity: &ProcessIdentity,
        component: &Component,
        calls: Box<dyn StorageCalls>,
    ) -> Result<AppInstance> {
        let mut store = self.store(identity, &[], calls);
        let instance = self.linker.instantiate(&mut store, component).map_err(Error::Runtime)?;
        Ok(AppInstance { store: AppStore::Forwarded(store), instance, timeout: self.timeout() })
    }
}

/// What running an app while a Storage Service owns the data needs: a [`ForwardedLauncher`],
/// the service's socket and the compile cache.
pub(crate) struct ConnectedLauncher<'a> {
    pub(crate) forwarded: ForwardedLauncher<'a>,
    pub(crate) socket: &'a Path,
    pub(crate) cache_dir: Option<&'a Path>,
}

impl ConnectedLauncher<'_> {
    /// Runs `app_wasm` as the process `identity` with `args`, its storage in the service.
    pub(crate) fn run(&self, identity: ProcessIdentity, app_wasm: &[u8], args: &[String]) -> Result<AppExit> {
        let calls = match classify(app_wasm)? {
            AppShape::Plain => ServiceCalls::connect(self.socket, &identity, self.forwarded.timeout())?,
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
        let component = crate::cache::load_component(self.forwarded.engine, app_wasm, self.cache_dir)
            .map_err(|e| Error::AppRefused(format!("cannot compile the app: {e:#}")))?;
        self.forwarded.run(&identity, &component, args, Box::new(calls))
    }
}
