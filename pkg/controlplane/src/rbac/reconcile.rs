//! The default policy kept in storage at every start (upstream's
//! `pkg/registry/rbac/reconciliation` as the `rbac/bootstrap-roles` hook
//! runs it): a missing role or binding is created; an existing one gets
//! the rules, aggregation selectors, subjects, labels and annotations it
//! lacks, and keeps what was added to it; one annotated
//! `rbac.authorization.kubernetes.io/autoupdate: "false"` is left alone. A
//! binding whose role reference changed is deleted and created again.

use std::collections::BTreeMap;

use k8s_openapi::Metadata;
use k8s_openapi::api::rbac::v1::{
    ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use apiserver::registry::rest::{DeleteOptions, Subresource};
use apiserver::registry::{Store, Strategy};
use apiserver::status::Status;

use super::bootstrap_policy::AUTOUPDATE_ANNOTATION;
use super::rules::uncovered;

/// A role as reconciliation sees it.
pub trait PolicyRole: Clone + PartialEq {
    fn meta(&self) -> &ObjectMeta;
    fn meta_mut(&mut self) -> &mut ObjectMeta;
    fn rules_mut(&mut self) -> &mut Option<Vec<PolicyRule>>;
    /// Adds the expected aggregation selectors this role lacks.
    fn merge_aggregation(&mut self, _expected: &Self) {}
}

/// A binding as reconciliation sees it.
pub trait PolicyBinding: Clone + PartialEq {
    fn meta(&self) -> &ObjectMeta;
    fn meta_mut(&mut self) -> &mut ObjectMeta;
    fn role_ref(&self) -> &RoleRef;
    fn subjects_mut(&mut self) -> &mut Option<Vec<Subject>>;
}

macro_rules! policy_role {
    ($kind:ident) => {
        impl PolicyRole for $kind {
            fn meta(&self) -> &ObjectMeta {
                &self.metadata
            }
            fn meta_mut(&mut self) -> &mut ObjectMeta {
                &mut self.metadata
            }
            fn rules_mut(&mut self) -> &mut Option<Vec<PolicyRule>> {
                &mut self.rules
            }
            policy_role!(@aggregation $kind);
        }
    };
    (@aggregation Role) => {};
    (@aggregation ClusterRole) => {
        fn merge_aggregation(&mut self, expected: &Self) {
            let Some(wanted) = &expected.aggregation_rule else {
                return;
            };
            let rule = self.aggregation_rule.get_or_insert_with(Default::default);
            let selectors = rule.cluster_role_selectors.get_or_insert_with(Vec::new);
            for selector in wanted.cluster_role_selectors.iter().flatten() {
                if !selectors.contains(selector) {
                    selectors.push(selector.clone());
                }
            }
        }
    };
}

policy_role!(Role);
policy_role!(ClusterRole);

macro_rules! policy_binding {
    ($kind:ty) => {
        impl PolicyBinding for $kind {
            fn meta(&self) -> &ObjectMeta {
                &self.metadata
            }
            fn meta_mut(&mut self) -> &mut ObjectMeta {
                &mut self.metadata
            }
            fn role_ref(&self) -> &RoleRef {
                &self.role_ref
            }
            fn subjects_mut(&mut self) -> &mut Option<Vec<Subject>> {
                &mut self.subjects
            }
        }
    };
}

policy_binding!(RoleBinding);
policy_binding!(ClusterRoleBinding);

/// Whether the object asks to be left alone.
fn protected(meta: &ObjectMeta) -> bool {
    meta.annotations
        .as_ref()
        .and_then(|a| a.get(AUTOUPDATE_ANNOTATION))
        .is_some_and(|value| value == "false")
}

/// Expected labels and annotations added where missing; existing values win.
fn merge_metadata(existing: &mut ObjectMeta, expected: &ObjectMeta) {
    let merge = |have: &mut Option<BTreeMap<String, String>>,
                 want: &Option<BTreeMap<String, String>>| {
        for (key, value) in want.iter().flatten() {
            have.get_or_insert_with(BTreeMap::new)
                .entry(key.clone())
                .or_insert_with(|| value.clone());
        }
    };
    merge(&mut existing.labels, &expected.labels);
    merge(&mut existing.annotations, &expected.annotations);
}

/// `computeReconciledRole` in the union mode: the rules of `expected` the
/// existing role does not cover are added.
pub fn reconciled_role<R: PolicyRole>(existing: &R, expected: &R) -> R {
    let mut result = existing.clone();
    if protected(existing.meta()) {
        return result;
    }
    merge_metadata(result.meta_mut(), expected.meta());
    let mut expected = expected.clone();
    let have = result.rules_mut().clone().unwrap_or_default();
    let missing = uncovered(&have, expected.rules_mut().as_deref().unwrap_or_default());
    if !missing.is_empty() {
        result
            .rules_mut()
            .get_or_insert_with(Vec::new)
            .extend(missing);
    }
    result.merge_aggregation(&expected);
    result
}

/// `computeReconciledRoleBinding` in the union mode: missing subjects added.
pub fn reconciled_binding<B: PolicyBinding>(existing: &B, expected: &B) -> B {
    let mut result = existing.clone();
    if protected(existing.meta()) {
        return result;
    }
    merge_metadata(result.meta_mut(), expected.meta());
    let mut expected = expected.clone();
    let subjects = result.subjects_mut().get_or_insert_with(Vec::new);
    for subject in expected.subjects_mut().iter().flatten() {
        if !subjects.contains(subject) {
            subjects.push(subject.clone());
        }
    }
    result
}

/// The revision an object was read or written at.
fn revision_of(meta: &ObjectMeta) -> u64 {
    meta.resource_version
        .as_deref()
        .and_then(|rv| rv.parse().ok())
        .unwrap_or(0)
}

/// How often a create lost to another apiserver's is retried as an update.
const ATTEMPTS: usize = 3;

/// Creates `object`; `None` when another apiserver created it first.
async fn create<S: Strategy>(
    store: &Store<S>,
    namespace: Option<&str>,
    object: S::Object,
) -> Result<Option<u64>, Status> {
    match store.create_object(namespace, object, false).await {
        Ok(created) => Ok(Some(revision_of(created.metadata()))),
        Err(status) if status.reason == "AlreadyExists" => Ok(None),
        Err(status) => Err(status),
    }
}

/// The error after [`ATTEMPTS`] rounds without an answer.
fn gave_up(lost_a_race: bool, name: &str) -> Status {
    let why = if lost_a_race {
        "it was created and deleted by other writers while it was reconciled"
    } else {
        "no round of reconciliation finished"
    };
    Status::internal_error(format!("reconciling {name}: {why} ({ATTEMPTS} rounds)"))
}

/// Reconciles one role; returns the revision it is stored at.
pub async fn reconcile_role<S>(store: &Store<S>, expected: S::Object) -> Result<u64, Status>
where
    S: Strategy,
    S::Object: PolicyRole,
{
    let namespace = expected.meta().namespace.clone();
    let name = expected.meta().name.clone().unwrap_or_default();
    let mut lost = false;
    for _ in 0..ATTEMPTS {
        match store.get_object(namespace.as_deref(), &name).await {
            Err(status) if status.code == 404 => {
                match create(store, namespace.as_deref(), expected.clone()).await? {
                    Some(revision) => return Ok(revision),
                    None => lost = true,
                }
            }
            Err(status) => return Err(status),
            Ok(existing) => {
                if reconciled_role(&existing, &expected) == existing {
                    return Ok(revision_of(existing.meta()));
                }
                let updated = store
                    .update_object(
                        namespace.as_deref(),
                        &name,
                        Subresource::Main,
                        false,
                        |current| Ok(reconciled_role(current, &expected)),
                    )
                    .await?;
                return Ok(revision_of(updated.meta()));
            }
        }
    }
    Err(gave_up(lost, &name))
}

/// Reconciles one binding; returns the revision it is stored at.
pub async fn reconcile_binding<S>(store: &Store<S>, expected: S::Object) -> Result<u64, Status>
where
    S: Strategy,
    S::Object: PolicyBinding,
{
    let namespace = expected.meta().namespace.clone();
    let name = expected.meta().name.clone().unwrap_or_default();
    let mut lost = false;
    for _ in 0..ATTEMPTS {
        match store.get_object(namespace.as_deref(), &name).await {
            Err(status) if status.code == 404 => {
                match create(store, namespace.as_deref(), expected.clone()).await? {
                    Some(revision) => return Ok(revision),
                    None => lost = true,
                }
            }
            Err(status) => return Err(status),
            Ok(existing)
                if !protected(existing.meta()) && existing.role_ref() != expected.role_ref() =>
            {
                // A role reference cannot change: recreate (upstream's
                // ReconcileRecreate), keeping the subjects it had.
                let mut replacement = reconciled_binding(&existing, &expected);
                replacement.meta_mut().resource_version = None;
                replacement.meta_mut().uid = None;
                let mut wanted = expected.clone();
                *wanted.subjects_mut() = replacement.subjects_mut().clone();
                *wanted.meta_mut() = replacement.meta().clone();
                match store
                    .delete_object(namespace.as_deref(), &name, &DeleteOptions::default())
                    .await
                {
                    Ok(_) => {}
                    Err(status) if status.code == 404 => {}
                    Err(status) => return Err(status),
                }
                match create(store, namespace.as_deref(), wanted).await? {
                    Some(revision) => return Ok(revision),
                    None => lost = true,
                }
            }
            Ok(existing) => {
                if reconciled_binding(&existing, &expected) == existing {
                    return Ok(revision_of(existing.meta()));
                }
                let updated = store
                    .update_object(
                        namespace.as_deref(),
                        &name,
                        Subresource::Main,
                        false,
                        |current| Ok(reconciled_binding(current, &expected)),
                    )
                    .await?;
                return Ok(revision_of(updated.meta()));
            }
        }
    }
    Err(gave_up(lost, &name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(verbs: &[&str], resources: &[&str]) -> PolicyRule {
        PolicyRule {
            verbs: verbs.iter().map(|v| v.to_string()).collect(),
            api_groups: Some(vec![String::new()]),
            resources: Some(resources.iter().map(|r| r.to_string()).collect()),
            ..PolicyRule::default()
        }
    }

    fn role(rules: Vec<PolicyRule>, annotations: &[(&str, &str)]) -> ClusterRole {
        ClusterRole {
            metadata: ObjectMeta {
                name: Some("r".into()),
                annotations: Some(
                    annotations
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                ),
                ..ObjectMeta::default()
            },
            rules: Some(rules),
            ..ClusterRole::default()
        }
    }

    #[test]
    fn missing_rules_are_added_and_extra_ones_kept() {
        let existing = role(
            vec![rule(&["get"], &["pods"]), rule(&["delete"], &["secrets"])],
            &[],
        );
        let expected = role(
            vec![rule(&["get", "list"], &["pods"])],
            &[(AUTOUPDATE_ANNOTATION, "true")],
        );
        let result = reconciled_role(&existing, &expected);
        let rules = result.rules.clone().unwrap();
        assert_eq!(rules.len(), 3, "{rules:?}");
        assert_eq!(rules[1], existing.rules.as_ref().unwrap()[1]);
        assert_eq!(rules[2], rule(&["list"], &["pods"]));
        assert_eq!(
            result.metadata.annotations.as_ref().unwrap()[AUTOUPDATE_ANNOTATION],
            "true"
        );
        // Nothing missing: nothing changes.
        assert_eq!(reconciled_role(&result, &expected), result);
    }

    #[test]
    fn autoupdate_false_is_left_alone() {
        let existing = role(vec![], &[(AUTOUPDATE_ANNOTATION, "false")]);
        let expected = role(
            vec![rule(&["*"], &["*"])],
            &[(AUTOUPDATE_ANNOTATION, "true")],
        );
        assert_eq!(reconciled_role(&existing, &expected), existing);
    }

    #[test]
    fn bindings_gain_missing_subjects() {
        let subject = |name: &str| Subject {
            kind: "Group".into(),
            api_group: Some("rbac.authorization.k8s.io".into()),
            name: name.into(),
            namespace: None,
        };
        let binding = |subjects: Vec<Subject>| ClusterRoleBinding {
            metadata: ObjectMeta {
                name: Some("b".into()),
                ..ObjectMeta::default()
            },
            role_ref: RoleRef {
                api_group: "rbac.authorization.k8s.io".into(),
                kind: "ClusterRole".into(),
                name: "view".into(),
            },
            subjects: Some(subjects),
        };
        let existing = binding(vec![subject("extra")]);
        let result = reconciled_binding(&existing, &binding(vec![subject("system:authenticated")]));
        assert_eq!(
            result.subjects.unwrap(),
            [subject("extra"), subject("system:authenticated")]
        );
    }
}
