//! The `apps/v1` group's kinds.

pub mod controller_revision;
pub mod daemonset;
pub mod deployment;
pub mod replicaset;
pub mod statefulset;
pub mod workload;
