//! The component's version, stamped at compile time by `cargo xtask build`
//! (the `-ldflags -X` of hack/lib/version.sh), served as `/version` and printed
//! by `--version`.
//!
//! The xtask passes the values as `KUBE_*` environment variables to rustc;
//! rustc records them in the dep-info so cargo rebuilds when they change. An
//! unstamped build (plain `cargo build`) reports a development version that
//! still names the Kubernetes API it implements (1.32), so kubectl picks the
//! matching behaviour.

use serde::Serialize;

/// What `/version` returns; field names and JSON keys as in
/// `k8s.io/apimachinery/pkg/version.Info`. `goVersion` carries the rustc
/// version: the key stays for kubectl's sake.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Info {
    pub major: &'static str,
    pub minor: &'static str,
    pub git_version: &'static str,
    pub git_commit: &'static str,
    pub git_tree_state: &'static str,
    pub build_date: &'static str,
    pub go_version: &'static str,
    pub compiler: &'static str,
    pub platform: &'static str,
}

macro_rules! stamped {
    ($name:literal, $default:expr) => {
        match option_env!($name) {
            Some(value) => value,
            None => $default,
        }
    };
}

/// The version of this build.
pub const fn get() -> Info {
    Info {
        major: stamped!("KUBE_GIT_MAJOR", "1"),
        minor: stamped!("KUBE_GIT_MINOR", "32"),
        git_version: stamped!("KUBE_GIT_VERSION", "v1.32.0-dev"),
        git_commit: stamped!("KUBE_GIT_COMMIT", ""),
        git_tree_state: stamped!("KUBE_GIT_TREE_STATE", ""),
        build_date: stamped!("KUBE_BUILD_DATE", "1970-01-01T00:00:00Z"),
        go_version: stamped!("KUBE_RUSTC_VERSION", "unknown"),
        compiler: "rustc",
        platform: PLATFORM,
    }
}

/// `GOOS/GOARCH` of the compilation target, in Kubernetes' spelling.
pub const PLATFORM: &str = platform();

const fn platform() -> &'static str {
    if cfg!(all(target_os = "linux", target_arch = "x86_64")) {
        "linux/amd64"
    } else if cfg!(all(target_os = "linux", target_arch = "aarch64")) {
        "linux/arm64"
    } else if cfg!(all(target_os = "linux", target_arch = "s390x")) {
        "linux/s390x"
    } else if cfg!(all(target_os = "linux", target_arch = "powerpc64")) {
        "linux/ppc64le"
    } else if cfg!(all(target_os = "macos", target_arch = "aarch64")) {
        "darwin/arm64"
    } else if cfg!(all(target_os = "macos", target_arch = "x86_64")) {
        "darwin/amd64"
    } else {
        "unknown/unknown"
    }
}

impl Info {
    /// `--version`: `Kubernetes v1.32.0`.
    pub fn short(&self) -> String {
        format!("Kubernetes {}", self.git_version)
    }

    /// `--version=raw`: every field, in the shape upstream prints with `%#v`.
    pub fn raw(&self) -> String {
        format!(
            "version.Info{{Major:{:?}, Minor:{:?}, GitVersion:{:?}, GitCommit:{:?}, GitTreeState:{:?}, BuildDate:{:?}, GoVersion:{:?}, Compiler:{:?}, Platform:{:?}}}",
            self.major,
            self.minor,
            self.git_version,
            self.git_commit,
            self.git_tree_state,
            self.build_date,
            self.go_version,
            self.compiler,
            self.platform
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_uses_the_kubernetes_keys() {
        let json = serde_json::to_value(get()).unwrap();
        for key in [
            "major",
            "minor",
            "gitVersion",
            "gitCommit",
            "gitTreeState",
            "buildDate",
            "goVersion",
            "compiler",
            "platform",
        ] {
            assert!(json.get(key).is_some(), "missing {key} in {json}");
        }
        assert_eq!(json["compiler"], "rustc");
    }

    #[test]
    fn raw_names_every_field() {
        let info = Info {
            major: "1",
            minor: "32+",
            git_version: "v1.32.0-alpha.0.6+84c76d1142ea4d",
            git_commit: "84c76d1142ea4d0000000000000000000000abcd",
            git_tree_state: "clean",
            build_date: "2026-11-25T00:00:00Z",
            go_version: "rustc 1.95.0",
            compiler: "rustc",
            platform: "linux/arm64",
        };
        assert_eq!(
            info.raw(),
            r#"version.Info{Major:"1", Minor:"32+", GitVersion:"v1.32.0-alpha.0.6+84c76d1142ea4d", GitCommit:"84c76d1142ea4d0000000000000000000000abcd", GitTreeState:"clean", BuildDate:"2026-11-25T00:00:00Z", GoVersion:"rustc 1.95.0", Compiler:"rustc", Platform:"linux/arm64"}"#
        );
        assert_eq!(info.short(), "Kubernetes v1.32.0-alpha.0.6+84c76d1142ea4d");
    }

    #[test]
    fn platform_is_in_kubernetes_spelling() {
        if cfg!(all(target_os = "linux", target_arch = "x86_64")) {
            assert_eq!(PLATFORM, "linux/amd64");
        }
        assert!(!PLATFORM.contains("x86_64"));
    }
}
