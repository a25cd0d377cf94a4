//! Server images, daemonless: for every component with `image = true`, per
//! platform, a docker-loadable one-layer image written by our deterministic
//! image writer (`image::oci_archive`): the static binary in
//! `/usr/local/bin/`, a non-root user (65532, distroless' `nonroot`), the
//! binary as entrypoint, OCI labels (version, revision, created =
//! SOURCE_DATE_EPOCH) and the platform's architecture. Tagged as upstream:
//! `<KUBE_DOCKER_REGISTRY>/<bin>-<arch>:<version, + → _>`. Same inputs, same
//! bytes, same image ID.

use std::collections::BTreeMap;
use std::io::Write;

use anyhow::{Context, Result};
use cargo_metadata::camino::Utf8Path;

use crate::archive::Archive;
use crate::atomic::AtomicFile;
use crate::image::oci_archive::{self, ImageConfig};
use crate::platform::Platform;
use crate::version::Stamp;

/// Upstream's default registry in image tags.
pub const DEFAULT_REGISTRY: &str = "registry.k8s.io";
/// The user the images run as (distroless' `nonroot`).
pub const USER: &str = "65532:65532";

/// A written server image.
#[derive(Debug, Clone)]
pub struct ServerImage {
    pub binary: String,
    pub platform: Platform,
    /// `registry.k8s.io/kube-apiserver-amd64:v1.32.0`.
    pub repo_tag: String,
    /// The tag alone (`<bin>.docker_tag`).
    pub tag: String,
    pub image_id: String,
}

/// `KUBE_DOCKER_REGISTRY`, or upstream's registry.
pub fn registry() -> String {
    std::env::var("KUBE_DOCKER_REGISTRY")
        .ok()
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| DEFAULT_REGISTRY.to_owned())
}

/// `KUBE_DOCKER_IMAGE_TAG`, or the version with `+` (not allowed in tags)
/// replaced by `_`, as upstream.
pub fn image_tag(stamp: &Stamp) -> String {
    std::env::var("KUBE_DOCKER_IMAGE_TAG")
        .ok()
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| stamp.git_version.replace('+', "_"))
}

/// Writes the image of `binary` (built for `platform`, at `binary_path`)
/// as a docker-loadable archive at `dest`, and its tag at
/// `dest` with `.docker_tag` for `.tar`.
pub fn write(
    binary: &str,
    binary_path: &Utf8Path,
    platform: Platform,
    stamp: &Stamp,
    dest: &Utf8Path,
) -> Result<ServerImage> {
    let tag = image_tag(stamp);
    let repo_tag = format!("{}/{binary}-{}:{tag}", registry(), platform.arch());

    // The root filesystem: the binary, the user, a writable /tmp.
    let mut layer = Archive::new();
    layer.add_bytes(
        "etc/passwd",
        "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n",
        false,
    )?;
    layer.add_bytes("etc/group", "root:x:0:\nnonroot:x:65532:\n", false)?;
    layer.add_dir_with_mode("home/nonroot", 0o755)?;
    layer.add_dir_with_mode("tmp", 0o1777)?;
    layer.add_file_with_mode(&format!("usr/local/bin/{binary}"), binary_path, true)?;
    let layer_path = dest.with_extension("layer.tmp");
    {
        let mut file = AtomicFile::create(&layer_path)?;
        let mut buffered = std::io::BufWriter::new(&mut file);
        layer.write_tar(&mut buffered, stamp.source_date_epoch)?;
        buffered.flush()?;
        drop(buffered);
        file.commit()?;
    }

    let labels = BTreeMap::from([
        (
            "org.opencontainers.image.created".to_owned(),
            stamp.build_date(),
        ),
        (
            "org.opencontainers.image.revision".to_owned(),
            stamp.git_commit.clone(),
        ),
        (
            "org.opencontainers.image.title".to_owned(),
            binary.to_owned(),
        ),
        (
            "org.opencontainers.image.version".to_owned(),
            stamp.git_version.clone(),
        ),
    ]);
    let config = ImageConfig {
        architecture: platform.arch().to_owned(),
        env: vec!["PATH=/usr/local/bin:/usr/bin:/bin".to_owned()],
        cmd: Vec::new(),
        entrypoint: vec![format!("/usr/local/bin/{binary}")],
        user: USER.to_owned(),
        working_dir: String::new(),
        labels,
        created_by: format!("cargo xtask release: {binary} for {platform}"),
        created: stamp.source_date_epoch,
    };
    let out = std::io::BufWriter::with_capacity(1 << 20, AtomicFile::create(dest)?);
    let (mut out, written) = oci_archive::write(
        out,
        std::slice::from_ref(&repo_tag),
        &config,
        layer_path.as_std_path(),
    )?;
    out.flush()?;
    let out = out
        .into_inner()
        .map_err(|e| anyhow::anyhow!("writing {dest}: {}", e.error()))?;
    out.set_mode(0o644)?;
    out.commit()?;
    std::fs::remove_file(&layer_path).with_context(|| format!("removing {layer_path}"))?;
    crate::atomic::write(
        dest.with_extension("docker_tag").as_std_path(),
        format!("{tag}\n").as_bytes(),
    )?;
    Ok(ServerImage {
        binary: binary.to_owned(),
        platform,
        repo_tag,
        tag,
        image_id: written.image_id,
    })
}

/// The images of every `image = true` component in `built`, written to
/// `_output/release-images/<arch>/<bin>.tar` (and `.docker_tag`), replacing
/// that directory as a whole.
pub fn write_release_images(
    ws: &crate::workspace::Workspace,
    stamp: &Stamp,
    built: &[crate::build::Built],
    components: &[crate::components::Component],
) -> Result<Vec<ServerImage>> {
    let partial = ws.output().join("release-images.partial");
    if partial.exists() {
        std::fs::remove_dir_all(&partial).with_context(|| format!("removing {partial}"))?;
    }
    let mut images = Vec::new();
    for b in built {
        for (component, binary) in &b.binaries {
            if !components.iter().any(|c| &c.name == component && c.image) {
                continue;
            }
            let dir = partial.join(b.platform.arch());
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {dir}"))?;
            let image = write(
                binary,
                &b.path(binary),
                b.platform,
                stamp,
                &dir.join(format!("{binary}.tar")),
            )?;
            crate::progress::log(format!(
                "image {} {} ({})",
                image.repo_tag, image.image_id, b.platform
            ));
            images.push(image);
        }
    }
    std::fs::create_dir_all(&partial).with_context(|| format!("creating {partial}"))?;
    crate::atomic::replace_dir(
        partial.as_std_path(),
        ws.output().join("release-images").as_std_path(),
    )?;
    Ok(images)
}

/// `_output/release-images/<arch>/<bin>.tar` of an image.
pub fn release_image_path(
    ws: &crate::workspace::Workspace,
    image: &ServerImage,
) -> cargo_metadata::camino::Utf8PathBuf {
    ws.output()
        .join("release-images")
        .join(image.platform.arch())
        .join(format!("{}.tar", image.binary))
}
