//! The etcd backend on real etcd clusters started on loopback: hosts sharing a cluster, the
//! leader killed mid-write, quotas raced across host processes, and the errors a misconfigured
//! cluster gives. (Every backend test in the other files also runs on etcd with this feature.)

use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use zero_storage::backend::{Backend, EtcdBackend, EtcdOptions, EtcdTls};
use zero_storage::{Config, Process, ProcessIdentity, Runtime, StorageError};
use zero_storage_tests::etcd::{EtcdCluster, post_json, unique_prefix};
use zero_storage_tests::workload::{Op, State, describe_difference, execute, read_state};
use zero_storage_tests::{Rng, assert_usage_exact, binary, cache_dir, runtime_with, small_quotas};

fn app(name: &str) -> ProcessIdentity {
    ProcessIdentity::new(name).unwrap()
}

fn host(options: &EtcdOptions, config: Config) -> Runtime {
    connect_host(options, config).0
}

/// A host: its own connection to the cluster and a runtime over it.
fn connect_host(options: &EtcdOptions, config: Config) -> (Runtime, Arc<EtcdBackend>) {
    let backend = Arc::new(EtcdBackend::connect(options.clone()).unwrap_or_else(|e| panic!("connect: {e:#}")));
    (runtime_with(backend.clone(), config).0, backend)
}

/// One host's writer: the crash tests' workload over its own three namespaces, plus increments
/// of a counter in a namespace both hosts share.
struct Writer {
    procs: Vec<Process>,
    shared: Process,
    rng: Rng,
    seq: u64,
    acknowledged: State,
    increments_acked: u64,
    /// Writes acknowledged after the new leader was elected, before the old one returned.
    acked_after_election: u64,
    /// The first call that failed; it ends the writer (and fails the test).
    error: Option<String>,
}

impl Writer {
    fn new(runtime: &Runtime, name: &str, seed: u64) -> Self {
        Writer {
            procs: (0..3).map(|i| runtime.process(app(&format!("{name}-{i}"))).unwrap()).collect(),
            shared: runtime.process(app("shared")).unwrap(),
            rng: Rng::new(seed),
            seq: 0,
            acknowledged: State::new(),
            increments_acked: 0,
            acked_after_election: 0,
            error: None,
        }
    }

    /// Writes until `stop` or the first failed call.
    fn run(&mut self, stop: &AtomicBool, degraded: &AtomicBool) {
        while !stop.load(Ordering::Relaxed) && self.error.is_none() {
            self.seq += 1;
            if self.seq.is_multiple_of(4) {
                match self.shared.increment("counter", 1) {
                    Ok(_) => self.increments_acked += 1,
                    Err(e) => self.error = Some(format!("increment: {e}")),
                }
            } else {
                let op = Op::random(&mut self.rng);
                match execute(&mut self.procs, self.seq, &op) {
                    Ok(()) => op.apply(self.seq, &mut self.acknowledged),
                    // Refusals that change nothing (e.g. a transaction's precondition raced).
                    Err(zero_storage::Error::Storage(StorageError::PreconditionFailed(_))) => continue,
                    Err(e) => self.error = Some(format!("{op}: {e}")),
                }
            }
            if degraded.load(Ordering::Relaxed) && self.error.is_none() {
                self.acked_after_election += 1;
            }
        }
    }
}

#[test]
fn acknowledged_writes_survive_killing_the_leader_mid_write() {
    let rounds: usize = std::env::var("ZERO_ETCD_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(2);
    let seed = Rng::seed_from_env();
    println!("seed {seed} (replay with ZERO_SEED={seed}), {rounds} rounds");
    let mut cluster = EtcdCluster::start(3);
    let options = cluster.options();
    let ((host_a, backend_a), (host_b, backend_b)) =
        (connect_host(&options, Config::default()), connect_host(&options, Config::default()));
    let mut writers = [Writer::new(&host_a, "host-a", seed), Writer::new(&host_b, "host-b", seed ^ 0x5eed)];
    for round in 0..rounds {
        let (stop, degraded) = (AtomicBool::new(false), AtomicBool::new(false));
        for writer in &mut writers {
            writer.acked_after_election = 0;
        }
        let election = std::thread::scope(|scope| {
            for writer in &mut writers {
                let (stop, degraded) = (&stop, &degraded);
                scope.spawn(move || writer.run(stop, degraded));
            }
            std::thread::sleep(Duration::from_millis(1500));
            let leader = cluster.wait_for_leader(Duration::from_secs(10)).expect("a leader before the kill");
            cluster.kill(leader);
            let killed_at = Instant::now();
            let new_leader = cluster.wait_for_leader(Duration::from_secs(20));
            let election = killed_at.elapsed();
            let new_leader = new_leader.unwrap_or_else(|| {
                stop.store(true, Ordering::Relaxed);
                panic!("round {round}: no new leader within 20 s; logs:\n{}", cluster.logs())
            });
            assert_ne!(new_leader, leader);
            // Two members of three keep serving; then the killed one comes back.
            degraded.store(true, Ordering::Relaxed);
            std::thread::sleep(Duration::from_secs(4));
            degraded.store(false, Ordering::Relaxed);
            cluster.restart(leader);
            assert!(cluster.wait_for_leader(Duration::from_secs(20)).is_some(), "the restarted member rejoins");
            std::thread::sleep(Duration::from_millis(1000));
            stop.store(true, Ordering::Relaxed);
            election
        });
        for (index, writer) in writers.iter_mut().enumerate() {
            assert_eq!(writer.error, None, "round {round}, host {index}: a call failed");
            assert!(
                writer.acked_after_election > 0,
                "round {round}, host {index}: no write succeeded in the 4 s after the new leader was elected"
            );
            // Every acknowledged write is there and nothing else; usage equals the entries.
            let stored = read_state(&mut writer.procs);
            assert!(
                stored == writer.acknowledged,
                "round {round}, host {index}: the store differs from the acknowledged writes:\n{}",
                describe_difference(&stored, &writer.acknowledged)
            );
        }
        println!(
            "round {round}: new leader after {:?}; writes acknowledged by each host in the next 4 s: {} and {}",
            election, writers[0].acked_after_election, writers[1].acked_after_election
        );
    }
    // No increment was lost or applied twice, though requests were retried across elections.
    let counter = String::from_utf8(writers[0].shared.get("counter").unwrap()).unwrap().parse::<u64>().unwrap();
    let acked: u64 = writers.iter().map(|w| w.increments_acked).sum();
    assert_eq!(counter, acked, "the shared counter disagrees with the acknowledged increments");
    assert_usage_exact(&mut writers[0].shared.own());
    let operations: u64 = writers.iter().map(|w| w.seq).sum();
    println!("{rounds} leader kills: {operations} operations, {acked} shared increments, 0 lost");
    println!("retries: host a {:?}, host b {:?}", backend_a.stats(), backend_b.stats());
}

#[test]
fn hosts_sharing_a_cluster_see_one_store() {
    let cluster = EtcdCluster::shared();
    let options = cluster.options();
    let (host_a, host_b) = (host(&options, Config::default()), host(&options, Config::default()));
    let (mut a, mut b) = (host_a.process(app("notes")).unwrap(), host_b.process(app("notes")).unwrap());
    a.set("from-a", b"1", 0).unwrap();
    b.set("from-b", b"22", 0).unwrap();
    assert_eq!(b.get("from-a").unwrap(), b"1");
    assert_eq!(a.list("", 0, None).unwrap().keys, ["from-a", "from-b"]);
    // Each host caches what it wrote; a write by the other must still be seen and counted.
    a.set("from-b", b"333", 0).unwrap();
    assert_eq!(b.get("from-b").unwrap(), b"333");
    b.delete("from-a").unwrap();
    assert!(a.get("from-a").unwrap_err().is_not_found());
    assert_eq!(assert_usage_exact(&mut a.own()).len(), 1);
    assert_eq!(a.quota().unwrap().used_bytes, b.quota().unwrap().used_bytes);
    // Threads on both hosts incrementing one counter lose no update.
    std::thread::scope(|scope| {
        for runtime in [&host_a, &host_b, &host_a, &host_b] {
            scope.spawn(move || {
                let mut p = runtime.process(app("notes")).unwrap();
                for _ in 0..25 {
                    p.increment("hits", 1).unwrap();
                }
            });
        }
    });
    assert_eq!(a.get("hits").unwrap(), b"100");
    assert_eq!(backend_namespaces(&options), ["app:notes"]);
}

fn backend_namespaces(options: &EtcdOptions) -> Vec<String> {
    EtcdBackend::connect(options.clone()).unwrap().namespaces().unwrap()
}

#[test]
fn hosts_racing_for_one_quota_never_exceed_it() {
    let cluster = EtcdCluster::shared();
    let options = cluster.options();
    const QUOTA: u64 = 20_000;
    let hosts: Vec<Runtime> = (0..2).map(|_| host(&options, small_quotas(QUOTA))).collect();
    let refused = AtomicU64::new(0);
    std::thread::scope(|scope| {
        for (h, runtime) in hosts.iter().enumerate() {
            for t in 0..3 {
                let refused = &refused;
                scope.spawn(move || {
                    let mut p = runtime.process(app("race")).unwrap();
                    for i in 0..20 {
                        match p.set(&format!("h{h}-t{t}-{i}"), &[7; 700], 0) {
                            Ok(()) => {}
                            Err(zero_storage::Error::Storage(StorageError::QuotaExceeded)) => {
                                refused.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(e) => panic!("unexpected error: {e}"),
                        }
                    }
                });
            }
        }
    });
    let mut p = hosts[0].process(app("race")).unwrap();
    let entries = assert_usage_exact(&mut p.own());
    let used = p.quota().unwrap().used_bytes;
    assert!(used <= QUOTA, "used {used} of {QUOTA}");
    // 120 writes of ~710 bytes into 20,000: exactly as many fit as the quota allows.
    let entry_bytes = 700 + "h0-t0-0".len() as u64;
    assert!(QUOTA - used < entry_bytes + 2, "the quota was not filled: {used} used, {} entries", entries.len());
    assert_eq!(refused.load(Ordering::Relaxed) + entries.len() as u64, 120);
}

/// `zero-storage` with the etcd backend on `cluster` under `prefix`.
fn cli(endpoints: &str, prefix: &str, args: &[&str]) -> Command {
    let mut command = Command::new(binary());
    command
        .args(["--backend", "etcd", "--etcd-endpoints", endpoints, "--etcd-prefix", prefix])
        .args(args)
        .env("ZERO_STORAGE_CACHE", cache_dir())
        .env_remove("ZERO_STORAGE_CONFIG")
        .env_remove("ZERO_STORAGE_ETCD_USER");
    command
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn separate_cli_processes_racing_for_one_quota_never_exceed_it() {
    let cluster = EtcdCluster::shared();
    let prefix = unique_prefix();
    let config = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(config.path(), "[quotas]\napp = 10000\n").unwrap();
    let config = config.path().to_str().unwrap().to_owned();
    // Two "hosts", each a sequence of separate processes, writing into one namespace at once.
    std::thread::scope(|scope| {
        for h in 0..2 {
            let (prefix, config, endpoints) = (&prefix, &config, cluster.endpoint_list());
            scope.spawn(move || {
                for i in 0..10 {
                    let value = "v".repeat(1000);
                    let args = ["--config", config, "set", "--ns", "app:race", &format!("h{h}-{i}"), &value];
                    let out = cli(&endpoints, prefix, &args).output().unwrap();
                    assert!(out.status.success() || stderr(&out).contains("quota"), "{}", stderr(&out));
                }
            });
        }
    });
    let quota = cli(&cluster.endpoint_list(), &prefix, &["--config", &config, "quota", "--ns", "app:race", "--json"])
        .output()
        .unwrap();
    assert!(quota.status.success(), "{}", stderr(&quota));
    let quota: serde_json::Value = serde_json::from_slice(&quota.stdout).unwrap();
    let listed = cli(&cluster.endpoint_list(), &prefix, &["list", "--ns", "app:race"]).output().unwrap();
    let keys: Vec<String> = String::from_utf8(listed.stdout).unwrap().lines().map(str::to_owned).collect();
    // Each entry is its 4-byte key and 1,000 bytes: at most 9 fit in 10,000, and 9 must have.
    assert_eq!(keys.len(), 9, "{keys:?}, quota report: {quota}");
    assert_eq!(quota[0]["used_bytes"], 9 * 1004, "usage is the sum of the entries: {quota}");
    assert_eq!(quota[0]["key_count"], 9);
}

#[test]
fn an_unreachable_cluster_fails_fast_with_a_clear_error() {
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut command = cli(&format!("http://127.0.0.1:{port}"), "zero/", &["get", "k"]);
    let started = Instant::now();
    let out = command.output().unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("cannot reach the etcd cluster at http://127.0.0.1:"), "{}", stderr(&out));
    assert!(started.elapsed() < Duration::from_secs(30), "took {:?}", started.elapsed());
}

#[test]
fn a_cluster_refusing_large_values_is_reported_at_connect() {
    let cluster = EtcdCluster::start_with(1, &["--max-request-bytes=1048576"]);
    let error = EtcdBackend::connect(cluster.options()).err().expect("connect must fail");
    let message = format!("{error:#}");
    assert!(message.contains("--max-request-bytes="), "{message}");
}

#[test]
fn a_cluster_with_small_transactions_is_reported_at_connect() {
    let cluster = EtcdCluster::start_with(1, &["--max-txn-ops=128"]);
    let message = format!("{:#}", EtcdBackend::connect(cluster.options()).err().expect("connect must fail"));
    assert!(message.contains("--max-txn-ops="), "{message}");
}

#[test]
fn a_user_without_rights_on_the_prefix_is_told_so() {
    let cluster = EtcdCluster::start(1);
    let port = cluster.endpoints()[0].rsplit(':').next().unwrap().parse::<u16>().unwrap();
    let call = |path: &str, body: String| {
        post_json(port, path, &body).unwrap_or_else(|| panic!("{path} {body} failed"));
    };
    // A root user (required to enable authentication) and a user who may use `other/` only.
    call("/v3/auth/role/add", r#"{"name":"root"}"#.into());
    call("/v3/auth/user/add", r#"{"name":"root","password":"root-pw"}"#.into());
    call("/v3/auth/user/grant", r#"{"user":"root","role":"root"}"#.into());
    call("/v3/auth/role/add", r#"{"name":"other-rw"}"#.into());
    call(
        "/v3/auth/role/grant",
        format!(
            r#"{{"name":"other-rw","perm":{{"permType":"READWRITE","key":"{}","range_end":"{}"}}}}"#,
            base64(b"other/"),
            base64(b"other0")
        ),
    );
    call("/v3/auth/user/add", r#"{"name":"app","password":"app-pw"}"#.into());
    call("/v3/auth/user/grant", r#"{"user":"app","role":"other-rw"}"#.into());
    call("/v3/auth/enable", "{}".into());

    let mut options = EtcdOptions::new(cluster.endpoints());
    options.user = Some(("app".into(), "app-pw".into()));
    let message = format!("{:#}", EtcdBackend::connect(options.clone()).err().expect("zero/ is not allowed"));
    assert!(message.contains("may not read and write keys under the prefix `zero/`"), "{message}");

    options.prefix = "other/".into();
    let backend = EtcdBackend::connect(options.clone()).unwrap_or_else(|e| panic!("other/ is allowed: {e:#}"));
    let (runtime, _) = runtime_with(Arc::new(backend), Config::default());
    let mut p = runtime.process(app("notes")).unwrap();
    p.set("k", b"v", 0).unwrap();
    assert_eq!(p.get("k").unwrap(), b"v");

    options.user = Some(("app".into(), "wrong".into()));
    let message = format!("{:#}", EtcdBackend::connect(options).err().expect("a wrong password fails"));
    assert!(message.contains("user name and password"), "{message}");
}

#[test]
fn a_batch_larger_than_the_cluster_accepts_is_refused_and_changes_nothing() {
    let cluster = EtcdCluster::shared();
    let mut config = Config::default();
    config.quotas.app = 64 << 20;
    let (runtime, _) = runtime_with(Arc::new(cluster.backend()), config);
    let mut p = runtime.process(app("big")).unwrap();
    p.set("keep", b"old", 0).unwrap();
    // Two 1 MiB values in one atomic batch exceed etcd's default 1.5 MiB request limit.
    let batch = vec![("a".to_owned(), vec![1; 1 << 20]), ("keep".to_owned(), vec![2; 1 << 20])];
    match p.set_many(&batch, 0) {
        Err(zero_storage::Error::Storage(StorageError::Backend(message))) => {
            assert!(message.contains("--max-request-bytes"), "{message}");
        }
        other => panic!("expected a backend error, got {other:?}"),
    }
    assert_eq!(p.get("keep").unwrap(), b"old");
    assert!(p.get("a").unwrap_err().is_not_found());
    assert_usage_exact(&mut p.own());
}

/// Standard base64 with padding, for the JSON gateway's byte fields.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            out.push(if i <= chunk.len() { ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char } else { '=' });
        }
    }
    out
}

#[test]
fn base64_matches_the_standard() {
    assert_eq!(base64(b"other/"), "b3RoZXIv");
    assert_eq!(base64(b"ab"), "YWI=");
}

#[test]
fn a_cluster_over_tls_serves_clients_with_a_certificate_and_refuses_others() {
    let cluster = EtcdCluster::start_tls();
    let files = cluster.tls_files().unwrap();
    let read = |path: &std::path::Path| std::fs::read(path).unwrap();
    let with_tls = |ca: &std::path::Path, client: bool| {
        let mut options = cluster.options();
        options.tls = Some(EtcdTls {
            ca_pem: read(ca),
            client_pem: client.then(|| (read(&files.client_cert), read(&files.client_key))),
        });
        EtcdBackend::connect(options)
    };
    let backend = with_tls(&files.ca, true).unwrap_or_else(|e| panic!("a client with a certificate connects: {e:#}"));
    let (runtime, _) = runtime_with(Arc::new(backend), Config::default());
    let mut p = runtime.process(app("notes")).unwrap();
    p.set("k", b"over tls", 0).unwrap();
    assert_eq!(p.get("k").unwrap(), b"over tls");

    for (ca, client, case) in
        [(&files.ca, false, "no client certificate"), (&files.other_ca, true, "a CA that did not sign the server")]
    {
        let started = Instant::now();
        let message =
            format!("{:#}", with_tls(ca, client).err().unwrap_or_else(|| panic!("{case}: connect must fail")));
        assert!(message.contains("etcd cluster at https://127.0.0.1:"), "{case}: {message}");
        assert!(
            message.contains("TLS handshake with etcd failed") && message.contains("--etcd-ca"),
            "{case}: {message}"
        );
        assert!(started.elapsed() < Duration::from_secs(30), "{case}: took {:?}", started.elapsed());
        println!("{case}: {message}");
    }

    // The command line takes the same files.
    let endpoints = cluster.endpoint_list();
    let (ca, cert, key) =
        (files.ca.to_str().unwrap(), files.client_cert.to_str().unwrap(), files.client_key.to_str().unwrap());
    let tls_args = ["--etcd-ca", ca, "--etcd-cert", cert, "--etcd-key", key];
    let out = cli(&endpoints, "cli/", &[&tls_args[..], &["set", "greeting", "hello"]].concat()).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let out = cli(&endpoints, "cli/", &[&tls_args[..], &["get", "greeting"]].concat()).output().unwrap();
    assert_eq!(out.stdout, b"hello", "{}", stderr(&out));
}
