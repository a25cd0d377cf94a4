//! Auditing: the policy deciding how much of each request to record, the
//! `audit.k8s.io/v1` event, and the log backend that writes JSON lines.

pub mod event;
pub mod log;
pub mod policy;

pub use event::Event;
pub use log::LogBackend;
pub use policy::{Level, Policy};

/// What the audit filter needs: the policy and where events go.
#[derive(Debug)]
pub struct Auditor {
    pub policy: Policy,
    pub backend: LogBackend,
}
