//! ReplicaSets (`pkg/registry/apps/replicaset`): one replica by default, the
//! template defaults, a required selector that matches the template and
//! never changes, generation bumped on spec changes, `status.replicas`
//! selectable.

use k8s_openapi::api::apps::v1::{ReplicaSet, ReplicaSetSpec, ReplicaSetStatus};

use apimachinery::validation::field::{ErrorList, Path};
use apiserver::registry::scale::{ScaleSelector, ScaleView};
use apiserver::registry::strategy::{ResourceNames, ScaleStrategy, StatusStrategy, Strategy};

use super::workload::{
    or_default, validate_nonnegative_opt, validate_required_selector, validate_workload,
    validate_workload_update,
};
use crate::registry::core::pod::{default_pod_template, validate_controller_template};

/// `replicasets.apps`, `apps/v1`.
pub static REPLICA_SET_INFO: ResourceNames = ResourceNames {
    group: "apps",
    version: "v1",
    kind: "ReplicaSet",
    plural: "replicasets",
    singular: "replicaset",
    namespaced: true,
    short_names: &["rs"],
    categories: &["all"],
};

#[derive(Debug, Clone, Copy, Default)]
pub struct ReplicaSetStrategy;

/// `SetDefaults_ReplicaSet` and the template defaults.
pub fn default_replica_set(replica_set: &mut ReplicaSet) {
    let spec = replica_set.spec.get_or_insert_with(ReplicaSetSpec::default);
    spec.replicas.get_or_insert(1);
    if let Some(template) = spec.template.as_mut() {
        default_pod_template(template);
    }
}

/// `ValidateReplicaSetSpec`.
pub fn validate_replica_set_spec(spec: &ReplicaSetSpec, path: &Path) -> ErrorList {
    let mut errors = validate_nonnegative_opt(spec.replicas, &path.child("replicas"));
    errors.extend(validate_nonnegative_opt(
        spec.min_ready_seconds,
        &path.child("minReadySeconds"),
    ));
    // Upstream names the deployment in a replica set's message too.
    let (selector_errors, selector) = validate_required_selector(
        &spec.selector,
        &path.child("selector"),
        "deployment",
        "invalid label selector",
    );
    errors.extend(selector_errors);
    if let Some(selector) = selector {
        errors.extend(validate_controller_template(
            &or_default(spec.template.as_ref()),
            &selector,
            &path.child("template"),
            "ReplicaSet",
        ));
    }
    errors
}

impl Strategy for ReplicaSetStrategy {
    type Object = ReplicaSet;

    fn table_columns(&self) -> &'static [apiserver::registry::table::ColumnDefinition] {
        crate::printers::workloads::replica_set_columns()
    }

    fn table_row(
        &self,
        obj: &Self::Object,
        now: k8s_openapi::chrono::DateTime<k8s_openapi::chrono::Utc>,
    ) -> Vec<serde_json::Value> {
        crate::printers::workloads::replica_set_row(obj, now)
    }

    fn names(&self) -> &ResourceNames {
        &REPLICA_SET_INFO
    }

    fn status(&self) -> Option<&dyn StatusStrategy<ReplicaSet>> {
        Some(self)
    }

    fn scale(&self) -> Option<&dyn ScaleStrategy<ReplicaSet>> {
        Some(self)
    }

    fn prepare_for_create(&self, replica_set: &mut ReplicaSet) {
        default_replica_set(replica_set);
        replica_set.status = Some(ReplicaSetStatus::default());
    }

    fn prepare_for_update(&self, new: &mut ReplicaSet, old: &ReplicaSet) {
        default_replica_set(new);
        new.status = old.status.clone();
    }

    fn validate(&self, replica_set: &ReplicaSet) -> ErrorList {
        validate_workload(
            &replica_set.metadata,
            replica_set.spec.as_ref(),
            validate_replica_set_spec,
        )
    }

    fn validate_update(&self, new: &ReplicaSet, old: &ReplicaSet) -> ErrorList {
        validate_workload_update(
            (&new.metadata, new.spec.as_ref()),
            (&old.metadata, old.spec.as_ref()),
            validate_replica_set_spec,
            |spec| &spec.selector,
        )
    }

    fn tracks_generation(&self) -> bool {
        true
    }

    fn spec_changed(&self, new: &ReplicaSet, old: &ReplicaSet) -> bool {
        new.spec != old.spec
    }

    fn selectable_fields(&self, replica_set: &ReplicaSet) -> Vec<(&'static str, String)> {
        let replicas = replica_set.status.as_ref().map_or(0, |s| s.replicas);
        vec![("status.replicas", replicas.to_string())]
    }

    fn selectable_field_names(&self) -> &'static [&'static str] {
        &["status.replicas"]
    }
}

impl StatusStrategy<ReplicaSet> for ReplicaSetStrategy {
    fn prepare_for_status_update(&self, new: &mut ReplicaSet, old: &ReplicaSet) {
        new.spec = old.spec.clone();
    }
}

impl ScaleStrategy<ReplicaSet> for ReplicaSetStrategy {
    /// `/scale`: `spec.replicas` (defaulted to 1), `status.replicas` and the
    /// selector.
    fn scale_of(&self, replica_set: &ReplicaSet) -> Option<ScaleView> {
        let spec = replica_set.spec.as_ref()?;
        Some(ScaleView {
            replicas: spec.replicas.unwrap_or(1),
            status_replicas: replica_set.status.as_ref().map_or(0, |s| s.replicas),
            selector: ScaleSelector::Labels(spec.selector.clone()),
        })
    }

    fn set_replicas(&self, replica_set: &mut ReplicaSet, replicas: i32) {
        replica_set
            .spec
            .get_or_insert_with(ReplicaSetSpec::default)
            .replicas = Some(replicas);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::apps::workload::fixtures::{messages, meta, selector, template};

    fn created() -> ReplicaSet {
        let mut rs = ReplicaSet {
            metadata: meta("web-1"),
            spec: Some(ReplicaSetSpec {
                selector: selector(&[("app", "web")]),
                template: Some(template()),
                ..Default::default()
            }),
            ..Default::default()
        };
        ReplicaSetStrategy.prepare_for_create(&mut rs);
        rs
    }

    #[test]
    fn defaults_and_valid() {
        let rs = created();
        assert_eq!(rs.spec.as_ref().and_then(|s| s.replicas), Some(1));
        assert_eq!(rs.status, Some(ReplicaSetStatus::default()));
        assert!(ReplicaSetStrategy.validate(&rs).is_empty());
        assert_eq!(
            apiserver::registry::ResourceInfo::of(&ReplicaSetStrategy).short_names,
            ["rs"]
        );
    }

    #[test]
    fn template_rules() {
        let mut rs = created();
        if let Some(pod) = rs
            .spec
            .as_mut()
            .and_then(|s| s.template.as_mut())
            .and_then(|t| t.spec.as_mut())
        {
            pod.active_deadline_seconds = Some(10);
        }
        assert_eq!(
            messages(&ReplicaSetStrategy.validate(&rs)),
            vec![
                "spec.template.spec.activeDeadlineSeconds: Forbidden: activeDeadlineSeconds in ReplicaSet is not Supported"
            ]
        );
    }

    #[test]
    fn update_status_generation_and_fields() {
        let mut old = created();
        old.status = Some(ReplicaSetStatus {
            replicas: 2,
            ..Default::default()
        });
        let mut new = old.clone();
        new.status = None;
        ReplicaSetStrategy.prepare_for_update(&mut new, &old);
        assert_eq!(new.status, old.status);
        if let Some(spec) = new.spec.as_mut() {
            spec.replicas = Some(3);
        }
        assert!(ReplicaSetStrategy.spec_changed(&new, &old));
        assert!(ReplicaSetStrategy.validate_update(&new, &old).is_empty());
        if let Some(spec) = new.spec.as_mut() {
            spec.selector = selector(&[("app", "other")]);
        }
        let fields: Vec<String> = ReplicaSetStrategy
            .validate_update(&new, &old)
            .iter()
            .map(|e| e.field.clone())
            .collect();
        assert_eq!(fields, ["spec.template.metadata.labels", "spec.selector"]);
        assert_eq!(
            ReplicaSetStrategy.selectable_fields(&old),
            vec![("status.replicas", "2".to_string())]
        );
        let mut status = old.clone();
        status.spec = None;
        ReplicaSetStrategy.prepare_for_status_update(&mut status, &old);
        assert_eq!(status.spec, old.spec);
    }
}
