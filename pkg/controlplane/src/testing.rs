//! What the crate's unit tests share: an embedded store in a temporary
//! directory that counts its point reads, so a test can tell whether a path
//! reads storage at all.

use std::sync::atomic::{AtomicUsize, Ordering};

use apiserver_storage::{
    EmbeddedOptions, EmbeddedStorage, KeyValue, ListOptions, ListResult, Result, Revision, Storage,
    WatchOptions, WatchStream,
};
use bytes::Bytes;

/// An embedded store that counts `get`s.
#[derive(Debug)]
pub struct CountingGets {
    inner: EmbeddedStorage,
    gets: AtomicUsize,
    _dir: tempfile::TempDir,
}

impl CountingGets {
    pub async fn open() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        CountingGets {
            inner: EmbeddedStorage::open(dir.path(), EmbeddedOptions::default())
                .await
                .expect("embedded store"),
            gets: AtomicUsize::new(0),
            _dir: dir,
        }
    }

    /// How many `get`s so far.
    pub fn gets(&self) -> usize {
        self.gets.load(Ordering::SeqCst)
    }
}

#[async_trait::async_trait]
impl Storage for CountingGets {
    async fn get(&self, key: &str) -> Result<KeyValue> {
        self.gets.fetch_add(1, Ordering::SeqCst);
        self.inner.get(key).await
    }
    async fn list(&self, prefix: &str, opts: ListOptions) -> Result<ListResult> {
        self.inner.list(prefix, opts).await
    }
    async fn create(&self, key: &str, value: Bytes) -> Result<KeyValue> {
        self.inner.create(key, value).await
    }
    async fn update(&self, key: &str, expected: Revision, value: Bytes) -> Result<KeyValue> {
        self.inner.update(key, expected, value).await
    }
    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<(KeyValue, Revision)> {
        self.inner.delete(key, expected).await
    }
    async fn watch(&self, key: &str, opts: WatchOptions) -> Result<WatchStream> {
        self.inner.watch(key, opts).await
    }
    async fn check_health(&self) -> Result<()> {
        self.inner.check_health().await
    }
    async fn current_revision(&self) -> Result<Revision> {
        self.inner.current_revision().await
    }
    async fn compact(&self, revision: Revision) -> Result<()> {
        self.inner.compact(revision).await
    }
}
