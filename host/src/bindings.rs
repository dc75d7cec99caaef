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

impl ProcessState {
    /// Defence in depth: the storage component only ever names namespaces the process may use,
    /// but the host checks again so that nothing else reaching this import could.
    fn check_namespace(&self, namespace: &str) -> Result<(), String> {
        match self.identity.access_to(namespace) {
            contract::Access::None => Err("permission denied by the host".into()),
            _ => Ok(()),
        }
    }
}

impl backend::Host for ProcessState {
    fn read(&mut self, namespace: String, queries: Vec<backend::Query>) -> Result<Vec<backend::Answer>, String> {
        self.check_namespace(&namespace)?;
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
        self.check_namespace(&namespace)?;
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
