//! Target platforms in Kubernetes' `OS/ARCH` spelling, their Rust target
//! triples, and how the user picks them (flags, `KUBE_BUILD_PLATFORMS`,
//! `KUBE_FASTBUILD`).

use std::fmt;
use std::str::FromStr;

use anyhow::{Result, bail};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Arch {
    Amd64,
    Arm64,
}

/// A platform the release supports. Only Linux servers for now, as upstream's
/// server platforms minus s390x/ppc64le (no toolchain for them here).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Platform {
    pub arch: Arch,
}

pub const SUPPORTED: [Platform; 2] = [
    Platform { arch: Arch::Amd64 },
    Platform { arch: Arch::Arm64 },
];

impl Platform {
    pub fn os(&self) -> &'static str {
        "linux"
    }

    pub fn arch(&self) -> &'static str {
        match self.arch {
            Arch::Amd64 => "amd64",
            Arch::Arm64 => "arm64",
        }
    }

    pub fn rust_target(&self) -> &'static str {
        match self.arch {
            Arch::Amd64 => "x86_64-unknown-linux-gnu",
            Arch::Arm64 => "aarch64-unknown-linux-gnu",
        }
    }

    /// `linux-amd64`, as in `kubernetes-server-linux-amd64.tar.gz`.
    pub fn dashed(&self) -> String {
        format!("{}-{}", self.os(), self.arch())
    }

    /// The platform this xtask runs on, if it is one we build for.
    pub fn host() -> Result<Platform> {
        match (std::env::consts::OS, std::env::consts::ARCH) {
            ("linux", "x86_64") => Ok(Platform { arch: Arch::Amd64 }),
            ("linux", "aarch64") => Ok(Platform { arch: Arch::Arm64 }),
            (os, arch) => bail!(
                "this machine ({os}/{arch}) is not a supported build host: use linux/amd64 or linux/arm64"
            ),
        }
    }

    /// The platforms to build: `--platform` values, else `KUBE_FASTBUILD=true`
    /// (host only), else `KUBE_BUILD_PLATFORMS` (space-separated), else
    /// `default` (the route's: every platform in the container, the host
    /// locally).
    pub fn requested(flags: &[String], default: Vec<Platform>) -> Result<Vec<Platform>> {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        Self::select(
            flags,
            env("KUBE_FASTBUILD").as_deref(),
            env("KUBE_BUILD_PLATFORMS").as_deref(),
            default,
        )
    }

    fn select(
        flags: &[String],
        fastbuild: Option<&str>,
        build_platforms: Option<&str>,
        default: Vec<Platform>,
    ) -> Result<Vec<Platform>> {
        let flags: Vec<&str> = flags
            .iter()
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .collect();
        let names: Vec<&str> = if !flags.is_empty() {
            flags
        } else if fastbuild == Some("true") {
            return Ok(vec![Platform::host()?]);
        } else if let Some(list) = build_platforms {
            list.split_whitespace().collect()
        } else {
            return Ok(default);
        };
        let mut platforms = Vec::new();
        for name in names {
            let platform: Platform = name.parse()?;
            if !platforms.contains(&platform) {
                platforms.push(platform);
            }
        }
        if platforms.is_empty() {
            bail!("no platform given; valid platforms: {}", supported_list());
        }
        platforms.sort();
        Ok(platforms)
    }
}

fn supported_list() -> String {
    SUPPORTED
        .iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os(), self.arch())
    }
}

impl FromStr for Platform {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Platform> {
        SUPPORTED
            .iter()
            .copied()
            .find(|p| p.to_string() == s)
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "unknown platform {s:?}; valid platforms: {}",
                    supported_list()
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_and_prints_kubernetes_spelling() {
        let p: Platform = "linux/arm64".parse().unwrap();
        assert_eq!(p.to_string(), "linux/arm64");
        assert_eq!(p.rust_target(), "aarch64-unknown-linux-gnu");
        assert_eq!(p.dashed(), "linux-arm64");
    }

    #[test]
    fn unknown_platform_lists_the_valid_ones() {
        let err = "windows/amd64".parse::<Platform>().unwrap_err().to_string();
        assert!(err.contains("windows/amd64"), "{err}");
        assert!(err.contains("linux/amd64, linux/arm64"), "{err}");
    }

    #[test]
    fn flags_win_over_environment_and_are_deduplicated() {
        let got = Platform::select(
            &strings(&["linux/arm64", "linux/amd64", "linux/arm64"]),
            Some("true"),
            None,
            Vec::new(),
        )
        .unwrap();
        assert_eq!(got, SUPPORTED.to_vec());
    }

    #[test]
    fn fastbuild_means_host_only() {
        let got = Platform::select(
            &[],
            Some("true"),
            Some("linux/amd64 linux/arm64"),
            Vec::new(),
        )
        .unwrap();
        assert_eq!(got, vec![Platform::host().unwrap()]);
    }

    #[test]
    fn kube_build_platforms_is_space_separated() {
        let got =
            Platform::select(&[], None, Some("linux/arm64  linux/amd64"), Vec::new()).unwrap();
        assert_eq!(got, SUPPORTED.to_vec());
        assert!(Platform::select(&[], None, Some("linux/amd64 plan9/386"), Vec::new()).is_err());
    }

    #[test]
    fn the_route_default_applies_when_nothing_chooses() {
        let default = SUPPORTED.to_vec();
        assert_eq!(
            Platform::select(&[], None, None, default.clone()).unwrap(),
            default
        );
        assert_eq!(
            Platform::select(&strings(&[" "]), None, None, default.clone()).unwrap(),
            default
        );
        assert_eq!(
            Platform::select(&strings(&["linux/arm64"]), None, None, default).unwrap(),
            vec![Platform { arch: Arch::Arm64 }]
        );
    }
}
