//! Atomic outputs: every file the xtask publishes is written under a
//! temporary name in the same directory, fsynced, then renamed into place, so
//! an interrupted run never leaves a truncated file under a final name.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

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
        temp_name.push(format!(".tmp-{}", std::process::id()));
        let temp_path = final_path.with_file_name(temp_name);
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
        let file = self.file.as_ref().expect("file is open until commit");
        file.set_permissions(fs::Permissions::from_mode(mode))
            .with_context(|| format!("setting the mode of {}", self.temp_path.display()))
    }

    /// Flushes to disk and moves the file to its final name.
    pub fn commit(mut self) -> Result<()> {
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
        sync_parent(&self.final_path)
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file
            .as_mut()
            .expect("file is open until commit")
            .write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.file
            .as_mut()
            .expect("file is open until commit")
            .write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
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
