//! Role bindings (`pkg/registry/rbac/rolebinding`): namespaced, a `roleRef`
//! to a Role or ClusterRole that never changes, and subjects. The v1
//! defaults of the `apiGroup`s are applied on every write.

use k8s_openapi::api::rbac::v1::RoleBinding;

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

/// `rolebindings`, `rbac.authorization.k8s.io/v1`.
pub static ROLE_BINDING_INFO: ResourceNames = ResourceNames {
    group: GROUP_NAME,
    version: "v1",
    kind: "RoleBinding",
    plural: "rolebindings",
    singular: "rolebinding",
    namespaced: true,
    short_names: &[],
    categories: &[],
};

/// With an escalation check (the served store), a write must not grant
/// more than the requesting user holds; without one (tests), only
/// validation runs.
#[derive(Debug, Clone, Default)]
pub struct RoleBindingStrategy {
    escalation: Option<EscalationCheck>,
}

impl RoleBindingStrategy {
    pub fn new(escalation: EscalationCheck) -> Self {
        RoleBindingStrategy {
            escalation: Some(escalation),
        }
    }
}

/// `ValidateRoleBinding`: metadata (namespaced, RBAC names), the `roleRef`
/// (a Role or ClusterRole) and each subject as a namespaced one.
pub fn validate_role_binding(binding: &RoleBinding) -> ErrorList {
    let mut errors = validate_object_meta(
        &binding.metadata,
        true,
        validate_rbac_name,
        &Path::new("metadata"),
    );
    errors.extend(validate_role_ref(
        &binding.role_ref,
        &["Role", "ClusterRole"],
    ));
    errors.extend(validate_subjects(binding.subjects.as_deref(), true));
    errors
}

/// `ValidateRoleBindingUpdate`: the new binding, the metadata update, and
/// "cannot change roleRef".
pub fn validate_role_binding_update(new: &RoleBinding, old: &RoleBinding) -> ErrorList {
    let mut errors = validate_role_binding(new);
    errors.extend(validate_object_meta_update(
        &new.metadata,
        &old.metadata,
        &Path::new("metadata"),
    ));
    errors.extend(validate_role_ref_update(&new.role_ref, &old.role_ref));
    errors
}

impl Strategy for RoleBindingStrategy {
    type Object = RoleBinding;

    fn table_columns(&self) -> &'static [apiserver::registry::table::ColumnDefinition] {
        crate::printers::rbac::role_binding_columns()
    }

    fn table_row(
        &self,
        obj: &Self::Object,
        now: k8s_openapi::chrono::DateTime<k8s_openapi::chrono::Utc>,
    ) -> Vec<serde_json::Value> {
        crate::printers::rbac::role_binding_row(obj, now)
    }

    fn names(&self) -> &ResourceNames {
        &ROLE_BINDING_INFO
    }

    /// `SetDefaults_RoleBinding` and `SetDefaults_Subject`.
    fn prepare_for_create(&self, binding: &mut RoleBinding) {
        set_binding_defaults(&mut binding.role_ref, binding.subjects.as_mut());
    }

    fn prepare_for_update(&self, new: &mut RoleBinding, _old: &RoleBinding) {
        set_binding_defaults(&mut new.role_ref, new.subjects.as_mut());
    }

    fn validate(&self, binding: &RoleBinding) -> ErrorList {
        validate_role_binding(binding)
    }

    /// Upstream validates the new binding twice (alone and in
    /// `ValidateRoleBindingUpdate`); the repeats collapse in its message,
    /// so they are reported once here.
    fn validate_update(&self, new: &RoleBinding, old: &RoleBinding) -> ErrorList {
        validate_role_binding_update(new, old)
    }

    fn authorize_write(
        &self,
        user: Option<&UserInfo>,
        binding: &RoleBinding,
        old: Option<&RoleBinding>,
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
                resource: ROLE_BINDING_INFO.plural,
                namespace: binding.metadata.namespace.as_deref().unwrap_or_default(),
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

    fn binding(kind: &str, role: &str, subjects: Vec<Subject>) -> RoleBinding {
        RoleBinding {
            metadata: ObjectMeta {
                name: Some("read-pods".into()),
                namespace: Some("default".into()),
                resource_version: Some("1".into()),
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

    /// As a write sees it: defaults, then validation.
    fn created(mut b: RoleBinding) -> ErrorList {
        RoleBindingStrategy::default().prepare_for_create(&mut b);
        RoleBindingStrategy::default().validate(&b)
    }

    #[test]
    fn info_matches_discovery() {
        let info = apiserver::registry::ResourceInfo::of(&RoleBindingStrategy::default());
        assert_eq!(
            (info.plural, info.singular, info.kind, info.group),
            ("rolebindings", "rolebinding", "RoleBinding", GROUP_NAME)
        );
        assert!(info.namespaced && !info.has_status);
        assert!(info.short_names.is_empty() && info.categories.is_empty());
    }

    #[test]
    fn validation_as_upstream() {
        let subjects = || {
            vec![
                subject("User", "jane", None),
                subject("Group", "devs", None),
                subject("ServiceAccount", "builder", None),
            ]
        };
        let cases: Vec<(&str, RoleBinding, Vec<&str>)> = vec![
            (
                "to a role",
                binding("Role", "pod-reader", subjects()),
                vec![],
            ),
            (
                "to a cluster role",
                binding("ClusterRole", "view", subjects()),
                vec![],
            ),
            ("no subjects", binding("Role", "r", vec![]), vec![]),
            (
                "to something else",
                binding("Deployment", "web", vec![]),
                vec![
                    "roleRef.kind: Unsupported value: \"Deployment\": supported values: \"Role\", \"ClusterRole\"",
                ],
            ),
            (
                "unnamed role",
                binding("Role", "", vec![]),
                vec!["roleRef.name: Required value"],
            ),
            (
                "role name with a percent",
                binding("Role", "50%", vec![]),
                vec!["roleRef.name: Invalid value: \"50%\": may not contain '%'"],
            ),
            (
                "bad subjects",
                binding(
                    "Role",
                    "r",
                    vec![
                        subject("User", "jane", None),
                        subject("ServiceAccount", "", None),
                        subject("Robot", "r2", None),
                    ],
                ),
                vec![
                    "subjects[1].name: Required value",
                    "subjects[2].kind: Unsupported value: \"Robot\": supported values: \"ServiceAccount\", \"User\", \"Group\"",
                ],
            ),
        ];
        for (name, b, want) in cases {
            assert_eq!(messages(&created(b)), want, "{name}");
        }

        let mut other_group = binding("Role", "r", vec![]);
        other_group.role_ref.api_group = "example.com".into();
        assert_eq!(
            messages(&created(other_group)),
            [
                "roleRef.apiGroup: Unsupported value: \"example.com\": supported values: \"rbac.authorization.k8s.io\""
            ]
        );
        let mut bad_name = binding("Role", "r", vec![]);
        bad_name.metadata.name = Some("..".into());
        assert_eq!(
            messages(&created(bad_name)),
            ["metadata.name: Invalid value: \"..\": may not be '..'"]
        );
    }

    #[test]
    fn defaults_fill_api_groups() {
        let mut b = binding("ClusterRole", "view", vec![subject("User", "jane", None)]);
        b.role_ref.api_group = String::new();
        // Without the defaults the user's and roleRef's groups are refused.
        assert_eq!(RoleBindingStrategy::default().validate(&b).len(), 2);
        assert!(created(b.clone()).is_empty());
        RoleBindingStrategy::default().prepare_for_update(&mut b, &RoleBinding::default());
        assert_eq!(b.role_ref.api_group, GROUP_NAME);
        assert_eq!(
            b.subjects.as_ref().unwrap()[0].api_group.as_deref(),
            Some(GROUP_NAME)
        );
    }

    #[test]
    fn role_ref_cannot_change() {
        let old = binding("ClusterRole", "view", vec![]);
        let mut new = old.clone();
        new.subjects = Some(vec![subject("Group", "devs", Some("x"))]);
        RoleBindingStrategy::default().prepare_for_update(&mut new, &old);
        assert!(
            RoleBindingStrategy::default()
                .validate_update(&new, &old)
                .is_empty()
        );

        new.role_ref.name = "edit".into();
        assert_eq!(
            messages(&RoleBindingStrategy::default().validate_update(&new, &old)),
            [
                "roleRef: Invalid value: rbac.RoleRef{APIGroup:\"rbac.authorization.k8s.io\", Kind:\"ClusterRole\", Name:\"edit\"}: cannot change roleRef"
            ]
        );
        new.role_ref = RoleRef {
            api_group: GROUP_NAME.into(),
            kind: "Role".into(),
            name: "view".into(),
        };
        let errors = RoleBindingStrategy::default().validate_update(&new, &old);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "roleRef");
    }

    #[test]
    fn table_prints_the_binding() {
        let b = binding("Role", "pod-reader", vec![subject("User", "jane", None)]);
        let now = k8s_openapi::chrono::DateTime::from_timestamp(0, 0).unwrap();
        let strategy = RoleBindingStrategy::default();
        let names: Vec<&str> = strategy.table_columns().iter().map(|c| &*c.name).collect();
        assert_eq!(
            names,
            ["Name", "Role", "Age", "Users", "Groups", "ServiceAccounts"]
        );
        let row = RoleBindingStrategy::default().table_row(&b, now);
        assert_eq!(
            (row[1].as_str(), row[3].as_str()),
            (Some("Role/pod-reader"), Some("jane"))
        );
    }
}
