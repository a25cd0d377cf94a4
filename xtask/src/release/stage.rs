//! Staging: lays out `_output/release-stage/` exactly as the tarballs will
//! hold it (Kubernetes' names), with normalised modes, so packaging is a plain
//! walk of each tree:
//!
//! ```text
//! release-stage/src/kubernetes/...                      → kubernetes-src.tar.gz
//! release-stage/full/kubernetes/{README.md,version,server/README,LICENSES}
//! release-stage/server/linux-ARCH/kubernetes/{server/bin,LICENSES}
//!   server/bin/<bin>, <bin>.tar (image), <bin>.docker_tag
//! ```

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::{Context, Result};
use cargo_metadata::camino::{Utf8Path, Utf8PathBuf};

use super::server_image::ServerImage;
use super::source::{SourceFile, SourceKind};
use crate::build::Built;
use crate::licenses::LicenseTree;
use crate::progress::Progress;
use crate::version::Stamp;
use crate::workspace::Workspace;

const SERVER_README: &str = "\
Server binaries are not part of this tarball. Each server platform has its own
tarball next to it in the release: kubernetes-server-linux-<arch>.tar.gz, with
the binaries under kubernetes/server/bin/. SHA256SUMS and SHA512SUMS list the
digests of every artifact.
";

/// A staged release on disk.
#[derive(Debug, Clone)]
pub struct Stage {
    pub root: Utf8PathBuf,
    pub server_platforms: Vec<String>,
}

impl Stage {
    pub fn src_dir(&self) -> Utf8PathBuf {
        self.root.join("src")
    }

    pub fn full_dir(&self) -> Utf8PathBuf {
        self.root.join("full")
    }

    /// `server/linux-amd64`.
    pub fn server_dir(&self, dashed_platform: &str) -> Utf8PathBuf {
        self.root.join("server").join(dashed_platform)
    }

    /// An existing stage (e.g. for the packaging benchmark).
    pub fn open(root: &Utf8Path) -> Result<Stage> {
        let mut server_platforms = Vec::new();
        for entry in root.join("server").read_dir_utf8().with_context(|| {
            format!("{root} is not a release stage: run `cargo xtask release` first")
        })? {
            server_platforms.push(entry?.file_name().to_owned());
        }
        server_platforms.sort();
        Ok(Stage {
            root: root.to_owned(),
            server_platforms,
        })
    }
}

pub fn stage(
    ws: &Workspace,
    stamp: &Stamp,
    built: &[Built],
    images: &[ServerImage],
    licenses: &LicenseTree,
    sources: &[SourceFile],
) -> Result<Stage> {
    let root = ws.release_stage();
    if root.exists() {
        fs::remove_dir_all(&root).with_context(|| format!("removing the old stage {root}"))?;
    }
    let stage = Stage {
        root: root.clone(),
        server_platforms: built.iter().map(|b| b.platform.dashed()).collect(),
    };
    let progress = Progress::new("stage", (1 + built.len() + 1) as u64);

    progress.step("source tree");
    let src = stage.src_dir().join("kubernetes");
    for file in sources {
        let dest = src.join(&file.path);
        match &file.kind {
            SourceKind::File { executable } => {
                copy_normalised(&file.disk, dest.as_std_path(), *executable)?
            }
            SourceKind::Symlink => {
                create_parent(dest.as_std_path())?;
                let target = fs::read_link(&file.disk)
                    .with_context(|| format!("reading link {}", file.disk.display()))?;
                std::os::unix::fs::symlink(target, &dest)
                    .with_context(|| format!("staging link {dest}"))?;
            }
            SourceKind::Generated(bytes) => write_normalised(&dest, bytes)?,
        }
    }
    progress.inc();

    for b in built {
        progress.step(&format!("server {}", b.platform));
        let kube = stage.server_dir(&b.platform.dashed()).join("kubernetes");
        for (_, binary) in &b.binaries {
            copy_normalised(
                b.path(binary).as_std_path(),
                kube.join("server/bin").join(binary).as_std_path(),
                true,
            )?;
        }
        for image in images.iter().filter(|i| i.platform == b.platform) {
            let archive = super::server_image::release_image_path(ws, image);
            let bin = kube.join("server/bin");
            copy_normalised(
                archive.as_std_path(),
                bin.join(format!("{}.tar", image.binary)).as_std_path(),
                false,
            )?;
            write_normalised(
                &bin.join(format!("{}.docker_tag", image.binary)),
                format!("{}\n", image.tag).as_bytes(),
            )?;
        }
        stage_licenses(licenses, &kube.join("LICENSES"))?;
        progress.inc();
    }

    progress.step("kubernetes");
    let full = stage.full_dir().join("kubernetes");
    let readme = ws.root.join("README.md");
    copy_normalised(
        readme.as_std_path(),
        full.join("README.md").as_std_path(),
        false,
    )?;
    write_normalised(
        &full.join("version"),
        format!("{}\n", stamp.git_version).as_bytes(),
    )?;
    write_normalised(&full.join("server/README"), SERVER_README.as_bytes())?;
    stage_licenses(licenses, &full.join("LICENSES"))?;
    progress.inc();
    progress.finish();
    Ok(stage)
}

fn stage_licenses(licenses: &LicenseTree, dir: &Utf8Path) -> Result<()> {
    for (path, disk) in &licenses.files {
        copy_normalised(disk.as_std_path(), dir.join(path).as_std_path(), false)?;
    }
    for (path, text) in &licenses.generated {
        write_normalised(&dir.join(path), text.as_bytes())?;
    }
    Ok(())
}

fn create_parent(dest: &Path) -> Result<()> {
    if let Some(parent) = dest.parent() {
        fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    Ok(())
}

/// Copies with mode 0755 or 0644 whatever the umask.
fn copy_normalised(source: &Path, dest: &Path, executable: bool) -> Result<()> {
    create_parent(dest)?;
    fs::copy(source, dest)
        .with_context(|| format!("staging {} as {}", source.display(), dest.display()))?;
    let mode = if executable { 0o755 } else { 0o644 };
    fs::set_permissions(dest, fs::Permissions::from_mode(mode))
        .with_context(|| format!("setting the mode of {}", dest.display()))
}

fn write_normalised(dest: &Utf8Path, contents: &[u8]) -> Result<()> {
    create_parent(dest.as_std_path())?;
    fs::write(dest, contents).with_context(|| format!("writing {dest}"))?;
    fs::set_permissions(dest, fs::Permissions::from_mode(0o644))
        .with_context(|| format!("setting the mode of {dest}"))
}
