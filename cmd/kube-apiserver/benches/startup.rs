//! Process-level benchmark of the built binary: time from spawn to the first
//! `/readyz` 200 over TLS, and the idle resident set size after start.
//! Prints a table; `scripts/bench-apiserver.sh` adds requests/s from wrk.
//!
//! Run: `cargo bench -p kube-apiserver --bench startup` (release profile).

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;
use rustls_pki_types::pem::PemObject;

const BIN: &str = env!("CARGO_BIN_EXE_kube-apiserver");
const RUNS: usize = 20;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

fn client_config(ca: &Path) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pki_types::CertificateDer::pem_file_iter(ca).expect("ca") {
        roots.add(cert.expect("pem")).expect("root");
    }
    Arc::new(
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth(),
    )
}

async fn readyz(port: u16, config: Arc<rustls::ClientConfig>) -> Option<u16> {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .ok()?;
    let tls = tokio_rustls::TlsConnector::from(config)
        .connect(ServerName::try_from("localhost").ok()?.to_owned(), tcp)
        .await
        .ok()?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .ok()?;
    tokio::spawn(conn);
    let request = hyper::Request::get("/readyz")
        .header("host", "localhost")
        .header("authorization", "Bearer bench")
        .body(Empty::<Bytes>::new())
        .ok()?;
    let response = sender.send_request(request).await.ok()?;
    let status = response.status().as_u16();
    let _ = response.into_body().collect().await;
    Some(status)
}

fn spawn(dir: &Path, port: u16) -> Child {
    Command::new(BIN)
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

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

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
    std::fs::write(dir.path().join("tokens.csv"), "bench,bench,1\n").expect("tokens");
    // First start generates the certificate (not timed).
    let port = free_port();
    let mut child = spawn(dir.path(), port);
    let config = loop {
        let ca = dir.path().join("apiserver.crt");
        if ca.is_file() {
            let config = client_config(&ca);
            if readyz(port, config.clone()).await == Some(200) {
                break config;
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    child.kill().ok();
    child.wait().ok();

    let mut start_ms = Vec::new();
    let mut rss = Vec::new();
    for _ in 0..RUNS {
        let port = free_port();
        let started = Instant::now();
        let mut child = spawn(dir.path(), port);
        while readyz(port, config.clone()).await != Some(200) {
            tokio::time::sleep(Duration::from_micros(500)).await;
        }
        start_ms.push(started.elapsed().as_secs_f64() * 1000.0);
        tokio::time::sleep(Duration::from_millis(500)).await;
        rss.push(rss_kib(child.id()) as f64 / 1024.0);
        child.kill().ok();
        child.wait().ok();
    }
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
