//! Comparing two releases artifact by artifact, and saying where two
//! artifacts differ: the first differing archive member (looking inside
//! nested tarballs and image archives), and for an ELF binary the first
//! differing section and offset. Used by `release --verify`.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use anyhow::{Context, Result};
use object::{Object, ObjectSection};

/// One artifact of the comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub name: String,
    pub first: Option<String>,
    pub second: Option<String>,
    pub size: u64,
    /// Where they differ (empty when identical).
    pub difference: String,
}

impl Row {
    pub fn identical(&self) -> bool {
        self.first.is_some() && self.first == self.second
    }
}

/// Compares every file of `first` and `second` (by name, recursively);
/// rows sorted by name.
pub fn compare_dirs(first: &Path, second: &Path) -> Result<Vec<Row>> {
    let a = files_under(first)?;
    let b = files_under(second)?;
    let mut names: Vec<&String> = a.keys().chain(b.keys()).collect();
    names.sort();
    names.dedup();
    let mut rows = Vec::new();
    for name in names {
        let first_path = a.get(name);
        let second_path = b.get(name);
        let first_digest = first_path.map(|p| sha256_file(p)).transpose()?;
        let second_digest = second_path.map(|p| sha256_file(p)).transpose()?;
        let size = first_path
            .or(second_path)
            .and_then(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .unwrap_or(0);
        let difference = match (first_path, second_path) {
            (Some(_), None) => "only in the first release".to_owned(),
            (None, Some(_)) => "only in the second release".to_owned(),
            (Some(x), Some(y)) if first_digest != second_digest => {
                let (x, y) = (std::fs::read(x)?, std::fs::read(y)?);
                explain(name, &x, &y)
            }
            _ => String::new(),
        };
        rows.push(Row {
            name: name.clone(),
            first: first_digest,
            second: second_digest,
            size,
            difference,
        });
    }
    Ok(rows)
}

/// The comparison as a table.
pub fn table(rows: &[Row]) -> String {
    let width = rows.iter().map(|r| r.name.len()).max().unwrap_or(8).max(8);
    let mut out = format!(
        "{:<width$}  {:>12}  {:<16}  {:<16}  result\n",
        "artifact", "bytes", "first sha256", "second sha256"
    );
    let short = |d: &Option<String>| {
        d.as_deref()
            .map(|d| d[..16].to_owned())
            .unwrap_or_else(|| "-".to_owned())
    };
    for row in rows {
        out.push_str(&format!(
            "{:<width$}  {:>12}  {:<16}  {:<16}  {}\n",
            row.name,
            row.size,
            short(&row.first),
            short(&row.second),
            if row.identical() {
                "identical".to_owned()
            } else {
                format!("DIFFERS: {}", row.difference)
            }
        ));
    }
    out
}

/// Where two different artifacts named `name` differ, in words.
pub fn explain(name: &str, first: &[u8], second: &[u8]) -> String {
    match (members(name, first), members(name, second)) {
        (Some(a), Some(b)) => explain_archives(&a, &b),
        _ => explain_bytes(first, second),
    }
}

/// The members of a tar (or tar.gz) artifact: path → (header summary,
/// contents); None when it is not an archive.
fn members(name: &str, bytes: &[u8]) -> Option<BTreeMap<String, (String, Vec<u8>)>> {
    let is_gzip = bytes.starts_with(&[0x1f, 0x8b]);
    let is_tar = name.ends_with(".tar") || name.ends_with(".tar.gz") || name.ends_with(".tgz");
    if !is_tar {
        return None;
    }
    let reader: Box<dyn Read + '_> = if is_gzip {
        Box::new(flate2::read::GzDecoder::new(bytes))
    } else {
        Box::new(bytes)
    };
    let mut archive = tar::Archive::new(reader);
    let mut out = BTreeMap::new();
    for entry in archive.entries().ok()? {
        let mut entry = entry.ok()?;
        let path = entry.path().ok()?.to_string_lossy().into_owned();
        let header = entry.header();
        let summary = format!(
            "mode {:o}, uid {}, gid {}, mtime {}, type {:?}",
            header.mode().unwrap_or(0),
            header.uid().unwrap_or(0),
            header.gid().unwrap_or(0),
            header.mtime().unwrap_or(0),
            header.entry_type()
        );
        let mut contents = Vec::new();
        entry.read_to_end(&mut contents).ok()?;
        out.insert(path, (summary, contents));
    }
    Some(out)
}

fn explain_archives(
    first: &BTreeMap<String, (String, Vec<u8>)>,
    second: &BTreeMap<String, (String, Vec<u8>)>,
) -> String {
    for (path, (header, contents)) in first {
        let Some((other_header, other_contents)) = second.get(path) else {
            return format!("member {path} only in the first");
        };
        if contents != other_contents {
            let inner = explain(path, contents, other_contents);
            return format!("member {path}: {inner}");
        }
        if header != other_header {
            return format!("member {path}: header {header} vs {other_header}");
        }
    }
    if let Some(path) = second.keys().find(|p| !first.contains_key(*p)) {
        return format!("member {path} only in the second");
    }
    "same members and contents, different archive bytes (order, padding or compression)".to_owned()
}

/// Two different byte strings: for ELF files, the first differing section;
/// otherwise the first differing offset.
fn explain_bytes(first: &[u8], second: &[u8]) -> String {
    let offset = first
        .iter()
        .zip(second)
        .position(|(a, b)| a != b)
        .unwrap_or(first.len().min(second.len()));
    let sizes = if first.len() == second.len() {
        format!("{} bytes each", first.len())
    } else {
        format!("{} vs {} bytes", first.len(), second.len())
    };
    match elf_section_at(first, offset as u64) {
        Some(section) => {
            format!("ELF section {section}, first difference at offset {offset:#x} ({sizes})")
        }
        None if first.starts_with(b"\x7fELF") => match first_differing_section(first, second) {
            // A section that grew moved the rest: the first byte to differ
            // is in the headers; the sections say where to look.
            Some(section) => format!(
                "ELF section {section} is the first section to differ; the layout moved (first difference at offset {offset:#x}, outside any section; {sizes})"
            ),
            None => format!(
                "ELF file, first difference at offset {offset:#x}, outside any section ({sizes})"
            ),
        },
        None => format!("first difference at offset {offset:#x} ({sizes})"),
    }
}

/// The first section of `first` (in file order) whose contents differ
/// from the section of the same name in `second`, or that `second` lacks.
fn first_differing_section(first: &[u8], second: &[u8]) -> Option<String> {
    let (a, b) = (
        object::File::parse(first).ok()?,
        object::File::parse(second).ok()?,
    );
    let mut sections: Vec<_> = a
        .sections()
        .filter_map(|section| Some((section.file_range()?.0, section)))
        .collect();
    sections.sort_by_key(|(start, _)| *start);
    sections.into_iter().find_map(|(_, section)| {
        let name = section.name().ok()?;
        let same = b
            .section_by_name(name)
            .and_then(|other| Some(other.data().ok()? == section.data().ok()?))
            .unwrap_or(false);
        (!same).then(|| name.to_owned())
    })
}

/// The name of the ELF section holding file offset `offset`.
fn elf_section_at(bytes: &[u8], offset: u64) -> Option<String> {
    let file = object::File::parse(bytes).ok()?;
    file.sections()
        .filter_map(|section| {
            let (start, size) = section.file_range()?;
            (start <= offset && offset < start + size)
                .then(|| section.name().ok().map(str::to_owned))
                .flatten()
        })
        .next()
}

fn files_under(root: &Path) -> Result<BTreeMap<String, std::path::PathBuf>> {
    let mut files = BTreeMap::new();
    if !root.exists() {
        return Ok(files);
    }
    let mut stack = vec![(root.to_path_buf(), String::new())];
    while let Some((dir, prefix)) = stack.pop() {
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("listing {}", dir.display()))?
        {
            let entry = entry?;
            let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
            if entry.file_type()?.is_dir() {
                stack.push((entry.path(), format!("{name}/")));
            } else {
                files.insert(name, entry.path());
            }
        }
    }
    Ok(files)
}

fn sha256_file(path: &Path) -> Result<String> {
    crate::image::oci_archive::sha256_file(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::Archive;

    fn tar_gz(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut archive = Archive::new();
        for (path, bytes) in files {
            archive.add_bytes(path, bytes.to_vec(), false).unwrap();
        }
        archive.write_tar_gz(Vec::new(), 0).unwrap()
    }

    #[test]
    fn names_the_differing_member_inside_a_nested_tarball() {
        let inner_a = tar_gz(&[("kubernetes/a.txt", b"same"), ("kubernetes/b.txt", b"one")]);
        let inner_b = tar_gz(&[("kubernetes/a.txt", b"same"), ("kubernetes/b.txt", b"two")]);
        let outer_a = tar_gz(&[("kubernetes/kubernetes-src.tar.gz", &inner_a)]);
        let outer_b = tar_gz(&[("kubernetes/kubernetes-src.tar.gz", &inner_b)]);
        let said = explain("kubernetes-server-linux-amd64.tar.gz", &outer_a, &outer_b);
        assert_eq!(
            said,
            "member kubernetes/kubernetes-src.tar.gz: member kubernetes/b.txt: \
             first difference at offset 0x0 (3 bytes each)"
        );
        let extra = tar_gz(&[("kubernetes/a.txt", b"same")]);
        assert_eq!(
            explain("x.tar.gz", &extra, &inner_a),
            "member kubernetes/b.txt only in the second"
        );
    }

    #[test]
    fn names_the_elf_section_of_a_difference() {
        // This test binary, with one byte of its read-only data changed.
        let exe = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let file = object::File::parse(exe.as_slice()).unwrap();
        let rodata = file.section_by_name(".rodata").unwrap();
        let (start, size) = rodata.file_range().unwrap();
        let mut changed = exe.clone();
        let at = (start + size / 2) as usize;
        changed[at] ^= 0xff;
        let said = explain("kube-apiserver", &exe, &changed);
        assert!(
            said.starts_with(&format!(
                "ELF section .rodata, first difference at offset {at:#x}"
            )),
            "{said}"
        );
    }

    #[test]
    fn a_moved_layout_names_the_first_section_to_differ() {
        // The entry point (ELF header) and one byte of .rodata changed: the
        // first byte to differ is in no section, the cause is .rodata.
        let exe = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let file = object::File::parse(exe.as_slice()).unwrap();
        let (start, size) = file
            .section_by_name(".rodata")
            .unwrap()
            .file_range()
            .unwrap();
        let mut changed = exe.clone();
        changed[0x18] ^= 0x10;
        changed[(start + size / 2) as usize] ^= 0xff;
        let said = explain("kube-apiserver", &exe, &changed);
        assert!(
            said.starts_with(
                "ELF section .rodata is the first section to differ; the layout moved (first difference at offset 0x18, outside any section"
            ),
            "{said}"
        );
        // Only the header changed: no section to name.
        let mut header_only = exe.clone();
        header_only[0x18] ^= 0x10;
        assert!(
            explain("kube-apiserver", &exe, &header_only)
                .starts_with("ELF file, first difference at offset 0x18, outside any section"),
        );
    }

    #[test]
    fn table_marks_identical_and_differing_rows() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        std::fs::write(a.join("same"), "x").unwrap();
        std::fs::write(b.join("same"), "x").unwrap();
        std::fs::write(a.join("other"), "1").unwrap();
        std::fs::write(b.join("other"), "2").unwrap();
        std::fs::write(a.join("lonely"), "1").unwrap();
        let rows = compare_dirs(&a, &b).unwrap();
        let names: Vec<_> = rows
            .iter()
            .map(|r| (r.name.as_str(), r.identical()))
            .collect();
        assert_eq!(names, [("lonely", false), ("other", false), ("same", true)]);
        assert_eq!(rows[0].difference, "only in the first release");
        let table = table(&rows);
        assert!(
            table.contains("identical")
                && table.contains("DIFFERS: first difference at offset 0x0"),
            "{table}"
        );
    }
}
