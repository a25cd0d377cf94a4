//! The release's SBOM, SPDX 2.3 JSON (`kubernetes-release.spdx.json`): every
//! crate linked into each shipped binary (name, version, declared license,
//! the checksum Cargo.lock pins, purl), the build image and its Debian
//! packages (from the image record), the shipped files with their digests,
//! and the relationships between them. Deterministic: its time is
//! SOURCE_DATE_EPOCH and its namespace derives from what it describes.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use cargo_metadata::Package;
use serde_json::{Value, json};

use super::server_image::ServerImage;
use crate::build::{BuildEnvironment, Built, vendor::Vendored};
use crate::checksums::Digests;
use crate::components::Component;
use crate::version::Stamp;
use crate::workspace::Workspace;

pub const FILE_NAME: &str = "kubernetes-release.spdx.json";

/// What the SBOM describes.
pub struct Inputs<'a> {
    pub stamp: &'a Stamp,
    pub components: &'a [Component],
    pub built: &'a [Built],
    pub images: &'a [ServerImage],
    pub environment: &'a BuildEnvironment,
    pub vendored: &'a Vendored,
    /// The release's artifacts so far (tarballs, records), with digests.
    pub artifacts: &'a [(String, Digests)],
}

/// An SPDX identifier from free text (letters, digits, `.` and `-`).
fn spdx_id(kind: &str, text: &str) -> String {
    let clean: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("SPDXRef-{kind}-{clean}")
}

/// Cargo's license field as an SPDX expression (`MIT/Apache-2.0` is the
/// old spelling of `MIT OR Apache-2.0`).
fn license_expression(package: &Package) -> String {
    match &package.license {
        Some(license) if !license.trim().is_empty() => license
            .split('/')
            .map(str::trim)
            .collect::<Vec<_>>()
            .join(" OR "),
        _ => "NOASSERTION".to_owned(),
    }
}

pub fn document(ws: &Workspace, inputs: &Inputs<'_>) -> Result<Vec<u8>> {
    let stamp = inputs.stamp;
    let mut packages: BTreeMap<String, Value> = BTreeMap::new();
    let mut files: BTreeMap<String, Value> = BTreeMap::new();
    let mut relationships: Vec<(String, &str, String)> = Vec::new();

    let release_id = "SPDXRef-Package-kubernetes".to_owned();
    packages.insert(
        release_id.clone(),
        json!({
            "SPDXID": release_id,
            "name": "kubernetes",
            "versionInfo": stamp.git_version,
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": false,
            "licenseConcluded": "NOASSERTION",
            "licenseDeclared": "NOASSERTION",
            "copyrightText": "NOASSERTION",
            "sourceInfo": format!("git commit {} (tree {})", stamp.git_commit, stamp.git_tree_state),
        }),
    );

    // The shipped files: every artifact, each binary, each image archive.
    for (name, digests) in inputs.artifacts {
        let id = spdx_id("File", name);
        files.insert(id.clone(), file_entry(&id, &format!("./{name}"), digests));
        relationships.push((release_id.clone(), "CONTAINS", id));
    }
    for built in inputs.built {
        let tarball = spdx_id(
            "File",
            &super::package::server_tarball(&built.platform.dashed()),
        );
        for (component, binary) in &built.binaries {
            let path = built.path(binary);
            let bytes = std::fs::read(&path).with_context(|| format!("reading {path}"))?;
            let id = spdx_id("File", &format!("{}-{binary}", built.platform.dashed()));
            let name = format!(
                "./{}/kubernetes/server/bin/{binary}",
                built.platform.dashed()
            );
            files.insert(
                id.clone(),
                file_entry(&id, &name, &crate::checksums::digest(&bytes)),
            );
            relationships.push((tarball.clone(), "CONTAINS", id.clone()));
            let selected: Vec<Component> = inputs
                .components
                .iter()
                .filter(|c| &c.name == component)
                .cloned()
                .collect();
            for package in crate::licenses::linked_packages(ws, &selected, built.platform)? {
                let crate_id = spdx_id("Crate", &format!("{}-{}", package.name, package.version));
                packages
                    .entry(crate_id.clone())
                    .or_insert_with(|| crate_entry(&crate_id, &package, inputs.vendored));
                relationships.push((id.clone(), "STATIC_LINK", crate_id));
            }
        }
    }
    for image in inputs.images {
        let name = format!(
            "release-images/{}/{}.tar",
            image.platform.arch(),
            image.binary
        );
        let path = ws.output().join(&name);
        let bytes = std::fs::read(&path).with_context(|| format!("reading {path}"))?;
        let id = spdx_id(
            "File",
            &format!("image-{}-{}", image.platform.arch(), image.binary),
        );
        files.insert(
            id.clone(),
            file_entry(&id, &format!("./{name}"), &crate::checksums::digest(&bytes)),
        );
        let binary = spdx_id(
            "File",
            &format!("{}-{}", image.platform.dashed(), image.binary),
        );
        relationships.push((id.clone(), "CONTAINS", binary));
        let tarball = spdx_id(
            "File",
            &super::package::server_tarball(&image.platform.dashed()),
        );
        relationships.push((tarball, "CONTAINS", id));
    }

    // What built them.
    if let BuildEnvironment::Container { rustc, image } = inputs.environment {
        let image_id = "SPDXRef-Package-build-image".to_owned();
        packages.insert(
            image_id.clone(),
            json!({
                "SPDXID": image_id,
                "name": image.tag,
                "versionInfo": image.id,
                "downloadLocation": "NOASSERTION",
                "filesAnalyzed": false,
                "primaryPackagePurpose": "CONTAINER",
                "comment": format!("The cross-build image the binaries were compiled in ({rustc})."),
                "checksums": [{
                    "algorithm": "SHA256",
                    "checksumValue": image.id.trim_start_matches("sha256:"),
                }],
            }),
        );
        for (name_arch, version) in &image.packages {
            let (name, arch) = name_arch.split_once(':').unwrap_or((name_arch, "all"));
            let id = spdx_id("Deb", &format!("{name}-{arch}-{version}"));
            packages.insert(
                id.clone(),
                json!({
                    "SPDXID": id,
                    "name": name,
                    "versionInfo": version,
                    "downloadLocation": "NOASSERTION",
                    "filesAnalyzed": false,
                    "externalRefs": [{
                        "referenceCategory": "PACKAGE-MANAGER",
                        "referenceType": "purl",
                        "referenceLocator": format!("pkg:deb/debian/{name}@{version}?arch={arch}"),
                    }],
                }),
            );
            relationships.push((image_id.clone(), "CONTAINS", id));
        }
        for built in inputs.built {
            for (_, binary) in &built.binaries {
                let file = spdx_id("File", &format!("{}-{binary}", built.platform.dashed()));
                relationships.push((image_id.clone(), "BUILD_TOOL_OF", file));
            }
        }
    }

    relationships.sort();
    relationships.dedup();
    let describes = vec![release_id.clone()];
    let mut relationship_values = vec![json!({
        "spdxElementId": "SPDXRef-DOCUMENT",
        "relationshipType": "DESCRIBES",
        "relatedSpdxElement": release_id,
    })];
    relationship_values.extend(relationships.into_iter().map(|(a, kind, b)| {
        json!({ "spdxElementId": a, "relationshipType": kind, "relatedSpdxElement": b })
    }));
    let namespace_digest = crate::checksums::digest(
        serde_json::to_vec(&(
            &stamp.git_version,
            &stamp.git_commit,
            inputs
                .artifacts
                .iter()
                .map(|(n, d)| (n, &d.sha256))
                .collect::<Vec<_>>(),
        ))?
        .as_slice(),
    )
    .sha256;
    let document = json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": format!("kubernetes-{}", stamp.git_version),
        "documentNamespace": format!("https://spdx.org/spdxdocs/kubernetes-{}-{namespace_digest}", stamp.git_version),
        "creationInfo": {
            "created": stamp.build_date(),
            "creators": [format!("Tool: cargo-xtask-{}", env!("CARGO_PKG_VERSION"))],
        },
        "documentDescribes": describes,
        "packages": packages.into_values().collect::<Vec<_>>(),
        "files": files.into_values().collect::<Vec<_>>(),
        "relationships": relationship_values,
    });
    let mut bytes = serde_json::to_vec_pretty(&document)?;
    bytes.push(b'\n');
    Ok(bytes)
}

fn file_entry(id: &str, name: &str, digests: &Digests) -> Value {
    json!({
        "SPDXID": id,
        "fileName": name,
        "checksums": [
            { "algorithm": "SHA256", "checksumValue": digests.sha256 },
            { "algorithm": "SHA512", "checksumValue": digests.sha512 },
        ],
        "licenseConcluded": "NOASSERTION",
        "copyrightText": "NOASSERTION",
    })
}

fn crate_entry(id: &str, package: &Package, vendored: &Vendored) -> Value {
    let mut entry = json!({
        "SPDXID": id,
        "name": package.name.to_string(),
        "versionInfo": package.version.to_string(),
        "downloadLocation": "NOASSERTION",
        "filesAnalyzed": false,
        "licenseConcluded": "NOASSERTION",
        "licenseDeclared": license_expression(package),
        "copyrightText": "NOASSERTION",
        "externalRefs": [{
            "referenceCategory": "PACKAGE-MANAGER",
            "referenceType": "purl",
            "referenceLocator": format!("pkg:cargo/{}@{}", package.name, package.version),
        }],
    });
    if package.source.is_none() {
        entry["comment"] = json!("A crate of this workspace (built from the source tarball).");
    }
    // The checksum Cargo.lock pins is the one cargo vendor records.
    if let Some(checksum) = locked_checksum(vendored, package) {
        entry["checksums"] = json!([{ "algorithm": "SHA256", "checksumValue": checksum }]);
    }
    entry
}

fn locked_checksum(vendored: &Vendored, package: &Package) -> Option<String> {
    let path = vendored
        .dir
        .join(format!("{}-{}", package.name, package.version))
        .join(".cargo-checksum.json");
    let json: Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    json["package"].as_str().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_and_licenses_are_spdx() {
        assert_eq!(
            spdx_id("Crate", "foo_bar-1.0.0+x"),
            "SPDXRef-Crate-foo-bar-1.0.0-x"
        );
        let mut package: Package = serde_json::from_value(json!({
            "name": "a", "version": "1.0.0", "id": "a 1.0.0", "license": "MIT/Apache-2.0",
            "dependencies": [], "targets": [], "features": {}, "manifest_path": "/a/Cargo.toml",
            "authors": [], "categories": [], "keywords": [], "edition": "2021",
            "metadata": null, "publish": null, "source": null, "description": null,
            "license_file": null, "readme": null, "repository": null, "homepage": null,
            "documentation": null, "links": null, "default_run": null, "rust_version": null
        }))
        .unwrap();
        assert_eq!(license_expression(&package), "MIT OR Apache-2.0");
        package.license = None;
        assert_eq!(license_expression(&package), "NOASSERTION");
    }
}
