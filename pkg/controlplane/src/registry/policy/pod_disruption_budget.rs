//! Pod disruption budgets (`pkg/registry/policy/poddisruptionbudget`): how
//! many of a selector's pods must stay up, or may be down, during voluntary
//! disruptions. Validated as upstream validates them (one of `minAvailable`
//! and `maxUnavailable`, each a non-negative count or a percentage of at
//! most 100%, a valid selector, a known unhealthy-pod eviction policy); the
//! generation counts spec changes; the status (what the disruption
//! controller writes) changes only through `/status`, where its counts may
//! not be negative and its conditions must be well-formed. No disruption
//! controller runs in this server, so the status is what a client writes.

use k8s_openapi::api::policy::v1::{
    PodDisruptionBudget, PodDisruptionBudgetSpec, PodDisruptionBudgetStatus,
};
use k8s_openapi::chrono::{DateTime, Utc};

use apimachinery::api::conditions::validate_conditions;
use apimachinery::api::{
    name_is_dns_subdomain, validate_label_selector, validate_nonnegative_field,
    validate_object_meta, validate_object_meta_update,
};
use apimachinery::validation::field::{Error, ErrorList, Path};
use apiserver::registry::strategy::{ResourceNames, StatusStrategy, Strategy};
use apiserver::registry::table::ColumnDefinition;

use crate::registry::apps::workload::{
    validate_not_more_than_100_percent, validate_positive_int_or_percent,
};

/// `poddisruptionbudgets`, `policy/v1`.
pub static POD_DISRUPTION_BUDGET_INFO: ResourceNames = ResourceNames {
    group: "policy",
    version: "v1",
    kind: "PodDisruptionBudget",
    plural: "poddisruptionbudgets",
    singular: "poddisruptionbudget",
    namespaced: true,
    short_names: &["pdb"],
    categories: &[],
};

/// `supportedUnhealthyPodEvictionPolicies`.
const UNHEALTHY_POD_EVICTION_POLICIES: [&str; 2] = ["AlwaysAllow", "IfHealthyBudget"];

#[derive(Debug, Clone, Copy, Default)]
pub struct PodDisruptionBudgetStrategy;

/// `ValidatePodDisruptionBudgetSpec`.
fn validate_pod_disruption_budget_spec(spec: &PodDisruptionBudgetSpec, path: &Path) -> ErrorList {
    let mut errors = Vec::new();
    if spec.min_available.is_some() && spec.max_unavailable.is_some() {
        errors.push(Error::invalid(
            path,
            serde_json::to_value(spec).unwrap_or_default(),
            "minAvailable and maxUnavailable cannot be both set",
        ));
    }
    for (value, field) in [
        (&spec.min_available, "minAvailable"),
        (&spec.max_unavailable, "maxUnavailable"),
    ] {
        if let Some(value) = value {
            let path = path.child(field);
            errors.extend(validate_positive_int_or_percent(value, &path));
            errors.extend(validate_not_more_than_100_percent(value, &path));
        }
    }
    if let Some(selector) = &spec.selector {
        errors.extend(validate_label_selector(selector, &path.child("selector")));
    }
    if let Some(policy) = spec.unhealthy_pod_eviction_policy.as_deref()
        && !UNHEALTHY_POD_EVICTION_POLICIES.contains(&policy)
    {
        errors.push(Error::not_supported(
            &path.child("unhealthyPodEvictionPolicy"),
            policy,
            &UNHEALTHY_POD_EVICTION_POLICIES,
        ));
    }
    errors
}

/// `ValidatePodDisruptionBudgetStatusUpdate` (policy/v1): conditions, and
/// counts that are not negative.
fn validate_pod_disruption_budget_status(
    status: &PodDisruptionBudgetStatus,
    path: &Path,
) -> ErrorList {
    let mut errors = validate_conditions(
        status.conditions.as_deref().unwrap_or_default(),
        &path.child("conditions"),
    );
    for (value, field) in [
        (status.disruptions_allowed, "disruptionsAllowed"),
        (status.current_healthy, "currentHealthy"),
        (status.desired_healthy, "desiredHealthy"),
        (status.expected_pods, "expectedPods"),
    ] {
        errors.extend(validate_nonnegative_field(
            i64::from(value),
            &path.child(field),
        ));
    }
    errors
}

/// The strategy's `Validate`: metadata and `ValidatePodDisruptionBudget`.
pub fn validate_pod_disruption_budget(budget: &PodDisruptionBudget) -> ErrorList {
    let mut errors = validate_object_meta(
        &budget.metadata,
        true,
        name_is_dns_subdomain,
        &Path::new("metadata"),
    );
    errors.extend(validate_pod_disruption_budget_spec(
        &budget.spec.clone().unwrap_or_default(),
        &Path::new("spec"),
    ));
    errors
}

impl Strategy for PodDisruptionBudgetStrategy {
    type Object = PodDisruptionBudget;

    fn names(&self) -> &ResourceNames {
        &POD_DISRUPTION_BUDGET_INFO
    }

    fn table_columns(&self) -> &'static [ColumnDefinition] {
        crate::printers::policy::pod_disruption_budget_columns()
    }

    fn table_row(
        &self,
        budget: &PodDisruptionBudget,
        now: DateTime<Utc>,
    ) -> Vec<serde_json::Value> {
        crate::printers::policy::pod_disruption_budget_row(budget, now)
    }

    fn status(&self) -> Option<&dyn StatusStrategy<PodDisruptionBudget>> {
        Some(self)
    }

    fn prepare_for_create(&self, budget: &mut PodDisruptionBudget) {
        budget.status = Some(PodDisruptionBudgetStatus::default());
    }

    fn prepare_for_update(&self, new: &mut PodDisruptionBudget, old: &PodDisruptionBudget) {
        new.status = old.status.clone();
    }

    fn validate(&self, budget: &PodDisruptionBudget) -> ErrorList {
        validate_pod_disruption_budget(budget)
    }

    /// Metadata and spec as on create; through `/status` (which keeps the
    /// spec) the status too.
    fn validate_update(&self, new: &PodDisruptionBudget, old: &PodDisruptionBudget) -> ErrorList {
        let mut errors =
            validate_object_meta_update(&new.metadata, &old.metadata, &Path::new("metadata"));
        errors.extend(validate_pod_disruption_budget_spec(
            &new.spec.clone().unwrap_or_default(),
            &Path::new("spec"),
        ));
        if new.status != old.status {
            errors.extend(validate_pod_disruption_budget_status(
                &new.status.clone().unwrap_or_default(),
                &Path::new("status"),
            ));
        }
        errors
    }

    fn tracks_generation(&self) -> bool {
        true
    }

    fn spec_changed(&self, new: &PodDisruptionBudget, old: &PodDisruptionBudget) -> bool {
        new.spec != old.spec
    }
}

impl StatusStrategy<PodDisruptionBudget> for PodDisruptionBudgetStrategy {
    fn prepare_for_status_update(&self, new: &mut PodDisruptionBudget, old: &PodDisruptionBudget) {
        new.spec = old.spec.clone();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

    fn budget(min: Option<IntOrString>, max: Option<IntOrString>) -> PodDisruptionBudget {
        PodDisruptionBudget {
            metadata: ObjectMeta {
                name: Some("web".into()),
                namespace: Some("default".into()),
                resource_version: Some("3".into()),
                ..Default::default()
            },
            spec: Some(PodDisruptionBudgetSpec {
                min_available: min,
                max_unavailable: max,
                selector: Some(LabelSelector {
                    match_labels: Some([("app".to_string(), "web".to_string())].into()),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            status: None,
        }
    }

    fn messages(errors: ErrorList) -> Vec<String> {
        errors.iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn one_bound_a_count_or_a_percentage_of_at_most_all() {
        let fine = budget(Some(IntOrString::String("50%".into())), None);
        assert!(validate_pod_disruption_budget(&fine).is_empty());
        let both = budget(Some(IntOrString::Int(1)), Some(IntOrString::Int(1)));
        let errors = messages(validate_pod_disruption_budget(&both));
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].starts_with("spec: Invalid value: ")
                && errors[0].ends_with(": minAvailable and maxUnavailable cannot be both set"),
            "{errors:?}"
        );
        let errors = messages(validate_pod_disruption_budget(&budget(
            Some(IntOrString::Int(-1)),
            None,
        )));
        assert_eq!(
            errors,
            ["spec.minAvailable: Invalid value: -1: must be greater than or equal to 0"]
        );
        let errors = messages(validate_pod_disruption_budget(&budget(
            None,
            Some(IntOrString::String("150%".into())),
        )));
        assert_eq!(
            errors,
            ["spec.maxUnavailable: Invalid value: \"150%\": must not be greater than 100%"]
        );
        let mut policy = budget(Some(IntOrString::Int(1)), None);
        policy.spec.as_mut().unwrap().unhealthy_pod_eviction_policy = Some("Never".into());
        assert_eq!(
            messages(validate_pod_disruption_budget(&policy)),
            [
                "spec.unhealthyPodEvictionPolicy: Unsupported value: \"Never\": supported values: \"AlwaysAllow\", \"IfHealthyBudget\""
            ]
        );
    }

    #[test]
    fn status_goes_through_its_subresource_with_sound_counts() {
        let strategy = PodDisruptionBudgetStrategy;
        let mut created = budget(Some(IntOrString::Int(2)), None);
        created.status = Some(PodDisruptionBudgetStatus {
            disruptions_allowed: 5,
            ..Default::default()
        });
        strategy.prepare_for_create(&mut created);
        assert_eq!(created.status, Some(PodDisruptionBudgetStatus::default()));

        let mut update = budget(Some(IntOrString::Int(3)), None);
        update.status = Some(PodDisruptionBudgetStatus {
            disruptions_allowed: 9,
            ..Default::default()
        });
        strategy.prepare_for_update(&mut update, &created);
        assert_eq!(
            update.status, created.status,
            "the main resource keeps the status"
        );
        assert!(strategy.spec_changed(&update, &created));

        let mut status_update = budget(None, Some(IntOrString::Int(1)));
        status_update.status = Some(PodDisruptionBudgetStatus {
            disruptions_allowed: -1,
            current_healthy: 2,
            ..Default::default()
        });
        strategy.prepare_for_status_update(&mut status_update, &created);
        assert_eq!(status_update.spec, created.spec, "/status keeps the spec");
        assert_eq!(
            messages(strategy.validate_update(&status_update, &created)),
            ["status.disruptionsAllowed: Invalid value: -1: must be greater than or equal to 0"]
        );
    }
}
