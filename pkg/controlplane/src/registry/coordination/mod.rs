//! The `coordination.k8s.io/v1` group's kinds.

pub mod lease;
