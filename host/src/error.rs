//! The error type of the host's process API.

/// Why a call through a [`crate::Process`] failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The storage component refused or could not do the operation; nothing changed.
    #[error(transparent)]
    Storage(#[from] zero_storage_component::Error),
    /// The component trapped or the runtime failed (a bug, a deadline, or a resource limit).
    #[error("storage runtime failure: {0:#}")]
    Runtime(wasmtime::Error),
}

impl Error {
    /// Whether this is the storage error `not-found`.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::Storage(zero_storage_component::Error::NotFound))
    }
}

/// The result type of the host's process API.
pub type Result<T, E = Error> = std::result::Result<T, E>;
