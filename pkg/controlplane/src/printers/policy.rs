//! The Table columns of the policy kinds: resource quotas (used against
//! hard, requests and limits apart) and pod disruption budgets (their bound
//! and the disruptions allowed now).

use std::sync::LazyLock;

use apiserver::registry::table::ColumnDefinition;
use k8s_openapi::api::core::v1::ResourceQuota;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::chrono::{DateTime, Utc};
use serde_json::Value;

use super::{age_cell, name_cell};

/// `resourceQuotaColumnDefinitions`.
pub fn resource_quota_columns() -> &'static [ColumnDefinition] {
    static COLUMNS: LazyLock<Vec<ColumnDefinition>> = LazyLock::new(|| {
        vec![
            ColumnDefinition::name(),
            ColumnDefinition::age(),
            ColumnDefinition::new(
                "Request",
                "string",
                "Request represents a minimum amount of cpu/memory that a container may consume.",
            ),
            ColumnDefinition::new(
                "Limit",
                "string",
                "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node.",
            ),
        ]
    });
    &COLUMNS
}

/// `printResourceQuota`: for each resource of `status.hard`, by name,
/// `name: used/hard`; `limits.*` in the Limit cell, the rest in Request.
pub fn resource_quota_row(quota: &ResourceQuota, now: DateTime<Utc>) -> Vec<Value> {
    let status = quota.status.as_ref();
    let used = status.and_then(|s| s.used.as_ref());
    let mut requests = Vec::new();
    let mut limits = Vec::new();
    for (resource, hard) in status.and_then(|s| s.hard.as_ref()).into_iter().flatten() {
        let used = used
            .and_then(|used| used.get(resource))
            .map_or("0", |q| q.0.as_str());
        let cell = format!("{resource}: {used}/{}", hard.0);
        if resource
            .split_once('.')
            .is_some_and(|(prefix, _)| prefix == "limits")
        {
            limits.push(cell);
        } else {
            requests.push(cell);
        }
    }
    vec![
        name_cell(&quota.metadata),
        age_cell(&quota.metadata, now),
        Value::from(requests.join(", ")),
        Value::from(limits.join(", ")),
    ]
}

/// `podDisruptionBudgetColumnDefinitions`.
pub fn pod_disruption_budget_columns() -> &'static [ColumnDefinition] {
    static COLUMNS: LazyLock<Vec<ColumnDefinition>> = LazyLock::new(|| {
        vec![
            ColumnDefinition::name(),
            ColumnDefinition::new(
                "Min Available",
                "string",
                "The minimum number of pods that must be available.",
            ),
            ColumnDefinition::new(
                "Max Unavailable",
                "string",
                "The maximum number of pods that may be unavailable.",
            ),
            ColumnDefinition::new(
                "Allowed Disruptions",
                "integer",
                "Calculated number of pods that may be disrupted at this time.",
            ),
            ColumnDefinition::age(),
        ]
    });
    &COLUMNS
}

/// `printPodDisruptionBudget`: each bound or `N/A`, the disruptions the
/// status allows, age.
pub fn pod_disruption_budget_row(budget: &PodDisruptionBudget, now: DateTime<Utc>) -> Vec<Value> {
    let spec = budget.spec.as_ref();
    let bound = |value: Option<&IntOrString>| match value {
        Some(IntOrString::Int(number)) => number.to_string(),
        Some(IntOrString::String(text)) => text.clone(),
        None => "N/A".to_owned(),
    };
    vec![
        name_cell(&budget.metadata),
        Value::from(bound(spec.and_then(|s| s.min_available.as_ref()))),
        Value::from(bound(spec.and_then(|s| s.max_unavailable.as_ref()))),
        Value::from(budget.status.as_ref().map_or(0, |s| s.disruptions_allowed)),
        age_cell(&budget.metadata, now),
    ]
}
