//! Egress selector options (`options.EgressSelectorOptions`): the config file
//! naming proxies for traffic to the cluster, etcd and the control plane.

use std::path::PathBuf;

use clap::Args;

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Egress selector flags")]
pub struct EgressSelectorOptions {
    /// File with apiserver egress selector configuration. [parsed and validated only: not implemented yet]
    #[arg(long, value_name = "string")]
    pub egress_selector_config_file: Option<PathBuf>,
}

impl EgressSelectorOptions {
    pub fn validate(&self) -> Vec<String> {
        match &self.egress_selector_config_file {
            Some(path) if !path.is_file() => vec![format!(
                "--egress-selector-config-file {}: no such file",
                path.display()
            )],
            _ => Vec::new(),
        }
    }
}
