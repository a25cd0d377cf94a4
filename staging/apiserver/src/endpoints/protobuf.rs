//! Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`,
//! what kubectl's typed commands such as `create namespace` send): the
//! `k8s\0` + `runtime.Unknown` envelope, the object decoded with the k8s-pb
//! types, and its conversion to the JSON a JSON client would have sent, so
//! that the JSON path (decoding, defaults, validation) does the rest.
//!
//! The JSON form follows Kubernetes' rules rather than proto3's: meta/v1
//! `Time` and `MicroTime` are RFC 3339 strings, `Duration` a Go duration
//! string, `IntOrString` a number or a string, `Quantity` its string,
//! `RawExtension` and `FieldsV1` their embedded JSON, the authentication and
//! authorization `ExtraValue` a list of strings, `bytes` base64, and a
//! value field that Go marshals even when empty is dropped when empty (Go's
//! `omitempty`) unless it is a pointer field, whose presence is meaningful.
//! The per-message field lists are generated (see `protobuf/mapping.rs`).

mod mapping;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use base64::Engine as _;
use http::StatusCode;
use prost::Message;
use serde_json::{Map, Value};

use crate::status::Status;

/// The media type of Kubernetes protobuf bodies.
pub const MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// The four bytes every Kubernetes protobuf body starts with.
const MAGIC: &[u8] = b"k8s\0";

/// Why a protobuf body cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    /// The bytes are not a valid envelope or object (400).
    Malformed(String),
    /// The envelope names a kind this server cannot read from protobuf (415).
    UnsupportedKind { api_version: String, kind: String },
}

impl From<BodyError> for Status {
    fn from(error: BodyError) -> Self {
        match error {
            BodyError::Malformed(message) => Status::bad_request(message),
            BodyError::UnsupportedKind { api_version, kind } => Status::failure(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UnsupportedMediaType",
                format!(
                    "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml; got {MEDIA_TYPE} for apiVersion={api_version}, kind={kind}, which this server reads only as JSON or YAML"
                ),
            ),
        }
    }
}

/// A protobuf request body as the JSON document a JSON client would send
/// (with the envelope's `apiVersion` and `kind`).
pub fn body_to_json(body: &[u8]) -> Result<Vec<u8>, Status> {
    let value = decode(body)?;
    serde_json::to_vec(&value)
        .map_err(|err| Status::internal_error(format!("encoding the decoded protobuf body: {err}")))
}

/// Decodes a protobuf request body into its Kubernetes JSON form.
pub fn decode(body: &[u8]) -> Result<Value, BodyError> {
    let envelope = envelope(body)?;
    let type_meta = envelope.type_meta.unwrap_or_default();
    let api_version = type_meta.api_version.unwrap_or_default();
    let kind = type_meta.kind.unwrap_or_default();
    let described = format!("{{apiVersion: {api_version:?}, kind: {kind:?}}}");
    if kind.is_empty() {
        return Err(BodyError::Malformed(format!(
            "Object 'Kind' is missing in '{described}'"
        )));
    }
    if api_version.is_empty() {
        return Err(BodyError::Malformed(format!(
            "Object 'apiVersion' is missing in '{described}'"
        )));
    }
    let raw = envelope.raw.unwrap_or_default();
    let object = decode_kind(&api_version, &kind, &raw)?;
    let Value::Object(fields) = object else {
        return Err(BodyError::Malformed(format!(
            "{kind} in version {api_version:?} did not decode to an object"
        )));
    };
    let mut document = Map::new();
    document.insert("apiVersion".into(), Value::String(api_version));
    document.insert("kind".into(), Value::String(kind));
    document.extend(fields);
    Ok(Value::Object(document))
}

/// The `runtime.Unknown` envelope after the magic prefix.
fn envelope(body: &[u8]) -> Result<k8s_pb::apimachinery::pkg::runtime::Unknown, BodyError> {
    if body.is_empty() {
        return Err(BodyError::Malformed("empty data".into()));
    }
    let Some(rest) = body.strip_prefix(MAGIC) else {
        return Err(BodyError::Malformed(format!(
            "provided data does not appear to be a protobuf message, expected prefix {MAGIC:?}"
        )));
    };
    if rest.is_empty() {
        return Err(BodyError::Malformed("empty body".into()));
    }
    k8s_pb::apimachinery::pkg::runtime::Unknown::decode(rest).map_err(|err| {
        BodyError::Malformed(format!(
            "unable to decode the protobuf envelope (runtime.Unknown): {err}"
        ))
    })
}

/// The object in `raw`, by the envelope's group-version-kind.
fn decode_kind(api_version: &str, kind: &str, raw: &[u8]) -> Result<Value, BodyError> {
    use k8s_pb::api::{
        apps::v1 as apps, authentication::v1 as authentication, authorization::v1 as authorization,
        autoscaling::v1 as autoscaling, batch::v1 as batch, core::v1 as core, policy::v1 as policy,
        rbac::v1 as rbac,
    };
    match (api_version, kind) {
        ("v1", "Namespace") => object::<core::Namespace>(api_version, kind, raw),
        ("v1", "Pod") => object::<core::Pod>(api_version, kind, raw),
        ("v1", "Service") => object::<core::Service>(api_version, kind, raw),
        ("v1", "Endpoints") => object::<core::Endpoints>(api_version, kind, raw),
        ("v1", "ReplicationController") => {
            object::<core::ReplicationController>(api_version, kind, raw)
        }
        ("v1", "ConfigMap") => object::<core::ConfigMap>(api_version, kind, raw),
        ("v1", "Secret") => object::<core::Secret>(api_version, kind, raw),
        ("v1", "Event") => object::<core::Event>(api_version, kind, raw),
        ("v1", "ServiceAccount") => object::<core::ServiceAccount>(api_version, kind, raw),
        ("v1", "Node") => object::<core::Node>(api_version, kind, raw),
        ("v1", "ResourceQuota") => object::<core::ResourceQuota>(api_version, kind, raw),
        ("apps/v1", "Deployment") => object::<apps::Deployment>(api_version, kind, raw),
        ("apps/v1", "ReplicaSet") => object::<apps::ReplicaSet>(api_version, kind, raw),
        ("apps/v1", "StatefulSet") => object::<apps::StatefulSet>(api_version, kind, raw),
        ("apps/v1", "DaemonSet") => object::<apps::DaemonSet>(api_version, kind, raw),
        ("autoscaling/v1", "Scale") => object::<autoscaling::Scale>(api_version, kind, raw),
        ("batch/v1", "Job") => object::<batch::Job>(api_version, kind, raw),
        ("batch/v1", "CronJob") => object::<batch::CronJob>(api_version, kind, raw),
        ("policy/v1", "PodDisruptionBudget") => {
            object::<policy::PodDisruptionBudget>(api_version, kind, raw)
        }
        ("policy/v1", "Eviction") => object::<policy::Eviction>(api_version, kind, raw),
        ("rbac.authorization.k8s.io/v1", "Role") => object::<rbac::Role>(api_version, kind, raw),
        ("rbac.authorization.k8s.io/v1", "ClusterRole") => {
            object::<rbac::ClusterRole>(api_version, kind, raw)
        }
        ("rbac.authorization.k8s.io/v1", "RoleBinding") => {
            object::<rbac::RoleBinding>(api_version, kind, raw)
        }
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding") => {
            object::<rbac::ClusterRoleBinding>(api_version, kind, raw)
        }
        ("authorization.k8s.io/v1", "SelfSubjectAccessReview") => {
            object::<authorization::SelfSubjectAccessReview>(api_version, kind, raw)
        }
        ("authorization.k8s.io/v1", "SubjectAccessReview") => {
            object::<authorization::SubjectAccessReview>(api_version, kind, raw)
        }
        ("authorization.k8s.io/v1", "LocalSubjectAccessReview") => {
            object::<authorization::LocalSubjectAccessReview>(api_version, kind, raw)
        }
        ("authorization.k8s.io/v1", "SelfSubjectRulesReview") => {
            object::<authorization::SelfSubjectRulesReview>(api_version, kind, raw)
        }
        ("authentication.k8s.io/v1", "SelfSubjectReview") => {
            object::<authentication::SelfSubjectReview>(api_version, kind, raw)
        }
        ("authentication.k8s.io/v1", "TokenReview") => {
            object::<authentication::TokenReview>(api_version, kind, raw)
        }
        ("authentication.k8s.io/v1", "TokenRequest") => {
            object::<authentication::TokenRequest>(api_version, kind, raw)
        }
        _ => Err(BodyError::UnsupportedKind {
            api_version: api_version.to_owned(),
            kind: kind.to_owned(),
        }),
    }
}

fn object<T: Message + Default + KubeJson>(
    api_version: &str,
    kind: &str,
    raw: &[u8],
) -> Result<Value, BodyError> {
    let message = T::decode(raw).map_err(|err| {
        BodyError::Malformed(format!(
            "unable to decode {kind} in version {api_version:?} from protobuf: {err}"
        ))
    })?;
    message.kube_json()
}

/// A protobuf message in its Kubernetes JSON form (`Value::Null` when Go
/// would write `null`, which the field writers omit).
pub(crate) trait KubeJson {
    fn kube_json(&self) -> Result<Value, BodyError>;
}

/// Whether a present scalar's zero value is written (pointer fields and
/// fields without `omitempty`) or dropped (`omitempty` value fields).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Zero {
    Keep,
    Omit,
}

/// A protobuf scalar (string, bool, integer, double) as JSON.
pub(crate) trait Scalar {
    fn is_zero(&self) -> bool;
    fn to_value(&self) -> Value;
}

impl Scalar for String {
    fn is_zero(&self) -> bool {
        self.is_empty()
    }
    fn to_value(&self) -> Value {
        Value::String(self.clone())
    }
}

impl Scalar for bool {
    fn is_zero(&self) -> bool {
        !*self
    }
    fn to_value(&self) -> Value {
        Value::Bool(*self)
    }
}

macro_rules! integer_scalar {
    ($($ty:ty),*) => {$(
        impl Scalar for $ty {
            fn is_zero(&self) -> bool {
                *self == 0
            }
            fn to_value(&self) -> Value {
                Value::from(*self)
            }
        }
    )*};
}
integer_scalar!(i32, i64, u32, u64);

impl Scalar for f64 {
    fn is_zero(&self) -> bool {
        *self == 0.0
    }
    fn to_value(&self) -> Value {
        serde_json::Number::from_f64(*self).map_or(Value::Null, Value::Number)
    }
}

pub(crate) fn scalar<T: Scalar>(
    object: &mut Map<String, Value>,
    name: &str,
    value: &Option<T>,
    zero: Zero,
) {
    if let Some(value) = value
        && (zero == Zero::Keep || !value.is_zero())
    {
        object.insert(name.into(), value.to_value());
    }
}

pub(crate) fn scalar_list<T: Scalar>(object: &mut Map<String, Value>, name: &str, values: &[T]) {
    if !values.is_empty() {
        object.insert(
            name.into(),
            Value::Array(values.iter().map(Scalar::to_value).collect()),
        );
    }
}

pub(crate) fn message<T: KubeJson>(
    object: &mut Map<String, Value>,
    name: &str,
    value: &Option<T>,
) -> Result<(), BodyError> {
    if let Some(value) = value {
        let json = value.kube_json()?;
        if !json.is_null() {
            object.insert(name.into(), json);
        }
    }
    Ok(())
}

pub(crate) fn message_list<T: KubeJson>(
    object: &mut Map<String, Value>,
    name: &str,
    values: &[T],
) -> Result<(), BodyError> {
    if !values.is_empty() {
        let items = values
            .iter()
            .map(KubeJson::kube_json)
            .collect::<Result<Vec<_>, _>>()?;
        object.insert(name.into(), Value::Array(items));
    }
    Ok(())
}

pub(crate) fn message_map<T: KubeJson>(
    object: &mut Map<String, Value>,
    name: &str,
    values: &BTreeMap<String, T>,
) -> Result<(), BodyError> {
    if !values.is_empty() {
        let mut map = Map::new();
        for (key, value) in values {
            map.insert(key.clone(), value.kube_json()?);
        }
        object.insert(name.into(), Value::Object(map));
    }
    Ok(())
}

pub(crate) fn string_map(
    object: &mut Map<String, Value>,
    name: &str,
    values: &BTreeMap<String, String>,
) {
    if !values.is_empty() {
        let map = values
            .iter()
            .map(|(key, value)| (key.clone(), Value::String(value.clone())))
            .collect();
        object.insert(name.into(), Value::Object(map));
    }
}

fn base64(bytes: &[u8]) -> Value {
    Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
}

pub(crate) fn bytes_map(
    object: &mut Map<String, Value>,
    name: &str,
    values: &BTreeMap<String, Vec<u8>>,
) {
    if !values.is_empty() {
        let map = values
            .iter()
            .map(|(key, value)| (key.clone(), base64(value)))
            .collect();
        object.insert(name.into(), Value::Object(map));
    }
}

/// A Go struct embedded with `json:",inline"`: its fields join the parent's.
pub(crate) fn inline<T: KubeJson>(
    object: &mut Map<String, Value>,
    value: &Option<T>,
) -> Result<(), BodyError> {
    if let Some(value) = value
        && let Value::Object(fields) = value.kube_json()?
    {
        object.extend(fields);
    }
    Ok(())
}

/// Go's zero `time.Time` (0001-01-01T00:00:00Z) in Unix seconds.
const GO_ZERO_TIME_SECONDS: i64 = -62_135_596_800;

/// The instant `seconds` + `nanos` after the Unix epoch, `None` for Go's
/// zero time (written as `null`).
fn instant(seconds: i64, nanos: i64, what: &str) -> Result<Option<jiff::Timestamp>, BodyError> {
    if seconds == GO_ZERO_TIME_SECONDS && nanos == 0 {
        return Ok(None);
    }
    let out_of_range =
        || BodyError::Malformed(format!("{what} out of range: {seconds}s {nanos}ns"));
    let timestamp = jiff::Timestamp::from_second(seconds)
        .and_then(|t| t.checked_add(jiff::SignedDuration::from_nanos(nanos)))
        .map_err(|_| out_of_range())?;
    // Go's RFC 3339 writer refuses years outside [0, 9999].
    let year = timestamp.to_zoned(jiff::tz::TimeZone::UTC).year();
    if !(0..=9999).contains(&year) {
        return Err(out_of_range());
    }
    Ok(Some(timestamp))
}

/// meta/v1 `Time`: RFC 3339 in UTC, whole seconds (upstream drops the nanos
/// it reads from protobuf); an empty message is the zero time, `null`.
impl KubeJson for k8s_pb::apimachinery::pkg::apis::meta::v1::Time {
    fn kube_json(&self) -> Result<Value, BodyError> {
        if self.seconds.is_none() && self.nanos.is_none() {
            return Ok(Value::Null);
        }
        Ok(
            match instant(self.seconds.unwrap_or_default(), 0, "time")? {
                Some(t) => Value::String(t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()),
                None => Value::Null,
            },
        )
    }
}

/// meta/v1 `MicroTime`: RFC 3339 in UTC with six fractional digits.
impl KubeJson for k8s_pb::apimachinery::pkg::apis::meta::v1::MicroTime {
    fn kube_json(&self) -> Result<Value, BodyError> {
        if self.seconds.is_none() && self.nanos.is_none() {
            return Ok(Value::Null);
        }
        // Upstream truncates the nanoseconds to microseconds.
        let nanos = i64::from(self.nanos.unwrap_or_default()) / 1000 * 1000;
        Ok(
            match instant(self.seconds.unwrap_or_default(), nanos, "micro time")? {
                Some(t) => Value::String(t.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()),
                None => Value::Null,
            },
        )
    }
}

/// meta/v1 `Duration`: Go's `time.Duration` string (`1h2m3.5s`).
impl KubeJson for k8s_pb::apimachinery::pkg::apis::meta::v1::Duration {
    fn kube_json(&self) -> Result<Value, BodyError> {
        Ok(Value::String(go_duration(
            self.duration.unwrap_or_default(),
        )))
    }
}

/// A duration in nanoseconds as Go's `time.Duration.String` writes it.
fn go_duration(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".into();
    }
    let sign = if nanos < 0 { "-" } else { "" };
    let magnitude = nanos.unsigned_abs();
    // Below one second: the largest of ns, µs, ms that keeps a whole part.
    let fraction = |value: u64, unit: u64, digits: usize| {
        let whole = value / unit;
        let rest = value % unit;
        if rest == 0 {
            whole.to_string()
        } else {
            let digits = format!("{rest:0digits$}");
            format!("{whole}.{}", digits.trim_end_matches('0'))
        }
    };
    if magnitude < 1_000 {
        return format!("{sign}{magnitude}ns");
    }
    if magnitude < 1_000_000 {
        return format!("{sign}{}µs", fraction(magnitude, 1_000, 3));
    }
    if magnitude < 1_000_000_000 {
        return format!("{sign}{}ms", fraction(magnitude, 1_000_000, 6));
    }
    let mut text = String::from(sign);
    let total_seconds = magnitude / 1_000_000_000;
    let hours = total_seconds / 3600;
    let minutes = total_seconds / 60 % 60;
    if hours > 0 {
        let _ = write!(text, "{hours}h");
    }
    if hours > 0 || minutes > 0 {
        let _ = write!(text, "{minutes}m");
    }
    let seconds_nanos = magnitude % 60_000_000_000;
    let _ = write!(text, "{}s", fraction(seconds_nanos, 1_000_000_000, 9));
    text
}

/// intstr `IntOrString`: a number (type 0) or a string (type 1).
impl KubeJson for k8s_pb::apimachinery::pkg::util::intstr::IntOrString {
    fn kube_json(&self) -> Result<Value, BodyError> {
        match self.r#type.unwrap_or_default() {
            0 => Ok(Value::from(self.int_val.unwrap_or_default())),
            1 => Ok(Value::String(self.str_val.clone().unwrap_or_default())),
            other => Err(BodyError::Malformed(format!(
                "impossible IntOrString.Type {other} (0 is an integer, 1 a string)"
            ))),
        }
    }
}

/// resource `Quantity`: its string (validated by the JSON path); an absent
/// string is the zero quantity.
impl KubeJson for k8s_pb::apimachinery::pkg::api::resource::Quantity {
    fn kube_json(&self) -> Result<Value, BodyError> {
        Ok(Value::String(
            self.string.clone().unwrap_or_else(|| "0".into()),
        ))
    }
}

/// Embedded JSON bytes (`RawExtension`, `FieldsV1`) as the JSON value they
/// hold; absent bytes are `null`.
fn embedded_json(raw: &Option<Vec<u8>>, what: &str) -> Result<Value, BodyError> {
    match raw {
        None => Ok(Value::Null),
        Some(raw) => serde_json::from_slice(raw).map_err(|err| {
            BodyError::Malformed(format!("{what} does not hold a JSON document: {err}"))
        }),
    }
}

impl KubeJson for k8s_pb::apimachinery::pkg::runtime::RawExtension {
    fn kube_json(&self) -> Result<Value, BodyError> {
        embedded_json(&self.raw, "RawExtension")
    }
}

impl KubeJson for k8s_pb::apimachinery::pkg::apis::meta::v1::FieldsV1 {
    fn kube_json(&self) -> Result<Value, BodyError> {
        embedded_json(&self.raw, "FieldsV1")
    }
}

/// Go's `type ExtraValue []string` (the values of a user's `extra` map): a
/// list of strings, `[]` when empty (Go decodes an entry without items into an
/// empty, not a nil, slice).
fn extra_value(items: &[String]) -> Value {
    Value::Array(items.iter().map(Scalar::to_value).collect())
}

impl KubeJson for k8s_pb::api::authentication::v1::ExtraValue {
    fn kube_json(&self) -> Result<Value, BodyError> {
        Ok(extra_value(&self.items))
    }
}

impl KubeJson for k8s_pb::api::authorization::v1::ExtraValue {
    fn kube_json(&self) -> Result<Value, BodyError> {
        Ok(extra_value(&self.items))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_pb::api::{
        apps::v1 as apps, authentication::v1 as authentication, authorization::v1 as authorization,
        core::v1 as core, rbac::v1 as rbac,
    };
    use k8s_pb::apimachinery::pkg::api::resource::Quantity;
    use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta;
    use k8s_pb::apimachinery::pkg::runtime::{TypeMeta, Unknown};
    use k8s_pb::apimachinery::pkg::util::intstr::IntOrString;
    use serde_json::json;

    fn s(text: &str) -> Option<String> {
        Some(text.to_owned())
    }

    /// A body as kubectl frames it: magic, then the envelope around `object`.
    fn framed(api_version: &str, kind: &str, object: &impl Message) -> Vec<u8> {
        let envelope = Unknown {
            type_meta: Some(TypeMeta {
                api_version: s(api_version),
                kind: s(kind),
            }),
            raw: Some(object.encode_to_vec()),
            content_encoding: s(""),
            content_type: s(""),
        };
        [MAGIC, &envelope.encode_to_vec()].concat()
    }

    /// ObjectMeta as Go marshals it: every value field present, even empty.
    fn go_object_meta(name: &str) -> meta::ObjectMeta {
        meta::ObjectMeta {
            name: s(name),
            generate_name: s(""),
            namespace: s(""),
            self_link: s(""),
            uid: s(""),
            resource_version: s(""),
            generation: Some(0),
            creation_timestamp: Some(meta::Time::default()),
            ..Default::default()
        }
    }

    fn int(value: i32) -> IntOrString {
        IntOrString {
            r#type: Some(0),
            int_val: Some(value),
            str_val: s(""),
        }
    }

    fn string(value: &str) -> IntOrString {
        IntOrString {
            r#type: Some(1),
            int_val: Some(0),
            str_val: s(value),
        }
    }

    fn quantity(value: &str) -> Quantity {
        Quantity { string: s(value) }
    }

    #[test]
    fn namespace_as_kubectl_sends_it() {
        let namespace = core::Namespace {
            metadata: Some(go_object_meta("foo")),
            spec: Some(core::NamespaceSpec::default()),
            status: Some(core::NamespaceStatus {
                phase: s(""),
                conditions: vec![],
            }),
        };
        let json = decode(&framed("v1", "Namespace", &namespace)).unwrap();
        assert_eq!(
            json,
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "foo"}, "spec": {}, "status": {}})
        );
    }

    #[test]
    fn deployment_keeps_pointer_zeros_and_maps_special_types() {
        let container = core::Container {
            name: s("web"),
            image: s("nginx:1.27"),
            ports: vec![core::ContainerPort {
                name: s(""),
                host_port: Some(0),
                container_port: Some(80),
                protocol: s("TCP"),
                host_ip: s(""),
            }],
            resources: Some(core::ResourceRequirements {
                limits: [("cpu".to_owned(), quantity("500m"))].into(),
                requests: [("memory".to_owned(), quantity("64Mi"))].into(),
                claims: vec![],
            }),
            stdin: Some(false),
            ..Default::default()
        };
        let deployment = apps::Deployment {
            metadata: Some(meta::ObjectMeta {
                labels: [("app".to_owned(), "web".to_owned())].into(),
                creation_timestamp: Some(meta::Time {
                    seconds: Some(1_700_000_000),
                    nanos: Some(123),
                }),
                ..go_object_meta("web")
            }),
            spec: Some(apps::DeploymentSpec {
                replicas: Some(0),
                revision_history_limit: Some(0),
                min_ready_seconds: Some(0),
                paused: Some(false),
                selector: Some(meta::LabelSelector {
                    match_labels: [("app".to_owned(), "web".to_owned())].into(),
                    match_expressions: vec![],
                }),
                strategy: Some(apps::DeploymentStrategy {
                    r#type: s("RollingUpdate"),
                    rolling_update: Some(apps::RollingUpdateDeployment {
                        max_unavailable: Some(int(1)),
                        max_surge: Some(string("25%")),
                    }),
                }),
                template: Some(core::PodTemplateSpec {
                    metadata: Some(go_object_meta("")),
                    spec: Some(core::PodSpec {
                        containers: vec![container],
                        restart_policy: s(""),
                        termination_grace_period_seconds: Some(0),
                        host_network: Some(false),
                        automount_service_account_token: Some(false),
                        ..Default::default()
                    }),
                }),
                ..Default::default()
            }),
            status: Some(apps::DeploymentStatus {
                replicas: Some(0),
                ..Default::default()
            }),
        };
        let json = decode(&framed("apps/v1", "Deployment", &deployment)).unwrap();
        assert_eq!(
            json,
            json!({
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "web", "labels": {"app": "web"}, "creationTimestamp": "2023-11-14T22:13:20Z"},
                "spec": {
                    "replicas": 0,
                    "revisionHistoryLimit": 0,
                    "selector": {"matchLabels": {"app": "web"}},
                    "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": "25%"}},
                    "template": {
                        "metadata": {},
                        "spec": {
                            "containers": [{
                                "name": "web",
                                "image": "nginx:1.27",
                                "ports": [{"containerPort": 80, "protocol": "TCP"}],
                                "resources": {"limits": {"cpu": "500m"}, "requests": {"memory": "64Mi"}}
                            }],
                            "terminationGracePeriodSeconds": 0,
                            "automountServiceAccountToken": false
                        }
                    }
                },
                "status": {}
            })
        );
    }

    #[test]
    fn service_target_port_is_a_number_or_a_name() {
        let service = core::Service {
            metadata: Some(go_object_meta("web")),
            spec: Some(core::ServiceSpec {
                r#type: s("ClusterIP"),
                ports: vec![
                    core::ServicePort {
                        name: s("80-8080"),
                        protocol: s("TCP"),
                        port: Some(80),
                        target_port: Some(int(8080)),
                        node_port: Some(0),
                        ..Default::default()
                    },
                    core::ServicePort {
                        name: s("metrics"),
                        port: Some(0),
                        target_port: Some(string("metrics")),
                        ..Default::default()
                    },
                ],
                selector: [("app".to_owned(), "web".to_owned())].into(),
                cluster_ip: s(""),
                ..Default::default()
            }),
            status: None,
        };
        let json = decode(&framed("v1", "Service", &service)).unwrap();
        assert_eq!(
            json["spec"],
            json!({
                "type": "ClusterIP",
                "ports": [
                    {"name": "80-8080", "protocol": "TCP", "port": 80, "targetPort": 8080},
                    {"name": "metrics", "port": 0, "targetPort": "metrics"}
                ],
                "selector": {"app": "web"}
            })
        );
    }

    #[test]
    fn secret_bytes_are_base64() {
        let secret = core::Secret {
            metadata: Some(go_object_meta("s")),
            data: [
                ("k".to_owned(), b"v".to_vec()),
                ("bin".to_owned(), vec![0, 255, 10]),
                ("empty".to_owned(), vec![]),
            ]
            .into(),
            r#type: s("Opaque"),
            immutable: Some(false),
            ..Default::default()
        };
        let json = decode(&framed("v1", "Secret", &secret)).unwrap();
        assert_eq!(
            json,
            json!({
                "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
                "data": {"k": "dg==", "bin": "AP8K", "empty": ""},
                "type": "Opaque", "immutable": false
            })
        );
    }

    #[test]
    fn event_times_and_embedded_json() {
        let event = core::Event {
            metadata: Some(meta::ObjectMeta {
                managed_fields: vec![meta::ManagedFieldsEntry {
                    manager: s("kubectl"),
                    operation: s("Update"),
                    api_version: s("v1"),
                    time: Some(meta::Time {
                        seconds: Some(0),
                        nanos: None,
                    }),
                    fields_type: s("FieldsV1"),
                    fields_v1: Some(meta::FieldsV1 {
                        raw: Some(br#"{"f:reason":{}}"#.to_vec()),
                    }),
                    subresource: s(""),
                }],
                ..go_object_meta("e")
            }),
            reason: s("Started"),
            count: Some(0),
            event_time: Some(meta::MicroTime {
                seconds: Some(1_700_000_000),
                nanos: Some(123_456_789),
            }),
            last_timestamp: Some(meta::Time {
                seconds: Some(GO_ZERO_TIME_SECONDS),
                nanos: Some(0),
            }),
            ..Default::default()
        };
        let json = decode(&framed("v1", "Event", &event)).unwrap();
        assert_eq!(json["eventTime"], "2023-11-14T22:13:20.123456Z");
        assert_eq!(json.get("lastTimestamp"), None, "Go's zero time is null");
        assert_eq!(json.get("count"), None, "count is an omitempty value field");
        assert_eq!(
            json["metadata"]["managedFields"][0],
            json!({
                "manager": "kubectl", "operation": "Update", "apiVersion": "v1",
                "time": "1970-01-01T00:00:00Z", "fieldsType": "FieldsV1",
                "fieldsV1": {"f:reason": {}}
            })
        );
    }

    #[test]
    fn cluster_role_binding_subjects_and_role_ref() {
        let binding = rbac::ClusterRoleBinding {
            metadata: Some(go_object_meta("admins")),
            subjects: vec![
                rbac::Subject {
                    kind: s("User"),
                    api_group: s("rbac.authorization.k8s.io"),
                    name: s("alice"),
                    namespace: s(""),
                },
                rbac::Subject {
                    kind: s("ServiceAccount"),
                    api_group: s(""),
                    name: s("deployer"),
                    namespace: s("ci"),
                },
            ],
            role_ref: Some(rbac::RoleRef {
                api_group: s("rbac.authorization.k8s.io"),
                kind: s("ClusterRole"),
                name: s("cluster-admin"),
            }),
        };
        let json = decode(&framed(
            "rbac.authorization.k8s.io/v1",
            "ClusterRoleBinding",
            &binding,
        ))
        .unwrap();
        assert_eq!(
            json,
            json!({
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRoleBinding",
                "metadata": {"name": "admins"},
                "subjects": [
                    {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "alice"},
                    {"kind": "ServiceAccount", "name": "deployer", "namespace": "ci"}
                ],
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"}
            })
        );
    }

    #[test]
    fn self_subject_access_review_resource_attributes() {
        let review = authorization::SelfSubjectAccessReview {
            metadata: Some(go_object_meta("")),
            spec: Some(authorization::SelfSubjectAccessReviewSpec {
                resource_attributes: Some(authorization::ResourceAttributes {
                    namespace: s("default"),
                    verb: s("list"),
                    group: s("apps"),
                    version: s(""),
                    resource: s("deployments"),
                    subresource: s(""),
                    name: s(""),
                    field_selector: None,
                    label_selector: Some(authorization::LabelSelectorAttributes {
                        raw_selector: s("app=web"),
                        requirements: vec![],
                    }),
                }),
                non_resource_attributes: None,
            }),
            status: Some(authorization::SubjectAccessReviewStatus {
                allowed: Some(false),
                denied: Some(false),
                reason: s(""),
                evaluation_error: s(""),
            }),
        };
        let json = decode(&framed(
            "authorization.k8s.io/v1",
            "SelfSubjectAccessReview",
            &review,
        ))
        .unwrap();
        assert_eq!(
            json,
            json!({
                "apiVersion": "authorization.k8s.io/v1",
                "kind": "SelfSubjectAccessReview",
                "metadata": {},
                "spec": {
                    "resourceAttributes": {
                        "namespace": "default",
                        "verb": "list",
                        "group": "apps",
                        "resource": "deployments",
                        "labelSelector": {"rawSelector": "app=web"}
                    }
                },
                "status": {"allowed": false}
            })
        );
    }

    #[test]
    fn extra_values_are_lists_of_strings() {
        let review = authentication::TokenReview {
            metadata: Some(go_object_meta("")),
            spec: Some(authentication::TokenReviewSpec {
                token: s("t0k3n"),
                audiences: vec![],
            }),
            status: Some(authentication::TokenReviewStatus {
                authenticated: Some(true),
                user: Some(authentication::UserInfo {
                    username: s("alice"),
                    uid: s(""),
                    groups: vec!["system:authenticated".to_owned()],
                    extra: [
                        (
                            "scopes".to_owned(),
                            authentication::ExtraValue {
                                items: vec!["a".to_owned(), "b".to_owned()],
                            },
                        ),
                        ("none".to_owned(), authentication::ExtraValue::default()),
                    ]
                    .into(),
                }),
                audiences: vec![],
                error: s(""),
            }),
        };
        let json = decode(&framed("authentication.k8s.io/v1", "TokenReview", &review)).unwrap();
        assert_eq!(json["spec"], json!({"token": "t0k3n"}));
        assert_eq!(
            json["status"],
            json!({
                "authenticated": true,
                "user": {
                    "username": "alice",
                    "groups": ["system:authenticated"],
                    "extra": {"scopes": ["a", "b"], "none": []}
                }
            })
        );
    }

    #[test]
    fn go_durations() {
        for (nanos, text) in [
            (0, "0s"),
            (1, "1ns"),
            (1_500, "1.5µs"),
            (2_000_000, "2ms"),
            (1_500_000_000, "1.5s"),
            (61_000_000_000, "1m1s"),
            (5_400_000_000_000, "1h30m0s"),
            (-3_600_000_000_000, "-1h0m0s"),
        ] {
            assert_eq!(go_duration(nanos), text, "{nanos}ns");
        }
    }

    fn malformed(body: &[u8]) -> String {
        match decode(body) {
            Err(BodyError::Malformed(message)) => message,
            other => panic!("expected a malformed body, got {other:?}"),
        }
    }

    #[test]
    fn malformed_bodies_are_bad_requests() {
        let namespace = framed("v1", "Namespace", &core::Namespace::default());
        assert_eq!(malformed(b""), "empty data");
        assert!(malformed(b"k8s").contains("does not appear to be a protobuf message"));
        assert!(malformed(b"{\"kind\":\"Namespace\"}").contains("expected prefix"));
        assert_eq!(malformed(MAGIC), "empty body");
        assert!(
            malformed(&namespace[..namespace.len() - 3]).contains("runtime.Unknown"),
            "a truncated envelope"
        );
        let truncated_object = Unknown {
            type_meta: Some(TypeMeta {
                api_version: s("v1"),
                kind: s("Namespace"),
            }),
            raw: Some(vec![0x0a, 0x05, b'f']),
            ..Default::default()
        };
        let body = [MAGIC, &truncated_object.encode_to_vec()].concat();
        assert!(malformed(&body).contains("unable to decode Namespace"));
        let kindless = Unknown {
            raw: Some(vec![]),
            ..Default::default()
        };
        assert!(
            malformed(&[MAGIC, &kindless.encode_to_vec()].concat()).contains("'Kind' is missing")
        );
        let status = Status::from(BodyError::Malformed("x".into()));
        assert_eq!(status.code, 400);
    }

    #[test]
    fn impossible_int_or_string_is_a_bad_request() {
        let service = core::Service {
            spec: Some(core::ServiceSpec {
                ports: vec![core::ServicePort {
                    target_port: Some(IntOrString {
                        r#type: Some(7),
                        ..Default::default()
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            ..Default::default()
        };
        assert!(malformed(&framed("v1", "Service", &service)).contains("IntOrString"));
    }

    #[test]
    fn unknown_kinds_are_unsupported_media() {
        let body = framed("example.com/v1", "Widget", &core::Namespace::default());
        let error = decode(&body).unwrap_err();
        assert!(matches!(error, BodyError::UnsupportedKind { .. }));
        assert_eq!(Status::from(error).code, 415);
    }

    #[tokio::test]
    async fn request_body_turns_protobuf_into_json() {
        use crate::endpoints::handlers::request_body;
        use crate::registry::rest::BodyFormat;
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static(MEDIA_TYPE),
        );
        let namespace = core::Namespace {
            metadata: Some(go_object_meta("foo")),
            ..Default::default()
        };
        let body = request_body(
            &headers,
            bytes::Bytes::from(framed("v1", "Namespace", &namespace)),
        )
        .await
        .unwrap();
        assert_eq!(body.format, BodyFormat::Json);
        let json: Value = serde_json::from_slice(&body.bytes).unwrap();
        assert_eq!(json["metadata"]["name"], "foo");
        assert_eq!(
            request_body(&headers, bytes::Bytes::from_static(b"k8s\0\xff"))
                .await
                .unwrap_err()
                .code,
            400
        );
    }
}
