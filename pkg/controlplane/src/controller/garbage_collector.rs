//! The garbage collector (upstream's, which runs in the controller
//! manager): a watch on every stored object keeps the owner graph (each
//! object's uid, kind and owner references); an object whose owners are
//! all gone is deleted (Background), an owner deleted with Foreground
//! keeps its `foregroundDeletion` finalizer until its dependents are
//! deleted, and one deleted with Orphan keeps its `orphan` finalizer until
//! its dependents' references to it are removed. Work goes through a
//! deduplicating queue: a failure (an owner of a kind nothing serves yet)
//! is retried with a doubling backoff.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use serde::Deserialize;

use apimachinery::api::{FINALIZER_DELETE_DEPENDENTS, FINALIZER_ORPHAN_DEPENDENTS};
use apiserver::endpoints::dynamic::DynamicResources;
use apiserver::registry::RestStorage;
use apiserver::registry::rest::{
    DeleteOptions, FieldValidation, PatchType, PropagationPolicy, Subresource, WriteOptions,
};
use apiserver_storage::{KeyValue, Revision, Storage};

use super::work_queue::WorkQueue;
use crate::informer::{self, Handler};

/// Every stored object.
const PREFIX: &str = "/registry/";

/// The field manager of the collector's writes.
const MANAGER: &str = "generic-garbage-collector";

/// What the collector reads of a stored object.
#[derive(Deserialize)]
struct Stored {
    #[serde(rename = "apiVersion", default)]
    api_version: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    metadata: StoredMeta,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct StoredMeta {
    #[serde(default)]
    uid: String,
    #[serde(default)]
    name: String,
    namespace: Option<String>,
    #[serde(default)]
    owner_references: Vec<OwnerReference>,
    deletion_timestamp: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    finalizers: Vec<String>,
}

#[derive(Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
struct OwnerReference {
    uid: String,
    #[serde(default)]
    api_version: String,
    #[serde(default)]
    kind: String,
}

/// An owner as a dependent names it.
#[derive(Clone)]
struct Owner {
    uid: String,
    group: String,
    kind: String,
}

/// One object of the graph.
#[derive(Clone)]
struct Node {
    group: String,
    kind: String,
    namespace: Option<String>,
    name: String,
    owners: Vec<Owner>,
    deleting: bool,
    finalizers: Vec<String>,
}

impl Node {
    fn in_foreground_deletion(&self) -> bool {
        self.deleting
            && self
                .finalizers
                .iter()
                .any(|f| f == FINALIZER_DELETE_DEPENDENTS)
    }

    fn orphaning(&self) -> bool {
        self.deleting
            && self
                .finalizers
                .iter()
                .any(|f| f == FINALIZER_ORPHAN_DEPENDENTS)
    }
}

/// The objects by uid, and each owner's dependents.
#[derive(Default)]
struct Graph {
    nodes: HashMap<String, Node>,
    dependents: HashMap<String, HashSet<String>>,
}

impl Graph {
    fn insert(&mut self, uid: String, node: Node) {
        self.remove(&uid);
        for owner in &node.owners {
            self.dependents
                .entry(owner.uid.clone())
                .or_default()
                .insert(uid.clone());
        }
        self.nodes.insert(uid, node);
    }

    fn remove(&mut self, uid: &str) -> Option<Node> {
        let node = self.nodes.remove(uid)?;
        for owner in &node.owners {
            if let Some(dependents) = self.dependents.get_mut(&owner.uid) {
                dependents.remove(uid);
                if dependents.is_empty() {
                    self.dependents.remove(&owner.uid);
                }
            }
        }
        Some(node)
    }

    fn dependents_of(&self, owner: &str) -> Vec<String> {
        self.dependents
            .get(owner)
            .map(|d| d.iter().cloned().collect())
            .unwrap_or_default()
    }
}

/// What to look at.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Work {
    /// Whether this object's owners are gone (or deleting it in the
    /// foreground).
    Dependent(String),
    /// Whether this owner's Foreground or Orphan deletion can finish.
    Owner(String),
}

pub struct GarbageCollector {
    storage: Arc<dyn Storage>,
    /// The built-in resources' stores.
    stores: Vec<Arc<dyn RestStorage>>,
    dynamic: Arc<DynamicResources>,
    graph: Arc<Mutex<Graph>>,
}

impl GarbageCollector {
    pub fn new(
        storage: Arc<dyn Storage>,
        stores: Vec<Arc<dyn RestStorage>>,
        dynamic: Arc<DynamicResources>,
    ) -> Self {
        GarbageCollector {
            storage,
            stores: stores
                .into_iter()
                .filter(|store| !store.info().create_only)
                .collect(),
            dynamic,
            graph: Arc::default(),
        }
    }

    /// Keeps the graph and collects until the task is aborted.
    pub async fn run(self: Arc<Self>) {
        let queue = WorkQueue::new();
        let _informer = informer::spawn(
            self.storage.clone(),
            PREFIX,
            Arc::new(GraphFeed {
                graph: self.graph.clone(),
                work: queue.clone(),
            }),
        );
        loop {
            let work = queue.next().await;
            let result = self.process(&work).await;
            if let Err(err) = &result {
                tracing::debug!(?work, "garbage collector: {err}");
            }
            queue.done(&work, result.is_ok());
        }
    }

    async fn process(&self, work: &Work) -> anyhow::Result<()> {
        match work {
            Work::Dependent(uid) => self.attempt_to_delete(uid).await,
            Work::Owner(uid) => self.finish_owner(uid).await,
        }
    }

    /// A dependent whose owners are all gone is deleted in the background;
    /// one with an owner in foreground deletion is deleted in the
    /// foreground; references to owners that are gone are removed from one
    /// that still has a live owner.
    async fn attempt_to_delete(&self, uid: &str) -> anyhow::Result<()> {
        let (node, dangling, waiting, solid) = {
            let graph = self.graph.lock().unwrap_or_else(|e| e.into_inner());
            let Some(node) = graph.nodes.get(uid).cloned() else {
                return Ok(());
            };
            let (mut dangling, mut waiting, mut solid) = (Vec::new(), Vec::new(), 0usize);
            for owner in &node.owners {
                match graph.nodes.get(&owner.uid) {
                    None => dangling.push(owner.clone()),
                    Some(owner_node) if owner_node.in_foreground_deletion() => {
                        waiting.push(owner.uid.clone())
                    }
                    Some(_) => solid += 1,
                }
            }
            (node, dangling, waiting, solid)
        };
        // An owner of a kind nothing serves cannot be told gone (upstream's
        // collector fails to map it and tries again): the dependent stays
        // untouched until the kind is served or the reference changes.
        if let Some(unknown) = dangling
            .iter()
            .find(|owner| self.store_serving(&owner.group, &owner.kind).is_none())
        {
            anyhow::bail!(
                "{}: owner {} of kind {}/{} is of no served resource",
                node.name,
                unknown.uid,
                unknown.group,
                unknown.kind
            );
        }
        let dangling: Vec<String> = dangling.into_iter().map(|owner| owner.uid).collect();
        if node.owners.is_empty() || node.deleting {
            return Ok(());
        }
        if solid > 0 {
            // A live owner keeps it: only the references to owners that are
            // gone or waiting for their dependents go.
            let mut remove = dangling;
            remove.extend(waiting);
            if !remove.is_empty() {
                self.remove_owner_references(uid, &node, &remove).await?;
            }
            return Ok(());
        }
        let policy = if waiting.is_empty() {
            PropagationPolicy::Background
        } else {
            PropagationPolicy::Foreground
        };
        let store = self.store_of(&node)?;
        let opts = DeleteOptions {
            propagation_policy: Some(policy),
            precondition_uid: Some(uid.to_string()),
            ..DeleteOptions::default()
        };
        match store
            .delete(node.namespace.as_deref(), &node.name, &opts)
            .await
        {
            Ok(_) => Ok(()),
            Err(status) if status.code == 404 || status.code == 409 => Ok(()),
            Err(status) => anyhow::bail!("deleting {}: {}", node.name, status.message),
        }
    }

    /// An owner in foreground deletion drops its finalizer once it has no
    /// dependents; one being orphaned once its dependents no longer name it.
    async fn finish_owner(&self, uid: &str) -> anyhow::Result<()> {
        let (node, dependents) = {
            let graph = self.graph.lock().unwrap_or_else(|e| e.into_inner());
            let Some(node) = graph.nodes.get(uid).cloned() else {
                return Ok(());
            };
            (node, graph.dependents_of(uid))
        };
        if node.orphaning() {
            for dependent in &dependents {
                let dependent_node = self
                    .graph
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .nodes
                    .get(dependent)
                    .cloned();
                if let Some(dependent_node) = dependent_node {
                    self.remove_owner_references(dependent, &dependent_node, &[uid.to_string()])
                        .await?;
                }
            }
            return self
                .remove_finalizer(&node, FINALIZER_ORPHAN_DEPENDENTS)
                .await;
        }
        if node.in_foreground_deletion() {
            if dependents.is_empty() {
                return self
                    .remove_finalizer(&node, FINALIZER_DELETE_DEPENDENTS)
                    .await;
            }
            for dependent in dependents {
                Box::pin(self.attempt_to_delete(&dependent)).await?;
            }
        }
        Ok(())
    }

    /// A merge patch of the object's owner references without `gone`, at
    /// the uid read (a conflict is tried again).
    async fn remove_owner_references(
        &self,
        uid: &str,
        node: &Node,
        gone: &[String],
    ) -> anyhow::Result<()> {
        let store = self.store_of(node)?;
        let current = store
            .get(node.namespace.as_deref(), &node.name, &Default::default())
            .await
            .map_err(|status| anyhow::anyhow!(status.message))?
            .body
            .into_bytes()
            .await
            .map_err(|status| anyhow::anyhow!(status.message))?;
        let current: serde_json::Value = serde_json::from_slice(&current)?;
        if current["metadata"]["uid"] != uid {
            return Ok(());
        }
        let kept: Vec<serde_json::Value> = current["metadata"]["ownerReferences"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|owner| !gone.iter().any(|g| owner["uid"] == g.as_str()))
            .cloned()
            .collect();
        let patch = serde_json::json!({"metadata": {
            "ownerReferences": if kept.is_empty() { serde_json::Value::Null } else { kept.into() },
            "resourceVersion": current["metadata"]["resourceVersion"],
        }});
        self.patch(node, &patch).await
    }

    /// A merge patch of the owner's finalizers without `finalizer`; the
    /// store deletes the object when it was the last one.
    async fn remove_finalizer(&self, node: &Node, finalizer: &str) -> anyhow::Result<()> {
        let finalizers: Vec<&String> = node.finalizers.iter().filter(|f| *f != finalizer).collect();
        let patch = serde_json::json!({"metadata": {"finalizers": finalizers}});
        self.patch(node, &patch).await
    }

    async fn patch(&self, node: &Node, patch: &serde_json::Value) -> anyhow::Result<()> {
        let store = self.store_of(node)?;
        let opts = WriteOptions {
            field_manager: Some(MANAGER.to_string()),
            user_agent_manager: MANAGER.to_string(),
            field_validation: FieldValidation::Ignore,
            ..WriteOptions::default()
        };
        store
            .patch(
                node.namespace.as_deref(),
                &node.name,
                Subresource::Main,
                PatchType::Merge,
                Bytes::from(patch.to_string()),
                &opts,
            )
            .await
            .map(drop)
            .or_else(|status| match status.code {
                404 => Ok(()),
                _ => Err(anyhow::anyhow!(
                    "patching {}: {}",
                    node.name,
                    status.message
                )),
            })
    }

    /// The store serving the object's group and kind.
    fn store_of(&self, node: &Node) -> anyhow::Result<Arc<dyn RestStorage>> {
        self.store_serving(&node.group, &node.kind)
            .ok_or_else(|| anyhow::anyhow!("no resource serves {}/{}", node.group, node.kind))
    }

    /// The store serving `kind` of `group` (built-in or custom), if any.
    fn store_serving(&self, group: &str, kind: &str) -> Option<Arc<dyn RestStorage>> {
        let matches = |store: &&Arc<dyn RestStorage>| {
            store.info().group == group && store.info().kind == kind
        };
        if let Some(store) = self.stores.iter().find(matches) {
            return Some(Arc::clone(store));
        }
        self.dynamic.snapshot().stores().find(matches).cloned()
    }
}

/// Keeps the graph in step with storage and says what to look at.
struct GraphFeed {
    graph: Arc<Mutex<Graph>>,
    work: Arc<WorkQueue<Work>>,
}

impl GraphFeed {
    fn node_of(kv: &KeyValue) -> Option<(String, Node)> {
        let stored: Stored = serde_json::from_slice(&kv.value).ok()?;
        let meta = stored.metadata;
        if meta.uid.is_empty() || stored.kind.is_empty() {
            return None;
        }
        let group = group_of(&stored.api_version);
        Some((
            meta.uid,
            Node {
                group,
                kind: stored.kind,
                namespace: meta.namespace.filter(|ns| !ns.is_empty()),
                name: meta.name,
                owners: meta
                    .owner_references
                    .into_iter()
                    .map(|o| Owner {
                        group: group_of(&o.api_version),
                        uid: o.uid,
                        kind: o.kind,
                    })
                    .collect(),
                deleting: meta.deletion_timestamp.is_some(),
                finalizers: meta.finalizers,
            },
        ))
    }

    /// What a changed node asks for: its owners' absence, its own
    /// Foreground or Orphan deletion, its foreground-deleting owners.
    fn work_for(&self, graph: &Graph, uid: &str, node: &Node) {
        if node.in_foreground_deletion() || node.orphaning() {
            self.work.add(Work::Owner(uid.to_string()));
        }
        if node.owners.iter().any(|owner| {
            graph
                .nodes
                .get(&owner.uid)
                .is_none_or(Node::in_foreground_deletion)
        }) {
            self.work.add(Work::Dependent(uid.to_string()));
        }
    }
}

impl Handler for GraphFeed {
    fn replace(&self, items: &[KeyValue], _revision: Revision) {
        let mut graph = self.graph.lock().unwrap_or_else(|e| e.into_inner());
        *graph = Graph::default();
        for (uid, node) in items.iter().filter_map(Self::node_of) {
            graph.insert(uid, node);
        }
        for (uid, node) in &graph.nodes {
            self.work_for(&graph, uid, node);
        }
    }

    fn apply(&self, kv: &KeyValue) {
        let Some((uid, node)) = Self::node_of(kv) else {
            return;
        };
        let mut graph = self.graph.lock().unwrap_or_else(|e| e.into_inner());
        graph.insert(uid.clone(), node.clone());
        self.work_for(&graph, &uid, &node);
    }

    fn remove(&self, previous: &KeyValue) {
        let Some((uid, _)) = Self::node_of(previous) else {
            return;
        };
        let mut graph = self.graph.lock().unwrap_or_else(|e| e.into_inner());
        let Some(node) = graph.remove(&uid) else {
            return;
        };
        // Its dependents may have lost their last owner.
        for dependent in graph.dependents_of(&uid) {
            self.work.add(Work::Dependent(dependent));
        }
        // A foreground-deleting owner may be waiting for it.
        for owner in &node.owners {
            if graph
                .nodes
                .get(&owner.uid)
                .is_some_and(Node::in_foreground_deletion)
            {
                self.work.add(Work::Owner(owner.uid.clone()));
            }
        }
    }

    fn stale(&self) {}
}

/// The group of an `apiVersion` (`apps/v1` → `apps`, `v1` → the core group).
fn group_of(api_version: &str) -> String {
    api_version
        .rsplit_once('/')
        .map(|(group, _)| group.to_string())
        .unwrap_or_default()
}
