//! Apps run in the test process while a real `zero-storage serve` owns the data: the host serves
//! their `zero:storage/store` and `wasi:keyvalue` imports by forwarding each call to the service
//! (`zero_storage::ConnectedRunner`, `run_app_connected`). The same guests as `apps.rs`,
//! `keyvalue.rs` and `hostile_apps.rs` must give the same results as in process, both as a plain
//! app (the host forwards its calls to its own storage instance) and composed with storage ahead
//! of time (its calls cross fused adapters into the component's own bindings), side by side with other apps and clients on one service, and a
//! service that dies mid-run must give the app errors, not crash the host.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use zero_storage::backend::MemoryBackend;
use zero_storage::protocol::ServiceClient;
use zero_storage::{AppExit, AppLimits, Config, ConnectedRunner, ProcessIdentity, compose, run_app_connected};
use zero_storage_tests::daemon::Daemon;
use zero_storage_tests::{cache_dir, guest_bytes, read_all, runtime_with};

type Entries = BTreeMap<String, Vec<u8>>;

fn args(guest: &str, rest: &[&str]) -> Vec<String> {
    std::iter::once(guest).chain(rest.iter().copied()).map(String::from).collect()
}

fn identity(app: &str, user: Option<&str>) -> ProcessIdentity {
    let identity = ProcessIdentity::new(app).unwrap();
    match user {
        Some(user) => identity.with_user(user).unwrap(),
        None => identity,
    }
}

/// A runner for `daemon` with `limits`, caching compiled guests where the other tests do.
fn runner_with(daemon: &Daemon, limits: AppLimits) -> ConnectedRunner {
    ConnectedRunner::new(&daemon.socket, limits).unwrap().cache_dir(Some(cache_dir()))
}

fn runner(daemon: &Daemon) -> ConnectedRunner {
    runner_with(daemon, AppLimits::default())
}

/// Every live entry of `namespace`, read through the service as a system client.
fn entries(client: &mut ServiceClient, namespace: &str) -> Entries {
    let (mut all, mut cursor) = (Entries::new(), None::<String>);
    loop {
        let page = client.list_in(Some(namespace), "", 1000, cursor.as_deref()).unwrap();
        for key in page.keys {
            let value = client.get_in(Some(namespace), &key).unwrap().expect("a listed key has a value");
            all.insert(key, value);
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return all,
        }
    }
}

/// What the app `wasm` (the guest `guest`, plain or composed) leaves in `namespaces` when it runs
/// in process (on a fresh memory backend), and its exit.
fn in_process(wasm: &[u8], guest: &str, app: &str, user: Option<&str>, namespaces: &[&str]) -> (AppExit, Vec<Entries>) {
    let (runtime, _clock) = runtime_with(Arc::new(MemoryBackend::new()), Config::default());
    let exit = runtime.run_app(identity(app, user), wasm, &args(guest, &[])).unwrap();
    let mut admin = runtime.process(ProcessIdentity::system("admin").unwrap()).unwrap();
    (exit, namespaces.iter().map(|ns| read_all(&mut admin.bucket(ns).unwrap())).collect())
}

/// Runs `guest` through a fresh service, in process as a plain app and in process composed
/// ahead of time, and checks that all three exit 0 and leave the same entries in `namespaces`.
fn same_as_in_process(guest: &str, app: &str, user: Option<&str>, namespaces: &[&str]) -> Vec<Entries> {
    let daemon = Daemon::start("fs");
    let exit = runner(&daemon).run(identity(app, user), &guest_bytes(guest), &args(guest, &[])).unwrap();
    assert_eq!(exit, AppExit::Exited(0), "{guest} through the service: its checks failed (see stderr)");
    let mut client = daemon.client();
    let through_service: Vec<Entries> = namespaces.iter().map(|ns| entries(&mut client, ns)).collect();
    let (local_exit, local) = in_process(&guest_bytes(guest), guest, app, user, namespaces);
    assert_eq!(local_exit, AppExit::Exited(0), "{guest} in process");
    assert_eq!(through_service, local, "{guest}: the service holds what the in-process run left");
    let composed = compose(&guest_bytes(guest)).unwrap();
    let (composed_exit, composed) = in_process(&composed, guest, app, user, namespaces);
    assert_eq!(composed_exit, AppExit::Exited(0), "{guest} composed");
    assert_eq!(composed, local, "{guest}: the composed run left what the plain run left");
    assert!(entries(&mut client, "system").is_empty(), "{guest}: nothing leaked into system");
    through_service
}

#[test]
fn the_store_tour_gives_the_same_results_through_the_service_as_in_process() {
    let left = same_as_in_process("store-tour", "tour", Some("alice"), &["app:tour", "user:alice"]);
    assert_eq!(left[0].get("tour/kept").map(Vec::as_slice), Some(&b"yes"[..]));
    assert_eq!(left[1].get("from-app").map(Vec::as_slice), Some(&b"hi"[..]));
}

#[test]
fn a_guest_built_for_wasi_keyvalue_draft2_runs_unchanged_through_the_service() {
    let left = same_as_in_process("kv-draft2", "kv", Some("alice"), &["app:kv", "user:alice"]);
    assert!(left[0].keys().filter(|key| key.starts_with("item/")).count() > 200);
    assert_eq!(left[1].len(), 1);
}

#[test]
fn a_guest_built_for_wasi_keyvalue_draft_runs_unchanged_through_the_service() {
    let left = same_as_in_process("kv-draft", "kv", Some("alice"), &["app:kv", "user:alice"]);
    assert!(left[0].keys().filter(|key| key.starts_with("item/")).count() > 200);
    assert_eq!(left[1].len(), 1);
}

#[test]
fn the_notes_example_keeps_its_data_between_runs_through_the_service() {
    let daemon = Daemon::start("fs");
    let notes = guest_bytes("notes");
    let limits = AppLimits::default();
    let run = |words: &[&str]| {
        let argv: Vec<String> = words.iter().map(|word| word.to_string()).collect();
        run_app_connected(&daemon.socket, identity("notes", None), &notes, &argv, &limits).unwrap()
    };
    assert_eq!(run(&["notes", "add", "first", "hello", "world"]), AppExit::Exited(0));
    assert_eq!(run(&["notes", "count"]), AppExit::Exited(0));
    assert_eq!(run(&["notes", "count"]), AppExit::Exited(0));
    assert_eq!(run(&["notes", "show", "missing"]), AppExit::Exited(1));
    let mut client = daemon.client();
    assert_eq!(client.get_in(Some("app:notes"), "note/first").unwrap().as_deref(), Some(&b"hello world"[..]));
    assert_eq!(client.get_in(Some("app:notes"), "counter").unwrap().as_deref(), Some(&b"2"[..]));
}

#[test]
fn two_apps_run_at_once_on_one_service_while_a_client_reads_their_data() {
    const CALLS: &str = "20000";
    let daemon = Daemon::start("fs");
    let runner = runner(&daemon);
    let storm = guest_bytes("call-storm");
    let done = AtomicBool::new(false);
    let (exits, reads) = std::thread::scope(|scope| {
        let apps: Vec<_> = ["storm-a", "storm-b"]
            .into_iter()
            .map(|app| {
                let (runner, storm) = (&runner, &storm);
                scope.spawn(move || runner.run(identity(app, None), storm, &args("call-storm", &[CALLS])))
            })
            .collect();
        let reader = scope.spawn(|| {
            let mut client = daemon.client();
            let mut reads = 0;
            while !done.load(Ordering::Relaxed) {
                for namespace in ["app:storm-a", "app:storm-b"] {
                    let page = client.list_in(Some(namespace), "storm/", 100, None).expect("a read meanwhile");
                    assert!(page.keys.len() <= 5, "{namespace}: {:?}", page.keys);
                    client.quota_in(Some(namespace)).expect("a quota meanwhile");
                    reads += 1;
                }
            }
            reads
        });
        let exits: Vec<_> = apps.into_iter().map(|app| app.join().unwrap()).collect();
        done.store(true, Ordering::Relaxed);
        (exits, reader.join().unwrap())
    });
    for exit in exits {
        assert_eq!(exit.unwrap(), AppExit::Exited(0), "every call of the storm behaved");
    }
    assert!(reads > 0);
    let mut client = daemon.client();
    for namespace in ["app:storm-a", "app:storm-b"] {
        assert_eq!(client.get_in(Some(namespace), "storm/done").unwrap().as_deref(), Some(CALLS.as_bytes()));
        // The storm writes every 100th call, to storm/0, /4, /8 and /12; then storm/done.
        assert_eq!(client.quota_in(Some(namespace)).unwrap().key_count, 5, "{namespace}");
    }
}

#[test]
fn an_app_cannot_reach_another_apps_namespace_through_the_service() {
    let daemon = Daemon::start("fs");
    let mut client = daemon.client();
    let victims = [("app:victim", "secret", &b"app secret"[..]), ("user:victim", "secret", b"user secret")];
    for (namespace, key, value) in victims {
        client.set_in(Some(namespace), key, value, 0).unwrap();
    }
    client.set("config", b"42", 0).unwrap();
    let exit =
        runner(&daemon).run(identity("hostile", None), &guest_bytes("escape-attempts"), &args("escape-attempts", &[]));
    assert_eq!(exit.unwrap(), AppExit::Exited(0), "every attempt was refused as in process (see stderr)");
    for (namespace, key, value) in victims {
        assert_eq!(entries(&mut client, namespace), Entries::from([(key.to_string(), value.to_vec())]), "{namespace}");
    }
    assert_eq!(entries(&mut client, "system"), Entries::from([("config".to_string(), b"42".to_vec())]));
    assert_eq!(client.quota_in(Some("app:hostile")).unwrap().key_count, 10, "its own odd keys, nothing else");
}

#[test]
fn a_service_killed_mid_run_gives_the_app_errors_not_a_crash() {
    let mut daemon = Daemon::start("fs");
    let runner = runner(&daemon);
    let storm = guest_bytes("call-storm");
    let mut client = daemon.client();
    let exit = std::thread::scope(|scope| {
        let app = scope.spawn(|| runner.run(identity("storm", None), &storm, &args("call-storm", &["2000000"])));
        let deadline = Instant::now() + Duration::from_secs(60);
        while client.get_in(Some("app:storm"), "storm/0").unwrap().is_none() {
            assert!(Instant::now() < deadline, "the app never wrote");
            std::thread::sleep(Duration::from_millis(10));
        }
        daemon.child.kill().unwrap();
        daemon.child.wait().unwrap();
        app.join().unwrap()
    });
    // call-storm exits non-zero (WASI p2 exit statuses are 0 or 1) when calls failed: it kept
    // running and saw errors, and the host returned its exit.
    assert_eq!(exit.unwrap(), AppExit::Exited(1));
}

#[test]
fn an_oversized_guest_value_is_refused_cleanly_through_the_service() {
    let daemon = Daemon::start("fs");
    let exit = runner(&daemon).run(identity("huge", None), &guest_bytes("huge-value"), &args("huge-value", &[]));
    assert_eq!(exit.unwrap(), AppExit::Exited(0), "refused with value-too-large, nothing stored (see stderr)");
    let mut client = daemon.client();
    assert_eq!(entries(&mut client, "app:huge"), Entries::from([("started".to_string(), b"yes".to_vec())]));
}

#[test]
fn an_app_composed_ahead_of_time_is_refused_while_a_service_runs() {
    let daemon = Daemon::start("fs");
    let composed = compose(&guest_bytes("store-tour")).unwrap();
    let refused = runner(&daemon).run(identity("tour", Some("alice")), &composed, &args("store-tour", &[]));
    let message = refused.unwrap_err().to_string();
    assert!(
        message.contains("composed with the storage component") && message.contains("run the plain app"),
        "{message}"
    );
    assert!(entries(&mut daemon.client(), "app:tour").is_empty());
}

#[test]
fn an_app_importing_the_backend_is_refused_through_the_service_too() {
    let daemon = Daemon::start("fs");
    let refused = runner(&daemon).run(identity("evil", None), &guest_bytes("forbidden-backend"), &args("evil", &[]));
    let message = refused.unwrap_err().to_string();
    assert!(message.contains("zero:storage/backend") && message.contains("only the storage component"), "{message}");
}

#[test]
fn an_app_that_never_returns_is_stopped_at_its_deadline_through_the_service() {
    let daemon = Daemon::start("fs");
    let limits = AppLimits { timeout_secs: 1, ..AppLimits::default() };
    let stopped =
        runner_with(&daemon, limits).run(identity("spin", None), &guest_bytes("spin-forever"), &args("spin", &[]));
    let message = stopped.unwrap_err().to_string();
    assert!(message.contains("ran longer than its limit of 1 s"), "{message}");
    let mut client = daemon.client();
    assert_eq!(client.get_in(Some("app:spin"), "started").unwrap().as_deref(), Some(&b"yes"[..]), "its write was kept");
}

#[test]
fn an_app_that_allocates_without_bound_is_stopped_at_its_memory_limit_through_the_service() {
    let daemon = Daemon::start("fs");
    let limits = AppLimits { memory_limit_bytes: 64 << 20, ..AppLimits::default() };
    let stopped =
        runner_with(&daemon, limits).run(identity("hog", None), &guest_bytes("grow-memory"), &args("hog", &[]));
    let message = stopped.unwrap_err().to_string();
    assert!(message.contains("exceeded its memory limit"), "{message}");
    assert!(daemon.client().get_in(Some("app:hog"), "started").unwrap().is_some());
}

#[test]
fn a_service_that_is_not_running_is_reported_before_the_app_starts() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("zero-storage.sock");
    let runner = ConnectedRunner::new(&socket, AppLimits::default()).unwrap().cache_dir(Some(cache_dir()));
    let refused = runner.run(identity("tour", None), &guest_bytes("store-tour"), &args("store-tour", &[]));
    let message = refused.unwrap_err().to_string();
    assert!(message.contains("cannot use the storage service") && message.contains("zero-storage serve"), "{message}");
}
