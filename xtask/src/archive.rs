//! Deterministic `.tar.gz` archives (ARCHITECTURE.md, invariant 1): entries in GNU
//! `tar --sort=name` order with explicit directory entries, mtime =
//! SOURCE_DATE_EPOCH, uid/gid 0 with empty owner names, modes 0755/0644,
//! gzip without name or time, one pinned deflate backend (flate2 on zlib-rs).

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use flate2::{Compression, GzBuilder};

/// The gzip level of every archive: gzip's default, the peer's `gzip -6`.
pub const GZIP_LEVEL: u32 = 6;

/// Where an entry's contents come from.
#[derive(Debug, Clone)]
enum Contents {
    Directory,
    File(PathBuf),
    Bytes(Vec<u8>),
    Symlink(PathBuf),
}

#[derive(Debug, Clone)]
struct Entry {
    contents: Contents,
    executable: bool,
    /// A mode other than the normalised ones (e.g. 1777 for `/tmp`).
    mode: Option<u32>,
}

/// The entries of an archive, keyed by their sort key; written in one go.
#[derive(Debug, Default)]
pub struct Archive {
    entries: BTreeMap<SortKey, Entry>,
}

/// GNU `--sort=name` order: component by component, bytewise, so `a/b`
/// comes before `a-c` (a plain byte sort would put `a-c` first).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct SortKey(Vec<String>);

impl SortKey {
    fn new(path: &str) -> Result<SortKey> {
        let parts: Vec<String> = path
            .split('/')
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect();
        if parts.is_empty() || parts.iter().any(|p| p == "." || p == "..") || path.starts_with('/')
        {
            bail!("invalid archive path {path:?}: must be relative, without . or ..");
        }
        Ok(SortKey(parts))
    }

    fn path(&self) -> String {
        self.0.join("/")
    }
}

impl Archive {
    pub fn new() -> Archive {
        Archive::default()
    }

    /// A file from disk; its mode becomes 0755 if any execute bit is set,
    /// 0644 otherwise.
    pub fn add_file(&mut self, archive_path: &str, disk_path: impl Into<PathBuf>) -> Result<()> {
        let disk_path = disk_path.into();
        let meta =
            fs::metadata(&disk_path).with_context(|| format!("reading {}", disk_path.display()))?;
        use std::os::unix::fs::PermissionsExt;
        let executable = meta.permissions().mode() & 0o111 != 0;
        self.add_file_with_mode(archive_path, disk_path, executable)
    }

    /// A file from disk with the executable bit given (e.g. from git's index).
    pub fn add_file_with_mode(
        &mut self,
        archive_path: &str,
        disk_path: impl Into<PathBuf>,
        executable: bool,
    ) -> Result<()> {
        self.insert(archive_path, Contents::File(disk_path.into()), executable)
    }

    pub fn add_bytes(
        &mut self,
        archive_path: &str,
        bytes: impl Into<Vec<u8>>,
        executable: bool,
    ) -> Result<()> {
        self.insert(archive_path, Contents::Bytes(bytes.into()), executable)
    }

    pub fn add_symlink(&mut self, archive_path: &str, target: impl Into<PathBuf>) -> Result<()> {
        self.insert(archive_path, Contents::Symlink(target.into()), false)
    }

    /// A directory with a mode of its own (an image's `tmp/`: 1777).
    pub fn add_dir_with_mode(&mut self, archive_path: &str, mode: u32) -> Result<()> {
        self.insert(archive_path, Contents::Directory, true)?;
        let key = SortKey::new(archive_path)?;
        if let Some(entry) = self.entries.get_mut(&key) {
            entry.mode = Some(mode);
        }
        Ok(())
    }

    /// Everything under `dir`, placed under `prefix` in the archive.
    pub fn add_tree(&mut self, prefix: &str, dir: &Path) -> Result<()> {
        let mut stack = vec![(dir.to_path_buf(), prefix.trim_end_matches('/').to_owned())];
        self.insert(prefix, Contents::Directory, true)?;
        while let Some((disk, archive_path)) = stack.pop() {
            for item in
                fs::read_dir(&disk).with_context(|| format!("listing {}", disk.display()))?
            {
                let item = item?;
                let name = item.file_name();
                let name = name
                    .to_str()
                    .with_context(|| format!("{} is not UTF-8", item.path().display()))?;
                let child = format!("{archive_path}/{name}");
                let file_type = item.file_type()?;
                if file_type.is_dir() {
                    self.insert(&child, Contents::Directory, true)?;
                    stack.push((item.path(), child));
                } else if file_type.is_symlink() {
                    self.add_symlink(&child, fs::read_link(item.path())?)?;
                } else {
                    self.add_file(&child, item.path())?;
                }
            }
        }
        Ok(())
    }

    fn insert(&mut self, archive_path: &str, contents: Contents, executable: bool) -> Result<()> {
        let key = SortKey::new(archive_path)?;
        // Explicit entries for every parent directory.
        for depth in 1..key.0.len() {
            let parent = SortKey(key.0[..depth].to_vec());
            match self.entries.get(&parent) {
                Some(Entry {
                    contents: Contents::Directory,
                    ..
                }) => {}
                Some(_) => bail!(
                    "{} is both a file and a directory in the archive",
                    parent.path()
                ),
                None => {
                    self.entries.insert(
                        parent,
                        Entry {
                            contents: Contents::Directory,
                            executable: true,
                            mode: None,
                        },
                    );
                }
            }
        }
        if let Some(existing) = self.entries.get(&key) {
            let both_dirs = matches!(existing.contents, Contents::Directory)
                && matches!(contents, Contents::Directory);
            if !both_dirs {
                bail!("{archive_path} is added to the archive twice");
            }
        }
        self.entries.insert(
            key,
            Entry {
                contents,
                executable,
                mode: None,
            },
        );
        Ok(())
    }

    /// Writes the archive as tar.gz into `out`; returns `out`.
    pub fn write_tar_gz<W: Write>(&self, out: W, mtime: u64) -> Result<W> {
        let gz = GzBuilder::new().write(out, Compression::new(GZIP_LEVEL));
        let gz = self.write_tar(gz, mtime)?;
        Ok(gz.finish()?)
    }

    /// Writes the uncompressed tar into `out`; returns `out`.
    pub fn write_tar<W: Write>(&self, out: W, mtime: u64) -> Result<W> {
        let mut tar = tar::Builder::new(out);
        tar.follow_symlinks(false);
        for (key, entry) in &self.entries {
            let path = key.path();
            let mut header = tar::Header::new_gnu();
            header.set_mtime(mtime);
            header.set_uid(0);
            header.set_gid(0);
            match &entry.contents {
                Contents::Directory => {
                    header.set_entry_type(tar::EntryType::Directory);
                    header.set_mode(entry.mode.unwrap_or(0o755));
                    header.set_size(0);
                    tar.append_data(&mut header, format!("{path}/"), io::empty())?;
                }
                Contents::Symlink(target) => {
                    header.set_entry_type(tar::EntryType::Symlink);
                    header.set_mode(0o777);
                    header.set_size(0);
                    tar.append_link(&mut header, &path, target)
                        .with_context(|| format!("archiving symlink {path}"))?;
                }
                Contents::Bytes(bytes) => {
                    set_regular(&mut header, entry.executable, bytes.len() as u64);
                    tar.append_data(&mut header, &path, bytes.as_slice())?;
                }
                Contents::File(disk) => {
                    let file =
                        File::open(disk).with_context(|| format!("opening {}", disk.display()))?;
                    let len = file.metadata()?.len();
                    set_regular(&mut header, entry.executable, len);
                    // A file that changes size under us would corrupt the entry.
                    let mut limited = ExactReader {
                        inner: file,
                        remaining: len,
                        path: disk,
                    };
                    tar.append_data(&mut header, &path, &mut limited)
                        .with_context(|| format!("archiving {}", disk.display()))?;
                    if limited.remaining != 0 {
                        bail!("{} shrank while it was archived", disk.display());
                    }
                }
            }
        }
        Ok(tar.into_inner()?)
    }
}

fn set_regular(header: &mut tar::Header, executable: bool, len: u64) {
    header.set_entry_type(tar::EntryType::Regular);
    header.set_mode(if executable { 0o755 } else { 0o644 });
    header.set_size(len);
}

/// Reads exactly the length recorded in the header.
struct ExactReader<'a> {
    inner: File,
    remaining: u64,
    path: &'a Path,
}

impl Read for ExactReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 {
            return Ok(0);
        }
        let max = buf.len().min(self.remaining as usize);
        let n = self.inner.read(&mut buf[..max])?;
        if n == 0 {
            return Err(io::Error::other(format!(
                "{} shrank while it was archived",
                self.path.display()
            )));
        }
        self.remaining -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gnu_name_order_and_explicit_parents() {
        let mut archive = Archive::new();
        archive.add_bytes("k/a-c", "x", false).unwrap();
        archive.add_bytes("k/a/b", "y", true).unwrap();
        archive.add_bytes("k/Z", "z", false).unwrap();
        let order: Vec<String> = archive.entries.keys().map(SortKey::path).collect();
        assert_eq!(order, ["k", "k/Z", "k/a", "k/a/b", "k/a-c"]);
    }

    #[test]
    fn refuses_bad_and_duplicate_paths() {
        let mut archive = Archive::new();
        assert!(archive.add_bytes("/etc/passwd", "", false).is_err());
        assert!(archive.add_bytes("a/../b", "", false).is_err());
        archive.add_bytes("a/b", "", false).unwrap();
        assert!(archive.add_bytes("a/b", "", false).is_err());
        assert!(archive.add_bytes("a/b/c", "", false).is_err());
    }

    #[test]
    fn gzip_header_has_no_name_and_no_time() {
        let mut archive = Archive::new();
        archive
            .add_bytes("kubernetes/version", "v1.32.0\n", false)
            .unwrap();
        let bytes = archive.write_tar_gz(Vec::new(), 1_700_000_000).unwrap();
        assert_eq!(&bytes[..3], &[0x1f, 0x8b, 8]);
        assert_eq!(bytes[3], 0, "FLG must be 0: no file name, no comment");
        assert_eq!(&bytes[4..8], &[0, 0, 0, 0], "MTIME must be zero");
    }

    #[test]
    fn entries_are_normalised() {
        let mut archive = Archive::new();
        archive
            .add_bytes("kubernetes/server/bin/kube-apiserver", "ELF", true)
            .unwrap();
        archive
            .add_bytes("kubernetes/README.md", "hi", false)
            .unwrap();
        archive.add_symlink("kubernetes/link", "README.md").unwrap();
        let tar = archive.write_tar(Vec::new(), 1234).unwrap();
        let mut reader = tar::Archive::new(tar.as_slice());
        let mut seen = Vec::new();
        for entry in reader.entries().unwrap() {
            let entry = entry.unwrap();
            let h = entry.header();
            assert_eq!(h.mtime().unwrap(), 1234);
            assert_eq!((h.uid().unwrap(), h.gid().unwrap()), (0, 0));
            assert_eq!(h.username().unwrap(), Some(""));
            assert_eq!(h.groupname().unwrap(), Some(""));
            seen.push((
                entry.path().unwrap().display().to_string(),
                h.mode().unwrap(),
            ));
        }
        assert_eq!(
            seen,
            [
                ("kubernetes/".to_owned(), 0o755),
                ("kubernetes/README.md".to_owned(), 0o644),
                ("kubernetes/link".to_owned(), 0o777),
                ("kubernetes/server/".to_owned(), 0o755),
                ("kubernetes/server/bin/".to_owned(), 0o755),
                ("kubernetes/server/bin/kube-apiserver".to_owned(), 0o755),
            ]
        );
    }
}

/// Properties checked against real trees and GNU tar, the test oracle.
#[cfg(test)]
mod tree_tests {
    use std::os::unix::fs::PermissionsExt;
    use std::process::Command;

    use super::*;

    const EPOCH: u64 = 1_700_000_000;

    /// Files of a small release-like tree: (path, contents, executable).
    const FILES: [(&str, &str, bool); 6] = [
        (
            "kubernetes/server/bin/kube-apiserver",
            "\x7fELF binary",
            true,
        ),
        ("kubernetes/README.md", "# readme\n", false),
        (
            "kubernetes/a-c",
            "dash sorts before slash bytewise\n",
            false,
        ),
        ("kubernetes/a/b", "nested\n", false),
        ("kubernetes/LICENSES/LICENSE", "Apache-2.0\n", false),
        ("kubernetes/version", "v1.32.0\n", false),
    ];

    /// Writes FILES under `root` in the given order, with `umask`-like
    /// permission masking and the given mtime.
    fn make_tree(root: &Path, order: &[usize], mask: u32, mtime: i64) {
        for &i in order {
            let (path, contents, executable) = FILES[i];
            let path = root.join(path);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(&path, contents).unwrap();
            let mode = if executable { 0o777 } else { 0o666 } & !mask;
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
            let time = filetime_from(mtime);
            fs::File::options()
                .write(true)
                .open(&path)
                .unwrap()
                .set_modified(time)
                .unwrap();
        }
    }

    fn filetime_from(secs: i64) -> std::time::SystemTime {
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs as u64)
    }

    fn tar_gz_of(root: &Path) -> Vec<u8> {
        let mut archive = Archive::new();
        archive
            .add_tree("kubernetes", &root.join("kubernetes"))
            .unwrap();
        archive.write_tar_gz(Vec::new(), EPOCH).unwrap()
    }

    #[test]
    fn same_tree_from_different_mtimes_order_and_umask_is_byte_identical() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        make_tree(a.path(), &[0, 1, 2, 3, 4, 5], 0o022, 1_000_000_000);
        make_tree(b.path(), &[5, 3, 4, 1, 2, 0], 0o077, 1_600_000_000);
        // Directory mtimes differ too.
        fs::File::open(b.path().join("kubernetes"))
            .unwrap()
            .set_modified(filetime_from(42))
            .unwrap();
        assert_eq!(tar_gz_of(a.path()), tar_gz_of(b.path()));
    }

    #[test]
    fn gnu_tar_lists_the_same_members_and_modes() {
        let dir = tempfile::tempdir().unwrap();
        make_tree(dir.path(), &[0, 1, 2, 3, 4, 5], 0o022, 1_000_000_000);
        let ours = dir.path().join("ours.tar.gz");
        fs::write(&ours, tar_gz_of(dir.path())).unwrap();
        let gnu = dir.path().join("gnu.tar");
        let status = Command::new("tar")
            .args([
                "--sort=name",
                &format!("--mtime=@{EPOCH}"),
                "--owner=0",
                "--group=0",
                "--numeric-owner",
            ])
            .arg("-C")
            .arg(dir.path())
            .arg("-cf")
            .arg(&gnu)
            .arg("kubernetes")
            .status()
            .expect("GNU tar is installed (scripts/install-test-deps.sh)");
        assert!(status.success());
        let list = |archive: &Path| {
            let out = Command::new("tar")
                .args(["--numeric-owner", "-tvf"])
                .arg(archive)
                .env("TZ", "UTC")
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8(out.stdout).unwrap()
        };
        let ours_listing = list(&ours);
        assert_eq!(ours_listing, list(&gnu));
        assert!(ours_listing.contains("-rwxr-xr-x 0/0"), "{ours_listing}");
        assert!(
            ours_listing.contains("2023-11-14 22:13 kubernetes/a/b"),
            "{ours_listing}"
        );
        // GNU order: a/ and a/b before a-c.
        let a_b = ours_listing.find("kubernetes/a/b").unwrap();
        let a_c = ours_listing.find("kubernetes/a-c").unwrap();
        assert!(a_b < a_c, "{ours_listing}");
    }

    #[test]
    fn long_paths_and_symlinks_survive_a_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let long = format!("kubernetes/{}/file", "d".repeat(150));
        let mut archive = Archive::new();
        archive.add_bytes(&long, "x", false).unwrap();
        archive.add_symlink("kubernetes/link", "version").unwrap();
        let path = dir.path().join("t.tar.gz");
        fs::write(&path, archive.write_tar_gz(Vec::new(), EPOCH).unwrap()).unwrap();
        let out = Command::new("tar")
            .arg("-xzf")
            .arg(&path)
            .arg("-C")
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(fs::read_to_string(dir.path().join(&long)).unwrap(), "x");
        assert_eq!(
            fs::read_link(dir.path().join("kubernetes/link")).unwrap(),
            Path::new("version")
        );
    }
}
