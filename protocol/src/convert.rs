//! Conversions between the wire types and the storage component's, for the service that
//! answers requests with the component and for clients that report its errors and results in
//! the component's own types (the CLI prints them the same whether or not a service answered).

use zero_storage_component as component;

use crate::messages::{ListPage, Precondition, QuotaInfo, StorageError, VersionedValue, Write};

impl From<component::Error> for StorageError {
    fn from(error: component::Error) -> Self {
        match error {
            component::Error::NotFound => StorageError::NotFound,
            component::Error::QuotaExceeded => StorageError::QuotaExceeded,
            component::Error::KeyTooLong => StorageError::KeyTooLong,
            component::Error::ValueTooLarge => StorageError::ValueTooLarge,
            component::Error::InvalidArgument(why) => StorageError::InvalidArgument(why),
            component::Error::PermissionDenied => StorageError::PermissionDenied,
            component::Error::Backend(why) => StorageError::BackendError(why),
            component::Error::PreconditionFailed(index) => StorageError::PreconditionFailed(index),
        }
    }
}

impl From<StorageError> for component::Error {
    fn from(error: StorageError) -> Self {
        match error {
            StorageError::NotFound => component::Error::NotFound,
            StorageError::QuotaExceeded => component::Error::QuotaExceeded,
            StorageError::KeyTooLong => component::Error::KeyTooLong,
            StorageError::ValueTooLarge => component::Error::ValueTooLarge,
            StorageError::PermissionDenied => component::Error::PermissionDenied,
            StorageError::BackendError(why) => component::Error::Backend(why),
            StorageError::InvalidArgument(why) => component::Error::InvalidArgument(why),
            StorageError::PreconditionFailed(index) => component::Error::PreconditionFailed(index),
        }
    }
}

impl From<component::QuotaInfo> for QuotaInfo {
    fn from(info: component::QuotaInfo) -> Self {
        let component::QuotaInfo { namespace, used_bytes, quota_bytes, key_count } = info;
        QuotaInfo { namespace, used_bytes, quota_bytes, key_count }
    }
}

impl From<QuotaInfo> for component::QuotaInfo {
    fn from(info: QuotaInfo) -> Self {
        let QuotaInfo { namespace, used_bytes, quota_bytes, key_count } = info;
        component::QuotaInfo { namespace, used_bytes, quota_bytes, key_count }
    }
}

impl From<ListPage> for component::ListPage {
    fn from(page: ListPage) -> Self {
        component::ListPage { keys: page.keys, next_cursor: page.next_cursor }
    }
}

impl From<component::ListPage> for ListPage {
    fn from(page: component::ListPage) -> Self {
        ListPage { keys: page.keys, next_cursor: page.next_cursor }
    }
}

impl From<component::Versioned> for VersionedValue {
    fn from(versioned: component::Versioned) -> Self {
        VersionedValue { value: versioned.value, version: versioned.version }
    }
}

impl From<Precondition> for component::Precondition {
    fn from(precondition: Precondition) -> Self {
        match precondition {
            Precondition::Absent(key) => component::Precondition::Absent(key),
            Precondition::Exists(key) => component::Precondition::Exists(key),
            Precondition::VersionIs(key, version) => component::Precondition::VersionIs(key, version),
            Precondition::ValueEquals(key, value) => component::Precondition::ValueEquals(key, value),
        }
    }
}

impl From<Write> for component::Write {
    fn from(write: Write) -> Self {
        match write {
            Write::Set { key, value, ttl_secs } => component::Write::Set { key, value, ttl_secs: ttl_secs.into() },
            Write::Delete(key) => component::Write::Delete(key),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_survives_a_trip_through_the_component_error() {
        for error in [
            StorageError::NotFound,
            StorageError::QuotaExceeded,
            StorageError::KeyTooLong,
            StorageError::ValueTooLarge,
            StorageError::PermissionDenied,
            StorageError::BackendError("disk full".into()),
            StorageError::InvalidArgument("empty key".into()),
            StorageError::PreconditionFailed(3),
        ] {
            assert_eq!(StorageError::from(component::Error::from(error.clone())), error);
        }
    }

    #[test]
    fn a_page_and_a_quota_survive_a_trip_through_the_component_types() {
        let page = ListPage { keys: vec!["a".into(), "b".into()], next_cursor: Some("b".into()) };
        assert_eq!(ListPage::from(component::ListPage::from(page.clone())), page);
        let quota = QuotaInfo { namespace: "user:alice".into(), used_bytes: 9, quota_bytes: 10, key_count: 1 };
        assert_eq!(QuotaInfo::from(component::QuotaInfo::from(quota.clone())), quota);
    }

    #[test]
    fn a_transaction_write_keeps_its_time_to_live() {
        let write = Write::Set { key: "k".into(), value: vec![1], ttl_secs: u32::MAX };
        assert_eq!(
            component::Write::from(write),
            component::Write::Set { key: "k".into(), value: vec![1], ttl_secs: u32::MAX.into() }
        );
    }
}
