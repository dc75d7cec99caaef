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

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::{BackendError, CommitResult};

/// The longest a leader waits for the writers of the last batch to queue their next request;
/// well under one fsync, which is what it saves.
const GATHER_WINDOW: Duration = Duration::from_micros(200);

/// The outcome of one request.
pub(crate) type Outcome = Result<CommitResult, BackendError>;

/// A queue of commit requests of type `R`.
///
/// Every waiter sleeps on its own [`Slot`] and is woken once, when its outcome is published or
/// when it is handed the lead; with one shared condition variable, each batch woke every waiter
/// to find nothing for most of them (with 50 writers, most of the service's CPU went to that).
pub(crate) struct GroupCommit<R> {
    state: Mutex<State<R>>,
    /// Wakes a gathering leader when a request arrives.
    arrived: Condvar,
}

struct State<R> {
    queue: Vec<(Arc<Slot>, R)>,
    /// Whether a caller is leading a batch (or has been handed the lead and is waking up).
    leader: bool,
    last_batch: usize,
}

/// Where one waiting request learns what to do next.
#[derive(Default)]
struct Slot {
    news: Mutex<News>,
    wake: Condvar,
}

#[derive(Default)]
enum News {
    #[default]
    Waiting,
    /// Lead the next batch, which holds this request.
    Lead,
    Done(Outcome),
}

impl Slot {
    fn tell(&self, news: News) {
        *self.news.lock().unwrap_or_else(|poison| poison.into_inner()) = news;
        self.wake.notify_one();
    }

    fn wait(&self) -> News {
        let mut news = self.news.lock().unwrap_or_else(|poison| poison.into_inner());
        while matches!(*news, News::Waiting) {
            news = self.wake.wait(news).unwrap_or_else(|poison| poison.into_inner());
        }
        std::mem::take(&mut *news)
    }
}

impl<R> Default for GroupCommit<R> {
    fn default() -> Self {
        GroupCommit {
            state: Mutex::new(State { queue: Vec::new(), leader: false, last_batch: 0 }),
            arrived: Condvar::new(),
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
        let slot = Arc::new(Slot::default());
        let mut state = self.lock();
        state.queue.push((slot.clone(), request));
        if state.leader {
            // A leader may be gathering requests: tell it one more arrived.
            self.arrived.notify_one();
            drop(state);
            match slot.wait() {
                News::Done(outcome) => return outcome,
                News::Lead => state = self.lock(),
                News::Waiting => unreachable!("`wait` returns news"),
            }
        } else {
            state.leader = true;
        }
        self.lead(state, &slot, apply)
    }

    /// Gathers, applies and answers one batch, which holds the leader's own request (`mine`),
    /// then hands the lead to the first request queued meanwhile, if any.
    fn lead(
        &self,
        mut state: MutexGuard<'_, State<R>>,
        mine: &Arc<Slot>,
        apply: impl FnOnce(Vec<R>) -> Vec<Outcome>,
    ) -> Outcome {
        let deadline = Instant::now() + GATHER_WINDOW;
        while state.queue.len() < state.last_batch {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            state = self.arrived.wait_timeout(state, deadline - now).unwrap_or_else(|p| p.into_inner()).0;
        }
        state.last_batch = state.queue.len();
        let (slots, batch): (Vec<Arc<Slot>>, Vec<R>) = std::mem::take(&mut state.queue).into_iter().unzip();
        drop(state);
        // If `apply` panics, the batch's waiters are answered anyway and the lead moves on.
        let mut guard = Unanswered { group: self, slots };
        let outcomes = apply(batch);
        let mut own = None;
        // Requests that lost a race (a condition no longer held, e.g. on a namespace's usage
        // record that an earlier request of the batch changed) hear first, in queue order, and
        // the winners last: a loser reads again and queues again before the winner's next
        // request, so the wins go round the writers instead of the first one winning every
        // batch while the others retry until they give up.
        let answered: Vec<(Arc<Slot>, Outcome)> = guard.slots.drain(..).zip(outcomes).collect();
        let (lost, won): (Vec<_>, Vec<_>) =
            answered.into_iter().partition(|(_, outcome)| matches!(outcome, Ok(CommitResult::Conflict(_))));
        for (slot, outcome) in lost.into_iter().chain(won) {
            if Arc::ptr_eq(&slot, mine) {
                own = Some(outcome);
            } else {
                slot.tell(News::Done(outcome));
            }
        }
        own.unwrap_or_else(|| Err(BackendError("the commit failed unexpectedly; nothing was written".into())))
    }

    /// Gives the lead to the oldest queued request, or gives it up if none is queued.
    fn pass_the_lead(&self) {
        let mut state = self.lock();
        match state.queue.first() {
            Some((next, _)) => next.tell(News::Lead),
            None => state.leader = false,
        }
    }
}

/// The requests of a batch whose outcome is not yet published; when dropped (normally or in a
/// panic) it answers those with an error and passes the lead on.
struct Unanswered<'a, R> {
    group: &'a GroupCommit<R>,
    slots: Vec<Arc<Slot>>,
}

impl<R> Drop for Unanswered<'_, R> {
    fn drop(&mut self) {
        for slot in self.slots.drain(..) {
            slot.tell(News::Done(Err(BackendError("the commit failed unexpectedly; nothing was written".into()))));
        }
        self.group.pass_the_lead();
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
