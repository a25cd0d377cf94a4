//! The `LICENSES/` tree shipped in every release tarball: the project's own
//! LICENSE plus, under `vendor/<crate>-<version>/`, the license files of every
//! third-party crate linked into the components (normal dependencies,
//! resolved for the release platforms), and an index of them.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, Result};
use cargo_metadata::camino::Utf8PathBuf;
use cargo_metadata::{MetadataCommand, Package};

use crate::components::Component;
use crate::platform::Platform;
use crate::workspace::Workspace;

/// Files of a `LICENSES/` tree: (path inside LICENSES/, contents on disk),
/// plus generated text files (path, contents).
#[derive(Debug, Default)]
pub struct LicenseTree {
    pub files: BTreeMap<String, Utf8PathBuf>,
    pub generated: BTreeMap<String, String>,
}

const LICENSE_PREFIXES: [&str; 6] = [
    "LICENSE",
    "LICENCE",
    "COPYING",
    "NOTICE",
    "COPYRIGHT",
    "UNLICENSE",
];

pub fn collect(
    ws: &Workspace,
    components: &[Component],
    platforms: &[Platform],
) -> Result<LicenseTree> {
    let mut tree = LicenseTree::default();
    let own = ws.root.join("LICENSE");
    if own.is_file() {
        tree.files.insert("LICENSE".to_owned(), own);
    }
    let mut vendored: BTreeMap<(String, String), (String, Vec<String>)> = BTreeMap::new();
    for platform in platforms {
        let linked = linked_packages(ws, components, *platform)?;
        for package in linked.iter().filter(|p| p.source.is_some()) {
            let key = (package.name.to_string(), package.version.to_string());
            if vendored.contains_key(&key) {
                continue;
            }
            let dir = package
                .manifest_path
                .parent()
                .context("manifest has no directory")?;
            let mut names = Vec::new();
            for entry in dir
                .read_dir_utf8()
                .with_context(|| format!("listing {dir}"))?
            {
                let entry = entry?;
                let upper = entry.file_name().to_ascii_uppercase();
                if entry.file_type()?.is_file()
                    && LICENSE_PREFIXES.iter().any(|p| upper.starts_with(p))
                {
                    names.push(entry.file_name().to_owned());
                    let archive_path = format!("vendor/{}-{}/{}", key.0, key.1, entry.file_name());
                    tree.files.insert(archive_path, entry.path().to_owned());
                }
            }
            names.sort();
            let license = package
                .license
                .clone()
                .unwrap_or_else(|| "(see license-file)".to_owned());
            vendored.insert(key, (license, names));
        }
    }
    let mut index = String::from(
        "# Third-party crates linked into the release binaries: name version license [files]\n",
    );
    for ((name, version), (license, files)) in &vendored {
        index.push_str(&format!(
            "{name} {version} {license} [{}]\n",
            files.join(" ")
        ));
    }
    tree.generated.insert("vendor/index.txt".to_owned(), index);
    Ok(tree)
}

/// The packages linked into `components`' binaries for `platform` (the
/// components themselves, workspace libraries and third-party crates):
/// normal dependencies, with the features cargo resolves when it builds
/// just these components for the platform (`cargo tree`, which `cargo
/// metadata`'s workspace-wide feature unification would overcount); proc
/// macros, which run in the compiler, and what only they use are not
/// linked. Sorted by name and version.
pub fn linked_packages(
    ws: &Workspace,
    components: &[Component],
    platform: Platform,
) -> Result<Vec<Package>> {
    let sh = xshell::Shell::new()?;
    sh.change_dir(&ws.root);
    let target = platform.rust_target();
    let mut selected = Vec::new();
    for component in components {
        selected.push("--package".to_owned());
        selected.push(component.name.clone());
    }
    let format = "{p}";
    let tree = xshell::cmd!(
        sh,
        "cargo tree --locked {selected...} --target {target} --edges normal,no-proc-macro --prefix none --format {format}"
    )
    .quiet()
    .read()
    .with_context(|| format!("listing the crates linked for {platform} with `cargo tree`"))?;
    let linked: BTreeSet<(&str, &str)> = tree
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            Some((words.next()?, words.next()?.strip_prefix('v')?))
        })
        .collect();
    let metadata = MetadataCommand::new()
        .current_dir(&ws.root)
        .other_options(vec![
            "--locked".to_owned(),
            "--filter-platform".to_owned(),
            target.to_owned(),
        ])
        .exec()
        .context("reading the packages with `cargo metadata`")?;
    let mut packages: Vec<Package> = metadata
        .packages
        .into_iter()
        .filter(|p| linked.contains(&(p.name.as_str(), p.version.to_string().as_str())))
        .collect();
    packages.sort_by(|a, b| (&a.name, &a.version).cmp(&(&b.name, &b.version)));
    Ok(packages)
}
