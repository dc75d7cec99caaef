//! Who is on the other end of a connection, from the kernel (`SO_PEERCRED`), and whether the
//! service serves them.

use std::fmt;
use std::io;
use std::os::unix::net::UnixStream;

use crate::config::{Grant, ServiceConfig};

/// A connected peer's credentials, as the kernel recorded them when it connected: the client
/// cannot choose them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Peer {
    /// The peer's user id.
    pub uid: u32,
    /// The peer's process id.
    pub pid: i32,
}

impl Peer {
    /// The credentials of the process connected to `stream`.
    pub(crate) fn of(stream: &UnixStream) -> io::Result<Peer> {
        let credentials = rustix::net::sockopt::socket_peercred(stream)?;
        Ok(Peer { uid: credentials.uid.as_raw(), pid: credentials.pid.as_raw_pid() })
    }
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "peer pid {} uid {}", self.pid, self.uid)
    }
}

/// How far the service trusts a peer it serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Trust {
    /// The service's own user or root: may claim any identity, and is a `system` process if it
    /// claims none (like the CLI).
    Full,
    /// Another user the configuration grants identities to: has none until it claims one of
    /// them.
    Granted(Grant),
}

/// Which peers the service serves: its own user and root, and the uids the configuration's
/// `[[service.grants]]` list.
#[derive(Debug, Clone)]
pub(crate) struct Policy {
    /// The uid the service runs as.
    service_uid: u32,
    grants: ServiceConfig,
}

impl Policy {
    /// The policy of a service running as the current process's user, with `grants`.
    pub(crate) fn current(grants: ServiceConfig) -> Policy {
        Policy { service_uid: rustix::process::getuid().as_raw(), grants }
    }

    /// How far `peer` is trusted, or `None` if the service does not serve it.
    pub(crate) fn trust(&self, peer: &Peer) -> Option<Trust> {
        if peer.uid == self.service_uid || peer.uid == 0 {
            return Some(Trust::Full);
        }
        self.grants.grant_for(peer.uid).cloned().map(Trust::Granted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_services_own_user_and_root_are_trusted_granted_uids_granted_and_others_refused() {
        let grant = Grant { uid: 1001, apps: vec!["notes".into()], ..Grant::default() };
        let policy = Policy { service_uid: 1000, grants: ServiceConfig { grants: vec![grant.clone()] } };
        assert_eq!(policy.trust(&Peer { uid: 1000, pid: 1 }), Some(Trust::Full));
        assert_eq!(policy.trust(&Peer { uid: 0, pid: 1 }), Some(Trust::Full));
        assert_eq!(policy.trust(&Peer { uid: 1001, pid: 1 }), Some(Trust::Granted(grant)));
        assert_eq!(policy.trust(&Peer { uid: 65534, pid: 1 }), None);
    }

    #[test]
    fn the_peer_of_a_socket_pair_is_this_process() {
        let (one, _other) = UnixStream::pair().unwrap();
        let peer = Peer::of(&one).unwrap();
        assert_eq!(peer.pid, std::process::id() as i32);
        assert_eq!(Policy::current(ServiceConfig::default()).trust(&peer), Some(Trust::Full));
    }
}
