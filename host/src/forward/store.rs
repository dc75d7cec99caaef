//! `zero:storage/store` served by forwarding: the free functions on the caller's own namespace,
//! `open` (access checked when the bucket is opened, as the component checks it), and the
//! `bucket` methods on the namespace it opened. Each call is one [`StorageCalls`] operation.

use wasmtime::component::Resource;
use zero_storage_component::Error;

use super::generated::zero::storage::{store, types};
use super::{ForwardView, StorageCalls, convert};

/// A `bucket`: a namespace the caller opened, its access checked.
pub struct StoreBucket {
    namespace: String,
}

type Outcome<T> = wasmtime::Result<Result<T, types::Error>>;

/// The answer of a storage call, its error as the WIT variant.
fn answer<T>(outcome: zero_storage_component::Result<T>) -> Outcome<T> {
    Ok(outcome.map_err(convert::error))
}

impl ForwardView<'_> {
    /// Runs `op` on the namespace `bucket` opened.
    fn in_bucket<T>(
        &mut self,
        bucket: &Resource<StoreBucket>,
        op: impl FnOnce(&mut dyn StorageCalls, Option<&str>) -> zero_storage_component::Result<T>,
    ) -> Outcome<T> {
        let namespace = self.table.get(bucket)?.namespace.as_str();
        answer(op(&mut *self.ctx.calls, Some(namespace)))
    }
}

impl types::Host for ForwardView<'_> {}

impl store::Host for ForwardView<'_> {
    fn open(&mut self, namespace: String) -> Outcome<Resource<StoreBucket>> {
        if let Err(error) = self.calls().open(&namespace) {
            return answer(Err(error));
        }
        let held = namespace.len();
        match self.hold(StoreBucket { namespace }, held)? {
            Ok(bucket) => Ok(Ok(bucket)),
            Err(too_many) => answer(Err(Error::Backend(too_many))),
        }
    }
    fn get(&mut self, key: String) -> Outcome<Vec<u8>> {
        answer(self.calls().get(None, &key))
    }
    fn set(&mut self, key: String, value: Vec<u8>, ttl_secs: u64) -> Outcome<()> {
        answer(self.calls().set(None, &key, value, ttl_secs))
    }
    fn delete(&mut self, key: String) -> Outcome<bool> {
        answer(self.calls().delete(None, &key))
    }
    fn exists(&mut self, key: String) -> Outcome<bool> {
        answer(self.calls().exists(None, &key))
    }
    fn list(&mut self, prefix: String, limit: u32, cursor: Option<String>) -> Outcome<types::ListPage> {
        answer(self.calls().list(None, &prefix, limit, cursor.as_deref()).map(convert::page))
    }
    fn quota(&mut self) -> Outcome<types::QuotaInfo> {
        answer(self.calls().quota(None).map(convert::quota))
    }
    fn get_versioned(&mut self, key: String) -> Outcome<types::VersionedValue> {
        answer(self.calls().get_versioned(None, &key).map(convert::versioned))
    }
    fn get_many(&mut self, keys: Vec<String>) -> Outcome<Vec<Option<Vec<u8>>>> {
        answer(self.calls().get_many(None, &keys))
    }
    fn set_many(&mut self, entries: Vec<(String, Vec<u8>)>, ttl_secs: u64) -> Outcome<()> {
        answer(self.calls().set_many(None, entries, ttl_secs))
    }
    fn delete_many(&mut self, keys: Vec<String>) -> Outcome<u64> {
        answer(self.calls().delete_many(None, keys))
    }
    fn increment(&mut self, key: String, delta: i64) -> Outcome<i64> {
        answer(self.calls().increment(None, &key, delta))
    }
    fn transact(&mut self, preconditions: Vec<types::Precondition>, writes: Vec<types::Write>) -> Outcome<u64> {
        answer(self.calls().transact(None, convert::preconditions(preconditions), convert::writes(writes)))
    }
}

impl store::HostBucket for ForwardView<'_> {
    fn name(&mut self, bucket: Resource<StoreBucket>) -> wasmtime::Result<String> {
        Ok(self.table.get(&bucket)?.namespace.clone())
    }
    fn get(&mut self, bucket: Resource<StoreBucket>, key: String) -> Outcome<Vec<u8>> {
        self.in_bucket(&bucket, |calls, ns| calls.get(ns, &key))
    }
    fn set(&mut self, bucket: Resource<StoreBucket>, key: String, value: Vec<u8>, ttl_secs: u64) -> Outcome<()> {
        self.in_bucket(&bucket, |calls, ns| calls.set(ns, &key, value, ttl_secs))
    }
    fn delete(&mut self, bucket: Resource<StoreBucket>, key: String) -> Outcome<bool> {
        self.in_bucket(&bucket, |calls, ns| calls.delete(ns, &key))
    }
    fn exists(&mut self, bucket: Resource<StoreBucket>, key: String) -> Outcome<bool> {
        self.in_bucket(&bucket, |calls, ns| calls.exists(ns, &key))
    }
    fn list(
        &mut self,
        bucket: Resource<StoreBucket>,
        prefix: String,
        limit: u32,
        cursor: Option<String>,
    ) -> Outcome<types::ListPage> {
        self.in_bucket(&bucket, |calls, ns| calls.list(ns, &prefix, limit, cursor.as_deref()).map(convert::page))
    }
    fn quota(&mut self, bucket: Resource<StoreBucket>) -> Outcome<types::QuotaInfo> {
        self.in_bucket(&bucket, |calls, ns| calls.quota(ns).map(convert::quota))
    }
    fn get_versioned(&mut self, bucket: Resource<StoreBucket>, key: String) -> Outcome<types::VersionedValue> {
        self.in_bucket(&bucket, |calls, ns| calls.get_versioned(ns, &key).map(convert::versioned))
    }
    fn get_many(&mut self, bucket: Resource<StoreBucket>, keys: Vec<String>) -> Outcome<Vec<Option<Vec<u8>>>> {
        self.in_bucket(&bucket, |calls, ns| calls.get_many(ns, &keys))
    }
    fn set_many(
        &mut self,
        bucket: Resource<StoreBucket>,
        entries: Vec<(String, Vec<u8>)>,
        ttl_secs: u64,
    ) -> Outcome<()> {
        self.in_bucket(&bucket, |calls, ns| calls.set_many(ns, entries, ttl_secs))
    }
    fn delete_many(&mut self, bucket: Resource<StoreBucket>, keys: Vec<String>) -> Outcome<u64> {
        self.in_bucket(&bucket, |calls, ns| calls.delete_many(ns, keys))
    }
    fn increment(&mut self, bucket: Resource<StoreBucket>, key: String, delta: i64) -> Outcome<i64> {
        self.in_bucket(&bucket, |calls, ns| calls.increment(ns, &key, delta))
    }
    fn transact(
        &mut self,
        bucket: Resource<StoreBucket>,
        preconditions: Vec<types::Precondition>,
        writes: Vec<types::Write>,
    ) -> Outcome<u64> {
        let (preconditions, writes) = (convert::preconditions(preconditions), convert::writes(writes));
        self.in_bucket(&bucket, |calls, ns| calls.transact(ns, preconditions, writes))
    }
    fn drop(&mut self, bucket: Resource<StoreBucket>) -> wasmtime::Result<()> {
        self.release(bucket, |bucket| bucket.namespace.len()).map(drop)
    }
}
