//! Roles (`pkg/registry/rbac/role`): namespaced, path-segment names, and
//! policy rules that may not name non-resource URLs. Nothing is defaulted
//! or cleared; the Table is the default convertor's (Name, Created At), as
//! upstream registers no printer for roles.

use k8s_openapi::api::rbac::v1::Role;

use apimachinery::api::{validate_object_meta, validate_object_meta_update};
use apimachinery::validation::field::{ErrorList, Path};
use apiserver::authentication::UserInfo;
use apiserver::registry::strategy::{ResourceNames, Strategy};
use apiserver::status::Status;

use crate::rbac::EscalationCheck;
use crate::rbac::escalation::{RoleWrite, only_gc_fields_change};

use super::validation::{GROUP_NAME, validate_policy_rule, validate_rbac_name};

/// `roles`, `rbac.authorization.k8s.io/v1`.
pub static ROLE_INFO: ResourceNames = ResourceNames {
    group: GROUP_NAME,
    version: "v1",
    kind: "Role",
    plural: "roles",
    singular: "role",
    namespaced: true,
    short_names: &[],
    categories: &[],
};

/// With an escalation check (the served store), a write must not grant
/// more than the requesting user holds; without one (tests), only
/// validation runs.
#[derive(Debug, Clone, Default)]
pub struct RoleStrategy {
    escalation: Option<EscalationCheck>,
}

impl RoleStrategy {
    pub fn new(escalation: EscalationCheck) -> Self {
        RoleStrategy {
            escalation: Some(escalation),
        }
    }
}

/// `ValidateRole`: metadata (namespaced, RBAC names) and each rule as a
/// namespaced rule.
pub fn validate_role(role: &Role) -> ErrorList {
    let mut errors = validate_object_meta(
        &role.metadata,
        true,
        validate_rbac_name,
        &Path::new("metadata"),
    );
    let rules = Path::new("rules");
    for (i, rule) in role.rules.iter().flatten().enumerate() {
        errors.extend(validate_policy_rule(rule, true, &rules.index(i)));
    }
    errors
}

/// `ValidateRoleUpdate`: the new role, then the metadata update.
pub fn validate_role_update(new: &Role, old: &Role) -> ErrorList {
    let mut errors = validate_role(new);
    errors.extend(validate_object_meta_update(
        &new.metadata,
        &old.metadata,
        &Path::new("metadata"),
    ));
    errors
}

impl Strategy for RoleStrategy {
    type Object = Role;

    fn names(&self) -> &ResourceNames {
        &ROLE_INFO
    }

    fn validate(&self, role: &Role) -> ErrorList {
        validate_role(role)
    }

    /// Upstream validates the new role and then `ValidateRoleUpdate`, which
    /// validates it again; the repeated errors collapse in upstream's
    /// message, so they are reported once here.
    fn validate_update(&self, new: &Role, old: &Role) -> ErrorList {
        validate_role_update(new, old)
    }

    fn authorize_write(
        &self,
        user: Option<&UserInfo>,
        role: &Role,
        old: Option<&Role>,
    ) -> Result<(), Status> {
        let Some(check) = &self.escalation else {
            return Ok(());
        };
        if old.is_some_and(|old| only_gc_fields_change(role, old)) {
            return Ok(());
        }
        check.check_role(
            user,
            &RoleWrite {
                resource: ROLE_INFO.plural,
                namespace: role.metadata.namespace.as_deref().unwrap_or_default(),
                name: role.metadata.name.as_deref().unwrap_or_default(),
                rules: role.rules.as_deref().unwrap_or_default(),
                aggregates: false,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::rbac::v1::PolicyRule;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
    use k8s_openapi::chrono::DateTime;

    fn role(name: &str, rules: Vec<PolicyRule>) -> Role {
        Role {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("default".into()),
                resource_version: Some("1".into()),
                ..Default::default()
            },
            rules: Some(rules),
        }
    }

    fn pods_reader() -> PolicyRule {
        PolicyRule {
            api_groups: Some(vec![String::new()]),
            resources: Some(vec!["pods".into()]),
            verbs: vec!["get".into(), "list".into()],
            ..Default::default()
        }
    }

    fn messages(errors: &ErrorList) -> Vec<String> {
        errors.iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn info_matches_discovery() {
        let info = apiserver::registry::ResourceInfo::of(&RoleStrategy::default());
        assert_eq!(
            (info.api_version(), info.plural, info.singular, info.kind),
            (
                "rbac.authorization.k8s.io/v1".to_string(),
                "roles",
                "role",
                "Role"
            )
        );
        assert!(info.namespaced && !info.has_status && !info.has_scale);
        assert!(info.short_names.is_empty() && info.categories.is_empty());
    }

    #[test]
    fn validation_as_upstream() {
        let cases: Vec<(&str, Role, Vec<&str>)> = vec![
            ("valid", role("pod-reader", vec![pods_reader()]), vec![]),
            (
                "colons are fine in names",
                role("system:leader-locking", vec![]),
                vec![],
            ),
            (
                "name with a slash",
                role("a/b", vec![pods_reader()]),
                vec!["metadata.name: Invalid value: \"a/b\": may not contain '/'"],
            ),
            (
                "non-resource URL in a role",
                role(
                    "urls",
                    vec![PolicyRule {
                        non_resource_urls: Some(vec!["/healthz".into()]),
                        verbs: vec!["get".into()],
                        ..Default::default()
                    }],
                ),
                vec![
                    "rules[0].nonResourceURLs: Invalid value: []string{\"/healthz\"}: namespaced rules cannot apply to non-resource URLs",
                ],
            ),
            (
                "second rule without verbs",
                role(
                    "r",
                    vec![
                        pods_reader(),
                        PolicyRule {
                            verbs: vec![],
                            ..pods_reader()
                        },
                    ],
                ),
                vec!["rules[1].verbs: Required value: verbs must contain at least one value"],
            ),
        ];
        for (name, role, want) in cases {
            assert_eq!(
                messages(&RoleStrategy::default().validate(&role)),
                want,
                "{name}"
            );
        }
        let mut cluster_scoped = role("r", vec![]);
        cluster_scoped.metadata.namespace = None;
        let errors = RoleStrategy::default().validate(&cluster_scoped);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "metadata.namespace");
    }

    #[test]
    fn update_checks_metadata_and_rules() {
        let old = role("r", vec![pods_reader()]);
        let mut new = old.clone();
        new.rules = Some(vec![PolicyRule {
            verbs: vec!["*".into()],
            ..pods_reader()
        }]);
        assert!(
            RoleStrategy::default()
                .validate_update(&new, &old)
                .is_empty()
        );
        new.metadata.name = Some("other".into());
        new.rules = Some(vec![PolicyRule {
            api_groups: None,
            ..pods_reader()
        }]);
        assert_eq!(
            messages(&RoleStrategy::default().validate_update(&new, &old)),
            [
                "rules[0].apiGroups: Required value: resource rules must supply at least one api group",
                "metadata.name: Invalid value: \"other\": field is immutable",
            ]
        );
    }

    #[test]
    fn table_is_the_default_convertor() {
        let mut r = role("pod-reader", vec![]);
        r.metadata.creation_timestamp =
            Some(Time(DateTime::from_timestamp(1704164645, 0).unwrap()));
        let now = DateTime::from_timestamp(1704164700, 0).unwrap();
        let strategy = RoleStrategy::default();
        let names: Vec<&str> = strategy.table_columns().iter().map(|c| &*c.name).collect();
        assert_eq!(names, ["Name", "Created At"]);
        assert_eq!(
            RoleStrategy::default().table_row(&r, now),
            vec![
                serde_json::Value::from("pod-reader"),
                serde_json::Value::from("2024-01-02T03:04:05Z")
            ]
        );
    }
}
