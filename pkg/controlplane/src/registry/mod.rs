//! The strategy of every built-in kind (mirrors `pkg/registry`).

pub mod apps;
pub mod core;
