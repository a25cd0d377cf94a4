//! The storage conformance suite against the embedded backend, one test per
//! case, each on a fresh temporary data directory.

use std::sync::Arc;

use apiserver_storage::conformance::Factory;
use apiserver_storage::{EmbeddedOptions, EmbeddedStorage, Storage};

struct EmbeddedFactory;

impl Factory for EmbeddedFactory {
    type Location = tempfile::TempDir;

    async fn location(&self) -> tempfile::TempDir {
        tempfile::tempdir().expect("a temporary directory")
    }

    async fn open(
        &self,
        location: &tempfile::TempDir,
    ) -> apiserver_storage::Result<Arc<dyn Storage>> {
        let store = EmbeddedStorage::open(location.path(), EmbeddedOptions::default()).await?;
        Ok(Arc::new(store))
    }
}

apiserver_storage::storage_conformance_tests!(EmbeddedFactory);
