//! `cargo xtask test`: the whole suite CI runs (every workspace crate, the
//! integration and end-to-end tests included, the apiserver's on both
//! storage backends), and the component tests a
//! release runs before it builds: upstream's `make test`, the unit tests of
//! every crate but the orchestrator. Integration and end-to-end tests
//! (`tests/` directories: real server processes, the real kubectl, the
//! Docker engine) are `make test-integration`/`test-e2e` territory: the
//! build image has no kubectl or engine, so they run in CI, not in a release.

use anyhow::{Context, Result};
use xshell::{Shell, cmd};

use crate::workspace::Workspace;

pub fn run(ws: &Workspace, extra: &[String]) -> Result<()> {
    let sh = Shell::new()?;
    sh.change_dir(&ws.root);
    cmd!(sh, "cargo test --workspace --locked -- {extra...}")
        .run()
        .context("the test suite failed")?;
    // `--workspace`, as above, so the features (and the compiled crates)
    // are the first run's: selecting one package would rebuild a minute's
    // worth. Storage's own `crash` test matches too and runs again.
    let suites = ON_ETCD.iter().flat_map(|suite| ["--test", suite]);
    cmd!(
        sh,
        "cargo test --workspace --locked {suites...} -- {extra...}"
    )
    .env("KUBE_APISERVER_TEST_STORAGE", "etcd")
    .run()
    .context("the apiserver's suites on etcd failed")?;
    Ok(())
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
