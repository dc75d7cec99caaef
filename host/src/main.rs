//! The `zero-storage` command-line tool: administer namespaces and run app components.
//!
//! Exit codes: 0 success, 1 error, 2 bad usage, 3 key not found (`get` of a missing key), and an
//! app's own exit code for `run`.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
