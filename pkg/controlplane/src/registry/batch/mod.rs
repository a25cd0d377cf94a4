//! The `batch/v1` group's kinds.

pub mod job;
