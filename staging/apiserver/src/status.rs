//! The Kubernetes `Status` object (meta/v1) that every error response carries,
//! with constructors for the reasons the server returns and its HTTP response.

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;

use apimachinery::validation::field;

/// `metav1.Status`, as the API returns it on failure.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    pub kind: &'static str,
    pub api_version: &'static str,
    /// Always `{}` (a Status carries no list metadata here).
    pub metadata: EmptyMeta,
    pub status: &'static str,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub message: String,
    #[serde(skip_serializing_if = "str::is_empty")]
    pub reason: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Boxed: most errors have none, and `Status` travels in every
    /// `Result` of the request path.
    pub details: Option<Box<StatusDetails>>,
    pub code: u16,
}

/// The empty `metadata` object of a `Status`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct EmptyMeta {}

/// `metav1.StatusDetails`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusDetails {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub causes: Vec<StatusCause>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_seconds: Option<u32>,
}

/// `metav1.StatusCause`: one reason a request failed, e.g. one invalid field.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusCause {
    pub reason: String,
    pub message: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub field: String,
}

impl Status {
    /// A failure with the given HTTP code, `metav1.StatusReason` and message.
    pub fn failure(code: StatusCode, reason: &'static str, message: impl Into<String>) -> Self {
        Status {
            kind: "Status",
            api_version: "v1",
            metadata: EmptyMeta {},
            status: "Failure",
            message: message.into(),
            reason,
            details: None,
            code: code.as_u16(),
        }
    }

    pub fn not_found_path() -> Self {
        Self::failure(
            StatusCode::NOT_FOUND,
            "NotFound",
            "the server could not find the requested resource",
        )
        .with_details(StatusDetails::default())
    }

    pub fn unauthorized() -> Self {
        Self::failure(StatusCode::UNAUTHORIZED, "Unauthorized", "Unauthorized")
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::failure(StatusCode::FORBIDDEN, "Forbidden", message)
    }

    pub fn too_many_requests(retry_after_seconds: u32) -> Self {
        Self::failure(
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequests",
            "Too many requests, please try again later.",
        )
        .with_details(StatusDetails {
            retry_after_seconds: Some(retry_after_seconds),
            ..StatusDetails::default()
        })
    }

    pub fn timeout() -> Self {
        Self::failure(
            StatusCode::GATEWAY_TIMEOUT,
            "Timeout",
            "Timeout: request did not complete within requested timeout - context deadline exceeded",
        )
    }

    pub fn request_entity_too_large(limit: u64) -> Self {
        Self::failure(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLarge",
            format!("Request entity too large: limit is {limit}"),
        )
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::failure(StatusCode::BAD_REQUEST, "BadRequest", message)
    }

    pub fn internal_error(message: impl Into<String>) -> Self {
        Self::failure(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            format!("Internal error occurred: {}", message.into()),
        )
    }

    /// A success `Status` (what a delete returns for kinds that do not
    /// return the deleted object).
    pub fn success(details: StatusDetails) -> Self {
        Status {
            kind: "Status",
            api_version: "v1",
            metadata: EmptyMeta {},
            status: "Success",
            message: String::new(),
            reason: "",
            details: Some(Box::new(details)),
            code: StatusCode::OK.as_u16(),
        }
    }

    /// 404 `pods "x" not found` (`errors.NewNotFound`).
    pub fn not_found(group: &str, resource: &str, name: &str) -> Self {
        Self::failure(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("{} \"{name}\" not found", qualified(group, resource)),
        )
        .with_details(StatusDetails::named(group, resource, name))
    }

    /// 409 `pods "x" already exists` (`errors.NewAlreadyExists`).
    pub fn already_exists(group: &str, resource: &str, name: &str) -> Self {
        Self::failure(
            StatusCode::CONFLICT,
            "AlreadyExists",
            format!("{} \"{name}\" already exists", qualified(group, resource)),
        )
        .with_details(StatusDetails::named(group, resource, name))
    }

    /// 409 `Operation cannot be fulfilled on pods "x": <why>`
    /// (`errors.NewConflict`).
    pub fn conflict(group: &str, resource: &str, name: &str, why: &str) -> Self {
        Self::failure(
            StatusCode::CONFLICT,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": {why}",
                qualified(group, resource)
            ),
        )
        .with_details(StatusDetails::named(group, resource, name))
    }

    /// The optimistic-concurrency conflict of an update with a stale
    /// resourceVersion.
    pub fn modified_conflict(group: &str, resource: &str, name: &str) -> Self {
        Self::conflict(
            group,
            resource,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    /// 422 `Pod "x" is invalid: <errors>` with one cause per field error
    /// (`errors.NewInvalid`).
    pub fn invalid(group: &str, kind: &str, name: &str, errors: &[field::Error]) -> Self {
        let causes = errors
            .iter()
            .map(|e| StatusCause {
                reason: e.error_type.reason().to_string(),
                message: e.message(),
                field: e.field.clone(),
            })
            .collect();
        Self::failure(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid",
            format!(
                "{} \"{name}\" is invalid: {}",
                qualified(group, kind),
                field::aggregate(errors)
            ),
        )
        .with_details(StatusDetails {
            name: Some(name.to_string()),
            group: (!group.is_empty()).then(|| group.to_string()),
            kind: Some(kind.to_string()),
            causes,
            ..StatusDetails::default()
        })
    }

    /// 403 `pods "x" is forbidden: <why>` (`errors.NewForbidden`).
    pub fn forbidden_resource(group: &str, resource: &str, name: &str, why: &str) -> Self {
        Self::forbidden(format!(
            "{} \"{name}\" is forbidden: {why}",
            qualified(group, resource)
        ))
        .with_details(StatusDetails::named(group, resource, name))
    }

    /// 410 `Expired` (a too-old resourceVersion or continue token).
    pub fn expired(message: impl Into<String>) -> Self {
        Self::failure(StatusCode::GONE, "Expired", message)
    }

    /// 422 `Invalid` for a request's options rather than an object
    /// (`ListOptions.meta.k8s.io "" is invalid: ...`).
    pub fn invalid_options(kind: &str, errors: &[field::Error]) -> Self {
        Self::invalid("meta.k8s.io", kind, "", errors)
    }

    /// 415 for a body in a media type the endpoint does not read.
    pub fn unsupported_media_type(content_type: &str) -> Self {
        Self::failure(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf; got {content_type:?}"
            ),
        )
    }

    /// 405 for a verb a resource does not support.
    pub fn method_not_supported(group: &str, resource: &str, action: &str) -> Self {
        Self::failure(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            format!(
                "{action} is not supported on resources of kind {:?}",
                qualified(group, resource)
            ),
        )
        .with_details(StatusDetails::named(group, resource, ""))
    }

    pub fn with_details(mut self, details: StatusDetails) -> Self {
        self.details = Some(Box::new(details));
        self
    }

    pub fn http_code(&self) -> StatusCode {
        StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

/// `resource.group`, or `resource` in the core group.
fn qualified(group: &str, resource: &str) -> String {
    if group.is_empty() {
        resource.to_string()
    } else {
        format!("{resource}.{group}")
    }
}

impl StatusDetails {
    /// Details naming one object of a resource.
    pub fn named(group: &str, resource: &str, name: &str) -> Self {
        StatusDetails {
            name: (!name.is_empty()).then(|| name.to_string()),
            group: (!group.is_empty()).then(|| group.to_string()),
            kind: Some(resource.to_string()),
            ..StatusDetails::default()
        }
    }
}

impl IntoResponse for Status {
    fn into_response(self) -> Response {
        let retry_after = self.details.as_ref().and_then(|d| d.retry_after_seconds);
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut response = (self.http_code(), body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(seconds) = retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_with_kubernetes_keys() {
        let json = serde_json::to_value(Status::too_many_requests(1)).unwrap();
        assert_eq!(json["kind"], "Status");
        assert_eq!(json["apiVersion"], "v1");
        assert_eq!(json["status"], "Failure");
        assert_eq!(json["reason"], "TooManyRequests");
        assert_eq!(json["code"], 429);
        assert_eq!(json["details"]["retryAfterSeconds"], 1);
        assert_eq!(json["metadata"], serde_json::json!({}));
    }

    #[test]
    fn registry_errors_read_like_upstream() {
        let json = serde_json::to_value(Status::not_found("apps", "deployments", "web")).unwrap();
        assert_eq!(json["message"], "deployments.apps \"web\" not found");
        assert_eq!(
            json["details"],
            serde_json::json!({"name": "web", "group": "apps", "kind": "deployments"})
        );
        let conflict = Status::modified_conflict("", "pods", "x");
        assert_eq!(conflict.code, 409);
        assert_eq!(
            conflict.message,
            "Operation cannot be fulfilled on pods \"x\": the object has been modified; please apply your changes to the latest version and try again"
        );
        let path = field::Path::new("spec").child("containers");
        let invalid = Status::invalid("", "Pod", "x", &[field::Error::required(&path, "")]);
        let json = serde_json::to_value(&invalid).unwrap();
        assert_eq!(json["code"], 422);
        assert_eq!(
            json["message"],
            "Pod \"x\" is invalid: spec.containers: Required value"
        );
        assert_eq!(
            json["details"]["causes"],
            serde_json::json!([{"reason": "FieldValueRequired", "message": "Required value", "field": "spec.containers"}])
        );
        let success =
            serde_json::to_value(Status::success(StatusDetails::named("", "pods", "x"))).unwrap();
        assert_eq!(success["status"], "Success");
        assert_eq!(success["code"], 200);
    }

    #[test]
    fn response_carries_code_and_retry_after() {
        let response = Status::too_many_requests(1).into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
    }
}
