//! The generic server's option groups, one module each, mirroring
//! `k8s.io/apiserver/pkg/server/options` (and the kube-apiserver groups that
//! are not component-specific). Every group is a `clap::Args` with the
//! upstream flag names and defaults, and a `validate` returning every error.

pub mod admission;
pub mod api_enablement;
pub mod audit;
pub mod authentication;
pub mod authorization;
pub mod cloud_provider;
pub mod egress_selector;
pub mod etcd;
pub mod feature;
pub mod logs;
pub mod metrics;
pub mod secure_serving;
pub mod server_run;
pub mod traces;

pub use admission::AdmissionOptions;
pub use api_enablement::ApiEnablementOptions;
pub use audit::AuditOptions;
pub use authentication::AuthenticationOptions;
pub use authorization::{AuthorizationMode, AuthorizationOptions};
pub use cloud_provider::CloudProviderOptions;
pub use egress_selector::EgressSelectorOptions;
pub use etcd::EtcdOptions;
pub use feature::FeatureOptions;
pub use logs::{LoggingFormat, LogsOptions};
pub use metrics::MetricsOptions;
pub use secure_serving::SecureServingOptions;
pub use server_run::ServerRunOptions;
pub use traces::TracesOptions;

/// Appended to the help of options that are parsed and validated but do not
/// change the server's behaviour yet.
pub const NOT_IMPLEMENTED: &str = "[parsed and validated only: not implemented yet]";
