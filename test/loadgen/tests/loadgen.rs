//! The load generator against a real server process: the workspace's debug
//! `kube-apiserver` (built here as `xtask/tests/local_up.rs` does, or the
//! one `KUBE_APISERVER_TEST_BINARY` names) on its embedded store, with small
//! counts over HTTP/1.1 and HTTP/2: every create answered 201, the gets,
//! updates, open loop and list counted, every watcher saw every event, the
//! summaries ordered; the binary end to end; and no address off loopback.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use kube_loadgen::client::{Protocol, Target};
use kube_loadgen::load::{Bound, Run, closed_loop, open_loop};
use kube_loadgen::scenarios::{Pods, Widgets, define_widgets, list, watch_fan_out};
use kube_loadgen::server::{ADMIN_TOKEN, Server, ServerConfig};
use kube_loadgen::stats::Summary;

/// The debug server: `KUBE_APISERVER_TEST_BINARY`, or built in this test's
/// own target dir as `cargo test --workspace` builds it (usually a no-op:
/// that built it).
fn server_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        if let Some(binary) = std::env::var_os("KUBE_APISERVER_TEST_BINARY") {
            return PathBuf::from(binary);
        }
        let target = Path::new(env!("CARGO_BIN_EXE_kube-loadgen"))
            .parent()
            .and_then(Path::parent)
            .expect("the binary sits in <target>/debug")
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

fn assert_ordered(what: &str, summary: Option<Summary>) -> Summary {
    let summary = summary.unwrap_or_else(|| panic!("{what}: no samples"));
    assert!(summary.is_ordered(), "{what}: {summary}");
    assert!(summary.p50 <= summary.p99 && summary.p99 <= summary.max);
    summary
}

fn assert_all(what: &str, run: &mut Run, count: usize, status: u16) {
    assert_eq!(run.failures, 0, "{what}: {:?}", run.first_failure);
    assert_eq!(run.answered(), count, "{what}");
    assert_eq!(
        run.with_status(status),
        count as u64,
        "{what}: {:?}",
        run.statuses
    );
    assert_ordered(what, run.summary());
}

/// Every scenario with small counts over `protocol`; HTTP/2 connections
/// carry at most 4 streams, so the 10 watchers share 3 of them.
async fn every_scenario(protocol: Protocol) {
    let dir = tempfile::tempdir().expect("temp dir");
    let (server, ready) = Server::start(ServerConfig::new(server_binary(), dir.path()))
        .await
        .expect("start the server");
    assert!(ready > Duration::ZERO);
    let target = server
        .target(protocol, ADMIN_TOKEN)
        .expect("target")
        .with_streams_per_connection(4);
    let pods = Pods::new(50);

    let mut creates = closed_loop(
        target.connect_many(4).await.expect("connect"),
        pods.creates(),
        Bound::Requests(50),
    )
    .await
    .expect("creates");
    assert_all("creates", &mut creates, 50, 201);
    assert!(creates.rate() > 0.0);
    assert!((0..50).all(|pod| !pods.version(pod).is_empty()));

    let served = define_widgets(
        &mut target.connect().await.expect("connect"),
        Duration::from_secs(30),
    )
    .await
    .expect("the widgets' definition served");
    assert!(served > Duration::ZERO);
    let mut widget_creates = closed_loop(
        target.connect_many(4).await.expect("connect"),
        Widgets::new(30).creates(),
        Bound::Requests(30),
    )
    .await
    .expect("custom-object creates");
    assert_all("custom-object creates", &mut widget_creates, 30, 201);

    let mut gets = closed_loop(
        target.connect_many(4).await.expect("connect"),
        pods.gets(),
        Bound::For(Duration::from_secs(1)),
    )
    .await
    .expect("gets");
    let answered = gets.answered();
    assert!(answered > 0);
    assert_all("gets", &mut gets, answered, 200);
    assert!(gets.elapsed >= Duration::from_secs(1));

    let before = pods.version(0);
    let mut updates = closed_loop(
        target.connect_many(4).await.expect("connect"),
        pods.updates(),
        Bound::Requests(20),
    )
    .await
    .expect("updates");
    assert_all("updates", &mut updates, 20, 200);
    assert_ne!(pods.version(0), before, "pod 0 was updated");
    let mut connection = target.connect().await.expect("connect");
    let reply = connection
        .call(
            hyper::Method::GET,
            &format!("{}/{}", Pods::collection(), pods.name(0)),
            None,
        )
        .await
        .expect("get");
    let pod: serde_json::Value = serde_json::from_slice(&reply.body).expect("JSON");
    assert_eq!(pod["metadata"]["labels"]["loadgen-update"], "1");
    assert_eq!(pod["metadata"]["resourceVersion"], pods.version(0).as_str());

    let mut open = open_loop(
        target.connect_many(4).await.expect("connect"),
        pods.gets(),
        40.0,
        Duration::from_secs(1),
    )
    .await
    .expect("open loop");
    assert_eq!(open.not_sent, 0);
    assert_all("open loop", &mut open, 40, 200);

    let mut lists = list(&mut connection, &Pods::collection(), 2)
        .await
        .expect("list");
    assert_eq!(lists.items, 50);
    assert!(lists.bytes > 50 * 100);
    assert_eq!(lists.complete.len(), 2);
    for (first, last) in lists.first_byte.iter().zip(&lists.complete) {
        assert!(first <= last);
    }
    assert_ordered("list", Summary::of(&mut lists.complete));

    let mut watch = watch_fan_out(&target, 10, 3).await.expect("watch fan-out");
    assert_eq!(watch.delivered, 30, "every watcher saw every event");
    assert_eq!(watch.expected(), 30);
    let connections = match protocol {
        Protocol::Http1 => 10,
        Protocol::Http2 => 3,
    };
    assert_eq!(watch.connections, connections);
    assert_ordered("watch", Summary::of(&mut watch.latencies));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_over_http1() {
    every_scenario(Protocol::Http1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_over_http2() {
    every_scenario(Protocol::Http2).await;
}

/// The binary: one table under its method line, the restart measured,
/// the server gone afterwards.
#[test]
fn the_binary_prints_one_table() {
    let output = Command::new(env!("CARGO_BIN_EXE_kube-loadgen"))
        .arg("--server-binary")
        .arg(server_binary())
        .args(["--pods", "20", "--concurrency", "4", "--http", "2"])
        .args([
            "--watchers",
            "5",
            "--watch-events",
            "2",
            "--get-seconds",
            "1",
        ])
        .args(["--lists", "1", "--open-loop-rate", "20", "--timeout", "120"])
        .output()
        .expect("run kube-loadgen");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[0].contains("cores") && lines[0].contains("HTTP/2"),
        "{stdout}"
    );
    assert!(lines[0].contains("storage embedded") && lines[0].contains("concurrency 4"));
    let table: Vec<&&str> = lines.iter().filter(|l| l.starts_with('|')).collect();
    assert_eq!(
        table
            .iter()
            .filter(|l| l.starts_with("| measurement"))
            .count(),
        1,
        "{stdout}"
    );
    for row in [
        "pod creates",
        "pod gets, random pods",
        "open loop",
        "pod updates",
        "list of 20 pods",
        "watch delivery, 5 watchers × 2 events",
        "restart → /readyz 200 with 20 pods",
        "RSS peak during the lists",
    ] {
        assert!(
            table.iter().any(|l| l.contains(row)),
            "no row {row:?}: {stdout}"
        );
    }
    assert!(
        stdout.contains("20 × 201") && stdout.contains("10 of 10 delivered"),
        "{stdout}"
    );
}

#[test]
fn addresses_off_loopback_are_refused() {
    let ca = Path::new("/nonexistent/apiserver.crt");
    for addr in ["10.0.0.1:6443", "[2001:db8::1]:443", "0.0.0.0:6443"] {
        let addr: SocketAddr = addr.parse().unwrap();
        let err = Target::new(addr, ca, ADMIN_TOKEN, Protocol::Http2)
            .err()
            .expect("refused");
        assert!(
            err.to_string().contains("not a loopback address"),
            "{err:#}"
        );
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut config = ServerConfig::new("/nonexistent/kube-apiserver", "/nonexistent");
    config.bind = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    let err = runtime
        .block_on(Server::start(config))
        .err()
        .expect("refused");
    assert!(
        err.to_string().contains("not a loopback address"),
        "{err:#}"
    );
    let output = Command::new(env!("CARGO_BIN_EXE_kube-loadgen"))
        .args([
            "--server-binary",
            "/nonexistent",
            "--bind-address",
            "10.1.2.3",
        ])
        .output()
        .expect("run kube-loadgen");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("not a loopback address"), "{stderr}");
}
