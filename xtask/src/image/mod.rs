//! The cross-build image (our kube-cross): its definition under
//! `images/kube-cross/` (`definition`), and getting it into the engine from
//! the first source that works, saying which (`ensure`): an image archive
//! the user gives, else a bootstrap of the pinned packages from a snapshot
//! archive, else from Debian's live archive, else — with a warning naming
//! every package that differs, or an error in strict mode — from the
//! archive's current versions. The image ID is checked against the one the
//! definition records.

pub mod apt_sources;
pub mod bootstrap;
pub mod definition;
pub mod oci_archive;
pub mod record;
pub mod resolve;
pub mod saved;
pub mod update;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use futures_util::StreamExt;

use self::apt_sources::{Archive, SNAPSHOT_ENV};
use self::definition::{Definition, PackagePin};
use crate::docker::{Engine, IMAGE_DEFINITION_LABEL, is_not_found};
use crate::progress::log;
use crate::workspace::Workspace;

/// The repository every kube-cross tag lives in.
pub const REPOSITORY: &str = "kube-cross";

/// A saved image archive to load when the engine lacks the image.
pub const IMAGE_ARCHIVE_ENV: &str = "KUBE_CROSS_IMAGE_ARCHIVE";
/// Strict mode (for release managers): no image other than the pinned,
/// recorded one.
pub const STRICT_ENV: &str = "KUBE_CROSS_STRICT";

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

/// How the image is built from packages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// mmdebstrap from a Debian archive, wrapped and loaded through the API:
    /// works on engines that cannot pull.
    Bootstrap,
    /// `docker build` of the Dockerfile (`FROM debian:trixie-slim`): needs an
    /// engine that can pull.
    Dockerfile,
}

/// How demanding to be about the image, and where a saved one is.
#[derive(Debug, Clone, Default)]
pub struct ImagePolicy {
    /// Refuse anything but the pinned versions and the recorded image ID.
    pub strict: bool,
    /// `KUBE_CROSS_IMAGE_ARCHIVE`: load this when the engine lacks the image.
    pub archive: Option<PathBuf>,
}

impl ImagePolicy {
    /// `strict` from the command line (clap reads `KUBE_CROSS_STRICT` for
    /// it); the archive from `KUBE_CROSS_IMAGE_ARCHIVE`.
    pub fn new(strict: bool) -> Result<ImagePolicy> {
        let archive = match std::env::var_os(IMAGE_ARCHIVE_ENV).filter(|v| !v.is_empty()) {
            None => None,
            Some(path) => {
                let path = PathBuf::from(path);
                if !path.is_file() {
                    bail!(
                        "{IMAGE_ARCHIVE_ENV}={} is not a file: it must name an image archive written by \
                         `cargo xtask image save`",
                        path.display()
                    );
                }
                Some(path)
            }
        };
        Ok(ImagePolicy { strict, archive })
    }
}

/// The image a build runs in.
#[derive(Debug, Clone)]
pub struct BuildImage {
    /// `kube-cross:v1.97.1-trixie.0`.
    pub tag: String,
    /// `sha256:<hex>`.
    pub id: String,
    /// The ID the definition records (`images/kube-cross/IMAGE_ID`).
    pub recorded_id: Option<String>,
}

/// What the engine has under the definition's tag.
enum Present {
    /// Built from this definition: its ID.
    Current(String),
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
                Present::Current(image.id.unwrap_or_default())
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

/// Makes sure the engine has the cross-build image, getting it from the
/// first source that works when it is missing or was built from another
/// definition.
pub fn ensure(engine: &Engine, ws: &Workspace, policy: &ImagePolicy) -> Result<BuildImage> {
    let definition = Definition::read(ws)?;
    let tag = definition.tag();
    let id = match engine.block_on(present(engine, &definition))? {
        Present::Current(id) => {
            check_image_id(&definition, &id, policy, IdCheck::InEngine)?;
            id
        }
        Present::Missing => {
            log(format!(
                "the cross-build image {tag} is not in the engine at {}: getting it (once)",
                engine.host
            ));
            obtain(engine, ws, &definition, policy)?
        }
        Present::Stale => {
            log(format!(
                "the cross-build image {tag} in the engine was built from another definition of \
                 images/kube-cross: replacing it (bump images/kube-cross/VERSION when you change the definition)"
            ));
            obtain(engine, ws, &definition, policy)?
        }
    };
    Ok(BuildImage {
        tag,
        id,
        recorded_id: definition.image_id,
    })
}

/// The image from a saved archive when one is given, else from packages.
fn obtain(
    engine: &Engine,
    ws: &Workspace,
    definition: &Definition,
    policy: &ImagePolicy,
) -> Result<String> {
    if let Some(archive) = &policy.archive {
        log(format!(
            "{}: loading it from the image archive {} ({IMAGE_ARCHIVE_ENV})",
            definition.tag(),
            archive.display()
        ));
        let id = saved::load_checked(engine, definition, archive, policy)?;
        log(format!("loaded {} (image {id})", definition.tag()));
        return Ok(id);
    }
    build_from_packages(engine, ws, definition, policy)
}

/// Bootstraps the image from the first archive that serves its packages:
/// the snapshot archive (when configured and answering), else the live
/// archive at the pinned versions, else at its current ones (a warning; an
/// error in strict mode). Returns the image ID.
pub fn build_from_packages(
    engine: &Engine,
    ws: &Workspace,
    definition: &Definition,
    policy: &ImagePolicy,
) -> Result<String> {
    let started = std::time::Instant::now();
    let plan = plan_packages(definition, policy)?;
    log(format!(
        "{}: building it from {}, {}",
        definition.tag(),
        plan.archive.describe(),
        if plan.pinned {
            "at the pinned versions"
        } else {
            "at its current versions in place of the missing pins"
        }
    ));
    let id = bootstrap::bootstrap(
        engine,
        ws,
        definition,
        &bootstrap::Plan {
            archive: &plan.archive,
            packages: plan.packages,
        },
    )?;
    if plan.pinned {
        check_image_id(definition, &id, policy, IdCheck::Bootstrapped)?;
    }
    log(format!(
        "built the cross-build image {} in {:.0}s",
        definition.tag(),
        started.elapsed().as_secs_f64()
    ));
    Ok(id)
}

/// Which archive and which versions a bootstrap uses.
struct PackagePlan {
    archive: Archive,
    packages: Vec<PackagePin>,
    /// Every package at its pinned version.
    pinned: bool,
}

fn plan_packages(definition: &Definition, policy: &ImagePolicy) -> Result<PackagePlan> {
    if let Some(snapshot) = Archive::snapshot_from_env(&definition.snapshot)? {
        match resolve::resolve(&snapshot, &definition.packages) {
            Ok(resolution) if resolution.missing_pins().is_empty() => {
                return Ok(PackagePlan {
                    archive: snapshot,
                    packages: definition.packages.clone(),
                    pinned: true,
                });
            }
            Ok(resolution) => log(format!(
                "{} lacks pinned versions ({}): trying Debian's live archive",
                snapshot.describe(),
                resolution
                    .missing_pins()
                    .iter()
                    .map(|r| r.pin.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            Err(e) => log(format!("{e:#}: trying Debian's live archive")),
        }
    }
    let live = Archive::live()?;
    let resolution = resolve::resolve(&live, &definition.packages).map_err(|e| {
        anyhow::anyhow!(
            "the cross-build image cannot be made: {e:#}. {}",
            ways_out(definition)
        )
    })?;
    let missing = resolution.missing_pins();
    if missing.is_empty() {
        return Ok(PackagePlan {
            archive: live,
            packages: definition.packages.clone(),
            pinned: true,
        });
    }
    let listed: Vec<String> = missing
        .iter()
        .map(|r| {
            format!(
                "{} {} (now {})",
                r.pin.apt_name(),
                r.pin.version,
                r.candidate.as_deref().unwrap_or("gone at every version")
            )
        })
        .collect();
    if policy.strict {
        bail!(
            "strict mode ({STRICT_ENV}): {} no longer serves these pinned versions of \
             images/kube-cross/packages.txt:\n  {}\n{}",
            live.describe(),
            listed.join("\n  "),
            ways_out(definition)
        );
    }
    let packages = resolution
        .pins_or_current()
        .map_err(|e| anyhow::anyhow!("{e:#} ({}). {}", live.describe(), ways_out(definition)))?;
    log(format!(
        "warning: {} no longer serves these pinned versions; using the current ones instead:\n  {}\n\
         warning: the image will differ from the pinned one, so artifacts built in it will not match \
         those built from the pins. {}",
        live.describe(),
        listed.join("\n  "),
        ways_out(definition)
    ));
    Ok(PackagePlan {
        archive: live,
        packages,
        pinned: false,
    })
}

/// What a user can do when the pinned image cannot be made.
fn ways_out(definition: &Definition) -> String {
    format!(
        "Ways out: `cargo xtask image update` pins what the archive serves today (commit images/kube-cross \
         afterwards); {SNAPSHOT_ENV}=<snapshot archive URL> installs the pinned versions as the archive \
         was at {}; `cargo xtask image load FILE` (or {IMAGE_ARCHIVE_ENV}=FILE) uses an image saved \
         with `cargo xtask image save`",
        definition.snapshot.timestamp
    )
}

/// Where an image whose ID is being checked came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdCheck {
    /// Already in the engine under the definition's tag.
    InEngine,
    /// Just bootstrapped from the pinned versions.
    Bootstrapped,
    /// In an image archive about to be loaded.
    Archive,
}

/// Compares an image ID with the one the definition records: a warning, or
/// an error in strict mode.
pub fn check_image_id(
    definition: &Definition,
    id: &str,
    policy: &ImagePolicy,
    source: IdCheck,
) -> Result<()> {
    let tag = definition.tag();
    let problem = match &definition.image_id {
        Some(recorded) if recorded == id => return Ok(()),
        None => format!(
            "images/kube-cross/IMAGE_ID is missing, so {tag} (image {id}) cannot be checked against \
             the image its definition gave (`cargo xtask image update` records it)"
        ),
        Some(recorded) => {
            let what = match source {
                IdCheck::InEngine => format!("the engine's {tag} is image {id}"),
                IdCheck::Bootstrapped => {
                    format!("bootstrapping {tag} from the pinned versions gave image {id}")
                }
                IdCheck::Archive => format!("the archive holds {tag} as image {id}"),
            };
            format!(
                "{what}, but images/kube-cross/IMAGE_ID records {recorded}: the image is not \
                 bit-identical to the recorded one (other package versions, or another mmdebstrap), so \
                 artifacts built in it may differ from those built with the recorded image (when \
                 images/kube-cross was changed on purpose, `cargo xtask image update` records its new ID)"
            )
        }
    };
    if policy.strict {
        bail!(
            "strict mode ({STRICT_ENV}): {problem}. {}",
            ways_out(definition)
        );
    }
    log(format!("warning: {problem}"));
    Ok(())
}

/// `cargo xtask image build`: with `if_missing`, makes sure the engine has
/// the image (from the first source that works); otherwise builds it anew by
/// `route`, replacing any image under the same tag.
pub fn build_command(
    engine: &Engine,
    ws: &Workspace,
    route: Route,
    if_missing: bool,
    policy: &ImagePolicy,
) -> Result<()> {
    if if_missing {
        let image = ensure(engine, ws, policy)?;
        log(format!(
            "the engine at {} has {} (image {})",
            engine.host, image.tag, image.id
        ));
        return Ok(());
    }
    let definition = Definition::read(ws)?;
    match route {
        Route::Bootstrap => {
            build_from_packages(engine, ws, &definition, policy)?;
        }
        Route::Dockerfile => bootstrap::docker_build(engine, &definition)?,
    }
    Ok(())
}

/// `cargo xtask image load FILE`.
pub fn load_command(
    engine: &Engine,
    ws: &Workspace,
    file: &Path,
    policy: &ImagePolicy,
) -> Result<()> {
    let definition = Definition::read(ws)?;
    let started = std::time::Instant::now();
    let id = saved::load_checked(engine, &definition, file, policy)?;
    log(format!(
        "loaded {} (image {id}) from {} in {:.1}s",
        definition.tag(),
        file.display(),
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}

/// `cargo xtask image save [FILE]`: default `_output/images/kube-cross-<VERSION>.tar`.
pub fn save_command(engine: &Engine, ws: &Workspace, file: Option<&Path>) -> Result<PathBuf> {
    let definition = Definition::read(ws)?;
    let tag = definition.tag();
    let id = match engine.block_on(present(engine, &definition))? {
        Present::Current(id) => id,
        Present::Missing => bail!(
            "the engine at {} has no {tag} to save: make it first (cargo xtask image build --if-missing)",
            engine.host
        ),
        Present::Stale => bail!(
            "the engine's {tag} was built from another definition of images/kube-cross: rebuild it \
             (cargo xtask image build) before saving"
        ),
    };
    let file = match file {
        Some(file) => file.to_owned(),
        None => ws
            .output()
            .join("images")
            .join(format!("{REPOSITORY}-{}.tar", definition.version))
            .into_std_path_buf(),
    };
    if let Some(parent) = file.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    let started = std::time::Instant::now();
    let bytes = saved::save(engine, &tag, &file)?;
    log(format!(
        "saved {tag} (image {id}, {:.0} MB) to {} in {:.1}s; on another machine: cargo xtask image load {}",
        bytes as f64 / 1e6,
        file.display(),
        started.elapsed().as_secs_f64(),
        file.display()
    ));
    Ok(file)
}

impl Definition {
    /// Labels the image carries, whichever route built it.
    pub fn labels(&self) -> HashMap<String, String> {
        HashMap::from([(IMAGE_DEFINITION_LABEL.to_owned(), self.digest.clone())])
    }
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
        // A dangling image is listed as `<none>:<none>` (or not at all).
        let tags: Vec<String> = image
            .repo_tags
            .iter()
            .filter(|tag| tag.as_str() != "<none>:<none>")
            .cloned()
            .collect();
        let names = if tags.is_empty() {
            vec![image.id.clone()]
        } else {
            tags
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

    /// The two routes must make the same image: same packages (one list),
    /// same environment; neither names an archive host.
    #[test]
    fn dockerfile_matches_the_bootstrap_route() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../images/kube-cross");
        let dockerfile = std::fs::read_to_string(dir.join("Dockerfile")).unwrap();
        for (name, value) in IMAGE_ENV.iter().filter(|(name, _)| *name != "PATH") {
            assert!(
                dockerfile.contains(&format!("ENV {name}={value}\n")),
                "the Dockerfile lacks ENV {name}={value}"
            );
        }
        assert!(dockerfile.contains("/tmp/packages.txt"));
        assert!(dockerfile.contains(&format!("WORKDIR {}", crate::build::WORKSPACE_PATH)));
        assert!(
            !dockerfile.contains("backports"),
            "the image is made from its release's suite alone"
        );
        assert!(
            !dockerfile.contains("http://") && !dockerfile.contains("https://"),
            "the Dockerfile must use its base image's own apt sources"
        );
    }

    /// The checked-in definition is well-formed: every package pinned, a
    /// snapshot time, an image ID, and a VERSION that names the toolchain.
    #[test]
    fn the_definition_pins_and_records_its_image() {
        let dir = cargo_metadata::camino::Utf8PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../images/kube-cross"
        ));
        let definition = Definition::read_dir(&dir).unwrap();
        let pinned = |apt_name: String| {
            definition
                .packages
                .iter()
                .find(|p| p.apt_name() == apt_name)
                .unwrap_or_else(|| panic!("packages.txt does not pin {apt_name}"))
        };
        let rustc = pinned(definition::RUSTC_PACKAGE.to_owned());
        let native_std = pinned("libstd-rust-web-dev".to_owned());
        let arm64_std = pinned("libstd-rust-web-dev:arm64".to_owned());
        assert_eq!(
            native_std.version, arm64_std.version,
            "multiarch needs equal versions"
        );
        let prefix = format!("v{}-", definition::upstream_version(&rustc.version));
        assert!(
            definition.version.starts_with(&prefix),
            "VERSION {} does not name the pinned rustc {rustc}",
            definition.version
        );
        assert!(definition.image_id.is_some(), "IMAGE_ID is not recorded");
    }
}
