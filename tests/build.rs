//! Builds the app components the tests run (`tests/guests` and `examples/notes-app`) for
//! `wasm32-wasip2`, in a target directory of their own (the outer build holds the main one).

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let workspace = manifest_dir.parent().expect("tests/ lives in the workspace root").to_path_buf();
    for watched in ["tests/guests", "examples/notes-app", "wit", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", workspace.join(watched).display());
    }
    let target_dir = workspace.join("target").join("wasm");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(&workspace)
        .args(["build", "--release", "--target", "wasm32-wasip2"])
        .args(["--package", "zero-storage-test-guests", "--package", "notes-app"])
        .arg("--target-dir")
        .arg(&target_dir)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET")
        .status()
        .expect("could not run cargo to build the test guests");
    assert!(status.success(), "building the test guests failed (is `rustup target add wasm32-wasip2` done?)");
    let out = target_dir.join("wasm32-wasip2").join("release");
    println!("cargo:rustc-env=GUEST_DIR={}", out.display());
}
