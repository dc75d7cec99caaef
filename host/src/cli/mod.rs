//! Command-line parsing and dispatch for `zero-storage`.
//!
//! - `commands`: the storage commands, written once over a `Target`.
//! - `dump`: `export` and `import`, with the dump library here or by the service.
//! - `progress`: their progress line on a terminal.
//! - `target`: where they go, a running Storage Service or the backend opened here.
//! - `local`: opening the backend here (also for `run` and `serve`).
//! - `output`: the quota table.

mod commands;
mod dump;
mod local;
mod output;
mod progress;
mod target;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};
use zero_storage::{AppExit, ProcessIdentity, Service};

use commands::StorageCommand;
use target::Target;

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
    /// A TOML file with quotas and app limits (see README). Through a Storage Service, the
    /// service's own configuration applies instead.
    #[arg(long, global = true, env = "ZERO_STORAGE_CONFIG")]
    config: Option<PathBuf>,
    /// Send the storage commands to the Storage Service on this socket, and fail if it does not
    /// answer. Without it, they go to a service answering on zero-storage.sock in --data (fs
    /// backend only), else to the backend opened here.
    #[arg(long, global = true, value_name = "SOCKET", env = "ZERO_STORAGE_CONNECT")]
    connect: Option<PathBuf>,
}

/// The backends the CLI can open itself.
#[derive(Clone, Copy, ValueEnum)]
enum BackendKind {
    Fs,
    Memory,
    Etcd,
}

/// Every command of the CLI.
#[derive(Subcommand)]
enum Command {
    /// The storage commands, which go through a Storage Service when one runs.
    #[command(flatten)]
    Storage(StorageCommand),
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

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Storage(command) => {
            command.check()?;
            command.run(&mut Target::choose(&cli.global)?)
        }
        // These two need no data directory.
        Command::Component { output } => {
            write_file(&output, zero_storage::STORAGE_COMPONENT)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Compose { wasm, output } => {
            let app = std::fs::read(&wasm).with_context(|| format!("cannot read {}", wasm.display()))?;
            write_file(&output, &zero_storage::compose(&app)?)?;
            Ok(ExitCode::SUCCESS)
        }
        // The app runs in this process, on the backend opened here.
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
            // With a running service the app runs here and its storage calls go to the service
            // (the connection probed is dropped: the runner opens its own, as the app).
            let AppExit::Exited(code) = match target::service(&cli.global)? {
                Some((socket, _probe)) => zero_storage::run_app_connected(
                    &socket,
                    identity,
                    &bytes,
                    &argv,
                    &local::config(&cli.global)?.apps,
                )?,
                None => local::runtime(&cli.global)?.run_app(identity, &bytes, &argv)?,
            };
            Ok(ExitCode::from(code.clamp(0, 255) as u8))
        }
        Command::Serve { socket } => {
            let runtime = local::runtime(&cli.global)?;
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
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn write_file(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}
