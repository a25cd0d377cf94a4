//! The everyday kubectl v1.32 commands end to end against our server: each
//! test asserts on kubectl's own output and on what the server stored.

mod support;

use std::process::Output;

use serde_json::{Value, json};

use support::{Server, file, kubectl, ok};

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

const DEPLOY_PATH: &str = "/apis/apps/v1/namespaces/default/deployments/web";

fn deployment(image: &str) -> String {
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app: web
spec:
  replicas: 1
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: c
        image: {image}
        ports:
        - containerPort: 8080
      - name: sidecar
        image: busybox:1
"
    )
}

const POD: &str = "apiVersion: v1
kind: Pod
metadata:
  name: x
  labels:
    app: x
spec:
  containers:
  - name: c
    image: nginx:1
";

fn images(deploy: &Value) -> Vec<(String, String)> {
    deploy["spec"]["template"]["spec"]["containers"]
        .as_array()
        .map(|containers| {
            containers
                .iter()
                .map(|c| {
                    (
                        c["name"].as_str().unwrap_or_default().to_string(),
                        c["image"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The manifest with `metadata.resourceVersion` set.
fn with_resource_version(manifest: &str, rv: &str) -> String {
    manifest.replacen(
        "metadata:\n",
        &format!("metadata:\n  resourceVersion: \"{rv}\"\n"),
        1,
    )
}

async fn stored(server: &Server, path: &str) -> Value {
    let (code, body) = server.get(path).await;
    assert_eq!(code, 200, "GET {path}: {body}");
    body
}

#[tokio::test]
async fn apply_create_configure_unchanged() {
    let server = Server::start().await;
    let v1 = file(&server, "deploy.yaml", &deployment("nginx:1"));
    let out = ok(kubectl(
        &server,
        &["apply", "-f", v1.to_str().unwrap_or_default()],
    ));
    assert_eq!(out.trim(), "deployment.apps/web created");
    let first = stored(&server, DEPLOY_PATH).await;
    assert_eq!(
        images(&first),
        vec![
            ("c".to_string(), "nginx:1".to_string()),
            ("sidecar".to_string(), "busybox:1".to_string())
        ]
    );
    let last_applied =
        first["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
            .as_str()
            .unwrap_or_default();
    assert!(last_applied.contains("nginx:1"), "{first}");

    let v2 = file(&server, "deploy-changed.yaml", &deployment("nginx:2"));
    let configured = kubectl(
        &server,
        &["apply", "-f", v2.to_str().unwrap_or_default(), "-v=8"],
    );
    let log = stderr(&configured);
    let out = ok(configured);
    assert_eq!(out.trim(), "deployment.apps/web configured");
    // What kubectl sent (logged with its quotes escaped): a strategic merge
    // patch keeping the list order.
    assert!(
        log.contains("Content-Type: application/strategic-merge-patch+json"),
        "{log}"
    );
    assert!(
        log.contains(
            r#"\"$setElementOrder/containers\":[{\"name\":\"c\"},{\"name\":\"sidecar\"}]"#
        ),
        "{log}"
    );
    let second = stored(&server, DEPLOY_PATH).await;
    // The strategic merge patch kept both containers, in order.
    assert_eq!(
        images(&second),
        vec![
            ("c".to_string(), "nginx:2".to_string()),
            ("sidecar".to_string(), "busybox:1".to_string())
        ]
    );
    assert_eq!(
        second["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"],
        json!(8080)
    );
    assert!(
        second["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
            .as_str()
            .unwrap_or_default()
            .contains("nginx:2")
    );
    assert_eq!(second["metadata"]["generation"], json!(2));
    assert_eq!(second["metadata"]["uid"], first["metadata"]["uid"]);

    let out = ok(kubectl(
        &server,
        &["apply", "-f", v2.to_str().unwrap_or_default()],
    ));
    assert_eq!(out.trim(), "deployment.apps/web unchanged");
    let third = stored(&server, DEPLOY_PATH).await;
    assert_eq!(
        third["metadata"]["resourceVersion"],
        second["metadata"]["resourceVersion"]
    );

    // Reordering the containers reorders the stored list ($setElementOrder).
    let swapped = deployment("nginx:2").replace(
        "      - name: c\n        image: nginx:2\n        ports:\n        - containerPort: 8080\n      - name: sidecar\n        image: busybox:1\n",
        "      - name: sidecar\n        image: busybox:1\n      - name: c\n        image: nginx:2\n        ports:\n        - containerPort: 8080\n",
    );
    assert_ne!(swapped, deployment("nginx:2"));
    let v3 = file(&server, "deploy-swapped.yaml", &swapped);
    let out = ok(kubectl(
        &server,
        &["apply", "-f", v3.to_str().unwrap_or_default()],
    ));
    assert_eq!(out.trim(), "deployment.apps/web configured");
    let fourth = stored(&server, DEPLOY_PATH).await;
    assert_eq!(
        images(&fourth),
        vec![
            ("sidecar".to_string(), "busybox:1".to_string()),
            ("c".to_string(), "nginx:2".to_string())
        ]
    );
    assert_eq!(
        fourth["spec"]["template"]["spec"]["containers"][1]["ports"][0]["containerPort"],
        json!(8080)
    );
}

#[tokio::test]
async fn diff_shows_changes_and_exits_zero_when_unchanged() {
    let server = Server::start().await;
    let v1 = file(&server, "deploy.yaml", &deployment("nginx:1"));
    ok(kubectl(
        &server,
        &["apply", "-f", v1.to_str().unwrap_or_default()],
    ));
    let before = stored(&server, DEPLOY_PATH).await;

    let v2 = file(&server, "deploy-changed.yaml", &deployment("nginx:2"));
    let diff = kubectl(&server, &["diff", "-f", v2.to_str().unwrap_or_default()]);
    assert_eq!(
        diff.status.code(),
        Some(1),
        "diff: {}\n{}",
        stderr(&diff),
        stdout(&diff)
    );
    let text = stdout(&diff);
    assert!(text.contains("+  generation: 2\n"), "{text}");
    assert!(text.contains("-      - image: nginx:1\n"), "{text}");
    assert!(text.contains("+      - image: nginx:2\n"), "{text}");
    // diff is a server dry run: nothing changed.
    let after = stored(&server, DEPLOY_PATH).await;
    assert_eq!(images(&after), images(&before));
    assert_eq!(
        after["metadata"]["resourceVersion"],
        before["metadata"]["resourceVersion"]
    );

    let same = kubectl(&server, &["diff", "-f", v1.to_str().unwrap_or_default()]);
    assert_eq!(
        same.status.code(),
        Some(0),
        "diff: {}\n{}",
        stderr(&same),
        stdout(&same)
    );
    assert_eq!(stdout(&same), "");
}

#[tokio::test]
async fn patch_json_merge_strategic() {
    let server = Server::start().await;
    let v1 = file(&server, "deploy.yaml", &deployment("nginx:1"));
    ok(kubectl(
        &server,
        &["apply", "-f", v1.to_str().unwrap_or_default()],
    ));

    let out = ok(kubectl(
        &server,
        &[
            "patch",
            "deployment",
            "web",
            "--type",
            "json",
            "-p",
            r#"[{"op":"replace","path":"/spec/replicas","value":2}]"#,
        ],
    ));
    assert_eq!(out.trim(), "deployment.apps/web patched");
    assert_eq!(
        stored(&server, DEPLOY_PATH).await["spec"]["replicas"],
        json!(2)
    );

    let out = ok(kubectl(
        &server,
        &[
            "patch",
            "deployment",
            "web",
            "--type",
            "merge",
            "-p",
            r#"{"metadata":{"labels":{"a":"b"}}}"#,
        ],
    ));
    assert_eq!(out.trim(), "deployment.apps/web patched");
    let merged = stored(&server, DEPLOY_PATH).await;
    assert_eq!(
        merged["metadata"]["labels"],
        json!({"app": "web", "a": "b"})
    );

    let out = ok(kubectl(
        &server,
        &[
            "patch",
            "deployment",
            "web",
            "--type",
            "strategic",
            "-p",
            r#"{"spec":{"template":{"spec":{"containers":[{"name":"c","image":"nginx:2"}]}}}}"#,
        ],
    ));
    assert_eq!(out.trim(), "deployment.apps/web patched");
    let patched = stored(&server, DEPLOY_PATH).await;
    // Merged by name: the sidecar stays, `c` keeps its port.
    assert_eq!(
        images(&patched),
        vec![
            ("c".to_string(), "nginx:2".to_string()),
            ("sidecar".to_string(), "busybox:1".to_string())
        ]
    );
    assert_eq!(
        patched["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"],
        json!(8080)
    );
    assert_eq!(patched["spec"]["replicas"], json!(2));

    // The same patch again changes nothing but still says patched (no change).
    let again = ok(kubectl(
        &server,
        &[
            "patch",
            "deployment",
            "web",
            "--type",
            "strategic",
            "-p",
            r#"{"spec":{"template":{"spec":{"containers":[{"name":"c","image":"nginx:2"}]}}}}"#,
        ],
    ));
    assert_eq!(again.trim(), "deployment.apps/web patched (no change)");
}

#[tokio::test]
async fn replace_with_stale_resource_version_conflicts() {
    let server = Server::start().await;
    let v1 = file(&server, "deploy.yaml", &deployment("nginx:1"));
    ok(kubectl(
        &server,
        &["apply", "-f", v1.to_str().unwrap_or_default()],
    ));
    let current = stored(&server, DEPLOY_PATH).await;
    let stale_rv = current["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    // Move the object on.
    ok(kubectl(
        &server,
        &["label", "deployment", "web", "moved=yes"],
    ));

    let stale = with_resource_version(&deployment("nginx:3"), &stale_rv);
    let path = file(&server, "stale.yaml", &stale);
    let out = kubectl(
        &server,
        &["replace", "-f", path.to_str().unwrap_or_default()],
    );
    assert!(!out.status.success(), "replace succeeded: {}", stdout(&out));
    let err = stderr(&out);
    assert!(err.contains("the object has been modified"), "{err}");
    assert!(
        err.contains(r#"Operation cannot be fulfilled on deployments.apps "web""#),
        "{err}"
    );
    let after = stored(&server, DEPLOY_PATH).await;
    assert_eq!(images(&after)[0].1, "nginx:1");

    // With the current resourceVersion replace works.
    let fresh = stored(&server, DEPLOY_PATH).await;
    let rv = fresh["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let current = with_resource_version(&deployment("nginx:3"), &rv);
    let path = file(&server, "current.yaml", &current);
    let out = ok(kubectl(
        &server,
        &["replace", "-f", path.to_str().unwrap_or_default()],
    ));
    assert_eq!(out.trim(), "deployment.apps/web replaced");
    assert_eq!(images(&stored(&server, DEPLOY_PATH).await)[0].1, "nginx:3");
}

#[tokio::test]
async fn expose_label_annotate() {
    let server = Server::start().await;
    let v1 = file(&server, "deploy.yaml", &deployment("nginx:1"));
    ok(kubectl(
        &server,
        &["apply", "-f", v1.to_str().unwrap_or_default()],
    ));
    let out = ok(kubectl(
        &server,
        &["expose", "deployment", "web", "--port=80"],
    ));
    assert_eq!(out.trim(), "service/web exposed");
    let service = stored(&server, "/api/v1/namespaces/default/services/web").await;
    assert_eq!(service["spec"]["selector"], json!({"app": "web"}));
    assert_eq!(service["spec"]["type"], json!("ClusterIP"));
    assert_eq!(service["spec"]["ports"][0]["port"], json!(80));
    // Without --target-port kubectl targets the service port.
    assert_eq!(service["spec"]["ports"][0]["targetPort"], json!(80));
    let ip = service["spec"]["clusterIP"].as_str().unwrap_or_default();
    assert!(ip.parse::<std::net::Ipv4Addr>().is_ok(), "{service}");

    let pod = file(&server, "pod.yaml", POD);
    ok(kubectl(
        &server,
        &["create", "-f", pod.to_str().unwrap_or_default()],
    ));
    let out = ok(kubectl(&server, &["label", "pod", "x", "a=b"]));
    assert_eq!(out.trim(), "pod/x labeled");
    let out = ok(kubectl(&server, &["annotate", "pod", "x", "a=b"]));
    assert_eq!(out.trim(), "pod/x annotated");
    let stored_pod = stored(&server, "/api/v1/namespaces/default/pods/x").await;
    assert_eq!(
        stored_pod["metadata"]["labels"],
        json!({"app": "x", "a": "b"})
    );
    assert_eq!(stored_pod["metadata"]["annotations"]["a"], json!("b"));
    // Relabelling without --overwrite is refused by kubectl itself.
    let again = kubectl(&server, &["label", "pod", "x", "a=c"]);
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("'a' already has a value (b), and --overwrite is false"),
        "{}",
        stderr(&again)
    );
    let out = ok(kubectl(&server, &["label", "pod", "x", "a-"]));
    assert_eq!(out.trim(), "pod/x unlabeled");
    let stored_pod = stored(&server, "/api/v1/namespaces/default/pods/x").await;
    assert_eq!(stored_pod["metadata"]["labels"], json!({"app": "x"}));
}

#[tokio::test]
async fn get_output_formats() {
    let server = Server::start().await;
    let pod = file(&server, "pod.yaml", POD);
    ok(kubectl(
        &server,
        &["create", "-f", pod.to_str().unwrap_or_default()],
    ));

    let json_out = ok(kubectl(&server, &["get", "pods", "-o", "json"]));
    let list: Value = serde_json::from_str(&json_out).unwrap_or_else(|e| panic!("{e}: {json_out}"));
    assert_eq!(list["kind"], json!("List"));
    assert_eq!(list["items"][0]["kind"], json!("Pod"));
    assert_eq!(list["items"][0]["metadata"]["name"], json!("x"));
    assert_eq!(
        list["items"][0]["spec"]["containers"][0]["image"],
        json!("nginx:1")
    );

    let yaml_out = ok(kubectl(&server, &["get", "pods", "-o", "yaml"]));
    assert!(
        yaml_out.starts_with("apiVersion: v1\nitems:\n- apiVersion: v1\n  kind: Pod\n"),
        "{yaml_out}"
    );
    assert!(yaml_out.contains("    name: x\n"), "{yaml_out}");
    assert!(yaml_out.contains("kind: List\n"), "{yaml_out}");

    let name = ok(kubectl(
        &server,
        &["get", "pods", "-o", "jsonpath={.items[0].metadata.name}"],
    ));
    assert_eq!(name, "x");

    let single = ok(kubectl(
        &server,
        &[
            "get",
            "pod",
            "x",
            "-o",
            "jsonpath={.spec.containers[*].image}",
        ],
    ));
    assert_eq!(single, "nginx:1");
}

const REPLICA_SET: &str = "apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: rs
spec:
  replicas: 0
  selector:
    matchLabels:
      app: rs
  template:
    metadata:
      labels:
        app: rs
    spec:
      containers:
      - name: c
        image: nginx:1
";

#[tokio::test]
async fn get_all_lists_the_all_category() {
    let server = Server::start().await;
    let pod = file(&server, "pod.yaml", POD);
    ok(kubectl(
        &server,
        &["create", "-f", pod.to_str().unwrap_or_default()],
    ));
    let v1 = file(&server, "deploy.yaml", &deployment("nginx:1"));
    ok(kubectl(
        &server,
        &["apply", "-f", v1.to_str().unwrap_or_default()],
    ));
    let rs = file(&server, "rs.yaml", REPLICA_SET);
    ok(kubectl(
        &server,
        &["create", "-f", rs.to_str().unwrap_or_default()],
    ));

    let out = ok(kubectl(&server, &["get", "all"]));
    let lines: Vec<&str> = out.lines().collect();
    let header = |prefix: &str| {
        lines
            .iter()
            .position(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix:?} header in:\n{out}"))
    };
    let pods = header("NAME    READY   STATUS");
    assert!(
        lines[pods]
            .split_whitespace()
            .eq(["NAME", "READY", "STATUS", "RESTARTS", "AGE"]),
        "{out}"
    );
    assert!(lines[pods + 1].starts_with("pod/x "), "{out}");
    let services = header("NAME                 TYPE");
    assert!(
        lines[services].split_whitespace().eq([
            "NAME",
            "TYPE",
            "CLUSTER-IP",
            "EXTERNAL-IP",
            "PORT(S)",
            "AGE"
        ]),
        "{out}"
    );
    assert!(
        lines[services + 1].starts_with("service/kubernetes "),
        "{out}"
    );
    let deployments = lines
        .iter()
        .position(|l| {
            l.split_whitespace()
                .eq(["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"])
        })
        .unwrap_or_else(|| panic!("no deployment header:\n{out}"));
    assert!(
        lines[deployments + 1].starts_with("deployment.apps/web "),
        "{out}"
    );
    let replicasets = lines
        .iter()
        .position(|l| {
            l.split_whitespace()
                .eq(["NAME", "DESIRED", "CURRENT", "READY", "AGE"])
        })
        .unwrap_or_else(|| panic!("no replicaset header:\n{out}"));
    assert!(
        lines[replicasets + 1].starts_with("replicaset.apps/rs "),
        "{out}"
    );
    // Not in the `all` category.
    assert!(!out.contains("configmap/"), "{out}");
    assert!(!out.contains("secret/"), "{out}");
}

#[tokio::test]
async fn explain_pod_containers() {
    let server = Server::start().await;
    let out = ok(kubectl(&server, &["explain", "pods.spec.containers"]));
    assert!(out.contains("KIND:       Pod"), "{out}");
    assert!(out.contains("VERSION:    v1"), "{out}");
    assert!(out.contains("FIELD: containers <[]Container>"), "{out}");
    assert!(out.contains("DESCRIPTION:"), "{out}");
    assert!(
        out.contains("List of containers belonging to the pod."),
        "{out}"
    );
    assert!(out.contains("FIELDS:"), "{out}");
    assert!(out.contains("image\t<string>"), "{out}");
    assert!(out.contains("name\t<string> -required-"), "{out}");
}

#[tokio::test]
async fn delete_waits_until_gone() {
    let server = Server::start().await;
    let pod = file(&server, "pod.yaml", POD);
    ok(kubectl(
        &server,
        &["create", "-f", pod.to_str().unwrap_or_default()],
    ));
    let out = ok(kubectl(&server, &["delete", "pod", "x", "--timeout=30s"]));
    assert_eq!(out.trim(), r#"pod "x" deleted"#);
    let (code, body) = server.get("/api/v1/namespaces/default/pods/x").await;
    assert_eq!(code, 404, "{body}");
    assert_eq!(body["reason"], json!("NotFound"));
    assert_eq!(body["message"], json!(r#"pods "x" not found"#));
    let missing = kubectl(&server, &["delete", "pod", "x"]);
    assert!(!missing.status.success());
    assert!(
        stderr(&missing).contains(r#"Error from server (NotFound): pods "x" not found"#),
        "{}",
        stderr(&missing)
    );
}

#[tokio::test]
async fn create_server_dry_run_stores_nothing() {
    let server = Server::start().await;
    let pod = file(&server, "pod.yaml", POD);
    let out = ok(kubectl(
        &server,
        &[
            "create",
            "-f",
            pod.to_str().unwrap_or_default(),
            "--dry-run=server",
        ],
    ));
    assert_eq!(out.trim(), "pod/x created (server dry run)");
    let (code, body) = server.get("/api/v1/namespaces/default/pods/x").await;
    assert_eq!(code, 404, "{body}");
    let (_, list) = server.get("/api/v1/namespaces/default/pods").await;
    assert_eq!(list["items"], json!([]));
}

#[tokio::test]
async fn create_strict_validation_rejects_unknown_fields() {
    let server = Server::start().await;
    let bad = POD.replace("spec:\n", "spec:\n  foo: bar\n");
    let path = file(&server, "bad.yaml", &bad);
    let out = kubectl(
        &server,
        &[
            "create",
            "-f",
            path.to_str().unwrap_or_default(),
            "--validate=strict",
        ],
    );
    assert!(!out.status.success(), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(err.contains(r#"unknown field "spec.foo""#), "{err}");
    let (code, _) = server.get("/api/v1/namespaces/default/pods/x").await;
    assert_eq!(code, 404);
}

#[tokio::test]
async fn duplicate_fields_follow_field_validation() {
    let server = Server::start().await;
    let body = br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"d","name":"dup"},"data":{"a":"1","a":"2"},"bogus":1}"#;
    let path = "/api/v1/namespaces/default/configmaps";
    let (code, reply) = server
        .raw(
            "POST",
            &format!("{path}?fieldValidation=Strict"),
            Some(body.to_vec()),
            "application/json",
        )
        .await
        .expect("POST");
    assert_eq!(code, 400, "{reply}");
    let status: Value = serde_json::from_str(&reply).expect("a Status");
    assert_eq!(status["reason"], json!("BadRequest"));
    assert_eq!(
        status["message"],
        json!(
            r#"strict decoding error: duplicate field "metadata.name", duplicate field "data.a", unknown field "bogus""#
        )
    );
    let (code, _) = server.get(&format!("{path}/dup")).await;
    assert_eq!(code, 404);

    // kubectl create --raw sends the file as it is.
    let dup = file(
        &server,
        "dup.json",
        std::str::from_utf8(body).unwrap_or_default(),
    );
    let dup = dup.to_str().unwrap_or_default();
    let strict = kubectl(
        &server,
        &[
            "create",
            "--raw",
            &format!("{path}?fieldValidation=Strict"),
            "-f",
            dup,
        ],
    );
    assert!(!strict.status.success());
    assert!(
        stderr(&strict).contains(
            r#"Error from server (BadRequest): strict decoding error: duplicate field "metadata.name""#
        ),
        "{}",
        stderr(&strict)
    );

    // Warn (the default): created, the last value kept, one warning each.
    let out = ok(kubectl(&server, &["create", "--raw", path, "-f", dup]));
    let created: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(created["metadata"]["name"], json!("dup"));
    assert_eq!(created["data"], json!({"a": "2"}));
    let stored_cm = stored(&server, &format!("{path}/dup")).await;
    assert_eq!(stored_cm["data"], json!({"a": "2"}));
    let again = kubectl(
        &server,
        &["create", "--raw", &format!("{path}?dryRun=All"), "-f", dup],
    );
    let warnings = stderr(&again);
    assert!(again.status.success(), "{warnings}");
    for expected in [
        r#"Warning: duplicate field "metadata.name""#,
        r#"Warning: duplicate field "data.a""#,
        r#"Warning: unknown field "bogus""#,
    ] {
        assert!(
            warnings.contains(expected),
            "{expected} missing:\n{warnings}"
        );
    }

    // Ignore: silent.
    let ignored = kubectl(
        &server,
        &[
            "create",
            "--raw",
            &format!("{path}?fieldValidation=Ignore&dryRun=All"),
            "-f",
            dup,
        ],
    );
    assert!(ignored.status.success(), "{}", stderr(&ignored));
    assert_eq!(stderr(&ignored), "");
}
