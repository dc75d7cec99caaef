//! A real `zero-storage serve` daemon for the integration tests.

use std::io::{BufRead, BufReader};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use zero_storage::protocol::ServiceClient;

use crate::binary;

/// A running `zero-storage serve`, killed when dropped.
pub struct Daemon {
    /// The daemon process.
    pub child: Child,
    /// Where it listens.
    pub socket: PathBuf,
    dir: Option<tempfile::TempDir>,
}

impl Daemon {
    /// Starts the service on a fresh data directory with `backend`, and waits until it listens.
    pub fn start(backend: &str) -> Daemon {
        Daemon::start_in(tempfile::tempdir().unwrap(), backend)
    }

    /// Starts the service on the data directory `data` inside `dir`.
    pub fn start_in(dir: tempfile::TempDir, backend: &str) -> Daemon {
        Daemon::start_with(dir, &["--backend", backend])
    }

    /// Starts the service on the data directory `data` inside `dir`, with the global options
    /// `options` (e.g. `--backend memory`, `--config FILE`).
    pub fn start_with(dir: tempfile::TempDir, options: &[&str]) -> Daemon {
        let data = dir.path().join("data");
        let mut child = Command::new(binary())
            .arg("--data")
            .arg(&data)
            .args(options)
            .arg("serve")
            .stdout(Stdio::piped())
            .spawn()
            .expect("start zero-storage serve");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let socket = data.join("zero-storage.sock");
        assert_eq!(line.trim(), format!("zero-storage: listening on {}", socket.display()));
        Daemon { child, socket, dir: Some(dir) }
    }

    /// A connection to the service.
    pub fn client(&self) -> ServiceClient {
        ServiceClient::connect(&self.socket).expect("connect to the service")
    }

    /// A raw socket to the service, with a 30 s read timeout.
    pub fn raw(&self) -> UnixStream {
        let stream = UnixStream::connect(&self.socket).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        stream
    }

    /// Waits for the service to exit (after a signal); returns whether it exited 0, and its
    /// directory for the next service.
    pub fn wait(mut self) -> (bool, tempfile::TempDir) {
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "the service did not exit");
            std::thread::sleep(Duration::from_millis(20));
        };
        (status.success(), self.dir.take().unwrap())
    }

    /// Sends `signal` (e.g. `TERM`) to the daemon.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill").args([&format!("-{signal}"), &self.child.id().to_string()]).status();
        assert!(status.unwrap().success());
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
