//! The `apps/v1` group's kinds.

pub mod daemonset;
pub mod deployment;
pub mod replicaset;
pub mod statefulset;
pub mod workload;
