//! The local route: `cargo build` with the host toolchain, for the platforms
//! whose Rust standard library this toolchain has.

use std::io::BufReader;
use std::process::Stdio;

use anyhow::{Context, Result, bail};
use cargo_metadata::Message;
use cargo_metadata::camino::Utf8PathBuf;
use xshell::{Shell, cmd};

use super::vendor::{self, Vendored};
use super::{Built, remap_rustflags};
use crate::components::Component;
use crate::platform::Platform;
use crate::progress::{Progress, log};
use crate::version::Stamp;
use crate::workspace::Workspace;

pub fn build(
    ws: &Workspace,
    stamp: &Stamp,
    components: &[Component],
    platform: Platform,
) -> Result<Built> {
    let sh = Shell::new()?;
    sh.change_dir(&ws.root);
    let target = platform.rust_target();
    check_target_installed(&sh, platform)?;
    let rustc_version = cmd!(sh, "rustc --version").quiet().read()?;
    let cargo_home = cargo_home()?;
    // The vendored crates, as in the container: the same crate paths
    // (remapped to /cargo/vendor) whichever tree builds.
    let vendored = vendor::ensure(ws)?;
    // Static, as the container route's server binaries (they also run in
    // the server images, which have no C library).
    let mut rustflags = remap_rustflags(&ws.root, &cargo_home, &ws.target_dir, &vendored.dir);
    rustflags.push(super::container::STATIC_RUSTFLAG.to_owned());
    let rustflags = rustflags.join("\x1f");
    let vendor_config = Vendored::config_args(vendored.dir.as_str());

    let mut packages = Vec::new();
    for component in components {
        packages.push("--package".to_owned());
        packages.push(component.name.clone());
    }
    let mut command = cmd!(
        sh,
        "cargo build {vendor_config...} --release --locked --offline --target {target} --bins {packages...} --message-format=json-render-diagnostics"
    )
    .env("CARGO_ENCODED_RUSTFLAGS", &rustflags)
    .env_remove("RUSTFLAGS");
    for (name, value) in stamp.rustc_env(rustc_version.trim(), super::compiler_epoch(ws, stamp)) {
        command = command.env(name, value);
    }
    let progress = Progress::spinner(&format!("build {platform}"));
    if progress.is_drawn() {
        // Cargo's own status lines would tear the bar; errors still show.
        command = command.arg("--quiet");
    }
    log(format!("$ {command}"));
    let mut child = std::process::Command::from(command)
        .stdout(Stdio::piped())
        .spawn()
        .context("starting cargo")?;

    let mut executables = Vec::new();
    let stdout = child.stdout.take().context("cargo's stdout")?;
    for message in Message::parse_stream(BufReader::new(stdout)) {
        match message.context("reading cargo's output")? {
            Message::CompilerArtifact(artifact) => {
                progress.step(&artifact.target.name);
                progress.inc();
                if let Some(executable) = artifact.executable {
                    executables.push(executable);
                }
            }
            Message::BuildFinished(_) => {}
            _ => {}
        }
    }
    let status = child.wait()?;
    if !status.success() {
        bail!("cargo build for {platform} failed (the compiler's errors are above)");
    }
    progress.finish();

    let bin_dir = ws.local_bin_dir(&platform);
    std::fs::create_dir_all(&bin_dir).with_context(|| format!("creating {bin_dir}"))?;
    let mut binaries = Vec::new();
    for component in components {
        for binary in &component.binaries {
            let source: &Utf8PathBuf = executables
                .iter()
                .find(|path| path.file_name() == Some(binary.as_str()))
                .with_context(|| {
                    format!(
                        "cargo did not report building {binary} of {}",
                        component.name
                    )
                })?;
            install_binary(source, &bin_dir.join(binary))?;
            binaries.push((component.name.clone(), binary.clone()));
        }
    }
    binaries.sort();
    log(format!(
        "{platform}: {} binaries in {}",
        binaries.len(),
        ws.relative(&bin_dir)
    ));
    Ok(Built {
        platform,
        bin_dir,
        binaries,
    })
}

/// Copies a binary to its place under `_output`, atomically, mode 0755.
fn install_binary(source: &Utf8PathBuf, dest: &Utf8PathBuf) -> Result<()> {
    let mut input = std::fs::File::open(source).with_context(|| format!("opening {source}"))?;
    let mut output = crate::atomic::AtomicFile::create(dest)?;
    std::io::copy(&mut input, &mut output)
        .with_context(|| format!("copying {source} to {dest}"))?;
    output.set_mode(0o755)?;
    output.commit()
}

/// The local route can build only for targets whose std is installed.
fn check_target_installed(sh: &Shell, platform: Platform) -> Result<()> {
    let target = platform.rust_target();
    let libdir = cmd!(sh, "rustc --print target-libdir --target {target}")
        .quiet()
        .ignore_stderr()
        .read()
        .unwrap_or_default();
    let has_std = std::fs::read_dir(libdir.trim())
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .any(|e| e.file_name().to_string_lossy().starts_with("libstd-"))
        })
        .unwrap_or(false);
    if !has_std {
        bail!(
            "the local toolchain has no Rust standard library for {platform} ({target}): \
             build it in the cross-build container, or pick the host platform with --platform {}",
            Platform::host().map(|p| p.to_string()).unwrap_or_default()
        );
    }
    Ok(())
}

fn cargo_home() -> Result<Utf8PathBuf> {
    if let Ok(home) = std::env::var("CARGO_HOME") {
        return Ok(Utf8PathBuf::from(home));
    }
    let home = std::env::var("HOME").context("neither CARGO_HOME nor HOME is set")?;
    Ok(Utf8PathBuf::from(home).join(".cargo"))
}
