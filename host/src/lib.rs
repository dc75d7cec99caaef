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

pub mod app;
pub mod backend;
mod bindings;
pub mod cache;
pub mod clock;
pub mod config;
pub mod error;
pub mod identity;
pub mod process;
pub mod runtime;

pub use app::{AppExit, AppInstance};
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::Config;
pub use error::{Error, Result};
pub use identity::ProcessIdentity;
pub use process::{ListPage, Precondition, Process, QuotaInfo, Versioned, Write};
pub use runtime::{Runtime, RuntimeBuilder};
pub use zero_storage_component::Error as StorageError;
