//! Tracing options (`options.TracingOptions`): OpenTelemetry export config.

use std::path::PathBuf;

use clap::Args;

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Traces flags")]
pub struct TracesOptions {
    /// File with apiserver tracing configuration. [parsed and validated only: not implemented yet]
    #[arg(long, value_name = "string")]
    pub tracing_config_file: Option<PathBuf>,
}

impl TracesOptions {
    pub fn validate(&self) -> Vec<String> {
        match &self.tracing_config_file {
            Some(path) if !path.is_file() => {
                vec![format!(
                    "--tracing-config-file {}: no such file",
                    path.display()
                )]
            }
            _ => Vec::new(),
        }
    }
}
