//! NamespaceLifecycle (`plugin/pkg/admission/namespace/lifecycle`): no new
//! objects in a namespace that does not exist or is being terminated, and
//! the namespaces the system needs cannot be deleted.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Namespace;

use apiserver::admission::{Attributes, Operation, Plugin};
use apiserver::status::Status;
use apiserver_storage::{KeyValue, Revision, Storage};

use crate::informer::{self, AbortOnDrop, Handler};

/// Namespaces that always exist and may not be deleted.
pub const IMMORTAL_NAMESPACES: [&str; 3] = ["default", "kube-system", "kube-public"];

/// The namespace store's keys (the store itself is built with this plugin
/// in its admission chain, so the plugin reads storage, not the store).
const NAMESPACES_PREFIX: &str = "/registry/namespaces/";

/// How long after a namespace's delete this apiserver asks storage rather
/// than its cache whether the namespace takes new content (upstream's
/// `forceLiveLookupTTL`): the cache learns of the delete a moment later.
const FORCE_LIVE_LOOKUP: Duration = Duration::from_secs(30);

/// What the cache knows of one namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Active,
    Terminating,
}

impl Phase {
    fn of(namespace: &Namespace) -> Phase {
        let terminating = namespace.metadata.deletion_timestamp.is_some()
            || namespace.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Terminating");
        if terminating {
            Phase::Terminating
        } else {
            Phase::Active
        }
    }
}

/// The namespaces as a watch last showed them (upstream's namespace
/// informer), so a create does not read its namespace from storage. A
/// namespace the cache does not have, or one deleted through this
/// apiserver lately, is read from storage.
#[derive(Debug, Default)]
struct NamespaceCache {
    synced: AtomicBool,
    phases: RwLock<HashMap<String, Phase>>,
    /// Namespaces deleted through this apiserver lately, and when.
    deleted: Mutex<Deleted>,
}

/// The namespaces to read from storage for a while.
#[derive(Debug, Default)]
struct Deleted {
    at: HashMap<String, Instant>,
    /// Past [`MAX_DELETED`] deletes in [`FORCE_LIVE_LOOKUP`], every
    /// namespace is read from storage until this instant.
    all_until: Option<Instant>,
}

/// The most namespace deletes remembered one by one.
const MAX_DELETED: usize = 4096;

impl NamespaceCache {
    fn phase(&self, name: &str) -> Option<Phase> {
        if !self.synced.load(Ordering::Acquire) {
            return None;
        }
        {
            let deleted = self.deleted.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            if deleted.all_until.is_some_and(|until| now < until)
                || deleted
                    .at
                    .get(name)
                    .is_some_and(|at| at.elapsed() < FORCE_LIVE_LOOKUP)
            {
                return None;
            }
        }
        let phases = self.phases.read().unwrap_or_else(|e| e.into_inner());
        phases.get(name).copied()
    }

    fn deleting(&self, name: &str) {
        let mut deleted = self.deleted.lock().unwrap_or_else(|e| e.into_inner());
        deleted.at.retain(|_, at| at.elapsed() < FORCE_LIVE_LOOKUP);
        if deleted.at.len() >= MAX_DELETED {
            deleted.at.clear();
            deleted.all_until = Some(Instant::now() + FORCE_LIVE_LOOKUP);
        } else {
            deleted.at.insert(name.to_string(), Instant::now());
        }
    }
}

impl Handler for NamespaceCache {
    fn replace(&self, items: &[KeyValue], _revision: Revision) {
        {
            let mut phases = self.phases.write().unwrap_or_else(|e| e.into_inner());
            phases.clear();
        }
        for kv in items {
            self.apply(kv);
        }
        self.synced.store(true, Ordering::Release);
    }

    fn apply(&self, kv: &KeyValue) {
        let Ok(namespace) = serde_json::from_slice::<Namespace>(&kv.value) else {
            return;
        };
        if let Some(name) = namespace.metadata.name.clone() {
            let mut phases = self.phases.write().unwrap_or_else(|e| e.into_inner());
            phases.insert(name, Phase::of(&namespace));
        }
    }

    fn remove(&self, previous: &KeyValue) {
        if let Some(name) = previous.key.strip_prefix(NAMESPACES_PREFIX) {
            let mut phases = self.phases.write().unwrap_or_else(|e| e.into_inner());
            phases.remove(name);
        }
    }

    fn stale(&self) {
        self.synced.store(false, Ordering::Release);
    }
}

#[derive(Debug)]
pub struct NamespaceLifecycle {
    storage: Arc<dyn Storage>,
    cache: Arc<NamespaceCache>,
    _cache_task: AbortOnDrop,
}

impl NamespaceLifecycle {
    /// The plugin, with its namespace cache kept by a task on the current
    /// runtime (ended when the plugin is dropped).
    pub fn new(storage: Arc<dyn Storage>) -> Self {
        let cache = Arc::new(NamespaceCache::default());
        let task = informer::spawn(Arc::clone(&storage), NAMESPACES_PREFIX, Arc::clone(&cache));
        NamespaceLifecycle {
            storage,
            cache,
            _cache_task: task,
        }
    }

    /// The namespace's phase: from the cache, else from storage.
    async fn phase(&self, name: &str) -> Result<Option<Phase>, Status> {
        if let Some(phase) = self.cache.phase(name) {
            return Ok(Some(phase));
        }
        match self
            .storage
            .get(&format!("{NAMESPACES_PREFIX}{name}"))
            .await
        {
            Ok(kv) => serde_json::from_slice::<Namespace>(&kv.value)
                .map(|namespace| Some(Phase::of(&namespace)))
                .map_err(|err| Status::internal_error(format!("decoding namespace {name}: {err}"))),
            Err(err) if err.is_not_found() => Ok(None),
            Err(err) => Err(Status::internal_error(err.to_string())),
        }
    }
}

#[async_trait::async_trait]
impl Plugin for NamespaceLifecycle {
    async fn validate(&self, attrs: &Attributes<'_>) -> Result<(), Status> {
        if attrs.operation == Operation::Delete
            && attrs.group.is_empty()
            && attrs.resource == "namespaces"
            && IMMORTAL_NAMESPACES.contains(&attrs.name)
        {
            return Err(Status::forbidden_resource(
                "",
                "namespaces",
                attrs.name,
                "this namespace may not be deleted",
            ));
        }
        if attrs.operation == Operation::Delete
            && attrs.group.is_empty()
            && attrs.resource == "namespaces"
        {
            self.cache.deleting(attrs.name);
        }
        let (Operation::Create, Some(namespace)) = (attrs.operation, attrs.namespace) else {
            return Ok(());
        };
        match self.phase(namespace).await? {
            None => Err(Status::not_found("", "namespaces", namespace)),
            Some(Phase::Terminating) => Err(Status::forbidden_resource(
                attrs.group,
                attrs.resource,
                attrs.name,
                &format!(
                    "unable to create new content in namespace {namespace} because it is being terminated"
                ),
            )),
            Some(Phase::Active) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::testing::CountingGets;

    fn namespace(name: &str, terminating: bool) -> Bytes {
        let mut namespace =
            serde_json::json!({"metadata": {"name": name}, "status": {"phase": "Active"}});
        if terminating {
            namespace["status"]["phase"] = "Terminating".into();
        }
        Bytes::from(namespace.to_string())
    }

    fn create_in(namespace: &str) -> Attributes<'_> {
        Attributes {
            operation: Operation::Create,
            group: "",
            resource: "configmaps",
            subresource: None,
            namespace: Some(namespace),
            name: "x",
            dry_run: false,
        }
    }

    async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
        for _ in 0..200 {
            if check().await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("{what} never held");
    }

    /// Creates in a namespace the cache knows read nothing from storage; a
    /// namespace it does not know, or one deleted through this apiserver
    /// lately, is read from storage; a terminating one refuses.
    #[tokio::test]
    async fn creates_ask_the_cache_and_storage_only_when_it_cannot_answer() {
        let storage = Arc::new(CountingGets::open().await);
        storage
            .create("/registry/namespaces/team", namespace("team", false))
            .await
            .expect("namespace");
        let plugin = NamespaceLifecycle::new(storage.clone());
        eventually("the cache lists", async || {
            plugin.cache.phase("team").is_some()
        })
        .await;

        let before = storage.gets();
        for _ in 0..10 {
            plugin.validate(&create_in("team")).await.expect("admitted");
        }
        assert_eq!(storage.gets(), before, "read from storage");

        // Unknown to the cache: storage says.
        let status = plugin
            .validate(&create_in("nowhere"))
            .await
            .expect_err("missing");
        assert_eq!(status.code, 404);
        assert_eq!(storage.gets(), before + 1);

        // Terminating, as the watch shows it.
        let current = storage
            .get("/registry/namespaces/team")
            .await
            .expect("stored");
        storage
            .update(
                "/registry/namespaces/team",
                current.mod_revision,
                namespace("team", true),
            )
            .await
            .expect("terminating");
        eventually("the watch brings the change", async || {
            plugin.cache.phase("team") == Some(Phase::Terminating)
        })
        .await;
        let status = plugin
            .validate(&create_in("team"))
            .await
            .expect_err("terminating");
        assert_eq!(status.code, 403);

        // A namespace deleted through this apiserver is read from storage at
        // once, before the watch could tell.
        storage
            .create("/registry/namespaces/other", namespace("other", false))
            .await
            .expect("namespace");
        eventually("the cache learns it", async || {
            plugin.cache.phase("other").is_some()
        })
        .await;
        let delete = Attributes {
            operation: Operation::Delete,
            resource: "namespaces",
            namespace: None,
            name: "other",
            ..create_in("")
        };
        plugin.validate(&delete).await.expect("delete admitted");
        let current = storage
            .get("/registry/namespaces/other")
            .await
            .expect("stored");
        storage
            .update(
                "/registry/namespaces/other",
                current.mod_revision,
                namespace("other", true),
            )
            .await
            .expect("terminating");
        let reads = storage.gets();
        let status = plugin
            .validate(&create_in("other"))
            .await
            .expect_err("terminating");
        assert_eq!(status.code, 403);
        assert_eq!(storage.gets(), reads + 1, "a live lookup");
    }
}
