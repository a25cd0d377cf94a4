//! The queue of keys a controller reconciles (upstream's client-go
//! rate-limited work queue): a key added while it waits is queued once, a
//! key added while it is being worked on is queued again after, so the
//! queue never holds more than one entry per key however fast a watch
//! reports changes; a key whose work failed comes back after a backoff
//! that doubles with each failure (5 ms up to 5 minutes), and a success
//! forgets its failures.

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::Hash;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::sync::Notify;

/// The first retry's delay.
const BASE_DELAY: Duration = Duration::from_millis(5);
/// The longest retry delay.
const MAX_DELAY: Duration = Duration::from_secs(300);

pub struct WorkQueue<K> {
    state: Mutex<State<K>>,
    ready: Notify,
}

struct State<K> {
    queue: VecDeque<K>,
    /// Keys in `queue`.
    queued: HashSet<K>,
    /// Keys being worked on.
    processing: HashSet<K>,
    /// Keys added while being worked on: queued again when done.
    dirty: HashSet<K>,
    /// Keys waiting for their retry.
    waiting: HashSet<K>,
    /// Failures in a row of each key.
    failures: HashMap<K, u32>,
}

impl<K> Default for State<K> {
    fn default() -> Self {
        State {
            queue: VecDeque::new(),
            queued: HashSet::new(),
            processing: HashSet::new(),
            dirty: HashSet::new(),
            waiting: HashSet::new(),
            failures: HashMap::new(),
        }
    }
}

/// The delay before the retry that follows `failures` failures in a row.
pub fn backoff(failures: u32) -> Duration {
    BASE_DELAY
        .saturating_mul(2u32.saturating_pow(failures.saturating_sub(1)))
        .min(MAX_DELAY)
}

impl<K: Hash + Eq + Clone + Send + 'static> WorkQueue<K> {
    pub fn new() -> Arc<Self> {
        Arc::new(WorkQueue {
            state: Mutex::new(State::default()),
            ready: Notify::new(),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State<K>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `key`, unless it already waits in the queue.
    pub fn add(&self, key: K) {
        let mut state = self.state();
        if state.processing.contains(&key) {
            state.dirty.insert(key);
            return;
        }
        if state.queued.insert(key.clone()) {
            state.queue.push_back(key);
            drop(state);
            self.ready.notify_one();
        }
    }

    /// The next key to work on; [`WorkQueue::done`] must follow.
    pub async fn next(&self) -> K {
        loop {
            // Registered before looking, so an add in between is not missed.
            let ready = self.ready.notified();
            {
                let mut state = self.state();
                if let Some(key) = state.queue.pop_front() {
                    state.queued.remove(&key);
                    state.processing.insert(key.clone());
                    return key;
                }
            }
            ready.await;
        }
    }

    /// The work on `key` is over: `succeeded` forgets its failures, a
    /// failure brings it back after its backoff.
    pub fn done(self: &Arc<Self>, key: &K, succeeded: bool) {
        let mut state = self.state();
        let delay = if succeeded {
            state.failures.remove(key);
            None
        } else {
            let failures = state.failures.entry(key.clone()).or_insert(0);
            *failures = failures.saturating_add(1);
            Some(backoff(*failures))
        };
        drop(state);
        self.finish(key, delay);
    }

    /// The work on `key` is over for now, and to be looked at again after
    /// `delay`: for what the queue's watch does not report (a definition's
    /// objects being deleted). Not a failure: no backoff.
    pub fn done_after(self: &Arc<Self>, key: &K, delay: Duration) {
        self.state().failures.remove(key);
        self.finish(key, Some(delay));
    }

    fn finish(self: &Arc<Self>, key: &K, retry_after: Option<Duration>) {
        let mut state = self.state();
        state.processing.remove(key);
        // One pending retry per key: a key failing again while its retry
        // waits (added meanwhile) keeps that one.
        let retry = retry_after.filter(|_| state.waiting.insert(key.clone()));
        let again = state.dirty.remove(key);
        drop(state);
        if again {
            self.add(key.clone());
        }
        if let Some(delay) = retry {
            let queue: Weak<Self> = Arc::downgrade(self);
            let key = key.clone();
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                if let Some(queue) = queue.upgrade() {
                    queue.state().waiting.remove(&key);
                    queue.add(key);
                }
            });
        }
    }

    /// Keys queued, being worked on or waiting for a retry.
    pub fn len(&self) -> usize {
        let state = self.state();
        state.queued.len() + state.processing.len() + state.waiting.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_key_is_queued_once_and_again_after_its_work() {
        let queue = WorkQueue::new();
        for _ in 0..1000 {
            queue.add("a");
        }
        queue.add("b");
        assert_eq!(queue.len(), 2);
        let first = queue.next().await;
        assert_eq!(first, "a");
        // Changed while being worked on: once more, after.
        queue.add("a");
        queue.add("a");
        assert_eq!(queue.next().await, "b");
        queue.done(&"b", true);
        queue.done(&"a", true);
        assert_eq!(queue.next().await, "a");
        queue.done(&"a", true);
        assert!(queue.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn failures_come_back_after_a_doubling_backoff() {
        assert_eq!(backoff(1), Duration::from_millis(5));
        assert_eq!(backoff(4), Duration::from_millis(40));
        assert_eq!(backoff(100), MAX_DELAY);
        let queue = WorkQueue::new();
        queue.add(7u32);
        let started = tokio::time::Instant::now();
        for _ in 0..4 {
            let key = queue.next().await;
            assert_eq!(key, 7);
            queue.done(&key, false);
            assert_eq!(queue.len(), 1);
        }
        let key = queue.next().await;
        // 5 + 10 + 20 + 40 ms of backoff.
        assert_eq!(started.elapsed(), Duration::from_millis(75));
        queue.done(&key, true);
        queue.add(7);
        let key = queue.next().await;
        queue.done(&key, false);
        let waited = tokio::time::Instant::now();
        queue.next().await;
        // Success forgot the failures: the first delay again.
        assert_eq!(waited.elapsed(), Duration::from_millis(5));
    }

    #[tokio::test(start_paused = true)]
    async fn a_key_can_ask_to_be_looked_at_again_without_backoff() {
        let queue = WorkQueue::new();
        queue.add("k");
        for _ in 0..3 {
            let key = queue.next().await;
            queue.done(&key, false);
        }
        let key = queue.next().await;
        let asked = tokio::time::Instant::now();
        queue.done_after(&key, Duration::from_secs(1));
        let key = queue.next().await;
        assert_eq!(asked.elapsed(), Duration::from_secs(1));
        // Its failures were forgotten: the next one waits the first delay.
        queue.done(&key, false);
        let failed = tokio::time::Instant::now();
        queue.next().await;
        assert_eq!(failed.elapsed(), Duration::from_millis(5));
    }

    #[tokio::test(start_paused = true)]
    async fn a_key_waiting_for_its_retry_has_one_retry() {
        let queue = WorkQueue::new();
        queue.add("k");
        let key = queue.next().await;
        queue.done(&key, false);
        // Added again (a watch event) while its retry waits, and failing:
        // the retry already scheduled is the only one.
        queue.add("k");
        let key = queue.next().await;
        queue.done(&key, false);
        assert_eq!(queue.len(), 1);
        let waited = tokio::time::Instant::now();
        let key = queue.next().await;
        assert_eq!(waited.elapsed(), Duration::from_millis(5));
        queue.done(&key, true);
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(queue.is_empty());
    }
}
