//! `zero-storage export` and `import`: dumps round-trip through the command line, with the
//! backend opened by each command and through a running Storage Service, and every step prints
//! and exits the same both ways: the summary line on stderr (and nothing else while stderr is
//! not a terminal), binary values, stdin, `--replace`, `--merge`, `--dry-run`, and the refusals.

use std::path::{Path, PathBuf};

use zero_storage::dump::{ExportOptions, export};
use zero_storage::{ProcessIdentity, RuntimeBuilder};
use zero_storage_tests::cli::{NO_ENV, Outcome, run};
use zero_storage_tests::daemon::Daemon;

/// Where one side's commands go: a data directory opened by each command, or one a running
/// service holds.
struct Side {
    data: PathBuf,
    /// Files the commands read and write; named `DIR` when outcomes are compared.
    files: tempfile::TempDir,
    /// The temporary directory the commands are given (TMPDIR), to check they leave it empty.
    tmp: tempfile::TempDir,
    service: Option<Daemon>,
    _dir: Option<tempfile::TempDir>,
}

impl Side {
    fn local() -> Side {
        let dir = tempfile::tempdir().unwrap();
        Side { data: dir.path().join("data"), files: dir_(), tmp: dir_(), service: None, _dir: Some(dir) }
    }

    fn service() -> Side {
        let service = Daemon::start("fs");
        Side {
            data: service.socket.parent().unwrap().to_owned(),
            files: dir_(),
            tmp: dir_(),
            service: Some(service),
            _dir: None,
        }
    }

    fn file(&self, name: &str) -> PathBuf {
        self.files.path().join(name)
    }

    /// Runs `args`; `DIR` in an argument is this side's directory of files.
    fn run(&self, args: &[&str], stdin: &[u8]) -> Outcome {
        let dir = self.files.path().to_str().unwrap();
        let args: Vec<String> = args.iter().map(|arg| arg.replace("DIR", dir)).collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        // No lock wait with a service: a command that opened the directory instead of asking the
        // service would fail at once, since the service holds it.
        let lock_wait = if self.service.is_some() { "0" } else { "10" };
        let mut out = run(
            &self.data,
            &args,
            stdin,
            &[("ZERO_STORAGE_LOCK_WAIT_SECS", Path::new(lock_wait)), ("TMPDIR", self.tmp.path())],
        );
        out.stderr = out.stderr.replace(dir, "DIR");
        assert!(
            std::fs::read_dir(self.tmp.path()).unwrap().next().is_none(),
            "`{}` left a temporary file",
            args.join(" ")
        );
        out
    }
}

fn dir_() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// The same commands on two sides, which must print and exit the same.
struct Pair {
    local: Side,
    service: Side,
}

impl Pair {
    fn new() -> Pair {
        Pair { local: Side::local(), service: Side::service() }
    }

    /// Runs `args` on both sides; returns what they did, once checked to be the same. A dump
    /// on stdout is compared by its records: its header and trailer hold the export's time.
    fn same(&self, args: &[&str], stdin: &[u8]) -> Outcome {
        let mut local = self.local.run(args, stdin);
        let mut service = self.service.run(args, stdin);
        if args.first() == Some(&"export") && !args.contains(&"-o") && local.code == Some(0) {
            assert_eq!(records(&local.stdout), records(&service.stdout), "`{}`: the dumps differ", args.join(" "));
            local.stdout.clear();
            service.stdout.clear();
        }
        assert_eq!(local, service, "`zero-storage {}` differs through the service", args.join(" "));
        local
    }

    /// Each side's file `name`, read.
    fn files(&self, name: &str) -> [Vec<u8>; 2] {
        [&self.local, &self.service].map(|side| std::fs::read(side.file(name)).unwrap())
    }
}

/// A dump's record lines as JSON, with each `expires_at_ms` (a time of the export) replaced by
/// whether there was one.
fn records(dump: &[u8]) -> Vec<serde_json::Value> {
    let text = std::str::from_utf8(dump).expect("a dump is UTF-8");
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() >= 2, "a dump has a header and a trailer: {text}");
    assert!(lines[0].starts_with(r#"{"format":"zero-storage-dump","version":1,"#), "{}", lines[0]);
    assert!(lines[lines.len() - 1].starts_with(r#"{"trailer":true,"#), "{}", lines[lines.len() - 1]);
    lines[1..lines.len() - 1]
        .iter()
        .map(|line| {
            let mut record: serde_json::Value = serde_json::from_str(line).unwrap();
            if let Some(expiry) = record.get_mut("expires_at_ms") {
                *expiry = serde_json::Value::Bool(expiry.is_u64());
            }
            record
        })
        .collect()
}

/// One line, ending with a newline: the summary, and no progress before it.
fn one_line(out: &Outcome) -> &str {
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(out.stderr.matches('\n').count(), 1, "one line on stderr: {:?}", out.stderr);
    assert!(!out.stderr.contains('\r'), "no progress redrawn: {:?}", out.stderr);
    out.stderr.trim_end()
}

/// Bytes of every value, the way `set` reads them from stdin.
fn binary_value() -> Vec<u8> {
    (0..=255u8).cycle().take(5000).collect()
}

#[test]
fn export_then_import_round_trips_the_same_way_locally_and_through_a_service() {
    let source = Pair::new();
    let binary = binary_value();
    source.same(&["set", "greeting", "hello", "--ns", "app:notes"], b"");
    source.same(&["set", "blob", "--ns", "app:notes"], &binary);
    source.same(&["set", "session", "x", "--ttl", "3600", "--ns", "app:notes"], b"");
    source.same(&["set", "theme", "dark", "--ns", "user:alice"], b"");
    source.same(&["set", "color", "blue"], b"");

    // The whole store to stdout, one namespace to a file.
    let all = source.same(&["export", "--all"], b"");
    assert_eq!(
        one_line(&all),
        "exported 5 entries (5043 bytes of keys and values) from 3 namespaces into a dump of 7379 bytes"
    );
    let notes = source.same(&["export", "--ns", "app:notes", "-o", "DIR/notes.jsonl"], b"");
    assert!(one_line(&notes).starts_with("exported 3 entries (5025 bytes of keys and values) from 1 namespace"));
    let [local, service] = source.files("notes.jsonl");
    assert_eq!(records(&local), records(&service));
    let keys: Vec<String> = records(&local).iter().map(|record| record["key"].as_str().unwrap().to_owned()).collect();
    assert_eq!(keys, ["blob", "greeting", "session"], "keys in byte order");
    for side in [&source.local, &source.service] {
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(side.file("notes.jsonl")).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o600, "a dump holds every namespace's data");
    }
    // Several --ns, one of them empty; an existing file is never overwritten.
    let two = source.same(&["export", "--ns", "user:alice", "--ns", "app:never", "--ns", "user:alice"], b"");
    assert!(one_line(&two).starts_with("exported 1 entry (9 bytes of keys and values) from 2 namespaces"), "{two:?}");
    let exists = source.same(&["export", "--all", "-o", "DIR/notes.jsonl"], b"");
    assert_eq!(exists.code, Some(1));
    assert_eq!(
        exists.stderr,
        "zero-storage: DIR/notes.jsonl already exists; export never overwrites a file: remove it first, or choose \
         another -o\n"
    );
    assert_eq!(source.files("notes.jsonl")[0], local, "the file is untouched");

    // Into empty stores: from a file, and from stdin.
    let target = Pair::new();
    for (side, from) in [(&target.local, &source.local), (&target.service, &source.service)] {
        std::fs::copy(from.file("notes.jsonl"), side.file("notes.jsonl")).unwrap();
    }
    let filled = target.same(&["import", "DIR/notes.jsonl"], b"");
    assert_eq!(one_line(&filled), "imported 3 entries (5025 bytes) into 1 namespace: app:notes (new)");
    assert_eq!(target.same(&["get", "blob", "--ns", "app:notes"], b"").stdout, binary);
    let dump = export_of(&source.local);
    let stdin = target.same(&["import", "-"], &dump);
    assert_eq!(stdin.code, Some(1), "app:notes holds data now: {stdin:?}");
    assert_eq!(
        stdin.stderr,
        "zero-storage: namespace `app:notes` already holds data; nothing was imported: add --replace to remove \
         its entries first, or --merge to keep them and let the dump's win\n"
    );
    assert_eq!(target.same(&["get", "theme", "--ns", "user:alice"], b"").code, Some(3), "nothing was written");

    target.same(&["set", "extra", "kept", "--ns", "app:notes"], b"");
    let dry = target.same(&["import", "--merge", "--dry-run"], &dump);
    assert_eq!(
        one_line(&dry),
        "would import 5 entries (5043 bytes) into 3 namespaces: app:notes (merged into 4, 3 overwritten), \
         system (new), user:alice (new)"
    );
    assert_eq!(target.same(&["get", "theme", "--ns", "user:alice"], b"").code, Some(3), "a dry run writes nothing");
    let merged = target.same(&["import", "--merge"], &dump);
    assert!(one_line(&merged).starts_with("imported 5 entries"), "{merged:?}");
    assert_eq!(target.same(&["get", "extra", "--ns", "app:notes"], b"").stdout, b"kept");
    assert_eq!(target.same(&["get", "theme", "--ns", "user:alice"], b"").stdout, b"dark");
    let replaced = target.same(&["import", "--replace", "DIR/notes.jsonl"], b"");
    assert_eq!(one_line(&replaced), "imported 3 entries (5025 bytes) into 1 namespace: app:notes (replaced 4)");
    assert_eq!(target.same(&["get", "extra", "--ns", "app:notes"], b"").code, Some(3), "replace removed it");
    assert_eq!(target.same(&["get", "session", "--ns", "app:notes"], b"").stdout, b"x", "its expiry came along");

    // The round trip is exact: the target's export has the source's records.
    assert_eq!(records(&export_of(&target.local)), records(&export_of(&source.local)));
    assert_eq!(records(&export_of(&target.service)), records(&export_of(&source.local)));
}

/// `export --all` of `side`, on stdout.
fn export_of(side: &Side) -> Vec<u8> {
    let out = side.run(&["export", "--all"], b"");
    assert_eq!(out.code, Some(0), "{out:?}");
    out.stdout
}

#[test]
fn a_truncated_or_damaged_dump_is_refused_and_changes_nothing() {
    let elsewhere = Side::local();
    elsewhere.run(&["set", "theme", "dark", "--ns", "user:alice"], b"");
    elsewhere.run(&["set", "k", "new", "--ns", "app:notes"], b"");
    let dump = export_of(&elsewhere);
    let pair = Pair::new();
    pair.same(&["set", "k", "old", "--ns", "app:notes"], b"");
    let before = pair.same(&["usage", "--json"], b"");
    let cut = &dump[..dump.len() - 20];
    let without_trailer: Vec<u8> = {
        let text = std::str::from_utf8(&dump).unwrap();
        text.lines().take(text.lines().count() - 1).flat_map(|line| format!("{line}\n").into_bytes()).collect()
    };
    let damaged = String::from_utf8(dump.clone()).unwrap().replace("bmV3", "b2xk").into_bytes();
    for (what, bytes, needle) in [
        ("cut in its trailer", cut.to_vec(), "truncated"),
        ("without its trailer", without_trailer, "truncated"),
        ("with a value changed", damaged, "checksum does not match"),
        ("empty", vec![], "empty"),
    ] {
        // Without a mode the import may be refused first because `app:notes` holds data (the
        // store is checked as the dump is read); in either mode, only for the dump's damage.
        let out = pair.same(&["import"], &bytes);
        assert_eq!(out.code, Some(1), "{what}: {out:?}");
        for mode in ["--replace", "--merge"] {
            let out = pair.same(&["import", mode], &bytes);
            assert_eq!(out.code, Some(1), "{what} {mode}: {out:?}");
            assert!(out.stderr.starts_with("zero-storage: line "), "{what}: names the line: {}", out.stderr);
            assert!(out.stderr.contains(needle), "{what}: {needle:?} in {}", out.stderr);
            assert_eq!(out.stderr.lines().count(), 1, "{what}: {}", out.stderr);
        }
    }
    assert_eq!(pair.same(&["usage", "--json"], b""), before, "nothing was written");
    assert_eq!(pair.same(&["get", "k", "--ns", "app:notes"], b"").stdout, b"old");
    // A dump that names a missing file.
    let missing = pair.same(&["import", "DIR/missing.jsonl"], b"");
    assert_eq!(missing.code, Some(1));
    assert!(missing.stderr.starts_with("zero-storage: cannot open the dump DIR/missing.jsonl: "), "{}", missing.stderr);
}

#[test]
fn export_needs_namespaces_or_all_and_a_failed_export_leaves_no_file() {
    let pair = Pair::new();
    let neither = pair.same(&["export"], b"");
    assert_eq!(neither.code, Some(2), "bad usage: {neither:?}");
    assert!(neither.stderr.contains("--ns <NS>|--all"), "{}", neither.stderr);
    assert_eq!(pair.same(&["export", "--all", "--ns", "system"], b"").code, Some(2));
    assert_eq!(pair.same(&["import", "--replace", "--merge"], b"").code, Some(2));
    let too_many: Vec<String> = (0..1001).map(|n| format!("app:a{n}")).collect();
    let mut args = vec!["export"];
    for ns in &too_many {
        args.extend(["--ns", ns]);
    }
    let out = pair.same(&args, b"");
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("at most 1000 times; use --all"), "{}", out.stderr);

    let bad = pair.same(&["export", "--ns", "app:a:b", "-o", "DIR/bad.jsonl"], b"");
    assert_eq!(bad.code, Some(1));
    assert!(bad.stderr.starts_with("zero-storage: namespace `app:a:b`: invalid argument"), "{}", bad.stderr);
    assert!(!pair.local.file("bad.jsonl").exists() && !pair.service.file("bad.jsonl").exists());
    let nowhere = pair.same(&["export", "--all", "-o", "DIR/no/such/dir.jsonl"], b"");
    assert_eq!(nowhere.code, Some(1));
    assert!(nowhere.stderr.starts_with("zero-storage: cannot create the dump DIR/no/such/dir.jsonl: "), "{nowhere:?}");
}

/// A dump of `count` entries in `user:big`, written by the library on a memory backend.
fn large_dump(count: usize) -> Vec<u8> {
    let runtime = RuntimeBuilder::new().instance_pool(None).build().unwrap();
    let mut process = runtime.process(ProcessIdentity::system("seed").unwrap()).unwrap();
    let mut bucket = process.bucket("user:big").unwrap();
    let entries: Vec<(String, Vec<u8>)> = (0..count).map(|n| (format!("key{n:06}"), vec![b'v'; 100])).collect();
    for batch in entries.chunks(1000) {
        bucket.set_many(batch, 0).unwrap();
    }
    let mut dump = Vec::new();
    export(&runtime, &mut dump, ExportOptions::default()).unwrap();
    dump
}

#[test]
fn a_large_import_and_export_print_only_their_summary_when_stderr_is_not_a_terminal() {
    let dump = large_dump(5000);
    let pair = Pair::new();
    let imported = pair.same(&["import"], &dump);
    assert_eq!(one_line(&imported), "imported 5000 entries (545000 bytes) into 1 namespace: user:big (new)");
    let exported = pair.same(&["export", "--ns", "user:big"], b"");
    assert!(one_line(&exported).starts_with("exported 5000 entries (545000 bytes of keys and values)"));
    assert_eq!(pair.same(&["quota", "--ns", "user:big", "--json"], b"").code, Some(0));
}

#[test]
fn the_memory_backend_exports_its_empty_store_and_imports_into_a_throwaway_one() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let memory = |args: &[&str], stdin: &[u8]| {
        let args: Vec<&str> = ["--backend", "memory"].into_iter().chain(args.iter().copied()).collect();
        run(&data, &args, stdin, NO_ENV)
    };
    let empty = memory(&["export", "--all"], b"");
    assert_eq!(
        one_line(&empty),
        "exported 0 entries (0 bytes of keys and values) from 0 namespaces into a dump of 256 bytes"
    );
    assert!(records(&empty.stdout).is_empty());
    let imported = memory(&["import", "--dry-run"], &large_dump(10));
    assert_eq!(one_line(&imported), "would import 10 entries (1090 bytes) into 1 namespace: user:big (new)");
    let imported = memory(&["import"], &empty.stdout);
    assert_eq!(one_line(&imported), "imported 0 entries (0 bytes) into 0 namespaces");
}
