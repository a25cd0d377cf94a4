//! NamespaceLifecycle (`plugin/pkg/admission/namespace/lifecycle`): no new
//! objects in a namespace that does not exist or is being terminated, and
//! the namespaces the system needs cannot be deleted.

use std::sync::Arc;

use k8s_openapi::api::core::v1::Namespace;

use apiserver::admission::{Attributes, Operation, Plugin};
use apiserver::status::Status;
use apiserver_storage::Storage;

/// Namespaces that always exist and may not be deleted.
pub const IMMORTAL_NAMESPACES: [&str; 3] = ["default", "kube-system", "kube-public"];

/// Reads namespaces straight from storage (the namespace store itself is
/// built with this plugin in its admission chain).
pub struct NamespaceLifecycle {
    storage: Arc<dyn Storage>,
}

impl NamespaceLifecycle {
    pub fn new(storage: Arc<dyn Storage>) -> Self {
        NamespaceLifecycle { storage }
    }

    async fn namespace(&self, name: &str) -> Result<Option<Namespace>, Status> {
        match self
            .storage
            .get(&format!("/registry/namespaces/{name}"))
            .await
        {
            Ok(kv) => serde_json::from_slice(&kv.value)
                .map(Some)
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
        let (Operation::Create, Some(namespace)) = (attrs.operation, attrs.namespace) else {
            return Ok(());
        };
        match self.namespace(namespace).await? {
            None => Err(Status::not_found("", "namespaces", namespace)),
            Some(ns)
                if ns.metadata.deletion_timestamp.is_some()
                    || ns.status.as_ref().and_then(|s| s.phase.as_deref())
                        == Some("Terminating") =>
            {
                Err(Status::forbidden_resource(
                    attrs.group,
                    attrs.resource,
                    attrs.name,
                    &format!(
                        "unable to create new content in namespace {namespace} because it is being terminated"
                    ),
                ))
            }
            Some(_) => Ok(()),
        }
    }
}
