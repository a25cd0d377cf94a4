//! The built `kube-apiserver` binary: help sections, `--version`, argument
//! and flag errors, and a real start (no service-account flags, generated
//! certificate) that serves TLS and exits 0 on SIGTERM.

use std::io::Read;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;
use rustls_pki_types::pem::PemObject;

const BIN: &str = env!("CARGO_BIN_EXE_kube-apiserver");

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("run kube-apiserver")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn help_prints_the_long_description_and_upstream_sections_in_order() {
    let output = Command::new(BIN)
        .arg("--help")
        .env("COLUMNS", "100")
        .output()
        .unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    assert!(
        help.starts_with(
            "The Kubernetes API server validates and configures data\nfor the api objects"
        ),
        "{help}"
    );
    assert!(help.contains("Usage:\n  kube-apiserver [flags]"));
    let sections = [
        "Generic flags:",
        "Etcd flags:",
        "Secure serving flags:",
        "Auditing flags:",
        "Features flags:",
        "Authentication flags:",
        "Authorization flags:",
        "Cloud provider flags:",
        "Api enablement flags:",
        "Egress selector flags:",
        "Admission flags:",
        "Metrics flags:",
        "Logs flags:",
        "Traces flags:",
        "Misc flags:",
        "Global flags:",
    ];
    let positions: Vec<usize> = sections
        .iter()
        .map(|s| {
            help.find(&format!("\n{s}\n"))
                .unwrap_or_else(|| panic!("no {s} section"))
        })
        .collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "sections out of order"
    );
    for flag in [
        "--etcd-servers",
        "--secure-port",
        "--audit-log-path",
        "--authorization-mode",
        "--service-cluster-ip-range",
        "--version",
    ] {
        assert!(help.contains(flag), "{flag} missing");
    }
    assert!(
        help.contains("parsed and validated only"),
        "parse-only options must say so"
    );
    assert!(
        help.lines().all(|l| l.chars().count() <= 100),
        "help is not wrapped to COLUMNS"
    );
}

#[test]
fn version_and_version_raw() {
    let short = run(&["--version"]);
    assert!(short.status.success());
    assert!(String::from_utf8_lossy(&short.stdout).starts_with("Kubernetes v1."));
    let raw = run(&["--version=raw"]);
    assert!(raw.status.success());
    let raw = String::from_utf8_lossy(&raw.stdout).into_owned();
    assert!(
        raw.starts_with("version.Info{Major:\"1\", Minor:\"32"),
        "{raw}"
    );
    assert!(!run(&["--version=banana"]).status.success());
}

#[test]
fn positional_arguments_are_rejected() {
    let output = run(&["foo", "bar"]);
    assert!(!output.status.success());
    assert!(
        stderr(&output)
            .contains("\"kube-apiserver\" does not take any arguments, got [\"foo\" \"bar\"]"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn bad_flags_exit_non_zero_with_every_error() {
    let dir = tempfile::tempdir().unwrap();
    let cert_dir = format!("--cert-dir={}", dir.path().display());
    let output = run(&[
        &cert_dir,
        "--bind-address=127.0.0.1",
        "--insecure-port=8080",
        "--max-requests-inflight=-1",
        "--authorization-mode=Foo",
        "--service-cluster-ip-range=10.0.0.0/8",
    ]);
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    for expected in [
        "Error: [",
        "invalid port value 8080: only zero is allowed",
        "--max-requests-inflight can not be negative value",
        "authorization-mode \"Foo\" is not a valid mode",
        "specified --service-cluster-ip-range is too large; for 32-bit addresses, the mask must be >= 12",
    ] {
        assert!(err.contains(expected), "{expected:?} missing from {err}");
    }
    let json_logs = run(&[
        &cert_dir,
        "--bind-address=127.0.0.1",
        "--logging-format=json",
        "--apiserver-count=0",
    ]);
    assert_eq!(json_logs.status.code(), Some(1));
    let log_lines: Vec<String> = stderr(&json_logs)
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(String::from)
        .collect();
    assert!(
        !log_lines.is_empty(),
        "no JSON log lines: {}",
        stderr(&json_logs)
    );
    for line in &log_lines {
        let value: serde_json::Value = serde_json::from_str(line).expect("a JSON log line");
        assert!(
            value.get("level").is_some() && value.get("message").is_some(),
            "{line}"
        );
    }
    let unparsable = run(&["--request-timeout=soon"]);
    assert!(!unparsable.status.success());
    assert!(
        stderr(&unparsable).contains("time: invalid duration"),
        "{}",
        stderr(&unparsable)
    );
    let unimplemented = run(&[
        &cert_dir,
        "--bind-address=127.0.0.1",
        "--secure-port=1",
        "--authorization-mode=Webhook,RBAC",
        "--authorization-webhook-config-file=/dev/null",
    ]);
    assert!(!unimplemented.status.success());
    assert!(
        stderr(&unimplemented)
            .contains("--authorization-mode Webhook is not supported by this apiserver"),
        "{}",
        stderr(&unimplemented)
    );
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn get(port: u16, ca: &Path, path: &str, token: &str) -> anyhow::Result<(u16, String)> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pki_types::CertificateDer::pem_file_iter(ca)? {
        roots.add(cert?)?;
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost")?.to_owned(), tcp)
        .await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls)).await?;
    tokio::spawn(conn);
    let request = hyper::Request::get(path)
        .header("host", "localhost")
        .header("authorization", format!("Bearer {token}"))
        .body(Empty::<Bytes>::new())?;
    let response = sender.send_request(request).await?;
    let status = response.status().as_u16();
    let body = response.into_body().collect().await?.to_bytes();
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

#[tokio::test]
async fn starts_without_service_account_flags_serves_tls_and_exits_0_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens.csv");
    std::fs::write(&tokens, "secret,admin,1\n").unwrap();
    let port = free_port();
    let mut child = Running(
        Command::new(BIN)
            .arg(format!("--cert-dir={}", dir.path().display()))
            .arg(format!("--data-dir={}", dir.path().join("data").display()))
            .arg(format!("--token-auth-file={}", tokens.display()))
            .arg("--bind-address=127.0.0.1")
            .arg(format!("--secure-port={port}"))
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let ca = dir.path().join("apiserver.crt");
    let mut ready = None;
    for _ in 0..500 {
        if let Some(status) = child.0.try_wait().unwrap() {
            let mut err = String::new();
            child
                .0
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            panic!("kube-apiserver exited with {status}: {err}");
        }
        if let Ok(reply) = get(port, &ca, "/readyz", "secret").await {
            ready = Some(reply);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(ready, Some((200, "ok".to_string())));
    let (code, version) = get(port, &ca, "/version", "secret").await.unwrap();
    assert_eq!(code, 200);
    assert!(version.contains("\"minor\": \"32"), "{version}");
    let (code, with_slash) = get(port, &ca, "/version/", "secret").await.unwrap();
    assert_eq!((code, with_slash), (200, version));
    // AlwaysAllow turned anonymous off: no token, no entry.
    let (code, body) = get(port, &ca, "/version", "wrong").await.unwrap();
    assert_eq!(code, 401, "{body}");

    let pid = i32::try_from(child.0.id()).unwrap();
    // SAFETY: sending a signal to our own child process.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let status = child.0.wait().unwrap();
    let mut err = String::new();
    child
        .0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(
        err.contains("10.0.0.0/24"),
        "the default service range warning is missing: {err}"
    );
    assert!(err.contains("all requests drained"), "{err}");
}
