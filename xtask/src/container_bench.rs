//! `cargo xtask bench container`: what the container route costs. In a
//! temporary clone of this checkout (so its caches stay untouched), times a
//! cold and a warm (cache volume, one touched source file) container build of
//! a component for linux/amd64 end to end, against a plain
//! `cargo build --release --locked` of the same component inside the same
//! image; the re-run of `release` when nothing changed; optionally the image
//! bootstrap. Prints a table.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use cargo_metadata::camino::{Utf8Path, Utf8PathBuf};
use xshell::{Shell, cmd};

use crate::build::container;
use crate::docker::Engine;
use crate::progress::log;
use crate::workspace::Workspace;

pub fn run(
    ws: &Workspace,
    component: Option<&str>,
    with_image: bool,
    warm_runs: usize,
) -> Result<()> {
    if warm_runs == 0 {
        bail!("--runs must be at least 1");
    }
    let component = match component {
        Some(name) => ws.select_components(&[name.to_owned()])?.remove(0),
        None => ws
            .components
            .iter()
            .find(|c| c.kind == crate::components::ComponentKind::Server)
            .cloned()
            .context("no server component to benchmark: name one")?,
    };
    let engine = Engine::connect()?;
    let exe = std::env::current_exe().context("locating the xtask binary")?;
    let exe = exe.display().to_string();
    let sh = Shell::new()?;
    let scratch = tempfile::Builder::new()
        .prefix("xtask-bench-container-")
        .tempdir()
        .context("creating a scratch directory")?;
    let clone = Utf8PathBuf::from_path_buf(scratch.path().join("checkout"))
        .map_err(|p| anyhow::anyhow!("{} is not UTF-8", p.display()))?;
    let root = &ws.root;
    cmd!(sh, "git clone --quiet --no-hardlinks {root} {clone}").run()?;
    sh.change_dir(&clone);
    let touched = entry_source(&clone, &component.name)?;
    let name = &component.name;
    let mut rows: Vec<(String, String)> = Vec::new();

    let image_time = if with_image {
        let started = Instant::now();
        cmd!(sh, "{exe} image build").run()?;
        Some(started.elapsed())
    } else {
        cmd!(sh, "{exe} image build --if-missing").run()?;
        None
    };

    let result = (|| -> Result<()> {
        // The orchestrated route, end to end.
        let cold = timed(|| {
            cmd!(sh, "{exe} build {name} --platform linux/amd64").run()?;
            Ok(())
        })?;
        let mut warm_all = Vec::new();
        for _ in 0..warm_runs {
            touch(&touched)?;
            warm_all.push(timed(|| {
                cmd!(sh, "{exe} build {name} --platform linux/amd64").run()?;
                Ok(())
            })?);
        }
        let warm = median(warm_all);

        // The peer: plain cargo in the same image, same inputs, no orchestration.
        let relative = touched
            .strip_prefix(&clone)
            .context("the touched file is outside the checkout")?
            .to_string();
        let (peer_cold, peer_warm_all) =
            container::plain_cargo_timings(&engine, &clone, name, &relative, warm_runs)?;
        let peer_warm = median(peer_warm_all);

        // Nothing changed: the release re-run.
        cmd!(sh, "{exe} release --skip-tests").run()?;
        let rerun = timed(|| {
            cmd!(sh, "{exe} release --skip-tests").run()?;
            Ok(())
        })?;

        let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64();
        rows.push((
            format!("cold build of {name} (linux/amd64)"),
            format!(
                "{:>8.1} s {:>8.1} s {:>7.2}",
                cold.as_secs_f64(),
                peer_cold.as_secs_f64(),
                ratio(cold, peer_cold)
            ),
        ));
        rows.push((
            format!(
                "warm build ({} touched, median of {warm_runs})",
                touched.file_name().unwrap_or("")
            ),
            format!(
                "{:>8.1} s {:>8.1} s {:>7.2}",
                warm.as_secs_f64(),
                peer_warm.as_secs_f64(),
                ratio(warm, peer_warm)
            ),
        ));
        rows.push((
            "release re-run, nothing changed (--skip-tests)".to_owned(),
            format!("{:>8.1} s", rerun.as_secs_f64()),
        ));

        Ok(())
    })();
    // Leave nothing of the clone in the engine.
    let cleaned = cmd!(sh, "{exe} clean").run();
    result?;
    cleaned?;

    println!();
    println!(
        "{:<52} {:>10} {:>10} {:>7}",
        "", "xtask", "plain cargo", "ratio"
    );
    for (label, values) in &rows {
        println!("{label:<52} {values}");
    }
    if let Some(image_time) = image_time {
        println!(
            "{:<52} {:>8.1} s",
            "image bootstrap (mmdebstrap + wrap + load)",
            image_time.as_secs_f64()
        );
    }
    println!(
        "\nxtask: `cargo xtask build` end to end (inputs, container, upload, cargo, download, write); \
         plain cargo: `cargo build --release --locked --offline --target x86_64-unknown-linux-gnu -p {name}` \
         with the same flags, stamp and inputs, timed inside a container of the same image; \
         the release re-run skips the tests (with them, add their run time: cargo does not cache \
         test results); {} CPUs.",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    Ok(())
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn timed(work: impl FnOnce() -> Result<()>) -> Result<Duration> {
    let started = Instant::now();
    work()?;
    Ok(started.elapsed())
}

/// The component's crate root (`src/main.rs`), whose touch is the "small
/// change" of the warm build.
fn entry_source(clone: &Utf8Path, package: &str) -> Result<Utf8PathBuf> {
    let metadata = cargo_metadata::MetadataCommand::new()
        .current_dir(clone)
        .no_deps()
        .exec()
        .context("reading the clone's workspace")?;
    let package = metadata
        .packages
        .iter()
        .find(|p| p.name.as_str() == package)
        .with_context(|| format!("no package {package} in the clone"))?;
    let dir = package
        .manifest_path
        .parent()
        .context("manifest path without a parent")?;
    for candidate in ["src/main.rs", "src/lib.rs"] {
        if dir.join(candidate).exists() {
            return Ok(dir.join(candidate));
        }
    }
    bail!(
        "{package} has neither src/main.rs nor src/lib.rs",
        package = package.name
    )
}

fn touch(path: &Utf8Path) -> Result<()> {
    let file = std::fs::File::options()
        .append(true)
        .open(path)
        .with_context(|| format!("opening {path}"))?;
    file.set_modified(std::time::SystemTime::now())
        .with_context(|| format!("touching {path}"))?;
    log(format!("touched {path}"));
    Ok(())
}
