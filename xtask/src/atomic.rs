//! Atomic outputs: every file the xtask publishes is written under a
//! temporary name in the same directory, fsynced, then renamed into place, so
//! an interrupted run never leaves a truncated file under a final name.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use anyhow::{Context, Result};

/// The temporary files this process is writing, for an interrupt to remove.
static PENDING: Mutex<Option<HashSet<PathBuf>>> = Mutex::new(None);

fn pending(change: impl FnOnce(&mut HashSet<PathBuf>)) {
    let mut pending = PENDING.lock().unwrap_or_else(PoisonError::into_inner);
    change(pending.get_or_insert_with(HashSet::new));
}

/// Removes the temporary files of this process's unfinished writes (on an
/// interrupt, just before exiting).
pub fn remove_pending_files() {
    pending(|files| {
        for file in files.drain() {
            let _ = fs::remove_file(file);
        }
    });
}

/// The suffix of a temporary file written by process `pid`.
fn temp_suffix(pid: u32) -> String {
    format!(".tmp-{pid}")
}

/// Removes temporary files under `dir` left by processes that no longer
/// run (a SIGKILL, a power loss); returns how many. Call it holding the
/// output lock, so no live xtask is writing them.
pub fn remove_stale_temp_files(dir: &Path) -> usize {
    let mut removed = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                stack.push(path);
                continue;
            }
            let name = entry.file_name();
            let Some(pid) = name
                .to_str()
                .filter(|name| name.starts_with('.'))
                .and_then(|name| name.rsplit_once(".tmp-"))
                .and_then(|(_, pid)| pid.parse::<u32>().ok())
            else {
                continue;
            };
            if pid != std::process::id() && !process_runs(pid) && fs::remove_file(&path).is_ok() {
                removed += 1;
            }
        }
    }
    removed
}

fn process_runs(pid: u32) -> bool {
    Path::new("/proc").join(pid.to_string()).exists()
}

/// A file being written; it appears under its final name only on `commit`.
/// Dropped without `commit`, the temporary file is removed.
pub struct AtomicFile {
    final_path: PathBuf,
    temp_path: PathBuf,
    file: Option<File>,
}

impl AtomicFile {
    pub fn create(path: impl AsRef<Path>) -> Result<AtomicFile> {
        let final_path = path.as_ref().to_path_buf();
        let name = final_path
            .file_name()
            .with_context(|| format!("{} has no file name", final_path.display()))?;
        let mut temp_name = std::ffi::OsString::from(".");
        temp_name.push(name);
        temp_name.push(temp_suffix(std::process::id()));
        let temp_path = final_path.with_file_name(temp_name);
        pending(|files| {
            files.insert(temp_path.clone());
        });
        let file = File::create(&temp_path)
            .with_context(|| format!("creating {}", temp_path.display()))?;
        Ok(AtomicFile {
            final_path,
            temp_path,
            file: Some(file),
        })
    }

    /// Sets the permission bits the file will have (e.g. 0o755).
    pub fn set_mode(&self, mode: u32) -> Result<()> {
        use std::os::unix::fs::PermissionsExt;
        // `file` is only taken by `commit`, which consumes `self`.
        let file = self.file.as_ref().expect("file is open until commit");
        file.set_permissions(fs::Permissions::from_mode(mode))
            .with_context(|| format!("setting the mode of {}", self.temp_path.display()))
    }

    /// Flushes to disk and moves the file to its final name.
    pub fn commit(mut self) -> Result<()> {
        // `file` is only taken here, and this consumes `self`.
        let file = self.file.take().expect("file is open until commit");
        file.sync_all()
            .with_context(|| format!("syncing {}", self.temp_path.display()))?;
        drop(file);
        fs::rename(&self.temp_path, &self.final_path).with_context(|| {
            format!(
                "renaming {} to {}",
                self.temp_path.display(),
                self.final_path.display()
            )
        })?;
        pending(|files| {
            files.remove(&self.temp_path);
        });
        sync_parent(&self.final_path)
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // `file` is only taken by `commit`, which consumes `self`.
        self.file
            .as_mut()
            .expect("file is open until commit")
            .write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        // `file` is only taken by `commit`, which consumes `self`.
        self.file
            .as_mut()
            .expect("file is open until commit")
            .write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        // `file` is only taken by `commit`, which consumes `self`.
        self.file
            .as_mut()
            .expect("file is open until commit")
            .flush()
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = fs::remove_file(&self.temp_path);
            pending(|files| {
                files.remove(&self.temp_path);
            });
        }
    }
}

/// Writes `contents` to `path` atomically.
pub fn write(path: impl AsRef<Path>, contents: &[u8]) -> Result<()> {
    let mut file = AtomicFile::create(path.as_ref())?;
    file.write_all(contents)
        .with_context(|| format!("writing {}", path.as_ref().display()))?;
    file.commit()
}

/// Makes a rename durable by syncing the directory that holds it.
pub fn sync_parent(path: &Path) -> Result<()> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    File::open(parent)
        .and_then(|dir| dir.sync_all())
        .with_context(|| format!("syncing directory {}", parent.display()))
}

/// Replaces the directory `target` with `new` as a whole: at every moment
/// `target` names either the old directory or the new one (an atomic
/// exchange where the filesystem has one, else two renames with a moment
/// in between). The old one is removed afterwards.
pub fn replace_dir(new: &Path, target: &Path) -> Result<()> {
    if target.exists() {
        if exchange(new, target).is_ok() {
            // `new` now names the old directory.
            sync_parent(target)?;
            fs::remove_dir_all(new).with_context(|| format!("removing {}", new.display()))?;
            return Ok(());
        }
        let old = target.with_extension("old");
        if old.exists() {
            fs::remove_dir_all(&old).with_context(|| format!("removing {}", old.display()))?;
        }
        fs::rename(target, &old)
            .with_context(|| format!("moving the previous {} aside", target.display()))?;
        fs::rename(new, target).with_context(|| format!("publishing {}", target.display()))?;
        sync_parent(target)?;
        return fs::remove_dir_all(&old).with_context(|| format!("removing {}", old.display()));
    }
    fs::rename(new, target).with_context(|| format!("publishing {}", target.display()))?;
    sync_parent(target)
}

/// `renameat2(RENAME_EXCHANGE)`: swaps two paths in one step (Linux).
fn exchange(a: &Path, b: &Path) -> io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let a = std::ffi::CString::new(a.as_os_str().as_bytes())?;
    let b = std::ffi::CString::new(b.as_os_str().as_bytes())?;
    // SAFETY: both paths are NUL-terminated strings that outlive the call.
    let result = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if result == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Points `link` at `target` (a relative path), replacing any previous link
/// atomically.
pub fn replace_symlink(target: &Path, link: &Path) -> Result<()> {
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(link.file_name().context("symlink has no name")?);
    temp_name.push(format!(".tmp-{}", std::process::id()));
    let temp = link.with_file_name(temp_name);
    let _ = fs::remove_file(&temp);
    std::os::unix::fs::symlink(target, &temp)
        .with_context(|| format!("creating symlink {}", temp.display()))?;
    fs::rename(&temp, link).with_context(|| format!("replacing {}", link.display()))?;
    sync_parent(link)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directories_are_swapped_whole() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("release-tars");
        let new = dir.path().join("release-tars.partial");
        fs::create_dir(&new).unwrap();
        fs::write(new.join("a"), "1").unwrap();
        replace_dir(&new, &target).unwrap();
        assert_eq!(fs::read_to_string(target.join("a")).unwrap(), "1");
        fs::create_dir(&new).unwrap();
        fs::write(new.join("b"), "2").unwrap();
        replace_dir(&new, &target).unwrap();
        assert!(!target.join("a").exists());
        assert_eq!(fs::read_to_string(target.join("b")).unwrap(), "2");
        assert!(!new.exists());
        assert!(!dir.path().join("release-tars.old").exists());
    }

    #[test]
    fn stale_temp_files_of_dead_processes_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("sub")).unwrap();
        // No process has PID u32::MAX; this one is alive.
        let dead = dir
            .path()
            .join("sub")
            .join(format!(".kubernetes.tar.gz{}", temp_suffix(u32::MAX - 1)));
        let alive = dir
            .path()
            .join(format!(".x{}", temp_suffix(std::process::id())));
        let kept = dir.path().join("plain.tmp-1");
        for file in [&dead, &alive, &kept] {
            fs::write(file, "x").unwrap();
        }
        assert_eq!(remove_stale_temp_files(dir.path()), 1);
        assert!(!dead.exists() && alive.exists() && kept.exists());
    }

    #[test]
    fn file_appears_only_on_commit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kubernetes.tar.gz");
        let mut file = AtomicFile::create(&path).unwrap();
        file.write_all(b"partial").unwrap();
        assert!(!path.exists(), "final name visible before commit");
        file.commit().unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"partial");
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            1,
            "temporary file left behind"
        );
    }

    #[test]
    fn abandoned_write_leaves_nothing_and_keeps_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("SHA256SUMS");
        write(&path, b"old complete contents").unwrap();
        {
            let mut file = AtomicFile::create(&path).unwrap();
            file.write_all(b"trunc").unwrap();
            // dropped: an error or interruption mid-write
        }
        assert_eq!(fs::read(&path).unwrap(), b"old complete contents");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn symlink_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("bin");
        replace_symlink(Path::new("local/bin/linux/amd64"), &link).unwrap();
        replace_symlink(Path::new("local/bin/linux/arm64"), &link).unwrap();
        assert_eq!(
            fs::read_link(&link).unwrap(),
            Path::new("local/bin/linux/arm64")
        );
    }
}
