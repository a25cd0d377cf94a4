//! Server-side printing: `as=Table` answers to get, list and watch (as
//! kubectl asks for them), `includeObject`, 406 for a Table version that
//! does not exist, and what the real kubectl prints from them.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use hyper::body::{Bytes, Incoming};
use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;
use rustls_pki_types::pem::PemObject;
use serde_json::{Value, json};

use support::{Server, TOKEN, kubectl, ok};

/// What kubectl get sends.
const KUBECTL_ACCEPT: &str = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";

/// A GET with an `Accept` header; the response, body unread.
async fn get_accepting(server: &Server, path: &str, accept: &str) -> hyper::Response<Incoming> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pki_types::CertificateDer::pem_file_iter(server.ca()).expect("ca") {
        roots.add(cert.expect("cert")).expect("root");
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("tls versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", server.port))
        .await
        .expect("connect");
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(
            ServerName::try_from("localhost").expect("name").to_owned(),
            tcp,
        )
        .await
        .expect("tls");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    let request = hyper::Request::builder()
        .method("GET")
        .uri(path)
        .header("host", "localhost")
        .header("authorization", format!("Bearer {TOKEN}"))
        .header("accept", accept)
        .body(Empty::<Bytes>::new())
        .expect("request");
    sender.send_request(request).await.expect("send")
}

/// The code, Content-Type and JSON body of a GET with `accept`.
async fn get_json(server: &Server, path: &str, accept: &str) -> (u16, String, Value) {
    let response = get_accepting(server, path, accept).await;
    let code = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let json = serde_json::from_slice(&body)
        .unwrap_or_else(|err| panic!("{path}: not JSON ({err}): {body:?}"));
    (code, content_type, json)
}

fn pod(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": "web"}},
           "spec": {"containers": [{"name": "app", "image": "nginx"}]}})
}

fn column_names(table: &Value) -> Vec<&str> {
    table["columnDefinitions"]
        .as_array()
        .expect("columnDefinitions")
        .iter()
        .map(|c| c["name"].as_str().unwrap_or_default())
        .collect()
}

#[tokio::test]
async fn list_get_and_watch_answer_tables() {
    let server = Server::start().await;
    let base = "/api/v1/namespaces/default/pods";
    let (code, created) = server.post(base, &pod("web")).await;
    assert_eq!(code, 201, "{created}");

    let (code, content_type, table) = get_json(&server, base, KUBECTL_ACCEPT).await;
    assert_eq!(code, 200, "{table}");
    assert_eq!(content_type, "application/json;as=Table;v=v1;g=meta.k8s.io");
    assert_eq!(table["kind"], "Table");
    assert_eq!(table["apiVersion"], "meta.k8s.io/v1");
    assert!(table["metadata"]["resourceVersion"].is_string(), "{table}");
    assert_eq!(
        column_names(&table),
        [
            "Name",
            "Ready",
            "Status",
            "Restarts",
            "Age",
            "IP",
            "Node",
            "Nominated Node",
            "Readiness Gates"
        ]
    );
    assert_eq!(table["columnDefinitions"][0]["format"], "name");
    assert_eq!(table["columnDefinitions"][5]["priority"], 1);
    let row = &table["rows"][0];
    assert_eq!(
        row["cells"].as_array().map(|cells| &cells[..4]),
        Some(&[json!("web"), json!("0/1"), json!("Pending"), json!("0")][..])
    );
    assert_eq!(row["object"]["kind"], "PartialObjectMetadata");
    assert_eq!(row["object"]["apiVersion"], "meta.k8s.io/v1");
    assert_eq!(row["object"]["metadata"]["name"], "web");
    assert!(row["object"].get("spec").is_none());

    // One object, as v1beta1, with the whole object in the row.
    let (code, _, table) = get_json(
        &server,
        &format!("{base}/web?includeObject=Object"),
        "application/json;as=Table;v=v1beta1;g=meta.k8s.io",
    )
    .await;
    assert_eq!(code, 200, "{table}");
    assert_eq!(table["apiVersion"], "meta.k8s.io/v1beta1");
    assert_eq!(table["rows"].as_array().map(Vec::len), Some(1));
    assert_eq!(table["rows"][0]["object"]["kind"], "Pod");
    assert_eq!(
        table["rows"][0]["object"]["spec"]["containers"][0]["image"],
        "nginx"
    );
    assert_eq!(
        table["metadata"]["resourceVersion"],
        created["metadata"]["resourceVersion"]
    );

    // Plain JSON when asked for plain JSON.
    let (code, content_type, list) = get_json(&server, base, "application/json").await;
    assert_eq!((code, content_type.as_str()), (200, "application/json"));
    assert_eq!(list["kind"], "PodList");

    // A Table version that does not exist, and nothing else: 406.
    let (code, _, status) = get_json(
        &server,
        base,
        "application/json;as=Table;v=v2;g=meta.k8s.io",
    )
    .await;
    assert_eq!(code, 406, "{status}");
    assert_eq!(status["reason"], "NotAcceptable");
    // An includeObject that does not exist: 400.
    let (code, _, status) = get_json(
        &server,
        &format!("{base}?includeObject=All"),
        KUBECTL_ACCEPT,
    )
    .await;
    assert_eq!(code, 400, "{status}");

    // A watch: one-row Tables, column definitions in the first only.
    let response = get_accepting(&server, &format!("{base}?watch=true"), KUBECTL_ACCEPT).await;
    assert_eq!(response.status().as_u16(), 200);
    let mut body = response.into_body();
    let (code, _) = server.post(base, &pod("api")).await;
    assert_eq!(code, 201);
    let mut events = Vec::new();
    let mut buffer = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while events.len() < 2 {
        if let Some(end) = buffer.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buffer.drain(..=end).collect();
            events.push(serde_json::from_slice::<Value>(&line).expect("event"));
            continue;
        }
        let frame = tokio::time::timeout_at(deadline, body.frame())
            .await
            .expect("a watch event in time")
            .expect("stream open")
            .expect("frame");
        if let Ok(data) = frame.into_data() {
            buffer.extend_from_slice(&data);
        }
    }
    assert_eq!(events[0]["type"], "ADDED");
    assert_eq!(events[0]["object"]["kind"], "Table");
    assert_eq!(column_names(&events[0]["object"])[0], "Name");
    assert_eq!(events[0]["object"]["rows"][0]["cells"][0], "web");
    assert_eq!(events[1]["type"], "ADDED");
    assert_eq!(events[1]["object"]["columnDefinitions"], Value::Null);
    assert_eq!(events[1]["object"]["rows"][0]["cells"][0], "api");
}

/// The whitespace-separated words of each line.
fn words(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .map(|line| line.split_whitespace().map(str::to_string).collect())
        .collect()
}

#[tokio::test]
async fn kubectl_get_prints_upstream_columns() {
    let server = Server::start().await;
    let (code, _) = server
        .post("/api/v1/namespaces/default/pods", &pod("web"))
        .await;
    assert_eq!(code, 201);

    let pods = words(&ok(kubectl(&server, &["get", "pods"])));
    assert_eq!(pods[0], ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]);
    assert_eq!(pods[1][..4], ["web", "0/1", "Pending", "0"]);

    let wide = ok(kubectl(&server, &["get", "pods", "-o", "wide"]));
    let header = wide.lines().next().unwrap_or_default();
    assert!(
        header.contains(" IP ")
            && header.contains(" NODE ")
            && header.contains("NOMINATED NODE")
            && header.contains("READINESS GATES"),
        "{wide}"
    );
    assert!(
        wide.lines().nth(1).is_some_and(|l| l.contains("<none>")),
        "{wide}"
    );

    let (code, _) = server
        .post(
            "/apis/apps/v1/namespaces/default/deployments",
            &json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                    "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                             "template": {"metadata": {"labels": {"app": "web"}},
                                          "spec": {"containers": [{"name": "app", "image": "nginx"}]}}}}),
        )
        .await;
    assert_eq!(code, 201);
    let (code, _) = server
        .post(
            "/api/v1/namespaces/default/configmaps",
            &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"a": "1", "b": "2"}}),
        )
        .await;
    assert_eq!(code, 201);
    let all = ok(kubectl(
        &server,
        &["get", "deployments,services,namespaces,configmaps"],
    ));
    let lines = words(&all);
    let headers: Vec<&Vec<String>> = lines
        .iter()
        .filter(|l| l.first().is_some_and(|w| w == "NAME"))
        .collect();
    assert_eq!(headers.len(), 4, "{all}");
    assert_eq!(
        *headers[0],
        ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    );
    assert_eq!(
        *headers[1],
        [
            "NAME",
            "TYPE",
            "CLUSTER-IP",
            "EXTERNAL-IP",
            "PORT(S)",
            "AGE"
        ]
    );
    assert_eq!(*headers[2], ["NAME", "STATUS", "AGE"]);
    assert_eq!(*headers[3], ["NAME", "DATA", "AGE"]);
    let has_row = |want: &[&str]| {
        lines
            .iter()
            .any(|l| l.starts_with(&want.iter().map(|w| w.to_string()).collect::<Vec<_>>()))
    };
    assert!(has_row(&["deployment.apps/web", "0/2", "0", "0"]), "{all}");
    assert!(has_row(&["service/kubernetes", "ClusterIP"]), "{all}");
    assert!(has_row(&["namespace/default", "Active"]), "{all}");
    assert!(has_row(&["configmap/settings", "2"]), "{all}");
}

#[tokio::test]
async fn kubectl_get_watch_prints_a_row_per_event() {
    let server = Server::start().await;
    let mut child = Command::new("kubectl")
        .arg(format!("--kubeconfig={}", server.kubeconfig().display()))
        .arg(format!(
            "--cache-dir={}",
            server.dir.path().join("watch-cache").display()
        ))
        .args(["get", "pods", "-w"])
        .env("HOME", server.dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("kubectl get pods -w");
    let (tx, rx) = mpsc::channel();
    let out = child.stdout.take().expect("stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let base = "/api/v1/namespaces/default/pods";
    // Scheduled, so that a delete waits for its grace period (Terminating).
    let mut scheduled = pod("web");
    scheduled["spec"]["nodeName"] = json!("node-1");
    let (code, _) = server.post(base, &scheduled).await;
    assert_eq!(code, 201);
    let (code, _) = server
        .delete(&format!("{base}/web?gracePeriodSeconds=30"))
        .await;
    assert_eq!(code, 200);

    let mut lines = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while lines.len() < 3 && std::time::Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            lines.push(line);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let rows = words(&lines.join("\n"));
    assert_eq!(rows.len(), 3, "{lines:?}");
    assert_eq!(rows[0], ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]);
    assert_eq!(rows[1][..4], ["web", "0/1", "Pending", "0"]);
    assert_eq!(rows[2][..3], ["web", "0/1", "Terminating"]);
}
