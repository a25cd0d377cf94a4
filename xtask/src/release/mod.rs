//! `cargo xtask release`: build/release.sh. Stamps the version, runs the
//! components' tests, builds the server components for each platform, stages
//! the release trees and packages them into `_output/release-tars`, which is
//! replaced as a whole only when every artifact and checksum is written.

mod compare;
mod package;
mod source;
mod stage;
mod verify;

use anyhow::{Context, Result, bail};

use crate::components::ComponentKind;
use crate::platform::Platform;
use crate::progress::log;
use crate::version::Stamp;
use crate::workspace::Workspace;
use crate::{build, licenses};

pub use package::{package_stage, publish};
pub use stage::Stage;

/// `KUBE_RELEASE_RUN_TESTS`: tests run unless it is set to something other
/// than y/Y (upstream's rule; `n` is the usual way to skip).
pub fn tests_requested_by_env() -> bool {
    tests_requested(std::env::var("KUBE_RELEASE_RUN_TESTS").ok().as_deref())
}

fn tests_requested(kube_release_run_tests: Option<&str>) -> bool {
    kube_release_run_tests.is_none_or(|value| matches!(value.trim(), "" | "y" | "Y"))
}

pub fn release(
    ws: &Workspace,
    platforms: &[Platform],
    run_tests: bool,
    route: &build::Route,
    verify: bool,
) -> Result<()> {
    let stamp = Stamp::from_checkout(ws)?;
    let servers: Vec<_> = ws
        .components
        .iter()
        .filter(|c| c.kind == ComponentKind::Server)
        .cloned()
        .collect();
    if servers.is_empty() {
        bail!(
            "no server component in the workspace: declare [package.metadata.release] component = \"server\" in one"
        );
    }
    log(format!(
        "release {} ({}, commit {}, tree {}) for {}",
        stamp.git_version,
        stamp.build_date(),
        if stamp.git_commit.is_empty() {
            "unknown"
        } else {
            &stamp.git_commit
        },
        stamp.git_tree_state,
        platforms
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    ));
    let vendored = build::vendor::ensure(ws)?;
    let sources = source::list(ws, &stamp, &vendored)?;

    route
        .prepare(ws)
        .context("no release was made: the cross-build image could not be made")?;
    if run_tests {
        route
            .component_tests(ws)
            .context("the tests failed, so no release was made (--skip-tests skips them)")?;
    } else {
        log("skipping the tests (--skip-tests / KUBE_RELEASE_RUN_TESTS)");
    }
    let build = build::build(ws, &stamp, &servers, platforms, route)?;
    let licenses = licenses::collect(ws, &servers, platforms)?;
    let stage = stage::stage(ws, &stamp, &build.built, &licenses, &sources)?;

    let partial = ws.output().join("release-tars.partial");
    let records = [(
        build::environment::FILE_NAME.to_owned(),
        build.environment.to_json()?,
    )];
    let artifacts = package_stage(
        &stage,
        &records,
        partial.as_std_path(),
        stamp.source_date_epoch,
    )?;
    publish(partial.as_std_path(), ws.release_tars().as_std_path())?;
    log(format!(
        "release {} written to {}:",
        stamp.git_version,
        ws.relative(&ws.release_tars())
    ));
    for (name, digests) in &artifacts {
        log(format!("  {name}  sha256 {}", digests.sha256));
    }
    if verify {
        verify::verify(ws, platforms, matches!(route, build::Route::Local))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kube_release_run_tests_follows_upstream() {
        assert!(tests_requested(None));
        assert!(tests_requested(Some("y")));
        assert!(tests_requested(Some("Y")));
        assert!(!tests_requested(Some("n")));
        assert!(!tests_requested(Some("no")));
    }
}
