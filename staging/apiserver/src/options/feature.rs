//! Feature options (`options.FeatureOptions`): profiling and debug socket.

use std::path::PathBuf;

use clap::{ArgAction, Args};

use crate::flag::parse_bool;

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Features flags")]
pub struct FeatureOptions {
    /// Enable profiling via web interface host:port/debug/pprof/ [parsed only: there are no pprof endpoints in this server]
    #[arg(long, value_name = "true|false", action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_value = "true", default_missing_value = "true", value_parser = parse_bool)]
    pub profiling: bool,

    /// Enable block profiling, if profiling is enabled [parsed only]
    #[arg(long, value_name = "true|false", action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", value_parser = parse_bool)]
    pub contention_profiling: bool,

    /// Use an unprotected (no authn/authz) unix-domain socket for profiling with the given path [parsed only]
    #[arg(long, value_name = "string")]
    pub debug_socket_path: Option<PathBuf>,
}

impl FeatureOptions {
    pub fn validate(&self) -> Vec<String> {
        let mut errors = Vec::new();
        if self.contention_profiling && !self.profiling {
            errors.push("--contention-profiling requires --profiling".to_string());
        }
        errors
    }
}
