//! Operations on several keys at once, all atomic: batches, counters and transactions with
//! preconditions (compare-and-swap is a one-write transaction).

use std::borrow::Cow;

use crate::backend::{BackendImport, Identity, Query};
use crate::engine::{OpenNamespace, Planned, take_got};
use crate::error::{Error, Result};
use crate::layout::{self, Meta};
use crate::limits::{MAX_BATCH_KEYS, MAX_BATCH_VALUE_BYTES, ReadBudget, check_key, check_value};
use crate::storage::Storage;

/// A value with the version of the write that stored it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned {
    /// The value.
    pub value: Vec<u8>,
    /// The version: changes on every write to the key.
    pub version: u64,
}

/// A condition a transaction checks before it writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Precondition {
    /// No live entry has this key.
    Absent(String),
    /// A live entry has this key.
    Exists(String),
    /// The live entry under the key has this version.
    VersionIs(String, u64),
    /// The live entry under the key has this value.
    ValueEquals(String, Vec<u8>),
}

impl Precondition {
    fn key(&self) -> &str {
        match self {
            Precondition::Absent(key)
            | Precondition::Exists(key)
            | Precondition::VersionIs(key, _)
            | Precondition::ValueEquals(key, _) => key,
        }
    }
}

/// One write of a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    /// Store a value, expiring after `ttl_secs` (0 = never).
    Set {
        /// The key.
        key: String,
        /// The value.
        value: Vec<u8>,
        /// Time to live in seconds; 0 = never expires.
        ttl_secs: u64,
    },
    /// Remove a key.
    Delete(String),
}

impl Write {
    fn key(&self) -> &str {
        match self {
            Write::Set { key, .. } | Write::Delete(key) => key,
        }
    }
}

fn check_batch(keys: usize, value_bytes: usize) -> Result<()> {
    if keys > MAX_BATCH_KEYS {
        return Err(Error::InvalidArgument(format!("a batch may name at most {MAX_BATCH_KEYS} keys; split it")));
    }
    if value_bytes > MAX_BATCH_VALUE_BYTES {
        return Err(Error::InvalidArgument(format!(
            "a batch may write at most {MAX_BATCH_VALUE_BYTES} value bytes; split it"
        )));
    }
    Ok(())
}

impl<B: BackendImport, I: Identity> Storage<B, I> {
    /// The value under `key` with its version, for a later compare-and-swap.
    pub fn get_versioned(&self, ns: &OpenNamespace, key: &str) -> Result<Versioned> {
        check_key(key)?;
        let queries = vec![Query::Get(layout::meta_key(key.as_bytes())), Query::Get(layout::data_key(key.as_bytes()))];
        let mut answers = self.engine().read(ns, queries)?;
        let data = take_got(&mut answers, 1)?;
        let meta = take_got(&mut answers, 0)?.ok_or(Error::NotFound)?;
        if Meta::decode(&meta.value)?.expires_at_ms.is_some_and(|at| at <= self.engine().identity().now_ms()) {
            return Err(Error::NotFound);
        }
        let data = data.ok_or_else(|| Error::Backend("an entry's value is missing from the backend".into()))?;
        Ok(Versioned { value: data.value, version: meta.version })
    }

    /// The values under `keys` (none where absent), read from one snapshot. Refused with
    /// `invalid-argument` if the values would total more than
    /// [`MAX_READ_VALUE_BYTES`](crate::limits::MAX_READ_VALUE_BYTES); a key named twice counts
    /// twice, as it is in the answer twice.
    pub fn get_many(&self, ns: &OpenNamespace, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>> {
        check_batch(keys.len(), 0)?;
        keys.iter().try_for_each(|key| check_key(key))?;
        self.engine().check_read_size(ns, keys)?;
        let mut queries = Vec::with_capacity(2 * keys.len());
        queries.extend(keys.iter().map(|key| Query::Get(layout::meta_key(key.as_bytes()))));
        queries.extend(keys.iter().map(|key| Query::Get(layout::data_key(key.as_bytes()))));
        let mut answers = self.engine().read(ns, queries)?;
        let mut now = None;
        let mut budget = ReadBudget::default();
        let mut values = Vec::with_capacity(keys.len());
        for index in 0..keys.len() {
            let live = match take_got(&mut answers, index)? {
                Some(meta) => Meta::decode(&meta.value)?
                    .expires_at_ms
                    .is_none_or(|at| at > *now.get_or_insert_with(|| self.engine().identity().now_ms())),
                None => false,
            };
            let data = take_got(&mut answers, keys.len() + index)?;
            let value = if live { data.map(|entry| entry.value) } else { None };
            // Values that grew since `check_read_size` looked are caught here.
            budget.take(value.as_ref().map_or(0, Vec::len))?;
            values.push(value);
        }
        Ok(values)
    }

    /// Stores every `(key, value)` pair, all or nothing; a key given twice keeps its last value.
    pub fn set_many(&self, ns: &OpenNamespace, entries: &[(String, Vec<u8>)], ttl_secs: u64) -> Result<()> {
        check_batch(entries.len(), entries.iter().map(|(_, value)| value.len()).sum())?;
        for (key, value) in entries {
            check_key(key)?;
            check_value(value)?;
        }
        let expires_at_ms = self.engine().expiry(ttl_secs)?;
        let keys: Vec<&str> = entries.iter().map(|(key, _)| key.as_str()).collect();
        self.engine().update(ns, &keys, &[], |_| {
            let writes = entries
                .iter()
                .map(|(key, value)| Planned::Set { key, value: Cow::Borrowed(value), expires_at_ms })
                .collect();
            Ok((writes, ()))
        })?;
        Ok(())
    }

    /// Removes every key, all or nothing; returns how many live entries were removed.
    pub fn delete_many(&self, ns: &OpenNamespace, keys: &[String]) -> Result<u64> {
        check_batch(keys.len(), 0)?;
        keys.iter().try_for_each(|key| check_key(key))?;
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let (removed, _) = self.engine().update(ns, &keys, &[], |view| {
            let mut distinct = keys.clone();
            distinct.sort_unstable();
            distinct.dedup();
            let removed = distinct.iter().filter(|key| view.get(key).is_some()).count() as u64;
            Ok((keys.iter().map(|key| Planned::Delete { key }).collect(), removed))
        })?;
        Ok(removed)
    }

    /// Adds `delta` to the counter under `key` and returns the new value. The counter is stored
    /// as ASCII decimal; a missing key counts from 0. A value that is not a decimal integer, or
    /// a result that does not fit in an `i64`, is an error and changes nothing. The entry keeps
    /// its time to live.
    pub fn increment(&self, ns: &OpenNamespace, key: &str, delta: i64) -> Result<i64> {
        self.increment_within(ns, key, delta, i64::MIN)
    }

    /// [`Storage::increment`], refusing (and changing nothing) if the result would be below
    /// `min`: for counters that must not go negative.
    pub fn increment_within(&self, ns: &OpenNamespace, key: &str, delta: i64, min: i64) -> Result<i64> {
        check_key(key)?;
        let (value, _) = self.engine().update(ns, &[key], &[key], |view| {
            let (current, expires_at_ms) = match view.get(key) {
                Some(entry) => {
                    (parse_counter(key, entry.value.as_deref().unwrap_or_default())?, entry.meta.expires_at_ms)
                }
                None => (0, None),
            };
            let next = current
                .checked_add(delta)
                .ok_or_else(|| Error::InvalidArgument(format!("incrementing `{key}` by {delta} would overflow")))?;
            if next < min {
                return Err(Error::InvalidArgument(format!("the counter `{key}` would be {next}, below {min}")));
            }
            let value = Cow::Owned(next.to_string().into_bytes());
            Ok((vec![Planned::Set { key, value, expires_at_ms }], next))
        })?;
        Ok(value)
    }

    /// Applies `writes` all or nothing if every precondition holds, judged on one snapshot
    /// together with the writes. Returns the version the writes were stamped with (0 if there
    /// was nothing to write). A failed precondition is `precondition-failed(index)`. The stored
    /// values the `value-equals` preconditions compare (each key once) may total at most
    /// [`MAX_READ_VALUE_BYTES`](crate::limits::MAX_READ_VALUE_BYTES).
    pub fn transact(&self, ns: &OpenNamespace, preconditions: &[Precondition], writes: &[Write]) -> Result<u64> {
        let value_bytes = writes
            .iter()
            .map(|write| match write {
                Write::Set { value, .. } => value.len(),
                Write::Delete(_) => 0,
            })
            .sum();
        check_batch(preconditions.len() + writes.len(), value_bytes)?;
        for precondition in preconditions {
            check_key(precondition.key())?;
        }
        let mut planned_expiry = Vec::with_capacity(writes.len());
        for write in writes {
            check_key(write.key())?;
            planned_expiry.push(match write {
                Write::Set { value, ttl_secs, .. } => {
                    check_value(value)?;
                    self.engine().expiry(*ttl_secs)?
                }
                Write::Delete(_) => None,
            });
        }
        let keys: Vec<&str> =
            preconditions.iter().map(Precondition::key).chain(writes.iter().map(Write::key)).collect();
        // Only the values a precondition compares are read, so the rest never count against
        // the read cap.
        let compared: Vec<&str> = preconditions
            .iter()
            .filter_map(|precondition| match precondition {
                Precondition::ValueEquals(key, _) => Some(key.as_str()),
                _ => None,
            })
            .collect();
        let (_, version) = self.engine().update(ns, &keys, &compared, |view| {
            for (index, precondition) in preconditions.iter().enumerate() {
                let current = view.get(precondition.key());
                let holds = match precondition {
                    Precondition::Absent(_) => current.is_none(),
                    Precondition::Exists(_) => current.is_some(),
                    Precondition::VersionIs(_, version) => current.is_some_and(|entry| entry.version == *version),
                    Precondition::ValueEquals(_, value) => {
                        current.is_some_and(|entry| entry.value.as_deref() == Some(value.as_slice()))
                    }
                };
                if !holds {
                    return Err(Error::PreconditionFailed(index as u32));
                }
            }
            let planned = writes
                .iter()
                .zip(&planned_expiry)
                .map(|(write, expires_at_ms)| match write {
                    Write::Set { key, value, .. } => {
                        Planned::Set { key, value: Cow::Borrowed(value), expires_at_ms: *expires_at_ms }
                    }
                    Write::Delete(key) => Planned::Delete { key },
                })
                .collect();
            Ok((planned, ()))
        })?;
        Ok(version.unwrap_or(0))
    }
}

fn parse_counter(key: &str, value: &[u8]) -> Result<i64> {
    std::str::from_utf8(value)
        .ok()
        .and_then(|text| text.parse::<i64>().ok())
        .ok_or_else(|| Error::InvalidArgument(format!("the value of `{key}` is not a decimal integer")))
}

#[cfg(test)]
#[path = "atomic_tests.rs"]
mod tests;
