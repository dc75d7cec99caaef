//! Process identity and the policy that maps it to namespaces.

use zero_storage_component::backend::Access;

use crate::error::{Error, Result};
use zero_storage_component::namespace::{APP_PREFIX, SYSTEM, USER_PREFIX, check_name};

/// The role that makes a process a system process.
pub const SYSTEM_ROLE: &str = "system";

/// Who a process is: the host decides, the process cannot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessIdentity {
    name: String,
    roles: Vec<String>,
    user: Option<String>,
    /// Derived from the above on every change; asked on every backend call, so kept ready.
    own_namespace: String,
}

impl ProcessIdentity {
    /// A process called `name` (which becomes its namespace `app:NAME`). The name must be a valid
    /// namespace name: 1 to 64 characters from `a-z A-Z 0-9 . _ -`, not starting with `.`.
    pub fn new(name: &str) -> Result<Self> {
        check_name(name).map_err(|e| Error::Invalid(format!("app name: {e}")))?;
        Ok(ProcessIdentity {
            name: name.to_owned(),
            roles: Vec::new(),
            user: None,
            own_namespace: format!("{APP_PREFIX}{name}"),
        })
    }

    /// A system process (role `system`): owns `system` and may use every namespace.
    pub fn system(name: &str) -> Result<Self> {
        Self::new(name).map(|identity| identity.with_role(SYSTEM_ROLE))
    }

    /// Adds a role.
    pub fn with_role(mut self, role: &str) -> Self {
        self.roles.push(role.to_owned());
        if self.is_system() {
            self.own_namespace = SYSTEM.to_owned();
        }
        self
    }

    /// Runs the process for `user`, which gives it `user:USER` as well.
    pub fn with_user(mut self, user: &str) -> Result<Self> {
        check_name(user).map_err(|e| Error::Invalid(format!("user name: {e}")))?;
        self.user = Some(user.to_owned());
        Ok(self)
    }

    /// The process's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The user the process runs for, if any.
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// Whether the process has the `system` role.
    pub fn is_system(&self) -> bool {
        self.roles.iter().any(|role| role == SYSTEM_ROLE)
    }

    /// The namespace the process owns: `system` for a system process, else `app:NAME`.
    pub fn own_namespace(&self) -> &str {
        &self.own_namespace
    }

    /// What the process may do in `namespace`.
    pub fn access_to(&self, namespace: &str) -> Access {
        let own_user =
            self.user.as_ref().is_some_and(|user| namespace.strip_prefix(USER_PREFIX) == Some(user.as_str()));
        if namespace == self.own_namespace || self.is_system() || own_user { Access::ReadWrite } else { Access::None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_app_owns_its_namespace_and_its_users_and_nothing_else() {
        let app = ProcessIdentity::new("notes").unwrap().with_user("alice").unwrap();
        assert_eq!(app.own_namespace(), "app:notes");
        assert_eq!(app.access_to("app:notes"), Access::ReadWrite);
        assert_eq!(app.access_to("user:alice"), Access::ReadWrite);
        for other in ["user:bob", "app:other", "system", "user:alice2", "app:notes2"] {
            assert_eq!(app.access_to(other), Access::None, "{other}");
        }
    }

    #[test]
    fn a_system_process_owns_system_and_may_use_everything() {
        let admin = ProcessIdentity::system("cli").unwrap();
        assert_eq!(admin.own_namespace(), "system");
        assert_eq!(admin.access_to("user:bob"), Access::ReadWrite);
    }

    #[test]
    fn ambiguous_app_and_user_names_are_rejected() {
        assert!(ProcessIdentity::new("a:b").is_err());
        assert!(ProcessIdentity::new("").is_err());
        assert!(ProcessIdentity::new("notes").unwrap().with_user("../root").is_err());
    }
}
