//! Namespace names: `system`, `app:NAME` and `user:NAME`.
//!
//! Names are checked strictly so that a namespace name can never be confused with another one or
//! with a key: NAME is 1 to [`MAX_NAME_BYTES`] characters from `a-z A-Z 0-9 . _ -`, not starting
//! with `.`. In particular NAME never contains `:`, so `app:a` + key `b:c` and a would-be
//! `app:a:b` + key `c` cannot both exist. (Backends also keep namespaces apart structurally.)

use crate::error::{Error, Result};

/// The namespace of system processes.
pub const SYSTEM: &str = "system";
/// The prefix of application namespaces.
pub const APP_PREFIX: &str = "app:";
/// The prefix of user namespaces.
pub const USER_PREFIX: &str = "user:";
/// The longest NAME in `app:NAME` or `user:NAME`.
pub const MAX_NAME_BYTES: usize = 64;

/// Checks that `name` is a valid app or user NAME (the part after `app:` or `user:`).
pub fn check_name(name: &str) -> Result<()> {
    let valid_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if name.is_empty() || name.len() > MAX_NAME_BYTES || name.starts_with('.') || !name.chars().all(valid_char) {
        return Err(Error::InvalidArgument(format!(
            "`{}` is not a valid name: use 1 to {MAX_NAME_BYTES} characters from a-z A-Z 0-9 . _ - (not starting with .)",
            name.escape_debug()
        )));
    }
    Ok(())
}

/// Checks that `namespace` is a well-formed namespace name.
pub fn check_namespace(namespace: &str) -> Result<()> {
    if namespace == SYSTEM {
        return Ok(());
    }
    match namespace.strip_prefix(APP_PREFIX).or_else(|| namespace.strip_prefix(USER_PREFIX)) {
        Some(name) => check_name(name),
        None => Err(Error::InvalidArgument(format!(
            "`{}` is not a namespace: use `system`, `app:NAME` or `user:NAME`",
            namespace.escape_debug()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_formed_namespaces_are_accepted() {
        for ns in ["system", "app:notes", "user:alice", "app:a.b_c-9", &format!("app:{}", "x".repeat(64))] {
            assert_eq!(check_namespace(ns), Ok(()), "{ns}");
        }
    }

    #[test]
    fn ambiguous_or_malformed_namespaces_are_rejected() {
        for ns in [
            "",
            "app:",
            "user:",
            "app:a:b",
            "app:../x",
            "app:.hidden",
            "app:a/b",
            "app:a b",
            "app:\0",
            "System",
            "apps:x",
            "app",
            &format!("app:{}", "x".repeat(65)),
            "app:é",
        ] {
            assert!(matches!(check_namespace(ns), Err(Error::InvalidArgument(_))), "{ns:?}");
        }
    }
}
