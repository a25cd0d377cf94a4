//! ControllerRevisions (`pkg/registry/apps/controllerrevision`): the
//! immutable snapshots of a workload's state that StatefulSets and
//! DaemonSets roll back to. `data` is required and never changes; the
//! revision number is not negative.

use k8s_openapi::api::apps::v1::ControllerRevision;
use k8s_openapi::chrono::{DateTime, Utc};

use apimachinery::api::{
    name_is_dns_subdomain, validate_nonnegative_field, validate_object_meta,
    validate_object_meta_update,
};
use apimachinery::validation::field::{Error, ErrorList, Path};
use apiserver::registry::strategy::{ResourceNames, Strategy};
use apiserver::registry::table::ColumnDefinition;

use crate::registry::core::pod::validation::validate_immutable;

/// `controllerrevisions.apps`, `apps/v1`.
pub static CONTROLLER_REVISION_INFO: ResourceNames = ResourceNames {
    group: "apps",
    version: "v1",
    kind: "ControllerRevision",
    plural: "controllerrevisions",
    singular: "controllerrevision",
    namespaced: true,
    short_names: &[],
    categories: &[],
};

#[derive(Debug, Clone, Copy, Default)]
pub struct ControllerRevisionStrategy;

/// `ValidateControllerRevision`.
pub fn validate_controller_revision(revision: &ControllerRevision) -> ErrorList {
    let mut errors = validate_object_meta(
        &revision.metadata,
        true,
        name_is_dns_subdomain,
        &Path::new("metadata"),
    );
    if revision.data.is_none() {
        errors.push(Error::required(&Path::new("data"), "data is mandatory"));
    }
    errors.extend(validate_nonnegative_field(
        revision.revision,
        &Path::new("revision"),
    ));
    errors
}

/// `ValidateControllerRevisionUpdate`: also, `data` never changes.
pub fn validate_controller_revision_update(
    new: &ControllerRevision,
    old: &ControllerRevision,
) -> ErrorList {
    let mut errors =
        validate_object_meta_update(&new.metadata, &old.metadata, &Path::new("metadata"));
    errors.extend(validate_controller_revision(new));
    errors.extend(validate_immutable(&new.data, &old.data, &Path::new("data")));
    errors
}

impl Strategy for ControllerRevisionStrategy {
    type Object = ControllerRevision;

    fn names(&self) -> &ResourceNames {
        &CONTROLLER_REVISION_INFO
    }

    fn table_columns(&self) -> &'static [ColumnDefinition] {
        crate::printers::workloads::controller_revision_columns()
    }

    fn table_row(
        &self,
        revision: &ControllerRevision,
        now: DateTime<Utc>,
    ) -> Vec<serde_json::Value> {
        crate::printers::workloads::controller_revision_row(revision, now)
    }

    fn validate(&self, revision: &ControllerRevision) -> ErrorList {
        validate_controller_revision(revision)
    }

    fn validate_update(&self, new: &ControllerRevision, old: &ControllerRevision) -> ErrorList {
        validate_controller_revision_update(new, old)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    use k8s_openapi::apimachinery::pkg::runtime::RawExtension;

    fn revision(data: Option<serde_json::Value>, number: i64) -> ControllerRevision {
        ControllerRevision {
            metadata: ObjectMeta {
                name: Some("web-7d9f8b".into()),
                namespace: Some("default".into()),
                resource_version: Some("5".into()),
                ..Default::default()
            },
            data: data.map(RawExtension),
            revision: number,
        }
    }

    fn messages(errors: &ErrorList) -> Vec<String> {
        errors.iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn data_is_mandatory_and_the_revision_not_negative() {
        let valid = revision(Some(serde_json::json!({"spec": {}})), 2);
        assert!(ControllerRevisionStrategy.validate(&valid).is_empty());
        assert_eq!(
            messages(&ControllerRevisionStrategy.validate(&revision(None, -1))),
            [
                "data: Required value: data is mandatory",
                "revision: Invalid value: -1: must be greater than or equal to 0",
            ]
        );
    }

    #[test]
    fn data_never_changes() {
        let old = revision(Some(serde_json::json!({"spec": {"replicas": 1}})), 1);
        let mut relabelled = old.clone();
        relabelled.metadata.labels = Some([("a".to_string(), "b".to_string())].into());
        relabelled.revision = 3;
        assert!(
            ControllerRevisionStrategy
                .validate_update(&relabelled, &old)
                .is_empty()
        );
        let changed = revision(Some(serde_json::json!({"spec": {"replicas": 2}})), 1);
        assert_eq!(
            messages(&ControllerRevisionStrategy.validate_update(&changed, &old)),
            ["data: Invalid value: {\"spec\":{\"replicas\":2}}: field is immutable"]
        );
    }
}
