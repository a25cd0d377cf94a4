//! Controllers that run inside the apiserver process: the namespace
//! finalizer (deleting a namespace's contents), the event TTL sweeper, the
//! service allocation repair loop and the `default/kubernetes` endpoint
//! reconciler.

pub mod endpoint_reconciler;
pub mod event_ttl;
pub mod namespace;
pub mod service_repair;
