//! The garbage collector over HTTP and with kubectl: dependents of a
//! deleted owner are deleted (Background), an Orphan delete leaves them
//! without the reference, and a Foreground delete keeps the owner, marked
//! with `foregroundDeletion`, until its dependents are gone
//! (`kubectl delete --cascade=foreground` waits for it).

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use support::{Server, file, kubectl};

const CONFIG_MAPS: &str = "/api/v1/namespaces/default/configmaps";

async fn create_config_map(
    server: &Server,
    name: &str,
    owner: Option<&Value>,
    finalizers: &[&str],
) -> Value {
    let mut metadata = json!({"name": name, "finalizers": finalizers});
    if let Some(owner) = owner {
        metadata["ownerReferences"] = json!([{
            "apiVersion": "v1", "kind": "ConfigMap",
            "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"],
            "blockOwnerDeletion": true,
        }]);
    }
    let (code, created) = server
        .post(CONFIG_MAPS, &json!({"metadata": metadata}))
        .await;
    assert_eq!(code, 201, "{created}");
    created
}

async fn eventually_gone(server: &Server, path: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while server.get(path).await.0 != 404 {
        assert!(Instant::now() < deadline, "{path} was never deleted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn dependents_follow_their_owners_deletion() {
    let server = Server::start().await;

    // Background (the default): the dependent goes after its owner.
    let owner = create_config_map(&server, "owner", None, &[]).await;
    create_config_map(&server, "child", Some(&owner), &[]).await;
    let (code, _) = server.delete(&format!("{CONFIG_MAPS}/owner")).await;
    assert_eq!(code, 200);
    eventually_gone(&server, &format!("{CONFIG_MAPS}/child")).await;

    // A dependent with another live owner loses only the gone reference.
    let first = create_config_map(&server, "first", None, &[]).await;
    let second = create_config_map(&server, "second", None, &[]).await;
    let mut shared = create_config_map(&server, "shared", Some(&first), &[]).await;
    let mut references = shared["metadata"]["ownerReferences"]
        .as_array()
        .unwrap()
        .clone();
    references.push(json!({"apiVersion": "v1", "kind": "ConfigMap",
        "name": "second", "uid": second["metadata"]["uid"]}));
    shared["metadata"]["ownerReferences"] = json!(references);
    let (code, shared) = server.put(&format!("{CONFIG_MAPS}/shared"), &shared).await;
    assert_eq!(code, 200, "{shared}");
    server.delete(&format!("{CONFIG_MAPS}/first")).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (code, shared) = server.get(&format!("{CONFIG_MAPS}/shared")).await;
        assert_eq!(code, 200, "the dependent of a live owner was deleted");
        let owners: Vec<&str> = shared["metadata"]["ownerReferences"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|o| o["name"].as_str())
            .collect();
        if owners == ["second"] {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the gone owner's reference stayed: {shared}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Orphan: the owner goes, the dependent stays without the reference.
    let owner = create_config_map(&server, "orphaner", None, &[]).await;
    create_config_map(&server, "orphan", Some(&owner), &[]).await;
    let (code, _) = server
        .delete(&format!("{CONFIG_MAPS}/orphaner?propagationPolicy=Orphan"))
        .await;
    assert_eq!(code, 200);
    eventually_gone(&server, &format!("{CONFIG_MAPS}/orphaner")).await;
    let (code, orphan) = server.get(&format!("{CONFIG_MAPS}/orphan")).await;
    assert_eq!(code, 200);
    assert!(
        orphan["metadata"].get("ownerReferences").is_none(),
        "{orphan}"
    );

    // Foreground: the owner waits, marked, while a dependent is held.
    let owner = create_config_map(&server, "foreground", None, &[]).await;
    let held = create_config_map(&server, "held", Some(&owner), &["example.com/hold"]).await;
    let (code, marked) = server
        .delete(&format!(
            "{CONFIG_MAPS}/foreground?propagationPolicy=Foreground"
        ))
        .await;
    assert_eq!(code, 200, "{marked}");
    assert_eq!(
        marked["metadata"]["finalizers"],
        json!(["foregroundDeletion"]),
        "{marked}"
    );
    assert!(marked["metadata"]["deletionTimestamp"].is_string());
    // The dependent is being deleted (held by its own finalizer); the
    // owner stays.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, held) = server.get(&format!("{CONFIG_MAPS}/held")).await;
        if held["metadata"]["deletionTimestamp"].is_string() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the dependent was never deleted: {held}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        server.get(&format!("{CONFIG_MAPS}/foreground")).await.0,
        200
    );
    let (_, held_now) = server.get(&format!("{CONFIG_MAPS}/held")).await;
    let mut release = held_now.clone();
    release["metadata"]["finalizers"] = json!([]);
    let (code, _) = server.put(&format!("{CONFIG_MAPS}/held"), &release).await;
    assert_eq!(code, 200);
    eventually_gone(&server, &format!("{CONFIG_MAPS}/held")).await;
    eventually_gone(&server, &format!("{CONFIG_MAPS}/foreground")).await;
    let _ = held;

    // An owner of a kind nothing serves cannot be told gone: its dependent
    // stays, while one whose owner's kind is served and whose owner never
    // existed (created after it, so looked at after it) is collected.
    let unresolved = json!({"metadata": {"name": "unresolved", "ownerReferences": [{
        "apiVersion": "nowhere.example.com/v1", "kind": "Gadget",
        "name": "gadget", "uid": "5c0ffee0-0000-4000-8000-000000000001",
    }]}});
    let (code, created) = server.post(CONFIG_MAPS, &unresolved).await;
    assert_eq!(code, 201, "{created}");
    let dangling = json!({"metadata": {"name": "dangling", "ownerReferences": [{
        "apiVersion": "v1", "kind": "ConfigMap",
        "name": "never", "uid": "5c0ffee0-0000-4000-8000-000000000002",
    }]}});
    let (code, created) = server.post(CONFIG_MAPS, &dangling).await;
    assert_eq!(code, 201, "{created}");
    eventually_gone(&server, &format!("{CONFIG_MAPS}/dangling")).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (code, kept) = server.get(&format!("{CONFIG_MAPS}/unresolved")).await;
    assert_eq!(code, 200, "the dependent of an unknown kind was collected");
    assert_eq!(
        kept["metadata"]["ownerReferences"][0]["kind"], "Gadget",
        "{kept}"
    );
}

#[tokio::test]
async fn kubectl_delete_cascade_foreground_waits_for_the_replica_sets() {
    let server = Server::start().await;
    let deployment = file(
        &server,
        "web.yaml",
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.27
",
    );
    let output = kubectl(&server, &["apply", "-f", deployment.to_str().unwrap()]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let (_, web) = server
        .get("/apis/apps/v1/namespaces/default/deployments/web")
        .await;
    // What a deployment controller would have made: a replica set it owns.
    let replica_set = json!({
        "metadata": {"name": "web-1", "labels": {"app": "web"}, "ownerReferences": [{
            "apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
            "uid": web["metadata"]["uid"], "controller": true, "blockOwnerDeletion": true}]},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                 "template": web["spec"]["template"]},
    });
    let (code, created) = server
        .post("/apis/apps/v1/namespaces/default/replicasets", &replica_set)
        .await;
    assert_eq!(code, 201, "{created}");

    let output = kubectl(
        &server,
        &[
            "delete",
            "deployment",
            "web",
            "--cascade=foreground",
            "--timeout=30s",
        ],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // kubectl waited for the deployment, which waited for its replica set.
    assert_eq!(
        server
            .get("/apis/apps/v1/namespaces/default/replicasets/web-1")
            .await
            .0,
        404
    );
    assert_eq!(
        server
            .get("/apis/apps/v1/namespaces/default/deployments/web")
            .await
            .0,
        404
    );
}
