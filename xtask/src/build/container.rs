//! The container route: components compiled inside the cross-build image,
//! driven through the Engine API only. A build session is one container
//! (network `none`, no bind mounts, this checkout's cache volumes at
//! `/target` and `/cargo`): the source and vendored crates go in as tar
//! uploads, cargo runs `--locked --offline` at the fixed paths with the
//! version stamp, binaries come back as tar downloads and are written
//! atomically under `_output/dockerized/bin/OS/ARCH/`. The container is
//! removed on success, on failure, on Ctrl-C/SIGTERM and on a panic. Also:
//! removing a checkout's containers and volumes (`clean`), and the plain-cargo
//! peer of `bench container`.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::panic::AssertUnwindSafe;

use anyhow::{Context, Result, anyhow, bail};
use bollard::models::{ContainerCreateBody, HostConfig, Mount, MountType, VolumeCreateRequest};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, DownloadFromContainerOptionsBuilder,
    RemoveContainerOptionsBuilder, StartContainerOptions, UploadToContainerOptionsBuilder,
};
use futures_util::{FutureExt, StreamExt};

use super::inputs::{self, Inputs};
use super::vendor::{self, VENDOR_PATH, Vendored};
use super::{
    Build, BuildEnvironment, Built, CARGO_HOME_PATH, TARGET_PATH, WORKSPACE_PATH, remap_rustflags,
};
use crate::components::Component;
use crate::docker::{self, Engine};
use crate::image::BuildImage;
use crate::image::record::{self, ImageRecord};
use crate::platform::Platform;
use crate::progress::{self, Progress, log};
use crate::version::Stamp;
use crate::workspace::Workspace;

/// Keep the build container after the run (for inspection; `cargo xtask
/// clean` removes it). Off unless set to `1`/`true`.
pub const KEEP_CONTAINER_ENV: &str = "KUBE_BUILD_KEEP_CONTAINER";

/// How chatty a session is.
#[derive(Debug, Clone, Copy)]
pub struct Verbosity {
    /// Print all of cargo's output live (`--verbose`).
    pub verbose: bool,
}

/// This checkout's cache volumes.
pub struct Volumes {
    /// Cargo's target directory, at `/target`: `kube-build-<key>-<image>`
    /// (compiled code depends on the toolchain, so on the image).
    pub target: String,
    /// `/cargo`: the vendored crates, `kube-build-<key>-cargo`.
    pub cargo: String,
}

impl Volumes {
    pub fn of(ws: &Workspace, image_tag: &str) -> Volumes {
        let key = docker::checkout_key(ws.root.as_std_path());
        let version = image_tag.rsplit(':').next().unwrap_or(image_tag);
        Volumes {
            target: format!("kube-build-{key}-{version}"),
            cargo: format!("kube-build-{key}-cargo"),
        }
    }
}

/// `cargo xtask build` in the container: every platform in one cargo run.
pub fn build(
    engine: &Engine,
    ws: &Workspace,
    image: &BuildImage,
    stamp: &Stamp,
    components: &[Component],
    platforms: &[Platform],
    verbosity: Verbosity,
) -> Result<Build> {
    let inputs = inputs::prepare(ws)?;
    let (downloads, environment) = in_session(engine, ws, &image.tag, &inputs, async |session| {
        let rustc_version = session.rustc_version().await?;
        let environment = BuildEnvironment::Container {
            rustc: rustc_version.clone(),
            image: session.image_record(image).await?,
        };
        let mut cmd = vec![
            "cargo".to_owned(),
            "build".to_owned(),
            "--release".to_owned(),
            "--locked".to_owned(),
            "--offline".to_owned(),
            "--bins".to_owned(),
            "--message-format=json-render-diagnostics".to_owned(),
        ];
        cmd.extend(Vendored::config_args(VENDOR_PATH));
        for platform in platforms {
            cmd.push("--target".to_owned());
            cmd.push(platform.rust_target().to_owned());
        }
        for component in components {
            cmd.push("--package".to_owned());
            cmd.push(component.name.clone());
        }
        let label = format!(
            "build {}",
            platforms
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join(",")
        );
        session
            .cargo(
                &label,
                cmd,
                build_env(Some((stamp, &rustc_version, super::compiler_epoch(ws, stamp))), true),
                verbosity,
            )
            .await
            .context("the container build failed (the compiler's errors are above); no outputs were written")?;

        // Every binary comes back before any is written: no partial outputs.
        let mut downloads = Vec::new();
        for platform in platforms {
            for component in components {
                for binary in &component.binaries {
                    let path = format!("{TARGET_PATH}/{}/release/{binary}", platform.rust_target());
                    let bytes = session.download_file(&path).await?;
                    downloads.push((*platform, component.name.clone(), binary.clone(), bytes));
                }
            }
        }
        Ok((downloads, environment))
    })?;

    let mut built: Vec<Built> = Vec::new();
    for platform in platforms {
        let bin_dir = ws
            .output()
            .join("dockerized/bin")
            .join(platform.to_string());
        std::fs::create_dir_all(&bin_dir).with_context(|| format!("creating {bin_dir}"))?;
        let mut binaries = Vec::new();
        for (_, component, binary, bytes) in downloads.iter().filter(|d| d.0 == *platform) {
            let mut out = crate::atomic::AtomicFile::create(bin_dir.join(binary))?;
            std::io::Write::write_all(&mut out, bytes)
                .with_context(|| format!("writing {}", bin_dir.join(binary)))?;
            out.set_mode(0o755)?;
            out.commit()?;
            binaries.push((component.clone(), binary.clone()));
        }
        binaries.sort();
        log(format!(
            "{platform}: {} binaries in {}",
            binaries.len(),
            ws.relative(&bin_dir)
        ));
        built.push(Built {
            platform: *platform,
            bin_dir,
            binaries,
        });
    }
    Ok(Build { built, environment })
}

/// The release's `make test`: the workspace's unit tests (the orchestrator's
/// excluded; see `test_suite`) in the container. Like upstream's `make
/// test`, unstamped: tests see the same version defaults as a plain
/// `cargo test`.
pub fn test(
    engine: &Engine,
    ws: &Workspace,
    image: &BuildImage,
    verbosity: Verbosity,
) -> Result<()> {
    let inputs = inputs::prepare(ws)?;
    in_session(engine, ws, &image.tag, &inputs, async |session| {
        let cmd: Vec<String> = ["cargo", "test"]
            .into_iter()
            .chain(crate::test_suite::COMPONENT_TEST_ARGS)
            .chain(["--offline", "--message-format=json-render-diagnostics"])
            .map(str::to_owned)
            .chain(Vendored::config_args(VENDOR_PATH))
            .collect();
        session
            .cargo("test", cmd, build_env(None, false), verbosity)
            .await
            .context("the tests failed in the build container (their output is above)")
    })
}

/// Server binaries are static, as upstream's: they run on any Linux of
/// their architecture (and under qemu-user without a sysroot). Only target
/// artifacts get it: builds always pass `--target`, so build scripts and
/// proc macros stay dynamic.
pub const STATIC_RUSTFLAG: &str = "-Ctarget-feature=+crt-static";

/// The environment of cargo in the container: the version stamp (with the
/// container's `rustc --version`) for builds, and the
/// same remapping flags as the local route (here the paths are real); static
/// linking for release binaries (not for tests, which build without
/// `--target`, so the flags would reach proc macros).
fn build_env(stamp: Option<(&Stamp, &str, u64)>, static_link: bool) -> Vec<String> {
    let mut rustflags = remap_rustflags(
        WORKSPACE_PATH.into(),
        CARGO_HOME_PATH.into(),
        TARGET_PATH.into(),
        VENDOR_PATH.into(),
    );
    if static_link {
        rustflags.push(STATIC_RUSTFLAG.to_owned());
    }
    let mut env: Vec<String> = stamp
        .map(|(stamp, rustc_version, epoch)| stamp.rustc_env(rustc_version, epoch))
        .unwrap_or_default()
        .into_iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    env.push(format!(
        "CARGO_ENCODED_RUSTFLAGS={}",
        rustflags.join("\x1f")
    ));
    env.push(format!("CARGO_HOME={CARGO_HOME_PATH}"));
    env.push(format!("CARGO_TARGET_DIR={TARGET_PATH}"));
    // Profile overrides in the caller's environment (`CARGO_PROFILE_*`)
    // reach cargo in the container as they reach a local cargo.
    env.extend(
        std::env::vars()
            .filter(|(name, _)| name.starts_with("CARGO_PROFILE_"))
            .map(|(name, value)| format!("{name}={value}")),
    );
    if progress::is_terminal() {
        env.push("CARGO_TERM_COLOR=always".to_owned());
    }
    env
}

/// A running build container.
pub struct Session<'a> {
    engine: &'a Engine,
    pub name: String,
}

/// Opens a session, runs `work` in it (until it ends or Ctrl-C), and removes
/// the container whatever happened.
fn in_session<T>(
    engine: &Engine,
    ws: &Workspace,
    image: &str,
    inputs: &Inputs,
    work: impl AsyncFnOnce(&Session<'_>) -> Result<T>,
) -> Result<T> {
    let key = docker::checkout_key(ws.root.as_std_path());
    // Unique per session: a release runs two (tests, build), and a kept
    // container must not block the next one.
    static SESSIONS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let session_number = SESSIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = format!("kube-build-{key}-{}-{session_number}", std::process::id());
    let volumes = Volumes::of(ws, image);
    let session = Session {
        engine,
        name: name.clone(),
    };
    engine.block_on(async {
        // An interrupt is this session's to handle (it removes its
        // container) until it ends.
        let _handling = crate::interrupt::handling();
        // A panic (e.g. stderr closed under us) must not leave the container.
        let guarded = AssertUnwindSafe(async {
            tokio::select! {
                opened = session.open(ws, &key, image, &volumes, inputs) => opened?,
                signal = crate::interrupt::interrupted() => return Err(anyhow!("interrupted ({signal})")),
            };
            tokio::select! {
                result = work(&session) => result,
                signal = crate::interrupt::interrupted() => Err(anyhow!("interrupted ({signal}): the build container was removed")),
            }
        })
        .catch_unwind()
        .await;
        let keep = std::env::var(KEEP_CONTAINER_ENV).is_ok_and(|v| v == "1" || v == "true");
        let mut stderr = std::io::stderr();
        if keep {
            let _ = writeln!(
                stderr,
                "{KEEP_CONTAINER_ENV} is set: keeping the build container {name} (cargo xtask clean removes it)"
            );
        } else if let Err(e) = session.remove().await {
            let _ = writeln!(stderr, "warning: could not remove the build container {name}: {e:#}");
        }
        match guarded {
            Ok(result) => result,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

impl Session<'_> {
    async fn open(
        &self,
        ws: &Workspace,
        key: &str,
        image: &str,
        volumes: &Volumes,
        inputs: &Inputs,
    ) -> Result<()> {
        let docker = &self.engine.docker;
        let labels = docker::checkout_labels(key);
        for volume in [&volumes.target, &volumes.cargo] {
            docker
                .create_volume(VolumeCreateRequest {
                    name: Some(volume.clone()),
                    labels: Some(labels.clone()),
                    ..Default::default()
                })
                .await
                .with_context(|| format!("creating the cache volume {volume}"))?;
        }
        let body = ContainerCreateBody {
            image: Some(image.to_owned()),
            // PID 1 waits; each build step is an exec.
            cmd: Some(vec!["sleep".to_owned(), "infinity".to_owned()]),
            working_dir: Some(WORKSPACE_PATH.to_owned()),
            labels: Some(labels),
            host_config: Some(HostConfig {
                network_mode: Some("none".to_owned()),
                init: Some(true),
                mounts: Some(vec![
                    Mount {
                        typ: Some(MountType::VOLUME),
                        source: Some(volumes.target.clone()),
                        target: Some(TARGET_PATH.to_owned()),
                        ..Default::default()
                    },
                    Mount {
                        typ: Some(MountType::VOLUME),
                        source: Some(volumes.cargo.clone()),
                        target: Some(CARGO_HOME_PATH.to_owned()),
                        ..Default::default()
                    },
                ]),
                ..Default::default()
            }),
            ..Default::default()
        };
        docker
            .create_container(
                Some(
                    CreateContainerOptionsBuilder::new()
                        .name(&self.name)
                        .build(),
                ),
                body,
            )
            .await
            .with_context(|| format!("creating the build container {} from {image}", self.name))?;

        // Inputs go in through the API, before anything runs.
        let started = std::time::Instant::now();
        docker
            .upload_to_container(
                &self.name,
                Some(UploadToContainerOptionsBuilder::new().path("/").build()),
                bollard::body_full(inputs.source_tar.clone().into()),
            )
            .await
            .context("uploading the source tree into the build container")?;
        docker
            .start_container(&self.name, None::<StartContainerOptions>)
            .await
            .with_context(|| format!("starting the build container {}", self.name))?;
        let uploaded_vendor = self.ensure_vendored(ws, inputs).await?;
        log(format!(
            "uploaded the source tree ({:.1} MB){} in {:.1}s",
            inputs.source_tar.len() as f64 / 1e6,
            match uploaded_vendor {
                Some(bytes) => format!(" and the vendored crates ({:.0} MB)", bytes as f64 / 1e6),
                None => " (vendored crates: up to date in the cache volume)".to_owned(),
            },
            started.elapsed().as_secs_f64()
        ));
        self.check_hermetic().await
    }

    /// Makes `/cargo` (a volume) hold the crates of this Cargo.lock; uploads
    /// them only when it holds another set. Returns the bytes uploaded.
    async fn ensure_vendored(&self, ws: &Workspace, inputs: &Inputs) -> Result<Option<u64>> {
        let marker = format!("{CARGO_HOME_PATH}/{}", inputs::VENDOR_MARKER);
        let held = docker::exec(
            &self.engine.docker,
            &self.name,
            vec!["cat".to_owned(), marker],
            vec![],
            |_, _| {},
        )
        .await?;
        if held.exit_code == 0 && held.stdout.trim() == inputs.lock_digest {
            return Ok(None);
        }
        let tar = inputs::vendor_tar(ws, &vendor::ensure(ws)?)?;
        // The marker goes first and comes back last: an upload that fails
        // part way leaves no marker claiming an up-to-date volume.
        let marker_path = format!("{CARGO_HOME_PATH}/{}", inputs::VENDOR_MARKER);
        let cleared = docker::exec(
            &self.engine.docker,
            &self.name,
            vec![
                "rm".to_owned(),
                "-rf".to_owned(),
                marker_path,
                format!("{CARGO_HOME_PATH}/vendor"),
                format!("{CARGO_HOME_PATH}/config.toml"),
            ],
            vec![],
            |_, _| {},
        )
        .await?;
        if cleared.exit_code != 0 {
            bail!(
                "clearing the old vendored crates failed: {}",
                cleared.stderr.trim()
            );
        }
        self.engine
            .docker
            .upload_to_container(
                &self.name,
                Some(UploadToContainerOptionsBuilder::new().path("/").build()),
                bollard::body_try_stream(docker::file_chunks(tar.as_std_path())?),
            )
            .await
            .context("uploading the vendored crates into the build container")?;
        self.engine
            .docker
            .upload_to_container(
                &self.name,
                Some(UploadToContainerOptionsBuilder::new().path("/").build()),
                bollard::body_full(inputs::marker_tar(&inputs.lock_digest)?.into()),
            )
            .await
            .context("marking the vendored crates as complete in the build container")?;
        Ok(Some(std::fs::metadata(&tar).map(|m| m.len()).unwrap_or(0)))
    }

    /// Refuses to build in a container that has a network or a host path:
    /// the hermeticity promise, checked on every build.
    async fn check_hermetic(&self) -> Result<()> {
        let inspected = self
            .engine
            .docker
            .inspect_container(&self.name, None)
            .await
            .with_context(|| format!("inspecting the build container {}", self.name))?;
        let mut mounts = Vec::new();
        for mount in inspected.mounts.unwrap_or_default() {
            let destination = mount.destination.unwrap_or_default();
            if mount.typ.as_deref() != Some("volume") {
                bail!(
                    "the build container {} has a {} mount at {destination}: builds must not see host paths",
                    self.name,
                    mount.typ.unwrap_or_default(),
                );
            }
            mounts.push(format!(
                "{} at {destination}",
                mount.name.unwrap_or_default()
            ));
        }
        mounts.sort();
        let out = docker::exec(
            &self.engine.docker,
            &self.name,
            vec!["ls".to_owned(), "/sys/class/net".to_owned()],
            vec![],
            |_, _| {},
        )
        .await?;
        let interfaces: Vec<&str> = out.stdout.split_whitespace().collect();
        if out.exit_code != 0 || interfaces != ["lo"] {
            bail!(
                "the build container {} is not offline: network interfaces {interfaces:?} (want only lo)",
                self.name
            );
        }
        log(format!(
            "build container {}: network interfaces: lo only; mounts: volumes {}; no host paths",
            self.name,
            mounts.join(", ")
        ));
        Ok(())
    }

    async fn rustc_version(&self) -> Result<String> {
        let out = docker::exec(
            &self.engine.docker,
            &self.name,
            vec!["rustc".to_owned(), "--version".to_owned()],
            vec![],
            |_, _| {},
        )
        .await?;
        if out.exit_code != 0 {
            bail!(
                "`rustc --version` failed in the build container: {}",
                out.stderr.trim()
            );
        }
        Ok(out.stdout.trim().to_owned())
    }

    /// The image this session runs: every installed package's exact version,
    /// from dpkg's database.
    async fn image_record(&self, image: &BuildImage) -> Result<ImageRecord> {
        let out = docker::exec(
            &self.engine.docker,
            &self.name,
            record::DPKG_QUERY.map(str::to_owned).to_vec(),
            vec![],
            |_, _| {},
        )
        .await?;
        if out.exit_code != 0 {
            bail!(
                "`dpkg-query --show` failed in the build container: {}",
                out.stderr.trim()
            );
        }
        ImageRecord::new(image, &out.stdout)
    }

    /// Runs cargo with JSON messages on stdout: progress from the artifacts,
    /// cargo's own output live (`--verbose`, or without a terminal) or
    /// replayed on failure.
    async fn cargo(
        &self,
        label: &str,
        cmd: Vec<String>,
        env: Vec<String>,
        verbosity: Verbosity,
    ) -> Result<()> {
        log(format!("$ {} (in {})", cmd.join(" "), self.name));
        let live = verbosity.verbose || !progress::is_terminal();
        let bar = (!live).then(|| Progress::spinner(label));
        let started = std::time::Instant::now();
        let mut held = Vec::new();
        let mut hint = None;
        let out = docker::exec(
            &self.engine.docker,
            &self.name,
            cmd,
            env,
            |is_stderr, line| {
                if !is_stderr {
                    match serde_json::from_str::<cargo_metadata::Message>(line) {
                        Ok(cargo_metadata::Message::CompilerArtifact(artifact)) => {
                            if let Some(bar) = &bar {
                                bar.step(&artifact.target.name);
                                bar.inc();
                            }
                        }
                        Ok(_) => {}
                        // Not JSON: test binaries' output.
                        Err(_) => show(live, &mut held, line),
                    }
                } else {
                    hint = hint.or_else(|| resource_hint(line));
                    show(live, &mut held, line);
                }
            },
        )
        .await?;
        if let Some(bar) = bar {
            bar.finish();
        } else {
            log(format!(
                "{label}: done in {:.1}s",
                started.elapsed().as_secs_f64()
            ));
        }
        if out.exit_code != 0 {
            for line in &held {
                eprintln!("{line}");
            }
            bail!(
                "cargo exited with code {} in the build container{}",
                out.exit_code,
                hint.unwrap_or_default()
            );
        }
        Ok(())
    }

    /// One file from the container, through the API (a tar stream of one
    /// entry; its owner and mtime are the container's and are dropped).
    async fn download_file(&self, path: &str) -> Result<Vec<u8>> {
        let mut stream = self.engine.docker.download_from_container(
            &self.name,
            Some(
                DownloadFromContainerOptionsBuilder::new()
                    .path(path)
                    .build(),
            ),
        );
        let mut tar_bytes = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk =
                chunk.with_context(|| format!("downloading {path} from the build container"))?;
            tar_bytes.extend_from_slice(&chunk);
        }
        let mut archive = tar::Archive::new(tar_bytes.as_slice());
        let mut entries = archive.entries()?;
        let mut entry = entries
            .next()
            .with_context(|| format!("the engine sent an empty archive for {path}"))??;
        if entry.header().entry_type() != tar::EntryType::Regular {
            bail!("{path} in the build container is not a regular file");
        }
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes)?;
        Ok(bytes)
    }

    async fn remove(&self) -> Result<()> {
        match self
            .engine
            .docker
            .remove_container(
                &self.name,
                Some(RemoveContainerOptionsBuilder::new().force(true).build()),
            )
            .await
        {
            Ok(()) => Ok(()),
            Err(e) if docker::is_not_found(&e) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

fn show(live: bool, held: &mut Vec<String>, line: &str) {
    if live {
        eprintln!("{line}");
    } else {
        held.push(line.to_owned());
    }
}

/// The build containers and cache volumes of the checkout at `root`,
/// removed; for `cargo xtask clean`. Returns what was removed, for the log.
pub async fn remove_checkout_objects(
    engine: &Engine,
    root: &std::path::Path,
) -> Result<Vec<String>> {
    let key = docker::checkout_key(root);
    let label = format!("{}={key}", docker::CHECKOUT_LABEL);
    let filters: HashMap<&str, Vec<&str>> = HashMap::from([("label", vec![label.as_str()])]);
    let mut removed = Vec::new();
    let containers = engine
        .docker
        .list_containers(Some(
            bollard::query_parameters::ListContainersOptionsBuilder::new()
                .all(true)
                .filters(&filters)
                .build(),
        ))
        .await
        .with_context(|| format!("listing containers in the engine at {}", engine.host))?;
    for container in containers {
        let Some(id) = container.id else { continue };
        let name = container
            .names
            .and_then(|n| n.first().cloned())
            .unwrap_or_else(|| id.clone());
        match engine
            .docker
            .remove_container(
                &id,
                Some(RemoveContainerOptionsBuilder::new().force(true).build()),
            )
            .await
        {
            Ok(()) => removed.push(format!("container {}", name.trim_start_matches('/'))),
            Err(e) if docker::is_not_found(&e) => {}
            Err(e) => return Err(e).with_context(|| format!("removing the container {name}")),
        }
    }
    let volumes = engine
        .docker
        .list_volumes(Some(
            bollard::query_parameters::ListVolumesOptionsBuilder::new()
                .filters(&filters)
                .build(),
        ))
        .await
        .with_context(|| format!("listing volumes in the engine at {}", engine.host))?;
    for volume in volumes.volumes.unwrap_or_default() {
        match engine
            .docker
            .remove_volume(
                &volume.name,
                None::<bollard::query_parameters::RemoveVolumeOptions>,
            )
            .await
        {
            Ok(()) => removed.push(format!("volume {}", volume.name)),
            Err(e) if docker::is_not_found(&e) => {}
            Err(e) => {
                return Err(e).with_context(|| format!("removing the volume {}", volume.name));
            }
        }
    }
    Ok(removed)
}

/// The benchmark's peer: a plain `cargo build --release --locked` of
/// `package` in a container of the same image with the same inputs, flags and
/// stamp (so only the orchestration differs; a fresh target directory in the
/// cache volume), cold, then again after touching `touched` (relative to the
/// workspace), `warm_runs` times. Returns the cold and the warm durations of
/// cargo alone.
pub fn plain_cargo_timings(
    engine: &Engine,
    checkout: &cargo_metadata::camino::Utf8Path,
    package: &str,
    touched: &str,
    warm_runs: usize,
) -> Result<(std::time::Duration, Vec<std::time::Duration>)> {
    let previous = std::env::current_dir()?;
    std::env::set_current_dir(checkout).with_context(|| format!("entering {checkout}"))?;
    let ws = Workspace::discover();
    std::env::set_current_dir(previous)?;
    let ws = ws?;
    let image = crate::image::ensure(engine, &ws, &crate::image::ImagePolicy::new(false)?)?;
    let inputs = inputs::prepare(&ws)?;
    let stamp = Stamp::from_checkout(&ws)?;
    in_session(engine, &ws, &image.tag, &inputs, async |session| {
        let plain_target = format!("{TARGET_PATH}/plain-cargo");
        let rustc_version = session.rustc_version().await?;
        let epoch = super::compiler_epoch(&ws, &stamp);
        let mut env: Vec<String> = build_env(Some((&stamp, &rustc_version, epoch)), true)
            .into_iter()
            .filter(|e| !e.starts_with("CARGO_TARGET_DIR=") && !e.starts_with("CARGO_TERM_COLOR="))
            .collect();
        env.push(format!("CARGO_TARGET_DIR={plain_target}"));
        let run = async |cmd: Vec<String>, env: Vec<String>| -> Result<std::time::Duration> {
            let shown = cmd.join(" ");
            log(format!("$ {shown} (in {})", session.name));
            let started = std::time::Instant::now();
            let out = docker::exec(&engine.docker, &session.name, cmd, env, |_, line| {
                eprintln!("{line}")
            })
            .await?;
            if out.exit_code != 0 {
                bail!("`{shown}` failed in the container (exit {})", out.exit_code);
            }
            Ok(started.elapsed())
        };
        run(
            vec!["rm".into(), "-rf".into(), plain_target.clone()],
            vec![],
        )
        .await?;
        let cargo: Vec<String> = [
            "cargo",
            "build",
            "--release",
            "--locked",
            "--offline",
            "--target",
            "x86_64-unknown-linux-gnu",
            "--package",
            package,
        ]
        .map(str::to_owned)
        .to_vec();
        let cold = run(cargo.clone(), env.clone()).await?;
        let mut warm = Vec::new();
        for _ in 0..warm_runs {
            run(
                vec!["touch".into(), format!("{WORKSPACE_PATH}/{touched}")],
                vec![],
            )
            .await?;
            warm.push(run(cargo.clone(), env.clone()).await?);
        }
        Ok((cold, warm))
    })
}

/// What to do when cargo failed for want of a machine resource rather than
/// for the code: the line of cargo's output that tells, turned into advice.
fn resource_hint(line: &str) -> Option<&'static str> {
    if line.contains("No space left on device") {
        Some(
            ": the disk is full (`docker system df` shows what the engine holds; \
             `cargo xtask clean` removes this checkout's build volumes and _output)",
        )
    } else if line.contains("SIGKILL") {
        Some(
            ": a compiler was killed, most often for want of memory \
             (give the engine more, or build one platform at a time with --platform)",
        )
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::resource_hint;

    #[test]
    fn a_full_disk_or_a_killed_compiler_says_what_to_do() {
        let full = "error: failed to write /target/debug/deps/x.rlib: No space left on device (os error 28)";
        assert!(resource_hint(full).unwrap().contains("the disk is full"));
        let killed = "process didn't exit successfully: `rustc ...` (signal: 9, SIGKILL: kill)";
        assert!(resource_hint(killed).unwrap().contains("memory"));
        assert_eq!(resource_hint("error[E0308]: mismatched types"), None);
    }
}
