//! The core (legacy, `v1`) group's kinds.

pub mod configmap;
pub mod endpoints;
pub mod event;
pub mod namespace;
pub mod node;
pub mod pod;
pub mod replication_controller;
pub mod secret;
pub mod service;
pub mod service_account;
