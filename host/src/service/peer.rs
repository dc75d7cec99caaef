//! Who is on the other end of a connection, from the kernel (`SO_PEERCRED`), and whether the
//! service serves them.

use std::fmt;
use std::io;
use std::os::unix::net::UnixStream;

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

/// Which peers the service serves. For now: its own user and root, trusted like the CLI; every
/// other uid is refused (granting identities to other uids in the configuration is to come).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Policy {
    /// The uid the service runs as.
    service_uid: u32,
}

impl Policy {
    /// The policy of a service running as the current process's user.
    pub(crate) fn current() -> Policy {
        Policy { service_uid: rustix::process::getuid().as_raw() }
    }

    /// Whether `peer` may use the service.
    pub(crate) fn admits(&self, peer: &Peer) -> bool {
        peer.uid == self.service_uid || peer.uid == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_services_own_user_and_root_are_admitted_and_others_are_not() {
        let policy = Policy { service_uid: 1000 };
        assert!(policy.admits(&Peer { uid: 1000, pid: 1 }));
        assert!(policy.admits(&Peer { uid: 0, pid: 1 }));
        assert!(!policy.admits(&Peer { uid: 65534, pid: 1 }));
    }

    #[test]
    fn the_peer_of_a_socket_pair_is_this_process() {
        let (one, _other) = UnixStream::pair().unwrap();
        let peer = Peer::of(&one).unwrap();
        assert_eq!(peer.pid, std::process::id() as i32);
        assert!(Policy::current().admits(&peer));
    }
}
