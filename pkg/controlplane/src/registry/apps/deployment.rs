//! Deployments (`pkg/registry/apps/deployment`): `SetDefaults_Deployment`
//! (one replica, RollingUpdate 25%/25%, 10 revisions, 600 s progress
//! deadline) and the template defaults, a selector that is required,
//! matches the template and never changes, the strategy's bounds, and a
//! generation bumped by spec or annotation changes.

use k8s_openapi::api::apps::v1 as apps_v1;
use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentSpec, DeploymentStatus, RollingUpdateDeployment,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use apimachinery::validation::field::{Error, ErrorList, Path};
use apiserver::registry::scale::{ScaleSelector, ScaleView};
use apiserver::registry::strategy::{ResourceNames, ScaleStrategy, StatusStrategy, Strategy};

use super::workload::{
    int_or_percent_value, int_or_string_value, or_default, validate_nonnegative_opt,
    validate_not_more_than_100_percent, validate_positive_int_or_percent,
    validate_required_selector, validate_workload, validate_workload_update,
};
use crate::registry::core::pod::{default_pod_template, validate_controller_template};

/// `deployments.apps`, `apps/v1`.
pub static DEPLOYMENT_INFO: ResourceNames = ResourceNames {
    group: "apps",
    version: "v1",
    kind: "Deployment",
    plural: "deployments",
    singular: "deployment",
    namespaced: true,
    short_names: &["deploy"],
    categories: &["all"],
};

/// The kind's registry strategy (not to be confused with k8s-openapi's
/// `apps_v1::DeploymentStrategy`, the type of `spec.strategy`).
#[derive(Debug, Clone, Copy, Default)]
pub struct DeploymentStrategy;

/// `SetDefaults_Deployment` and the template defaults.
pub fn default_deployment(deployment: &mut Deployment) {
    let spec = deployment.spec.get_or_insert_with(DeploymentSpec::default);
    spec.replicas.get_or_insert(1);
    let strategy = spec
        .strategy
        .get_or_insert_with(apps_v1::DeploymentStrategy::default);
    if strategy.type_.as_deref().unwrap_or("").is_empty() {
        strategy.type_ = Some("RollingUpdate".into());
    }
    if strategy.type_.as_deref() == Some("RollingUpdate") {
        let rolling = strategy
            .rolling_update
            .get_or_insert_with(RollingUpdateDeployment::default);
        rolling
            .max_unavailable
            .get_or_insert_with(|| IntOrString::String("25%".into()));
        rolling
            .max_surge
            .get_or_insert_with(|| IntOrString::String("25%".into()));
    }
    spec.revision_history_limit.get_or_insert(10);
    spec.progress_deadline_seconds.get_or_insert(600);
    default_pod_template(&mut spec.template);
}

/// `ValidateDeploymentStrategy`.
fn validate_strategy(strategy: &apps_v1::DeploymentStrategy, path: &Path) -> ErrorList {
    let mut errors = Vec::new();
    match strategy.type_.as_deref().unwrap_or("") {
        "Recreate" => {
            if strategy.rolling_update.is_some() {
                errors.push(Error::forbidden(
                    &path.child("rollingUpdate"),
                    "may not be specified when strategy `type` is 'Recreate'",
                ));
            }
        }
        "RollingUpdate" => match &strategy.rolling_update {
            None => errors.push(Error::required(
                &path.child("rollingUpdate"),
                "this should be defaulted and never be nil",
            )),
            Some(rolling) => {
                let rolling_path = path.child("rollingUpdate");
                let zero = IntOrString::Int(0);
                let max_unavailable = rolling.max_unavailable.as_ref().unwrap_or(&zero);
                let max_surge = rolling.max_surge.as_ref().unwrap_or(&zero);
                let unavailable_path = rolling_path.child("maxUnavailable");
                errors.extend(validate_positive_int_or_percent(
                    max_unavailable,
                    &unavailable_path,
                ));
                errors.extend(validate_positive_int_or_percent(
                    max_surge,
                    &rolling_path.child("maxSurge"),
                ));
                if int_or_percent_value(max_unavailable) == 0
                    && int_or_percent_value(max_surge) == 0
                {
                    errors.push(Error::invalid(
                        &unavailable_path,
                        int_or_string_value(max_unavailable),
                        "may not be 0 when `maxSurge` is 0",
                    ));
                }
                errors.extend(validate_not_more_than_100_percent(
                    max_unavailable,
                    &unavailable_path,
                ));
            }
        },
        other => errors.push(Error::not_supported(
            path,
            other,
            &["Recreate", "RollingUpdate"],
        )),
    }
    errors
}

/// `ValidateDeploymentSpec`.
pub fn validate_deployment_spec(spec: &DeploymentSpec, path: &Path) -> ErrorList {
    let mut errors = validate_nonnegative_opt(spec.replicas, &path.child("replicas"));
    let (selector_errors, selector) = validate_required_selector(
        &spec.selector,
        &path.child("selector"),
        "deployment",
        "invalid label selector",
    );
    errors.extend(selector_errors);
    if let Some(selector) = selector {
        errors.extend(validate_controller_template(
            &spec.template,
            &selector,
            &path.child("template"),
            "ReplicaSet",
        ));
    }
    errors.extend(validate_strategy(
        &or_default(spec.strategy.as_ref()),
        &path.child("strategy"),
    ));
    errors.extend(validate_nonnegative_opt(
        spec.min_ready_seconds,
        &path.child("minReadySeconds"),
    ));
    if let Some(limit) = spec.revision_history_limit {
        errors.extend(validate_nonnegative_opt(
            Some(limit),
            &path.child("revisionHistoryLimit"),
        ));
    }
    if let Some(deadline) = spec.progress_deadline_seconds {
        let deadline_path = path.child("progressDeadlineSeconds");
        errors.extend(validate_nonnegative_opt(Some(deadline), &deadline_path));
        if deadline <= spec.min_ready_seconds.unwrap_or(0) {
            errors.push(Error::invalid(
                &deadline_path,
                deadline,
                "must be greater than minReadySeconds",
            ));
        }
    }
    errors
}

impl Strategy for DeploymentStrategy {
    type Object = Deployment;

    fn table_columns(&self) -> &'static [apiserver::registry::table::ColumnDefinition] {
        crate::printers::workloads::deployment_columns()
    }

    fn table_row(
        &self,
        obj: &Self::Object,
        now: k8s_openapi::chrono::DateTime<k8s_openapi::chrono::Utc>,
    ) -> Vec<serde_json::Value> {
        crate::printers::workloads::deployment_row(obj, now)
    }

    fn names(&self) -> &ResourceNames {
        &DEPLOYMENT_INFO
    }

    fn status(&self) -> Option<&dyn StatusStrategy<Deployment>> {
        Some(self)
    }

    fn scale(&self) -> Option<&dyn ScaleStrategy<Deployment>> {
        Some(self)
    }

    fn prepare_for_create(&self, deployment: &mut Deployment) {
        default_deployment(deployment);
        deployment.status = Some(DeploymentStatus::default());
    }

    fn prepare_for_update(&self, new: &mut Deployment, old: &Deployment) {
        default_deployment(new);
        new.status = old.status.clone();
    }

    fn validate(&self, deployment: &Deployment) -> ErrorList {
        validate_workload(
            &deployment.metadata,
            deployment.spec.as_ref(),
            validate_deployment_spec,
        )
    }

    fn validate_update(&self, new: &Deployment, old: &Deployment) -> ErrorList {
        validate_workload_update(
            (&new.metadata, new.spec.as_ref()),
            (&old.metadata, old.spec.as_ref()),
            validate_deployment_spec,
            |spec| &spec.selector,
        )
    }

    fn tracks_generation(&self) -> bool {
        true
    }

    /// Upstream also bumps the generation when annotations change (a
    /// rollback or restart request travels in them).
    fn spec_changed(&self, new: &Deployment, old: &Deployment) -> bool {
        new.spec != old.spec || new.metadata.annotations != old.metadata.annotations
    }
}

impl StatusStrategy<Deployment> for DeploymentStrategy {
    /// A status update keeps the spec and the labels.
    fn prepare_for_status_update(&self, new: &mut Deployment, old: &Deployment) {
        new.spec = old.spec.clone();
        new.metadata.labels = old.metadata.labels.clone();
    }
}

impl ScaleStrategy<Deployment> for DeploymentStrategy {
    /// `/scale`: `spec.replicas` (defaulted to 1), `status.replicas` and the
    /// selector.
    fn scale_of(&self, deployment: &Deployment) -> Option<ScaleView> {
        let spec = deployment.spec.as_ref()?;
        Some(ScaleView {
            replicas: spec.replicas.unwrap_or(1),
            status_replicas: deployment
                .status
                .as_ref()
                .and_then(|s| s.replicas)
                .unwrap_or(0),
            selector: ScaleSelector::Labels(spec.selector.clone()),
        })
    }

    fn set_replicas(&self, deployment: &mut Deployment, replicas: i32) {
        deployment
            .spec
            .get_or_insert_with(DeploymentSpec::default)
            .replicas = Some(replicas);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::apps::workload::fixtures::{messages, meta, selector, template};
    use std::collections::BTreeMap;

    fn deployment() -> Deployment {
        Deployment {
            metadata: meta("web"),
            spec: Some(DeploymentSpec {
                selector: selector(&[("app", "web")]),
                template: template(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn created() -> Deployment {
        let mut d = deployment();
        DeploymentStrategy.prepare_for_create(&mut d);
        d
    }

    #[test]
    fn info_matches_discovery() {
        let info = apiserver::registry::ResourceInfo::of(&DeploymentStrategy);
        assert_eq!(info.qualified_resource(), "deployments.apps");
        assert_eq!(info.short_names, ["deploy"]);
        assert!(info.has_scale && info.has_status && info.categories == ["all"]);
    }

    #[test]
    fn defaults_as_upstream() {
        let d = created();
        let spec = or_default(d.spec.as_ref());
        assert_eq!(spec.replicas, Some(1));
        assert_eq!(spec.revision_history_limit, Some(10));
        assert_eq!(spec.progress_deadline_seconds, Some(600));
        let strategy = or_default(spec.strategy.as_ref());
        assert_eq!(strategy.type_.as_deref(), Some("RollingUpdate"));
        let rolling = or_default(strategy.rolling_update.as_ref());
        assert_eq!(
            rolling.max_unavailable,
            Some(IntOrString::String("25%".into()))
        );
        assert_eq!(rolling.max_surge, Some(IntOrString::String("25%".into())));
        let pod = or_default(spec.template.spec.as_ref());
        assert_eq!(pod.dns_policy.as_deref(), Some("ClusterFirst"));
        assert_eq!(pod.enable_service_links, None);
        assert_eq!(d.status, Some(DeploymentStatus::default()));
        assert!(DeploymentStrategy.validate(&d).is_empty());
    }

    #[test]
    fn missing_selector_and_mismatched_labels() {
        let mut d = deployment();
        if let Some(spec) = d.spec.as_mut() {
            spec.selector = Default::default();
        }
        DeploymentStrategy.prepare_for_create(&mut d);
        assert_eq!(
            messages(&DeploymentStrategy.validate(&d)),
            vec![
                "spec.selector: Required value",
                "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"web\"}: `selector` does not match template `labels`",
            ]
        );
    }

    #[test]
    fn spec_rules() {
        let mut d = created();
        if let Some(spec) = d.spec.as_mut() {
            spec.replicas = Some(-1);
            spec.min_ready_seconds = Some(700);
            spec.strategy = Some(apps_v1::DeploymentStrategy {
                type_: Some("RollingUpdate".into()),
                rolling_update: Some(RollingUpdateDeployment {
                    max_unavailable: Some(IntOrString::Int(0)),
                    max_surge: Some(IntOrString::String("0%".into())),
                }),
            });
            if let Some(pod) = spec.template.spec.as_mut() {
                pod.containers[0].image = None;
            }
        }
        assert_eq!(
            messages(&DeploymentStrategy.validate(&d)),
            vec![
                "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
                "spec.template.spec.containers[0].image: Required value",
                "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0",
                "spec.progressDeadlineSeconds: Invalid value: 600: must be greater than minReadySeconds",
            ]
        );
        let mut recreate = created();
        if let Some(spec) = recreate.spec.as_mut() {
            spec.strategy = Some(apps_v1::DeploymentStrategy {
                type_: Some("Recreate".into()),
                rolling_update: Some(RollingUpdateDeployment::default()),
            });
        }
        assert_eq!(
            messages(&DeploymentStrategy.validate(&recreate)),
            vec![
                "spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'"
            ]
        );
    }

    #[test]
    fn selector_is_immutable_and_generation_rules() {
        let old = created();
        let mut new = old.clone();
        if let Some(spec) = new.spec.as_mut() {
            spec.selector = selector(&[("app", "web"), ("tier", "front")]);
            spec.template.metadata = Some(meta("x"));
            if let Some(m) = spec.template.metadata.as_mut() {
                m.labels = Some(BTreeMap::from([
                    ("app".to_string(), "web".to_string()),
                    ("tier".to_string(), "front".to_string()),
                ]));
            }
        }
        let errors = DeploymentStrategy.validate_update(&new, &old);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "spec.selector");
        assert!(errors[0].detail.ends_with(": field is immutable"));

        let strategy = DeploymentStrategy;
        assert!(strategy.tracks_generation());
        assert!(!strategy.spec_changed(&old, &old));
        let mut annotated = old.clone();
        annotated.metadata.annotations = Some(BTreeMap::from([(
            "kubectl.kubernetes.io/restartedAt".to_string(),
            "now".to_string(),
        )]));
        assert!(strategy.spec_changed(&annotated, &old));
        let mut relabelled = old.clone();
        relabelled.metadata.labels = Some(BTreeMap::new());
        assert!(!strategy.spec_changed(&relabelled, &old));
    }

    #[test]
    fn status_handling() {
        let mut old = created();
        old.status = Some(DeploymentStatus {
            replicas: Some(2),
            ..Default::default()
        });
        let mut new = old.clone();
        new.status = None;
        DeploymentStrategy.prepare_for_update(&mut new, &old);
        assert_eq!(new.status, old.status);
        let mut status = old.clone();
        status.spec = None;
        status.metadata.labels = Some(BTreeMap::new());
        DeploymentStrategy.prepare_for_status_update(&mut status, &old);
        assert_eq!(
            (status.spec, status.metadata.labels),
            (old.spec, old.metadata.labels)
        );
    }
}
