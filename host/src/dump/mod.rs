//! Backup and restore: [`export`] writes namespaces to a dump, [`import`] restores one.
//!
//! A dump is JSON Lines (DUMP.md has the exact format): a header, one record per live entry
//! (namespace, key, base64 value, absolute expiry) and a trailer with the counts and a SHA-256
//! of everything before it.
//!
//! - **Export** reads each namespace from one backend [`Snapshot`](crate::backend::Snapshot),
//!   a page at a time, so it sees no write half-done and its memory stays flat however large
//!   the namespace is. It decodes the records with the storage component's own layout rules
//!   and skips entries expired by the runtime's clock.
//! - **Import** checks the whole dump (format, version, checksum, limits, namespaces) and the
//!   store (empty namespaces, or a [`ImportMode`] that says what to do; quotas) before it
//!   writes anything. Then it writes through the storage component, as a system process, in
//!   atomic batches, so limits, quotas and usage are the component's.

mod export;
mod format;
mod import;
mod scan;

use std::fmt;

pub use export::{ExportOptions, ExportSummary, NamespaceExport, export};
pub use format::{FORMAT, VERSION};
pub use import::{
    DumpInfo, DumpNamespace, ImportMode, ImportOptions, ImportSummary, NamespaceAction, NamespaceImport, import,
    import_file, verify,
};

/// Why an export or import failed. Every message says what is wrong, where, and what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DumpError {
    /// Reading or writing the dump itself failed (the file, the pipe, the disk).
    #[error("cannot {context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The failure.
        #[source]
        source: std::io::Error,
    },
    /// The dump is not a well-formed version-1 dump: malformed, truncated, out of order, over a
    /// limit, or damaged (its checksum does not match). Nothing was written.
    #[error("line {line} of the dump: {reason}")]
    Invalid {
        /// The line (1-based) where the problem is.
        line: u64,
        /// What is wrong.
        reason: String,
    },
    /// The dump is in a format version this build does not read. Nothing was written.
    #[error(
        "the dump is in format version {found}, but this zero-storage reads version {VERSION} only: \
         import it with a zero-storage that reads version {found}"
    )]
    UnsupportedVersion {
        /// The version the dump's header names.
        found: u64,
    },
    /// A namespace in the dump already holds live entries, and no [`ImportMode`] says what to do
    /// with them. Nothing was written.
    #[error(
        "namespace `{namespace}` already holds data; import in replace mode to clear it first, or in merge \
         mode to keep its entries and let the dump's win"
    )]
    NotEmpty {
        /// The namespace.
        namespace: String,
    },
    /// After the import, a namespace would use more than its quota. Nothing was written.
    #[error(
        "namespace `{namespace}` would use {needed} bytes after the import (its records are lines {first_line} to \
         {last_line}), over its quota of {quota} bytes; raise its quota ([quotas.namespaces] in the configuration) \
         or import into it in replace mode"
    )]
    OverQuota {
        /// The namespace.
        namespace: String,
        /// Its usage after the import, in key and value bytes.
        needed: u64,
        /// Its quota.
        quota: u64,
        /// The first of its records' lines.
        first_line: u64,
        /// The last of its records' lines.
        last_line: u64,
    },
    /// The store failed or refused a read or a write. During an import, `written` entries
    /// were already written (an import is checked first, but not atomic as a whole): run it
    /// again in replace mode to start that namespace over. `namespace` is empty for a failure
    /// that concerns none in particular (listing them).
    #[error("{}", store_message(namespace, *written, source))]
    Store {
        /// The namespace being read or written.
        namespace: String,
        /// Entries of this import already written, in every namespace.
        written: u64,
        /// The failure.
        #[source]
        source: crate::Error,
    },
    /// A namespace's stored records do not fit together (a value missing for its directory
    /// record, or usage that disagrees with the entries): the store is damaged. Run
    /// `zero-storage sweep` and export again; if it persists, restore from an earlier dump.
    #[error("namespace `{namespace}` is inconsistent in the store: {reason}")]
    Corrupt {
        /// The namespace.
        namespace: String,
        /// What does not fit.
        reason: String,
    },
}

fn store_message(namespace: &str, written: u64, source: &crate::Error) -> String {
    if namespace.is_empty() {
        source.to_string()
    } else if written == 0 {
        format!("namespace `{namespace}`: {source}")
    } else {
        format!(
            "namespace `{namespace}`: {source} (after {written} entries of the import were written; the import is \
             not atomic as a whole: run it again in replace mode to start over)"
        )
    }
}

impl DumpError {
    fn io(context: &'static str) -> impl Fn(std::io::Error) -> DumpError {
        move |source| DumpError::Io { context: context.to_owned(), source }
    }
}

/// How far an export or import has come, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// What is being done.
    pub stage: Stage,
    /// Entries done in this stage.
    pub entries: u64,
    /// Bytes done in this stage (see [`Stage`] for which bytes).
    pub bytes: u64,
    /// Entries this stage will do, when known.
    pub total_entries: Option<u64>,
    /// Bytes this stage will do, when known.
    pub total_bytes: Option<u64>,
}

/// The stages of an export or import, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Export: entries written and dump bytes written. The entry total is an estimate taken
    /// from the usage records when the export starts (they count expired entries too).
    Exporting,
    /// Import, first pass: records checked and dump bytes read, of the dump's size.
    Checking,
    /// Import in replace mode: live entries removed from the namespaces being replaced.
    Clearing,
    /// Import, second pass: entries written and their key and value bytes, of those in the
    /// dump still live when the check began. Entries that expire meanwhile count as done.
    Writing,
}

/// Calls a progress callback, if there is one.
struct Reporter<'a>(Option<&'a mut dyn FnMut(&Progress)>);

impl Reporter<'_> {
    fn report(&mut self, progress: Progress) {
        if let Some(callback) = self.0.as_mut() {
            callback(&progress);
        }
    }
}

impl fmt::Debug for Reporter<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() { "Some(callback)" } else { "None" })
    }
}

/// `n` with its noun, singular or plural.
fn count(n: u64, singular: &str, plural: &str) -> String {
    format!("{n} {}", if n == 1 { singular } else { plural })
}
