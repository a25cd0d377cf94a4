//! The vendored crates every build compiles from, on both routes, and that
//! the source tarball carries: `cargo vendor` of Cargo.lock, filtered to the
//! crates the supported platforms can use (the others, Windows and macOS
//! crates mostly, become empty stubs that keep their manifest and the
//! package checksum Cargo.lock pins, so `--locked` resolution still works),
//! cached under `_output/vendor/<Cargo.lock digest>/vendor`. A tree that
//! carries its own `vendor/` (an extracted source tarball) uses that, and
//! builds without network.
//!
//! Builds see the crates at one fixed path, [`VENDOR_PATH`], whichever
//! directory holds them: the container's real path, and what the local route
//! remaps its directory to.

use std::collections::BTreeSet;

use anyhow::{Context, Result, bail};
use cargo_metadata::MetadataCommand;
use cargo_metadata::camino::{Utf8Path, Utf8PathBuf};
use sha2::{Digest, Sha256};
use xshell::{Shell, cmd};

use super::CARGO_HOME_PATH;
use crate::platform::{Platform, SUPPORTED};
use crate::progress::log;
use crate::workspace::Workspace;

/// Where builds see the vendored crates (`/cargo/vendor`).
pub const VENDOR_PATH: &str = "/cargo/vendor";

/// The name of the replacement source in every cargo config we write.
pub const SOURCE_NAME: &str = "vendored-sources";

/// The directory of a self-sufficient source tree's crates.
pub const TREE_VENDOR_DIR: &str = "vendor";

/// The crates of one Cargo.lock, ready to build from.
#[derive(Debug, Clone)]
pub struct Vendored {
    /// The directory whose subdirectories are the crates.
    pub dir: Utf8PathBuf,
    /// sha256 of Cargo.lock (hex): names this set of crates.
    pub lock_digest: String,
}

impl Vendored {
    /// `cargo --config` arguments that build from `dir` instead of the
    /// crate registry.
    pub fn config_args(dir: &str) -> Vec<String> {
        vec![
            "--config".to_owned(),
            format!("source.crates-io.replace-with={SOURCE_NAME:?}"),
            "--config".to_owned(),
            format!("source.{SOURCE_NAME}.directory={dir:?}"),
        ]
    }
}

/// The cargo config a self-sufficient source tree appends to its
/// `.cargo/config.toml`: the crate registry replaced by `vendor/`.
pub fn tree_config_block() -> String {
    format!(
        "\n{TREE_CONFIG_MARKER}\n\
         [source.crates-io]\nreplace-with = \"{SOURCE_NAME}\"\n\n\
         [source.{SOURCE_NAME}]\ndirectory = \"{TREE_VENDOR_DIR}\"\n"
    )
}

const TREE_CONFIG_MARKER: &str = "# Added by cargo xtask release: this source tree builds offline from \
     vendor/ (the crates of Cargo.lock, filtered to the release platforms).";

/// The checkout's `.cargo/config.toml` with the vendored-sources block, once.
pub fn tree_config(checkout_config: &str) -> String {
    if checkout_config.contains(TREE_CONFIG_MARKER) {
        checkout_config.to_owned()
    } else {
        format!("{checkout_config}{}", tree_config_block())
    }
}

/// sha256 (hex) of the workspace's Cargo.lock.
pub fn lock_digest(ws: &Workspace) -> Result<String> {
    let lock = std::fs::read(ws.root.join("Cargo.lock"))
        .context("reading Cargo.lock (builds are --locked: commit one)")?;
    Ok(format!("{:x}", Sha256::digest(&lock)))
}

/// Whether the tree carries its own crates (an extracted source tarball).
pub fn tree_is_vendored(ws: &Workspace) -> bool {
    ws.root.join(TREE_VENDOR_DIR).is_dir()
}

/// The vendored crates of this workspace's Cargo.lock: the tree's own, or
/// the cached filtered vendor directory, made when missing.
pub fn ensure(ws: &Workspace) -> Result<Vendored> {
    let lock_digest = lock_digest(ws)?;
    if tree_is_vendored(ws) {
        return Ok(Vendored {
            dir: ws.root.join(TREE_VENDOR_DIR),
            lock_digest,
        });
    }
    let cache = ws.output().join("vendor");
    let entry = cache.join(&lock_digest[..16]);
    let dir = entry.join("vendor");
    if dir.is_dir() {
        return Ok(Vendored { dir, lock_digest });
    }
    std::fs::create_dir_all(&cache).with_context(|| format!("creating {cache}"))?;
    // Other lock files' crates are stale now.
    for old in cache.read_dir_utf8()? {
        let old = old?;
        let _ = std::fs::remove_dir_all(old.path());
    }
    let partial = cache.join(format!(".partial-{}", std::process::id()));
    let partial_vendor = partial.join("vendor");
    let sh = Shell::new()?;
    sh.change_dir(&ws.root);
    let command = cmd!(
        sh,
        "cargo vendor --locked --versioned-dirs --quiet {partial_vendor}"
    );
    log(format!("$ {command}"));
    command.quiet().ignore_stdout().run().context(
        "vendoring the crates failed (cargo vendor's output is above); \
         a machine without network needs the crates in cargo's cache, or a source tarball's vendor/",
    )?;
    let keep = crates_for_platforms(&ws.root, &SUPPORTED)?;
    let stubbed = stub_unused(&partial_vendor, &keep)?;
    log(format!(
        "vendored {} crates for {} ({stubbed} others stubbed: no supported platform uses them)",
        keep.len(),
        SUPPORTED
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    ));
    std::fs::rename(&partial, &entry).with_context(|| format!("renaming {partial} to {entry}"))?;
    crate::atomic::sync_parent(entry.as_std_path())?;
    Ok(Vendored { dir, lock_digest })
}

/// `name-version` of every registry crate in the dependency graph resolved
/// for any of `platforms` (all dependency kinds: tests and build scripts
/// need theirs too).
pub fn crates_for_platforms(root: &Utf8Path, platforms: &[Platform]) -> Result<BTreeSet<String>> {
    let mut keep = BTreeSet::new();
    for platform in platforms {
        let metadata = MetadataCommand::new()
            .current_dir(root)
            .other_options(vec![
                "--locked".to_owned(),
                "--filter-platform".to_owned(),
                platform.rust_target().to_owned(),
            ])
            .exec()
            .with_context(|| format!("reading the dependency graph for {platform}"))?;
        let resolve = metadata
            .resolve
            .as_ref()
            .context("cargo metadata returned no dependency graph")?;
        let used: BTreeSet<_> = resolve.nodes.iter().map(|n| &n.id).collect();
        for package in &metadata.packages {
            if package.source.is_some() && used.contains(&package.id) {
                keep.insert(format!("{}-{}", package.name, package.version));
            }
        }
    }
    Ok(keep)
}

/// Replaces every crate directory of `vendor` not in `keep` by a stub: its
/// `Cargo.toml` as published, an empty `src/lib.rs`, and a checksum file
/// that keeps the package checksum (which `--locked` checks against
/// Cargo.lock) and lists no files. Returns how many were stubbed.
fn stub_unused(vendor: &Utf8Path, keep: &BTreeSet<String>) -> Result<usize> {
    let mut stubbed = 0;
    for entry in vendor.read_dir_utf8()? {
        let entry = entry?;
        if keep.contains(entry.file_name()) || !entry.file_type()?.is_dir() {
            continue;
        }
        let dir = entry.path();
        let manifest = std::fs::read(dir.join("Cargo.toml"))
            .with_context(|| format!("reading {dir}/Cargo.toml"))?;
        let checksums: serde_json::Value = serde_json::from_slice(
            &std::fs::read(dir.join(".cargo-checksum.json"))
                .with_context(|| format!("reading {dir}/.cargo-checksum.json"))?,
        )
        .with_context(|| format!("parsing {dir}/.cargo-checksum.json"))?;
        let Some(package) = checksums.get("package").cloned() else {
            bail!("{dir}/.cargo-checksum.json has no package checksum");
        };
        std::fs::remove_dir_all(dir).with_context(|| format!("removing {dir}"))?;
        std::fs::create_dir_all(dir.join("src"))?;
        std::fs::write(dir.join("Cargo.toml"), manifest)?;
        std::fs::write(dir.join("src/lib.rs"), "")?;
        let stub = serde_json::json!({ "files": {}, "package": package });
        std::fs::write(dir.join(".cargo-checksum.json"), serde_json::to_vec(&stub)?)?;
        stubbed += 1;
    }
    Ok(stubbed)
}

/// The cargo config inside the build container: `/cargo/config.toml`.
pub fn container_config() -> String {
    format!(
        "# Written by cargo xtask: the build container is offline; crates come\n\
         # from the vendored sources uploaded with the source tree.\n\
         [source.crates-io]\nreplace-with = \"{SOURCE_NAME}\"\n\n\
         [source.{SOURCE_NAME}]\ndirectory = \"{CARGO_HOME_PATH}/vendor\"\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_config_is_appended_once() {
        let checkout = "[alias]\nxtask = \"run --package xtask --\"\n";
        let once = tree_config(checkout);
        assert!(once.starts_with(checkout));
        assert!(once.contains("replace-with = \"vendored-sources\""));
        assert!(once.contains("directory = \"vendor\""));
        assert_eq!(tree_config(&once), once);
    }

    #[test]
    fn unused_crates_become_stubs_that_keep_manifest_and_package_checksum() {
        let dir = tempfile::tempdir().unwrap();
        let vendor = Utf8Path::from_path(dir.path()).unwrap();
        for name in ["kept-1.0.0", "windows-sys-0.59.0"] {
            std::fs::create_dir_all(vendor.join(name).join("src/big")).unwrap();
            std::fs::write(
                vendor.join(name).join("Cargo.toml"),
                format!("[package]\nname = \"{name}\"\n"),
            )
            .unwrap();
            std::fs::write(vendor.join(name).join("src/lib.rs"), "pub fn f() {}").unwrap();
            std::fs::write(vendor.join(name).join("src/big/data.bin"), vec![0u8; 4096]).unwrap();
            std::fs::write(
                vendor.join(name).join(".cargo-checksum.json"),
                r#"{"files":{"src/lib.rs":"00"},"package":"abc123"}"#,
            )
            .unwrap();
        }
        let keep = BTreeSet::from(["kept-1.0.0".to_owned()]);
        assert_eq!(stub_unused(vendor, &keep).unwrap(), 1);
        let kept = vendor.join("kept-1.0.0");
        assert!(kept.join("src/big/data.bin").exists());
        let stub = vendor.join("windows-sys-0.59.0");
        assert!(!stub.join("src/big").exists());
        assert_eq!(
            std::fs::read_to_string(stub.join("src/lib.rs")).unwrap(),
            ""
        );
        assert!(
            std::fs::read_to_string(stub.join("Cargo.toml"))
                .unwrap()
                .contains("windows-sys")
        );
        let checksums: serde_json::Value =
            serde_json::from_slice(&std::fs::read(stub.join(".cargo-checksum.json")).unwrap())
                .unwrap();
        assert_eq!(
            checksums,
            serde_json::json!({"files": {}, "package": "abc123"})
        );
    }

    #[test]
    fn config_args_quote_the_directory() {
        assert_eq!(
            Vendored::config_args("/cargo/vendor"),
            [
                "--config",
                "source.crates-io.replace-with=\"vendored-sources\"",
                "--config",
                "source.vendored-sources.directory=\"/cargo/vendor\"",
            ]
        );
    }
}
