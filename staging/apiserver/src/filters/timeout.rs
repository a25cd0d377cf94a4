//! Timeout: non-long-running requests that take longer than
//! `--request-timeout` (or a shorter `?timeout=` from the client) get 504
//! `Timeout` (`WithTimeoutForNonLongRunningRequests`, `WithRequestDeadline`).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::Chain;
use crate::flag::Duration as GoDuration;
use crate::request_info::{RequestInfo, query_param};
use crate::status::Status;

pub async fn filter(State(chain): State<Arc<Chain>>, request: Request, next: Next) -> Response {
    let long_running = request
        .extensions()
        .get::<RequestInfo>()
        .is_some_and(RequestInfo::is_long_running);
    if long_running {
        return next.run(request).await;
    }
    let mut deadline = chain.request_timeout;
    if let Some(value) = query_param(request.uri().query(), "timeout") {
        match value.parse::<GoDuration>() {
            Ok(requested) if !requested.is_negative() => {
                let requested = requested.to_std();
                if deadline.is_zero() || requested < deadline {
                    deadline = requested;
                }
            }
            _ => {
                return Status::bad_request(format!(
                    "invalid timeout specified in the request URL: {value:?}"
                ))
                .into_response();
            }
        }
    }
    if deadline.is_zero() {
        return next.run(request).await;
    }
    match tokio::time::timeout(deadline, next.run(request)).await {
        Ok(response) => response,
        Err(_) => Status::timeout().into_response(),
    }
}
