//! Audit filter: for requests the policy audits, writes one
//! `ResponseComplete` event with the metadata, and the request/response
//! bodies at the Request/RequestResponse levels. Sets `Audit-Id`. Failed
//! authentications are audited by the authentication filter.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::header::CONTENT_TYPE;
use http::{HeaderValue, Method};
use http_body_util::BodyExt;

use super::Chain;
use super::body_limit::{BodyLimit, read_body};
use crate::audit::Event;
use crate::audit::Level;
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
        match http_body_util::Limited::new(body, MAX_RESPONSE_CAPTURE)
            .collect()
            .await
        {
            Ok(collected) => {
                let bytes = collected.to_bytes();
                response_object = json_object(&bytes);
                response = Response::from_parts(parts, Body::from(bytes));
            }
            Err(err) => {
                tracing::warn!(%err, "reading a response for the audit log");
                response = Response::from_parts(parts, Body::empty());
            }
        }
    }
    if let Ok(value) = HeaderValue::from_str(&event.audit_id) {
        response.headers_mut().insert("audit-id", value);
    }
    event.request_object = request_object;
    event.response_object = response_object;
    event.finish(response.status());
    auditor.backend.write(&event);
    response.into_response()
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
