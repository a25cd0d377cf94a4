//! The source tree that goes into `kubernetes-src.tar.gz`: the files git
//! tracks, as they are in the work tree (a clean tree gives `git archive
//! HEAD`), with git's executable bit; for a tree that is not a checkout
//! (tree state `archive`), every file but `_*`, `.git*` and `target/`.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use xshell::{Shell, cmd};

use crate::version::Stamp;
use crate::workspace::Workspace;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceKind {
    File { executable: bool },
    Symlink,
}

#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Relative to the workspace root, `/`-separated.
    pub path: String,
    pub disk: PathBuf,
    pub kind: SourceKind,
}

pub fn list(ws: &Workspace, stamp: &Stamp) -> Result<Vec<SourceFile>> {
    if stamp.git_tree_state == "archive" {
        return walk(ws);
    }
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

fn walk(ws: &Workspace) -> Result<Vec<SourceFile>> {
    use std::os::unix::fs::PermissionsExt;
    let mut files = Vec::new();
    let mut stack = vec![(ws.root.clone().into_std_path_buf(), String::new())];
    while let Some((dir, prefix)) = stack.pop() {
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("listing {}", dir.display()))?
        {
            let entry = entry?;
            let name = entry
                .file_name()
                .into_string()
                .map_err(|n| anyhow::anyhow!("{n:?} is not UTF-8"))?;
            if prefix.is_empty()
                && (name.starts_with('_') || name.starts_with(".git") || name == "target")
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
