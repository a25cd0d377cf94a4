//! Audit filter: for requests the policy audits, writes one
//! `ResponseComplete` event with the metadata, and the request/response
//! bodies at the Request/RequestResponse levels. Sets `Audit-Id`. Failed
//! authentications are audited by the authentication filter.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use futures_util::{StreamExt, stream};
use http::header::CONTENT_TYPE;
use http::{HeaderValue, Method};

use super::Chain;
use super::body_limit::{BodyLimit, read_body};
use super::impersonation::ImpersonatedUser;
use crate::audit::Event;
use crate::audit::Level;
use crate::audit::event::EventUser;
use crate::authentication::UserInfo;
use crate::request_info::RequestInfo;

/// Response bodies larger than this are not copied into events.
const MAX_RESPONSE_CAPTURE: usize = 3 * 1024 * 1024;

pub async fn filter(State(chain): State<Arc<Chain>>, request: Request, next: Next) -> Response {
    let Some(auditor) = &chain.auditor else {
        return next.run(request).await;
    };
    let (Some(user), Some(info)) = (
        request.extensions().get::<UserInfo>().cloned(),
        request.extensions().get::<RequestInfo>().cloned(),
    ) else {
        return next.run(request).await;
    };
    let level = auditor.policy.level_for(&user, &info);
    if level == Level::None {
        return next.run(request).await;
    }
    let mut event = Event::begin(level, &info, &user, &request);
    let mut request = request;
    let mut request_object = None;
    if level >= Level::Request
        && request.method() != Method::GET
        && request.method() != Method::HEAD
    {
        let limit = request
            .extensions()
            .get::<BodyLimit>()
            .map_or(u64::MAX, |l| l.0);
        let (parts, body) = request.into_parts();
        let bytes = match read_body(body, limit).await {
            Ok(bytes) => bytes,
            Err(status) => return status.into_response(),
        };
        request_object = json_object(&bytes);
        request = Request::from_parts(parts, Body::from(bytes));
    }

    let mut response = next.run(request).await;
    let mut response_object = None;
    if level == Level::RequestResponse && !info.is_long_running() && is_json(&response) {
        let (parts, body) = response.into_parts();
        let (body, captured) = capture(body, MAX_RESPONSE_CAPTURE).await;
        response_object = captured.as_deref().and_then(json_object);
        response = Response::from_parts(parts, body);
    }
    event.impersonated_user = response
        .extensions()
        .get::<ImpersonatedUser>()
        .map(|impersonated| EventUser::from(&impersonated.0));
    if let Ok(value) = HeaderValue::from_str(&event.audit_id) {
        response.headers_mut().insert("audit-id", value);
    }
    event.request_object = request_object;
    event.response_object = response_object;
    event.finish(response.status());
    auditor.backend.write(&event);
    response.into_response()
}

/// Reads `body` for the audit event: all of it when it is at most `limit`
/// bytes. The returned body is what the client receives either way: the
/// same bytes, the part read followed by the rest (or the read error).
async fn capture(body: Body, limit: usize) -> (Body, Option<Bytes>) {
    let mut stream = body.into_data_stream();
    let mut read = BytesMut::new();
    while read.len() <= limit {
        match stream.next().await {
            None => {
                let bytes = read.freeze();
                return (Body::from(bytes.clone()), Some(bytes));
            }
            Some(Ok(chunk)) => read.extend_from_slice(&chunk),
            Some(Err(err)) => {
                let read = read.freeze();
                let failed = stream::iter([Ok(read), Err(err)]);
                return (Body::from_stream(failed), None);
            }
        }
    }
    let read = read.freeze();
    let rest = stream::iter([Ok::<_, axum::Error>(read)]).chain(stream);
    (Body::from_stream(rest), None)
}

fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

fn json_object(bytes: &[u8]) -> Option<serde_json::Value> {
    serde_json::from_slice(bytes).ok()
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;

    use super::*;

    async fn bytes_of(body: Body) -> Vec<u8> {
        body.collect().await.unwrap().to_bytes().to_vec()
    }

    /// The client gets every byte whatever the audit captures.
    #[tokio::test]
    async fn capture_never_changes_the_body() {
        let big: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let chunks: Vec<Result<Bytes, std::io::Error>> = big
            .chunks(4096)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        let (body, captured) = capture(Body::from_stream(stream::iter(chunks)), 10_000).await;
        assert_eq!(captured, None, "over the limit: not captured");
        assert_eq!(bytes_of(body).await, big);

        let (body, captured) = capture(Body::from(big.clone()), 100_000).await;
        assert_eq!(captured.as_deref(), Some(&big[..]));
        assert_eq!(bytes_of(body).await, big);

        let (body, captured) = capture(Body::empty(), 10).await;
        assert_eq!(captured.as_deref(), Some(&b""[..]));
        assert!(bytes_of(body).await.is_empty());
    }
}
