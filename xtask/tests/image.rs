//! End-to-end tests of the build image's durability, against the real
//! engine, mmdebstrap, apt and Debian's archive, in temporary git clones:
//! pins that are gone fall back (or fail in strict mode), saved images load
//! without a bootstrap, `image update` re-pins, and the snapshot route
//! rebuilds the recorded image bit for bit from a signed mirror this test
//! serves on loopback while the live archive is unreachable.
//! scripts/install-test-deps.sh installs mmdebstrap, apt-ftparchive and gpg.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};

use bollard::Docker;

mod common;
mod engine;
use common::{assert_success, clone_into};
use engine::{docker, xtask};

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn read_trimmed(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
        .trim()
        .to_owned()
}

/// The ID of the image under `tag`, or `None`.
fn image_id(runtime: &tokio::runtime::Runtime, docker: &Docker, tag: &str) -> Option<String> {
    runtime
        .block_on(docker.inspect_image(tag))
        .ok()
        .and_then(|image| image.id)
}

fn remove_image(runtime: &tokio::runtime::Runtime, docker: &Docker, name: &str) {
    let _ = runtime.block_on(
        docker.remove_image(
            name,
            Some(
                bollard::query_parameters::RemoveImageOptionsBuilder::new()
                    .force(true)
                    .build(),
            ),
            None,
        ),
    );
}

/// Removes the named images when dropped, so a failing test leaves no
/// test images in the engine.
struct RemoveImagesOnDrop(Vec<String>);

impl Drop for RemoveImagesOnDrop {
    fn drop(&mut self) {
        let (runtime, docker) = docker();
        for name in &self.0 {
            remove_image(&runtime, &docker, name);
        }
    }
}

/// Runs `cmd` in a throwaway container of `image` (no network); its stdout.
fn run_in_image(image: &str, cmd: &[&str]) -> String {
    let out = Command::new("docker")
        .args(["run", "--rm", "--network", "none", image])
        .args(cmd)
        .output()
        .expect("docker run");
    assert_success(&out, &format!("docker run {image} {}", cmd.join(" ")));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Writes a definition of one package at a version Debian never had.
fn write_tiny_definition(checkout: &Path, version: &str) {
    let dir = checkout.join("images/kube-cross");
    std::fs::write(dir.join("VERSION"), format!("{version}\n")).unwrap();
    std::fs::write(
        dir.join("packages.txt"),
        "# A test definition.\n# snapshot=20261203T000000Z\nhello=0.0-gone\n",
    )
    .unwrap();
    std::fs::remove_file(dir.join("IMAGE_ID")).unwrap();
}

/// A pinned version the archive does not serve: strict mode refuses before
/// any bootstrap (and a release says the image, not the tests, failed); the
/// default bootstraps the current version with a warning naming the package.
/// That image saved, removed and loaded again keeps its ID without running
/// mmdebstrap, through `image load` and through KUBE_CROSS_IMAGE_ARCHIVE; an
/// archive from another definition is refused. `image update` then pins the
/// current version and records the image ID, which strict mode accepts.
#[test]
fn gone_pins_fall_back_saved_images_load_and_update_repins() {
    let tmp = tempfile::tempdir().unwrap();
    let checkout = tmp.path().join("tiny");
    clone_into(&checkout);
    let version = "v0.0.0-durability-test.0";
    write_tiny_definition(&checkout, version);
    let tag = format!("kube-cross:{version}");
    let (runtime, docker) = docker();
    remove_image(&runtime, &docker, &tag);
    let mut cleanup = RemoveImagesOnDrop(vec![tag.clone()]);

    // Strict: an error naming the package and the ways out; nothing built.
    let strict = [("KUBE_CROSS_STRICT", "1")];
    let out = xtask(&checkout, &strict, &["image", "build"]);
    assert!(!out.status.success());
    let text = stderr(&out);
    for expected in [
        "strict mode",
        "hello 0.0-gone (now ",
        "cargo xtask image update",
        "KUBE_CROSS_SNAPSHOT",
        "cargo xtask image load FILE",
    ] {
        assert!(text.contains(expected), "{expected:?} missing:\n{text}");
    }
    assert!(!text.contains("$ mmdebstrap"), "{text}");
    assert_eq!(image_id(&runtime, &docker, &tag), None);
    let out = xtask(
        &checkout,
        &strict,
        &["release", "--platform", "linux/amd64"],
    );
    assert!(!out.status.success());
    let text = stderr(&out);
    assert!(
        text.contains("no release was made: the cross-build image could not be made"),
        "{text}"
    );
    assert!(!text.contains("the tests failed"), "{text}");

    // Default: the current version, with a warning naming the package.
    let out = xtask(&checkout, &[], &["image", "build"]);
    assert_success(&out, "image build with a gone pin");
    let text = stderr(&out);
    assert!(text.contains("warning:"), "{text}");
    assert!(text.contains("hello 0.0-gone (now "), "{text}");
    assert!(text.contains("will not match"), "{text}");
    let current = text
        .split("hello 0.0-gone (now ")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .unwrap()
        .to_owned();
    let first_id = image_id(&runtime, &docker, &tag).expect("the image was loaded");
    assert_eq!(
        run_in_image(&tag, &["dpkg-query", "-W", "-f=${Version}", "hello"]),
        current
    );

    // Saved, removed, loaded again: the same image, and no mmdebstrap.
    let saved = tmp.path().join("saved/kube-cross.tar.gz");
    let out = xtask(&checkout, &[], &["image", "save", saved.to_str().unwrap()]);
    assert_success(&out, "image save");
    assert!(saved.is_file());
    let fake_bin = tmp.path().join("fake-bin");
    std::fs::create_dir_all(&fake_bin).unwrap();
    let marker = tmp.path().join("mmdebstrap-ran");
    let fake = fake_bin.join("mmdebstrap");
    std::fs::write(
        &fake,
        format!("#!/bin/sh\ntouch '{}'\nexit 1\n", marker.display()),
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        fake_bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    remove_image(&runtime, &docker, &tag);
    assert_eq!(image_id(&runtime, &docker, &tag), None);
    let out = xtask(
        &checkout,
        &[("PATH", path.as_str())],
        &["image", "load", saved.to_str().unwrap()],
    );
    assert_success(&out, "image load");
    assert_eq!(
        image_id(&runtime, &docker, &tag).as_deref(),
        Some(first_id.as_str())
    );
    remove_image(&runtime, &docker, &tag);
    let out = xtask(
        &checkout,
        &[
            ("PATH", path.as_str()),
            ("KUBE_CROSS_IMAGE_ARCHIVE", saved.to_str().unwrap()),
        ],
        &["image", "build", "--if-missing"],
    );
    assert_success(
        &out,
        "image build --if-missing with KUBE_CROSS_IMAGE_ARCHIVE",
    );
    assert!(
        stderr(&out).contains("loading it from the image archive"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        image_id(&runtime, &docker, &tag).as_deref(),
        Some(first_id.as_str())
    );
    assert!(!marker.exists(), "mmdebstrap ran during a load");

    // The archive is not the real definition's image.
    let other = tmp.path().join("real-definition");
    clone_into(&other);
    let out = xtask(&other, &[], &["image", "load", saved.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("was not built from this checkout's images/kube-cross"),
        "{}",
        stderr(&out)
    );

    // `image update` pins what the archive serves and records the image.
    let out = xtask(&checkout, &[], &["image", "update"]);
    assert_success(&out, "image update");
    let dir = checkout.join("images/kube-cross");
    let packages = std::fs::read_to_string(dir.join("packages.txt")).unwrap();
    assert!(
        packages.contains(&format!("\nhello={current}\n")),
        "{packages}"
    );
    assert!(!packages.contains("20261203T000000Z"), "{packages}");
    let new_version = read_trimmed(&dir.join("VERSION"));
    assert_ne!(new_version, version);
    let new_tag = format!("kube-cross:{new_version}");
    cleanup.0.push(new_tag.clone());
    let recorded = read_trimmed(&dir.join("IMAGE_ID"));
    assert_eq!(
        image_id(&runtime, &docker, &new_tag).as_deref(),
        Some(recorded.as_str())
    );
    let out = xtask(&checkout, &strict, &["image", "build", "--if-missing"]);
    assert_success(&out, "strict image build --if-missing after update");
}

/// The loopback mirror's HTTP server; killed when dropped.
struct Mirror {
    child: Child,
    port: u16,
    log: Arc<Mutex<Vec<String>>>,
}

impl Drop for Mirror {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn run(command: &mut Command, what: &str) -> Output {
    let out = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_success(&out, what);
    out
}

/// A snapshot-archive layout under `root/archive/debian/<timestamp>/`: every
/// `.deb` of `packages` in the `trixie` suite for amd64 and arm64, its
/// Release file signed by a key made here. Returns the keyring that verifies
/// it.
fn build_mirror(root: &Path, timestamp: &str, packages: &Path) -> PathBuf {
    let archive = root.join("archive/debian").join(timestamp);
    let pool = archive.join("pool/main");
    std::fs::create_dir_all(&pool).unwrap();
    let mut debs = 0;
    for entry in std::fs::read_dir(packages).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "deb") {
            std::fs::hard_link(&path, pool.join(path.file_name().unwrap())).unwrap();
            debs += 1;
        }
    }
    assert!(debs > 50, "the package cache holds only {debs} packages");

    let gnupg = root.join("gnupg");
    std::fs::create_dir_all(&gnupg).unwrap();
    std::fs::set_permissions(&gnupg, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let gpg = |args: &[&str]| {
        let mut command = Command::new("gpg");
        command
            .arg("--batch")
            .arg("--homedir")
            .arg(&gnupg)
            .args(["--pinentry-mode", "loopback", "--passphrase", ""])
            .args(args);
        command
    };
    run(
        &mut gpg(&[
            "--quick-generate-key",
            "kube-cross mirror test <mirror@example.invalid>",
            "ed25519",
            "sign",
            "never",
        ]),
        "gpg --quick-generate-key",
    );

    let suite = "trixie";
    let dists = archive.join("dists").join(suite);
    for arch in ["amd64", "arm64"] {
        let dir = dists.join("main").join(format!("binary-{arch}"));
        std::fs::create_dir_all(&dir).unwrap();
        let index = run(
            Command::new("apt-ftparchive").current_dir(&archive).args([
                "--arch",
                arch,
                "packages",
                "pool/main",
            ]),
            "apt-ftparchive packages",
        )
        .stdout;
        std::fs::write(dir.join("Packages"), index).unwrap();
    }
    let release = run(
        Command::new("apt-ftparchive")
            .current_dir(&dists)
            .arg("-o")
            .arg(format!("APT::FTPArchive::Release::Codename={suite}"))
            .arg("-o")
            .arg(format!("APT::FTPArchive::Release::Suite={suite}"))
            .args([
                "-o",
                "APT::FTPArchive::Release::Architectures=amd64 arm64",
                "-o",
                "APT::FTPArchive::Release::Components=main",
                "release",
                ".",
            ]),
        "apt-ftparchive release",
    )
    .stdout;
    std::fs::write(dists.join("Release"), release).unwrap();
    let mut sign = gpg(&["--yes", "--clearsign", "--output"]);
    sign.arg(dists.join("InRelease")).arg(dists.join("Release"));
    run(&mut sign, "gpg --clearsign");
    let keyring = root.join("mirror-keyring.gpg");
    let exported = run(&mut gpg(&["--export"]), "gpg --export").stdout;
    std::fs::write(&keyring, exported).unwrap();
    keyring
}

/// Serves `root` on 127.0.0.1 (a free port), recording requested paths.
fn serve(root: &Path) -> Mirror {
    let mut child = Command::new("python3")
        .args([
            "-u",
            "-m",
            "http.server",
            "0",
            "--bind",
            "127.0.0.1",
            "--directory",
        ])
        .arg(root)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 -m http.server");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let port = line
        .split(" port ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|port| port.parse().ok())
        .unwrap_or_else(|| panic!("http.server said {line:?}"));
    let log = Arc::new(Mutex::new(Vec::new()));
    let requests = Arc::clone(&log);
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            requests.lock().unwrap().push(line);
        }
    });
    Mirror { child, port, log }
}

/// `image update` on the real definition keeps the recorded image ID when no
/// version moved (the committed IMAGE_ID is reproduced on this machine) and
/// keeps the packages it installed; a snapshot archive made of exactly those
/// packages, served on loopback, then rebuilds the same image ID in strict
/// mode while the live archive is unreachable; with both unreachable the
/// error names them and the ways out.
#[test]
fn snapshot_archive_rebuilds_the_recorded_image() {
    let tmp = tempfile::tempdir().unwrap();
    let checkout = tmp.path().join("kubernetes");
    clone_into(&checkout);
    let dir = checkout.join("images/kube-cross");
    let committed_id = read_trimmed(&dir.join("IMAGE_ID"));
    let committed_packages = std::fs::read_to_string(dir.join("packages.txt")).unwrap();
    let committed_tag = format!("kube-cross:{}", read_trimmed(&dir.join("VERSION")));
    let (runtime, docker) = docker();

    let cache = tmp.path().join("packages");
    let out = xtask(
        &checkout,
        &[("KUBE_CROSS_PACKAGE_CACHE", cache.to_str().unwrap())],
        &["image", "update"],
    );
    assert_success(&out, "image update");
    let tag = format!("kube-cross:{}", read_trimmed(&dir.join("VERSION")));
    let _cleanup = RemoveImagesOnDrop(if tag == committed_tag {
        vec![]
    } else {
        vec![tag.clone()]
    });
    let recorded = read_trimmed(&dir.join("IMAGE_ID"));
    if std::fs::read_to_string(dir.join("packages.txt")).unwrap() == committed_packages {
        assert_eq!(
            recorded, committed_id,
            "the committed pins bootstrapped on this machine give another image than the one \
             images/kube-cross/IMAGE_ID records: the image is not reproducible across machines"
        );
    } else {
        eprintln!(
            "Debian's archive moved since images/kube-cross was committed; the test goes on with the current pins"
        );
    }
    assert_eq!(
        image_id(&runtime, &docker, &tag).as_deref(),
        Some(recorded.as_str())
    );

    let packages = std::fs::read_to_string(dir.join("packages.txt")).unwrap();
    let timestamp = packages
        .lines()
        .find_map(|l| l.strip_prefix("# snapshot="))
        .unwrap()
        .trim()
        .to_owned();
    let mirror_root = tmp.path().join("mirror");
    let keyring = build_mirror(&mirror_root, &timestamp, &cache);
    let mirror = serve(&mirror_root);
    let snapshot = format!("http://127.0.0.1:{}/archive/debian", mirror.port);
    let dead = "http://127.0.0.1:9/debian";

    let out = xtask(
        &checkout,
        &[
            ("KUBE_CROSS_SNAPSHOT", snapshot.as_str()),
            ("KUBE_CROSS_KEYRING", keyring.to_str().unwrap()),
            ("KUBE_CROSS_ARCHIVE", dead),
            ("KUBE_CROSS_STRICT", "1"),
        ],
        &["image", "build"],
    );
    assert_success(&out, "strict image build from the snapshot archive");
    let text = stderr(&out);
    assert!(
        text.contains(&format!(
            "building it from the snapshot archive at {snapshot}/{timestamp}/ (from KUBE_CROSS_SNAPSHOT), at the pinned versions"
        )),
        "{text}"
    );
    assert!(!text.contains(dead), "the live archive was asked:\n{text}");
    assert_eq!(
        image_id(&runtime, &docker, &tag).as_deref(),
        Some(recorded.as_str()),
        "two bootstraps of one definition gave different images"
    );
    let requests = mirror.log.lock().unwrap().join("\n");
    assert!(
        requests.contains(&format!(
            "GET /archive/debian/{timestamp}/dists/trixie/InRelease"
        )),
        "{requests}"
    );
    assert!(
        requests.contains(".deb HTTP"),
        "no package came from the mirror:\n{requests}"
    );
    drop(mirror);

    // Neither archive answers: one error naming both, and the ways out.
    let out = xtask(
        &checkout,
        &[
            ("KUBE_CROSS_SNAPSHOT", snapshot.as_str()),
            ("KUBE_CROSS_ARCHIVE", dead),
        ],
        &["image", "build"],
    );
    assert!(!out.status.success());
    let text = stderr(&out);
    assert!(text.contains(&format!("{snapshot}/{timestamp}/")), "{text}");
    assert!(
        text.contains(&format!("{dead} (from KUBE_CROSS_ARCHIVE) does not answer")),
        "{text}"
    );
    assert!(text.contains("cargo xtask image load FILE"), "{text}");
}
