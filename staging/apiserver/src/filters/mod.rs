//! The request filter chain, as tower layers in Kubernetes' order (outermost
//! first): panic recovery → request info (+ metrics) → max-in-flight →
//! timeout → body limit → CORS → authentication → audit → impersonation →
//! authorization → handlers, with HSTS just inside panic recovery. Every rejection is a
//! `Status`. `response_body` keeps what max-in-flight and timeout hold
//! until a streamed response is sent.

pub mod audit;
pub mod authentication;
pub mod authorization;
pub mod body_limit;
pub mod cors;
pub mod hsts;
pub mod impersonation;
pub mod max_inflight;
pub mod panic_recovery;
pub mod request_info;
pub mod response_body;
pub mod timeout;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::middleware::from_fn_with_state;
use regex::Regex;

use crate::audit::Auditor;
use crate::authentication::Authenticator;
use crate::authorization::Authorizer;
use crate::metrics::Metrics;

/// Everything the filters need, shared by all requests.
pub struct Chain {
    pub metrics: Metrics,
    pub inflight: max_inflight::Limits,
    /// Zero: no timeout.
    pub request_timeout: Duration,
    pub max_request_body_bytes: u64,
    pub cors_allowed_origins: Vec<Regex>,
    pub authenticator: Authenticator,
    pub auditor: Option<Auditor>,
    pub authorizer: Arc<dyn Authorizer>,
    /// The `Strict-Transport-Security` value, when directives are configured.
    pub hsts: Option<http::HeaderValue>,
}

/// The peer of the connection a request came in on.
#[derive(Debug, Clone, Copy)]
pub struct RemoteAddr(pub SocketAddr);

/// Wraps `handlers` in the filter chain.
pub fn wrap(handlers: Router, chain: Arc<Chain>) -> Router {
    // `Router::layer` wraps what is there already: add the innermost first.
    let mut router = handlers
        .layer(from_fn_with_state(chain.clone(), authorization::filter))
        .layer(from_fn_with_state(chain.clone(), impersonation::filter))
        .layer(from_fn_with_state(chain.clone(), audit::filter))
        .layer(from_fn_with_state(chain.clone(), authentication::filter));
    if !chain.cors_allowed_origins.is_empty() {
        router = router.layer(from_fn_with_state(chain.clone(), cors::filter));
    }
    router
        .layer(from_fn_with_state(chain.clone(), body_limit::filter))
        .layer(from_fn_with_state(chain.clone(), timeout::filter))
        .layer(from_fn_with_state(chain.clone(), max_inflight::filter))
        .layer(from_fn_with_state(chain.clone(), request_info::filter))
        .layer(from_fn_with_state(chain, hsts::filter))
        .layer(panic_recovery::layer())
}
