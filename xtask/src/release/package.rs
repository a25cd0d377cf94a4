//! Packaging: each staged tree becomes a deterministic tar.gz, hashed while
//! it is written, then the checksum files; all into a partial directory that
//! `publish` swaps in for `_output/release-tars` in one rename.

use std::fs;
use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::{Context, Result, anyhow};
use cargo_metadata::camino::Utf8Path;

use super::stage::Stage;
use crate::archive::Archive;
use crate::atomic::{self, AtomicFile};
use crate::checksums::{self, Digests, HashingWriter};
use crate::progress::Progress;

pub const SOURCE_TARBALL: &str = "kubernetes-src.tar.gz";
pub const FULL_TARBALL: &str = "kubernetes.tar.gz";

pub fn server_tarball(dashed_platform: &str) -> String {
    format!("kubernetes-server-{dashed_platform}.tar.gz")
}

/// What describes the other artifacts once they are written (SBOM,
/// provenance): (name, bytes) made from their digests.
pub type Attestations<'a> = &'a dyn Fn(&[(String, Digests)]) -> Result<Vec<(String, Vec<u8>)>>;

/// Packages every tree of `stage` into `out_dir` (created afresh), writes
/// `records` (name, bytes: e.g. the build environment) beside the tarballs,
/// then what `attest` makes of all of those, and the checksums of
/// everything; returns (artifact name, digests) sorted by name.
pub fn package_stage(
    stage: &Stage,
    records: &[(String, Vec<u8>)],
    attest: Attestations<'_>,
    out_dir: &Path,
    mtime: u64,
) -> Result<Vec<(String, Digests)>> {
    if out_dir.exists() {
        fs::remove_dir_all(out_dir).with_context(|| format!("removing {}", out_dir.display()))?;
    }
    fs::create_dir_all(out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let progress = Progress::new("package", 2 + stage.server_platforms.len() as u64 + 1);

    // The source tarball goes inside each server tarball, so it comes first.
    progress.step(SOURCE_TARBALL);
    let source_tarball = out_dir.join(SOURCE_TARBALL);
    let mut artifacts = vec![(
        SOURCE_TARBALL.to_owned(),
        tar_gz_dir(&stage.src_dir(), &source_tarball, mtime)?,
    )];
    progress.inc();
    for platform in &stage.server_platforms {
        let dest = stage
            .server_dir(platform)
            .join("kubernetes")
            .join(SOURCE_TARBALL);
        copy_atomic(&source_tarball, dest.as_std_path())?;
    }

    // The rest are independent: one thread each (deflate dominates).
    let mut jobs = vec![(FULL_TARBALL.to_owned(), stage.full_dir())];
    for platform in &stage.server_platforms {
        jobs.push((server_tarball(platform), stage.server_dir(platform)));
    }
    let results: Vec<Result<(String, Digests)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = jobs
            .iter()
            .map(|(name, dir)| {
                let progress = &progress;
                scope.spawn(move || {
                    progress.step(name);
                    let digests = tar_gz_dir(dir, &out_dir.join(name), mtime)?;
                    progress.inc();
                    Ok((name.clone(), digests))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow!("a packaging thread panicked")))
            })
            .collect()
    });
    for result in results {
        artifacts.push(result?);
    }
    for (name, bytes) in records {
        artifacts.push((name.clone(), write_record(out_dir, name, bytes)?));
    }
    artifacts.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, bytes) in attest(&artifacts)? {
        let digests = write_record(out_dir, &name, &bytes)?;
        artifacts.push((name, digests));
    }
    artifacts.sort_by(|a, b| a.0.cmp(&b.0));

    progress.step("checksums");
    checksums::write_checksum_files(out_dir, &artifacts)?;
    progress.inc();
    progress.finish();
    Ok(artifacts)
}

fn write_record(out_dir: &Path, name: &str, bytes: &[u8]) -> Result<Digests> {
    let mut file = HashingWriter::new(AtomicFile::create(out_dir.join(name))?);
    file.write_all(bytes)
        .with_context(|| format!("writing {}", out_dir.join(name).display()))?;
    let (file, digests) = file.finish();
    file.set_mode(0o644)?;
    file.commit()?;
    Ok(digests)
}

/// `dir/kubernetes` → `dest` as tar.gz with entries under `kubernetes/`.
pub fn tar_gz_dir(dir: &Utf8Path, dest: &Path, mtime: u64) -> Result<Digests> {
    let mut archive = Archive::new();
    archive.add_tree("kubernetes", dir.join("kubernetes").as_std_path())?;
    let file = AtomicFile::create(dest)?;
    let writer = BufWriter::with_capacity(1 << 20, HashingWriter::new(file));
    let writer = archive
        .write_tar_gz(writer, mtime)
        .with_context(|| format!("writing {}", dest.display()))?;
    let (file, digests) = writer
        .into_inner()
        .map_err(|e| anyhow!("writing {}: {}", dest.display(), e.error()))?
        .finish();
    file.commit()?;
    Ok(digests)
}

fn copy_atomic(source: &Path, dest: &Path) -> Result<()> {
    let mut input =
        fs::File::open(source).with_context(|| format!("opening {}", source.display()))?;
    let mut output = AtomicFile::create(dest)?;
    std::io::copy(&mut input, &mut output)
        .with_context(|| format!("copying to {}", dest.display()))?;
    output.flush()?;
    output.set_mode(0o644)?;
    output.commit()
}

/// Replaces `final_dir` with the complete `partial` directory. Readers see
/// either the old complete release or the new one, never a mix, a missing
/// directory or a truncated file.
pub fn publish(partial: &Path, final_dir: &Path) -> Result<()> {
    atomic::replace_dir(partial, final_dir)
}
