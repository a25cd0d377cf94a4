//! The RBAC authorizer (`plugin/pkg/auth/authorizer/rbac`): allowed when a
//! rule of a role bound to the user (or one of its groups) allows the
//! request; otherwise no opinion, so the next mode is asked.

use std::sync::Arc;

use k8s_openapi::api::rbac::v1::PolicyRule;

use apiserver::authentication::UserInfo;
use apiserver::authorization::{
    Attributes, Authorizer, NonResourceRule, ResourceRule, Rules, Verdict,
};

use super::index::{RbacIndex, Visit};
use super::rules::rule_allows;

#[derive(Debug, Clone)]
pub struct RbacAuthorizer {
    index: Arc<RbacIndex>,
}

impl RbacAuthorizer {
    pub fn new(index: Arc<RbacIndex>) -> Self {
        RbacAuthorizer { index }
    }
}

/// Upstream's aggregate error text: one error as itself, several in
/// brackets.
pub fn aggregate(errors: &[String]) -> String {
    match errors {
        [one] => one.clone(),
        many => format!("[{}]", many.join(", ")),
    }
}

impl Authorizer for RbacAuthorizer {
    fn authorize(&self, attributes: &Attributes<'_>) -> Verdict {
        let mut allowed_by = None;
        let errors =
            self.index
                .visit_rules(attributes.user, attributes.namespace, |source, rule| {
                    if rule_allows(attributes, rule) {
                        allowed_by = Some(source());
                        Visit::Stop
                    } else {
                        Visit::Continue
                    }
                });
        if let Some(source) = allowed_by {
            return Verdict::allow(format!("RBAC: allowed by {source}"));
        }
        if errors.is_empty() {
            Verdict::no_opinion("")
        } else {
            Verdict::no_opinion(format!("RBAC: {}", aggregate(&errors)))
        }
    }

    fn rules_for(&self, user: &UserInfo, namespace: &str) -> Rules {
        let (rules, errors) = self.index.rules_for(user, namespace);
        let mut out = Rules {
            errors,
            ..Rules::default()
        };
        for PolicyRule {
            verbs,
            api_groups,
            resources,
            resource_names,
            non_resource_urls,
        } in rules
        {
            if resources.as_ref().is_some_and(|r| !r.is_empty()) {
                out.resource_rules.push(ResourceRule {
                    verbs: verbs.clone(),
                    api_groups: api_groups.unwrap_or_default(),
                    resources: resources.unwrap_or_default(),
                    resource_names: resource_names.unwrap_or_default(),
                });
            }
            if let Some(urls) = non_resource_urls.filter(|urls| !urls.is_empty()) {
                out.non_resource_rules.push(NonResourceRule {
                    verbs,
                    non_resource_urls: urls,
                });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rbac::index::Kind;
    use crate::testing::CountingGets;
    use apiserver::authorization::Decision;
    use apiserver_storage::{Revision, Storage};
    use bytes::Bytes;
    use serde_json::json;
    use std::time::Duration;

    async fn put(storage: &dyn Storage, key: &str, value: serde_json::Value) -> Revision {
        let bytes = Bytes::from(value.to_string());
        match storage.get(key).await {
            Ok(kv) => storage.update(key, kv.mod_revision, bytes).await,
            Err(_) => storage.create(key, bytes).await,
        }
        .expect("write")
        .mod_revision
    }

    fn user(name: &str, groups: &[&str]) -> UserInfo {
        UserInfo {
            name: name.into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            ..UserInfo::default()
        }
    }

    fn get<'a>(
        user: &'a UserInfo,
        resource: &'a str,
        namespace: &'a str,
        name: &'a str,
    ) -> Attributes<'a> {
        Attributes {
            user,
            verb: "get",
            resource_request: true,
            api_group: "",
            api_version: "v1",
            resource,
            subresource: "",
            namespace,
            name,
            path: "",
        }
    }

    /// Waits until the index has seen `revision` of `kind`.
    async fn seen(index: &RbacIndex, kind: Kind, revision: Revision) {
        assert!(index.wait_for(kind, revision, Duration::from_secs(5)).await);
    }

    #[tokio::test]
    async fn bindings_grant_follow_updates_and_deletes() {
        let storage: std::sync::Arc<dyn Storage> = std::sync::Arc::new(CountingGets::open().await);
        let index = RbacIndex::start(&storage);
        let rbac = RbacAuthorizer::new(index.clone());
        let rules = json!([{"verbs": ["get"], "apiGroups": [""], "resources": ["secrets"]}]);
        seen(
            &index,
            Kind::Roles,
            put(
                &*storage,
                "/registry/roles/a/reader",
                json!({"metadata": {"name": "reader", "namespace": "a"}, "rules": rules}),
            )
            .await,
        )
        .await;
        let binding = |subjects: serde_json::Value| json!({"metadata": {"name": "b", "namespace": "a"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"}, "subjects": subjects});
        let revision = put(
            &*storage,
            "/registry/rolebindings/a/b",
            binding(
                json!([{"kind": "Group", "name": "dev"}, {"kind": "ServiceAccount", "name": "ci"}]),
            ),
        )
        .await;
        seen(&index, Kind::RoleBindings, revision).await;

        let alice = user("alice", &["dev"]);
        let verdict = rbac.authorize(&get(&alice, "secrets", "a", "x"));
        assert_eq!(
            verdict,
            Verdict::allow(
                "RBAC: allowed by RoleBinding \"b/a\" of Role \"reader\" to Group \"dev\""
            )
        );
        assert_eq!(
            rbac.authorize(&get(&alice, "secrets", "b", "x")).decision,
            Decision::NoOpinion
        );
        assert_eq!(
            rbac.authorize(&get(&alice, "configmaps", "a", "x"))
                .decision,
            Decision::NoOpinion
        );
        // A service account subject without a namespace is in the binding's.
        let ci = user("system:serviceaccount:a:ci", &[]);
        assert!(rbac.authorize(&get(&ci, "secrets", "a", "x")).allowed());
        let other_ci = user("system:serviceaccount:b:ci", &[]);
        assert!(
            !rbac
                .authorize(&get(&other_ci, "secrets", "a", "x"))
                .allowed()
        );

        // The group is taken out: alice loses it, the account keeps it.
        let revision = put(
            &*storage,
            "/registry/rolebindings/a/b",
            binding(json!([{"kind": "ServiceAccount", "name": "ci"}])),
        )
        .await;
        seen(&index, Kind::RoleBindings, revision).await;
        assert!(!rbac.authorize(&get(&alice, "secrets", "a", "x")).allowed());
        assert!(rbac.authorize(&get(&ci, "secrets", "a", "x")).allowed());

        // A binding to a missing role: no opinion, and the reason says why.
        let revision = put(
            &*storage,
            "/registry/clusterrolebindings/gone",
            json!({"metadata": {"name": "gone"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "missing"}, "subjects": [{"kind": "User", "name": "alice"}]}),
        )
        .await;
        seen(&index, Kind::ClusterRoleBindings, revision).await;
        assert_eq!(
            rbac.authorize(&get(&alice, "secrets", "a", "x")),
            Verdict::no_opinion(
                "RBAC: clusterrole.rbac.authorization.k8s.io \"missing\" not found"
            )
        );
        let rules = rbac.rules_for(&ci, "a");
        assert_eq!(rules.resource_rules.len(), 1);
        assert_eq!(rules.resource_rules[0].resources, ["secrets"]);

        // Deleted: gone from the index.
        let kv = storage
            .get("/registry/rolebindings/a/b")
            .await
            .expect("binding");
        storage
            .delete("/registry/rolebindings/a/b", Some(kv.mod_revision))
            .await
            .expect("delete");
        let mut allowed = true;
        for _ in 0..200 {
            allowed = rbac.authorize(&get(&ci, "secrets", "a", "x")).allowed();
            if !allowed {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(!allowed);
    }
}
