//! Authentication filter: resolves the user (client certificate, bearer
//! token, anonymous) into the extensions, strips the `Authorization` header,
//! and answers 401 `Unauthorized` when no authenticator accepts the request
//! (audited when the policy asks for it).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::header::AUTHORIZATION;

use super::Chain;
use crate::audit::{Event, Level};
use crate::authentication::{ClientCertIdentity, UserInfo};
use crate::request_info::RequestInfo;
use crate::status::Status;

pub async fn filter(State(chain): State<Arc<Chain>>, mut request: Request, next: Next) -> Response {
    let cert = request.extensions().get::<ClientCertIdentity>();
    match chain
        .authenticator
        .authenticate(cert, request.headers())
        .await
    {
        Ok(user) => {
            request.headers_mut().remove(AUTHORIZATION);
            request.extensions_mut().insert(user);
            next.run(request).await
        }
        Err(err) => {
            tracing::debug!(reason = %err.0, path = request.uri().path(), "unable to authenticate the request");
            audit_failure(&chain, &request);
            Status::unauthorized().into_response()
        }
    }
}

/// `WithFailedAuthenticationAudit`: a 401 is audited with no user, at the
/// level the policy gives a request without one.
fn audit_failure(chain: &Chain, request: &Request) {
    let (Some(auditor), Some(info)) = (&chain.auditor, request.extensions().get::<RequestInfo>())
    else {
        return;
    };
    let nobody = UserInfo::default();
    let level = auditor.policy.level_for(&nobody, info);
    if level == Level::None {
        return;
    }
    let mut event = Event::begin(level, info, &nobody, request);
    event.response_status.message = Some("Authentication failed".to_string());
    event.finish(StatusCode::UNAUTHORIZED);
    auditor.backend.write(&event);
}
