//! The cross-build image's definition, `images/kube-cross/`: `VERSION` (the
//! tag), `packages.txt` (every package pinned, and the archive snapshot the
//! pins were resolved at), `Dockerfile` (the pulling route), and `IMAGE_ID`
//! (the image those inputs give, recorded by `cargo xtask image update`).
//! Reading, checking and rewriting them; the digest that labels an image
//! with the definition it was built from.

use std::fmt;

use anyhow::{Context, Result, bail};
use cargo_metadata::camino::{Utf8Path, Utf8PathBuf};
use sha2::{Digest, Sha256};

use crate::workspace::Workspace;

/// The image's native architecture and every architecture it installs
/// packages for (the arm64 standard library through multiarch).
pub const NATIVE_ARCH: &str = "amd64";
pub const ARCHITECTURES: [&str; 2] = ["amd64", "arm64"];
/// The Rust compiler's package: its version names the image's `VERSION`.
pub const RUSTC_PACKAGE: &str = "rustc-web";

/// `packages.txt`'s directive naming the archive state the pins come from.
const SNAPSHOT_DIRECTIVE: &str = "# snapshot=";
/// Debian's snapshot timestamps: `20261203T183012Z` (UTC).
const SNAPSHOT_FORMAT: &str = "%Y%m%dT%H%M%SZ";

/// One line of `packages.txt`: `name[:arch]=version`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct PackagePin {
    pub name: String,
    /// A foreign architecture (`arm64`); `None` for the native one.
    pub arch: Option<String>,
    pub version: String,
}

impl PackagePin {
    /// `name` or `name:arch`, as apt and dpkg name the package (the native
    /// architecture unqualified).
    pub fn apt_name(&self) -> String {
        match &self.arch {
            Some(arch) => format!("{}:{arch}", self.name),
            None => self.name.clone(),
        }
    }

    pub fn with_version(&self, version: &str) -> PackagePin {
        PackagePin {
            version: version.to_owned(),
            ..self.clone()
        }
    }
}

impl fmt::Display for PackagePin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.apt_name(), self.version)
    }
}

/// The archive state a definition's pins were resolved at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// `20261203T183012Z`, as a snapshot archive names its states.
    pub timestamp: String,
    /// The same instant in seconds: the image's SOURCE_DATE_EPOCH.
    pub epoch: u64,
}

impl Snapshot {
    pub fn parse(timestamp: &str) -> Result<Snapshot> {
        let parsed = jiff::civil::DateTime::strptime(SNAPSHOT_FORMAT, timestamp)
            .ok()
            .and_then(|time| time.to_zoned(jiff::tz::TimeZone::UTC).ok())
            .map(|zoned| zoned.timestamp().as_second());
        match parsed {
            Some(epoch) if epoch >= 0 => Ok(Snapshot {
                timestamp: timestamp.to_owned(),
                epoch: epoch as u64,
            }),
            _ => bail!(
                "{timestamp:?} is not a snapshot timestamp: write it as YYYYMMDDTHHMMSSZ in UTC, e.g. 20261203T183012Z"
            ),
        }
    }

    /// The current time, to the second.
    pub fn now() -> Snapshot {
        let timestamp = jiff::Timestamp::now().strftime(SNAPSHOT_FORMAT).to_string();
        Snapshot::parse(&timestamp).expect("the clock formats as a snapshot timestamp")
    }
}

/// `images/kube-cross/` as read from the checkout.
#[derive(Debug, Clone)]
pub struct Definition {
    pub dir: Utf8PathBuf,
    /// `v1.97.1-trixie.0`.
    pub version: String,
    /// In file order.
    pub packages: Vec<PackagePin>,
    pub snapshot: Snapshot,
    /// `sha256:<hex>`: the image these inputs gave when they were recorded.
    pub image_id: Option<String>,
    /// sha256 of VERSION, packages.txt and the Dockerfile: an image whose
    /// label differs was built from another definition.
    pub digest: String,
    /// packages.txt as read, for rewriting.
    packages_text: String,
}

impl Definition {
    pub fn read(ws: &Workspace) -> Result<Definition> {
        Definition::read_dir(&ws.root.join("images/kube-cross"))
    }

    pub fn read_dir(dir: &Utf8Path) -> Result<Definition> {
        let read = |name: &str| {
            std::fs::read_to_string(dir.join(name)).with_context(|| {
                format!(
                    "reading {} (the cross-build image definition)",
                    dir.join(name)
                )
            })
        };
        let version_file = read("VERSION")?;
        let packages_text = read("packages.txt")?;
        let dockerfile = read("Dockerfile")?;
        let version = version_file.trim().to_owned();
        check_version(&version).with_context(|| format!("{dir}/VERSION"))?;
        let (packages, snapshot) = parse_packages(&packages_text)
            .with_context(|| format!("reading {dir}/packages.txt"))?;
        let image_id = match std::fs::read_to_string(dir.join("IMAGE_ID")) {
            Ok(text) => Some(parse_image_id(&text).with_context(|| format!("{dir}/IMAGE_ID"))?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(e).with_context(|| format!("reading {dir}/IMAGE_ID")),
        };
        let mut hasher = Sha256::new();
        for part in [&version_file, &packages_text, &dockerfile] {
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part.as_bytes());
        }
        Ok(Definition {
            dir: dir.to_owned(),
            version,
            packages,
            snapshot,
            image_id,
            digest: format!("{:x}", hasher.finalize()),
            packages_text,
        })
    }

    /// `kube-cross:v1.97.1-trixie.0`.
    pub fn tag(&self) -> String {
        format!("{}:{}", super::REPOSITORY, self.version)
    }

    /// packages.txt with new versions for some packages (keyed by
    /// `apt_name`) and a new snapshot line; comments and order kept.
    pub fn rewritten_packages(
        &self,
        versions: &std::collections::BTreeMap<String, String>,
        snapshot: &Snapshot,
    ) -> String {
        let mut out = String::new();
        for line in self.packages_text.lines() {
            if line.starts_with(SNAPSHOT_DIRECTIVE) {
                out.push_str(&format!("{SNAPSHOT_DIRECTIVE}{}\n", snapshot.timestamp));
                continue;
            }
            let (spec, comment) = match line.find('#') {
                Some(at) => line.split_at(at),
                None => (line, ""),
            };
            let rewritten = parse_pin(spec.trim())
                .ok()
                .flatten()
                .and_then(|pin| versions.get(&pin.apt_name()).map(|v| pin.with_version(v)));
            match rewritten {
                Some(pin) if comment.is_empty() => out.push_str(&format!("{pin}\n")),
                Some(pin) => out.push_str(&format!("{pin} {comment}\n")),
                None => {
                    out.push_str(line);
                    out.push('\n');
                }
            }
        }
        out
    }
}

/// A tag such as `v1.97.1-trixie.0`.
fn check_version(version: &str) -> Result<()> {
    let valid = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_');
    if version.is_empty() || !version.chars().all(valid) || version.len() > 100 {
        bail!("holds {version:?}: it must be an image tag such as v1.97.1-trixie.0");
    }
    Ok(())
}

fn parse_image_id(text: &str) -> Result<String> {
    let id = text.trim();
    let hex = id.strip_prefix("sha256:").unwrap_or_default();
    if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        bail!("holds {id:?}: it must be an image ID, sha256:<64 hex digits>");
    }
    Ok(id.to_owned())
}

/// `name[:arch]=version` lines and the `# snapshot=` directive; other `#`
/// comments and blank lines skipped. Every package must be pinned.
pub fn parse_packages(text: &str) -> Result<(Vec<PackagePin>, Snapshot)> {
    let mut packages = Vec::new();
    let mut snapshot = None;
    for (number, line) in text.lines().enumerate() {
        if let Some(timestamp) = line.strip_prefix(SNAPSHOT_DIRECTIVE) {
            if snapshot.is_some() {
                bail!("line {}: a second snapshot line", number + 1);
            }
            snapshot = Some(
                Snapshot::parse(timestamp.trim())
                    .with_context(|| format!("line {}", number + 1))?,
            );
            continue;
        }
        let spec = line.split('#').next().unwrap_or_default().trim();
        if let Some(pin) = parse_pin(spec).with_context(|| format!("line {}", number + 1))? {
            packages.push(pin);
        }
    }
    if packages.is_empty() {
        bail!("no packages listed");
    }
    for pin in &packages {
        if let Some(twin) = packages
            .iter()
            .find(|other| other.name == pin.name && other.version != pin.version)
        {
            bail!(
                "{pin} and {twin}: a package installed for two architectures must be pinned at one \
                 version (dpkg refuses two versions of a Multi-Arch: same package)"
            );
        }
    }
    let snapshot = snapshot.context(
        "no `# snapshot=YYYYMMDDTHHMMSSZ` line: it records the archive state the pins come from \
         (`cargo xtask image update` writes it)",
    )?;
    Ok((packages, snapshot))
}

/// One package spec; `None` for an empty one.
fn parse_pin(spec: &str) -> Result<Option<PackagePin>> {
    if spec.is_empty() {
        return Ok(None);
    }
    let Some((name, version)) = spec.split_once('=') else {
        bail!(
            "{spec:?} has no pinned version: write name=version (`cargo xtask image update` resolves the current one)"
        );
    };
    let (name, arch) = match name.split_once(':') {
        Some((name, arch)) => (name, Some(arch)),
        None => (name, None),
    };
    let name_ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '-' | '+'));
    let arch_ok =
        arch.is_none_or(|a| !a.is_empty() && a.chars().all(|c| c.is_ascii_alphanumeric()));
    let version_ok = !version.is_empty()
        && version
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+' | ':' | '~'));
    if !name_ok || !arch_ok || !version_ok {
        bail!("{spec:?} is not an apt name[:arch]=version");
    }
    Ok(Some(PackagePin {
        name: name.to_owned(),
        arch: arch.filter(|a| *a != NATIVE_ARCH).map(str::to_owned),
        version: version.to_owned(),
    }))
}

/// The upstream part of a Debian version: `1:1.97.1+dfsg1-1~bpo13+1` → `1.97.1`.
pub fn upstream_version(debian_version: &str) -> &str {
    let without_epoch = debian_version
        .split_once(':')
        .map_or(debian_version, |(_, rest)| rest);
    without_epoch
        .split(['+', '-', '~'])
        .next()
        .unwrap_or(without_epoch)
}

/// The next VERSION: `v<rustc>-<suite>.<n>`, counting up while the Rust
/// toolchain stays the same and starting at 0 when it changes.
pub fn next_version(current: &str, rustc_upstream: &str, suite: &str) -> String {
    let prefix = format!("v{rustc_upstream}-{suite}.");
    match current
        .strip_prefix(&prefix)
        .and_then(|n| n.parse::<u64>().ok())
    {
        Some(n) => format!("{prefix}{}", n + 1),
        None => format!("{prefix}0"),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    const PACKAGES: &str = "\
# header
# snapshot=20261203T183012Z
rustc=1.96.1+dfsg1-2~bpo13+1
libstd-rust-dev:arm64=1.96.1+dfsg1-2~bpo13+1 # arm64 std

gcc=4:14.2.0-1
";

    #[test]
    fn packages_must_be_pinned_and_dated() {
        let (pins, snapshot) = parse_packages(PACKAGES).unwrap();
        assert_eq!(
            pins.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
            [
                "rustc=1.96.1+dfsg1-2~bpo13+1",
                "libstd-rust-dev:arm64=1.96.1+dfsg1-2~bpo13+1",
                "gcc=4:14.2.0-1"
            ]
        );
        assert_eq!(pins[1].apt_name(), "libstd-rust-dev:arm64");
        assert_eq!(snapshot.timestamp, "20261203T183012Z");
        assert_eq!(snapshot.epoch, 1_796_322_612);

        let err = format!(
            "{:#}",
            parse_packages("# snapshot=20261203T183012Z\ngcc\n").unwrap_err()
        );
        assert!(
            err.contains("line 2") && err.contains("no pinned version"),
            "{err}"
        );
        assert!(parse_packages("# snapshot=20261203T183012Z\ngcc=1; rm -rf /\n").is_err());
        assert!(parse_packages("# snapshot=20261203T183012Z\n# nothing\n").is_err());
        let err = format!("{:#}", parse_packages("gcc=1\n").unwrap_err());
        assert!(err.contains("snapshot="), "{err}");
        let err = format!(
            "{:#}",
            parse_packages("# snapshot=yesterday\ngcc=1\n").unwrap_err()
        );
        assert!(err.contains("YYYYMMDDTHHMMSSZ"), "{err}");
        // The native architecture is the unqualified name.
        let (pins, _) = parse_packages("# snapshot=20261203T183012Z\nlibc6:amd64=2\n").unwrap();
        assert_eq!(pins[0].apt_name(), "libc6");
        let err = format!(
            "{:#}",
            parse_packages("# snapshot=20261203T183012Z\nstd=2\nstd:arm64=1\n").unwrap_err()
        );
        assert!(
            err.contains("std=2 and std:arm64=1") && err.contains("one version"),
            "{err}"
        );
    }

    #[test]
    fn rewriting_keeps_comments_and_order() {
        let dir = tempfile::tempdir().unwrap();
        let dir = Utf8Path::from_path(dir.path()).unwrap();
        std::fs::write(dir.join("VERSION"), "v1.96.1-trixie.0\n").unwrap();
        std::fs::write(dir.join("packages.txt"), PACKAGES).unwrap();
        std::fs::write(dir.join("Dockerfile"), "FROM scratch\n").unwrap();
        let definition = Definition::read_dir(dir).unwrap();
        assert_eq!(definition.image_id, None);
        let versions = BTreeMap::from([
            ("rustc".to_owned(), "1.97.1+dfsg1-1~bpo13+1".to_owned()),
            (
                "libstd-rust-dev:arm64".to_owned(),
                "1.97.1+dfsg1-1~bpo13+1".to_owned(),
            ),
        ]);
        let text =
            definition.rewritten_packages(&versions, &Snapshot::parse("20270101T000000Z").unwrap());
        assert_eq!(
            text,
            "\
# header
# snapshot=20270101T000000Z
rustc=1.97.1+dfsg1-1~bpo13+1
libstd-rust-dev:arm64=1.97.1+dfsg1-1~bpo13+1 # arm64 std

gcc=4:14.2.0-1
"
        );

        std::fs::write(dir.join("IMAGE_ID"), "sha256:abc\n").unwrap();
        let err = format!("{:#}", Definition::read_dir(dir).unwrap_err());
        assert!(
            err.contains("IMAGE_ID") && err.contains("sha256:<64"),
            "{err}"
        );
        let id = format!("sha256:{}", "0a".repeat(32));
        std::fs::write(dir.join("IMAGE_ID"), format!("{id}\n")).unwrap();
        let again = Definition::read_dir(dir).unwrap();
        assert_eq!(again.image_id.as_deref(), Some(id.as_str()));
        assert_eq!(
            again.digest, definition.digest,
            "IMAGE_ID is an output, not an input"
        );
    }

    #[test]
    fn versions_count_up_per_toolchain() {
        assert_eq!(upstream_version("1.97.1+dfsg1-1~bpo13+1"), "1.97.1");
        assert_eq!(upstream_version("1.85.1+dfsg1-1+deb13u1"), "1.85.1");
        assert_eq!(upstream_version("4:14.2.0-1"), "14.2.0");
        assert_eq!(
            next_version("v1.96.1-trixie.0", "1.97.1", "trixie"),
            "v1.97.1-trixie.0"
        );
        assert_eq!(
            next_version("v1.97.1-trixie.0", "1.97.1", "trixie"),
            "v1.97.1-trixie.1"
        );
        assert_eq!(
            next_version("v1.97.1-trixie.9", "1.97.1", "trixie"),
            "v1.97.1-trixie.10"
        );
        assert_eq!(
            next_version("custom", "1.97.1", "trixie"),
            "v1.97.1-trixie.0"
        );
    }
}
