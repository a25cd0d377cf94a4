//! The secure server: its completed configuration, the handler tree (health,
//! version, metrics, and routes later components add) wrapped in the filter
//! chain, and the serving lifecycle with graceful shutdown.

pub mod connections;
pub mod pem;
pub mod self_signed;
pub mod serve;
pub mod signals;
pub mod sni;
pub mod tls;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use axum::Router;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use regex::Regex;

use crate::audit::Auditor;
use crate::authentication::Authenticator;
use crate::authorization::Authorizer;
use crate::filters::{self, Chain, max_inflight};
use crate::healthz::{self, Endpoint, HealthCheck};
use crate::metrics::Metrics;
use crate::status::Status;

pub use serve::PreparedServer;

/// The completed configuration of the generic server (`server.CompletedConfig`).
pub struct Config {
    pub bind_address: SocketAddr,
    /// `--permit-port-sharing`: SO_REUSEPORT on the listener.
    pub permit_port_sharing: bool,
    pub tls: Arc<rustls::ServerConfig>,
    /// HTTP/2 `SETTINGS_MAX_CONCURRENT_STREAMS`; `None`: hyper's default.
    pub http2_max_streams: Option<u32>,
    pub authenticator: Authenticator,
    pub authorizer: Arc<dyn Authorizer>,
    pub auditor: Option<Auditor>,
    /// 0: unlimited.
    pub max_requests_in_flight: usize,
    /// 0: unlimited.
    pub max_mutating_requests_in_flight: usize,
    /// Zero: no timeout.
    pub request_timeout: Duration,
    pub max_request_body_bytes: u64,
    pub cors_allowed_origins: Vec<Regex>,
    /// `--strict-transport-security-directives`; empty: no HSTS header.
    pub hsts_directives: Vec<String>,
    /// `/readyz` fails this long before the listener closes.
    pub shutdown_delay: Duration,
    /// How long in-flight requests may take to drain after that.
    pub shutdown_drain_timeout: Duration,
    /// The most connections served at once (`--max-connections`, resolved).
    pub max_connections: usize,
    /// `--idle-connection-timeout`.
    pub idle_connection_timeout: Duration,
}

/// A server ready to bind: handlers can still be added.
pub struct Server {
    config: Config,
    metrics: Metrics,
    routes: Router,
    healthz_checks: Vec<Arc<dyn HealthCheck>>,
    readyz_only_checks: Vec<Arc<dyn HealthCheck>>,
    pre_shutdown_hooks: Vec<serve::PreShutdownHook>,
    shutting_down: Arc<AtomicBool>,
}

impl Server {
    pub fn new(config: Config) -> anyhow::Result<Self> {
        Ok(Server {
            config,
            metrics: Metrics::new()?,
            routes: Router::new(),
            healthz_checks: vec![healthz::ping(), healthz::log()],
            readyz_only_checks: Vec::new(),
            pre_shutdown_hooks: Vec::new(),
            shutting_down: Arc::new(AtomicBool::new(false)),
        })
    }

    /// Adds handlers (the REST API plugs in here); they run behind the
    /// whole filter chain.
    pub fn add_routes(&mut self, routes: Router) {
        self.routes = std::mem::take(&mut self.routes).merge(routes);
    }

    /// A check on `/healthz`, `/livez` and `/readyz` (e.g. storage).
    pub fn add_health_check(&mut self, check: Arc<dyn HealthCheck>) {
        self.healthz_checks.push(check);
    }

    /// A check on `/readyz` only (e.g. informer sync).
    pub fn add_readyz_check(&mut self, check: Arc<dyn HealthCheck>) {
        self.readyz_only_checks.push(check);
    }

    /// Work that runs once when shutdown begins, before the shutdown delay
    /// and the drain (upstream's pre-shutdown hooks, e.g. taking this
    /// apiserver out of the `kubernetes` endpoints). Each is bounded by
    /// [`serve::PRE_SHUTDOWN_HOOK_TIMEOUT`].
    pub fn add_pre_shutdown_hook(
        &mut self,
        name: &'static str,
        hook: impl std::future::Future<Output = ()> + Send + 'static,
    ) {
        self.pre_shutdown_hooks.push((name, Box::pin(hook)));
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The full handler: endpoints and added routes inside the filter chain.
    fn handler(&mut self, shutting_down: Arc<AtomicBool>) -> Router {
        let mut readyz = self.healthz_checks.clone();
        readyz.extend(self.readyz_only_checks.iter().cloned());
        readyz.push(healthz::shutdown(shutting_down));
        let metrics = self.metrics.clone();
        let handlers = Router::new()
            // Upstream answers the trailing-slash form too (the Python
            // client's `VersionApi` asks for `/version/`).
            .route("/version", get(version))
            .route("/version/", get(version))
            .route("/metrics", get(move || async move { metrics.render() }))
            .merge(Endpoint::new("healthz", self.healthz_checks.clone()).router())
            .merge(Endpoint::new("livez", self.healthz_checks.clone()).router())
            .merge(Endpoint::new("readyz", readyz).router())
            .merge(std::mem::take(&mut self.routes))
            .fallback(not_found)
            .method_not_allowed_fallback(method_not_allowed);
        let chain = Arc::new(Chain {
            metrics: self.metrics.clone(),
            inflight: max_inflight::Limits::new(
                self.config.max_requests_in_flight,
                self.config.max_mutating_requests_in_flight,
            ),
            request_timeout: self.config.request_timeout,
            max_request_body_bytes: self.config.max_request_body_bytes,
            cors_allowed_origins: self.config.cors_allowed_origins.clone(),
            authenticator: self.config.authenticator.clone(),
            auditor: self.config.auditor.take(),
            authorizer: self.config.authorizer.clone(),
            hsts: (!self.config.hsts_directives.is_empty())
                .then(|| http::HeaderValue::from_str(&self.config.hsts_directives.join("; ")).ok())
                .flatten(),
        });
        filters::wrap(handlers, chain)
    }

    /// Binds the secure port (`PrepareRun`): after this, the address is known
    /// and connections queue until [`PreparedServer::run`].
    pub async fn prepare_run(mut self) -> anyhow::Result<PreparedServer> {
        let shutting_down = self.shutting_down.clone();
        let app = self.handler(shutting_down.clone());
        let hooks = std::mem::take(&mut self.pre_shutdown_hooks);
        serve::PreparedServer::bind(self.config, app, shutting_down, hooks).await
    }
}

async fn version() -> Response {
    match serde_json::to_vec_pretty(&component_base::version::get()) {
        Ok(body) => ([(http::header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(err) => Status::internal_error(err.to_string()).into_response(),
    }
}

async fn not_found() -> Response {
    Status::not_found_path().into_response()
}

async fn method_not_allowed() -> Response {
    Status::failure(
        http::StatusCode::METHOD_NOT_ALLOWED,
        "MethodNotAllowed",
        "the server does not allow this method on the requested resource",
    )
    .into_response()
}
