//! `cargo xtask bench packaging`: times packaging + hashing of a staged
//! release (ours: deterministic tar + gzip -6 + SHA-256/512 while writing)
//! against the GNU pipeline on the same tree in the same run
//! (`tar --sort=name ... | gzip -n -6`, then `sha256sum` and `sha512sum`),
//! and prints a table.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use cargo_metadata::camino::{Utf8Path, Utf8PathBuf};
use xshell::{Shell, cmd};

use crate::release::{Stage, package_stage};
use crate::workspace::Workspace;

/// Any fixed time: both sides archive with the same mtime.
const EPOCH: u64 = 1_700_000_000;

pub fn packaging(ws: &Workspace, stage_dir: Option<&Utf8Path>, runs: usize) -> Result<()> {
    if runs == 0 {
        bail!("--runs must be at least 1");
    }
    let stage_root = stage_dir
        .map(Utf8Path::to_owned)
        .unwrap_or_else(|| ws.release_stage());
    let stage = Stage::open(&stage_root)?;
    let scratch = tempfile::tempdir().context("creating a scratch directory")?;
    let scratch = Utf8PathBuf::from_path_buf(scratch.path().to_path_buf())
        .map_err(|p| anyhow::anyhow!("{} is not UTF-8", p.display()))?;
    let sh = Shell::new()?;

    // The trees both sides package: src first (the server trees embed its
    // tarball, which ours copies in; GNU packages them as they are).
    let mut trees = vec![("kubernetes-src.tar.gz".to_owned(), stage.src_dir())];
    trees.push(("kubernetes.tar.gz".to_owned(), stage.full_dir()));
    for platform in &stage.server_platforms {
        trees.push((
            format!("kubernetes-server-{platform}.tar.gz"),
            stage.server_dir(platform),
        ));
    }
    let input_bytes = tree_bytes(&stage_root)?;

    let mut ours = Vec::new();
    let mut gnu = Vec::new();
    let (mut ours_size, mut gnu_size) = (0, 0);
    for run in 0..runs {
        eprintln!("bench packaging: run {}/{runs}", run + 1);
        let out = scratch.join("ours");
        let started = Instant::now();
        package_stage(&stage, &[], &|_| Ok(Vec::new()), out.as_std_path(), EPOCH)?;
        ours.push(started.elapsed());
        ours_size = dir_bytes(&out)?;

        let out = scratch.join("gnu");
        if out.exists() {
            std::fs::remove_dir_all(&out)?;
        }
        std::fs::create_dir_all(&out)?;
        let started = Instant::now();
        for (name, dir) in &trees {
            let dest = out.join(name);
            let script = format!(
                "tar --sort=name --mtime=@{EPOCH} --owner=0 --group=0 --numeric-owner -C '{dir}' -cf - kubernetes | gzip -n -6 > '{dest}'"
            );
            cmd!(sh, "sh -c {script}").quiet().run()?;
        }
        let names: Vec<&String> = trees.iter().map(|(n, _)| n).collect();
        let names = &names;
        sh.change_dir(&out);
        let sums = cmd!(sh, "sha256sum {names...}").quiet().read()?;
        std::fs::write(out.join("SHA256SUMS"), sums + "\n")?;
        let sums = cmd!(sh, "sha512sum {names...}").quiet().read()?;
        std::fs::write(out.join("SHA512SUMS"), sums + "\n")?;
        gnu.push(started.elapsed());
        gnu_size = dir_bytes(&out)?;
    }

    let (ours_median, gnu_median) = (median(&mut ours), median(&mut gnu));
    println!();
    println!(
        "packaging + hashing of {} ({} trees, {:.1} MiB staged), {runs} run(s) each, alternating",
        ws.relative(&stage_root),
        trees.len(),
        mib(input_bytes)
    );
    println!(
        "{:<58} {:>9} {:>9} {:>10}",
        "pipeline", "median", "min", "output"
    );
    println!(
        "{:<58} {:>8.3}s {:>8.3}s {:>6.1} MiB",
        "xtask: tar + gzip -6 (flate2/zlib-rs) + sha256/512 inline",
        ours_median.as_secs_f64(),
        ours.iter().min().unwrap_or(&Duration::ZERO).as_secs_f64(),
        mib(ours_size)
    );
    println!(
        "{:<58} {:>8.3}s {:>8.3}s {:>6.1} MiB",
        "GNU: tar --sort=name | gzip -n -6; sha256sum; sha512sum",
        gnu_median.as_secs_f64(),
        gnu.iter().min().unwrap_or(&Duration::ZERO).as_secs_f64(),
        mib(gnu_size)
    );
    println!(
        "ratio xtask/GNU (median): {:.2}  (< 1 means ours is faster)",
        ours_median.as_secs_f64() / gnu_median.as_secs_f64()
    );
    Ok(())
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn dir_bytes(dir: &Utf8Path) -> Result<u64> {
    let mut total = 0;
    for entry in dir.read_dir_utf8()? {
        total += entry?.metadata()?.len();
    }
    Ok(total)
}

fn tree_bytes(dir: &Utf8Path) -> Result<u64> {
    let mut total = 0;
    let mut stack = vec![dir.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in dir
            .read_dir_utf8()
            .with_context(|| format!("listing {dir}"))?
        {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                stack.push(entry.path().to_owned());
            } else if kind.is_file() {
                total += entry.metadata()?.len();
            }
        }
    }
    Ok(total)
}
