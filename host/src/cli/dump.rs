//! `export` and `import`: dumps (DUMP.md) written and read by `zero_storage::dump`, either on
//! the backend opened here or by the running Storage Service on its own runtime, with the same
//! summary line and the same errors either way.
//!
//! Through a service, a dump travels as a file on this machine: the service creates the
//! export's file itself (exclusively) and reads the import's, so the CLI hands it absolute
//! paths. Standard output and standard input go through a temporary file (`TMPDIR`, else
//! `/tmp`) that the CLI removes when it is done. Only the backend opened here reports progress:
//! a service answers the one request when it is done.
//!
//! Paths are made absolute before anything else, so that every message names a file the same
//! way on both sides.

use std::fs::{File, OpenOptions};
use std::io::{self, IsTerminal, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow, bail};
use zero_storage::Runtime;
use zero_storage::dump::{self, DumpError, ExportOptions, ImportMode, ImportOptions, Progress};
use zero_storage::protocol::{self as wire, DumpFileError};

use super::progress::ProgressLine;
use super::target::{Service, Target, TargetError};

/// How much of standard input is copied to the spool file at a time.
const SPOOL_CHUNK: usize = 1 << 20;

/// Writes a dump of `namespaces` (empty: every namespace that holds data) to `output`, a file
/// that must not exist yet, or to stdout; prints the summary on stderr.
pub(super) fn export(target: &mut Target, namespaces: Vec<String>, output: Option<&Path>) -> anyhow::Result<()> {
    let output = output.map(absolute).transpose()?;
    match &output {
        Some(path) if std::fs::symlink_metadata(path).is_ok() => bail!(
            "{} already exists; export never overwrites a file: remove it first, or choose another -o",
            path.display()
        ),
        None if io::stdout().is_terminal() => {
            bail!("standard output is a terminal; write the dump to a file with -o FILE, or redirect it (> FILE)")
        }
        _ => {}
    }
    let summary = match target {
        Target::Local { runtime, .. } => export_here(runtime, namespaces, output.as_deref())?,
        Target::Service(service) => export_there(service, &namespaces, output.as_deref())?,
    };
    eprintln!("{summary}");
    Ok(())
}

/// Restores the dump in `file` (`None` or `-`: stdin) in `mode`, or with `dry_run` only checks
/// it; prints the summary on stderr.
pub(super) fn import(target: &mut Target, file: Option<&Path>, mode: ImportMode, dry_run: bool) -> anyhow::Result<()> {
    let file = file.filter(|file| *file != Path::new("-")).map(absolute).transpose()?;
    if file.is_none() && io::stdin().is_terminal() {
        bail!("standard input is a terminal; give the dump as FILE, or redirect it (< FILE)");
    }
    let summary = match target {
        Target::Local { runtime, .. } => import_here(runtime, file.as_deref(), mode, dry_run)?,
        Target::Service(service) => import_there(service, file.as_deref(), mode, dry_run)?,
    };
    eprintln!("{summary}");
    Ok(())
}

fn export_here(
    runtime: &Runtime,
    namespaces: Vec<String>,
    output: Option<&Path>,
) -> anyhow::Result<dump::ExportSummary> {
    let Some(path) = output else {
        return with_progress(|progress| {
            dump::export(runtime, io::stdout().lock(), ExportOptions { namespaces, progress })
        });
    };
    let mut file = create_dump(path)?;
    let outcome = with_progress(|progress| dump::export(runtime, &mut file, ExportOptions { namespaces, progress }))
        .and_then(|summary| {
            file.sync_all().map_err(|e| anyhow!("cannot sync the dump {}: {e}", path.display()))?;
            Ok(summary)
        });
    if outcome.is_err() {
        drop(file);
        // Created above by this command: an incomplete dump (no trailer) helps no one.
        let _ = std::fs::remove_file(path);
    }
    outcome
}

fn export_there(
    service: &mut Service,
    namespaces: &[String],
    output: Option<&Path>,
) -> anyhow::Result<dump::ExportSummary> {
    if let Some(path) = output {
        return Ok(export_summary(service.export_file(path, namespaces).map_err(service_error)?));
    }
    // A fresh directory that only this user can enter: the service creates the file in it.
    let dir = tempfile::Builder::new()
        .prefix("zero-storage-export-")
        .tempdir()
        .context("cannot create a temporary directory for the dump; set TMPDIR to a writable directory")?;
    let path = dir.path().join("dump.jsonl");
    let summary = service.export_file(&path, namespaces).map_err(service_error)?;
    let mut file = File::open(&path).with_context(|| format!("cannot open the dump {}", path.display()))?;
    let mut stdout = io::stdout().lock();
    // The same words as the library's, for the same failure (a closed pipe) without a service.
    io::copy(&mut file, &mut stdout).and_then(|_| stdout.flush()).map_err(|e| anyhow!("cannot write the dump: {e}"))?;
    Ok(export_summary(summary))
}

fn import_here(
    runtime: &Runtime,
    file: Option<&Path>,
    mode: ImportMode,
    dry_run: bool,
) -> anyhow::Result<dump::ImportSummary> {
    match file {
        Some(path) => {
            with_progress(|progress| dump::import_file(runtime, path, ImportOptions { mode, dry_run, progress }))
        }
        None => {
            // Unnamed: it vanishes with this process, however it ends.
            let mut spool = tempfile::tempfile().map_err(spool_error)?;
            spool_stdin(&mut spool)?;
            with_progress(|progress| dump::import(runtime, spool, ImportOptions { mode, dry_run, progress }))
        }
    }
}

fn import_there(
    service: &mut Service,
    file: Option<&Path>,
    mode: ImportMode,
    dry_run: bool,
) -> anyhow::Result<dump::ImportSummary> {
    let mode = match mode {
        ImportMode::OnlyEmpty => wire::ImportMode::OnlyEmpty,
        ImportMode::Replace => wire::ImportMode::Replace,
        ImportMode::Merge => wire::ImportMode::Merge,
    };
    let summary = match file {
        Some(path) => service.import_file(path, mode, dry_run),
        None => {
            // Named, for the service to open (mode 0600: the service runs as this user or root);
            // removed when dropped.
            let mut spool = tempfile::Builder::new()
                .prefix("zero-storage-import-")
                .suffix(".jsonl")
                .tempfile()
                .map_err(spool_error)?;
            spool_stdin(spool.as_file_mut())?;
            service.import_file(spool.path(), mode, dry_run)
        }
    };
    Ok(import_summary(summary.map_err(service_error)?))
}

/// `path`, absolute, as the service must be given it.
fn absolute(path: &Path) -> anyhow::Result<PathBuf> {
    std::path::absolute(path).with_context(|| format!("cannot make {} an absolute path", path.display()))
}

/// Creates the dump file at `path` exclusively, as the service does: never over a file or
/// through a link, and mode 0600, since a dump holds every namespace's data.
fn create_dump(path: &Path) -> anyhow::Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| anyhow!("cannot create the dump {}: {e}", path.display()))
}

/// Copies stdin to `spool` a chunk at a time: an import reads its dump twice, and stdin only
/// once.
fn spool_stdin(spool: &mut File) -> anyhow::Result<()> {
    let mut stdin = io::stdin().lock();
    let mut chunk = vec![0; SPOOL_CHUNK];
    loop {
        let read = match stdin.read(&mut chunk) {
            Ok(0) => break,
            Ok(read) => read,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => bail!("cannot read the dump from standard input: {e}"),
        };
        spool.write_all(&chunk[..read]).map_err(spool_error)?;
    }
    spool.flush().map_err(spool_error)?;
    Ok(())
}

fn spool_error(error: io::Error) -> anyhow::Error {
    anyhow!(
        "cannot copy standard input to a temporary file in {}: {error}; set TMPDIR to a directory with room for \
         the dump, or give the dump as FILE",
        std::env::temp_dir().display()
    )
}

/// Runs an export or import with a progress line on stderr while it is a terminal.
fn with_progress<T>(run: impl FnOnce(Option<&mut dyn FnMut(&Progress)>) -> Result<T, DumpError>) -> anyhow::Result<T> {
    let mut line = ProgressLine::on_terminal();
    let outcome = match line.as_mut() {
        Some(line) => run(Some(&mut |progress: &Progress| line.update(progress))),
        None => run(None),
    };
    if let Some(line) = line {
        line.clear();
    }
    outcome.map_err(dump_error)
}

/// The library's error as the CLI reports it. Its message is whole (it already ends with its
/// cause), so it goes on as text, with no chain of sources to repeat it.
fn dump_error(error: DumpError) -> anyhow::Error {
    match error {
        DumpError::NotEmpty { namespace } => not_empty(&namespace),
        other => anyhow!("{other}"),
    }
}

/// A service's refusal or failure, worded as [`dump_error`] words the same one here.
fn service_error(error: TargetError) -> anyhow::Error {
    match error {
        TargetError::Dump(DumpFileError::NotEmpty(namespace)) => not_empty(&namespace),
        other => other.into(),
    }
}

/// The library says "replace mode" and "merge mode"; on the command line they are flags.
fn not_empty(namespace: &str) -> anyhow::Error {
    anyhow!(
        "namespace `{namespace}` already holds data; nothing was imported: add --replace to remove its entries \
         first, or --merge to keep them and let the dump's win"
    )
}

/// A service's export summary, in the library's type, so that it prints the same.
fn export_summary(summary: wire::ExportSummary) -> dump::ExportSummary {
    let wire::ExportSummary { namespaces, entries, usage_bytes, expired, dump_bytes } = summary;
    let namespaces = namespaces
        .into_iter()
        .map(|ns| dump::NamespaceExport {
            namespace: ns.namespace,
            entries: ns.entries,
            usage_bytes: ns.usage_bytes,
            expired: ns.expired,
            snapshot_at_ms: ns.snapshot_at_ms,
        })
        .collect();
    dump::ExportSummary { namespaces, entries, usage_bytes, expired, dump_bytes }
}

/// A service's import summary, in the library's type, so that it prints the same.
fn import_summary(summary: wire::ImportSummary) -> dump::ImportSummary {
    let wire::ImportSummary { namespaces, entries, usage_bytes, expired, mode, dry_run } = summary;
    let namespaces = namespaces
        .into_iter()
        .map(|ns| dump::NamespaceImport {
            namespace: ns.namespace,
            entries: ns.entries,
            usage_bytes: ns.usage_bytes,
            expired: ns.expired,
            action: match ns.action {
                wire::NamespaceAction::Filled => dump::NamespaceAction::Filled,
                wire::NamespaceAction::Replaced { removed } => dump::NamespaceAction::Replaced { removed },
                wire::NamespaceAction::Merged { existing, overwritten } => {
                    dump::NamespaceAction::Merged { existing, overwritten }
                }
            },
        })
        .collect();
    let mode = match mode {
        wire::ImportMode::OnlyEmpty => ImportMode::OnlyEmpty,
        wire::ImportMode::Replace => ImportMode::Replace,
        wire::ImportMode::Merge => ImportMode::Merge,
    };
    dump::ImportSummary { namespaces, entries, usage_bytes, expired, mode, dry_run }
}
