//! What the tests against the real Docker engine share (`container.rs`,
//! `image.rs`): running the built xtask with its output logged, and an
//! Engine API client.

use std::path::Path;
use std::process::{Command, Output};

use bollard::Docker;

use crate::common::without_build_env;

/// Runs the built xtask in `dir` as a user would, with `envs` added; logs its
/// stderr, so a failing test shows what the xtask said.
pub fn xtask(dir: &Path, envs: &[(&str, &str)], args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_xtask"));
    without_build_env(&mut command).current_dir(dir).args(args);
    for (k, v) in envs {
        command.env(k, v);
    }
    let out = command.output().expect("running the xtask");
    eprintln!(
        "--- xtask {} in {} ({}):\n{}",
        args.join(" "),
        dir.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A client of the engine at DOCKER_HOST or the default socket, and the
/// runtime it runs on.
pub fn docker() -> (tokio::runtime::Runtime, Docker) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let docker = runtime
        .block_on(async { Docker::connect_with_defaults()?.negotiate_version().await })
        .expect("a Docker engine (DOCKER_HOST or /var/run/docker.sock)");
    (runtime, docker)
}
