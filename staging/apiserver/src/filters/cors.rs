//! CORS (`--cors-allowed-origins`): origins matching one of the regular
//! expressions get CORS headers; preflights are answered here, before
//! authentication, as upstream's `WithCORS` does.

use http::{HeaderName, HeaderValue, Method, header};
use regex::Regex;
use tower_http::cors::{AllowOrigin, CorsLayer};

/// `None` when no origin is allowed (CORS off).
pub fn layer(origins: &[Regex]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let origins = origins.to_vec();
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::predicate(move |origin: &HeaderValue, _| {
                origin
                    .to_str()
                    .is_ok_and(|o| origins.iter().any(|re| re.is_match(o)))
            }))
            .allow_methods([
                Method::POST,
                Method::GET,
                Method::OPTIONS,
                Method::PUT,
                Method::DELETE,
                Method::PATCH,
            ])
            .allow_headers([
                header::CONTENT_TYPE,
                header::CONTENT_LENGTH,
                header::ACCEPT_ENCODING,
                HeaderName::from_static("x-csrf-token"),
                header::AUTHORIZATION,
                HeaderName::from_static("x-requested-with"),
                header::IF_MODIFIED_SINCE,
            ])
            .expose_headers([header::DATE])
            .allow_credentials(true),
    )
}
