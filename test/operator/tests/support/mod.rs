//! What the kube-rs tests share: the debug apiserver as a child process on
//! loopback (kube-loadgen's), and a kube-rs client for it made from a
//! kubeconfig, as a user's would be.

// Each test file uses a part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use kube::Client;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube_loadgen::server::{ADMIN_TOKEN, Server, ServerConfig};

/// The debug server: `KUBE_APISERVER_TEST_BINARY`, or built in this test's
/// target dir as `cargo test --workspace` builds it (a no-op after that).
pub fn server_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        if let Some(binary) = std::env::var_os("KUBE_APISERVER_TEST_BINARY") {
            return PathBuf::from(binary);
        }
        let test = std::env::current_exe().expect("the test binary's path");
        let target = test
            .parent()
            .and_then(Path::parent)
            .and_then(Path::parent)
            .expect("the test binary sits in <target>/debug/deps")
            .to_path_buf();
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let status = Command::new(env!("CARGO"))
            .current_dir(&root)
            .env("CARGO_TARGET_DIR", &target)
            // The features `cargo test --workspace` (what `cargo xtask
            // test` runs) builds it with: then this is a no-op there, and
            // the binary is not rebuilt with another feature set (`-p
            // kube-apiserver` alone leaves out the test crates' features).
            .args(["test", "--workspace", "--locked", "--no-run"])
            .status()
            .expect("run cargo test --no-run");
        assert!(status.success(), "cargo test --workspace --no-run failed");
        target.join("debug").join("kube-apiserver")
    })
}

/// A running server with its directory, and when its start began.
pub struct Running {
    pub server: Server,
    pub started: Instant,
    pub ready_after: Duration,
    _dir: tempfile::TempDir,
}

pub async fn start() -> Running {
    let dir = tempfile::tempdir().expect("temp dir");
    let binary = server_binary();
    let started = Instant::now();
    let (server, ready_after) = Server::start(ServerConfig::new(binary, dir.path()))
        .await
        .expect("start the apiserver");
    Running {
        server,
        started,
        ready_after,
        _dir: dir,
    }
}

/// A kube-rs client through a kubeconfig naming the server's CA and the
/// admin token.
pub async fn client(server: &Server) -> Client {
    let kubeconfig = format!(
        "apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: https://{addr}
    certificate-authority: {ca}
users:
- name: admin
  user:
    token: {ADMIN_TOKEN}
contexts:
- name: local
  context: {{cluster: local, user: admin}}
current-context: local
",
        addr = server.addr(),
        ca = server.ca().display(),
    );
    let kubeconfig = Kubeconfig::from_yaml(&kubeconfig).expect("parse the kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("a client configuration");
    Client::try_from(config).expect("a client")
}

/// Polls `check` every 20 ms until it gives a value, for at most `limit`.
pub async fn eventually<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
