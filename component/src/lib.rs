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

/// The canonical ABI's allocator: the host places every string and list it passes in, and every
/// answer of the component's own imports (`backend`, `identity`), with a call of this; the
/// component then frees them with [`ALLOCATOR`]. So it must allocate with `ALLOCATOR` too. (One
/// answer is freed by libc instead: wasi-libc reads the environment with `get-environment` and
/// frees the list with its own `free`. The storage instance's WASI context has no environment,
/// and an empty list frees nothing.) Rust's standard library and wasi-libc each define a
/// weak `cabi_realloc`, and which one the linker keeps depends on the order it meets them:
/// wasi-libc's allocates with its own `malloc`, and talc freeing memory it never handed out
/// corrupts its heap (a component built against the same libraries, `benches/records-floor`,
/// got wasi-libc's and trapped in talc within four calls). This strong definition wins over both.
///
/// # Safety
/// Called by the host only, as the canonical ABI specifies: `old_ptr` and `old_len` describe an
/// allocation this function made with `align` (or are 0), and `align` is a power of two.
#[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cabi_realloc(old_ptr: *mut u8, old_len: usize, align: usize, new_len: usize) -> *mut u8 {
    use std::alloc::{GlobalAlloc, Layout, handle_alloc_error};
    if new_len == 0 {
        // Nothing to place (the ABI never shrinks an allocation to nothing): any aligned,
        // non-null address will do, and nothing is allocated.
        return align as *mut u8;
    }
    let Ok(layout) = Layout::from_size_align(new_len, align) else { std::process::abort() };
    // SAFETY: the layout's size is not zero; a reallocation is of a block this function
    // allocated with `align` and `old_len` bytes, as the caller guarantees.
    let ptr = unsafe {
        if old_len == 0 {
            ALLOCATOR.alloc(layout)
        } else {
            ALLOCATOR.realloc(old_ptr, Layout::from_size_align_unchecked(old_len, align), new_len)
        }
    };
    if ptr.is_null() {
        handle_alloc_error(layout);
    }
    ptr
}

#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use atomic::{Precondition, Versioned, Write};
pub use error::{Error, Result};
pub use storage::{ListPage, OpenNamespace, QuotaInfo, Storage};
