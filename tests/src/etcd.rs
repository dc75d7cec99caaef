//! Real etcd clusters on loopback for the tests, started from the `etcd` binary of Debian's
//! `etcd-server` package.
//!
//! Each member runs under a small shell watchdog that SIGKILLs it when the test process is gone,
//! so no member outlives a test run, even one that panics or is killed. Members are reached and
//! inspected through etcd's JSON gateway over plain HTTP, so the harness needs no client library.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use zero_storage::backend::{EtcdBackend, EtcdOptions};

/// Extra `etcd` flags every member gets: faster elections than the defaults (heartbeat 100 ms,
/// election 1 s) so the leader-kill test is quick, and the transaction size Zero Storage needs.
const MEMBER_FLAGS: &[&str] =
    &["--heartbeat-interval=50", "--election-timeout=500", "--max-txn-ops=4096", "--logger=zap", "--log-level=warn"];

/// A cluster of `etcd` members on 127.0.0.1, removed when dropped.
pub struct EtcdCluster {
    dir: tempfile::TempDir,
    members: Vec<Member>,
    initial_cluster: String,
    extra_flags: Vec<String>,
    tls: Option<TlsFiles>,
}

/// The PEM files of a cluster started with [`EtcdCluster::start_tls`].
pub struct TlsFiles {
    /// The CA that signed the member's and the client's certificates.
    pub ca: PathBuf,
    /// A client certificate and key the member accepts.
    pub client_cert: PathBuf,
    /// The client certificate's key.
    pub client_key: PathBuf,
    /// Another CA, which signed nothing the member uses.
    pub other_ca: PathBuf,
}

struct Member {
    name: String,
    client_port: u16,
    peer_port: u16,
    /// Plain-HTTP `/health` and metrics, also when clients must use TLS.
    metrics_port: u16,
    /// The `etcd` process id while it runs.
    pid: Option<u32>,
}

impl EtcdCluster {
    /// Starts `size` members and waits until they have elected a leader.
    pub fn start(size: usize) -> Self {
        Self::start_with(size, &[])
    }

    /// Starts `size` members with extra `etcd` flags (e.g. a smaller `--max-request-bytes`).
    pub fn start_with(size: usize, extra_flags: &[&str]) -> Self {
        Self::start_inner(size, extra_flags, false)
    }

    /// Starts one member that serves clients over TLS only and requires a client certificate
    /// signed by its CA (certificates made with the `openssl` command).
    pub fn start_tls() -> Self {
        Self::start_inner(1, &[], true)
    }

    fn start_inner(size: usize, extra_flags: &[&str], tls: bool) -> Self {
        let dir = tempfile::tempdir().expect("temp dir for etcd");
        let tls = tls.then(|| make_certificates(&dir.path().join("tls")));
        let members: Vec<Member> = (0..size)
            .map(|i| Member {
                name: format!("m{i}"),
                client_port: free_port(),
                peer_port: free_port(),
                metrics_port: free_port(),
                pid: None,
            })
            .collect();
        let initial_cluster = members
            .iter()
            .map(|m| format!("{}=http://127.0.0.1:{}", m.name, m.peer_port))
            .collect::<Vec<_>>()
            .join(",");
        let mut cluster = Self {
            dir,
            members,
            initial_cluster,
            extra_flags: extra_flags.iter().map(|f| f.to_string()).collect(),
            tls,
        };
        for i in 0..size {
            cluster.spawn(i, "new");
        }
        // `/health` answers true once the member has a leader; the JSON gateway also tells who.
        let ready = |cluster: &EtcdCluster| match cluster.tls {
            Some(_) => cluster.members.iter().all(|m| healthy(m.metrics_port)),
            None => cluster.leader().is_some(),
        };
        let started = Instant::now();
        while !ready(&cluster) {
            if started.elapsed() > Duration::from_secs(30) {
                panic!("the etcd cluster elected no leader within 30 s; member logs:\n{}", cluster.logs());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        cluster
    }

    /// One 3-member cluster shared by every test of this test binary. (Its members die with
    /// the test process.)
    pub fn shared() -> &'static EtcdCluster {
        static SHARED: OnceLock<EtcdCluster> = OnceLock::new();
        SHARED.get_or_init(|| EtcdCluster::start(3))
    }

    /// The client URLs of every member.
    pub fn endpoints(&self) -> Vec<String> {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        self.members.iter().map(|m| format!("{scheme}://127.0.0.1:{}", m.client_port)).collect()
    }

    /// The certificates of a cluster started with [`EtcdCluster::start_tls`].
    pub fn tls_files(&self) -> Option<&TlsFiles> {
        self.tls.as_ref()
    }

    /// The client URLs, comma-separated as `--etcd-endpoints` takes them.
    pub fn endpoint_list(&self) -> String {
        self.endpoints().join(",")
    }

    /// Connects a backend under a prefix no other test uses.
    pub fn backend(&self) -> EtcdBackend {
        EtcdBackend::connect(self.options()).unwrap_or_else(|e| panic!("cannot connect to the test cluster: {e:#}"))
    }

    /// Options for this cluster under a prefix no other test uses.
    pub fn options(&self) -> EtcdOptions {
        let mut options = EtcdOptions::new(self.endpoints());
        options.prefix = unique_prefix();
        options
    }

    /// The index of the member that is leader now, if every running member names the same one.
    pub fn leader(&self) -> Option<usize> {
        let mut ids = Vec::new();
        let mut leaders = Vec::new();
        for (index, member) in self.members.iter().enumerate().filter(|(_, m)| m.pid.is_some()) {
            let status = status(member.client_port)?;
            ids.push((index, status["header"]["member_id"].as_str()?.to_owned()));
            leaders.push(status["leader"].as_str()?.to_owned());
        }
        let leader = leaders.first()?;
        if leader == "0" || leaders.iter().any(|other| other != leader) {
            return None;
        }
        ids.into_iter().find(|(_, id)| id == leader).map(|(index, _)| index)
    }

    /// Waits until the running members agree on a leader; returns it.
    pub fn wait_for_leader(&self, within: Duration) -> Option<usize> {
        let started = Instant::now();
        while started.elapsed() < within {
            if let Some(leader) = self.leader() {
                return Some(leader);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// Kills member `index` with SIGKILL, as a crash would.
    pub fn kill(&mut self, index: usize) {
        let pid = self.members[index].pid.take().expect("the member is running");
        let status = Command::new("kill").args(["-KILL", &pid.to_string()]).status().expect("run kill");
        assert!(status.success(), "could not kill etcd member {index} (pid {pid})");
    }

    /// Starts member `index` again on its data directory, rejoining the cluster.
    pub fn restart(&mut self, index: usize) {
        assert!(self.members[index].pid.is_none(), "member {index} is still running");
        self.spawn(index, "existing");
    }

    /// Every member's log, for failure messages.
    pub fn logs(&self) -> String {
        self.members
            .iter()
            .map(|m| {
                let log = std::fs::read_to_string(self.log_path(&m.name)).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(15).collect();
                format!("--- {} ---\n{}\n", m.name, tail.into_iter().rev().collect::<Vec<_>>().join("\n"))
            })
            .collect()
    }

    fn log_path(&self, name: &str) -> PathBuf {
        self.dir.path().join(format!("{name}.log"))
    }

    fn spawn(&mut self, index: usize, state: &str) {
        let etcd = find_etcd();
        let member = &self.members[index];
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        let client = format!("{scheme}://127.0.0.1:{}", member.client_port);
        let peer = format!("http://127.0.0.1:{}", member.peer_port);
        let mut args = vec![
            format!("--name={}", member.name),
            format!("--data-dir={}", self.dir.path().join(&member.name).display()),
            format!("--listen-client-urls={client}"),
            format!("--advertise-client-urls={client}"),
            format!("--listen-peer-urls={peer}"),
            format!("--initial-advertise-peer-urls={peer}"),
            format!("--initial-cluster={}", self.initial_cluster),
            format!("--initial-cluster-state={state}"),
            "--initial-cluster-token=zero-storage-tests".to_owned(),
            format!("--listen-metrics-urls=http://127.0.0.1:{}", member.metrics_port),
        ];
        if let Some(tls) = &self.tls {
            let dir = tls.ca.parent().expect("the certificates' directory");
            args.push(format!("--cert-file={}", dir.join("server.pem").display()));
            args.push(format!("--key-file={}", dir.join("server.key").display()));
            args.push(format!("--trusted-ca-file={}", tls.ca.display()));
            args.push("--client-cert-auth".to_owned());
        }
        args.extend(MEMBER_FLAGS.iter().map(|f| f.to_string()));
        args.extend(self.extra_flags.iter().cloned());
        // The watchdog prints etcd's pid, then polls: when the test process ($PPID) is gone it
        // kills etcd; when etcd is gone it exits.
        let script = r#"etcd="$1"; log="$2"; shift 2
"$etcd" "$@" >>"$log" 2>&1 &
e=$!
echo "$e"
while kill -0 "$PPID" 2>/dev/null && kill -0 "$e" 2>/dev/null; do sleep 0.2; done
kill -9 "$e" 2>/dev/null
exit 0"#;
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg("etcd-watchdog")
            .arg(&etcd)
            .arg(self.log_path(&member.name))
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the etcd watchdog shell");
        let mut line = String::new();
        let mut stdout = child.stdout.take().expect("piped stdout");
        let mut byte = [0u8; 1];
        while stdout.read(&mut byte).map(|n| n == 1).unwrap_or(false) && byte[0] != b'\n' {
            line.push(byte[0] as char);
        }
        let pid = line.trim().parse().unwrap_or_else(|_| panic!("the etcd watchdog printed no pid: {line:?}"));
        self.members[index].pid = Some(pid);
        // The watchdog is reaped by a thread so it never lingers as a zombie.
        std::thread::spawn(move || child.wait());
    }
}

impl Drop for EtcdCluster {
    fn drop(&mut self) {
        for index in 0..self.members.len() {
            if self.members[index].pid.is_some() {
                self.kill(index);
            }
        }
    }
}

/// Whether the member whose metrics listen on `metrics_port` reports itself healthy (it has a
/// leader and serves requests).
fn healthy(metrics_port: u16) -> bool {
    http(metrics_port, "GET", "/health", "").is_some_and(|health| health["health"] == "true")
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate signed by it, and an
/// unrelated second CA, made with the `openssl` command in `dir`.
fn make_certificates(dir: &Path) -> TlsFiles {
    std::fs::create_dir_all(dir).expect("certificate directory");
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap_or_else(|e| panic!("the TLS test needs the openssl command (apt-get install openssl): {e}"));
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    for ca in ["ca", "other-ca"] {
        let (key, pem, subject) = (format!("{ca}.key"), format!("{ca}.pem"), format!("/CN=zero-storage test {ca}"));
        openssl(
            &[&["req", "-x509"][..], &ec, &["-keyout", &key, "-out", &pem, "-days", "2", "-subj", &subject]].concat(),
        );
    }
    for (name, usage) in [
        ("server", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth"),
        ("client", "extendedKeyUsage=clientAuth"),
    ] {
        let (key, csr, pem, ext) =
            (format!("{name}.key"), format!("{name}.csr"), format!("{name}.pem"), format!("{name}.ext"));
        std::fs::write(dir.join(&ext), usage).expect("write extensions");
        openssl(
            &[&["req"][..], &ec, &["-keyout", &key, "-out", &csr, "-subj", &format!("/CN=zero-storage test {name}")]]
                .concat(),
        );
        openssl(&[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            &pem,
            "-days",
            "2",
            "-extfile",
            &ext,
        ]);
    }
    TlsFiles {
        ca: dir.join("ca.pem"),
        client_cert: dir.join("client.pem"),
        client_key: dir.join("client.key"),
        other_ca: dir.join("other-ca.pem"),
    }
}

/// A prefix unique to this call, so tests sharing a cluster never see each other's data.
pub fn unique_prefix() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!("test-{}-{}/", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

/// The `etcd` binary: Debian's `etcd-server` installs it in /usr/bin.
fn find_etcd() -> PathBuf {
    for candidate in ["/usr/bin/etcd", "/usr/local/bin/etcd"] {
        if Path::new(candidate).exists() {
            return candidate.into();
        }
    }
    panic!("the etcd tests need the etcd server: apt-get install etcd-server (or run .ci/run)")
}

/// A loopback port nothing listens on right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("bind a free port").port()
}

/// A member's status from its JSON gateway, or `None` if it does not answer.
pub fn status(client_port: u16) -> Option<serde_json::Value> {
    post_json(client_port, "/v3/maintenance/status", "{}")
}

/// POSTs `body` to the JSON gateway of the member at `client_port`; `None` on any failure.
pub fn post_json(client_port: u16, path: &str, body: &str) -> Option<serde_json::Value> {
    http(client_port, "POST", path, body)
}

/// One plain-HTTP request to 127.0.0.1:`port`; the JSON object it answers, or `None`.
fn http(port: u16, method: &str, path: &str, body: &str) -> Option<serde_json::Value> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    if !head.starts_with("HTTP/1.1 200") {
        return None;
    }
    // The gateway may answer with chunked encoding: take the JSON object inside.
    let start = body.find('{')?;
    let end = body.rfind('}')?;
    serde_json::from_str(&body[start..=end]).ok()
}
