//! Body limit: request bodies over the limit (3 MiB) are refused with 413,
//! up front when `Content-Length` says so, otherwise when read
//! ([`read_body`] turns the overflow into the 413 `Status`).

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::header::CONTENT_LENGTH;
use http_body_util::{BodyExt, LengthLimitError, Limited};

use super::Chain;
use crate::status::Status;

/// The limit in force for a request, in its extensions.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub u64);

pub async fn filter(State(chain): State<Arc<Chain>>, request: Request, next: Next) -> Response {
    let limit = chain.max_request_body_bytes;
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Status::request_entity_too_large(limit).into_response();
    }
    let mut request = request.map(|body| Body::new(Limited::new(body, limit as usize)));
    request.extensions_mut().insert(BodyLimit(limit));
    next.run(request).await
}

/// Reads a whole request body, mapping an overflow to 413 and other read
/// errors to 400.
pub async fn read_body(body: Body, limit: u64) -> Result<Bytes, Status> {
    match Limited::new(body, limit as usize).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(err) => {
            let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err.as_ref());
            while let Some(err) = source {
                if err.is::<LengthLimitError>() {
                    return Err(Status::request_entity_too_large(limit));
                }
                source = err.source();
            }
            Err(Status::bad_request(format!(
                "error reading the request body: {err}"
            )))
        }
    }
}
