//! The example host runs the notes app composed with storage, and the data it stores is the
//! app's, in the data directory, where `zero-storage`'s own runtime finds it.

use std::process::Command;
use std::sync::Arc;

use zero_storage::backend::FsBackend;
use zero_storage::{ProcessIdentity, RuntimeBuilder};

fn host(data: &std::path::Path, name: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_wasmtime-host"))
        .arg(data)
        .arg(name)
        .arg(zero_storage_tests::guest("notes"))
        .args(args)
        .output()
        .expect("run the example host")
}

#[test]
fn the_example_host_runs_an_app_whose_data_lands_in_its_namespace() {
    let data = tempfile::tempdir().unwrap();
    let added = host(data.path(), "notes", &["add", "first", "hello", "world"]);
    assert!(added.status.success(), "{}", String::from_utf8_lossy(&added.stderr));
    let shown = host(data.path(), "notes", &["show", "first"]);
    assert!(shown.status.success(), "{}", String::from_utf8_lossy(&shown.stderr));
    assert!(String::from_utf8_lossy(&shown.stdout).contains("hello world"));
    // Another app name is another namespace: the note is not there.
    let other = host(data.path(), "other", &["show", "first"]);
    assert_eq!(other.status.code(), Some(1), "{}", String::from_utf8_lossy(&other.stdout));

    let runtime = RuntimeBuilder::new().backend(Arc::new(FsBackend::open(data.path()).unwrap())).build().unwrap();
    let mut admin = runtime.process(ProcessIdentity::system("admin").unwrap()).unwrap();
    assert_eq!(admin.bucket("app:notes").unwrap().get("note/first").unwrap(), b"hello world");
    assert!(admin.bucket("app:other").unwrap().list("", 10, None).unwrap().keys.is_empty());
}

#[test]
fn the_example_host_refuses_an_app_that_imports_the_backend() {
    let data = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_wasmtime-host"))
        .arg(data.path())
        .arg("evil")
        .arg(zero_storage_tests::guest("forbidden-backend"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("only the storage component may use"));
}
