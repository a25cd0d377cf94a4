//! `cargo xtask release --verify`: the built-in reproducibility check. After
//! a release, the release's own source tarball is extracted at another path
//! (`$TMPDIR/kube-verify-<checkout key>/kubernetes`, kept between runs so
//! later checks are incremental) and released again there by
//! `cargo xtask release`, offline (a private, empty `CARGO_HOME`: the crates
//! come from the tarball's `vendor/`), under another umask and time zone, in
//! another build container with its own target volume. Every artifact is
//! compared; a table says which match, and a mismatch names the differing
//! archive member and, for binaries, the ELF section.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::compare;
use super::package::SOURCE_TARBALL;
use crate::platform::Platform;
use crate::progress::log;
use crate::workspace::Workspace;

/// The second build's umask and time zone: unlike any usual first build's.
const UMASK: &str = "077";
const TIME_ZONE: &str = "Pacific/Chatham";

/// Variables that would make the second build differ for reasons of the
/// caller's environment, not of the source: the copy stamps itself from its
/// version file and builds its own platforms list.
const CLEARED_ENV: [&str; 12] = [
    "SOURCE_DATE_EPOCH",
    "KUBE_GIT_VERSION",
    "KUBE_GIT_COMMIT",
    "KUBE_GIT_TREE_STATE",
    "KUBE_GIT_MAJOR",
    "KUBE_GIT_MINOR",
    "KUBE_BUILD_PLATFORMS",
    "KUBE_FASTBUILD",
    "KUBE_RELEASE_RUN_TESTS",
    "CARGO_TARGET_DIR",
    "RUSTFLAGS",
    "CARGO_ENCODED_RUSTFLAGS",
];

/// Where the second build runs for this checkout.
pub fn copy_root(ws: &Workspace) -> PathBuf {
    let key = crate::docker::checkout_key(ws.root.as_std_path());
    std::env::temp_dir().join(format!("kube-verify-{key}"))
}

/// Rebuilds the release just written to `_output/release-tars` from its
/// source tarball elsewhere and compares; an error when anything differs.
pub fn verify(ws: &Workspace, platforms: &[Platform], local: bool) -> Result<()> {
    let started = std::time::Instant::now();
    let root = copy_root(ws);
    let copy = root.join("kubernetes");
    prepare_copy(ws.release_tars().join(SOURCE_TARBALL).as_std_path(), &copy)?;
    let cargo_home = root.join("cargo-home");
    std::fs::create_dir_all(&cargo_home)
        .with_context(|| format!("creating {}", cargo_home.display()))?;

    let platform_list = platforms
        .iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let mut command = std::process::Command::new("sh");
    command
        .arg("-c")
        .arg(format!("umask {UMASK}; exec \"$@\""))
        .arg("sh")
        .args(["cargo", "xtask", "release", "--skip-tests", "--platform"])
        .arg(&platform_list)
        .current_dir(&copy)
        .env("TZ", TIME_ZONE)
        .env("CARGO_HOME", &cargo_home)
        .env("CARGO_NET_OFFLINE", "true");
    if local {
        command.arg("--local");
    }
    for name in CLEARED_ENV {
        command.env_remove(name);
    }
    log(format!(
        "verify: releasing again from {SOURCE_TARBALL} in {} (offline, umask {UMASK}, TZ={TIME_ZONE}): \
         cargo xtask release --skip-tests --platform {platform_list}{}",
        copy.display(),
        if local { " --local" } else { "" }
    ));
    let status = command
        .status()
        .context("running cargo xtask release in the copy")?;
    if !status.success() {
        bail!(
            "the second release, from the source tarball in {}, failed ({status}); its output is above",
            copy.display()
        );
    }

    let mut rows = compare::compare_dirs(
        ws.release_tars().as_std_path(),
        &copy.join("_output/release-tars"),
    )?;
    let images = compare::compare_dirs(
        ws.output().join("release-images").as_std_path(),
        &copy.join("_output/release-images"),
    )?;
    rows.extend(images.into_iter().map(|mut row| {
        row.name = format!("release-images/{}", row.name);
        row
    }));
    let table = compare::table(&rows);
    eprint!("{table}");
    let differing: Vec<&compare::Row> = rows.iter().filter(|r| !r.identical()).collect();
    if !differing.is_empty() {
        let list = differing
            .iter()
            .map(|r| format!("  {}: {}", r.name, r.difference))
            .collect::<Vec<_>>()
            .join("\n");
        bail!(
            "the release is not reproducible: {} of {} artifacts differ when rebuilt from {SOURCE_TARBALL} at {}:\n{list}",
            differing.len(),
            rows.len(),
            copy.display()
        );
    }
    log(format!(
        "verify: all {} artifacts identical when rebuilt from the source tarball at another path ({:.0}s)",
        rows.len(),
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}

/// Makes `copy` hold exactly the source tarball's tree, keeping only its
/// own `_output/` and `target/` (caches of the earlier verifications).
fn prepare_copy(source_tarball: &Path, copy: &Path) -> Result<()> {
    if copy.exists() {
        for entry in std::fs::read_dir(copy)? {
            let entry = entry?;
            let name = entry.file_name();
            if name == "_output" || name == "target" {
                continue;
            }
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            }
            .with_context(|| format!("clearing {}", path.display()))?;
        }
    }
    std::fs::create_dir_all(copy).with_context(|| format!("creating {}", copy.display()))?;
    let unpacked = copy.with_file_name("unpacked");
    if unpacked.exists() {
        std::fs::remove_dir_all(&unpacked)
            .with_context(|| format!("removing {}", unpacked.display()))?;
    }
    let file = std::fs::File::open(source_tarball)
        .with_context(|| format!("opening {}", source_tarball.display()))?;
    tar::Archive::new(flate2::read::GzDecoder::new(file))
        .unpack(&unpacked)
        .with_context(|| format!("extracting {}", source_tarball.display()))?;
    let tree = unpacked.join("kubernetes");
    for entry in std::fs::read_dir(&tree)
        .with_context(|| format!("{} has no kubernetes/ tree", source_tarball.display()))?
    {
        let entry = entry?;
        std::fs::rename(entry.path(), copy.join(entry.file_name()))?;
    }
    std::fs::remove_dir_all(&unpacked)?;
    Ok(())
}
