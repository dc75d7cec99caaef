//! Hostile apps on a shared `fs` host: a 100 MiB value, a storm of calls (200,000 here,
//! `ZERO_STORM_CALLS=1000000` for a million), and attempts to escape the app's namespace. Each ends with a clear outcome for that app alone; the host and
//! the other processes keep running; no namespace but the app's own changes, and nothing but
//! the database appears in the data directory. (`apps.rs` covers apps that loop forever,
//! allocate without bound or import the backend.)

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use zero_storage::backend::FsBackend;
use zero_storage::{AppExit, Config, ProcessIdentity, Runtime};
use zero_storage_tests::{assert_usage_exact, guest_bytes, read_all, runtime_with};

/// Namespaces the hostile apps must not touch, and what they hold.
const VICTIMS: [(&str, &str, &[u8]); 3] =
    [("app:victim", "secret", b"app secret"), ("user:victim", "secret", b"user secret"), ("system", "config", b"42")];

type Snapshot = BTreeMap<String, BTreeMap<String, Vec<u8>>>;

struct Host {
    runtime: Runtime,
    dir: tempfile::TempDir,
}

impl Host {
    /// An `fs` host whose victim namespaces hold data.
    fn new(config: Config) -> Host {
        let dir = tempfile::tempdir().unwrap();
        let backend = FsBackend::open(dir.path()).unwrap();
        let (runtime, _clock) = runtime_with(Arc::new(backend), config);
        let mut admin = runtime.process(ProcessIdentity::system("admin").unwrap()).unwrap();
        for (namespace, key, value) in VICTIMS {
            admin.bucket(namespace).unwrap().set(key, value, 0).unwrap();
        }
        Host { runtime, dir }
    }

    /// Every namespace but `except`, with its entries (usage checked exact on the way).
    fn snapshot(&self, except: &str) -> Snapshot {
        let mut admin = self.runtime.process(ProcessIdentity::system("admin").unwrap()).unwrap();
        let mut all = Snapshot::new();
        for namespace in self.runtime.backend().namespaces().unwrap() {
            if namespace != except {
                let entries = assert_usage_exact(&mut admin.bucket(&namespace).unwrap());
                all.insert(namespace, entries);
            }
        }
        all
    }

    fn run(&self, app: &str, guest: &str, args: &[&str]) -> zero_storage::Result<AppExit> {
        let args: Vec<String> = std::iter::once(guest).chain(args.iter().copied()).map(String::from).collect();
        self.runtime.run_app(ProcessIdentity::new(app).unwrap(), &guest_bytes(guest), &args)
    }

    /// The host still serves a new process, and the data directory holds only the database.
    fn assert_still_serving(&self) {
        let mut p = self.runtime.process(ProcessIdentity::new("bystander").unwrap()).unwrap();
        p.set("still", b"serving", 0).unwrap();
        assert_eq!(p.get("still").unwrap(), b"serving");
        assert_only_the_database_in(self.dir.path());
    }
}

fn assert_only_the_database_in(dir: &Path) {
    let names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["zero-storage.redb"], "the data directory holds something else");
}

#[test]
fn an_app_passing_a_100_mib_value_is_refused_and_the_host_keeps_serving() {
    let host = Host::new(Config::default());
    let before = host.snapshot("app:hog");
    let exit = host.run("hog", "huge-value", &[]);
    // The host refuses the value before copying it into the storage instance; the guest checks
    // that it saw `value-too-large` and exits 0.
    assert_eq!(exit.unwrap(), AppExit::Exited(0), "the guest's own checks failed (see stderr)");
    assert_eq!(host.snapshot("app:hog"), before, "a namespace other than the app's own changed");
    let mut hog = host.runtime.process(ProcessIdentity::new("hog").unwrap()).unwrap();
    assert!(!hog.exists("huge").unwrap());
    assert_eq!(read_all(&mut hog.own()).into_keys().collect::<Vec<_>>(), ["started"]);
    host.assert_still_serving();
}

/// A plain app's storage instance never gets a copy of a value it would refuse: under a 128 MiB
/// limit the app's own 100 MiB value fits, and the refusal is the component's.
#[test]
fn a_plain_app_under_a_tight_limit_gets_the_refusal_without_its_storage_instance_copying_the_value() {
    let mut config = Config::default();
    config.apps.memory_limit_bytes = 128 << 20;
    let host = Host::new(config);
    let before = host.snapshot("app:hog");
    let exit = host.run("hog", "huge-value", &[]);
    assert_eq!(exit.unwrap(), AppExit::Exited(0), "the guest's own checks failed (see stderr)");
    assert_eq!(host.snapshot("app:hog"), before);
    host.assert_still_serving();
}

/// An app composed with storage ahead of time holds its 100 MiB value and the storage instance
/// inside it needs a copy: together that is over a 128 MiB limit, which covers the app and its
/// storage instance together.
#[test]
fn a_composed_app_and_its_storage_instance_are_held_to_one_memory_limit_together() {
    let mut config = Config::default();
    config.apps.memory_limit_bytes = 128 << 20;
    let host = Host::new(config);
    let before = host.snapshot("app:hog");
    let composed = zero_storage::compose(&guest_bytes("huge-value")).unwrap();
    let args = vec!["huge-value".to_string()];
    let outcome = host.runtime.run_app(ProcessIdentity::new("hog").unwrap(), &composed, &args);
    let error = outcome.expect_err("200 MiB of memory in use under a 128 MiB limit").to_string();
    assert!(error.contains("exceeded its memory limit"), "{error}");
    assert_eq!(host.snapshot("app:hog"), before);
    host.assert_still_serving();
}

/// Calls the storm makes: 200,000 in the regular suite (about 5 s on 2 cores),
/// `ZERO_STORM_CALLS=1000000` for the million of the long mode.
fn storm_calls() -> u64 {
    std::env::var("ZERO_STORM_CALLS").ok().and_then(|n| n.parse().ok()).unwrap_or(200_000)
}

#[test]
fn an_app_calling_storage_as_fast_as_it_can_finishes_while_other_processes_keep_working() {
    let host = Host::new(Config::default());
    let before = host.snapshot("app:storm");
    let done = Arc::new(AtomicBool::new(false));
    // Another process keeps writing and reading on its own thread while the storm runs.
    let bystander = {
        let (runtime, done) = (host.runtime.clone(), done.clone());
        std::thread::spawn(move || {
            let mut p = runtime.process(ProcessIdentity::new("neighbour").unwrap()).unwrap();
            let mut writes = 0u64;
            while !done.load(Ordering::SeqCst) || writes == 0 {
                p.set("tick", writes.to_string().as_bytes(), 0).unwrap();
                assert_eq!(p.get("tick").unwrap(), writes.to_string().as_bytes());
                writes += 1;
            }
            writes
        })
    };
    let calls = storm_calls();
    let started = std::time::Instant::now();
    let exit = host.run("storm", "call-storm", &[&calls.to_string()]);
    done.store(true, Ordering::SeqCst);
    let writes = bystander.join().expect("the neighbouring process failed during the storm");
    assert_eq!(exit.unwrap(), AppExit::Exited(0), "the guest's own checks failed (see stderr)");
    eprintln!("{calls} calls in {:.1?}; the neighbour wrote {writes} times meanwhile", started.elapsed());
    let mut storm = host.runtime.process(ProcessIdentity::new("storm").unwrap()).unwrap();
    assert_eq!(storm.get("storm/done").unwrap(), calls.to_string().as_bytes());
    let mut after = host.snapshot("app:storm");
    assert!(after.remove("app:neighbour").is_some());
    assert_eq!(after, before, "a namespace other than the app's own changed");
    host.assert_still_serving();
}

#[test]
fn an_app_trying_to_escape_its_namespace_only_ever_touches_its_own_keys() {
    let host = Host::new(Config::default());
    let before = host.snapshot("app:hostile");
    let exit = host.run("hostile", "escape-attempts", &[]);
    assert_eq!(exit.unwrap(), AppExit::Exited(0), "the guest's own checks failed (see stderr)");
    assert_eq!(host.snapshot("app:hostile"), before, "a namespace other than the app's own changed");
    // Everything it stored is in its own namespace, under exactly the keys it used.
    let mut admin = host.runtime.process(ProcessIdentity::system("admin").unwrap()).unwrap();
    let stored = assert_usage_exact(&mut admin.bucket("app:hostile").unwrap());
    assert!(stored.contains_key("../../etc/passwd") && stored.contains_key("a\0b"), "{stored:?}");
    assert!(stored.iter().all(|(key, value)| key.as_bytes() == value.as_slice()));
    let namespaces = host.runtime.backend().namespaces().unwrap();
    assert_eq!(namespaces, ["app:hostile", "app:victim", "system", "user:victim"]);
    host.assert_still_serving();
}
