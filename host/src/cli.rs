//! Command-line parsing and the commands of `zero-storage`.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use zero_storage::backend::FsBackend;
use zero_storage::{AppExit, Bucket, Config, Process, ProcessIdentity, Runtime, RuntimeBuilder, Service};
use zero_storage_component::limits::MAX_VALUE_BYTES;

/// Exit code for a missing key, so scripts can tell it from other failures.
const EXIT_NOT_FOUND: u8 = 3;

/// Persistent key-value storage for WebAssembly applications.
#[derive(Parser)]
#[command(name = "zero-storage", version, about)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

/// Options accepted before or after the subcommand.
#[derive(Args)]
struct Global {
    /// Data directory of the fs backend.
    #[arg(long, global = true, env = "ZERO_STORAGE_DATA", default_value = "zero-data")]
    data: PathBuf,
    /// How many seconds to wait for the data directory while another zero-storage process has
    /// it open (a `run` holds it until its app ends) before giving up; 0 = do not wait.
    #[arg(long, global = true, value_name = "SECS", env = "ZERO_STORAGE_LOCK_WAIT_SECS", default_value_t = 10)]
    lock_wait: u64,
    /// Where data lives: `fs` (durable, in --data), `memory` (gone when the command ends) or
    /// `etcd` (a cluster shared by many hosts, at --etcd-endpoints; needs the `etcd` feature).
    #[arg(long, global = true, value_enum, default_value_t = BackendKind::Fs)]
    backend: BackendKind,
    /// Client URLs of the etcd cluster, comma-separated.
    #[arg(long, global = true, env = "ZERO_STORAGE_ETCD_ENDPOINTS", default_value = "http://127.0.0.1:2379")]
    etcd_endpoints: String,
    /// The prefix of every etcd key Zero Storage writes.
    #[arg(long, global = true, env = "ZERO_STORAGE_ETCD_PREFIX", default_value = "zero/")]
    etcd_prefix: String,
    /// The etcd user, when the cluster has authentication enabled (password from
    /// ZERO_STORAGE_ETCD_PASSWORD).
    #[arg(long, global = true, env = "ZERO_STORAGE_ETCD_USER")]
    etcd_user: Option<String>,
    /// For `https://` endpoints: the CA certificate (PEM) that signed the etcd members'.
    #[arg(long, global = true, env = "ZERO_STORAGE_ETCD_CA")]
    etcd_ca: Option<PathBuf>,
    /// This client's certificate (PEM), for clusters that authenticate clients.
    #[arg(long, global = true, env = "ZERO_STORAGE_ETCD_CERT", requires = "etcd_key")]
    etcd_cert: Option<PathBuf>,
    /// This client's private key (PEM), with --etcd-cert.
    #[arg(long, global = true, env = "ZERO_STORAGE_ETCD_KEY", requires = "etcd_cert")]
    etcd_key: Option<PathBuf>,
    /// A TOML file with quotas and app limits (see README).
    #[arg(long, global = true, env = "ZERO_STORAGE_CONFIG")]
    config: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum BackendKind {
    Fs,
    Memory,
    Etcd,
}

/// The namespace an administrative command works on.
#[derive(Args)]
struct NamespaceArg {
    /// Namespace: `system`, `app:NAME` or `user:NAME`.
    #[arg(long = "ns", default_value = "system")]
    ns: String,
}

#[derive(Subcommand)]
enum Command {
    /// Store a value (from the argument, or from stdin when none is given).
    Set {
        /// The key (1 to 256 bytes of UTF-8).
        key: String,
        /// The value; read from stdin, byte for byte, when omitted.
        value: Option<String>,
        /// Expire the entry after this many seconds (0 = never).
        #[arg(long, default_value_t = 0)]
        ttl: u64,
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
    /// Write the storage component this host embeds, e.g. to compose apps with `wac plug`.
    Component {
        /// Where to write the component.
        #[arg(long, short)]
        output: PathBuf,
    },
    /// Compose an app with the storage component ahead of time (like `wac plug`).
    Compose {
        /// The app component (.wasm) that imports zero:storage/store.
        wasm: PathBuf,
        /// Where to write the composed component.
        #[arg(long, short)]
        output: PathBuf,
    },
    /// Run a wasi:cli app component with storage in its own namespace.
    Run {
        /// The app's name; its namespace is `app:NAME`.
        #[arg(long)]
        app: String,
        /// Run on behalf of this user, which also gives the app `user:USER`.
        #[arg(long)]
        user: Option<String>,
        /// Give the app a role (`system` makes it a system process).
        #[arg(long = "role")]
        roles: Vec<String>,
        /// The app component (.wasm): plain, or composed with storage by `wac plug`.
        wasm: PathBuf,
        /// Arguments passed to the app.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Serve the data to other processes on a Unix socket (the Storage Service, PROTOCOL.md)
    /// until SIGTERM or SIGINT.
    Serve {
        /// The socket to listen on [default: zero-storage.sock in the data directory].
        #[arg(long, value_name = "PATH")]
        socket: Option<PathBuf>,
    },
}

/// Parses the command line, runs the command and turns failures into one line on stderr.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("zero-storage: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn runtime(global: &Global) -> anyhow::Result<Runtime> {
    let config = match &global.config {
        Some(path) => Config::from_file(path)?,
        None => Config::default(),
    };
    // One command runs one or two processes: reserving a pool would cost more than it saves.
    let builder = RuntimeBuilder::new().config(config).instance_pool(None);
    let builder = match global.backend {
        // Wait for the lock: short commands run in parallel on one directory take turns.
        BackendKind::Fs => {
            builder.backend(Arc::new(FsBackend::open_waiting(&global.data, Duration::from_secs(global.lock_wait))?))
        }
        BackendKind::Memory => builder,
        BackendKind::Etcd => builder.backend(etcd_backend(global)?),
    };
    builder.build().context("cannot start the storage runtime")
}

#[cfg(feature = "etcd")]
fn etcd_backend(global: &Global) -> anyhow::Result<Arc<dyn zero_storage::backend::Backend>> {
    use zero_storage::backend::{EtcdBackend, EtcdOptions};
    let mut options = EtcdOptions::new(EtcdOptions::parse_endpoints(&global.etcd_endpoints));
    options.prefix = global.etcd_prefix.clone();
    if let Some(user) = &global.etcd_user {
        let password = std::env::var("ZERO_STORAGE_ETCD_PASSWORD")
            .context("--etcd-user needs the password in the environment variable ZERO_STORAGE_ETCD_PASSWORD")?;
        options.user = Some((user.clone(), password));
    }
    let read = |path: &PathBuf| std::fs::read(path).with_context(|| format!("cannot read {}", path.display()));
    if let Some(ca) = &global.etcd_ca {
        let client_pem = match (&global.etcd_cert, &global.etcd_key) {
            (Some(cert), Some(key)) => Some((read(cert)?, read(key)?)),
            _ => None,
        };
        options.tls = Some(zero_storage::backend::EtcdTls { ca_pem: read(ca)?, client_pem });
    } else if global.etcd_cert.is_some() {
        bail!("--etcd-cert needs --etcd-ca, the CA that signed the etcd members' certificates");
    }
    Ok(Arc::new(EtcdBackend::connect(options)?))
}

#[cfg(not(feature = "etcd"))]
fn etcd_backend(_: &Global) -> anyhow::Result<Arc<dyn zero_storage::backend::Backend>> {
    bail!(
        "this zero-storage was built without the etcd backend: build it with \
         `cargo build --release -p zero-storage --features etcd` (needs protoc: apt-get install protobuf-compiler)"
    )
}

/// The administrator: a system process, which may use every namespace.
fn admin(runtime: &Runtime) -> anyhow::Result<Process> {
    Ok(runtime.process(ProcessIdentity::system("zero-storage-cli")?)?)
}

/// `namespace`, opened by `process`.
fn open<'p>(process: &'p mut Process, namespace: &str) -> anyhow::Result<Bucket<'p>> {
    process.bucket(namespace).with_context(|| format!("namespace `{namespace}`"))
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    // These two need no data directory.
    match &cli.command {
        Command::Component { output } => {
            write_file(output, zero_storage::STORAGE_COMPONENT)?;
            return Ok(ExitCode::SUCCESS);
        }
        Command::Compose { wasm, output } => {
            let app = std::fs::read(wasm).with_context(|| format!("cannot read {}", wasm.display()))?;
            write_file(output, &zero_storage::compose(&app)?)?;
            return Ok(ExitCode::SUCCESS);
        }
        _ => {}
    }
    let runtime = runtime(&cli.global)?;
    match cli.command {
        Command::Component { .. } | Command::Compose { .. } => unreachable!("handled above"),
        Command::Set { key, value, ttl, ns } => {
            let value = match value {
                Some(value) => value.into_bytes(),
                None => read_stdin_value()?,
            };
            open(&mut admin(&runtime)?, &ns.ns)?.set(&key, &value, ttl).with_context(|| format!("set `{key}`"))?;
        }
        Command::Get { key, ns } => {
            let value = match open(&mut admin(&runtime)?, &ns.ns)?.get(&key) {
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
        Command::Delete { key, ns } => {
            let existed =
                open(&mut admin(&runtime)?, &ns.ns)?.delete(&key).with_context(|| format!("delete `{key}`"))?;
            println!("{}", if existed { "deleted" } else { "not found" });
        }
        Command::List { prefix, limit, cursor, all, json, ns } => {
            list(&runtime, &ns.ns, &prefix, limit, cursor, all, json)?
        }
        Command::Quota { json, ns } => {
            let info = open(&mut admin(&runtime)?, &ns.ns)?.quota()?;
            print_usage(&[info], json);
        }
        Command::Usage { json } => {
            let mut rows = Vec::new();
            let mut names = runtime.backend().namespaces()?;
            if !names.iter().any(|name| name == "system") {
                names.insert(0, "system".to_owned());
            }
            let mut process = admin(&runtime)?;
            for name in names {
                rows.push(open(&mut process, &name)?.quota()?);
            }
            print_usage(&rows, json);
        }
        Command::Sweep => {
            let mut process = admin(&runtime)?;
            let mut total = 0;
            for name in runtime.backend().namespaces()? {
                total += process.sweep(&name)?;
            }
            println!("reclaimed {total} expired entries");
        }
        Command::Run { app, user, roles, wasm, args } => {
            let mut identity = ProcessIdentity::new(&app)?;
            for role in &roles {
                identity = identity.with_role(role);
            }
            if let Some(user) = &user {
                identity = identity.with_user(user)?;
            }
            let bytes = std::fs::read(&wasm).with_context(|| format!("cannot read {}", wasm.display()))?;
            let mut argv = vec![wasm.file_name().map_or_else(|| app.clone(), |n| n.to_string_lossy().into_owned())];
            argv.extend(args);
            let AppExit::Exited(code) = runtime.run_app(identity, &bytes, &argv)?;
            return Ok(ExitCode::from(code.clamp(0, 255) as u8));
        }
        Command::Serve { socket } => {
            let socket = match socket {
                Some(socket) => socket,
                None => {
                    // The memory and etcd backends do not create the data directory.
                    std::fs::create_dir_all(&cli.global.data)
                        .with_context(|| format!("cannot create {}", cli.global.data.display()))?;
                    cli.global.data.join(zero_storage::DEFAULT_SOCKET_NAME)
                }
            };
            let service = Service::bind(runtime, &socket)?;
            println!("zero-storage: listening on {}", service.path().display());
            service.run()?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn write_file(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}

/// Reads a value from stdin, byte for byte, stopping one byte past the limit so an oversized
/// value gets the storage's `value-too-large` error without reading all of it.
fn read_stdin_value() -> anyhow::Result<Vec<u8>> {
    let mut value = Vec::new();
    std::io::stdin().lock().take(MAX_VALUE_BYTES as u64 + 1).read_to_end(&mut value).context("cannot read stdin")?;
    Ok(value)
}

fn list(
    runtime: &Runtime,
    namespace: &str,
    prefix: &str,
    limit: u32,
    mut cursor: Option<String>,
    all: bool,
    json: bool,
) -> anyhow::Result<()> {
    if limit == 0 || limit > 1000 {
        bail!("--limit must be between 1 and 1000");
    }
    let mut process = admin(runtime)?;
    let mut bucket = open(&mut process, namespace)?;
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

fn print_usage(rows: &[zero_storage::QuotaInfo], json: bool) {
    if json {
        let rows: Vec<_> = rows
            .iter()
            .map(|row| {
                serde_json::json!({
                    "namespace": row.namespace,
                    "used_bytes": row.used_bytes,
                    "quota_bytes": row.quota_bytes,
                    "key_count": row.key_count,
                })
            })
            .collect();
        println!("{}", serde_json::Value::Array(rows));
        return;
    }
    println!("{:<24} {:>12} {:>12} {:>7} {:>8}", "NAMESPACE", "USED", "QUOTA", "% USED", "KEYS");
    for row in rows {
        let percent = if row.quota_bytes == 0 { 100.0 } else { row.used_bytes as f64 * 100.0 / row.quota_bytes as f64 };
        println!(
            "{:<24} {:>12} {:>12} {:>6.1}% {:>8}",
            row.namespace,
            human(row.used_bytes),
            human(row.quota_bytes),
            percent,
            row.key_count
        );
    }
}

/// Bytes in binary units, e.g. `1.5 MiB`.
fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}
