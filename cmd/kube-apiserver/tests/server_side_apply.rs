//! Server-side apply and managed fields over HTTP and with the real
//! kubectl v1.32: create on apply, ownership of applied fields, conflicts
//! between managers and `force`, `managedFields` on every write.

mod support;

use serde_json::{Value, json};

use support::{Server, file, kubectl, ok};

const APPLY: &str = "application/apply-patch+yaml";
const DEPLOYMENTS: &str = "/apis/apps/v1/namespaces/default/deployments";

fn deployment(replicas: i64, image: &str) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "c", "image": image}]}
            }
        }
    })
}

async fn apply(server: &Server, path: &str, query: &str, body: &Value) -> (u16, Value) {
    let (code, text) = server
        .raw(
            "PATCH",
            &format!("{path}?{query}"),
            Some(serde_json::to_vec(body).expect("encode")),
            APPLY,
        )
        .await
        .expect("apply request");
    let value = serde_json::from_str(&text).unwrap_or_else(|err| panic!("{err}: {text}"));
    (code, value)
}

/// The `managedFields` entry of `manager`.
fn entry<'a>(object: &'a Value, manager: &str) -> Option<&'a Value> {
    object["metadata"]["managedFields"]
        .as_array()?
        .iter()
        .find(|entry| entry["manager"] == manager)
}

#[tokio::test]
async fn apply_creates_merges_and_reports_conflicts() {
    let server = Server::start().await;
    let web = format!("{DEPLOYMENTS}/web");

    let (code, status) = apply(&server, &web, "", &deployment(1, "nginx")).await;
    assert_eq!(code, 422, "{status}");
    assert_eq!(
        status["message"],
        "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch"
    );

    // Dry run: answered, not stored.
    let (code, _) = apply(
        &server,
        &web,
        "fieldManager=a&dryRun=All",
        &deployment(1, "nginx"),
    )
    .await;
    assert_eq!(code, 201);
    assert_eq!(server.get(&web).await.0, 404);

    // Create on apply: defaults and an Apply entry owning the configuration.
    let (code, created) = apply(&server, &web, "fieldManager=a", &deployment(1, "nginx")).await;
    assert_eq!(code, 201, "{created}");
    assert_eq!(created["spec"]["strategy"]["type"], "RollingUpdate");
    let owned = entry(&created, "a").expect("the applier's entry");
    assert_eq!(owned["operation"], "Apply");
    assert_eq!(owned["apiVersion"], "apps/v1");
    assert_eq!(owned["fieldsType"], "FieldsV1");
    assert_eq!(
        owned["fieldsV1"],
        json!({
            "f:metadata": {"f:labels": {"f:app": {}}},
            "f:spec": {
                "f:replicas": {},
                "f:selector": {},
                "f:template": {
                    "f:metadata": {"f:labels": {"f:app": {}}},
                    "f:spec": {"f:containers": {"k:{\"name\":\"c\"}": {
                        ".": {}, "f:image": {}, "f:name": {}
                    }}}
                }
            }
        })
    );

    // A changed image applies; a dropped label goes.
    let mut changed = deployment(1, "nginx:2");
    changed["metadata"]["labels"] = json!({});
    let (code, updated) = apply(&server, &web, "fieldManager=a", &changed).await;
    assert_eq!(code, 200, "{updated}");
    assert_eq!(
        updated["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:2"
    );
    assert!(
        updated["metadata"]["labels"].get("app").is_none(),
        "{updated}"
    );

    // Another applier changing a's replicas conflicts.
    let (code, status) = apply(&server, &web, "fieldManager=b", &deployment(3, "nginx:2")).await;
    assert_eq!(code, 409, "{status}");
    assert_eq!(status["reason"], "Conflict");
    assert_eq!(
        status["message"],
        "Apply failed with 1 conflict: conflict with \"a\": .spec.replicas"
    );
    assert_eq!(
        status["details"]["causes"],
        json!([{"reason": "FieldManagerConflict", "message": "conflict with \"a\"", "field": ".spec.replicas"}])
    );

    // Forced, the field moves to b.
    let (code, forced) = apply(
        &server,
        &web,
        "fieldManager=b&force=true",
        &deployment(3, "nginx:2"),
    )
    .await;
    assert_eq!(code, 200, "{forced}");
    assert_eq!(forced["spec"]["replicas"], 3);
    let a = entry(&forced, "a").expect("a still owns the rest");
    assert!(a["fieldsV1"]["f:spec"].get("f:replicas").is_none(), "{a}");
    let b = entry(&forced, "b").expect("b's entry");
    assert_eq!(b["fieldsV1"]["f:spec"]["f:replicas"], json!({}));

    // Unknown fields in an applied configuration are refused.
    let mut unknown = deployment(3, "nginx:2");
    unknown["spec"]["foo"] = json!(1);
    let (code, status) = apply(&server, &web, "fieldManager=b", &unknown).await;
    assert_eq!(code, 400, "{status}");
    assert_eq!(
        status["message"],
        "failed to create typed patch object (/web; apps/v1, Kind=Deployment): .spec.foo: field not declared in schema"
    );

    // `force` belongs to apply only.
    let (code, _) = server
        .raw(
            "PATCH",
            &format!("{web}?force=true"),
            Some(br#"{"spec":{"replicas":2}}"#.to_vec()),
            "application/merge-patch+json",
        )
        .await
        .expect("merge patch");
    assert_eq!(code, 422);
}

#[tokio::test]
async fn every_write_records_its_manager() {
    let server = Server::start().await;
    let config_maps = "/api/v1/namespaces/default/configmaps";
    let (code, created) = server
        .post(
            &format!("{config_maps}?fieldManager=creator"),
            &json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "x", "labels": {"app": "x"}}, "data": {"k": "v"}}),
        )
        .await;
    assert_eq!(code, 201, "{created}");
    let creator = entry(&created, "creator").expect("the creator's entry");
    assert_eq!(creator["operation"], "Update");
    assert_eq!(creator["apiVersion"], "v1");
    assert_eq!(
        creator["fieldsV1"],
        json!({"f:data": {".": {}, "f:k": {}}, "f:metadata": {"f:labels": {".": {}, "f:app": {}}}})
    );

    // A merge patch by another manager takes the field it changed.
    let (code, text) = server
        .raw(
            "PATCH",
            &format!("{config_maps}/x?fieldManager=patcher"),
            Some(br#"{"data":{"k":"w","n":"1"}}"#.to_vec()),
            "application/merge-patch+json",
        )
        .await
        .expect("patch");
    assert_eq!(code, 200, "{text}");
    let patched: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(
        entry(&patched, "patcher").expect("patcher")["fieldsV1"],
        json!({"f:data": {"f:k": {}, "f:n": {}}})
    );
    assert_eq!(
        entry(&patched, "creator").expect("creator")["fieldsV1"],
        json!({"f:data": {}, "f:metadata": {"f:labels": {".": {}, "f:app": {}}}})
    );

    // An update that sends the managed fields back unchanged keeps them.
    let (code, updated) = server
        .put(&format!("{config_maps}/x?fieldManager=patcher"), &patched)
        .await;
    assert_eq!(code, 200, "{updated}");
    assert_eq!(
        updated["metadata"]["managedFields"],
        patched["metadata"]["managedFields"]
    );

    // Without fieldManager the write is the User-Agent's, up to its `/`.
    let mut relabelled = updated.clone();
    relabelled["metadata"]["labels"]["tier"] = json!("web");
    let (code, relabelled) = server.put(&format!("{config_maps}/x"), &relabelled).await;
    assert_eq!(code, 200, "{relabelled}");
    assert_eq!(
        entry(&relabelled, "apiserver-tests").expect("the User-Agent's entry")["fieldsV1"],
        json!({"f:metadata": {"f:labels": {"f:tier": {}}}})
    );

    // A fieldManager that is too long or unprintable: 422 naming the options.
    let long = "m".repeat(129);
    let create_with = |manager: String| {
        let server = &server;
        async move {
            server
                .post(
                    &format!("{config_maps}?fieldManager={manager}"),
                    &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "y"}}),
                )
                .await
        }
    };
    let (code, status) = create_with(long.clone()).await;
    assert_eq!(code, 422, "{status}");
    assert_eq!(
        status["message"],
        "CreateOptions.meta.k8s.io \"\" is invalid: fieldManager: Too long: may not be more than 128 bytes"
    );
    let (code, status) = create_with("bell%07".to_owned()).await;
    assert_eq!(code, 422, "{status}");
    assert_eq!(
        status["message"],
        r#"CreateOptions.meta.k8s.io "" is invalid: fieldManager: Invalid value: "bell\a": invalid character U+0007 (at position 4)"#
    );
    let (code, text) = server
        .raw(
            "PATCH",
            &format!("{config_maps}/x?fieldManager={long}"),
            Some(br#"{"data":{"k":"z"}}"#.to_vec()),
            "application/merge-patch+json",
        )
        .await
        .expect("patch");
    assert_eq!(code, 422, "{text}");
    assert!(text.contains("PatchOptions.meta.k8s.io"), "{text}");
}

#[tokio::test]
async fn kubectl_server_side_apply() {
    let server = Server::start().await;
    let manifest = |replicas: i64, image: &str| {
        format!(
            "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: {replicas}
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
"
        )
    };
    let first = file(&server, "web.yaml", &manifest(1, "nginx:1"));
    let out = ok(kubectl(
        &server,
        &["apply", "--server-side", "-f", &first.display().to_string()],
    ));
    assert_eq!(out.trim(), "deployment.apps/web serverside-applied");

    let second = file(&server, "web2.yaml", &manifest(1, "nginx:2"));
    let out = ok(kubectl(
        &server,
        &[
            "apply",
            "--server-side",
            "-f",
            &second.display().to_string(),
        ],
    ));
    assert_eq!(out.trim(), "deployment.apps/web serverside-applied");
    let image = ok(kubectl(
        &server,
        &[
            "get",
            "deployment",
            "web",
            "-o",
            "jsonpath={.spec.template.spec.containers[0].image}",
        ],
    ));
    assert_eq!(image, "nginx:2");

    let other = file(&server, "other.yaml", &manifest(4, "nginx:2"));
    let refused = kubectl(
        &server,
        &[
            "apply",
            "--server-side",
            "--field-manager=other",
            "-f",
            &other.display().to_string(),
        ],
    );
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("conflict"), "{stderr}");
    assert!(stderr.contains(".spec.replicas"), "{stderr}");

    ok(kubectl(
        &server,
        &[
            "apply",
            "--server-side",
            "--field-manager=other",
            "--force-conflicts",
            "-f",
            &other.display().to_string(),
        ],
    ));
    let yaml = ok(kubectl(
        &server,
        &[
            "get",
            "deployment",
            "web",
            "-o",
            "yaml",
            "--show-managed-fields",
        ],
    ));
    assert!(yaml.contains("manager: kubectl\n"), "{yaml}");
    assert!(yaml.contains("manager: other\n"), "{yaml}");
    assert!(yaml.contains("operation: Apply"), "{yaml}");
    assert!(yaml.contains("replicas: 4"), "{yaml}");
    // Without the flag kubectl hides them.
    let plain = ok(kubectl(
        &server,
        &["get", "deployment", "web", "-o", "yaml"],
    ));
    assert!(!plain.contains("managedFields"), "{plain}");
}

#[tokio::test]
async fn kubectl_create_then_server_side_apply() {
    let server = Server::start().await;
    let manifest = "apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  color: blue
";
    let path = file(&server, "cm.yaml", manifest);
    let path = path.display().to_string();
    ok(kubectl(&server, &["create", "-f", &path]));
    let out = ok(kubectl(&server, &["apply", "--server-side", "-f", &path]));
    assert_eq!(out.trim(), "configmap/settings serverside-applied");
    let (_, object) = server
        .get("/api/v1/namespaces/default/configmaps/settings")
        .await;
    let created = entry(&object, "kubectl-create").expect("kubectl-create's entry");
    assert_eq!(created["operation"], "Update");
    let applied = entry(&object, "kubectl").expect("kubectl's entry");
    assert_eq!(applied["operation"], "Apply");
    assert_eq!(applied["fieldsV1"], json!({"f:data": {"f:color": {}}}));
}
