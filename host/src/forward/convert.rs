//! Conversions between the generated `zero:storage` types and the storage logic's Rust types, on
//! the forwarding side: WIT arguments → logic, logic answers and errors → WIT. The same mapping
//! as the component's own (`component/src/bindings/convert.rs`), written once here.

use zero_storage_component::{Error, ListPage, Precondition, QuotaInfo, Versioned, Write};

use super::generated::zero::storage::types;

pub(super) fn error(error: Error) -> types::Error {
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

pub(super) fn page(page: ListPage) -> types::ListPage {
    types::ListPage { keys: page.keys, next_cursor: page.next_cursor }
}

pub(super) fn quota(info: QuotaInfo) -> types::QuotaInfo {
    types::QuotaInfo {
        namespace: info.namespace,
        used_bytes: info.used_bytes,
        quota_bytes: info.quota_bytes,
        key_count: info.key_count,
    }
}

pub(super) fn versioned(value: Versioned) -> types::VersionedValue {
    types::VersionedValue { value: value.value, version: value.version }
}

pub(super) fn preconditions(list: Vec<types::Precondition>) -> Vec<Precondition> {
    list.into_iter()
        .map(|precondition| match precondition {
            types::Precondition::Absent(key) => Precondition::Absent(key),
            types::Precondition::Exists(key) => Precondition::Exists(key),
            types::Precondition::VersionIs((key, version)) => Precondition::VersionIs(key, version),
            types::Precondition::ValueEquals((key, value)) => Precondition::ValueEquals(key, value),
        })
        .collect()
}

pub(super) fn writes(list: Vec<types::Write>) -> Vec<Write> {
    list.into_iter()
        .map(|write| match write {
            types::Write::Set(set) => Write::Set { key: set.key, value: set.value, ttl_secs: set.ttl_secs },
            types::Write::Delete(key) => Write::Delete(key),
        })
        .collect()
}
