//! # Zero Storage component
//!
//! Every storage rule of Zero Storage — key and value limits, namespaces and access, exact quota
//! accounting, time to live, ordered listing with cursors — as plain Rust over a small
//! [`backend::BackendImport`] trait. Built for `wasm32-wasip2`, the `bindings` glue exports it as the
//! WIT world `zero:storage/storage` and serves the trait with the host's `backend` import;
//! built natively, the same logic is unit-tested and shared with the host (limits, namespace
//! names).

mod atomic;
pub mod backend;
pub mod cursor;
mod engine;
mod error;
pub mod layout;
pub mod limits;
pub mod namespace;
mod storage;
mod write_cache;

#[cfg(target_arch = "wasm32")]
mod bindings;

/// The component's allocator. Each call allocates its arguments (the canonical ABI lowers every
/// list and string into a fresh allocation), the backend's answers and the keys it builds, and
/// frees them on return; with the standard library's dlmalloc that was a quarter of a `set`.
/// Talc grows the memory only as far as an allocation needs, like dlmalloc, and the instance
/// is single-threaded, which its cell requires.
#[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use atomic::{Precondition, Versioned, Write};
pub use error::{Error, Result};
pub use storage::{ListPage, OpenNamespace, QuotaInfo, Storage};
