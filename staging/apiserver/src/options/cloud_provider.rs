//! Cloud provider options (`kubeoptions.CloudProviderOptions`). In-tree cloud
//! providers are gone from Kubernetes 1.32: only "" and "external" remain.

use std::path::PathBuf;

use clap::Args;

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Cloud provider flags")]
pub struct CloudProviderOptions {
    /// The path to the cloud provider configuration file. Empty string for no configuration file. [parsed only]
    #[arg(long, value_name = "string")]
    pub cloud_config: Option<PathBuf>,

    /// The provider for cloud services. Empty string for no provider. [parsed and validated only]
    #[arg(
        long,
        value_name = "string",
        default_value = "",
        hide_default_value = true
    )]
    pub cloud_provider: String,
}

impl CloudProviderOptions {
    pub fn validate(&self) -> Vec<String> {
        let mut errors = Vec::new();
        if !self.cloud_provider.is_empty() && self.cloud_provider != "external" {
            errors.push(format!(
                "cloud provider {:?} is not supported: in-tree cloud providers were removed; use \"external\" or leave it empty",
                self.cloud_provider
            ));
        }
        if self.cloud_provider.is_empty() && self.cloud_config.is_some() {
            errors.push("--cloud-config requires --cloud-provider".to_string());
        }
        errors
    }
}
