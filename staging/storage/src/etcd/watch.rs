//! etcd watches as [`WatchStream`]s: one etcd watch per stream, from
//! `revision + 1`, with each event's previous value (etcd's `prev_kv`), the
//! events of each response delivered in order. A watch etcd cancels because
//! its start was compacted ends with one `Expired` item; any other end (a
//! cancelled watch, a lost connection) ends with one internal error, and the
//! registry ends the client's watch cleanly. Every watch progress interval a
//! watch asks etcd how far it has got; etcd answers in order, after the
//! events before it, and the answer is a [`WatchEvent::Progress`].

use std::collections::VecDeque;

use etcd_client::{
    EventType, WatchOptions as EtcdWatchOptions, WatchRequestSender, WatchResponse,
    WatchResponseStream,
};
use futures_util::{StreamExt, stream};

use super::errors::EtcdError;
use super::keys::prefix_end;
use super::{EtcdStorage, etcd_revision, header_revision, revision};
use crate::{KeyValue, Result, Revision, StorageError, WatchEvent, WatchStream};

/// Opens a watch of `key` (or, `recursive`, every key under it) that
/// delivers the events after `from`.
pub(super) async fn open(
    storage: &EtcdStorage,
    key: &str,
    recursive: bool,
    from: Revision,
) -> Result<WatchStream> {
    let physical = storage.keys.physical(key)?;
    let mut options = EtcdWatchOptions::new()
        .with_start_revision(etcd_revision(from.next()))
        .with_prev_key()
        .with_progress_notify();
    if recursive {
        options = options.with_range(prefix_end(physical.as_bytes()));
    }
    let stream = storage
        .client
        .watch_client()
        .max_decoding_message_size(super::MAX_RESPONSE_BYTES)
        .watch(physical, Some(options))
        .await
        .map_err(|e| EtcdError::new("watching etcd", e).into_storage())?;
    let (requests, responses) = stream.split();
    let interval = storage.watch_progress_interval;
    let mut progress = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    progress.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let state = Watching {
        storage: storage.clone(),
        requests,
        responses,
        progress,
        from,
        pending: VecDeque::new(),
        ended: false,
    };
    Ok(Box::pin(stream::unfold(state, Watching::next)))
}

struct Watching {
    storage: EtcdStorage,
    requests: WatchRequestSender,
    responses: WatchResponseStream,
    /// When to ask etcd for this watch's progress next.
    progress: tokio::time::Interval,
    /// The watch's start, for the `Expired` error.
    from: Revision,
    /// Events of the last response not yet handed out.
    pending: VecDeque<WatchEvent>,
    ended: bool,
}

impl Watching {
    async fn next(mut self) -> Option<(Result<WatchEvent>, Self)> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some((Ok(event), self));
            }
            if self.ended {
                return None;
            }
            let message = tokio::select! {
                message = self.responses.next() => message,
                _ = self.progress.tick() => {
                    // A failed request shows as the stream's end next.
                    let _ = self.requests.request_progress().await;
                    continue;
                }
            };
            let response = match message.transpose() {
                Ok(Some(response)) => response,
                Ok(None) => {
                    self.ended = true;
                    let err = StorageError::internal("watching etcd", "etcd closed the watch");
                    return Some((Err(err), self));
                }
                Err(err) => {
                    self.ended = true;
                    let err = EtcdError::new("watching etcd", err).into_storage();
                    return Some((Err(err), self));
                }
            };
            if let Some(err) = self.take(&response) {
                self.ended = true;
                return Some((Err(err), self));
            }
        }
    }

    /// Queues the events of one response; the error that ends the watch if
    /// etcd cancelled it.
    fn take(&mut self, response: &WatchResponse) -> Option<StorageError> {
        if response.compact_revision() > 0 {
            let compacted = revision(response.compact_revision());
            self.storage.saw_compaction(compacted);
            return Some(StorageError::Expired {
                requested: self.from,
                compacted,
                current: header_revision(response.header()),
            });
        }
        if response.canceled() {
            let reason = match response.cancel_reason() {
                "" => "etcd cancelled the watch",
                reason => reason,
            };
            return Some(StorageError::internal("watching etcd", reason.to_owned()));
        }
        if response.events().is_empty() {
            // A progress notification (the watch's creation says nothing).
            if !response.created() {
                self.pending
                    .push_back(WatchEvent::Progress(header_revision(response.header())));
            }
            return None;
        }
        for event in response.events() {
            if let Some(event) = self.event(event) {
                self.pending.push_back(event);
            }
        }
        None
    }

    fn event(&self, event: &etcd_client::Event) -> Option<WatchEvent> {
        let kv = event.kv()?;
        let current = self.storage.key_value(kv);
        let previous = event.prev_kv().map(|prev| self.storage.key_value(prev));
        Some(match event.event_type() {
            EventType::Put if kv.create_revision() == kv.mod_revision() => {
                WatchEvent::Added(current)
            }
            EventType::Put => WatchEvent::Modified {
                // etcd omits the previous value only if it was compacted
                // away under a slow watcher; the current one stands in.
                previous: previous.unwrap_or_else(|| current.clone()),
                current,
            },
            EventType::Delete => WatchEvent::Deleted {
                revision: current.mod_revision,
                previous: previous.unwrap_or(KeyValue {
                    value: Default::default(),
                    ..current
                }),
            },
        })
    }
}
