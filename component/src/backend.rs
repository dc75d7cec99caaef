//! What the storage logic needs from its surroundings: a [`BackendImport`] to keep data in and an
//! [`Identity`] that says who is calling. In the component both are WIT imports served by the
//! host; in unit tests they are plain Rust.

use std::borrow::Cow;

/// One stored entry, as the backend returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The backend key.
    pub key: Vec<u8>,
    /// The value; empty for a keys-only scan.
    pub value: Vec<u8>,
    /// The version stamped by the commit that last wrote the entry (never 0).
    pub version: u64,
}

/// One thing to read in a [`BackendImport::read`] call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    /// The entry under a key.
    Get(Vec<u8>),
    /// The entries with `start <= key < end`, ascending, at most `limit`.
    Scan {
        /// First key included.
        start: Vec<u8>,
        /// First key excluded.
        end: Vec<u8>,
        /// Most entries returned.
        limit: u32,
        /// Return empty values.
        keys_only: bool,
    },
}

/// The answer to one [`Query`], in the same position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The entry, if present. Its `key` may be empty, since the query names it: the WIT
    /// backend does not send it back.
    Got(Option<Entry>),
    /// The entries in the range.
    Scanned(Vec<Entry>),
}

/// What a scan calls with each entry's key, value and version, borrowed from the answer.
pub type Visit<'a> = dyn FnMut(&[u8], &[u8], u64) + 'a;

/// Packs a scan's entries into the one buffer the WIT `scanned` answer carries: for each entry,
/// its key's length (u32, little-endian), the key, its value's length (u32 LE), the value and its
/// version (u64 LE). One buffer crosses into the component with one allocation, where two lists
/// per entry would cost two.
pub fn pack_entries(entries: &[Entry]) -> Vec<u8> {
    let size = entries.iter().map(|entry| 16 + entry.key.len() + entry.value.len()).sum();
    let mut packed = Vec::with_capacity(size);
    for entry in entries {
        pack_entry(&mut packed, &entry.key, &entry.value, entry.version);
    }
    packed
}

/// Appends one entry to a buffer in [`pack_entries`]' format. A key or value of 4 GiB or more,
/// which no backend entry can be, panics.
fn pack_entry(packed: &mut Vec<u8>, key: &[u8], value: &[u8], version: u64) {
    for part in [key, value] {
        let len = u32::try_from(part.len()).expect("a backend key or value is shorter than 4 GiB");
        packed.extend_from_slice(&len.to_le_bytes());
        packed.extend_from_slice(part);
    }
    packed.extend_from_slice(&version.to_le_bytes());
}

/// The entries of a buffer in [`pack_entries`]' format. A buffer that ends inside an entry is
/// refused with a message safe to show to applications.
pub fn unpack_entries(packed: &[u8]) -> Result<Vec<Entry>, String> {
    let mut entries = Vec::new();
    visit_packed(packed, &mut |key, value, version| {
        entries.push(Entry { key: key.to_vec(), value: value.to_vec(), version });
    })?;
    Ok(entries)
}

/// Calls `visit` with the key, value and version of each entry of a buffer in
/// [`pack_entries`]' format, in order, borrowing them from the buffer; returns how many there
/// were. A buffer that ends inside an entry is refused (after visiting the entries before it).
pub fn visit_packed(mut packed: &[u8], visit: &mut Visit<'_>) -> Result<usize, String> {
    fn take<'a>(packed: &mut &'a [u8], len: usize) -> Result<&'a [u8], String> {
        if packed.len() < len {
            return Err("the backend answered a scan with a truncated entry".into());
        }
        let (head, rest) = packed.split_at(len);
        *packed = rest;
        Ok(head)
    }
    fn take_u32(packed: &mut &[u8]) -> Result<usize, String> {
        let bytes = take(packed, 4)?;
        Ok(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize)
    }
    let mut count = 0;
    while !packed.is_empty() {
        let key_len = take_u32(&mut packed)?;
        let key = take(&mut packed, key_len)?;
        let value_len = take_u32(&mut packed)?;
        let value = take(&mut packed, value_len)?;
        let mut version = [0u8; 8];
        version.copy_from_slice(take(&mut packed, 8)?);
        visit(key, value, u64::from_le_bytes(version));
        count += 1;
    }
    Ok(count)
}

/// A condition a commit depends on: the key has this version, or (`None`) is absent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// The key to check.
    pub key: Vec<u8>,
    /// The required version, or `None` for "absent".
    pub version: Option<u64>,
}

/// One change in a commit. Values may be borrowed, so a value travels from the caller to the
/// backend without being copied inside the storage logic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mutation<'a> {
    /// Store a value under a key.
    Put(Vec<u8>, Cow<'a, [u8]>),
    /// Remove a key (absent is fine).
    Delete(Vec<u8>),
}

/// What became of a commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitResult {
    /// Applied, stamped with this version.
    Committed(u64),
    /// The condition at this index failed; nothing was applied.
    Conflict(u32),
}

/// The `zero:storage/backend` contract: per-namespace ordered maps with snapshot reads and an
/// atomic conditional commit. Errors are messages safe to show to applications.
pub trait BackendImport {
    /// Answers `queries` in `namespace` from one consistent snapshot.
    fn read(&self, namespace: &str, queries: &[Query]) -> Result<Vec<Answer>, String>;
    /// Calls `visit` with the key, value and version of each entry a `read` of `scan` (a
    /// [`Query::Scan`]) answers, in order; returns how many there were. Backends that can lend
    /// the entries without copying each override this.
    fn scan(&self, namespace: &str, scan: &Query, visit: &mut Visit<'_>) -> Result<usize, String> {
        match self.read(namespace, std::slice::from_ref(scan))?.pop() {
            Some(Answer::Scanned(entries)) => {
                entries.iter().for_each(|entry| visit(&entry.key, &entry.value, entry.version));
                Ok(entries.len())
            }
            _ => Err("the backend answered a scan with something else".into()),
        }
    }
    /// The entry under `key`, as a `read` of one [`Query::Get`] answers it (its `key` may be
    /// empty). Backends with a cheaper single-key read override this.
    fn get(&self, namespace: &str, key: &[u8]) -> Result<Option<Entry>, String> {
        match self.read(namespace, &[Query::Get(key.to_vec())])?.pop() {
            Some(Answer::Got(found)) => Ok(found),
            _ => Err("the backend answered a get with something else".into()),
        }
    }
    /// Applies `mutations` atomically if every condition holds.
    fn commit(
        &self,
        namespace: &str,
        conditions: &[Condition],
        mutations: &[Mutation<'_>],
    ) -> Result<CommitResult, String>;
}

/// What a process may do in a namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Nothing.
    None,
    /// Read only.
    ReadOnly,
    /// Read and write.
    ReadWrite,
}

/// The `zero:storage/identity` contract: the caller, its rights and the clock.
pub trait Identity {
    /// The caller's own namespace.
    fn own_namespace(&self) -> String;
    /// What the caller may do in a well-formed `namespace`.
    fn access(&self, namespace: &str) -> Access;
    /// The quota of `namespace` in bytes.
    fn quota_bytes(&self, namespace: &str) -> u64;
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> u64;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries() -> Vec<Entry> {
        vec![
            Entry { key: b"m/a".to_vec(), value: vec![1, 2, 3], version: 7 },
            Entry { key: b"m/b".to_vec(), value: Vec::new(), version: u64::MAX },
            Entry { key: Vec::new(), value: vec![0xff; 300], version: 1 },
        ]
    }

    #[test]
    fn packed_entries_round_trip() {
        let packed = pack_entries(&entries());
        assert_eq!(packed.len(), 3 * 16 + 3 + 3 + 3 + 300);
        assert_eq!(unpack_entries(&packed).unwrap(), entries());
        assert_eq!(unpack_entries(&[]).unwrap(), Vec::new());
    }

    #[test]
    fn a_packed_buffer_cut_anywhere_inside_an_entry_is_refused() {
        let packed = pack_entries(&entries());
        let boundaries = [0, 16 + 3 + 3, 2 * 16 + 3 + 3 + 3, packed.len()];
        for cut in 0..packed.len() {
            let unpacked = unpack_entries(&packed[..cut]);
            if boundaries.contains(&cut) {
                assert!(unpacked.is_ok(), "a cut at an entry boundary ({cut}) is a shorter answer");
            } else {
                let error = unpacked.expect_err(&format!("a cut at byte {cut} must be refused"));
                assert!(error.contains("truncated"), "{error}");
            }
        }
        // A length that runs past the end is refused, not read beyond the buffer.
        let mut lying = pack_entries(&entries()[..1]);
        lying[0] = 200;
        assert!(unpack_entries(&lying).is_err());
    }
}
