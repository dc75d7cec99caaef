//! Export: namespaces from backend snapshots into a dump.

use std::fmt;
use std::io::{BufWriter, Write};

use zero_storage_component::layout::Usage;
use zero_storage_component::namespace::check_namespace;

use super::format::{DumpWriter, FORMAT, Header, TrailerNamespace, VERSION};
use super::scan::{DirEntry, Directory};
use super::{DumpError, Progress, Reporter, Stage, count};
use crate::backend::{Answer, Backend, BackendError, Query};
use crate::clock::Clock;
use crate::runtime::Runtime;

/// What to export, and whom to tell how far it has come.
#[derive(Default)]
pub struct ExportOptions<'a> {
    /// The namespaces to export, in any order; empty means every namespace that holds data.
    /// A named namespace that holds nothing is exported with no entries.
    pub namespaces: Vec<String>,
    /// Called after each page of entries (up to 1,000) with how far the export has come.
    pub progress: Option<&'a mut dyn FnMut(&Progress)>,
}

/// What an export wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportSummary {
    /// Per namespace, in the dump's order.
    pub namespaces: Vec<NamespaceExport>,
    /// Entries written.
    pub entries: u64,
    /// Their key and value bytes.
    pub usage_bytes: u64,
    /// Entries left out because they had expired.
    pub expired: u64,
    /// The size of the dump.
    pub dump_bytes: u64,
}

/// What an export wrote of one namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NamespaceExport {
    /// The namespace.
    pub namespace: String,
    /// Entries written: every entry live when its snapshot was taken.
    pub entries: u64,
    /// Their key and value bytes.
    pub usage_bytes: u64,
    /// Entries left out because they had expired (stored, but not yet reclaimed).
    pub expired: u64,
    /// When the namespace's snapshot was taken, in ms since the Unix epoch.
    pub snapshot_at_ms: u64,
}

impl fmt::Display for ExportSummary {
    /// One line, e.g. `exported 3 entries (42 bytes) from 2 namespaces into a dump of 512 bytes`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "exported {} ({} of keys and values) from {} into a dump of {}",
            count(self.entries, "entry", "entries"),
            count(self.usage_bytes, "byte", "bytes"),
            count(self.namespaces.len() as u64, "namespace", "namespaces"),
            count(self.dump_bytes, "byte", "bytes")
        )?;
        if self.expired > 0 {
            write!(f, "; {} left out", count(self.expired, "expired entry", "expired entries"))?;
        }
        Ok(())
    }
}

/// Writes the namespaces `options` names (or all of them) to `out` as a dump (DUMP.md).
///
/// Each namespace is read from one snapshot of the runtime's backend
/// ([`Backend::snapshot`]), page by page, so the dump shows it exactly as it was at one
/// instant, while writers carry on, and memory stays flat however many entries it holds.
/// Entries expired at that instant (by the runtime's clock) are left out. Different
/// namespaces are snapshotted one after another, not at one instant. `out` is buffered here;
/// on an error the dump is incomplete (it has no trailer), and every import refuses it.
pub fn export(runtime: &Runtime, out: impl Write, options: ExportOptions<'_>) -> Result<ExportSummary, DumpError> {
    let backend = runtime.backend().as_ref();
    let clock = runtime.clock().as_ref();
    let namespaces = chosen(backend, options.namespaces)?;
    let mut reporter = Reporter(options.progress);
    let estimate = estimate(backend, &namespaces);
    let header = Header {
        format: FORMAT.to_owned(),
        version: VERSION,
        exported_at_ms: clock.now_ms(),
        generator: format!("zero-storage {}", env!("CARGO_PKG_VERSION")),
        namespaces: namespaces.clone(),
    };
    let mut writer = DumpWriter::new(BufWriter::with_capacity(1 << 20, out));
    writer.header(&header)?;
    let mut summary = ExportSummary::default();
    let mut trailer = Vec::with_capacity(namespaces.len());
    for namespace in &namespaces {
        let before = summary.entries;
        let done = export_namespace(backend, clock, namespace, &mut writer, |entries, bytes| {
            reporter.report(Progress {
                stage: Stage::Exporting,
                entries: before + entries,
                bytes,
                total_entries: estimate,
                total_bytes: None,
            })
        })?;
        summary.entries += done.entries;
        summary.usage_bytes += done.usage_bytes;
        summary.expired += done.expired;
        trailer.push(TrailerNamespace { ns: namespace.clone(), entries: done.entries, usage_bytes: done.usage_bytes });
        summary.namespaces.push(done);
    }
    summary.dump_bytes = writer.trailer(summary.entries, trailer)?;
    Ok(summary)
}

/// The namespaces to export: the ones asked for, checked, sorted and without repeats; or
/// every namespace the backend holds.
fn chosen(backend: &dyn Backend, asked: Vec<String>) -> Result<Vec<String>, DumpError> {
    let mut namespaces = if asked.is_empty() { backend.namespaces().map_err(store_error(""))? } else { asked };
    for namespace in &namespaces {
        check_namespace(namespace).map_err(|e| DumpError::Store {
            namespace: namespace.clone(),
            written: 0,
            source: crate::Error::Storage(e),
        })?;
    }
    namespaces.sort();
    namespaces.dedup();
    Ok(namespaces)
}

/// How many entries the namespaces store, from their usage records (which count expired
/// entries too), for a progress bar; none if a record cannot be read.
fn estimate(backend: &dyn Backend, namespaces: &[String]) -> Option<u64> {
    let mut total = 0;
    for namespace in namespaces {
        let answer = backend.read(namespace, &[Query::Get(zero_storage_component::layout::USAGE_KEY.to_vec())]).ok()?;
        if let Some(Answer::Got(Some(entry))) = answer.first() {
            total += Usage::decode(&entry.value).ok()?.keys;
        }
    }
    Some(total)
}

pub(super) fn store_error(namespace: &str) -> impl Fn(BackendError) -> DumpError + '_ {
    move |error| DumpError::Store { namespace: namespace.to_owned(), written: 0, source: crate::Error::Backend(error) }
}

/// Writes the live entries of `namespace` from one snapshot, and checks that they add up to
/// the namespace's usage record in the same snapshot.
fn export_namespace<W: Write>(
    backend: &dyn Backend,
    clock: &dyn Clock,
    namespace: &str,
    writer: &mut DumpWriter<W>,
    mut progress: impl FnMut(u64, u64),
) -> Result<NamespaceExport, DumpError> {
    let snapshot = backend.snapshot(namespace).map_err(store_error(namespace))?;
    // Taken after the snapshot: an entry live in the snapshot and expired by now is left out,
    // never one expired before the snapshot.
    let now = clock.now_ms();
    let mut directory = Directory::new(namespace, snapshot);
    let stored = directory.usage()?;
    let mut seen = Usage::default();
    let mut done = NamespaceExport { namespace: namespace.to_owned(), snapshot_at_ms: now, ..Default::default() };
    while let Some(page) = directory.next_page()? {
        for (key, meta) in &page {
            seen.bytes += key.len() as u64 + u64::from(meta.value_len);
            seen.keys += 1;
        }
        // Runs of consecutive live entries: each run's values are one range of value records.
        for run in page.split(|(_, meta)| meta.is_expired(now)) {
            let run: Vec<&DirEntry> = run.iter().collect();
            directory.values(&run, |(key, meta), value| {
                let key = std::str::from_utf8(key).map_err(|_| {
                    directory.corrupt(format!("the key {:?} is not UTF-8", String::from_utf8_lossy(key)))
                })?;
                writer.record(namespace, key, value, meta.expires_at_ms)?;
                done.entries += 1;
                done.usage_bytes += (key.len() + value.len()) as u64;
                Ok(())
            })?;
        }
        done.expired = seen.keys - done.entries;
        progress(done.entries, writer.bytes());
    }
    if seen != stored {
        return Err(directory.corrupt(format!(
            "its usage record counts {} entries of {} bytes, but its directory holds {} entries of {} bytes",
            stored.keys, stored.bytes, seen.keys, seen.bytes
        )));
    }
    Ok(done)
}
