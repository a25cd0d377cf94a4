//! A real etcd for tests (feature `etcd-test-server`): Debian's `etcd`
//! binary started on free loopback ports in a temporary directory, stopped
//! and removed when dropped, so a test leaves nothing running; optionally
//! serving TLS that requires client certificates, from a CA made for it.
//! Panics with a message saying what to install when there is no etcd.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::Storage;
use crate::etcd::{EtcdConfig, EtcdStorage, EtcdTls};

/// How long etcd may take to answer after it was started.
const READY_WITHIN: Duration = Duration::from_secs(60);

/// One single-member etcd cluster on loopback.
#[derive(Debug)]
pub struct EtcdServer {
    child: Option<Child>,
    client_url: String,
    peer_url: String,
    dir: tempfile::TempDir,
    /// Client TLS material when etcd serves TLS.
    tls: Option<EtcdTls>,
}

/// The etcd binary: `$ETCD_BIN`, else `etcd` on the PATH.
pub fn etcd_binary() -> PathBuf {
    std::env::var_os("ETCD_BIN").map_or_else(|| PathBuf::from("etcd"), PathBuf::from)
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free loopback port");
    listener.local_addr().expect("its address").port()
}

impl EtcdServer {
    /// Starts etcd and waits until it serves requests.
    pub async fn start() -> EtcdServer {
        Self::start_with(false).await
    }

    /// Starts etcd serving TLS to clients that present a certificate of its
    /// CA; [`EtcdServer::config`] and [`EtcdServer::tls`] carry the client's
    /// CA file, certificate and key.
    pub async fn start_tls() -> EtcdServer {
        Self::start_with(true).await
    }

    async fn start_with(tls: bool) -> EtcdServer {
        let dir = tempfile::tempdir().expect("a temporary directory for etcd");
        let scheme = if tls { "https" } else { "http" };
        let tls = tls.then(|| write_certificates(dir.path()));
        let mut server = EtcdServer {
            child: None,
            client_url: format!("{scheme}://127.0.0.1:{}", free_port()),
            peer_url: format!("http://127.0.0.1:{}", free_port()),
            dir,
            tls,
        };
        server.restart().await;
        server
    }

    /// The client's TLS files, when etcd serves TLS.
    pub fn tls(&self) -> Option<&EtcdTls> {
        self.tls.as_ref()
    }

    /// Starts etcd again on the same ports and data after [`EtcdServer::stop`]
    /// (a no-op while it runs), and waits until it serves requests.
    pub async fn restart(&mut self) {
        if self.child.is_none() {
            self.child = Some(self.spawn());
        }
        self.wait_ready().await;
    }

    fn spawn(&self) -> Child {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("etcd.log"))
            .expect("etcd's log file");
        let (client_url, peer_url) = (&self.client_url, &self.peer_url);
        let mut command = Command::new(etcd_binary());
        if self.tls.is_some() {
            let file = |name: &str| self.dir.path().join(name).display().to_string();
            command
                .arg(format!("--cert-file={}", file("server.crt")))
                .arg(format!("--key-file={}", file("server.key")))
                .arg(format!("--trusted-ca-file={}", file("ca.crt")))
                .arg("--client-cert-auth");
        }
        command
            .arg("--name=test")
            .arg(format!(
                "--data-dir={}",
                self.dir.path().join("data").display()
            ))
            .arg(format!("--listen-client-urls={client_url}"))
            .arg(format!("--advertise-client-urls={client_url}"))
            .arg(format!("--listen-peer-urls={peer_url}"))
            .arg(format!("--initial-advertise-peer-urls={peer_url}"))
            .arg(format!("--initial-cluster=test={peer_url}"))
            // A single member elects itself at once with short timers.
            .arg("--heartbeat-interval=20")
            .arg("--election-timeout=200")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("etcd's log file"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|err| {
                panic!(
                    "starting {}: {err}; install etcd (Debian: apt-get install etcd-server) \
                     or point ETCD_BIN at it",
                    etcd_binary().display()
                )
            })
    }

    async fn wait_ready(&mut self) {
        let started = Instant::now();
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!("etcd exited with {status}: {}", self.log());
            }
            if let Ok(storage) = EtcdStorage::connect(&self.config("/registry")).await
                && storage.check_health().await.is_ok()
            {
                return;
            }
            assert!(
                started.elapsed() < READY_WITHIN,
                "etcd did not answer within {READY_WITHIN:?}: {}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// etcd's output so far, for a failure message.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("etcd.log")).unwrap_or_default()
    }

    /// The client URL (`--etcd-servers`).
    pub fn url(&self) -> &str {
        &self.client_url
    }

    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// A client configuration for this server with `prefix`.
    pub fn config(&self, prefix: &str) -> EtcdConfig {
        EtcdConfig {
            endpoints: vec![self.client_url.clone()],
            prefix: prefix.to_owned(),
            tls: self.tls.clone().unwrap_or_default(),
            request_timeout: Duration::from_secs(10),
            health_timeout: Duration::from_secs(2),
            watch_progress_interval: crate::etcd::WATCH_PROGRESS_INTERVAL,
        }
    }

    /// Freezes etcd (SIGSTOP): connections stay open and nothing answers,
    /// as in a network partition. [`EtcdServer::thaw`] resumes it.
    pub fn freeze(&self) {
        self.signal("-STOP");
    }

    pub fn thaw(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let Some(child) = &self.child else { return };
        let status = Command::new("kill")
            .arg(signal)
            .arg(child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill {signal} etcd: {status}");
    }

    /// Stops etcd (SIGKILL) and waits for it; the data directory stays
    /// until the server is dropped, so [`EtcdServer::restart`] finds it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for EtcdServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Writes a CA, etcd's serving certificate for 127.0.0.1 and a client
/// certificate into `dir`; returns the client's side.
fn write_certificates(dir: &Path) -> EtcdTls {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};

    let write = |name: &str, pem: String| {
        let path = dir.join(name);
        std::fs::write(&path, pem).expect("write a test certificate");
        path
    };
    let ca_key = KeyPair::generate().expect("a CA key");
    let mut ca_params = CertificateParams::new(Vec::new()).expect("CA parameters");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).expect("the CA certificate");
    let ca_file = write("ca.crt", ca_cert.pem());
    let issuer = Issuer::from_params(&ca_params, &ca_key);
    let leaf = |names: Vec<String>, cert: &str, key: &str| {
        let leaf_key = KeyPair::generate().expect("a key");
        let params = CertificateParams::new(names).expect("certificate parameters");
        let leaf_cert = params.signed_by(&leaf_key, &issuer).expect("a certificate");
        (
            write(cert, leaf_cert.pem()),
            write(key, leaf_key.serialize_pem()),
        )
    };
    leaf(vec!["127.0.0.1".into()], "server.crt", "server.key");
    let (cert_file, key_file) = leaf(vec!["client".into()], "client.crt", "client.key");
    EtcdTls {
        ca_file: Some(ca_file),
        cert_file: Some(cert_file),
        key_file: Some(key_file),
    }
}
