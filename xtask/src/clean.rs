//! `cargo xtask clean` (build/make-clean.sh): removes what this checkout
//! generated under `_output/`.

use anyhow::{Context, Result};

use crate::progress::log;
use crate::workspace::Workspace;

pub fn clean(ws: &Workspace) -> Result<()> {
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
