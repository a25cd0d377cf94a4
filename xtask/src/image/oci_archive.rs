//! Image archives in `docker save` format, written by us: `manifest.json`,
//! the image config (JSON with the layer's `diff_ids`) and one uncompressed
//! layer tar, all named by sha256 digests, in a deterministic outer tar
//! (archive.rs). `docker load` / POST /images/load reads it. Used for the
//! cross-build image (one layer: the bootstrapped root filesystem).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;

use anyhow::{Context, Result};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::archive::Archive;

/// The image config's runtime part (what `docker inspect` shows as Config).
#[derive(Debug, Clone)]
pub struct ImageConfig {
    /// Docker's architecture name: `amd64`, `arm64`.
    pub architecture: String,
    /// `NAME=value` entries.
    pub env: Vec<String>,
    pub cmd: Vec<String>,
    /// Omitted from the config when empty (as are `user` and `working_dir`).
    pub entrypoint: Vec<String>,
    /// `uid:gid` the container runs as.
    pub user: String,
    pub working_dir: String,
    pub labels: BTreeMap<String, String>,
    /// The history entry's `created_by`: how the layer was made.
    pub created_by: String,
    /// Seconds since the epoch for `created` (SOURCE_DATE_EPOCH, not the clock).
    pub created: u64,
}

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// `sha256:<hex>` of the config: the image ID the engine will report.
    pub image_id: String,
    /// `sha256:<hex>` of the uncompressed layer.
    pub diff_id: String,
}

/// sha256 of a file, streamed (layers are gigabytes).
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file
            .read(&mut buf)
            .with_context(|| format!("reading {}", path.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(format!("{:x}", hasher.finalize()))
}

/// The image config JSON (keys sorted: serde_json's map is ordered).
pub fn config_json(config: &ImageConfig, diff_id: &str) -> Result<Vec<u8>> {
    let created = crate::version::rfc3339_utc(config.created);
    let mut runtime = serde_json::Map::new();
    runtime.insert("Env".into(), json!(config.env));
    if !config.entrypoint.is_empty() {
        runtime.insert("Entrypoint".into(), json!(config.entrypoint));
    }
    if !config.cmd.is_empty() {
        runtime.insert("Cmd".into(), json!(config.cmd));
    }
    if !config.user.is_empty() {
        runtime.insert("User".into(), json!(config.user));
    }
    if !config.working_dir.is_empty() {
        runtime.insert("WorkingDir".into(), json!(config.working_dir));
    }
    runtime.insert("Labels".into(), json!(config.labels));
    let value = json!({
        "architecture": config.architecture,
        "os": "linux",
        "created": created,
        "config": runtime,
        "rootfs": { "type": "layers", "diff_ids": [diff_id] },
        "history": [{ "created": created, "created_by": config.created_by }],
    });
    Ok(serde_json::to_vec(&value)?)
}

/// Writes a one-layer image archive for `layer` (an uncompressed root
/// filesystem tar) tagged `repo_tags` into `out`.
pub fn write<W: Write>(
    out: W,
    repo_tags: &[String],
    config: &ImageConfig,
    layer: &Path,
) -> Result<(W, Written)> {
    let layer_hex = sha256_file(layer)?;
    let diff_id = format!("sha256:{layer_hex}");
    let config_bytes = config_json(config, &diff_id)?;
    let config_hex = format!("{:x}", Sha256::digest(&config_bytes));
    let config_name = format!("{config_hex}.json");
    let layer_name = format!("{layer_hex}/layer.tar");
    let manifest = json!([{
        "Config": config_name,
        "RepoTags": repo_tags,
        "Layers": [layer_name],
    }]);

    let mut archive = Archive::new();
    archive.add_bytes(&config_name, config_bytes, false)?;
    archive.add_file_with_mode(&layer_name, layer, false)?;
    archive.add_bytes("manifest.json", serde_json::to_vec(&manifest)?, false)?;
    let out = archive.write_tar(out, config.created)?;
    Ok((
        out,
        Written {
            image_id: format!("sha256:{config_hex}"),
            diff_id,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> ImageConfig {
        ImageConfig {
            architecture: "amd64".into(),
            env: vec!["PATH=/usr/bin:/bin".into()],
            cmd: vec!["/bin/sh".into()],
            entrypoint: Vec::new(),
            user: String::new(),
            working_dir: "/workspace".into(),
            labels: BTreeMap::from([("a".into(), "b".into())]),
            created_by: "test".into(),
            created: 86_400,
        }
    }

    #[test]
    fn archive_has_docker_save_layout_and_consistent_digests() {
        let dir = tempfile::tempdir().unwrap();
        let layer = dir.path().join("rootfs.tar");
        let mut inner = Archive::new();
        inner
            .add_bytes("etc/hostname", "kube-cross\n", false)
            .unwrap();
        let layer_bytes = inner.write_tar(Vec::new(), 0).unwrap();
        std::fs::write(&layer, &layer_bytes).unwrap();

        let tags = vec!["kube-cross:v0".to_owned()];
        let (bytes, written) = write(Vec::new(), &tags, &config(), &layer).unwrap();
        let layer_hex = format!("{:x}", Sha256::digest(&layer_bytes));
        assert_eq!(written.diff_id, format!("sha256:{layer_hex}"));

        let mut entries = BTreeMap::new();
        let mut reader = tar::Archive::new(bytes.as_slice());
        for entry in reader.entries().unwrap() {
            let mut entry = entry.unwrap();
            let path = entry.path().unwrap().display().to_string();
            let mut contents = Vec::new();
            entry.read_to_end(&mut contents).unwrap();
            entries.insert(path, contents);
        }
        let manifest: serde_json::Value =
            serde_json::from_slice(&entries["manifest.json"]).unwrap();
        let config_name = manifest[0]["Config"].as_str().unwrap();
        let config_bytes = &entries[config_name];
        assert_eq!(
            format!("sha256:{:x}", Sha256::digest(config_bytes)),
            written.image_id
        );
        let config: serde_json::Value = serde_json::from_slice(config_bytes).unwrap();
        assert_eq!(config["rootfs"]["diff_ids"][0], written.diff_id.as_str());
        assert_eq!(config["created"], "1970-01-02T00:00:00Z");
        assert_eq!(manifest[0]["RepoTags"][0], "kube-cross:v0");
        let layer_name = manifest[0]["Layers"][0].as_str().unwrap();
        assert_eq!(entries[layer_name], layer_bytes);

        // Same inputs, same bytes.
        let (again, _) = write(Vec::new(), &tags, &self::config(), &layer).unwrap();
        assert_eq!(again, bytes);
    }
}
