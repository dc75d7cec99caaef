//! Group commit: commits that arrive while another is being made durable wait, then share one
//! write transaction — and one fsync — with each other.
//!
//! The first committer to find no leader becomes the leader: it takes every queued request,
//! hands the batch to the backend, which applies each request in order within one transaction
//! (so each keeps its own conditions and atomicity), and publishes each result. Everyone else
//! waits for their result. A single writer pays only for an uncontended mutex.
//!
//! Writers that just got their result need a moment to prepare their next request, so a new
//! leader that sees fewer requests queued than the last batch held waits briefly (at most
//! [`GATHER_WINDOW`]) for them: one fsync then serves them all instead of every other one.

use std::collections::HashMap;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::{BackendError, CommitResult};

/// The longest a leader waits for the writers of the last batch to queue their next request;
/// well under one fsync, which is what it saves.
const GATHER_WINDOW: Duration = Duration::from_micros(200);

/// The outcome of one request.
pub(crate) type Outcome = Result<CommitResult, BackendError>;

/// A queue of commit requests of type `R`.
pub(crate) struct GroupCommit<R> {
    state: Mutex<State<R>>,
    turn: Condvar,
}

struct State<R> {
    queue: Vec<(u64, R)>,
    done: HashMap<u64, Outcome>,
    next_id: u64,
    leader: bool,
    last_batch: usize,
}

impl<R> Default for GroupCommit<R> {
    fn default() -> Self {
        GroupCommit {
            state: Mutex::new(State {
                queue: Vec::new(),
                done: HashMap::new(),
                next_id: 0,
                leader: false,
                last_batch: 0,
            }),
            turn: Condvar::new(),
        }
    }
}

impl<R> GroupCommit<R> {
    fn lock(&self) -> MutexGuard<'_, State<R>> {
        self.state.lock().unwrap_or_else(|poison| poison.into_inner())
    }

    /// Queues `request` and returns its outcome. If no batch is in progress, this caller leads:
    /// `apply` gets the whole queue and must return one outcome per request, in order.
    pub(crate) fn submit(&self, request: R, apply: impl FnOnce(Vec<R>) -> Vec<Outcome>) -> Outcome {
        let mut state = self.lock();
        let id = state.next_id;
        state.next_id += 1;
        state.queue.push((id, request));
        // A leader may be gathering requests: tell it one more arrived.
        self.turn.notify_all();
        let mut apply = Some(apply);
        loop {
            if let Some(outcome) = state.done.remove(&id) {
                return outcome;
            }
            if !state.leader {
                state.leader = true;
                let deadline = Instant::now() + GATHER_WINDOW;
                while state.queue.len() < state.last_batch {
                    let now = Instant::now();
                    if now >= deadline {
                        break;
                    }
                    state = self.turn.wait_timeout(state, deadline - now).unwrap_or_else(|p| p.into_inner()).0;
                }
                state.last_batch = state.queue.len();
                let (ids, batch): (Vec<u64>, Vec<R>) = std::mem::take(&mut state.queue).into_iter().unzip();
                drop(state);
                // If `apply` panicked the batch's waiters would wait forever: answer them anyway.
                let mut guard = Unanswered { group: self, ids };
                let apply =
                    apply.take().expect("a caller leads at most once: its own request is in the batch it leads");
                let outcomes = apply(batch);
                state = self.lock();
                for (id, outcome) in guard.ids.drain(..).zip(outcomes) {
                    state.done.insert(id, outcome);
                }
                state.leader = false;
                self.turn.notify_all();
                continue;
            }
            state = self.turn.wait(state).unwrap_or_else(|poison| poison.into_inner());
        }
    }
}

/// Requests of a batch whose outcome is not yet published.
struct Unanswered<'a, R> {
    group: &'a GroupCommit<R>,
    ids: Vec<u64>,
}

impl<R> Drop for Unanswered<'_, R> {
    fn drop(&mut self) {
        if self.ids.is_empty() {
            return;
        }
        let mut state = self.group.lock();
        for id in self.ids.drain(..) {
            state.done.insert(id, Err(BackendError("the commit failed unexpectedly; nothing was written".into())));
        }
        state.leader = false;
        self.group.turn.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn concurrent_requests_are_batched_and_each_gets_its_own_outcome() {
        const WRITERS: u64 = 16;
        let group = Arc::new(GroupCommit::<u64>::default());
        let (batches, arrived) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let threads: Vec<_> = (0..WRITERS)
            .map(|n| {
                let (group, batches, arrived) = (group.clone(), batches.clone(), arrived.clone());
                std::thread::spawn(move || {
                    arrived.fetch_add(1, Ordering::SeqCst);
                    group.submit(n, |batch| {
                        // The first leader holds its batch until every writer has arrived, so the
                        // rest must queue behind it and share the next batch.
                        while arrived.load(Ordering::SeqCst) < WRITERS as usize {
                            std::thread::yield_now();
                        }
                        std::thread::sleep(std::time::Duration::from_millis(20));
                        batches.fetch_add(1, Ordering::SeqCst);
                        batch.into_iter().map(|n| Ok(CommitResult::Committed(n * 10))).collect()
                    })
                })
            })
            .collect();
        for (n, thread) in threads.into_iter().enumerate() {
            assert_eq!(thread.join().unwrap(), Ok(CommitResult::Committed(n as u64 * 10)));
        }
        let batches = batches.load(Ordering::SeqCst);
        assert!(batches < WRITERS as usize, "{WRITERS} commits took {batches} batches: nothing was shared");
    }

    #[test]
    fn a_panicking_batch_answers_its_waiters_with_an_error() {
        let group = GroupCommit::<u64>::default();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _ = group.submit(1, |_| panic!("injected"));
        }));
        assert!(outcome.is_err());
        assert_eq!(
            group.submit(2, |batch| batch.into_iter().map(|_| Ok(CommitResult::Committed(7))).collect()),
            Ok(CommitResult::Committed(7))
        );
    }
}
