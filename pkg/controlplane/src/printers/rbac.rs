//! The role binding and cluster role binding Tables (`printRoleBinding`,
//! `printClusterRoleBinding`): the role as `Kind/name`, age, and the wide
//! columns of users, groups and service accounts (`rbac.SubjectsStrings`).
//! Roles and cluster roles have no printer upstream: they get the default
//! convertor's Name and Created At.

use std::sync::LazyLock;

use apiserver::registry::table::ColumnDefinition;
use k8s_openapi::api::rbac::v1::{ClusterRoleBinding, RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::chrono::{DateTime, Utc};
use serde_json::Value;

use super::{age_cell, name_cell};

/// `rbacv1beta1.RoleBinding{}.SwaggerDoc()["roleRef"]`, the description
/// upstream gives the `Role` column (v1's adds "This field is immutable.").
const ROLE_BINDING_ROLE_REF_DOC: &str = "RoleRef can reference a Role in the current namespace or a ClusterRole in the global namespace. If the RoleRef cannot be resolved, the Authorizer must return an error.";
/// `rbacv1beta1.ClusterRoleBinding{}.SwaggerDoc()["roleRef"]`.
const CLUSTER_ROLE_BINDING_ROLE_REF_DOC: &str = "RoleRef can only reference a ClusterRole in the global namespace. If the RoleRef cannot be resolved, the Authorizer must return an error.";

/// Name, Role, Age, then the wide Users, Groups and ServiceAccounts, each
/// described as "... in the <kind>".
fn binding_columns(role_ref_doc: &str, kind: &str) -> Vec<ColumnDefinition> {
    vec![
        ColumnDefinition::name(),
        ColumnDefinition::new("Role", "string", role_ref_doc),
        ColumnDefinition::age(),
        ColumnDefinition::new("Users", "string", format!("Users in the {kind}")).wide(),
        ColumnDefinition::new("Groups", "string", format!("Groups in the {kind}")).wide(),
        ColumnDefinition::new(
            "ServiceAccounts",
            "string",
            format!("ServiceAccounts in the {kind}"),
        )
        .wide(),
    ]
}

/// The role binding columns.
pub fn role_binding_columns() -> &'static [ColumnDefinition] {
    static COLUMNS: LazyLock<Vec<ColumnDefinition>> =
        LazyLock::new(|| binding_columns(ROLE_BINDING_ROLE_REF_DOC, "roleBinding"));
    &COLUMNS
}

/// The cluster role binding columns.
pub fn cluster_role_binding_columns() -> &'static [ColumnDefinition] {
    static COLUMNS: LazyLock<Vec<ColumnDefinition>> =
        LazyLock::new(|| binding_columns(CLUSTER_ROLE_BINDING_ROLE_REF_DOC, "clusterRoleBinding"));
    &COLUMNS
}

/// `rbac.SubjectsStrings`: the names of the users and of the groups, and
/// each service account as `namespace/name` (other kinds are not shown).
fn subjects_strings(subjects: &[Subject]) -> [Vec<String>; 3] {
    let mut users = Vec::new();
    let mut groups = Vec::new();
    let mut service_accounts = Vec::new();
    for subject in subjects {
        match subject.kind.as_str() {
            "ServiceAccount" => service_accounts.push(format!(
                "{}/{}",
                subject.namespace.as_deref().unwrap_or_default(),
                subject.name
            )),
            "User" => users.push(subject.name.clone()),
            "Group" => groups.push(subject.name.clone()),
            _ => {}
        }
    }
    [users, groups, service_accounts]
}

fn binding_row(
    meta: &ObjectMeta,
    role_ref: &RoleRef,
    subjects: Option<&[Subject]>,
    now: DateTime<Utc>,
) -> Vec<Value> {
    let mut row = vec![
        name_cell(meta),
        Value::from(format!("{}/{}", role_ref.kind, role_ref.name)),
        age_cell(meta, now),
    ];
    row.extend(
        subjects_strings(subjects.unwrap_or_default())
            .into_iter()
            .map(|names| Value::from(names.join(", "))),
    );
    row
}

/// Name, `Kind/name` of the role, age, users, groups, service accounts.
pub fn role_binding_row(binding: &RoleBinding, now: DateTime<Utc>) -> Vec<Value> {
    binding_row(
        &binding.metadata,
        &binding.role_ref,
        binding.subjects.as_deref(),
        now,
    )
}

/// As [`role_binding_row`], for a cluster role binding.
pub fn cluster_role_binding_row(binding: &ClusterRoleBinding, now: DateTime<Utc>) -> Vec<Value> {
    binding_row(
        &binding.metadata,
        &binding.role_ref,
        binding.subjects.as_deref(),
        now,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn meta(name: &str) -> ObjectMeta {
        ObjectMeta {
            name: Some(name.into()),
            creation_timestamp: Some(Time(DateTime::from_timestamp(0, 0).unwrap())),
            ..Default::default()
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

    fn role_ref(kind: &str, name: &str) -> RoleRef {
        RoleRef {
            api_group: "rbac.authorization.k8s.io".into(),
            kind: kind.into(),
            name: name.into(),
        }
    }

    #[test]
    fn binding_rows_list_subjects_by_kind() {
        let now = DateTime::from_timestamp(3 * 3600 + 5, 0).unwrap();
        let binding = RoleBinding {
            metadata: meta("viewers"),
            role_ref: role_ref("ClusterRole", "view"),
            subjects: Some(vec![
                subject("User", "alice", None),
                subject("ServiceAccount", "builder", Some("ci")),
                subject("Group", "devs", None),
                subject("User", "bob@example.com", None),
                subject("Robot", "r2", Some("x")),
                subject("ServiceAccount", "deployer", Some("prod")),
                subject("Group", "system:authenticated", None),
            ]),
        };
        assert_eq!(
            role_binding_row(&binding, now),
            vec![
                Value::from("viewers"),
                Value::from("ClusterRole/view"),
                Value::from("3h"),
                Value::from("alice, bob@example.com"),
                Value::from("devs, system:authenticated"),
                Value::from("ci/builder, prod/deployer"),
            ]
        );
    }

    #[test]
    fn binding_without_subjects_has_empty_cells() {
        let now = DateTime::from_timestamp(42, 0).unwrap();
        let binding = ClusterRoleBinding {
            metadata: meta("cluster-admin"),
            role_ref: role_ref("ClusterRole", "cluster-admin"),
            subjects: None,
        };
        assert_eq!(
            cluster_role_binding_row(&binding, now),
            vec![
                Value::from("cluster-admin"),
                Value::from("ClusterRole/cluster-admin"),
                Value::from("42s"),
                Value::from(""),
                Value::from(""),
                Value::from(""),
            ]
        );
        // A service account without a namespace prints as upstream's "/name".
        let binding = ClusterRoleBinding {
            subjects: Some(vec![subject("ServiceAccount", "sa", None)]),
            ..binding
        };
        assert_eq!(cluster_role_binding_row(&binding, now)[5], "/sa");
    }

    #[test]
    fn columns_as_upstream() {
        for (columns, kind, doc) in [
            (
                role_binding_columns(),
                "roleBinding",
                ROLE_BINDING_ROLE_REF_DOC,
            ),
            (
                cluster_role_binding_columns(),
                "clusterRoleBinding",
                CLUSTER_ROLE_BINDING_ROLE_REF_DOC,
            ),
        ] {
            let shape: Vec<(&str, &str, i32)> = columns
                .iter()
                .map(|c| (&*c.name, c.kind, c.priority))
                .collect();
            assert_eq!(
                shape,
                [
                    ("Name", "string", 0),
                    ("Role", "string", 0),
                    ("Age", "string", 0),
                    ("Users", "string", 1),
                    ("Groups", "string", 1),
                    ("ServiceAccounts", "string", 1),
                ]
            );
            assert_eq!(columns[0].format, "name");
            assert_eq!(columns[1].description, doc);
            assert_eq!(columns[3].description, format!("Users in the {kind}"));
            assert_eq!(columns[4].description, format!("Groups in the {kind}"));
            assert_eq!(
                columns[5].description,
                format!("ServiceAccounts in the {kind}")
            );
            assert!(columns[2].description.contains("CreationTimestamp"));
        }
    }
}
