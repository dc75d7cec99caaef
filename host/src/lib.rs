//! # Zero Storage host
//!
//! Runs the Zero Storage component under wasmtime and gives every *process* (an identity: name,
//! roles, optional user) its own storage instance over a shared backend: `fs` (durable, the
//! default for the CLI) or `memory`. It also runs app components whose `zero:storage/store`
//! imports are served by the storage component in the app's namespace, and ships the
//! `zero-storage` command-line tool.
//!
//! ```no_run
//! use zero_storage::{ProcessIdentity, RuntimeBuilder};
//!
//! # fn main() -> anyhow::Result<()> {
//! let runtime = RuntimeBuilder::new().fs(std::path::Path::new("zero-data"))?.build()?;
//! let mut notes = runtime.process(ProcessIdentity::new("notes")?)?;
//! notes.set("greeting", b"hello", 0)?;
//! assert_eq!(notes.get("greeting")?, b"hello");
//! println!("{:?}", notes.quota()?);
//! # Ok(())
//! # }
//! ```

mod app;
pub mod backend;
mod cache;
mod clock;
mod config;
mod error;
mod identity;
mod link;
mod process;
mod runtime;
mod store;

pub use app::{AppExit, AppInstance, AppShape, classify, compose, prepare};
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{AppLimits, Config, Quotas};
pub use error::{Error, Result};
pub use identity::ProcessIdentity;
pub use link::{STORAGE_COMPONENT, ZeroStorageCtx, ZeroStorageCtxBuilder, ZeroStorageView, add_to_linker};
pub use process::{Bucket, ListPage, Precondition, Process, QuotaInfo, Versioned, Write};
pub use runtime::{DEFAULT_MAX_INSTANCES, Runtime, RuntimeBuilder};
pub use zero_storage_component::Error as StorageError;
