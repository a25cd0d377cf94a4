//! The strategy of every built-in kind (mirrors `pkg/registry`).

pub mod apiextensions;
pub mod apps;
pub mod authentication;
pub mod authorization;
pub mod batch;
pub mod coordination;
pub mod core;
pub mod discovery;
pub mod events;
pub mod policy;
pub mod rbac;
