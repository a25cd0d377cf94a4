//! The server's Prometheus metrics: `apiserver_request_total`,
//! `apiserver_request_duration_seconds`, `apiserver_current_inflight_requests`
//! and the process collector, served as text on `/metrics`.

use std::time::Duration;

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};

use crate::request_info::RequestInfo;

/// Upstream's buckets for request latency.
const DURATION_BUCKETS: &[f64] = &[
    0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0,
    10.0, 15.0, 20.0, 30.0, 45.0, 60.0,
];

const REQUEST_LABELS: &[&str] = &[
    "verb",
    "dry_run",
    "group",
    "version",
    "resource",
    "subresource",
    "scope",
    "component",
    "code",
];

/// The registry and the metrics the filters update.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    durations: HistogramVec,
    pub inflight: IntGaugeVec,
}

impl Metrics {
    pub fn new() -> anyhow::Result<Self> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "apiserver_request_total",
                "Counter of apiserver requests broken out for each verb, dry run value, group, version, resource, scope, component, and HTTP response code.",
            ),
            REQUEST_LABELS,
        )?;
        let durations = HistogramVec::new(
            HistogramOpts::new(
                "apiserver_request_duration_seconds",
                "Response latency distribution in seconds for each verb, dry run value, group, version, resource, subresource, scope and component.",
            )
            .buckets(DURATION_BUCKETS.to_vec()),
            &REQUEST_LABELS[..REQUEST_LABELS.len() - 1],
        )?;
        let inflight = IntGaugeVec::new(
            Opts::new(
                "apiserver_current_inflight_requests",
                "Maximal number of currently used inflight request limit of this apiserver per request kind in last second.",
            ),
            &["request_kind"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(durations.clone()))?;
        registry.register(Box::new(inflight.clone()))?;
        registry.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))?;
        for kind in ["readOnly", "mutating"] {
            inflight.with_label_values(&[kind]).set(0);
        }
        Ok(Metrics {
            registry,
            requests,
            durations,
            inflight,
        })
    }

    /// Counts one finished request.
    pub fn observe(
        &self,
        request: &RequestInfo,
        dry_run: bool,
        code: StatusCode,
        elapsed: Duration,
    ) {
        let verb = request.metrics_verb();
        let component = "apiserver";
        let dry_run = if dry_run { "All" } else { "" };
        let (group, version, resource, subresource) = if request.is_resource_request {
            (
                request.api_group.as_str(),
                request.api_version.as_str(),
                request.resource.as_str(),
                request.subresource.as_str(),
            )
        } else {
            ("", "", "", "")
        };
        let code = code.as_str();
        let scope = request.scope();
        self.requests
            .with_label_values(&[
                &verb,
                dry_run,
                group,
                version,
                resource,
                subresource,
                scope,
                component,
                code,
            ])
            .inc();
        self.durations
            .with_label_values(&[
                &verb,
                dry_run,
                group,
                version,
                resource,
                subresource,
                scope,
                component,
            ])
            .observe(elapsed.as_secs_f64());
    }

    /// Registers a further collector (for later components).
    pub fn register(&self, collector: Box<dyn prometheus::core::Collector>) -> anyhow::Result<()> {
        Ok(self.registry.register(collector)?)
    }

    pub fn render(&self) -> Response {
        let mut body = Vec::new();
        let encoder = TextEncoder::new();
        if let Err(err) = encoder.encode(&self.registry.gather(), &mut body) {
            return crate::status::Status::internal_error(err.to_string()).into_response();
        }
        let mut response = (StatusCode::OK, body).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        );
        response
    }
}
