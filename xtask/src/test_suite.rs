//! `cargo xtask test`: the whole suite CI runs (every workspace crate, the
//! integration and end-to-end tests included), and the component tests a
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
    Ok(())
}

/// The arguments of the release's component tests after `cargo test`
/// (shared by both build routes).
pub const COMPONENT_TEST_ARGS: [&str; 8] = [
    "--workspace",
    "--exclude",
    "xtask",
    "--exclude",
    "kube-fuzz",
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
