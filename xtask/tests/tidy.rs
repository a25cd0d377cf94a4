//! The repository's own rules, checked on every `cargo xtask test` (as
//! rust-analyzer's `tidy`): every Rust file opens with a `//!` comment
//! saying what it owns; every document a file names (`*.md`) and every
//! relative Markdown link exists in the repository; and no tracked file
//! names a package registry or archive host this machine is configured to
//! use (addresses belong to the machine's configuration, not the code).

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
