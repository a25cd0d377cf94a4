//! `pods/eviction` (`pkg/registry/core/pod/storage.EvictionREST`): a pod
//! deleted only if its disruption budget allows it. A terminal, pending or
//! deleting pod goes at once. Otherwise the one budget whose selector
//! matches the pod is charged: its `status.disruptionsAllowed` is
//! decremented and the pod recorded in `disruptedPods` (one compare-and-swap
//! write of the budget's status), then the pod is deleted. A budget the
//! disruption controller has not seen since its last change, or one with no
//! disruption left, answers 429 with upstream's cause; two matching budgets
//! are a 500, as upstream. An unready pod is deleted without charging the
//! budget when the budget says `AlwaysAllow` or already has the healthy
//! pods it needs, with the pod's resourceVersion as a precondition so a pod
//! that turned ready meanwhile is not deleted. The answer is a success
//! `Status`.

use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::chrono::{DateTime, Utc};

use apimachinery::labels::Selector;
use apiserver::authentication::UserInfo;
use apiserver::endpoints::handlers::delete_options;
use apiserver::query::Query;
use apiserver::registry::rest::{DeleteOptions, Subresource};
use apiserver::registry::subresource::{Created, NamedCreate};
use apiserver::registry::table::current_time;
use apiserver::registry::{ResourceInfo, RestStorage, Store};
use apiserver::status::{Status, StatusCause, StatusDetails};
use k8s_openapi::api::policy::v1::Eviction;

use super::PodStrategy;
use crate::registry::policy::pod_disruption_budget::PodDisruptionBudgetStrategy;

/// `MaxDisruptedPodSize`: evictions the disruption controller has not yet
/// confirmed that a budget may record.
const MAX_DISRUPTED_PODS: usize = 2000;

/// The reason of a budget's cause in a 429 (`policyv1.DisruptionBudgetCause`).
const DISRUPTION_BUDGET_CAUSE: &str = "DisruptionBudget";

/// The eviction subresource over the pods' and the budgets' stores.
pub struct EvictionRest {
    pub pods: Arc<Store<PodStrategy>>,
    pub budgets: Arc<Store<PodDisruptionBudgetStrategy>>,
}

/// `canIgnorePDB`: a pod that is done, not yet running or already going.
fn can_ignore_budget(pod: &Pod) -> bool {
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    matches!(phase, Some("Succeeded" | "Failed" | "Pending"))
        || pod.metadata.deletion_timestamp.is_some()
}

/// `shouldEnforceResourceVersion`: every pod that could still turn ready.
fn should_enforce_resource_version(pod: &Pod) -> bool {
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    !matches!(phase, Some("Succeeded" | "Failed")) && pod.metadata.deletion_timestamp.is_none()
}

/// `IsPodReady`.
fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .any(|c| c.type_ == "Ready" && c.status == "True")
}

/// The budgets of the pod's namespace whose selector matches its labels;
/// an empty or invalid selector matches nothing (`getPodDisruptionBudgets`).
fn budgets_of<'a>(pod: &Pod, budgets: &'a [PodDisruptionBudget]) -> Vec<&'a PodDisruptionBudget> {
    let labels = pod.metadata.labels.clone().unwrap_or_default();
    budgets
        .iter()
        .filter(|budget| {
            let Some(selector) = budget.spec.as_ref().and_then(|s| s.selector.as_ref()) else {
                return false;
            };
            Selector::from_label_selector(selector)
                .is_ok_and(|selector| !selector.is_empty() && selector.matches(&labels))
        })
        .collect()
}

/// `createTooManyRequestsError` and the no-disruption-left 429.
fn too_many_requests(cause: String, retry_after_seconds: u32) -> Status {
    Status::failure(
        http::StatusCode::TOO_MANY_REQUESTS,
        "TooManyRequests",
        "Cannot evict pod as it would violate the pod's disruption budget.",
    )
    .with_details(StatusDetails {
        retry_after_seconds: (retry_after_seconds > 0).then_some(retry_after_seconds),
        causes: vec![StatusCause {
            reason: DISRUPTION_BUDGET_CAUSE.to_owned(),
            message: cause,
            field: String::new(),
        }],
        ..StatusDetails::default()
    })
}

fn still_being_processed(budget: &str) -> Status {
    too_many_requests(
        format!("The disruption budget {budget} is still being processed by the server."),
        10,
    )
}

/// `checkAndDecrement`: the budget's status after charging it one
/// disruption for `pod`, or why it cannot be charged.
fn check_and_decrement(
    budget: &PodDisruptionBudget,
    pod: &str,
    now: DateTime<Utc>,
) -> Result<PodDisruptionBudget, Status> {
    let name = budget.metadata.name.as_deref().unwrap_or_default();
    let status = budget.status.clone().unwrap_or_default();
    if status.observed_generation.unwrap_or(0) < budget.metadata.generation.unwrap_or(0) {
        return Err(still_being_processed(name));
    }
    if status.disruptions_allowed < 0 {
        return Err(Status::forbidden_resource(
            "policy",
            "poddisruptionbudget",
            name,
            "pdb disruptions allowed is negative",
        ));
    }
    if status.disrupted_pods.as_ref().map_or(0, |pods| pods.len()) > MAX_DISRUPTED_PODS {
        return Err(Status::forbidden_resource(
            "policy",
            "poddisruptionbudget",
            name,
            "DisruptedPods map too big - too many evictions not confirmed by PDB controller",
        ));
    }
    if status.disruptions_allowed == 0 {
        return Err(too_many_requests(
            format!(
                "The disruption budget {name} needs {} healthy pods and has {} currently",
                status.desired_healthy, status.current_healthy
            ),
            0,
        ));
    }
    let mut charged = budget.clone();
    let status = charged
        .status
        .get_or_insert_with(PodDisruptionBudgetStatus::default);
    status.disruptions_allowed -= 1;
    if status.disruptions_allowed == 0 {
        set_disruption_allowed(status, now);
    }
    status
        .disrupted_pods
        .get_or_insert_with(Default::default)
        .insert(pod.to_owned(), Time(now));
    Ok(charged)
}

/// `UpdateDisruptionAllowedCondition` once no disruption is left
/// (`apimeta.SetStatusCondition`: the transition time moves only when the
/// status changes).
fn set_disruption_allowed(status: &mut PodDisruptionBudgetStatus, now: DateTime<Utc>) {
    let (value, reason) = if status.disruptions_allowed > 0 {
        ("True", "SufficientPods")
    } else {
        ("False", "InsufficientPods")
    };
    let observed_generation = status.observed_generation;
    let conditions = status.conditions.get_or_insert_with(Vec::new);
    match conditions
        .iter_mut()
        .find(|c| c.type_ == "DisruptionAllowed")
    {
        Some(existing) => {
            if existing.status != value {
                existing.status = value.to_owned();
                existing.last_transition_time = Time(now);
            }
            existing.reason = reason.to_owned();
            existing.observed_generation = observed_generation;
        }
        None => conditions.push(Condition {
            type_: "DisruptionAllowed".to_owned(),
            status: value.to_owned(),
            reason: reason.to_owned(),
            message: String::new(),
            observed_generation,
            last_transition_time: Time(now),
        }),
    }
}

impl EvictionRest {
    /// Deletes the pod with `opts`; with `enforce`, only at the revision
    /// the eviction read (unless the client named one).
    async fn delete_pod(
        &self,
        namespace: Option<&str>,
        pod: &Pod,
        opts: &DeleteOptions,
        enforce: bool,
    ) -> Result<(), Status> {
        let mut opts = opts.clone();
        if enforce && opts.precondition_resource_version.is_none() {
            opts.precondition_resource_version = pod.metadata.resource_version.clone();
        }
        let name = pod.metadata.name.as_deref().unwrap_or_default();
        self.pods.delete_object(namespace, name, &opts).await?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl NamedCreate for EvictionRest {
    type Object = Eviction;
    type Answer = Status;

    fn parent(&self) -> &ResourceInfo {
        self.pods.info()
    }

    fn subresource(&self) -> &'static str {
        "eviction"
    }

    async fn create(
        &self,
        namespace: Option<&str>,
        name: &str,
        _user: &UserInfo,
        eviction: Eviction,
        dry_run: bool,
    ) -> Result<Created<Status>, Status> {
        if eviction.metadata.name.as_deref() != Some(name) {
            return Err(Status::bad_request(
                "name in URL does not match name in Eviction object",
            ));
        }
        let mut opts = match &eviction.delete_options {
            Some(options) => {
                let body = serde_json::to_vec(options).map_err(|err| {
                    Status::internal_error(format!("encoding the eviction's delete options: {err}"))
                })?;
                delete_options(&Query::default(), &body)?
            }
            None => DeleteOptions::default(),
        };
        opts.dry_run |= dry_run;
        let client_named_revision = opts.precondition_resource_version.is_some();

        let pod = self.pods.get_object(namespace, name).await?;
        if can_ignore_budget(&pod) {
            self.delete_pod(
                namespace,
                &pod,
                &opts,
                should_enforce_resource_version(&pod),
            )
            .await?;
            return Ok(success());
        }

        let (all, _) = self.budgets.list_objects(namespace).await?;
        let matching = budgets_of(&pod, &all);
        let budget = match matching.as_slice() {
            [] => None,
            [budget] => Some(*budget),
            _ => {
                return Err(Status::failure(
                    http::StatusCode::INTERNAL_SERVER_ERROR,
                    "",
                    "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.",
                ));
            }
        };
        let mut unready_without_charge = false;
        if let Some(budget) = budget {
            let budget_name = budget.metadata.name.clone().unwrap_or_default();
            let spec = budget.spec.clone().unwrap_or_default();
            let status = budget.status.clone().unwrap_or_default();
            let always_allow = spec.unhealthy_pod_eviction_policy.as_deref() == Some("AlwaysAllow");
            let healthy_enough =
                status.current_healthy >= status.desired_healthy && status.desired_healthy > 0;
            if !is_ready(&pod) && (always_allow || healthy_enough) {
                unready_without_charge = true;
            } else {
                let now = current_time();
                self.budgets
                    .update_object(
                        namespace,
                        &budget_name,
                        Subresource::Status,
                        opts.dry_run,
                        |current| check_and_decrement(current, name, now),
                    )
                    .await?;
            }
            let deleted = self
                .delete_pod(namespace, &pod, &opts, unready_without_charge)
                .await;
            return match deleted {
                Err(status)
                    if status.code == http::StatusCode::CONFLICT.as_u16()
                        && unready_without_charge
                        && !client_named_revision =>
                {
                    Err(still_being_processed(&budget_name))
                }
                Err(status) => Err(status),
                Ok(()) => Ok(success()),
            };
        }
        self.delete_pod(namespace, &pod, &opts, false).await?;
        Ok(success())
    }
}

/// `&metav1.Status{Status: metav1.StatusSuccess}`, created.
fn success() -> Created<Status> {
    let mut answer = Status::success(StatusDetails::default());
    answer.details = None;
    answer.code = http::StatusCode::CREATED.as_u16();
    answer.into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{PodCondition, PodStatus};
    use k8s_openapi::api::policy::v1::PodDisruptionBudgetSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

    fn pod(phase: &str, ready: bool) -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some("web-1".into()),
                labels: Some([("app".to_string(), "web".to_string())].into()),
                ..Default::default()
            },
            spec: None,
            status: Some(PodStatus {
                phase: Some(phase.into()),
                conditions: Some(vec![PodCondition {
                    type_: "Ready".into(),
                    status: if ready { "True" } else { "False" }.into(),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
        }
    }

    fn budget(name: &str, labels: &[(&str, &str)], allowed: i32) -> PodDisruptionBudget {
        PodDisruptionBudget {
            metadata: ObjectMeta {
                name: Some(name.into()),
                generation: Some(1),
                ..Default::default()
            },
            spec: Some(PodDisruptionBudgetSpec {
                selector: Some(LabelSelector {
                    match_labels: Some(
                        labels
                            .iter()
                            .map(|(k, v)| (k.to_string(), v.to_string()))
                            .collect(),
                    ),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            status: Some(PodDisruptionBudgetStatus {
                observed_generation: Some(1),
                disruptions_allowed: allowed,
                current_healthy: 3,
                desired_healthy: 2,
                ..Default::default()
            }),
        }
    }

    #[test]
    fn only_running_pods_that_are_not_going_consult_a_budget() {
        assert!(can_ignore_budget(&pod("Pending", false)));
        assert!(can_ignore_budget(&pod("Succeeded", false)));
        assert!(!can_ignore_budget(&pod("Running", true)));
        assert!(!should_enforce_resource_version(&pod("Failed", false)));
        assert!(should_enforce_resource_version(&pod("Running", false)));
    }

    #[test]
    fn budgets_match_by_a_selector_that_is_not_empty() {
        let budgets = [
            budget("web", &[("app", "web")], 1),
            budget("everything", &[], 1),
            budget("db", &[("app", "db")], 1),
        ];
        let matched: Vec<_> = budgets_of(&pod("Running", true), &budgets)
            .iter()
            .map(|b| b.metadata.name.clone().unwrap_or_default())
            .collect();
        assert_eq!(matched, ["web"]);
    }

    #[test]
    fn a_budget_is_charged_once_per_eviction_until_none_is_left() {
        let now = current_time();
        let charged =
            check_and_decrement(&budget("web", &[("app", "web")], 1), "web-1", now).unwrap();
        let status = charged.status.unwrap();
        assert_eq!(status.disruptions_allowed, 0);
        assert_eq!(
            status.disrupted_pods.unwrap().keys().collect::<Vec<_>>(),
            ["web-1"]
        );
        let condition = &status.conditions.unwrap()[0];
        assert_eq!(
            (
                condition.type_.as_str(),
                condition.status.as_str(),
                condition.reason.as_str()
            ),
            ("DisruptionAllowed", "False", "InsufficientPods")
        );

        let exhausted =
            check_and_decrement(&budget("web", &[("app", "web")], 0), "web-1", now).unwrap_err();
        assert_eq!(exhausted.code, 429);
        let cause = &exhausted.details.as_ref().unwrap().causes[0];
        assert_eq!(cause.reason, "DisruptionBudget");
        assert_eq!(
            cause.message,
            "The disruption budget web needs 2 healthy pods and has 3 currently"
        );

        let mut unseen = budget("web", &[("app", "web")], 1);
        unseen.metadata.generation = Some(2);
        let waiting = check_and_decrement(&unseen, "web-1", now).unwrap_err();
        assert_eq!(waiting.code, 429);
        assert_eq!(
            waiting.details.as_ref().unwrap().retry_after_seconds,
            Some(10)
        );

        let negative =
            check_and_decrement(&budget("web", &[("app", "web")], -1), "web-1", now).unwrap_err();
        assert_eq!(negative.code, 403);
        assert_eq!(
            negative.message,
            "poddisruptionbudget.policy \"web\" is forbidden: pdb disruptions allowed is negative"
        );
    }
}
