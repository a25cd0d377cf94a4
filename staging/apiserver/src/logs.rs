//! Logging through `tracing`: `-v` maps klog verbosity to levels (0-1 info,
//! 2-4 debug, 5+ trace), `--logging-format` picks text or JSON, on stderr.

use tracing_subscriber::EnvFilter;

use crate::options::{LoggingFormat, LogsOptions};

/// The tracing level for a klog verbosity.
pub fn level_for(verbosity: i32) -> tracing::Level {
    match verbosity {
        i32::MIN..=1 => tracing::Level::INFO,
        2..=4 => tracing::Level::DEBUG,
        _ => tracing::Level::TRACE,
    }
}

/// Installs the global subscriber; a second call is a no-op.
pub fn init(options: &LogsOptions) {
    let level = level_for(options.verbosity);
    // Dependencies stay at warn unless -v is high; RUST_LOG overrides.
    let default = if options.verbosity >= 5 {
        level.to_string().to_lowercase()
    } else {
        format!("warn,apiserver={level},kube_apiserver={level}").to_lowercase()
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match options.logging_format {
        LoggingFormat::Text => builder.with_ansi(false).try_init(),
        LoggingFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}
