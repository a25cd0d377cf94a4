//! End-to-end tests of the container route, against the real Docker engine,
//! real mmdebstrap (the image bootstrap) and real qemu-user, in temporary git
//! clones of this repository. Work is shared: the image is built once (and
//! reused when the engine has it); one release per checkout serves several
//! assertions, among them the multi-host test (`cluster/`: an etcd cluster
//! of build-image containers and two apiservers of the release's image).
//! scripts/install-test-deps.sh installs mmdebstrap and qemu-user.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

use bollard::Docker;
use bollard::exec::StartExecResults;
use bollard::models::ExecConfig;
use futures_util::StreamExt;

mod cluster;
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

/// A release of both platforms; the same release again is a no-op. The
/// arm64 server runs under qemu-aarch64 and the amd64 one natively, printing
/// the stamped version; the server images load through the API, say their
/// architecture, and the amd64 one prints its version and serves /healthz;
/// the (kept) build container is offline and has no bind mounts. Then
/// `release --verify` of linux/arm64 (the cross toolchain, the likelier to
/// leak a path; one platform keeps CI's time) with no network at all: the
/// same release from its source tarball at another path (another container
/// and target volume), offline, byte-identical. `clean` leaves nothing of
/// either tree behind.
#[test]
fn container_release_is_reproducible_hermetic_and_runs_on_both_platforms() {
    let tmp_a = tempfile::tempdir().unwrap();
    let a = tmp_a.path().join("kubernetes");
    clone_into(&a);
    let _clean_a = CleanOnDrop(a.clone());
    ensure_image(&a);
    let (runtime, docker) = docker();

    // The tests-in-the-container step is covered by the broken-source test
    // (cheaply: it fails at the first crate); here the release skips it.
    let out_a = xtask(
        &a,
        &[("KUBE_BUILD_KEEP_CONTAINER", "1")],
        &["release", "--skip-tests"],
    );
    assert_success(&out_a, "release in checkout A (both platforms)");
    let again = xtask(&a, &[], &["release", "--skip-tests"]);
    assert_success(&again, "the same release again");
    let again_log = String::from_utf8_lossy(&again.stderr);
    assert!(again_log.contains("is up to date"), "{again_log}");
    let bins_a = files_under(&a.join("_output/dockerized/bin"));
    assert_eq!(
        bins_a.keys().collect::<Vec<_>>(),
        ["linux/amd64/kube-apiserver", "linux/arm64/kube-apiserver"]
    );
    let tars_a = files_under(&a.join("_output/release-tars"));
    assert!(tars_a.contains_key("kubernetes-server-linux-arm64.tar.gz"));
    assert!(tars_a.contains_key("kubernetes-server-linux-amd64.tar.gz"));

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
    assert!(installed.contains_key("rustc-web:amd64"), "{listed}");
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

    check_server_images(&runtime, &docker, &a, &commit, tag);

    // Reproducible: rebuilt from the source tarball elsewhere, offline, the
    // binary and every release artifact are the same bytes.
    let out_b = xtask_without_network(
        &a,
        &[
            "release",
            "--skip-tests",
            "--verify",
            "--platform",
            "linux/arm64",
        ],
    );
    assert_success(&out_b, "release --verify without network");
    let verify_log = String::from_utf8_lossy(&out_b.stderr);
    assert!(verify_log.contains("verify: all"), "{verify_log}");
    let b = verify_log
        .lines()
        .find_map(|l| l.split_once("verify: releasing again from kubernetes-src.tar.gz in "))
        .map(|(_, rest)| PathBuf::from(rest.split(" (offline").next().unwrap()))
        .expect("the verify log names its copy");
    let arm64_b = std::fs::read(b.join("_output/dockerized/bin/linux/arm64/kube-apiserver"))
        .expect("the copy's arm64 server");
    assert!(
        arm64_b == bins_a["linux/arm64/kube-apiserver"],
        "the arm64 server differs between the checkout and the copy"
    );
    let tars_a = files_under(&a.join("_output/release-tars"));
    let tars_b = files_under(&b.join("_output/release-tars"));
    assert!(tars_a.contains_key("kubernetes-server-linux-arm64.tar.gz"));
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

    // Clean leaves nothing of either tree: the checkout's and the copy's.
    let key_a = checkout_key(&containers[0]);
    // The verify run's last build session is the copy's (its first, the
    // checkout's own arm64-only release).
    let key_b = checkout_key(build_containers(&out_b).last().expect("the copy's build"));
    assert_ne!(key_a, key_b);
    assert!(!objects_of(&runtime, &docker, &key_b).is_empty());
    let out = xtask(&a, &[], &["clean"]);
    assert_success(&out, "clean");
    for key in [&key_a, &key_b] {
        assert_eq!(objects_of(&runtime, &docker, key), Vec::<String>::new());
    }
    assert!(!a.join("_output").exists());
    assert!(!b.exists(), "clean left the verify copy {}", b.display());
}

/// Runs the xtask with no network at all (a network namespace of its own,
/// as root; the engine's socket is a file, so it still answers).
fn xtask_without_network(dir: &Path, args: &[&str]) -> Output {
    let isolated = Command::new("unshare")
        .args(["--net", "true"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        isolated,
        "this test needs `unshare --net` (run as root, as CI does) to prove the rebuild is offline"
    );
    let mut command = Command::new("unshare");
    common::without_build_env(&mut command)
        .args(["--net", "--"])
        .arg(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .current_dir(dir);
    let out = command.output().expect("running the xtask");
    eprintln!(
        "--- xtask {} in {} without network ({}):\n{}",
        args.join(" "),
        dir.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The release's server images: loaded through the Engine API, each says
/// its architecture and runs as the non-root user; the amd64 one prints the
/// stamped version and serves /healthz; its ID is the provenance's.
fn check_server_images(
    runtime: &tokio::runtime::Runtime,
    docker: &Docker,
    checkout: &Path,
    commit: &str,
    build_image: &str,
) {
    let statement: serde_json::Value = serde_json::from_slice(
        &std::fs::read(checkout.join("_output/release-tars/kubernetes-release.intoto.json"))
            .unwrap(),
    )
    .unwrap();
    for arch in ["amd64", "arm64"] {
        let archive = checkout.join(format!("_output/release-images/{arch}/kube-apiserver.tar"));
        let tag = std::fs::read_to_string(archive.with_extension("docker_tag")).unwrap();
        let repo_tag = format!("registry.k8s.io/kube-apiserver-{arch}:{}", tag.trim());
        assert!(!tag.contains('+'), "{tag}");
        let bytes = std::fs::read(&archive).unwrap();
        runtime.block_on(async {
            let mut stream = docker.import_image(
                bollard::query_parameters::ImportImageOptionsBuilder::new().build(),
                bollard::body_full(bytes.into()),
                None,
            );
            while let Some(progress) = stream.next().await {
                progress.expect("loading the image archive");
            }
        });
        let inspected = runtime.block_on(docker.inspect_image(&repo_tag)).unwrap();
        assert_eq!(inspected.architecture.as_deref(), Some(arch), "{repo_tag}");
        let config = inspected.config.clone().unwrap();
        assert_eq!(config.user.as_deref(), Some("65532:65532"));
        let labels = config.labels.unwrap_or_default();
        assert_eq!(labels["org.opencontainers.image.revision"], commit);
        let subject = statement["subject"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == repo_tag.as_str())
            .unwrap_or_else(|| panic!("{repo_tag} is not a provenance subject"));
        assert_eq!(
            inspected
                .id
                .as_deref()
                .map(|id| id.trim_start_matches("sha256:")),
            subject["digest"]["sha256"].as_str()
        );
        if arch == "amd64" {
            let out = Command::new("docker")
                .args(["run", "--rm", &repo_tag, "--version"])
                .output()
                .unwrap();
            assert_success(&out, "the image's --version");
            let version = String::from_utf8_lossy(&out.stdout);
            assert!(version.contains(&commit[..14]), "{version}");
            serve_healthz(&repo_tag);
            cluster::survives_losing_an_etcd_member_and_an_apiserver(build_image, &repo_tag);
        }
        runtime
            .block_on(docker.remove_image(
                &repo_tag,
                None::<bollard::query_parameters::RemoveImageOptions>,
                None,
            ))
            .unwrap();
    }
}

/// Runs the image as a server (its state in the image's /tmp, a token file
/// mounted read-only) and asks its /healthz over TLS.
fn serve_healthz(repo_tag: &str) {
    let tokens = tempfile::tempdir().unwrap();
    std::fs::write(
        tokens.path().join("tokens.csv"),
        "image-test-token,image-test,1001,\"system:masters\"\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(tokens.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(
        tokens.path().join("tokens.csv"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let name = format!("kube-image-test-{}", std::process::id());
    let run = Command::new("docker")
        .args([
            "run",
            "--detach",
            "--name",
            &name,
            "--publish",
            "127.0.0.1::6443",
        ])
        .arg("--volume")
        .arg(format!(
            "{}:/etc/kubernetes/auth:ro",
            tokens.path().display()
        ))
        .args([
            repo_tag,
            "--secure-port=6443",
            "--cert-dir=/tmp/certs",
            "--data-dir=/tmp/data",
            "--token-auth-file=/etc/kubernetes/auth/tokens.csv",
        ])
        .output()
        .unwrap();
    assert_success(&run, "docker run (the server image)");
    let port = Command::new("docker")
        .args(["port", &name, "6443/tcp"])
        .output()
        .unwrap();
    let address = String::from_utf8_lossy(&port.stdout)
        .lines()
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned();
    let mut answer = String::new();
    for _ in 0..100 {
        let out = Command::new("curl")
            .args(["--silent", "--insecure", "--max-time", "2", "--header"])
            .arg("Authorization: Bearer image-test-token")
            .arg(format!("https://{address}/healthz"))
            .output()
            .unwrap();
        answer = String::from_utf8_lossy(&out.stdout).into_owned();
        if answer == "ok" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let logs = Command::new("docker")
        .args(["logs", &name])
        .output()
        .unwrap();
    let _ = Command::new("docker")
        .args(["rm", "--force", &name])
        .output();
    assert_eq!(
        answer,
        "ok",
        "/healthz of the image's server at {address}; its log:\n{}",
        String::from_utf8_lossy(&logs.stderr)
    );
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

    // A build script: it has no dependencies, so cargo compiles it among
    // the first units and stops within seconds (a broken library waits for
    // every crate in flight when it fails, minutes on two cores).
    std::fs::write(
        c.join("cmd/kube-apiserver/build.rs"),
        "fn main() {\n    let broken: u32 = \"not a number\";\n    let _ = broken;\n}\n",
    )
    .unwrap();

    let out = xtask(&c, &[], &["build", "--platform", "linux/amd64"]);
    assert!(!out.status.success(), "the broken build succeeded");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("error[E0308]: mismatched types"),
        "the compiler's error is not shown:\n{stderr}"
    );
    assert!(stderr.contains("cmd/kube-apiserver/build.rs"), "{stderr}");
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
