//! The accept loop: TLS handshakes, the client-certificate identity of each
//! connection, HTTP/1.1 and HTTP/2 (ALPN) via hyper-util, port sharing, the
//! connection bounds of `connections` (how many, header and idle timeouts),
//! and the shutdown sequence: `/readyz` fails, wait
//! `--shutdown-delay-duration`, stop accepting, drain in-flight requests,
//! return.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::body::Body;
use futures_util::FutureExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::{Semaphore, watch};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use super::Config;
use super::connections::{Activity, READ_HEADER_TIMEOUT, TrackedBody};
use crate::authentication::{ClientCertIdentity, x509};
use crate::filters::RemoteAddr;

/// The listening socket: SO_REUSEADDR always (as Rust's and Go's listeners
/// do), SO_REUSEPORT with `--permit-port-sharing`.
fn listen(address: SocketAddr, reuse_port: bool) -> std::io::Result<TcpListener> {
    let socket = if address.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    if reuse_port {
        socket.set_reuseport(true)?;
    }
    socket.bind(address)?;
    socket.listen(1024)
}

/// TLS handshakes that take longer are dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long an idle connection may take to close after being asked to.
const IDLE_CLOSE_GRACE: Duration = Duration::from_secs(1);

/// A bound secure port with its handler.
pub struct PreparedServer {
    listener: TcpListener,
    local_addr: SocketAddr,
    acceptor: TlsAcceptor,
    app: Router,
    http: auto::Builder<TokioExecutor>,
    shutting_down: Arc<AtomicBool>,
    shutdown_delay: Duration,
    drain_timeout: Duration,
    /// `--max-connections`, resolved.
    max_connections: usize,
    idle_timeout: Duration,
    pre_shutdown_hooks: Vec<PreShutdownHook>,
}

/// A named piece of work for the start of shutdown (see
/// `Server::add_pre_shutdown_hook`).
pub type PreShutdownHook = (
    &'static str,
    std::pin::Pin<Box<dyn Future<Output = ()> + Send>>,
);

/// The longest one pre-shutdown hook may take: shutdown goes on without it.
pub const PRE_SHUTDOWN_HOOK_TIMEOUT: Duration = Duration::from_secs(10);

impl PreparedServer {
    pub(super) async fn bind(
        config: Config,
        app: Router,
        shutting_down: Arc<AtomicBool>,
        pre_shutdown_hooks: Vec<PreShutdownHook>,
    ) -> anyhow::Result<Self> {
        let listener =
            listen(config.bind_address, config.permit_port_sharing).with_context(|| {
                format!(
                    "failed to listen on {}: choose another --bind-address/--secure-port",
                    config.bind_address
                )
            })?;
        let local_addr = listener.local_addr().context("reading the bound address")?;
        let mut http = auto::Builder::new(TokioExecutor::new());
        // The header timeout is ours (see `connections`): hyper's also
        // closes HTTP/1.1 keep-alive connections idle for as long.
        http.http1()
            .timer(TokioTimer::new())
            .header_read_timeout(None);
        http.http2().timer(TokioTimer::new());
        if let Some(streams) = config.http2_max_streams {
            http.http2().max_concurrent_streams(streams);
        }
        Ok(PreparedServer {
            listener,
            local_addr,
            acceptor: TlsAcceptor::from(config.tls),
            app,
            http,
            shutting_down,
            shutdown_delay: config.shutdown_delay,
            drain_timeout: config.shutdown_drain_timeout,
            max_connections: config.max_connections.max(1),
            idle_timeout: config.idle_connection_timeout,
            pre_shutdown_hooks,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until `shutdown` resolves, then shuts down gracefully.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
        let PreparedServer {
            listener,
            local_addr,
            acceptor,
            app,
            http,
            shutting_down,
            shutdown_delay,
            drain_timeout,
            max_connections,
            idle_timeout,
            pre_shutdown_hooks,
        } = self;
        tracing::info!(address = %local_addr, max_connections, "serving securely");
        // Every connection holds a receiver; the sender tells them to close
        // gracefully and, once all are gone, that they have.
        let (closing, _) = watch::channel(());
        let slots = Arc::new(Semaphore::new(max_connections));
        let accept_loop = || async {
            loop {
                // At the bound, new connections wait in the listen queue.
                let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
                    return;
                };
                let (tcp, peer) = match listener.accept().await {
                    Ok(accepted) => accepted,
                    Err(err) => {
                        // E.g. out of file descriptors: back off, never spin.
                        tracing::warn!(%err, "accepting a connection");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let _ = tcp.set_nodelay(true);
                let acceptor = acceptor.clone();
                let app = app.clone();
                let http = http.clone();
                let mut close = closing.subscribe();
                tokio::spawn(async move {
                    let _slot = slot;
                    let tls =
                        match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                            Ok(Ok(tls)) => tls,
                            Ok(Err(err)) => {
                                tracing::debug!(%peer, %err, "TLS handshake failed");
                                return;
                            }
                            Err(_) => {
                                tracing::debug!(%peer, "TLS handshake timed out");
                                return;
                            }
                        };
                    let identity = ClientCertIdentity(
                        tls.get_ref()
                            .1
                            .peer_certificates()
                            .and_then(|chain| chain.first())
                            .map(|leaf| x509::user_from_certificate(leaf)),
                    );
                    let activity = Activity::default();
                    let requests = activity.clone();
                    let service = tower::service_fn(move |request: hyper::Request<Incoming>| {
                        let active = requests.begin();
                        let mut request = request.map(Body::new);
                        request.extensions_mut().insert(identity.clone());
                        request.extensions_mut().insert(RemoteAddr(peer));
                        app.clone().oneshot(request).map(move |response| {
                            response.map(|response| {
                                response.map(|body| Body::new(TrackedBody::new(body, active)))
                            })
                        })
                    });
                    let connection = http.serve_connection_with_upgrades(
                        TokioIo::new(tls),
                        TowerToHyperService::new(service),
                    );
                    tokio::pin!(connection);
                    let mut closed = false;
                    // An idle connection that does not end after a graceful
                    // close (headers half sent, a peer ignoring GOAWAY) is
                    // dropped after this.
                    let mut idle_deadline = None;
                    loop {
                        let forced = async {
                            match idle_deadline {
                                Some(deadline) => tokio::time::sleep_until(deadline).await,
                                None => std::future::pending().await,
                            }
                        };
                        tokio::select! {
                            result = connection.as_mut() => {
                                if let Err(err) = result {
                                    tracing::debug!(%peer, %err, "connection ended with an error");
                                }
                                break;
                            }
                            () = activity.first_request_late(READ_HEADER_TIMEOUT), if !closed => {
                                tracing::debug!(%peer, "closing a connection whose first request is late");
                                connection.as_mut().graceful_shutdown();
                                closed = true;
                                idle_deadline = Some(tokio::time::Instant::now() + IDLE_CLOSE_GRACE);
                            }
                            () = activity.idle_for(idle_timeout), if !closed => {
                                tracing::debug!(%peer, "closing an idle connection");
                                connection.as_mut().graceful_shutdown();
                                closed = true;
                                idle_deadline = Some(tokio::time::Instant::now() + IDLE_CLOSE_GRACE);
                            }
                            _ = close.changed(), if !closed => {
                                connection.as_mut().graceful_shutdown();
                                closed = true;
                            }
                            () = forced => {
                                tracing::debug!(%peer, "dropping an idle connection that did not close");
                                break;
                            }
                        }
                    }
                });
            }
        };
        tokio::select! {
            () = accept_loop() => {}
            () = shutdown => {}
        }
        shutting_down.store(true, Ordering::SeqCst);
        for (name, hook) in pre_shutdown_hooks {
            if tokio::time::timeout(PRE_SHUTDOWN_HOOK_TIMEOUT, hook)
                .await
                .is_err()
            {
                tracing::warn!(hook = name, timeout = ?PRE_SHUTDOWN_HOOK_TIMEOUT, "a pre-shutdown hook did not finish in time");
            }
        }
        if !shutdown_delay.is_zero() {
            tracing::info!(delay = ?shutdown_delay, "readyz is failing; delaying the shutdown");
            // Keep serving, new connections too, during the delay.
            tokio::select! {
                () = accept_loop() => {}
                () = tokio::time::sleep(shutdown_delay) => {}
            }
        }
        drop(listener);
        tracing::info!(
            connections = closing.receiver_count(),
            "stopped listening; draining in-flight requests"
        );
        closing.send_replace(());
        match tokio::time::timeout(drain_timeout, closing.closed()).await {
            Ok(()) => tracing::info!("all requests drained"),
            Err(_) => {
                tracing::warn!(timeout = ?drain_timeout, "in-flight requests did not drain in time")
            }
        }
        Ok(())
    }
}
