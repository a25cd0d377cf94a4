//! Saved image archives (`docker save` format, plain or gzip-compressed):
//! `image save` writes the exact image out of the engine, `image load`
//! checks an archive against the definition (built from it, and the image
//! ID it records) before loading it through the API. This is how a team
//! carries its toolchain to machines that cannot rebuild it, and how an old
//! commit gets its image back after Debian's archive has moved on.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, Write};
use std::path::Path;

use anyhow::{Context, Result, bail};
use futures_util::StreamExt;
use sha2::{Digest, Sha256};

use super::definition::Definition;
use super::{IdCheck, ImagePolicy};
use crate::docker::{Engine, IMAGE_DEFINITION_LABEL};
use crate::progress::log;

/// An archive's image, as read from its manifest and config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchivedImage {
    /// `sha256:<hex>` of the config: the ID the engine will give it.
    pub id: String,
    pub repo_tags: Vec<String>,
    /// The definition digest the image is labelled with.
    pub definition: Option<String>,
}

/// Reads an archive's manifest and image config (one pass; a plain tar's
/// layers are skipped with seeks, not read).
pub fn inspect(path: &Path) -> Result<ArchivedImage> {
    let mut file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut magic = [0u8; 2];
    let gzip = file.read(&mut magic)? == 2 && magic == [0x1f, 0x8b];
    file.rewind()?;
    let files = if gzip {
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(BufReader::new(file)));
        small_json_files(archive.entries()?)
    } else {
        let mut archive = tar::Archive::new(file);
        small_json_files(archive.entries_with_seek()?)
    }
    .with_context(|| {
        format!(
            "{} is not an image archive (docker save format)",
            path.display()
        )
    })?;

    let manifest = files.get("manifest.json").with_context(|| {
        format!(
            "{} has no manifest.json: it is not an image archive (docker save format)",
            path.display()
        )
    })?;
    let manifest: serde_json::Value = serde_json::from_slice(manifest)
        .with_context(|| format!("reading manifest.json of {}", path.display()))?;
    let images = manifest.as_array().map(Vec::as_slice).unwrap_or_default();
    let [image] = images else {
        bail!(
            "{} holds {} images: an image archive of kube-cross holds exactly one",
            path.display(),
            images.len()
        );
    };
    let config_name = image["Config"]
        .as_str()
        .with_context(|| format!("manifest.json of {} names no Config", path.display()))?;
    let config_bytes = files.get(config_name).with_context(|| {
        format!(
            "{} lacks the image config {config_name} its manifest names",
            path.display()
        )
    })?;
    let config: serde_json::Value = serde_json::from_slice(config_bytes)
        .with_context(|| format!("reading {config_name} of {}", path.display()))?;
    Ok(ArchivedImage {
        id: format!("sha256:{:x}", Sha256::digest(config_bytes)),
        repo_tags: image["RepoTags"]
            .as_array()
            .map(|tags| {
                tags.iter()
                    .filter_map(|t| t.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
        definition: config["config"]["Labels"][IMAGE_DEFINITION_LABEL]
            .as_str()
            .map(str::to_owned),
    })
}

/// The archive's JSON files (manifest, configs) by name; layers skipped.
fn small_json_files<R: Read>(entries: tar::Entries<'_, R>) -> Result<BTreeMap<String, Vec<u8>>> {
    const MAX_JSON: u64 = 16 << 20;
    let mut files = BTreeMap::new();
    for entry in entries {
        let mut entry = entry?;
        let name = entry.path()?.to_string_lossy().into_owned();
        if name.ends_with(".json")
            && entry.header().entry_type().is_file()
            && entry.size() <= MAX_JSON
        {
            let mut bytes = Vec::with_capacity(entry.size() as usize);
            entry.read_to_end(&mut bytes)?;
            files.insert(name, bytes);
        }
    }
    Ok(files)
}

/// `cargo xtask image save`: the engine's image for `tag` into `path`
/// (gzip-compressed when it ends in `.gz`), written atomically. Returns the
/// bytes the engine sent (the uncompressed archive).
pub fn save(engine: &Engine, tag: &str, path: &Path) -> Result<u64> {
    let mut out = crate::atomic::AtomicFile::create(path)?;
    let compress = path.extension().is_some_and(|e| e == "gz");
    let mut write = || -> Result<u64> {
        let mut buffered = BufWriter::with_capacity(1 << 20, &mut out);
        let written = if compress {
            let mut gzip =
                flate2::write::GzEncoder::new(&mut buffered, flate2::Compression::fast());
            let written = export_into(engine, tag, &mut gzip)?;
            gzip.finish()?;
            written
        } else {
            export_into(engine, tag, &mut buffered)?
        };
        buffered.flush()?;
        Ok(written)
    };
    let written = write().with_context(|| format!("saving {tag} to {}", path.display()))?;
    out.commit()?;
    Ok(written)
}

/// GET /images/{tag}/get, streamed into `writer`.
fn export_into(engine: &Engine, tag: &str, writer: &mut impl Write) -> Result<u64> {
    engine.block_on(async {
        let mut stream = engine.docker.export_image(tag);
        let mut total = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk
                .with_context(|| format!("exporting {tag} from the engine at {}", engine.host))?;
            writer.write_all(&chunk)?;
            total += chunk.len() as u64;
        }
        Ok(total)
    })
}

/// POST /images/load of an archive file, streamed. An image that `tag`
/// named before and no longer does is removed (unless a container still
/// uses it), so replacing an image leaves no 1.5 GB dangling one behind.
pub fn load_archive(engine: &Engine, path: &Path, tag: &str) -> Result<()> {
    let previous = engine
        .block_on(engine.docker.inspect_image(tag))
        .ok()
        .and_then(|image| image.id);
    engine.block_on(async {
        let body = bollard::body_try_stream(crate::docker::file_chunks(path)?);
        let stream = engine.docker.import_image(
            bollard::query_parameters::ImportImageOptionsBuilder::new()
                .quiet(true)
                .build(),
            body,
            None,
        );
        super::follow_engine_stream(Box::pin(stream), "loading the image archive", |line| {
            log(format!("engine: {line}"))
        })
        .await
    })?;
    let current = engine
        .block_on(engine.docker.inspect_image(tag))
        .ok()
        .and_then(|image| image.id);
    if let Some(previous) = previous.filter(|previous| current.as_ref() != Some(previous)) {
        let removed = engine.block_on(engine.docker.remove_image(
            &previous,
            None::<bollard::query_parameters::RemoveImageOptions>,
            None,
        ));
        if removed.is_ok() {
            log(format!("removed the image {tag} named before ({previous})"));
        }
    }
    Ok(())
}

/// Loads `path` as the definition's image: refused when it was built from
/// another definition; its ID checked against the recorded one (a warning,
/// an error in strict mode) before anything is loaded. Returns the image ID.
pub fn load_checked(
    engine: &Engine,
    definition: &Definition,
    path: &Path,
    policy: &ImagePolicy,
) -> Result<String> {
    let archived = inspect(path)?;
    if archived.definition.as_deref() != Some(definition.digest.as_str()) {
        bail!(
            "{} holds {} (image {}), which was not built from this checkout's images/kube-cross \
             (its definition digest is {}, this one's {}): use the archive saved from this definition, \
             or build the image (cargo xtask image build)",
            path.display(),
            archived
                .repo_tags
                .first()
                .map(String::as_str)
                .unwrap_or("an untagged image"),
            archived.id,
            archived.definition.as_deref().unwrap_or("absent"),
            definition.digest
        );
    }
    super::check_image_id(definition, &archived.id, policy, IdCheck::Archive)?;
    let tag = definition.tag();
    load_archive(engine, path, &tag).with_context(|| format!("loading {}", path.display()))?;
    let tagged = engine
        .block_on(engine.docker.inspect_image(&tag))
        .ok()
        .and_then(|image| image.id);
    if tagged.as_deref() != Some(archived.id.as_str()) {
        let (repo, version) = tag.split_once(':').unwrap_or((&tag, "latest"));
        engine
            .block_on(
                engine.docker.tag_image(
                    &archived.id,
                    Some(
                        bollard::query_parameters::TagImageOptionsBuilder::new()
                            .repo(repo)
                            .tag(version)
                            .build(),
                    ),
                ),
            )
            .with_context(|| format!("tagging {} as {tag}", archived.id))?;
    }
    Ok(archived.id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::oci_archive::{self, ImageConfig};

    fn write_archive(dir: &Path, label: &str, gzip: bool) -> (std::path::PathBuf, String) {
        let layer = dir.join("layer.tar");
        let mut inner = crate::archive::Archive::new();
        inner.add_bytes("etc/hostname-free", "x\n", false).unwrap();
        std::fs::write(&layer, inner.write_tar(Vec::new(), 0).unwrap()).unwrap();
        let config = ImageConfig {
            architecture: "amd64".into(),
            env: vec![],
            cmd: vec!["/bin/sh".into()],
            entrypoint: Vec::new(),
            user: String::new(),
            working_dir: "/".into(),
            labels: BTreeMap::from([(IMAGE_DEFINITION_LABEL.to_owned(), label.to_owned())]),
            created_by: "test".into(),
            created: 0,
        };
        let (bytes, written) =
            oci_archive::write(Vec::new(), &["kube-cross:v0".into()], &config, &layer).unwrap();
        let path = dir.join(if gzip { "image.tar.gz" } else { "image.tar" });
        if gzip {
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            encoder.write_all(&bytes).unwrap();
            std::fs::write(&path, encoder.finish().unwrap()).unwrap();
        } else {
            std::fs::write(&path, bytes).unwrap();
        }
        (path, written.image_id)
    }

    #[test]
    fn archives_are_read_plain_or_compressed() {
        let dir = tempfile::tempdir().unwrap();
        for gzip in [false, true] {
            let (path, id) = write_archive(dir.path(), "digest-1", gzip);
            let archived = inspect(&path).unwrap();
            assert_eq!(archived.id, id);
            assert_eq!(archived.repo_tags, ["kube-cross:v0"]);
            assert_eq!(archived.definition.as_deref(), Some("digest-1"));
        }
        let junk = dir.path().join("junk.tar");
        std::fs::write(&junk, b"not a tar at all, just bytes").unwrap();
        assert!(inspect(&junk).is_err());
        let mut no_manifest = crate::archive::Archive::new();
        no_manifest.add_bytes("a.json", "{}", false).unwrap();
        std::fs::write(&junk, no_manifest.write_tar(Vec::new(), 0).unwrap()).unwrap();
        let err = inspect(&junk).unwrap_err().to_string();
        assert!(err.contains("no manifest.json"), "{err}");
    }
}
