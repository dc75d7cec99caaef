//! The storage commands (`set`, `get`, `delete`, `list`, `quota`, `usage`, `sweep`, and
//! `export` and `import`, whose work is in `dump.rs`), written once over a [`Target`], so that
//! they print the same and exit the same whether the backend is opened here or a Storage Service
//! answers.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{ArgGroup, Args, Subcommand};
use zero_storage::dump::ImportMode;
use zero_storage::protocol::MAX_EXPORT_NAMESPACES;
use zero_storage_component::limits::{MAX_PAGE_SIZE, MAX_VALUE_BYTES};

use super::dump;
use super::output::print_usage;
use super::target::{Target, TargetBucket};

/// Exit code for a missing key, so scripts can tell it from other failures.
const EXIT_NOT_FOUND: u8 = 3;

/// The namespace a storage command works on.
#[derive(Args)]
pub(super) struct NamespaceArg {
    /// Namespace: `system`, `app:NAME` or `user:NAME`.
    #[arg(long = "ns", default_value = "system")]
    ns: String,
}

/// The commands that read or write storage, as the system process `zero-storage-cli`.
#[derive(Subcommand)]
pub(super) enum StorageCommand {
    /// Store a value (from the argument, or from stdin when none is given).
    Set {
        /// The key (1 to 256 bytes of UTF-8).
        key: String,
        /// The value; read from stdin, byte for byte, when omitted.
        value: Option<String>,
        /// Expire the entry after this many seconds (0 = never; at most 4294967295, about 136
        /// years, the most the Storage Service's protocol carries).
        #[arg(long, default_value_t = 0)]
        ttl: u32,
        #[command(flatten)]
        ns: NamespaceArg,
    },
    /// Print a value to stdout exactly as stored (exit code 3 if missing).
    Get {
        /// The key.
        key: String,
        #[command(flatten)]
        ns: NamespaceArg,
    },
    /// Delete a key (prints whether it existed).
    Delete {
        /// The key.
        key: String,
        #[command(flatten)]
        ns: NamespaceArg,
    },
    /// List keys in ascending byte order, a page at a time.
    List {
        /// Only keys that start with this.
        #[arg(long, default_value = "")]
        prefix: String,
        /// Page size (1 to 1000).
        #[arg(long, default_value_t = 100)]
        limit: u32,
        /// Resume after the page that printed this cursor.
        #[arg(long)]
        cursor: Option<String>,
        /// Follow the cursors and list every key.
        #[arg(long)]
        all: bool,
        /// Print JSON: `{"keys": [...], "next_cursor": ...}`.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        ns: NamespaceArg,
    },
    /// Show one namespace's usage and quota.
    Quota {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        ns: NamespaceArg,
    },
    /// Show every namespace's usage: namespace, used, quota, % used.
    Usage {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Reclaim the space of expired entries in every namespace.
    Sweep,
    /// Write a dump (DUMP.md) of namespaces to stdout or a new file, each namespace from one
    /// snapshot; a summary goes to stderr.
    #[command(group(ArgGroup::new("which").required(true).args(["namespaces", "all"])))]
    Export {
        /// A namespace to export (repeat for more, at most 1000); one that holds nothing is
        /// exported with no entries.
        #[arg(long = "ns", value_name = "NS")]
        namespaces: Vec<String>,
        /// Export every namespace that holds data.
        #[arg(long)]
        all: bool,
        /// Write the dump to this new file (mode 0600) instead of stdout; an existing file is
        /// never overwritten.
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Load a dump, checked whole before anything is written; a summary goes to stderr.
    Import {
        /// The dump; `-` or none reads stdin.
        file: Option<PathBuf>,
        /// Remove the entries of the dump's namespaces that hold data before writing the dump's.
        #[arg(long, conflicts_with = "merge")]
        replace: bool,
        /// Keep the entries of the dump's namespaces that hold data; where both hold a key, the
        /// dump's value and expiry win.
        #[arg(long)]
        merge: bool,
        /// Check the dump and the store and print what the import would do, writing nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

impl StorageCommand {
    /// Refuses arguments no target would accept, before a target is chosen (and, locally, before
    /// the data directory's lock is waited for).
    pub(super) fn check(&self) -> anyhow::Result<()> {
        if let StorageCommand::List { limit, .. } = self
            && (*limit == 0 || *limit > MAX_PAGE_SIZE)
        {
            bail!("--limit must be between 1 and {MAX_PAGE_SIZE}");
        }
        // The most one request to a service carries; the same bound without one, so that the
        // command behaves the same either way.
        if let StorageCommand::Export { namespaces, .. } = self
            && namespaces.len() > MAX_EXPORT_NAMESPACES
        {
            bail!("export takes --ns at most {MAX_EXPORT_NAMESPACES} times; use --all to export every namespace");
        }
        Ok(())
    }

    /// Runs the command on `target`.
    pub(super) fn run(self, target: &mut Target) -> anyhow::Result<ExitCode> {
        match self {
            StorageCommand::Set { key, value, ttl, ns } => {
                let value = match value {
                    Some(value) => value.into_bytes(),
                    None => read_stdin_value()?,
                };
                open(target, &ns.ns)?.set(&key, &value, ttl).with_context(|| format!("set `{key}`"))?;
            }
            StorageCommand::Get { key, ns } => {
                let value = match open(target, &ns.ns)?.get(&key) {
                    Ok(value) => value,
                    Err(error) if error.is_not_found() => {
                        eprintln!("zero-storage: get `{key}`: {error}");
                        return Ok(ExitCode::from(EXIT_NOT_FOUND));
                    }
                    Err(error) => return Err(anyhow::Error::new(error).context(format!("get `{key}`"))),
                };
                let mut stdout = std::io::stdout().lock();
                stdout.write_all(&value)?;
                stdout.flush()?;
            }
            StorageCommand::Delete { key, ns } => {
                let existed = open(target, &ns.ns)?.delete(&key).with_context(|| format!("delete `{key}`"))?;
                println!("{}", if existed { "deleted" } else { "not found" });
            }
            StorageCommand::List { prefix, limit, cursor, all, json, ns } => {
                list(&mut open(target, &ns.ns)?, &prefix, limit, cursor, all, json)?
            }
            StorageCommand::Quota { json, ns } => {
                let info = open(target, &ns.ns)?.quota()?;
                print_usage(&[info], json);
            }
            StorageCommand::Usage { json } => {
                let mut names = target.namespaces()?;
                if !names.iter().any(|name| name == "system") {
                    names.insert(0, "system".to_owned());
                }
                let mut rows = Vec::new();
                for name in names {
                    rows.push(open(target, &name)?.quota()?);
                }
                print_usage(&rows, json);
            }
            StorageCommand::Sweep => {
                let mut total = 0;
                for name in target.namespaces()? {
                    total += target.sweep(&name)?;
                }
                println!("reclaimed {total} expired entries");
            }
            // `--all` is the library's empty list: every namespace that holds data.
            StorageCommand::Export { namespaces, all: _, output } => {
                dump::export(target, namespaces, output.as_deref())?
            }
            StorageCommand::Import { file, replace, merge, dry_run } => {
                let mode = match (replace, merge) {
                    (true, _) => ImportMode::Replace,
                    (_, true) => ImportMode::Merge,
                    _ => ImportMode::OnlyEmpty,
                };
                dump::import(target, file.as_deref(), mode, dry_run)?
            }
        }
        Ok(ExitCode::SUCCESS)
    }
}

/// `namespace`, opened on `target`.
fn open<'t>(target: &'t mut Target, namespace: &str) -> anyhow::Result<TargetBucket<'t>> {
    target.open(namespace).with_context(|| format!("namespace `{namespace}`"))
}

/// Reads a value from stdin, byte for byte, stopping one byte past the limit so an oversized
/// value gets the storage's `value-too-large` error without reading all of it.
fn read_stdin_value() -> anyhow::Result<Vec<u8>> {
    let mut value = Vec::new();
    std::io::stdin().lock().take(MAX_VALUE_BYTES as u64 + 1).read_to_end(&mut value).context("cannot read stdin")?;
    Ok(value)
}

/// Prints one page of keys (or, with `all`, every page), one key per line or as JSON; the
/// cursor of the next page goes to stderr.
fn list(
    bucket: &mut TargetBucket<'_>,
    prefix: &str,
    limit: u32,
    mut cursor: Option<String>,
    all: bool,
    json: bool,
) -> anyhow::Result<()> {
    let mut keys = Vec::new();
    let mut stdout = std::io::stdout().lock();
    loop {
        let page = bucket.list(prefix, limit, cursor.as_deref())?;
        cursor = page.next_cursor;
        if json {
            keys.extend(page.keys);
        } else {
            for key in page.keys {
                writeln!(stdout, "{key}")?;
            }
        }
        if !all || cursor.is_none() {
            break;
        }
    }
    if json {
        let out = serde_json::json!({ "keys": keys, "next_cursor": cursor });
        writeln!(stdout, "{out}")?;
    } else if let Some(cursor) = &cursor {
        eprintln!("more keys follow: --cursor {cursor}");
    }
    Ok(())
}
