//! A hostile app that never returns.

/// Generated bindings; their canonical-ABI glue is `unsafe` by nature, the code here is not.
#[allow(unsafe_code, missing_docs)]
mod bindings {
    wit_bindgen::generate!({ path: "../../wit", world: "zero:storage/app" });
}
use bindings::*;

fn main() {
    let _ = zero::storage::store::set("started", b"yes", 0);
    let mut n: u64 = 0;
    loop {
        n = std::hint::black_box(n.wrapping_add(1));
    }
}
