//! The Node authorizer (upstream's `plugin/pkg/auth/authorizer/node`): a
//! kubelet (`system:node:<name>` in `system:nodes`) may read its own Node
//! and the pods bound to it, and the secrets, config maps, persistent
//! volume claims and service accounts those pods reference; everything else
//! it asks is judged by the `system:node` rules. Anyone else: no opinion.

use std::sync::Arc;

use k8s_openapi::api::rbac::v1::PolicyRule;

use apiserver::authentication::UserInfo;
use apiserver::authorization::{Attributes, Authorizer, Rules, Verdict};

use apiserver_storage::Storage;

use super::graph::{NodeGraph, PODS_PREFIX, Referenced};
use crate::informer::{self, AbortOnDrop};
use crate::rbac::bootstrap_policy::node_rules;
use crate::rbac::rules::rule_allows;

pub const NODES_GROUP: &str = "system:nodes";
pub const NODE_USER_PREFIX: &str = "system:node:";

#[derive(Debug)]
pub struct NodeAuthorizer {
    graph: Arc<NodeGraph>,
    rules: Vec<PolicyRule>,
    /// The informer keeping the graph (ended with the authorizer).
    _informer: Option<AbortOnDrop>,
}

/// `NodeIdentity`: `Some(name)` for a node's user (the name may be empty).
fn node_identity(user: &UserInfo) -> Option<&str> {
    let name = user.name.strip_prefix(NODE_USER_PREFIX)?;
    user.groups.iter().any(|g| g == NODES_GROUP).then_some(name)
}

fn no_relationship(node: &str) -> Verdict {
    Verdict::no_opinion(format!(
        "no relationship found between node '{node}' and this object"
    ))
}

impl NodeAuthorizer {
    /// An authorizer over `graph`, which the caller keeps.
    pub fn new(graph: Arc<NodeGraph>) -> Self {
        NodeAuthorizer {
            graph,
            rules: node_rules(),
            _informer: None,
        }
    }

    /// An authorizer whose graph an informer keeps from `storage`'s pods.
    pub fn start(storage: &Arc<dyn Storage>) -> Self {
        let graph = Arc::new(NodeGraph::default());
        let informer = informer::spawn(Arc::clone(storage), PODS_PREFIX, Arc::clone(&graph));
        NodeAuthorizer {
            _informer: Some(informer),
            ..NodeAuthorizer::new(graph)
        }
    }

    /// A namespaced object the node's pods must reference, read one by one.
    fn referenced(
        &self,
        node: &str,
        kind: Referenced,
        attributes: &Attributes<'_>,
        verbs: &[&str],
    ) -> Verdict {
        if !verbs.contains(&attributes.verb) {
            return Verdict::no_opinion("can only read resources of this type");
        }
        if !attributes.subresource.is_empty() {
            return Verdict::no_opinion("cannot read subresource");
        }
        if attributes.namespace.is_empty() {
            return Verdict::no_opinion("can only read namespaced object of this type");
        }
        if attributes.name.is_empty() {
            return Verdict::no_opinion("No Object name found");
        }
        if self
            .graph
            .references(node, kind, attributes.namespace, attributes.name)
        {
            Verdict::allow("")
        } else {
            no_relationship(node)
        }
    }

    /// `system:node`'s rules, for what the graph does not decide.
    fn by_rules(&self, attributes: &Attributes<'_>) -> Verdict {
        if self.rules.iter().any(|rule| rule_allows(attributes, rule)) {
            Verdict::allow("")
        } else {
            Verdict::no_opinion("")
        }
    }
}

impl Authorizer for NodeAuthorizer {
    fn authorize(&self, attributes: &Attributes<'_>) -> Verdict {
        let Some(node) = node_identity(attributes.user) else {
            return Verdict::no_opinion("");
        };
        if node.is_empty() {
            return Verdict::no_opinion(format!(
                "unknown node for user {:?}",
                attributes.user.name
            ));
        }
        if !attributes.resource_request || !attributes.api_group.is_empty() {
            return self.by_rules(attributes);
        }
        let (verb, name) = (attributes.verb, attributes.name);
        match (attributes.resource, attributes.subresource) {
            ("secrets", _) => self.referenced(
                node,
                Referenced::Secret,
                attributes,
                &["get", "list", "watch"],
            ),
            ("configmaps", _) => self.referenced(
                node,
                Referenced::ConfigMap,
                attributes,
                &["get", "list", "watch"],
            ),
            ("persistentvolumeclaims", "status") => {
                if !["get", "update", "patch"].contains(&verb) || name.is_empty() {
                    return Verdict::no_opinion(
                        "can only get or update the status of individual claims",
                    );
                }
                if self.graph.references(
                    node,
                    Referenced::PersistentVolumeClaim,
                    attributes.namespace,
                    name,
                ) {
                    Verdict::allow("")
                } else {
                    no_relationship(node)
                }
            }
            ("persistentvolumeclaims", _) => self.referenced(
                node,
                Referenced::PersistentVolumeClaim,
                attributes,
                &["get"],
            ),
            // No volumes are tracked to their claims here: no node may read one.
            ("persistentvolumes", _) => no_relationship(node),
            ("serviceaccounts", "token") => {
                if verb != "create" || name.is_empty() {
                    return Verdict::no_opinion(
                        "can only create tokens for individual service accounts",
                    );
                }
                if self.graph.references(
                    node,
                    Referenced::ServiceAccount,
                    attributes.namespace,
                    name,
                ) {
                    Verdict::allow("")
                } else {
                    no_relationship(node)
                }
            }
            ("serviceaccounts", _) => {
                self.referenced(node, Referenced::ServiceAccount, attributes, &["get"])
            }
            ("pods", "") if verb == "get" => {
                if self.graph.has_pod(node, attributes.namespace, name) {
                    Verdict::allow("")
                } else {
                    no_relationship(node)
                }
            }
            ("pods", "") if verb == "list" || verb == "watch" => Verdict::no_opinion(
                "can only list/watch pods with a spec.nodeName field selector, which this server does not read in authorization",
            ),
            // Registration: the name is in the body (upstream's
            // NodeRestriction admission, not here, keeps it to its own).
            ("nodes", "") if verb == "create" => self.by_rules(attributes),
            ("nodes", _) => {
                if name != node {
                    return Verdict::no_opinion(format!(
                        "node '{node}' cannot {verb} '{name}', only its own Node object"
                    ));
                }
                self.by_rules(attributes)
            }
            _ => self.by_rules(attributes),
        }
    }

    /// A node's rules depend on the graph: they cannot be listed.
    fn rules_for(&self, user: &UserInfo, _namespace: &str) -> Rules {
        Rules {
            incomplete: node_identity(user).is_some(),
            ..Rules::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use apiserver::authorization::Decision;
    use apiserver_storage::{KeyValue, Revision};
    use bytes::Bytes;

    use crate::informer::Handler;

    fn node(name: &str) -> UserInfo {
        UserInfo {
            name: format!("{NODE_USER_PREFIX}{name}"),
            groups: vec![NODES_GROUP.into(), "system:authenticated".into()],
            ..UserInfo::default()
        }
    }

    fn ask<'a>(
        user: &'a UserInfo,
        verb: &'a str,
        resource: &'a str,
        subresource: &'a str,
        namespace: &'a str,
        name: &'a str,
    ) -> Attributes<'a> {
        Attributes {
            user,
            verb,
            resource_request: true,
            api_group: "",
            api_version: "v1",
            resource,
            subresource,
            namespace,
            name,
            path: "",
        }
    }

    fn authorizer() -> NodeAuthorizer {
        let graph = Arc::new(NodeGraph::default());
        let pod = serde_json::json!({"metadata": {"name": "web", "namespace": "a"}, "spec": {
            "nodeName": "n1", "serviceAccountName": "runner",
            "volumes": [{"name": "v", "secret": {"secretName": "tls"}},
                        {"name": "d", "persistentVolumeClaim": {"claimName": "data"}}],
            "containers": [{"name": "c", "image": "x", "envFrom": [{"configMapRef": {"name": "settings"}}]}]}});
        graph.replace(
            &[KeyValue {
                key: "/registry/pods/a/web".into(),
                value: Bytes::from(pod.to_string()),
                create_revision: Revision::new(1),
                mod_revision: Revision::new(1),
            }],
            Revision::new(1),
        );
        NodeAuthorizer::new(graph)
    }

    #[test]
    fn a_node_reads_what_its_pods_reference_and_nothing_else() {
        let authz = authorizer();
        let (n1, n2) = (node("n1"), node("n2"));
        let allowed = |a: Attributes<'_>| authz.authorize(&a).decision == Decision::Allow;
        // Its pod, and what the pod references.
        assert!(allowed(ask(&n1, "get", "pods", "", "a", "web")));
        assert!(allowed(ask(&n1, "get", "secrets", "", "a", "tls")));
        assert!(allowed(ask(
            &n1,
            "watch",
            "configmaps",
            "",
            "a",
            "settings"
        )));
        assert!(allowed(ask(
            &n1,
            "get",
            "persistentvolumeclaims",
            "",
            "a",
            "data"
        )));
        assert!(allowed(ask(
            &n1,
            "get",
            "serviceaccounts",
            "",
            "a",
            "runner"
        )));
        assert!(allowed(ask(
            &n1,
            "create",
            "serviceaccounts",
            "token",
            "a",
            "runner"
        )));
        // Not another node's, not others, not more than reading.
        assert!(!allowed(ask(&n2, "get", "pods", "", "a", "web")));
        assert!(!allowed(ask(&n2, "get", "secrets", "", "a", "tls")));
        assert!(!allowed(ask(&n1, "get", "secrets", "", "a", "other")));
        assert!(!allowed(ask(&n1, "get", "secrets", "", "b", "tls")));
        assert!(!allowed(ask(&n1, "list", "secrets", "", "a", "")));
        assert!(!allowed(ask(&n1, "delete", "secrets", "", "a", "tls")));
        assert!(!allowed(ask(
            &n1,
            "update",
            "configmaps",
            "",
            "a",
            "settings"
        )));
        assert!(!allowed(ask(&n1, "list", "pods", "", "", "")));
        assert_eq!(
            authz
                .authorize(&ask(&n1, "get", "secrets", "", "a", "other"))
                .reason,
            "no relationship found between node 'n1' and this object"
        );
        // Its own Node only.
        assert!(allowed(ask(&n1, "get", "nodes", "", "", "n1")));
        assert!(allowed(ask(&n1, "patch", "nodes", "status", "", "n1")));
        assert!(!allowed(ask(&n1, "get", "nodes", "", "", "n2")));
        assert!(!allowed(ask(&n1, "update", "nodes", "status", "", "n2")));
        assert!(!allowed(ask(&n1, "list", "nodes", "", "", "")));
        // The rest by system:node's rules: events yes, deployments no.
        assert!(allowed(ask(&n1, "create", "events", "", "a", "")));
        let mut deployments = ask(&n1, "get", "deployments", "", "a", "x");
        deployments.api_group = "apps";
        assert!(!allowed(deployments));
        // Not a node: no opinion, whatever the name says.
        let impostor = UserInfo {
            name: "system:node:n1".into(),
            ..UserInfo::default()
        };
        assert_eq!(
            authz.authorize(&ask(&impostor, "get", "secrets", "", "a", "tls")),
            Verdict::no_opinion("")
        );
    }
}
