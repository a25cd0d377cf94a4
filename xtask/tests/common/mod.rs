//! What the end-to-end tests share: clones of this repository and running
//! the built xtask in them the way a user does, with the test's own
//! Kubernetes build variables out of the way.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask/ has a parent")
        .to_path_buf()
}

/// Clones the committed state of this repository into `dest`.
pub fn clone_into(dest: &Path) {
    std::fs::create_dir_all(dest.parent().expect("clone target has a parent")).unwrap();
    let out = Command::new("git")
        .args(["clone", "--quiet", "--no-hardlinks"])
        .arg(repo_root())
        .arg(dest)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git clone: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The optimisation level of the end-to-end tests' release builds. They
/// build six cold releases of the server (two checkouts on each route, two
/// platforms in the container), and what they check (identical bytes across
/// checkouts, packaging, stamping, hermeticity) is the pipeline's, not the
/// optimiser's. Measured on a cold `cargo build --release -p kube-apiserver`
/// (2 cores, idle): 111 s at level 0, 302 s at 1, 452 s at 3; CI ran out of
/// its 90 minutes at level 1. Both sides of a comparison use the same level.
pub const TEST_RELEASE_OPT_LEVEL: &str = "0";

/// Removes the variables that would change what the xtask builds, so a
/// developer's environment cannot leak into a test, and sets the tests'
/// release optimisation level.
pub fn without_build_env(command: &mut Command) -> &mut Command {
    command.env("CARGO_PROFILE_RELEASE_OPT_LEVEL", TEST_RELEASE_OPT_LEVEL);
    for name in [
        "SOURCE_DATE_EPOCH",
        "KUBE_GIT_VERSION",
        "KUBE_GIT_COMMIT",
        "KUBE_GIT_TREE_STATE",
        "KUBE_GIT_MAJOR",
        "KUBE_GIT_MINOR",
        "KUBE_BUILD_PLATFORMS",
        "KUBE_FASTBUILD",
        "KUBE_RELEASE_RUN_TESTS",
        "KUBE_BUILD_KEEP_CONTAINER",
        "CARGO_TARGET_DIR",
        "KUBE_CROSS_STRICT",
        "KUBE_CROSS_IMAGE_ARCHIVE",
        "KUBE_CROSS_ARCHIVE",
        "KUBE_CROSS_SNAPSHOT",
        "KUBE_CROSS_KEYRING",
        "KUBE_CROSS_PACKAGE_CACHE",
    ] {
        command.env_remove(name);
    }
    command
}

pub fn assert_success(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
