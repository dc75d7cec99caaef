//! Linking Zero Storage into any wasmtime host: the host side of the storage component's
//! `backend` and `identity` imports, as a context and a view, the way wasmtime's own host crates
//! (`wasmtime-wasi-keyvalue`, `wasmtime-wasi-config`) do it.
//!
//! - [`ZeroStorageCtxBuilder`] → [`ZeroStorageCtx`]: what every store shares — the backend the
//!   data lives in, the quotas, and the clock that time to live is measured against. Cheap to
//!   clone.
//! - [`ZeroStorageView`]: one store's view of it, with the identity of the process the store runs
//!   (which decides the namespaces it may use).
//! - [`add_to_linker`]: adds `backend`, `identity` and `types` to a [`Linker<T>`] of the
//!   embedder's own store type.
//!
//! The storage component also imports WASI (its Rust standard library does): add
//! `wasmtime_wasi::p2::add_to_linker_sync` too, with no preopens and no sockets. An app reaches
//! storage through the storage component only, never through these imports: compose the app
//! with [`crate::compose`] (or check one composed ahead of time with [`crate::classify`]) before
//! instantiating it. This module depends on nothing in the crate above the backends, the
//! identity, the clock and the configuration.

mod convert;

use std::sync::Arc;

use wasmtime::component::{HasData, Linker};
use zero_storage_component::backend as contract;

use crate::backend::{Backend, MemoryBackend};
use crate::clock::{Clock, SystemClock};
use crate::config::Quotas;
use crate::identity::ProcessIdentity;

pub(crate) mod generated {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "storage",
    });
}

use generated::zero::storage::{backend, identity, types};

/// The storage component this host links: built from `component/` by this crate's build
/// script. Compose apps with it ([`crate::compose`]), or write it out to compose with `wac`.
pub static STORAGE_COMPONENT: &[u8] = include_bytes!(env!("ZERO_STORAGE_COMPONENT_WASM"));

/// Configures and builds a [`ZeroStorageCtx`].
pub struct ZeroStorageCtxBuilder {
    backend: Option<Arc<dyn Backend>>,
    quotas: Quotas,
    clock: Arc<dyn Clock>,
}

impl Default for ZeroStorageCtxBuilder {
    fn default() -> Self {
        ZeroStorageCtxBuilder { backend: None, quotas: Quotas::default(), clock: Arc::new(SystemClock) }
    }
}

impl ZeroStorageCtxBuilder {
    /// A builder with the default quotas, the system clock and (unless another is chosen) the
    /// memory backend.
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps data in `backend`.
    pub fn backend(mut self, backend: Arc<dyn Backend>) -> Self {
        self.backend = Some(backend);
        self
    }

    /// Uses `quotas` for every namespace.
    pub fn quotas(mut self, quotas: Quotas) -> Self {
        self.quotas = quotas;
        self
    }

    /// Measures time to live against `clock`.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The context.
    pub fn build(self) -> ZeroStorageCtx {
        let backend = self.backend.unwrap_or_else(|| Arc::new(MemoryBackend::new()));
        ZeroStorageCtx { inner: Arc::new(Shared { backend, quotas: self.quotas, clock: self.clock }) }
    }
}

/// What every store of a host shares: the backend, the quotas and the clock. Cloning it is
/// cheap and every clone is the same context.
#[derive(Clone)]
pub struct ZeroStorageCtx {
    inner: Arc<Shared>,
}

struct Shared {
    backend: Arc<dyn Backend>,
    quotas: Quotas,
    clock: Arc<dyn Clock>,
}

impl ZeroStorageCtx {
    /// Same as [`ZeroStorageCtxBuilder::new`].
    pub fn builder() -> ZeroStorageCtxBuilder {
        ZeroStorageCtxBuilder::new()
    }

    /// The backend every store of this context stores in.
    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.inner.backend
    }

    /// The quotas.
    pub fn quotas(&self) -> &Quotas {
        &self.inner.quotas
    }

    /// The clock that time to live is measured against.
    pub(crate) fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }
}

/// One store's view of a [`ZeroStorageCtx`]: the context, and the identity of the process the
/// store runs. It implements the host side of the storage component's imports.
pub struct ZeroStorageView<'a> {
    ctx: &'a ZeroStorageCtx,
    identity: &'a ProcessIdentity,
}

impl<'a> ZeroStorageView<'a> {
    /// The view of `ctx` for a store that runs the process `identity`.
    pub fn new(ctx: &'a ZeroStorageCtx, identity: &'a ProcessIdentity) -> Self {
        ZeroStorageView { ctx, identity }
    }
}

/// Adds the host side of the storage component's `backend`, `identity` and `types` imports to
/// `linker`; `view` finds a store's [`ZeroStorageView`] in its data.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    view: fn(&mut T) -> ZeroStorageView<'_>,
) -> wasmtime::Result<()> {
    backend::add_to_linker::<T, HasZeroStorage>(linker, view)?;
    identity::add_to_linker::<T, HasZeroStorage>(linker, view)?;
    types::add_to_linker::<T, HasZeroStorage>(linker, view)?;
    Ok(())
}

struct HasZeroStorage;

impl HasData for HasZeroStorage {
    type Data<'a> = ZeroStorageView<'a>;
}

impl types::Host for ZeroStorageView<'_> {}

/// What a backend call does with a namespace, for the host's own access check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Use {
    Read,
    Write,
}

/// Whether `access` allows `use_`: reads need any access, writes need read-write.
fn allows(access: contract::Access, use_: Use) -> bool {
    match access {
        contract::Access::None => false,
        contract::Access::ReadOnly => use_ == Use::Read,
        contract::Access::ReadWrite => true,
    }
}

impl ZeroStorageView<'_> {
    /// Defence in depth: the storage component only ever names namespaces the process may use,
    /// but the host checks again so that nothing else reaching this import could (a crafted
    /// composition that slipped past the app check, or a component bug).
    fn check_namespace(&self, namespace: &str, use_: Use) -> Result<(), String> {
        if allows(self.identity.access_to(namespace), use_) {
            Ok(())
        } else {
            let verb = match use_ {
                Use::Read => "read",
                Use::Write => "write",
            };
            Err(format!("permission denied by the host: this process may not {verb} `{namespace}`"))
        }
    }
}

impl backend::Host for ZeroStorageView<'_> {
    fn read(&mut self, namespace: String, queries: Vec<backend::Query>) -> Result<Vec<backend::Answer>, String> {
        self.check_namespace(&namespace, Use::Read)?;
        let queries: Vec<contract::Query> = queries.into_iter().map(Into::into).collect();
        let answers = self.ctx.inner.backend.read(&namespace, &queries).map_err(|e| e.0)?;
        Ok(answers.into_iter().map(Into::into).collect())
    }

    fn get(&mut self, namespace: String, key: Vec<u8>) -> Result<Option<backend::Found>, String> {
        self.check_namespace(&namespace, Use::Read)?;
        let mut answers = self.ctx.inner.backend.read(&namespace, &[contract::Query::Get(key)]).map_err(|e| e.0)?;
        match answers.pop().map(Into::into) {
            Some(backend::Answer::Got(found)) if answers.is_empty() => Ok(found),
            _ => Err("internal: the backend answered one get with something else".into()),
        }
    }

    fn commit(
        &mut self,
        namespace: String,
        conditions: Vec<backend::Condition>,
        mutations: Vec<backend::Mutation>,
    ) -> Result<backend::CommitResult, String> {
        self.check_namespace(&namespace, Use::Write)?;
        let conditions: Vec<contract::Condition> = conditions.into_iter().map(Into::into).collect();
        let mutations = mutations.into_iter().map(Into::into).collect();
        Ok(self.ctx.inner.backend.commit(&namespace, &conditions, mutations).map_err(|e| e.0)?.into())
    }
}

impl identity::Host for ZeroStorageView<'_> {
    fn own_namespace(&mut self) -> String {
        self.identity.own_namespace().to_owned()
    }

    fn access_to(&mut self, namespace: String) -> identity::Access {
        match self.identity.access_to(&namespace) {
            contract::Access::None => identity::Access::None,
            contract::Access::ReadOnly => identity::Access::ReadOnly,
            contract::Access::ReadWrite => identity::Access::ReadWrite,
        }
    }

    fn quota_bytes(&mut self, namespace: String) -> u64 {
        self.ctx.inner.quotas.quota_bytes(&namespace)
    }

    fn now_ms(&mut self) -> u64 {
        self.ctx.inner.clock.now_ms()
    }
}

#[cfg(test)]
mod tests {
    //! The host's side of `backend`, driven directly as a crafted component reaching the import
    //! would drive it: the namespace re-check is the last line of defence, so losing it must
    //! fail here.

    use std::borrow::Cow;

    use super::*;

    fn ctx(backend: Arc<MemoryBackend>) -> ZeroStorageCtx {
        ZeroStorageCtxBuilder::new().backend(backend).build()
    }

    fn every_query() -> Vec<backend::Query> {
        vec![
            backend::Query::Get(b"k".to_vec()),
            backend::Query::Scan(backend::KeyRange { start: vec![], end: vec![0xff], limit: 10, keys_only: false }),
            backend::Query::Scan(backend::KeyRange { start: vec![], end: vec![0xff], limit: 10, keys_only: true }),
        ]
    }

    fn every_mutation() -> Vec<Vec<backend::Mutation>> {
        vec![
            vec![backend::Mutation::Put((b"k".to_vec(), b"evil".to_vec()))],
            vec![backend::Mutation::Delete(b"k".to_vec())],
        ]
    }

    /// Stores `k = victim` in each namespace, straight in the backend.
    fn seeded(namespaces: &[&str]) -> Arc<MemoryBackend> {
        let backend = Arc::new(MemoryBackend::new());
        for namespace in namespaces {
            let put = vec![contract::Mutation::Put(b"k".to_vec(), Cow::Borrowed(&b"victim"[..]))];
            backend.commit(namespace, &[], put).unwrap();
        }
        backend
    }

    fn stored(backend: &MemoryBackend, namespace: &str) -> Option<Vec<u8>> {
        match &backend.read(namespace, &[contract::Query::Get(b"k".to_vec())]).unwrap()[0] {
            contract::Answer::Got(entry) => entry.as_ref().map(|entry| entry.value.clone()),
            other => panic!("a get answered {other:?}"),
        }
    }

    #[test]
    fn backend_calls_for_another_namespace_are_refused_and_change_nothing() {
        let others = ["app:victim", "system", "user:bob"];
        let backend = seeded(&others);
        let identity = ProcessIdentity::new("evil").unwrap().with_user("alice").unwrap();
        let ctx = ctx(backend.clone());
        let mut state = ZeroStorageView::new(&ctx, &identity);
        for namespace in others {
            for query in every_query() {
                let refused = backend::Host::read(&mut state, namespace.into(), vec![query.clone()]);
                let error = refused.expect_err(&format!("read {query:?} of {namespace} must be refused"));
                assert!(error.contains("permission denied by the host"), "{error}");
            }
            let refused = backend::Host::get(&mut state, namespace.into(), b"k".to_vec());
            let error = refused.expect_err(&format!("a get in {namespace} must be refused"));
            assert!(error.contains("permission denied by the host"), "{error}");
            for mutations in every_mutation() {
                let refused = backend::Host::commit(&mut state, namespace.into(), vec![], mutations.clone());
                let error = refused.expect_err(&format!("commit {mutations:?} to {namespace} must be refused"));
                assert!(error.contains("permission denied by the host"), "{error}");
            }
            assert_eq!(stored(&backend, namespace).as_deref(), Some(&b"victim"[..]), "{namespace}");
        }
    }

    #[test]
    fn backend_calls_for_the_process_own_namespaces_are_served() {
        let backend = seeded(&[]);
        let identity = ProcessIdentity::new("notes").unwrap().with_user("alice").unwrap();
        let ctx = ctx(backend.clone());
        let mut state = ZeroStorageView::new(&ctx, &identity);
        for namespace in ["app:notes", "user:alice"] {
            let put = vec![backend::Mutation::Put((b"k".to_vec(), b"mine".to_vec()))];
            let committed = backend::Host::commit(&mut state, namespace.into(), vec![], put).unwrap();
            assert!(matches!(committed, backend::CommitResult::Committed(_)), "{namespace}");
            assert_eq!(backend::Host::read(&mut state, namespace.into(), every_query()).unwrap().len(), 3);
            let got = backend::Host::get(&mut state, namespace.into(), b"k".to_vec()).unwrap();
            assert_eq!(got.map(|found| found.value).as_deref(), Some(&b"mine"[..]), "{namespace}");
            assert!(backend::Host::get(&mut state, namespace.into(), b"absent".to_vec()).unwrap().is_none());
            assert_eq!(stored(&backend, namespace).as_deref(), Some(&b"mine"[..]));
        }
    }

    #[test]
    fn read_only_access_allows_reads_and_refuses_writes() {
        assert!(allows(contract::Access::ReadOnly, Use::Read));
        assert!(!allows(contract::Access::ReadOnly, Use::Write));
        assert!(allows(contract::Access::ReadWrite, Use::Write));
        assert!(!allows(contract::Access::None, Use::Read));
        assert!(!allows(contract::Access::None, Use::Write));
    }

    /// The names of the functions that the function a core module of `component` exports as
    /// `export` calls directly (in the first module that exports it).
    fn calls_of_export(component: &[u8], export: &str) -> Vec<String> {
        use std::collections::HashMap;
        use wasmparser::{Encoding, ExternalKind, KnownCustom, Name, Operator, Parser, Payload, TypeRef};

        /// What one core module holds: its imported function count, the export's function
        /// index, each defined function's direct callees and the function names.
        #[derive(Default)]
        struct Module {
            imported: u32,
            export: Option<u32>,
            calls: Vec<Vec<u32>>,
            names: HashMap<u32, String>,
        }
        let mut modules: Vec<Module> = Vec::new();
        for payload in Parser::new(0).parse_all(component) {
            match payload.expect("the storage component parses") {
                Payload::Version { encoding: Encoding::Module, .. } => modules.push(Module::default()),
                Payload::ImportSection(imports) => {
                    let module = modules.last_mut().expect("inside a module");
                    for import in imports.into_imports() {
                        if matches!(import.expect("an import").ty, TypeRef::Func(_)) {
                            module.imported += 1;
                        }
                    }
                }
                Payload::ExportSection(exports) => {
                    for item in exports {
                        let item = item.expect("an export");
                        if item.name == export && item.kind == ExternalKind::Func {
                            modules.last_mut().expect("inside a module").export = Some(item.index);
                        }
                    }
                }
                Payload::CodeSectionEntry(body) => {
                    let mut operators = body.get_operators_reader().expect("a function body");
                    let mut callees = Vec::new();
                    while !operators.eof() {
                        if let Operator::Call { function_index } = operators.read().expect("an operator") {
                            callees.push(function_index);
                        }
                    }
                    modules.last_mut().expect("inside a module").calls.push(callees);
                }
                Payload::CustomSection(section) => {
                    if let (KnownCustom::Name(names), Some(module)) = (section.as_known(), modules.last_mut()) {
                        for name in names {
                            if let Ok(Name::Function(map)) = name {
                                for naming in map.into_iter().flatten() {
                                    module.names.insert(naming.index, naming.name.to_owned());
                                }
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        let module = modules.iter().find(|module| module.export.is_some()).expect("a module exports it");
        let index = module.export.expect("found above");
        let defined = index.checked_sub(module.imported).expect("a defined function") as usize;
        module.calls[defined]
            .iter()
            .map(|callee| module.names.get(callee).cloned().unwrap_or_else(|| format!("function {callee}")))
            .collect()
    }

    /// Every string and list the host passes into the storage component, and every answer to
    /// its imports, is placed by the component's exported `cabi_realloc` and freed by the
    /// component's allocator (talc). So that export must be the component's own, on talc: the
    /// linker may otherwise keep wasi-libc's weak one, which allocates with libc's `malloc`,
    /// and talc freeing memory it never handed out corrupts its heap (see `component/src/lib.rs`).
    #[test]
    fn the_storage_component_places_what_the_host_passes_with_its_own_allocator() {
        let calls = calls_of_export(STORAGE_COMPONENT, "cabi_realloc");
        assert!(
            calls.iter().any(|name| name.contains("talc")),
            "cabi_realloc must allocate with talc; it calls {calls:?}"
        );
        let libc = ["malloc", "realloc", "calloc", "aligned_alloc"];
        assert!(
            !calls.iter().any(|name| libc.contains(&name.as_str())),
            "cabi_realloc must not allocate with libc's malloc; it calls {calls:?}"
        );
    }
}
