//! What validating a service-account token looks up (upstream's
//! `ServiceAccountTokenGetter`): the service account, and the pod, secret or
//! node the token is bound to, each by its UID and deletion time. Every kind
//! is kept by a watch of its storage prefix, so an authenticated request
//! reads no storage; an object the cache does not hold (created a moment
//! ago, or a watch that is behind or relisting) is read from storage.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde::Deserialize;

use apiserver_storage::{KeyValue, Revision, Storage, StorageError};

use crate::informer::{self, AbortOnDrop, Handler};

/// The kinds a token names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BoundKind {
    ServiceAccount,
    Pod,
    Secret,
    Node,
}

impl BoundKind {
    const ALL: [BoundKind; 4] = [
        BoundKind::ServiceAccount,
        BoundKind::Pod,
        BoundKind::Secret,
        BoundKind::Node,
    ];

    fn prefix(self) -> &'static str {
        match self {
            BoundKind::ServiceAccount => "/registry/serviceaccounts/",
            BoundKind::Pod => "/registry/pods/",
            BoundKind::Secret => "/registry/secrets/",
            BoundKind::Node => "/registry/nodes/",
        }
    }

    /// The storage key of one object (nodes are cluster-scoped).
    fn key(self, namespace: &str, name: &str) -> String {
        match self {
            BoundKind::Node => format!("{}{name}", self.prefix()),
            _ => format!("{}{namespace}/{name}", self.prefix()),
        }
    }
}

/// What validation needs of an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub uid: String,
    /// `metadata.deletionTimestamp`, in seconds since the epoch.
    pub deletion_timestamp: Option<i64>,
}

/// Only the two fields of a stored object's metadata that validation needs
/// are decoded; the rest (spec, managed fields) is skipped unparsed, since
/// every pod write reaches this cache through the watch.
#[derive(Deserialize)]
struct MetadataOnly {
    #[serde(default)]
    metadata: IdentityFields,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct IdentityFields {
    #[serde(default)]
    uid: Option<String>,
    #[serde(default)]
    deletion_timestamp: Option<Time>,
}

fn identity(value: &[u8]) -> Option<Identity> {
    let object: MetadataOnly = serde_json::from_slice(value).ok()?;
    Some(Identity {
        uid: object.metadata.uid.unwrap_or_default(),
        deletion_timestamp: object.metadata.deletion_timestamp.map(|t| t.0.timestamp()),
    })
}

/// One kind's objects by storage key.
#[derive(Debug, Default)]
struct KindCache {
    objects: RwLock<HashMap<String, Identity>>,
    /// Listed and watching: a key the cache lacks does not exist (but may
    /// have been created since; see [`BoundObjects::get`]).
    synced: AtomicBool,
}

impl Handler for KindCache {
    fn replace(&self, items: &[KeyValue], _revision: Revision) {
        let fresh: HashMap<String, Identity> = items
            .iter()
            .filter_map(|kv| Some((kv.key.clone(), identity(&kv.value)?)))
            .collect();
        *self.objects.write().unwrap_or_else(|e| e.into_inner()) = fresh;
        self.synced.store(true, Ordering::Release);
    }

    fn apply(&self, kv: &KeyValue) {
        if let Some(identity) = identity(&kv.value) {
            let mut objects = self.objects.write().unwrap_or_else(|e| e.into_inner());
            objects.insert(kv.key.clone(), identity);
        }
    }

    fn remove(&self, previous: &KeyValue) {
        let mut objects = self.objects.write().unwrap_or_else(|e| e.into_inner());
        objects.remove(&previous.key);
    }

    fn stale(&self) {
        self.synced.store(false, Ordering::Release);
    }
}

/// The watched kinds, with storage behind them.
#[derive(Debug)]
pub struct BoundObjects {
    storage: Arc<dyn Storage>,
    caches: HashMap<BoundKind, Arc<KindCache>>,
    _watches: Vec<AbortOnDrop>,
}

impl BoundObjects {
    /// Starts watching every kind on the current runtime (the watches end
    /// when this is dropped).
    pub fn start(storage: &Arc<dyn Storage>) -> Arc<Self> {
        let mut caches = HashMap::new();
        let mut watches = Vec::new();
        for kind in BoundKind::ALL {
            let cache = Arc::new(KindCache::default());
            watches.push(informer::spawn(
                Arc::clone(storage),
                kind.prefix(),
                Arc::clone(&cache),
            ));
            caches.insert(kind, cache);
        }
        Arc::new(BoundObjects {
            storage: Arc::clone(storage),
            caches,
            _watches: watches,
        })
    }

    /// The object, or `None` when it does not exist. A cached object whose
    /// UID is not `expected_uid` is read again from storage, since the
    /// cache may not yet have seen it replaced.
    pub async fn get(
        &self,
        kind: BoundKind,
        namespace: &str,
        name: &str,
        expected_uid: &str,
    ) -> Result<Option<Identity>, StorageError> {
        let key = kind.key(namespace, name);
        if let Some(cache) = self.caches.get(&kind) {
            let cached = {
                let objects = cache.objects.read().unwrap_or_else(|e| e.into_inner());
                objects.get(&key).cloned()
            };
            if let Some(found) = cached
                && (expected_uid.is_empty() || found.uid == expected_uid)
            {
                return Ok(Some(found));
            }
        }
        match self.storage.get(&key).await {
            Ok(kv) => Ok(identity(&kv.value)),
            Err(StorageError::NotFound { .. }) => Ok(None),
            Err(err) => Err(err),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    use bytes::Bytes;
    use serde_json::json;

    use crate::testing::CountingGets;

    async fn put(storage: &Arc<dyn Storage>, key: &str, object: serde_json::Value) {
        storage
            .create(key, Bytes::from(object.to_string()))
            .await
            .expect("created");
    }

    #[tokio::test]
    async fn finds_objects_by_kind_and_uid_and_notices_deletes() {
        let counting = Arc::new(CountingGets::open().await);
        let storage: Arc<dyn Storage> = counting.clone();
        put(
            &storage,
            "/registry/serviceaccounts/ns/builder",
            json!({"metadata": {"name": "builder", "namespace": "ns", "uid": "sa-1"}}),
        )
        .await;
        put(
            &storage,
            "/registry/nodes/node-a",
            json!({"metadata": {"name": "node-a", "uid": "n-1", "deletionTimestamp": "2026-01-01T00:00:00Z"}}),
        )
        .await;
        let objects = BoundObjects::start(&storage);
        for _ in 0..200 {
            if objects
                .caches
                .values()
                .all(|c| c.synced.load(Ordering::Acquire))
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let reads = counting.gets();
        let account = objects
            .get(BoundKind::ServiceAccount, "ns", "builder", "sa-1")
            .await
            .expect("read");
        assert_eq!(account.map(|a| a.uid), Some("sa-1".to_string()));
        let node = objects
            .get(BoundKind::Node, "", "node-a", "")
            .await
            .expect("read")
            .expect("node");
        assert_eq!(node.deletion_timestamp, Some(1_767_225_600));
        assert_eq!(counting.gets(), reads, "a synced cache answers alone");
        assert_eq!(
            objects
                .get(BoundKind::Pod, "ns", "builder", "")
                .await
                .expect("read"),
            None,
            "kinds are kept apart"
        );

        // Created after the watch started: found at once through storage.
        put(
            &storage,
            "/registry/secrets/ns/token",
            json!({"metadata": {"name": "token", "namespace": "ns", "uid": "s-1"}}),
        )
        .await;
        let secret = objects
            .get(BoundKind::Secret, "ns", "token", "s-1")
            .await
            .expect("read");
        assert!(secret.is_some());

        // Deleted: gone from the cache once the watch delivers it.
        storage
            .delete("/registry/serviceaccounts/ns/builder", None)
            .await
            .expect("deleted");
        for _ in 0..200 {
            let account = objects
                .get(BoundKind::ServiceAccount, "ns", "builder", "sa-1")
                .await
                .expect("read");
            if account.is_none() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the deleted service account is still found");
    }

    #[test]
    fn identity_reads_uid_and_deletion_time_of_a_whole_stored_pod() {
        let pod = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {
                "name": "web", "namespace": "ns", "uid": "p-1",
                "deletionTimestamp": "2026-01-01T00:00:00Z",
                "labels": {"app": "web"},
                "managedFields": [{"manager": "kubectl", "operation": "Update",
                                   "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {}}}]
            },
            "spec": {"containers": [{"name": "c", "image": "nginx"}]}
        });
        let found = identity(pod.to_string().as_bytes()).expect("an identity");
        assert_eq!(found.uid, "p-1");
        assert_eq!(found.deletion_timestamp, Some(1_767_225_600));
        // No metadata: an object without a UID, not an error; not JSON: none.
        assert_eq!(identity(b"{}").map(|found| found.uid), Some(String::new()));
        assert!(identity(b"not json").is_none());
    }
}
