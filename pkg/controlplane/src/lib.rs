//! The control plane's API on top of the generic server (mirrors
//! `k8s.io/kubernetes/pkg/registry` and `pkg/controlplane`): the strategy of
//! every built-in kind, service IP and node-port allocation, the objects that
//! exist at start, and the namespace and event-TTL controllers.

pub mod admission;
pub mod apiextensions;
pub mod authorizer;
pub mod bootstrap;
pub mod controller;
pub mod informer;
pub mod instance;
pub mod node;
pub mod printers;
pub mod rbac;
pub mod registry;
pub mod serviceaccount;
#[cfg(test)]
mod testing;

pub use instance::{Config, Instance};
