//! Max-in-flight: separate limits for read-only and mutating requests
//! (`--max-requests-inflight`, `--max-mutating-requests-inflight`; 0 = no
//! limit); long-running requests are exempt; over the limit → 429 with
//! `Retry-After: 1`. A request holds its slot until its response is sent,
//! the later pages of a streamed list included.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus::IntGauge;
use tokio::sync::Semaphore;

use super::Chain;
use crate::request_info::RequestInfo;
use crate::status::Status;

/// The two limits; `None` = unlimited.
pub struct Limits {
    read_only: Option<Arc<Semaphore>>,
    mutating: Option<Arc<Semaphore>>,
}

impl Limits {
    pub fn new(read_only: usize, mutating: usize) -> Self {
        let semaphore = |n: usize| (n > 0).then(|| Arc::new(Semaphore::new(n)));
        Limits {
            read_only: semaphore(read_only),
            mutating: semaphore(mutating),
        }
    }
}

pub async fn filter(State(chain): State<Arc<Chain>>, request: Request, next: Next) -> Response {
    let Some(info) = request.extensions().get::<RequestInfo>() else {
        return next.run(request).await;
    };
    if info.is_long_running() {
        return next.run(request).await;
    }
    let (semaphore, kind) = if info.is_read_only() {
        (&chain.inflight.read_only, "readOnly")
    } else {
        (&chain.inflight.mutating, "mutating")
    };
    let permit = match semaphore {
        None => None,
        Some(semaphore) => match semaphore.clone().try_acquire_owned() {
            Ok(permit) => Some(permit),
            Err(_) => return Status::too_many_requests(1).into_response(),
        },
    };
    let in_flight = InFlight::new(chain.metrics.inflight.with_label_values(&[kind]));
    let response = next.run(request).await;
    super::response_body::hold_until_sent(response, (permit, in_flight))
}

/// Counts a request in `apiserver_current_inflight_requests` until dropped,
/// also when the client goes away mid-request.
struct InFlight(IntGauge);

impl InFlight {
    fn new(gauge: IntGauge) -> Self {
        gauge.inc();
        InFlight(gauge)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}
