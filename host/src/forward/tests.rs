//! The forwarding layer over a fake [`StorageCalls`]: the WIT mapping and the guards, without a
//! service (`service.rs` tests the wire side, `tests/apps_service.rs` the whole path).

use std::collections::BTreeMap;

use wasmtime::component::{Resource, ResourceTable};
use zero_storage_component::namespace::check_namespace;
use zero_storage_component::{Error, ListPage, Precondition, QuotaInfo, Result, Versioned, Write};

use super::generated::wasi::{keyvalue0_2_0_draft as draft, keyvalue0_2_0_draft2 as draft2};
use super::generated::zero::storage::{store, types};
use super::*;

/// Storage in a map, for the app `app:test` with user `alice`; `gone` makes every call fail as
/// a lost service does.
#[derive(Default)]
struct Fake {
    entries: BTreeMap<(String, String), (Vec<u8>, u64)>,
    version: u64,
    gone: bool,
}

impl Fake {
    fn ns(ns: Option<&str>) -> String {
        ns.unwrap_or("app:test").to_owned()
    }
    fn live(&self) -> Result<()> {
        if self.gone { Err(Error::Backend("the storage service is gone (test)".into())) } else { Ok(()) }
    }
    fn put(&mut self, ns: Option<&str>, key: &str, value: Vec<u8>) {
        self.version += 1;
        self.entries.insert((Self::ns(ns), key.to_owned()), (value, self.version));
    }
}

impl StorageCalls for Fake {
    fn open(&mut self, namespace: &str) -> Result<()> {
        check_namespace(namespace)?;
        self.live()?;
        if ["app:test", "user:alice"].contains(&namespace) { Ok(()) } else { Err(Error::PermissionDenied) }
    }
    fn get(&mut self, ns: Option<&str>, key: &str) -> Result<Vec<u8>> {
        self.get_versioned(ns, key).map(|found| found.value)
    }
    fn set(&mut self, ns: Option<&str>, key: &str, value: Vec<u8>, _: u64) -> Result<()> {
        self.live()?;
        zero_storage_component::limits::check_key(key)?;
        self.put(ns, key, value);
        Ok(())
    }
    fn delete(&mut self, ns: Option<&str>, key: &str) -> Result<bool> {
        self.live()?;
        Ok(self.entries.remove(&(Self::ns(ns), key.to_owned())).is_some())
    }
    fn exists(&mut self, ns: Option<&str>, key: &str) -> Result<bool> {
        self.live()?;
        Ok(self.entries.contains_key(&(Self::ns(ns), key.to_owned())))
    }
    fn list(&mut self, ns: Option<&str>, prefix: &str, limit: u32, cursor: Option<&str>) -> Result<ListPage> {
        self.live()?;
        let ns = Self::ns(ns);
        let mut keys = self
            .entries
            .keys()
            .filter(|(in_ns, key)| {
                *in_ns == ns && key.starts_with(prefix) && cursor.is_none_or(|after| key.as_str() > after)
            })
            .map(|(_, key)| key.clone());
        let page: Vec<String> = keys.by_ref().take(limit as usize).collect();
        let next_cursor = if keys.next().is_some() { page.last().cloned() } else { None };
        Ok(ListPage { keys: page, next_cursor })
    }
    fn quota(&mut self, _: Option<&str>) -> Result<QuotaInfo> {
        Err(Error::Backend("not in the fake".into()))
    }
    fn get_versioned(&mut self, ns: Option<&str>, key: &str) -> Result<Versioned> {
        self.live()?;
        let (value, version) = self.entries.get(&(Self::ns(ns), key.to_owned())).ok_or(Error::NotFound)?;
        Ok(Versioned { value: value.clone(), version: *version })
    }
    fn get_many(&mut self, ns: Option<&str>, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>> {
        keys.iter()
            .map(|key| match self.get(ns, key) {
                Ok(value) => Ok(Some(value)),
                Err(Error::NotFound) => Ok(None),
                Err(error) => Err(error),
            })
            .collect()
    }
    fn set_many(&mut self, ns: Option<&str>, entries: Vec<(String, Vec<u8>)>, _: u64) -> Result<()> {
        self.live()?;
        entries.into_iter().for_each(|(key, value)| self.put(ns, &key, value));
        Ok(())
    }
    fn delete_many(&mut self, ns: Option<&str>, keys: Vec<String>) -> Result<u64> {
        keys.iter().map(|key| self.delete(ns, key)).try_fold(0, |sum, existed| Ok(sum + u64::from(existed?)))
    }
    fn increment(&mut self, ns: Option<&str>, key: &str, delta: i64) -> Result<i64> {
        self.increment_within(ns, key, delta, i64::MIN)
    }
    fn increment_within(&mut self, ns: Option<&str>, key: &str, delta: i64, min: i64) -> Result<i64> {
        let current = match self.get(ns, key) {
            Ok(value) => String::from_utf8(value).unwrap().parse::<i64>().unwrap(),
            Err(Error::NotFound) => 0,
            Err(error) => return Err(error),
        };
        let next = current + delta;
        if next < min {
            return Err(Error::InvalidArgument(format!("the counter `{key}` would be {next}, below {min}")));
        }
        self.put(ns, key, next.to_string().into_bytes());
        Ok(next)
    }
    fn transact(&mut self, ns: Option<&str>, preconditions: Vec<Precondition>, writes: Vec<Write>) -> Result<u64> {
        for (index, precondition) in preconditions.iter().enumerate() {
            let holds = match precondition {
                Precondition::Absent(key) => !self.exists(ns, key)?,
                Precondition::VersionIs(key, version) => {
                    self.get_versioned(ns, key).is_ok_and(|found| found.version == *version)
                }
                _ => unimplemented!("not in the fake"),
            };
            if !holds {
                return Err(Error::PreconditionFailed(index as u32));
            }
        }
        for write in writes {
            match write {
                Write::Set { key, value, .. } => self.put(ns, &key, value),
                Write::Delete(key) => drop(self.delete(ns, &key)?),
            }
        }
        Ok(self.version)
    }
}

/// A forwarding context over `fake`, with its table.
fn forwarding(fake: Fake) -> (ForwardCtx, ResourceTable) {
    (ForwardCtx::new(Box::new(fake)), ResourceTable::new())
}

#[test]
fn buckets_past_the_held_bytes_bound_are_refused_and_dropping_one_makes_room() {
    let (mut ctx, mut table) = forwarding(Fake::default());
    let mut view = ForwardView::new(&mut ctx, &mut table);
    let mut open = Vec::new();
    let refusal = loop {
        match store::Host::open(&mut view, "user:alice".into()).unwrap() {
            Ok(bucket) => open.push(bucket),
            Err(refusal) => break refusal,
        }
        assert!(open.len() <= MAX_HELD_BYTES / HANDLE_OVERHEAD, "the bound never came");
    };
    assert!(matches!(&refusal, types::Error::BackendError(why) if why.contains("too many open storage handles")));
    assert!(open.len() > 100_000, "a bucket costs a few hundred bytes: {}", open.len());
    store::HostBucket::drop(&mut view, open.pop().unwrap()).unwrap();
    assert!(store::Host::open(&mut view, "user:alice".into()).unwrap().is_ok());
}

#[test]
fn draft_buckets_are_charged_for_their_cursor_tables() {
    let (mut ctx, mut table) = forwarding(Fake::default());
    let mut view = ForwardView::new(&mut ctx, &mut table);
    let mut open = 0;
    while let Ok(_bucket) = draft::store::Host::open(&mut view, String::new()).unwrap() {
        open += 1;
        assert!(open <= 10_000, "the bound never came");
    }
    // 32 MiB over about 33 KB a bucket.
    assert!((900..1100).contains(&open), "{open}");
}

#[test]
fn compare_and_swap_handles_count_their_values_against_the_bound() {
    let mut fake = Fake::default();
    fake.put(None, "big", vec![7; 1 << 20]);
    let (mut ctx, mut table) = forwarding(fake);
    let mut view = ForwardView::new(&mut ctx, &mut table);
    let bucket = draft2::store::Host::open(&mut view, String::new()).unwrap().unwrap();
    let mut handles = Vec::new();
    let refusal = loop {
        let borrowed = Resource::<keyvalue::KvBucket>::new_borrow(bucket.rep());
        match draft2::atomics::HostCas::new(&mut view, borrowed, "big".into()).unwrap() {
            Ok(cas) => handles.push(cas),
            Err(refusal) => break refusal,
        }
    };
    assert!(matches!(refusal, draft2::store::Error::Other(why) if why.contains("too many open storage handles")));
    assert_eq!(handles.len(), 31, "32 MiB of 1 MiB values, less what the bucket holds");
    // A swap gives its handle back, and the next handle fits again.
    assert!(draft2::atomics::Host::swap(&mut view, handles.pop().unwrap(), b"x".to_vec()).unwrap().is_ok());
    let borrowed = Resource::<keyvalue::KvBucket>::new_borrow(bucket.rep());
    assert!(draft2::atomics::HostCas::new(&mut view, borrowed, "big".into()).unwrap().is_ok());
}

#[test]
fn standard_open_maps_identifiers_as_the_component_does() {
    let (mut ctx, mut table) = forwarding(Fake::default());
    let mut view = ForwardView::new(&mut ctx, &mut table);
    for own in ["", "default", "app:test", "user:alice"] {
        assert!(draft2::store::Host::open(&mut view, own.into()).unwrap().is_ok(), "{own}");
        assert!(draft::store::Host::open(&mut view, own.into()).unwrap().is_ok(), "{own}");
    }
    for refused in ["app:victim", "user:bob", "system", "not a namespace", "app:"] {
        let open = draft2::store::Host::open(&mut view, refused.into()).unwrap();
        assert!(matches!(open, Err(draft2::store::Error::AccessDenied)), "{refused}");
        let open = draft::store::Host::open(&mut view, refused.into()).unwrap();
        assert!(matches!(open, Err(draft::store::Error::AccessDenied)), "{refused}");
    }
    let open = store::Host::open(&mut view, "app:victim".into()).unwrap();
    assert!(matches!(open, Err(types::Error::PermissionDenied)));
    let open = store::Host::open(&mut view, "app:../victim".into()).unwrap();
    assert!(matches!(open, Err(types::Error::InvalidArgument(_))));
}

#[test]
fn standard_open_says_the_service_is_gone_rather_than_access_denied() {
    let (mut ctx, mut table) = forwarding(Fake { gone: true, ..Fake::default() });
    let mut view = ForwardView::new(&mut ctx, &mut table);
    let open = draft2::store::Host::open(&mut view, "user:alice".into()).unwrap();
    assert!(matches!(open, Err(draft2::store::Error::Other(why)) if why.contains("gone")));
    let bucket = draft2::store::Host::open(&mut view, String::new()).unwrap().unwrap();
    let set = draft2::store::HostBucket::set(&mut view, bucket, "k".into(), vec![]).unwrap();
    assert!(
        matches!(set, Err(draft2::store::Error::Other(why)) if why.contains("backend error: the storage service is gone"))
    );
}

#[test]
fn draft_list_keys_pages_with_numeric_cursors_and_refuses_unknown_ones() {
    let mut fake = Fake::default();
    for i in 0..250 {
        fake.put(None, &format!("item/{i:03}"), vec![]);
    }
    let (mut ctx, mut table) = forwarding(fake);
    let mut view = ForwardView::new(&mut ctx, &mut table);
    let bucket = draft::store::Host::open(&mut view, String::new()).unwrap().unwrap();
    let (mut seen, mut cursor) = (Vec::new(), None);
    loop {
        let borrowed = Resource::<keyvalue::DraftBucket>::new_borrow(bucket.rep());
        let page = draft::store::HostBucket::list_keys(&mut view, borrowed, cursor).unwrap().unwrap();
        seen.extend(page.keys);
        cursor = page.cursor;
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(seen, (0..250).map(|i| format!("item/{i:03}")).collect::<Vec<_>>());
    let borrowed = Resource::<keyvalue::DraftBucket>::new_borrow(bucket.rep());
    let unknown = draft::store::HostBucket::list_keys(&mut view, borrowed, Some(987_654)).unwrap();
    assert!(matches!(unknown, Err(draft::store::Error::Other(why)) if why.contains("unknown or too old")));
}

#[test]
fn draft_increment_refuses_a_negative_counter_and_a_delta_past_i64_max() {
    let mut fake = Fake::default();
    fake.put(None, "n", b"-5".to_vec());
    let (mut ctx, mut table) = forwarding(fake);
    let mut view = ForwardView::new(&mut ctx, &mut table);
    let bucket = draft::store::Host::open(&mut view, String::new()).unwrap().unwrap();
    let borrow = || Resource::<keyvalue::DraftBucket>::new_borrow(bucket.rep());
    let refused = draft::atomics::Host::increment(&mut view, borrow(), "n".into(), 1).unwrap();
    assert!(matches!(refused, Err(draft::store::Error::Other(why)) if why.contains("below 0")));
    let refused = draft::atomics::Host::increment(&mut view, borrow(), "m".into(), u64::MAX).unwrap();
    assert!(matches!(refused, Err(draft::store::Error::Other(why)) if why.contains("larger than a counter can hold")));
    assert_eq!(draft::atomics::Host::increment(&mut view, borrow(), "n".into(), 5).unwrap().ok(), Some(0));
}

#[test]
fn get_many_answers_in_each_versions_shape() {
    let mut fake = Fake::default();
    fake.put(None, "a", b"1".to_vec());
    let (mut ctx, mut table) = forwarding(fake);
    let mut view = ForwardView::new(&mut ctx, &mut table);
    let keys = vec!["a".to_string(), "nope".to_string()];
    let v2 = draft2::store::Host::open(&mut view, String::new()).unwrap().unwrap();
    let got = draft2::batch::Host::get_many(&mut view, v2, keys.clone()).unwrap().unwrap();
    assert_eq!(got, [("a".to_string(), Some(b"1".to_vec())), ("nope".to_string(), None)]);
    let v1 = draft::store::Host::open(&mut view, String::new()).unwrap().unwrap();
    let got = draft::batch::Host::get_many(&mut view, v1, keys.clone()).unwrap().unwrap();
    assert_eq!(got, [Some(("a".to_string(), b"1".to_vec())), None]);
    let got = store::Host::get_many(&mut view, keys).unwrap().unwrap();
    assert_eq!(got, [Some(b"1".to_vec()), None]);
}

#[test]
fn a_swap_that_loses_a_race_hands_back_a_fresh_handle_with_the_current_value() {
    let (mut ctx, mut table) = forwarding(Fake::default());
    let mut view = ForwardView::new(&mut ctx, &mut table);
    let bucket = draft2::store::Host::open(&mut view, String::new()).unwrap().unwrap();
    let borrow = || Resource::<keyvalue::KvBucket>::new_borrow(bucket.rep());
    let cas = draft2::atomics::HostCas::new(&mut view, borrow(), "c".into()).unwrap().unwrap();
    draft2::store::HostBucket::set(&mut view, borrow(), "c".into(), b"2".to_vec()).unwrap().unwrap();
    let Err(draft2::atomics::CasError::CasFailed(fresh)) =
        draft2::atomics::Host::swap(&mut view, cas, b"3".to_vec()).unwrap()
    else {
        panic!("the swap should have failed");
    };
    let borrowed = Resource::<keyvalue::KvCas>::new_borrow(fresh.rep());
    assert_eq!(draft2::atomics::HostCas::current(&mut view, borrowed).unwrap().unwrap(), Some(b"2".to_vec()));
    assert!(draft2::atomics::Host::swap(&mut view, fresh, b"3".to_vec()).unwrap().is_ok());
    let got = draft2::store::HostBucket::get(&mut view, borrow(), "c".into()).unwrap().unwrap();
    assert_eq!(got, Some(b"3".to_vec()));
}
