//! The `discovery.k8s.io/v1` group's kinds.

pub mod endpoint_slice;
