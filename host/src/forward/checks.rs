//! The component's own refusal of a call too large to hand on, decided without handing it on.
//!
//! A forwarded call is copied once more before the storage component sees it: into a frame for
//! the Storage Service, or into the memory of the app's storage instance. Every valid call is
//! far smaller than either can take (values ≤ 1 MiB, batches ≤ 16 MiB of values), but a guest
//! may pass anything its own memory holds. So each call's size is bounded first ([`field`],
//! [`FIXED`]); a call whose bound is over the limit is put through the component's argument
//! checks natively ([`argument_error`]: the storage logic over a backend that is never
//! reached), and gets the very error the component would give, without being copied on.

use std::time::{SystemTime, UNIX_EPOCH};

use zero_storage_component::backend::{
    Access, Answer, BackendImport, CommitResult, Condition, Identity, Mutation, Query,
};
use zero_storage_component::{Error, OpenNamespace, Precondition, Result, Storage, Write};

/// An upper bound on what a string or byte string adds to a call's encoded size (the Storage Service's payload, or what the call copies into a storage instance): its bytes, its
/// length prefix (a varint, at most 10 bytes) and any enum or option tag around it.
fn field(len: usize) -> usize {
    len.saturating_add(16)
}

/// An upper bound on a request's payload without its strings: tags, numbers, list lengths.
/// (Sums of these bounds cannot overflow: every length comes from a 32-bit guest memory.)
const FIXED: usize = 64;

fn namespace_field(ns: Option<&str>) -> usize {
    field(ns.map_or(0, str::len))
}

fn keys_field(keys: &[String]) -> usize {
    keys.iter().fold(0, |sum: usize, key| sum.saturating_add(field(key.len())))
}

/// The storage logic over a backend that is never reached, to run an operation's argument
/// checks natively.
pub(super) type Checker = Storage<Unreached, Unreached>;

/// What the never-reached backend answers, so that reaching it is told apart from a refusal.
const UNREACHED: &str = "argument checks passed";

/// The error `check` fails with before it reaches the backend: the component's own refusal of
/// the arguments, or `None` if they pass.
pub(super) fn argument_error(check: impl FnOnce(&Checker, &OpenNamespace) -> Result<()>) -> Option<Error> {
    let storage = Storage::new(Unreached, Unreached);
    match check(&storage, storage.own()) {
        Err(Error::Backend(why)) if why == UNREACHED => None,
        Err(refused) => Some(refused),
        Ok(()) => None,
    }
}

/// A backend and identity for [`argument_error`]: every read and commit fails with
/// [`UNREACHED`]; the caller may use its own namespace, with no quota to speak of.
pub(super) struct Unreached;

impl BackendImport for Unreached {
    fn read(&self, _: &str, _: &[Query]) -> std::result::Result<Vec<Answer>, String> {
        Err(UNREACHED.into())
    }
    fn commit(&self, _: &str, _: &[Condition], _: &[Mutation<'_>]) -> std::result::Result<CommitResult, String> {
        Err(UNREACHED.into())
    }
}

impl Identity for Unreached {
    fn own_namespace(&self) -> String {
        "app:argument-check".into()
    }
    fn access(&self, _: &str) -> Access {
        Access::ReadWrite
    }
    fn quota_bytes(&self, _: &str) -> u64 {
        u64::MAX
    }
    fn now_ms(&self) -> u64 {
        // The storage instance or the service measures time to live on the same clock.
        SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |since| since.as_millis() as u64)
    }
}

/// The bound of a call that carries one key (or none: `key` empty).
pub(super) fn key_call(ns: Option<&str>, key: &str) -> usize {
    FIXED + namespace_field(ns) + field(key.len())
}

/// The bound of a call that carries a key and a value.
pub(super) fn set_call(ns: Option<&str>, key: &str, value: &[u8]) -> usize {
    key_call(ns, key) + field(value.len())
}

/// The bound of a `list` call.
pub(super) fn list_call(ns: Option<&str>, prefix: &str, cursor: Option<&str>) -> usize {
    key_call(ns, prefix) + field(cursor.map_or(0, str::len))
}

/// The bound of a call that carries a list of keys.
pub(super) fn keys_call(ns: Option<&str>, keys: &[String]) -> usize {
    FIXED + namespace_field(ns) + keys_field(keys)
}

/// The bound of a `set-many` call.
pub(super) fn entries_call(ns: Option<&str>, entries: &[(String, Vec<u8>)]) -> usize {
    entries.iter().fold(FIXED + namespace_field(ns), |sum: usize, (key, value)| {
        sum.saturating_add(field(key.len())).saturating_add(field(value.len()))
    })
}

/// The bound of a `transact` call, and the longest time to live among its writes.
pub(super) fn transact_call(ns: Option<&str>, preconditions: &[Precondition], writes: &[Write]) -> (usize, u64) {
    let mut bound = FIXED + namespace_field(ns);
    let mut longest_ttl = 0;
    for precondition in preconditions {
        let (key, value) = match precondition {
            Precondition::Absent(key) | Precondition::Exists(key) | Precondition::VersionIs(key, _) => (key, 0),
            Precondition::ValueEquals(key, value) => (key, value.len()),
        };
        bound = bound.saturating_add(field(key.len())).saturating_add(field(value));
    }
    for write in writes {
        bound = match write {
            Write::Set { key, value, ttl_secs } => {
                longest_ttl = longest_ttl.max(*ttl_secs);
                bound.saturating_add(field(key.len())).saturating_add(field(value.len()))
            }
            Write::Delete(key) => bound.saturating_add(field(key.len())),
        };
    }
    (bound, longest_ttl)
}
