//! The backend contract, checked directly on every backend: each check of
//! `zero_storage_tests::backend_contract` is one test here, run on `memory`, `fs` and (with the
//! `etcd` feature) a real 3-member etcd cluster. Then backends broken on purpose show that the
//! checks that are hardest to make fail (snapshots, linearizable commits) do fail.

use std::borrow::Cow;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::Duration;

use zero_storage::backend::{Answer, Backend, BackendError, CommitResult, Condition, MemoryBackend, Mutation, Query};
use zero_storage_tests::backend_contract::{self, CHECKS, Check, check_all, panic_message};
use zero_storage_tests::backends;

/// Runs `check` on every backend; a failure names the backend.
fn on_every_backend(check: Check) {
    for b in backends() {
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| check(&*b.backend))) {
            panic!("the {} backend fails: {}", b.name, panic_message(&*panic));
        }
    }
}

/// One test per check, named as the check is, and the list of the checks that have one.
macro_rules! every_backend_passes {
    ($($check:ident),* $(,)?) => {
        $(
            #[test]
            fn $check() {
                on_every_backend(backend_contract::$check);
            }
        )*
        const TESTED: &[&str] = &[$(stringify!($check)),*];
    };
}

every_backend_passes! {
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
}

#[test]
fn every_check_of_the_suite_has_a_test_here() {
    let checks: Vec<&str> = CHECKS.iter().map(|(name, _)| *name).collect();
    assert_eq!(TESTED, checks, "every check in CHECKS needs a line in every_backend_passes!, in the same order");
}

#[test]
fn check_all_passes_on_the_memory_backend() {
    check_all(Arc::new(MemoryBackend::new()));
}

// Backends broken on purpose, each in one way a real backend could be.

/// Whether `check` fails on `backend`.
fn fails(check: Check, backend: impl Backend) -> bool {
    catch_unwind(AssertUnwindSafe(|| check(&backend))).is_err()
}

type ReadFn = fn(&MemoryBackend, &str, &[Query]) -> Result<Vec<Answer>, BackendError>;
type CommitFn = for<'m> fn(&MemoryBackend, &str, &[Condition], Vec<Mutation<'m>>) -> Result<CommitResult, BackendError>;

/// The memory backend with its read or its commit replaced, to break one rule on purpose.
struct Broken {
    inner: MemoryBackend,
    read: Option<ReadFn>,
    commit: Option<CommitFn>,
}

impl Broken {
    fn reading(read: ReadFn) -> Self {
        Broken { inner: MemoryBackend::new(), read: Some(read), commit: None }
    }

    fn committing(commit: CommitFn) -> Self {
        Broken { inner: MemoryBackend::new(), read: None, commit: Some(commit) }
    }
}

impl Backend for Broken {
    fn read(&self, namespace: &str, queries: &[Query]) -> Result<Vec<Answer>, BackendError> {
        match self.read {
            Some(read) => read(&self.inner, namespace, queries),
            None => self.inner.read(namespace, queries),
        }
    }

    fn commit(
        &self,
        ns: &str,
        conditions: &[Condition],
        mutations: Vec<Mutation<'_>>,
    ) -> Result<CommitResult, BackendError> {
        match self.commit {
            Some(commit) => commit(&self.inner, ns, conditions, mutations),
            None => self.inner.commit(ns, conditions, mutations),
        }
    }

    fn namespaces(&self) -> Result<Vec<String>, BackendError> {
        self.inner.namespaces()
    }
}

/// Answers each query of a read with a read of its own, pausing in between: no snapshot.
fn one_query_at_a_time(inner: &MemoryBackend, namespace: &str, queries: &[Query]) -> Result<Vec<Answer>, BackendError> {
    let mut answers = Vec::with_capacity(queries.len());
    for query in queries {
        answers.extend(inner.read(namespace, std::slice::from_ref(query))?);
        std::thread::sleep(Duration::from_micros(20));
    }
    Ok(answers)
}

/// Checks the conditions with a read of their own, then commits without them: a window in
/// which another commit slips in.
fn check_then_commit(
    inner: &MemoryBackend,
    ns: &str,
    conditions: &[Condition],
    mutations: Vec<Mutation<'_>>,
) -> Result<CommitResult, BackendError> {
    let queries: Vec<Query> = conditions.iter().map(|c| Query::Get(c.key.clone())).collect();
    for (index, (condition, answer)) in conditions.iter().zip(inner.read(ns, &queries)?).enumerate() {
        let Answer::Got(current) = answer else { unreachable!("a get answers with got") };
        if current.map(|entry| entry.version) != condition.version {
            return Ok(CommitResult::Conflict(index as u32));
        }
    }
    std::thread::sleep(Duration::from_micros(200));
    inner.commit(ns, &[], mutations)
}

/// Reads a scan limit of 0 as "no limit", as etcd's range requests do.
fn zero_limit_is_no_limit(
    inner: &MemoryBackend,
    namespace: &str,
    queries: &[Query],
) -> Result<Vec<Answer>, BackendError> {
    let unlimited = |query: &Query| match query {
        Query::Scan { start, end, limit: 0, keys_only } => {
            Query::Scan { start: start.clone(), end: end.clone(), limit: u32::MAX, keys_only: *keys_only }
        }
        other => other.clone(),
    };
    inner.read(namespace, &queries.iter().map(unlimited).collect::<Vec<_>>())
}

/// Takes a condition on version 0 to mean "absent", as an etcd `mod_revision == 0` compare does.
fn version_zero_is_absent(
    inner: &MemoryBackend,
    ns: &str,
    conditions: &[Condition],
    mutations: Vec<Mutation<'_>>,
) -> Result<CommitResult, BackendError> {
    let conditions: Vec<Condition> = conditions
        .iter()
        .map(|c| Condition { key: c.key.clone(), version: c.version.filter(|version| *version != 0) })
        .collect();
    inner.commit(ns, &conditions, mutations)
}

/// Applies only the first of several mutations of one key.
fn first_mutation_wins(
    inner: &MemoryBackend,
    ns: &str,
    conditions: &[Condition],
    mutations: Vec<Mutation<'_>>,
) -> Result<CommitResult, BackendError> {
    let mut seen = std::collections::HashSet::new();
    let firsts: Vec<Mutation<'_>> = mutations
        .into_iter()
        .filter(|mutation| {
            let (Mutation::Put(key, _) | Mutation::Delete(key)) = mutation;
            seen.insert(key.clone())
        })
        .map(|mutation| match mutation {
            Mutation::Put(key, value) => Mutation::Put(key, Cow::Owned(value.into_owned())),
            other => other,
        })
        .collect();
    inner.commit(ns, conditions, firsts)
}

#[test]
fn the_snapshot_check_fails_a_backend_that_reads_each_query_separately() {
    assert!(fails(
        backend_contract::a_read_answers_every_query_from_one_snapshot_while_another_thread_commits,
        Broken::reading(one_query_at_a_time)
    ));
}

#[test]
fn the_increment_check_fails_a_backend_that_checks_conditions_apart_from_its_commit() {
    assert!(fails(
        backend_contract::concurrent_conditional_commits_lose_no_update,
        Broken::committing(check_then_commit)
    ));
}

#[test]
fn the_limit_0_check_fails_a_backend_that_reads_limit_0_as_no_limit() {
    assert!(fails(backend_contract::a_scan_with_limit_0_returns_nothing, Broken::reading(zero_limit_is_no_limit)));
}

#[test]
fn the_version_condition_check_fails_a_backend_that_reads_version_0_as_absent() {
    assert!(fails(
        backend_contract::a_version_condition_holds_only_for_the_current_version,
        Broken::committing(version_zero_is_absent)
    ));
}

#[test]
fn the_last_mutation_check_fails_a_backend_where_the_first_mutation_wins() {
    assert!(fails(
        backend_contract::the_last_mutation_of_a_key_in_one_commit_wins,
        Broken::committing(first_mutation_wins)
    ));
}

#[test]
fn the_broken_backends_pass_the_checks_they_are_not_broken_for() {
    // So each failure above is the check's doing, not a wrapper that breaks everything.
    assert!(!fails(
        backend_contract::binary_keys_and_values_round_trip_unchanged,
        Broken::reading(one_query_at_a_time)
    ));
    assert!(!fails(backend_contract::a_conflicting_commit_applies_nothing, Broken::committing(check_then_commit)));
    assert!(!fails(
        backend_contract::a_scan_returns_the_first_limit_entries_of_its_range,
        Broken::reading(zero_limit_is_no_limit)
    ));
    assert!(!fails(
        backend_contract::a_conflict_names_the_first_failing_condition,
        Broken::committing(version_zero_is_absent)
    ));
    assert!(!fails(
        backend_contract::deleting_an_absent_key_commits_and_changes_nothing,
        Broken::committing(first_mutation_wins)
    ));
}
