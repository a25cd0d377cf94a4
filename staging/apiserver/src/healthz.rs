//! `/healthz`, `/livez`, `/readyz`: named checks, `?verbose`, `?exclude=`, and
//! one path per check, with upstream's output. Later components (storage)
//! plug in their own checks through [`HealthCheck`].

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{HeaderValue, StatusCode, header};

use crate::query::Query;
use crate::status::Status;

/// The result of one check: `Err` carries the reason (logged, withheld from
/// the aggregate output).
pub type CheckResult = Result<(), String>;

/// One named health check.
pub trait HealthCheck: Send + Sync {
    fn name(&self) -> &str;
    fn check(&self) -> Pin<Box<dyn Future<Output = CheckResult> + Send + '_>>;
}

/// A check from a name and a synchronous function.
pub struct NamedCheck<F> {
    name: String,
    check: F,
}

impl<F: Fn() -> CheckResult + Send + Sync> NamedCheck<F> {
    pub fn new(name: impl Into<String>, check: F) -> Self {
        NamedCheck {
            name: name.into(),
            check,
        }
    }
}

impl<F: Fn() -> CheckResult + Send + Sync> HealthCheck for NamedCheck<F> {
    fn name(&self) -> &str {
        &self.name
    }

    fn check(&self) -> Pin<Box<dyn Future<Output = CheckResult> + Send + '_>> {
        let result = (self.check)();
        Box::pin(async move { result })
    }
}

/// `ping`: always healthy.
pub fn ping() -> Arc<dyn HealthCheck> {
    Arc::new(NamedCheck::new("ping", || Ok(())))
}

/// `log`: the logger is usable (tracing cannot block, so always healthy).
pub fn log() -> Arc<dyn HealthCheck> {
    Arc::new(NamedCheck::new("log", || Ok(())))
}

/// `shutdown` (readyz only): fails once termination has begun.
pub fn shutdown(shutting_down: Arc<AtomicBool>) -> Arc<dyn HealthCheck> {
    Arc::new(NamedCheck::new("shutdown", move || {
        if shutting_down.load(Ordering::SeqCst) {
            Err("process is shutting down".to_string())
        } else {
            Ok(())
        }
    }))
}

/// The checks of one endpoint (`healthz`, `livez` or `readyz`).
#[derive(Clone)]
pub struct Endpoint {
    name: &'static str,
    checks: Arc<Vec<Arc<dyn HealthCheck>>>,
}

impl Endpoint {
    pub fn new(name: &'static str, checks: Vec<Arc<dyn HealthCheck>>) -> Self {
        Endpoint {
            name,
            checks: Arc::new(checks),
        }
    }

    /// `/<name>` and `/<name>/<check>`.
    pub fn router(self) -> Router {
        let path = format!("/{}", self.name);
        let single = format!("/{}/{{*check}}", self.name);
        Router::new()
            .route(&path, get(aggregate))
            .route(&single, get(single_check))
            .with_state(self)
    }

    /// Runs the checks; returns the status and the body upstream writes.
    pub async fn evaluate(&self, query: Option<&str>) -> (StatusCode, String) {
        let query = Query::parse(query);
        // Upstream: `verbose` counts if sent at all; `exclude` is every
        // value, as a set (duplicates collapse; what matches no check is
        // listed sorted).
        let verbose = query.contains("verbose");
        let mut excluded: BTreeSet<&str> = query.get_all("exclude").collect();
        let mut output = String::new();
        let mut failed = Vec::new();
        for check in self.checks.iter() {
            let name = check.name();
            if excluded.remove(name) {
                output.push_str(&format!("[+]{name} excluded: ok\n"));
                continue;
            }
            match check.check().await {
                Ok(()) => output.push_str(&format!("[+]{name} ok\n")),
                Err(reason) => {
                    output.push_str(&format!("[-]{name} failed: reason withheld\n"));
                    tracing::debug!(check = name, endpoint = self.name, %reason, "health check failed");
                    failed.push(name.to_string());
                }
            }
        }
        if !excluded.is_empty() {
            let names: Vec<String> = excluded.iter().map(|e| format!("{e:?}")).collect();
            output.push_str(&format!(
                "warn: some health checks cannot be excluded: no matches for {}\n",
                names.join(",")
            ));
        }
        if !failed.is_empty() {
            tracing::info!(failed = %failed.join(","), endpoint = self.name, "{} check failed", self.name);
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("{output}{} check failed\n", self.name),
            );
        }
        if verbose {
            (
                StatusCode::OK,
                format!("{output}{} check passed\n", self.name),
            )
        } else {
            (StatusCode::OK, "ok".to_string())
        }
    }
}

fn text(code: StatusCode, body: String) -> Response {
    let mut response = (code, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    response
}

async fn aggregate(State(endpoint): State<Endpoint>, RawQuery(query): RawQuery) -> Response {
    let (code, body) = endpoint.evaluate(query.as_deref()).await;
    text(code, body)
}

async fn single_check(State(endpoint): State<Endpoint>, Path(name): Path<String>) -> Response {
    let Some(check) = endpoint.checks.iter().find(|c| c.name() == name) else {
        return Status::not_found_path().into_response();
    };
    match check.check().await {
        Ok(()) => text(StatusCode::OK, "ok".to_string()),
        Err(reason) => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("internal server error: {reason}\n"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(failing: bool) -> Endpoint {
        let flag = Arc::new(AtomicBool::new(failing));
        Endpoint::new("readyz", vec![ping(), log(), shutdown(flag)])
    }

    #[tokio::test]
    async fn verbose_exclude_and_failure_output() {
        let (code, body) = endpoint(false).evaluate(None).await;
        assert_eq!((code, body.as_str()), (StatusCode::OK, "ok"));
        let (code, body) = endpoint(false).evaluate(Some("verbose")).await;
        assert_eq!(code, StatusCode::OK);
        assert_eq!(
            body,
            "[+]ping ok\n[+]log ok\n[+]shutdown ok\nreadyz check passed\n"
        );
        let (code, body) = endpoint(true).evaluate(None).await;
        assert_eq!(code, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            body,
            "[+]ping ok\n[+]log ok\n[-]shutdown failed: reason withheld\nreadyz check failed\n"
        );
        let (code, body) = endpoint(true)
            .evaluate(Some("verbose&exclude=shutdown&exclude=nope"))
            .await;
        assert_eq!(code, StatusCode::OK);
        assert_eq!(
            body,
            "[+]ping ok\n[+]log ok\n[+]shutdown excluded: ok\nwarn: some health checks cannot be excluded: no matches for \"nope\"\nreadyz check passed\n"
        );
    }

    #[tokio::test]
    async fn exclude_is_every_decoded_value_as_a_set() {
        // Any escape decodes now (the hand-written parser knew only `%2F`):
        // `%2D` is `-`, `%73` is `s`, `+` a space.
        let flag = Arc::new(AtomicBool::new(true));
        let checks = vec![
            Arc::new(NamedCheck::new(
                "etcd-readiness",
                || Err("down".to_string()),
            )) as Arc<dyn HealthCheck>,
            shutdown(flag),
        ];
        let endpoint = Endpoint::new("readyz", checks);
        let (code, body) = endpoint
            .evaluate(Some("verbose=&exclude=etcd%2Dreadiness&exclude=%73hutdown&exclude=no+pe&exclude=a%2Fb&exclude=no+pe&exclude=%zz"))
            .await;
        assert_eq!(code, StatusCode::OK);
        assert_eq!(
            body,
            "[+]etcd-readiness excluded: ok\n[+]shutdown excluded: ok\nwarn: some health checks cannot be excluded: no matches for \"a/b\",\"no pe\"\nreadyz check passed\n"
        );
        // A name given twice is excluded once and not reported unmatched.
        let (code, body) = endpoint
            .evaluate(Some(
                "exclude=shutdown&exclude=shutdown&exclude=etcd-readiness",
            ))
            .await;
        assert_eq!((code, body.as_str()), (StatusCode::OK, "ok"));
    }
}
