//! Admission (mirrors `k8s.io/apiserver/pkg/admission`): checks a write must
//! pass after decoding and before it is stored, such as NamespaceLifecycle.
//! Plugins are chained; the first refusal answers the request.

use std::sync::Arc;

use crate::status::Status;

/// What is being written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Create,
    Update,
    Delete,
}

/// The request an admission plugin judges (`admission.Attributes`).
#[derive(Debug, Clone, Copy)]
pub struct Attributes<'a> {
    pub operation: Operation,
    pub group: &'a str,
    pub resource: &'a str,
    pub subresource: Option<&'a str>,
    /// The object's namespace; `None` for cluster-scoped resources.
    pub namespace: Option<&'a str>,
    pub name: &'a str,
    pub dry_run: bool,
}

/// One admission plugin (`admission.ValidationInterface`).
#[async_trait::async_trait]
pub trait Plugin: Send + Sync {
    /// Refuses the write with a `Status`, or lets it through.
    async fn validate(&self, attributes: &Attributes<'_>) -> Result<(), Status>;
}

/// The configured plugins, in order.
#[derive(Clone, Default)]
pub struct Chain {
    plugins: Vec<Arc<dyn Plugin>>,
}

impl Chain {
    pub fn new(plugins: Vec<Arc<dyn Plugin>>) -> Self {
        Chain { plugins }
    }

    pub async fn validate(&self, attributes: &Attributes<'_>) -> Result<(), Status> {
        for plugin in &self.plugins {
            plugin.validate(attributes).await?;
        }
        Ok(())
    }
}

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chain")
            .field("plugins", &self.plugins.len())
            .finish()
    }
}
