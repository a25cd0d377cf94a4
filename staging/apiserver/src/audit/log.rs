//! The audit log backend (`--audit-log-path`): one JSON event per line,
//! written before the response is sent (blocking mode). `-` is stdout.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

use anyhow::Context;

use super::Event;

#[derive(Debug)]
pub struct LogBackend {
    sink: Mutex<Sink>,
}

#[derive(Debug)]
enum Sink {
    Stdout,
    File(File),
}

impl LogBackend {
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let sink = if path == Path::new("-") {
            Sink::Stdout
        } else {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).with_context(|| {
                    format!("creating the audit log directory {}", dir.display())
                })?;
            }
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("opening --audit-log-path {}", path.display()))?;
            Sink::File(file)
        };
        Ok(LogBackend {
            sink: Mutex::new(sink),
        })
    }

    /// Writes one event as a JSON line; failures are logged, not fatal
    /// (upstream's blocking mode also keeps serving).
    pub fn write(&self, event: &Event) {
        let mut line = match serde_json::to_vec(event) {
            Ok(line) => line,
            Err(err) => {
                tracing::error!(%err, "encoding an audit event");
                return;
            }
        };
        line.push(b'\n');
        let mut sink = match self.sink.lock() {
            Ok(sink) => sink,
            Err(poisoned) => poisoned.into_inner(),
        };
        let result = match &mut *sink {
            Sink::Stdout => std::io::stdout().lock().write_all(&line),
            Sink::File(file) => file.write_all(&line),
        };
        if let Err(err) = result {
            tracing::error!(%err, "writing an audit event");
        }
    }
}
