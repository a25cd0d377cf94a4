//! What goes into the build container, as tar archives uploaded through the
//! Engine API (no bind mounts): the source tree (git's tracked and
//! not-ignored files as they are in the work tree, under `/workspace`) and the
//! vendored crates (`vendor.rs`, under `/cargo/vendor`, with the cargo config
//! that replaces the crate registry with them), so the container builds offline.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::time::UNIX_EPOCH;

use anyhow::{Context, Result};
use cargo_metadata::camino::{Utf8Path, Utf8PathBuf};
use xshell::{Shell, cmd};

use super::vendor::{self, VENDOR_PATH, Vendored};
use super::{CARGO_HOME_PATH, WORKSPACE_PATH};
use crate::archive::Archive;
use crate::workspace::Workspace;

/// In the container's `/cargo`: the digest of the Cargo.lock whose crates
/// `/cargo/vendor` holds.
pub const VENDOR_MARKER: &str = "vendor.lock-sha256";

/// The uploads, ready to send.
pub struct Inputs {
    /// The source tree, in memory (it is small); entries under `workspace/`.
    pub source_tar: Vec<u8>,
    /// sha256 of Cargo.lock: names the vendored crates. The container's
    /// `/cargo` volume remembers which set it holds, so they are vendored and
    /// uploaded only when the lock file changes.
    pub lock_digest: String,
}

/// The source upload and the lock file's digest; the vendor archive is made
/// on demand (`vendor_tar`).
pub fn prepare(ws: &Workspace) -> Result<Inputs> {
    Ok(Inputs {
        source_tar: source_tar(ws)?,
        lock_digest: vendor::lock_digest(ws)?,
    })
}

/// The work tree's files for the build, sorted, under `workspace/`. Entries
/// keep the files' mtimes (cargo decides what to rebuild by them; the target
/// directory persists in a volume) and normalize everything else.
fn source_tar(ws: &Workspace) -> Result<Vec<u8>> {
    let files = source_files(ws)?;
    let prefix = WORKSPACE_PATH.trim_start_matches('/');
    let mut tar = tar::Builder::new(Vec::new());
    tar.follow_symlinks(false);
    for path in files {
        let disk = ws.root.join(&path);
        let meta = match std::fs::symlink_metadata(&disk) {
            Ok(meta) => meta,
            Err(_) => continue, // tracked but deleted in the work tree
        };
        let mut header = tar::Header::new_gnu();
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(
            meta.modified()
                .ok()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map(|d| d.as_secs())
                .unwrap_or(0),
        );
        let archive_path = format!("{prefix}/{path}");
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&disk).with_context(|| format!("reading {disk}"))?;
            header.set_entry_type(tar::EntryType::Symlink);
            header.set_mode(0o777);
            header.set_size(0);
            tar.append_link(&mut header, &archive_path, target)
                .with_context(|| format!("archiving {disk}"))?;
        } else if meta.is_file() {
            let bytes = std::fs::read(&disk).with_context(|| format!("reading {disk}"))?;
            header.set_entry_type(tar::EntryType::Regular);
            header.set_mode(if meta.permissions().mode() & 0o111 != 0 {
                0o755
            } else {
                0o644
            });
            header.set_size(bytes.len() as u64);
            tar.append_data(&mut header, &archive_path, bytes.as_slice())
                .with_context(|| format!("archiving {disk}"))?;
        }
    }
    Ok(tar.into_inner()?)
}

/// Relative paths of the files to build from: git's tracked and untracked
/// but not ignored files; without git, the tree minus `_*`, `.git*`, `target`.
fn source_files(ws: &Workspace) -> Result<Vec<String>> {
    let sh = Shell::new()?;
    sh.change_dir(&ws.root);
    let inside = cmd!(sh, "git rev-parse --is-inside-work-tree")
        .quiet()
        .ignore_stderr()
        .read()
        .map(|s| s.trim() == "true")
        .unwrap_or(false);
    let mut files: Vec<String> = if inside {
        cmd!(sh, "git ls-files -z --cached --others --exclude-standard")
            .quiet()
            .read()
            .context("listing the source files with git")?
            .split('\0')
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect()
    } else {
        walk(&ws.root)?
    };
    files.sort();
    files.dedup();
    Ok(files)
}

fn walk(root: &Utf8Path) -> Result<Vec<String>> {
    let mut files = Vec::new();
    let mut stack = vec![(root.to_owned(), String::new())];
    while let Some((dir, prefix)) = stack.pop() {
        for entry in dir
            .read_dir_utf8()
            .with_context(|| format!("listing {dir}"))?
        {
            let entry = entry?;
            let name = entry.file_name();
            // A source tarball's vendor/ goes in as the vendored crates.
            if prefix.is_empty()
                && (name.starts_with('_')
                    || name.starts_with(".git")
                    || name == "target"
                    || name == vendor::TREE_VENDOR_DIR)
            {
                continue;
            }
            let path = if prefix.is_empty() {
                name.to_owned()
            } else {
                format!("{prefix}/{name}")
            };
            if entry.file_type()?.is_dir() {
                stack.push((entry.path().to_owned(), path));
            } else {
                files.push(path);
            }
        }
    }
    Ok(files)
}

/// `_output/dockerized/inputs/vendored-<Cargo.lock digest>.tar`, made from
/// the vendored crates when missing: the crates under `cargo/vendor/` and the
/// cargo config that uses them. The marker naming the lock file
/// (`marker_tar`) goes in separately, once these are all in.
pub fn vendor_tar(ws: &Workspace, vendored: &Vendored) -> Result<Utf8PathBuf> {
    let inputs = ws.output().join("dockerized/inputs");
    let tar_path = inputs.join(format!("vendored-{}.tar", &vendored.lock_digest[..16]));
    if tar_path.exists() {
        return Ok(tar_path);
    }
    std::fs::create_dir_all(&inputs).with_context(|| format!("creating {inputs}"))?;
    // Archives for older lock files are stale now.
    for entry in inputs.read_dir_utf8()? {
        let entry = entry?;
        if entry.file_name().starts_with("vendor") && entry.file_name().ends_with(".tar") {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    let mut archive = Archive::new();
    archive.add_tree(
        VENDOR_PATH.trim_start_matches('/'),
        vendored.dir.as_std_path(),
    )?;
    archive.add_bytes(
        &format!("{}/config.toml", CARGO_HOME_PATH.trim_start_matches('/')),
        vendor::container_config(),
        false,
    )?;
    let mut out = crate::atomic::AtomicFile::create(&tar_path)?;
    let mut buffered = std::io::BufWriter::new(&mut out);
    archive.write_tar(&mut buffered, 0)?;
    buffered.flush()?;
    drop(buffered);
    out.commit()?;
    Ok(tar_path)
}

/// The marker that says `/cargo` holds the crates of this Cargo.lock, as a
/// tar to upload after the crates themselves have all arrived.
pub fn marker_tar(lock_digest: &str) -> Result<Vec<u8>> {
    let mut archive = Archive::new();
    archive.add_bytes(
        &format!(
            "{}/{VENDOR_MARKER}",
            CARGO_HOME_PATH.trim_start_matches('/')
        ),
        format!("{lock_digest}\n"),
        false,
    )?;
    archive.write_tar(Vec::new(), 0)
}
