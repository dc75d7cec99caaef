//! Running app components (`wasi:cli` commands) with their storage.
//!
//! A plain app imports `zero:storage/store` (or `wasi:keyvalue`); the host serves those imports
//! itself (`forwarded.rs`, with `crate::forward`) and hands every call to the app's own storage
//! instance, or to the Storage Service when one owns the data. An app that was already composed
//! with the storage component by `wac plug` (or [`compose`]) is run as it is, its calls reaching
//! storage through fused adapters, after checking that the component inside it is this host's
//! storage component and that only it receives `backend` and `identity`; the composition's only
//! storage imports are then `backend` and `identity`, which the host serves for the app's
//! identity.
//!
//! Apps must never reach `backend`, `identity` or `admin` themselves: an app that imports them
//! any other way is refused before it runs. Each app runs with a memory limit and a deadline.

use std::time::Duration;

use wasmtime::component::{Component, ComponentNamedList, Instance, Lift, Linker, Lower, TypedFunc};
use wasmtime::{Engine, Store, Trap};
use wasmtime_wasi::p2::bindings::sync::Command;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder};

use crate::config::AppLimits;
use crate::error::{Error, Result};
use crate::identity::ProcessIdentity;
use crate::link::{STORAGE_COMPONENT, ZeroStorageCtx};
use crate::store::{HostState, new_store, ticks};

mod forwarded;
mod inspect;

pub(crate) use forwarded::{ConnectedLauncher, ForwardedLauncher, ForwardedState, forwarded_linker};

/// Interfaces only the storage component may import.
const PRIVILEGED: [&str; 3] = ["zero:storage/backend", "zero:storage/identity", "zero:storage/admin"];
/// Interfaces an app may import (prefixes, before any `@version`): WASI, including the
/// standard `wasi:keyvalue` that the storage component serves, and Zero's own store.
const ALLOWED_PREFIXES: [&str; 3] = ["wasi:", "zero:storage/store", "zero:storage/types"];

/// How an app run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppExit {
    /// The app returned from `run` (or called exit) with this status.
    Exited(i32),
}

/// How the storage reaches an app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppShape {
    /// The app imports `zero:storage/store` or `wasi:keyvalue/*`; the host serves them.
    Plain,
    /// The app was composed with this host's storage component already.
    Composed,
    /// The app does not use storage.
    NoStorage,
}

/// Checks an app's imports and says how to link it, or why it is refused.
pub fn classify(app_wasm: &[u8]) -> Result<AppShape> {
    let imports = inspect::top_level_imports(app_wasm)
        .map_err(|e| Error::AppRefused(format!("the app is not a valid WebAssembly component: {e}")))?;
    let privileged: Vec<&String> =
        imports.iter().filter(|name| PRIVILEGED.iter().any(|p| interface_name(name) == *p)).collect();
    let unknown: Vec<&String> = imports
        .iter()
        .filter(|name| !PRIVILEGED.iter().any(|p| interface_name(name) == *p))
        .filter(|name| !ALLOWED_PREFIXES.iter().any(|p| name.starts_with(p)))
        .collect();
    if !unknown.is_empty() {
        return Err(Error::AppRefused(format!(
            "the app imports {}, which this host does not provide; apps may import wasi:* and zero:storage/store",
            join(&unknown)
        )));
    }
    if privileged.is_empty() {
        let uses_store = imports
            .iter()
            .any(|name| interface_name(name) == "zero:storage/store" || name.starts_with("wasi:keyvalue/"));
        return Ok(if uses_store { AppShape::Plain } else { AppShape::NoStorage });
    }
    match inspect::check_sealed_composition(app_wasm, STORAGE_COMPONENT) {
        Ok(()) => Ok(AppShape::Composed),
        Err(refusal) => Err(Error::AppRefused(format!(
            "the app imports {}, which only the storage component may use, and is not a sealed \
             composition with this host's storage component: it {refusal}. An app may import \
             zero:storage/store, or be composed with `zero-storage compose` (or `wac plug` with \
             the component `zero-storage component` writes)",
            join(&privileged)
        ))),
    }
}

fn interface_name(import: &str) -> &str {
    import.split('@').next().unwrap_or(import)
}

fn join(names: &[&String]) -> String {
    names.iter().map(|name| format!("`{name}`")).collect::<Vec<_>>().join(", ")
}

/// Checks `app_wasm` (see [`classify`]) and returns the component to instantiate: a plain app
/// composed with the storage component, or the app itself if it is already a sealed
/// composition or uses no storage. Its only storage imports are then `backend` and `identity`,
/// which [`crate::add_to_linker`] serves.
pub fn prepare(app_wasm: &[u8]) -> Result<Vec<u8>> {
    Ok(match classify(app_wasm)? {
        AppShape::Plain => compose(app_wasm)?,
        AppShape::Composed | AppShape::NoStorage => app_wasm.to_vec(),
    })
}

/// Composes a plain app with the storage component (`wac plug` in process).
pub fn compose(app_wasm: &[u8]) -> Result<Vec<u8>> {
    use wac_graph::{CompositionGraph, EncodeOptions, types::Package};
    let refused = |what: &str, error: &dyn std::fmt::Display| Error::AppRefused(format!("{what}: {error:#}"));
    let mut graph = CompositionGraph::new();
    let app = Package::from_bytes("zero:app", None, app_wasm.to_vec(), graph.types_mut())
        .map_err(|e| refused("the app is not a valid WebAssembly component", &e))?;
    let app = graph.register_package(app).map_err(|e| refused("cannot read the app's types", &e))?;
    let storage = Package::from_bytes("zero:storage-component", None, STORAGE_COMPONENT.to_vec(), graph.types_mut())
        .map_err(|e| refused("cannot read the storage component", &e))?;
    let storage = graph.register_package(storage).map_err(|e| refused("cannot read the storage component", &e))?;
    wac_graph::plug(&mut graph, vec![storage], app)
        .map_err(|e| refused("cannot link the app's storage imports", &e))?;
    graph.encode(EncodeOptions::default()).map_err(|e| refused("cannot encode the composition", &e))
}

/// An app component instantiated with its storage, for hosts that call the app's own exports
/// (rather than running it as a `wasi:cli` command). Every call gets the app's deadline.
pub struct AppInstance {
    store: AppStore,
    instance: Instance,
    timeout: Duration,
}

/// The store an app runs in: a plain app's, whose storage imports the host serves, or a
/// composition's, which holds the storage instance itself.
enum AppStore {
    Forwarded(Store<ForwardedState>),
    Composed(Store<HostState>),
}

/// Runs `$body` with `$store` bound to the app's store, whichever kind it is.
macro_rules! with_store {
    ($app:expr, |$store:ident| $body:expr) => {
        match &mut $app.store {
            AppStore::Forwarded($store) => $body,
            AppStore::Composed($store) => $body,
        }
    };
}

impl AppInstance {
    /// The function `name` of the app's exported interface `interface` (e.g. `my:app/api`).
    pub fn func<P, R>(&mut self, interface: &str, name: &str) -> Result<TypedFunc<P, R>>
    where
        P: ComponentNamedList + Lower,
        R: ComponentNamedList + Lift,
    {
        let instance = self.instance;
        with_store!(self, |store| {
            let (_, exported) = instance
                .get_export(&mut *store, None, interface)
                .ok_or_else(|| Error::Invalid(format!("the app exports no interface `{interface}`")))?;
            let (_, func) = instance
                .get_export(&mut *store, Some(&exported), name)
                .ok_or_else(|| Error::Invalid(format!("`{interface}` has no function `{name}`")))?;
            instance.get_typed_func(&mut *store, func).map_err(|e| Error::Invalid(format!("{e:#}")))
        })
    }

    /// Calls `func`, which must come from this instance.
    pub fn call<P, R>(&mut self, func: &TypedFunc<P, R>, params: P) -> Result<R>
    where
        P: ComponentNamedList + Lower,
        R: ComponentNamedList + Lift,
    {
        let ticks = ticks(self.timeout);
        with_store!(self, |store| {
            store.set_epoch_deadline(ticks);
            func.call(&mut *store, params).map_err(Error::Runtime)
        })
    }
}

/// What running a composed app (or one that uses no storage) needs from the runtime: the
/// engine, a linker with WASI and the storage component's imports, the storage context and the
/// app limits.
pub(crate) struct Launcher<'a> {
    pub(crate) engine: &'a Engine,
    pub(crate) linker: &'a Linker<HostState>,
    pub(crate) storage: &'a ZeroStorageCtx,
    pub(crate) limits: &'a AppLimits,
}

impl Launcher<'_> {
    /// A store for the app `identity` with the app limits and its WASI context (see
    /// [`app_wasi`]).
    fn store(&self, identity: ProcessIdentity, args: &[String]) -> Store<HostState> {
        let wasi = app_wasi(&identity, args);
        let mut store = new_store(self.engine, self.storage, identity, memory_limit(self.limits), wasi);
        store.set_epoch_deadline(ticks(self.timeout()));
        store
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(self.limits.timeout_secs)
    }

    /// Instantiates `component` (a composed app, or one without storage) as the process
    /// `identity`, to call its own exports.
    pub(crate) fn instantiate(&self, identity: ProcessIdentity, component: &Component) -> Result<AppInstance> {
        let mut store = self.store(identity, &[]);
        let instance = self.linker.instantiate(&mut store, component).map_err(Error::Runtime)?;
        Ok(AppInstance { store: AppStore::Composed(store), instance, timeout: self.timeout() })
    }

    /// Runs `component` (a composed `wasi:cli` command, or one without storage) as the process
    /// `identity` with `args`.
    pub(crate) fn run(&self, identity: ProcessIdentity, component: &Component, args: &[String]) -> Result<AppExit> {
        let name = identity.name().to_owned();
        let mut store = self.store(identity, args);
        let outcome = Command::instantiate(&mut store, component, self.linker)
            .and_then(|command| command.wasi_cli_run().call_run(&mut store));
        command_exit(outcome, store.data().limits.exceeded, &name, self.limits)
    }
}

/// The linear memory an app may use, as the store's limiter counts it.
fn memory_limit(limits: &AppLimits) -> usize {
    usize::try_from(limits.memory_limit_bytes).unwrap_or(usize::MAX)
}

/// An app's WASI context: the host's stdio, `args`, and the environment variables that name the
/// app and its user. No files, no network.
fn app_wasi(identity: &ProcessIdentity, args: &[String]) -> WasiCtx {
    let mut wasi = WasiCtxBuilder::new();
    wasi.inherit_stdio().args(args).env("ZERO_STORAGE_APP", identity.name());
    if let Some(user) = identity.user() {
        wasi.env("ZERO_STORAGE_USER", user);
    }
    wasi.build()
}

/// How the run of the `wasi:cli` command `name` ended, from what `run` returned and whether its
/// store passed its memory limit: its exit status, or why it was stopped.
fn command_exit(
    outcome: wasmtime::Result<Result<(), ()>>,
    memory_exceeded: bool,
    name: &str,
    limits: &AppLimits,
) -> Result<AppExit> {
    match outcome {
        Ok(Ok(())) => Ok(AppExit::Exited(0)),
        Ok(Err(())) => Ok(AppExit::Exited(1)),
        Err(error) => {
            if let Some(exit) = error.downcast_ref::<wasmtime_wasi::I32Exit>() {
                return Ok(AppExit::Exited(exit.0));
            }
            let why = if memory_exceeded {
                format!("app `{name}` exceeded its memory limit of {} bytes and was stopped", limits.memory_limit_bytes)
            } else if error.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
                format!("app `{name}` ran longer than its limit of {} s and was stopped", limits.timeout_secs)
            } else {
                format!("app `{name}` failed: {error:?}")
            };
            Err(Error::AppStopped(why))
        }
    }
}
