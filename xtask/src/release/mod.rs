//! `cargo xtask release`: build/release.sh. Stamps the version, runs the
//! components' tests, builds the server components for each platform, stages
//! the release trees and packages them into `_output/release-tars`, which is
//! replaced as a whole only when every artifact and checksum is written.

mod compare;
mod package;
mod provenance;
mod reuse;
mod sbom;
pub mod server_image;
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
pub use verify::copy_root as verify_copy_root;

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
    let inputs = reuse::inputs_digest(
        &stamp,
        &sources,
        &vendored.lock_digest,
        platforms,
        &route.toolchain_id(ws)?,
    )?;
    if reuse::is_current(ws, &inputs, run_tests) {
        log(format!(
            "release {} is up to date: nothing that feeds it changed since {} was written (inputs {})",
            stamp.git_version,
            ws.relative(&ws.release_tars()),
            &inputs[..16]
        ));
        if verify {
            verify::verify(ws, platforms, matches!(route, build::Route::Local))?;
        }
        return Ok(());
    }
    reuse::forget(ws);
    if run_tests {
        route
            .component_tests(ws)
            .context("the tests failed, so no release was made (--skip-tests skips them)")?;
    } else {
        log("skipping the tests (--skip-tests / KUBE_RELEASE_RUN_TESTS)");
    }
    let build = build::build(ws, &stamp, &servers, platforms, route)?;
    let licenses = licenses::collect(ws, &servers, platforms)?;
    let images = server_image::write_release_images(ws, &stamp, &build.built, &servers)?;
    let stage = stage::stage(ws, &stamp, &build.built, &images, &licenses, &sources)?;

    let partial = ws.output().join("release-tars.partial");
    let records = [(
        build::environment::FILE_NAME.to_owned(),
        build.environment.to_json()?,
    )];
    let attest =
        |artifacts: &[(String, crate::checksums::Digests)]| -> Result<Vec<(String, Vec<u8>)>> {
            let sbom = sbom::document(
                ws,
                &sbom::Inputs {
                    stamp: &stamp,
                    components: &servers,
                    built: &build.built,
                    images: &images,
                    environment: &build.environment,
                    vendored: &vendored,
                    artifacts,
                },
            )?;
            let mut subjects = artifacts.to_vec();
            subjects.push((sbom::FILE_NAME.to_owned(), crate::checksums::digest(&sbom)));
            for image in &images {
                let path = server_image::release_image_path(ws, image);
                let bytes = std::fs::read(&path).with_context(|| format!("reading {path}"))?;
                subjects.push((
                    ws.relative(&path)
                        .strip_prefix("_output")
                        .unwrap_or(ws.relative(&path))
                        .to_string(),
                    crate::checksums::digest(&bytes),
                ));
            }
            let statement = provenance::statement(
                &stamp,
                &build.environment,
                &provenance::Invocation {
                    platforms,
                    run_tests,
                    strict_image: route.strict_image(),
                    lock_digest: &vendored.lock_digest,
                },
                &subjects,
                &images,
            )?;
            let mut out = vec![(sbom::FILE_NAME.to_owned(), sbom)];
            let signer: &dyn provenance::Signer = &provenance::Unsigned;
            if let Some(envelope) = signer.sign("application/vnd.in-toto+json", &statement)? {
                out.push((format!("{}.dsse.json", provenance::FILE_NAME), envelope));
            }
            out.push((provenance::FILE_NAME.to_owned(), statement));
            Ok(out)
        };
    let artifacts = package_stage(
        &stage,
        &records,
        &attest,
        partial.as_std_path(),
        stamp.source_date_epoch,
    )?;
    publish(partial.as_std_path(), ws.release_tars().as_std_path())?;
    reuse::record(ws, &inputs, run_tests)?;
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
