//! The official Python client (PyPI `kubernetes`, pinned) against a real
//! `kube-apiserver`: the calls a Python user makes (`tests/python/client.py`).
//! The client is installed once into a virtual environment under cargo's
//! per-target temporary directory and reused by later runs.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::Server;

/// The client release the test pins (Kubernetes 1.32's).
const CLIENT: &str = "kubernetes==32.0.1";

/// A virtual environment with [`CLIENT`] installed; made on first use.
fn python_with_client() -> PathBuf {
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("python-kubernetes-32.0.1");
    let python = venv.join("bin/python");
    let installed = venv.join("installed");
    if installed.exists() {
        return python;
    }
    let _ = std::fs::remove_dir_all(&venv);
    let run = |command: &mut Command, what: &str| {
        let output = command
            .output()
            .unwrap_or_else(|err| panic!("{what}: {err} (is python3 with venv installed?)"));
        assert!(
            output.status.success(),
            "{what} failed:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    };
    run(
        Command::new("python3").arg("-m").arg("venv").arg(&venv),
        "python3 -m venv",
    );
    run(
        Command::new(&python).args(["-m", "pip", "install", "--quiet", CLIENT]),
        "pip install (from the machine's configured Python package index)",
    );
    std::fs::write(&installed, CLIENT).expect("mark the environment installed");
    python
}

#[tokio::test]
async fn the_official_python_client_works() {
    let python = tokio::task::spawn_blocking(python_with_client)
        .await
        .expect("the Python environment");
    let server = Server::start().await;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/client.py");
    let kubeconfig = server.kubeconfig();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg(script)
            .arg(kubeconfig)
            .output()
            .expect("run the Python client")
    })
    .await
    .expect("the Python client's run");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.trim_end().ends_with("ok"),
        "the Python client failed:\n{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
