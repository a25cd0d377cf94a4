//! The release's provenance: an in-toto v1 statement with a SLSA v1
//! provenance predicate (`kubernetes-release.intoto.json`). Subjects are
//! every artifact and image with its sha256; the predicate records the
//! source (commit, tree state, version), SOURCE_DATE_EPOCH, the platforms,
//! the invocation, the toolchain and the build image (ID and every
//! package). Deterministic: no clock, no host names or paths.
//!
//! Unsigned. Signing is one seam: a [`Signer`] turns the statement into a
//! DSSE envelope written beside it (`.dsse.json`); [`Unsigned`] is the only
//! one today.

use std::collections::BTreeMap;

use anyhow::Result;
use serde_json::{Value, json};

use super::server_image::ServerImage;
use crate::build::BuildEnvironment;
use crate::checksums::Digests;
use crate::platform::Platform;
use crate::version::Stamp;

pub const FILE_NAME: &str = "kubernetes-release.intoto.json";
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
pub const PREDICATE_TYPE: &str = "https://slsa.dev/provenance/v1";
/// What this build is, for a verifier: `cargo xtask release`, version 1.
pub const BUILD_TYPE: &str = "urn:cargo-xtask:release:v1";

/// Signs a statement: the payload type and bytes in, a DSSE envelope out.
pub trait Signer {
    fn sign(&self, payload_type: &str, payload: &[u8]) -> Result<Option<Vec<u8>>>;
}

/// No signature (the statement ships as is).
pub struct Unsigned;

impl Signer for Unsigned {
    fn sign(&self, _payload_type: &str, _payload: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(None)
    }
}

/// How the release was asked for.
pub struct Invocation<'a> {
    pub platforms: &'a [Platform],
    pub run_tests: bool,
    pub strict_image: bool,
    pub lock_digest: &'a str,
}

pub fn statement(
    stamp: &Stamp,
    environment: &BuildEnvironment,
    invocation: &Invocation<'_>,
    artifacts: &[(String, Digests)],
    images: &[ServerImage],
) -> Result<Vec<u8>> {
    let mut subjects: Vec<Value> = artifacts
        .iter()
        .map(|(name, digests)| json!({ "name": name, "digest": { "sha256": digests.sha256 } }))
        .collect();
    for image in images {
        subjects.push(json!({
            "name": image.repo_tag,
            "digest": { "sha256": image.image_id.trim_start_matches("sha256:") },
            "annotations": { "kind": "image-id", "platform": image.platform.to_string() },
        }));
    }
    let profile: BTreeMap<String, String> = std::env::vars()
        .filter(|(name, _)| name.starts_with("CARGO_PROFILE_"))
        .collect();
    let mut tags: BTreeMap<&str, String> = BTreeMap::new();
    for name in ["KUBE_DOCKER_REGISTRY", "KUBE_DOCKER_IMAGE_TAG"] {
        if let Ok(value) = std::env::var(name) {
            tags.insert(name, value);
        }
    }
    let mut dependencies = vec![
        json!({
            "name": "source",
            "digest": { "gitCommit": stamp.git_commit },
            "annotations": { "treeState": stamp.git_tree_state, "version": stamp.git_version },
        }),
        json!({ "name": "Cargo.lock", "digest": { "sha256": invocation.lock_digest } }),
    ];
    let (route, rustc) = match environment {
        BuildEnvironment::Local { rustc } => ("local", rustc),
        BuildEnvironment::Container { rustc, image } => {
            dependencies.push(json!({
                "name": image.tag,
                "digest": { "sha256": image.id.trim_start_matches("sha256:") },
                "annotations": {
                    "recordedId": image.recorded_id,
                    "packages": image.packages,
                },
            }));
            ("container", rustc)
        }
    };
    let statement = json!({
        "_type": STATEMENT_TYPE,
        "subject": subjects,
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "buildDefinition": {
                "buildType": BUILD_TYPE,
                "externalParameters": {
                    "command": "cargo xtask release",
                    "platforms": invocation.platforms.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
                    "route": route,
                    "runTests": invocation.run_tests,
                    "strictImage": invocation.strict_image,
                    "environment": tags,
                    "profileOverrides": profile,
                },
                "internalParameters": {
                    "sourceDateEpoch": stamp.source_date_epoch,
                    "buildDate": stamp.build_date(),
                    "rustc": rustc,
                },
                "resolvedDependencies": dependencies,
            },
            "runDetails": {
                "builder": {
                    "id": "urn:cargo-xtask",
                    "version": { "cargo-xtask": env!("CARGO_PKG_VERSION") },
                },
                "metadata": {},
            },
        },
    });
    let mut bytes = serde_json::to_vec_pretty(&statement)?;
    bytes.push(b'\n');
    Ok(bytes)
}
