//! Version stamping, as hack/lib/version.sh does it: the git version rewritten
//! to semver, the commit, the tree state, the build date from
//! SOURCE_DATE_EPOCH (never the clock). Values already in the environment
//! (`KUBE_GIT_VERSION`, ...) win. Components receive the stamp as `KUBE_*`
//! compile-time environment variables (see component-base's `version`).

use anyhow::{Context, Result, bail};
use xshell::{Shell, cmd};

use crate::workspace::Workspace;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    pub git_version: String,
    pub git_commit: String,
    /// `clean`, `dirty` or `archive` (a tree that is not a git checkout).
    pub git_tree_state: String,
    pub major: String,
    pub minor: String,
    /// Seconds since the epoch; every archive mtime and the build date.
    pub source_date_epoch: u64,
}

/// What the stamp is made from; separated from git so it can be tested.
#[derive(Debug, Default)]
pub struct Inputs {
    pub env_version: Option<String>,
    pub env_commit: Option<String>,
    pub env_tree_state: Option<String>,
    pub env_major: Option<String>,
    pub env_minor: Option<String>,
    pub env_source_date_epoch: Option<String>,
    pub git: Option<GitFacts>,
}

/// What git says about the checkout.
#[derive(Debug)]
pub struct GitFacts {
    /// `git describe --tags --match 'v*' --abbrev=14`, or None without a tag.
    pub describe: Option<String>,
    pub commit: String,
    pub commit_count: u64,
    pub dirty: bool,
    /// `git log -1 --format=%ct`.
    pub commit_time: u64,
}

/// The version file a source tarball carries at its root (upstream's
/// `KUBE_GIT_VERSION_FILE` format: `NAME='value'` lines): a tree that is not
/// a git checkout is stamped from it, as the commit it came from.
pub const VERSION_FILE: &str = ".kube-version";

/// The variables of the version file, in its order.
const VERSION_FILE_VARS: [&str; 6] = [
    "KUBE_GIT_COMMIT",
    "KUBE_GIT_TREE_STATE",
    "KUBE_GIT_VERSION",
    "KUBE_GIT_MAJOR",
    "KUBE_GIT_MINOR",
    "SOURCE_DATE_EPOCH",
];

impl Stamp {
    pub fn from_checkout(ws: &Workspace) -> Result<Stamp> {
        let git = GitFacts::read(ws)?;
        let file = match &git {
            Some(_) => Vec::new(),
            None => read_version_file(&ws.root.join(VERSION_FILE).into_std_path_buf())?,
        };
        // The environment wins, then the version file (outside git).
        let var = |name: &str| {
            std::env::var(name)
                .ok()
                .filter(|v| !v.is_empty())
                .or_else(|| file.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone()))
        };
        let inputs = Inputs {
            env_version: var("KUBE_GIT_VERSION"),
            env_commit: var("KUBE_GIT_COMMIT"),
            env_tree_state: var("KUBE_GIT_TREE_STATE"),
            env_major: var("KUBE_GIT_MAJOR"),
            env_minor: var("KUBE_GIT_MINOR"),
            env_source_date_epoch: var("SOURCE_DATE_EPOCH"),
            git,
        };
        Stamp::compute(inputs, &ws.kubernetes_api_version)
            .with_context(|| format!("stamping the version of {}", ws.root))
    }

    pub fn compute(inputs: Inputs, api_version: &str) -> Result<Stamp> {
        let git = inputs.git.as_ref();
        let git_tree_state = match (&inputs.env_tree_state, git) {
            (Some(state), _) => state.clone(),
            (None, Some(g)) if g.dirty => "dirty".to_owned(),
            (None, Some(_)) => "clean".to_owned(),
            (None, None) => "archive".to_owned(),
        };
        let git_version = match (&inputs.env_version, git) {
            (Some(version), _) => version.clone(),
            (None, Some(g)) => {
                let describe = match &g.describe {
                    Some(d) => d.clone(),
                    // No tag: count from the API version's alpha.0, as if it were tagged at the root.
                    None => format!(
                        "v{api_version}.0-alpha.0-{}-g{}",
                        g.commit_count,
                        abbrev(&g.commit)
                    ),
                };
                describe_to_semver(&describe, git_tree_state == "dirty")
            }
            (None, None) => bail!(
                "not a git checkout and KUBE_GIT_VERSION is not set: run from a git clone, \
                 or set KUBE_GIT_VERSION (and KUBE_GIT_COMMIT, SOURCE_DATE_EPOCH) for a source archive"
            ),
        };
        let (parsed_major, parsed_minor) = parse_major_minor(&git_version)?;
        let git_commit = match (&inputs.env_commit, git) {
            (Some(commit), _) => commit.clone(),
            (None, Some(g)) => g.commit.clone(),
            (None, None) => String::new(),
        };
        let source_date_epoch = match (&inputs.env_source_date_epoch, git) {
            (Some(epoch), _) => epoch.trim().parse().with_context(|| {
                format!("SOURCE_DATE_EPOCH={epoch:?} is not a number of seconds since 1970")
            })?,
            (None, Some(g)) => g.commit_time,
            (None, None) => bail!(
                "not a git checkout: set SOURCE_DATE_EPOCH (seconds) so the build date is not the clock"
            ),
        };
        Ok(Stamp {
            git_version,
            git_commit,
            git_tree_state,
            major: inputs.env_major.unwrap_or(parsed_major),
            minor: inputs.env_minor.unwrap_or(parsed_minor),
            source_date_epoch,
        })
    }

    /// The version file's contents for this stamp (`VERSION_FILE`).
    pub fn version_file(&self) -> String {
        let values = [
            &self.git_commit,
            &self.git_tree_state,
            &self.git_version,
            &self.major,
            &self.minor,
            &self.source_date_epoch.to_string(),
        ];
        let mut out = String::from(
            "# The version of this source tree, written by cargo xtask release: a tree\n\
             # that is not a git checkout is stamped from it (the environment wins).\n",
        );
        for (name, value) in VERSION_FILE_VARS.iter().zip(values) {
            out.push_str(&format!("{name}='{value}'\n"));
        }
        out
    }

    /// `%Y-%m-%dT%H:%M:%SZ` of SOURCE_DATE_EPOCH.
    pub fn build_date(&self) -> String {
        rfc3339_utc(self.source_date_epoch)
    }

    /// The compile-time environment that component-base's `version` reads,
    /// and `SOURCE_DATE_EPOCH` for compilers of C code in dependencies:
    /// `compiler_epoch` (see `build::compiler_epoch`), not the commit's time,
    /// which would rebuild every C-backed crate (cc tracks the variable) on
    /// every commit.
    pub fn rustc_env(
        &self,
        rustc_version: &str,
        compiler_epoch: u64,
    ) -> Vec<(&'static str, String)> {
        vec![
            ("KUBE_GIT_VERSION", self.git_version.clone()),
            ("KUBE_GIT_COMMIT", self.git_commit.clone()),
            ("KUBE_GIT_TREE_STATE", self.git_tree_state.clone()),
            ("KUBE_GIT_MAJOR", self.major.clone()),
            ("KUBE_GIT_MINOR", self.minor.clone()),
            ("KUBE_BUILD_DATE", self.build_date()),
            ("KUBE_RUSTC_VERSION", rustc_version.to_owned()),
            ("SOURCE_DATE_EPOCH", compiler_epoch.to_string()),
        ]
    }
}

impl GitFacts {
    /// None when the workspace is not inside a git work tree.
    fn read(ws: &Workspace) -> Result<Option<GitFacts>> {
        let sh = Shell::new()?;
        sh.change_dir(&ws.root);
        let inside = cmd!(sh, "git rev-parse --is-inside-work-tree")
            .quiet()
            .ignore_stderr()
            .read();
        if inside.map(|s| s.trim() != "true").unwrap_or(true) {
            return Ok(None);
        }
        let head = "HEAD^{commit}";
        let commit = cmd!(sh, "git rev-parse {head}")
            .quiet()
            .read()
            .context("this git checkout has no commit yet: commit first")?;
        let describe = cmd!(sh, "git describe --tags --match v* --abbrev=14 {head}")
            .quiet()
            .ignore_stderr()
            .read()
            .ok();
        let commit_count = cmd!(sh, "git rev-list --count HEAD")
            .quiet()
            .read()?
            .trim()
            .parse()?;
        let status = cmd!(sh, "git status --porcelain").quiet().read()?;
        let commit_time = cmd!(sh, "git log -1 --format=%ct HEAD")
            .quiet()
            .read()?
            .trim()
            .parse()?;
        Ok(Some(GitFacts {
            describe,
            commit: commit.trim().to_owned(),
            commit_count,
            dirty: !status.trim().is_empty(),
            commit_time,
        }))
    }
}

/// (name, value) pairs of a version file; none when there is no file.
fn read_version_file(path: &std::path::Path) -> Result<Vec<(String, String)>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    parse_version_file(&text).with_context(|| format!("reading {}", path.display()))
}

fn parse_version_file(text: &str) -> Result<Vec<(String, String)>> {
    let mut vars = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let parsed = line.split_once('=').and_then(|(name, value)| {
            let value = value.strip_prefix('\'')?.strip_suffix('\'')?;
            (VERSION_FILE_VARS.contains(&name) && !value.contains('\''))
                .then(|| (name.to_owned(), value.to_owned()))
        });
        match parsed {
            Some(var) => vars.push(var),
            None => bail!(
                "unexpected line {line:?}: want NAME='value' with NAME one of {}",
                VERSION_FILE_VARS.join(", ")
            ),
        }
    }
    Ok(vars)
}

fn abbrev(commit: &str) -> &str {
    &commit[..commit.len().min(14)]
}

/// hack/lib/version.sh's rewrite of `git describe` into semver:
/// `v1.1.0-alpha.0-6-g84c76d1142ea4d` → `v1.1.0-alpha.0.6+84c76d1142ea4d`,
/// `v1.1.0-1-g84c76d1142ea4d` → `v1.1.0-1+84c76d1142ea4d`, `-dirty` appended
/// for a dirty tree.
pub fn describe_to_semver(describe: &str, dirty: bool) -> String {
    let dashes = describe.matches('-').count();
    let mut version = match split_distance(describe) {
        Some((base, distance, hash)) if dashes == 3 => format!("{base}.{distance}+{hash}"),
        Some((base, distance, hash)) if dashes == 2 => format!("{base}-{distance}+{hash}"),
        _ => describe.to_owned(),
    };
    if dirty {
        version.push_str("-dirty");
    }
    version
}

/// `BASE-N-gHASH` with a 14-digit hex hash → (BASE, N, HASH).
fn split_distance(describe: &str) -> Option<(&str, &str, &str)> {
    let (rest, hash) = describe.rsplit_once("-g")?;
    let (base, distance) = rest.rsplit_once('-')?;
    let is_hash = hash.len() == 14
        && hash
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
    let is_distance = !distance.is_empty() && distance.bytes().all(|b| b.is_ascii_digit());
    (is_hash && is_distance).then_some((base, distance, hash))
}

/// Major and minor from a semver git version; the minor gets a `+` when the
/// version has a pre-release part (a build between tags), as upstream does.
/// Refuses anything that is not `vMAJOR.MINOR[.PATCH][-PRE][+BUILD]`.
pub fn parse_major_minor(version: &str) -> Result<(String, String)> {
    let invalid = || {
        anyhow::anyhow!(
            "version {version:?} is not a valid semantic version (vMAJOR.MINOR[.PATCH][-PRERELEASE][+BUILD]); \
             fix the tag or KUBE_GIT_VERSION"
        )
    };
    let rest = version.strip_prefix('v').ok_or_else(invalid)?;
    let (rest, build) = match rest.split_once('+') {
        Some((r, b)) => (r, Some(b)),
        None => (rest, None),
    };
    let (core, pre) = match rest.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (rest, None),
    };
    let numbers: Vec<&str> = core.split('.').collect();
    let is_number = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let is_ident = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
    };
    if !(2..=3).contains(&numbers.len()) || !numbers.iter().all(|n| is_number(n)) {
        return Err(invalid());
    }
    if pre.is_some_and(|p| !is_ident(p)) || build.is_some_and(|b| !is_ident(b)) {
        return Err(invalid());
    }
    let mut minor = numbers[1].to_owned();
    if pre.is_some() {
        minor.push('+');
    }
    Ok((numbers[0].to_owned(), minor))
}

/// Seconds since the epoch as `YYYY-MM-DDTHH:MM:SSZ` (UTC), by the civil-from-days
/// algorithm (Howard Hinnant's `civil_from_days`).
pub fn rfc3339_utc(epoch: u64) -> String {
    let days = (epoch / 86_400) as i64;
    let secs = epoch % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "84c76d1142ea4d";
    const COMMIT: &str = "84c76d1142ea4d5c1d6e2f0a3b4c5d6e7f809192";

    fn git(describe: Option<&str>, dirty: bool) -> Inputs {
        Inputs {
            git: Some(GitFacts {
                describe: describe.map(str::to_owned),
                commit: COMMIT.to_owned(),
                commit_count: 6,
                dirty,
                commit_time: 1_700_000_000,
            }),
            ..Inputs::default()
        }
    }

    #[test]
    fn describe_outputs_become_semver() {
        let cases = [
            // exact tag
            ("v1.32.0", false, "v1.32.0", "1", "32"),
            // between tags, after a pre-release tag
            (
                "v1.32.0-alpha.0-6-g84c76d1142ea4d",
                false,
                "v1.32.0-alpha.0.6+84c76d1142ea4d",
                "1",
                "32+",
            ),
            // between tags, after a release tag
            (
                "v1.32.1-3-g84c76d1142ea4d",
                false,
                "v1.32.1-3+84c76d1142ea4d",
                "1",
                "32+",
            ),
            // dirty tree
            ("v1.32.0", true, "v1.32.0-dirty", "1", "32+"),
            (
                "v1.32.0-rc.1-6-g84c76d1142ea4d",
                true,
                "v1.32.0-rc.1.6+84c76d1142ea4d-dirty",
                "1",
                "32+",
            ),
        ];
        for (describe, dirty, version, major, minor) in cases {
            let stamp = Stamp::compute(git(Some(describe), dirty), "1.32").unwrap();
            assert_eq!(stamp.git_version, version, "{describe}");
            assert_eq!(
                (stamp.major.as_str(), stamp.minor.as_str()),
                (major, minor),
                "{describe}"
            );
            assert_eq!(stamp.git_tree_state, if dirty { "dirty" } else { "clean" });
            assert_eq!(stamp.git_commit, COMMIT);
            assert_eq!(stamp.source_date_epoch, 1_700_000_000);
        }
    }

    #[test]
    fn no_tag_still_gets_a_semver_version_for_the_api_minor() {
        let stamp = Stamp::compute(git(None, false), "1.32").unwrap();
        assert_eq!(stamp.git_version, format!("v1.32.0-alpha.0.6+{HASH}"));
        assert_eq!((stamp.major.as_str(), stamp.minor.as_str()), ("1", "32+"));
        parse_major_minor(&stamp.git_version).unwrap();
    }

    #[test]
    fn archive_tree_uses_the_environment() {
        let inputs = Inputs {
            env_version: Some("v1.32.2".into()),
            env_commit: Some(COMMIT.into()),
            env_source_date_epoch: Some("86400".into()),
            ..Inputs::default()
        };
        let stamp = Stamp::compute(inputs, "1.32").unwrap();
        assert_eq!(stamp.git_tree_state, "archive");
        assert_eq!(stamp.git_version, "v1.32.2");
        assert_eq!((stamp.major.as_str(), stamp.minor.as_str()), ("1", "32"));
        assert_eq!(stamp.build_date(), "1970-01-02T00:00:00Z");
    }

    #[test]
    fn version_file_round_trips() {
        let stamp = Stamp::compute(git(Some("v1.32.0"), false), "1.32").unwrap();
        let vars = parse_version_file(&stamp.version_file()).unwrap();
        let var = |name: &str| vars.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
        let inputs = Inputs {
            env_version: var("KUBE_GIT_VERSION"),
            env_commit: var("KUBE_GIT_COMMIT"),
            env_tree_state: var("KUBE_GIT_TREE_STATE"),
            env_major: var("KUBE_GIT_MAJOR"),
            env_minor: var("KUBE_GIT_MINOR"),
            env_source_date_epoch: var("SOURCE_DATE_EPOCH"),
            git: None,
        };
        assert_eq!(Stamp::compute(inputs, "1.32").unwrap(), stamp);
        assert!(parse_version_file("KUBE_GIT_VERSION=v1").is_err());
        assert!(parse_version_file("PATH='/bin'").is_err());
    }

    #[test]
    fn archive_tree_without_a_version_is_a_clear_error() {
        let err = Stamp::compute(Inputs::default(), "1.32")
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a git checkout"), "{err}");
        assert!(err.contains("KUBE_GIT_VERSION"), "{err}");
    }

    #[test]
    fn environment_wins_over_git() {
        let mut inputs = git(Some("v1.32.0"), true);
        inputs.env_version = Some("v1.32.7".into());
        inputs.env_tree_state = Some("clean".into());
        inputs.env_minor = Some("32".into());
        inputs.env_source_date_epoch = Some("0".into());
        let stamp = Stamp::compute(inputs, "1.32").unwrap();
        assert_eq!(stamp.git_version, "v1.32.7");
        assert_eq!(stamp.git_tree_state, "clean");
        assert_eq!(stamp.source_date_epoch, 0);
    }

    #[test]
    fn invalid_versions_are_refused() {
        for bad in [
            "1.32.0",
            "v1",
            "v1.x.0",
            "v1.32.0.1",
            "v1.32.0-",
            "v1.32.0+",
            "v1.32.0-al_pha",
        ] {
            assert!(parse_major_minor(bad).is_err(), "{bad} accepted");
        }
        let mut inputs = git(None, false);
        inputs.env_version = Some("release-1.32".into());
        let err = Stamp::compute(inputs, "1.32").unwrap_err().to_string();
        assert!(err.contains("not a valid semantic version"), "{err}");
        let mut inputs = git(None, false);
        inputs.env_source_date_epoch = Some("yesterday".into());
        assert!(Stamp::compute(inputs, "1.32").is_err());
    }

    #[test]
    fn build_date_is_utc_rfc3339() {
        assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339_utc(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339_utc(4_102_444_799), "2099-12-31T23:59:59Z");
    }
}
