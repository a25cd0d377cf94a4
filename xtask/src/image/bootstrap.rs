//! Building the cross-build image from packages. The offline route:
//! mmdebstrap installs exact package versions from one archive into a root
//! filesystem tar (bit-reproducible: SOURCE_DATE_EPOCH is the definition's
//! snapshot time, and what still varies between machines or archives is
//! removed), `oci_archive` wraps it as a one-layer image and the Engine API
//! loads it — no registry needed. The pulling route: `docker build` of
//! `images/kube-cross/Dockerfile` through the API.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{Context, Result, bail};
use xshell::{Shell, cmd};

use super::apt_sources::{Archive, ArchiveKind, SUITE};
use super::definition::{ARCHITECTURES, Definition, PackagePin};
use super::oci_archive::{self, ImageConfig};
use crate::docker::Engine;
use crate::progress::{Progress, log};
use crate::workspace::Workspace;

/// A directory of `.deb`s that mmdebstrap reuses and adds to: faster
/// rebootstraps, and the exact packages of an image kept (e.g. to serve as
/// a mirror).
pub const PACKAGE_CACHE_ENV: &str = "KUBE_CROSS_PACKAGE_CACHE";

/// What replaces apt's sources in the image: they would name the archive of
/// the machine that built it, and the image installs nothing later.
const IMAGE_SOURCES_LIST: &str = "# kube-cross is made from the pinned packages of images/kube-cross/packages.txt;\n# it installs nothing after that (builds run without a network).\n";

/// One bootstrap: which archive, and the exact versions to install.
pub struct Plan<'a> {
    pub archive: &'a Archive,
    pub packages: Vec<PackagePin>,
}

/// The offline route, start to finish; returns the loaded image's ID.
pub fn bootstrap(
    engine: &Engine,
    ws: &Workspace,
    definition: &Definition,
    plan: &Plan<'_>,
) -> Result<String> {
    let sh = Shell::new()?;
    ensure_mmdebstrap(&sh)?;
    let work = ws.output().join("images").join("kube-cross");
    std::fs::create_dir_all(&work).with_context(|| format!("creating {work}"))?;
    let rootfs = work.join("rootfs.tar");
    let image_archive = work.join(format!("{}-{}.tar", super::REPOSITORY, definition.version));
    let epoch = definition.snapshot.epoch;

    // 1. Root filesystem from the archive.
    run_mmdebstrap(&sh, plan, rootfs.as_std_path(), epoch)?;

    // 2. Wrap it as a one-layer image archive.
    let progress = Progress::new("image", 2);
    progress.step("wrapping the root filesystem as a one-layer image archive");
    let config = image_config(definition);
    let mut out = crate::atomic::AtomicFile::create(&image_archive)?;
    let (_, written) = oci_archive::write(
        std::io::BufWriter::new(&mut out),
        &[definition.tag()],
        &config,
        rootfs.as_std_path(),
    )
    .context("image bootstrap failed at step `wrap the root filesystem as an image archive`")?;
    out.commit()?;
    let _ = std::fs::remove_file(&rootfs);
    progress.inc();

    // 3. Load it through the Engine API.
    progress.step(&format!(
        "loading {} into the engine at {}",
        definition.tag(),
        engine.host
    ));
    let loaded = super::saved::load_archive(engine, image_archive.as_std_path(), &definition.tag());
    let _ = std::fs::remove_file(&image_archive);
    loaded.with_context(|| {
        format!(
            "image bootstrap failed at step `load {} through the Engine API (POST /images/load)`",
            definition.tag()
        )
    })?;
    progress.inc();
    progress.finish();
    log(format!(
        "loaded {} (image {}, layer {})",
        definition.tag(),
        written.image_id,
        written.diff_id
    ));
    Ok(written.image_id)
}

/// The image's config: the same for every archive and machine.
fn image_config(definition: &Definition) -> ImageConfig {
    ImageConfig {
        architecture: super::definition::NATIVE_ARCH.to_owned(),
        env: super::IMAGE_ENV
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect(),
        cmd: vec!["/bin/bash".to_owned()],
        entrypoint: Vec::new(),
        user: String::new(),
        working_dir: crate::build::WORKSPACE_PATH.to_owned(),
        labels: definition.labels().into_iter().collect::<BTreeMap<_, _>>(),
        created_by: format!(
            "mmdebstrap --variant=apt --architectures={} {SUITE} (images/kube-cross/packages.txt)",
            ARCHITECTURES.join(",")
        ),
        created: definition.snapshot.epoch,
    }
}

/// mmdebstrap must be on PATH; as root on Debian we install it (saying so),
/// otherwise say what to install.
fn ensure_mmdebstrap(sh: &Shell) -> Result<()> {
    if which("mmdebstrap") {
        return Ok(());
    }
    let is_root = cmd!(sh, "id -u")
        .quiet()
        .read()
        .map(|s| s.trim() == "0")
        .unwrap_or(false);
    let hint = "install it (Debian/Ubuntu: `sudo apt-get install mmdebstrap`; it is what builds the \
                cross-build image without a registry), load a saved image (cargo xtask image load FILE), \
                or on an engine that can pull images run `cargo xtask image build --dockerfile`";
    if is_root && which("apt-get") {
        log(
            "mmdebstrap is not installed: installing it with apt-get (Debian package `mmdebstrap`)",
        );
        let installed = cmd!(sh, "apt-get update -qq")
            .env("DEBIAN_FRONTEND", "noninteractive")
            .run()
            .and_then(|_| {
                cmd!(
                    sh,
                    "apt-get install -y -qq --no-install-recommends mmdebstrap"
                )
                .env("DEBIAN_FRONTEND", "noninteractive")
                .run()
            });
        if installed.is_ok() && which("mmdebstrap") {
            return Ok(());
        }
        bail!(
            "mmdebstrap is not installed and apt-get could not install it (its output is above): {hint}"
        );
    }
    bail!("mmdebstrap is not installed: {hint}");
}

pub fn which(program: &str) -> bool {
    std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
        .unwrap_or(false)
}

/// The package cache directory, when `KUBE_CROSS_PACKAGE_CACHE` names one.
fn package_cache() -> Result<Option<PathBuf>> {
    let Some(dir) = std::env::var_os(PACKAGE_CACHE_ENV).filter(|d| !d.is_empty()) else {
        return Ok(None);
    };
    let dir = std::path::absolute(PathBuf::from(&dir))
        .with_context(|| format!("{PACKAGE_CACHE_ENV}={}", dir.to_string_lossy()))?;
    std::fs::create_dir_all(&dir).with_context(|| {
        format!(
            "creating the package cache {} ({PACKAGE_CACHE_ENV})",
            dir.display()
        )
    })?;
    Ok(Some(dir))
}

/// mmdebstrap's arguments for `plan`, writing the root filesystem to `out`.
/// Everything that would make the tar depend on the archive or the machine
/// is removed or fixed: apt's sources and options, resolv.conf, hostname
/// (mmdebstrap itself drops logs, caches, lists and machine-id).
fn mmdebstrap_args(plan: &Plan<'_>, out: &Path, cache: Option<&Path>) -> Vec<String> {
    let mut args = vec![
        "--variant=apt".to_owned(),
        "--format=tar".to_owned(),
        format!("--architectures={}", ARCHITECTURES.join(",")),
        format!(
            "--include={}",
            plan.packages
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join(",")
        ),
        "--customize-hook=rm -f \"$1\"/etc/resolv.conf \"$1\"/etc/hostname \"$1\"/etc/apt/apt.conf.d/99mmdebstrap \"$1\"/etc/apt/sources.list.d/*".to_owned(),
        format!(
            "--customize-hook=printf '{}' > \"$1\"/etc/apt/sources.list",
            IMAGE_SOURCES_LIST.replace('\n', "\\n")
        ),
    ];
    if plan.archive.kind == ArchiveKind::Snapshot {
        // A snapshot's Release files are past their Valid-Until by design.
        args.push("--aptopt=Acquire::Check-Valid-Until \"false\"".to_owned());
    }
    if let Some(cache) = cache {
        let cache = cache.display();
        args.extend([
            "--skip=download/empty".to_owned(),
            "--skip=essential/unlink".to_owned(),
            "--setup-hook=mkdir -p \"$1\"/var/cache/apt/archives/".to_owned(),
            format!("--setup-hook=sync-in {cache} /var/cache/apt/archives/"),
            format!("--customize-hook=sync-out /var/cache/apt/archives {cache}"),
        ]);
    }
    args.push(SUITE.to_owned());
    args.push(out.display().to_string());
    args.extend(plan.archive.source_lines());
    args
}

/// Runs mmdebstrap, showing its steps; on failure, its whole output.
fn run_mmdebstrap(sh: &Shell, plan: &Plan<'_>, rootfs: &Path, epoch: u64) -> Result<()> {
    let partial = rootfs.with_extension("tar.partial");
    let _ = std::fs::remove_file(&partial);
    let cache = package_cache()?;
    let args = mmdebstrap_args(plan, &partial, cache.as_deref());
    let command = cmd!(sh, "mmdebstrap {args...}").env("SOURCE_DATE_EPOCH", epoch.to_string());
    log(format!("$ {command}"));
    // A spinner on a terminal; without one, mmdebstrap's steps as log lines.
    let progress = Progress::spinner("mmdebstrap");
    let mut child = std::process::Command::from(command)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("image bootstrap failed at step `start mmdebstrap`")?;
    let stderr = child.stderr.take().context("mmdebstrap's stderr")?;
    let mut output = Vec::new();
    for line in BufReader::new(stderr).lines() {
        let line = line.context("reading mmdebstrap's output")?;
        if let Some(step) = line.strip_prefix("I: ") {
            if progress.is_drawn() {
                progress.step(step);
                progress.inc();
            } else {
                log(format!("mmdebstrap: {step}"));
            }
        }
        output.push(line);
    }
    let status = child.wait().context("waiting for mmdebstrap")?;
    if !status.success() {
        let _ = std::fs::remove_file(&partial);
        for line in &output {
            eprintln!("  | {line}");
        }
        bail!(
            "image bootstrap failed at step `mmdebstrap` from {} ({status}); its output is above",
            plan.archive.describe()
        );
    }
    progress.finish();
    std::fs::rename(&partial, rootfs)
        .with_context(|| format!("renaming {} to {}", partial.display(), rootfs.display()))?;
    Ok(())
}

/// The pulling route: `docker build` of the Dockerfile, through the API. It
/// uses the base image's own apt sources.
pub fn docker_build(engine: &Engine, definition: &Definition) -> Result<()> {
    let mut context = crate::archive::Archive::new();
    for name in ["Dockerfile", "packages.txt"] {
        context.add_file_with_mode(name, definition.dir.join(name), false)?;
    }
    let context = context.write_tar(Vec::new(), 0)?;
    let labels = definition.labels();
    let tag = definition.tag();
    engine.block_on(async {
        let stream = engine.docker.build_image(
            bollard::query_parameters::BuildImageOptionsBuilder::new()
                .dockerfile("Dockerfile")
                .t(&tag)
                .labels(&labels)
                .rm(true)
                .forcerm(true)
                .build(),
            None,
            Some(bollard::body_full(context.into())),
        );
        super::follow_engine_stream(Box::pin(stream), "docker build of images/kube-cross/Dockerfile", |line| {
            log(format!("  | {line}"))
        })
        .await
    })
    .context("image build failed (the Dockerfile route needs an engine that can pull debian:trixie-slim; without one, use the default offline route: cargo xtask image build)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mmdebstrap_gets_exact_versions_and_no_machine_specific_files() {
        let archive = Archive {
            url: "http://mirror.example/archive/debian/20261203T183012Z/".into(),
            origin: "test".into(),
            keyring: None,
            kind: ArchiveKind::Snapshot,
        };
        let plan = Plan {
            archive: &archive,
            packages: vec![PackagePin {
                name: "rustc".into(),
                arch: None,
                version: "1.97.1+dfsg1-1~bpo13+1".into(),
            }],
        };
        let args = mmdebstrap_args(&plan, Path::new("/o/rootfs.tar"), None);
        assert!(args.contains(&"--include=rustc=1.97.1+dfsg1-1~bpo13+1".to_owned()));
        assert!(args.contains(&"--aptopt=Acquire::Check-Valid-Until \"false\"".to_owned()));
        let hooks = args.join("\n");
        for removed in ["/etc/resolv.conf", "/etc/hostname", "99mmdebstrap"] {
            assert!(hooks.contains(removed), "{removed} is not removed");
        }
        let suite_at = args.iter().position(|a| a == SUITE).unwrap();
        assert_eq!(args[suite_at + 1], "/o/rootfs.tar");
        assert_eq!(args[suite_at + 2..], archive.source_lines()[..]);
        assert!(!hooks.contains("sync-in"));

        let live = Archive {
            kind: ArchiveKind::Live,
            ..archive.clone()
        };
        let plan = Plan {
            archive: &live,
            packages: plan.packages.clone(),
        };
        let args = mmdebstrap_args(&plan, Path::new("/o/rootfs.tar"), Some(Path::new("/cache")));
        assert!(!args.join("\n").contains("Check-Valid-Until"));
        assert!(args.contains(&"--setup-hook=sync-in /cache /var/cache/apt/archives/".to_owned()));
        assert!(
            args.contains(&"--customize-hook=sync-out /var/cache/apt/archives /cache".to_owned())
        );
    }
}
