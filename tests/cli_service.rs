//! The `zero-storage` storage commands through a running Storage Service: the same stdout,
//! stderr and exit code as with the backend opened in the command itself, parallel commands on
//! one directory with and without a service, `--connect`, and the administration messages only
//! a system process may send.

use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use zero_storage::protocol::{ClientError, StorageError};
use zero_storage_tests::cli::{NO_ENV, Outcome, command, run};
use zero_storage_tests::daemon::Daemon;

/// A quota small enough to reach: `app:tiny` holds at most 16 bytes of keys and values.
const SMALL_QUOTA_CONFIG: &str = "[quotas.namespaces]\n\"app:tiny\" = 16\n";

/// The same commands on two equivalent data directories: one opened by each command, one held
/// by a running service that the commands must go through.
struct Pair {
    local: tempfile::TempDir,
    service: Daemon,
    config: PathBuf,
    _config_dir: tempfile::TempDir,
}

impl Pair {
    fn new() -> Pair {
        let config_dir = tempfile::tempdir().unwrap();
        let config = config_dir.path().join("config.toml");
        std::fs::write(&config, SMALL_QUOTA_CONFIG).unwrap();
        let service = Daemon::start_with(
            tempfile::tempdir().unwrap(),
            &["--backend", "fs", "--config", config.to_str().unwrap()],
        );
        Pair { local: tempfile::tempdir().unwrap(), service, config, _config_dir: config_dir }
    }

    fn service_data(&self) -> &Path {
        self.service.socket.parent().unwrap()
    }

    /// Runs `args` both ways, checks that they printed and exited the same, and returns what
    /// they did.
    fn same(&self, args: &[&str], stdin: &[u8]) -> Outcome {
        let mut with_config = vec!["--config", self.config.to_str().unwrap()];
        with_config.extend_from_slice(args);
        let local = run(&self.local.path().join("data"), &with_config, stdin, NO_ENV);
        // No lock wait: a command that opened the directory instead of asking the service
        // would fail at once, since the service holds it.
        let service = run(self.service_data(), &with_config, stdin, &[("ZERO_STORAGE_LOCK_WAIT_SECS", "0")]);
        assert_eq!(local, service, "`zero-storage {}` differs through the service", args.join(" "));
        local
    }
}

#[test]
fn every_storage_command_prints_and_exits_the_same_through_a_service() {
    let pair = Pair::new();
    // Entries that expire while the other commands run, for `sweep` to reclaim at the end.
    pair.same(&["set", "soon", "x", "--ttl", "1", "--ns", "app:ttl"], b"");
    pair.same(&["set", "later", "y", "--ttl", "1", "--ns", "app:ttl"], b"");
    let expiring = Instant::now();

    assert_eq!(pair.same(&["set", "greeting", "hello"], b"").code, Some(0));
    assert_eq!(pair.same(&["get", "greeting"], b"").stdout, b"hello");
    let missing = pair.same(&["get", "nope"], b"");
    assert_eq!((missing.code, missing.stderr.as_str()), (Some(3), "zero-storage: get `nope`: not found\n"));
    pair.same(&["get", "nope", "--ns", "user:bob"], b"");
    let bytes: Vec<u8> = (0..=255).cycle().take(70_000).collect();
    pair.same(&["set", "blob", "--ns", "app:files"], &bytes);
    assert_eq!(pair.same(&["get", "blob", "--ns", "app:files"], b"").stdout, bytes);
    pair.same(&["set", "empty", "--ns", "app:files"], b"");

    // Failures: each is one line on stderr and exit code 1 (2 for bad usage), both ways.
    let key_too_long = "k".repeat(300);
    for (args, stdin, needle) in [
        (vec!["set", key_too_long.as_str(), "y"], vec![], "key too long"),
        (vec!["get", key_too_long.as_str()], vec![], "key too long"),
        (vec!["set", "huge", "--ns", "app:files"], vec![7; (1 << 20) + 1], "value too large"),
        (vec!["set", "x", "y", "--ns", "app:a:b"], vec![], "not a valid name"),
        (vec!["get", "x", "--ns", "nowhere"], vec![], "not a namespace"),
        (vec!["quota", "--ns", "user:"], vec![], "not a valid name"),
        (vec!["set", "k", "0123456789abcdef", "--ns", "app:tiny"], vec![], "quota exceeded"),
        (vec!["set", "", "y"], vec![], "invalid argument"),
        (vec!["list", "--cursor", "bogus"], vec![], "cursor is malformed"),
        (vec!["list", "--limit", "0"], vec![], "--limit must be between 1 and 1000"),
        (vec!["list", "--prefix", key_too_long.as_str()], vec![], "key too long"),
        (vec!["set", "k", "v", "--ttl", "4294967296"], vec![], "4294967296"),
    ] {
        let out = pair.same(&args, &stdin);
        assert!(matches!(out.code, Some(1 | 2)), "{args:?}: {out:?}");
        assert!(out.stdout.is_empty(), "{args:?}: {out:?}");
        assert!(out.stderr.contains(needle), "{args:?}: {needle:?} in {}", out.stderr);
    }
    assert_eq!(pair.same(&["get", "k", "--ns", "app:tiny"], b"").code, Some(3), "the refused set wrote nothing");
    pair.same(&["set", "k", "012345678901234", "--ns", "app:tiny"], b"");

    for key in ["b", "a", "c", "d"] {
        pair.same(&["set", key, "v", "--ns", "user:alice"], b"");
    }
    let first = pair.same(&["list", "--ns", "user:alice", "--limit", "2"], b"");
    assert_eq!(first.stdout, b"a\nb\n");
    let cursor = first.stderr.split("--cursor ").nth(1).expect("a cursor hint on stderr").trim().to_owned();
    assert_eq!(pair.same(&["list", "--ns", "user:alice", "--limit", "2", "--cursor", &cursor], b"").stdout, b"c\nd\n");
    assert_eq!(pair.same(&["list", "--ns", "user:alice", "--limit", "1", "--all"], b"").stdout, b"a\nb\nc\nd\n");
    pair.same(&["list", "--ns", "user:alice", "--json", "--limit", "3"], b"");
    pair.same(&["list", "--ns", "user:alice", "--json", "--all", "--limit", "3"], b"");
    pair.same(&["list", "--ns", "user:alice", "--prefix", "c"], b"");
    pair.same(&["list", "--ns", "app:never", "--json"], b"");

    assert_eq!(pair.same(&["delete", "greeting"], b"").stdout, b"deleted\n");
    assert_eq!(pair.same(&["delete", "greeting"], b"").stdout, b"not found\n");
    pair.same(&["delete", "x", "--ns", "app:"], b"");
    pair.same(&["quota", "--ns", "app:files"], b"");
    pair.same(&["quota", "--ns", "user:alice", "--json"], b"");
    pair.same(&["quota", "--ns", "app:tiny"], b"");

    std::thread::sleep(Duration::from_millis(2_100).saturating_sub(expiring.elapsed()));
    assert_eq!(pair.same(&["sweep"], b"").stdout, b"reclaimed 2 expired entries\n");
    assert_eq!(pair.same(&["sweep"], b"").stdout, b"reclaimed 0 expired entries\n");
    let usage = String::from_utf8(pair.same(&["usage"], b"").stdout).unwrap();
    let rows: Vec<&str> = usage.lines().skip(1).filter_map(|line| line.split(' ').next()).collect();
    for namespace in ["app:files", "app:tiny", "system", "user:alice"] {
        assert!(rows.contains(&namespace), "{namespace} in\n{usage}");
    }
    pair.same(&["usage", "--json"], b"");
}

#[test]
fn eight_parallel_set_loops_keep_usage_exact_with_and_without_a_service() {
    const LOOPS: usize = 8;
    const SETS: usize = 25;
    let local = tempfile::tempdir().unwrap();
    let service = Daemon::start("fs");
    let keys_and_values: Vec<(String, String)> = (0..LOOPS)
        .flat_map(|l| (0..SETS).map(move |i| (format!("loop{l}/key{i}"), format!("value {l} {i}"))))
        .collect();
    let used_bytes: usize = keys_and_values.iter().map(|(key, value)| key.len() + value.len()).sum();
    // Without a service each command holds the directory for its life and the others wait their
    // turn (generously: the machine may be busy); with one, none may wait, so each must go
    // through it.
    let runs = [(local.path().join("data"), "600"), (service.socket.parent().unwrap().to_owned(), "0")];
    let mut usages = Vec::new();
    for (data, lock_wait) in &runs {
        let failures: Vec<String> = std::thread::scope(|scope| {
            let loops: Vec<_> = keys_and_values
                .chunks(SETS)
                .map(|chunk| {
                    scope.spawn(move || {
                        let env = [("ZERO_STORAGE_LOCK_WAIT_SECS", *lock_wait)];
                        chunk
                            .iter()
                            .map(|(key, value)| (key, run(data, &["set", key, value], b"", &env)))
                            .filter(|(_, out)| out.code != Some(0))
                            .map(|(key, out)| format!("set {key}: {}", out.stderr))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            loops.into_iter().flat_map(|handle| handle.join().unwrap()).collect()
        });
        assert!(
            failures.is_empty(),
            "{} of {} commands failed:\n{}",
            failures.len(),
            LOOPS * SETS,
            failures.join("\n")
        );
        let usage = run(data, &["usage", "--json"], b"", &[("ZERO_STORAGE_LOCK_WAIT_SECS", lock_wait)]);
        let rows: serde_json::Value = serde_json::from_slice(&usage.stdout).unwrap();
        assert_eq!(
            rows,
            serde_json::json!([{
                "namespace": "system",
                "used_bytes": used_bytes,
                "quota_bytes": 1 << 20,
                "key_count": LOOPS * SETS,
            }]),
            "{data:?}"
        );
        usages.push(usage);
    }
    assert_eq!(usages[0], usages[1]);
    let listed = run(&runs[1].0, &["list", "--all"], b"", &[("ZERO_STORAGE_LOCK_WAIT_SECS", "0")]);
    assert_eq!(String::from_utf8(listed.stdout).unwrap().lines().count(), LOOPS * SETS);
}

#[test]
fn connect_to_a_socket_nothing_answers_on_fails_clearly_and_never_falls_back() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    assert_eq!(run(&data, &["set", "k", "local"], b"", NO_ENV).code, Some(0));
    // A socket file left by a listener that is gone refuses connections.
    let stale = dir.path().join("stale.sock");
    drop(UnixListener::bind(&stale).unwrap());
    for socket in [dir.path().join("nothing.sock"), stale] {
        let socket = socket.to_str().unwrap();
        for out in [
            run(&data, &["--connect", socket, "get", "k"], b"", NO_ENV),
            run(&data, &["get", "k"], b"", &[("ZERO_STORAGE_CONNECT", socket)]),
        ] {
            assert_eq!(out.code, Some(1), "{out:?}");
            assert!(out.stdout.is_empty(), "it must not read the data directory instead: {out:?}");
            assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
            for needle in ["cannot connect to the storage service at", socket, "zero-storage serve --socket"] {
                assert!(out.stderr.contains(needle), "{needle:?} in {}", out.stderr);
            }
        }
    }
}

#[test]
fn a_stale_socket_in_the_data_directory_is_passed_over_for_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    drop(UnixListener::bind(data.join("zero-storage.sock")).unwrap());
    assert_eq!(run(&data, &["set", "k", "v"], b"", NO_ENV).code, Some(0));
    assert_eq!(run(&data, &["get", "k"], b"", NO_ENV).stdout, b"v");
}

#[test]
fn zero_storage_connect_names_the_service_whatever_the_data_directory() {
    let service = Daemon::start("fs");
    let elsewhere = tempfile::tempdir().unwrap();
    let socket = service.socket.to_str().unwrap();
    let env = [("ZERO_STORAGE_CONNECT", socket)];
    assert_eq!(run(elsewhere.path(), &["set", "k", "through", "--ns", "app:x"], b"", &env).code, Some(0));
    assert_eq!(service.client().get_in(Some("app:x"), "k").unwrap().as_deref(), Some(&b"through"[..]));
    assert_eq!(
        run(elsewhere.path(), &["--connect", socket, "get", "k", "--ns", "app:x"], b"", NO_ENV).stdout,
        b"through"
    );
    assert!(std::fs::read_dir(elsewhere.path()).unwrap().next().is_none(), "the data directory is not touched");
}

#[test]
fn the_memory_backend_never_goes_to_a_service() {
    let service = Daemon::start("fs");
    let data = service.socket.parent().unwrap();
    assert_eq!(run(data, &["set", "k", "v"], b"", NO_ENV).code, Some(0), "through the service");
    // A memory command is its own throwaway store, even next to a running service.
    let out = run(data, &["--backend", "memory", "get", "k"], b"", NO_ENV);
    assert_eq!(out.code, Some(3), "{out:?}");
    assert_eq!(run(data, &["get", "k"], b"", NO_ENV).stdout, b"v");
}

fn denied<T>(result: Result<T, ClientError>) -> bool {
    matches!(result, Err(ClientError::Storage(StorageError::PermissionDenied)))
}

#[test]
fn namespaces_and_sweep_are_denied_to_a_connection_that_is_not_a_system_process() {
    let service = Daemon::start("fs");
    let data = service.socket.parent().unwrap();
    assert_eq!(run(data, &["set", "k", "v", "--ns", "app:notes", "--ttl", "3600"], b"", NO_ENV).code, Some(0));
    for (name, roles, user) in [("notes", vec![], None), ("notes", vec!["reader"], Some("alice"))] {
        let mut app = service.client();
        app.claim(name, &roles, user).unwrap();
        assert!(denied(app.namespaces(0, None)), "{name} {roles:?}");
        assert!(denied(app.sweep(None)), "not even its own namespace");
        assert!(denied(app.sweep(Some("app:notes"))));
        assert!(denied(app.sweep(Some("system"))));
        assert_eq!(app.get_in(None, "k").unwrap().as_deref(), Some(&b"v"[..]), "the connection stays usable");
    }
    // The default identity of the service's own user, and a claimed system process, may.
    let mut admin = service.client();
    assert_eq!(admin.namespaces(0, None).unwrap().namespaces, ["app:notes"]);
    assert_eq!(admin.sweep(Some("app:notes")).unwrap(), 0);
    let mut claimed = service.client();
    claimed.claim("backup", &["system"], None).unwrap();
    assert_eq!(claimed.namespaces(1, None).unwrap().namespaces, ["app:notes"]);
    assert_eq!(claimed.sweep(None).unwrap(), 0);
}

#[test]
fn two_run_apps_at_once_share_a_services_data_directory_while_cli_commands_read_it() {
    let daemon = Daemon::start("fs");
    let data = daemon.socket.parent().unwrap().to_path_buf();
    // No lock wait: an app or a command that opened the directory itself would fail at once.
    let env = [("ZERO_STORAGE_LOCK_WAIT_SECS", "0")];
    let storm = zero_storage_tests::guest("call-storm");
    let storm = storm.to_str().unwrap();
    let mut apps: Vec<_> = ["storm-a", "storm-b"]
        .into_iter()
        .map(|app| {
            command(&data, &["run", "--app", app, storm, "5000"], &env)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start zero-storage run")
        })
        .collect();
    let mut reads = 0;
    while apps.iter_mut().any(|app| app.try_wait().unwrap().is_none()) {
        let usage = run(&data, &["usage", "--json"], b"", &env);
        assert_eq!(usage.code, Some(0), "a read while the apps run: {}", usage.stderr);
        reads += 1;
    }
    for app in apps {
        let out = app.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "call-storm: 5000 calls");
    }
    assert!(reads > 0, "the apps ended before any read");
    for app in ["storm-a", "storm-b"] {
        let done = run(&data, &["get", "storm/done", "--ns", &format!("app:{app}")], b"", &env);
        assert_eq!((done.code, done.stdout), (Some(0), b"5000".to_vec()));
    }
}
