//! Controllers that run inside the apiserver process: the namespace
//! finalizer (deleting a namespace's contents) and the event TTL sweeper.

pub mod event_ttl;
pub mod namespace;
