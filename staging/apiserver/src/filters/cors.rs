//! CORS (`--cors-allowed-origins`), as upstream's `WithCORS`: a request
//! whose `Origin` matches one of the regular expressions gets the CORS
//! headers, and an OPTIONS request from such an origin is answered here with
//! 204, before authentication. Any other request, a preflight from any other
//! origin included, goes on down the chain (and meets authentication).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};

use super::Chain;

const ALLOW_METHODS: &str = "POST, GET, OPTIONS, PUT, DELETE, PATCH";
const ALLOW_HEADERS: &str = "Content-Type, Content-Length, Accept-Encoding, X-CSRF-Token, Authorization, X-Requested-With, If-Modified-Since";
const EXPOSE_HEADERS: &str = "Date";

pub async fn filter(State(chain): State<Arc<Chain>>, request: Request, next: Next) -> Response {
    let allowed = request
        .headers()
        .get(header::ORIGIN)
        .filter(|origin| {
            origin.to_str().is_ok_and(|origin| {
                chain
                    .cors_allowed_origins
                    .iter()
                    .any(|re| re.is_match(origin))
            })
        })
        .cloned();
    let Some(origin) = allowed else {
        return next.run(request).await;
    };
    let mut response = if request.method() == Method::OPTIONS {
        StatusCode::NO_CONTENT.into_response()
    } else {
        next.run(request).await
    };
    add_headers(response.headers_mut(), origin);
    response
}

fn add_headers(headers: &mut HeaderMap, origin: HeaderValue) {
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    for (name, value) in [
        (header::ACCESS_CONTROL_ALLOW_METHODS, ALLOW_METHODS),
        (header::ACCESS_CONTROL_ALLOW_HEADERS, ALLOW_HEADERS),
        (header::ACCESS_CONTROL_EXPOSE_HEADERS, EXPOSE_HEADERS),
        (header::ACCESS_CONTROL_ALLOW_CREDENTIALS, "true"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
}
