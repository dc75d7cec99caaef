//! Host configuration: quotas and app limits, read from a TOML file.
//!
//! ```toml
//! [quotas]            # defaults per kind of namespace, in bytes
//! system = 1048576
//! app = 10485760
//! user = 104857600
//!
//! [quotas.namespaces] # overrides for single namespaces
//! "app:notes" = 52428800
//!
//! [apps]
//! memory_limit_bytes = 268435456
//! timeout_secs = 60
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::error::{Error, Result};
use zero_storage_component::namespace::{APP_PREFIX, SYSTEM, USER_PREFIX, check_namespace};

const MIB: u64 = 1 << 20;

/// Everything the host can be configured with. Every field has a default.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Namespace quotas.
    pub quotas: Quotas,
    /// Limits on app components run by the host.
    pub apps: AppLimits,
}

/// Namespace quotas in bytes (key bytes plus value bytes of live entries).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Quotas {
    /// The `system` namespace's quota (default 1 MiB).
    pub system: u64,
    /// Each `app:NAME` namespace's quota (default 10 MiB).
    pub app: u64,
    /// Each `user:NAME` namespace's quota (default 100 MiB).
    pub user: u64,
    /// Per-namespace overrides, e.g. `"app:notes" = 52428800`.
    pub namespaces: BTreeMap<String, u64>,
}

impl Default for Quotas {
    fn default() -> Self {
        Quotas { system: MIB, app: 10 * MIB, user: 100 * MIB, namespaces: BTreeMap::new() }
    }
}

impl Quotas {
    /// The quota of `namespace`: its override, or the default for its kind.
    pub fn quota_bytes(&self, namespace: &str) -> u64 {
        if let Some(bytes) = self.namespaces.get(namespace) {
            return *bytes;
        }
        if namespace == SYSTEM {
            self.system
        } else if namespace.starts_with(USER_PREFIX) {
            self.user
        } else if namespace.starts_with(APP_PREFIX) {
            self.app
        } else {
            0
        }
    }
}

/// Limits on each app component run by the host.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct AppLimits {
    /// The most linear memory an app (with its storage instance) may use (default 256 MiB).
    pub memory_limit_bytes: u64,
    /// How long an app may run before it is stopped (default 60 s).
    pub timeout_secs: u64,
}

impl Default for AppLimits {
    fn default() -> Self {
        AppLimits { memory_limit_bytes: 256 * MIB, timeout_secs: 60 }
    }
}

impl Config {
    /// Parses a configuration from TOML text and checks it.
    pub fn from_toml(text: &str) -> Result<Config> {
        let config: Config = toml::from_str(text).map_err(|e| Error::Invalid(e.to_string()))?;
        for namespace in config.quotas.namespaces.keys() {
            check_namespace(namespace).map_err(|e| Error::Invalid(format!("[quotas.namespaces]: {e}")))?;
        }
        if config.apps.timeout_secs == 0 {
            return Err(Error::Invalid("[apps] timeout_secs must be at least 1".into()));
        }
        Ok(config)
    }

    /// Reads and parses a configuration file.
    pub fn from_file(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Invalid(format!("cannot read config file {}: {e}", path.display())))?;
        Config::from_toml(&text).map_err(|e| Error::Invalid(format!("config file {}: {e}", path.display())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_design() {
        let quotas = Config::default().quotas;
        assert_eq!(quotas.quota_bytes("system"), MIB);
        assert_eq!(quotas.quota_bytes("app:x"), 10 * MIB);
        assert_eq!(quotas.quota_bytes("user:x"), 100 * MIB);
    }

    #[test]
    fn overrides_apply_to_one_namespace() {
        let config = Config::from_toml("[quotas]\napp = 5\n[quotas.namespaces]\n\"app:big\" = 99\n").unwrap();
        assert_eq!(config.quotas.quota_bytes("app:big"), 99);
        assert_eq!(config.quotas.quota_bytes("app:small"), 5);
        assert_eq!(config.quotas.user, 100 * MIB);
    }

    #[test]
    fn unknown_keys_bad_namespaces_and_bad_types_are_rejected() {
        assert!(Config::from_toml("[quota]\napp = 5").is_err());
        assert!(Config::from_toml("[quotas.namespaces]\n\"app:a:b\" = 5").is_err());
        assert!(Config::from_toml("[quotas]\napp = -5").is_err());
        assert!(Config::from_toml("[apps]\ntimeout_secs = 0").is_err());
    }
}
