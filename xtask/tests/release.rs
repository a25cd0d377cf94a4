//! End-to-end tests of `cargo xtask release --local` and `build --local`:
//! real git clones of this repository, real cargo builds, real GNU tools as
//! oracles. They run the xtask binary the way a user does, from the clone.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

mod common;
use common::{assert_success, clone_into, without_build_env};

/// Runs the xtask in `dir` under `sh -c 'umask U; exec xtask ARGS'`.
fn xtask(dir: &Path, umask: &str, envs: &[(&str, &str)], args: &[&str]) -> Output {
    let mut command = Command::new("sh");
    without_build_env(&mut command)
        .arg("-c")
        .arg(format!("umask {umask}; exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .current_dir(dir);
    for (k, v) in envs {
        command.env(k, v);
    }
    command.output().unwrap()
}

fn sha256_of(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

/// name → sha256 of every file in a directory.
fn digests(dir: &Path) -> BTreeMap<String, String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .map(|e| (e.file_name().into_string().unwrap(), sha256_of(&e.path())))
        .collect()
}

/// `sha256sum -c SHA256SUMS` and `sha512sum -c SHA512SUMS` in `dir`, and
/// every artifact listed.
fn verify_checksums(dir: &Path) {
    for (tool, file) in [("sha256sum", "SHA256SUMS"), ("sha512sum", "SHA512SUMS")] {
        let out = Command::new(tool)
            .args(["--check", "--strict", file])
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{tool} -c {file} in {}: {}{}",
            dir.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let sums = fs::read_to_string(dir.join("SHA256SUMS")).unwrap();
    for name in [
        "kubernetes.tar.gz",
        "kubernetes-src.tar.gz",
        "kubernetes-server-linux-amd64.tar.gz",
        "build-environment.json",
    ] {
        assert!(
            sums.contains(&format!("  {name}\n")),
            "{name} missing from SHA256SUMS:\n{sums}"
        );
        let bare = fs::read_to_string(dir.join(format!("{name}.sha256"))).unwrap();
        assert_eq!(bare.trim(), sha256_of(&dir.join(name)), "{name}.sha256");
        assert!(dir.join(format!("{name}.sha512")).is_file());
    }
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("TZ", "UTC")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn tar_list(archive: &Path) -> String {
    let out = Command::new("tar")
        .args(["-tzvf"])
        .arg(archive)
        .env("TZ", "UTC")
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

/// Two clones at different paths, released with different umask and TZ,
/// give identical artifacts (binaries included); the published directory
/// survives being killed at any moment of a later release.
#[test]
fn release_is_reproducible_across_checkouts_and_survives_interruption() {
    let base = tempfile::tempdir().unwrap();
    let a = base.path().join("a");
    let b = base.path().join("deeper/path/to/b");
    clone_into(&a);
    clone_into(&b);

    let run_a = xtask(
        &a,
        "022",
        &[("TZ", "UTC")],
        &["release", "--local", "--skip-tests"],
    );
    assert_success(&run_a, "release in clone a");
    // Clone b also sees cargo's home (the registry sources) under another
    // path, so only path remapping can make the binaries equal.
    let cargo_home = std::env::var("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(std::env::var("HOME").unwrap()).join(".cargo"));
    let other_cargo_home = base.path().join("elsewhere/cargo-home");
    fs::create_dir_all(other_cargo_home.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(&cargo_home, &other_cargo_home).unwrap();
    let run_b = xtask(
        &b,
        "077",
        &[
            ("TZ", "Asia/Kolkata"),
            ("CARGO_HOME", other_cargo_home.to_str().unwrap()),
        ],
        &["release", "--local", "--skip-tests"],
    );
    assert_success(&run_b, "release in clone b");

    let tars_a = a.join("_output/release-tars");
    let tars_b = b.join("_output/release-tars");
    verify_checksums(&tars_a);
    let digests_a = digests(&tars_a);
    assert_eq!(
        digests_a,
        digests(&tars_b),
        "release artifacts differ between checkouts"
    );
    assert_eq!(
        sha256_of(&a.join("_output/local/bin/linux/amd64/kube-apiserver")),
        sha256_of(&b.join("_output/local/bin/linux/amd64/kube-apiserver")),
        "binaries differ between checkouts"
    );

    // What the build ran with: this machine's toolchain.
    let environment: serde_json::Value =
        serde_json::from_slice(&fs::read(tars_a.join("build-environment.json")).unwrap()).unwrap();
    assert_eq!(environment["route"], "local", "{environment}");
    let rustc = Command::new("rustc").arg("--version").output().unwrap();
    assert_eq!(
        environment["rustc"],
        String::from_utf8_lossy(&rustc.stdout).trim(),
        "{environment}"
    );

    // Contents and the stamped version.
    let server = tar_list(&tars_a.join("kubernetes-server-linux-amd64.tar.gz"));
    for member in [
        "kubernetes/server/bin/kube-apiserver",
        "kubernetes/LICENSES/LICENSE",
        "kubernetes/kubernetes-src.tar.gz",
    ] {
        assert!(server.contains(member), "{member} missing:\n{server}");
    }
    assert!(server.contains("-rwxr-xr-x 0/0"), "{server}");
    let full = tar_list(&tars_a.join("kubernetes.tar.gz"));
    for member in [
        "kubernetes/README.md",
        "kubernetes/version",
        "kubernetes/server/README",
        "kubernetes/LICENSES/",
    ] {
        assert!(full.contains(member), "{member} missing:\n{full}");
    }
    let src = tar_list(&tars_a.join("kubernetes-src.tar.gz"));
    assert!(
        src.contains("kubernetes/Cargo.lock") && src.contains("kubernetes/xtask/src/main.rs"),
        "{src}"
    );
    assert!(!src.contains("_output") && !src.contains(".git/"), "{src}");

    let commit = git(&a, &["rev-parse", "HEAD"]);
    let build_date = git(
        &a,
        &[
            "log",
            "-1",
            "--date=format-local:%Y-%m-%dT%H:%M:%SZ",
            "--format=%cd",
        ],
    );
    let raw = Command::new(a.join("_output/bin/kube-apiserver"))
        .arg("--version=raw")
        .output()
        .unwrap();
    let raw = String::from_utf8(raw.stdout).unwrap();
    for field in [
        r#"Major:"1""#.to_owned(),
        format!(r#"GitCommit:"{commit}""#),
        r#"GitTreeState:"clean""#.to_owned(),
        format!(r#"BuildDate:"{build_date}""#),
        r#"Platform:"linux/amd64""#.to_owned(),
    ] {
        assert!(raw.contains(&field), "{field} not in {raw}");
    }
    assert!(raw.contains(r#"Minor:"32"#), "{raw}");
    let short = Command::new(a.join("_output/bin/kube-apiserver"))
        .arg("--version")
        .output()
        .unwrap();
    let short = String::from_utf8(short.stdout).unwrap();
    let git_version = short
        .trim()
        .strip_prefix("Kubernetes ")
        .expect("`Kubernetes vX.Y.Z`");
    assert!(git_version.starts_with("v1.32."), "{short}");
    assert!(
        git_version.contains(&commit[..14]) || !git_version.contains('+'),
        "{short}"
    );
    let version_file = Command::new("tar")
        .args(["-xzOf"])
        .arg(tars_a.join("kubernetes.tar.gz"))
        .arg("kubernetes/version")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(version_file.stdout).unwrap().trim(),
        git_version
    );

    // Kill later releases at moments spread over a run: whatever the moment,
    // _output/release-tars holds a complete, verifiable release.
    let started = Instant::now();
    assert_success(
        &xtask(&a, "022", &[], &["release", "--local", "--skip-tests"]),
        "warm release",
    );
    let warm = started.elapsed();
    for step in 0..6u32 {
        let delay = warm * step / 5;
        let mut child = spawn_release(&a);
        std::thread::sleep(delay);
        let _ = child.kill();
        let _ = child.wait();
        // cargo children may outlive the xtask for a moment; wait for the lock.
        std::thread::sleep(Duration::from_millis(200));
        if tars_a.exists() {
            verify_checksums(&tars_a);
            assert_eq!(digests(&tars_a), digests_a, "after a kill at {delay:?}");
        }
        let names: Vec<String> = fs::read_dir(&tars_a)
            .map(|d| {
                d.map(|e| e.unwrap().file_name().into_string().unwrap())
                    .collect()
            })
            .unwrap_or_default();
        assert!(
            names.iter().all(|n| !n.contains(".tmp-")),
            "temporary file published: {names:?}"
        );
    }
    assert_success(
        &xtask(&a, "022", &[], &["release", "--local", "--skip-tests"]),
        "release after kills",
    );
    assert_eq!(
        digests(&tars_a),
        digests_a,
        "the release after interruptions differs"
    );
    // The killed runs' temporary files were swept by the next one.
    assert_eq!(temp_files_under(&a.join("_output")), Vec::<String>::new());

    // Ctrl-C and SIGTERM: the xtask stops with 130 (or had finished), leaving
    // no temporary file and the previous release whole.
    for (signal, fifths) in [("-INT", 2u32), ("-TERM", 3)] {
        let mut child = spawn_release(&a);
        std::thread::sleep(warm * fifths / 5);
        let sent = Command::new("kill")
            .arg(signal)
            .arg(child.id().to_string())
            .status()
            .unwrap();
        assert!(sent.success());
        let status = child.wait().unwrap();
        assert!(
            status.code() == Some(130) || status.success(),
            "after kill {signal}: {status}"
        );
        assert_eq!(
            temp_files_under(&a.join("_output")),
            Vec::<String>::new(),
            "after kill {signal}"
        );
        verify_checksums(&tars_a);
        assert_eq!(digests(&tars_a), digests_a, "after kill {signal}");
    }
}

/// A warm local release in `checkout`, running in the background.
fn spawn_release(checkout: &Path) -> std::process::Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_xtask"));
    without_build_env(&mut command)
        .args(["release", "--local", "--skip-tests"])
        .current_dir(checkout)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

/// Temporary files (`.NAME.tmp-PID`) anywhere under `dir`.
fn temp_files_under(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if entry.file_name().to_string_lossy().contains(".tmp-") {
                found.push(path.display().to_string());
            }
        }
    }
    found
}

/// Unknown component, unknown platform, not a git checkout: a clear error,
/// a non-zero exit, nothing under _output/release-tars.
#[test]
fn bad_input_is_refused_and_writes_nothing() {
    let base = tempfile::tempdir().unwrap();
    let clone = base.path().join("clone");
    clone_into(&clone);

    let out = xtask(&clone, "022", &[], &["build", "kube-nonesuch", "--local"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unknown component \"kube-nonesuch\"") && err.contains("kube-apiserver"),
        "{err}"
    );

    for args in [
        &[
            "release",
            "--local",
            "--skip-tests",
            "--platform",
            "windows/amd64",
        ][..],
        &["build", "--local", "--platform", "linux/riscv64"][..],
    ] {
        let out = xtask(&clone, "022", &[], args);
        assert!(!out.status.success(), "{args:?} succeeded");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("unknown platform") && err.contains("linux/amd64, linux/arm64"),
            "{err}"
        );
    }
    let out = xtask(
        &clone,
        "022",
        &[("KUBE_BUILD_PLATFORMS", "linux/mips")],
        &["release", "--local", "--skip-tests"],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown platform \"linux/mips\""));
    assert!(!clone.join("_output/release-tars").exists());

    // The same tree without .git: not a checkout.
    let export = base.path().join("export");
    fs::create_dir(&export).unwrap();
    let status = Command::new("sh")
        .arg("-c")
        .arg("git archive HEAD | tar -x -C \"$0\"")
        .arg(&export)
        .current_dir(&clone)
        .status()
        .unwrap();
    assert!(status.success());
    let out = xtask(&export, "022", &[], &["release", "--local", "--skip-tests"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not a git checkout") && err.contains("KUBE_GIT_VERSION"),
        "{err}"
    );
    assert!(!export.join("_output/release-tars").exists());
}
