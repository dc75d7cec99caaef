//! The `zero-storage` command line, run as a user would type it.

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use zero_storage::backend::FsBackend;
use zero_storage_tests::{binary, cache_dir, guest};

struct Cli {
    data: tempfile::TempDir,
}

impl Cli {
    fn new() -> Self {
        Cli { data: tempfile::tempdir().unwrap() }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(binary());
        // `--data` goes first: anything after an app's path for `run` belongs to the app.
        command.arg("--data").arg(self.data.path()).args(args).env("ZERO_STORAGE_CACHE", cache_dir());
        command
            .env_remove("ZERO_STORAGE_DATA")
            .env_remove("ZERO_STORAGE_CONFIG")
            .env_remove("ZERO_STORAGE_LOCK_WAIT_SECS");
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    fn run_with_stdin(&self, args: &[&str], stdin: &[u8]) -> Output {
        let mut child =
            self.command(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        child.stdin.take().unwrap().write_all(stdin).unwrap();
        child.wait_with_output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "{args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn set_get_delete_round_trip_and_survive_a_restart() {
    let cli = Cli::new();
    cli.ok(&["set", "greeting", "hello"]);
    assert_eq!(cli.ok(&["get", "greeting"]), "hello", "get prints the bytes exactly, no newline");
    // Global options are accepted after the subcommand too.
    let out = Command::new(binary())
        .args(["get", "greeting", "--data"])
        .arg(cli.data.path())
        .env("ZERO_STORAGE_CACHE", cache_dir())
        .output()
        .unwrap();
    assert_eq!(out.stdout, b"hello");
    assert_eq!(cli.ok(&["delete", "greeting"]).trim(), "deleted");
    assert_eq!(cli.ok(&["delete", "greeting"]).trim(), "not found");
}

#[test]
fn a_missing_key_exits_with_code_3_and_one_line_on_stderr() {
    let cli = Cli::new();
    let out = cli.run(&["get", "nope"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(out.stdout.is_empty());
    let message = stderr(&out);
    assert_eq!(message.lines().count(), 1, "{message}");
    assert!(message.contains("not found"), "{message}");
}

#[test]
fn values_from_stdin_are_binary_safe_and_oversized_ones_are_refused() {
    let cli = Cli::new();
    let bytes: Vec<u8> = (0..=255).cycle().take(70_000).collect();
    let out = cli.run_with_stdin(&["set", "blob", "--ns", "app:files"], &bytes);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(cli.run(&["get", "blob", "--ns", "app:files"]).stdout, bytes);
    let out = cli.run_with_stdin(&["set", "huge", "--ns", "app:files"], &vec![0; (1 << 20) + 1]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("value too large"), "{}", stderr(&out));
}

#[test]
fn list_pages_with_cursors_all_and_json() {
    let cli = Cli::new();
    for key in ["b", "a", "c", "d"] {
        cli.ok(&["set", key, "v", "--ns", "user:alice"]);
    }
    let out = cli.run(&["list", "--ns", "user:alice", "--limit", "2"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "a\nb\n");
    let hint = stderr(&out);
    let cursor = hint.split("--cursor ").nth(1).expect("a cursor hint on stderr").trim().to_owned();
    assert_eq!(cli.ok(&["list", "--ns", "user:alice", "--limit", "2", "--cursor", &cursor]), "c\nd\n");
    assert_eq!(cli.ok(&["list", "--ns", "user:alice", "--limit", "1", "--all"]), "a\nb\nc\nd\n");
    let json: serde_json::Value =
        serde_json::from_str(&cli.ok(&["list", "--ns", "user:alice", "--json", "--limit", "3"])).unwrap();
    assert_eq!(json["keys"], serde_json::json!(["a", "b", "c"]));
    assert!(json["next_cursor"].is_string());
    assert_eq!(cli.ok(&["list", "--prefix", "c", "--ns", "user:alice"]), "c\n");
    let out = cli.run(&["list", "--cursor", "bogus"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("cursor is malformed"), "{}", stderr(&out));
}

#[test]
fn ttl_quota_and_usage_report_what_is_stored() {
    let cli = Cli::new();
    cli.ok(&["set", "k", "12345", "--ns", "app:notes"]);
    cli.ok(&["set", "t", "x", "--ttl", "3600", "--ns", "app:notes"]);
    let quota: serde_json::Value = serde_json::from_str(&cli.ok(&["quota", "--ns", "app:notes", "--json"])).unwrap();
    assert_eq!(quota[0]["used_bytes"], 8);
    assert_eq!(quota[0]["quota_bytes"], 10 << 20);
    let table = cli.ok(&["usage"]);
    assert!(table.lines().next().unwrap().contains("% USED"), "{table}");
    let notes = table.lines().find(|line| line.starts_with("app:notes")).expect("a row for app:notes");
    assert!(notes.contains("8 B") && notes.contains("10.0 MiB") && notes.contains("0.0%"), "{notes}");
    assert!(table.lines().any(|line| line.starts_with("system")), "{table}");
}

#[test]
fn user_mistakes_get_one_clear_line_and_no_panic() {
    let cli = Cli::new();
    for (args, needle) in [
        (vec!["set", "x", "y", "--ns", "app:a:b"], "not a valid name"),
        (vec!["set", "x", "y", "--ns", "nowhere"], "not a namespace"),
        (vec!["set", &"k".repeat(300), "y"], "key too long"),
        (vec!["list", "--limit", "0"], "--limit must be between 1 and 1000"),
        (vec!["run", "--app", "x", "/nonexistent.wasm"], "cannot read /nonexistent.wasm"),
        (vec!["get", "k", "--config", "/nonexistent.toml"], "cannot read config file"),
    ] {
        let out = cli.run(&args);
        let message = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {message}");
        assert!(message.contains(needle), "{args:?}: {message}");
        assert!(!message.contains("panicked") && !message.contains("RUST_BACKTRACE"), "{message}");
    }
}

#[test]
fn eight_parallel_set_loops_on_one_data_directory_all_succeed() {
    let cli = Cli::new();
    // Each command holds the directory for its whole life; the others wait their turn (with the
    // default lock wait) instead of failing.
    let failures: Vec<String> = std::thread::scope(|scope| {
        let loops: Vec<_> = (0..8)
            .map(|l| {
                let cli = &cli;
                scope.spawn(move || {
                    let mut failures = Vec::new();
                    for i in 0..10 {
                        let key = format!("loop{l}/key{i}");
                        let out = cli.run(&["set", &key, &format!("value {l} {i}")]);
                        if !out.status.success() {
                            failures.push(format!("set {key}: {}", stderr(&out)));
                        }
                    }
                    failures
                })
            })
            .collect();
        loops.into_iter().flat_map(|handle| handle.join().unwrap()).collect()
    });
    assert!(failures.is_empty(), "{} of 80 commands failed:\n{}", failures.len(), failures.join("\n"));
    let mut expected: Vec<String> = (0..8).flat_map(|l| (0..10).map(move |i| format!("loop{l}/key{i}"))).collect();
    expected.sort();
    assert_eq!(cli.ok(&["list", "--all"]).lines().collect::<Vec<_>>(), expected);
    let usage: serde_json::Value = serde_json::from_str(&cli.ok(&["usage", "--json"])).unwrap();
    let system = usage.as_array().unwrap().iter().find(|row| row["namespace"] == "system").expect("a system row");
    assert_eq!(system["key_count"], 80, "{usage}");
}

#[test]
fn a_command_gives_up_after_the_lock_wait_while_a_run_holds_the_directory() {
    let cli = Cli::new();
    let spin = guest("spin-forever");
    // The holder runs an app that never ends (until the default 60 s app timeout), keeping the
    // directory open for longer than the command below waits.
    let mut holder =
        cli.command(&["run", "--app", "spin", spin.to_str().unwrap()]).stdout(Stdio::null()).spawn().unwrap();
    // Until the holder has the directory, this probe can open it (and the holder waits for the
    // probe to let go); redb's lock is on the open file, so the probe sees the other process's.
    let started = Instant::now();
    loop {
        if let Some(status) = holder.try_wait().unwrap() {
            panic!("the holder ended early: {status}");
        }
        match FsBackend::open(cli.data.path()) {
            Err(error) if error.to_string().contains("in use") => break,
            Err(error) => panic!("{error}"),
            Ok(probe) => drop(probe),
        }
        assert!(started.elapsed() < Duration::from_secs(50), "the holder never opened the directory");
        std::thread::sleep(Duration::from_millis(20));
    }
    let asked = Instant::now();
    let out = cli.command(&["set", "k", "v"]).env("ZERO_STORAGE_LOCK_WAIT_SECS", "1").output().unwrap();
    let took = asked.elapsed();
    let holder_was_alive = holder.try_wait().unwrap().is_none();
    holder.kill().unwrap();
    holder.wait().unwrap();
    assert!(holder_was_alive, "the holder must hold the directory for the whole wait");
    let message = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{message}");
    assert_eq!(message.lines().count(), 1, "{message}");
    for needle in ["is in use by another zero-storage process", "waited 1s", "`zero-storage run`", "--data"] {
        assert!(message.contains(needle), "{needle:?} in {message}");
    }
    // It waited, and it stopped: not a performance bound, a check that the wait is honoured.
    assert!(took >= Duration::from_secs(1) && took < Duration::from_secs(30), "refused after {took:?}");
    assert_eq!(cli.run(&["get", "k"]).status.code(), Some(3), "the refused set wrote nothing");
    cli.ok(&["set", "k", "v"]);
    assert_eq!(cli.ok(&["get", "k"]), "v", "usable again once the holder is gone");
}

#[test]
fn a_command_waits_for_a_holder_that_lets_go_within_the_lock_wait() {
    let cli = Cli::new();
    // The test process holds the directory, as another zero-storage process would.
    let holder = FsBackend::open(cli.data.path()).unwrap();
    let waiting = cli
        .command(&["set", "k", "v"])
        .env("ZERO_STORAGE_LOCK_WAIT_SECS", "30")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(1));
    drop(holder);
    let out = waiting.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(out.stderr.is_empty(), "{}", stderr(&out));
    assert_eq!(cli.ok(&["get", "k"]), "v");
}

#[test]
fn run_serves_an_app_its_namespace_and_returns_its_exit_code() {
    let cli = Cli::new();
    let notes = guest("notes");
    let notes = notes.to_str().unwrap();
    assert_eq!(cli.ok(&["run", "--app", "notes", notes, "add", "n1", "buy", "milk"]).trim(), "saved n1");
    assert_eq!(cli.ok(&["run", "--app", "notes", notes, "ls"]), "n1\n");
    assert_eq!(cli.ok(&["get", "note/n1", "--ns", "app:notes"]), "buy milk");
    assert_eq!(
        cli.ok(&["run", "--app", "notes", "--user", "alice", notes, "add", "p", "private", "--mine"]).trim(),
        "saved p"
    );
    assert_eq!(cli.ok(&["get", "note/p", "--ns", "user:alice"]), "private");
    let out = cli.run(&["run", "--app", "notes", notes, "show", "nothing"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("not found"));
    let evil = guest("forbidden-backend");
    let out = cli.run(&["run", "--app", "evil", evil.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("only the storage component may use"), "{}", stderr(&out));
}

#[test]
fn compose_writes_an_app_that_run_accepts_as_already_composed() {
    let cli = Cli::new();
    let composed = cli.data.path().join("notes-composed.wasm");
    let storage = cli.data.path().join("storage.wasm");
    cli.ok(&["compose", guest("notes").to_str().unwrap(), "--output", composed.to_str().unwrap()]);
    cli.ok(&["component", "-o", storage.to_str().unwrap()]);
    assert_eq!(std::fs::read(&storage).unwrap(), zero_storage::STORAGE_COMPONENT);
    let composed = composed.to_str().unwrap();
    assert_eq!(cli.ok(&["run", "--app", "notes", composed, "add", "c", "composed"]).trim(), "saved c");
    assert_eq!(cli.ok(&["get", "note/c", "--ns", "app:notes"]), "composed");
}

#[test]
fn run_serves_wasi_keyvalue_guests_of_both_versions() {
    let cli = Cli::new();
    for name in ["kv-draft2", "kv-draft"] {
        let wasm = guest(name);
        let out = cli.run(&["run", "--app", name, "--user", "alice", wasm.to_str().unwrap()]);
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        assert!(String::from_utf8_lossy(&out.stdout).contains("all checks passed"));
        assert_eq!(cli.ok(&["get", "n", "--ns", &format!("app:{name}")]), if name == "kv-draft" { "42" } else { "-3" });
    }
}
