//! How one namespace's data is laid out in the backend's ordered key space.
//!
//! | backend key                     | value                              | purpose                 |
//! |---------------------------------|------------------------------------|-------------------------|
//! | `m` + key                       | [`Meta`]: format, value length, expiry | directory: list, exists, accounting |
//! | `d` + key                       | the value bytes, unchanged         | get                     |
//! | `x` + expiry (u64 BE) + key     | value length (u32 LE)              | expiry index: sweep     |
//! | `u`                             | [`Usage`]: bytes, key count        | exact quota accounting  |
//!
//! An entry's `m` and `d` records (and its `x` record when it has a time to live) are always
//! written and removed together in one commit, and every commit that changes usage also writes
//! `u` on the condition that it did not change meanwhile, which keeps usage exact under
//! concurrency. Listing scans only the small `m` records, so a page never reads values.

use crate::error::{Error, Result};

const META: u8 = b'm';
const DATA: u8 = b'd';
const EXPIRY: u8 = b'x';
/// The backend key of the namespace's usage record.
pub const USAGE_KEY: &[u8] = b"u";

const META_FORMAT: u8 = 1;

fn tagged(tag: u8, key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + key.len());
    out.push(tag);
    out.extend_from_slice(key);
    out
}

/// The backend key of an entry's directory record.
pub fn meta_key(key: &[u8]) -> Vec<u8> {
    tagged(META, key)
}

/// The backend key of an entry's value.
pub fn data_key(key: &[u8]) -> Vec<u8> {
    tagged(DATA, key)
}

/// The backend key of an entry's expiry-index record.
pub fn expiry_key(expires_at_ms: u64, key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(9 + key.len());
    out.push(EXPIRY);
    out.extend_from_slice(&expires_at_ms.to_be_bytes());
    out.extend_from_slice(key);
    out
}

/// The range of expiry-index records with an expiry at or before `now_ms`.
pub fn expired_range(now_ms: u64) -> (Vec<u8>, Vec<u8>) {
    let end = match now_ms.checked_add(1) {
        Some(after) => expiry_key(after, b""),
        None => vec![EXPIRY + 1],
    };
    (vec![EXPIRY], end)
}

/// Splits an expiry-index key into (expiry, user key).
pub fn parse_expiry_key(raw: &[u8]) -> Result<(u64, &[u8])> {
    match raw {
        [EXPIRY, rest @ ..] if rest.len() > 8 => {
            let (time, key) = rest.split_at(8);
            Ok((u64::from_be_bytes(time.try_into().map_err(|_| corrupt("expiry index"))?), key))
        }
        _ => Err(corrupt("expiry index")),
    }
}

/// The user key of a directory record's backend key.
pub fn key_of_meta(raw: &[u8]) -> Result<&[u8]> {
    match raw {
        [META, key @ ..] if !key.is_empty() => Ok(key),
        _ => Err(corrupt("directory")),
    }
}

/// The user key of a value record's backend key.
pub fn key_of_data(raw: &[u8]) -> Result<&[u8]> {
    match raw {
        [DATA, key @ ..] if !key.is_empty() => Ok(key),
        _ => Err(corrupt("value")),
    }
}

/// The value records of the keys from `first` to `last`, both included, in key order: the
/// entries whose directory records a `meta_range` scan returned, read in one scan.
pub fn data_range(first: &[u8], last: &[u8]) -> (Vec<u8>, Vec<u8>) {
    // The smallest key greater than `last` is `last` followed by a zero byte.
    let mut end = data_key(last);
    end.push(0);
    (data_key(first), end)
}

/// The directory records whose keys start with `prefix` and come strictly after `after`.
pub fn meta_range(prefix: &[u8], after: Option<&[u8]>) -> (Vec<u8>, Vec<u8>) {
    let mut start = meta_key(prefix);
    if let Some(after) = after {
        // The smallest key greater than `after` is `after` followed by a zero byte.
        let mut resume = meta_key(after);
        resume.push(0);
        start = start.max(resume);
    }
    (start, prefix_end(&meta_key(prefix)))
}

/// The smallest key greater than every key starting with `prefix`: the prefix with its last byte
/// below 0xff incremented and what follows it dropped. Every prefix the layout and the backends
/// build has such a byte (a tag, a `/`, or UTF-8); for one of 0xff bytes only, the result is
/// 0xff 0xff, past every key they write.
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0xff; 2]
}

/// An entry's directory record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    /// The length of the value in bytes.
    pub value_len: u32,
    /// When the entry expires, in ms since the epoch; `None` for never.
    pub expires_at_ms: Option<u64>,
}

impl Meta {
    /// Encodes the record: format byte, value length (u32 LE), expiry (u64 LE, 0 = never).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(13);
        out.push(META_FORMAT);
        out.extend_from_slice(&self.value_len.to_le_bytes());
        out.extend_from_slice(&self.expires_at_ms.unwrap_or(0).to_le_bytes());
        out
    }

    /// Decodes a record written by [`Meta::encode`].
    pub fn decode(raw: &[u8]) -> Result<Meta> {
        match raw {
            [META_FORMAT, len @ ..] if len.len() == 12 => {
                let value_len = u32::from_le_bytes(len[..4].try_into().map_err(|_| corrupt("directory"))?);
                let expiry = u64::from_le_bytes(len[4..].try_into().map_err(|_| corrupt("directory"))?);
                Ok(Meta { value_len, expires_at_ms: (expiry != 0).then_some(expiry) })
            }
            _ => Err(corrupt("directory")),
        }
    }

    /// Whether the entry has expired at `now_ms` (expiry is inclusive: gone at that instant).
    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.expires_at_ms.is_some_and(|at| at <= now_ms)
    }
}

/// A namespace's usage record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Key bytes plus value bytes of every entry still stored (including expired ones not yet
    /// reclaimed).
    pub bytes: u64,
    /// Entries still stored.
    pub keys: u64,
}

impl Usage {
    /// Encodes the record: bytes then keys, both u64 LE.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16);
        out.extend_from_slice(&self.bytes.to_le_bytes());
        out.extend_from_slice(&self.keys.to_le_bytes());
        out
    }

    /// Decodes a record written by [`Usage::encode`].
    pub fn decode(raw: &[u8]) -> Result<Usage> {
        if raw.len() != 16 {
            return Err(corrupt("usage"));
        }
        let (bytes, keys) = raw.split_at(8);
        Ok(Usage {
            bytes: u64::from_le_bytes(bytes.try_into().map_err(|_| corrupt("usage"))?),
            keys: u64::from_le_bytes(keys.try_into().map_err(|_| corrupt("usage"))?),
        })
    }
}

/// Encodes the value of an expiry-index record: the entry's value length.
pub fn encode_expiry_value(value_len: u32) -> Vec<u8> {
    value_len.to_le_bytes().to_vec()
}

/// Decodes the value of an expiry-index record.
pub fn decode_expiry_value(raw: &[u8]) -> Result<u32> {
    Ok(u32::from_le_bytes(raw.try_into().map_err(|_| corrupt("expiry index"))?))
}

fn corrupt(what: &str) -> Error {
    Error::Backend(format!("the stored {what} record is corrupt"))
}

#[cfg(test)]
mod tests {

    #[test]
    fn prefix_end_is_the_first_key_past_every_key_with_the_prefix() {
        assert_eq!(prefix_end(b"zero/n/"), b"zero/n0");
        assert_eq!(prefix_end(b"ma\xff\xff"), b"mb");
    }

    use super::*;

    #[test]
    fn records_round_trip() {
        let meta = Meta { value_len: 1 << 20, expires_at_ms: Some(42) };
        assert_eq!(Meta::decode(&meta.encode()), Ok(meta));
        let forever = Meta { value_len: 0, expires_at_ms: None };
        assert_eq!(Meta::decode(&forever.encode()), Ok(forever));
        let usage = Usage { bytes: u64::MAX, keys: 7 };
        assert_eq!(Usage::decode(&usage.encode()), Ok(usage));
        assert_eq!(parse_expiry_key(&expiry_key(9, b"k")), Ok((9, &b"k"[..])));
    }

    #[test]
    fn corrupt_records_are_backend_errors_not_panics() {
        for raw in [&b""[..], b"\x02aaaaaaaaaaaa", b"\x01short"] {
            assert!(matches!(Meta::decode(raw), Err(Error::Backend(_))));
        }
        assert!(matches!(Usage::decode(b"1234"), Err(Error::Backend(_))));
        assert!(matches!(parse_expiry_key(b"x1234"), Err(Error::Backend(_))));
    }

    #[test]
    fn meta_range_covers_exactly_the_prefix_and_resumes_after_the_cursor() {
        let (start, end) = meta_range(b"ab", None);
        assert!(start <= meta_key(b"ab") && meta_key(b"ab\xc3\xbf") < end && meta_key(b"ac") >= end);
        let (start, _) = meta_range(b"a", Some(b"ab"));
        assert!(start > meta_key(b"ab") && start <= meta_key(b"ab\0"));
        let (start, _) = meta_range(b"b", Some(b"a"));
        assert_eq!(start, meta_key(b"b"));
        let (start, end) = meta_range(b"", None);
        assert!(
            start <= meta_key(b"\0")
                && end > meta_key(&[0xf4, 0x8f, 0xbf, 0xbf])
                && end <= data_key(b"").max(vec![b'n'])
        );
    }

    #[test]
    fn data_range_covers_first_to_last_and_nothing_else() {
        let (start, end) = data_range(b"b", b"d");
        assert!(start <= data_key(b"b") && data_key(b"d") < end && data_key(b"d\0") >= end);
        assert!(data_key(b"a\xff") < start && meta_key(b"c") >= end);
        assert_eq!(key_of_data(&data_key(b"k")), Ok(&b"k"[..]));
        assert!(matches!(key_of_data(b"d"), Err(Error::Backend(_))));
        assert!(matches!(key_of_data(&meta_key(b"k")), Err(Error::Backend(_))));
    }

    #[test]
    fn expired_range_includes_now_and_excludes_the_next_millisecond() {
        let (start, end) = expired_range(100);
        assert!(start <= expiry_key(0, b"a") && expiry_key(100, &[0xff; 3]) < end && expiry_key(101, b"") >= end);
    }
}
