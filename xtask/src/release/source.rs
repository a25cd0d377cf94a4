//! The source tree that goes into `kubernetes-src.tar.gz`, self-sufficient:
//! the files git tracks, as they are in the work tree (a clean tree gives
//! `git archive HEAD`), with git's executable bit; plus what rebuilds the
//! release offline: the vendored crates under `vendor/`, the cargo config
//! that builds from them, and the version file that stamps the rebuild as
//! this commit. A tree extracted from such a tarball (not a checkout) lists
//! every file but `_*`, `.git` and `target/`, and gives the same tarball.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use cargo_metadata::camino::Utf8Path;
use xshell::{Shell, cmd};

use crate::build::vendor::{self, Vendored};
use crate::version::{Stamp, VERSION_FILE};
use crate::workspace::Workspace;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceKind {
    File {
        executable: bool,
    },
    Symlink,
    /// Written by the release (`disk` is unused).
    Generated(Vec<u8>),
}

#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Relative to the workspace root, `/`-separated.
    pub path: String,
    pub disk: PathBuf,
    pub kind: SourceKind,
}

pub fn list(ws: &Workspace, stamp: &Stamp, vendored: &Vendored) -> Result<Vec<SourceFile>> {
    let mut files = if vendor::tree_is_vendored(ws) || stamp.git_tree_state == "archive" {
        walk(&ws.root, "")?
    } else {
        tracked(ws)?
    };
    if !vendor::tree_is_vendored(ws) {
        files.extend(walk(&vendored.dir, vendor::TREE_VENDOR_DIR)?);
    }
    let config_path = ".cargo/config.toml";
    let checkout_config = std::fs::read_to_string(ws.root.join(config_path)).unwrap_or_default();
    let generated = [
        (
            config_path,
            vendor::tree_config(&checkout_config).into_bytes(),
        ),
        (VERSION_FILE, stamp.version_file().into_bytes()),
    ];
    for (path, bytes) in generated {
        files.retain(|f| f.path != path);
        files.push(SourceFile {
            path: path.to_owned(),
            disk: PathBuf::new(),
            kind: SourceKind::Generated(bytes),
        });
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

/// The files git tracks, as they are in the work tree.
fn tracked(ws: &Workspace) -> Result<Vec<SourceFile>> {
    let sh = Shell::new()?;
    sh.change_dir(&ws.root);
    let listing = cmd!(sh, "git ls-files --stage -z").quiet().read()?;
    let mut files = Vec::new();
    for record in listing.split('\0').filter(|r| !r.is_empty()) {
        let (meta, path) = record
            .split_once('\t')
            .with_context(|| format!("unexpected `git ls-files` record {record:?}"))?;
        let mode = meta.split(' ').next().unwrap_or_default();
        let disk = ws.root.join(path).into_std_path_buf();
        let kind = match mode {
            "100755" => SourceKind::File { executable: true },
            "100644" => SourceKind::File { executable: false },
            "120000" => SourceKind::Symlink,
            "160000" => continue, // submodule: not part of this tree
            other => bail!("{path}: unsupported git mode {other}"),
        };
        if disk.symlink_metadata().is_err() {
            continue; // tracked but deleted in the work tree (a dirty tree)
        }
        files.push(SourceFile {
            path: path.to_owned(),
            disk,
            kind,
        });
    }
    Ok(files)
}

/// Every file under `root`, with `prefix/` before its path; at the top of a
/// tree (empty prefix), but `_*` (outputs), `.git` and `target/`.
fn walk(root: &Utf8Path, prefix: &str) -> Result<Vec<SourceFile>> {
    use std::os::unix::fs::PermissionsExt;
    let top = prefix.is_empty();
    let mut files = Vec::new();
    let mut stack = vec![(root.to_owned().into_std_path_buf(), prefix.to_owned())];
    while let Some((dir, prefix)) = stack.pop() {
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("listing {}", dir.display()))?
        {
            let entry = entry?;
            let name = entry
                .file_name()
                .into_string()
                .map_err(|n| anyhow::anyhow!("{n:?} is not UTF-8"))?;
            if top
                && prefix.is_empty()
                && (name.starts_with('_') || name == ".git" || name == "target")
            {
                continue;
            }
            let path = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            let file_type = entry.file_type()?;
            if file_type.is_dir() {
                stack.push((entry.path(), path));
            } else if file_type.is_symlink() {
                files.push(SourceFile {
                    path,
                    disk: entry.path(),
                    kind: SourceKind::Symlink,
                });
            } else {
                let executable = entry.metadata()?.permissions().mode() & 0o111 != 0;
                files.push(SourceFile {
                    path,
                    disk: entry.path(),
                    kind: SourceKind::File { executable },
                });
            }
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}
