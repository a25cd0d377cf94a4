//! The record of the image a build ran in: its tag and ID, the ID the
//! definition records, and the exact version of every installed package,
//! read from dpkg's database inside the build container. Builds print it in
//! one line; releases ship it (build-environment.json).

use std::collections::BTreeMap;

use anyhow::{Result, bail};
use serde::Serialize;

use super::BuildImage;

/// `dpkg-query` arguments that list every package with its status.
pub const DPKG_QUERY: [&str; 3] = [
    "dpkg-query",
    "--show",
    "--showformat=${db:Status-Abbrev}\t${Package}:${Architecture}\t${Version}\n",
];

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageRecord {
    pub tag: String,
    pub id: String,
    /// `images/kube-cross/IMAGE_ID`; equal to `id` for the pinned image.
    pub recorded_id: Option<String>,
    /// `name:arch` → version, of every installed package.
    pub packages: BTreeMap<String, String>,
}

impl ImageRecord {
    pub fn new(image: &BuildImage, dpkg_query_output: &str) -> Result<ImageRecord> {
        Ok(ImageRecord {
            tag: image.tag.clone(),
            id: image.id.clone(),
            recorded_id: image.recorded_id.clone(),
            packages: parse_installed(dpkg_query_output)?,
        })
    }

    /// `kube-cross:v1.97.1-trixie.0 sha256:0123456789ab (the recorded image; 183 packages)`.
    pub fn summary(&self) -> String {
        let short = self
            .id
            .strip_prefix("sha256:")
            .map(|hex| format!("sha256:{}", &hex[..hex.len().min(12)]))
            .unwrap_or_else(|| self.id.clone());
        let matches = match &self.recorded_id {
            Some(recorded) if *recorded == self.id => "the recorded image",
            Some(_) => "NOT the image images/kube-cross/IMAGE_ID records",
            None => "no IMAGE_ID recorded",
        };
        format!(
            "{} {short} ({matches}; {} packages)",
            self.tag,
            self.packages.len()
        )
    }
}

/// Installed packages in `DPKG_QUERY`'s output (status `ii`).
fn parse_installed(output: &str) -> Result<BTreeMap<String, String>> {
    let mut packages = BTreeMap::new();
    for line in output.lines() {
        let mut fields = line.split('\t');
        let (Some(status), Some(name), Some(version)) =
            (fields.next(), fields.next(), fields.next())
        else {
            bail!("unexpected dpkg-query line {line:?}");
        };
        if status.starts_with("ii") {
            packages.insert(name.to_owned(), version.to_owned());
        }
    }
    if packages.is_empty() {
        bail!("dpkg-query listed no installed package in the build image");
    }
    Ok(packages)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installed_packages_and_summary() {
        let image = BuildImage {
            tag: "kube-cross:v1".into(),
            id: format!("sha256:{}", "ab".repeat(32)),
            recorded_id: Some(format!("sha256:{}", "ab".repeat(32))),
        };
        let record = ImageRecord::new(
            &image,
            "ii \trustc:amd64\t1.97.1+dfsg1-1~bpo13+1\n\
             ii \tlibstd-rust-dev:arm64\t1.97.1+dfsg1-1~bpo13+1\n\
             rc \told:amd64\t1.0\n",
        )
        .unwrap();
        assert_eq!(
            record.packages,
            BTreeMap::from([
                (
                    "libstd-rust-dev:arm64".to_owned(),
                    "1.97.1+dfsg1-1~bpo13+1".to_owned()
                ),
                (
                    "rustc:amd64".to_owned(),
                    "1.97.1+dfsg1-1~bpo13+1".to_owned()
                ),
            ])
        );
        assert_eq!(
            record.summary(),
            "kube-cross:v1 sha256:abababababab (the recorded image; 2 packages)"
        );
        let json = serde_json::to_value(&record).unwrap();
        assert_eq!(json["recordedId"], json["id"]);
        assert!(ImageRecord::new(&image, "").is_err());
        assert!(ImageRecord::new(&image, "garbage").is_err());
    }
}
