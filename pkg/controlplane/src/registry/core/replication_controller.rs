//! Replication controllers (`pkg/registry/core/replicationcontroller`):
//! the selector and the controller's labels default to the template's
//! labels, one replica by default, a template that keeps its pods running,
//! generation bumped on spec changes, status only through `/status`.

use k8s_openapi::api::core::v1::{
    ReplicationController, ReplicationControllerSpec, ReplicationControllerStatus,
};

use apimachinery::api::{
    name_is_dns_subdomain, validate_nonnegative_field, validate_object_meta,
    validate_object_meta_update,
};
use apimachinery::labels::Selector;
use apimachinery::validation::field::{Error, ErrorList, Path};
use apiserver::registry::scale::{ScaleSelector, ScaleView};
use apiserver::registry::strategy::{ResourceNames, ScaleStrategy, StatusStrategy, Strategy};

use super::pod::{default_pod_template, validate_controller_template};

/// `replicationcontrollers`, `v1`.
pub static REPLICATION_CONTROLLER_INFO: ResourceNames = ResourceNames {
    group: "",
    version: "v1",
    kind: "ReplicationController",
    plural: "replicationcontrollers",
    singular: "replicationcontroller",
    namespaced: true,
    short_names: &["rc"],
    categories: &["all"],
};

#[derive(Debug, Clone, Copy, Default)]
pub struct ReplicationControllerStrategy;

/// `SetDefaults_ReplicationController` and the declarative defaults.
pub fn default_replication_controller(controller: &mut ReplicationController) {
    let spec = controller
        .spec
        .get_or_insert_with(ReplicationControllerSpec::default);
    let template_labels = spec
        .template
        .as_ref()
        .and_then(|t| t.metadata.as_ref())
        .and_then(|m| m.labels.clone());
    if let Some(labels) = template_labels {
        if spec.selector.as_ref().is_none_or(|s| s.is_empty()) {
            spec.selector = Some(labels.clone());
        }
        if controller
            .metadata
            .labels
            .as_ref()
            .is_none_or(|l| l.is_empty())
        {
            controller.metadata.labels = Some(labels);
        }
    }
    spec.replicas.get_or_insert(1);
    if let Some(template) = spec.template.as_mut() {
        default_pod_template(template);
    }
}

/// `ValidateReplicationControllerSpec`.
fn validate_spec(spec: &ReplicationControllerSpec, path: &Path) -> ErrorList {
    let mut errors = validate_nonnegative_field(
        i64::from(spec.min_ready_seconds.unwrap_or(0)),
        &path.child("minReadySeconds"),
    );
    let selector = Selector::from_set(&spec.selector.clone().unwrap_or_default());
    if selector.is_empty() {
        errors.push(Error::required(&path.child("selector"), ""));
    }
    errors.extend(validate_nonnegative_field(
        i64::from(spec.replicas.unwrap_or(0)),
        &path.child("replicas"),
    ));
    match &spec.template {
        None => errors.push(Error::required(&path.child("template"), "")),
        Some(template) => errors.extend(validate_controller_template(
            template,
            &selector,
            &path.child("template"),
            "ReplicationController",
        )),
    }
    errors
}

/// `ValidateReplicationController`.
pub fn validate_replication_controller(controller: &ReplicationController) -> ErrorList {
    let mut errors = validate_object_meta(
        &controller.metadata,
        true,
        name_is_dns_subdomain,
        &Path::new("metadata"),
    );
    errors.extend(validate_spec(
        &controller.spec.clone().unwrap_or_default(),
        &Path::new("spec"),
    ));
    errors
}

impl Strategy for ReplicationControllerStrategy {
    type Object = ReplicationController;

    fn table_columns(&self) -> &'static [apiserver::registry::table::ColumnDefinition] {
        crate::printers::workloads::replication_controller_columns()
    }

    fn table_row(
        &self,
        obj: &Self::Object,
        now: k8s_openapi::chrono::DateTime<k8s_openapi::chrono::Utc>,
    ) -> Vec<serde_json::Value> {
        crate::printers::workloads::replication_controller_row(obj, now)
    }

    fn names(&self) -> &ResourceNames {
        &REPLICATION_CONTROLLER_INFO
    }

    fn status(&self) -> Option<&dyn StatusStrategy<ReplicationController>> {
        Some(self)
    }

    fn scale(&self) -> Option<&dyn ScaleStrategy<ReplicationController>> {
        Some(self)
    }

    fn prepare_for_create(&self, controller: &mut ReplicationController) {
        default_replication_controller(controller);
        controller.status = Some(ReplicationControllerStatus::default());
    }

    fn prepare_for_update(&self, new: &mut ReplicationController, old: &ReplicationController) {
        default_replication_controller(new);
        new.status = old.status.clone();
    }

    fn validate(&self, controller: &ReplicationController) -> ErrorList {
        validate_replication_controller(controller)
    }

    fn validate_update(
        &self,
        new: &ReplicationController,
        old: &ReplicationController,
    ) -> ErrorList {
        let mut errors =
            validate_object_meta_update(&new.metadata, &old.metadata, &Path::new("metadata"));
        errors.extend(validate_spec(
            &new.spec.clone().unwrap_or_default(),
            &Path::new("spec"),
        ));
        errors
    }

    fn tracks_generation(&self) -> bool {
        true
    }

    fn spec_changed(&self, new: &ReplicationController, old: &ReplicationController) -> bool {
        new.spec != old.spec
    }

    fn selectable_fields(&self, controller: &ReplicationController) -> Vec<(&'static str, String)> {
        let replicas = controller.status.as_ref().map_or(0, |s| s.replicas);
        vec![("status.replicas", replicas.to_string())]
    }

    fn selectable_field_names(&self) -> &'static [&'static str] {
        &["status.replicas"]
    }
}

impl StatusStrategy<ReplicationController> for ReplicationControllerStrategy {
    fn prepare_for_status_update(
        &self,
        new: &mut ReplicationController,
        old: &ReplicationController,
    ) {
        new.spec = old.spec.clone();
    }
}

impl ScaleStrategy<ReplicationController> for ReplicationControllerStrategy {
    /// `/scale`: `spec.replicas` (defaulted to 1), `status.replicas` and the
    /// selector.
    fn scale_of(&self, controller: &ReplicationController) -> Option<ScaleView> {
        let spec = controller.spec.as_ref()?;
        Some(ScaleView {
            replicas: spec.replicas.unwrap_or(1),
            status_replicas: controller.status.as_ref().map_or(0, |s| s.replicas),
            selector: ScaleSelector::Set(spec.selector.clone().unwrap_or_default()),
        })
    }

    fn set_replicas(&self, controller: &mut ReplicationController, replicas: i32) {
        controller
            .spec
            .get_or_insert_with(ReplicationControllerSpec::default)
            .replicas = Some(replicas);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    use k8s_openapi::api::core::v1::{Container, PodSpec, PodTemplateSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn labels(pairs: &[(&str, &str)]) -> Option<BTreeMap<String, String>> {
        Some(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    fn controller() -> ReplicationController {
        ReplicationController {
            metadata: ObjectMeta {
                name: Some("web".into()),
                namespace: Some("default".into()),
                ..Default::default()
            },
            spec: Some(ReplicationControllerSpec {
                template: Some(PodTemplateSpec {
                    metadata: Some(ObjectMeta {
                        labels: labels(&[("app", "web")]),
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
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn messages(errors: &ErrorList) -> Vec<String> {
        errors.iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn defaults_from_template_labels() {
        let mut rc = controller();
        ReplicationControllerStrategy.prepare_for_create(&mut rc);
        let spec = rc.spec.clone().unwrap_or_default();
        assert_eq!(spec.selector, labels(&[("app", "web")]));
        assert_eq!(rc.metadata.labels, labels(&[("app", "web")]));
        assert_eq!(spec.replicas, Some(1));
        let pod_spec = spec.template.and_then(|t| t.spec).unwrap_or_default();
        assert_eq!(pod_spec.restart_policy.as_deref(), Some("Always"));
        assert_eq!(rc.status, Some(ReplicationControllerStatus::default()));
        assert!(ReplicationControllerStrategy.validate(&rc).is_empty());
        let info = apiserver::registry::ResourceInfo::of(&ReplicationControllerStrategy);
        assert!(info.has_scale && info.has_status && info.categories == ["all"]);
    }

    #[test]
    fn selector_must_match_template_and_restart_always() {
        let mut rc = controller();
        ReplicationControllerStrategy.prepare_for_create(&mut rc);
        if let Some(spec) = rc.spec.as_mut() {
            spec.selector = labels(&[("app", "other")]);
            if let Some(pod) = spec.template.as_mut().and_then(|t| t.spec.as_mut()) {
                pod.restart_policy = Some("Never".into());
            }
        }
        assert_eq!(
            messages(&ReplicationControllerStrategy.validate(&rc)),
            vec![
                "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"web\"}: `selector` does not match template `labels`",
                "spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported values: \"Always\"",
            ]
        );
    }

    #[test]
    fn generation_status_and_fields() {
        let mut old = controller();
        ReplicationControllerStrategy.prepare_for_create(&mut old);
        old.status = Some(ReplicationControllerStatus {
            replicas: 3,
            ..Default::default()
        });
        let mut new = old.clone();
        new.status = None;
        ReplicationControllerStrategy.prepare_for_update(&mut new, &old);
        assert_eq!(new.status, old.status);
        assert!(!ReplicationControllerStrategy.spec_changed(&new, &old));
        if let Some(spec) = new.spec.as_mut() {
            spec.replicas = Some(5);
        }
        assert!(ReplicationControllerStrategy.spec_changed(&new, &old));
        assert!(ReplicationControllerStrategy.tracks_generation());
        let mut status = old.clone();
        status.spec = None;
        ReplicationControllerStrategy.prepare_for_status_update(&mut status, &old);
        assert_eq!(status.spec, old.spec);
        assert_eq!(
            ReplicationControllerStrategy.selectable_fields(&old),
            vec![("status.replicas", "3".to_string())]
        );
    }
}
