//! The host's one error type.

use crate::backend::BackendError;

/// Why a call of the host's API failed. Every message says what went wrong and, where the
/// caller can do something about it, what to change.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The storage component refused or could not do the operation; nothing changed.
    #[error(transparent)]
    Storage(#[from] zero_storage_component::Error),
    /// The component trapped or the runtime failed (a bug, a deadline, or a resource limit).
    #[error("storage runtime failure: {0:#}")]
    Runtime(wasmtime::Error),
    /// The backend could not be opened or used outside a storage call.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// A name, an identity or a configuration is not valid; the message says what to change.
    #[error("{0}")]
    Invalid(String),
    /// An app component was refused before it ran: not a component, imports the host does not
    /// provide or only storage may use, or cannot be composed or compiled.
    #[error("{0}")]
    AppRefused(String),
    /// An app ran and was stopped: it passed its memory limit or its deadline, or trapped.
    #[error("{0}")]
    AppStopped(String),
}

impl Error {
    /// Whether this is the storage error `not-found`.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::Storage(zero_storage_component::Error::NotFound))
    }
}

/// The result type of the host's API.
pub type Result<T, E = Error> = std::result::Result<T, E>;
