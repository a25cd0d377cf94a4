//! Request info: parses what a request addresses into the extensions for the
//! filters below, and counts the finished request in the metrics.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use super::Chain;
use crate::query::Query;
use crate::request_info::RequestInfo;

pub async fn filter(State(chain): State<Arc<Chain>>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let info = RequestInfo::new(
        request.method(),
        request.uri().path(),
        request.uri().query(),
    );
    let dry_run = Query::parse(request.uri().query()).contains("dryRun");
    request.extensions_mut().insert(info.clone());
    let response = next.run(request).await;
    chain
        .metrics
        .observe(&info, dry_run, response.status(), started.elapsed());
    response
}
