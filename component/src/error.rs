//! The one error type of the storage logic; it maps one to one onto the WIT `error` variant.

use std::fmt;

/// Why a storage operation failed. A failed operation never changes stored data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The key does not exist, or its time to live has passed.
    NotFound,
    /// The write would take the namespace over its quota.
    QuotaExceeded,
    /// The key (or list prefix) is longer than [`crate::limits::MAX_KEY_BYTES`].
    KeyTooLong,
    /// The value is longer than [`crate::limits::MAX_VALUE_BYTES`].
    ValueTooLarge,
    /// An argument is malformed; the text says which and how to fix it.
    InvalidArgument(String),
    /// The caller may not use the namespace, or may only read it.
    PermissionDenied,
    /// The backend failed; the text is safe to show to applications.
    Backend(String),
    /// The transaction's precondition at this index did not hold; nothing was written.
    PreconditionFailed(u32),
}

/// The result type of the storage logic.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotFound => f.write_str("not found"),
            Error::QuotaExceeded => f.write_str("quota exceeded"),
            Error::KeyTooLong => f.write_str("key too long"),
            Error::ValueTooLarge => f.write_str("value too large"),
            Error::InvalidArgument(why) => write!(f, "invalid argument: {why}"),
            Error::PermissionDenied => f.write_str("permission denied"),
            Error::Backend(why) => write!(f, "backend error: {why}"),
            Error::PreconditionFailed(index) => write!(f, "precondition {index} failed"),
        }
    }
}

impl std::error::Error for Error {}
