//! The server's Prometheus metrics: `apiserver_request_total`,
//! `apiserver_request_duration_seconds`, `apiserver_current_inflight_requests`
//! and the process collector, served as text on `/metrics`.
//!
//! Every label takes values from a bounded set, as upstream's: the resource
//! labels only name resources the server installed (anything else, an
//! unauthenticated `GET /apis/<random>/v1/<random>` included, is counted
//! with empty resource labels), and verbs outside upstream's list are
//! `other`. A client cannot grow the series.

use std::collections::HashSet;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};

use crate::registry::ResourceInfo;
use crate::request_info::RequestInfo;

/// Upstream's `validRequestMethods` (`metrics.cleanVerb`): any other verb is
/// counted as `other`.
const VALID_VERBS: [&str; 14] = [
    "APPLY",
    "CONNECT",
    "CREATE",
    "DELETE",
    "DELETECOLLECTION",
    "GET",
    "LIST",
    "PATCH",
    "POST",
    "PROXY",
    "PUT",
    "UPDATE",
    "WATCH",
    "WATCHLIST",
];

/// (group, version, resource, subresource) of an installed resource.
type ResourceLabels = (String, String, String, String);

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
    /// The resources (and subresources) the server serves.
    installed: Arc<RwLock<HashSet<ResourceLabels>>>,
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
            installed: Arc::default(),
        })
    }

    /// The resources whose requests are labelled with their group, version,
    /// resource and subresource (`status`, `scale` and those with handlers
    /// of their own, such as `serviceaccounts/token`, included).
    pub fn install_resources<'a>(&self, resources: impl IntoIterator<Item = &'a ResourceInfo>) {
        let mut installed = self
            .installed
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for info in resources {
            let labels = |subresource: &str| {
                (
                    info.group.to_owned(),
                    info.version.to_owned(),
                    info.plural.to_owned(),
                    subresource.to_owned(),
                )
            };
            installed.insert(labels(""));
            if info.has_status {
                installed.insert(labels("status"));
            }
            if info.has_scale {
                installed.insert(labels("scale"));
            }
            for subresource in &info.create_subresources {
                installed.insert(labels(subresource.name));
            }
        }
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
        let verb = if VALID_VERBS.contains(&verb.as_str()) {
            verb.as_str()
        } else {
            "other"
        };
        let component = "apiserver";
        let dry_run = if dry_run { "All" } else { "" };
        let installed = self
            .installed
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let known = request.is_resource_request
            && installed.contains(&(
                request.api_group.clone(),
                request.api_version.clone(),
                request.resource.clone(),
                request.subresource.clone(),
            ));
        let (group, version, resource, subresource) = if known {
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
                verb,
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
                verb,
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

#[cfg(test)]
mod tests {
    use http::Method;

    use super::*;
    use crate::registry::ResourceNames;

    fn series(metrics: &Metrics) -> usize {
        metrics
            .registry
            .gather()
            .iter()
            .filter(|family| family.name() == "apiserver_request_total")
            .map(|family| family.get_metric().len())
            .sum()
    }

    const PODS: ResourceInfo = ResourceInfo {
        names: ResourceNames {
            group: "",
            version: "v1",
            kind: "Pod",
            plural: "pods",
            singular: "pod",
            namespaced: true,
            short_names: &[],
            categories: &[],
        },
        has_status: true,
        has_scale: false,
        create_only: false,
        create_subresources: Vec::new(),
    };

    /// Requests for resources the server does not serve, with methods it
    /// does not know, add no series beyond one per verb class and code.
    #[tokio::test]
    async fn labels_come_from_a_bounded_set() {
        let metrics = Metrics::new().unwrap();
        metrics.install_resources([&PODS]);
        let observe = |method: &str, path: &str, code: u16| {
            let method = Method::from_bytes(method.as_bytes()).unwrap();
            let info = RequestInfo::new(&method, path, None);
            let code = StatusCode::from_u16(code).unwrap();
            metrics.observe(&info, false, code, Duration::from_millis(1));
        };
        for i in 0..500 {
            observe("GET", &format!("/apis/g{i}.example/v1/r{i}"), 401);
            observe(
                "GET",
                &format!("/api/v1/namespaces/ns{i}/pods/p{i}/sub{i}"),
                404,
            );
            observe(&format!("VERB{i}"), &format!("/nonresource{i}"), 405);
        }
        assert_eq!(series(&metrics), 3, "series grew with the requests");

        observe("GET", "/api/v1/namespaces/default/pods/web", 200);
        observe("PUT", "/api/v1/namespaces/default/pods/web/status", 200);
        let text = String::from_utf8(
            http_body_util::BodyExt::collect(metrics.render().into_body())
                .await
                .unwrap()
                .to_bytes()
                .to_vec(),
        )
        .unwrap();
        assert!(
            text.contains(
                r#"resource="pods",scope="resource",subresource="",verb="GET",version="v1""#
            ),
            "{text}"
        );
        assert!(
            text.contains(r#"subresource="status",verb="UPDATE""#),
            "{text}"
        );
        assert!(text.contains(r#"verb="other""#), "{text}");
        assert!(
            !text.contains("g1.example") && !text.contains("sub1"),
            "{text}"
        );
    }
}
