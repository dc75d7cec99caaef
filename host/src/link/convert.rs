//! Conversions between the generated WIT types and the Rust types, on the host's side of both
//! boundaries: the `backend` import (WIT ⇄ the backend contract) and the `store` export (Rust
//! arguments → WIT, WIT answers → Rust). Each conversion is written once, here.

use std::borrow::Cow;

use zero_storage_component::backend as contract;
use zero_storage_component::{ListPage, Precondition, QuotaInfo, Versioned, Write};

use super::generated::exports::zero::storage::store::{ListPage as WitListPage, QuotaInfo as WitQuotaInfo};
use super::generated::zero::storage::backend;
use super::generated::zero::storage::types::{
    Error as WitError, Precondition as WitPrecondition, SetWrite as WitSetWrite, VersionedValue as WitVersionedValue,
    Write as WitWrite,
};

// The `backend` import: what the storage component asks of the host.

impl From<backend::Query> for contract::Query {
    fn from(query: backend::Query) -> Self {
        match query {
            backend::Query::Get(key) => contract::Query::Get(key),
            backend::Query::Scan(range) => contract::Query::Scan {
                start: range.start,
                end: range.end,
                limit: range.limit,
                keys_only: range.keys_only,
            },
        }
    }
}

impl From<contract::Answer> for backend::Answer {
    fn from(answer: contract::Answer) -> Self {
        match answer {
            // The key is the query's; it does not cross back.
            contract::Answer::Got(found) => {
                backend::Answer::Got(found.map(|entry| backend::Found { value: entry.value, version: entry.version }))
            }
            contract::Answer::Scanned(entries) => backend::Answer::Scanned(contract::pack_entries(&entries)),
        }
    }
}

impl From<backend::Condition> for contract::Condition {
    fn from(condition: backend::Condition) -> Self {
        contract::Condition { key: condition.key, version: condition.version }
    }
}

impl From<backend::Mutation> for contract::Mutation<'static> {
    fn from(mutation: backend::Mutation) -> Self {
        match mutation {
            backend::Mutation::Put((key, value)) => contract::Mutation::Put(key, Cow::Owned(value)),
            backend::Mutation::Delete(key) => contract::Mutation::Delete(key),
        }
    }
}

impl From<contract::CommitResult> for backend::CommitResult {
    fn from(result: contract::CommitResult) -> Self {
        match result {
            contract::CommitResult::Committed(version) => backend::CommitResult::Committed(version),
            contract::CommitResult::Conflict(index) => backend::CommitResult::Conflict(index),
        }
    }
}

// The `store` export: what the host's `Process` API sends and gets back.

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

impl From<&Precondition> for WitPrecondition {
    fn from(precondition: &Precondition) -> Self {
        match precondition {
            Precondition::Absent(key) => WitPrecondition::Absent(key.clone()),
            Precondition::Exists(key) => WitPrecondition::Exists(key.clone()),
            Precondition::VersionIs(key, version) => WitPrecondition::VersionIs((key.clone(), *version)),
            Precondition::ValueEquals(key, value) => WitPrecondition::ValueEquals((key.clone(), value.clone())),
        }
    }
}

impl From<&Write> for WitWrite {
    fn from(write: &Write) -> Self {
        match write {
            Write::Set { key, value, ttl_secs } => {
                WitWrite::Set(WitSetWrite { key: key.clone(), value: value.clone(), ttl_secs: *ttl_secs })
            }
            Write::Delete(key) => WitWrite::Delete(key.clone()),
        }
    }
}

impl From<WitListPage> for ListPage {
    fn from(page: WitListPage) -> Self {
        ListPage { keys: page.keys, next_cursor: page.next_cursor }
    }
}

impl From<WitQuotaInfo> for QuotaInfo {
    fn from(info: WitQuotaInfo) -> Self {
        QuotaInfo {
            namespace: info.namespace,
            used_bytes: info.used_bytes,
            quota_bytes: info.quota_bytes,
            key_count: info.key_count,
        }
    }
}

impl From<WitVersionedValue> for Versioned {
    fn from(got: WitVersionedValue) -> Self {
        Versioned { value: got.value, version: got.version }
    }
}
