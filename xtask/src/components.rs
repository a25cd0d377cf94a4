//! Release components: workspace packages that declare
//! `[package.metadata.release]` in their Cargo.toml. Nothing else in the
//! xtask names a component.

use anyhow::{Context, Result, bail};
use cargo_metadata::{Package, TargetKind};
use serde::Deserialize;

/// Where a component ships, as in Kubernetes' release tarballs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ComponentKind {
    Server,
    Node,
    Client,
    Test,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    /// The package name; what users type after `cargo xtask build`.
    pub name: String,
    pub kind: ComponentKind,
    /// Also ship a container image (a later stage of the release).
    pub image: bool,
    /// The package's binary targets, sorted.
    pub binaries: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReleaseMetadata {
    component: ComponentKind,
    #[serde(default)]
    image: bool,
}

impl Component {
    /// The component a package declares, if any.
    pub fn from_package(package: &Package) -> Result<Option<Component>> {
        let Some(table) = package.metadata.get("release") else {
            return Ok(None);
        };
        let metadata: ReleaseMetadata = serde_json::from_value(table.clone()).with_context(|| {
            format!(
                "{}: [package.metadata.release] must be `component = \"server\"|\"node\"|\"client\"|\"test\"` \
                 and optionally `image = true`",
                package.manifest_path
            )
        })?;
        let mut binaries: Vec<String> = package
            .targets
            .iter()
            .filter(|t| t.is_kind(TargetKind::Bin))
            .map(|t| t.name.clone())
            .collect();
        binaries.sort();
        if binaries.is_empty() {
            bail!(
                "{}: declares [package.metadata.release] but has no binary target",
                package.manifest_path
            );
        }
        Ok(Some(Component {
            name: package.name.to_string(),
            kind: metadata.component,
            image: metadata.image,
            binaries,
        }))
    }
}
