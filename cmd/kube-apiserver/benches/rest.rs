//! REST API benchmark of the built binary over TLS on loopback: pod
//! creates/s and gets/s at concurrency 16 on keep-alive connections, the
//! latency of listing 10,000 pods, watch event latency with 100 watchers,
//! and the resident set after 10,000 pods. Prints a table.
//!
//! `BENCH_STORAGE=etcd` runs the server on a fresh local etcd and then
//! measures raw etcd puts and gets of the same pods from the same client
//! crate at the same concurrency, with the ratios (the physical reference).
//! `KUBE_APISERVER_BENCH_BINARY` measures another build of the server.
//!
//! Run: `cargo bench -p kube-apiserver --bench rest` (release profile).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};

use apiserver_storage::EtcdStorage;
use apiserver_storage::etcd::test_server::EtcdServer;

mod support;

use support::{call as call_as, client_config, connect, free_port, summary};

const BUILT: &str = env!("CARGO_BIN_EXE_kube-apiserver");

/// The server binary measured: this build's, or `KUBE_APISERVER_BENCH_BINARY`.
fn binary() -> String {
    std::env::var("KUBE_APISERVER_BENCH_BINARY").unwrap_or_else(|_| BUILT.to_owned())
}
const TOKEN: &str = "bench";
const CONCURRENCY: usize = 16;
const PODS: usize = 10_000;
const GET_SECONDS: u64 = 5;
const LISTS: usize = 5;
const WATCHERS: usize = 100;
const WATCH_EVENTS: usize = 50;

fn pod(name: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "bench", "tier": "web"}},
        "spec": {"containers": [{"name": "c", "image": "nginx:1.27", "ports": [{"containerPort": 80}],
                                 "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]}
    }))
    .expect("pod JSON")
}

fn spawn(dir: &Path, port: u16, etcd: Option<&EtcdServer>) -> Child {
    Command::new(binary())
        .args(etcd.map(|etcd| format!("--etcd-servers={}", etcd.url())))
        .arg(format!("--cert-dir={}", dir.display()))
        .arg(format!("--data-dir={}", dir.join("data").display()))
        .arg(format!(
            "--token-auth-file={}",
            dir.join("tokens.csv").display()
        ))
        .arg("--bind-address=127.0.0.1")
        .arg(format!("--secure-port={port}"))
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn kube-apiserver")
}

fn rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .unwrap_or(0.0)
        / 1024.0
}

/// Runs `CONCURRENCY` workers (`work(w)` is worker `w`) at once; their
/// latencies in ms and the wall time in seconds.
async fn workers<F, Fut>(work: F) -> (Vec<f64>, f64)
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = Vec<f64>> + Send + 'static,
{
    let started = Instant::now();
    let handles: Vec<_> = (0..CONCURRENCY).map(|w| tokio::spawn(work(w))).collect();
    let mut latencies = Vec::new();
    for handle in handles {
        latencies.extend(handle.await.expect("worker"));
    }
    (latencies, started.elapsed().as_secs_f64())
}

/// Worker `w`'s endless pseudo-random sequence of pod indexes.
fn random_pods(w: usize) -> impl Iterator<Item = usize> {
    let mut x = 0x9E37_79B9u64.wrapping_mul(w as u64 + 1);
    std::iter::repeat_with(move || {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (x >> 33) as usize % PODS
    })
}

/// Reads one watch stream and reports when each event line arrives.
/// One request as the benchmark's user.
async fn call(
    sender: &mut hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    method: &str,
    path: &str,
    body: Option<Vec<u8>>,
) -> (u16, Bytes) {
    call_as(sender, TOKEN, method, path, body).await
}

/// Reads one watch stream and reports when each event line arrives.
async fn watch_events(
    body: Incoming,
    expected: usize,
    arrivals: tokio::sync::mpsc::UnboundedSender<(usize, Instant)>,
) {
    let mut body = body;
    let mut seen = 0;
    while seen < expected {
        let Some(Ok(frame)) = body.frame().await else {
            return;
        };
        if let Ok(data) = frame.into_data() {
            for _ in data.iter().filter(|b| **b == b'\n') {
                let _ = arrivals.send((seen, Instant::now()));
                seen += 1;
            }
        }
    }
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("tokens.csv"),
        format!("{TOKEN},bench,1,system:masters\n"),
    )
    .expect("tokens");
    let port = free_port();
    let on_etcd = std::env::var("BENCH_STORAGE").as_deref() == Ok("etcd");
    let etcd = if on_etcd {
        Some(EtcdServer::start().await)
    } else {
        None
    };
    let mut child = spawn(dir.path(), port, etcd.as_ref());
    let config = loop {
        let ca = dir.path().join("apiserver.crt");
        if ca.is_file() {
            let config = client_config(&ca);
            if let Some(mut c) = connect(port, config.clone()).await
                && call(&mut c, "GET", "/readyz", None).await.0 == 200
            {
                break config;
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let pods = "/api/v1/namespaces/default/pods";

    // Creates: 16 workers, 10,000 pods.
    let (create_latencies, create_secs) = workers(|w| {
        let config = config.clone();
        async move {
            let mut c = connect(port, config).await.expect("connect");
            let mut latencies = Vec::new();
            for i in (w..PODS).step_by(CONCURRENCY) {
                let t = Instant::now();
                let (code, body) =
                    call(&mut c, "POST", pods, Some(pod(&format!("pod-{i:05}")))).await;
                assert_eq!(code, 201, "{}", String::from_utf8_lossy(&body));
                latencies.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            latencies
        }
    })
    .await;
    let rss_after_pods = rss_mib(child.id());

    // Gets: 16 workers for a fixed time, pseudo-random pods.
    let deadline = Instant::now() + Duration::from_secs(GET_SECONDS);
    let (get_latencies, _) = workers(|w| {
        let config = config.clone();
        async move {
            let mut c = connect(port, config).await.expect("connect");
            let mut latencies = Vec::new();
            for i in random_pods(w).take_while(|_| Instant::now() < deadline) {
                let t = Instant::now();
                let (code, _) = call(&mut c, "GET", &format!("{pods}/pod-{i:05}"), None).await;
                assert_eq!(code, 200);
                latencies.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            latencies
        }
    })
    .await;
    let gets_per_sec = get_latencies.len() as f64 / GET_SECONDS as f64;

    // Lists of all 10,000 pods.
    let mut c = connect(port, config.clone()).await.expect("connect");
    let mut list_ms = Vec::new();
    let mut list_bytes = 0;
    for _ in 0..LISTS {
        let t = Instant::now();
        let (code, body) = call(&mut c, "GET", pods, None).await;
        assert_eq!(code, 200);
        list_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        list_bytes = body.len();
    }
    let rss_after_lists = rss_mib(child.id());

    // Watch latency: 100 watchers on configmaps, then creates one at a time.
    let (code, list) = call(&mut c, "GET", "/api/v1/namespaces/default/configmaps", None).await;
    assert_eq!(code, 200);
    let rv = serde_json::from_slice::<serde_json::Value>(&list).expect("list")["metadata"]["resourceVersion"]
        .as_str()
        .expect("rv")
        .to_string();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    for _ in 0..WATCHERS {
        let mut w = connect(port, config.clone()).await.expect("connect");
        w.ready().await.expect("ready");
        let response = w
            .send_request(support::request(
                TOKEN,
                "GET",
                &format!("/api/v1/namespaces/default/configmaps?watch=1&resourceVersion={rv}"),
                None,
            ))
            .await
            .expect("watch");
        assert_eq!(response.status().as_u16(), 200);
        tokio::spawn(watch_events(response.into_body(), WATCH_EVENTS, tx.clone()));
    }
    drop(tx);
    let mut sent = Vec::new();
    for i in 0..WATCH_EVENTS {
        let body = serde_json::to_vec(&serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": format!("cm-{i}")}})).expect("cm");
        sent.push(Instant::now());
        let (code, _) = call(
            &mut c,
            "POST",
            "/api/v1/namespaces/default/configmaps",
            Some(body),
        )
        .await;
        assert_eq!(code, 201);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut watch_ms = Vec::new();
    while let Some((index, at)) = rx.recv().await {
        watch_ms.push(at.duration_since(sent[index]).as_secs_f64() * 1000.0);
    }
    assert_eq!(
        watch_ms.len(),
        WATCHERS * WATCH_EVENTS,
        "every watcher saw every event"
    );

    child.kill().ok();
    child.wait().ok();

    let (c50, c99, cmax) = summary(create_latencies);
    let (g50, g99, gmax) = summary(get_latencies);
    let (l50, l99, lmax) = summary(list_ms);
    let (w50, w99, wmax) = summary(watch_ms);
    let backend = if on_etcd {
        "etcd (one local member)"
    } else {
        "embedded store"
    };
    println!(
        "kube-apiserver REST API over TLS on loopback, {backend} ({})",
        binary()
    );
    println!(
        "| measurement                                  |   rate/s |  p50 ms |  p99 ms |  max ms |"
    );
    println!(
        "|----------------------------------------------|----------|---------|---------|---------|"
    );
    println!(
        "| pod creates, concurrency {CONCURRENCY}, {PODS} pods        | {:8.0} | {c50:7.2} | {c99:7.2} | {cmax:7.2} |",
        PODS as f64 / create_secs
    );
    println!(
        "| pod gets, concurrency {CONCURRENCY}, {GET_SECONDS} s                 | {gets_per_sec:8.0} | {g50:7.2} | {g99:7.2} | {gmax:7.2} |"
    );
    println!(
        "| list of {PODS} pods ({:.1} MiB), {LISTS} runs          |          | {l50:7.1} | {l99:7.1} | {lmax:7.1} |",
        list_bytes as f64 / 1048576.0
    );
    println!(
        "| watch event latency, {WATCHERS} watchers × {WATCH_EVENTS} events |          | {w50:7.2} | {w99:7.2} | {wmax:7.2} |"
    );
    println!();
    println!(
        "RSS after {PODS} pods: {rss_after_pods:.1} MiB; after the lists: {rss_after_lists:.1} MiB"
    );
    if let Some(etcd) = &etcd {
        let raw = raw_etcd(etcd).await;
        let (p50, p99, pmax) = summary(raw.put_latencies);
        let (r50, r99, rmax) = summary(raw.get_latencies);
        let raw_gets_per_sec = raw.gets as f64 / GET_SECONDS as f64;
        println!();
        println!(
            "raw etcd through etcd-client, the same {PODS} pod bodies, concurrency {CONCURRENCY}"
        );
        println!(
            "| measurement                                  |   rate/s |  p50 ms |  p99 ms |  max ms | apiserver/raw |"
        );
        println!(
            "|----------------------------------------------|----------|---------|---------|---------|---------------|"
        );
        println!(
            "| raw puts, {PODS} keys                         | {:8.0} | {p50:7.2} | {p99:7.2} | {pmax:7.2} | {:13.2} |",
            PODS as f64 / raw.put_secs,
            (PODS as f64 / create_secs) / (PODS as f64 / raw.put_secs)
        );
        println!(
            "| raw gets, {GET_SECONDS} s                                 | {raw_gets_per_sec:8.0} | {r50:7.2} | {r99:7.2} | {rmax:7.2} | {:13.2} |",
            gets_per_sec / raw_gets_per_sec
        );
    }
}

/// Raw etcd throughput: the physical floor under the apiserver on etcd.
struct RawEtcd {
    put_secs: f64,
    put_latencies: Vec<f64>,
    gets: usize,
    get_latencies: Vec<f64>,
}

async fn raw_etcd(etcd: &EtcdServer) -> RawEtcd {
    let store = EtcdStorage::connect(&etcd.config("/raw"))
        .await
        .expect("connect to etcd");
    let (put_latencies, put_secs) = workers(|w| {
        let mut kv = store.client().kv_client();
        async move {
            let mut latencies = Vec::new();
            for i in (w..PODS).step_by(CONCURRENCY) {
                let name = format!("pod-{i:05}");
                let t = Instant::now();
                kv.put(format!("/raw/pods/default/{name}"), pod(&name), None)
                    .await
                    .expect("raw put");
                latencies.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            latencies
        }
    })
    .await;
    let deadline = Instant::now() + Duration::from_secs(GET_SECONDS);
    let (get_latencies, _) = workers(|w| {
        let mut kv = store.client().kv_client();
        async move {
            let mut latencies = Vec::new();
            for i in random_pods(w).take_while(|_| Instant::now() < deadline) {
                let t = Instant::now();
                let got = kv
                    .get(format!("/raw/pods/default/pod-{i:05}"), None)
                    .await
                    .expect("raw get");
                assert_eq!(got.kvs().len(), 1);
                latencies.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            latencies
        }
    })
    .await;
    RawEtcd {
        put_secs,
        put_latencies,
        gets: get_latencies.len(),
        get_latencies,
    }
}
