//! Abuse against the real binary, on loopback, bounded in count and time:
//! a flood of unauthenticated requests to random paths, two thousand idle
//! TLS connections, concurrent bodies shaped to be quadratic, and ten
//! thousand watches. Each checks the bound that holds the server together
//! and prints what it measured (`-- --nocapture`); memory comes in base
//! pages (no transparent huge pages, which inflated it). Set
//! `KUBE_APISERVER_TEST_BINARY` to run them against another build.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Bytes;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{Value, json};
use support::{Server, TOKEN};
use tokio::io::AsyncReadExt;

/// One abuse test at a time: each measures a server under load, and two
/// loads on two cores would measure each other.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

/// An HTTP/1.1 keep-alive connection for many requests.
async fn keep_alive(server: &Server) -> Sender {
    let tls = server.tls_connect().await.expect("TLS");
    // Up to ~4 KiB of warnings can be a hundred-odd headers (as upstream).
    let (sender, connection) = hyper::client::conn::http1::Builder::new()
        .max_headers(1000)
        .handshake(TokioIo::new(tls))
        .await
        .expect("HTTP/1.1 handshake");
    tokio::spawn(connection);
    sender
}

async fn send(
    sender: &mut Sender,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Vec<u8>,
    content_type: &str,
) -> (u16, Bytes) {
    let mut request = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("host", "localhost")
        .header("content-type", content_type);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let request = request.body(Full::new(Bytes::from(body))).expect("request");
    sender.ready().await.expect("connection ready");
    let response = sender.send_request(request).await.expect("response");
    let code = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (code, body)
}

/// 100,000 requests without credentials to paths naming no installed
/// resource: the metrics keep a handful of series and the memory stays put.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unauthenticated_flood_grows_neither_metrics_nor_memory() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let server = Server::start_with(&["--anonymous-auth=false"]).await;
    let mut admin = keep_alive(&server).await;
    let (_, metrics) = send(&mut admin, "GET", "/metrics", Some(TOKEN), vec![], "").await;
    let metrics_before = metrics.len();
    let rss_before = server.rss_kib();
    let started = Instant::now();
    let mut clients = Vec::new();
    for client in 0..8u32 {
        let mut sender = keep_alive(&server).await;
        clients.push(tokio::spawn(async move {
            for i in 0..12_500u32 {
                let path = format!("/apis/g{client}x{i}.example/v{i}/r{i}/n{i}");
                let (code, _) = send(&mut sender, "GET", &path, None, vec![], "").await;
                assert_eq!(code, 401, "{path}");
            }
        }));
    }
    for client in clients {
        client.await.unwrap();
    }
    let took = started.elapsed();
    // A fresh connection: on a slow machine the flood outlasts
    // --idle-connection-timeout (90 s) and the server rightly closed `admin`.
    let mut admin = keep_alive(&server).await;
    let (_, metrics) = send(&mut admin, "GET", "/metrics", Some(TOKEN), vec![], "").await;
    let text = String::from_utf8_lossy(&metrics);
    let series = text
        .lines()
        .filter(|line| line.starts_with("apiserver_request_total{"))
        .count();
    let rss_after = server.rss_kib();
    eprintln!(
        "flood: 100000 requests in {took:.1?}; /metrics {metrics_before} -> {} bytes, \
         {series} apiserver_request_total series; RSS {rss_before} -> {rss_after} KiB",
        metrics.len()
    );
    assert!(series < 20, "{series} series after the flood");
    assert!(
        metrics.len() < metrics_before + 64 * 1024,
        "/metrics grew from {metrics_before} to {} bytes",
        metrics.len()
    );
    assert!(
        rss_after < rss_before + 64 * 1024,
        "RSS grew from {rss_before} to {rss_after} KiB"
    );
}

/// 2,000 TLS connections that send nothing are closed once idle, and a
/// client with real requests is served all along.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_are_dropped_and_others_are_served_throughout() {
    let _alone = ONE_AT_A_TIME.lock().await;
    // Two thousand connections need more than the usual 1024 files.
    apiserver::server::connections::raise_open_file_limit();
    let server = Arc::new(Server::start_with(&["--idle-connection-timeout=5s"]).await);
    let opening = Instant::now();
    let mut idle = Vec::new();
    for _ in 0..20 {
        let batch: Vec<_> = (0..100)
            .map(|_| {
                let server = Arc::clone(&server);
                tokio::spawn(async move { server.tls_connect().await })
            })
            .collect();
        for connection in batch {
            idle.push(connection.await.unwrap().expect("an idle TLS connection"));
        }
    }
    eprintln!(
        "opened {} idle TLS connections in {:.1?}",
        idle.len(),
        opening.elapsed()
    );

    // A real client meanwhile: every request answered promptly.
    let done = Arc::new(AtomicBool::new(false));
    let prober = {
        let server = Arc::clone(&server);
        let done = Arc::clone(&done);
        tokio::spawn(async move {
            let mut slowest = Duration::ZERO;
            let mut answered = 0;
            while !done.load(Ordering::SeqCst) {
                let started = Instant::now();
                let (code, _) = server
                    .raw("GET", "/healthz", None, "application/json")
                    .await
                    .expect("a new connection is served");
                assert_eq!(code, 200);
                slowest = slowest.max(started.elapsed());
                answered += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            (answered, slowest)
        })
    };

    let closing = Instant::now();
    let mut closed = 0;
    for mut connection in idle {
        let mut buffer = [0u8; 16];
        let deadline = Duration::from_secs(30).saturating_sub(closing.elapsed());
        if let Ok(Ok(0) | Err(_)) =
            tokio::time::timeout(deadline, connection.read(&mut buffer)).await
        {
            closed += 1;
        }
    }
    done.store(true, Ordering::SeqCst);
    let (answered, slowest) = prober.await.unwrap();
    eprintln!(
        "idle: {closed} of 2000 closed within {:.1?}; the other client: {answered} requests, slowest {slowest:.1?}",
        closing.elapsed()
    );
    assert_eq!(closed, 2000, "idle connections left open");
    assert!(answered > 0);
    assert!(
        slowest < Duration::from_secs(2),
        "slowest answer {slowest:?}"
    );
}

/// Bodies shaped to be quadratic for naive algorithms (a hundred thousand
/// distinct repeated keys; a strategic merge patch reordering twenty
/// thousand containers), four at a time: `/healthz` keeps answering fast.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quadratic_shaped_bodies_leave_healthz_responsive() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let server = Arc::new(Server::start().await);
    let deployment = json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "c0", "image": "busybox"}]}}},
    });
    let (code, _) = server
        .post("/apis/apps/v1/namespaces/default/deployments", &deployment)
        .await;
    assert_eq!(code, 201);

    // {"data":{"k0":"","k0":"","k1":"","k1":"",...}}: every key repeated.
    let mut repeated =
        String::from(r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"dup"},"data":{"#);
    for i in 0..100_000 {
        if i > 0 {
            repeated.push(',');
        }
        repeated.push_str(&format!(r#""k{i}":"","k{i}":"""#));
    }
    repeated.push_str("}}");
    // The containers in the order the directive gives (reversed).
    let containers: Vec<Value> = (0..20_000)
        .rev()
        .map(|i| json!({"name": format!("c{i}"), "image": "busybox"}))
        .collect();
    let order: Vec<Value> = (0..20_000)
        .rev()
        .map(|i| json!({"name": format!("c{i}")}))
        .collect();
    let patch = serde_json::to_vec(&json!({"spec": {"template": {"spec": {
        "$setElementOrder/containers": order,
        "containers": containers,
    }}}}))
    .unwrap();
    let bodies = Arc::new((repeated.into_bytes(), patch));

    let done = Arc::new(AtomicBool::new(false));
    let mut attackers = Vec::new();
    for attacker in 0..4 {
        let server = Arc::clone(&server);
        let bodies = Arc::clone(&bodies);
        let done = Arc::clone(&done);
        attackers.push(tokio::spawn(async move {
            let mut sender = keep_alive(&server).await;
            let mut sent = 0;
            while !done.load(Ordering::SeqCst) && sent < 20 {
                let (method, path, body, content_type) = if (attacker + sent) % 2 == 0 {
                    (
                        "POST",
                        "/api/v1/namespaces/default/configmaps?dryRun=All".to_owned(),
                        bodies.0.clone(),
                        "application/json",
                    )
                } else {
                    (
                        "PATCH",
                        "/apis/apps/v1/namespaces/default/deployments/web?dryRun=All".to_owned(),
                        bodies.1.clone(),
                        "application/strategic-merge-patch+json",
                    )
                };
                let (code, _) =
                    send(&mut sender, method, &path, Some(TOKEN), body, content_type).await;
                assert!(code < 500, "{method} {path}: {code}");
                sent += 1;
            }
            sent
        }));
    }

    // Probe /healthz on a connection of its own for ten seconds.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut prober = keep_alive(&server).await;
    let mut latencies = Vec::new();
    let probing = Instant::now();
    while probing.elapsed() < Duration::from_secs(10) {
        let started = Instant::now();
        let (code, _) = send(&mut prober, "GET", "/healthz", Some(TOKEN), vec![], "").await;
        assert_eq!(code, 200);
        latencies.push(started.elapsed());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    done.store(true, Ordering::SeqCst);
    let mut sent = 0;
    for attacker in attackers {
        sent += attacker.await.unwrap();
    }
    latencies.sort();
    let p99 = latencies[latencies.len() * 99 / 100];
    let max = latencies[latencies.len() - 1];
    eprintln!(
        "quadratic: {sent} heavy requests; /healthz {} probes, p50 {:.1?}, p99 {p99:.1?}, max {max:.1?}",
        latencies.len(),
        latencies[latencies.len() / 2]
    );
    assert!(sent >= 4, "the heavy requests did not run");
    assert!(p99 < Duration::from_millis(100), "/healthz p99 {p99:?}");
}

/// Ten thousand watches over HTTP/2: each costs the server a bounded
/// amount of memory, and all end when their connections do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_watches_cost_bounded_memory() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let server = Server::start().await;
    let rss_before = server.rss_kib();
    let mut connections = Vec::new();
    let mut streams = Vec::new();
    for _ in 0..50 {
        let tls = server.tls_connect().await.expect("TLS");
        let (sender, connection) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
                .await
                .expect("HTTP/2 handshake");
        connections.push(tokio::spawn(connection));
        for _ in 0..200 {
            let mut sender = sender.clone();
            let request = hyper::Request::builder()
                .uri(format!(
                    "https://localhost:{}/api/v1/namespaces/default/configmaps?watch=true",
                    server.port
                ))
                .header("authorization", format!("Bearer {TOKEN}"))
                .body(Empty::<Bytes>::new())
                .expect("request");
            sender.ready().await.expect("stream slot");
            let response = sender.send_request(request).await.expect("watch");
            assert_eq!(response.status(), 200);
            streams.push(response);
        }
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_during = server.rss_kib();
    let per_watch = (rss_during.saturating_sub(rss_before) * 1024) / streams.len() as u64;
    eprintln!(
        "watches: {} open, RSS {rss_before} -> {rss_during} KiB, {per_watch} bytes per watch",
        streams.len()
    );
    assert_eq!(streams.len(), 10_000);
    assert!(per_watch < 64 * 1024, "{per_watch} bytes per watch");

    // An event reaches a watcher among the ten thousand.
    let (code, _) = server
        .post(
            "/api/v1/namespaces/default/configmaps",
            &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ping"}}),
        )
        .await;
    assert_eq!(code, 201);
    let last = streams.last_mut().unwrap().body_mut();
    let frame = tokio::time::timeout(Duration::from_secs(10), last.frame())
        .await
        .expect("an event in time")
        .expect("a frame")
        .expect("data");
    assert!(String::from_utf8_lossy(frame.data_ref().unwrap()).contains("ping"));
    drop(streams);
    for connection in connections {
        connection.abort();
    }
}

#[tokio::test]
async fn memory_comes_in_base_pages() {
    // mimalloc asks for transparent huge pages on its arenas; the server
    // turns them off for itself, which took its idle RSS from 58 to 37 MiB.
    let server = Server::start().await;
    assert_eq!(server.proc_status("THP_enabled"), "0");
    let rss_mib = server.rss_kib() / 1024;
    println!("idle RSS: {rss_mib} MiB");
}
