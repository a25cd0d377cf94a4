//! Process-level benchmark of the built binary: time from spawn to the first
//! `/readyz` 200 over TLS, and the idle resident set size after start.
//! Prints a table; `scripts/bench-apiserver.sh` adds requests/s from wrk.
//! The server process and its readiness wait are `kube-loadgen`'s
//! (`test/loadgen`, `server`).
//!
//! Run: `cargo bench -p kube-apiserver --bench startup` (release profile).

use std::time::Duration;

use kube_loadgen::server::{Server, ServerConfig};

const BIN: &str = env!("CARGO_BIN_EXE_kube-apiserver");
const RUNS: usize = 20;

fn stats(mut samples: Vec<f64>) -> (f64, f64, f64) {
    samples.sort_by(f64::total_cmp);
    (
        samples[0],
        samples[samples.len() / 2],
        samples[samples.len() - 1],
    )
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    // The first start generates the certificate (not timed).
    let (mut server, _) = Server::start(ServerConfig::new(BIN, dir.path()))
        .await
        .expect("start kube-apiserver");
    let mut start_ms = Vec::new();
    let mut rss = Vec::new();
    for _ in 0..RUNS {
        let ready = server.restart().await.expect("restart kube-apiserver");
        start_ms.push(ready.as_secs_f64() * 1000.0);
        tokio::time::sleep(Duration::from_millis(500)).await;
        rss.push(server.memory().expect("its memory").rss_kib as f64 / 1024.0);
    }
    server.stop().await.expect("stop kube-apiserver");
    let (s_min, s_med, s_max) = stats(start_ms);
    let (r_min, r_med, r_max) = stats(rss);
    println!("kube-apiserver ({RUNS} runs, {})", BIN);
    println!("| metric                         |    min |  median |    max | target   |");
    println!("|--------------------------------|--------|---------|--------|----------|");
    println!(
        "| start → /readyz 200 (ms)       | {s_min:6.1} | {s_med:7.1} | {s_max:6.1} | < 100 ms |"
    );
    println!(
        "| idle RSS after start (MiB)     | {r_min:6.1} | {r_med:7.1} | {r_max:6.1} | < 20 MiB |"
    );
}
