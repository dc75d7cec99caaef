//! Backup and restore (`zero_storage::dump`): round trips on every backend, expiry, dumps that
//! are truncated, damaged, of another version or over a quota (refused, changing nothing),
//! the import modes, snapshots under concurrent writers, and a large export and import
//! measured for time and peak memory (`ZERO_DUMP_KEYS=1000000` for the full million).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Cursor};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use base64::Engine;
use zero_storage::backend::{
    Answer, Backend, BackendError, CommitResult, Condition, Entry, MemoryBackend, Mutation, Query, Snapshot,
};
use zero_storage::dump::{
    DumpError, ExportOptions, ImportMode, ImportOptions, NamespaceAction, Progress, Stage, export, import, verify,
};
use zero_storage::{Config, ManualClock, Process, ProcessIdentity, Runtime, Write};
use zero_storage_tests::{TestBackend, backends, read_all, runtime_with};

const NAMESPACES: [&str; 3] = ["app:notes", "system", "user:alice"];

/// Quotas no test reaches unless it means to.
fn roomy() -> Config {
    let mut config = Config::default();
    config.quotas.app = 1 << 30;
    config.quotas.user = 1 << 30;
    config.quotas.system = 1 << 30;
    config
}

fn admin(runtime: &Runtime) -> Process {
    runtime.process(ProcessIdentity::system("test").unwrap()).unwrap()
}

/// A 256-byte key of two-byte characters.
fn long_key() -> String {
    "é".repeat(128)
}

/// Fills the three namespaces with the awkward cases: every byte value, an empty value, a
/// 1 MiB value, a 256-byte key, keys JSON must escape, entries with a time to live, a batch.
fn fill(runtime: &Runtime) {
    let mut p = admin(runtime);
    let mut notes = p.bucket("app:notes").unwrap();
    notes.set("bytes", &(0..=255).collect::<Vec<u8>>(), 0).unwrap();
    notes.set("empty", b"", 0).unwrap();
    notes.set("big", &(0..1 << 20).map(|i| (i * 7 % 251) as u8).collect::<Vec<u8>>(), 0).unwrap();
    notes.set(&long_key(), b"long key", 0).unwrap();
    notes.set("quote\" back\\slash\nnew line\t\u{1}😀", b"escaped", 0).unwrap();
    notes.set("ttl-60", b"expires in a minute", 60).unwrap();
    notes.set("ttl-3600", b"expires in an hour", 3600).unwrap();
    drop(notes);
    let batch: Vec<(String, Vec<u8>)> = (0..50).map(|i| (format!("k{i:02}"), vec![i as u8; i * 3])).collect();
    p.bucket("user:alice").unwrap().set_many(&batch, 0).unwrap();
    p.set("config", b"{\"v\":1}", 0).unwrap();
}

/// Every live entry of `namespaces`, with each namespace's usage.
type State = BTreeMap<String, (BTreeMap<String, Vec<u8>>, u64, u64)>;

fn state(runtime: &Runtime, namespaces: &[&str]) -> State {
    let mut p = admin(runtime);
    namespaces
        .iter()
        .map(|ns| {
            let mut bucket = p.bucket(ns).unwrap();
            let entries = read_all(&mut bucket);
            let quota = bucket.quota().unwrap();
            (ns.to_string(), (entries, quota.used_bytes, quota.key_count))
        })
        .collect()
}

/// Every record of every namespace the backend holds, versions included: any write at all,
/// even one that changes no value, shows up here.
fn raw(backend: &dyn Backend) -> Vec<(String, Vec<Entry>)> {
    let everything = Query::Scan { start: Vec::new(), end: vec![0xff; 2], limit: u32::MAX, keys_only: false };
    backend
        .namespaces()
        .unwrap()
        .into_iter()
        .map(|ns| {
            let Some(Answer::Scanned(entries)) = backend.read(&ns, std::slice::from_ref(&everything)).unwrap().pop()
            else {
                panic!("a scan answered with something else")
            };
            (ns, entries)
        })
        .collect()
}

fn dump_of(runtime: &Runtime) -> Vec<u8> {
    let mut dump = Vec::new();
    export(runtime, &mut dump, ExportOptions::default()).expect("export");
    dump
}

fn import_with(
    runtime: &Runtime,
    dump: &[u8],
    mode: ImportMode,
) -> Result<zero_storage::dump::ImportSummary, DumpError> {
    import(runtime, Cursor::new(dump), ImportOptions { mode, ..Default::default() })
}

/// The dump's lines, parsed.
fn lines(dump: &[u8]) -> Vec<serde_json::Value> {
    dump.split(|&b| b == b'\n').filter(|l| !l.is_empty()).map(|l| serde_json::from_slice(l).unwrap()).collect()
}

fn decode(value: &serde_json::Value) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD.decode(value.as_str().unwrap()).unwrap()
}

/// Two backends of the same kind, each fresh.
fn pairs() -> Vec<(TestBackend, TestBackend)> {
    backends().into_iter().zip(backends()).collect()
}

#[test]
fn round_trip_restores_every_entry_byte_for_byte_on_every_backend() {
    for (from, to) in pairs() {
        let (source, _) = runtime_with(from.backend.clone(), roomy());
        fill(&source);
        let dump = dump_of(&source);
        let (target, clock) = runtime_with(to.backend.clone(), roomy());
        let summary = import_with(&target, &dump, ImportMode::OnlyEmpty).expect("import");
        assert_eq!(state(&target, &NAMESPACES), state(&source, &NAMESPACES), "{}", from.name);
        assert_eq!(summary.entries, 58, "{}: {summary}", from.name);
        assert!(summary.namespaces.iter().all(|ns| ns.action == NamespaceAction::Filled), "{}", from.name);
        // Expiry is absolute: the entries go when their time comes, not a whole TTL later.
        clock.advance_ms(60_000);
        let mut p = admin(&target);
        assert!(!p.bucket("app:notes").unwrap().exists("ttl-60").unwrap(), "{}", from.name);
        assert!(p.bucket("app:notes").unwrap().exists("ttl-3600").unwrap(), "{}", from.name);
        // A dump of the copy holds the same records, line for line.
        let again = dump_of(&target);
        let records =
            |dump: &[u8]| lines(dump)[1..].iter().filter(|l| l.get("key").is_some()).cloned().collect::<Vec<_>>();
        let mut expected = records(&dump);
        expected.retain(|record| record["key"] != "ttl-60");
        assert_eq!(records(&again), expected, "{}", from.name);
    }
}

#[test]
fn the_dump_is_json_lines_with_a_header_records_and_a_checksummed_trailer() {
    let (runtime, _) = runtime_with(Arc::new(MemoryBackend::new()), roomy());
    fill(&runtime);
    let dump = dump_of(&runtime);
    let lines = lines(&dump);
    let (header, trailer) = (&lines[0], &lines[lines.len() - 1]);
    assert_eq!(header["format"], "zero-storage-dump");
    assert_eq!(header["version"], 1);
    assert_eq!(header["namespaces"], serde_json::json!(NAMESPACES));
    assert_eq!(trailer["trailer"], true);
    assert_eq!(trailer["entries"], 58);
    let bytes = trailer["bytes"].as_u64().unwrap() as usize;
    use sha2_check::sha256_hex;
    assert_eq!(trailer["sha256"], sha256_hex(&dump[..bytes]), "the checksum covers every byte before the trailer");
    let bytes_record = lines.iter().find(|l| l["key"] == "bytes").unwrap();
    assert_eq!(decode(&bytes_record["value"]), (0..=255).collect::<Vec<u8>>());
    assert!(bytes_record.get("expires_at_ms").is_none(), "no expiry field for an entry that never expires");
    let ttl = lines.iter().find(|l| l["key"] == "ttl-60").unwrap();
    assert_eq!(ttl["expires_at_ms"], 1_700_000_000_000u64 + 60_000);
    let usage: u64 = lines[1..lines.len() - 1]
        .iter()
        .filter(|l| l["ns"] == "user:alice")
        .map(|l| (l["key"].as_str().unwrap().len() + decode(&l["value"]).len()) as u64)
        .sum();
    assert_eq!(trailer["namespaces"][2]["usage_bytes"], usage);
    let info = verify(Cursor::new(&dump)).expect("verify");
    assert_eq!((info.entries, info.bytes, info.version), (58, dump.len() as u64, 1));
}

/// SHA-256 for the checksum check, by `sha256sum`, so the test does not trust the code it checks.
mod sha2_check {
    pub fn sha256_hex(bytes: &[u8]) -> String {
        use std::io::Write;
        let mut child = std::process::Command::new("sha256sum")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("sha256sum (coreutils)");
        child.stdin.take().unwrap().write_all(bytes).unwrap();
        let out = child.wait_with_output().unwrap();
        String::from_utf8(out.stdout).unwrap().split_whitespace().next().unwrap().to_owned()
    }
}

#[test]
fn expired_entries_are_not_exported_and_entries_expiring_before_the_import_are_not_imported() {
    for (from, to) in pairs() {
        let (source, source_clock) = runtime_with(from.backend.clone(), roomy());
        let mut p = admin(&source);
        p.set("gone", b"x", 1).unwrap();
        p.set("soon", b"y", 10).unwrap();
        p.set("stays", b"z", 0).unwrap();
        source_clock.advance_ms(1000);
        let mut dump = Vec::new();
        let summary = export(&source, &mut dump, ExportOptions::default()).unwrap();
        assert_eq!((summary.entries, summary.expired), (2, 1), "{}: {summary}", from.name);
        assert!(!String::from_utf8_lossy(&dump).contains("\"gone\""), "{}", from.name);
        // The target's clock is 10 s past the source's start: `soon` expired in between.
        let (target, target_clock) = runtime_with(to.backend.clone(), roomy());
        target_clock.advance_ms(10_000);
        let summary = import_with(&target, &dump, ImportMode::OnlyEmpty).unwrap();
        assert_eq!((summary.entries, summary.expired), (1, 1), "{}: {summary}", from.name);
        let (entries, _, _) = &state(&target, &["system"])["system"];
        assert_eq!(entries.keys().collect::<Vec<_>>(), ["stays"], "{}", from.name);
    }
}

/// Imports `dump` into a store that already holds data and checks that it is refused with an
/// error accepted by `expected`, and that not one record changed.
fn assert_refused(runtime: &Runtime, dump: &[u8], mode: ImportMode, expected: impl Fn(&DumpError) -> bool) {
    let before = raw(runtime.backend().as_ref());
    match import_with(runtime, dump, mode) {
        Ok(summary) => panic!("a bad dump was imported: {summary}"),
        Err(error) => assert!(expected(&error), "unexpected error: {error}"),
    }
    assert_eq!(raw(runtime.backend().as_ref()), before, "a refused import changed the store");
}

/// A store that holds something in a namespace the dumps do not name, so "nothing changed"
/// is checked on a store that is not empty.
fn bystander(runtime: &Runtime) {
    admin(runtime).bucket("app:bystander").unwrap().set("keep", b"me", 0).unwrap();
}

#[test]
fn truncated_dumps_are_refused_with_the_line_and_change_nothing() {
    let (source, _) = runtime_with(Arc::new(MemoryBackend::new()), roomy());
    fill(&source);
    let dump = dump_of(&source);
    let line_starts: Vec<usize> =
        std::iter::once(0).chain(dump.iter().enumerate().filter(|(_, b)| **b == b'\n').map(|(i, _)| i + 1)).collect();
    for b in backends() {
        let (target, _) = runtime_with(b.backend.clone(), roomy());
        bystander(&target);
        assert_refused(&target, b"", ImportMode::Replace, |e| matches!(e, DumpError::Invalid { line: 1, .. }));
        // Cut at every line boundary: the last whole line is a record, not the trailer.
        for (index, &cut) in line_starts.iter().enumerate().skip(1).take(line_starts.len() - 2) {
            assert_refused(
                &target,
                &dump[..cut],
                ImportMode::Replace,
                |e| matches!(e, DumpError::Invalid { line, reason } if *line == index.max(2) as u64 && reason.contains("truncated")),
            );
        }
        // Cut inside lines, including inside the trailer.
        for cut in [10, line_starts[3] + 5, dump.len() / 2, dump.len() - 2] {
            assert_refused(
                &target,
                &dump[..cut],
                ImportMode::Replace,
                |e| matches!(e, DumpError::Invalid { reason, .. } if reason.contains("truncated")),
            );
        }
    }
}

#[test]
fn a_dump_with_any_one_bit_flipped_is_refused_and_changes_nothing() {
    let (source, _) = runtime_with(Arc::new(MemoryBackend::new()), roomy());
    let mut p = admin(&source);
    p.set("a", b"\x00\xff binary", 0).unwrap();
    p.bucket("user:alice").unwrap().set("b", b"two", 30).unwrap();
    let dump = dump_of(&source);
    for b in backends() {
        let (target, _) = runtime_with(b.backend.clone(), roomy());
        bystander(&target);
        let before = raw(target.backend().as_ref());
        // Every bit on memory; every 7th on the slower backends.
        let step = if b.name == "memory" { 1 } else { 7 };
        for bit in (0..dump.len() * 8).step_by(step) {
            let mut damaged = dump.clone();
            damaged[bit / 8] ^= 1 << (bit % 8);
            if let Ok(summary) = import_with(&target, &damaged, ImportMode::Merge) {
                panic!("{}: the dump with bit {bit} flipped was imported: {summary}", b.name);
            }
        }
        assert_eq!(raw(target.backend().as_ref()), before, "{}: a refused import changed the store", b.name);
    }
}

#[test]
fn a_dump_of_another_version_or_format_is_refused() {
    let (source, _) = runtime_with(Arc::new(MemoryBackend::new()), roomy());
    fill(&source);
    let dump = String::from_utf8(dump_of(&source)).unwrap();
    let (target, _) = runtime_with(Arc::new(MemoryBackend::new()), roomy());
    bystander(&target);
    let newer = dump.replacen("\"version\":1", "\"version\":2,\"new_field\":true", 1);
    assert_refused(&target, newer.as_bytes(), ImportMode::Replace, |e| {
        matches!(e, DumpError::UnsupportedVersion { found: 2 }) && e.to_string().contains("reads version 1")
    });
    let other = dump.replacen("zero-storage-dump", "something-else", 1);
    assert_refused(
        &target,
        other.as_bytes(),
        ImportMode::Replace,
        |e| matches!(e, DumpError::Invalid { line: 1, reason } if reason.contains("not a Zero Storage dump")),
    );
    assert_refused(&target, b"PK\x03\x04 a zip file\n", ImportMode::Replace, |e| {
        matches!(e, DumpError::Invalid { line: 1, .. })
    });
}

#[test]
fn a_dump_over_a_quota_is_refused_naming_the_namespace_and_changes_nothing() {
    let (source, _) = runtime_with(Arc::new(MemoryBackend::new()), roomy());
    let batch: Vec<(String, Vec<u8>)> = (0..100).map(|i| (format!("k{i:03}"), vec![7; 96])).collect();
    admin(&source).bucket("app:notes").unwrap().set_many(&batch, 0).unwrap(); // 10,000 bytes
    let dump = dump_of(&source);
    for b in backends() {
        let mut config = roomy();
        config.quotas.namespaces.insert("app:notes".into(), 9_999);
        let (target, _) = runtime_with(b.backend.clone(), config);
        bystander(&target);
        assert_refused(&target, &dump, ImportMode::OnlyEmpty, |e| {
            matches!(e, DumpError::OverQuota { namespace, needed: 10_000, quota: 9_999, first_line: 2, last_line: 101 }
                if namespace == "app:notes")
        });
        // Merged into what is there, it would not fit either; replacing it, it still does not.
        admin(&target).bucket("app:notes").unwrap().set("other", &[0; 100], 0).unwrap();
        assert_refused(&target, &dump, ImportMode::Merge, |e| matches!(e, DumpError::OverQuota { needed: 10_105, .. }));
        assert_refused(&target, &dump, ImportMode::Replace, |e| {
            matches!(e, DumpError::OverQuota { needed: 10_000, .. })
        });
    }
}

#[test]
fn merge_writes_shrinking_entries_first_so_usage_never_passes_the_quota_midway() {
    // Stored: 1,000 entries of 100 bytes (100,000, the quota). The dump shrinks each to 10
    // bytes and adds 1,000 new ones of 50 that sort first: 60,000 afterwards. Written in the
    // dump's order, the first batch alone would need 150,000.
    let batch = |prefix: &str, value: usize| -> Vec<(String, Vec<u8>)> {
        (0..1000).map(|i| (format!("{prefix}{i:04}"), vec![3; value])).collect()
    };
    let dump = {
        let (source, _) = runtime_with(Arc::new(MemoryBackend::new()), roomy());
        let mut p = admin(&source);
        p.bucket("app:notes").unwrap().set_many(&batch("a", 45), 0).unwrap();
        p.bucket("app:notes").unwrap().set_many(&batch("z", 5), 0).unwrap();
        dump_of(&source)
    };
    for b in backends() {
        let mut config = roomy();
        config.quotas.namespaces.insert("app:notes".into(), 100_000);
        let (runtime, _) = runtime_with(b.backend.clone(), config);
        admin(&runtime).bucket("app:notes").unwrap().set_many(&batch("z", 95), 0).unwrap();
        let summary = import_with(&runtime, &dump, ImportMode::Merge).unwrap_or_else(|e| panic!("{}: {e}", b.name));
        assert_eq!(
            summary.namespaces[0].action,
            NamespaceAction::Merged { existing: 1000, overwritten: 1000 },
            "{}",
            b.name
        );
        let (entries, used, count) = &state(&runtime, &["app:notes"])["app:notes"];
        assert_eq!((*used, *count), (60_000, 2000), "{}", b.name);
        assert!(entries.iter().all(|(k, v)| v.len() == if k.starts_with('a') { 45 } else { 5 }), "{}", b.name);
    }
    // Over the quota after the merge, it is refused before anything is written.
    let mut tight = roomy();
    tight.quotas.namespaces.insert("app:notes".into(), 59_999);
    let (runtime, _) = runtime_with(Arc::new(MemoryBackend::new()), tight);
    admin(&runtime).bucket("app:notes").unwrap().set_many(&batch("z", 50), 0).unwrap();
    assert_refused(&runtime, &dump, ImportMode::Merge, |e| matches!(e, DumpError::OverQuota { needed: 60_000, .. }));
}

#[test]
fn a_namespace_holding_data_is_refused_without_a_mode_replaced_or_merged_with_one() {
    let (source, _) = runtime_with(Arc::new(MemoryBackend::new()), roomy());
    let mut p = admin(&source);
    let mut notes = p.bucket("app:notes").unwrap();
    notes.set("shared", b"from the dump", 0).unwrap();
    notes.set("dump-only", b"d", 0).unwrap();
    drop(notes);
    let dump = dump_of(&source);
    for b in backends() {
        let (target, _) = runtime_with(b.backend.clone(), roomy());
        let setup = || {
            let mut p = admin(&target);
            let mut notes = p.bucket("app:notes").unwrap();
            notes.set("shared", b"old", 0).unwrap();
            notes.set("target-only", b"t", 0).unwrap();
        };
        setup();
        assert_refused(&target, &dump, ImportMode::OnlyEmpty, |e| {
            matches!(e, DumpError::NotEmpty { namespace } if namespace == "app:notes")
                && e.to_string().contains("replace")
        });

        let merged = import_with(&target, &dump, ImportMode::Merge).unwrap();
        assert_eq!(merged.namespaces[0].action, NamespaceAction::Merged { existing: 2, overwritten: 1 }, "{}", b.name);
        let (entries, _, _) = &state(&target, &["app:notes"])["app:notes"];
        let expected: BTreeMap<String, Vec<u8>> =
            [("dump-only", &b"d"[..]), ("shared", b"from the dump"), ("target-only", b"t")]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_vec()))
                .collect();
        assert_eq!(entries, &expected, "{}: merge keeps the target's entries, the dump's win", b.name);

        setup();
        let replaced = import_with(&target, &dump, ImportMode::Replace).unwrap();
        assert_eq!(replaced.namespaces[0].action, NamespaceAction::Replaced { removed: 3 }, "{}", b.name);
        assert_eq!(
            state(&target, &["app:notes"]),
            state(&source, &["app:notes"]),
            "{}: replace leaves the dump's",
            b.name
        );
        assert!(replaced.to_string().contains("app:notes (replaced 3)"), "{replaced}");
    }
}

#[test]
fn a_dry_run_checks_everything_and_writes_nothing() {
    let (source, _) = runtime_with(Arc::new(MemoryBackend::new()), roomy());
    fill(&source);
    let dump = dump_of(&source);
    let (target, _) = runtime_with(Arc::new(MemoryBackend::new()), roomy());
    admin(&target).bucket("user:alice").unwrap().set("k00", b"old", 0).unwrap();
    let before = raw(target.backend().as_ref());
    let options = ImportOptions { mode: ImportMode::Merge, dry_run: true, ..Default::default() };
    let summary = import(&target, Cursor::new(&dump), options).unwrap();
    assert!(summary.dry_run && summary.entries == 58, "{summary}");
    assert_eq!(summary.namespaces[2].action, NamespaceAction::Merged { existing: 1, overwritten: 1 });
    assert!(summary.to_string().starts_with("would import 58 entries"), "{summary}");
    assert_eq!(raw(target.backend().as_ref()), before);
}

#[test]
fn progress_is_reported_for_every_stage_with_totals_where_known() {
    let (source, _) = runtime_with(Arc::new(MemoryBackend::new()), roomy());
    let batch: Vec<(String, Vec<u8>)> = (0..1000).map(|i| (format!("k{i:04}"), vec![1; 10])).collect();
    let mut p = admin(&source);
    for chunk in 0..3 {
        let keys: Vec<(String, Vec<u8>)> = batch.iter().map(|(k, v)| (format!("{chunk}{k}"), v.clone())).collect();
        p.bucket("app:notes").unwrap().set_many(&keys, 0).unwrap();
    }
    let mut seen: Vec<Progress> = Vec::new();
    let mut dump = Vec::new();
    let mut record = |progress: &Progress| seen.push(*progress);
    export(&source, &mut dump, ExportOptions { progress: Some(&mut record), ..Default::default() }).unwrap();
    let last = seen.last().copied().unwrap();
    assert_eq!((last.stage, last.entries, last.total_entries), (Stage::Exporting, 3000, Some(3000)));
    let (target, _) = runtime_with(Arc::new(MemoryBackend::new()), roomy());
    admin(&target).bucket("app:notes").unwrap().set("old", b"x", 0).unwrap();
    seen.clear();
    let mut record = |progress: &Progress| seen.push(*progress);
    let options = ImportOptions { mode: ImportMode::Replace, progress: Some(&mut record), ..Default::default() };
    import(&target, Cursor::new(&dump), options).unwrap();
    assert!(seen.iter().any(|p| p.stage == Stage::Checking && p.total_bytes == Some(dump.len() as u64)));
    assert!(seen.iter().any(|p| p.stage == Stage::Clearing && p.entries == 1));
    let last = seen.last().copied().unwrap();
    assert_eq!((last.stage, last.entries, last.total_entries), (Stage::Writing, 3000, Some(3000)));
    assert_eq!(last.bytes, last.total_bytes.unwrap());
}

/// Writers that keep `left` and `right` of `app:pair` equal (with `set_many` and with
/// `transact`), among entries that come and go.
struct PairWriters {
    stop: Arc<AtomicBool>,
    rounds: Arc<AtomicU64>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl PairWriters {
    fn start(runtime: &Runtime) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let rounds = Arc::new(AtomicU64::new(0));
        let threads = (0..3)
            .map(|t| {
                let (runtime, stop, rounds) = (runtime.clone(), stop.clone(), rounds.clone());
                std::thread::spawn(move || {
                    let mut p = admin(&runtime);
                    let mut round = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        round += 1;
                        let value = format!("{t}-{round}").into_bytes();
                        let mut pair = p.bucket("app:pair").unwrap();
                        if round.is_multiple_of(2) {
                            pair.set_many(&[("left".into(), value.clone()), ("right".into(), value.clone())], 0)
                                .unwrap();
                        } else {
                            let set = |key: &str| Write::Set { key: key.into(), value: value.clone(), ttl_secs: 0 };
                            let filler = format!("filler-{}", round % 50);
                            let writes = [set("left"), set("right"), Write::Delete(filler.clone()), set(&filler)];
                            pair.transact(&[], &writes[..if round.is_multiple_of(3) { 3 } else { 4 }]).unwrap();
                        }
                        rounds.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        let writers = PairWriters { stop, rounds, threads };
        while writers.rounds() < 20 {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        writers
    }

    fn rounds(&self) -> u64 {
        self.rounds.load(Ordering::Relaxed)
    }

    fn stop(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        let rounds = self.rounds.clone();
        for thread in self.threads {
            thread.join().expect("writer");
        }
        rounds.load(Ordering::Relaxed)
    }
}

/// Exports `app:pair` and checks the dump: `left` equals `right`, and the usage in the summary
/// and the trailer is the sum of the records.
fn export_pair(runtime: &Runtime) -> Result<(), String> {
    let mut dump = Vec::new();
    let only_pair = ExportOptions { namespaces: vec!["app:pair".into()], ..Default::default() };
    let summary = export(runtime, &mut dump, only_pair).map_err(|e| e.to_string())?;
    let lines = lines(&dump);
    let value = |key: &str| lines.iter().find(|l| l["key"] == key).map(|l| decode(&l["value"]));
    if value("left").is_none() || value("left") != value("right") {
        return Err(format!("the dump shows a write half done: {:?} and {:?}", value("left"), value("right")));
    }
    let sum: u64 = lines[1..lines.len() - 1]
        .iter()
        .map(|l| (l["key"].as_str().unwrap().len() + decode(&l["value"]).len()) as u64)
        .sum();
    assert_eq!(summary.usage_bytes, sum);
    assert_eq!(lines[lines.len() - 1]["namespaces"][0]["usage_bytes"], sum);
    Ok(())
}

#[test]
fn an_export_while_writers_run_shows_each_namespace_at_one_instant() {
    for b in backends() {
        let (runtime, _) = runtime_with(b.backend.clone(), roomy());
        let writers = PairWriters::start(&runtime);
        // Exports go on until the writers wrote 100 times meanwhile.
        let during = writers.rounds() + 100;
        let mut exports = 0;
        while exports < 10 || writers.rounds() < during {
            exports += 1;
            export_pair(&runtime).unwrap_or_else(|e| panic!("{}: {e}", b.name));
        }
        let rounds = writers.stop();
        eprintln!("{}: {exports} exports while the writers made {rounds} writes", b.name);
    }
}

/// A backend whose "snapshot" reads the live state on every call: no snapshot at all.
struct Unfrozen(MemoryBackend);

struct Live<'b>(&'b MemoryBackend, String);

impl Snapshot for Live<'_> {
    fn read(&self, queries: &[Query]) -> Result<Vec<Answer>, BackendError> {
        self.0.read(&self.1, queries)
    }
}

impl Backend for Unfrozen {
    fn read(&self, namespace: &str, queries: &[Query]) -> Result<Vec<Answer>, BackendError> {
        self.0.read(namespace, queries)
    }
    fn commit(
        &self,
        ns: &str,
        conditions: &[Condition],
        mutations: Vec<Mutation<'_>>,
    ) -> Result<CommitResult, BackendError> {
        self.0.commit(ns, conditions, mutations)
    }
    fn namespaces(&self) -> Result<Vec<String>, BackendError> {
        self.0.namespaces()
    }
    fn snapshot(&self, namespace: &str) -> Result<Box<dyn Snapshot + '_>, BackendError> {
        Ok(Box::new(Live(&self.0, namespace.to_owned())))
    }
}

#[test]
fn an_export_over_reads_that_are_not_one_snapshot_is_caught() {
    // The check above is only worth something if a broken snapshot fails it.
    let (runtime, _) = runtime_with(Arc::new(Unfrozen(MemoryBackend::new())), roomy());
    let writers = PairWriters::start(&runtime);
    let started = Instant::now();
    let caught = loop {
        match export_pair(&runtime) {
            Err(why) => break why,
            Ok(()) if started.elapsed().as_secs() < 20 => continue,
            Ok(()) => panic!("20 s of exports over a backend without snapshots all looked consistent"),
        }
    };
    writers.stop();
    assert!(caught.contains("inconsistent") || caught.contains("half done"), "{caught}");
}

/// The memory backend, without its own snapshot: uses the trait's default.
struct Plain(MemoryBackend);

impl Backend for Plain {
    fn read(&self, namespace: &str, queries: &[Query]) -> Result<Vec<Answer>, BackendError> {
        self.0.read(namespace, queries)
    }
    fn commit(
        &self,
        ns: &str,
        conditions: &[Condition],
        mutations: Vec<Mutation<'_>>,
    ) -> Result<CommitResult, BackendError> {
        self.0.commit(ns, conditions, mutations)
    }
    fn namespaces(&self) -> Result<Vec<String>, BackendError> {
        self.0.namespaces()
    }
}

#[test]
fn a_snapshot_answers_every_read_from_the_moment_it_was_taken() {
    let mut all = backends();
    all.push(TestBackend { name: "default snapshot", backend: Arc::new(Plain(MemoryBackend::new())), dir: None });
    for b in all {
        let backend = b.backend.as_ref();
        let put = |key: &[u8], value: &[u8]| {
            let mutation = Mutation::Put(key.to_vec(), value.to_vec().into());
            assert!(matches!(backend.commit("app:snap", &[], vec![mutation]).unwrap(), CommitResult::Committed(_)));
        };
        put(b"a", b"1");
        put(b"b", b"1");
        let empty = backend.snapshot("app:never-written").unwrap();
        let snapshot = backend.snapshot("app:snap").unwrap();
        put(b"a", b"2");
        // A second overwrite after the snapshot: the memory backend may now reuse the value's
        // allocation in place, which must still leave the snapshot's value alone.
        put(b"a", b"3");
        put(b"c", b"new");
        backend.commit("app:snap", &[], vec![Mutation::Delete(b"b".to_vec())]).unwrap();
        let scan = Query::Scan { start: b"a".to_vec(), end: b"z".to_vec(), limit: 10, keys_only: false };
        for _ in 0..2 {
            let answers = snapshot.read(&[Query::Get(b"a".to_vec()), scan.clone()]).unwrap();
            let Answer::Got(Some(a)) = &answers[0] else { panic!("{}: a is gone from the snapshot", b.name) };
            assert_eq!(a.value, b"1", "{}", b.name);
            let Answer::Scanned(entries) = &answers[1] else { panic!("{}", b.name) };
            let keys: Vec<&[u8]> = entries.iter().map(|e| e.key.as_slice()).collect();
            assert_eq!(keys, [&b"a"[..], b"b"], "{}: the snapshot sees later commits", b.name);
        }
        let Answer::Scanned(now) = backend.read("app:snap", std::slice::from_ref(&scan)).unwrap().remove(0) else {
            panic!()
        };
        assert_eq!(now.len(), 2, "{}: reads outside the snapshot see the commits", b.name);
        assert_eq!(now[0].value, b"3", "{}: outside the snapshot, a has its last value", b.name);
        assert_eq!(empty.read(&[scan]).unwrap(), [Answer::Scanned(Vec::new())], "{}", b.name);
    }
}

/// The peak resident memory of this process since the last reset, and the current one, in KiB.
fn memory_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// Resets the peak that `VmHWM` reports to the current resident size.
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// A fresh backend of the kind `name`, with what keeps it alive.
fn fresh(name: &str) -> TestBackend {
    match name {
        "memory" => TestBackend { name: "memory", backend: Arc::new(MemoryBackend::new()), dir: None },
        "fs" => {
            let dir = tempfile::tempdir().unwrap();
            let backend = Arc::new(zero_storage::backend::FsBackend::open(dir.path()).unwrap());
            TestBackend { name: "fs", backend, dir: Some(dir) }
        }
        #[cfg(feature = "etcd")]
        "etcd" => TestBackend {
            name: "etcd",
            backend: Arc::new(zero_storage_tests::etcd::EtcdCluster::shared().backend()),
            dir: None,
        },
        other => panic!("no backend {other}"),
    }
}

/// Each backend in a process of its own (this test again, with `ZERO_DUMP_CHILD` naming the
/// backend), so that one's memory does not count in another's peak.
#[test]
fn a_large_export_and_import_keep_memory_flat() {
    let keys: usize = std::env::var("ZERO_DUMP_KEYS").ok().and_then(|v| v.parse().ok()).unwrap_or(20_000);
    if let Ok(name) = std::env::var("ZERO_DUMP_CHILD") {
        return large_round_trip(&name, keys);
    }
    let mut names = vec!["memory", "fs"];
    if cfg!(feature = "etcd") && keys <= 20_000 {
        names.push("etcd");
    }
    for name in names {
        let status = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "a_large_export_and_import_keep_memory_flat", "--nocapture", "--test-threads=1"])
            .env("ZERO_DUMP_CHILD", name)
            .status()
            .expect("run this test again for one backend");
        assert!(status.success(), "the large round trip on {name} failed");
    }
}

fn large_round_trip(name: &str, keys: usize) {
    let (from, to) = (fresh(name), fresh(name));
    let (source, _) = runtime_with(from.backend.clone(), roomy());
    let started = Instant::now();
    let mut p = admin(&source);
    let mut batch = Vec::with_capacity(1000);
    for i in 0..keys {
        batch.push((format!("key-{i:08}"), format!("value {i:08} of the big test").into_bytes()));
        if batch.len() == 1000 || i + 1 == keys {
            p.bucket("user:big").unwrap().set_many(&batch, 0).unwrap();
            batch.clear();
        }
    }
    drop(p);
    let filled = started.elapsed();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.jsonl");

    let (_, rss_before) = memory_kib();
    reset_peak();
    let started = Instant::now();
    let file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let exported = export(&source, file, ExportOptions::default()).unwrap();
    let export_time = started.elapsed();
    let (export_peak, _) = memory_kib();
    assert_eq!(exported.entries, keys as u64, "{name}");

    let (target, _) = runtime_with(to.backend.clone(), roomy());
    let (_, rss_before_import) = memory_kib();
    reset_peak();
    let started = Instant::now();
    let imported = zero_storage::dump::import_file(&target, &path, ImportOptions::default()).unwrap();
    let import_time = started.elapsed();
    let (import_peak, _) = memory_kib();
    assert_eq!(imported.entries, keys as u64, "{name}");
    let quota = admin(&target).bucket("user:big").unwrap().quota().unwrap();
    assert_eq!((quota.key_count, quota.used_bytes), (keys as u64, exported.usage_bytes), "{name}");

    // The copy exports to the same records, line for line.
    let again = dir.path().join("again.jsonl");
    export(&target, std::fs::File::create(&again).unwrap(), ExportOptions::default()).unwrap();
    let mut copies = [&path, &again].map(|path| BufReader::new(std::fs::File::open(path).unwrap()).lines());
    let (mut compared, mut first) = (0, true);
    while let (Some(a), Some(b)) = (copies[0].next(), copies[1].next()) {
        let (a, b) = (a.unwrap(), b.unwrap());
        if !first && !a.starts_with("{\"trailer\"") {
            assert_eq!(a, b, "{name}: the copy differs");
            compared += 1;
        }
        first = false;
    }
    assert_eq!(compared, keys, "{name}");
    let mb = |kib: u64| kib / 1024;
    eprintln!(
        "{keys} keys on {name}: filled in {filled:.1?}; export {export_time:.2?}, {} MB dump, resident {} MB before, \
         peak {} MB; import {import_time:.1?}, resident {} MB before, peak {} MB",
        exported.dump_bytes / 1_000_000,
        mb(rss_before),
        mb(export_peak),
        mb(rss_before_import),
        mb(import_peak),
    );
}

#[test]
fn expiry_in_the_dump_is_absolute_time_by_the_runtimes_clock() {
    // The runtime measures expiry with its own clock: the dump's absolute expiry is that clock's.
    let clock = Arc::new(ManualClock::new(5_000_000));
    let runtime = zero_storage::RuntimeBuilder::new()
        .clock(clock.clone() as Arc<dyn zero_storage::Clock>)
        .cache_dir(Some(zero_storage_tests::cache_dir()))
        .build()
        .unwrap();
    admin(&runtime).set("k", b"v", 2).unwrap();
    let dump = dump_of(&runtime);
    let record = &lines(&dump)[1];
    assert_eq!(record["expires_at_ms"], 5_002_000);
    assert_eq!(lines(&dump)[0]["exported_at_ms"], 5_000_000);
}

#[test]
fn the_example_in_dump_md_is_a_valid_dump() {
    let page = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../DUMP.md")).expect("DUMP.md");
    let example = page.split("```jsonl\n").nth(1).and_then(|rest| rest.split("```").next()).expect("a jsonl example");
    let info = verify(Cursor::new(example)).unwrap_or_else(|e| panic!("the example in DUMP.md is refused: {e}"));
    assert_eq!((info.entries, info.namespaces.len()), (3, 2));
    let (target, _) = runtime_with(Arc::new(MemoryBackend::new()), roomy());
    import_with(&target, example.as_bytes(), ImportMode::OnlyEmpty).unwrap();
    assert_eq!(admin(&target).bucket("app:notes").unwrap().get("session").unwrap(), b"\x00\x01\xff");
}

/// A namespace exported from `fs` and imported into etcd, and back.
#[cfg(feature = "etcd")]
#[test]
fn a_dump_from_fs_restores_into_etcd_and_back() {
    let (fs, etcd) = (fresh("fs"), fresh("etcd"));
    let (source, _) = runtime_with(fs.backend.clone(), roomy());
    fill(&source);
    let dump = dump_of(&source);
    let (cluster, _) = runtime_with(etcd.backend.clone(), roomy());
    import_with(&cluster, &dump, ImportMode::OnlyEmpty).expect("import into etcd");
    assert_eq!(state(&cluster, &NAMESPACES), state(&source, &NAMESPACES));
    let back = fresh("fs");
    let (copy, _) = runtime_with(back.backend.clone(), roomy());
    import_with(&copy, &dump_of(&cluster), ImportMode::OnlyEmpty).expect("import back into fs");
    assert_eq!(state(&copy, &NAMESPACES), state(&source, &NAMESPACES));
}

/// An etcd snapshot whose revision the cluster compacted says so, and what to do.
#[cfg(feature = "etcd")]
#[test]
fn an_etcd_snapshot_whose_revision_was_compacted_says_to_run_again() {
    // A cluster of its own: compacting the shared one would break the other tests' snapshots.
    let cluster = zero_storage_tests::etcd::EtcdCluster::start(1);
    let backend = cluster.backend();
    let put = |value: &[u8]| {
        backend.commit("app:snap", &[], vec![Mutation::Put(b"k".to_vec(), value.to_vec().into())]).unwrap();
    };
    put(b"1");
    let snapshot = backend.snapshot("app:snap").unwrap();
    assert!(snapshot.read(&[Query::Get(b"k".to_vec())]).is_ok());
    put(b"2");
    let port: u16 = cluster.endpoints()[0].rsplit(':').next().unwrap().parse().unwrap();
    let range = zero_storage_tests::etcd::post_json(port, "/v3/kv/range", r#"{"key":"AA=="}"#).expect("range");
    let revision = range["header"]["revision"].as_str().expect("revision").to_owned();
    let body = format!(r#"{{"revision":"{revision}","physical":true}}"#);
    zero_storage_tests::etcd::post_json(port, "/v3/kv/compaction", &body).expect("compaction");
    let error = snapshot.read(&[Query::Get(b"k".to_vec())]).expect_err("a read at a compacted revision");
    assert!(error.0.contains("compacted") && error.0.contains("run it again"), "{error}");
    // Reads outside a snapshot are not affected.
    assert!(backend.read("app:snap", &[Query::Get(b"k".to_vec())]).is_ok());
}

/// `dump` with its trailer's `bytes` and `sha256` computed afresh, as if it had been written so.
fn reseal(dump: &str) -> Vec<u8> {
    let (body, trailer) = dump.trim_end_matches('\n').rsplit_once('\n').unwrap();
    let body = format!("{body}\n");
    let mut trailer: serde_json::Value = serde_json::from_str(trailer).unwrap();
    trailer["bytes"] = body.len().into();
    trailer["sha256"] = sha2_check::sha256_hex(body.as_bytes()).into();
    format!("{body}{trailer}\n").into_bytes()
}

#[test]
fn an_expiry_near_the_end_of_time_is_imported_not_refused_midway() {
    let (source, _) = runtime_with(Arc::new(MemoryBackend::new()), roomy());
    admin(&source).set("far", b"future", 60).unwrap();
    let dump = String::from_utf8(dump_of(&source)).unwrap();
    let far = reseal(&dump.replace(&(1_700_000_000_000u64 + 60_000).to_string(), &u64::MAX.to_string()));
    let (target, _) = runtime_with(Arc::new(MemoryBackend::new()), roomy());
    let summary = import_with(&target, &far, ImportMode::OnlyEmpty).unwrap();
    assert_eq!(summary.entries, 1);
    assert_eq!(admin(&target).get("far").unwrap(), b"future");
}
