//! The `/scale` subresource (autoscaling/v1 `Scale`) of deployments,
//! replica sets, stateful sets and replication controllers: GET, PUT with
//! its resourceVersion precondition and validation, the three PATCH
//! formats, and the real `kubectl scale`.

mod support;

use serde_json::{Value, json};

use support::{Server, kubectl, ok};

const DEPLOYMENTS: &str = "/apis/apps/v1/namespaces/default/deployments";

fn template(app: &str) -> Value {
    json!({
        "metadata": {"labels": {"app": app}},
        "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]},
    })
}

fn deployment(name: &str) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": name}},
            "template": template(name),
        },
    })
}

async fn create(server: &Server, collection: &str, object: Value) -> Value {
    let (code, body) = server.post(collection, &object).await;
    assert_eq!(code, 201, "create in {collection}: {body}");
    body
}

async fn patch(server: &Server, path: &str, content_type: &str, body: &str) -> (u16, Value) {
    let (code, text) = server
        .raw("PATCH", path, Some(body.as_bytes().to_vec()), content_type)
        .await
        .expect("PATCH");
    let json = serde_json::from_str(&text).unwrap_or_else(|err| panic!("{err}: {text}"));
    (code, json)
}

#[tokio::test]
async fn get_scale_of_a_deployment() {
    let server = Server::start().await;
    let created = create(&server, DEPLOYMENTS, deployment("web")).await;
    let (code, scale) = server.get(&format!("{DEPLOYMENTS}/web/scale")).await;
    assert_eq!(code, 200, "{scale}");
    assert_eq!(
        scale,
        json!({
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {
                "name": "web",
                "namespace": "default",
                "uid": created["metadata"]["uid"],
                "resourceVersion": created["metadata"]["resourceVersion"],
                "creationTimestamp": created["metadata"]["creationTimestamp"],
            },
            "spec": {"replicas": 2},
            "status": {"replicas": 0, "selector": "app=web"},
        })
    );

    let (code, missing) = server.get(&format!("{DEPLOYMENTS}/nope/scale")).await;
    assert_eq!(code, 404, "{missing}");
    assert_eq!(missing["message"], "deployments.apps \"nope\" not found");
    // Kinds without the subresource do not serve it.
    let (code, _) = server
        .get("/api/v1/namespaces/default/configmaps/x/scale")
        .await;
    assert_eq!(code, 404);
    let (code, _) = server
        .get("/apis/apps/v1/namespaces/default/daemonsets/x/scale")
        .await;
    assert_eq!(code, 404);
}

#[tokio::test]
async fn put_scale_changes_only_replicas_under_its_precondition() {
    let server = Server::start().await;
    let created = create(&server, DEPLOYMENTS, deployment("web")).await;
    let path = format!("{DEPLOYMENTS}/web/scale");
    let (_, mut scale) = server.get(&path).await;
    scale["spec"]["replicas"] = json!(5);
    // Status and metadata other than the preconditions are not written.
    scale["status"]["replicas"] = json!(9);
    let (code, updated) = server.put(&path, &scale).await;
    assert_eq!(code, 200, "{updated}");
    assert_eq!(updated["kind"], "Scale");
    assert_eq!(updated["spec"]["replicas"], 5);
    assert_eq!(updated["status"]["replicas"], 0);
    assert_ne!(
        updated["metadata"]["resourceVersion"],
        scale["metadata"]["resourceVersion"]
    );

    let (_, written) = server.get(&format!("{DEPLOYMENTS}/web")).await;
    assert_eq!(written["spec"]["replicas"], 5);
    assert_eq!(written["metadata"]["generation"], 2, "{written}");
    assert_eq!(
        written["metadata"]["resourceVersion"],
        updated["metadata"]["resourceVersion"]
    );
    assert_eq!(written["spec"]["template"], created["spec"]["template"]);
    assert_eq!(written["spec"]["selector"], created["spec"]["selector"]);

    // The old resourceVersion no longer matches: 409 as upstream.
    scale["spec"]["replicas"] = json!(6);
    let (code, conflict) = server.put(&path, &scale).await;
    assert_eq!(code, 409, "{conflict}");
    assert_eq!(conflict["reason"], "Conflict");
    assert_eq!(
        conflict["message"],
        "Operation cannot be fulfilled on deployments.apps \"web\": the object has been modified; please apply your changes to the latest version and try again"
    );

    // Without a resourceVersion the write is unconditional.
    let unconditional = json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"replicas": 0},
    });
    let (code, zero) = server.put(&path, &unconditional).await;
    assert_eq!(code, 200, "{zero}");
    assert_eq!(
        zero["spec"],
        json!({}),
        "zero replicas are omitted as in Go"
    );
    let (_, written) = server.get(&format!("{DEPLOYMENTS}/web")).await;
    assert_eq!(written["spec"]["replicas"], 0);

    let (code, invalid) = server
        .put(
            &path,
            &json!({"metadata": {"name": "web"}, "spec": {"replicas": -1}}),
        )
        .await;
    assert_eq!(code, 422, "{invalid}");
    assert_eq!(invalid["reason"], "Invalid");
    assert_eq!(
        invalid["message"],
        "Scale.autoscaling \"web\" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0"
    );
    assert_eq!(invalid["details"]["causes"][0]["field"], "spec.replicas");
    assert_eq!(invalid["details"]["kind"], "Scale");

    let (code, wrong_name) = server
        .put(
            &path,
            &json!({"metadata": {"name": "other"}, "spec": {"replicas": 1}}),
        )
        .await;
    assert_eq!(code, 400, "{wrong_name}");

    // dryRun answers the result and stores nothing.
    let (code, dry) = server
        .put(
            &format!("{path}?dryRun=All"),
            &json!({"metadata": {"name": "web"}, "spec": {"replicas": 7}}),
        )
        .await;
    assert_eq!(code, 200, "{dry}");
    assert_eq!(dry["spec"]["replicas"], 7);
    let (_, written) = server.get(&format!("{DEPLOYMENTS}/web")).await;
    assert_eq!(written["spec"]["replicas"], 0);
}

#[tokio::test]
async fn patch_scale_in_every_format() {
    let server = Server::start().await;
    create(&server, DEPLOYMENTS, deployment("web")).await;
    let path = format!("{DEPLOYMENTS}/web/scale");
    let replicas = || async {
        let (_, written) = server.get(&format!("{DEPLOYMENTS}/web")).await;
        written["spec"]["replicas"].clone()
    };

    let (code, merged) = patch(
        &server,
        &path,
        "application/merge-patch+json",
        r#"{"spec":{"replicas":3}}"#,
    )
    .await;
    assert_eq!(code, 200, "{merged}");
    assert_eq!(merged["spec"]["replicas"], 3);
    assert_eq!(merged["status"]["selector"], "app=web");
    assert_eq!(replicas().await, 3);

    let (code, strategic) = patch(
        &server,
        &path,
        "application/strategic-merge-patch+json",
        r#"{"spec":{"replicas":4}}"#,
    )
    .await;
    assert_eq!(code, 200, "{strategic}");
    assert_eq!(replicas().await, 4);

    let (code, json_patched) = patch(
        &server,
        &path,
        "application/json-patch+json",
        r#"[{"op":"test","path":"/spec/replicas","value":4},{"op":"replace","path":"/spec/replicas","value":1}]"#,
    )
    .await;
    assert_eq!(code, 200, "{json_patched}");
    assert_eq!(replicas().await, 1);

    let (code, failed_test) = patch(
        &server,
        &path,
        "application/json-patch+json",
        r#"[{"op":"test","path":"/spec/replicas","value":4}]"#,
    )
    .await;
    assert_eq!(code, 422, "{failed_test}");

    let (code, negative) = patch(
        &server,
        &path,
        "application/merge-patch+json",
        r#"{"spec":{"replicas":-2}}"#,
    )
    .await;
    assert_eq!(code, 422, "{negative}");
    assert_eq!(negative["details"]["causes"][0]["field"], "spec.replicas");

    let (code, stale) = patch(
        &server,
        &path,
        "application/merge-patch+json",
        r#"{"metadata":{"resourceVersion":"1"},"spec":{"replicas":2}}"#,
    )
    .await;
    assert_eq!(code, 409, "{stale}");
    assert_eq!(replicas().await, 1);

    let (code, strict) = patch(
        &server,
        &format!("{path}?fieldValidation=Strict"),
        "application/merge-patch+json",
        r#"{"spec":{"replicas":2,"surprise":true}}"#,
    )
    .await;
    assert_eq!(code, 400, "{strict}");
    assert!(
        strict["message"]
            .as_str()
            .is_some_and(|m| m.contains("unknown field \"spec.surprise\"")),
        "{strict}"
    );
}

#[tokio::test]
async fn scale_of_replica_sets_stateful_sets_and_replication_controllers() {
    let server = Server::start().await;
    let apps = "/apis/apps/v1/namespaces/default";
    create(
        &server,
        &format!("{apps}/replicasets"),
        json!({
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": "rs"},
            "spec": {
                "selector": {
                    "matchLabels": {"app": "rs"},
                    "matchExpressions": [{"key": "tier", "operator": "In", "values": ["b", "a"]}],
                },
                "template": {
                    "metadata": {"labels": {"app": "rs", "tier": "a"}},
                    "spec": {"containers": [{"name": "c", "image": "nginx"}]},
                },
            },
        }),
    )
    .await;
    let (code, scale) = server.get(&format!("{apps}/replicasets/rs/scale")).await;
    assert_eq!(code, 200, "{scale}");
    assert_eq!(scale["spec"]["replicas"], 1, "defaulted to one");
    assert_eq!(scale["status"]["selector"], "app=rs,tier in (a,b)");

    create(
        &server,
        &format!("{apps}/statefulsets"),
        json!({
            "apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": "db"},
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"app": "db"}},
                "template": template("db"),
            },
        }),
    )
    .await;
    let (code, scaled) = patch(
        &server,
        &format!("{apps}/statefulsets/db/scale"),
        "application/merge-patch+json",
        r#"{"spec":{"replicas":5}}"#,
    )
    .await;
    assert_eq!(code, 200, "{scaled}");
    assert_eq!(scaled["spec"]["replicas"], 5);
    assert_eq!(scaled["status"]["selector"], "app=db");

    let core = "/api/v1/namespaces/default";
    create(
        &server,
        &format!("{core}/replicationcontrollers"),
        json!({
            "apiVersion": "v1", "kind": "ReplicationController",
            "metadata": {"name": "rc"},
            "spec": {
                "replicas": 2,
                "selector": {"app": "rc", "env": "test"},
                "template": {
                    "metadata": {"labels": {"app": "rc", "env": "test"}},
                    "spec": {"containers": [{"name": "c", "image": "nginx"}]},
                },
            },
        }),
    )
    .await;
    let path = format!("{core}/replicationcontrollers/rc/scale");
    let (code, scale) = server.get(&path).await;
    assert_eq!(code, 200, "{scale}");
    assert_eq!(scale["status"]["selector"], "app=rc,env=test");
    let mut wanted = scale.clone();
    wanted["spec"]["replicas"] = json!(4);
    let (code, updated) = server.put(&path, &wanted).await;
    assert_eq!(code, 200, "{updated}");
    let (_, rc) = server
        .get(&format!("{core}/replicationcontrollers/rc"))
        .await;
    assert_eq!(rc["spec"]["replicas"], 4);
    assert_eq!(rc["metadata"]["generation"], 2);
}

#[tokio::test]
async fn kubectl_scale() {
    let server = Server::start().await;
    create(&server, DEPLOYMENTS, deployment("web")).await;
    let out = ok(kubectl(
        &server,
        &["scale", "deployment", "web", "--replicas=3"],
    ));
    assert!(out.contains("deployment.apps/web scaled"), "{out}");
    let (_, written) = server.get(&format!("{DEPLOYMENTS}/web")).await;
    assert_eq!(written["spec"]["replicas"], 3);
    // The scale write is recorded on the scale subresource; kubectl scale
    // names no fieldManager, so the manager is its User-Agent's prefix.
    let scale_entry = written["metadata"]["managedFields"]
        .as_array()
        .and_then(|entries| entries.iter().find(|e| e["subresource"] == "scale"))
        .unwrap_or_else(|| panic!("no scale entry: {}", written["metadata"]));
    assert_eq!(scale_entry["manager"], "kubectl");
    assert_eq!(scale_entry["operation"], "Update");
    assert_eq!(scale_entry["apiVersion"], "apps/v1");
    assert_eq!(
        scale_entry["fieldsV1"],
        json!({"f:spec": {"f:replicas": {}}})
    );

    // With a precondition kubectl reads the Scale and PUTs it back.
    let refused = kubectl(
        &server,
        &[
            "scale",
            "deployment",
            "web",
            "--current-replicas=2",
            "--replicas=4",
        ],
    );
    assert!(!refused.status.success());
    let out = ok(kubectl(
        &server,
        &[
            "scale",
            "deployment/web",
            "--current-replicas=3",
            "--replicas=4",
        ],
    ));
    assert!(out.contains("deployment.apps/web scaled"), "{out}");
    let (_, written) = server.get(&format!("{DEPLOYMENTS}/web")).await;
    assert_eq!(written["spec"]["replicas"], 4);

    create(
        &server,
        "/api/v1/namespaces/default/replicationcontrollers",
        json!({
            "apiVersion": "v1", "kind": "ReplicationController",
            "metadata": {"name": "rc"},
            "spec": {
                "replicas": 1,
                "selector": {"app": "rc"},
                "template": template("rc"),
            },
        }),
    )
    .await;
    let out = ok(kubectl(&server, &["scale", "rc", "rc", "--replicas=2"]));
    assert!(out.contains("replicationcontroller/rc scaled"), "{out}");
    let (_, rc) = server
        .get("/api/v1/namespaces/default/replicationcontrollers/rc")
        .await;
    assert_eq!(rc["spec"]["replicas"], 2);

    create(
        &server,
        "/apis/apps/v1/namespaces/default/statefulsets",
        json!({
            "apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": "db"},
            "spec": {
                "selector": {"matchLabels": {"app": "db"}},
                "template": template("db"),
            },
        }),
    )
    .await;
    let out = ok(kubectl(
        &server,
        &["scale", "statefulset", "db", "--replicas=0"],
    ));
    assert!(out.contains("statefulset.apps/db scaled"), "{out}");
    let (_, db) = server
        .get("/apis/apps/v1/namespaces/default/statefulsets/db")
        .await;
    assert_eq!(db["spec"]["replicas"], 0);
}
