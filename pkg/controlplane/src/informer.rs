//! List-and-watch of one storage prefix (upstream's reflector feeding an
//! informer): a [`Handler`] gets the whole list, then every change, and is
//! told when its view is stale; the task lists again after a watch ends.
//! The namespace cache and the RBAC index are kept this way.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;

use apiserver_storage::{
    KeyValue, ListOptions, Revision, Storage, StorageError, WatchEvent, WatchOptions,
};

/// How long to wait before listing again after a watch ended.
const RESYNC_BACKOFF: Duration = Duration::from_secs(1);

/// What an informer feeds.
pub trait Handler: Send + Sync + 'static {
    /// Everything under the prefix at `revision`: forget what was known.
    fn replace(&self, items: &[KeyValue], revision: Revision);
    /// An object was created or changed.
    fn apply(&self, kv: &KeyValue);
    /// An object was deleted (`previous` is its last value).
    fn remove(&self, previous: &KeyValue);
    /// The watch ended: what the handler knows may be stale until the next
    /// [`Handler::replace`].
    fn stale(&self);
}

/// Keeps `handler` in step with `prefix` until the task is aborted.
pub fn spawn<H: Handler>(
    storage: Arc<dyn Storage>,
    prefix: &'static str,
    handler: Arc<H>,
) -> AbortOnDrop {
    AbortOnDrop(tokio::spawn(async move {
        loop {
            if let Err(err) = list_and_watch(&*storage, prefix, &*handler).await {
                tracing::debug!(prefix, error = %err, "informer: listing again");
            }
            handler.stale();
            tokio::time::sleep(RESYNC_BACKOFF).await;
        }
    }))
}

async fn list_and_watch(
    storage: &dyn Storage,
    prefix: &str,
    handler: &dyn Handler,
) -> Result<(), StorageError> {
    let mut items = Vec::new();
    let mut options = ListOptions::default();
    let revision = loop {
        let page = storage.list(prefix, options).await?;
        items.extend(page.items);
        match page.continue_token {
            Some(token) => {
                options = ListOptions {
                    continue_token: Some(token),
                    ..ListOptions::default()
                }
            }
            None => break page.revision,
        }
    };
    let mut watch = storage
        .watch(
            prefix,
            WatchOptions {
                revision: Some(revision),
                recursive: true,
            },
        )
        .await?;
    handler.replace(&items, revision);
    drop(items);
    while let Some(event) = watch.next().await {
        match event? {
            WatchEvent::Deleted { previous, .. } => handler.remove(&previous),
            WatchEvent::Added(kv) | WatchEvent::Modified { current: kv, .. } => handler.apply(&kv),
            WatchEvent::Progress(_) => {}
        }
    }
    Ok(())
}

/// Ends an informer's task when its owner goes.
#[derive(Debug)]
pub struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
