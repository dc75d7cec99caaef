//! The Storage Service: one [`Runtime`] served on a Unix socket with the protocol of
//! `PROTOCOL.md` (crate `zero-storage-protocol`), as `zero-storage serve` runs it.
//!
//! Lifecycle, in this file: [`Service::bind`] (refuse a live socket, replace a stale one, bind
//! with mode 0600) → [`Service::run`] (accept until SIGTERM or SIGINT) → shut down (stop
//! accepting, remove the socket, let every connection answer what it has read).
//!
//! - `peer`: who connected (`SO_PEERCRED`) and whether they are served.
//! - `session`: a connection's identity and process, and the answer to each request.
//! - `connection`: the socket loop of one connection, on its own thread.

mod connection;
mod peer;
mod session;

use std::collections::HashMap;
use std::io::{self, Write};
use std::net::Shutdown;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags};
use zero_storage_protocol::{ErrorResponse, Response};

use crate::runtime::Runtime;
use peer::{Peer, Policy};
use session::Session;

/// The most connections open at once; one more is answered with an error frame and closed.
pub const MAX_CONNECTIONS: usize = 256;

/// How long a frame may take to arrive once its first byte has: a peer that stalls mid-frame
/// is disconnected. Between frames, a connection may stay idle as long as it likes.
pub const FRAME_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the service waits for a peer to read its answers before closing the connection.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// How long shutdown waits for connections to finish the requests they are on.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// The socket file's name inside the data directory, where `zero-storage serve` listens by
/// default.
pub const DEFAULT_SOCKET_NAME: &str = "zero-storage.sock";

/// A Storage Service bound to its socket, ready to [`run`](Self::run).
pub struct Service {
    runtime: Runtime,
    listener: UnixListener,
    path: PathBuf,
    policy: Policy,
}

impl Service {
    /// Binds the Unix socket `path` (mode 0600) to serve `runtime`. A socket file nothing
    /// answers on is left from a service that died, and is replaced; one a service answers on
    /// is refused, as is a path that is not a socket.
    pub fn bind(runtime: Runtime, path: &Path) -> io::Result<Service> {
        match UnixStream::connect(path) {
            Ok(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!(
                        "a storage service already answers on {}; stop it or choose another --socket",
                        path.display()
                    ),
                ));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                if !std::fs::symlink_metadata(path)?.file_type().is_socket() {
                    return Err(io::Error::new(
                        io::ErrorKind::AlreadyExists,
                        format!("{} exists and is not a socket; choose another --socket", path.display()),
                    ));
                }
                std::fs::remove_file(path)?;
            }
            Err(e) => return Err(io::Error::new(e.kind(), format!("cannot use {}: {e}", path.display()))),
        }
        // The socket is created with mode 0600 rather than changed to it afterwards, so no
        // other user can connect in between. No other thread creates files meanwhile.
        let old_mask = rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o177));
        let bound = UnixListener::bind(path);
        rustix::process::umask(old_mask);
        let listener =
            bound.map_err(|e| io::Error::new(e.kind(), format!("cannot listen on {}: {e}", path.display())))?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        listener.set_nonblocking(true)?;
        let policy = Policy::current(runtime.config().service.clone());
        Ok(Service { runtime, listener, path: path.to_owned(), policy })
    }

    /// Where the service listens.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Serves connections until SIGTERM or SIGINT, then stops accepting, removes the socket
    /// file, and waits (up to 10 s) for every connection to answer the frames it has read.
    pub fn run(self) -> io::Result<()> {
        // The signal handlers only write to this pair (signal-hook's self-pipe), which wakes
        // the accept loop's poll.
        let (wake, wake_writer) = UnixStream::pair()?;
        wake_writer.set_nonblocking(true)?;
        let handlers = [
            signal_hook::low_level::pipe::register(signal_hook::consts::SIGTERM, wake_writer.try_clone()?)?,
            signal_hook::low_level::pipe::register(signal_hook::consts::SIGINT, wake_writer)?,
        ];
        let connections = Arc::new(Connections::default());
        let outcome = self.accept_until_woken(&wake, &connections);
        let _ = std::fs::remove_file(&self.path);
        drop(self.listener);
        for handler in handlers {
            signal_hook::low_level::unregister(handler);
        }
        connections.finish(SHUTDOWN_GRACE);
        outcome
    }

    fn accept_until_woken(&self, wake: &UnixStream, connections: &Arc<Connections>) -> io::Result<()> {
        let mut next_id = 0u64;
        loop {
            let mut fds = [PollFd::new(&self.listener, PollFlags::IN), PollFd::new(wake, PollFlags::IN)];
            match rustix::event::poll(&mut fds, None) {
                Ok(_) => {}
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            }
            if !fds[1].revents().is_empty() {
                return Ok(());
            }
            let stream = match self.listener.accept() {
                Ok((stream, _)) => stream,
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted) => continue,
                Err(e) => {
                    eprintln!("zero-storage serve: cannot accept a connection: {e}");
                    // E.g. out of file descriptors: do not spin while it lasts.
                    std::thread::sleep(Duration::from_millis(50));
                    continue;
                }
            };
            next_id += 1;
            self.admit(stream, next_id, connections);
        }
    }

    /// Starts serving `stream` on its own thread, or refuses it with one error frame.
    fn admit(&self, stream: UnixStream, id: u64, connections: &Arc<Connections>) {
        let peer = match Peer::of(&stream) {
            Ok(peer) => peer,
            Err(e) => return eprintln!("zero-storage serve: refused a connection: cannot read its credentials: {e}"),
        };
        let Some(trust) = self.policy.trust(&peer) else {
            return refuse(
                stream,
                &peer,
                "this uid has no grant; connect as the service's user, or grant it identities in \
                 [[service.grants]] of the service's configuration",
            );
        };
        let registered = match stream.try_clone() {
            Ok(clone) => clone,
            Err(e) => return eprintln!("zero-storage serve: {peer}: refused: {e}"),
        };
        if !connections.register(id, registered) {
            return refuse(stream, &peer, &format!("the service has {MAX_CONNECTIONS} connections open; retry later"));
        }
        if let Err(e) = stream.set_nonblocking(false) {
            connections.remove(id);
            return eprintln!("zero-storage serve: {peer}: refused: {e}");
        }
        let session = Session::new(self.runtime.clone(), trust, peer.to_string());
        let worker = connections.clone();
        let spawned = std::thread::Builder::new().name(format!("zero-storage-conn-{id}")).spawn(move || {
            // Deregisters the connection even if serving it panics, so its slot and its
            // descriptor are never lost and shutdown does not wait for it.
            let _registered = Registered(worker, id);
            connection::serve(stream, session, &peer.to_string());
        });
        if let Err(e) = spawned {
            connections.remove(id);
            eprintln!("zero-storage serve: {peer}: refused: cannot start its thread: {e}");
        }
    }
}

/// Answers a connection the service will not serve with one error frame (`request_tag` 0: it
/// answers no request), closes it, and logs why.
fn refuse(mut stream: UnixStream, peer: &Peer, why: &str) {
    eprintln!("zero-storage serve: {peer}: refused: {why}");
    let frame = Response::Error(ErrorResponse { request_tag: 0, message: format!("connection refused: {why}") })
        .to_frame()
        .expect("an error frame is small")
        .encode();
    // Never wait on a peer from the accept loop (an accepted socket blocks by default): a new
    // socket's buffer takes a small frame at once, and if not, the peer goes without.
    let _ = stream.set_nonblocking(true);
    let _ = stream.write_all(&frame);
}

/// A connection's place in [`Connections`], given back when its thread ends, however it ends.
struct Registered(Arc<Connections>, u64);

impl Drop for Registered {
    fn drop(&mut self) {
        self.0.remove(self.1);
    }
}

/// The open connections, so that shutdown can stop their reading and wait for them.
#[derive(Default)]
struct Connections {
    open: Mutex<HashMap<u64, UnixStream>>,
    closed: Condvar,
}

impl Connections {
    /// Adds a connection, unless [`MAX_CONNECTIONS`] are open.
    fn register(&self, id: u64, stream: UnixStream) -> bool {
        let mut open = self.open.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if open.len() >= MAX_CONNECTIONS {
            return false;
        }
        open.insert(id, stream);
        true
    }

    fn remove(&self, id: u64) {
        self.open.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(&id);
        self.closed.notify_all();
    }

    /// Ends every connection's reading (each still answers the frames it has read) and waits
    /// up to `grace` for them to close.
    fn finish(&self, grace: Duration) {
        let deadline = Instant::now() + grace;
        let mut open = self.open.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        for stream in open.values() {
            let _ = stream.shutdown(Shutdown::Read);
        }
        while !open.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                eprintln!("zero-storage serve: {} connections still busy at shutdown; closing them", open.len());
                return;
            }
            open = self.closed.wait_timeout(open, left).unwrap_or_else(|poisoned| poisoned.into_inner()).0;
        }
    }
}
