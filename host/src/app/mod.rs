//! Running app components (`wasi:cli` commands) with their storage.
//!
//! A plain app imports `zero:storage/store`; the host plugs the storage component into it (with
//! the `wac` composition library, in process) so the app's calls reach storage through fused
//! adapters, and the composition's only storage imports are `backend` and `identity`, which the
//! host serves for the app's identity. An app that was already composed with the storage
//! component by `wac plug` is accepted too, after checking that the component inside it is this
//! host's storage component and that only it receives `backend` and `identity`.
//!
//! Apps must never reach `backend`, `identity` or `admin` themselves: an app that imports them
//! any other way is refused before it runs. Each app runs with a memory limit and a deadline.

use std::time::Duration;

use anyhow::{Context, bail};
use wasmtime::component::{Component, ComponentNamedList, Instance, Lift, Lower, TypedFunc};
use wasmtime::{Store, Trap};
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::p2::bindings::sync::Command;

use crate::bindings::ProcessState;
use crate::identity::ProcessIdentity;
use crate::runtime::{Runtime, STORAGE_COMPONENT, ticks};

mod inspect;

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
    /// The app imports `zero:storage/store` or `wasi:keyvalue/*`; the host composes it with
    /// storage.
    Plain,
    /// The app was composed with this host's storage component already.
    Composed,
    /// The app does not use storage.
    NoStorage,
}

/// Checks an app's imports and says how to link it, or why it is refused.
pub fn classify(app_wasm: &[u8]) -> anyhow::Result<AppShape> {
    let imports = inspect::top_level_imports(app_wasm).context("the app is not a valid WebAssembly component")?;
    let privileged: Vec<&String> =
        imports.iter().filter(|name| PRIVILEGED.iter().any(|p| interface_name(name) == *p)).collect();
    let unknown: Vec<&String> = imports
        .iter()
        .filter(|name| !PRIVILEGED.iter().any(|p| interface_name(name) == *p))
        .filter(|name| !ALLOWED_PREFIXES.iter().any(|p| name.starts_with(p)))
        .collect();
    if !unknown.is_empty() {
        bail!(
            "the app imports {}, which this host does not provide; apps may import wasi:* and zero:storage/store",
            join(&unknown)
        );
    }
    if privileged.is_empty() {
        let uses_store = imports
            .iter()
            .any(|name| interface_name(name) == "zero:storage/store" || name.starts_with("wasi:keyvalue/"));
        return Ok(if uses_store { AppShape::Plain } else { AppShape::NoStorage });
    }
    match inspect::check_sealed_composition(app_wasm, STORAGE_COMPONENT) {
        Ok(()) => Ok(AppShape::Composed),
        Err(refusal) => bail!(
            "the app imports {}, which only the storage component may use, and is not a sealed \
             composition with this host's storage component: it {refusal}. An app may import \
             zero:storage/store, or be composed with `zero-storage compose` (or `wac plug` with \
             the component `zero-storage component` writes)",
            join(&privileged)
        ),
    }
}

fn interface_name(import: &str) -> &str {
    import.split('@').next().unwrap_or(import)
}

fn join(names: &[&String]) -> String {
    names.iter().map(|name| format!("`{name}`")).collect::<Vec<_>>().join(", ")
}

/// Composes a plain app with the storage component (`wac plug` in process).
pub fn compose(app_wasm: &[u8]) -> anyhow::Result<Vec<u8>> {
    use wac_graph::{CompositionGraph, EncodeOptions, types::Package};
    let mut graph = CompositionGraph::new();
    let app = Package::from_bytes("zero:app", None, app_wasm.to_vec(), graph.types_mut())?;
    let app = graph.register_package(app)?;
    let storage = Package::from_bytes("zero:storage-component", None, STORAGE_COMPONENT.to_vec(), graph.types_mut())?;
    let storage = graph.register_package(storage)?;
    wac_graph::plug(&mut graph, vec![storage], app).context("cannot link the app's storage imports")?;
    Ok(graph.encode(EncodeOptions::default())?)
}

/// An app component instantiated with its storage, for hosts that call the app's own exports
/// (rather than running it as a `wasi:cli` command). Every call gets the app's deadline.
pub struct AppInstance {
    store: Store<ProcessState>,
    instance: Instance,
    timeout: Duration,
}

impl AppInstance {
    /// The function `name` of the app's exported interface `interface` (e.g. `my:app/api`).
    pub fn func<P, R>(&mut self, interface: &str, name: &str) -> anyhow::Result<TypedFunc<P, R>>
    where
        P: ComponentNamedList + Lower,
        R: ComponentNamedList + Lift,
    {
        let (_, exported) = self
            .instance
            .get_export(&mut self.store, None, interface)
            .with_context(|| format!("the app exports no interface `{interface}`"))?;
        let (_, func) = self
            .instance
            .get_export(&mut self.store, Some(&exported), name)
            .with_context(|| format!("`{interface}` has no function `{name}`"))?;
        Ok(self.instance.get_typed_func(&mut self.store, func)?)
    }

    /// Calls `func`, which must come from this instance.
    pub fn call<P, R>(&mut self, func: &TypedFunc<P, R>, params: P) -> anyhow::Result<R>
    where
        P: ComponentNamedList + Lower,
        R: ComponentNamedList + Lift,
    {
        self.store.set_epoch_deadline(ticks(self.timeout));
        Ok(func.call(&mut self.store, params)?)
    }
}

impl Runtime {
    /// Checks and links `app_wasm` for `identity`: the compiled component and a store that has
    /// the app's limits and WASI context.
    fn prepare_app(
        &self,
        identity: ProcessIdentity,
        app_wasm: &[u8],
        args: &[String],
    ) -> anyhow::Result<(Component, Store<ProcessState>, Duration)> {
        let wasm = match classify(app_wasm)? {
            AppShape::Plain => compose(app_wasm)?,
            AppShape::Composed | AppShape::NoStorage => app_wasm.to_vec(),
        };
        let component = self.load(&wasm).context("cannot compile the app")?;
        let limits = self.config().apps.clone();
        let memory_limit = usize::try_from(limits.memory_limit_bytes).unwrap_or(usize::MAX);
        let mut wasi = WasiCtxBuilder::new();
        wasi.inherit_stdio().args(args).env("ZERO_STORAGE_APP", identity.name());
        if let Some(user) = identity.user() {
            wasi.env("ZERO_STORAGE_USER", user);
        }
        let store = self.new_store(identity, memory_limit, wasi.build());
        Ok((component, store, Duration::from_secs(limits.timeout_secs)))
    }

    /// Instantiates the app component `app_wasm` (linked like [`Runtime::run_app`] links it)
    /// as the process `identity`, to call its own exports through [`AppInstance`].
    pub fn instantiate_app(&self, identity: ProcessIdentity, app_wasm: &[u8]) -> anyhow::Result<AppInstance> {
        let (component, mut store, timeout) = self.prepare_app(identity, app_wasm, &[])?;
        store.set_epoch_deadline(ticks(timeout));
        let instance = self.inner.linker.instantiate(&mut store, &component)?;
        Ok(AppInstance { store, instance, timeout })
    }

    /// Runs the `wasi:cli` command component `app_wasm` as the process `identity`, with `args`
    /// (the first is the program name). Its storage calls go to its own namespaces; it gets the
    /// host's stdio, the environment variables `ZERO_STORAGE_APP` (its name) and
    /// `ZERO_STORAGE_USER` (its user, if any), no files, no network, and the configured memory
    /// limit and deadline.
    pub fn run_app(&self, identity: ProcessIdentity, app_wasm: &[u8], args: &[String]) -> anyhow::Result<AppExit> {
        let name = identity.name().to_owned();
        let (component, mut store, timeout) = self.prepare_app(identity, app_wasm, args)?;
        let limits = self.config().apps.clone();
        store.set_epoch_deadline(ticks(timeout));
        let outcome = Command::instantiate(&mut store, &component, &self.inner.linker)
            .and_then(|command| command.wasi_cli_run().call_run(&mut store));
        match outcome {
            Ok(Ok(())) => Ok(AppExit::Exited(0)),
            Ok(Err(())) => Ok(AppExit::Exited(1)),
            Err(error) => {
                if let Some(exit) = error.downcast_ref::<wasmtime_wasi::I32Exit>() {
                    return Ok(AppExit::Exited(exit.0));
                }
                if store.data().limits.exceeded {
                    bail!(
                        "app `{name}` exceeded its memory limit of {} bytes and was stopped",
                        limits.memory_limit_bytes
                    );
                }
                if error.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
                    bail!("app `{name}` ran longer than its limit of {} s and was stopped", limits.timeout_secs);
                }
                Err(anyhow::anyhow!("app `{name}` failed: {error:?}"))
            }
        }
    }
}
