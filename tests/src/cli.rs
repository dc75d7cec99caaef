//! The `zero-storage` binary run as a user would run it, for the CLI tests.

use std::ffi::OsStr;
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::{binary, cache_dir};

/// What one command printed and how it exited.
#[derive(Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Its standard output, byte for byte.
    pub stdout: Vec<u8>,
    /// Its standard error.
    pub stderr: String,
    /// Its exit code (`None` if a signal ended it).
    pub code: Option<i32>,
}

impl From<Output> for Outcome {
    fn from(out: Output) -> Self {
        Outcome {
            stdout: out.stdout,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            code: out.status.code(),
        }
    }
}

/// No environment variables to add.
pub const NO_ENV: &[(&str, &str)] = &[];

/// `zero-storage --data DATA ARGS`, with none of the caller's `ZERO_STORAGE_*` settings but
/// the test's compile cache, plus `env`.
pub fn command<V: AsRef<OsStr>>(data: &Path, args: &[&str], env: &[(&str, V)]) -> Command {
    let mut command = Command::new(binary());
    command.arg("--data").arg(data).args(args).env("ZERO_STORAGE_CACHE", cache_dir());
    for name in ["ZERO_STORAGE_DATA", "ZERO_STORAGE_CONFIG", "ZERO_STORAGE_LOCK_WAIT_SECS", "ZERO_STORAGE_CONNECT"] {
        command.env_remove(name);
    }
    command.envs(env.iter().map(|(name, value)| (name, value.as_ref())));
    command
}

/// Runs [`command`] with `stdin` as its standard input, and waits for it.
pub fn run<V: AsRef<OsStr>>(data: &Path, args: &[&str], stdin: &[u8], env: &[(&str, V)]) -> Outcome {
    let mut child = command(data, args, env)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start zero-storage");
    // A command that does not read stdin may exit before taking it all.
    let _ = child.stdin.take().unwrap().write_all(stdin);
    child.wait_with_output().unwrap().into()
}
