//! App components run by the host: linked to storage, confined, and stopped when they misbehave.

use std::sync::Arc;

use zero_storage::backend::MemoryBackend;
use zero_storage::{AppExit, Config, ProcessIdentity, Runtime};
use zero_storage::{AppShape, classify, compose};
use zero_storage_tests::{guest_bytes, runtime_with};

fn runtime(config: Config) -> Runtime {
    runtime_with(Arc::new(MemoryBackend::new()), config).0
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn an_app_reaches_every_store_operation_in_its_own_namespaces() {
    let runtime = runtime(Config::default());
    let identity = ProcessIdentity::new("tour").unwrap().with_user("alice").unwrap();
    let exit = runtime.run_app(identity, &guest_bytes("store-tour"), &args(&["store-tour"])).unwrap();
    assert_eq!(exit, AppExit::Exited(0), "the guest's own checks failed (see stderr)");
    let mut admin = runtime.process(ProcessIdentity::system("admin").unwrap()).unwrap();
    assert_eq!(admin.bucket("app:tour").unwrap().get("tour/kept").unwrap(), b"yes");
    assert_eq!(admin.bucket("user:alice").unwrap().get("from-app").unwrap(), b"hi");
    assert!(admin.list("", 10, None).unwrap().keys.is_empty(), "nothing leaked into system");
}

#[test]
fn the_notes_example_keeps_its_data_between_runs() {
    let runtime = runtime(Config::default());
    let notes = guest_bytes("notes");
    let run = |words: &[&str]| runtime.run_app(ProcessIdentity::new("notes").unwrap(), &notes, &args(words)).unwrap();
    assert_eq!(run(&["notes", "add", "first", "hello", "world"]), AppExit::Exited(0));
    assert_eq!(run(&["notes", "count"]), AppExit::Exited(0));
    assert_eq!(run(&["notes", "count"]), AppExit::Exited(0));
    assert_eq!(run(&["notes", "show", "missing"]), AppExit::Exited(1));
    let mut admin = runtime.process(ProcessIdentity::system("admin").unwrap()).unwrap();
    let mut notes = admin.bucket("app:notes").unwrap();
    assert_eq!(notes.get("note/first").unwrap(), b"hello world");
    assert_eq!(notes.get("counter").unwrap(), b"2");
}

#[test]
fn an_app_composed_ahead_of_time_runs_with_only_backend_and_identity_supplied() {
    let composed = compose(&guest_bytes("store-tour")).unwrap();
    assert_eq!(classify(&composed).unwrap(), AppShape::Composed);
    let runtime = runtime(Config::default());
    let identity = ProcessIdentity::new("tour").unwrap().with_user("alice").unwrap();
    assert_eq!(runtime.run_app(identity, &composed, &args(&["store-tour"])).unwrap(), AppExit::Exited(0));
}

#[test]
fn an_app_importing_the_backend_is_refused_before_it_runs() {
    let runtime = runtime(Config::default());
    let error = runtime
        .run_app(ProcessIdentity::new("evil").unwrap(), &guest_bytes("forbidden-backend"), &args(&["evil"]))
        .unwrap_err()
        .to_string();
    assert!(error.contains("zero:storage/backend") && error.contains("only the storage component"), "{error}");
}

#[test]
fn bytes_that_are_not_a_component_are_refused_with_a_clear_error() {
    let runtime = runtime(Config::default());
    for junk in [&b""[..], b"\0asm\x01\0\0\0", b"not wasm at all"] {
        let error = runtime.run_app(ProcessIdentity::new("junk").unwrap(), junk, &args(&["junk"])).unwrap_err();
        assert!(error.to_string().contains("not a valid WebAssembly component"), "{error}");
    }
}

#[test]
fn an_app_that_never_returns_is_stopped_at_its_deadline_and_the_host_keeps_serving() {
    let mut config = Config::default();
    config.apps.timeout_secs = 1;
    let runtime = runtime(config);
    let error = runtime
        .run_app(ProcessIdentity::new("spin").unwrap(), &guest_bytes("spin-forever"), &args(&["spin"]))
        .unwrap_err()
        .to_string();
    assert!(error.contains("ran longer than its limit of 1 s"), "{error}");
    let mut spin = runtime.process(ProcessIdentity::new("spin").unwrap()).unwrap();
    assert_eq!(spin.get("started").unwrap(), b"yes", "its writes before the loop were kept");
    spin.set("after", b"ok", 0).unwrap();
}

#[test]
fn an_app_that_allocates_without_bound_is_stopped_at_its_memory_limit() {
    let mut config = Config::default();
    config.apps.memory_limit_bytes = 64 << 20;
    let runtime = runtime(config);
    let error = runtime
        .run_app(ProcessIdentity::new("hog").unwrap(), &guest_bytes("grow-memory"), &args(&["hog"]))
        .unwrap_err()
        .to_string();
    assert!(error.contains("exceeded its memory limit"), "{error}");
    let mut hog = runtime.process(ProcessIdentity::new("hog").unwrap()).unwrap();
    assert_eq!(hog.get("started").unwrap(), b"yes");
}
