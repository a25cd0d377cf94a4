//! Controllers that run inside the apiserver process: the namespace
//! finalizer (deleting a namespace's contents), the event TTL sweeper, the
//! service allocation repair loop, the `default/kubernetes` endpoint
//! reconciler, cluster role aggregation, the `default` service account
//! of every namespace and the garbage collector of dependents; the work
//! queue controllers reconcile their keys from.

pub mod cluster_role_aggregation;
pub mod endpoint_reconciler;
pub mod event_ttl;
pub mod garbage_collector;
pub mod namespace;
pub mod service_account;
pub mod service_repair;
pub mod work_queue;
