//! A hostile app that imports the backend interface to bypass namespaces and quotas.

/// Generated bindings; their canonical-ABI glue is `unsafe` by nature, the code here is not.
#[allow(unsafe_code, missing_docs)]
mod bindings {
    wit_bindgen::generate!({
        path: ["../../wit", "wit"],
        world: "test:guests/forbidden",
        generate_all,
    });
}
use bindings::*;

fn main() {
    // Try to read another app's data directly; the host must refuse to run this at all.
    let _ = zero::storage::backend::read("app:victim", &[zero::storage::backend::Query::Get(b"mkey".to_vec())]);
}
