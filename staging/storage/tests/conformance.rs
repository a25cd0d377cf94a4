//! The storage conformance suite against every backend, one test per case:
//! the embedded store on a fresh temporary data directory, and etcd on a
//! real etcd process per case (compaction is cluster-wide, so cases that
//! compact must not share a cluster).

mod embedded {
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
}

mod etcd {
    use std::sync::{Arc, Mutex};

    use apiserver_storage::conformance::Factory;
    use apiserver_storage::etcd::test_server::EtcdServer;
    use apiserver_storage::{EtcdStorage, Storage};

    /// Keeps every cluster it started until the case ends (a case drops
    /// its location once the store is open).
    #[derive(Default)]
    struct EtcdFactory {
        servers: Mutex<Vec<Arc<EtcdServer>>>,
    }

    impl Factory for EtcdFactory {
        /// A cluster of its own.
        type Location = Arc<EtcdServer>;

        async fn location(&self) -> Arc<EtcdServer> {
            let server = Arc::new(EtcdServer::start().await);
            self.servers
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(Arc::clone(&server));
            server
        }

        /// A non-default prefix, so every case exercises the re-rooting of keys.
        async fn open(
            &self,
            server: &Arc<EtcdServer>,
        ) -> apiserver_storage::Result<Arc<dyn Storage>> {
            let store = EtcdStorage::connect(&server.config("/conformance")).await?;
            Ok(Arc::new(store))
        }
    }

    apiserver_storage::storage_conformance_tests!(EtcdFactory::default());
}
