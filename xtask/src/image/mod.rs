//! The cross-build image (our kube-cross): its definition under
//! `images/kube-cross/` (VERSION, the pinned package list, the Dockerfile),
//! the tag derived from it, and making sure the engine has it — built by the
//! offline bootstrap (`bootstrap`) or, on engines that can pull, from the
//! Dockerfile.

pub mod bootstrap;
pub mod oci_archive;

use std::collections::HashMap;

use anyhow::{Context, Result, bail};
use cargo_metadata::camino::Utf8PathBuf;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};

use crate::docker::{Engine, IMAGE_DEFINITION_LABEL, is_not_found};
use crate::progress::log;
use crate::workspace::Workspace;

/// The repository every kube-cross tag lives in.
pub const REPOSITORY: &str = "kube-cross";

/// Where the image's Rust environment lives; the image's `Env` sets it.
pub const IMAGE_ENV: [(&str, &str); 4] = [
    (
        "PATH",
        "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    ),
    ("CARGO_HOME", crate::build::CARGO_HOME_PATH),
    ("CARGO_TARGET_DIR", crate::build::TARGET_PATH),
    (
        "CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER",
        "aarch64-linux-gnu-gcc",
    ),
];

/// How the image is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// mmdebstrap from Debian's archive, wrapped and loaded through the API:
    /// works on engines that cannot pull.
    Bootstrap,
    /// `docker build` of the Dockerfile (`FROM debian:trixie-slim`): needs an
    /// engine that can pull.
    Dockerfile,
}

/// `images/kube-cross/` as read from the checkout.
#[derive(Debug, Clone)]
pub struct Definition {
    pub dir: Utf8PathBuf,
    /// `v1.96.1-trixie.0`.
    pub version: String,
    /// apt `name[:arch]=version` specs, in file order.
    pub packages: Vec<String>,
    /// sha256 of VERSION, packages.txt and the Dockerfile: an image whose
    /// label differs was built from another definition.
    pub digest: String,
}

impl Definition {
    pub fn read(ws: &Workspace) -> Result<Definition> {
        let dir = ws.root.join("images/kube-cross");
        let read = |name: &str| {
            std::fs::read_to_string(dir.join(name)).with_context(|| {
                format!(
                    "reading {} (the cross-build image definition)",
                    dir.join(name)
                )
            })
        };
        let version_file = read("VERSION")?;
        let packages_file = read("packages.txt")?;
        let dockerfile = read("Dockerfile")?;
        let version = version_file.trim().to_owned();
        let valid = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_');
        if version.is_empty() || !version.chars().all(valid) || version.len() > 100 {
            bail!(
                "{}/VERSION holds {version:?}: it must be an image tag such as v1.96.1-trixie.0",
                dir
            );
        }
        let packages = parse_packages(&packages_file)
            .with_context(|| format!("reading {dir}/packages.txt"))?;
        let mut hasher = Sha256::new();
        for part in [&version_file, &packages_file, &dockerfile] {
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part.as_bytes());
        }
        Ok(Definition {
            dir,
            version,
            packages,
            digest: format!("{:x}", hasher.finalize()),
        })
    }

    /// `kube-cross:v1.96.1-trixie.0`.
    pub fn tag(&self) -> String {
        format!("{REPOSITORY}:{}", self.version)
    }

    /// Labels the image carries, whichever route built it.
    pub fn labels(&self) -> HashMap<String, String> {
        HashMap::from([(IMAGE_DEFINITION_LABEL.to_owned(), self.digest.clone())])
    }
}

/// `name[:arch]=version` lines; `#` comments and blank lines skipped.
/// Every package must be pinned.
fn parse_packages(text: &str) -> Result<Vec<String>> {
    let mut packages = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        let Some((name, version)) = line.split_once('=') else {
            bail!(
                "line {}: {line:?} has no pinned version: write name=version (apt-cache policy NAME shows it)",
                number + 1
            );
        };
        let name_ok = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+' | ':'));
        let version_ok = !version.is_empty()
            && version
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+' | ':' | '~'));
        if !name_ok || !version_ok {
            bail!(
                "line {}: {line:?} is not an apt name[:arch]=version",
                number + 1
            );
        }
        packages.push(line.to_owned());
    }
    if packages.is_empty() {
        bail!("no packages listed");
    }
    Ok(packages)
}

/// What the engine has under the definition's tag.
enum Present {
    Current,
    Missing,
    Stale,
}

async fn present(engine: &Engine, definition: &Definition) -> Result<Present> {
    match engine.docker.inspect_image(&definition.tag()).await {
        Ok(image) => {
            let label = image
                .config
                .and_then(|c| c.labels)
                .and_then(|labels| labels.get(IMAGE_DEFINITION_LABEL).cloned());
            Ok(if label.as_deref() == Some(definition.digest.as_str()) {
                Present::Current
            } else {
                Present::Stale
            })
        }
        Err(e) if is_not_found(&e) => Ok(Present::Missing),
        Err(e) => Err(e).with_context(|| {
            format!(
                "asking the engine at {} for {}",
                engine.host,
                definition.tag()
            )
        }),
    }
}

/// Makes sure the engine has the cross-build image; builds it (saying so)
/// when it is missing or was built from another definition. Returns the tag.
pub fn ensure(engine: &Engine, ws: &Workspace) -> Result<String> {
    let definition = Definition::read(ws)?;
    match engine.block_on(present(engine, &definition))? {
        Present::Current => return Ok(definition.tag()),
        Present::Missing => log(format!(
            "the cross-build image {} is not in the engine at {}: building it (once; `cargo xtask image build` does this alone)",
            definition.tag(),
            engine.host
        )),
        Present::Stale => log(format!(
            "the cross-build image {} was built from another definition of images/kube-cross: rebuilding it \
             (bump images/kube-cross/VERSION when you change the definition)",
            definition.tag()
        )),
    }
    build(engine, ws, &definition, Route::Bootstrap)?;
    Ok(definition.tag())
}

/// `cargo xtask image build`: builds the image by `route`, replacing any image
/// under the same tag (unless `if_missing` and the engine has it already).
pub fn build_command(
    engine: &Engine,
    ws: &Workspace,
    route: Route,
    if_missing: bool,
) -> Result<()> {
    let definition = Definition::read(ws)?;
    if if_missing
        && matches!(
            engine.block_on(present(engine, &definition))?,
            Present::Current
        )
    {
        log(format!(
            "the engine at {} has {} (built from this definition): nothing to do",
            engine.host,
            definition.tag()
        ));
        return Ok(());
    }
    build(engine, ws, &definition, route)
}

fn build(engine: &Engine, ws: &Workspace, definition: &Definition, route: Route) -> Result<()> {
    let started = std::time::Instant::now();
    match route {
        Route::Bootstrap => bootstrap::bootstrap(engine, ws, definition)?,
        Route::Dockerfile => bootstrap::docker_build(engine, ws, definition)?,
    }
    log(format!(
        "built the cross-build image {} in {:.0}s",
        definition.tag(),
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}

/// Removes every kube-cross image (any version) from the engine; for
/// `cargo xtask clean --images`. Returns the tags removed.
pub async fn remove_all(engine: &Engine) -> Result<Vec<String>> {
    let filters = HashMap::from([("label", vec![IMAGE_DEFINITION_LABEL])]);
    let images = engine
        .docker
        .list_images(Some(
            bollard::query_parameters::ListImagesOptionsBuilder::new()
                .filters(&filters)
                .build(),
        ))
        .await
        .with_context(|| format!("listing images in the engine at {}", engine.host))?;
    let mut removed = Vec::new();
    for image in images {
        let names = if image.repo_tags.is_empty() {
            vec![image.id.clone()]
        } else {
            image.repo_tags.clone()
        };
        for name in names {
            match engine
                .docker
                .remove_image(
                    &name,
                    Some(
                        bollard::query_parameters::RemoveImageOptionsBuilder::new()
                            .force(true)
                            .build(),
                    ),
                    None,
                )
                .await
            {
                Ok(_) => removed.push(name),
                Err(e) if is_not_found(&e) => {}
                Err(e) => return Err(e).with_context(|| format!("removing the image {name}")),
            }
        }
    }
    Ok(removed)
}

/// Reads the engine's progress messages of a load or build; fails with the
/// engine's error message.
pub async fn follow_engine_stream(
    mut stream: impl futures_util::Stream<
        Item = Result<bollard::models::BuildInfo, bollard::errors::Error>,
    > + Unpin,
    what: &str,
    mut on_line: impl FnMut(&str),
) -> Result<()> {
    while let Some(item) = stream.next().await {
        let info = item.with_context(|| format!("{what} failed"))?;
        if let Some(text) = info.stream.as_deref().or(info.status.as_deref()) {
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                on_line(line);
            }
        }
        if let Some(error) = info.error_detail.and_then(|d| d.message) {
            bail!("{what} failed: {error}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packages_must_be_pinned() {
        let parsed = parse_packages(
            "# comment\nrustc=1.96.1+dfsg1-2~bpo13+1\n\nlibstd-rust-dev:arm64=1.96.1+dfsg1-2~bpo13+1 # arm64 std\n",
        )
        .unwrap();
        assert_eq!(
            parsed,
            [
                "rustc=1.96.1+dfsg1-2~bpo13+1",
                "libstd-rust-dev:arm64=1.96.1+dfsg1-2~bpo13+1"
            ]
        );
        let err = parse_packages("gcc\n").unwrap_err().to_string();
        assert!(err.contains("no pinned version"), "{err}");
        assert!(parse_packages("gcc=1; rm -rf /\n").is_err());
        assert!(parse_packages("# nothing\n").is_err());
    }

    /// The two routes must make the same image: same packages (one list),
    /// same environment.
    #[test]
    fn dockerfile_matches_the_bootstrap_route() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../images/kube-cross");
        let dockerfile = std::fs::read_to_string(dir.join("Dockerfile")).unwrap();
        for (name, value) in IMAGE_ENV.iter().filter(|(name, _)| *name != "PATH") {
            assert!(
                dockerfile.contains(&format!("ENV {name}={value}\n")),
                "the Dockerfile lacks ENV {name}={value}"
            );
        }
        assert!(dockerfile.contains("/tmp/packages.txt"));
        assert!(dockerfile.contains(&format!("WORKDIR {}", crate::build::WORKSPACE_PATH)));
        let packages = std::fs::read_to_string(dir.join("packages.txt")).unwrap();
        let packages = parse_packages(&packages).unwrap();
        assert!(
            packages
                .iter()
                .any(|p| p.starts_with("libstd-rust-dev:arm64="))
        );
        let version = std::fs::read_to_string(dir.join("VERSION")).unwrap();
        let rustc = packages.iter().find(|p| p.starts_with("rustc=")).unwrap();
        assert!(
            version.trim().starts_with(&format!(
                "v{}-",
                rustc
                    .trim_start_matches("rustc=")
                    .split('+')
                    .next()
                    .unwrap()
            )),
            "VERSION {version:?} does not name the pinned rustc {rustc}"
        );
    }
}
