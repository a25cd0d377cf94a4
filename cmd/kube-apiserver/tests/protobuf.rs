//! Kubernetes protobuf request bodies: the real kubectl's typed `create`
//! commands (which send `application/vnd.kubernetes.protobuf`) against our
//! server, and malformed or mismatched protobuf bodies answered with 400.

mod support;

use std::process::Output;

use support::{Server, kubectl, ok};

const PROTOBUF: &str = "application/vnd.kubernetes.protobuf";

/// kubectl `-v=8` logs its request headers; the typed commands must really
/// have sent protobuf for these tests to mean anything.
fn sent_protobuf(output: &Output) -> bool {
    String::from_utf8_lossy(&output.stderr).contains(&format!("Content-Type: {PROTOBUF}"))
}

#[tokio::test]
async fn create_namespace() {
    let server = Server::start().await;
    let output = kubectl(&server, &["create", "namespace", "foo", "-v=8"]);
    assert!(sent_protobuf(&output), "kubectl sent no protobuf body");
    assert_eq!(ok(output), "namespace/foo created\n");
    let (code, namespace) = server.get("/api/v1/namespaces/foo").await;
    assert_eq!(code, 200, "{namespace}");
    assert_eq!(namespace["metadata"]["name"], "foo");
    assert_eq!(namespace["status"]["phase"], "Active");
    assert_eq!(namespace["spec"]["finalizers"][0], "kubernetes");
    assert!(namespace["metadata"]["uid"].is_string());
    assert!(namespace["metadata"]["creationTimestamp"].is_string());
    assert!(
        namespace["metadata"].get("generateName").is_none(),
        "empty Go value fields are not stored: {namespace}"
    );
}

#[tokio::test]
async fn create_deployment() {
    let server = Server::start().await;
    let output = kubectl(
        &server,
        &[
            "create",
            "deployment",
            "web",
            "--image=nginx:1.27",
            "--replicas=2",
            "-v=8",
        ],
    );
    assert!(sent_protobuf(&output), "kubectl sent no protobuf body");
    assert_eq!(ok(output), "deployment.apps/web created\n");
    let (code, deployment) = server
        .get("/apis/apps/v1/namespaces/default/deployments/web")
        .await;
    assert_eq!(code, 200, "{deployment}");
    let spec = &deployment["spec"];
    assert_eq!(spec["replicas"], 2);
    assert_eq!(spec["selector"]["matchLabels"]["app"], "web");
    assert_eq!(spec["template"]["metadata"]["labels"]["app"], "web");
    let container = &spec["template"]["spec"]["containers"][0];
    assert_eq!(container["name"], "nginx");
    assert_eq!(container["image"], "nginx:1.27");
    // Defaults applied by the shared JSON path.
    assert_eq!(spec["strategy"]["type"], "RollingUpdate");
    assert_eq!(spec["strategy"]["rollingUpdate"]["maxSurge"], "25%");
    assert_eq!(spec["strategy"]["rollingUpdate"]["maxUnavailable"], "25%");
    assert_eq!(spec["revisionHistoryLimit"], 10);
    assert_eq!(spec["progressDeadlineSeconds"], 600);
    assert_eq!(spec["template"]["spec"]["restartPolicy"], "Always");
    assert_eq!(container["imagePullPolicy"], "IfNotPresent");
    assert_eq!(container["terminationMessagePath"], "/dev/termination-log");
    assert_eq!(deployment["metadata"]["generation"], 1);
}

#[tokio::test]
async fn create_deployment_with_zero_replicas_keeps_zero() {
    let server = Server::start().await;
    ok(kubectl(
        &server,
        &[
            "create",
            "deployment",
            "idle",
            "--image=nginx",
            "--replicas=0",
        ],
    ));
    let (_, deployment) = server
        .get("/apis/apps/v1/namespaces/default/deployments/idle")
        .await;
    assert_eq!(deployment["spec"]["replicas"], 0, "{deployment}");
}

#[tokio::test]
async fn create_service_clusterip() {
    let server = Server::start().await;
    let output = kubectl(
        &server,
        &[
            "create",
            "service",
            "clusterip",
            "web",
            "--tcp=80:8080",
            "-v=8",
        ],
    );
    assert!(sent_protobuf(&output), "kubectl sent no protobuf body");
    assert_eq!(ok(output), "service/web created\n");
    let (code, service) = server.get("/api/v1/namespaces/default/services/web").await;
    assert_eq!(code, 200, "{service}");
    let spec = &service["spec"];
    assert_eq!(spec["type"], "ClusterIP");
    let cluster_ip = spec["clusterIP"].as_str().unwrap_or_default();
    assert!(
        cluster_ip.parse::<std::net::IpAddr>().is_ok(),
        "allocated cluster IP: {service}"
    );
    assert_eq!(spec["clusterIPs"][0], cluster_ip);
    assert_eq!(spec["ports"][0]["port"], 80);
    assert_eq!(spec["ports"][0]["targetPort"], 8080);
    assert_eq!(spec["ports"][0]["protocol"], "TCP");
    assert_eq!(spec["ports"][0]["name"], "80-8080");
    assert_eq!(spec["selector"]["app"], "web");
}

#[tokio::test]
async fn create_configmap_and_secret() {
    let server = Server::start().await;
    let output = kubectl(
        &server,
        &["create", "configmap", "c", "--from-literal=a=b", "-v=8"],
    );
    let configmap_protobuf = sent_protobuf(&output);
    assert_eq!(ok(output), "configmap/c created\n");
    let (code, configmap) = server.get("/api/v1/namespaces/default/configmaps/c").await;
    assert_eq!(code, 200, "{configmap}");
    assert_eq!(configmap["data"], serde_json::json!({"a": "b"}));

    let output = kubectl(
        &server,
        &[
            "create",
            "secret",
            "generic",
            "s",
            "--from-literal=k=v",
            "-v=8",
        ],
    );
    let secret_protobuf = sent_protobuf(&output);
    assert_eq!(ok(output), "secret/s created\n");
    let (code, secret) = server.get("/api/v1/namespaces/default/secrets/s").await;
    assert_eq!(code, 200, "{secret}");
    assert_eq!(secret["data"], serde_json::json!({"k": "dg=="}));
    assert_eq!(secret["type"], "Opaque");
    assert!(
        configmap_protobuf && secret_protobuf,
        "kubectl create configmap/secret send protobuf"
    );
}

/// A `runtime.Unknown` envelope, encoded by hand: typeMeta (field 1),
/// raw (field 2).
fn envelope(api_version: &str, kind: &str, raw: &[u8]) -> Vec<u8> {
    fn length_delimited(field: u8, bytes: &[u8], out: &mut Vec<u8>) {
        out.push(field << 3 | 2);
        out.push(u8::try_from(bytes.len()).expect("short field"));
        out.extend_from_slice(bytes);
    }
    let mut type_meta = Vec::new();
    length_delimited(1, api_version.as_bytes(), &mut type_meta);
    length_delimited(2, kind.as_bytes(), &mut type_meta);
    let mut body = b"k8s\0".to_vec();
    length_delimited(1, &type_meta, &mut body);
    length_delimited(2, raw, &mut body);
    body
}

/// `{metadata: {name}}` of any object, in protobuf.
fn named(name: &str) -> Vec<u8> {
    let mut meta = Vec::new();
    meta.push(1 << 3 | 2);
    meta.push(u8::try_from(name.len()).expect("short name"));
    meta.extend_from_slice(name.as_bytes());
    let mut object = vec![1 << 3 | 2, u8::try_from(meta.len()).expect("short")];
    object.extend_from_slice(&meta);
    object
}

#[tokio::test]
async fn malformed_and_mismatched_bodies() {
    let server = Server::start().await;
    let post = |path: &'static str, body: Vec<u8>| {
        let server = &server;
        async move {
            server
                .raw("POST", path, Some(body), PROTOBUF)
                .await
                .expect("request")
        }
    };

    let (code, body) = post(
        "/api/v1/namespaces",
        envelope("v1", "Namespace", &named("raw")),
    )
    .await;
    assert_eq!(code, 201, "{body}");
    assert_eq!(server.get("/api/v1/namespaces/raw").await.0, 200);
    // Updates read protobuf the same way.
    let (code, body) = server
        .raw(
            "PUT",
            "/api/v1/namespaces/raw",
            Some(envelope("v1", "Namespace", &named("raw"))),
            PROTOBUF,
        )
        .await
        .expect("request");
    assert_eq!(code, 200, "{body}");

    for bad in [
        b"k8s".to_vec(),
        b"{\"kind\":\"Namespace\"}".to_vec(),
        b"k8s\0".to_vec(),
        b"k8s\0\x0a\x40\x0a".to_vec(),
    ] {
        let (code, body) = post("/api/v1/namespaces", bad.clone()).await;
        assert_eq!(code, 400, "{bad:?}: {body}");
        assert!(body.contains("\"reason\":\"BadRequest\""), "{body}");
    }

    // The envelope's kind must be the URL's.
    let (code, body) = post(
        "/api/v1/namespaces/default/pods",
        envelope("v1", "Namespace", &named("p")),
    )
    .await;
    assert_eq!(code, 400, "{body}");
    let (code, body) = post(
        "/api/v1/namespaces",
        envelope("apps/v1", "Deployment", &named("d")),
    )
    .await;
    assert_eq!(code, 400, "{body}");

    // A kind the server has no protobuf decoding for.
    let (code, body) = post(
        "/api/v1/namespaces",
        envelope("example.com/v1", "Widget", &named("w")),
    )
    .await;
    assert_eq!(code, 415, "{body}");
}
