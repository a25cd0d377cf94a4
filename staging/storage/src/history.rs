//! The in-memory event history of a store: the last N committed events, the
//! compacted-revision marker, the fan-out to live watchers, and rebuilding
//! the state of a key range as of a past revision (for continue tokens and
//! exact-revision lists).
//!
//! Invariant: the history holds every event with a revision in
//! `(compacted, current]`. A store creates it at its current revision, so
//! after a restart everything before that revision is compacted.
//! The owner of a store appends each commit's events right after the commit
//! (not holding the lock across the disk's fsync), so the history may be a
//! moment behind the database: a reader that needs both to agree waits with
//! [`History::reaching`] until the history holds its snapshot's revision.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use futures_util::stream;
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;

use crate::{KeyValue, Result, Revision, StorageError, WatchEvent, WatchOptions, WatchStream};

/// Events buffered per live watcher before it must catch up from the
/// history (a lagging watcher is resumed from the history, not dropped).
const FANOUT_BUFFER: usize = 1024;

#[derive(Debug)]
pub(crate) struct History {
    state: Mutex<HistoryState>,
    /// Signalled after every append.
    appended: Condvar,
}

/// How long a reader waits for the history to reach a committed revision
/// (the writer appends right after its commit; this only bounds a bug).
const REACH_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug)]
pub(crate) struct HistoryState {
    events: VecDeque<Arc<WatchEvent>>,
    capacity: usize,
    compacted: Revision,
    current: Revision,
    fanout: broadcast::Sender<Arc<WatchEvent>>,
}

/// Events to replay, then the receiver of the events that follow them.
type Resumed = (
    VecDeque<Arc<WatchEvent>>,
    broadcast::Receiver<Arc<WatchEvent>>,
);

/// Which keys a watch or list covers.
#[derive(Clone, Debug)]
pub(crate) struct KeyFilter {
    key: String,
    recursive: bool,
}

impl KeyFilter {
    pub(crate) fn new(key: &str, recursive: bool) -> Self {
        KeyFilter {
            key: key.to_owned(),
            recursive,
        }
    }

    fn matches(&self, key: &str) -> bool {
        if self.recursive {
            key.starts_with(&self.key)
        } else {
            key == self.key
        }
    }
}

impl History {
    /// An empty history at `current`: nothing before it can be replayed.
    pub(crate) fn new(current: Revision, capacity: usize) -> Arc<Self> {
        let (fanout, _) = broadcast::channel(FANOUT_BUFFER);
        Arc::new(History {
            state: Mutex::new(HistoryState {
                events: VecDeque::new(),
                capacity: capacity.max(1),
                compacted: current,
                current,
                fanout,
            }),
            appended: Condvar::new(),
        })
    }

    /// Records a commit's events (see [`HistoryState::append`]) and wakes
    /// the readers waiting for them.
    pub(crate) fn append(&self, events: Vec<WatchEvent>) {
        self.lock().append(events);
        self.appended.notify_all();
    }

    /// The state once it holds every event up to `revision` (a revision the
    /// database has committed). Blocking: for the storage's blocking pool.
    pub(crate) fn reaching(&self, revision: Revision) -> Result<MutexGuard<'_, HistoryState>> {
        let (state, waited) = self
            .appended
            .wait_timeout_while(self.lock(), REACH_TIMEOUT, |state| state.current < revision)
            .unwrap_or_else(PoisonError::into_inner);
        if waited.timed_out() && state.current < revision {
            return Err(StorageError::internal(
                "reading a past state",
                format!(
                    "the event history stayed at revision {} behind the committed {revision}",
                    state.current
                ),
            ));
        }
        Ok(state)
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, HistoryState> {
        // The state is consistent after every statement that holds the lock
        // (no panics inside), so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A watch of `key` from `opts.revision`.
    pub(crate) fn watch(self: &Arc<Self>, key: &str, opts: &WatchOptions) -> Result<WatchStream> {
        let filter = KeyFilter::new(key, opts.recursive);
        let state = self.lock();
        let from = opts.revision.unwrap_or(state.current);
        let (replay, rx) = state.resume(from, &filter)?;
        drop(state);
        let watcher = Watcher {
            history: Arc::downgrade(self),
            filter,
            last: from,
            replay,
            rx,
            ended: false,
        };
        Ok(Box::pin(stream::unfold(watcher, Watcher::next)))
    }
}

impl HistoryState {
    pub(crate) fn current(&self) -> Revision {
        self.current
    }

    /// Records the events of one commit, in revision order, and sends them
    /// to the live watchers. Events beyond the capacity fall off the front
    /// and move the compacted marker.
    pub(crate) fn append(&mut self, events: Vec<WatchEvent>) {
        for event in events {
            let event = Arc::new(event);
            self.current = event.revision();
            self.events.push_back(Arc::clone(&event));
            // No receivers is fine: nobody is watching.
            let _ = self.fanout.send(event);
        }
        while self.events.len() > self.capacity {
            if let Some(dropped) = self.events.pop_front() {
                self.compacted = dropped.revision();
            }
        }
    }

    /// Drops the events at and before `revision` (at most the current one).
    pub(crate) fn compact(&mut self, revision: Revision) {
        let revision = revision.min(self.current);
        if revision <= self.compacted {
            return;
        }
        while self
            .events
            .front()
            .is_some_and(|event| event.revision() <= revision)
        {
            self.events.pop_front();
        }
        self.compacted = revision;
    }

    /// Fails unless the history can serve everything after `revision`.
    pub(crate) fn check(&self, revision: Revision) -> Result<()> {
        if revision < self.compacted {
            return Err(StorageError::Expired {
                requested: revision,
                compacted: self.compacted,
                current: self.current,
            });
        }
        Ok(())
    }

    /// The retained events after `from` for `filter`, and a receiver for the
    /// events committed from now on.
    fn resume(&self, from: Revision, filter: &KeyFilter) -> Result<Resumed> {
        self.check(from)?;
        let replay = self
            .events
            .iter()
            .filter(|event| event.revision() > from && filter.matches(event.key()))
            .cloned()
            .collect();
        Ok((replay, self.fanout.subscribe()))
    }

    /// How the keys under `prefix` from `start_key` on differed at
    /// `revision` from a snapshot at `snapshot`: for each key changed in
    /// between, its value then (`None`: it did not exist). Keys absent from
    /// the map are unchanged.
    pub(crate) fn undo_between(
        &self,
        revision: Revision,
        snapshot: Revision,
        prefix: &str,
        start_key: &str,
    ) -> Result<BTreeMap<String, Option<KeyValue>>> {
        self.check(revision)?;
        let mut then = BTreeMap::new();
        // Newest first, so that the oldest change after `revision` wins: its
        // previous value is the value at `revision`. Changes after the
        // snapshot are not in it: nothing to undo.
        for event in self.events.iter().rev() {
            if event.revision() > snapshot {
                continue;
            }
            if event.revision() <= revision {
                break;
            }
            let key = event.key();
            if key.starts_with(prefix) && key >= start_key {
                then.insert(key.to_owned(), event.previous().cloned());
            }
        }
        Ok(then)
    }
}

/// The state of one watch stream: events to replay from the history, then
/// live events from the fan-out.
struct Watcher {
    history: Weak<History>,
    filter: KeyFilter,
    /// The revision of the last event delivered (or the start revision).
    last: Revision,
    replay: VecDeque<Arc<WatchEvent>>,
    rx: broadcast::Receiver<Arc<WatchEvent>>,
    ended: bool,
}

impl Watcher {
    async fn next(mut self) -> Option<(Result<WatchEvent>, Self)> {
        if self.ended {
            return None;
        }
        loop {
            let event = match self.replay.pop_front() {
                Some(event) => event,
                None => match self.rx.recv().await {
                    Ok(event) => event,
                    // The store is closed.
                    Err(RecvError::Closed) => return None,
                    // Too slow for the fan-out buffer: catch up from the
                    // history, or expire if it no longer reaches back.
                    Err(RecvError::Lagged(_)) => {
                        let history = self.history.upgrade()?;
                        let resumed = history.lock().resume(self.last, &self.filter);
                        match resumed {
                            Ok((replay, rx)) => {
                                self.replay = replay;
                                self.rx = rx;
                                continue;
                            }
                            Err(err) => {
                                self.ended = true;
                                return Some((Err(err), self));
                            }
                        }
                    }
                },
            };
            if event.revision() > self.last && self.filter.matches(event.key()) {
                self.last = event.revision();
                return Some((Ok(WatchEvent::clone(&event)), self));
            }
        }
    }
}
