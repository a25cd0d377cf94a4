//! Timeout: non-long-running requests that take longer than
//! `--request-timeout` (or a shorter `?timeout=` from the client) get 504
//! `Timeout` (`WithTimeoutForNonLongRunningRequests`, `WithRequestDeadline`);
//! a streamed list still being sent at the deadline is aborted.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::Chain;
use crate::flag::Duration as GoDuration;
use crate::query::Query;
use crate::request_info::RequestInfo;
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
    match client_timeout(request.uri().query()) {
        Ok(Some(requested)) => {
            if deadline.is_zero() || requested < deadline {
                deadline = requested;
            }
        }
        Ok(None) => {}
        Err(value) => {
            return Status::bad_request(format!(
                "invalid timeout specified in the request URL: {value:?}"
            ))
            .into_response();
        }
    }
    if deadline.is_zero() {
        return next.run(request).await;
    }
    let deadline = tokio::time::Instant::now() + deadline;
    match tokio::time::timeout_at(deadline, next.run(request)).await {
        Ok(response) => super::response_body::abort_stream_at(response, deadline),
        Err(_) => Status::timeout().into_response(),
    }
}

/// The client's `?timeout=` as upstream's `parseTimeout` reads it: the first
/// value, none when absent or empty; `Err` carries a value that is not a
/// non-negative Go duration.
fn client_timeout(query: Option<&str>) -> Result<Option<std::time::Duration>, String> {
    let query = Query::parse(query);
    let Some(value) = query.get("timeout").filter(|value| !value.is_empty()) else {
        return Ok(None);
    };
    match value.parse::<GoDuration>() {
        Ok(requested) if !requested.is_negative() => Ok(Some(requested.to_std())),
        _ => Err(value.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_client_timeout_is_the_first_decoded_value() {
        assert_eq!(client_timeout(None), Ok(None));
        assert_eq!(client_timeout(Some("timeout=")), Ok(None));
        assert_eq!(
            client_timeout(Some("timeout=1m30s&timeout=1s")),
            Ok(Some(Duration::from_secs(90)))
        );
        // Decoded as every query (`%2E` is `.`).
        assert_eq!(
            client_timeout(Some("timeout=1%2E5s")),
            Ok(Some(Duration::from_millis(1500)))
        );
        // A pair Go cannot unescape is dropped, not a 400.
        assert_eq!(
            client_timeout(Some("timeout=%zz&timeout=2s")),
            Ok(Some(Duration::from_secs(2)))
        );
        assert_eq!(
            client_timeout(Some("timeout=soon")),
            Err("soon".to_string())
        );
        assert_eq!(client_timeout(Some("timeout=-1s")), Err("-1s".to_string()));
    }
}
