//! Conversions between the generated WIT types and the storage logic's Rust types, on the
//! component's side of both boundaries: the `backend` and `identity` imports (logic → WIT
//! arguments, WIT answers → logic) and the `store` export (WIT arguments → logic, logic answers
//! and errors → WIT). Each conversion is written once, here.

use super::zero::storage::{backend, identity, types};
use crate::backend as logic;
use crate::error::Error;

// The `backend` and `identity` imports.

pub(super) fn query(query: &logic::Query) -> backend::Query<'_> {
    match query {
        logic::Query::Get(key) => backend::Query::Get(key),
        logic::Query::Scan { start, end, limit, keys_only } => {
            backend::Query::Scan(backend::KeyRange { start, end, limit: *limit, keys_only: *keys_only })
        }
    }
}

/// A found entry as the logic's entry, with an empty key: the query named it.
pub(super) fn found(found: backend::Found) -> logic::Entry {
    logic::Entry { key: Vec::new(), value: found.value, version: found.version }
}

/// The logic's answer; fails if a scan's packed entries are malformed.
pub(super) fn answer(answer: backend::Answer) -> Result<logic::Answer, String> {
    Ok(match answer {
        backend::Answer::Got(found) => logic::Answer::Got(found.map(self::found)),
        backend::Answer::Scanned(packed) => logic::Answer::Scanned(logic::unpack_entries(&packed)?),
    })
}

pub(super) fn condition(condition: &logic::Condition) -> backend::Condition<'_> {
    backend::Condition { key: &condition.key, version: condition.version }
}

pub(super) fn mutation<'a>(mutation: &'a logic::Mutation<'_>) -> backend::Mutation<'a> {
    match mutation {
        logic::Mutation::Put(key, value) => backend::Mutation::Put((key, value)),
        logic::Mutation::Delete(key) => backend::Mutation::Delete(key),
    }
}

pub(super) fn commit_result(result: backend::CommitResult) -> logic::CommitResult {
    match result {
        backend::CommitResult::Committed(version) => logic::CommitResult::Committed(version),
        backend::CommitResult::Conflict(index) => logic::CommitResult::Conflict(index),
    }
}

pub(super) fn access(access: identity::Access) -> logic::Access {
    match access {
        identity::Access::None => logic::Access::None,
        identity::Access::ReadOnly => logic::Access::ReadOnly,
        identity::Access::ReadWrite => logic::Access::ReadWrite,
    }
}

// The `store` export.

impl From<Error> for types::Error {
    fn from(error: Error) -> Self {
        match error {
            Error::NotFound => types::Error::NotFound,
            Error::QuotaExceeded => types::Error::QuotaExceeded,
            Error::KeyTooLong => types::Error::KeyTooLong,
            Error::ValueTooLarge => types::Error::ValueTooLarge,
            Error::InvalidArgument(why) => types::Error::InvalidArgument(why),
            Error::PermissionDenied => types::Error::PermissionDenied,
            Error::Backend(why) => types::Error::BackendError(why),
            Error::PreconditionFailed(index) => types::Error::PreconditionFailed(index),
        }
    }
}

pub(super) fn page(page: crate::ListPage) -> types::ListPage {
    types::ListPage { keys: page.keys, next_cursor: page.next_cursor }
}

pub(super) fn quota(info: crate::QuotaInfo) -> types::QuotaInfo {
    types::QuotaInfo {
        namespace: info.namespace,
        used_bytes: info.used_bytes,
        quota_bytes: info.quota_bytes,
        key_count: info.key_count,
    }
}

pub(super) fn versioned(value: crate::Versioned) -> types::VersionedValue {
    types::VersionedValue { value: value.value, version: value.version }
}

pub(super) fn preconditions(list: Vec<types::Precondition>) -> Vec<crate::Precondition> {
    list.into_iter()
        .map(|precondition| match precondition {
            types::Precondition::Absent(key) => crate::Precondition::Absent(key),
            types::Precondition::Exists(key) => crate::Precondition::Exists(key),
            types::Precondition::VersionIs((key, version)) => crate::Precondition::VersionIs(key, version),
            types::Precondition::ValueEquals((key, value)) => crate::Precondition::ValueEquals(key, value),
        })
        .collect()
}

pub(super) fn writes(list: Vec<types::Write>) -> Vec<crate::Write> {
    list.into_iter()
        .map(|write| match write {
            types::Write::Set(set) => crate::Write::Set { key: set.key, value: set.value, ttl_secs: set.ttl_secs },
            types::Write::Delete(key) => crate::Write::Delete(key),
        })
        .collect()
}
