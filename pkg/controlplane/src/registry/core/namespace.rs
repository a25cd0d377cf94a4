//! Namespaces (`pkg/registry/core/namespace`): DNS-label names, `Active` on
//! create with the `kubernetes` finalizer in `spec.finalizers`, the
//! `kubernetes.io/metadata.name` label, and a delete that only marks the
//! namespace `Terminating` until its finalizers (removed through the
//! finalize path, never by an update) are gone.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Namespace, NamespaceSpec, NamespaceStatus};

use apimachinery::api::{
    FINALIZER_KUBERNETES, is_standard_finalizer_name, validate_finalizer_name,
    validate_namespace_name, validate_object_meta, validate_object_meta_update,
};
use apimachinery::validation::field::{Error, ErrorList, Path};
use apiserver::registry::strategy::{ResourceNames, StatusStrategy, Strategy};

/// `namespaces`, `v1`.
pub static NAMESPACE_INFO: ResourceNames = ResourceNames {
    group: "",
    version: "v1",
    kind: "Namespace",
    plural: "namespaces",
    singular: "namespace",
    namespaced: false,
    short_names: &["ns"],
    categories: &[],
};

/// `v1.LabelMetadataName`: every namespace is labelled with its name.
pub const LABEL_METADATA_NAME: &str = "kubernetes.io/metadata.name";
pub const PHASE_ACTIVE: &str = "Active";
pub const PHASE_TERMINATING: &str = "Terminating";

#[derive(Debug, Clone, Copy, Default)]
pub struct NamespaceStrategy;

/// `SetDefaults_Namespace` / `Canonicalize`: the name label (once the name
/// is known).
fn label_with_name(namespace: &mut Namespace) {
    let Some(name) = namespace.metadata.name.clone().filter(|n| !n.is_empty()) else {
        return;
    };
    namespace
        .metadata
        .labels
        .get_or_insert_with(BTreeMap::new)
        .insert(LABEL_METADATA_NAME.to_string(), name);
}

fn phase(namespace: &Namespace) -> &str {
    namespace
        .status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

fn spec_finalizers(namespace: &Namespace) -> &[String] {
    namespace
        .spec
        .as_ref()
        .and_then(|s| s.finalizers.as_deref())
        .unwrap_or_default()
}

/// `ValidateNamespace`.
pub fn validate_namespace(namespace: &Namespace) -> ErrorList {
    let mut errors = validate_object_meta(
        &namespace.metadata,
        false,
        validate_namespace_name,
        &Path::new("metadata"),
    );
    let path = Path::new("spec").child("finalizers");
    for finalizer in spec_finalizers(namespace) {
        errors.extend(validate_finalizer_name(finalizer, &path));
        if !finalizer.contains('/') && !is_standard_finalizer_name(finalizer) {
            errors.push(Error::invalid(
                &path,
                finalizer.as_str(),
                "name is neither a standard finalizer name nor is it fully qualified",
            ));
        }
    }
    errors
}

/// `ValidateNamespaceStatusUpdate`'s rule: `Active` until deleted, then
/// `Terminating`.
fn validate_phase(namespace: &Namespace) -> ErrorList {
    let path = Path::new("status").child("Phase");
    let current = phase(namespace);
    if namespace.metadata.deletion_timestamp.is_none() {
        if current != PHASE_ACTIVE {
            return vec![Error::invalid(
                &path,
                current,
                "may only be 'Active' if `deletionTimestamp` is empty",
            )];
        }
    } else if current != PHASE_TERMINATING {
        return vec![Error::invalid(
            &path,
            current,
            "may only be 'Terminating' if `deletionTimestamp` is not empty",
        )];
    }
    Vec::new()
}

impl Strategy for NamespaceStrategy {
    type Object = Namespace;

    fn table_columns(&self) -> &'static [apiserver::registry::table::ColumnDefinition] {
        crate::printers::core::namespace_columns()
    }

    fn table_row(
        &self,
        obj: &Self::Object,
        now: k8s_openapi::chrono::DateTime<k8s_openapi::chrono::Utc>,
    ) -> Vec<serde_json::Value> {
        crate::printers::core::namespace_row(obj, now)
    }

    fn names(&self) -> &ResourceNames {
        &NAMESPACE_INFO
    }

    fn status(&self) -> Option<&dyn StatusStrategy<Namespace>> {
        Some(self)
    }

    fn prepare_for_create(&self, namespace: &mut Namespace) {
        namespace.status = Some(NamespaceStatus {
            phase: Some(PHASE_ACTIVE.to_string()),
            ..Default::default()
        });
        let finalizers = namespace
            .spec
            .get_or_insert_with(NamespaceSpec::default)
            .finalizers
            .get_or_insert_with(Vec::new);
        if !finalizers.iter().any(|f| f == FINALIZER_KUBERNETES) {
            finalizers.push(FINALIZER_KUBERNETES.to_string());
        }
        label_with_name(namespace);
    }

    /// The finalizers only change through `/finalize`, the status only
    /// through `/status`.
    fn prepare_for_update(&self, new: &mut Namespace, old: &Namespace) {
        new.spec
            .get_or_insert_with(NamespaceSpec::default)
            .finalizers = old.spec.as_ref().and_then(|s| s.finalizers.clone());
        new.status = old.status.clone();
        label_with_name(new);
    }

    fn validate(&self, namespace: &Namespace) -> ErrorList {
        validate_namespace(namespace)
    }

    /// `ValidateNamespaceUpdate`, plus the phase rule a status update must
    /// keep (a main update keeps the old status, which always passes).
    fn validate_update(&self, new: &Namespace, old: &Namespace) -> ErrorList {
        let mut errors =
            validate_object_meta_update(&new.metadata, &old.metadata, &Path::new("metadata"));
        errors.extend(validate_phase(new));
        errors
    }

    fn selectable_fields(&self, namespace: &Namespace) -> Vec<(&'static str, String)> {
        vec![
            ("status.phase", phase(namespace).to_string()),
            // Upstream keeps this bare `name` for backward compatibility.
            ("name", namespace.metadata.name.clone().unwrap_or_default()),
        ]
    }

    fn selectable_field_names(&self) -> &'static [&'static str] {
        &["status.phase", "name"]
    }

    fn has_pending_finalization(&self, namespace: &Namespace) -> bool {
        !spec_finalizers(namespace).is_empty()
    }

    fn prepare_for_delete(&self, namespace: &mut Namespace) {
        namespace
            .status
            .get_or_insert_with(NamespaceStatus::default)
            .phase = Some(PHASE_TERMINATING.to_string());
    }

    fn returns_deleted_object(&self) -> bool {
        true
    }
}

impl StatusStrategy<Namespace> for NamespaceStrategy {
    fn prepare_for_status_update(&self, new: &mut Namespace, old: &Namespace) {
        new.spec = old.spec.clone();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

    fn namespace(name: &str) -> Namespace {
        Namespace {
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn info_matches_discovery() {
        let info = apiserver::registry::ResourceInfo::of(&NamespaceStrategy);
        assert_eq!((info.plural, info.short_names), ("namespaces", &["ns"][..]));
        assert!(!info.namespaced && info.has_status);
    }

    #[test]
    fn create_defaults() {
        let mut ns = namespace("team-a");
        ns.status = Some(NamespaceStatus {
            phase: Some("Terminating".into()),
            ..Default::default()
        });
        NamespaceStrategy.prepare_for_create(&mut ns);
        assert_eq!(phase(&ns), "Active");
        assert_eq!(spec_finalizers(&ns), ["kubernetes"]);
        assert_eq!(
            ns.metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(LABEL_METADATA_NAME)),
            Some(&"team-a".to_string())
        );
        assert!(NamespaceStrategy.has_pending_finalization(&ns));
        let mut custom = namespace("b");
        custom.spec = Some(NamespaceSpec {
            finalizers: Some(vec!["example.com/cleanup".into()]),
        });
        NamespaceStrategy.prepare_for_create(&mut custom);
        assert_eq!(
            spec_finalizers(&custom),
            ["example.com/cleanup", "kubernetes"]
        );
    }

    #[test]
    fn names_are_dns_labels_and_finalizers_qualified() {
        assert!(NamespaceStrategy.validate(&namespace("team-a")).is_empty());
        let errors = NamespaceStrategy.validate(&namespace("team.a"));
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "metadata.name");
        let mut ns = namespace("a");
        ns.spec = Some(NamespaceSpec {
            finalizers: Some(vec!["cleanup".into()]),
        });
        assert_eq!(
            NamespaceStrategy
                .validate(&ns)
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>(),
            vec![
                "spec.finalizers: Invalid value: \"cleanup\": name is neither a standard finalizer name nor is it fully qualified"
            ]
        );
    }

    #[test]
    fn update_keeps_finalizers_and_status() {
        let mut old = namespace("a");
        NamespaceStrategy.prepare_for_create(&mut old);
        let mut new = namespace("a");
        new.spec = Some(NamespaceSpec { finalizers: None });
        NamespaceStrategy.prepare_for_update(&mut new, &old);
        assert_eq!(new.spec, old.spec);
        assert_eq!(new.status, old.status);
        old.metadata.resource_version = Some("1".into());
        new.metadata.resource_version = Some("1".into());
        assert!(NamespaceStrategy.validate_update(&new, &old).is_empty());

        let mut status_update = old.clone();
        status_update.spec = None;
        status_update.status = Some(NamespaceStatus {
            phase: Some("Terminating".into()),
            ..Default::default()
        });
        NamespaceStrategy.prepare_for_status_update(&mut status_update, &old);
        assert_eq!(status_update.spec, old.spec);
        assert_eq!(
            NamespaceStrategy
                .validate_update(&status_update, &old)
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>(),
            vec![
                "status.Phase: Invalid value: \"Terminating\": may only be 'Active' if `deletionTimestamp` is empty"
            ]
        );
    }

    #[test]
    fn delete_marks_terminating() {
        let mut ns = namespace("a");
        NamespaceStrategy.prepare_for_create(&mut ns);
        NamespaceStrategy.prepare_for_delete(&mut ns);
        assert_eq!(phase(&ns), "Terminating");
        ns.metadata.deletion_timestamp = Some(Time(Default::default()));
        assert!(validate_phase(&ns).is_empty());
        assert_eq!(
            NamespaceStrategy.selectable_fields(&ns),
            vec![
                ("status.phase", "Terminating".to_string()),
                ("name", "a".to_string())
            ]
        );
        ns.spec = Some(NamespaceSpec {
            finalizers: Some(Vec::new()),
        });
        assert!(!NamespaceStrategy.has_pending_finalization(&ns));
    }
}
