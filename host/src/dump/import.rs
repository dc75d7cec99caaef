//! Import: a dump checked whole, then written through the storage component.

use std::fmt;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use zero_storage_component::layout::{self, Meta};
use zero_storage_component::limits::{MAX_BATCH_KEYS, MAX_PAGE_SIZE};

use super::export::store_error;
use super::format::{Event, Placement, RecordRef, read_dump, read_namespace};
use super::scan::Directory;
use super::{DumpError, Progress, Reporter, Stage, count};
use crate::backend::{Answer, Backend, Query};
use crate::clock::Clock;
use crate::identity::ProcessIdentity;
use crate::process::{Bucket, Write};
use crate::runtime::Runtime;

/// The most bytes one write batch may carry, counting each entry as its value, five times its
/// key (the records and conditions it names) and 64 bytes: so that every batch fits in one
/// request of every backend (etcd accepts 1.5 MiB by default). A single entry always goes,
/// however large.
const BATCH_BYTES: u64 = 1 << 20;
/// How large a read buffer each pass over the dump uses.
const READ_BUFFER: usize = 1 << 20;

/// What to do with a namespace of the dump that already holds live entries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ImportMode {
    /// Refuse the whole import, naming the namespace (the default): only namespaces without
    /// live entries are filled.
    #[default]
    OnlyEmpty,
    /// Remove every entry of the namespace first, then write the dump's.
    Replace,
    /// Keep the namespace's entries and write the dump's over them: where both hold a key, the
    /// dump's value and expiry win.
    Merge,
}

/// How to import, and whom to tell how far it has come.
#[derive(Default)]
pub struct ImportOptions<'a> {
    /// What to do with namespaces that already hold data.
    pub mode: ImportMode,
    /// Check the dump and the store and report what the import would do, but write nothing.
    pub dry_run: bool,
    /// Called as the import goes (every 1,024 records checked, every batch written).
    pub progress: Option<&'a mut dyn FnMut(&Progress)>,
}

/// What became of a namespace that the dump holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NamespaceAction {
    /// It held no live entries; now it holds the dump's.
    Filled,
    /// Its `removed` live entries were removed first (replace mode).
    Replaced {
        /// Live entries removed.
        removed: u64,
    },
    /// The dump's entries were written over its `existing` live entries (merge mode), of which
    /// `overwritten` had a key the dump also holds.
    Merged {
        /// Live entries it held before.
        existing: u64,
        /// Of those, the ones the dump replaced.
        overwritten: u64,
    },
}

/// What an import did (or, in a dry run, would do) in one namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespaceImport {
    /// The namespace.
    pub namespace: String,
    /// Entries written.
    pub entries: u64,
    /// Their key and value bytes.
    pub usage_bytes: u64,
    /// Entries of the dump not written because they had expired.
    pub expired: u64,
    /// What happened to what the namespace held.
    pub action: NamespaceAction,
}

/// What an import did, or in a dry run would do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportSummary {
    /// Per namespace, in the dump's order.
    pub namespaces: Vec<NamespaceImport>,
    /// Entries written.
    pub entries: u64,
    /// Their key and value bytes.
    pub usage_bytes: u64,
    /// Entries of the dump not written because they had expired.
    pub expired: u64,
    /// The mode the import ran in.
    pub mode: ImportMode,
    /// Whether nothing was written (a dry run).
    pub dry_run: bool,
}

impl fmt::Display for ImportSummary {
    /// One line, e.g. `imported 3 entries (42 bytes) into 2 namespaces: app:a (replaced 5), user:b (new)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} ({}) into {}",
            if self.dry_run { "would import" } else { "imported" },
            count(self.entries, "entry", "entries"),
            count(self.usage_bytes, "byte", "bytes"),
            count(self.namespaces.len() as u64, "namespace", "namespaces"),
        )?;
        for (index, ns) in self.namespaces.iter().enumerate() {
            let action = match ns.action {
                NamespaceAction::Filled => "new".to_owned(),
                NamespaceAction::Replaced { removed } => format!("replaced {removed}"),
                NamespaceAction::Merged { existing, overwritten } => {
                    format!("merged into {existing}, {overwritten} overwritten")
                }
            };
            write!(f, "{} {} ({action})", if index == 0 { ":" } else { "," }, ns.namespace)?;
        }
        if self.expired > 0 {
            write!(f, "; {} skipped", count(self.expired, "expired entry", "expired entries"))?;
        }
        Ok(())
    }
}

/// What a dump holds, as [`verify`] found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpInfo {
    /// The format version.
    pub version: u64,
    /// When the export started, in ms since the Unix epoch.
    pub exported_at_ms: u64,
    /// What wrote it, e.g. `zero-storage 0.1.0`.
    pub generator: String,
    /// Per namespace, in the dump's order.
    pub namespaces: Vec<DumpNamespace>,
    /// Records.
    pub entries: u64,
    /// The dump's size.
    pub bytes: u64,
}

/// One namespace of a dump.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpNamespace {
    /// The namespace.
    pub namespace: String,
    /// Its records.
    pub entries: u64,
    /// Their key and value bytes.
    pub usage_bytes: u64,
}

/// Checks the dump in `source` on its own (format, version, order, limits, counts and
/// checksum) without a store, and says what it holds.
pub fn verify(source: impl Read) -> Result<DumpInfo, DumpError> {
    let checked = read_dump(BufReader::with_capacity(READ_BUFFER, source), |_| Ok(()), |_, _| {})?;
    Ok(DumpInfo {
        version: checked.header.version,
        exported_at_ms: checked.header.exported_at_ms,
        generator: checked.header.generator,
        namespaces: checked
            .trailer
            .namespaces
            .into_iter()
            .map(|ns| DumpNamespace { namespace: ns.ns, entries: ns.entries, usage_bytes: ns.usage_bytes })
            .collect(),
        entries: checked.trailer.entries,
        bytes: checked.size,
    })
}

/// [`import`] from the dump file at `path`.
pub fn import_file(runtime: &Runtime, path: &Path, options: ImportOptions<'_>) -> Result<ImportSummary, DumpError> {
    let file = File::open(path)
        .map_err(|source| DumpError::Io { context: format!("open the dump {}", path.display()), source })?;
    import(runtime, file, options)
}

/// Restores the dump in `source` into the runtime's store.
///
/// First it reads the whole dump and checks it (as [`verify`] does) and the store: every
/// namespace of the dump must be empty unless `options.mode` says to replace or merge it,
/// and must fit its quota afterwards. Anything wrong refuses the import with an error that
/// says what and where, and nothing is written. Then it reads the dump again and writes each
/// namespace's entries through the storage component as a system process, in atomic batches
/// of at most 1,000 entries and about 1 MiB; each entry keeps its absolute expiry (its
/// remaining time to live is rounded up to whole seconds), and entries expired by then are
/// skipped. In merge mode the entries that do not raise usage are written before those that
/// do, so usage never passes the larger of its value before and after the import.
///
/// The import as a whole is not atomic: a failure while writing (the backend, or a writer
/// that filled a quota meanwhile) leaves the batches already written, and the error says how
/// many. `source` must not change between the two passes.
pub fn import(
    runtime: &Runtime,
    mut source: impl Read + Seek,
    options: ImportOptions<'_>,
) -> Result<ImportSummary, DumpError> {
    let mut reporter = Reporter(options.progress);
    let size = source.seek(SeekFrom::End(0)).map_err(DumpError::io("read the dump"))?;
    source.seek(SeekFrom::Start(0)).map_err(DumpError::io("read the dump"))?;
    let backend = runtime.backend().as_ref();
    let now = runtime.clock().now_ms();
    let (namespaces, plans) = {
        let reader = BufReader::with_capacity(READ_BUFFER, &mut source);
        check(runtime, backend, reader, size, options.mode, now, &mut reporter)?
    };
    let mut summary = ImportSummary {
        namespaces: Vec::with_capacity(plans.len()),
        entries: 0,
        usage_bytes: 0,
        expired: 0,
        mode: options.mode,
        dry_run: options.dry_run,
    };
    if options.dry_run {
        for plan in plans {
            summary.entries += plan.live_entries;
            summary.usage_bytes += plan.live_usage;
            summary.expired += plan.expired;
            summary.namespaces.push(NamespaceImport {
                namespace: plan.namespace,
                entries: plan.live_entries,
                usage_bytes: plan.live_usage,
                expired: plan.expired,
                action: plan.action,
            });
        }
        return Ok(summary);
    }
    let mut writer = Writer {
        backend,
        clock: runtime.clock().as_ref(),
        written: 0,
        written_bytes: 0,
        skipped: 0,
        total_entries: plans.iter().map(|plan| plan.live_entries).sum(),
        total_bytes: plans.iter().map(|plan| plan.live_usage).sum(),
        reporter,
    };
    let mut process = runtime
        .process(ProcessIdentity::system("import").map_err(|e| writer.failed("system", e))?)
        .map_err(|e| writer.failed("system", e))?;
    for (index, plan) in plans.iter().enumerate() {
        let done = writer.namespace(&mut process, &mut source, &namespaces, index, plan, options.mode)?;
        summary.entries += done.entries;
        summary.usage_bytes += done.usage_bytes;
        summary.expired += done.expired;
        summary.namespaces.push(done);
    }
    Ok(summary)
}

/// What the check found for one namespace, and what the writing will do.
struct Plan {
    namespace: String,
    placement: Placement,
    /// The dump's records live at the check, and their key and value bytes.
    live_entries: u64,
    live_usage: u64,
    /// The dump's records expired at the check.
    expired: u64,
    /// Live entries the namespace holds, and their bytes.
    existing_entries: u64,
    existing_usage: u64,
    /// Of those, the ones the dump's live records replace, and their bytes.
    overlap_entries: u64,
    overlap_usage: u64,
    /// Whether some live record of the dump is new to the namespace or larger than the entry it
    /// replaces (so that writing it raises usage).
    grows: bool,
    action: NamespaceAction,
}

impl Plan {
    fn new(namespace: &str) -> Self {
        Plan {
            namespace: namespace.to_owned(),
            placement: Placement::default(),
            live_entries: 0,
            live_usage: 0,
            expired: 0,
            existing_entries: 0,
            existing_usage: 0,
            overlap_entries: 0,
            overlap_usage: 0,
            grows: false,
            action: NamespaceAction::Filled,
        }
    }

    /// Counts one of the namespace's directory records.
    fn existing(&mut self, key: &[u8], meta: &Meta, now: u64) -> Option<u64> {
        if meta.is_expired(now) {
            return None;
        }
        let size = key.len() as u64 + u64::from(meta.value_len);
        self.existing_entries += 1;
        self.existing_usage += size;
        Some(size)
    }

    /// Counts every directory record still ahead in `directory`, up to (not including) `key`,
    /// or to the end.
    fn existing_until(&mut self, directory: &mut Directory<'_>, key: Option<&[u8]>, now: u64) -> Result<(), DumpError> {
        while let Some((next, _)) = directory.peek()? {
            if key.is_some_and(|key| next.as_slice() >= key) {
                break;
            }
            if let Some((next, meta)) = directory.pop()? {
                self.existing(&next, &meta, now);
            }
        }
        Ok(())
    }
}

/// The first pass: reads the dump, checks it, and walks each namespace's directory beside its
/// records (both are in key order) to learn what the namespace holds, which of its entries the
/// dump overwrites, and its usage afterwards.
fn check(
    runtime: &Runtime,
    backend: &dyn Backend,
    reader: impl std::io::BufRead,
    size: u64,
    mode: ImportMode,
    now: u64,
    reporter: &mut Reporter<'_>,
) -> Result<(Vec<String>, Vec<Plan>), DumpError> {
    let mut plans: Vec<Plan> = Vec::new();
    let mut joined: Vec<bool> = Vec::new();
    let mut join: Option<(usize, Directory<'_>)> = None;
    let open = |namespace: &str| -> Result<Directory<'_>, DumpError> {
        Ok(Directory::new(namespace, backend.snapshot(namespace).map_err(store_error(namespace))?))
    };
    let checked = read_dump(
        reader,
        |event| match event {
            Event::Header(header) => {
                plans = header.namespaces.iter().map(|ns| Plan::new(ns)).collect();
                joined = vec![false; plans.len()];
                if mode == ImportMode::OnlyEmpty {
                    // Before the long read, so that the common mistake is reported at once.
                    for namespace in &header.namespaces {
                        if holds_data(&mut open(namespace)?, now)? {
                            return Err(DumpError::NotEmpty { namespace: namespace.clone() });
                        }
                    }
                }
                Ok(())
            }
            Event::Record(record) => {
                if join.as_ref().map(|(index, _)| *index) != Some(record.ns_index) {
                    if let Some((index, mut directory)) = join.take() {
                        plans[index].existing_until(&mut directory, None, now)?;
                    }
                    join = Some((record.ns_index, open(&plans[record.ns_index].namespace)?));
                    joined[record.ns_index] = true;
                }
                let Some((_, directory)) = join.as_mut() else { unreachable!("joined just above") };
                let plan = &mut plans[record.ns_index];
                let key = record.key.as_bytes();
                plan.existing_until(directory, Some(key), now)?;
                let replaced = match directory.peek()? {
                    Some((next, _)) if next.as_slice() == key => {
                        directory.pop()?.and_then(|(next, meta)| plan.existing(&next, &meta, now))
                    }
                    _ => None,
                };
                let size = (key.len() + record.value.len()) as u64;
                if is_expired(&record, now) {
                    plan.expired += 1;
                } else {
                    plan.live_entries += 1;
                    plan.live_usage += size;
                    if let Some(old) = replaced {
                        plan.overlap_entries += 1;
                        plan.overlap_usage += old;
                    }
                    plan.grows |= replaced.is_none_or(|old| size > old);
                }
                Ok(())
            }
        },
        |entries, bytes| {
            reporter.report(Progress {
                stage: Stage::Checking,
                entries,
                bytes,
                total_entries: None,
                total_bytes: Some(size),
            })
        },
    )?;
    if let Some((index, mut directory)) = join.take() {
        plans[index].existing_until(&mut directory, None, now)?;
    }
    for (index, plan) in plans.iter_mut().enumerate() {
        plan.placement = checked.placements[index].clone();
        if !joined[index] {
            plan.existing_until(&mut open(&plan.namespace)?, None, now)?;
        }
        let after = match mode {
            ImportMode::OnlyEmpty if plan.existing_entries > 0 => {
                // Written to while the dump was being checked.
                return Err(DumpError::NotEmpty { namespace: plan.namespace.clone() });
            }
            ImportMode::OnlyEmpty | ImportMode::Replace => plan.live_usage,
            ImportMode::Merge => plan.existing_usage - plan.overlap_usage + plan.live_usage,
        };
        let grows = match mode {
            ImportMode::Merge => plan.grows,
            _ => plan.live_entries > 0,
        };
        let quota = runtime.config().quotas.quota_bytes(&plan.namespace);
        if grows && after > quota {
            return Err(DumpError::OverQuota {
                namespace: plan.namespace.clone(),
                needed: after,
                quota,
                first_line: plan.placement.lines.0,
                last_line: plan.placement.lines.1,
            });
        }
        plan.action = match mode {
            _ if plan.existing_entries == 0 => NamespaceAction::Filled,
            ImportMode::Replace => NamespaceAction::Replaced { removed: plan.existing_entries },
            _ => NamespaceAction::Merged { existing: plan.existing_entries, overwritten: plan.overlap_entries },
        };
    }
    Ok((checked.header.namespaces, plans))
}

/// Whether the namespace holds a live entry.
fn holds_data(directory: &mut Directory<'_>, now: u64) -> Result<bool, DumpError> {
    while let Some((_, meta)) = directory.pop()? {
        if !meta.is_expired(now) {
            return Ok(true);
        }
    }
    Ok(false)
}

fn is_expired(record: &RecordRef<'_>, now: u64) -> bool {
    record.expires_at_ms.is_some_and(|at| at <= now)
}

/// Which of a namespace's records one pass of the writing writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sweep {
    /// Every live record.
    All,
    /// The records that replace a live entry at least as large: writing them never raises usage.
    NotGrowing,
    /// The others.
    Growing,
}

/// One record waiting in a batch.
struct Pending {
    key: String,
    value: Vec<u8>,
    expires_at_ms: Option<u64>,
}

/// The second pass: writes through the storage component, counting as it goes.
struct Writer<'a, 'p> {
    backend: &'a dyn Backend,
    clock: &'a dyn Clock,
    /// Entries written, and their key and value bytes, in every namespace so far.
    written: u64,
    written_bytes: u64,
    /// Records skipped because they had expired by the time they were written.
    skipped: u64,
    total_entries: u64,
    total_bytes: u64,
    reporter: Reporter<'p>,
}

impl Writer<'_, '_> {
    fn failed(&self, namespace: &str, source: crate::Error) -> DumpError {
        DumpError::Store { namespace: namespace.to_owned(), written: self.written, source }
    }

    fn report(&mut self, stage: Stage, entries: u64) {
        let (bytes, total_entries, total_bytes) = match stage {
            Stage::Writing => (self.written_bytes, Some(self.total_entries), Some(self.total_bytes)),
            _ => (0, None, None),
        };
        self.reporter.report(Progress { stage, entries, bytes, total_entries, total_bytes });
    }

    /// Writes the namespace at `index`: clears it first in replace mode, then writes its
    /// records in one sweep, or in merge mode into a namespace that holds data, in two.
    fn namespace(
        &mut self,
        process: &mut crate::Process,
        source: &mut (impl Read + Seek),
        namespaces: &[String],
        index: usize,
        plan: &Plan,
        mode: ImportMode,
    ) -> Result<NamespaceImport, DumpError> {
        let namespace = plan.namespace.as_str();
        let mut action = plan.action;
        if mode == ImportMode::Replace {
            process.sweep(namespace).map_err(|e| self.failed(namespace, e))?;
            let removed =
                self.clear(&mut process.bucket(namespace).map_err(|e| self.failed(namespace, e))?, namespace)?;
            action = if removed == 0 { NamespaceAction::Filled } else { NamespaceAction::Replaced { removed } };
        }
        let (written, bytes, skipped) = (self.written, self.written_bytes, self.skipped);
        let sweeps: &[Sweep] = match action {
            NamespaceAction::Merged { .. } => &[Sweep::NotGrowing, Sweep::Growing],
            _ => &[Sweep::All],
        };
        let mut bucket = process.bucket(namespace).map_err(|e| self.failed(namespace, e))?;
        for &sweep in sweeps {
            if plan.placement.entries == 0 {
                break;
            }
            source.seek(SeekFrom::Start(plan.placement.offset)).map_err(DumpError::io("read the dump"))?;
            let reader = BufReader::with_capacity(READ_BUFFER, &mut *source);
            let mut batch: Vec<Pending> = Vec::new();
            let mut batch_bytes = 0;
            read_namespace(reader, namespaces, index, &plan.placement, |record| {
                let cost = record.value.len() as u64 + 5 * record.key.len() as u64 + 64;
                if !batch.is_empty() && (batch.len() >= MAX_BATCH_KEYS || batch_bytes + cost > BATCH_BYTES) {
                    self.flush(&mut bucket, namespace, &mut batch, sweep)?;
                    batch_bytes = 0;
                }
                batch_bytes += cost;
                batch.push(Pending {
                    key: record.key.to_owned(),
                    value: record.value.to_vec(),
                    expires_at_ms: record.expires_at_ms,
                });
                Ok(())
            })?;
            self.flush(&mut bucket, namespace, &mut batch, sweep)?;
        }
        Ok(NamespaceImport {
            namespace: namespace.to_owned(),
            entries: self.written - written,
            usage_bytes: self.written_bytes - bytes,
            expired: self.skipped - skipped,
            action,
        })
    }

    /// Removes every live entry of the namespace; returns how many there were.
    fn clear(&mut self, bucket: &mut Bucket<'_>, namespace: &str) -> Result<u64, DumpError> {
        let mut removed = 0;
        let mut cursor: Option<String> = None;
        loop {
            let page = bucket.list("", MAX_PAGE_SIZE, cursor.as_deref()).map_err(|e| self.failed(namespace, e))?;
            if !page.keys.is_empty() {
                removed += bucket.delete_many(&page.keys).map_err(|e| self.failed(namespace, e))?;
                self.report(Stage::Clearing, removed);
            }
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => return Ok(removed),
            }
        }
    }

    /// Writes the records of `batch` that `sweep` takes, in one transaction, with the time to
    /// live left until each one's expiry; skips those expired by now.
    fn flush(
        &mut self,
        bucket: &mut Bucket<'_>,
        namespace: &str,
        batch: &mut Vec<Pending>,
        sweep: Sweep,
    ) -> Result<(), DumpError> {
        if batch.is_empty() {
            return Ok(());
        }
        let now = self.clock.now_ms();
        let sizes = match sweep {
            Sweep::All => None,
            _ => Some(self.live_sizes(namespace, batch, now)?),
        };
        let mut writes = Vec::with_capacity(batch.len());
        let mut bytes = 0;
        for (index, pending) in batch.drain(..).enumerate() {
            let size = (pending.key.len() + pending.value.len()) as u64;
            if let Some(sizes) = &sizes {
                let not_growing = sizes[index].is_some_and(|old| size <= old);
                if not_growing != (sweep == Sweep::NotGrowing) {
                    continue;
                }
            }
            let ttl_secs = match pending.expires_at_ms {
                None => 0,
                Some(at) if at <= now => {
                    // Counted once, in the last sweep.
                    if sweep != Sweep::NotGrowing {
                        self.skipped += 1;
                    }
                    continue;
                }
                // Whole seconds, rounded up: never 0 (which would mean "never expires"). An
                // expiry within an hour of the end of u64 time is brought that much closer, so
                // the component can add the time to live to its clock.
                Some(at) => (at - now).div_ceil(1000).min(((u64::MAX - now) / 1000).saturating_sub(3600)),
            };
            bytes += size;
            writes.push(Write::Set { key: pending.key, value: pending.value, ttl_secs });
        }
        if !writes.is_empty() {
            bucket.transact(&[], &writes).map_err(|e| self.failed(namespace, e))?;
            self.written += writes.len() as u64;
            self.written_bytes += bytes;
        }
        self.report(Stage::Writing, self.written + self.skipped);
        Ok(())
    }

    /// The key and value bytes of the live entry under each key of `batch`, or none.
    fn live_sizes(&self, namespace: &str, batch: &[Pending], now: u64) -> Result<Vec<Option<u64>>, DumpError> {
        let queries: Vec<Query> =
            batch.iter().map(|pending| Query::Get(layout::meta_key(pending.key.as_bytes()))).collect();
        let answers = self.backend.read(namespace, &queries).map_err(|e| self.failed(namespace, e.into()))?;
        batch
            .iter()
            .zip(answers)
            .map(|(pending, answer)| match answer {
                Answer::Got(None) => Ok(None),
                Answer::Got(Some(entry)) => {
                    let meta = Meta::decode(&entry.value)
                        .map_err(|e| DumpError::Corrupt { namespace: namespace.to_owned(), reason: e.to_string() })?;
                    Ok((!meta.is_expired(now)).then(|| pending.key.len() as u64 + u64::from(meta.value_len)))
                }
                Answer::Scanned(_) => Err(DumpError::Corrupt {
                    namespace: namespace.to_owned(),
                    reason: "the backend answered a get with a scan".into(),
                }),
            })
            .collect()
    }
}
