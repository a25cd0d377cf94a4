//! What each node's pods reference (upstream's node authorizer graph, kept
//! here by an informer on the pods): the pods bound to a node, and the
//! secrets, config maps, persistent volume claims and service accounts
//! those pods name, counted so that a reference goes with its last pod.

use std::collections::{HashMap, HashSet};
use std::sync::RwLock;

use k8s_openapi::api::core::v1::{Pod, PodSpec};

use apiserver_storage::{KeyValue, Revision};

use crate::informer::Handler;

/// The pods' key prefix the graph follows.
pub const PODS_PREFIX: &str = "/registry/pods/";

/// A kind of object a pod references.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Referenced {
    Secret,
    ConfigMap,
    PersistentVolumeClaim,
    ServiceAccount,
}

/// One pod's node and what it references (in its own namespace).
#[derive(Debug, Clone, PartialEq, Eq)]
struct PodEdges {
    node: String,
    references: HashSet<(Referenced, String)>,
}

#[derive(Debug, Default)]
struct State {
    /// (namespace, pod) → its node and references.
    pods: HashMap<(String, String), PodEdges>,
    /// (node, kind, namespace, name) → how many of the node's pods reference it.
    references: HashMap<(String, Referenced, String, String), usize>,
}

impl State {
    fn insert(&mut self, namespace: &str, name: &str, edges: PodEdges) {
        for (kind, referenced) in &edges.references {
            *self
                .references
                .entry((
                    edges.node.clone(),
                    *kind,
                    namespace.to_string(),
                    referenced.clone(),
                ))
                .or_default() += 1;
        }
        self.pods
            .insert((namespace.to_string(), name.to_string()), edges);
    }

    fn remove(&mut self, namespace: &str, name: &str) {
        let Some(edges) = self.pods.remove(&(namespace.to_string(), name.to_string())) else {
            return;
        };
        for (kind, referenced) in edges.references {
            let key = (edges.node.clone(), kind, namespace.to_string(), referenced);
            if let Some(count) = self.references.get_mut(&key) {
                *count -= 1;
                if *count == 0 {
                    self.references.remove(&key);
                }
            }
        }
    }
}

/// The graph of bound pods and what they reference.
#[derive(Debug, Default)]
pub struct NodeGraph {
    state: RwLock<State>,
}

impl NodeGraph {
    /// Whether pod `namespace/name` is bound to `node`.
    pub fn has_pod(&self, node: &str, namespace: &str, name: &str) -> bool {
        let state = self.state.read().unwrap_or_else(|e| e.into_inner());
        state
            .pods
            .get(&(namespace.to_string(), name.to_string()))
            .is_some_and(|edges| edges.node == node)
    }

    /// Whether a pod bound to `node` references `kind` `namespace/name`.
    pub fn references(&self, node: &str, kind: Referenced, namespace: &str, name: &str) -> bool {
        let state = self.state.read().unwrap_or_else(|e| e.into_inner());
        state.references.contains_key(&(
            node.to_string(),
            kind,
            namespace.to_string(),
            name.to_string(),
        ))
    }

    fn apply(state: &mut State, value: &[u8]) {
        let Ok(pod) = serde_json::from_slice::<Pod>(value) else {
            return;
        };
        let (Some(namespace), Some(name)) = (pod.metadata.namespace, pod.metadata.name) else {
            return;
        };
        state.remove(&namespace, &name);
        if let Some(edges) = pod.spec.as_ref().and_then(edges_of) {
            state.insert(&namespace, &name, edges);
        }
    }
}

/// The node a pod is bound to and what it references; `None` while it is
/// not bound.
fn edges_of(spec: &PodSpec) -> Option<PodEdges> {
    let node = spec.node_name.clone().filter(|node| !node.is_empty())?;
    let mut references = HashSet::new();
    let mut add = |kind: Referenced, name: Option<&String>| {
        if let Some(name) = name.filter(|name| !name.is_empty()) {
            references.insert((kind, name.clone()));
        }
    };
    add(
        Referenced::ServiceAccount,
        spec.service_account_name.as_ref(),
    );
    for secret in spec.image_pull_secrets.iter().flatten() {
        add(Referenced::Secret, Some(&secret.name));
    }
    for volume in spec.volumes.iter().flatten() {
        add(
            Referenced::Secret,
            volume.secret.as_ref().and_then(|s| s.secret_name.as_ref()),
        );
        add(
            Referenced::ConfigMap,
            volume.config_map.as_ref().map(|c| &c.name),
        );
        add(
            Referenced::PersistentVolumeClaim,
            volume
                .persistent_volume_claim
                .as_ref()
                .map(|c| &c.claim_name),
        );
        for source in volume
            .projected
            .iter()
            .flat_map(|p| p.sources.iter().flatten())
        {
            add(Referenced::Secret, source.secret.as_ref().map(|s| &s.name));
            add(
                Referenced::ConfigMap,
                source.config_map.as_ref().map(|c| &c.name),
            );
        }
        add(
            Referenced::Secret,
            volume
                .csi
                .as_ref()
                .and_then(|csi| csi.node_publish_secret_ref.as_ref())
                .map(|r| &r.name),
        );
    }
    // Every container's environment, ephemeral ones included.
    let environments = spec
        .init_containers
        .iter()
        .flatten()
        .chain(spec.containers.iter())
        .map(|c| (&c.env_from, &c.env))
        .chain(
            spec.ephemeral_containers
                .iter()
                .flatten()
                .map(|c| (&c.env_from, &c.env)),
        );
    for (env_from, env) in environments {
        for from in env_from.iter().flatten() {
            add(
                Referenced::Secret,
                from.secret_ref.as_ref().map(|s| &s.name),
            );
            add(
                Referenced::ConfigMap,
                from.config_map_ref.as_ref().map(|c| &c.name),
            );
        }
        for variable in env.iter().flatten() {
            let source = variable.value_from.as_ref();
            add(
                Referenced::Secret,
                source
                    .and_then(|s| s.secret_key_ref.as_ref())
                    .map(|s| &s.name),
            );
            add(
                Referenced::ConfigMap,
                source
                    .and_then(|s| s.config_map_key_ref.as_ref())
                    .map(|c| &c.name),
            );
        }
    }
    Some(PodEdges { node, references })
}

impl Handler for NodeGraph {
    fn replace(&self, items: &[KeyValue], _revision: Revision) {
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        *state = State::default();
        for kv in items {
            Self::apply(&mut state, &kv.value);
        }
    }

    fn apply(&self, kv: &KeyValue) {
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        Self::apply(&mut state, &kv.value);
    }

    fn remove(&self, previous: &KeyValue) {
        let Some((namespace, name)) = previous
            .key
            .strip_prefix(PODS_PREFIX)
            .and_then(|rest| rest.split_once('/'))
        else {
            return;
        };
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        state.remove(namespace, name);
    }

    /// A stale graph keeps answering from what it knows until the list.
    fn stale(&self) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use serde_json::json;

    fn kv(namespace: &str, name: &str, pod: serde_json::Value) -> KeyValue {
        KeyValue {
            key: format!("{PODS_PREFIX}{namespace}/{name}"),
            value: Bytes::from(pod.to_string()),
            create_revision: Revision::new(1),
            mod_revision: Revision::new(1),
        }
    }

    fn pod(name: &str, node: Option<&str>, secret: &str) -> serde_json::Value {
        json!({"metadata": {"name": name, "namespace": "a"}, "spec": {
            "nodeName": node, "serviceAccountName": "runner",
            "volumes": [{"name": "v", "secret": {"secretName": secret}},
                        {"name": "p", "persistentVolumeClaim": {"claimName": "data"}},
                        {"name": "q", "projected": {"sources": [{"configMap": {"name": "projected"}}]}}],
            "containers": [{"name": "c", "image": "x",
                "env": [{"name": "E", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "k"}}}],
                "envFrom": [{"secretRef": {"name": "env-secret"}}]}],
            "ephemeralContainers": [{"name": "debug", "image": "x",
                "env": [{"name": "D", "valueFrom": {"secretKeyRef": {"name": "debug-secret", "key": "k"}}}]}]}})
    }

    #[test]
    fn references_follow_the_pods_bound_to_a_node() {
        let graph = NodeGraph::default();
        graph.replace(
            &[kv("a", "web", pod("web", Some("n1"), "tls"))],
            Revision::new(1),
        );
        assert!(graph.has_pod("n1", "a", "web"));
        assert!(!graph.has_pod("n2", "a", "web"));
        for (kind, name) in [
            (Referenced::Secret, "tls"),
            (Referenced::Secret, "env-secret"),
            (Referenced::Secret, "debug-secret"),
            (Referenced::ConfigMap, "settings"),
            (Referenced::ConfigMap, "projected"),
            (Referenced::PersistentVolumeClaim, "data"),
            (Referenced::ServiceAccount, "runner"),
        ] {
            assert!(graph.references("n1", kind, "a", name), "{kind:?} {name}");
            assert!(!graph.references("n2", kind, "a", name));
            assert!(
                !graph.references("n1", kind, "b", name),
                "another namespace"
            );
        }
        assert!(!graph.references("n1", Referenced::Secret, "a", "settings"));

        // A second pod on the node shares `tls`: it stays until both go.
        graph.apply(&kv("a", "api", pod("api", Some("n1"), "tls")));
        graph.remove(&kv("a", "web", json!({})));
        assert!(graph.references("n1", Referenced::Secret, "a", "tls"));
        // Rebinding changes the node; an unbound pod references nothing.
        graph.apply(&kv("a", "api", pod("api", Some("n2"), "tls")));
        assert!(!graph.references("n1", Referenced::Secret, "a", "tls"));
        assert!(graph.references("n2", Referenced::Secret, "a", "tls"));
        graph.apply(&kv("a", "api", pod("api", None, "tls")));
        assert!(!graph.references("n2", Referenced::Secret, "a", "tls"));
        assert!(!graph.has_pod("n2", "a", "api"));
    }
}
