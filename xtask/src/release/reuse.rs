//! No-op releases: the digest of everything that feeds the artifacts (the
//! source files' contents, Cargo.lock, the version stamp, the platforms,
//! the toolchain or build image ID, the build settings from the
//! environment), and the record of the last release made from it
//! (`_output/release-inputs.json`). When the digest and the published files
//! still match, the release is reused instead of rebuilt. The xtask's own
//! source is one of the source files, so a change to how releases are made
//! is a change of inputs too.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::source::{SourceFile, SourceKind};
use crate::platform::Platform;
use crate::version::Stamp;
use crate::workspace::Workspace;

const RECORD: &str = "release-inputs.json";

/// Environment variables that change what a release makes.
const SETTINGS_ENV: [&str; 2] = ["KUBE_DOCKER_REGISTRY", "KUBE_DOCKER_IMAGE_TAG"];

#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
struct Record {
    inputs: String,
    tests_ran: bool,
    /// Published file (under `_output/`) → sha256.
    files: BTreeMap<String, String>,
}

/// The digest of a release's inputs. `toolchain` is the build image ID or
/// the host's `rustc --version`.
pub fn inputs_digest(
    stamp: &Stamp,
    sources: &[SourceFile],
    lock_digest: &str,
    platforms: &[Platform],
    toolchain: &str,
) -> Result<String> {
    let mut hasher = Sha256::new();
    let mut field = |name: &str, value: &[u8]| {
        hasher.update((name.len() as u64).to_le_bytes());
        hasher.update(name.as_bytes());
        hasher.update((value.len() as u64).to_le_bytes());
        hasher.update(value);
    };
    field("stamp", stamp.version_file().as_bytes());
    field("cargo-lock", lock_digest.as_bytes());
    field("toolchain", toolchain.as_bytes());
    for platform in platforms {
        field("platform", platform.to_string().as_bytes());
    }
    let mut settings: Vec<(String, String)> = std::env::vars()
        .filter(|(name, _)| {
            name.starts_with("CARGO_PROFILE_") || SETTINGS_ENV.contains(&name.as_str())
        })
        .collect();
    settings.sort();
    for (name, value) in settings {
        field(&name, value.as_bytes());
    }
    for file in sources {
        // The vendored crates are Cargo.lock's, digested above.
        if file.path.starts_with("vendor/") {
            continue;
        }
        match &file.kind {
            SourceKind::File { executable } => {
                let bytes = std::fs::read(&file.disk)
                    .with_context(|| format!("reading {}", file.disk.display()))?;
                field(&file.path, if *executable { b"x" } else { b"-" });
                field(&file.path, &bytes);
            }
            SourceKind::Symlink => {
                let target = std::fs::read_link(&file.disk)
                    .with_context(|| format!("reading {}", file.disk.display()))?;
                field(&file.path, target.to_string_lossy().as_bytes());
            }
            SourceKind::Generated(bytes) => field(&file.path, bytes),
        }
    }
    Ok(format!("{:x}", hasher.finalize()))
}

/// Whether the published release was made from `inputs` (with the tests
/// run, when `run_tests`) and is still intact.
pub fn is_current(ws: &Workspace, inputs: &str, run_tests: bool) -> bool {
    let Ok(bytes) = std::fs::read(ws.output().join(RECORD)) else {
        return false;
    };
    let Ok(record) = serde_json::from_slice::<Record>(&bytes) else {
        return false;
    };
    if record.inputs != inputs || (run_tests && !record.tests_ran) {
        return false;
    }
    match published_files(ws) {
        Ok(files) => files == record.files,
        Err(_) => false,
    }
}

/// Records that the published release was made from `inputs`.
pub fn record(ws: &Workspace, inputs: &str, tests_ran: bool) -> Result<()> {
    let record = Record {
        inputs: inputs.to_owned(),
        tests_ran,
        files: published_files(ws)?,
    };
    crate::atomic::write(
        ws.output().join(RECORD).as_std_path(),
        &serde_json::to_vec_pretty(&record)?,
    )
}

/// Forgets the record (before a release starts replacing the outputs).
pub fn forget(ws: &Workspace) {
    let _ = std::fs::remove_file(ws.output().join(RECORD));
}

/// `release-tars/*` and `release-images/*/*` with their sha256.
fn published_files(ws: &Workspace) -> Result<BTreeMap<String, String>> {
    let mut files = BTreeMap::new();
    for dir in ["release-tars", "release-images"] {
        let root = ws.output().join(dir);
        let mut stack = vec![root.clone()];
        while let Some(current) = stack.pop() {
            for entry in current
                .read_dir_utf8()
                .with_context(|| format!("listing {current}"))?
            {
                let entry = entry?;
                if entry.file_type()?.is_dir() {
                    stack.push(entry.path().to_owned());
                } else {
                    let relative = entry
                        .path()
                        .strip_prefix(ws.output())
                        .unwrap_or(entry.path())
                        .to_string();
                    let digest =
                        crate::image::oci_archive::sha256_file(entry.path().as_std_path())?;
                    files.insert(relative, digest);
                }
            }
        }
    }
    Ok(files)
}
