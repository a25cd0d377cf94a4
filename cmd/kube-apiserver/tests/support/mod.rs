//! A real `kube-apiserver` child process for the HTTP and kubectl tests: its
//! own data, certificate and token in a temporary directory, a TLS client
//! that speaks JSON to it, watch streams read line by line, and a
//! kubeconfig for kubectl. With `KUBE_APISERVER_TEST_STORAGE=etcd` each
//! server stores in a real etcd of its own instead of its `--data-dir`
//! (`cargo xtask test` runs the REST and kubectl suites both ways).

#![allow(dead_code)]

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use apiserver_storage::etcd::test_server::EtcdServer;
use apiserver_storage::{EtcdStorage, Storage};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;
use rustls_pki_types::pem::PemObject;
use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_kube-apiserver");

/// The server binary the tests run: this build's, or another one named by
/// `KUBE_APISERVER_TEST_BINARY` (to measure an older build with the same
/// tests).
pub fn server_binary() -> String {
    std::env::var("KUBE_APISERVER_TEST_BINARY").unwrap_or_else(|_| BIN.to_owned())
}
/// The User-Agent of the harness's requests; a write without `fieldManager`
/// is recorded under its prefix, `apiserver-tests`.
pub const USER_AGENT: &str = "apiserver-tests/v0.0.0 (linux/amd64) harness";
pub const TOKEN: &str = "test-admin-token";

/// Users besides the admin every test server knows (`--token-auth-file`):
/// (token, name, uid, groups). They may do nothing until granted, under
/// RBAC.
pub const USERS: [(&str, &str, &str, &str); 4] = [
    ("alice-token", "alice", "alice-uid", "dev"),
    ("bob-token", "bob", "bob-uid", ""),
    ("carol-token", "carol", "carol-uid", "dev,ops"),
    ("node-a-token", "system:node:node-a", "", "system:nodes"),
];

/// The storage backend the tests' servers use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Embedded,
    Etcd,
}

impl Backend {
    /// `KUBE_APISERVER_TEST_STORAGE`: `embedded` (the default) or `etcd`.
    pub fn from_env() -> Backend {
        match std::env::var("KUBE_APISERVER_TEST_STORAGE").as_deref() {
            Ok("etcd") => Backend::Etcd,
            Ok("embedded") | Err(_) => Backend::Embedded,
            Ok(other) => panic!("KUBE_APISERVER_TEST_STORAGE={other:?}: use embedded or etcd"),
        }
    }
}

/// A running server; killed when dropped.
pub struct Server {
    child: Option<Child>,
    /// The server's etcd, when the tests run on etcd; outlives restarts.
    etcd: Option<EtcdServer>,
    pub dir: tempfile::TempDir,
    pub port: u16,
    extra_args: Vec<String>,
    /// `--data-dir`: inside `dir` unless the test chose one.
    data_dir: Option<PathBuf>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind a free port")
        .local_addr()
        .expect("local addr")
        .port()
}

impl Server {
    /// Starts a server with default flags and waits until `/readyz` is ok.
    pub async fn start() -> Server {
        Self::start_with(&[]).await
    }

    pub async fn start_with(extra: &[&str]) -> Server {
        Self::start_with_data_dir(extra, None).await
    }

    /// Starts a server whose data lives in `data_dir` (e.g. on a filesystem
    /// the test mounted).
    pub async fn start_with_data_dir(extra: &[&str], data_dir: Option<PathBuf>) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut tokens = format!("{TOKEN},admin,admin-uid,system:masters\n");
        for (token, name, uid, groups) in USERS {
            tokens.push_str(&format!("{token},{name},{uid},\"{groups}\"\n"));
        }
        std::fs::write(dir.path().join("tokens.csv"), tokens).expect("write tokens");
        // A test that names its own etcd keeps it.
        let own_etcd = extra.iter().any(|arg| arg.starts_with("--etcd-servers"));
        let etcd = match Backend::from_env() {
            Backend::Etcd if !own_etcd => Some(EtcdServer::start().await),
            _ => None,
        };
        let mut server = Server {
            child: None,
            etcd,
            dir,
            port: free_port(),
            extra_args: extra.iter().map(|s| s.to_string()).collect(),
            data_dir,
        };
        server.spawn().await;
        server
    }

    pub fn data_dir(&self) -> PathBuf {
        self.data_dir
            .clone()
            .unwrap_or_else(|| self.dir.path().join("data"))
    }

    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("apiserver.crt")
    }

    /// (Re)starts the process on the same port, data and certificate.
    pub async fn spawn(&mut self) {
        let child = Command::new(server_binary())
            .arg(format!("--cert-dir={}", self.dir.path().display()))
            .arg(format!("--data-dir={}", self.data_dir().display()))
            .arg(format!(
                "--token-auth-file={}",
                self.dir.path().join("tokens.csv").display()
            ))
            .arg("--bind-address=127.0.0.1")
            .arg(format!("--secure-port={}", self.port))
            .args(
                self.etcd
                    .iter()
                    .map(|etcd| format!("--etcd-servers={}", etcd.url())),
            )
            .args(&self.extra_args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn kube-apiserver");
        self.child = Some(child);
        for _ in 0..1000 {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                let mut err = String::new();
                if let Some(mut stderr) = self.child.as_mut().and_then(|c| c.stderr.take()) {
                    let _ = stderr.read_to_string(&mut err);
                }
                panic!("kube-apiserver exited with {status}: {err}");
            }
            if self.ca().exists()
                && let Ok((200, _)) = self.raw("GET", "/readyz", None, "application/json").await
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("kube-apiserver did not become ready");
    }

    /// On etcd, compacts its history up to now (what the embedded store's
    /// restart does to its in-memory history); nothing on the embedded store.
    pub async fn compact_storage(&self) {
        if let Some(etcd) = &self.etcd {
            let store = EtcdStorage::connect(&etcd.config("/registry"))
                .await
                .expect("connect to the test etcd");
            // One write outside the registry first: etcd keeps the state at
            // the compaction revision, so the last object's own revision
            // would still be watchable.
            let mut kv = store.client().kv_client();
            kv.put("test-compaction-marker", "", None)
                .await
                .expect("write to the test etcd");
            let now = store.current_revision().await.expect("etcd's revision");
            store.compact(now).await.expect("compact etcd");
        }
    }

    /// The server process's resident memory, in KiB (`VmRSS`).
    pub fn rss_kib(&self) -> u64 {
        self.proc_status("VmRSS")
            .trim_end_matches("kB")
            .trim()
            .parse()
            .expect("VmRSS in KiB")
    }

    /// The value of `field` in the server process's `/proc/PID/status`.
    pub fn proc_status(&self, field: &str) -> String {
        let pid = self.child.as_ref().expect("a running server").id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
        status
            .lines()
            .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
            .map(|value| value.trim().to_owned())
            .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
    }

    /// SIGKILL, no cleanup: what a crash looks like.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the process with SIGTERM (a graceful shutdown) and waits for it.
    pub fn terminate(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pid = libc::pid_t::try_from(child.id()).expect("a pid");
            // SAFETY: signals our own child, which has not been reaped yet.
            unsafe { libc::kill(pid, libc::SIGTERM) };
            let _ = child.wait();
        }
    }

    fn tls_config(&self) -> anyhow::Result<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls_pki_types::CertificateDer::pem_file_iter(self.ca())? {
            roots.add(cert?)?;
        }
        Ok(rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth())
    }

    /// A TLS connection to the server and nothing more (for tests that
    /// speak, or keep silent, at the byte level).
    pub async fn tls_connect(
        &self,
    ) -> anyhow::Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await?;
        Ok(
            tokio_rustls::TlsConnector::from(Arc::new(self.tls_config()?))
                .connect(ServerName::try_from("localhost")?.to_owned(), tcp)
                .await?,
        )
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<Vec<u8>>,
        content_type: &str,
    ) -> anyhow::Result<hyper::Response<Incoming>> {
        self.send_with(method, path, body, content_type, Some(TOKEN), &[])
            .await
    }

    /// A request with `token` (none: anonymous) and extra headers.
    pub async fn send_with(
        &self,
        method: &str,
        path: &str,
        body: Option<Vec<u8>>,
        content_type: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
    ) -> anyhow::Result<hyper::Response<Incoming>> {
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await?;
        let tls = tokio_rustls::TlsConnector::from(Arc::new(self.tls_config()?))
            .connect(ServerName::try_from("localhost")?.to_owned(), tcp)
            .await?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls)).await?;
        tokio::spawn(conn);
        let mut request = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", "localhost")
            .header("user-agent", USER_AGENT)
            .header("content-type", content_type);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(Full::new(Bytes::from(body.unwrap_or_default())))?;
        Ok(sender.send_request(request).await?)
    }

    /// One request; the status code and the body text.
    pub async fn raw(
        &self,
        method: &str,
        path: &str,
        body: Option<Vec<u8>>,
        content_type: &str,
    ) -> anyhow::Result<(u16, String)> {
        let response = self.send(method, path, body, content_type).await?;
        let code = response.status().as_u16();
        let body = response.into_body().collect().await?.to_bytes();
        Ok((code, String::from_utf8_lossy(&body).into_owned()))
    }

    /// One JSON request; the status code, the JSON body and the warnings.
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> (u16, Value, Vec<String>) {
        let bytes = body.map(|b| serde_json::to_vec(b).expect("encode"));
        let response = self
            .send(method, path, bytes, "application/json")
            .await
            .unwrap_or_else(|err| panic!("{method} {path}: {err:#}"));
        let code = response.status().as_u16();
        let warnings = response
            .headers()
            .get_all("warning")
            .iter()
            .map(|v| v.to_str().unwrap_or_default().to_string())
            .collect();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let json = serde_json::from_slice(&body).unwrap_or_else(|err| {
            panic!(
                "{method} {path}: not JSON ({err}): {}",
                String::from_utf8_lossy(&body)
            )
        });
        (code, json, warnings)
    }

    /// A JSON request as the user of `token` (none: anonymous), with extra
    /// headers; the status code and the body (`Null` when not JSON).
    pub async fn request_as(
        &self,
        token: Option<&str>,
        method: &str,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        let bytes = body.map(|b| serde_json::to_vec(b).expect("encode"));
        let response = self
            .send_with(method, path, bytes, "application/json", token, headers)
            .await
            .unwrap_or_else(|err| panic!("{method} {path}: {err:#}"));
        let code = response.status().as_u16();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        (code, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let (code, body, _) = self.request("GET", path, None).await;
        (code, body)
    }

    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let (code, body, _) = self.request("POST", path, Some(body)).await;
        (code, body)
    }

    pub async fn put(&self, path: &str, body: &Value) -> (u16, Value) {
        let (code, body, _) = self.request("PUT", path, Some(body)).await;
        (code, body)
    }

    pub async fn delete(&self, path: &str) -> (u16, Value) {
        let (code, body, _) = self.request("DELETE", path, None).await;
        (code, body)
    }

    /// Opens a watch; events are read with [`Watch::next`].
    pub async fn watch(&self, path: &str) -> Watch {
        let response = self
            .send("GET", path, None, "application/json")
            .await
            .unwrap_or_else(|err| panic!("watch {path}: {err:#}"));
        assert_eq!(response.status().as_u16(), 200, "watch {path}");
        Watch {
            body: response.into_body(),
            buffer: Vec::new(),
        }
    }

    /// A kubeconfig for this server (CA and bearer token).
    pub fn kubeconfig(&self) -> PathBuf {
        let path = self.dir.path().join("kubeconfig");
        let config = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n    server: https://127.0.0.1:{port}\n    certificate-authority: {ca}\nusers:\n- name: admin\n  user:\n    token: {TOKEN}\ncontexts:\n- name: test\n  context:\n    cluster: test\n    user: admin\n    namespace: default\ncurrent-context: test\n",
            port = self.port,
            ca = self.ca().display(),
        );
        std::fs::write(&path, config).expect("write kubeconfig");
        path
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A watch response being read.
pub struct Watch {
    body: Incoming,
    buffer: Vec<u8>,
}

impl Watch {
    /// The next event, or `None` when the server ended the stream; panics
    /// after `wait` without one.
    pub async fn next_within(&mut self, wait: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(end) = self.buffer.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buffer.drain(..=end).collect();
                return Some(serde_json::from_slice(&line).expect("a JSON watch event per line"));
            }
            let frame = tokio::time::timeout_at(deadline, self.body.frame())
                .await
                .expect("no watch event in time");
            match frame {
                None => return None,
                Some(frame) => {
                    if let Ok(data) = frame.expect("watch frame").into_data() {
                        self.buffer.extend_from_slice(&data);
                    }
                }
            }
        }
    }

    pub async fn next(&mut self) -> Value {
        self.next_within(Duration::from_secs(10))
            .await
            .expect("the watch ended early")
    }
}

/// Runs kubectl with its own cache directory against `server`.
pub fn kubectl(server: &Server, args: &[&str]) -> std::process::Output {
    let cache = server.dir.path().join("kube-cache");
    Command::new("kubectl")
        .arg(format!("--kubeconfig={}", server.kubeconfig().display()))
        .arg(format!("--cache-dir={}", cache.display()))
        .args(args)
        .env("HOME", server.dir.path())
        .output()
        .expect("run kubectl")
}

/// kubectl's stdout, once it has succeeded (its stderr and stdout are the
/// panic's message otherwise).
#[track_caller]
pub fn ok(output: std::process::Output) -> String {
    assert!(
        output.status.success(),
        "kubectl failed: {}\n{}",
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// kubectl's stderr, once it has failed.
#[track_caller]
pub fn failed(output: std::process::Output) -> String {
    assert!(
        !output.status.success(),
        "kubectl succeeded where it must fail: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A path for a file inside the server's temporary directory.
pub fn file(server: &Server, name: &str, content: &str) -> PathBuf {
    let path: &Path = server.dir.path();
    let file = path.join(name);
    std::fs::write(&file, content).expect("write file");
    file
}
