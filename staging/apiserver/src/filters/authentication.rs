//! Authentication filter: resolves the user (client certificate, bearer
//! token, anonymous) into the extensions, strips the `Authorization` header,
//! and answers 401 `Unauthorized` when no authenticator accepts the request.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::header::AUTHORIZATION;

use super::Chain;
use crate::authentication::ClientCertIdentity;
use crate::status::Status;

pub async fn filter(State(chain): State<Arc<Chain>>, mut request: Request, next: Next) -> Response {
    let cert = request.extensions().get::<ClientCertIdentity>();
    match chain.authenticator.authenticate(cert, request.headers()) {
        Ok(user) => {
            request.headers_mut().remove(AUTHORIZATION);
            request.extensions_mut().insert(user);
            next.run(request).await
        }
        Err(err) => {
            tracing::debug!(reason = %err.0, path = request.uri().path(), "unable to authenticate the request");
            Status::unauthorized().into_response()
        }
    }
}
