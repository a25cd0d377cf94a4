//! Panic recovery: a panicking handler answers 500 `InternalError` instead of
//! dropping the connection (`WithPanicRecovery`).

use std::any::Any;

use axum::response::{IntoResponse, Response};
use tower_http::catch_panic::{CatchPanicLayer, ResponseForPanic};

use crate::status::Status;

#[derive(Clone, Copy)]
pub struct PanicToStatus;

impl ResponseForPanic for PanicToStatus {
    type ResponseBody = axum::body::Body;

    fn response_for_panic(&mut self, err: Box<dyn Any + Send + 'static>) -> Response {
        let detail = err
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| err.downcast_ref::<&str>().copied())
            .unwrap_or("panic");
        tracing::error!(panic = detail, "handler panicked");
        Status::internal_error("the server panicked while handling the request").into_response()
    }
}

pub fn layer() -> CatchPanicLayer<PanicToStatus> {
    CatchPanicLayer::custom(PanicToStatus)
}
