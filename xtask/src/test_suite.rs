//! `cargo xtask test`: the whole suite CI runs (every workspace crate, the
//! integration and end-to-end tests included, the apiserver's on both
//! storage backends), and the component tests a
//! release runs before it builds: upstream's `make test`, the unit tests of
//! every crate but the orchestrator. Integration and end-to-end tests
//! (`tests/` directories: real server processes, the real kubectl, the
//! Docker engine) are `make test-integration`/`test-e2e` territory: the
//! build image has no kubectl or engine, so they run in CI, not in a release.

use std::io::BufReader;
use std::process::Stdio;

use anyhow::{Context, Result, bail};
use cargo_metadata::Message;
use cargo_metadata::camino::{Utf8Path, Utf8PathBuf};
use xshell::{Shell, cmd};

use crate::workspace::Workspace;

/// The package whose suites run a second time on etcd.
const APISERVER_PACKAGE: &str = "kube-apiserver";

pub fn run(ws: &Workspace, extra: &[String]) -> Result<()> {
    let sh = Shell::new()?;
    sh.change_dir(&ws.root);
    // Build once, noting the apiserver's suite binaries: the etcd pass runs
    // these very binaries. A second `cargo test --test …` would resolve
    // features for the selected targets only and recompile the server's
    // crates (minutes on two cores) to run the same code.
    let package_dir = ws.root.join("cmd").join(APISERVER_PACKAGE);
    let on_etcd = build_tests(&sh, &package_dir.join("Cargo.toml"))?;
    cmd!(sh, "cargo test --workspace --locked -- {extra...}")
        .run()
        .context("the test suite failed")?;
    for suite in on_etcd {
        let binary = suite.as_str();
        // Cargo runs a test binary from its package's directory; so does this.
        let sh = Shell::new()?;
        sh.change_dir(&package_dir);
        cmd!(sh, "{binary} {extra...}")
            .env("KUBE_APISERVER_TEST_STORAGE", "etcd")
            .run()
            .context("the apiserver's suites on etcd failed")?;
    }
    Ok(())
}

/// `cargo test --no-run` of the whole workspace; the executables of the
/// apiserver's suites listed in [`ON_ETCD`], in that order. `manifest` is
/// the apiserver package's `Cargo.toml`.
fn build_tests(sh: &Shell, manifest: &Utf8Path) -> Result<Vec<Utf8PathBuf>> {
    let command = cmd!(
        sh,
        "cargo test --workspace --locked --no-run --message-format=json-render-diagnostics"
    );
    eprintln!("$ {command}");
    let mut child = std::process::Command::from(command)
        .stdout(Stdio::piped())
        .spawn()
        .context("starting cargo")?;
    let stdout = child.stdout.take().context("cargo's stdout")?;
    let mut found: Vec<Option<Utf8PathBuf>> = vec![None; ON_ETCD.len()];
    for message in Message::parse_stream(BufReader::new(stdout)) {
        let Message::CompilerArtifact(artifact) = message.context("reading cargo's output")? else {
            continue;
        };
        let suite = ON_ETCD.iter().position(|s| *s == artifact.target.name);
        if let (Some(index), Some(executable)) = (suite, artifact.executable)
            && artifact.profile.test
            && artifact.target.is_test()
            && artifact.manifest_path == manifest
        {
            found[index] = Some(executable);
        }
    }
    if !child.wait().context("waiting for cargo")?.success() {
        bail!("building the tests failed (the compiler's errors are above)");
    }
    ON_ETCD
        .iter()
        .zip(found)
        .map(|(suite, executable)| {
            executable.with_context(|| {
                format!("cargo built no test suite `{suite}` of {APISERVER_PACKAGE}")
            })
        })
        .collect()
}

/// The apiserver's suites that run a second time with every server on a
/// real etcd (its own per server) instead of the embedded store: the API,
/// kubectl and restart behaviour. Left out: `hardening` (its full-disk case
/// is the embedded store's own), `abuse` and `command` (no storage in play).
const ON_ETCD: [&str; 12] = [
    "rest_api",
    "authorization",
    "service_accounts",
    "kubectl",
    "kubectl_fidelity",
    "server_side_apply",
    "scale",
    "tables",
    "protobuf",
    "crash",
    "custom_resources",
    "garbage_collection",
];

/// The arguments of the release's component tests after `cargo test`
/// (shared by both build routes).
pub const COMPONENT_TEST_ARGS: [&str; 10] = [
    "--workspace",
    "--exclude",
    "xtask",
    "--exclude",
    "kube-fuzz",
    // A controller for the apiserver's tests (kube-rs), not a component.
    "--exclude",
    "kube-test-operator",
    "--locked",
    "--lib",
    "--bins",
];

/// What `release` runs first: `make test` of upstream (unit tests).
pub fn component_tests(ws: &Workspace) -> Result<()> {
    let sh = Shell::new()?;
    sh.change_dir(&ws.root);
    let args = COMPONENT_TEST_ARGS;
    cmd!(sh, "cargo test {args...}").run()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_suite_run_on_etcd_exists() {
        let tests =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../cmd/kube-apiserver/tests");
        for suite in ON_ETCD {
            let file = tests.join(format!("{suite}.rs"));
            assert!(file.is_file(), "{} is not a test suite", file.display());
        }
    }
}
