//! Test harness: an in-process server on 127.0.0.1:0 with the generated
//! certificate, test routes plugged in through `Server::add_routes`, and a
//! small HTTPS client (HTTP/1.1 or HTTP/2) trusting that certificate.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use apiserver::authentication::Authenticator;
use apiserver::authorization::AlwaysAllow;
use apiserver::filters::body_limit::{BodyLimit, read_body};
use apiserver::server::{Config, Server, pem, self_signed, tls};
use axum::Router;
use axum::extract::Request;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rustls::RootCertStore;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::sync::{Notify, mpsc, oneshot};

/// Signals between a test and its slow handler.
#[derive(Clone)]
pub struct Gate {
    pub entered: Arc<mpsc::UnboundedSender<()>>,
    pub release: Arc<Notify>,
}

pub struct TestServer {
    pub addr: SocketAddr,
    pub dir: tempfile::TempDir,
    pub ca: PathBuf,
    pub entered: mpsc::UnboundedReceiver<()>,
    pub release: Arc<Notify>,
    shutdown: Option<oneshot::Sender<()>>,
    pub task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

pub fn base_config(dir: &Path) -> Config {
    let (paths, _) =
        self_signed::ensure(dir, "127.0.0.1", &["kubernetes"], &[]).expect("certificate");
    let tls = tls::server_config(&tls::TlsSettings {
        cert_file: &paths.cert,
        key_file: &paths.key,
        client_ca_file: None,
        min_version: None,
        cipher_suites: &[],
        sni_cert_keys: &[],
    })
    .expect("tls config");
    Config {
        bind_address: "127.0.0.1:0".parse().unwrap(),
        permit_port_sharing: false,
        tls,
        http2_max_streams: None,
        authenticator: Authenticator {
            anonymous: true,
            ..Authenticator::default()
        },
        authorizer: Arc::new(AlwaysAllow),
        auditor: None,
        max_requests_in_flight: 400,
        max_mutating_requests_in_flight: 200,
        request_timeout: Duration::from_secs(60),
        max_request_body_bytes: 3 * 1024 * 1024,
        cors_allowed_origins: Vec::new(),
        hsts_directives: Vec::new(),
        shutdown_delay: Duration::ZERO,
        shutdown_drain_timeout: Duration::from_secs(30),
        max_connections: 1024,
        idle_connection_timeout: Duration::from_secs(90),
    }
}

/// Routes a later component would add; `/slow` and the watch path wait for
/// the test to release them.
fn test_routes(gate: Gate) -> Router {
    let slow = {
        let gate = gate.clone();
        move || {
            let gate = gate.clone();
            async move {
                // Register for the release before telling the test we are in.
                let released = gate.release.notified();
                tokio::pin!(released);
                released.as_mut().enable();
                let _ = gate.entered.send(());
                released.await;
                "released"
            }
        }
    };
    Router::new()
        .route("/slow", get(slow.clone()).post(slow.clone()))
        .route("/api/v1/pods", get(slow))
        .route("/echo", post(echo))
        .route("/panic", get(|| async { panic_now() }))
}

fn panic_now() -> &'static str {
    panic!("test handler panics")
}

async fn echo(request: Request) -> axum::response::Response {
    let limit = request
        .extensions()
        .get::<BodyLimit>()
        .map_or(u64::MAX, |l| l.0);
    match read_body(request.into_body(), limit).await {
        Ok(bytes) => ([(http::header::CONTENT_TYPE, "application/json")], bytes).into_response(),
        Err(status) => status.into_response(),
    }
}

impl TestServer {
    pub async fn start(configure: impl FnOnce(&mut Config, &Path)) -> TestServer {
        Self::start_with(configure, |_| {}).await
    }

    pub async fn start_with(
        configure: impl FnOnce(&mut Config, &Path),
        extend: impl FnOnce(&mut Server),
    ) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let mut config = base_config(dir.path());
        configure(&mut config, dir.path());
        let (tx, entered) = mpsc::unbounded_channel();
        let release = Arc::new(Notify::new());
        let gate = Gate {
            entered: Arc::new(tx),
            release: release.clone(),
        };
        let mut server = Server::new(config).unwrap();
        server.add_routes(test_routes(gate));
        extend(&mut server);
        let prepared = server.prepare_run().await.unwrap();
        let addr = prepared.local_addr();
        let (shutdown_tx, shutdown_rx) = oneshot::channel();
        let task = tokio::spawn(prepared.run(async move {
            let _ = shutdown_rx.await;
        }));
        let ca = dir.path().join("apiserver.crt");
        TestServer {
            addr,
            dir,
            ca,
            entered,
            release,
            shutdown: Some(shutdown_tx),
            task,
        }
    }

    pub fn client(&self) -> Client {
        Client::new(self.addr, &self.ca)
    }

    pub fn shutdown(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// An HTTPS client: a new TLS connection per request.
#[derive(Clone)]
pub struct Client {
    pub addr: SocketAddr,
    pub config: Arc<rustls::ClientConfig>,
    pub http2: bool,
    /// The TLS server name (SNI and certificate check).
    pub server_name: String,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub http2: bool,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

pub fn roots(ca: &Path) -> RootCertStore {
    let mut roots = RootCertStore::empty();
    for cert in pem::load_certificates(ca).unwrap() {
        roots.add(cert).unwrap();
    }
    roots
}

pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

impl Client {
    pub fn new(addr: SocketAddr, ca: &Path) -> Client {
        let config = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots(ca))
            .with_no_client_auth();
        Client::from_config(addr, config)
    }

    pub fn with_client_cert(
        addr: SocketAddr,
        ca: &Path,
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Client {
        let config = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots(ca))
            .with_client_auth_cert(chain, key)
            .unwrap();
        Client::from_config(addr, config)
    }

    fn from_config(addr: SocketAddr, mut config: rustls::ClientConfig) -> Client {
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Client {
            addr,
            config: Arc::new(config),
            http2: false,
            server_name: "localhost".to_string(),
        }
    }

    pub fn with_server_name(mut self, name: &str) -> Client {
        self.server_name = name.to_string();
        self
    }

    pub fn http2(mut self) -> Client {
        self.http2 = true;
        self
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, &[], Bytes::new())
            .await
            .expect("request")
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> anyhow::Result<Reply> {
        self.send_body(method, path, headers, Full::new(body)).await
    }

    pub async fn send_body<B>(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: B,
    ) -> anyhow::Result<Reply>
    where
        B: http_body::Body<Data = Bytes> + Send + Unpin + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let mut config = (*self.config).clone();
        config.alpn_protocols = if self.http2 {
            vec![b"h2".to_vec()]
        } else {
            vec![b"http/1.1".to_vec()]
        };
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let tcp = tokio::net::TcpStream::connect(self.addr).await?;
        let tls = connector
            .connect(
                ServerName::try_from(self.server_name.as_str())?.to_owned(),
                tcp,
            )
            .await?;
        let negotiated_h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
        let mut builder = http::Request::builder()
            .method(method)
            .uri(format!("https://localhost{path}"));
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let request = builder.body(body)?;
        let response = if negotiated_h2 {
            let (mut sender, conn) = hyper::client::conn::http2::handshake(
                hyper_util::rt::TokioExecutor::new(),
                TokioIo::new(tls),
            )
            .await?;
            tokio::spawn(conn);
            sender.send_request(request).await?
        } else {
            let (mut sender, conn) =
                hyper::client::conn::http1::handshake(TokioIo::new(tls)).await?;
            tokio::spawn(conn);
            let mut request = request;
            request
                .headers_mut()
                .insert(http::header::HOST, "localhost".parse()?);
            sender.send_request(request).await?
        };
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await?.to_bytes();
        Ok(Reply {
            status,
            headers,
            body,
            http2: negotiated_h2,
        })
    }
}

/// A request body without a size hint (sent chunked): `count` chunks of 64 KiB.
pub struct Chunks {
    left: usize,
}

impl Chunks {
    pub fn new(total: usize) -> Chunks {
        Chunks {
            left: total.div_ceil(CHUNK),
        }
    }
}

const CHUNK: usize = 64 * 1024;

impl http_body::Body for Chunks {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        if self.left == 0 {
            return std::task::Poll::Ready(None);
        }
        self.left -= 1;
        std::task::Poll::Ready(Some(Ok(http_body::Frame::data(Bytes::from(vec![
            b'x';
            CHUNK
        ])))))
    }
}
