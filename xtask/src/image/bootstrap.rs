//! Building the cross-build image. The offline route: mmdebstrap makes a
//! root filesystem tar from Debian's archive (the pinned packages of
//! `images/kube-cross/packages.txt`), `oci_archive` wraps it as a one-layer
//! image and the Engine API loads it — no registry needed. The pulling route:
//! `docker build` of `images/kube-cross/Dockerfile` through the API.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::Stdio;

use anyhow::{Context, Result, bail};
use xshell::{Shell, cmd};

use super::Definition;
use super::oci_archive::{self, ImageConfig};
use crate::docker::Engine;
use crate::progress::{Progress, log};
use crate::workspace::Workspace;

/// The Debian release the image is made from, and its archive.
pub const SUITE: &str = "trixie";
pub const SOURCES: [&str; 2] = [
    "deb http://deb.debian.org/debian trixie main",
    "deb http://deb.debian.org/debian trixie-backports main",
];
/// Prefer trixie-backports (the Rust toolchain lives there).
const BACKPORTS_PIN_HOOK: &str = r#"mkdir -p "$1"/etc/apt/preferences.d && printf 'Package: *\nPin: release n=trixie-backports\nPin-Priority: 990\n' > "$1"/etc/apt/preferences.d/backports"#;

/// The offline route, start to finish.
pub fn bootstrap(engine: &Engine, ws: &Workspace, definition: &Definition) -> Result<()> {
    let sh = Shell::new()?;
    ensure_mmdebstrap(&sh)?;
    let work = ws.output().join("images").join("kube-cross");
    std::fs::create_dir_all(&work).with_context(|| format!("creating {work}"))?;
    let rootfs = work.join("rootfs.tar");
    let image_archive = work.join(format!("{}-{}.tar", super::REPOSITORY, definition.version));
    let epoch = definition_epoch(ws);

    // 1. Root filesystem from Debian's archive.
    run_mmdebstrap(&sh, definition, rootfs.as_std_path(), epoch)?;

    // 2. Wrap it as a one-layer image archive.
    let progress = Progress::new("image", 2);
    progress.step("wrapping the root filesystem as a one-layer image archive");
    let config = ImageConfig {
        architecture: "amd64".to_owned(),
        env: super::IMAGE_ENV
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect(),
        cmd: vec!["/bin/bash".to_owned()],
        working_dir: crate::build::WORKSPACE_PATH.to_owned(),
        labels: definition.labels().into_iter().collect::<BTreeMap<_, _>>(),
        created_by: format!(
            "mmdebstrap --variant=apt --architectures=amd64,arm64 {SUITE} (images/kube-cross/packages.txt)"
        ),
        created: epoch,
    };
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
    let loaded = engine.block_on(async {
        let body =
            bollard::body_try_stream(crate::docker::file_chunks(image_archive.as_std_path())?);
        let stream = engine.docker.import_image(
            bollard::query_parameters::ImportImageOptionsBuilder::new()
                .quiet(true)
                .build(),
            body,
            None,
        );
        super::follow_engine_stream(Box::pin(stream), "loading the image archive", |line| {
            log(format!("engine: {line}"))
        })
        .await
    });
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
    Ok(())
}

/// The time the image's definition last changed (its files' last commit), so
/// a rebuilt image gets the same timestamps; the last commit's time when the
/// definition is not committed.
fn definition_epoch(ws: &Workspace) -> u64 {
    let Ok(sh) = Shell::new() else { return 0 };
    sh.change_dir(&ws.root);
    cmd!(sh, "git log -1 --format=%ct -- images/kube-cross")
        .quiet()
        .ignore_stderr()
        .read()
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .or_else(|| {
            cmd!(sh, "git log -1 --format=%ct")
                .quiet()
                .ignore_stderr()
                .read()
                .ok()
                .and_then(|s| s.trim().parse().ok())
        })
        .unwrap_or(0)
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
                cross-build image without a registry), or on an engine that can pull images run \
                `cargo xtask image build --dockerfile`";
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

fn which(program: &str) -> bool {
    std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
        .unwrap_or(false)
}

/// Runs mmdebstrap, showing its steps; on failure, its whole output.
fn run_mmdebstrap(
    sh: &Shell,
    definition: &Definition,
    rootfs: &std::path::Path,
    epoch: u64,
) -> Result<()> {
    let include = format!("--include={}", definition.packages.join(","));
    let hook = format!("--setup-hook={BACKPORTS_PIN_HOOK}");
    let partial = rootfs.with_extension("tar.partial");
    let _ = std::fs::remove_file(&partial);
    let sources = SOURCES;
    let command = cmd!(
        sh,
        "mmdebstrap --variant=apt --format=tar --architectures=amd64,arm64 {hook} {include} {SUITE} {partial} {sources...}"
    )
    .env("SOURCE_DATE_EPOCH", epoch.to_string());
    log(format!("$ {command}"));
    // A spinner on a terminal; without one, mmdebstrap's steps as log lines.
    let progress = Progress::spinner("mmdebstrap");
    let mut child = std::process::Command::from(command)
        .stdout(Stdio::piped())
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
            "image bootstrap failed at step `mmdebstrap` ({status}); its output is above. \
             A pinned version that is no longer in Debian's archive shows as \"Version ... was not found\": \
             update images/kube-cross/packages.txt and bump VERSION"
        );
    }
    progress.finish();
    std::fs::rename(&partial, rootfs)
        .with_context(|| format!("renaming {} to {}", partial.display(), rootfs.display()))?;
    Ok(())
}

/// The pulling route: `docker build` of the Dockerfile, through the API.
pub fn docker_build(engine: &Engine, ws: &Workspace, definition: &Definition) -> Result<()> {
    let _ = ws;
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
