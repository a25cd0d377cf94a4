//! `cargo xtask image update`: `cargo update` for the build image. Resolves
//! the definition's packages against Debian's archive as it is now, rewrites
//! `packages.txt` (versions and snapshot time) and bumps `VERSION` when
//! anything changed, bootstraps the definition and records the image ID it
//! gives in `IMAGE_ID` (also when no version changed: a hand-edited
//! definition gets its ID recorded, an unchanged one is checked); prints what
//! changed.

use std::collections::BTreeMap;

use anyhow::{Context, Result};

use super::apt_sources::{Archive, SUITE};
use super::definition::{self, Definition, Snapshot};
use super::{bootstrap, resolve};
use crate::docker::Engine;
use crate::progress::log;
use crate::workspace::Workspace;

pub fn update(engine: &Engine, ws: &Workspace) -> Result<()> {
    let old = Definition::read(ws)?;
    let live = Archive::live()?;
    log(format!(
        "resolving images/kube-cross/packages.txt against {}",
        live.describe()
    ));
    let resolution = resolve::resolve(&live, &old.packages)?;
    let current = resolution.current_pins()?;
    let changes: Vec<(String, String, String)> = old
        .packages
        .iter()
        .zip(&current)
        .filter(|(old, new)| old.version != new.version)
        .map(|(old, new)| (old.apt_name(), old.version.clone(), new.version.clone()))
        .collect();
    let (version, snapshot) = if changes.is_empty() {
        (old.version.clone(), old.snapshot.clone())
    } else {
        let rustc = current
            .iter()
            .find(|p| p.name == definition::RUSTC_PACKAGE && p.arch.is_none())
            .map(|p| definition::upstream_version(&p.version).to_owned())
            .unwrap_or_else(|| toolchain_of_version(&old.version));
        let version = definition::next_version(&old.version, &rustc, SUITE);
        let snapshot = Snapshot::now();
        rewrite(&old, &changes, &version, &snapshot)?;
        (version, snapshot)
    };

    let new = Definition::read(ws)?;
    let id = bootstrap::bootstrap(
        engine,
        ws,
        &new,
        &bootstrap::Plan {
            archive: &live,
            packages: new.packages.clone(),
        },
    )
    .context(
        "bootstrapping images/kube-cross from the archive failed, so IMAGE_ID is not recorded \
         (run `cargo xtask image update` again, or `git checkout images/kube-cross` to go back)",
    )?;
    crate::atomic::write(new.dir.join("IMAGE_ID"), format!("{id}\n").as_bytes())?;
    if changes.is_empty() && old.image_id.as_deref() == Some(id.as_str()) {
        log(format!(
            "images/kube-cross is up to date: every pin is what {} serves today, and they still give \
             the recorded image {id}",
            live.describe()
        ));
        return Ok(());
    }

    log("images/kube-cross updated:");
    for (name, from, to) in &changes {
        log(format!("  {name}: {from} -> {to}"));
    }
    if old.version != version {
        log(format!("  VERSION: {} -> {version}", old.version));
    }
    if old.snapshot != snapshot {
        log(format!(
            "  snapshot: {} -> {}",
            old.snapshot.timestamp, snapshot.timestamp
        ));
    }
    log(format!(
        "  IMAGE_ID: {} -> {id}",
        old.image_id.as_deref().unwrap_or("(none)")
    ));
    log("commit images/kube-cross to pin the new image");
    Ok(())
}

/// Writes the new pins, snapshot time and VERSION; removes IMAGE_ID, which
/// belonged to the old definition.
fn rewrite(
    old: &Definition,
    changes: &[(String, String, String)],
    version: &str,
    snapshot: &Snapshot,
) -> Result<()> {
    let versions: BTreeMap<String, String> = changes
        .iter()
        .map(|(name, _, new)| (name.clone(), new.clone()))
        .collect();
    let dir = &old.dir;
    crate::atomic::write(
        dir.join("packages.txt"),
        old.rewritten_packages(&versions, snapshot).as_bytes(),
    )?;
    crate::atomic::write(dir.join("VERSION"), format!("{version}\n").as_bytes())?;
    match std::fs::remove_file(dir.join("IMAGE_ID")) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("removing {dir}/IMAGE_ID")),
    }
}

/// `1.97.1` of `v1.97.1-trixie.3`; the whole VERSION when it has no such shape.
fn toolchain_of_version(version: &str) -> String {
    version
        .strip_prefix('v')
        .and_then(|rest| rest.split_once('-'))
        .map(|(toolchain, _)| toolchain.to_owned())
        .unwrap_or_else(|| version.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toolchain_comes_from_the_version() {
        assert_eq!(toolchain_of_version("v1.97.1-trixie.3"), "1.97.1");
        assert_eq!(toolchain_of_version("custom"), "custom");
    }
}
