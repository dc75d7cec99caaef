//! Guests written against the WASI key-value standard, both versions, run unchanged on Zero
//! Storage over every backend.

use zero_storage::{AppExit, Config, ProcessIdentity};
use zero_storage_tests::{backends, guest_bytes, runtime_with};

fn run_guest(name: &str) {
    for b in backends() {
        let (runtime, _) = runtime_with(b.backend.clone(), Config::default());
        let identity = ProcessIdentity::new("kv").unwrap().with_user("alice").unwrap();
        let exit = runtime.run_app(identity, &guest_bytes(name), &[name.to_string()]).unwrap();
        assert_eq!(exit, AppExit::Exited(0), "{name} on {}: the guest's checks failed (see stderr)", b.name);
        // What the guest stored landed in its namespaces, and nowhere else.
        let mut admin = runtime.process(ProcessIdentity::system("admin").unwrap()).unwrap();
        assert!(
            admin.bucket("app:kv").unwrap().list("item/", 1000, None).unwrap().keys.len() > 200,
            "{name} on {}",
            b.name
        );
        assert_eq!(admin.bucket("user:alice").unwrap().quota().unwrap().key_count, 1, "{name} on {}", b.name);
        let namespaces = b.backend.namespaces().unwrap();
        assert_eq!(namespaces, ["app:kv", "user:alice"], "{name} on {}", b.name);
    }
}

#[test]
fn a_guest_built_for_wasi_keyvalue_draft2_runs_unchanged() {
    run_guest("kv-draft2");
}

#[test]
fn a_guest_built_for_wasi_keyvalue_draft_runs_unchanged() {
    run_guest("kv-draft");
}

#[test]
fn standard_guests_are_composed_like_zero_apps() {
    for name in ["kv-draft2", "kv-draft"] {
        let shape = zero_storage::classify(&guest_bytes(name)).unwrap();
        assert_eq!(shape, zero_storage::AppShape::Plain, "{name}");
    }
}
