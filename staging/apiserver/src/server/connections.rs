//! What a client can hold through connections, bounded: how many are served
//! at once (`--max-connections`, by default what the open-file limit
//! allows), how long the first request's headers may take (32 s, upstream's
//! ReadHeaderTimeout), and how long a connection may sit with no request in
//! progress (`--idle-connection-timeout`, upstream's 90 s IdleTimeout; a
//! keep-alive connection's next request must arrive within it). A
//! connection counts as active from a request's start until its response
//! body is done, so a quiet watch is never idle.
//!
//! hyper's own header timeout is off: it also runs while an HTTP/1.1
//! keep-alive connection waits for its next request, which would close idle
//! connections after 32 s whatever `--idle-connection-timeout` says.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use http_body::{Frame, SizeHint};
use tokio::sync::watch;

/// A connection's first request must have its headers in within this.
pub const READ_HEADER_TIMEOUT: Duration = Duration::from_secs(32);

/// Open files kept for the server itself (storage, logs, certificates)
/// when the connection bound is derived from the open-file limit.
const RESERVED_FILES: u64 = 256;

/// Raises the soft open-file limit to the hard one (as Go's runtime does at
/// start) and returns the soft limit in force; `None` when it cannot be read.
pub fn raise_open_file_limit() -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return None;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit = raised;
            }
        }
    }
    // rlim_t is not u64 on every platform.
    #[allow(clippy::unnecessary_cast)]
    Some(limit.rlim_cur as u64)
}

/// The connection bound for `--max-connections 0`: the open-file limit
/// less what the server keeps for itself (at least 64).
pub fn default_max_connections(open_file_limit: Option<u64>) -> usize {
    let limit = open_file_limit.unwrap_or(1024);
    usize::try_from(limit.saturating_sub(RESERVED_FILES).max(64)).unwrap_or(usize::MAX)
}

/// How many requests of one connection are in progress.
#[derive(Clone)]
pub struct Activity {
    active: Arc<watch::Sender<usize>>,
    /// Whether any request has begun (its headers were read).
    begun: Arc<AtomicBool>,
}

impl Default for Activity {
    fn default() -> Self {
        Activity {
            active: Arc::new(watch::Sender::new(0)),
            begun: Arc::new(AtomicBool::new(false)),
        }
    }
}

impl Activity {
    /// Counts a request in progress until the guard is dropped.
    pub fn begin(&self) -> ActiveRequest {
        self.begun.store(true, Ordering::Release);
        self.active.send_modify(|n| *n += 1);
        ActiveRequest {
            active: Arc::clone(&self.active),
        }
    }

    /// Resolves `timeout` from now if no request has begun by then (the
    /// first request's headers are late); otherwise never.
    pub async fn first_request_late(&self, timeout: Duration) {
        tokio::time::sleep(timeout).await;
        if self.begun.load(Ordering::Acquire) {
            std::future::pending::<()>().await;
        }
    }

    /// Resolves once no request has been in progress for `timeout`.
    pub async fn idle_for(&self, timeout: Duration) {
        let mut changes = self.active.subscribe();
        loop {
            while *changes.borrow_and_update() > 0 {
                if changes.changed().await.is_err() {
                    return std::future::pending().await;
                }
            }
            tokio::select! {
                () = tokio::time::sleep(timeout) => return,
                changed = changes.changed() => {
                    if changed.is_err() {
                        return std::future::pending().await;
                    }
                }
            }
        }
    }
}

/// One request in progress.
pub struct ActiveRequest {
    active: Arc<watch::Sender<usize>>,
}

impl Drop for ActiveRequest {
    fn drop(&mut self) {
        self.active.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// A response body that keeps its request counted as in progress until it
/// is done or dropped.
pub struct TrackedBody {
    inner: Body,
    request: Option<ActiveRequest>,
}

impl TrackedBody {
    pub fn new(inner: Body, request: ActiveRequest) -> Self {
        TrackedBody {
            inner,
            request: Some(request),
        }
    }
}

impl http_body::Body for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None)) {
            self.request = None;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn idle_counts_from_the_last_request_end() {
        let activity = Activity::default();
        let request = activity.begin();
        let idle = activity.idle_for(Duration::from_secs(90));
        tokio::pin!(idle);
        // Busy for longer than the timeout: not idle.
        tokio::select! {
            () = &mut idle => panic!("idle while a request is in progress"),
            () = tokio::time::sleep(Duration::from_secs(200)) => {}
        }
        drop(request);
        let started = tokio::time::Instant::now();
        idle.await;
        assert_eq!(started.elapsed(), Duration::from_secs(90));
    }

    #[tokio::test(start_paused = true)]
    async fn the_first_request_is_late_only_if_none_began() {
        let silent = Activity::default();
        let started = tokio::time::Instant::now();
        silent.first_request_late(READ_HEADER_TIMEOUT).await;
        assert_eq!(started.elapsed(), READ_HEADER_TIMEOUT);

        let served = Activity::default();
        drop(served.begin());
        tokio::select! {
            () = served.first_request_late(READ_HEADER_TIMEOUT) => {
                panic!("late although a request began")
            }
            () = tokio::time::sleep(READ_HEADER_TIMEOUT * 10) => {}
        }
    }

    #[test]
    fn the_default_bound_leaves_room_for_the_servers_files() {
        assert_eq!(default_max_connections(Some(1_048_576)), 1_048_320);
        assert_eq!(default_max_connections(Some(1024)), 768);
        assert_eq!(default_max_connections(Some(100)), 64);
        assert_eq!(default_max_connections(None), 768);
    }
}
