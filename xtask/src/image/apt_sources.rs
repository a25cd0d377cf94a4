//! Where the image's packages come from. Debian's archive is found in this
//! machine's own apt configuration (deb822 `.sources` files and one-line
//! `sources.list` entries), never written in our code; environment variables
//! override it, name a snapshot archive (old versions by timestamp) and the
//! keyring that signs them.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::definition::Snapshot;

/// A Debian mirror's URL (`http://HOST/debian`), instead of the one in this
/// machine's apt sources.
pub const ARCHIVE_ENV: &str = "KUBE_CROSS_ARCHIVE";
/// A snapshot archive's URL (`http://HOST/archive/debian`): the state at a
/// timestamp is served under `<URL>/<YYYYMMDDTHHMMSSZ>/`, as Debian's
/// snapshot service does.
pub const SNAPSHOT_ENV: &str = "KUBE_CROSS_SNAPSHOT";
/// An OpenPGP keyring that signs those archives (apt's `signed-by`); by
/// default the keys apt on this machine trusts.
pub const KEYRING_ENV: &str = "KUBE_CROSS_KEYRING";

/// The suite the image is made from: the Debian release alone. Its Rust is
/// `rustc-web`, the toolchain Debian keeps current within the stable release;
/// a stable release moves only at point releases, which publish every
/// architecture at once, so the native and arm64 standard libraries never
/// stand at two versions (backports publishes each architecture when it is
/// built, and its amd64 toolchain can be a version ahead for days).
pub const SUITE: &str = "trixie";

/// One archive to install the image's packages from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Archive {
    /// The URL apt is given (for a snapshot, with the timestamp).
    pub url: String,
    /// Where the address came from, for messages.
    pub origin: String,
    /// `signed-by` for its sources; `None`: apt's trusted keys.
    pub keyring: Option<PathBuf>,
    pub kind: ArchiveKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveKind {
    /// The archive as it is today: one version of each package per suite.
    Live,
    /// The archive as it was at the definition's snapshot timestamp.
    Snapshot,
}

impl Archive {
    /// The archive state at `snapshot`, when `KUBE_CROSS_SNAPSHOT` names a
    /// snapshot service.
    pub fn snapshot_from_env(snapshot: &Snapshot) -> Result<Option<Archive>> {
        let Some(base) = non_empty_env(SNAPSHOT_ENV) else {
            return Ok(None);
        };
        check_url(&base).with_context(|| format!("{SNAPSHOT_ENV}={base}"))?;
        Ok(Some(Archive {
            url: format!("{}/{}/", base.trim_end_matches('/'), snapshot.timestamp),
            origin: SNAPSHOT_ENV.to_owned(),
            keyring: keyring_from_env()?,
            kind: ArchiveKind::Snapshot,
        }))
    }

    /// The live archive: `KUBE_CROSS_ARCHIVE`, else the Debian archive in
    /// this machine's apt sources.
    pub fn live() -> Result<Archive> {
        let keyring = keyring_from_env()?;
        if let Some(url) = non_empty_env(ARCHIVE_ENV) {
            check_url(&url).with_context(|| format!("{ARCHIVE_ENV}={url}"))?;
            return Ok(Archive {
                url,
                origin: ARCHIVE_ENV.to_owned(),
                keyring,
                kind: ArchiveKind::Live,
            });
        }
        let codename = host_codename(Path::new("/etc/os-release"));
        let (entry, file) = debian_archive_of_machine(Path::new("/etc/apt"), codename.as_deref())?;
        let keyring = keyring.or_else(|| entry.signed_by_file());
        Ok(Archive {
            url: entry.uri,
            origin: file.display().to_string(),
            keyring,
            kind: ArchiveKind::Live,
        })
    }

    /// One-line apt sources for the image's suite.
    pub fn source_lines(&self) -> Vec<String> {
        let options = match &self.keyring {
            Some(keyring) => format!("[signed-by={}] ", keyring.display()),
            None => String::new(),
        };
        vec![format!("deb {options}{} {SUITE} main", self.url)]
    }

    /// `Debian's archive at URL (from ORIGIN)`, for messages.
    pub fn describe(&self) -> String {
        let what = match self.kind {
            ArchiveKind::Live => "Debian's archive",
            ArchiveKind::Snapshot => "the snapshot archive",
        };
        format!("{what} at {} (from {})", self.url, self.origin)
    }
}

fn non_empty_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn keyring_from_env() -> Result<Option<PathBuf>> {
    let Some(path) = non_empty_env(KEYRING_ENV) else {
        return Ok(None);
    };
    let path = std::path::absolute(&path).with_context(|| format!("{KEYRING_ENV}={path}"))?;
    if !path.is_file() {
        bail!(
            "{KEYRING_ENV}={} is not a file: it must name the OpenPGP keyring that signs the archive",
            path.display()
        );
    }
    Ok(Some(path))
}

fn check_url(url: &str) -> Result<()> {
    let scheme_ok = ["http://", "https://", "file:"]
        .iter()
        .any(|scheme| url.starts_with(scheme));
    if !scheme_ok || url.chars().any(|c| c.is_whitespace() || c == ']') {
        bail!("not an archive URL: use http://, https:// or file: without spaces");
    }
    Ok(())
}

/// One `deb` source of apt's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceEntry {
    pub uri: String,
    pub suites: Vec<String>,
    pub components: Vec<String>,
    /// apt's `Signed-By`: key file paths or an inline key block.
    pub signed_by: Option<String>,
}

impl SourceEntry {
    /// The keyring file, when `Signed-By` names exactly one.
    fn signed_by_file(&self) -> Option<PathBuf> {
        let value = self.signed_by.as_deref()?.trim();
        (value.starts_with('/') && !value.contains(char::is_whitespace))
            .then(|| PathBuf::from(value))
    }
}

/// `VERSION_CODENAME` of `/etc/os-release`.
fn host_codename(os_release: &Path) -> Option<String> {
    let text = std::fs::read_to_string(os_release).ok()?;
    text.lines()
        .find_map(|line| line.strip_prefix("VERSION_CODENAME="))
        .map(|v| v.trim().trim_matches('"').to_owned())
        .filter(|v| !v.is_empty())
}

/// The Debian archive among this machine's apt sources (under `etc_apt`):
/// the first enabled `deb` entry with `main` that serves this machine's own
/// release (`codename`, or its `-updates`/`-backports`), else the first whose
/// path ends in `/debian`. Security archives never qualify.
pub fn debian_archive_of_machine(
    etc_apt: &Path,
    codename: Option<&str>,
) -> Result<(SourceEntry, PathBuf)> {
    let mut files = Vec::new();
    let list = etc_apt.join("sources.list");
    if list.is_file() {
        files.push(list);
    }
    if let Ok(dir) = std::fs::read_dir(etc_apt.join("sources.list.d")) {
        let mut parts: Vec<PathBuf> = dir
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                matches!(
                    p.extension().and_then(|e| e.to_str()),
                    Some("list" | "sources")
                )
            })
            .collect();
        parts.sort();
        files.extend(parts);
    }
    let mut entries = Vec::new();
    for file in &files {
        let text =
            std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        let parsed = if file.extension().and_then(|e| e.to_str()) == Some("sources") {
            parse_deb822(&text)
        } else {
            parse_one_line(&text)
        };
        entries.extend(parsed.into_iter().map(|entry| (entry, file.clone())));
    }
    let candidates: Vec<&(SourceEntry, PathBuf)> = entries
        .iter()
        .filter(|(entry, _)| {
            entry.components.iter().any(|c| c == "main")
                && (entry.uri.starts_with("http://")
                    || entry.uri.starts_with("https://")
                    || entry.uri.starts_with("file:"))
                && !entry.uri.trim_end_matches('/').ends_with("-security")
                && !entry.suites.iter().any(|s| s.ends_with("-security"))
        })
        .collect();
    let serves_host = |entry: &SourceEntry| {
        codename.is_some_and(|codename| {
            entry.suites.iter().any(|suite| {
                suite == codename
                    || suite
                        .strip_prefix(codename)
                        .is_some_and(|rest| matches!(rest, "-updates" | "-backports"))
            })
        })
    };
    let chosen = candidates
        .iter()
        .find(|(entry, _)| serves_host(entry))
        .or_else(|| {
            candidates
                .iter()
                .find(|(entry, _)| entry.uri.trim_end_matches('/').ends_with("/debian"))
        });
    match chosen {
        Some((entry, file)) => Ok((entry.clone(), file.clone())),
        None => bail!(
            "no Debian archive among this machine's apt sources ({}): set {ARCHIVE_ENV} to a Debian \
             mirror's URL, or {SNAPSHOT_ENV} to a snapshot archive, or load a saved image \
             (cargo xtask image load FILE)",
            if files.is_empty() {
                format!("nothing in {}", etc_apt.display())
            } else {
                files
                    .iter()
                    .map(|f| f.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        ),
    }
}

/// apt's deb822 sources: paragraphs of `Field: value` lines, continuation
/// lines indented, `#` comments. Enabled `deb` entries, one per URI.
pub fn parse_deb822(text: &str) -> Vec<SourceEntry> {
    let mut entries = Vec::new();
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut flush = |fields: &mut Vec<(String, String)>| {
        let get = |name: &str| {
            fields
                .iter()
                .find(|(field, _)| field.eq_ignore_ascii_case(name))
                .map(|(_, value)| value.as_str())
        };
        let words = |name: &str| -> Vec<String> {
            get(name)
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_owned)
                .collect()
        };
        let enabled = get("Enabled").is_none_or(|v| !v.trim().eq_ignore_ascii_case("no"));
        if enabled && words("Types").iter().any(|t| t == "deb") {
            for uri in words("URIs") {
                entries.push(SourceEntry {
                    uri,
                    suites: words("Suites"),
                    components: words("Components"),
                    signed_by: get("Signed-By").map(|v| v.trim().to_owned()),
                });
            }
        }
        fields.clear();
    };
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        if line.trim().is_empty() {
            flush(&mut fields);
        } else if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = fields.last_mut() {
                value.push('\n');
                value.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            fields.push((name.trim().to_owned(), value.trim().to_owned()));
        }
    }
    flush(&mut fields);
    entries
}

/// apt's one-line sources: `deb [opt=value ...] URI SUITE [COMPONENT...]`.
pub fn parse_one_line(text: &str) -> Vec<SourceEntry> {
    let mut entries = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or_default().trim();
        let Some(rest) = line
            .strip_prefix("deb ")
            .or_else(|| line.strip_prefix("deb\t"))
        else {
            continue;
        };
        let rest = rest.trim_start();
        let (options, rest) = match rest.strip_prefix('[') {
            Some(inner) => match inner.split_once(']') {
                Some((options, rest)) => (options, rest),
                None => continue,
            },
            None => ("", rest),
        };
        let mut words = rest.split_whitespace();
        let (Some(uri), Some(suite)) = (words.next(), words.next()) else {
            continue;
        };
        let signed_by = options
            .split_whitespace()
            .find_map(|option| option.strip_prefix("signed-by="))
            .map(str::to_owned);
        entries.push(SourceEntry {
            uri: uri.to_owned(),
            suites: vec![suite.to_owned()],
            components: words.map(str::to_owned).collect(),
            signed_by,
        });
    }
    entries
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEB822: &str = "\
Types: deb
# http://snapshot.example/archive/debian/20250520T000000Z
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb deb-src
URIs: https://one.example/debian https://two.example/debian
Suites: trixie
Components: main contrib
Enabled: no

Types: deb
URIs: https://vendor.example/apt
Suites: nodistro
Components: main
Signed-By:
 -----BEGIN PGP PUBLIC KEY BLOCK-----
 .
 mQINBF...
 -----END PGP PUBLIC KEY BLOCK-----
";

    #[test]
    fn deb822_paragraphs_fields_and_continuations() {
        let entries = parse_deb822(DEB822);
        assert_eq!(entries.len(), 3, "{entries:#?}");
        assert_eq!(entries[0].uri, "http://mirror.example/debian");
        assert_eq!(entries[0].suites, ["bookworm", "bookworm-updates"]);
        assert_eq!(
            entries[0].signed_by_file(),
            Some(PathBuf::from(
                "/usr/share/keyrings/debian-archive-keyring.gpg"
            ))
        );
        assert_eq!(entries[1].suites, ["bookworm-security"]);
        // The disabled paragraph is skipped; the inline key is not a file.
        assert_eq!(entries[2].uri, "https://vendor.example/apt");
        assert!(
            entries[2]
                .signed_by
                .as_deref()
                .unwrap()
                .contains("BEGIN PGP")
        );
        assert_eq!(entries[2].signed_by_file(), None);
    }

    #[test]
    fn one_line_entries_with_options_and_comments() {
        let entries = parse_one_line(
            "# comment\n\
             deb-src http://mirror.example/debian trixie main\n\
             deb [arch=amd64 signed-by=/etc/k.gpg] http://mirror.example/debian trixie main contrib # tail\n\
             deb http://vendor.example/apt nodistro main\n\
             deb [broken http://x.example/ y\n",
        );
        assert_eq!(entries.len(), 2, "{entries:#?}");
        assert_eq!(entries[0].uri, "http://mirror.example/debian");
        assert_eq!(entries[0].suites, ["trixie"]);
        assert_eq!(entries[0].components, ["main", "contrib"]);
        assert_eq!(entries[0].signed_by.as_deref(), Some("/etc/k.gpg"));
    }

    #[test]
    fn the_machines_debian_archive_is_the_one_serving_its_release() {
        let dir = tempfile::tempdir().unwrap();
        let etc = dir.path();
        std::fs::create_dir_all(etc.join("sources.list.d")).unwrap();
        // A vendor repository sorts first and a security archive is listed:
        // neither is Debian's archive for this release.
        std::fs::write(
            etc.join("sources.list"),
            "deb http://vendor.example/apt nodistro main\n",
        )
        .unwrap();
        std::fs::write(etc.join("sources.list.d/debian.sources"), DEB822).unwrap();
        std::fs::write(
            etc.join("sources.list.d/other.list.disabled"),
            "deb http://ignored.example/debian bookworm main\n",
        )
        .unwrap();
        let (entry, file) = debian_archive_of_machine(etc, Some("bookworm")).unwrap();
        assert_eq!(entry.uri, "http://mirror.example/debian");
        assert!(file.ends_with("sources.list.d/debian.sources"));

        // Another release's machine: the /debian path decides.
        let (entry, _) = debian_archive_of_machine(etc, Some("noble")).unwrap();
        assert_eq!(entry.uri, "http://mirror.example/debian");

        std::fs::remove_file(etc.join("sources.list.d/debian.sources")).unwrap();
        let err = debian_archive_of_machine(etc, Some("bookworm"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(ARCHIVE_ENV) && err.contains("sources.list"),
            "{err}"
        );
    }

    #[test]
    fn sources_for_the_image_suites() {
        let archive = Archive {
            url: "http://mirror.example/debian".into(),
            origin: "test".into(),
            keyring: Some(PathBuf::from("/k.gpg")),
            kind: ArchiveKind::Live,
        };
        assert_eq!(
            archive.source_lines(),
            ["deb [signed-by=/k.gpg] http://mirror.example/debian trixie main",]
        );
        assert!(check_url("ftp://x").is_err());
        assert!(check_url("http://x/ y").is_err());
        assert!(check_url("http://127.0.0.1:8/debian").is_ok());
    }

    #[test]
    fn os_release_codename() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("os-release");
        std::fs::write(&file, "NAME=\"Debian\"\nVERSION_CODENAME=bookworm\n").unwrap();
        assert_eq!(host_codename(&file).as_deref(), Some("bookworm"));
        assert_eq!(host_codename(&dir.path().join("missing")), None);
    }
}
