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

/// A release, then `release --verify`: the second run reuses the first
/// (nothing changed) and rebuilds it from its own source tarball at another
/// path, offline, under another umask, time zone and cargo home: identical
/// artifacts (binaries included). The SBOM validates against SPDX 2.3 and
/// lists every linked crate; the provenance's subjects are the files on
/// disk. The published directory survives being killed at any moment of a
/// later release. Then a build script that embeds the checkout path: the
/// verification fails, naming the binary and its ELF section.
#[test]
fn release_is_reproducible_verified_attested_and_survives_interruption() {
    let base = tempfile::tempdir().unwrap();
    let a = base.path().join("a");
    clone_into(&a);

    let run_a = xtask(
        &a,
        "022",
        &[("TZ", "UTC")],
        &["release", "--local", "--skip-tests"],
    );
    assert_success(&run_a, "release in clone a");
    let verified = xtask(
        &a,
        "022",
        &[("TZ", "UTC")],
        &["release", "--local", "--skip-tests", "--verify"],
    );
    assert_success(&verified, "release --verify in clone a");
    let log = String::from_utf8_lossy(&verified.stderr);
    assert!(
        log.contains("is up to date"),
        "the second release rebuilt:\n{log}"
    );
    let first_part = log.split("verify: releasing again").next().unwrap();
    assert!(
        !first_part.contains("build linux/amd64"),
        "the no-op release built:\n{log}"
    );
    assert!(
        log.contains("kubernetes-server-linux-amd64.tar.gz") && log.contains("identical"),
        "{log}"
    );
    assert!(log.contains("verify: all"), "{log}");
    let copy = verify_copy(&log);
    let copy_tars = copy.join("_output/release-tars");

    let tars_a = a.join("_output/release-tars");
    verify_checksums(&tars_a);
    let digests_a = digests(&tars_a);
    assert_eq!(
        digests_a,
        digests(&copy_tars),
        "release artifacts differ when rebuilt from the source tarball"
    );
    check_sbom(&a, &tars_a);
    check_provenance(&a, &tars_a);

    // `build --image` (quick-release-images) makes the release's image, byte
    // for byte: same inputs, same image.
    let image = a.join("_output/release-images/amd64/kube-apiserver.tar");
    let released_image = sha256_of(&image);
    assert_success(
        &xtask(
            &a,
            "022",
            &[],
            &["build", "kube-apiserver", "--local", "--image"],
        ),
        "build --image",
    );
    assert_eq!(
        sha256_of(&image),
        released_image,
        "build --image made another image"
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
    forget_last_release(&a);
    assert_success(
        &xtask(&a, "022", &[], &["release", "--local", "--skip-tests"]),
        "warm release",
    );
    let warm = started.elapsed();
    for step in 0..6u32 {
        let delay = warm * step / 5;
        forget_last_release(&a);
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
        forget_last_release(&a);
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

    // A build input that differs between checkouts: a build script that
    // embeds the checkout's path in the binary. --verify fails and says where.
    let manifest = a.join("cmd/kube-apiserver");
    fs::write(
        manifest.join("build.rs"),
        "fn main() {\n    let dir = std::env::var(\"CARGO_MANIFEST_DIR\").unwrap();\n    \
         println!(\"cargo:rustc-env=KUBE_CHECKOUT_PATH={dir}\");\n}\n",
    )
    .unwrap();
    let main_rs = manifest.join("src/main.rs");
    let mut main_source = fs::read_to_string(&main_rs).unwrap();
    main_source.push_str("\n#[used]\nstatic CHECKOUT_PATH: &str = env!(\"KUBE_CHECKOUT_PATH\");\n");
    fs::write(&main_rs, main_source).unwrap();
    git(&a, &["add", "-A"]);
    git(
        &a,
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-qm",
            "embed the checkout path",
        ],
    );
    let perturbed = xtask(
        &a,
        "022",
        &[],
        &["release", "--local", "--skip-tests", "--verify"],
    );
    assert!(
        !perturbed.status.success(),
        "--verify passed a path-dependent build"
    );
    let err = String::from_utf8_lossy(&perturbed.stderr);
    assert!(
        err.contains("the release is not reproducible")
            && err.contains(
                "kubernetes-server-linux-amd64.tar.gz: member kubernetes/server/bin/kube-apiserver: ELF section"
            ),
        "{err}"
    );
    assert_success(&xtask(&a, "022", &[], &["clean"]), "clean");
    assert!(!copy.exists(), "clean left release --verify's copy");
}

/// The copy `release --verify` rebuilt in, from its log.
fn verify_copy(log: &str) -> PathBuf {
    let line = log
        .lines()
        .find_map(|l| l.split_once("verify: releasing again from kubernetes-src.tar.gz in "))
        .map(|(_, rest)| rest)
        .unwrap_or_else(|| panic!("no verify line in:\n{log}"));
    PathBuf::from(line.split(" (offline").next().unwrap())
}

/// Makes the next release rebuild its artifacts (not reuse them).
fn forget_last_release(checkout: &Path) {
    let _ = fs::remove_file(checkout.join("_output/release-inputs.json"));
}

/// The SBOM validates against the SPDX 2.3 JSON schema (vendored from
/// spdx/spdx-spec v2.3), and lists each crate `cargo tree` says is linked
/// into the amd64 server, with the checksum Cargo.lock pins.
fn check_sbom(checkout: &Path, tars: &Path) {
    let document: serde_json::Value =
        serde_json::from_slice(&fs::read(tars.join("kubernetes-release.spdx.json")).unwrap())
            .unwrap();
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("data/spdx-2.3.schema.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&document)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "the SBOM is not valid SPDX 2.3: {errors:#?}"
    );

    let tree = Command::new("cargo")
        .args([
            "tree",
            "--locked",
            "-p",
            "kube-apiserver",
            "-e",
            "normal,no-proc-macro",
            "--target",
            "x86_64-unknown-linux-gnu",
            "--prefix",
            "none",
        ])
        .current_dir(checkout)
        .output()
        .unwrap();
    assert_success(&tree, "cargo tree");
    let linked: std::collections::BTreeSet<(String, String)> = String::from_utf8(tree.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            Some((
                words.next()?.to_owned(),
                words.next()?.trim_start_matches('v').to_owned(),
            ))
        })
        .collect();
    let packages: BTreeMap<&str, &serde_json::Value> = document["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["SPDXID"].as_str().unwrap(), p))
        .collect();
    let listed: std::collections::BTreeSet<(String, String)> = document["relationships"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            r["relationshipType"] == "STATIC_LINK"
                && r["spdxElementId"] == "SPDXRef-File-linux-amd64-kube-apiserver"
        })
        .map(|r| {
            let p = packages[r["relatedSpdxElement"].as_str().unwrap()];
            (
                p["name"].as_str().unwrap().to_owned(),
                p["versionInfo"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(linked.len() > 50, "{linked:?}");
    assert_eq!(
        listed, linked,
        "the SBOM's linked crates are not cargo tree's"
    );

    let lock = fs::read_to_string(checkout.join("Cargo.lock")).unwrap();
    let mut checked = 0;
    for block in lock.split("[[package]]") {
        let field = |name: &str| {
            block
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{name} = \"")))
                .map(|v| v.trim_end_matches('"').to_owned())
        };
        let (Some(name), Some(version), Some(checksum)) =
            (field("name"), field("version"), field("checksum"))
        else {
            continue;
        };
        if !linked.contains(&(name.clone(), version.clone())) {
            continue;
        }
        let package = packages
            .values()
            .find(|p| p["name"] == name.as_str() && p["versionInfo"] == version.as_str())
            .unwrap();
        assert_eq!(
            package["checksums"][0]["checksumValue"],
            checksum.as_str(),
            "{name} {version}"
        );
        assert_eq!(
            package["externalRefs"][0]["referenceLocator"],
            format!("pkg:cargo/{name}@{version}").as_str()
        );
        checked += 1;
    }
    assert!(checked > 50, "only {checked} crates checked");
}

/// Every subject of the provenance is a file on disk with that sha256 (or an
/// image ID its archive holds), and every artifact but the checksums and
/// the statement itself is a subject.
fn check_provenance(checkout: &Path, tars: &Path) {
    let statement: serde_json::Value =
        serde_json::from_slice(&fs::read(tars.join("kubernetes-release.intoto.json")).unwrap())
            .unwrap();
    assert_eq!(statement["_type"], "https://in-toto.io/Statement/v1");
    assert_eq!(statement["predicateType"], "https://slsa.dev/provenance/v1");
    let predicate = &statement["predicate"]["buildDefinition"];
    assert_eq!(
        predicate["externalParameters"]["platforms"][0],
        "linux/amd64"
    );
    let commit = git(checkout, &["rev-parse", "HEAD"]);
    assert_eq!(
        predicate["resolvedDependencies"][0]["digest"]["gitCommit"],
        commit.as_str()
    );
    let mut subjects = BTreeMap::new();
    for subject in statement["subject"].as_array().unwrap() {
        let name = subject["name"].as_str().unwrap().to_owned();
        let digest = subject["digest"]["sha256"].as_str().unwrap().to_owned();
        subjects.insert(name, digest);
    }
    for (name, digest) in &subjects {
        let file = [tars.join(name), checkout.join("_output").join(name)]
            .into_iter()
            .find(|p| p.is_file());
        match file {
            Some(file) => assert_eq!(&sha256_of(&file), digest, "{name}"),
            None => {
                // An image ID: the config digest inside its archive.
                assert!(
                    name.starts_with("registry.k8s.io/kube-apiserver-amd64:"),
                    "{name}: no such file"
                );
                let listing = Command::new("tar")
                    .arg("-tf")
                    .arg(checkout.join("_output/release-images/amd64/kube-apiserver.tar"))
                    .output()
                    .unwrap();
                assert!(
                    String::from_utf8_lossy(&listing.stdout).contains(&format!("{digest}.json")),
                    "{name}"
                );
            }
        }
    }
    for name in digests(tars).keys() {
        let derived =
            name.ends_with(".sha256") || name.ends_with(".sha512") || name.ends_with("SUMS");
        if !derived && name != "kubernetes-release.intoto.json" {
            assert!(subjects.contains_key(name), "{name} is not a subject");
        }
    }
    assert!(
        subjects.contains_key("release-images/amd64/kube-apiserver.tar"),
        "{subjects:?}"
    );
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

/// `cargo xtask ci`: the steps in order, a summary table, and the first
/// failure stops the pipeline with a non-zero exit (the later steps not run).
#[test]
fn ci_tabulates_its_steps_and_stops_at_the_first_failure() {
    let base = tempfile::tempdir().unwrap();
    let clone = base.path().join("clone");
    clone_into(&clone);

    let out = xtask(
        &clone,
        "022",
        &[],
        &["ci", "--local", "--skip", "clippy,test,release,verify"],
    );
    assert_success(&out, "ci (fmt only)");
    let table = String::from_utf8_lossy(&out.stderr);
    assert!(table.contains("fmt") && table.contains("passed"), "{table}");
    assert!(table.contains("skipped (--skip)"), "{table}");

    let main_rs = clone.join("cmd/kube-apiserver/src/main.rs");
    let mut source = fs::read_to_string(&main_rs).unwrap();
    source.push_str("\nfn   badly_formatted ( ) { }\n");
    fs::write(&main_rs, source).unwrap();
    let out = xtask(
        &clone,
        "022",
        &[],
        &["ci", "--local", "--skip", "test,release,verify"],
    );
    assert!(!out.status.success(), "ci passed unformatted code");
    let table = String::from_utf8_lossy(&out.stderr);
    assert!(
        table.contains("FAILED: cargo fmt --check found unformatted code"),
        "{table}"
    );
    assert!(
        table.contains("not run (an earlier step failed)"),
        "{table}"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("error: ci: the Fmt step failed"),
        "{table}"
    );
}
