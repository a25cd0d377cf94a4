//! `cargo xtask clean` (build/make-clean.sh): removes what this checkout
//! generated: its build containers and cache volumes in the engine, then
//! `_output/`, and the copy `release --verify` rebuilds in (with its
//! containers and volumes); with `--images`, the cross-build image too.

use anyhow::{Context, Result};

use crate::progress::log;
use crate::workspace::Workspace;

pub fn clean(ws: &Workspace, images: bool) -> Result<()> {
    let verify_root = crate::release::verify_copy_root(ws);
    match crate::docker::Engine::connect() {
        Ok(engine) => {
            for root in [
                ws.root.as_std_path(),
                verify_root.join("kubernetes").as_path(),
            ] {
                let removed = engine.block_on(crate::build::container::remove_checkout_objects(
                    &engine, root,
                ))?;
                for object in &removed {
                    log(format!("removed {object}"));
                }
            }
            if images {
                for tag in engine.block_on(crate::image::remove_all(&engine))? {
                    log(format!("removed the image {tag}"));
                }
            }
        }
        Err(no_engine) => log(format!(
            "{no_engine}: no build containers, volumes or images to remove there"
        )),
    }
    if verify_root.exists() {
        std::fs::remove_dir_all(&verify_root)
            .with_context(|| format!("removing {}", verify_root.display()))?;
        log(format!(
            "removed {} (release --verify's copy)",
            verify_root.display()
        ));
    }
    let output = ws.output();
    if output.exists() {
        std::fs::remove_dir_all(&output).with_context(|| format!("removing {output}"))?;
        log(format!("removed {}", ws.relative(&output)));
    } else {
        log(format!(
            "{} does not exist: nothing to clean",
            ws.relative(&output)
        ));
    }
    Ok(())
}
