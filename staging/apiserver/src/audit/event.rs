//! The `audit.k8s.io/v1` `Event` written for each audited request.

use std::collections::BTreeMap;

use serde::Serialize;

use super::Level;
use crate::authentication::UserInfo;
use crate::request_info::RequestInfo;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    pub kind: &'static str,
    pub api_version: &'static str,
    pub level: &'static str,
    #[serde(rename = "auditID")]
    pub audit_id: String,
    pub stage: &'static str,
    #[serde(rename = "requestURI")]
    pub request_uri: String,
    pub verb: String,
    pub user: EventUser,
    /// The user the request acted as (`Impersonate-User`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub impersonated_user: Option<EventUser>,
    #[serde(rename = "sourceIPs")]
    pub source_ips: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object_ref: Option<ObjectReference>,
    pub response_status: ResponseStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_object: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_object: Option<serde_json::Value>,
    pub request_received_timestamp: String,
    pub stage_timestamp: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct EventUser {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub username: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub uid: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, Vec<String>>,
}

impl From<&UserInfo> for EventUser {
    fn from(user: &UserInfo) -> Self {
        EventUser {
            username: user.name.clone(),
            uid: user.uid.clone(),
            groups: user.groups.clone(),
            extra: user.extra.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectReference {
    pub resource: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub api_group: String,
    pub api_version: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub subresource: String,
}

impl ObjectReference {
    pub fn of(request: &RequestInfo) -> Option<Self> {
        request.is_resource_request.then(|| ObjectReference {
            resource: request.resource.clone(),
            namespace: request.namespace.clone(),
            name: request.name.clone(),
            api_group: request.api_group.clone(),
            api_version: request.api_version.clone(),
            subresource: request.subresource.clone(),
        })
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ResponseStatus {
    pub metadata: serde_json::Map<String, serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub code: u16,
}

impl Event {
    /// An event for `request`, received now, before the response is known.
    pub fn begin<B>(
        level: Level,
        info: &RequestInfo,
        user: &UserInfo,
        request: &http::Request<B>,
    ) -> Event {
        let source_ips = request
            .extensions()
            .get::<crate::filters::RemoteAddr>()
            .map(|a| a.0.ip().to_string())
            .into_iter()
            .collect();
        let user_agent = request
            .headers()
            .get(http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(String::from);
        let request_uri = request
            .uri()
            .path_and_query()
            .map_or_else(|| request.uri().path().to_string(), |pq| pq.to_string());
        let now = timestamp(jiff::Timestamp::now());
        Event {
            kind: "Event",
            api_version: "audit.k8s.io/v1",
            level: level.as_str(),
            audit_id: uuid::Uuid::new_v4().to_string(),
            stage: "ResponseComplete",
            request_uri,
            verb: info.verb.clone(),
            user: EventUser::from(user),
            impersonated_user: None,
            source_ips,
            user_agent,
            object_ref: ObjectReference::of(info),
            response_status: ResponseStatus {
                metadata: serde_json::Map::new(),
                message: None,
                code: 0,
            },
            request_object: None,
            response_object: None,
            request_received_timestamp: now.clone(),
            stage_timestamp: now,
        }
    }

    /// Records the response code and the completion time.
    pub fn finish(&mut self, code: http::StatusCode) {
        self.response_status.code = code.as_u16();
        self.stage_timestamp = timestamp(jiff::Timestamp::now());
    }
}

/// RFC 3339 with microseconds, as audit timestamps are written.
pub fn timestamp(at: jiff::Timestamp) -> String {
    format!("{at:.6}")
}
