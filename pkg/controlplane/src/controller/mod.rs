//! Controllers that run inside the apiserver process: the namespace
//! finalizer (deleting a namespace's contents), the event TTL sweeper and
//! the service allocation repair loop.

pub mod event_ttl;
pub mod namespace;
pub mod service_repair;
