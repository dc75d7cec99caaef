//! # Zero Storage host
//!
//! Runs the Zero Storage component under wasmtime and gives every *process* (an identity: name,
//! roles, optional user) its own storage instance over a shared backend: `fs` (durable, the
//! default for the CLI), `memory`, or `etcd` (feature `etcd`). It also runs app components
//! whose `zero:storage/store` or `wasi:keyvalue` imports are served by the storage component in
//! the app's namespaces, and ships the `zero-storage` command-line tool.
//!
//! Ways in:
//! - [`Runtime`]: the whole host (engine, compile cache, instance pool, limits and deadlines).
//!   Each [`Process`] is one storage instance; [`Runtime::run_app`] runs an app.
//! - [`Service`]: the Storage Service, a runtime served on a Unix socket to other processes
//!   (`zero-storage serve`), which talk to it with [`protocol::ServiceClient`] or any client written
//!   from `PROTOCOL.md`.
//! - [`run_app_connected`] and [`ConnectedRunner`]: run an app in this process while a
//!   [`Service`] owns the data; the host serves the app's storage imports by forwarding each call
//!   to the service, as the app.
//! - [`add_to_linker`]: for a wasmtime host with its own store type, the host side of the
//!   storage component's imports as a [`ZeroStorageCtx`] and a [`ZeroStorageView`], the way
//!   wasmtime's own host crates are added (see `examples/wasmtime-host`).
//! - [`dump`]: backup and restore of namespaces (`export`, `import`, `verify`) in the format of
//!   `DUMP.md`, from one backend snapshot per namespace.
//!
//! ```
//! use zero_storage::{ProcessIdentity, RuntimeBuilder};
//!
//! # fn main() -> zero_storage::Result<()> {
//! // The memory backend; `.fs(dir)` keeps the data in a directory instead.
//! let runtime = RuntimeBuilder::new().build()?;
//! let mut notes = runtime.process(ProcessIdentity::new("notes")?.with_user("alice")?)?;
//! notes.set("greeting", b"hello", 0)?; // in app:notes
//! assert_eq!(notes.get("greeting")?, b"hello");
//! notes.bucket("user:alice")?.set("theme", b"dark", 0)?;
//! assert!(notes.bucket("app:billing").is_err()); // another app's namespace
//! assert_eq!(notes.quota()?.key_count, 1);
//! # Ok(())
//! # }
//! ```

mod app;
pub mod backend;
mod cache;
mod clock;
mod config;
pub mod dump;
mod error;
mod forward;
mod identity;
mod link;
mod process;
mod runtime;
mod service;
mod store;

pub use app::{AppExit, AppInstance, AppShape, classify, compose, prepare};
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{AppLimits, Config, Grant, Quotas, ServiceConfig};
pub use error::{Error, Result};
pub use identity::ProcessIdentity;
pub use link::{STORAGE_COMPONENT, ZeroStorageCtx, ZeroStorageCtxBuilder, ZeroStorageView, add_to_linker};
pub use process::{Bucket, ListPage, Precondition, Process, QuotaInfo, Versioned, Write};
pub use runtime::{ConnectedRunner, DEFAULT_MAX_INSTANCES, Runtime, RuntimeBuilder, engine_config, run_app_connected};
pub use service::{DEFAULT_SOCKET_NAME, FRAME_TIMEOUT, MAX_CONNECTIONS, Service, WRITE_TIMEOUT};
pub use zero_storage_component::Error as StorageError;
/// The Storage Service's wire protocol (`PROTOCOL.md`), with its blocking client
/// (`protocol::ServiceClient`).
pub use zero_storage_protocol as protocol;
