//! Which versions an archive serves: apt run against a private state
//! directory (this machine's apt state untouched) with the image's suite and
//! architectures, then `apt-cache policy` for the definition's packages.
//! Tells whether every pin is still there and which versions to move to,
//! keeping packages that must share a version together.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, bail};
use xshell::{Shell, cmd};

use super::apt_sources::{Archive, ArchiveKind};
use super::definition::{ARCHITECTURES, NATIVE_ARCH, PackagePin};

/// What an archive serves of one pinned package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub pin: PackagePin,
    /// Whether the pinned version is there.
    pub pinned_available: bool,
    /// The version apt would install today (`None`: the package is gone).
    pub candidate: Option<String>,
    /// Every version the archive serves, newest first (apt's order).
    pub versions: Vec<String>,
}

/// The answer for a whole definition.
#[derive(Debug, Clone)]
pub struct Resolution {
    pub packages: Vec<Resolved>,
}

impl Resolution {
    /// Packages whose pinned version the archive no longer serves.
    pub fn missing_pins(&self) -> Vec<&Resolved> {
        self.packages
            .iter()
            .filter(|r| !r.pinned_available)
            .collect()
    }

    /// Every package at the newest version it can move to today.
    pub fn current_pins(&self) -> Result<Vec<PackagePin>> {
        self.choose(|_| false)
    }

    /// Every package at its pinned version where the archive still serves
    /// it (to every package pinned with it), else at its current one.
    pub fn pins_or_current(&self) -> Result<Vec<PackagePin>> {
        self.choose(|group| group.iter().all(|r| r.pinned_available))
    }

    /// Picks a version for each lockstep group: the pins where `keep_pins`
    /// says so, else the newest version every member is served at.
    fn choose(&self, keep_pins: impl Fn(&[&Resolved]) -> bool) -> Result<Vec<PackagePin>> {
        let mut chosen: BTreeMap<&str, String> = BTreeMap::new();
        for group in self.lockstep_groups() {
            let version = if keep_pins(&group) {
                group[0].pin.version.clone()
            } else {
                lockstep_version(&group)?
            };
            chosen.insert(&group[0].pin.version, version);
        }
        Ok(self
            .packages
            .iter()
            .map(|r| r.pin.with_version(&chosen[r.pin.version.as_str()]))
            .collect())
    }

    /// Packages pinned at one version move together: they are one source
    /// package's binaries (rustc needs its own standard library) or a
    /// library and its foreign-architecture twin, which dpkg refuses at two
    /// versions.
    fn lockstep_groups(&self) -> Vec<Vec<&Resolved>> {
        let mut groups: BTreeMap<&str, Vec<&Resolved>> = BTreeMap::new();
        for resolved in &self.packages {
            groups
                .entry(&resolved.pin.version)
                .or_default()
                .push(resolved);
        }
        groups.into_values().collect()
    }
}

/// The newest version every member of a lockstep group is served at, looked
/// for from the first member's candidate down to the pinned version (never
/// older than the pins). Fails when the archive has the members at different
/// versions only, as while a new upload is built for one architecture and
/// not yet for the other.
fn lockstep_version(group: &[&Resolved]) -> Result<String> {
    if let Some(gone) = group.iter().find(|r| r.candidate.is_none()) {
        bail!(
            "the archive has no {} at any version: remove it from images/kube-cross/packages.txt \
             or name what replaced it",
            gone.pin.apt_name()
        );
    }
    let first = group[0];
    let candidate = first.candidate.as_ref().unwrap_or(&first.pin.version);
    let pinned = &first.pin.version;
    // apt lists versions newest first: try the candidate, then the ones
    // between it and the pinned one. Without the pinned one in the list
    // nothing tells which versions are older than it, so only the candidate.
    let position = |version: &String| first.versions.iter().position(|v| v == version);
    let newest_first: Vec<&String> = match (position(candidate), position(pinned)) {
        (Some(from), Some(to)) if from <= to => first.versions[from..=to].iter().collect(),
        _ => vec![candidate],
    };
    if let Some(version) = newest_first
        .into_iter()
        .find(|version| group.iter().all(|r| r.versions.contains(version)))
    {
        return Ok(version.clone());
    }
    let served: Vec<String> = group
        .iter()
        .map(|r| {
            format!(
                "{} at {}",
                r.pin.apt_name(),
                r.candidate.as_deref().unwrap_or("no version")
            )
        })
        .collect();
    bail!(
        "packages pinned together at {pinned} have no common version in the archive today ({}): \
         they must be installed at one version, so the archive is between two uploads (one built \
         for some architectures only); try again when it has caught up",
        served.join(", ")
    )
}

/// Asks `archive` for the definition's packages. Fails when the archive
/// does not answer (with apt's own message).
pub fn resolve(archive: &Archive, packages: &[PackagePin]) -> Result<Resolution> {
    let apt = PrivateApt::new(archive)?;
    apt.update()?;
    let names: Vec<String> = packages.iter().map(PackagePin::apt_name).collect();
    let policy = apt.policy(&names)?;
    let packages = packages
        .iter()
        .map(|pin| {
            let known = policy.get(&pin.apt_name());
            Resolved {
                pin: pin.clone(),
                pinned_available: known.is_some_and(|p| p.versions.contains(&pin.version)),
                candidate: known.and_then(|p| p.candidate.clone()),
                versions: known.map(|p| p.versions.clone()).unwrap_or_default(),
            }
        })
        .collect();
    Ok(Resolution { packages })
}

/// apt with its own configuration, lists and cache in a temporary directory.
struct PrivateApt {
    dir: tempfile::TempDir,
    archive_description: String,
}

impl PrivateApt {
    fn new(archive: &Archive) -> Result<PrivateApt> {
        let dir = tempfile::Builder::new()
            .prefix("kube-cross-apt.")
            .tempdir()
            .context("creating a private apt directory")?;
        let root = dir.path();
        for sub in [
            "etc/apt/apt.conf.d",
            "etc/apt/sources.list.d",
            "var/lib/apt/lists/partial",
            "var/cache/apt/archives/partial",
            "var/lib/dpkg",
        ] {
            std::fs::create_dir_all(root.join(sub))
                .with_context(|| format!("creating {}", root.join(sub).display()))?;
        }
        let write = |path: &str, text: String| {
            std::fs::write(root.join(path), text)
                .with_context(|| format!("writing {}", root.join(path).display()))
        };
        write("var/lib/dpkg/status", String::new())?;
        write(
            "etc/apt/sources.list",
            archive.source_lines().join("\n") + "\n",
        )?;
        write("apt.conf", apt_config(root, archive.kind))?;
        Ok(PrivateApt {
            dir,
            archive_description: archive.describe(),
        })
    }

    fn shell(&self) -> Result<Shell> {
        let sh = Shell::new()?;
        sh.set_var("APT_CONFIG", self.dir.path().join("apt.conf"));
        sh.set_var("LC_ALL", "C");
        Ok(sh)
    }

    fn update(&self) -> Result<()> {
        let sh = self.shell()?;
        let out = cmd!(sh, "apt-get update --error-on=any -q")
            .quiet()
            .ignore_status()
            .output()
            .context(
                "running apt-get (the image is made from Debian packages; apt must be installed)",
            )?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let stdout = String::from_utf8_lossy(&out.stdout);
            let reason: Vec<&str> = stderr
                .lines()
                .chain(stdout.lines())
                .filter(|l| l.starts_with("E:") || l.starts_with("W:") || l.starts_with("Err:"))
                .collect();
            bail!(
                "{} does not answer: {}",
                self.archive_description,
                if reason.is_empty() {
                    stderr.trim().to_owned()
                } else {
                    reason.join("; ")
                }
            );
        }
        Ok(())
    }

    fn policy(&self, names: &[String]) -> Result<BTreeMap<String, Policy>> {
        let sh = self.shell()?;
        let text = cmd!(sh, "apt-cache policy {names...}")
            .quiet()
            .read()
            .context("apt-cache policy")?;
        Ok(parse_policy(&text))
    }
}

fn apt_config(root: &Path, kind: ArchiveKind) -> String {
    let architectures: String = ARCHITECTURES.iter().map(|a| format!("\"{a}\"; ")).collect();
    let mut config = format!(
        "Dir \"{root}/\";\n\
         Dir::State::status \"{root}/var/lib/dpkg/status\";\n\
         Dir::Etc::Trusted \"/etc/apt/trusted.gpg\";\n\
         Dir::Etc::TrustedParts \"/etc/apt/trusted.gpg.d/\";\n\
         APT::Architecture \"{NATIVE_ARCH}\";\n\
         APT::Architectures {{ {architectures}}};\n\
         Acquire::Languages \"none\";\n\
         Acquire::http::Timeout \"20\";\n\
         Acquire::https::Timeout \"20\";\n\
         Acquire::Retries \"1\";\n",
        root = root.display()
    );
    if kind == ArchiveKind::Snapshot {
        // A snapshot's Release files are past their Valid-Until by design.
        config.push_str("Acquire::Check-Valid-Until \"false\";\n");
    }
    config
}

/// One package in `apt-cache policy`'s answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Policy {
    candidate: Option<String>,
    versions: Vec<String>,
}

/// `apt-cache policy` output: a block per known package (`name:` or
/// `name:arch:` for a foreign architecture), its candidate and version table.
/// Unknown packages have no block.
fn parse_policy(text: &str) -> BTreeMap<String, Policy> {
    let mut packages = BTreeMap::new();
    let mut current: Option<(String, Policy)> = None;
    let mut in_table = false;
    for line in text.lines() {
        if !line.starts_with(' ') {
            if let Some((name, policy)) = current.take() {
                packages.insert(name, policy);
            }
            if let Some(name) = line.strip_suffix(':') {
                current = Some((name.to_owned(), Policy::default()));
            }
            in_table = false;
            continue;
        }
        let Some((_, policy)) = current.as_mut() else {
            continue;
        };
        let trimmed = line.trim();
        if let Some(candidate) = trimmed.strip_prefix("Candidate:") {
            let candidate = candidate.trim();
            policy.candidate = (candidate != "(none)").then(|| candidate.to_owned());
        } else if trimmed == "Version table:" {
            in_table = true;
        } else if in_table {
            // `     VERSION PRIORITY` (or ` *** VERSION PRIORITY`, installed);
            // source lines are indented further and start with a priority.
            let entry = trimmed.strip_prefix("*** ").unwrap_or(trimmed);
            let indent = line.len() - line.trim_start().len();
            let mut words = entry.split_whitespace();
            if let (Some(version), Some(priority), None) =
                (words.next(), words.next(), words.next())
                && indent <= 5
                && priority.parse::<i64>().is_ok()
            {
                policy.versions.push(version.to_owned());
            }
        }
    }
    if let Some((name, policy)) = current {
        packages.insert(name, policy);
    }
    packages
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = "\
rustc:
  Installed: (none)
  Candidate: 1.97.1+dfsg1-1~bpo13+1
  Version table:
     1.97.1+dfsg1-1~bpo13+1 990
        990 http://mirror.example/debian trixie-backports/main amd64 Packages
     1.85.1+dfsg1-1+deb13u1 500
        500 http://mirror.example/debian trixie/main amd64 Packages
libstd-rust-dev:arm64:
  Installed: (none)
  Candidate: 1.97.1+dfsg1-1~bpo13+1
  Version table:
 *** 1.97.1+dfsg1-1~bpo13+1 990
        990 http://mirror.example/debian trixie-backports/main arm64 Packages
snapshot:
  Installed: (none)
  Candidate: (none)
";

    #[test]
    fn policy_blocks_candidates_and_versions() {
        let parsed = parse_policy(POLICY);
        assert_eq!(
            parsed["rustc"],
            Policy {
                candidate: Some("1.97.1+dfsg1-1~bpo13+1".into()),
                versions: vec![
                    "1.97.1+dfsg1-1~bpo13+1".into(),
                    "1.85.1+dfsg1-1+deb13u1".into()
                ],
            }
        );
        assert_eq!(
            parsed["libstd-rust-dev:arm64"].versions,
            ["1.97.1+dfsg1-1~bpo13+1"]
        );
        assert_eq!(parsed["snapshot"], Policy::default());
        assert!(!parsed.contains_key("hello"));
    }

    /// `name[:arch]=pinned` served at `versions` (newest first), the first
    /// of them being apt's candidate.
    fn served(spec: &str, versions: &[&str]) -> Resolved {
        let (name, pinned) = spec.split_once('=').unwrap();
        let (name, arch) = match name.split_once(':') {
            Some((name, arch)) => (name, Some(arch.to_owned())),
            None => (name, None),
        };
        Resolved {
            pin: PackagePin {
                name: name.into(),
                arch,
                version: pinned.into(),
            },
            pinned_available: versions.contains(&pinned),
            candidate: versions.first().map(|v| v.to_string()),
            versions: versions.iter().map(|v| v.to_string()).collect(),
        }
    }

    fn shown(pins: Result<Vec<PackagePin>>) -> Vec<String> {
        pins.unwrap().iter().map(|p| p.to_string()).collect()
    }

    #[test]
    fn resolution_names_what_is_gone() {
        let resolution = Resolution {
            packages: vec![
                served("rustc=1.96.1", &["1.97.1", "1.85.1"]),
                served("gcc=14", &["14"]),
            ],
        };
        assert_eq!(resolution.missing_pins().len(), 1);
        assert_eq!(shown(resolution.current_pins()), ["rustc=1.97.1", "gcc=14"]);
        assert_eq!(
            shown(resolution.pins_or_current()),
            ["rustc=1.97.1", "gcc=14"]
        );
        let mut kept = resolution.clone();
        kept.packages[1] = served("gcc=14", &["15", "14"]);
        assert_eq!(shown(kept.pins_or_current()), ["rustc=1.97.1", "gcc=14"]);
        assert_eq!(shown(kept.current_pins()), ["rustc=1.97.1", "gcc=15"]);
        let gone = Resolution {
            packages: vec![served("hello=1", &[])],
        };
        let err = gone.current_pins().unwrap_err().to_string();
        assert!(err.contains("no hello at any version"), "{err}");
        // A member gone is named as gone, not as a version skew.
        let half_gone = Resolution {
            packages: vec![served("lib=1", &["2", "1"]), served("lib:arm64=1", &[])],
        };
        let err = half_gone.current_pins().unwrap_err().to_string();
        assert!(err.contains("no lib:arm64 at any version"), "{err}");
    }

    /// The toolchain's packages share one version: while the archive has a
    /// new upload for amd64 only, they stay where every one of them is
    /// served, and never go below the pins.
    #[test]
    fn packages_pinned_together_move_together() {
        let toolchain = |arm64: &[&str]| Resolution {
            packages: vec![
                served("rustc=1.97", &["1.98", "1.97", "1.85"]),
                served("libstd-rust-dev=1.97", &["1.98", "1.97", "1.85"]),
                served("libstd-rust-dev:arm64=1.97", arm64),
                served("gcc=14", &["15", "14"]),
            ],
        };
        let lagging = toolchain(&["1.97", "1.85"]);
        assert_eq!(
            shown(lagging.current_pins()),
            [
                "rustc=1.97",
                "libstd-rust-dev=1.97",
                "libstd-rust-dev:arm64=1.97",
                "gcc=15"
            ]
        );
        let caught_up = toolchain(&["1.98", "1.85"]);
        assert_eq!(
            shown(caught_up.current_pins()),
            [
                "rustc=1.98",
                "libstd-rust-dev=1.98",
                "libstd-rust-dev:arm64=1.98",
                "gcc=15"
            ]
        );
        // The pins are gone where the archive keeps one version per suite
        // and the new one is built for amd64 only: no set installs, and
        // 1.85 (older than the pins) is not offered instead.
        let mut skewed = toolchain(&["1.97", "1.85"]);
        for resolved in &mut skewed.packages[..2] {
            *resolved = served(&resolved.pin.to_string(), &["1.98", "1.85"]);
        }
        for choice in [skewed.current_pins(), skewed.pins_or_current()] {
            let err = choice.unwrap_err().to_string();
            assert!(err.contains("pinned together at 1.97"), "{err}");
            assert!(
                err.contains("rustc at 1.98") && err.contains("libstd-rust-dev:arm64 at 1.97"),
                "{err}"
            );
        }
        // With the pins still served, a group is kept whole.
        assert_eq!(
            shown(lagging.pins_or_current()),
            [
                "rustc=1.97",
                "libstd-rust-dev=1.97",
                "libstd-rust-dev:arm64=1.97",
                "gcc=14"
            ]
        );
    }

    #[test]
    fn snapshots_skip_the_expiry_check() {
        let root = Path::new("/tmp/x");
        assert!(!apt_config(root, ArchiveKind::Live).contains("Check-Valid-Until"));
        assert!(apt_config(root, ArchiveKind::Snapshot).contains("Check-Valid-Until \"false\""));
        assert!(
            apt_config(root, ArchiveKind::Live)
                .contains("APT::Architectures { \"amd64\"; \"arm64\"; }")
        );
    }
}
