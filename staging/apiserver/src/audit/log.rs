//! The audit log backend (`--audit-log-path`): one JSON event per line,
//! written before the response is sent (blocking mode). `-` is stdout.
//! Rotation as upstream's lumberjack does it: past `--audit-log-maxsize` MB
//! the file is renamed to `<name>-<UTC time>.<ext>` (nanoseconds), and backups beyond
//! `--audit-log-maxbackup` or older than `--audit-log-maxage` days are removed.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use anyhow::Context;

use super::Event;

/// When to rotate and what to keep; zeros switch a limit off.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rotation {
    pub max_size_bytes: u64,
    pub max_backups: usize,
    pub max_age: Option<Duration>,
}

impl Rotation {
    /// From the flags: `--audit-log-maxsize` (MB), `--audit-log-maxbackup`,
    /// `--audit-log-maxage` (days); negative values were refused by validate.
    pub fn from_flags(max_size_mb: i64, max_backups: i64, max_age_days: i64) -> Self {
        Rotation {
            max_size_bytes: u64::try_from(max_size_mb).unwrap_or(0) * 1024 * 1024,
            max_backups: usize::try_from(max_backups).unwrap_or(0),
            max_age: u64::try_from(max_age_days)
                .ok()
                .filter(|d| *d > 0)
                .map(|d| Duration::from_secs(d * 24 * 3600)),
        }
    }
}

#[derive(Debug)]
pub struct LogBackend {
    sink: Mutex<Sink>,
}

#[derive(Debug)]
enum Sink {
    Stdout,
    File {
        file: File,
        path: PathBuf,
        size: u64,
        rotation: Rotation,
    },
}

fn open_append(path: &Path) -> anyhow::Result<(File, u64)> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening --audit-log-path {}", path.display()))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    Ok((file, size))
}

impl LogBackend {
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        Self::open_with_rotation(path, Rotation::default())
    }

    pub fn open_with_rotation(path: &Path, rotation: Rotation) -> anyhow::Result<Self> {
        let sink = if path == Path::new("-") {
            Sink::Stdout
        } else {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).with_context(|| {
                    format!("creating the audit log directory {}", dir.display())
                })?;
            }
            let (file, size) = open_append(path)?;
            Sink::File {
                file,
                path: path.to_path_buf(),
                size,
                rotation,
            }
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
            Sink::File {
                file,
                path,
                size,
                rotation,
            } => {
                let len = line.len() as u64;
                if rotation.max_size_bytes > 0 && *size > 0 && *size + len > rotation.max_size_bytes
                {
                    match rotate(path, *rotation) {
                        Ok((new_file, new_size)) => {
                            *file = new_file;
                            *size = new_size;
                        }
                        Err(err) => tracing::error!("rotating the audit log: {err:#}"),
                    }
                }
                let result = file.write_all(&line);
                if result.is_ok() {
                    *size += len;
                }
                result
            }
        };
        if let Err(err) = result {
            tracing::error!(%err, "writing an audit event");
        }
    }
}

/// Renames the current file to a timestamped backup, prunes old backups and
/// opens a fresh file.
fn rotate(path: &Path, rotation: Rotation) -> anyhow::Result<(File, u64)> {
    let (prefix, extension) = backup_parts(path);
    // Nanoseconds keep names unique and sorted by time even for rotations
    // in quick succession; a counter settles the (theoretical) rest.
    let stamp = jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H-%M-%S%.9f")
        .to_string();
    let mut backup = path.with_file_name(format!("{prefix}{stamp}{extension}"));
    let mut n = 1;
    while backup.exists() {
        backup = path.with_file_name(format!("{prefix}{stamp}-{n}{extension}"));
        n += 1;
    }
    std::fs::rename(path, &backup)
        .with_context(|| format!("renaming {} to {}", path.display(), backup.display()))?;
    prune(path, rotation);
    open_append(path)
}

/// `audit.log` → (`audit-`, `.log`).
fn backup_parts(path: &Path) -> (String, String) {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let extension = path
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    (format!("{stem}-"), extension)
}

/// The backups of `path`, newest first (their names sort by time).
pub fn backups(path: &Path) -> Vec<PathBuf> {
    let (prefix, extension) = backup_parts(path);
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .filter(|p| {
            p.file_name().map(|n| n.to_string_lossy()).is_some_and(|n| {
                n.starts_with(&prefix)
                    && n.ends_with(&extension)
                    && n.len() > prefix.len() + extension.len()
            })
        })
        .collect();
    found.sort();
    found.reverse();
    found
}

fn prune(path: &Path, rotation: Rotation) {
    let now = SystemTime::now();
    for (index, backup) in backups(path).into_iter().enumerate() {
        let too_many = rotation.max_backups > 0 && index >= rotation.max_backups;
        let too_old = rotation.max_age.is_some_and(|max_age| {
            std::fs::metadata(&backup)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|modified| now.duration_since(modified).ok())
                .is_some_and(|age| age > max_age)
        });
        if (too_many || too_old)
            && let Err(err) = std::fs::remove_file(&backup)
        {
            tracing::warn!(%err, backup = %backup.display(), "removing an old audit log");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::Level;
    use crate::authentication::UserInfo;
    use crate::request_info::RequestInfo;

    #[test]
    fn rotates_by_size_and_keeps_max_backups() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let rotation = Rotation {
            max_size_bytes: 2048,
            max_backups: 2,
            max_age: None,
        };
        let backend = LogBackend::open_with_rotation(&path, rotation).unwrap();
        let request = http::Request::get("/version").body(()).unwrap();
        let info = RequestInfo::new(request.method(), "/version", None);
        let event = Event::begin(Level::Metadata, &info, &UserInfo::anonymous(), &request);
        let line = serde_json::to_vec(&event).unwrap().len() + 1;
        let total = 6 * 2048 / line + 1;
        for _ in 0..total {
            backend.write(&event);
        }
        let kept = backups(&path);
        assert_eq!(kept.len(), 2, "{kept:?}");
        assert!(std::fs::metadata(&path).unwrap().len() <= 2048);
        for backup in kept {
            assert!(std::fs::metadata(&backup).unwrap().len() <= 2048);
            let name = backup.file_name().unwrap().to_string_lossy().into_owned();
            assert!(
                name.starts_with("audit-") && name.ends_with(".log"),
                "{name}"
            );
        }
    }

    #[test]
    fn quick_rotations_never_overwrite_a_backup() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let rotation = Rotation {
            max_size_bytes: 1024,
            max_backups: 0,
            max_age: None,
        };
        let backend = LogBackend::open_with_rotation(&path, rotation).unwrap();
        let request = http::Request::get("/healthz").body(()).unwrap();
        let info = RequestInfo::new(request.method(), "/healthz", None);
        let event = Event::begin(Level::Metadata, &info, &UserInfo::anonymous(), &request);
        let line = serde_json::to_vec(&event).unwrap().len() + 1;
        let per_file = 1024 / line;
        let total = per_file * 10;
        for _ in 0..total {
            backend.write(&event);
        }
        let lines: usize = backups(&path)
            .iter()
            .chain([&path])
            .map(|p| std::fs::read_to_string(p).unwrap().lines().count())
            .sum();
        assert_eq!(
            lines, total,
            "every event is in the current file or a backup"
        );
        assert_eq!(backups(&path).len(), 9);
    }

    #[test]
    fn flags_map_to_limits() {
        let rotation = Rotation::from_flags(100, 3, 7);
        assert_eq!(rotation.max_size_bytes, 100 * 1024 * 1024);
        assert_eq!(rotation.max_backups, 3);
        assert_eq!(rotation.max_age, Some(Duration::from_secs(7 * 24 * 3600)));
        assert_eq!(Rotation::from_flags(0, 0, 0), Rotation::default());
    }
}
