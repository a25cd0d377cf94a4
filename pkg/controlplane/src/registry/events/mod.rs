//! The `events.k8s.io/v1` group's kind.

pub mod event;
