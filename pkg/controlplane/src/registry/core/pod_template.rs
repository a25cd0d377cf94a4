//! Pod templates (`pkg/registry/core/podtemplate`): a named pod template,
//! defaulted and validated as a workload's `spec.template` is; the
//! generation counts changes of the template.

use k8s_openapi::api::core::v1::{PodTemplate, PodTemplateSpec};
use k8s_openapi::chrono::{DateTime, Utc};

use apimachinery::api::{name_is_dns_subdomain, validate_object_meta, validate_object_meta_update};
use apimachinery::validation::field::{ErrorList, Path};
use apiserver::registry::strategy::{ResourceNames, Strategy};
use apiserver::registry::table::ColumnDefinition;

use super::pod::{default_pod_template, validate_pod_template_spec};

/// `podtemplates`, `v1`.
pub static POD_TEMPLATE_INFO: ResourceNames = ResourceNames {
    group: "",
    version: "v1",
    kind: "PodTemplate",
    plural: "podtemplates",
    singular: "podtemplate",
    namespaced: true,
    short_names: &[],
    categories: &[],
};

#[derive(Debug, Clone, Copy, Default)]
pub struct PodTemplateStrategy;

/// `ValidatePodTemplate`.
pub fn validate_pod_template(template: &PodTemplate) -> ErrorList {
    let mut errors = validate_object_meta(
        &template.metadata,
        true,
        name_is_dns_subdomain,
        &Path::new("metadata"),
    );
    errors.extend(validate_pod_template_spec(
        &template.template.clone().unwrap_or_default(),
        &Path::new("template"),
    ));
    errors
}

/// `ValidatePodTemplateUpdate`.
pub fn validate_pod_template_update(new: &PodTemplate, old: &PodTemplate) -> ErrorList {
    let mut errors =
        validate_object_meta_update(&new.metadata, &old.metadata, &Path::new("metadata"));
    errors.extend(validate_pod_template_spec(
        &new.template.clone().unwrap_or_default(),
        &Path::new("template"),
    ));
    errors
}

impl Strategy for PodTemplateStrategy {
    type Object = PodTemplate;

    fn names(&self) -> &ResourceNames {
        &POD_TEMPLATE_INFO
    }

    fn table_columns(&self) -> &'static [ColumnDefinition] {
        crate::printers::workloads::pod_template_columns()
    }

    fn table_row(&self, template: &PodTemplate, _now: DateTime<Utc>) -> Vec<serde_json::Value> {
        crate::printers::workloads::pod_template_row(template)
    }

    /// The template's pod defaults (`SetDefaults_PodSpec` and the rest).
    fn prepare_for_create(&self, template: &mut PodTemplate) {
        default_pod_template(
            template
                .template
                .get_or_insert_with(PodTemplateSpec::default),
        );
    }

    fn prepare_for_update(&self, new: &mut PodTemplate, _old: &PodTemplate) {
        default_pod_template(new.template.get_or_insert_with(PodTemplateSpec::default));
    }

    fn validate(&self, template: &PodTemplate) -> ErrorList {
        validate_pod_template(template)
    }

    fn validate_update(&self, new: &PodTemplate, old: &PodTemplate) -> ErrorList {
        validate_pod_template_update(new, old)
    }

    fn tracks_generation(&self) -> bool {
        true
    }

    fn spec_changed(&self, new: &PodTemplate, old: &PodTemplate) -> bool {
        new.template != old.template
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Container, PodSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn template(image: &str) -> PodTemplate {
        PodTemplate {
            metadata: ObjectMeta {
                name: Some("batch-worker".into()),
                namespace: Some("default".into()),
                ..Default::default()
            },
            template: Some(PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some([("app".to_string(), "worker".to_string())].into()),
                    ..Default::default()
                }),
                spec: Some(PodSpec {
                    containers: vec![Container {
                        name: "work".into(),
                        image: Some(image.into()),
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
            }),
        }
    }

    #[test]
    fn the_template_is_defaulted_and_validated_as_a_workloads() {
        let mut valid = template("busybox:1.36");
        PodTemplateStrategy.prepare_for_create(&mut valid);
        let spec = valid.template.as_ref().unwrap().spec.as_ref().unwrap();
        assert_eq!(spec.restart_policy.as_deref(), Some("Always"));
        assert_eq!(spec.dns_policy.as_deref(), Some("ClusterFirst"));
        assert!(PodTemplateStrategy.validate(&valid).is_empty());

        let mut no_containers = template("x");
        no_containers
            .template
            .as_mut()
            .unwrap()
            .spec
            .as_mut()
            .unwrap()
            .containers
            .clear();
        PodTemplateStrategy.prepare_for_create(&mut no_containers);
        let errors = PodTemplateStrategy.validate(&no_containers);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].field, "template.spec.containers");
    }

    #[test]
    fn a_changed_template_is_a_spec_change() {
        let old = template("busybox:1.36");
        let mut relabelled = old.clone();
        relabelled.metadata.labels = Some([("a".to_string(), "b".to_string())].into());
        assert!(!PodTemplateStrategy.spec_changed(&relabelled, &old));
        assert!(PodTemplateStrategy.spec_changed(&template("busybox:1.37"), &old));
    }
}
