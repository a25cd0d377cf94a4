//! What a build ran with, recorded: the host toolchain (local route) or the
//! build image (container route: its tag and ID, and the exact version of
//! every installed package). Builds print it in one line; a release ships it
//! as `build-environment.json` beside the tarballs, covered by the checksums.

use anyhow::Result;
use serde::Serialize;

use crate::image::record::ImageRecord;

/// The release artifact that holds the record.
pub const FILE_NAME: &str = "build-environment.json";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "route", rename_all = "camelCase")]
pub enum BuildEnvironment {
    /// This machine's toolchain (`--local`).
    Local {
        /// `rustc --version`.
        rustc: String,
    },
    /// The cross-build container.
    Container { rustc: String, image: ImageRecord },
}

impl BuildEnvironment {
    /// One line for the build log.
    pub fn summary(&self) -> String {
        match self {
            BuildEnvironment::Local { rustc } => {
                format!("build environment: this machine's toolchain, {rustc} (no build image)")
            }
            BuildEnvironment::Container { rustc, image } => {
                format!("build image: {}, {rustc}", image.summary())
            }
        }
    }

    /// The release artifact's bytes: pretty JSON, keys in a fixed order.
    pub fn to_json(&self) -> Result<Vec<u8>> {
        let mut bytes = serde_json::to_vec_pretty(self)?;
        bytes.push(b'\n');
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_route_tags_the_record() {
        let local = BuildEnvironment::Local {
            rustc: "rustc 1.95.0".into(),
        };
        let json: serde_json::Value = serde_json::from_slice(&local.to_json().unwrap()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"route": "local", "rustc": "rustc 1.95.0"})
        );
        assert!(local.summary().contains("rustc 1.95.0"));
    }
}
