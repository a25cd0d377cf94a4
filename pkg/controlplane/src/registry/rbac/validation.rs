//! What the four RBAC kinds share (`pkg/apis/rbac/validation` and
//! `pkg/apis/rbac/v1/defaults.go`): `ValidateRBACName`, `ValidatePolicyRule`,
//! a binding's `roleRef` and `ValidateRoleBindingSubject`, the immutable
//! `roleRef` of an update, and the v1 defaults of a binding's `apiGroup`s.
//! Paths and messages are upstream's.

use k8s_openapi::api::rbac::v1::{PolicyRule, RoleRef, Subject};

use apimachinery::api::{name_is_dns_subdomain, name_is_path_segment};
use apimachinery::validation::field::{Error, ErrorList, Path};
use apimachinery::validation::go_string::quote;
use apimachinery::validation::go_syntax::{go_string_slice, invalid_shown};

use crate::rbac::rules::list;

/// `rbac.GroupName`.
pub const GROUP_NAME: &str = "rbac.authorization.k8s.io";
/// `rbac.ServiceAccountKind`.
pub const SERVICE_ACCOUNT_KIND: &str = "ServiceAccount";
/// `rbac.UserKind`.
pub const USER_KIND: &str = "User";
/// `rbac.GroupKind`.
pub const GROUP_KIND: &str = "Group";

/// `ValidateRBACName`: roles' and bindings' names (and a `roleRef`'s name)
/// need only be URL path segments. Upstream ignores `prefix`, so a
/// `generateName` of `.` is refused like a name.
pub fn validate_rbac_name(name: &str, _prefix: bool) -> Vec<String> {
    name_is_path_segment(name, false)
}

/// `ValidatePolicyRule`: verbs are required; a rule either names
/// non-resource URLs (only in a cluster role, and then nothing else) or
/// resources with their API groups.
pub fn validate_policy_rule(rule: &PolicyRule, is_namespaced: bool, path: &Path) -> ErrorList {
    let mut errors = Vec::new();
    if rule.verbs.is_empty() {
        errors.push(Error::required(
            &path.child("verbs"),
            "verbs must contain at least one value",
        ));
    }
    let urls = list(&rule.non_resource_urls);
    if !urls.is_empty() {
        let urls_path = path.child("nonResourceURLs");
        let shown = go_string_slice(Some(urls));
        if is_namespaced {
            errors.push(invalid_shown(
                &urls_path,
                &shown,
                "namespaced rules cannot apply to non-resource URLs",
            ));
        }
        if !list(&rule.api_groups).is_empty()
            || !list(&rule.resources).is_empty()
            || !list(&rule.resource_names).is_empty()
        {
            errors.push(invalid_shown(
                &urls_path,
                &shown,
                "rules cannot apply to both regular resources and non-resource URLs",
            ));
        }
        return errors;
    }
    if list(&rule.api_groups).is_empty() {
        errors.push(Error::required(
            &path.child("apiGroups"),
            "resource rules must supply at least one api group",
        ));
    }
    if list(&rule.resources).is_empty() {
        errors.push(Error::required(
            &path.child("resources"),
            "resource rules must supply at least one resource",
        ));
    }
    errors
}

/// A binding's `roleRef` (`ValidateRoleBinding`, `ValidateClusterRoleBinding`):
/// the RBAC group, one of `kinds`, and a name that is a valid RBAC name.
pub fn validate_role_ref(role_ref: &RoleRef, kinds: &[&str]) -> ErrorList {
    let mut errors = Vec::new();
    let path = Path::new("roleRef");
    if role_ref.api_group != GROUP_NAME {
        errors.push(Error::not_supported(
            &path.child("apiGroup"),
            role_ref.api_group.as_str(),
            &[GROUP_NAME],
        ));
    }
    if !kinds.contains(&role_ref.kind.as_str()) {
        errors.push(Error::not_supported(
            &path.child("kind"),
            role_ref.kind.as_str(),
            kinds,
        ));
    }
    let name_path = path.child("name");
    if role_ref.name.is_empty() {
        errors.push(Error::required(&name_path, ""));
    } else {
        for msg in validate_rbac_name(&role_ref.name, false) {
            errors.push(Error::invalid(&name_path, role_ref.name.as_str(), msg));
        }
    }
    errors
}

/// `%#v` of the internal `rbac.RoleRef`, as upstream prints it in the
/// "cannot change roleRef" error.
fn go_role_ref(role_ref: &RoleRef) -> String {
    format!(
        "rbac.RoleRef{{APIGroup:{}, Kind:{}, Name:{}}}",
        quote(&role_ref.api_group),
        quote(&role_ref.kind),
        quote(&role_ref.name),
    )
}

/// The update rule of both bindings: `roleRef` never changes.
pub fn validate_role_ref_update(new: &RoleRef, old: &RoleRef) -> ErrorList {
    if new == old {
        Vec::new()
    } else {
        vec![invalid_shown(
            &Path::new("roleRef"),
            &go_role_ref(new),
            "cannot change roleRef",
        )]
    }
}

/// `ValidateRoleBindingSubject`: a name; a service account (no API group,
/// a namespace in a cluster role binding, a DNS-subdomain name), a user or
/// a group (in the RBAC group); no other kind.
pub fn validate_role_binding_subject(
    subject: &Subject,
    is_namespaced: bool,
    path: &Path,
) -> ErrorList {
    let mut errors = Vec::new();
    let name_path = path.child("name");
    if subject.name.is_empty() {
        errors.push(Error::required(&name_path, ""));
    }
    let api_group = subject.api_group.as_deref().unwrap_or_default();
    match subject.kind.as_str() {
        SERVICE_ACCOUNT_KIND => {
            if !subject.name.is_empty() {
                for msg in name_is_dns_subdomain(&subject.name, false) {
                    errors.push(Error::invalid(&name_path, subject.name.as_str(), msg));
                }
            }
            if !api_group.is_empty() {
                errors.push(Error::not_supported(
                    &path.child("apiGroup"),
                    api_group,
                    &[""],
                ));
            }
            if !is_namespaced && subject.namespace.as_deref().unwrap_or_default().is_empty() {
                errors.push(Error::required(&path.child("namespace"), ""));
            }
        }
        USER_KIND | GROUP_KIND => {
            if api_group != GROUP_NAME {
                errors.push(Error::not_supported(
                    &path.child("apiGroup"),
                    api_group,
                    &[GROUP_NAME],
                ));
            }
        }
        other => {
            errors.push(Error::not_supported(
                &path.child("kind"),
                other,
                &[SERVICE_ACCOUNT_KIND, USER_KIND, GROUP_KIND],
            ));
        }
    }
    errors
}

/// The subjects of a binding, each validated under `subjects[i]`.
pub fn validate_subjects(subjects: Option<&[Subject]>, is_namespaced: bool) -> ErrorList {
    let path = Path::new("subjects");
    subjects
        .unwrap_or_default()
        .iter()
        .enumerate()
        .flat_map(|(i, subject)| {
            validate_role_binding_subject(subject, is_namespaced, &path.index(i))
        })
        .collect()
}

/// `SetDefaults_RoleBinding`, `SetDefaults_ClusterRoleBinding` and
/// `SetDefaults_Subject`: an empty `roleRef.apiGroup` is the RBAC group; a
/// user or group subject without an API group gets the RBAC group (a
/// service account's stays empty).
pub fn set_binding_defaults(role_ref: &mut RoleRef, subjects: Option<&mut Vec<Subject>>) {
    if role_ref.api_group.is_empty() {
        role_ref.api_group = GROUP_NAME.to_string();
    }
    for subject in subjects.into_iter().flatten() {
        let unset = subject.api_group.as_deref().is_none_or(str::is_empty);
        if unset && matches!(subject.kind.as_str(), USER_KIND | GROUP_KIND) {
            subject.api_group = Some(GROUP_NAME.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(errors: &ErrorList) -> Vec<String> {
        errors.iter().map(|e| e.to_string()).collect()
    }

    fn strings(values: &[&str]) -> Option<Vec<String>> {
        Some(values.iter().map(|v| v.to_string()).collect())
    }

    fn rule(verbs: &[&str], groups: &[&str], resources: &[&str], urls: &[&str]) -> PolicyRule {
        PolicyRule {
            verbs: verbs.iter().map(|v| v.to_string()).collect(),
            api_groups: strings(groups),
            resources: strings(resources),
            non_resource_urls: strings(urls),
            resource_names: None,
        }
    }

    #[test]
    fn rbac_names_are_path_segments() {
        assert!(validate_rbac_name("system:controller:foo", false).is_empty());
        assert_eq!(validate_rbac_name("..", false), ["may not be '..'"]);
        assert_eq!(validate_rbac_name(".", true), ["may not be '.'"]);
        assert_eq!(
            validate_rbac_name("a/b%c", false),
            ["may not contain '/'", "may not contain '%'"]
        );
    }

    #[test]
    fn policy_rules_as_upstream() {
        let path = Path::new("rules").index(0);
        let cases: Vec<(&str, PolicyRule, bool, Vec<&str>)> = vec![
            (
                "resource rule",
                rule(&["get"], &[""], &["pods"], &[]),
                true,
                vec![],
            ),
            (
                "url rule in cluster role",
                rule(&["get"], &[], &[], &["/healthz"]),
                false,
                vec![],
            ),
            (
                "no verbs",
                rule(&[], &[""], &["pods"], &[]),
                false,
                vec!["rules[0].verbs: Required value: verbs must contain at least one value"],
            ),
            (
                "url in namespaced role",
                rule(&["get"], &[], &[], &["/healthz"]),
                true,
                vec![
                    "rules[0].nonResourceURLs: Invalid value: []string{\"/healthz\"}: namespaced rules cannot apply to non-resource URLs",
                ],
            ),
            (
                "urls and resources",
                rule(&["get"], &["apps"], &[], &["/a", "/b"]),
                false,
                vec![
                    "rules[0].nonResourceURLs: Invalid value: []string{\"/a\", \"/b\"}: rules cannot apply to both regular resources and non-resource URLs",
                ],
            ),
            (
                "urls and resource names, namespaced, no verbs",
                PolicyRule {
                    resource_names: strings(&["x"]),
                    ..rule(&[], &[], &[], &["/a"])
                },
                true,
                vec![
                    "rules[0].verbs: Required value: verbs must contain at least one value",
                    "rules[0].nonResourceURLs: Invalid value: []string{\"/a\"}: namespaced rules cannot apply to non-resource URLs",
                    "rules[0].nonResourceURLs: Invalid value: []string{\"/a\"}: rules cannot apply to both regular resources and non-resource URLs",
                ],
            ),
            (
                "no groups, no resources",
                rule(&["get"], &[], &[], &[]),
                false,
                vec![
                    "rules[0].apiGroups: Required value: resource rules must supply at least one api group",
                    "rules[0].resources: Required value: resource rules must supply at least one resource",
                ],
            ),
            (
                "resource names over several resources are allowed",
                PolicyRule {
                    resource_names: strings(&["a"]),
                    ..rule(&["get"], &[""], &["pods", "secrets"], &[])
                },
                true,
                vec![],
            ),
        ];
        for (name, rule, namespaced, want) in cases {
            assert_eq!(
                messages(&validate_policy_rule(&rule, namespaced, &path)),
                want,
                "{name}"
            );
        }
    }

    fn role_ref(group: &str, kind: &str, name: &str) -> RoleRef {
        RoleRef {
            api_group: group.into(),
            kind: kind.into(),
            name: name.into(),
        }
    }

    #[test]
    fn role_refs_as_upstream() {
        let kinds = ["Role", "ClusterRole"];
        assert!(validate_role_ref(&role_ref(GROUP_NAME, "Role", "admin"), &kinds).is_empty());
        assert_eq!(
            messages(&validate_role_ref(&role_ref("", "Pod", ""), &kinds)),
            [
                "roleRef.apiGroup: Unsupported value: \"\": supported values: \"rbac.authorization.k8s.io\"",
                "roleRef.kind: Unsupported value: \"Pod\": supported values: \"Role\", \"ClusterRole\"",
                "roleRef.name: Required value",
            ]
        );
        assert_eq!(
            messages(&validate_role_ref(
                &role_ref(GROUP_NAME, "Role", "a/b"),
                &["ClusterRole"]
            )),
            [
                "roleRef.kind: Unsupported value: \"Role\": supported values: \"ClusterRole\"",
                "roleRef.name: Invalid value: \"a/b\": may not contain '/'",
            ]
        );
    }

    #[test]
    fn role_ref_is_immutable() {
        let old = role_ref(GROUP_NAME, "ClusterRole", "view");
        assert!(validate_role_ref_update(&old.clone(), &old).is_empty());
        let new = role_ref(GROUP_NAME, "ClusterRole", "edit");
        assert_eq!(
            messages(&validate_role_ref_update(&new, &old)),
            [
                "roleRef: Invalid value: rbac.RoleRef{APIGroup:\"rbac.authorization.k8s.io\", Kind:\"ClusterRole\", Name:\"edit\"}: cannot change roleRef"
            ]
        );
    }

    fn subject(kind: &str, group: Option<&str>, name: &str, namespace: Option<&str>) -> Subject {
        Subject {
            kind: kind.into(),
            api_group: group.map(Into::into),
            name: name.into(),
            namespace: namespace.map(Into::into),
        }
    }

    #[test]
    fn subjects_as_upstream() {
        let path = Path::new("subjects").index(1);
        let cases: Vec<(&str, Subject, bool, Vec<&str>)> = vec![
            (
                "service account in a role binding",
                subject("ServiceAccount", None, "builder", None),
                true,
                vec![],
            ),
            (
                "service account with namespace",
                subject("ServiceAccount", Some(""), "builder", Some("ci")),
                false,
                vec![],
            ),
            (
                "user",
                subject("User", Some(GROUP_NAME), "alice@example.com", None),
                false,
                vec![],
            ),
            (
                "group",
                subject("Group", Some(GROUP_NAME), "system:masters", None),
                true,
                vec![],
            ),
            (
                "service account without namespace in a cluster role binding",
                subject("ServiceAccount", None, "builder", None),
                false,
                vec!["subjects[1].namespace: Required value"],
            ),
            (
                "service account with a bad name and a group",
                subject("ServiceAccount", Some("v1"), "Builder", Some("ci")),
                true,
                vec![
                    "subjects[1].name: Invalid value: \"Builder\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
                    "subjects[1].apiGroup: Unsupported value: \"v1\": supported values: \"\"",
                ],
            ),
            (
                "service account without a name",
                subject("ServiceAccount", None, "", Some("ci")),
                false,
                vec!["subjects[1].name: Required value"],
            ),
            (
                "user without a name or group",
                subject("User", None, "", None),
                true,
                vec![
                    "subjects[1].name: Required value",
                    "subjects[1].apiGroup: Unsupported value: \"\": supported values: \"rbac.authorization.k8s.io\"",
                ],
            ),
            (
                "group in another API group",
                subject("Group", Some("example.com"), "devs", None),
                true,
                vec![
                    "subjects[1].apiGroup: Unsupported value: \"example.com\": supported values: \"rbac.authorization.k8s.io\"",
                ],
            ),
            (
                "unknown kind",
                subject("Node", None, "n1", None),
                true,
                vec![
                    "subjects[1].kind: Unsupported value: \"Node\": supported values: \"ServiceAccount\", \"User\", \"Group\"",
                ],
            ),
        ];
        for (name, subject, namespaced, want) in cases {
            assert_eq!(
                messages(&validate_role_binding_subject(&subject, namespaced, &path)),
                want,
                "{name}"
            );
        }
        let errors = validate_subjects(
            Some(&[
                subject("User", Some(GROUP_NAME), "a", None),
                subject("Robot", None, "r", None),
            ]),
            true,
        );
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "subjects[1].kind");
    }

    #[test]
    fn binding_defaults_fill_api_groups() {
        let mut reference = role_ref("", "ClusterRole", "view");
        let mut subjects = vec![
            subject("User", None, "alice", None),
            subject("Group", Some(""), "devs", None),
            subject("ServiceAccount", None, "builder", Some("ci")),
            subject("User", Some("example.com"), "bob", None),
        ];
        set_binding_defaults(&mut reference, Some(&mut subjects));
        assert_eq!(reference.api_group, GROUP_NAME);
        let groups: Vec<Option<&str>> = subjects.iter().map(|s| s.api_group.as_deref()).collect();
        assert_eq!(
            groups,
            [
                Some(GROUP_NAME),
                Some(GROUP_NAME),
                None,
                Some("example.com")
            ]
        );
        let mut explicit = role_ref("example.com", "Role", "x");
        set_binding_defaults(&mut explicit, None);
        assert_eq!(explicit.api_group, "example.com");
    }
}
