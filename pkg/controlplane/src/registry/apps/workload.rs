//! What the `apps/v1` workloads share (`pkg/apis/apps/validation`):
//! the `validate`/`validate_update` of the kinds whose name is a DNS
//! subdomain and whose selector never changes (Deployments, ReplicaSets,
//! DaemonSets), validation of `spec.selector` (required, non-empty,
//! immutable) and of int-or-percent rolling-update bounds, and the default
//! of a left-out optional field, borrowed rather than cloned.

use std::borrow::Cow;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use apimachinery::api::{
    FIELD_IMMUTABLE_ERROR_MSG, name_is_dns_subdomain, validate_label_selector,
    validate_nonnegative_field, validate_object_meta, validate_object_meta_update,
};
use apimachinery::labels::Selector;
use apimachinery::validation::field::{Error, ErrorList, Path};
use apimachinery::validation::go_syntax::{go_label_selector, invalid_shown};
use apimachinery::validation::is_valid_percent;

/// `value`, or `T`'s default when it is left out (as k8s-openapi's optional
/// `spec` and its optional parts are validated), without cloning a present
/// value.
pub fn or_default<T: Clone + Default>(value: Option<&T>) -> Cow<'_, T> {
    value.map_or_else(|| Cow::Owned(T::default()), Cow::Borrowed)
}

/// `validate` of a Deployment, ReplicaSet or DaemonSet: the metadata (the
/// name a DNS subdomain) and the spec (the default one when left out).
pub fn validate_workload<S: Clone + Default>(
    metadata: &ObjectMeta,
    spec: Option<&S>,
    validate_spec: fn(&S, &Path) -> ErrorList,
) -> ErrorList {
    let mut errors = validate_object_meta(
        metadata,
        true,
        name_is_dns_subdomain,
        &Path::new("metadata"),
    );
    errors.extend(validate_spec(&or_default(spec), &Path::new("spec")));
    errors
}

/// `validate_update` of a Deployment, ReplicaSet or DaemonSet: the metadata
/// update, the new spec, and the selector, which may not change. `new` and
/// `old` are each object's metadata and spec.
pub fn validate_workload_update<S: Clone + Default>(
    (new_metadata, new_spec): (&ObjectMeta, Option<&S>),
    (old_metadata, old_spec): (&ObjectMeta, Option<&S>),
    validate_spec: fn(&S, &Path) -> ErrorList,
    selector: fn(&S) -> &LabelSelector,
) -> ErrorList {
    let spec_path = Path::new("spec");
    let new_spec = or_default(new_spec);
    let old_spec = or_default(old_spec);
    let mut errors =
        validate_object_meta_update(new_metadata, old_metadata, &Path::new("metadata"));
    errors.extend(validate_spec(&new_spec, &spec_path));
    errors.extend(validate_selector_unchanged(
        selector(&new_spec),
        selector(&old_spec),
        &spec_path.child("selector"),
    ));
    errors
}

/// Whether the selector was left out: k8s-openapi decodes a missing
/// `selector` as an empty one, which upstream would see as nil.
pub fn selector_is_unset(selector: &LabelSelector) -> bool {
    selector.match_labels.is_none() && selector.match_expressions.is_none()
}

/// `spec.selector` of a Deployment, ReplicaSet or StatefulSet: required,
/// valid, not empty (`empty selector is invalid for <kind>`). Returns the
/// errors and the selector to match the template against (`None` when it
/// does not parse; a left-out selector matches nothing, as upstream's nil).
pub fn validate_required_selector(
    selector: &LabelSelector,
    path: &Path,
    kind: &str,
    invalid_detail: &str,
) -> (ErrorList, Option<Selector>) {
    if selector_is_unset(selector) {
        return (vec![Error::required(path, "")], Some(Selector::nothing()));
    }
    let mut errors = validate_label_selector(selector, path);
    let match_labels = selector.match_labels.as_ref().map_or(0, |m| m.len());
    let match_expressions = selector.match_expressions.as_ref().map_or(0, |m| m.len());
    if match_labels + match_expressions == 0 {
        errors.push(invalid_shown(
            path,
            &go_label_selector(selector),
            &format!("empty selector is invalid for {kind}"),
        ));
    }
    match Selector::from_label_selector(selector) {
        Ok(parsed) => (errors, Some(parsed)),
        Err(_) => {
            errors.push(invalid_shown(
                path,
                &go_label_selector(selector),
                invalid_detail,
            ));
            (errors, None)
        }
    }
}

/// apps/v1 forbids changing `spec.selector` (`field is immutable`).
pub fn validate_selector_unchanged(
    new: &LabelSelector,
    old: &LabelSelector,
    path: &Path,
) -> ErrorList {
    if new == old {
        Vec::new()
    } else {
        vec![invalid_shown(
            path,
            &go_label_selector(new),
            FIELD_IMMUTABLE_ERROR_MSG,
        )]
    }
}

/// An int-or-percent as the bad value of a field error: the number, or the
/// string.
pub fn int_or_string_value(value: &IntOrString) -> serde_json::Value {
    match value {
        IntOrString::Int(i) => serde_json::Value::from(*i),
        IntOrString::String(s) => serde_json::Value::from(s.as_str()),
    }
}

/// `ValidatePositiveIntOrPercent`.
pub fn validate_positive_int_or_percent(value: &IntOrString, path: &Path) -> ErrorList {
    match value {
        IntOrString::String(text) => is_valid_percent(text)
            .into_iter()
            .map(|msg| Error::invalid(path, int_or_string_value(value), msg))
            .collect(),
        IntOrString::Int(number) => validate_nonnegative_field(i64::from(*number), path),
    }
}

/// `getPercentValue`: the number of a valid percentage.
fn percent_value(value: &IntOrString) -> Option<i64> {
    match value {
        IntOrString::String(text) if is_valid_percent(text).is_empty() => {
            text.trim_end_matches('%').parse().ok()
        }
        _ => None,
    }
}

/// `getIntOrPercentValue`: a percentage's number, an int, or a string's
/// integer value (0 when it is none).
pub fn int_or_percent_value(value: &IntOrString) -> i64 {
    percent_value(value).unwrap_or(match value {
        IntOrString::Int(number) => i64::from(*number),
        IntOrString::String(text) => text.parse().unwrap_or(0),
    })
}

/// `IsNotMoreThan100Percent`.
pub fn validate_not_more_than_100_percent(value: &IntOrString, path: &Path) -> ErrorList {
    match percent_value(value) {
        Some(percent) if percent > 100 => vec![Error::invalid(
            path,
            int_or_string_value(value),
            "must not be greater than 100%",
        )],
        _ => Vec::new(),
    }
}

/// `ValidateNonnegativeField` of an optional `int32`.
pub fn validate_nonnegative_opt(value: Option<i32>, path: &Path) -> ErrorList {
    validate_nonnegative_field(i64::from(value.unwrap_or(0)), path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn messages(errors: &ErrorList) -> Vec<String> {
        errors.iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn selector_rules() {
        let path = Path::new("spec").child("selector");
        let (errors, selector) =
            validate_required_selector(&LabelSelector::default(), &path, "deployment", "x");
        assert_eq!(messages(&errors), vec!["spec.selector: Required value"]);
        assert!(selector.is_some_and(|s| !s.matches(&BTreeMap::new())));

        let empty = LabelSelector {
            match_labels: Some(BTreeMap::new()),
            ..Default::default()
        };
        let (errors, _) = validate_required_selector(&empty, &path, "deployment", "x");
        assert_eq!(
            messages(&errors),
            vec![
                "spec.selector: Invalid value: &v1.LabelSelector{MatchLabels:map[string]string{}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment"
            ]
        );

        let app = LabelSelector {
            match_labels: Some(BTreeMap::from([("app".to_string(), "web".to_string())])),
            ..Default::default()
        };
        let (errors, selector) = validate_required_selector(&app, &path, "deployment", "x");
        assert!(errors.is_empty());
        assert!(selector.is_some());
        assert_eq!(
            messages(&validate_selector_unchanged(&empty, &app, &path)),
            vec![
                "spec.selector: Invalid value: &v1.LabelSelector{MatchLabels:map[string]string{}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"
            ]
        );
    }

    #[test]
    fn a_left_out_spec_is_validated_as_the_default() {
        use crate::registry::apps::deployment::validate_deployment_spec;
        use k8s_openapi::api::apps::v1::DeploymentSpec;

        let meta = super::fixtures::meta("web");
        let default = DeploymentSpec::default();
        let left_out = validate_workload(&meta, None, validate_deployment_spec);
        assert!(!left_out.is_empty());
        assert_eq!(
            left_out,
            validate_workload(&meta, Some(&default), validate_deployment_spec)
        );
        assert!(matches!(or_default(Some(&default)), Cow::Borrowed(_)));
        assert!(matches!(or_default::<DeploymentSpec>(None), Cow::Owned(_)));

        let changed = DeploymentSpec {
            selector: super::fixtures::selector(&[("app", "web")]),
            ..Default::default()
        };
        let fields: Vec<String> = validate_workload_update(
            (&meta, Some(&changed)),
            (&meta, None),
            validate_deployment_spec,
            |spec| &spec.selector,
        )
        .into_iter()
        .map(|e| e.field)
        .collect();
        assert_eq!(fields.last().map(String::as_str), Some("spec.selector"));
    }

    #[test]
    fn int_or_percent() {
        let path = Path::new("maxSurge");
        let percent = IntOrString::String("25%".into());
        assert!(validate_positive_int_or_percent(&percent, &path).is_empty());
        assert_eq!(int_or_percent_value(&percent), 25);
        assert_eq!(int_or_percent_value(&IntOrString::Int(3)), 3);
        assert_eq!(
            messages(&validate_positive_int_or_percent(
                &IntOrString::Int(-1),
                &path
            )),
            vec!["maxSurge: Invalid value: -1: must be greater than or equal to 0"]
        );
        assert_eq!(
            validate_positive_int_or_percent(&IntOrString::String("x".into()), &path).len(),
            1
        );
        assert_eq!(
            messages(&validate_not_more_than_100_percent(
                &IntOrString::String("150%".into()),
                &path
            )),
            vec!["maxSurge: Invalid value: \"150%\": must not be greater than 100%"]
        );
    }
}

/// Fixtures the workload tests share.
#[cfg(test)]
pub mod fixtures {
    use std::collections::BTreeMap;

    use k8s_openapi::api::core::v1::{Container, PodSpec, PodTemplateSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

    use apimachinery::validation::field::ErrorList;

    pub fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    pub fn selector(pairs: &[(&str, &str)]) -> LabelSelector {
        LabelSelector {
            match_labels: Some(labels(pairs)),
            ..Default::default()
        }
    }

    /// A template labelled `app: web` running nginx.
    pub fn template() -> PodTemplateSpec {
        PodTemplateSpec {
            metadata: Some(ObjectMeta {
                labels: Some(labels(&[("app", "web")])),
                ..Default::default()
            }),
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: "web".into(),
                    image: Some("nginx".into()),
                    ..Default::default()
                }],
                ..Default::default()
            }),
        }
    }

    pub fn meta(name: &str) -> ObjectMeta {
        ObjectMeta {
            name: Some(name.into()),
            namespace: Some("default".into()),
            resource_version: Some("1".into()),
            ..Default::default()
        }
    }

    pub fn messages(errors: &ErrorList) -> Vec<String> {
        errors.iter().map(|e| e.to_string()).collect()
    }
}
