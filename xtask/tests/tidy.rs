//! The repository's own rules, checked on every `cargo xtask test` (as
//! rust-analyzer's `tidy`): every Rust file opens with a `//!` comment
//! saying what it owns; every document a file names (`*.md`) and every
//! relative Markdown link exists in the repository; ARCHITECTURE.md's code
//! map names only paths that exist and names every crate and module; and no
//! tracked file names a package registry or archive host this machine is
//! configured to use (addresses belong to the machine's configuration, not
//! the code).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use regex::Regex;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace holds the xtask")
        .to_path_buf()
}

/// Every file git tracks, relative to the root.
fn tracked() -> Vec<String> {
    let output = Command::new("git")
        .arg("-C")
        .arg(root())
        .args(["ls-files", "-z"])
        .output()
        .expect("run git ls-files");
    assert!(output.status.success(), "git ls-files failed");
    String::from_utf8(output.stdout)
        .expect("UTF-8 paths")
        .split('\0')
        .filter(|path| !path.is_empty())
        .map(String::from)
        .filter(|path| root().join(path).is_file())
        .collect()
}

fn text(path: &str) -> Option<String> {
    std::fs::read_to_string(root().join(path)).ok()
}

#[test]
fn every_rust_file_says_what_it_owns() {
    let missing: Vec<String> = tracked()
        .into_iter()
        .filter(|path| path.ends_with(".rs"))
        .filter(|path| text(path).is_some_and(|t| !t.starts_with("//!")))
        .collect();
    assert!(
        missing.is_empty(),
        "these files do not start with a `//!` comment saying what they own: {missing:#?}"
    );
}

#[test]
fn documents_named_and_linked_exist() {
    let files = tracked();
    let names: BTreeSet<&str> = files
        .iter()
        .map(|path| path.rsplit('/').next().unwrap_or(path))
        .collect();
    let named = Regex::new(r"\b([A-Za-z0-9_-]+\.md)\b").expect("regex");
    let link = Regex::new(r"\]\(([^)#\s]+)(#[^)]*)?\)").expect("regex");
    // Documents of other projects are named inside their URLs.
    let url = Regex::new(r#"[A-Za-z][A-Za-z0-9+.-]*://[^\s)\]"'`>]+"#).expect("regex");
    let mut broken = Vec::new();
    for path in &files {
        let is_doc = path.ends_with(".md");
        if !(is_doc || path.ends_with(".rs") || path.ends_with(".toml")) {
            continue;
        }
        let Some(content) = text(path) else { continue };
        for found in named.captures_iter(&url.replace_all(&content, "")) {
            if !names.contains(&found[1]) {
                broken.push(format!("{path}: names {}", &found[1]));
            }
        }
        if is_doc {
            let dir = Path::new(path).parent().unwrap_or(Path::new(""));
            for found in link.captures_iter(&content) {
                let target = &found[1];
                if target.contains("://") || target.starts_with("mailto:") {
                    continue;
                }
                if !root().join(dir).join(target).exists() {
                    broken.push(format!("{path}: links {target}"));
                }
            }
        }
    }
    assert!(
        broken.is_empty(),
        "documents named or linked that are not in the repository: {broken:#?}"
    );
}

/// The hosts of the package sources this machine is configured with: apt's
/// sources, cargo's and pip's configuration.
fn configured_hosts() -> BTreeSet<String> {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| home.as_ref().map(|h| h.join(".cargo")));
    let mut files = vec![
        PathBuf::from("/etc/apt/sources.list"),
        PathBuf::from("/etc/pip.conf"),
    ];
    if let Ok(entries) = std::fs::read_dir("/etc/apt/sources.list.d") {
        files.extend(entries.flatten().map(|entry| entry.path()));
    }
    if let Some(cargo) = cargo_home {
        files.extend([cargo.join("config.toml"), cargo.join("config")]);
    }
    if let Some(home) = home {
        files.extend([
            home.join(".config/pip/pip.conf"),
            home.join(".pip/pip.conf"),
        ]);
    }
    let url = Regex::new(r"(?:https?|ftp)://([A-Za-z0-9.-]+)").expect("regex");
    let mut hosts = BTreeSet::new();
    for file in files {
        let Ok(content) = std::fs::read_to_string(&file) else {
            continue;
        };
        for found in url.captures_iter(&content) {
            let host = found[1].to_ascii_lowercase();
            // A bare name or an address says nothing about a registry.
            if host.contains('.') && host.parse::<std::net::IpAddr>().is_err() {
                hosts.insert(host);
            }
        }
    }
    hosts
}

#[test]
fn no_registry_or_archive_host_is_written_down() {
    let hosts = configured_hosts();
    if hosts.is_empty() {
        return;
    }
    let mut found = Vec::new();
    for path in tracked() {
        let Some(content) = text(&path) else { continue };
        let content = content.to_ascii_lowercase();
        for host in &hosts {
            if content.contains(host.as_str()) {
                found.push(format!("{path}: a configured package source's host"));
            }
        }
    }
    assert!(
        found.is_empty(),
        "take addresses from the machine's configuration instead: {found:#?}"
    );
}

/// ARCHITECTURE.md's "Code map" section.
fn code_map_section() -> String {
    let text = text("ARCHITECTURE.md").expect("ARCHITECTURE.md");
    let start = text
        .find("\n## Code map\n")
        .expect("ARCHITECTURE.md has a `## Code map`")
        + 1;
    let end = text[start + 3..]
        .find("\n## ")
        .map_or(text.len(), |at| start + 3 + at);
    text[start..end].to_owned()
}

/// `{a,b}` alternatives of a path, expanded.
fn expand_braces(path: &str) -> Vec<String> {
    let (Some(open), Some(close)) = (path.find('{'), path.find('}')) else {
        return vec![path.to_owned()];
    };
    path[open + 1..close]
        .split(',')
        .flat_map(|choice| {
            expand_braces(&format!("{}{choice}{}", &path[..open], &path[close + 1..]))
        })
        .collect()
}

/// Whether `path` (relative to the root; `dir/` a directory, `dir/*` a
/// directory with something in it, `*` in the last component any
/// characters) exists.
fn path_exists(path: &str) -> bool {
    if let Some(dir) = path.strip_suffix("/*") {
        return std::fs::read_dir(root().join(dir))
            .is_ok_and(|mut entries| entries.next().is_some());
    }
    if let Some(dir) = path.strip_suffix('/') {
        return root().join(dir).is_dir();
    }
    let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
    if !name.contains('*') {
        return root().join(path).exists();
    }
    let pattern = format!("^{}$", regex::escape(name).replace(r"\*", ".*"));
    let pattern = Regex::new(&pattern).expect("regex");
    std::fs::read_dir(root().join(dir)).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|entry| pattern.is_match(&entry.file_name().to_string_lossy()))
    })
}

/// Whether git ignores `path` (generated output the map may describe).
fn git_ignores(path: &str) -> bool {
    Command::new("git")
        .arg("-C")
        .arg(root())
        .args(["check-ignore", "-q", path])
        .status()
        .is_ok_and(|status| status.success())
}

/// The workspace members, from the root Cargo.toml.
fn workspace_members() -> Vec<String> {
    let manifest = text("Cargo.toml").expect("Cargo.toml");
    let start = manifest.find("members = [").expect("[workspace] members");
    let end = start + manifest[start..].find(']').expect("members = [...]");
    Regex::new(r#""([^"]+)""#)
        .expect("regex")
        .captures_iter(&manifest[start..end])
        .map(|found| found[1].trim_end_matches('/').to_owned())
        .collect()
}

/// One entry of a code-map table's first column: the crate directory of
/// its section ("" for the repository's root), and the path as written
/// (relative to the crate's `src/`, or to the crate, or to the root).
#[derive(Debug)]
struct MapEntry {
    crate_dir: String,
    path: String,
}

impl MapEntry {
    /// The paths the entry may mean, relative to the root.
    fn candidates(&self) -> Vec<String> {
        if self.crate_dir.is_empty() {
            return vec![self.path.clone()];
        }
        let (c, p) = (&self.crate_dir, &self.path);
        let mut candidates = vec![format!("{c}/src/{p}"), format!("{c}/{p}")];
        if !p.ends_with('/') && !p.ends_with(".rs") && !p.contains('*') {
            candidates.extend([format!("{c}/src/{p}.rs"), format!("{c}/{p}.rs")]);
        }
        candidates
    }

    /// The module it names: `etcd/mod.rs`, `etcd/` and `etcd` are `etcd`.
    fn module(&self) -> &str {
        let path = self.path.trim_end_matches("/*").trim_end_matches('/');
        let path = path.strip_suffix(".rs").unwrap_or(path);
        path.strip_suffix("/mod").unwrap_or(path)
    }
}

/// The code map: the crate directory of every `### ` section, the entries
/// of its tables' first columns, and every other path it names below a
/// workspace member, `scripts/` or `images/`.
fn code_map(members: &[String]) -> (BTreeSet<String>, Vec<MapEntry>, BTreeSet<String>) {
    let tick = Regex::new(r"`([^`]+)`").expect("regex");
    let mut sections = BTreeSet::new();
    let mut entries = Vec::new();
    let mut named = BTreeSet::new();
    let mut crate_dir = String::new();
    for line in code_map_section().lines() {
        let mut prose = line;
        if let Some(heading) = line.strip_prefix("### ") {
            crate_dir = tick
                .captures(heading)
                .map(|found| found[1].trim_end_matches('/').to_owned())
                .unwrap_or_default();
            sections.insert(crate_dir.clone());
        } else if line.starts_with('|') && !line.starts_with("|---") {
            let first = line.split('|').nth(1).unwrap_or_default();
            prose = &line[1 + first.len()..];
            // `dir/a`, `b`: a bare name after a path is in the same directory.
            let mut dir: Option<String> = None;
            for found in tick.captures_iter(first) {
                let written = &found[1];
                let path = match (&dir, written.contains('/')) {
                    (Some(dir), false) => format!("{dir}/{written}"),
                    _ => written.to_owned(),
                };
                if let Some((parent, _)) = path.trim_end_matches('/').rsplit_once('/') {
                    dir = Some(parent.to_owned());
                }
                entries.extend(expand_braces(&path).into_iter().map(|path| MapEntry {
                    crate_dir: crate_dir.clone(),
                    path,
                }));
            }
        }
        for found in tick.captures_iter(prose) {
            let path = &found[1];
            let rooted = members
                .iter()
                .any(|member| path == member || path.starts_with(&format!("{member}/")))
                || path.starts_with("scripts/")
                || path.starts_with("images/");
            if rooted && !path.contains(' ') {
                named.extend(expand_braces(path));
            }
        }
    }
    (sections, entries, named)
}

#[test]
fn the_code_map_names_what_exists_and_every_module() {
    let members = workspace_members();
    let (sections, entries, named) = code_map(&members);
    let mut problems = Vec::new();
    // Every path the map names exists (generated output, gitignored, aside).
    for entry in &entries {
        let candidates = entry.candidates();
        let exists = candidates.iter().any(|path| path_exists(path));
        if !(exists || entry.crate_dir.is_empty() && git_ignores(&entry.path)) {
            problems.push(format!(
                "the map names `{}`{} but none of {candidates:?} exists",
                entry.path,
                if entry.crate_dir.is_empty() {
                    String::new()
                } else {
                    format!(" under `{}/`", entry.crate_dir)
                }
            ));
        }
    }
    for path in &named {
        if !path_exists(path) {
            problems.push(format!("the map names `{path}`, which does not exist"));
        }
    }
    // Every crate has its section, and every module of a crate (each file
    // and directory in `src/`, each directory with a `mod.rs` below) is
    // named: by itself, by a module it is part of, or by modules of its own.
    let files = tracked();
    for member in &members {
        if !sections.contains(member) {
            problems.push(format!(
                "the crate `{member}/` has no `### `{member}/`` section"
            ));
            continue;
        }
        let src = format!("{member}/src/");
        let mut modules = BTreeSet::new();
        for file in files.iter().filter_map(|file| file.strip_prefix(&src)) {
            match file.split_once('/') {
                None if file == "lib.rs" || file == "main.rs" => {}
                None => {
                    modules.insert(file.trim_end_matches(".rs").to_owned());
                }
                Some((top, _)) => {
                    modules.insert(top.to_owned());
                    if let Some(dir) = file.strip_suffix("/mod.rs") {
                        modules.insert(dir.to_owned());
                    }
                }
            }
        }
        let mapped: Vec<&str> = entries
            .iter()
            .filter(|entry| &entry.crate_dir == member)
            .map(MapEntry::module)
            .collect();
        for module in modules {
            let covered = mapped.iter().any(|entry| {
                *entry == module
                    || module.starts_with(&format!("{entry}/"))
                    || entry.starts_with(&format!("{module}/"))
            });
            if !covered {
                problems.push(format!(
                    "`{src}{module}` is not in the code map's `{member}/` section"
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "ARCHITECTURE.md's code map is out of date; add one line per module (what its `//!` \
         comment says it owns) or remove what is gone: {problems:#?}"
    );
}

/// Files that hold only test code although they sit beside production code
/// (compiled for tests, or behind a feature only tests enable).
const TEST_SUPPORT: &[&str] = &[
    // storage_conformance_tests!: the suite every backend's tests run.
    "staging/storage/src/conformance.rs",
    // etcd on loopback for tests (feature `etcd-test-server`).
    "staging/storage/src/etcd/test_server.rs",
    // #[cfg(test)] helpers of the control plane's unit tests.
    "pkg/controlplane/src/testing.rs",
];

/// Whether `path` is test code: test and bench targets, build scripts, the
/// fuzz harness, `tests.rs` modules and [`TEST_SUPPORT`].
fn is_test_code(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    path.starts_with("test/")
        || path.contains("/tests/")
        || path.contains("/benches/")
        || name == "build.rs"
        || name == "tests.rs"
        || TEST_SUPPORT.contains(&path)
}

/// The lines of production code in a Rust file: everything before its
/// `#[cfg(test)] mod … {` (test modules close the file, as everywhere here).
fn production_lines(content: &str) -> Vec<(usize, &str)> {
    let lines: Vec<&str> = content.lines().collect();
    let mut kept = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        let next = lines.get(index + 1).map_or("", |next| next.trim());
        if line.trim() == "#[cfg(test)]"
            && (next.starts_with("mod ") || next.contains(" mod "))
            && next.ends_with('{')
        {
            break;
        }
        kept.push((index, *line));
    }
    kept
}

/// No `unwrap()` or `expect(..)` in production code unless a comment on its
/// line or just above says why it cannot fail: input never reaches a panic.
#[test]
fn production_code_does_not_unwrap_without_saying_why() {
    let call = Regex::new(r"\.(unwrap|expect)\(").expect("regex");
    let mut found = Vec::new();
    for path in tracked() {
        if !path.ends_with(".rs") || is_test_code(&path) {
            continue;
        }
        let Some(content) = text(&path) else { continue };
        let all: Vec<&str> = content.lines().collect();
        for (index, line) in production_lines(&content) {
            let code = line.trim_start();
            if code.starts_with("//") || !call.is_match(code) {
                continue;
            }
            let explained = line.contains("//")
                || all[index.saturating_sub(3)..index]
                    .iter()
                    .any(|above| above.trim_start().starts_with("//"));
            if !explained {
                found.push(format!("{path}:{}: {}", index + 1, code));
            }
        }
    }
    assert!(
        found.is_empty(),
        "say in a comment why these cannot fail, or return an error instead: {found:#?}"
    );
}
