//! End-to-end tests of the container route, against the real Docker engine,
//! real mmdebstrap (the image bootstrap) and real qemu-user, in temporary git
//! clones of this repository. Work is shared: the image is built once (and
//! reused when the engine has it); one release per checkout serves several
//! assertions. scripts/install-test-deps.sh installs mmdebstrap and qemu-user.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

use bollard::Docker;
use bollard::exec::StartExecResults;
use bollard::models::ExecConfig;
use futures_util::StreamExt;

mod common;
mod engine;
use common::{assert_success, clone_into};
use engine::{docker, xtask};

const CHECKOUT_LABEL: &str = "io.k8s-rs.build.checkout";

/// Runs `cargo xtask clean` in a checkout when dropped, so a failing test
/// leaves no containers or volumes in the engine either (declare it after the
/// checkout's temporary directory: locals drop in reverse order).
struct CleanOnDrop(PathBuf);

impl Drop for CleanOnDrop {
    fn drop(&mut self) {
        if self.0.join("Cargo.toml").exists() {
            let _ = Command::new(env!("CARGO_BIN_EXE_xtask"))
                .current_dir(&self.0)
                .arg("clean")
                .output();
        }
    }
}

/// Builds the image once per test run (both tests need it; the first one in
/// builds it, the other waits), reusing it when the engine has it.
fn ensure_image(dir: &Path) {
    static IMAGE: Mutex<bool> = Mutex::new(false);
    let mut ready = IMAGE.lock().unwrap_or_else(|e| e.into_inner());
    if !*ready {
        let out = xtask(dir, &[], &["image", "build", "--if-missing"]);
        assert_success(&out, "cargo xtask image build --if-missing");
        *ready = true;
    }
}

/// The build container names a run logged (`build container NAME: ...`).
fn build_containers(out: &Output) -> Vec<String> {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let mut names: Vec<String> = stderr
        .lines()
        .filter_map(|l| l.strip_prefix("build container "))
        .filter_map(|l| l.split(':').next())
        .map(str::to_owned)
        .collect();
    names.dedup();
    names
}

/// `kube-build-<key>-...` → key.
fn checkout_key(container: &str) -> String {
    container
        .strip_prefix("kube-build-")
        .and_then(|rest| rest.split('-').next())
        .unwrap_or_else(|| panic!("unexpected container name {container}"))
        .to_owned()
}

/// Containers and volumes in the engine labelled with this checkout key.
fn objects_of(runtime: &tokio::runtime::Runtime, docker: &Docker, key: &str) -> Vec<String> {
    runtime.block_on(async {
        let label = format!("{CHECKOUT_LABEL}={key}");
        let filters = HashMap::from([("label", vec![label.as_str()])]);
        let containers = docker
            .list_containers(Some(
                bollard::query_parameters::ListContainersOptionsBuilder::new()
                    .all(true)
                    .filters(&filters)
                    .build(),
            ))
            .await
            .unwrap();
        let volumes = docker
            .list_volumes(Some(
                bollard::query_parameters::ListVolumesOptionsBuilder::new()
                    .filters(&filters)
                    .build(),
            ))
            .await
            .unwrap();
        let mut objects: Vec<String> = containers
            .into_iter()
            .flat_map(|c| c.names.unwrap_or_default())
            .map(|n| format!("container {n}"))
            .collect();
        objects.extend(
            volumes
                .volumes
                .unwrap_or_default()
                .into_iter()
                .map(|v| format!("volume {}", v.name)),
        );
        objects
    })
}

/// Runs a command in a running container; returns (exit code, stdout).
fn exec_in(
    runtime: &tokio::runtime::Runtime,
    docker: &Docker,
    container: &str,
    cmd: &[&str],
) -> (i64, String) {
    runtime.block_on(async {
        let exec = docker
            .create_exec(
                container,
                ExecConfig {
                    cmd: Some(cmd.iter().map(|s| s.to_string()).collect()),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let mut stdout = String::new();
        if let StartExecResults::Attached { mut output, .. } =
            docker.start_exec(&exec.id, None).await.unwrap()
        {
            while let Some(chunk) = output.next().await {
                if let bollard::container::LogOutput::StdOut { message } = chunk.unwrap() {
                    stdout.push_str(&String::from_utf8_lossy(&message));
                }
            }
        }
        let code = docker
            .inspect_exec(&exec.id)
            .await
            .unwrap()
            .exit_code
            .unwrap_or(-1);
        (code, stdout)
    })
}

fn files_under(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            if entry.file_type().unwrap().is_dir() {
                stack.push(path);
            } else {
                let relative = path.strip_prefix(dir).unwrap().display().to_string();
                files.insert(relative, std::fs::read(&path).unwrap());
            }
        }
    }
    files
}

/// ELF e_machine: 0x3e x86-64, 0xb7 aarch64.
fn elf_machine(binary: &[u8]) -> u16 {
    assert_eq!(&binary[..4], b"\x7fELF", "not an ELF file");
    u16::from_le_bytes([binary[18], binary[19]])
}

fn head_commit(dir: &Path) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args(["rev-parse", "HEAD"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// One release per checkout, two checkouts at different paths: the release
/// runs the tests in the container and builds both platforms; the outputs of
/// both checkouts are byte-identical; the arm64 server runs under
/// qemu-aarch64 and the amd64 one natively, printing the stamped version; the
/// (kept) build container is offline and has no bind mounts; `clean` leaves
/// nothing of either checkout behind.
#[test]
fn container_release_is_reproducible_hermetic_and_runs_on_both_platforms() {
    let tmp_a = tempfile::tempdir().unwrap();
    let tmp_b = tempfile::tempdir().unwrap();
    let a = tmp_a.path().join("kubernetes");
    let b = tmp_b.path().join("elsewhere/deeper/k8s");
    clone_into(&a);
    clone_into(&b);
    let _clean_a = CleanOnDrop(a.clone());
    let _clean_b = CleanOnDrop(b.clone());
    ensure_image(&a);
    let (runtime, docker) = docker();

    // The tests-in-the-container step is covered by the broken-source test
    // (cheaply: it fails at the first crate); here both checkouts skip it.
    let out_a = xtask(
        &a,
        &[("KUBE_BUILD_KEEP_CONTAINER", "1")],
        &["release", "--skip-tests"],
    );
    assert_success(&out_a, "release in checkout A (both platforms)");
    let out_b = xtask(&b, &[("TZ", "Asia/Kolkata")], &["release", "--skip-tests"]);
    assert_success(&out_b, "release in checkout B");

    // Reproducible: binaries and every release artifact, byte for byte.
    let bins_a = files_under(&a.join("_output/dockerized/bin"));
    let bins_b = files_under(&b.join("_output/dockerized/bin"));
    assert_eq!(
        bins_a.keys().collect::<Vec<_>>(),
        ["linux/amd64/kube-apiserver", "linux/arm64/kube-apiserver"]
    );
    for (name, bytes) in &bins_a {
        assert!(bins_b[name] == *bytes, "{name} differs between checkouts");
    }
    let tars_a = files_under(&a.join("_output/release-tars"));
    let tars_b = files_under(&b.join("_output/release-tars"));
    assert!(tars_a.contains_key("kubernetes-server-linux-arm64.tar.gz"));
    assert!(tars_a.contains_key("kubernetes-server-linux-amd64.tar.gz"));
    assert_eq!(
        tars_a.keys().collect::<Vec<_>>(),
        tars_b.keys().collect::<Vec<_>>()
    );
    for (name, bytes) in &tars_a {
        assert!(
            tars_b[name] == *bytes,
            "release artifact {name} differs between checkouts"
        );
    }

    // The build image's record: its ID, and every installed package at the
    // version dpkg in the image reports; printed in one line by the build.
    let environment: serde_json::Value =
        serde_json::from_slice(&tars_a["build-environment.json"]).unwrap();
    assert_eq!(environment["route"], "container");
    let image = &environment["image"];
    let tag = image["tag"].as_str().unwrap();
    let inspected = runtime.block_on(docker.inspect_image(tag)).unwrap();
    assert_eq!(image["id"].as_str(), inspected.id.as_deref());
    assert!(
        String::from_utf8_lossy(&out_a.stderr).contains(&format!("build image: {tag} sha256:")),
        "the build did not print its image"
    );
    let containers = build_containers(&out_a);
    let (code, listed) = exec_in(
        &runtime,
        &docker,
        &containers[0],
        &[
            "dpkg-query",
            "-W",
            "-f=${Status}|${Package}:${Architecture}|${Version}\n",
        ],
    );
    assert_eq!(code, 0);
    let installed: BTreeMap<String, serde_json::Value> = listed
        .lines()
        .filter_map(|line| line.strip_prefix("install ok installed|"))
        .filter_map(|line| line.split_once('|'))
        .map(|(name, version)| (name.to_owned(), serde_json::Value::from(version)))
        .collect();
    assert!(installed.contains_key("rustc:amd64"), "{listed}");
    assert_eq!(
        image["packages"]
            .as_object()
            .unwrap()
            .clone()
            .into_iter()
            .collect::<BTreeMap<_, _>>(),
        installed,
        "the recorded packages are not what dpkg in the image lists"
    );

    // Platforms: an aarch64 ELF that runs under qemu-user, an x86-64 one natively.
    let commit = head_commit(&a);
    let arm64 = a.join("_output/dockerized/bin/linux/arm64/kube-apiserver");
    let amd64 = a.join("_output/dockerized/bin/linux/amd64/kube-apiserver");
    assert_eq!(elf_machine(&bins_a["linux/arm64/kube-apiserver"]), 0xb7);
    assert_eq!(elf_machine(&bins_a["linux/amd64/kube-apiserver"]), 0x3e);
    for (binary, runner) in [(&arm64, Some("qemu-aarch64")), (&amd64, None)] {
        let out = match runner {
            Some(qemu) => Command::new(qemu).arg(binary).arg("--version").output(),
            None => Command::new(binary).arg("--version").output(),
        }
        .unwrap_or_else(|e| panic!("running {}: {e}", binary.display()));
        assert_success(&out, &format!("{} --version", binary.display()));
        let version = String::from_utf8_lossy(&out.stdout);
        assert!(
            version.starts_with("Kubernetes v1.") && version.contains(&commit[..14]),
            "{} printed {version:?}, not the stamped version of {commit}",
            binary.display()
        );
    }

    // Hermetic, no host paths: the kept containers, inspected and entered.
    assert_eq!(containers.len(), 1, "one build session: {containers:?}");
    for container in &containers {
        let inspected = runtime
            .block_on(docker.inspect_container(container, None))
            .unwrap();
        let host_config = inspected.host_config.unwrap();
        assert_eq!(host_config.network_mode.as_deref(), Some("none"));
        assert!(
            host_config.binds.unwrap_or_default().is_empty(),
            "{container} has bind mounts"
        );
        let mounts = inspected.mounts.unwrap_or_default();
        assert_eq!(mounts.len(), 2, "{container}: {mounts:?}");
        for mount in mounts {
            assert_eq!(
                mount.typ.as_deref(),
                Some("volume"),
                "{container}: {mount:?}"
            );
        }
        let (code, net_dev) = exec_in(&runtime, &docker, container, &["cat", "/proc/net/dev"]);
        assert_eq!(code, 0);
        let interfaces: Vec<&str> = net_dev
            .lines()
            .skip(2)
            .filter_map(|l| l.split(':').next())
            .map(str::trim)
            .collect();
        assert_eq!(interfaces, ["lo"], "{container} has a network: {net_dev}");
    }

    // Clean leaves nothing of either checkout.
    let key_a = checkout_key(&containers[0]);
    let key_b = checkout_key(&build_containers(&out_b)[0]);
    assert_ne!(key_a, key_b);
    assert!(!objects_of(&runtime, &docker, &key_b).is_empty());
    for (dir, key) in [(&a, &key_a), (&b, &key_b)] {
        let out = xtask(dir, &[], &["clean"]);
        assert_success(&out, "clean");
        assert_eq!(objects_of(&runtime, &docker, key), Vec::<String>::new());
        assert!(!dir.join("_output").exists());
    }
}

/// A broken source file: the container build fails with the compiler's
/// error, exits non-zero, writes no output and leaves no container; a release
/// runs the tests in the container first and stops there, making nothing;
/// clean then removes the checkout's volumes.
#[test]
fn broken_source_fails_with_the_compilers_error() {
    let tmp = tempfile::tempdir().unwrap();
    let c = tmp.path().join("broken");
    clone_into(&c);
    let _clean_c = CleanOnDrop(c.clone());
    ensure_image(&c);
    let (runtime, docker) = docker();

    // The first workspace crate to compile (few dependencies: fails early).
    let lib = c.join("staging/component-base/src/lib.rs");
    let mut source = std::fs::read_to_string(&lib).unwrap();
    source.push_str("\npub fn broken() -> u32 { \"not a number\" }\n");
    std::fs::write(&lib, source).unwrap();

    let out = xtask(&c, &[], &["build", "--platform", "linux/amd64"]);
    assert!(!out.status.success(), "the broken build succeeded");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("error[E0308]: mismatched types"),
        "the compiler's error is not shown:\n{stderr}"
    );
    assert!(
        stderr.contains("staging/component-base/src/lib.rs"),
        "{stderr}"
    );
    assert!(
        !c.join("_output/dockerized/bin").exists(),
        "partial outputs written"
    );

    let containers = build_containers(&out);
    assert_eq!(containers.len(), 1, "{stderr}");
    let key = checkout_key(&containers[0]);
    let left = objects_of(&runtime, &docker, &key);
    assert!(
        left.iter().all(|o| o.starts_with("volume ")),
        "a container outlived the failed build: {left:?}"
    );

    let out = xtask(&c, &[], &["release"]);
    assert!(!out.status.success(), "the broken release succeeded");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cargo test --workspace"), "{stderr}");
    assert!(
        stderr.contains("error[E0308]: mismatched types"),
        "{stderr}"
    );
    assert!(
        stderr.contains("the tests failed, so no release was made"),
        "{stderr}"
    );
    assert!(!stderr.contains("cargo build --release"), "{stderr}");
    assert!(!c.join("_output/release-tars").exists());

    let out = xtask(&c, &[], &["clean"]);
    assert_success(&out, "clean");
    assert_eq!(objects_of(&runtime, &docker, &key), Vec::<String>::new());
}

/// No engine where DOCKER_HOST points: the error says where it looked and
/// offers --local; nothing is built.
#[test]
fn missing_engine_is_reported_with_where_and_what_to_do() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("no-engine");
    clone_into(&d);
    let host = format!("unix://{}/docker.sock", tmp.path().display());
    let out = xtask(&d, &[("DOCKER_HOST", host.as_str())], &["build"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("no Docker engine at {host}")),
        "{stderr}"
    );
    assert!(stderr.contains("DOCKER_HOST"), "{stderr}");
    assert!(stderr.contains("--local"), "{stderr}");
    assert!(!d.join("_output/dockerized").exists());
}
