//! Termination signals: SIGTERM or SIGINT start a graceful shutdown
//! (`SetupSignalHandler`); a second one exits at once with code 1.

use anyhow::Context;
use tokio::signal::unix::{SignalKind, signal};

/// Resolves on the first SIGTERM or SIGINT; a second one exits the process.
pub async fn termination() -> anyhow::Result<()> {
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    tokio::select! {
        _ = term.recv() => tracing::info!("received SIGTERM, shutting down"),
        _ = int.recv() => tracing::info!("received SIGINT, shutting down"),
    }
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => {},
            _ = int.recv() => {},
        }
        tracing::warn!("second termination signal: exiting immediately");
        std::process::exit(1);
    });
    Ok(())
}
