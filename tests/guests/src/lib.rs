//! App components for the integration tests; each binary in `src/bin` is one component. What
//! they share lives here: the bindings of the `zero:storage/app` world and the `check!` macro.

/// Generated bindings of `zero:storage/app`; their canonical-ABI glue is `unsafe` by nature, the
/// guests' code is not.
#[allow(unsafe_code, missing_docs)]
mod bindings {
    wit_bindgen::generate!({ path: "../../wit", world: "zero:storage/app", additional_derives: [PartialEq] });
}
pub use bindings::zero;

/// Exits the guest with status 10 and names the failed condition (and the guest and line) on
/// stderr when `$cond` is false: the host test sees a non-zero exit and the message.
#[macro_export]
macro_rules! check {
    ($cond:expr) => {
        if !$cond {
            eprintln!("{}: check failed at line {}: {}", env!("CARGO_BIN_NAME"), line!(), stringify!($cond));
            std::process::exit(10);
        }
    };
}
