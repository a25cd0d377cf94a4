//! The Table columns and rows of the built-in kinds (mirrors
//! `pkg/printers/internalversion/printers.go`): what `kubectl get` shows for
//! each kind, computed on the server. One module per family; each kind's
//! strategy returns its columns and rows from here. Rows always carry the
//! wide (priority 1) cells, as upstream's server-side generator prints wide.

use std::collections::BTreeMap;

use apiserver::registry::table::translate_timestamp_since;
use k8s_openapi::api::core::v1::Container;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::chrono::{DateTime, Utc};
use serde_json::Value;

pub mod config;
pub mod coordination;
pub mod core;
pub mod pod;
pub mod policy;
pub mod rbac;
pub mod service;
pub mod storage;
pub mod workloads;

/// The object's name cell.
fn name_cell(meta: &ObjectMeta) -> Value {
    Value::from(meta.name.clone().unwrap_or_default())
}

/// The `Age` cell: `translateTimestampSince(creationTimestamp)`.
fn age_cell(meta: &ObjectMeta, now: DateTime<Utc>) -> Value {
    Value::from(translate_timestamp_since(
        meta.creation_timestamp.as_ref(),
        now,
    ))
}

/// `labels.FormatLabels`: `k=v` sorted by key and joined by `,`, or
/// `<none>`.
fn format_labels(labels: Option<&BTreeMap<String, String>>) -> String {
    let text = labels
        .into_iter()
        .flatten()
        .map(|(key, value)| format!("{key}={value}"))
        .collect::<Vec<_>>()
        .join(",");
    if text.is_empty() {
        "<none>".to_string()
    } else {
        text
    }
}

/// `LabelSelectorAsSelector(selector).String()`: `None` for a selector
/// that does not parse; a missing selector selects nothing and prints "".
fn selector_string(selector: Option<&LabelSelector>) -> Option<String> {
    match selector {
        None => Some(String::new()),
        Some(selector) => apimachinery::labels::Selector::from_label_selector(selector)
            .ok()
            .map(|selector| selector.to_string()),
    }
}

/// `metav1.FormatLabelSelector`: the selector's text, `<none>` when it is
/// empty, `<error>` when it does not parse.
fn format_label_selector(selector: Option<&LabelSelector>) -> String {
    match selector_string(selector) {
        None => "<error>".to_string(),
        Some(text) if text.is_empty() => "<none>".to_string(),
        Some(text) => text,
    }
}

/// `layoutContainerCells`: the containers' names and images, each joined
/// by `,`.
fn container_cells(containers: &[Container]) -> [Value; 2] {
    let names: Vec<&str> = containers.iter().map(|c| c.name.as_str()).collect();
    let images: Vec<&str> = containers
        .iter()
        .map(|c| c.image.as_deref().unwrap_or_default())
        .collect();
    [Value::from(names.join(",")), Value::from(images.join(","))]
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    #[test]
    fn labels_and_selectors_format_like_upstream() {
        assert_eq!(format_labels(None), "<none>");
        let labels = BTreeMap::from([("b".to_string(), "2".to_string()), ("a".into(), "1".into())]);
        assert_eq!(format_labels(Some(&labels)), "a=1,b=2");
        assert_eq!(format_label_selector(None), "<none>");
        assert_eq!(
            format_label_selector(Some(&LabelSelector::default())),
            "<none>"
        );
        let selector = LabelSelector {
            match_labels: Some(BTreeMap::from([("app".to_string(), "web".to_string())])),
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "tier".into(),
                operator: "In".into(),
                values: Some(vec!["b".into(), "a".into()]),
            }]),
        };
        assert_eq!(
            format_label_selector(Some(&selector)),
            "app=web,tier in (a,b)"
        );
        let broken = LabelSelector {
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "tier".into(),
                operator: "Sometimes".into(),
                values: None,
            }]),
            ..Default::default()
        };
        assert_eq!(format_label_selector(Some(&broken)), "<error>");
        assert_eq!(selector_string(None).as_deref(), Some(""));
    }

    #[test]
    fn containers_lay_out_on_one_line() {
        let containers = vec![
            Container {
                name: "a".into(),
                image: Some("nginx".into()),
                ..Default::default()
            },
            Container {
                name: "b".into(),
                image: Some("busybox".into()),
                ..Default::default()
            },
        ];
        assert_eq!(
            container_cells(&containers),
            [Value::from("a,b"), Value::from("nginx,busybox")]
        );
    }
}
