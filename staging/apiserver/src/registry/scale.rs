//! The `/scale` subresource (`autoscaling/v1` `Scale`, upstream's per-kind
//! `ScaleREST`): the view of a workload that `kubectl scale` and autoscalers
//! read and write. A strategy describes its kind's replica counts and
//! selector as a [`ScaleView`]; this module turns that view into the `Scale`
//! object (`scaleFromDeployment` and its siblings), validates a requested
//! `Scale` (`ValidateScale`) and applies a patch to one. The store reads and
//! writes the parent object around it.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use k8s_openapi::api::autoscaling::v1::{Scale, ScaleSpec, ScaleStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use serde_json::Value;

use apimachinery::api::{name_is_dns_subdomain, validate_object_meta};
use apimachinery::labels;
use apimachinery::patch::{self, PatchError, PatchSchema};
use apimachinery::validation::field::{Error, ErrorList, Path};

use super::rest::PatchType;
use crate::status::Status;

/// The group of the `Scale` kind, as it appears in `Invalid` errors
/// (`Scale.autoscaling "web" is invalid: ...`).
const SCALE_GROUP: &str = "autoscaling";

/// How a kind selects its pods, as the scale's `status.selector` is built
/// from it.
#[derive(Debug, Clone, PartialEq)]
pub enum ScaleSelector {
    /// A `metav1.LabelSelector` (deployments, replica sets, stateful sets):
    /// `LabelSelectorAsSelector(...).String()`.
    Labels(LabelSelector),
    /// A plain label map (replication controllers):
    /// `SelectorFromSet(...).String()`.
    Set(BTreeMap<String, String>),
    /// A selector already in label-selector syntax, as a custom resource's
    /// `labelSelectorPath` holds it (empty when it has none).
    Text(String),
}

impl ScaleSelector {
    /// The selector in label-selector syntax (`app=web,tier in (a,b)`).
    pub fn to_selector_string(&self) -> Result<String, String> {
        match self {
            ScaleSelector::Labels(selector) => {
                labels::Selector::from_label_selector(selector).map(|s| s.to_string())
            }
            ScaleSelector::Set(set) => Ok(labels::Selector::from_set(set).to_string()),
            ScaleSelector::Text(text) => Ok(text.clone()),
        }
    }
}

/// What a kind with a `/scale` subresource exposes through it.
#[derive(Debug, Clone, PartialEq)]
pub struct ScaleView {
    /// The desired count (`spec.replicas`).
    pub replicas: i32,
    /// The observed count (`status.replicas`).
    pub status_replicas: i32,
    pub selector: ScaleSelector,
}

/// The `Scale` of a parent object: its identity (name, namespace, uid,
/// resourceVersion, creationTimestamp) and the view's counts and selector.
/// A selector that cannot be printed is a 400, as upstream.
pub fn scale_from(meta: &ObjectMeta, view: &ScaleView) -> Result<Scale, Status> {
    let selector = view
        .selector
        .to_selector_string()
        .map_err(Status::bad_request)?;
    Ok(Scale {
        metadata: ObjectMeta {
            name: meta.name.clone(),
            namespace: meta.namespace.clone(),
            uid: meta.uid.clone(),
            resource_version: meta.resource_version.clone(),
            creation_timestamp: meta.creation_timestamp.clone(),
            ..ObjectMeta::default()
        },
        // Go's `replicas,omitempty`: a count of zero is left out.
        spec: Some(ScaleSpec {
            replicas: (view.replicas != 0).then_some(view.replicas),
        }),
        status: Some(ScaleStatus {
            replicas: view.status_replicas,
            selector: (!selector.is_empty()).then_some(selector),
        }),
    })
}

/// The replica count a `Scale` asks for (absent is zero, as in Go).
pub fn desired_replicas(scale: &Scale) -> i32 {
    scale
        .spec
        .as_ref()
        .and_then(|spec| spec.replicas)
        .unwrap_or(0)
}

/// `ValidateScale`: the object metadata (a namespaced, DNS-subdomain name)
/// and a non-negative `spec.replicas`.
pub fn validate_scale(scale: &Scale) -> ErrorList {
    let mut errors = validate_object_meta(
        &scale.metadata,
        true,
        name_is_dns_subdomain,
        &Path::new("metadata"),
    );
    let replicas = desired_replicas(scale);
    if replicas < 0 {
        errors.push(Error::invalid(
            &Path::new("spec").child("replicas"),
            replicas,
            "must be greater than or equal to 0",
        ));
    }
    errors
}

/// The 422 of a refused `Scale` (`Scale.autoscaling "web" is invalid`).
pub fn invalid_scale(name: &str, errors: &[Error]) -> Status {
    Status::invalid(SCALE_GROUP, "Scale", name, errors)
}

/// The `Scale` type's structure for strategic merge patches (it has no
/// lists, so this is a merge patch with `$patch` directives).
fn scale_patch_schema() -> &'static PatchSchema {
    static SCHEMA: LazyLock<PatchSchema> = LazyLock::new(PatchSchema::of::<Scale>);
    &SCHEMA
}

/// Applies a PATCH request's body to the current `Scale`, as upstream's
/// patcher applies it to the subresource's object; the result is still to
/// be decoded and validated.
pub fn patch_scale(
    current: &Scale,
    patch_type: PatchType,
    patch: &[u8],
) -> Result<Value, PatchError> {
    let doc = serde_json::to_value(current).map_err(|err| PatchError::Internal(err.to_string()))?;
    match patch_type {
        PatchType::Json => patch::json_patch(&doc, patch, patch::DEFAULT_MAX_COPY_BYTES),
        PatchType::Merge => patch::merge_patch_bytes(&doc, patch),
        PatchType::StrategicMerge => {
            let patch: Value = serde_json::from_slice(patch)
                .map_err(|err| PatchError::BadRequest(format!("error decoding patch: {err}")))?;
            patch::strategic_merge_patch(&doc, &patch, scale_patch_schema())
        }
        // Server-side apply of a Scale is not served yet.
        PatchType::Apply => Err(PatchError::BadRequest(
            "apply patches are not supported on the scale subresource".to_string(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    use super::*;

    fn meta() -> ObjectMeta {
        ObjectMeta {
            name: Some("web".into()),
            namespace: Some("default".into()),
            uid: Some("u1".into()),
            resource_version: Some("7".into()),
            labels: Some(BTreeMap::from([("x".into(), "y".into())])),
            generation: Some(3),
            ..ObjectMeta::default()
        }
    }

    fn view(replicas: i32) -> ScaleView {
        ScaleView {
            replicas,
            status_replicas: 1,
            selector: ScaleSelector::Labels(LabelSelector {
                match_labels: Some(BTreeMap::from([("app".into(), "web".into())])),
                match_expressions: Some(vec![LabelSelectorRequirement {
                    key: "tier".into(),
                    operator: "In".into(),
                    values: Some(vec!["b".into(), "a".into()]),
                }]),
            }),
        }
    }

    #[test]
    fn scale_carries_identity_counts_and_selector() {
        let scale = scale_from(&meta(), &view(3)).unwrap();
        assert_eq!(
            serde_json::to_value(&scale).unwrap(),
            serde_json::json!({
                "kind": "Scale",
                "apiVersion": "autoscaling/v1",
                "metadata": {"name": "web", "namespace": "default", "uid": "u1", "resourceVersion": "7"},
                "spec": {"replicas": 3},
                "status": {"replicas": 1, "selector": "app=web,tier in (a,b)"},
            })
        );
        let zero = serde_json::to_value(scale_from(&meta(), &view(0)).unwrap()).unwrap();
        assert_eq!(zero["spec"], serde_json::json!({}));
        let set = ScaleSelector::Set(BTreeMap::from([
            ("b".into(), "2".into()),
            ("a".into(), "1".into()),
        ]));
        assert_eq!(set.to_selector_string().unwrap(), "a=1,b=2");
        let bad = ScaleView {
            selector: ScaleSelector::Labels(LabelSelector {
                match_expressions: Some(vec![LabelSelectorRequirement {
                    key: "k".into(),
                    operator: "Sometimes".into(),
                    values: None,
                }]),
                ..LabelSelector::default()
            }),
            ..view(1)
        };
        assert_eq!(scale_from(&meta(), &bad).unwrap_err().code, 400);
    }

    #[test]
    fn negative_replicas_are_invalid_at_spec_replicas() {
        let mut scale = scale_from(&meta(), &view(2)).unwrap();
        assert!(validate_scale(&scale).is_empty());
        scale.spec = Some(ScaleSpec { replicas: Some(-1) });
        let errors = validate_scale(&scale);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "spec.replicas");
        let status = invalid_scale("web", &errors);
        assert_eq!(status.code, 422);
        assert_eq!(
            status.message,
            "Scale.autoscaling \"web\" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0"
        );
    }

    #[test]
    fn patches_apply_to_the_scale() {
        let scale = scale_from(&meta(), &view(2)).unwrap();
        let merged = patch_scale(&scale, PatchType::Merge, br#"{"spec":{"replicas":5}}"#).unwrap();
        assert_eq!(merged["spec"]["replicas"], 5);
        assert_eq!(merged["metadata"]["name"], "web");
        let strategic = patch_scale(
            &scale,
            PatchType::StrategicMerge,
            br#"{"spec":{"replicas":0}}"#,
        )
        .unwrap();
        assert_eq!(strategic["spec"]["replicas"], 0);
        let json = patch_scale(
            &scale,
            PatchType::Json,
            br#"[{"op":"replace","path":"/spec/replicas","value":4}]"#,
        )
        .unwrap();
        assert_eq!(json["spec"]["replicas"], 4);
        assert!(patch_scale(&scale, PatchType::Merge, b"{not json").is_err());
    }
}
