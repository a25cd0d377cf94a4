//! The service account controller (upstream's `serviceaccounts-controller`,
//! which the controller manager runs): every active namespace has a
//! `default` service account. It is created when a namespace appears and
//! again when it is deleted, and a full pass runs every minute.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use tokio::sync::Notify;

use apiserver::registry::Store;
use apiserver::status::Status;
use apiserver_storage::{KeyValue, Revision, Storage};

use crate::informer::{self, Handler};
use crate::registry::core::namespace::NamespaceStrategy;
use crate::registry::core::service_account::ServiceAccountStrategy;

/// The account every namespace gets.
pub const DEFAULT_SERVICE_ACCOUNT: &str = "default";

/// A full pass at least this often.
const RESYNC: Duration = Duration::from_secs(60);

const NAMESPACES_PREFIX: &str = "/registry/namespaces/";
const SERVICE_ACCOUNTS_PREFIX: &str = "/registry/serviceaccounts/";

pub struct ServiceAccountController {
    pub storage: Arc<dyn Storage>,
    pub namespaces: Arc<Store<NamespaceStrategy>>,
    pub accounts: Arc<Store<ServiceAccountStrategy>>,
}

/// The namespaces to look at, filled by the informers.
#[derive(Debug, Default)]
struct Queue {
    names: Mutex<BTreeSet<String>>,
    ready: Notify,
}

impl Queue {
    fn push(&self, namespace: &str) {
        self.names
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(namespace.to_string());
        self.ready.notify_one();
    }

    fn take(&self) -> BTreeSet<String> {
        std::mem::take(&mut *self.names.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// Namespaces that appear or change are queued.
struct NamespaceEvents(Arc<Queue>);

impl Handler for NamespaceEvents {
    fn replace(&self, items: &[KeyValue], _revision: Revision) {
        for kv in items {
            self.apply(kv);
        }
    }

    fn apply(&self, kv: &KeyValue) {
        if let Some(name) = kv.key.strip_prefix(NAMESPACES_PREFIX) {
            self.0.push(name);
        }
    }

    fn remove(&self, _previous: &KeyValue) {}

    fn stale(&self) {}
}

/// A deleted `default` account queues its namespace.
struct AccountEvents(Arc<Queue>);

impl Handler for AccountEvents {
    fn replace(&self, _items: &[KeyValue], _revision: Revision) {}

    fn apply(&self, _kv: &KeyValue) {}

    fn remove(&self, previous: &KeyValue) {
        if let Some((namespace, name)) = previous
            .key
            .strip_prefix(SERVICE_ACCOUNTS_PREFIX)
            .and_then(|rest| rest.split_once('/'))
            && name == DEFAULT_SERVICE_ACCOUNT
        {
            self.0.push(namespace);
        }
    }

    fn stale(&self) {}
}

fn terminating(namespace: &Namespace) -> bool {
    namespace.metadata.deletion_timestamp.is_some()
        || namespace.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Terminating")
}

impl ServiceAccountController {
    /// Runs until the process ends.
    pub async fn run(self) {
        let queue = Arc::new(Queue::default());
        let _namespaces = informer::spawn(
            Arc::clone(&self.storage),
            NAMESPACES_PREFIX,
            Arc::new(NamespaceEvents(Arc::clone(&queue))),
        );
        let _accounts = informer::spawn(
            Arc::clone(&self.storage),
            SERVICE_ACCOUNTS_PREFIX,
            Arc::new(AccountEvents(Arc::clone(&queue))),
        );
        loop {
            let names = match tokio::time::timeout(RESYNC, queue.ready.notified()).await {
                Ok(()) => queue.take(),
                Err(_) => match self.namespaces.list_objects(None).await {
                    Ok((all, _)) => all
                        .into_iter()
                        .filter_map(|namespace| namespace.metadata.name)
                        .collect(),
                    Err(status) => {
                        tracing::warn!(error = %status.message, "service accounts: listing namespaces");
                        continue;
                    }
                },
            };
            for namespace in names {
                if let Err(status) = self.ensure_default(&namespace).await {
                    tracing::warn!(namespace, error = %status.message, "service accounts: the default account");
                }
            }
        }
    }

    /// Creates `namespace`'s `default` account unless it exists or the
    /// namespace is gone or terminating.
    pub async fn ensure_default(&self, namespace: &str) -> Result<(), Status> {
        match self.namespaces.get_object(None, namespace).await {
            Ok(found) if !terminating(&found) => {}
            Ok(_) => return Ok(()),
            Err(status) if status.code == 404 => return Ok(()),
            Err(status) => return Err(status),
        }
        match self
            .accounts
            .get_object(Some(namespace), DEFAULT_SERVICE_ACCOUNT)
            .await
        {
            Ok(_) => return Ok(()),
            Err(status) if status.code == 404 => {}
            Err(status) => return Err(status),
        }
        let account = ServiceAccount {
            metadata: ObjectMeta {
                name: Some(DEFAULT_SERVICE_ACCOUNT.to_string()),
                ..ObjectMeta::default()
            },
            ..ServiceAccount::default()
        };
        match self
            .accounts
            .create_object(Some(namespace), account, false)
            .await
        {
            Ok(_) => Ok(()),
            // Another apiserver made it, or the namespace began terminating.
            Err(status)
                if status.reason == "AlreadyExists" || status.code == 403 || status.code == 404 =>
            {
                Ok(())
            }
            Err(status) => Err(status),
        }
    }
}
