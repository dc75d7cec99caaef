//! Compiled components cached on disk, so a start does not recompile the storage component.
//!
//! A cache entry is named by a hash of the component's bytes and of the engine's compilation
//! settings (`Engine::precompile_compatibility_hash`), so a new build of either never loads a
//! stale entry. Entries are written to a temporary file and renamed into place, so a reader
//! never sees half a file.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Where compiled components are cached: `$ZERO_STORAGE_CACHE`, else `$XDG_CACHE_HOME/zero-storage`,
/// else `$HOME/.cache/zero-storage`.
pub fn default_cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("ZERO_STORAGE_CACHE") {
        return Some(PathBuf::from(dir));
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))?;
    Some(base.join("zero-storage"))
}

/// Compiles `wasm`, or loads it from `cache_dir` if it was compiled before.
pub fn load_component(engine: &Engine, wasm: &[u8], cache_dir: Option<&Path>) -> wasmtime::Result<Component> {
    let Some(dir) = cache_dir else {
        return Component::new(engine, wasm);
    };
    let path = dir.join(format!("{}.cwasm", cache_key(engine, wasm)));
    if path.exists() {
        // SAFETY: the file was written by `Component::serialize` with this exact engine
        // configuration (the key covers it) into the user's own cache directory, which is
        // trusted like the binary itself. If it cannot be loaded we recompile below.
        #[allow(unsafe_code)]
        if let Ok(component) = unsafe { Component::deserialize_file(engine, &path) } {
            return Ok(component);
        }
    }
    let component = Component::new(engine, wasm)?;
    // A cache that cannot be written only costs time on the next start.
    let _ = write_atomically(dir, &path, &component.serialize()?);
    Ok(component)
}

fn cache_key(engine: &Engine, wasm: &[u8]) -> String {
    let mut engine_hash = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut engine_hash);
    let mut hasher = Sha256::new();
    hasher.update(engine_hash.finish().to_le_bytes());
    hasher.update(env!("CARGO_PKG_VERSION"));
    hasher.update(wasm);
    hasher.finalize().iter().map(|byte| format!("{byte:02x}")).collect()
}

fn write_atomically(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let temp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&temp, bytes)?;
    std::fs::rename(&temp, path)
}
