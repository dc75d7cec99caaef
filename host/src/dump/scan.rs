//! Reading a namespace's entries from a backend snapshot, decoded by the storage component's
//! own layout rules (`zero_storage_component::layout`), a page at a time.

use std::collections::VecDeque;

use zero_storage_component::layout::{self, Meta, USAGE_KEY, Usage};

use super::DumpError;
use crate::backend::{Answer, BackendError, Query, Snapshot};

/// Directory records read per backend call: small (at most 256 + 14 bytes each), so a page is
/// at most about 270 KiB.
const PAGE_KEYS: u32 = 1000;
/// The most value bytes fetched per backend call (plus one value, if a single one is larger).
const READ_VALUE_BYTES: u64 = 4 << 20;

/// One entry's directory record: its key and [`Meta`].
pub(crate) type DirEntry = (Vec<u8>, Meta);

/// A namespace's directory records in ascending key order, read page by page from one
/// snapshot.
pub(crate) struct Directory<'b> {
    namespace: String,
    snapshot: Box<dyn Snapshot + 'b>,
    page: VecDeque<DirEntry>,
    after: Option<Vec<u8>>,
    exhausted: bool,
}

impl<'b> Directory<'b> {
    /// Walks the directory of `namespace` as `snapshot` sees it.
    pub fn new(namespace: &str, snapshot: Box<dyn Snapshot + 'b>) -> Self {
        Directory { namespace: namespace.to_owned(), snapshot, page: VecDeque::new(), after: None, exhausted: false }
    }

    /// The namespace's usage record as the snapshot sees it (zero if it has none).
    pub fn usage(&self) -> Result<Usage, DumpError> {
        match self.read(&[Query::Get(USAGE_KEY.to_vec())])?.pop() {
            Some(Answer::Got(Some(entry))) => Usage::decode(&entry.value).map_err(|e| self.corrupt(e)),
            Some(Answer::Got(None)) => Ok(Usage::default()),
            _ => Err(self.corrupt("the backend answered a get with something else")),
        }
    }

    /// The next page of directory records, or none after the last.
    pub fn next_page(&mut self) -> Result<Option<Vec<DirEntry>>, DumpError> {
        if self.page.is_empty() {
            self.fill()?;
        }
        Ok((!self.page.is_empty()).then(|| self.page.drain(..).collect()))
    }

    /// The next directory record, without taking it.
    pub fn peek(&mut self) -> Result<Option<&DirEntry>, DumpError> {
        if self.page.is_empty() {
            self.fill()?;
        }
        Ok(self.page.front())
    }

    /// Takes the next directory record.
    pub fn pop(&mut self) -> Result<Option<DirEntry>, DumpError> {
        self.peek()?;
        Ok(self.page.pop_front())
    }

    fn fill(&mut self) -> Result<(), DumpError> {
        if self.exhausted {
            return Ok(());
        }
        let (start, end) = layout::meta_range(b"", self.after.as_deref());
        let query = Query::Scan { start, end, limit: PAGE_KEYS, keys_only: false };
        let Some(Answer::Scanned(entries)) = self.read(&[query])?.pop() else {
            return Err(self.corrupt("the backend answered a scan with something else"));
        };
        self.exhausted = entries.len() < PAGE_KEYS as usize;
        for entry in entries {
            let key = layout::key_of_meta(&entry.key).map_err(|e| self.corrupt(e))?.to_vec();
            let meta = Meta::decode(&entry.value).map_err(|e| self.corrupt(e))?;
            self.page.push_back((key, meta));
        }
        self.after = self.page.back().map(|(key, _)| key.clone());
        Ok(())
    }

    /// The values of `entries` (consecutive directory records, in order), fetched in as few
    /// backend calls as the value budget allows; `each` sees every entry with its value.
    pub fn values(
        &self,
        entries: &[&DirEntry],
        mut each: impl FnMut(&DirEntry, &[u8]) -> Result<(), DumpError>,
    ) -> Result<(), DumpError> {
        let mut start = 0;
        while start < entries.len() {
            // At least one entry per call, however large its value.
            let mut end = start + 1;
            let mut bytes = u64::from(entries[start].1.value_len);
            while end < entries.len() && bytes + u64::from(entries[end].1.value_len) <= READ_VALUE_BYTES {
                bytes += u64::from(entries[end].1.value_len);
                end += 1;
            }
            let batch = &entries[start..end];
            let (first, last) = (&batch[0].0, &batch[batch.len() - 1].0);
            let (from, to) = layout::data_range(first, last);
            let query = Query::Scan { start: from, end: to, limit: batch.len() as u32, keys_only: false };
            let Some(Answer::Scanned(values)) = self.read(&[query])?.pop() else {
                return Err(self.corrupt("the backend answered a scan with something else"));
            };
            if values.len() != batch.len() {
                return Err(self.corrupt(format!(
                    "{} directory records from `{}` to `{}` have {} values",
                    batch.len(),
                    String::from_utf8_lossy(first),
                    String::from_utf8_lossy(last),
                    values.len()
                )));
            }
            for (entry, value) in batch.iter().zip(values) {
                let key = layout::key_of_data(&value.key).map_err(|e| self.corrupt(e))?;
                if key != entry.0.as_slice() || value.value.len() != entry.1.value_len as usize {
                    return Err(self.corrupt(format!(
                        "the value of `{}` does not match its directory record",
                        String::from_utf8_lossy(&entry.0)
                    )));
                }
                each(entry, &value.value)?;
            }
            start = end;
        }
        Ok(())
    }

    fn read(&self, queries: &[Query]) -> Result<Vec<Answer>, DumpError> {
        self.snapshot.read(queries).map_err(|BackendError(message)| DumpError::Store {
            namespace: self.namespace.clone(),
            written: 0,
            source: crate::Error::Backend(BackendError(message)),
        })
    }

    /// The error for records of this namespace that do not fit together.
    pub fn corrupt(&self, reason: impl std::fmt::Display) -> DumpError {
        DumpError::Corrupt { namespace: self.namespace.clone(), reason: reason.to_string() }
    }
}
