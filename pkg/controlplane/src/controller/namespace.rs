//! The namespace controller (`pkg/controller/namespace`): once a namespace
//! is Terminating, deletes everything in it, waits until objects held by
//! finalizers are gone, then removes the `kubernetes` finalizer so the
//! namespace itself goes.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use k8s_openapi::api::core::v1::Namespace;

use apiserver::endpoints::dynamic::DynamicResources;
use apiserver::registry::rest::{DeleteOptions, ListOptions, PropagationPolicy, Subresource};
use apiserver::registry::{RestStorage, Store};
use apiserver_storage::{Storage, WatchEvent, WatchOptions};

use crate::registry::core::namespace::NamespaceStrategy;

/// The finalizer that holds a namespace until its contents are deleted.
pub const FINALIZER_KUBERNETES: &str = "kubernetes";

/// How often a namespace whose contents are still held by finalizers is
/// looked at again.
const RETRY_INTERVAL: Duration = Duration::from_secs(1);

pub struct NamespaceController {
    pub storage: Arc<dyn Storage>,
    pub namespaces: Arc<Store<NamespaceStrategy>>,
    /// Every namespaced built-in resource's store.
    pub contents: Vec<Arc<dyn RestStorage>>,
    /// The custom resources served now; the namespaced ones are contents too.
    pub custom: Arc<DynamicResources>,
}

impl NamespaceController {
    /// Runs until the process ends: handles Terminating namespaces found at
    /// start and every one that becomes Terminating later.
    pub async fn run(self: Arc<Self>) {
        loop {
            if let Err(err) = self.watch_once().await {
                tracing::warn!("namespace controller: {err}; restarting its watch");
            }
            tokio::time::sleep(RETRY_INTERVAL).await;
        }
    }

    async fn watch_once(self: &Arc<Self>) -> anyhow::Result<()> {
        let (existing, revision) = self
            .namespaces
            .list_objects(None)
            .await
            .map_err(|status| anyhow::anyhow!(status.message))?;
        for ns in existing {
            self.maybe_finalize(ns);
        }
        let mut events = self
            .storage
            .watch(
                "/registry/namespaces/",
                WatchOptions {
                    revision: Some(revision),
                    recursive: true,
                },
            )
            .await?;
        while let Some(event) = events.next().await {
            if let WatchEvent::Added(kv) | WatchEvent::Modified { current: kv, .. } = event?
                && let Ok(ns) = serde_json::from_slice::<Namespace>(&kv.value)
            {
                self.maybe_finalize(ns);
            }
        }
        Ok(())
    }

    fn maybe_finalize(self: &Arc<Self>, ns: Namespace) {
        if ns.metadata.deletion_timestamp.is_none() {
            return;
        }
        let Some(name) = ns.metadata.name else { return };
        let controller = self.clone();
        tokio::spawn(async move {
            loop {
                match controller.finalize(&name).await {
                    Ok(true) => return,
                    Ok(false) => {}
                    Err(err) => {
                        tracing::warn!(namespace = %name, "deleting the namespace's contents: {err}")
                    }
                }
                tokio::time::sleep(RETRY_INTERVAL).await;
            }
        });
    }

    /// Deletes the namespace's contents; once nothing is left, drops the
    /// `kubernetes` finalizer. `Ok(true)` when done (or the namespace is gone).
    pub async fn finalize(&self, name: &str) -> anyhow::Result<bool> {
        let delete = DeleteOptions {
            propagation_policy: Some(PropagationPolicy::Background),
            ..DeleteOptions::default()
        };
        let mut remaining = 0usize;
        let custom = self.custom.snapshot();
        let custom = custom.stores().filter(|store| store.info().namespaced);
        for store in self.contents.iter().chain(custom) {
            store
                .delete_collection(Some(name), &ListOptions::default(), &delete)
                .await
                .map_err(|status| anyhow::anyhow!(status.message))?;
            // One object left is enough to know the namespace is not empty.
            let one = ListOptions {
                limit: Some(std::num::NonZeroUsize::MIN),
                ..ListOptions::default()
            };
            let left = Arc::clone(store)
                .list(Some(name), &one)
                .await
                .map_err(|status| anyhow::anyhow!(status.message))?
                .body
                .into_bytes()
                .await
                .map_err(|status| anyhow::anyhow!(status.message))?;
            let list: serde_json::Value = serde_json::from_slice(&left)?;
            remaining += list["items"].as_array().map_or(0, Vec::len);
        }
        if remaining > 0 {
            return Ok(false);
        }
        let result = self
            .namespaces
            .update_object(None, name, Subresource::System, false, |current| {
                let mut ns = current.clone();
                if let Some(spec) = ns.spec.as_mut()
                    && let Some(finalizers) = spec.finalizers.as_mut()
                {
                    finalizers.retain(|f| f != FINALIZER_KUBERNETES);
                }
                Ok(ns)
            })
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(status) if status.code == 404 => Ok(true),
            Err(status) => Err(anyhow::anyhow!(status.message)),
        }
    }
}
