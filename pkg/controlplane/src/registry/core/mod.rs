//! The core (legacy, `v1`) group's kinds, and the limit config maps and
//! secrets share (`core.MaxSecretSize`).

pub mod configmap;
pub mod endpoints;
pub mod event;
pub mod limit_range;
pub mod namespace;
pub mod node;
pub mod persistent_volume;
pub mod persistent_volume_claim;
pub mod pod;
pub mod pod_template;
pub mod replication_controller;
pub mod resource_quota;
pub mod secret;
pub mod service;
pub mod service_account;

/// `core.MaxSecretSize`: the most data a secret or config map holds.
pub const MAX_SECRET_SIZE: usize = 1024 * 1024;
