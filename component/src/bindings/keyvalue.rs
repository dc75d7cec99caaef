//! The WASI key-value standard (`wasi:keyvalue` `store`, `atomics`, `batch`) in the two versions
//! guests are built against, served by the same storage logic as `zero:storage/store`.
//!
//! - `open("")` and `open("default")` give the caller's own namespace; any other identifier is a
//!   namespace name the caller may use (`user:NAME` for its user, anything for a system
//!   process). Everything else, malformed names included, is `access-denied`.
//! - Zero's limits and quotas apply; entries set through the standard never expire. Errors map
//!   onto the standard's small set, with Zero's message in `other(string)`. So `get-many`
//!   answers with at most 16 MiB of values, and a larger batch is `other` with a message that
//!   says to split it into smaller batches.
//! - Batches are atomic (all or nothing, quota checked on the whole), which the standard does
//!   not require. `increment` stores ASCII decimal, as wasmtime's host does, and refuses
//!   non-numbers and overflow instead of wrapping.

use std::cell::RefCell;
use std::collections::VecDeque;

use super::exports::wasi::{keyvalue0_2_0_draft as draft, keyvalue0_2_0_draft2 as draft2};
use super::{Component, with_storage};
use crate::error::Error;
use crate::storage::OpenNamespace;
use crate::{Precondition, Write};

/// Page size of `list-keys`.
const LIST_KEYS_PAGE: u32 = 100;
/// How many `list-keys` cursors of the numeric (draft) flavour a bucket remembers.
const REMEMBERED_CURSORS: usize = 64;

/// A bucket of either version: a namespace the caller opened.
pub struct KvBucket {
    ns: OpenNamespace,
    /// draft's cursors are numbers; this maps the numbers this bucket handed out to Zero's
    /// key cursors (newest last), so paging stays O(page) and state stays bounded.
    cursors: RefCell<VecDeque<(u64, String)>>,
    next_cursor_id: RefCell<u64>,
}

impl KvBucket {
    fn open(identifier: &str) -> Result<KvBucket, Error> {
        let ns = with_storage(|s| match identifier {
            "" | "default" => Ok(s.own().clone()),
            name => s.open(name),
        })?;
        Ok(KvBucket { ns, cursors: RefCell::default(), next_cursor_id: RefCell::new(1) })
    }

    fn remember(&self, cursor: String) -> u64 {
        let mut next = self.next_cursor_id.borrow_mut();
        let id = *next;
        *next += 1;
        let mut cursors = self.cursors.borrow_mut();
        if cursors.len() == REMEMBERED_CURSORS {
            cursors.pop_front();
        }
        cursors.push_back((id, cursor));
        id
    }

    fn recall(&self, id: u64) -> Option<String> {
        self.cursors.borrow().iter().find(|(known, _)| *known == id).map(|(_, cursor)| cursor.clone())
    }

    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, Error> {
        match with_storage(|s| s.get(&self.ns, key)) {
            Err(Error::NotFound) => Ok(None),
            other => other.map(Some),
        }
    }

    fn list(&self, cursor: Option<&str>) -> Result<crate::ListPage, Error> {
        with_storage(|s| s.list(&self.ns, "", LIST_KEYS_PAGE, cursor))
    }

    fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, Error> {
        with_storage(|s| s.get_many(&self.ns, keys))
    }
}

/// What both versions' `store` interfaces share: the error mapping, `open`, and every bucket
/// method but `list-keys` (whose cursor type differs), which the caller supplies.
macro_rules! store_interface {
    ($module:ident, $($list_keys:tt)*) => {
        /// Zero's errors in the standard's three cases.
        fn standard_error(error: Error) -> $module::store::Error {
            match error {
                Error::PermissionDenied => $module::store::Error::AccessDenied,
                other => $module::store::Error::Other(other.to_string()),
            }
        }

        impl $module::store::Guest for Component {
            type Bucket = KvBucket;
            fn open(identifier: String) -> Result<$module::store::Bucket, $module::store::Error> {
                KvBucket::open(&identifier).map($module::store::Bucket::new).map_err(|_| $module::store::Error::AccessDenied)
            }
        }

        impl $module::store::GuestBucket for KvBucket {
            fn get(&self, key: String) -> Result<Option<Vec<u8>>, $module::store::Error> {
                KvBucket::get(self, &key).map_err(standard_error)
            }
            fn set(&self, key: String, value: Vec<u8>) -> Result<(), $module::store::Error> {
                with_storage(|s| s.set(&self.ns, &key, &value, 0)).map_err(standard_error)
            }
            fn delete(&self, key: String) -> Result<(), $module::store::Error> {
                with_storage(|s| s.delete(&self.ns, &key)).map(drop).map_err(standard_error)
            }
            fn exists(&self, key: String) -> Result<bool, $module::store::Error> {
                with_storage(|s| s.exists(&self.ns, &key)).map_err(standard_error)
            }
            $($list_keys)*
        }
    };
}

mod v2 {
    use super::*;
    use draft2::atomics::{Cas, CasError};
    use draft2::store::{BucketBorrow, Error as KvError, KeyResponse};

    store_interface!(
        draft2,
        fn list_keys(&self, cursor: Option<String>) -> Result<KeyResponse, KvError> {
            let page = self.list(cursor.as_deref()).map_err(standard_error)?;
            Ok(KeyResponse { keys: page.keys, cursor: page.next_cursor })
        }
    );

    /// A compare-and-swap handle: the key, and the version and value it had when taken.
    pub struct KvCas {
        ns: OpenNamespace,
        key: String,
        version: Option<u64>,
        value: Option<Vec<u8>>,
    }

    impl KvCas {
        fn take(ns: &OpenNamespace, key: String) -> Result<KvCas, Error> {
            match with_storage(|s| s.get_versioned(ns, &key)) {
                Ok(found) => Ok(KvCas { ns: ns.clone(), key, version: Some(found.version), value: Some(found.value) }),
                Err(Error::NotFound) => Ok(KvCas { ns: ns.clone(), key, version: None, value: None }),
                Err(other) => Err(other),
            }
        }
    }

    impl draft2::atomics::GuestCas for KvCas {
        fn new(bucket: BucketBorrow<'_>, key: String) -> Result<Cas, KvError> {
            KvCas::take(&bucket.get::<KvBucket>().ns, key).map(Cas::new).map_err(standard_error)
        }
        fn current(&self) -> Result<Option<Vec<u8>>, KvError> {
            Ok(self.value.clone())
        }
    }

    impl draft2::atomics::Guest for Component {
        type Cas = KvCas;
        fn increment(bucket: BucketBorrow<'_>, key: String, delta: i64) -> Result<i64, KvError> {
            with_storage(|s| s.increment(&bucket.get::<KvBucket>().ns, &key, delta)).map_err(standard_error)
        }
        fn swap(cas: Cas, value: Vec<u8>) -> Result<(), CasError> {
            let cas: KvCas = cas.into_inner();
            let precondition = match cas.version {
                Some(version) => Precondition::VersionIs(cas.key.clone(), version),
                None => Precondition::Absent(cas.key.clone()),
            };
            let write = Write::Set { key: cas.key.clone(), value, ttl_secs: 0 };
            match with_storage(|s| s.transact(&cas.ns, &[precondition], &[write])) {
                Ok(_) => Ok(()),
                Err(Error::PreconditionFailed(_)) => match KvCas::take(&cas.ns, cas.key) {
                    Ok(fresh) => Err(CasError::CasFailed(Cas::new(fresh))),
                    Err(error) => Err(CasError::StoreError(standard_error(error))),
                },
                Err(error) => Err(CasError::StoreError(standard_error(error))),
            }
        }
    }

    impl draft2::batch::Guest for Component {
        fn get_many(bucket: BucketBorrow<'_>, keys: Vec<String>) -> Result<Vec<(String, Option<Vec<u8>>)>, KvError> {
            let values = bucket.get::<KvBucket>().get_many(&keys).map_err(standard_error)?;
            Ok(keys.into_iter().zip(values).collect())
        }
        fn set_many(bucket: BucketBorrow<'_>, key_values: Vec<(String, Vec<u8>)>) -> Result<(), KvError> {
            with_storage(|s| s.set_many(&bucket.get::<KvBucket>().ns, &key_values, 0)).map_err(standard_error)
        }
        fn delete_many(bucket: BucketBorrow<'_>, keys: Vec<String>) -> Result<(), KvError> {
            with_storage(|s| s.delete_many(&bucket.get::<KvBucket>().ns, &keys)).map(drop).map_err(standard_error)
        }
    }
}

mod v1 {
    use super::*;
    use draft::store::{BucketBorrow, Error as KvError, KeyResponse};

    store_interface!(
        draft,
        fn list_keys(&self, cursor: Option<u64>) -> Result<KeyResponse, KvError> {
            let resume = match cursor {
                None => None,
                Some(id) => Some(self.recall(id).ok_or_else(|| {
                    KvError::Other(format!("cursor {id} is unknown or too old; start the listing again"))
                })?),
            };
            let page = self.list(resume.as_deref()).map_err(standard_error)?;
            Ok(KeyResponse { keys: page.keys, cursor: page.next_cursor.map(|next| self.remember(next)) })
        }
    );

    impl draft::atomics::Guest for Component {
        fn increment(bucket: BucketBorrow<'_>, key: String, delta: u64) -> Result<u64, KvError> {
            let delta = i64::try_from(delta)
                .map_err(|_| KvError::Other(format!("delta {delta} is larger than a counter can hold")))?;
            // This version's counters are unsigned: refuse, before anything is written, a
            // counter that is or would become negative.
            let value = with_storage(|s| s.increment_within(&bucket.get::<KvBucket>().ns, &key, delta, 0))
                .map_err(standard_error)?;
            u64::try_from(value).map_err(|_| KvError::Other(format!("the counter `{key}` is negative ({value})")))
        }
    }

    impl draft::batch::Guest for Component {
        fn get_many(bucket: BucketBorrow<'_>, keys: Vec<String>) -> Result<Vec<Option<(String, Vec<u8>)>>, KvError> {
            let values = bucket.get::<KvBucket>().get_many(&keys).map_err(standard_error)?;
            Ok(keys.into_iter().zip(values).map(|(key, value)| value.map(|value| (key, value))).collect())
        }
        fn set_many(bucket: BucketBorrow<'_>, key_values: Vec<(String, Vec<u8>)>) -> Result<(), KvError> {
            with_storage(|s| s.set_many(&bucket.get::<KvBucket>().ns, &key_values, 0)).map_err(standard_error)
        }
        fn delete_many(bucket: BucketBorrow<'_>, keys: Vec<String>) -> Result<(), KvError> {
            with_storage(|s| s.delete_many(&bucket.get::<KvBucket>().ns, &keys)).map(drop).map_err(standard_error)
        }
    }
}
