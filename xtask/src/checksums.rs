//! Release checksums as krel writes them: `SHA256SUMS` and `SHA512SUMS`
//! (`sha256sum -c` format) plus a `<file>.sha256` / `<file>.sha512` holding
//! the bare digest beside each artifact. Digests are computed while the
//! artifact is written, so no artifact is read twice.

use std::io::{self, Write};
use std::path::Path;

use anyhow::Result;
use sha2::{Digest, Sha256, Sha512};

use crate::atomic;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digests {
    pub sha256: String,
    pub sha512: String,
}

/// A writer that hashes everything that passes through it.
pub struct HashingWriter<W> {
    inner: W,
    sha256: Sha256,
    sha512: Sha512,
}

impl<W: Write> HashingWriter<W> {
    pub fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            sha256: Sha256::new(),
            sha512: Sha512::new(),
        }
    }

    pub fn finish(self) -> (W, Digests) {
        let digests = Digests {
            sha256: format!("{:x}", self.sha256.finalize()),
            sha512: format!("{:x}", self.sha512.finalize()),
        };
        (self.inner, digests)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.sha256.update(&buf[..n]);
        self.sha512.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Digests of bytes already in memory.
pub fn digest(bytes: &[u8]) -> Digests {
    Digests {
        sha256: format!("{:x}", Sha256::digest(bytes)),
        sha512: format!("{:x}", Sha512::digest(bytes)),
    }
}

/// Writes the sums files and the per-artifact digest files into `dir`.
/// `artifacts` are (file name, digests); they are listed sorted by name.
pub fn write_checksum_files(dir: &Path, artifacts: &[(String, Digests)]) -> Result<()> {
    let mut sorted: Vec<&(String, Digests)> = artifacts.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut sums256 = String::new();
    let mut sums512 = String::new();
    for (name, digests) in sorted {
        sums256.push_str(&format!("{}  {name}\n", digests.sha256));
        sums512.push_str(&format!("{}  {name}\n", digests.sha512));
        atomic::write(
            dir.join(format!("{name}.sha256")),
            format!("{}\n", digests.sha256).as_bytes(),
        )?;
        atomic::write(
            dir.join(format!("{name}.sha512")),
            format!("{}\n", digests.sha512).as_bytes(),
        )?;
    }
    atomic::write(dir.join("SHA256SUMS"), sums256.as_bytes())?;
    atomic::write(dir.join("SHA512SUMS"), sums512.as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streaming_digests_match_one_shot_and_known_values() {
        let data = b"abc";
        let mut writer = HashingWriter::new(Vec::new());
        writer.write_all(&data[..1]).unwrap();
        writer.write_all(&data[1..]).unwrap();
        let (out, digests) = writer.finish();
        assert_eq!(out, data);
        assert_eq!(digests, digest(data));
        assert_eq!(
            digests.sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(digests.sha512.starts_with("ddaf35a193617aba"));
    }

    #[test]
    fn sums_files_are_sorted_and_checkable_by_coreutils() {
        let dir = tempfile::tempdir().unwrap();
        let mut artifacts = Vec::new();
        for (name, body) in [("b.tar.gz", "second"), ("a.tar.gz", "first")] {
            std::fs::write(dir.path().join(name), body).unwrap();
            artifacts.push((name.to_owned(), digest(body.as_bytes())));
        }
        write_checksum_files(dir.path(), &artifacts).unwrap();
        let sums = std::fs::read_to_string(dir.path().join("SHA256SUMS")).unwrap();
        assert!(sums.find("a.tar.gz").unwrap() < sums.find("b.tar.gz").unwrap());
        let bare = std::fs::read_to_string(dir.path().join("a.tar.gz.sha512")).unwrap();
        assert_eq!(bare.trim(), digest(b"first").sha512);
        for (tool, file) in [("sha256sum", "SHA256SUMS"), ("sha512sum", "SHA512SUMS")] {
            let status = std::process::Command::new(tool)
                .args(["--check", "--strict", file])
                .current_dir(dir.path())
                .output()
                .unwrap();
            assert!(
                status.status.success(),
                "{tool}: {}",
                String::from_utf8_lossy(&status.stdout)
            );
        }
    }
}
