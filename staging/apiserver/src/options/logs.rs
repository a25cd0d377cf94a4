//! Logging options (`logsapi.LoggingConfiguration`): verbosity, format,
//! flush frequency. Applied by `crate::logs::init`.

use std::fmt;
use std::str::FromStr;

use clap::{ArgAction, Args};

use crate::flag::{Duration, parse_bool};

/// `--logging-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LoggingFormat {
    #[default]
    Text,
    Json,
}

impl FromStr for LoggingFormat {
    type Err = String;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        match input {
            "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            _ => Err(format!(
                "format: Unsupported value: {input:?}: supported values: \"json\", \"text\""
            )),
        }
    }
}

impl fmt::Display for LoggingFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Text => "text",
            Self::Json => "json",
        })
    }
}

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Logs flags")]
pub struct LogsOptions {
    /// number for the log level verbosity (0-1: info, 2-4: debug, 5+: trace)
    #[arg(
        short = 'v',
        long = "v",
        value_name = "Level",
        default_value_t = 0,
        allow_negative_numbers = true
    )]
    pub verbosity: i32,

    /// comma-separated list of pattern=N settings for file-filtered logging (only works for text log format) [parsed only]
    #[arg(long, value_name = "pattern=N", value_delimiter = ',')]
    pub vmodule: Vec<String>,

    /// Sets the log format. Permitted formats: "json", "text".
    #[arg(long, value_name = "string", default_value_t = LoggingFormat::Text)]
    pub logging_format: LoggingFormat,

    /// Maximum number of seconds between log flushes
    #[arg(long, value_name = "duration", default_value = "5s")]
    pub log_flush_frequency: Duration,

    /// [Alpha] In JSON format with split output streams, the info messages can be buffered for a while to increase performance. [parsed only]
    #[arg(long, value_name = "quantity", default_value = "0")]
    pub log_json_info_buffer_size: String,

    /// [Alpha] In JSON format, write error messages to stderr and info messages to stdout. [parsed only]
    #[arg(long, value_name = "true|false", action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", value_parser = parse_bool)]
    pub log_json_split_stream: bool,

    /// [Alpha] In text format with split output streams, the info messages can be buffered for a while to increase performance. [parsed only]
    #[arg(long, value_name = "quantity", default_value = "0")]
    pub log_text_info_buffer_size: String,

    /// [Alpha] In text format, write error messages to stderr and info messages to stdout. [parsed only]
    #[arg(long, value_name = "true|false", action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", value_parser = parse_bool)]
    pub log_text_split_stream: bool,
}

impl LogsOptions {
    pub fn validate(&self) -> Vec<String> {
        let mut errors = Vec::new();
        if self.verbosity < 0 {
            errors.push(format!(
                "-v {}: verbosity must be non-negative",
                self.verbosity
            ));
        }
        if self.log_flush_frequency.is_negative() || self.log_flush_frequency == Duration::ZERO {
            errors.push("--log-flush-frequency must be positive".to_string());
        }
        for entry in &self.vmodule {
            if !entry
                .split_once('=')
                .is_some_and(|(p, n)| !p.is_empty() && n.parse::<u32>().is_ok())
            {
                errors.push(format!("--vmodule {entry:?}: expected pattern=N"));
            }
        }
        if self.logging_format == LoggingFormat::Text && self.log_json_split_stream {
            errors.push("--log-json-split-stream requires --logging-format=json".to_string());
        }
        errors
    }
}
