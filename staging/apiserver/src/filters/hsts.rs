//! HSTS (`--strict-transport-security-directives`): adds the
//! `Strict-Transport-Security` header to every response (`WithHSTS`).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::header::STRICT_TRANSPORT_SECURITY;

use super::Chain;

pub async fn filter(State(chain): State<Arc<Chain>>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    if let Some(value) = &chain.hsts {
        response
            .headers_mut()
            .entry(STRICT_TRANSPORT_SECURITY)
            .or_insert_with(|| value.clone());
    }
    response
}
