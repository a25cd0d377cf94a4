//! `--authorization-mode=Node` (mirrors `plugin/pkg/auth/authorizer/node`):
//! the graph of what each node's pods reference, kept from storage by an
//! informer, and the authorizer that reads it.

pub mod authorizer;
pub mod graph;

pub use authorizer::NodeAuthorizer;
pub use graph::NodeGraph;
