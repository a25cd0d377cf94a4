//! The workspace being released: its root, its `_output/` layout and its
//! release components (read once through `cargo metadata`).

use anyhow::{Context, Result, bail};
use cargo_metadata::MetadataCommand;
use cargo_metadata::camino::{Utf8Path, Utf8PathBuf};

use crate::components::Component;

pub struct Workspace {
    pub root: Utf8PathBuf,
    pub target_dir: Utf8PathBuf,
    /// `[workspace.metadata.kubernetes] api-version`, e.g. "1.32".
    pub kubernetes_api_version: String,
    pub components: Vec<Component>,
}

impl Workspace {
    /// Finds the workspace around the current directory.
    pub fn discover() -> Result<Workspace> {
        let metadata = MetadataCommand::new()
            .no_deps()
            .other_options(vec!["--locked".to_owned()])
            .exec()
            .context(
                "reading the workspace with `cargo metadata` (run cargo xtask inside the checkout)",
            )?;
        let kubernetes_api_version = metadata.workspace_metadata["kubernetes"]["api-version"]
            .as_str()
            .context("Cargo.toml lacks [workspace.metadata.kubernetes] api-version = \"1.NN\"")?
            .to_owned();
        let members: Vec<_> = metadata.workspace_packages();
        let mut components = Vec::new();
        for package in members {
            if let Some(component) = Component::from_package(package)? {
                components.push(component);
            }
        }
        components.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Workspace {
            root: metadata.workspace_root.clone(),
            target_dir: metadata.target_directory.clone(),
            kubernetes_api_version,
            components,
        })
    }

    /// The components named on the command line, or all of them.
    pub fn select_components(&self, names: &[String]) -> Result<Vec<Component>> {
        if names.is_empty() {
            return Ok(self.components.clone());
        }
        let mut selected = Vec::new();
        for name in names {
            match self.components.iter().find(|c| &c.name == name) {
                Some(component) => {
                    if !selected.contains(component) {
                        selected.push(component.clone());
                    }
                }
                None => bail!(
                    "unknown component {name:?}; the components are: {} \
                     (a component is a workspace package with [package.metadata.release])",
                    self.component_names().join(", ")
                ),
            }
        }
        Ok(selected)
    }

    pub fn component_names(&self) -> Vec<&str> {
        self.components.iter().map(|c| c.name.as_str()).collect()
    }

    pub fn output(&self) -> Utf8PathBuf {
        self.root.join("_output")
    }

    /// `_output/local/bin/OS/ARCH`.
    pub fn local_bin_dir(&self, platform: &crate::platform::Platform) -> Utf8PathBuf {
        self.output().join("local/bin").join(platform.to_string())
    }

    pub fn release_stage(&self) -> Utf8PathBuf {
        self.output().join("release-stage")
    }

    pub fn release_tars(&self) -> Utf8PathBuf {
        self.output().join("release-tars")
    }

    /// Holds `_output/.lock` exclusively until dropped, so two xtasks in one
    /// checkout never write the same outputs at once; waits, saying so, when
    /// another holds it.
    pub fn lock_output(&self) -> Result<std::fs::File> {
        let output = self.output();
        std::fs::create_dir_all(&output).with_context(|| format!("creating {output}"))?;
        let path = output.join(".lock");
        let file = std::fs::File::create(&path).with_context(|| format!("creating {path}"))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                crate::progress::log(format!(
                    "waiting for another cargo xtask in this checkout ({path})"
                ));
                file.lock().with_context(|| format!("locking {path}"))?;
            }
            Err(std::fs::TryLockError::Error(err)) => {
                return Err(err).with_context(|| format!("locking {path}"));
            }
        }
        // Holding the lock, no other xtask writes here: temporary files of
        // a run that was killed are leftovers.
        let removed = crate::atomic::remove_stale_temp_files(output.as_std_path());
        if removed > 0 {
            crate::progress::log(format!(
                "removed {removed} temporary file(s) left by an interrupted run"
            ));
        }
        Ok(file)
    }

    pub fn relative<'a>(&self, path: &'a Utf8Path) -> &'a Utf8Path {
        path.strip_prefix(&self.root).unwrap_or(path)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::Duration;

    use super::*;

    #[test]
    fn output_lock_excludes_a_second_holder_until_released() {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace {
            root: Utf8PathBuf::from_path_buf(dir.path().to_path_buf()).unwrap(),
            target_dir: "target".into(),
            kubernetes_api_version: "1.32".into(),
            components: Vec::new(),
        };
        let first = ws.lock_output().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::scope(|scope| {
            scope.spawn(|| {
                let _second = ws.lock_output().unwrap();
                tx.send(()).unwrap();
            });
            assert!(
                rx.recv_timeout(Duration::from_millis(300)).is_err(),
                "second holder got the lock while the first held it"
            );
            drop(first);
            rx.recv_timeout(Duration::from_secs(30))
                .expect("second holder never got the lock");
        });
    }
}
