//! Cluster role bindings (`pkg/registry/rbac/clusterrolebinding`):
//! cluster-scoped, a `roleRef` to a ClusterRole that never changes, and
//! subjects (service accounts with their namespace). The v1 defaults of
//! the `apiGroup`s are applied on every write.

use k8s_openapi::api::rbac::v1::ClusterRoleBinding;

use apimachinery::api::{validate_object_meta, validate_object_meta_update};
use apimachinery::validation::field::{ErrorList, Path};
use apiserver::authentication::UserInfo;
use apiserver::registry::strategy::{ResourceNames, Strategy};
use apiserver::status::Status;

use crate::rbac::EscalationCheck;
use crate::rbac::escalation::{BindingWrite, only_gc_fields_change};

use super::validation::{
    GROUP_NAME, set_binding_defaults, validate_rbac_name, validate_role_ref,
    validate_role_ref_update, validate_subjects,
};

/// `clusterrolebindings`, `rbac.authorization.k8s.io/v1`.
pub static CLUSTER_ROLE_BINDING_INFO: ResourceNames = ResourceNames {
    group: GROUP_NAME,
    version: "v1",
    kind: "ClusterRoleBinding",
    plural: "clusterrolebindings",
    singular: "clusterrolebinding",
    namespaced: false,
    short_names: &[],
    categories: &[],
};

/// With an escalation check (the served store), a write must not grant
/// more than the requesting user holds; without one (tests), only
/// validation runs.
#[derive(Debug, Clone, Default)]
pub struct ClusterRoleBindingStrategy {
    escalation: Option<EscalationCheck>,
}

impl ClusterRoleBindingStrategy {
    pub fn new(escalation: EscalationCheck) -> Self {
        ClusterRoleBindingStrategy {
            escalation: Some(escalation),
        }
    }
}

/// `ValidateClusterRoleBinding`: metadata (cluster-scoped, RBAC names), the
/// `roleRef` (a ClusterRole only) and each subject as a cluster-wide one.
pub fn validate_cluster_role_binding(binding: &ClusterRoleBinding) -> ErrorList {
    let mut errors = validate_object_meta(
        &binding.metadata,
        false,
        validate_rbac_name,
        &Path::new("metadata"),
    );
    errors.extend(validate_role_ref(&binding.role_ref, &["ClusterRole"]));
    errors.extend(validate_subjects(binding.subjects.as_deref(), false));
    errors
}

/// `ValidateClusterRoleBindingUpdate`: the new binding, the metadata
/// update, and "cannot change roleRef".
pub fn validate_cluster_role_binding_update(
    new: &ClusterRoleBinding,
    old: &ClusterRoleBinding,
) -> ErrorList {
    let mut errors = validate_cluster_role_binding(new);
    errors.extend(validate_object_meta_update(
        &new.metadata,
        &old.metadata,
        &Path::new("metadata"),
    ));
    errors.extend(validate_role_ref_update(&new.role_ref, &old.role_ref));
    errors
}

impl Strategy for ClusterRoleBindingStrategy {
    type Object = ClusterRoleBinding;

    fn table_columns(&self) -> &'static [apiserver::registry::table::ColumnDefinition] {
        crate::printers::rbac::cluster_role_binding_columns()
    }

    fn table_row(
        &self,
        obj: &Self::Object,
        now: k8s_openapi::chrono::DateTime<k8s_openapi::chrono::Utc>,
    ) -> Vec<serde_json::Value> {
        crate::printers::rbac::cluster_role_binding_row(obj, now)
    }

    fn names(&self) -> &ResourceNames {
        &CLUSTER_ROLE_BINDING_INFO
    }

    /// `SetDefaults_ClusterRoleBinding` and `SetDefaults_Subject`.
    fn prepare_for_create(&self, binding: &mut ClusterRoleBinding) {
        set_binding_defaults(&mut binding.role_ref, binding.subjects.as_mut());
    }

    fn prepare_for_update(&self, new: &mut ClusterRoleBinding, _old: &ClusterRoleBinding) {
        set_binding_defaults(&mut new.role_ref, new.subjects.as_mut());
    }

    fn validate(&self, binding: &ClusterRoleBinding) -> ErrorList {
        validate_cluster_role_binding(binding)
    }

    /// Upstream validates the new binding twice (alone and in
    /// `ValidateClusterRoleBindingUpdate`); the repeats collapse in its
    /// message, so they are reported once here.
    fn validate_update(&self, new: &ClusterRoleBinding, old: &ClusterRoleBinding) -> ErrorList {
        validate_cluster_role_binding_update(new, old)
    }

    fn authorize_write(
        &self,
        user: Option<&UserInfo>,
        binding: &ClusterRoleBinding,
        old: Option<&ClusterRoleBinding>,
    ) -> Result<(), Status> {
        let Some(check) = &self.escalation else {
            return Ok(());
        };
        if old.is_some_and(|old| only_gc_fields_change(binding, old)) {
            return Ok(());
        }
        check.check_binding(
            user,
            &BindingWrite {
                resource: CLUSTER_ROLE_BINDING_INFO.plural,
                namespace: "",
                name: binding.metadata.name.as_deref().unwrap_or_default(),
                role_ref: &binding.role_ref,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::rbac::v1::{RoleRef, Subject};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn binding(kind: &str, role: &str, subjects: Vec<Subject>) -> ClusterRoleBinding {
        ClusterRoleBinding {
            metadata: ObjectMeta {
                name: Some("system:basic-user".into()),
                resource_version: Some("7".into()),
                ..Default::default()
            },
            role_ref: RoleRef {
                api_group: GROUP_NAME.into(),
                kind: kind.into(),
                name: role.into(),
            },
            subjects: Some(subjects),
        }
    }

    fn subject(kind: &str, name: &str, namespace: Option<&str>) -> Subject {
        Subject {
            kind: kind.into(),
            name: name.into(),
            namespace: namespace.map(Into::into),
            api_group: None,
        }
    }

    fn messages(errors: &ErrorList) -> Vec<String> {
        errors.iter().map(|e| e.to_string()).collect()
    }

    fn created(mut b: ClusterRoleBinding) -> ErrorList {
        ClusterRoleBindingStrategy::default().prepare_for_create(&mut b);
        ClusterRoleBindingStrategy::default().validate(&b)
    }

    #[test]
    fn info_matches_discovery() {
        let info = apiserver::registry::ResourceInfo::of(&ClusterRoleBindingStrategy::default());
        assert_eq!(
            (
                info.qualified_resource(),
                info.singular,
                info.kind,
                info.key_prefix()
            ),
            (
                "clusterrolebindings.rbac.authorization.k8s.io".to_string(),
                "clusterrolebinding",
                "ClusterRoleBinding",
                "/registry/clusterrolebindings/".to_string()
            )
        );
        assert!(!info.namespaced && !info.has_status);
        assert!(info.short_names.is_empty() && info.categories.is_empty());
    }

    #[test]
    fn validation_as_upstream() {
        let cases: Vec<(&str, ClusterRoleBinding, Vec<&str>)> = vec![
            (
                "valid",
                binding(
                    "ClusterRole",
                    "system:basic-user",
                    vec![
                        subject("Group", "system:authenticated", None),
                        subject("ServiceAccount", "builder", Some("ci")),
                    ],
                ),
                vec![],
            ),
            (
                "to a role",
                binding("Role", "r", vec![]),
                vec![
                    "roleRef.kind: Unsupported value: \"Role\": supported values: \"ClusterRole\"",
                ],
            ),
            (
                "service account without namespace",
                binding(
                    "ClusterRole",
                    "view",
                    vec![subject("ServiceAccount", "builder", None)],
                ),
                vec!["subjects[0].namespace: Required value"],
            ),
            (
                "service account with a bad name",
                binding(
                    "ClusterRole",
                    "view",
                    vec![
                        subject("User", "u", None),
                        subject("ServiceAccount", "bad_name", Some("ci")),
                    ],
                ),
                vec![
                    "subjects[1].name: Invalid value: \"bad_name\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
                ],
            ),
            (
                "everything missing",
                binding("", "", vec![subject("", "", None)]),
                vec![
                    "roleRef.kind: Unsupported value: \"\": supported values: \"ClusterRole\"",
                    "roleRef.name: Required value",
                    "subjects[0].name: Required value",
                    "subjects[0].kind: Unsupported value: \"\": supported values: \"ServiceAccount\", \"User\", \"Group\"",
                ],
            ),
        ];
        for (name, b, want) in cases {
            assert_eq!(messages(&created(b)), want, "{name}");
        }
        let mut namespaced = binding("ClusterRole", "view", vec![]);
        namespaced.metadata.namespace = Some("default".into());
        let errors = created(namespaced);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "metadata.namespace");
    }

    #[test]
    fn explicit_subject_group_is_kept_and_checked() {
        let mut sa = subject("ServiceAccount", "builder", Some("ci"));
        sa.api_group = Some(GROUP_NAME.into());
        assert_eq!(
            messages(&created(binding("ClusterRole", "view", vec![sa]))),
            [
                "subjects[0].apiGroup: Unsupported value: \"rbac.authorization.k8s.io\": supported values: \"\""
            ]
        );
    }

    #[test]
    fn role_ref_cannot_change() {
        let old = binding("ClusterRole", "view", vec![subject("User", "a", None)]);
        let mut new = old.clone();
        ClusterRoleBindingStrategy::default().prepare_for_update(&mut new, &old);
        new.subjects = Some(vec![]);
        assert!(
            ClusterRoleBindingStrategy::default()
                .validate_update(&new, &old)
                .is_empty()
        );

        new.role_ref.name = "cluster-admin".into();
        new.metadata.name = Some("renamed".into());
        assert_eq!(
            messages(&ClusterRoleBindingStrategy::default().validate_update(&new, &old)),
            [
                "metadata.name: Invalid value: \"renamed\": field is immutable",
                "roleRef: Invalid value: rbac.RoleRef{APIGroup:\"rbac.authorization.k8s.io\", Kind:\"ClusterRole\", Name:\"cluster-admin\"}: cannot change roleRef",
            ]
        );
    }
}
