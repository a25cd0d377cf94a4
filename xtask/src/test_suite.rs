//! `cargo xtask test`: the whole suite CI runs (every workspace crate, the
//! xtask's own end-to-end tests included), and the component tests a release
//! runs before it builds (the orchestrator's tests excluded).

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

/// What `release` runs first: `make test` of upstream.
pub fn component_tests(ws: &Workspace) -> Result<()> {
    let sh = Shell::new()?;
    sh.change_dir(&ws.root);
    cmd!(sh, "cargo test --workspace --locked --exclude xtask").run()?;
    Ok(())
}
