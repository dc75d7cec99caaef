//! The wasmtime side of the WIT contract: generated bindings for the `storage` world, and the
//! host's implementation of the `backend` and `identity` imports for one process.

use std::borrow::Cow;

use wasmtime::component::{HasSelf, Linker, ResourceTable};
use wasmtime::{ResourceLimiter, StoreLimits};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use zero_storage_component::backend as contract;

use crate::identity::ProcessIdentity;
use crate::runtime::Shared;

mod generated {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "storage",
    });
}

pub(crate) use generated::exports::zero::storage::store::ListPage as WitListPage;
pub(crate) use generated::exports::zero::storage::store::QuotaInfo as WitQuotaInfo;
pub(crate) use generated::zero::storage::types::{
    Error as WitError, Precondition as WitPrecondition, SetWrite as WitSetWrite, VersionedValue as WitVersionedValue,
    Write as WitWrite,
};
use generated::zero::storage::{backend, identity, types};
pub(crate) use generated::{Storage, StoragePre};

/// Everything one process's store holds.
pub(crate) struct ProcessState {
    pub(crate) wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    pub(crate) limits: MemoryLimit,
    pub(crate) identity: ProcessIdentity,
    pub(crate) shared: std::sync::Arc<Shared>,
}

/// Bounds the linear memory of everything in one store (an app and its storage instance
/// together) and its tables, and remembers whether the bound was hit so the host can say so
/// instead of reporting a bare trap.
pub(crate) struct MemoryLimit {
    pub(crate) max_memory_bytes: usize,
    pub(crate) exceeded: bool,
    /// The sum of all memories' sizes as last allowed; wasm memories never shrink.
    in_use: usize,
    inner: StoreLimits,
}

impl MemoryLimit {
    pub(crate) fn new(max_memory_bytes: usize) -> Self {
        let inner = wasmtime::StoreLimitsBuilder::new().table_elements(1_000_000).instances(64).build();
        MemoryLimit { max_memory_bytes, exceeded: false, in_use: 0, inner }
    }
}

impl ResourceLimiter for MemoryLimit {
    fn memory_growing(&mut self, current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        // Called for every memory of the store, from 0 when one is created.
        let total = self.in_use.saturating_sub(current).saturating_add(desired);
        if total > self.max_memory_bytes {
            self.exceeded = true;
            wasmtime::bail!("memory limit of {} bytes exceeded", self.max_memory_bytes);
        }
        self.in_use = total;
        Ok(true)
    }

    fn table_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        self.inner.table_growing(current, desired, maximum)
    }

    fn instances(&self) -> usize {
        self.inner.instances()
    }
}

impl WasiView for ProcessState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

/// Adds what the storage component imports (WASI, `backend`, `identity`, `types`) to `linker`.
pub(crate) fn add_to_linker(linker: &mut Linker<ProcessState>) -> wasmtime::Result<()> {
    wasmtime_wasi::p2::add_to_linker_sync(linker)?;
    backend::add_to_linker::<ProcessState, HasSelf<ProcessState>>(linker, |state| state)?;
    identity::add_to_linker::<ProcessState, HasSelf<ProcessState>>(linker, |state| state)?;
    types::add_to_linker::<ProcessState, HasSelf<ProcessState>>(linker, |state| state)?;
    Ok(())
}

impl types::Host for ProcessState {}

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

impl ProcessState {
    /// Defence in depth: the storage component only ever names namespaces the process may use,
    /// but the host checks again so that nothing else reaching this import could (a crafted
    /// composition that slipped past the app check, or a component bug).
    fn check_namespace(&self, namespace: &str, use_: Use) -> Result<(), String> {
        if allows(self.identity.access_to(namespace), use_) {
            Ok(())
        } else {
            Err(format!(
                "permission denied by the host: this process may not {} `{namespace}`",
                match use_ {
                    Use::Read => "read",
                    Use::Write => "write",
                }
            ))
        }
    }
}

impl backend::Host for ProcessState {
    fn read(&mut self, namespace: String, queries: Vec<backend::Query>) -> Result<Vec<backend::Answer>, String> {
        self.check_namespace(&namespace, Use::Read)?;
        let queries: Vec<contract::Query> = queries
            .into_iter()
            .map(|query| match query {
                backend::Query::Get(key) => contract::Query::Get(key),
                backend::Query::Scan(range) => contract::Query::Scan {
                    start: range.start,
                    end: range.end,
                    limit: range.limit,
                    keys_only: range.keys_only,
                },
            })
            .collect();
        let answers = self.shared.backend.read(&namespace, &queries).map_err(|e| e.0)?;
        let entry = |e: contract::Entry| backend::Entry { key: e.key, value: e.value, version: e.version };
        Ok(answers
            .into_iter()
            .map(|answer| match answer {
                contract::Answer::Got(found) => backend::Answer::Got(found.map(entry)),
                contract::Answer::Scanned(entries) => {
                    backend::Answer::Scanned(entries.into_iter().map(entry).collect())
                }
            })
            .collect())
    }

    fn commit(
        &mut self,
        namespace: String,
        conditions: Vec<backend::Condition>,
        mutations: Vec<backend::Mutation>,
    ) -> Result<backend::CommitResult, String> {
        self.check_namespace(&namespace, Use::Write)?;
        let conditions: Vec<contract::Condition> =
            conditions.into_iter().map(|c| contract::Condition { key: c.key, version: c.version }).collect();
        let mutations = mutations
            .into_iter()
            .map(|mutation| match mutation {
                backend::Mutation::Put((key, value)) => contract::Mutation::Put(key, Cow::Owned(value)),
                backend::Mutation::Delete(key) => contract::Mutation::Delete(key),
            })
            .collect();
        Ok(match self.shared.backend.commit(&namespace, &conditions, mutations).map_err(|e| e.0)? {
            contract::CommitResult::Committed(version) => backend::CommitResult::Committed(version),
            contract::CommitResult::Conflict(index) => backend::CommitResult::Conflict(index),
        })
    }
}

impl identity::Host for ProcessState {
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
        self.shared.config.quotas.quota_bytes(&namespace)
    }

    fn now_ms(&mut self) -> u64 {
        self.shared.clock.now_ms()
    }
}

impl From<WitError> for zero_storage_component::Error {
    fn from(error: WitError) -> Self {
        use zero_storage_component::Error;
        match error {
            WitError::NotFound => Error::NotFound,
            WitError::QuotaExceeded => Error::QuotaExceeded,
            WitError::KeyTooLong => Error::KeyTooLong,
            WitError::ValueTooLarge => Error::ValueTooLarge,
            WitError::InvalidArgument(why) => Error::InvalidArgument(why),
            WitError::PermissionDenied => Error::PermissionDenied,
            WitError::BackendError(why) => Error::Backend(why),
            WitError::PreconditionFailed(index) => Error::PreconditionFailed(index),
        }
    }
}

impl From<&zero_storage_component::Precondition> for WitPrecondition {
    fn from(precondition: &zero_storage_component::Precondition) -> Self {
        use zero_storage_component::Precondition;
        match precondition {
            Precondition::Absent(key) => WitPrecondition::Absent(key.clone()),
            Precondition::Exists(key) => WitPrecondition::Exists(key.clone()),
            Precondition::VersionIs(key, version) => WitPrecondition::VersionIs((key.clone(), *version)),
            Precondition::ValueEquals(key, value) => WitPrecondition::ValueEquals((key.clone(), value.clone())),
        }
    }
}

impl From<&zero_storage_component::Write> for WitWrite {
    fn from(write: &zero_storage_component::Write) -> Self {
        use zero_storage_component::Write;
        match write {
            Write::Set { key, value, ttl_secs } => {
                WitWrite::Set(WitSetWrite { key: key.clone(), value: value.clone(), ttl_secs: *ttl_secs })
            }
            Write::Delete(key) => WitWrite::Delete(key.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    //! The host's side of `backend`, driven directly as a crafted component reaching the import
    //! would drive it: the namespace re-check is the last line of defence, so losing it must
    //! fail here.

    use std::sync::Arc;

    use super::*;
    use crate::backend::{Backend, MemoryBackend};
    use crate::clock::SystemClock;
    use crate::config::Config;

    fn state(identity: ProcessIdentity, backend: Arc<MemoryBackend>) -> ProcessState {
        ProcessState {
            wasi: wasmtime_wasi::WasiCtxBuilder::new().build(),
            table: ResourceTable::new(),
            limits: MemoryLimit::new(1 << 20),
            identity,
            shared: Arc::new(Shared { backend, config: Config::default(), clock: Arc::new(SystemClock) }),
        }
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
        let mut state = state(identity, backend.clone());
        for namespace in others {
            for query in every_query() {
                let refused = backend::Host::read(&mut state, namespace.into(), vec![query.clone()]);
                let error = refused.expect_err(&format!("read {query:?} of {namespace} must be refused"));
                assert!(error.contains("permission denied by the host"), "{error}");
            }
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
        let mut state = state(identity, backend.clone());
        for namespace in ["app:notes", "user:alice"] {
            let put = vec![backend::Mutation::Put((b"k".to_vec(), b"mine".to_vec()))];
            let committed = backend::Host::commit(&mut state, namespace.into(), vec![], put).unwrap();
            assert!(matches!(committed, backend::CommitResult::Committed(_)), "{namespace}");
            assert_eq!(backend::Host::read(&mut state, namespace.into(), every_query()).unwrap().len(), 3);
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
}
