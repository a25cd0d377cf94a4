//! Authorization filter: asks the authorizer chain; a denial is 403
//! `Forbidden` with upstream's message.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::Chain;
use crate::authentication::UserInfo;
use crate::authorization::{Attributes, forbidden};
use crate::request_info::RequestInfo;
use crate::status::Status;

pub async fn filter(State(chain): State<Arc<Chain>>, request: Request, next: Next) -> Response {
    let (Some(user), Some(info)) = (
        request.extensions().get::<UserInfo>(),
        request.extensions().get::<RequestInfo>(),
    ) else {
        return Status::internal_error("no user or request info in the request context")
            .into_response();
    };
    let verdict = chain
        .authorizer
        .authorize(&Attributes::of_request(user, info));
    if verdict.allowed() {
        next.run(request).await
    } else {
        forbidden(user, info, &verdict.reason).into_response()
    }
}
