//! Builds the storage component (`component/`, for `wasm32-wasip2`) so the host can embed it.
//!
//! The nested `cargo build` uses its own target directory, because the outer build holds the lock
//! on the main one, and does not inherit the outer build's flags, which are for the host target.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let workspace = manifest_dir.parent().expect("host/ lives in the workspace root");
    for watched in ["component/src", "component/Cargo.toml", "wit", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", workspace.join(watched).display());
    }
    // A toolchain without the wasm32-wasip2 target (nightly for cargo-fuzz, say) can use a
    // component built beforehand by one that has it.
    println!("cargo:rerun-if-env-changed={PREBUILT}");
    let wasm = match std::env::var_os(PREBUILT) {
        Some(path) => PathBuf::from(path),
        None => build_component(workspace, "zero-storage-component", "zero_storage_component.wasm"),
    };
    println!("cargo:rustc-env=ZERO_STORAGE_COMPONENT_WASM={}", wasm.display());
}

/// Names a storage component (.wasm) to embed instead of building one.
const PREBUILT: &str = "ZERO_STORAGE_PREBUILT_COMPONENT";

fn build_component(workspace: &Path, package: &str, artifact: &str) -> PathBuf {
    let target_dir = workspace.join("target").join("wasm");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(workspace)
        .args(["build", "--release", "--target", "wasm32-wasip2", "--package", package])
        .arg("--target-dir")
        .arg(&target_dir)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET")
        .status()
        .expect("could not run cargo to build the storage component");
    if !status.success() {
        panic!(
            "building the storage component failed (see above). Is the wasm32-wasip2 target installed? \
             Run `rustup target add wasm32-wasip2`."
        );
    }
    target_dir.join("wasm32-wasip2").join("release").join(artifact)
}
