//! The component's `ServerRunOptions`: the generic groups plus kube-apiserver's
//! own fields (`Extra`, the "Misc flags"), with upstream's flag sections,
//! defaults (`new_server_run_options`), `complete` and `validate`.

pub mod completion;
pub mod extra;
pub mod parse_only;
pub mod validation;

use clap::{ArgAction, Args, FromArgMatches, Parser};

use apiserver::options::{
    AdmissionOptions, ApiEnablementOptions, AuditOptions, AuthenticationOptions,
    AuthorizationOptions, CloudProviderOptions, EgressSelectorOptions, EtcdOptions, FeatureOptions,
    LogsOptions, MetricsOptions, SecureServingOptions, ServerRunOptions as GenericServerRunOptions,
    TracesOptions,
};

pub use completion::CompletedOptions;
pub use extra::Extra;

/// Every flag of `kube-apiserver`, in upstream's named sections and order.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "kube-apiserver",
    disable_help_flag = true,
    disable_version_flag = true,
    allow_negative_numbers = true,
    next_display_order = None,
    override_usage = "kube-apiserver [flags]",
    help_template = "{about-with-newline}\nUsage:\n  {usage}\n\n{all-args}"
)]
pub struct ServerRunOptions {
    #[command(flatten)]
    pub generic: GenericServerRunOptions,
    #[command(flatten)]
    pub etcd: EtcdOptions,
    #[command(flatten)]
    pub secure_serving: SecureServingOptions,
    #[command(flatten)]
    pub audit: AuditOptions,
    #[command(flatten)]
    pub features: FeatureOptions,
    #[command(flatten)]
    pub authentication: AuthenticationOptions,
    #[command(flatten)]
    pub authorization: AuthorizationOptions,
    #[command(flatten)]
    pub cloud_provider: CloudProviderOptions,
    #[command(flatten)]
    pub api_enablement: ApiEnablementOptions,
    #[command(flatten)]
    pub egress_selector: EgressSelectorOptions,
    #[command(flatten)]
    pub admission: AdmissionOptions,
    #[command(flatten)]
    pub metrics: MetricsOptions,
    #[command(flatten)]
    pub logs: LogsOptions,
    #[command(flatten)]
    pub traces: TracesOptions,
    #[command(flatten)]
    pub extra: Extra,
    #[command(flatten)]
    pub global: GlobalFlags,
    /// Positional arguments, rejected with upstream's message.
    #[arg(hide = true, num_args = 0.., allow_hyphen_values = false)]
    pub args: Vec<String>,
}

/// `--help` and `--version` (upstream's "Global flags").
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Global flags")]
pub struct GlobalFlags {
    /// help for kube-apiserver
    #[arg(short = 'h', long, action = ArgAction::Help)]
    pub help: Option<bool>,

    /// --version, --version=raw prints version information and quits
    #[arg(long, value_name = "version[=true]", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub version: Option<String>,
}

impl ServerRunOptions {
    /// Parses argv (first element: the program name).
    pub fn try_parse_args<I, T>(args: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let mut matches = crate::app::new_api_server_command().try_get_matches_from(args)?;
        Self::from_arg_matches_mut(&mut matches)
    }
}

/// `NewServerRunOptions`: every option at its default.
pub fn new_server_run_options() -> ServerRunOptions {
    match ServerRunOptions::try_parse_args(["kube-apiserver"]) {
        Ok(options) => options,
        // The defaults are literals checked by the tests; parsing them cannot fail.
        Err(err) => unreachable!("default options do not parse: {err}"),
    }
}

#[cfg(test)]
mod tests;
