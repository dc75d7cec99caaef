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
//!
//! [[service.grants]]  # who besides its own user may use `zero-storage serve`
//! uid = 1001
//! apps = ["notes"]    # the identities that uid may claim
//! users = ["alice"]
//! roles = []
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::error::{Error, Result};
use zero_storage_component::namespace::{APP_PREFIX, SYSTEM, USER_PREFIX, check_name, check_namespace};

const MIB: u64 = 1 << 20;

/// Everything the host can be configured with. Every field has a default.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Namespace quotas.
    pub quotas: Quotas,
    /// Limits on app components run by the host.
    pub apps: AppLimits,
    /// Who may use the Storage Service besides its own user and root.
    pub service: ServiceConfig,
}

/// The Storage Service's policy for peers running as other users.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct ServiceConfig {
    /// One entry per uid that may connect; every uid not listed (other than the service's own
    /// and root) is refused.
    pub grants: Vec<Grant>,
}

/// What a peer running as one uid may claim to be. Such a peer has no identity until it
/// claims one, and a claim beyond its grant is denied.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Grant {
    /// The peer's user id, as the kernel reports it for the socket.
    pub uid: u32,
    /// The app names it may claim (its namespace is then `app:NAME`).
    pub apps: Vec<String>,
    /// The users it may claim to act for (which gives `user:NAME` too); none if empty.
    pub users: Vec<String>,
    /// The roles it may claim; `system` here makes it a system process, which may use every
    /// namespace.
    pub roles: Vec<String>,
}

impl ServiceConfig {
    /// The grant for `uid`, if the configuration has one.
    pub fn grant_for(&self, uid: u32) -> Option<&Grant> {
        self.grants.iter().find(|grant| grant.uid == uid)
    }
}

impl Grant {
    /// Whether a peer with this grant may claim to be app `name` with `roles`, for `user`.
    pub fn allows(&self, name: &str, roles: &[String], user: Option<&str>) -> bool {
        self.apps.iter().any(|app| app == name)
            && roles.iter().all(|role| self.roles.contains(role))
            && user.is_none_or(|user| self.users.iter().any(|granted| granted == user))
    }
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
        let mut uids = std::collections::BTreeSet::new();
        for grant in &config.service.grants {
            let refuse = |why: String| Error::Invalid(format!("[[service.grants]] uid {}: {why}", grant.uid));
            if !uids.insert(grant.uid) {
                return Err(refuse("listed twice; merge its grants into one entry".into()));
            }
            if grant.apps.is_empty() {
                return Err(refuse("grants no app; list the app names it may claim in `apps`".into()));
            }
            for name in grant.apps.iter().chain(&grant.users) {
                check_name(name).map_err(|e| refuse(format!("`{name}`: {e}")))?;
            }
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

    #[test]
    fn a_grant_allows_exactly_the_identities_it_lists() {
        let config = Config::from_toml(
            "[[service.grants]]\nuid = 1001\napps = [\"notes\"]\nusers = [\"alice\"]\nroles = [\"reader\"]\n",
        )
        .unwrap();
        assert!(config.service.grant_for(1002).is_none());
        let grant = config.service.grant_for(1001).unwrap();
        assert!(grant.allows("notes", &[], None));
        assert!(grant.allows("notes", &["reader".into()], Some("alice")));
        assert!(!grant.allows("todo", &[], None), "another app");
        assert!(!grant.allows("notes", &["system".into()], None), "a role not granted");
        assert!(!grant.allows("notes", &[], Some("bob")), "another user");
    }

    #[test]
    fn grants_that_repeat_a_uid_grant_nothing_or_name_bad_names_are_rejected() {
        let twice = "[[service.grants]]\nuid = 7\napps = [\"a\"]\n[[service.grants]]\nuid = 7\napps = [\"b\"]\n";
        assert!(Config::from_toml(twice).unwrap_err().to_string().contains("listed twice"));
        assert!(Config::from_toml("[[service.grants]]\nuid = 7\n").unwrap_err().to_string().contains("grants no app"));
        assert!(Config::from_toml("[[service.grants]]\nuid = 7\napps = [\"a:b\"]\n").is_err());
        assert!(Config::from_toml("[[service.grants]]\nuid = 7\napps = [\"a\"]\nusers = [\"../x\"]\n").is_err());
    }
}
