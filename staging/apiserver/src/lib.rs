//! The generic API-server library, mirroring `k8s.io/apiserver`: option
//! groups with their flags and validation, the secure server with its filter
//! chain, health/version/metrics endpoints, and the `Status` error shape.

pub mod admission;
pub mod audit;
pub mod authentication;
pub mod authorization;
pub mod cpu_work;
pub mod endpoints;
pub mod filters;
pub mod flag;
pub mod healthz;
pub mod logs;
pub mod metrics;
pub mod options;
pub mod query;
pub mod registry;
pub mod request_info;
pub mod server;
pub mod status;

pub use status::Status;
