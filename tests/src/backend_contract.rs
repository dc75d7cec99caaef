//! # The backend contract, checked directly
//!
//! A conformance suite for `zero:storage/backend` (`wit/backend.wit`, and the [`Backend`] trait
//! that serves it in the host): it calls a backend directly, with no storage component in
//! between, and checks each promise of the contract. Anyone writing a backend can run it:
//!
//! ```
//! use std::sync::Arc;
//! use zero_storage::backend::MemoryBackend;
//!
//! zero_storage_tests::backend_contract::check_all(Arc::new(MemoryBackend::new()));
//! ```
//!
//! Each check is also a public function of its own, named for the behaviour it checks, and
//! [`CHECKS`] lists them all; `tests/backend_contract.rs` runs each one on every backend.
//!
//! What the suite assumes beyond the WIT's words, because the storage component relies on it:
//! - a read sees every commit that returned before the read began (every check reads back what
//!   it wrote; the component's `set` then `get` does the same);
//! - a scan returns *exactly* the first `limit` entries of its range when the range holds that
//!   many (the WIT says "at most `limit`", but the component's `list` takes a short answer as the
//!   end of the range);
//! - mutations of one commit apply in order, so the last one to a key wins (the component's
//!   update can delete an expiry record and put one under the same key in one commit);
//! - a conflict names the *first* condition that failed (the [`Backend`] trait says so).
//!
//! Checks write only to namespaces of their own, with names the component accepts (`app:…`,
//! `user:…`) and unique to the run, so they can share one backend, even one that already holds
//! data. A check panics at the first broken promise, saying which.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::thread;

use zero_storage::backend::{Answer, Backend, CommitResult, Condition, Entry, Mutation, Query};
use zero_storage_component::limits::MAX_BATCH_KEYS;
use zero_storage_component::limits::{MAX_KEY_BYTES, MAX_READ_VALUE_BYTES, MAX_VALUE_BYTES};

use crate::Rng;

/// One check of the suite: panics if `backend` breaks the promise it checks.
pub type Check = fn(&dyn Backend);

/// Names each check after its function, so a name cannot drift from what it runs.
macro_rules! named {
    ($($check:ident),* $(,)?) => {
        &[$((stringify!($check), $check as Check)),*]
    };
}

/// Every check of the suite with its name, in the order [`check_all`] runs them.
pub const CHECKS: &[(&str, Check)] = named![
    a_read_answers_every_query_from_one_snapshot_while_another_thread_commits,
    answers_come_in_the_order_of_their_queries,
    gets_of_absent_keys_find_nothing,
    a_commit_whose_conditions_hold_is_applied,
    an_absent_condition_holds_only_while_the_key_is_absent,
    a_version_condition_holds_only_for_the_current_version,
    a_conflict_names_the_first_failing_condition,
    a_conflicting_commit_applies_nothing,
    concurrent_conditional_commits_lose_no_update,
    concurrent_commits_to_one_namespace_get_distinct_rising_versions,
    every_commit_to_a_namespace_gets_a_greater_version_than_any_before,
    entries_carry_the_version_of_the_commit_that_last_wrote_them,
    deleting_an_absent_key_commits_and_changes_nothing,
    the_last_mutation_of_a_key_in_one_commit_wins,
    scans_return_keys_in_unsigned_byte_order,
    a_scan_includes_its_start_and_excludes_its_end,
    a_scan_returns_the_first_limit_entries_of_its_range,
    a_scan_with_limit_0_returns_nothing,
    an_empty_or_inverted_range_returns_nothing,
    a_keys_only_scan_returns_real_keys_and_versions_with_empty_values,
    namespaces_are_isolated_from_each_other,
    namespaces_lists_those_that_hold_data_in_ascending_order,
    binary_keys_and_values_round_trip_unchanged,
    the_largest_value_under_the_longest_key_is_stored_and_read_back_whole,
    one_read_returns_as_many_value_bytes_as_one_component_call_may_read,
    a_commit_as_large_as_the_components_largest_batch_is_atomic,
];

/// Runs every check of [`CHECKS`] on `backend`, in order; panics at the first one that fails,
/// naming it.
pub fn check_all(backend: Arc<dyn Backend>) {
    for (name, check) in CHECKS {
        if let Err(panic) = std::panic::catch_unwind(AssertUnwindSafe(|| check(&*backend))) {
            panic!("the backend fails the contract check `{name}`: {}", panic_message(&*panic));
        }
    }
}

/// The message of a caught panic, for re-raising it with more context.
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    match (panic.downcast_ref::<&str>(), panic.downcast_ref::<String>()) {
        (Some(message), _) => (*message).to_owned(),
        (_, Some(message)) => message.clone(),
        _ => "(a panic without a message)".to_owned(),
    }
}

// ---------------------------------------------------------------------------------------------
// Reads

/// A read answers all of its queries from one snapshot, even while another thread commits.
///
/// A writer moves amounts between eight accounts, two keys per commit, so the balances always
/// sum to the same total; it conditions each commit on the versions its previous commits were
/// stamped with, so it also checks that those versions are the ones stored. Readers meanwhile
/// read every balance many times over in one read (216 queries, gets and scans, enough to span
/// several requests of a backend that splits large reads) and require every repetition to see
/// the same values and versions, summing to the total. The writer keeps going until each reader
/// has finished several reads, so reads and commits always overlap.
pub fn a_read_answers_every_query_from_one_snapshot_while_another_thread_commits(backend: &dyn Backend) {
    const ACCOUNTS: usize = 8;
    const BALANCE: u64 = 1000;
    const READERS: usize = 3;
    const ROUNDS: usize = 24;
    const MIN_COMMITS: usize = 200;
    const MIN_READS_EACH: usize = 10;
    let ns = namespace("snapshot");
    let account = |i: usize| format!("account-{i}").into_bytes();
    let (start, end) = (b"account-".to_vec(), b"account.".to_vec());
    let total = ACCOUNTS as u64 * BALANCE;
    let version =
        committed(backend, &ns, &[], (0..ACCOUNTS).map(|i| put(&account(i), &BALANCE.to_le_bytes())).collect());

    let mut queries = Vec::new();
    for _ in 0..ROUNDS {
        queries.extend((0..ACCOUNTS).map(|i| Query::Get(account(i))));
        queries.push(scan_query(&start, &end, u32::MAX, false));
    }
    let reads_done = AtomicUsize::new(0);
    let writer_done = AtomicBool::new(false);
    let readers_stopped = AtomicUsize::new(0);
    thread::scope(|scope| {
        let writer = scope.spawn(|| {
            let _done = SetOnDrop(&writer_done);
            let mut rng = Rng::new(0x5eed_0001);
            let mut balances = [BALANCE; ACCOUNTS];
            let mut versions = [version; ACCOUNTS];
            let mut commits = 0;
            while (commits < MIN_COMMITS || reads_done.load(Ordering::SeqCst) < READERS * MIN_READS_EACH)
                && readers_stopped.load(Ordering::SeqCst) == 0
            {
                let from = rng.below(ACCOUNTS as u64) as usize;
                let to = (from + 1 + rng.below(ACCOUNTS as u64 - 1) as usize) % ACCOUNTS;
                let amount = rng.below(balances[from] + 1);
                let conditions = [
                    Condition { key: account(from), version: Some(versions[from]) },
                    Condition { key: account(to), version: Some(versions[to]) },
                ];
                let (new_from, new_to) = (balances[from] - amount, balances[to] + amount);
                let mutations =
                    vec![put(&account(from), &new_from.to_le_bytes()), put(&account(to), &new_to.to_le_bytes())];
                match commit(backend, &ns, &conditions, mutations) {
                    CommitResult::Committed(version) => {
                        (balances[from], balances[to]) = (new_from, new_to);
                        (versions[from], versions[to]) = (version, version);
                    }
                    CommitResult::Conflict(index) => panic!(
                        "the only writer's commit conflicted on condition {index}, although it named the versions its \
                         own commits were stamped with"
                    ),
                }
                commits += 1;
            }
        });
        let readers: Vec<_> = (0..READERS)
            .map(|_| {
                scope.spawn(|| {
                    let _stopped = CountOnDrop(&readers_stopped);
                    while !writer_done.load(Ordering::SeqCst) {
                        let answers = read(backend, &ns, &queries);
                        let rounds: Vec<Vec<Entry>> = answers
                            .chunks(ACCOUNTS + 1)
                            .map(|round| {
                                let gets: Vec<Entry> = round[..ACCOUNTS]
                                    .iter()
                                    .map(|answer| got(answer).clone().expect("an account is never deleted"))
                                    .collect();
                                assert_eq!(
                                    scanned(&round[ACCOUNTS]),
                                    &gets[..],
                                    "a scan and the gets of one read disagree"
                                );
                                gets
                            })
                            .collect();
                        for (index, round) in rounds.iter().enumerate() {
                            assert_eq!(
                                round, &rounds[0],
                                "one read saw two states: repetition {index} differs from the first"
                            );
                        }
                        let sum: u64 = rounds[0].iter().map(|entry| u64_value(&entry.value)).sum();
                        assert_eq!(sum, total, "one read saw half of a commit: the balances do not sum to the total");
                        reads_done.fetch_add(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        join(writer);
        readers.into_iter().for_each(join);
    });
}

/// Each answer sits in the position of its query, for reads of many mixed queries.
///
/// 1100 gets (of present and absent keys) and scans (of random ranges, limits and `keys_only`),
/// more than the component's largest batch names keys, are answered as a model of the contract
/// answers them. A read of no queries answers nothing.
pub fn answers_come_in_the_order_of_their_queries(backend: &dyn Backend) {
    let ns = namespace("order");
    let mut model = Model::default();
    let mut rng = Rng::new(0x5eed_0002);
    let key = |n: u64| format!("key-{n:03}").into_bytes();
    for batch in 0..5 {
        let mutations: Vec<Mutation<'static>> =
            (0..10).map(|i| put(&key(batch * 20 + i * 2), &rng.next_u64().to_le_bytes())).collect();
        model.commit(committed(backend, &ns, &[], mutations.clone()), &mutations);
    }
    assert_eq!(read(backend, &ns, &[]), [], "a read of no queries must answer nothing");
    let queries: Vec<Query> = (0..1100)
        .map(|_| match rng.below(3) {
            0 | 1 => Query::Get(key(rng.below(110))),
            _ => {
                let (a, b) = (key(rng.below(110)), key(rng.below(110)));
                let (start, end) = if a <= b { (a, b) } else { (b, a) };
                scan_query(&start, &end, rng.below(12) as u32, rng.percent(50))
            }
        })
        .collect();
    let answers = read(backend, &ns, &queries);
    assert_eq!(answers.len(), queries.len(), "a read must answer every query");
    for (index, (query, answer)) in queries.iter().zip(&answers).enumerate() {
        assert_eq!(answer, &model.answer(query), "answer {index} does not answer query {index}: {query:?}");
    }
}

/// A get of a key that holds nothing answers `none`: in a namespace never written, for a key
/// never written, for a deleted key, for keys that only extend or shorten a present key, and for
/// a key present only in another namespace.
pub fn gets_of_absent_keys_find_nothing(backend: &dyn Backend) {
    let ns = namespace("absent");
    let never_written = namespace("absent-never");
    assert_eq!(get(backend, &never_written, b"k"), None, "a get in a namespace never written must find nothing");
    assert_eq!(
        scan(backend, &never_written, b"", &ALL, u32::MAX, false),
        [],
        "a scan of a namespace never written must find nothing"
    );
    committed(backend, &ns, &[], vec![put(b"key", b"value"), put(b"doomed", b"value")]);
    committed(backend, &ns, &[], vec![Mutation::Delete(b"doomed".to_vec())]);
    committed(backend, &namespace("absent-other"), &[], vec![put(b"elsewhere", b"v")]);
    for absent in [&b"never"[..], b"doomed", b"ke", b"key\0", b"keyz", b"elsewhere", b""] {
        assert_eq!(get(backend, &ns, absent), None, "a get of the absent key {absent:?} must find nothing");
    }
    assert!(get(backend, &ns, b"key").is_some(), "the present key must still be found");
}

// ---------------------------------------------------------------------------------------------
// Commit conditions

/// A commit whose conditions all hold is applied: conditions on current versions, on absent
/// keys, on keys the commit does not write, and the same condition twice.
pub fn a_commit_whose_conditions_hold_is_applied(backend: &dyn Backend) {
    let ns = namespace("holds");
    let va = committed(backend, &ns, &[], vec![put(b"a", b"1")]);
    let vb = committed(backend, &ns, &[], vec![put(b"b", b"1")]);
    let conditions = [at(b"a", va), at(b"b", vb), absent(b"c"), at(b"a", va), absent(b"untouched")];
    let version =
        committed(backend, &ns, &conditions, vec![put(b"a", b"2"), put(b"c", b"new"), Mutation::Delete(b"b".to_vec())]);
    assert_eq!(get(backend, &ns, b"a"), Some(entry(b"a", b"2", version)), "the put to a must be applied");
    assert_eq!(get(backend, &ns, b"c"), Some(entry(b"c", b"new", version)), "the put to c must be applied");
    assert_eq!(get(backend, &ns, b"b"), None, "the delete of b must be applied");
    let version = committed(backend, &ns, &[at(b"a", version)], vec![put(b"other", b"x")]);
    assert_eq!(
        get(backend, &ns, b"other").map(|e| e.version),
        Some(version),
        "a condition on a key not written must hold"
    );
}

/// A condition that a key is absent (`version: none`) holds while the key is absent, fails
/// once it is present, and holds again after the key is deleted.
pub fn an_absent_condition_holds_only_while_the_key_is_absent(backend: &dyn Backend) {
    let ns = namespace("absent-cond");
    committed(backend, &ns, &[absent(b"k")], vec![put(b"k", b"first")]);
    assert_eq!(
        commit(backend, &ns, &[absent(b"k")], vec![put(b"k", b"second")]),
        CommitResult::Conflict(0),
        "an absent condition on a present key must fail"
    );
    assert_eq!(
        get(backend, &ns, b"k").map(|e| e.value),
        Some(b"first".to_vec()),
        "the failed commit must change nothing"
    );
    committed(backend, &ns, &[], vec![Mutation::Delete(b"k".to_vec())]);
    committed(backend, &ns, &[absent(b"k")], vec![put(b"k", b"third")]);
    assert_eq!(
        get(backend, &ns, b"k").map(|e| e.value),
        Some(b"third".to_vec()),
        "an absent condition holds after a delete"
    );
}

/// A condition on a version holds only while the entry has exactly that version: it fails for
/// another version (one more, one less, an earlier one after a rewrite), once the key is deleted,
/// and for a key never written, including version 0 (no entry ever has version 0) and the
/// largest version.
pub fn a_version_condition_holds_only_for_the_current_version(backend: &dyn Backend) {
    let ns = namespace("version-cond");
    let first = committed(backend, &ns, &[], vec![put(b"k", b"1")]);
    let current = committed(backend, &ns, &[], vec![put(b"k", b"2")]);
    let failing: Vec<(Condition, &str)> = vec![
        (at(b"k", first), "the version before the last write"),
        (at(b"k", current + 1), "one more than the current version"),
        (at(b"k", current - 1), "one less than the current version"),
        (at(b"k", 0), "version 0 on a present key"),
        (at(b"k", u64::MAX), "the largest version on a present key"),
        (at(b"never", current), "a version on a key never written"),
        (at(b"never", 0), "version 0 on a key never written (no entry has version 0)"),
        (at(b"never", u64::MAX), "the largest version on a key never written"),
    ];
    for (condition, what) in &failing {
        assert_eq!(
            commit(backend, &ns, std::slice::from_ref(condition), vec![put(b"k", b"wrong"), put(b"never", b"wrong")]),
            CommitResult::Conflict(0),
            "a condition on {what} must fail"
        );
    }
    let current = committed(backend, &ns, &[at(b"k", current)], vec![put(b"k", b"3")]);
    committed(backend, &ns, &[], vec![Mutation::Delete(b"k".to_vec())]);
    assert_eq!(
        commit(backend, &ns, &[at(b"k", current)], vec![put(b"k", b"wrong")]),
        CommitResult::Conflict(0),
        "a condition on the version of a deleted entry must fail"
    );
    assert_eq!(get(backend, &ns, b"k"), None, "no failed commit may write");
    assert_eq!(get(backend, &ns, b"never"), None, "no failed commit may write");
}

/// A conflict reports the index of the first condition that failed, wherever it sits among
/// conditions that hold and that fail.
pub fn a_conflict_names_the_first_failing_condition(backend: &dyn Backend) {
    let ns = namespace("conflict-index");
    let va = committed(backend, &ns, &[], vec![put(b"a", b"1")]);
    let vb = committed(backend, &ns, &[], vec![put(b"b", b"1")]);
    let cases: Vec<(Vec<Condition>, u32)> = vec![
        (vec![absent(b"a")], 0),
        (vec![at(b"a", vb), at(b"b", va)], 0),
        (vec![at(b"a", va), absent(b"b"), at(b"a", va + 1000)], 1),
        (vec![at(b"a", va), at(b"b", vb), absent(b"c"), at(b"a", va), at(b"c", vb)], 4),
        (vec![at(b"a", va), at(b"b", vb), at(b"c", va), absent(b"a"), at(b"b", va)], 2),
    ];
    for (conditions, first_failing) in cases {
        assert_eq!(
            commit(backend, &ns, &conditions, vec![put(b"a", b"wrong")]),
            CommitResult::Conflict(first_failing),
            "the conflict must name condition {first_failing}, the first that fails, of {conditions:?}"
        );
    }
}

/// A commit with a failing condition applies none of its mutations: no put, no delete, no new
/// key, and every version stays as it was.
pub fn a_conflicting_commit_applies_nothing(backend: &dyn Backend) {
    let ns = namespace("conflict-nothing");
    let va = committed(backend, &ns, &[], vec![put(b"a", b"1"), put(b"b", b"1")]);
    let before = scan(backend, &ns, b"", &ALL, u32::MAX, false);
    let mutations = vec![put(b"a", b"2"), Mutation::Delete(b"b".to_vec()), put(b"c", b"new"), put(b"d", b"new")];
    assert_eq!(
        commit(backend, &ns, &[at(b"a", va), at(b"c", va)], mutations.clone()),
        CommitResult::Conflict(1),
        "the condition on the absent key c must fail"
    );
    assert_eq!(scan(backend, &ns, b"", &ALL, u32::MAX, false), before, "a conflicting commit must apply nothing");
    let version = committed(backend, &ns, &[at(b"a", va), absent(b"c")], mutations);
    assert_eq!(
        scan(backend, &ns, b"", &ALL, u32::MAX, false),
        [entry(b"a", b"2", version), entry(b"c", b"new", version), entry(b"d", b"new", version)],
        "after the conflict the same mutations with holding conditions must all apply"
    );
}

/// Commits to one namespace are linearizable: threads that each read a counter and commit its
/// increment on the condition that its version is unchanged never lose an increment, and each
/// successful commit gets its own version.
pub fn concurrent_conditional_commits_lose_no_update(backend: &dyn Backend) {
    const THREADS: usize = 4;
    const INCREMENTS: usize = 25;
    let ns = namespace("increments");
    let versions: Vec<Vec<u64>> = thread::scope(|scope| {
        let threads: Vec<_> = (0..THREADS)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    let mut attempts = 0;
                    while mine.len() < INCREMENTS {
                        attempts += 1;
                        assert!(attempts < 100 * THREADS * INCREMENTS, "the incrementing threads make no progress");
                        let current = get(backend, &ns, b"counter");
                        let (value, version) = current.map_or((0, None), |e| (u64_value(&e.value), Some(e.version)));
                        let condition = Condition { key: b"counter".to_vec(), version };
                        match commit(backend, &ns, &[condition], vec![put(b"counter", &(value + 1).to_le_bytes())]) {
                            CommitResult::Committed(version) => mine.push(version),
                            CommitResult::Conflict(0) => {}
                            CommitResult::Conflict(index) => {
                                panic!("a commit with one condition conflicted on {index}")
                            }
                        }
                    }
                    mine
                })
            })
            .collect();
        threads.into_iter().map(join).collect()
    });
    let last = get(backend, &ns, b"counter").expect("the counter exists");
    assert_eq!(u64_value(&last.value), (THREADS * INCREMENTS) as u64, "a conditional commit lost an update");
    let all: Vec<u64> = versions.iter().flatten().copied().collect();
    assert_eq!(all.iter().collect::<HashSet<_>>().len(), all.len(), "two successful commits got the same version");
    assert_eq!(Some(last.version), all.iter().max().copied(), "the counter must carry the last commit's version");
}

// ---------------------------------------------------------------------------------------------
// Versions

/// Concurrent commits to one namespace each get their own version, rising in each thread's
/// order, and stamp it on what they wrote.
pub fn concurrent_commits_to_one_namespace_get_distinct_rising_versions(backend: &dyn Backend) {
    const THREADS: usize = 4;
    const COMMITS: usize = 25;
    let ns = namespace("concurrent-versions");
    let written: Vec<Vec<(Vec<u8>, u64)>> = thread::scope(|scope| {
        let threads: Vec<_> = (0..THREADS)
            .map(|thread| {
                let ns = &ns;
                scope.spawn(move || {
                    (0..COMMITS)
                        .map(|n| {
                            let key = format!("t{thread}-{n:02}").into_bytes();
                            let version = committed(backend, ns, &[], vec![put(&key, b"v"), put(b"shared", &key)]);
                            (key, version)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        threads.into_iter().map(join).collect()
    });
    for (thread, commits) in written.iter().enumerate() {
        assert!(
            commits.windows(2).all(|pair| pair[0].1 < pair[1].1),
            "thread {thread}'s commits, each returned before the next began, must get rising versions: {commits:?}"
        );
    }
    let all: Vec<&(Vec<u8>, u64)> = written.iter().flatten().collect();
    assert_eq!(all.iter().map(|(_, v)| v).collect::<HashSet<_>>().len(), all.len(), "two commits got the same version");
    for (key, version) in &all {
        assert_eq!(
            get(backend, &ns, key).map(|e| e.version),
            Some(*version),
            "an entry must carry its commit's version"
        );
    }
    let shared = get(backend, &ns, b"shared").expect("written by every commit");
    let (last_key, last_version) = all.iter().max_by_key(|(_, version)| *version).expect("commits were made");
    assert_eq!(
        (&shared.value, shared.version),
        (last_key, *last_version),
        "the commit with the greatest version wrote last"
    );
}

/// Every commit to a namespace gets a version greater than every version the namespace has
/// seen, and never 0: after puts, after commits of deletes only, after a key is deleted and
/// written again, after a conflict, and with commits to other namespaces in between. (The
/// contract promises rising versions per namespace only, so nothing is required across
/// namespaces.)
pub fn every_commit_to_a_namespace_gets_a_greater_version_than_any_before(backend: &dyn Backend) {
    let ns = namespace("rising");
    let other = namespace("rising-other");
    let mut seen: Vec<u64> = Vec::new();
    let mut expect_greater = |version: u64, what: &str| {
        assert!(version > 0, "{what}: a version is never 0");
        if let Some(max) = seen.iter().max() {
            assert!(version > *max, "{what}: version {version} is not greater than {max}, seen before");
        }
        seen.push(version);
    };
    expect_greater(committed(backend, &ns, &[], vec![put(b"a", b"1")]), "a first put");
    committed(backend, &other, &[], vec![put(b"a", b"1"), put(b"b", b"1")]);
    expect_greater(committed(backend, &ns, &[], vec![put(b"b", b"1")]), "a put after a commit to another namespace");
    expect_greater(committed(backend, &ns, &[], vec![put(b"a", b"2"), put(b"b", b"2")]), "an overwrite");
    expect_greater(
        committed(backend, &ns, &[], vec![Mutation::Delete(b"a".to_vec()), Mutation::Delete(b"b".to_vec())]),
        "a commit of deletes only",
    );
    assert_eq!(commit(backend, &ns, &[at(b"a", 1)], vec![put(b"a", b"x")]), CommitResult::Conflict(0));
    expect_greater(committed(backend, &ns, &[], vec![put(b"a", b"3")]), "a key written again after its delete");
    committed(backend, &other, &[], vec![Mutation::Delete(b"a".to_vec())]);
    expect_greater(
        committed(backend, &ns, &[], vec![Mutation::Delete(b"never".to_vec())]),
        "a delete of an absent key",
    );
    for n in 0..20 {
        expect_greater(committed(backend, &ns, &[], vec![put(b"a", &[n])]), "one of many overwrites");
    }
}

/// Every entry a commit writes carries the version the commit returned; entries it does not
/// write keep theirs, in gets, scans and keys-only scans alike.
pub fn entries_carry_the_version_of_the_commit_that_last_wrote_them(backend: &dyn Backend) {
    let ns = namespace("stamps");
    let first = committed(backend, &ns, &[], vec![put(b"a", b"1"), put(b"b", b"1")]);
    let second = committed(backend, &ns, &[], vec![put(b"b", b"2"), put(b"c", b"2"), Mutation::Delete(b"x".to_vec())]);
    let expected = [entry(b"a", b"1", first), entry(b"b", b"2", second), entry(b"c", b"2", second)];
    for expected in &expected {
        assert_eq!(
            get(backend, &ns, &expected.key).as_ref(),
            Some(expected),
            "a get must show the last writer's version"
        );
    }
    assert_eq!(scan(backend, &ns, b"", &ALL, u32::MAX, false), expected, "a scan must show the last writer's versions");
    assert_eq!(
        scan(backend, &ns, b"", &ALL, u32::MAX, true),
        expected.map(|e| entry(&e.key, b"", e.version)),
        "a keys-only scan must show the last writer's versions"
    );
}

// ---------------------------------------------------------------------------------------------
// Mutations

/// Deleting an absent key is not an error: the commit succeeds and changes nothing else, also in
/// a namespace never written, and alongside puts that do apply.
pub fn deleting_an_absent_key_commits_and_changes_nothing(backend: &dyn Backend) {
    let ns = namespace("delete-absent");
    committed(backend, &ns, &[], vec![put(b"a", b"1"), put(b"c", b"1")]);
    let before = scan(backend, &ns, b"", &ALL, u32::MAX, false);
    committed(backend, &ns, &[], vec![Mutation::Delete(b"b".to_vec()), Mutation::Delete(b"zzz".to_vec())]);
    assert_eq!(scan(backend, &ns, b"", &ALL, u32::MAX, false), before, "deleting absent keys must change nothing");
    let never_written = namespace("delete-absent-never");
    committed(backend, &never_written, &[], vec![Mutation::Delete(b"k".to_vec())]);
    assert_eq!(scan(backend, &never_written, b"", &ALL, u32::MAX, false), [], "the namespace must stay empty");
    let version = committed(backend, &ns, &[], vec![Mutation::Delete(b"b".to_vec()), put(b"d", b"1")]);
    assert_eq!(get(backend, &ns, b"d"), Some(entry(b"d", b"1", version)), "a put beside the delete must apply");
}

/// Several mutations of one key in one commit apply in order: the last one wins, whether it is
/// a put or a delete.
pub fn the_last_mutation_of_a_key_in_one_commit_wins(backend: &dyn Backend) {
    let ns = namespace("last-wins");
    committed(backend, &ns, &[], vec![put(b"present-1", b"old"), put(b"present-2", b"old"), put(b"present-3", b"old")]);
    let version = committed(
        backend,
        &ns,
        &[],
        vec![
            put(b"new-1", b"first"),
            put(b"new-1", b"last"),
            put(b"new-2", b"first"),
            Mutation::Delete(b"new-2".to_vec()),
            Mutation::Delete(b"present-1".to_vec()),
            put(b"present-1", b"last"),
            put(b"present-2", b"first"),
            Mutation::Delete(b"present-2".to_vec()),
            put(b"present-3", b"first"),
            Mutation::Delete(b"present-3".to_vec()),
            put(b"present-3", b"second"),
            put(b"present-3", b"last"),
        ],
    );
    assert_eq!(
        scan(backend, &ns, b"", &ALL, u32::MAX, false),
        [
            entry(b"new-1", b"last", version),
            entry(b"present-1", b"last", version),
            entry(b"present-3", b"last", version)
        ],
        "the last mutation of each key must win"
    );
}

// ---------------------------------------------------------------------------------------------
// Scans

/// A scan returns its keys ascending as unsigned bytes, compared lexicographically with the
/// shorter first on a common prefix: 0x00 and 0xff bytes, bytes past 0x7f, and the empty key
/// included, whatever order they were written in.
pub fn scans_return_keys_in_unsigned_byte_order(backend: &dyn Backend) {
    let ns = namespace("byte-order");
    let ordered: [&[u8]; 15] = [
        b"",
        b"\x00",
        b"\x00\x00",
        b"\x00\xff",
        b"\x01",
        b"a",
        b"a\x00",
        b"a\x00\x00",
        b"aa",
        b"\x7f",
        b"\x80",
        b"\xfe\xff",
        b"\xff",
        b"\xff\x00",
        b"\xff\xff",
    ];
    for (n, index) in [9, 3, 14, 0, 7, 12, 1, 10, 5, 13, 2, 8, 11, 4, 6].into_iter().enumerate() {
        committed(backend, &ns, &[], vec![put(ordered[index], &[n as u8])]);
    }
    let keys: Vec<Vec<u8>> = scan(backend, &ns, b"", &ALL, u32::MAX, false).into_iter().map(|e| e.key).collect();
    assert_eq!(keys, ordered.map(<[u8]>::to_vec), "a scan must return keys in unsigned byte order");
    let keys_only: Vec<Vec<u8>> = scan(backend, &ns, b"", &ALL, u32::MAX, true).into_iter().map(|e| e.key).collect();
    assert_eq!(keys_only, keys, "a keys-only scan must return keys in the same order");
}

/// A scan includes a key equal to its start and excludes a key equal to its end, also when the
/// bounds are absent keys, prefixes of present keys, or a key and its immediate successor.
pub fn a_scan_includes_its_start_and_excludes_its_end(backend: &dyn Backend) {
    let ns = namespace("bounds");
    committed(
        backend,
        &ns,
        &[],
        ["a", "b", "b\0", "ba", "c"].iter().map(|k| put(k.as_bytes(), k.as_bytes())).collect(),
    );
    let cases: [(&[u8], &[u8], &[&str]); 8] = [
        (b"a", b"c", &["a", "b", "b\0", "ba"]),
        (b"b", b"c", &["b", "b\0", "ba"]),
        (b"b", b"b\0", &["b"]),
        (b"b\0", b"ba", &["b\0"]),
        (b"a\xff", b"b\0", &["b"]),
        (b"c", b"c\0", &["c"]),
        (b"", b"b", &["a"]),
        (b"ba\0", &ALL, &["c"]),
    ];
    for (start, end, expected) in cases {
        let keys: Vec<Vec<u8>> = scan(backend, &ns, start, end, u32::MAX, false).into_iter().map(|e| e.key).collect();
        let expected: Vec<Vec<u8>> = expected.iter().map(|k| k.as_bytes().to_vec()).collect();
        assert_eq!(keys, expected, "the scan of {start:?}..{end:?} must include its start and exclude its end");
    }
}

/// A scan returns the first `limit` entries of its range, in order, when the range holds that
/// many, and the whole range when it holds fewer; never more than `limit`.
pub fn a_scan_returns_the_first_limit_entries_of_its_range(backend: &dyn Backend) {
    let ns = namespace("limit");
    let key = |n: usize| format!("k{n}").into_bytes();
    committed(backend, &ns, &[], (0..10).map(|n| put(&key(n), b"v")).collect());
    let all = scan(backend, &ns, b"", &ALL, u32::MAX, false);
    assert_eq!(all.len(), 10);
    for limit in 1..=12u32 {
        for keys_only in [false, true] {
            let page = scan(backend, &ns, b"", &ALL, limit, keys_only);
            let expected: Vec<Vec<u8>> = all.iter().take(limit as usize).map(|e| e.key.clone()).collect();
            let keys: Vec<Vec<u8>> = page.into_iter().map(|e| e.key).collect();
            assert_eq!(
                keys, expected,
                "a scan with limit {limit} (keys only: {keys_only}) must return the first entries"
            );
        }
    }
    let keys: Vec<Vec<u8>> = scan(backend, &ns, b"k3", b"k8", 2, false).into_iter().map(|e| e.key).collect();
    assert_eq!(keys, [key(3), key(4)], "a limit must count from the start of the range");
}

/// A scan with a limit of 0 returns no entries, however many the range holds.
pub fn a_scan_with_limit_0_returns_nothing(backend: &dyn Backend) {
    let ns = namespace("limit-0");
    committed(backend, &ns, &[], (0..5u8).map(|n| put(&[b'k', n], b"v")).collect());
    for keys_only in [false, true] {
        assert_eq!(
            scan(backend, &ns, b"", &ALL, 0, keys_only),
            [],
            "limit 0 must return nothing (keys only: {keys_only})"
        );
    }
}

/// A scan of an empty range (start equal to end) or an inverted one (start after end) returns
/// nothing, even when keys lie at or between its bounds.
pub fn an_empty_or_inverted_range_returns_nothing(backend: &dyn Backend) {
    let ns = namespace("empty-range");
    committed(backend, &ns, &[], ["", "k1", "k2", "k3", "k5"].iter().map(|k| put(k.as_bytes(), b"v")).collect());
    let cases: [(&[u8], &[u8]); 6] =
        [(b"k2", b"k2"), (b"", b""), (b"k5", b"k2"), (b"k3", b"k1"), (b"k", b""), (&ALL, b"")];
    for (start, end) in cases {
        for keys_only in [false, true] {
            assert_eq!(
                scan(backend, &ns, start, end, u32::MAX, keys_only),
                [],
                "the range {start:?}..{end:?} is empty or inverted and must return nothing"
            );
        }
    }
}

/// A keys-only scan returns the same keys and versions as a full scan, with every value empty.
pub fn a_keys_only_scan_returns_real_keys_and_versions_with_empty_values(backend: &dyn Backend) {
    let ns = namespace("keys-only");
    committed(backend, &ns, &[], vec![put(b"a", b"value a"), put(b"b", &[0; 1000])]);
    committed(backend, &ns, &[], vec![put(b"c", b"value c"), put(b"d", b"")]);
    committed(backend, &ns, &[], vec![put(b"a", b"newer a")]);
    let ranges: [(&[u8], &[u8], u32); 3] = [(b"", &ALL, u32::MAX), (b"b", b"d", u32::MAX), (b"", &ALL, 3)];
    for (start, end, limit) in ranges {
        let full = scan(backend, &ns, start, end, limit, false);
        assert!(!full.is_empty(), "the range {start:?}..{end:?} holds entries");
        let expected: Vec<Entry> = full.iter().map(|e| entry(&e.key, b"", e.version)).collect();
        assert_eq!(
            scan(backend, &ns, start, end, limit, true),
            expected,
            "a keys-only scan must blank the values only"
        );
    }
    assert_eq!(get(backend, &ns, b"a").map(|e| e.value), Some(b"newer a".to_vec()), "a keys-only scan changes nothing");
}

// ---------------------------------------------------------------------------------------------
// Namespaces

/// Namespaces are independent maps: the same key holds a different value and version in each,
/// writes, deletes and scans of one never touch another (also when one name extends another),
/// and a condition sees only its own namespace.
pub fn namespaces_are_isolated_from_each_other(backend: &dyn Backend) {
    let base = namespace("isolated");
    let name = base.strip_prefix("app:").expect("an app namespace");
    let spaces = [base.clone(), format!("{base}.x"), format!("{base}-"), format!("user:{name}")];
    let mut versions = Vec::new();
    for (n, ns) in spaces.iter().enumerate() {
        let value = format!("value {n}").into_bytes();
        versions.push(committed(
            backend,
            ns,
            &[absent(b"k")],
            vec![put(b"k", &value), put(format!("only-{n}").as_bytes(), b"v")],
        ));
    }
    for (n, ns) in spaces.iter().enumerate() {
        let keys: Vec<Vec<u8>> = scan(backend, ns, b"", &ALL, u32::MAX, false).into_iter().map(|e| e.key).collect();
        assert_eq!(
            keys,
            [b"k".to_vec(), format!("only-{n}").into_bytes()],
            "namespace {ns} must hold only its own keys"
        );
        assert_eq!(get(backend, ns, b"k"), Some(entry(b"k", format!("value {n}").as_bytes(), versions[n])));
    }
    let only_1 = Condition { key: b"only-1".to_vec(), version: Some(versions[1]) };
    assert_eq!(
        commit(backend, &spaces[0], &[only_1], vec![put(b"k", b"wrong")]),
        CommitResult::Conflict(0),
        "a condition must not see another namespace's entry"
    );
    committed(backend, &spaces[0], &[absent(b"only-1")], vec![Mutation::Delete(b"k".to_vec())]);
    assert_eq!(get(backend, &spaces[0], b"k"), None);
    for (n, ns) in spaces.iter().enumerate().skip(1) {
        assert_eq!(
            get(backend, ns, b"k").map(|e| e.value),
            Some(format!("value {n}").into_bytes()),
            "a delete in {} must leave {ns} alone",
            spaces[0]
        );
    }
}

/// `namespaces` lists every namespace that holds data, ascending, and none that holds nothing:
/// not one whose keys were all deleted, nor one that only saw deletes of absent keys, failed
/// commits or reads.
pub fn namespaces_lists_those_that_hold_data_in_ascending_order(backend: &dyn Backend) {
    let base = namespace("listed");
    let name = base.strip_prefix("app:").expect("an app namespace");
    let holding = [base.clone(), format!("{base}-a"), format!("{base}.a"), format!("user:{name}")];
    for ns in &holding {
        committed(backend, ns, &[], vec![put(b"k", b"v")]);
    }
    let emptied = format!("{base}-emptied");
    committed(backend, &emptied, &[], vec![put(b"k", b"v"), put(b"l", b"v")]);
    committed(backend, &emptied, &[], vec![Mutation::Delete(b"k".to_vec()), Mutation::Delete(b"l".to_vec())]);
    let deletes_only = format!("{base}-deletes");
    committed(backend, &deletes_only, &[], vec![Mutation::Delete(b"k".to_vec())]);
    let conflicted = format!("{base}-conflicted");
    assert_eq!(commit(backend, &conflicted, &[at(b"k", 1)], vec![put(b"k", b"v")]), CommitResult::Conflict(0));
    let read_only = format!("{base}-read");
    read(backend, &read_only, &[Query::Get(b"k".to_vec()), scan_query(b"", &ALL, 10, false)]);

    let listed = backend.namespaces().unwrap_or_else(|e| panic!("namespaces failed: {e}"));
    assert!(
        listed.windows(2).all(|pair| pair[0] < pair[1]),
        "namespaces must be listed ascending, once each: {listed:?}"
    );
    for ns in &holding {
        assert!(listed.contains(ns), "namespace {ns} holds data and must be listed: {listed:?}");
    }
    for ns in [&emptied, &deletes_only, &conflicted, &read_only] {
        assert!(!listed.contains(ns), "namespace {ns} holds no data and must not be listed: {listed:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Keys and values as the component uses them

/// Keys and values are bytes, not text: keys of every single byte, keys with 0x00 and 0xff
/// anywhere, the empty key, values of every byte, and the empty value (present, not absent)
/// come back unchanged from gets and scans.
pub fn binary_keys_and_values_round_trip_unchanged(backend: &dyn Backend) {
    let ns = namespace("binary");
    let every_byte: Vec<u8> = (0..=255).collect();
    let mut written: BTreeMap<Vec<u8>, Vec<u8>> = (0..=255u8).map(|b| (vec![b], vec![b, 0, b])).collect();
    for (key, value) in [
        (&b""[..], &b"the empty key"[..]),
        (b"\x00\x00", b""),
        (b"a\x00b", b"\x00"),
        (b"\xff\xff\xff", b"\xff\xfe\x00"),
        (b"\x00m\xffkey\x00", &every_byte[..]),
        (b"d\xc3\x28", b"\xc3\x28 is not UTF-8"),
        (&every_byte[..], &every_byte[..]),
    ] {
        written.insert(key.to_vec(), value.to_vec());
    }
    let version = committed(backend, &ns, &[], written.iter().map(|(key, value)| put(key, value)).collect());
    for (key, value) in &written {
        assert_eq!(
            get(backend, &ns, key),
            Some(entry(key, value, version)),
            "the key {key:?} must round-trip unchanged"
        );
    }
    let expected: Vec<Entry> = written.iter().map(|(key, value)| entry(key, value, version)).collect();
    assert_eq!(
        scan(backend, &ns, b"", &ALL, u32::MAX, false),
        expected,
        "a scan must return every binary entry unchanged"
    );
}

/// A value a little larger than the component's largest (1 MiB), under a key as long as the
/// component's longest backend key (an expiry-index record of a 256-byte key), is stored in one
/// commit with the small records the component writes beside it, and read back whole by a get
/// and a scan; keys that long still order by their last byte.
pub fn the_largest_value_under_the_longest_key_is_stored_and_read_back_whole(backend: &dyn Backend) {
    let ns = namespace("large");
    let user_key = vec![b'k'; MAX_KEY_BYTES];
    let record = |tag: u8, last: u8| {
        let mut key = vec![tag];
        if tag == b'x' {
            key.extend_from_slice(&u64::MAX.to_be_bytes());
        }
        key.extend_from_slice(&user_key);
        *key.last_mut().expect("a long key") = last;
        key
    };
    let longest = record(b'x', b'k');
    assert_eq!(longest.len(), 1 + 8 + MAX_KEY_BYTES);
    let value = pattern(LARGE_VALUE_BYTES, 1);
    let version = committed(
        backend,
        &ns,
        &[absent(&record(b'd', b'k')), absent(b"u")],
        vec![
            put(&record(b'm', b'k'), b"meta"),
            put(&record(b'd', b'k'), &value),
            put(&longest, &value[..4]),
            put(&record(b'x', b'j'), b"earlier"),
            put(b"u", b"usage"),
        ],
    );
    let got = get(backend, &ns, &record(b'd', b'k')).expect("the large value was committed");
    assert!(got.value == value, "a get returned {} bytes, not the {} written", got.value.len(), value.len());
    assert_eq!(got.version, version);
    let scanned = scan(backend, &ns, b"d", b"e", 10, false);
    assert!(
        scanned.len() == 1 && scanned[0].value == value,
        "a scan must return the large value whole (got {} entries)",
        scanned.len()
    );
    let expiry_keys: Vec<Vec<u8>> = scan(backend, &ns, b"x", b"y", 10, true).into_iter().map(|e| e.key).collect();
    assert_eq!(expiry_keys, [record(b'x', b'j'), longest.clone()], "long keys must order by their last byte");
    assert_eq!(
        get(backend, &ns, &longest).map(|e| e.value),
        Some(value[..4].to_vec()),
        "the longest key must round-trip"
    );
}

/// One read returns as many value bytes as one component call may read (16 values of 1 MiB),
/// every value whole.
pub fn one_read_returns_as_many_value_bytes_as_one_component_call_may_read(backend: &dyn Backend) {
    let ns = namespace("large-read");
    let count = MAX_READ_VALUE_BYTES / MAX_VALUE_BYTES;
    let key = |n: usize| format!("d{n:02}").into_bytes();
    for n in 0..count {
        committed(backend, &ns, &[], vec![put(&key(n), &pattern(MAX_VALUE_BYTES, n as u64))]);
    }
    let answers = read(backend, &ns, &(0..count).map(|n| Query::Get(key(n))).collect::<Vec<_>>());
    for (n, answer) in answers.iter().enumerate() {
        let value = got(answer).as_ref().map(|e| &e.value);
        assert!(value == Some(&pattern(MAX_VALUE_BYTES, n as u64)), "value {n} of a 16 MiB read came back changed");
    }
}

/// A commit as large as the component's largest batch (1000 keys: 4001 mutations on 1001
/// conditions) is atomic: with its last condition failing it applies nothing and names that
/// condition; with every condition holding it applies everything at one version.
pub fn a_commit_as_large_as_the_components_largest_batch_is_atomic(backend: &dyn Backend) {
    let ns = namespace("large-batch");
    let usage_version = committed(backend, &ns, &[], vec![put(b"u", b"usage")]);
    let key = |tag: &str, n: usize| format!("{tag}{n:04}").into_bytes();
    let mut conditions = vec![at(b"u", usage_version)];
    conditions.extend((0..MAX_BATCH_KEYS).map(|n| absent(&key("m", n))));
    let mut mutations = Vec::with_capacity(4 * MAX_BATCH_KEYS + 1);
    for n in 0..MAX_BATCH_KEYS {
        mutations.push(Mutation::Delete(key("x-old", n)));
        mutations.push(put(&key("m", n), b"meta"));
        mutations.push(put(&key("d", n), &(n as u64).to_le_bytes()));
        mutations.push(put(&key("x", n), b"expiry"));
    }
    mutations.push(put(b"u", b"new usage"));
    let mut failing = conditions.clone();
    *failing.last_mut().expect("conditions") = at(&key("m", MAX_BATCH_KEYS - 1), usage_version);
    assert_eq!(
        commit(backend, &ns, &failing, mutations.clone()),
        CommitResult::Conflict(MAX_BATCH_KEYS as u32),
        "the last of {} conditions fails",
        failing.len()
    );
    assert_eq!(scan(backend, &ns, b"", &ALL, u32::MAX, true), [entry(b"u", b"", usage_version)], "nothing may apply");
    let version = committed(backend, &ns, &conditions, mutations);
    let entries = scan(backend, &ns, b"", &ALL, u32::MAX, false);
    assert_eq!(entries.len(), 3 * MAX_BATCH_KEYS + 1, "every put of the batch must apply");
    assert!(entries.iter().all(|e| e.version == version), "every entry of the batch must carry its version");
    assert_eq!(get(backend, &ns, &key("d", 999)).map(|e| e.value), Some(999u64.to_le_bytes().to_vec()));
}

// ---------------------------------------------------------------------------------------------
// Helpers

/// A scan end past every key the checks write (their longest is 1 + 8 + 256 bytes).
const ALL: [u8; 1024] = [0xff; 1024];

/// A value a little over the component's largest, so no backend sits exactly at the edge.
const LARGE_VALUE_BYTES: usize = MAX_VALUE_BYTES + 1024;

/// A namespace name the component accepts, unique to this run and call.
fn namespace(tag: &str) -> String {
    static RUN: OnceLock<u32> = OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let run = *RUN.get_or_init(|| {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        now.subsec_nanos() ^ (now.as_secs() as u32).rotate_left(7) ^ std::process::id().rotate_left(19)
    });
    format!("app:{tag}-{run:08x}-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

fn put(key: &[u8], value: &[u8]) -> Mutation<'static> {
    Mutation::Put(key.to_vec(), Cow::Owned(value.to_vec()))
}

fn at(key: &[u8], version: u64) -> Condition {
    Condition { key: key.to_vec(), version: Some(version) }
}

fn absent(key: &[u8]) -> Condition {
    Condition { key: key.to_vec(), version: None }
}

fn entry(key: &[u8], value: &[u8], version: u64) -> Entry {
    Entry { key: key.to_vec(), value: value.to_vec(), version }
}

fn scan_query(start: &[u8], end: &[u8], limit: u32, keys_only: bool) -> Query {
    Query::Scan { start: start.to_vec(), end: end.to_vec(), limit, keys_only }
}

fn read(backend: &dyn Backend, ns: &str, queries: &[Query]) -> Vec<Answer> {
    let answers = backend.read(ns, queries).unwrap_or_else(|e| panic!("a read in {ns} failed: {e}"));
    assert_eq!(answers.len(), queries.len(), "a read must answer each of its queries");
    answers
}

fn commit(backend: &dyn Backend, ns: &str, conditions: &[Condition], mutations: Vec<Mutation<'_>>) -> CommitResult {
    backend.commit(ns, conditions, mutations).unwrap_or_else(|e| panic!("a commit in {ns} failed: {e}"))
}

/// Commits, requiring success; returns the version.
fn committed(backend: &dyn Backend, ns: &str, conditions: &[Condition], mutations: Vec<Mutation<'_>>) -> u64 {
    match commit(backend, ns, conditions, mutations) {
        CommitResult::Committed(version) => {
            assert_ne!(version, 0, "a commit's version is never 0");
            version
        }
        CommitResult::Conflict(index) => panic!("a commit in {ns} conflicted on condition {index}, which holds"),
    }
}

fn get(backend: &dyn Backend, ns: &str, key: &[u8]) -> Option<Entry> {
    got(&read(backend, ns, &[Query::Get(key.to_vec())])[0]).clone()
}

fn scan(backend: &dyn Backend, ns: &str, start: &[u8], end: &[u8], limit: u32, keys_only: bool) -> Vec<Entry> {
    scanned(&read(backend, ns, &[scan_query(start, end, limit, keys_only)])[0]).to_vec()
}

fn got(answer: &Answer) -> &Option<Entry> {
    match answer {
        Answer::Got(entry) => entry,
        other => panic!("a get was answered with {other:?}"),
    }
}

fn scanned(answer: &Answer) -> &[Entry] {
    match answer {
        Answer::Scanned(entries) => entries,
        other => panic!("a scan was answered with {other:?}"),
    }
}

fn u64_value(value: &[u8]) -> u64 {
    u64::from_le_bytes(value.try_into().unwrap_or_else(|_| panic!("not an 8-byte number: {value:?}")))
}

/// `len` bytes that differ with `seed` and along their length, so a truncated, shifted or
/// swapped value is noticed.
fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    let mut bytes = Vec::with_capacity(len + 8);
    while bytes.len() < len {
        bytes.extend_from_slice(&rng.next_u64().to_le_bytes());
    }
    bytes.truncate(len);
    bytes
}

/// The contract as a plain map, to say what a read must answer.
#[derive(Default)]
struct Model(BTreeMap<Vec<u8>, (Vec<u8>, u64)>);

impl Model {
    fn commit(&mut self, version: u64, mutations: &[Mutation<'_>]) {
        for mutation in mutations {
            match mutation {
                Mutation::Put(key, value) => self.0.insert(key.clone(), (value.to_vec(), version)),
                Mutation::Delete(key) => self.0.remove(key),
            };
        }
    }

    fn answer(&self, query: &Query) -> Answer {
        let entry = |(key, (value, version)): (&Vec<u8>, &(Vec<u8>, u64)), keys_only: bool| Entry {
            key: key.clone(),
            value: if keys_only { Vec::new() } else { value.clone() },
            version: *version,
        };
        match query {
            Query::Get(key) => Answer::Got(self.0.get_key_value(key).map(|kv| entry(kv, false))),
            Query::Scan { start, end, limit, keys_only } => Answer::Scanned(
                self.0
                    .iter()
                    .filter(|(key, _)| start <= *key && *key < end)
                    .take(*limit as usize)
                    .map(|kv| entry(kv, *keys_only))
                    .collect(),
            ),
        }
    }
}

/// Waits for a thread; a panic in it goes on in this thread, with its own message.
fn join<T>(thread: thread::ScopedJoinHandle<'_, T>) -> T {
    thread.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// Sets its flag when dropped, also by a panic, so threads waiting on it stop.
struct SetOnDrop<'a>(&'a AtomicBool);

impl Drop for SetOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Counts up when dropped, also by a panic, so a writer waiting on readers stops.
struct CountOnDrop<'a>(&'a AtomicUsize);

impl Drop for CountOnDrop<'_> {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}
