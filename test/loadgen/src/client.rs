//! The HTTP client of the load: TLS (rustls with ring) trusting only the
//! server's own CA (the `apiserver.crt` it writes into its `--cert-dir`),
//! a bearer token, and connections over HTTP/1.1 (one request at a time
//! each) or HTTP/2 (many streams on one connection). Loopback only: a
//! [`Target`] outside 127.0.0.0/8 and ::1 is refused.

use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::client::conn::{http1, http2};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue};
use hyper::{Method, Request, Response, Uri};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};

/// How many requests (or watches) share one HTTP/2 connection at most: the
/// server's own default limit is 200 (`--http2-max-streams-per-connection`),
/// and client-go's connections carry about as many.
pub const DEFAULT_STREAMS_PER_CONNECTION: usize = 100;

/// How long a TCP connect plus TLS and HTTP handshakes may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The name the server's certificate is checked against (its generated
/// certificate names `localhost`, whatever loopback address it binds).
const SERVER_NAME: &str = "localhost";

/// The HTTP version of every connection of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// HTTP/1.1 with keep-alive: one request at a time per connection.
    Http1,
    /// HTTP/2: requests are streams multiplexed on a connection.
    Http2,
}

impl FromStr for Protocol {
    type Err = anyhow::Error;

    fn from_str(text: &str) -> Result<Protocol> {
        match text {
            "1.1" | "http/1.1" | "HTTP/1.1" => Ok(Protocol::Http1),
            "2" | "h2" | "http/2" | "HTTP/2" => Ok(Protocol::Http2),
            _ => bail!("unknown HTTP version {text:?}: use 1.1 or 2"),
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Http1 => "HTTP/1.1",
            Protocol::Http2 => "HTTP/2",
        })
    }
}

/// Refuses every address but loopback (127.0.0.0/8, ::1): the load
/// generator measures a server on this machine and must never be pointed
/// at someone else's.
pub fn check_loopback(addr: SocketAddr) -> Result<()> {
    if addr.ip().is_loopback() {
        return Ok(());
    }
    bail!(
        "{addr} is not a loopback address: the load generator only sends to 127.0.0.0/8 or ::1 \
         (run the server on this machine, e.g. --bind-address 127.0.0.1)"
    )
}

/// A rustls client configuration trusting the CA certificates in `ca`
/// (PEM), offering only `protocol` by ALPN.
pub fn tls_config(ca: &Path, protocol: Protocol) -> Result<Arc<rustls::ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    let certificates = CertificateDer::pem_file_iter(ca)
        .with_context(|| format!("reading the server's CA {}", ca.display()))?;
    for certificate in certificates {
        let certificate =
            certificate.with_context(|| format!("a PEM certificate in {}", ca.display()))?;
        roots
            .add(certificate)
            .with_context(|| format!("a CA certificate in {}", ca.display()))?;
    }
    if roots.is_empty() {
        bail!("{} holds no certificate", ca.display());
    }
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .context("TLS versions of the ring provider")?
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![alpn(protocol).to_vec()];
    Ok(Arc::new(config))
}

fn alpn(protocol: Protocol) -> &'static [u8] {
    match protocol {
        Protocol::Http1 => b"http/1.1",
        Protocol::Http2 => b"h2",
    }
}

/// A server to load: its loopback address, the TLS configuration that
/// trusts it, the token sent as `Authorization: Bearer`, the protocol.
/// Cheap to clone.
#[derive(Clone)]
pub struct Target {
    inner: Arc<TargetInner>,
}

struct TargetInner {
    addr: SocketAddr,
    tls: Arc<rustls::ClientConfig>,
    protocol: Protocol,
    authorization: HeaderValue,
    /// `localhost:PORT`: the Host header and the HTTP/2 authority.
    authority: String,
    streams_per_connection: usize,
}

impl Target {
    /// A target at `addr` (loopback only) trusting the CA file `ca`.
    pub fn new(addr: SocketAddr, ca: &Path, token: &str, protocol: Protocol) -> Result<Target> {
        check_loopback(addr)?;
        let tls = tls_config(ca, protocol)?;
        Target::with_tls(addr, tls, token, protocol)
    }

    /// A target with a TLS configuration of the caller's (its ALPN is
    /// replaced by `protocol`'s).
    pub fn with_tls(
        addr: SocketAddr,
        tls: Arc<rustls::ClientConfig>,
        token: &str,
        protocol: Protocol,
    ) -> Result<Target> {
        check_loopback(addr)?;
        let mut tls = (*tls).clone();
        tls.alpn_protocols = vec![alpn(protocol).to_vec()];
        let authorization = HeaderValue::from_str(&format!("Bearer {token}"))
            .context("the bearer token is not a valid header value")?;
        Ok(Target {
            inner: Arc::new(TargetInner {
                addr,
                tls: Arc::new(tls),
                protocol,
                authorization,
                authority: format!("{SERVER_NAME}:{}", addr.port()),
                streams_per_connection: DEFAULT_STREAMS_PER_CONNECTION,
            }),
        })
    }

    /// At most `streams` requests or watches share an HTTP/2 connection.
    pub fn with_streams_per_connection(self, streams: usize) -> Target {
        let inner = &self.inner;
        Target {
            inner: Arc::new(TargetInner {
                addr: inner.addr,
                tls: inner.tls.clone(),
                protocol: inner.protocol,
                authorization: inner.authorization.clone(),
                authority: inner.authority.clone(),
                streams_per_connection: streams.max(1),
            }),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.inner.addr
    }

    pub fn protocol(&self) -> Protocol {
        self.inner.protocol
    }

    pub fn streams_per_connection(&self) -> usize {
        self.inner.streams_per_connection
    }

    /// How many connections `users` concurrent requests or watches take:
    /// one each over HTTP/1.1; over HTTP/2 as few as carry them at
    /// [`Target::streams_per_connection`] streams each.
    pub fn connections_for(&self, users: usize) -> usize {
        match self.protocol() {
            Protocol::Http1 => users,
            Protocol::Http2 => users.div_ceil(self.streams_per_connection()),
        }
    }

    /// One new connection: TCP, TLS with the protocol agreed by ALPN, the
    /// HTTP handshake.
    pub async fn connect(&self) -> Result<Connection> {
        tokio::time::timeout(CONNECT_TIMEOUT, self.connect_now())
            .await
            .with_context(|| {
                format!(
                    "connecting to {} took longer than {CONNECT_TIMEOUT:?}",
                    self.addr()
                )
            })?
    }

    async fn connect_now(&self) -> Result<Connection> {
        let inner = &self.inner;
        let tcp = tokio::net::TcpStream::connect(inner.addr)
            .await
            .with_context(|| format!("connecting to {}", inner.addr))?;
        tcp.set_nodelay(true).context("TCP_NODELAY")?;
        let name = ServerName::try_from(SERVER_NAME).context("the server name")?;
        let tls = tokio_rustls::TlsConnector::from(inner.tls.clone())
            .connect(name, tcp)
            .await
            .with_context(|| format!("TLS handshake with {}", inner.addr))?;
        if let Some(agreed) = tls.get_ref().1.alpn_protocol()
            && agreed != alpn(inner.protocol)
        {
            bail!(
                "the server at {} answered ALPN {:?} to an offer of {}",
                inner.addr,
                String::from_utf8_lossy(agreed),
                inner.protocol
            );
        }
        let io = TokioIo::new(tls);
        let sender = match inner.protocol {
            Protocol::Http1 => {
                let (sender, connection) =
                    http1::handshake(io).await.context("HTTP/1.1 handshake")?;
                tokio::spawn(connection);
                Sender::Http1(sender)
            }
            Protocol::Http2 => {
                let (sender, connection) = http2::Builder::new(TokioExecutor::new())
                    .timer(TokioTimer::new())
                    .handshake(io)
                    .await
                    .context("HTTP/2 handshake")?;
                tokio::spawn(connection);
                Sender::Http2(sender)
            }
        };
        Ok(Connection {
            sender,
            target: self.clone(),
        })
    }

    /// `users` handles for as many concurrent users: over HTTP/1.1 one
    /// connection each; over HTTP/2 [`Target::connections_for`] connections,
    /// the users dealt round-robin onto them (a handle is a clone of its
    /// connection's sender, each request a stream).
    pub async fn connect_many(&self, users: usize) -> Result<Vec<Connection>> {
        let count = self.connections_for(users);
        let mut connections = Vec::with_capacity(count);
        for _ in 0..count {
            connections.push(self.connect().await?);
        }
        if self.protocol() == Protocol::Http1 {
            return Ok(connections);
        }
        Ok((0..users)
            .filter_map(|user| connections[user % count].share())
            .collect())
    }

    /// The request `method path` with the token, JSON content type and
    /// the form of URI the protocol wants.
    pub fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<Bytes>,
    ) -> Result<Request<Full<Bytes>>> {
        let inner = &self.inner;
        let uri: Uri = match inner.protocol {
            Protocol::Http1 => path.parse(),
            // HTTP/2 carries the scheme and authority as pseudo-headers.
            Protocol::Http2 => format!("https://{}{path}", inner.authority).parse(),
        }
        .with_context(|| format!("request path {path:?}"))?;
        let mut builder = Request::builder()
            .method(method)
            .uri(uri)
            .header(AUTHORIZATION, inner.authorization.clone())
            .header(CONTENT_TYPE, "application/json");
        if inner.protocol == Protocol::Http1 {
            builder = builder.header(HOST, inner.authority.as_str());
        }
        builder
            .body(Full::new(body.unwrap_or_default()))
            .context("building a request")
    }
}

enum Sender {
    Http1(http1::SendRequest<Full<Bytes>>),
    Http2(http2::SendRequest<Full<Bytes>>),
}

/// One user's handle on a connection: its own HTTP/1.1 connection, or a
/// share of an HTTP/2 one (then cloning gives another stream's handle).
pub struct Connection {
    sender: Sender,
    target: Target,
}

impl Connection {
    /// Another handle on the same HTTP/2 connection (another stream); none
    /// for HTTP/1.1, whose connection carries one request at a time.
    pub fn share(&self) -> Option<Connection> {
        match &self.sender {
            Sender::Http2(sender) => Some(Connection {
                sender: Sender::Http2(sender.clone()),
                target: self.target.clone(),
            }),
            Sender::Http1(_) => None,
        }
    }
}

/// An answer read to its end.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Bytes,
}

impl Reply {
    /// The body as text, for error messages (shortened).
    pub fn text(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        match text.char_indices().nth(500) {
            Some((end, _)) => format!("{}…", &text[..end]),
            None => text.into_owned(),
        }
    }
}

impl Connection {
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Sends `request` once the connection can take it (HTTP/1.1: the
    /// previous answer was read; HTTP/2: a stream is free) and returns the
    /// answer's head, its body unread.
    pub async fn send(&mut self, request: Request<Full<Bytes>>) -> Result<Response<Incoming>> {
        match &mut self.sender {
            Sender::Http1(sender) => {
                sender.ready().await.context("the connection closed")?;
                sender
                    .send_request(request)
                    .await
                    .context("sending a request")
            }
            Sender::Http2(sender) => {
                sender.ready().await.context("the connection closed")?;
                sender
                    .send_request(request)
                    .await
                    .context("sending a request")
            }
        }
    }

    /// `method path` with `body`, its answer read to the end.
    pub async fn call(&mut self, method: Method, path: &str, body: Option<Bytes>) -> Result<Reply> {
        let request = self.target.request(method, path, body)?;
        let response = self.send(request).await?;
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .collect()
            .await
            .context("reading an answer")?
            .to_bytes();
        Ok(Reply { status, body })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_addresses_are_accepted() {
        for ok in ["127.0.0.1:443", "127.1.2.3:6443", "[::1]:6443"] {
            check_loopback(ok.parse().unwrap()).unwrap();
        }
        for refused in [
            "10.0.0.1:6443",
            "0.0.0.0:6443",
            "192.168.1.1:443",
            "[::]:6443",
            "[::ffff:127.0.0.1]:6443",
            "[2001:db8::1]:443",
        ] {
            let err = check_loopback(refused.parse().unwrap()).unwrap_err();
            assert!(err.to_string().contains("not a loopback address"), "{err}");
        }
    }

    #[test]
    fn protocols_parse() {
        assert_eq!("1.1".parse::<Protocol>().unwrap(), Protocol::Http1);
        assert_eq!("2".parse::<Protocol>().unwrap(), Protocol::Http2);
        assert!("3".parse::<Protocol>().is_err());
    }
}
