//! The REST API of a real `kube-apiserver` process over TLS, per resource
//! family: create/get/list/update/delete with upstream's Status errors,
//! selectors, pagination, watches, validation, namespaces and their
//! deletion, service IP and port allocation, generation and status.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{Value, json};

use support::Server;

fn configmap(name: &str, labels: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels}, "data": {"k": "v"}})
}

fn names(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|item| {
            item["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

#[tokio::test]
async fn configmaps_crud_conflicts_and_selectors() {
    let server = Server::start().await;
    let base = "/api/v1/namespaces/default/configmaps";

    let (code, created) = server
        .post(
            base,
            &configmap("a", json!({"app": "web", "tier": "front"})),
        )
        .await;
    assert_eq!(code, 201, "{created}");
    let meta = &created["metadata"];
    assert_eq!(meta["namespace"], "default");
    assert_eq!(meta["uid"].as_str().unwrap().len(), 36);
    assert!(meta["creationTimestamp"].as_str().unwrap().ends_with('Z'));
    let rv_a: u64 = meta["resourceVersion"].as_str().unwrap().parse().unwrap();

    let (code, dup) = server.post(base, &configmap("a", json!({}))).await;
    assert_eq!(code, 409);
    assert_eq!(dup["reason"], "AlreadyExists");
    assert_eq!(dup["message"], "configmaps \"a\" already exists");
    assert_eq!(dup["details"], json!({"name": "a", "kind": "configmaps"}));

    server
        .post(base, &configmap("b", json!({"app": "web", "tier": "back"})))
        .await;
    server
        .post(base, &configmap("c", json!({"app": "db"})))
        .await;
    server.post(base, &configmap("d", json!({}))).await;

    let (code, got) = server.get(&format!("{base}/a")).await;
    assert_eq!(code, 200);
    assert_eq!(got["data"]["k"], "v");
    assert_eq!(got["metadata"]["resourceVersion"], meta["resourceVersion"]);

    // Update: a fresh resourceVersion wins, a stale one is a conflict.
    let mut changed = got.clone();
    changed["data"]["k"] = json!("v2");
    let (code, updated) = server.put(&format!("{base}/a"), &changed).await;
    assert_eq!(code, 200, "{updated}");
    let rv_updated: u64 = updated["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(rv_updated > rv_a);
    assert_eq!(updated["metadata"]["uid"], meta["uid"]);
    let (code, conflict) = server.put(&format!("{base}/a"), &changed).await;
    assert_eq!(code, 409);
    assert_eq!(conflict["reason"], "Conflict");
    assert_eq!(
        conflict["message"],
        "Operation cannot be fulfilled on configmaps \"a\": the object has been modified; please apply your changes to the latest version and try again"
    );

    for (selector, expected) in [
        ("app=web", vec!["a", "b"]),
        ("app==web,tier!=front", vec!["b"]),
        ("app in (web,db)", vec!["a", "b", "c"]),
        ("app notin (web)", vec!["c", "d"]),
        ("tier", vec!["a", "b"]),
        ("!tier", vec!["c", "d"]),
    ] {
        let query: String = url_encode(selector);
        let (code, list) = server.get(&format!("{base}?labelSelector={query}")).await;
        assert_eq!(code, 200, "{selector}: {list}");
        assert_eq!(names(&list), expected, "{selector}");
        assert_eq!(list["kind"], "ConfigMapList");
    }
    let (_, by_name) = server
        .get(&format!("{base}?fieldSelector=metadata.name%3Dc"))
        .await;
    assert_eq!(names(&by_name), ["c"]);
    let (_, not_name) = server
        .get(&format!("{base}?fieldSelector=metadata.name!%3Dc"))
        .await;
    assert_eq!(names(&not_name), ["a", "b", "d"]);
    let (code, bad) = server
        .get(&format!("{base}?fieldSelector=spec.foo%3Dx"))
        .await;
    assert_eq!(code, 400, "{bad}");
    assert_eq!(bad["message"], "field label not supported: spec.foo");
    let (code, bad) = server.get(&format!("{base}?labelSelector=a%20b")).await;
    assert_eq!(code, 400, "{bad}");

    // Every namespace's configmaps: ours and nothing from elsewhere.
    let (_, all) = server.get("/api/v1/configmaps").await;
    assert!(names(&all).contains(&"a".to_string()));

    // Delete: success Status, then 404 with upstream's text.
    let (code, deleted) = server.delete(&format!("{base}/a")).await;
    assert_eq!(code, 200, "{deleted}");
    assert_eq!(deleted["status"], "Success");
    let (code, missing) = server.get(&format!("{base}/a")).await;
    assert_eq!(code, 404);
    assert_eq!(missing["message"], "configmaps \"a\" not found");
    let (code, _) = server.delete(&format!("{base}/a")).await;
    assert_eq!(code, 404);
}

fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn pagination_is_consistent_under_writes() {
    let server = Server::start().await;
    let base = "/api/v1/namespaces/default/configmaps";
    for i in 0..7 {
        server
            .post(base, &configmap(&format!("p{i}"), json!({"page": "yes"})))
            .await;
    }
    let (_, first) = server
        .get(&format!("{base}?limit=3&labelSelector=page%3Dyes"))
        .await;
    assert_eq!(names(&first), ["p0", "p1", "p2"]);
    let token = first["metadata"]["continue"]
        .as_str()
        .expect("continue token")
        .to_string();
    let list_rv = first["metadata"]["resourceVersion"].clone();
    // A write after the first page is not seen by the later pages.
    server
        .post(base, &configmap("p3a", json!({"page": "yes"})))
        .await;
    let mut seen = names(&first);
    let mut token = Some(token);
    while let Some(t) = token {
        let (code, page) = server
            .get(&format!(
                "{base}?limit=3&labelSelector=page%3Dyes&continue={t}"
            ))
            .await;
        assert_eq!(code, 200, "{page}");
        assert_eq!(page["metadata"]["resourceVersion"], list_rv);
        seen.extend(names(&page));
        token = page["metadata"]["continue"].as_str().map(str::to_string);
    }
    assert_eq!(seen, ["p0", "p1", "p2", "p3", "p4", "p5", "p6"]);
    let (code, bad) = server
        .get(&format!("{base}?limit=3&continue=garbage"))
        .await;
    assert_eq!(code, 400, "{bad}");
}

#[tokio::test]
async fn validation_field_validation_and_dry_run() {
    let server = Server::start().await;
    let pods = "/api/v1/namespaces/default/pods";
    let (code, invalid) = server
        .post(pods, &json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "Bad_Name"}, "spec": {"containers": []}}))
        .await;
    assert_eq!(code, 422, "{invalid}");
    assert_eq!(invalid["reason"], "Invalid");
    assert_eq!(invalid["details"]["kind"], "Pod");
    let fields: BTreeSet<&str> = invalid["details"]["causes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["field"].as_str().unwrap_or_default())
        .collect();
    assert!(fields.contains("metadata.name"), "{invalid}");
    assert!(fields.contains("spec.containers"), "{invalid}");

    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
        "spec": {"foo": 1, "containers": [{"name": "c", "image": "nginx", "bogus": true}]}});
    let (code, body, warnings) = server
        .request(
            "POST",
            &format!("{pods}?fieldValidation=Strict"),
            Some(&pod),
        )
        .await;
    assert_eq!(code, 400, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("strict decoding error: unknown field \"spec."),
        "{body}"
    );
    assert!(warnings.is_empty());

    let (code, dry, _) = server
        .request("POST", &format!("{pods}?dryRun=All"), Some(&pod))
        .await;
    assert_eq!(code, 201, "{dry}");
    assert_eq!(
        dry["spec"]["restartPolicy"], "Always",
        "defaults apply on dry run"
    );
    let (code, _) = server.get(&format!("{pods}/web")).await;
    assert_eq!(code, 404, "a dry run stores nothing");

    let (code, created, warnings) = server.request("POST", pods, Some(&pod)).await;
    assert_eq!(code, 201, "{created}");
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("unknown field \\\"spec.foo\\\"")),
        "{warnings:?}"
    );
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("spec.containers[0].bogus")),
        "{warnings:?}"
    );
    assert_eq!(created["status"]["phase"], "Pending");
    assert_eq!(
        created["spec"]["containers"][0]["imagePullPolicy"],
        "Always"
    );

    // generateName.
    let (code, generated) = server
        .post(pods, &json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"generateName": "gen-"}, "spec": {"containers": [{"name": "c", "image": "busybox:1"}]}}))
        .await;
    assert_eq!(code, 201, "{generated}");
    let name = generated["metadata"]["name"].as_str().unwrap();
    assert!(name.starts_with("gen-") && name.len() == 9, "{name}");

    // Wrong kind in the body.
    let (code, wrong) = server
        .post(
            pods,
            &json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"}}),
        )
        .await;
    assert_eq!(code, 400, "{wrong}");

    // YAML bodies: the same field checks; a type error without a position.
    let yaml_pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: from-yaml\nspec:\n  foo: 1\n  containers:\n  - name: c\n    image: nginx\n";
    let (code, text) = server
        .raw(
            "POST",
            &format!("{pods}?fieldValidation=Strict"),
            Some(yaml_pod.as_bytes().to_vec()),
            "application/yaml",
        )
        .await
        .expect("post");
    assert_eq!(code, 400, "{text}");
    assert!(
        text.contains(r#"strict decoding error: unknown field \"spec.foo\""#),
        "{text}"
    );
    let (code, text) = server
        .raw(
            "POST",
            pods,
            Some(yaml_pod.as_bytes().to_vec()),
            "application/yaml",
        )
        .await
        .expect("post");
    assert_eq!(code, 201, "{text}");
    let created: serde_json::Value = serde_json::from_str(&text).expect("a JSON reply");
    assert_eq!(created["metadata"]["name"], "from-yaml");
    assert_eq!(created["spec"]["containers"][0]["image"], "nginx");
    let (code, text) = server
        .raw(
            "POST",
            pods,
            Some(
                b"apiVersion: v1\nkind: Pod\nmetadata:\n  name: typed\nspec:\n  containers: 7\n"
                    .to_vec(),
            ),
            "application/yaml",
        )
        .await
        .expect("post");
    assert_eq!(code, 400, "{text}");
    assert!(
        text.contains(
            "error decoding the body as Pod: invalid type: integer `7`, expected a sequence\""
        ),
        "{text}"
    );
}

#[tokio::test]
async fn namespaces_lifecycle_and_cascade() {
    let server = Server::start().await;
    let (_, list) = server.get("/api/v1/namespaces").await;
    let all: BTreeSet<String> = names(&list).into_iter().collect();
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        assert!(all.contains(ns), "{ns} missing: {all:?}");
    }
    let (code, missing) = server
        .post(
            "/api/v1/namespaces/nope/configmaps",
            &configmap("x", json!({})),
        )
        .await;
    assert_eq!(code, 404, "{missing}");
    assert_eq!(missing["message"], "namespaces \"nope\" not found");

    let (code, ns) = server
        .post(
            "/api/v1/namespaces",
            &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}}),
        )
        .await;
    assert_eq!(code, 201, "{ns}");
    assert_eq!(ns["status"]["phase"], "Active");
    assert_eq!(ns["spec"]["finalizers"], json!(["kubernetes"]));
    for i in 0..3 {
        let (code, body) = server
            .post(
                "/api/v1/namespaces/team/configmaps",
                &configmap(&format!("c{i}"), json!({})),
            )
            .await;
        assert_eq!(code, 201, "{body}");
    }
    let (code, secret) = server
        .post("/api/v1/namespaces/team/secrets", &json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "stringData": {"a": "b"}}))
        .await;
    assert_eq!(code, 201, "{secret}");

    let (code, terminating) = server.delete("/api/v1/namespaces/team").await;
    assert_eq!(code, 200, "{terminating}");
    assert_eq!(terminating["status"]["phase"], "Terminating");
    assert!(terminating["metadata"]["deletionTimestamp"].is_string());

    let mut gone = false;
    for _ in 0..100 {
        let (code, body) = server.get("/api/v1/namespaces/team").await;
        if code == 404 {
            gone = true;
            break;
        }
        if body["status"]["phase"] == "Terminating" {
            let (code, refused) = server
                .post(
                    "/api/v1/namespaces/team/configmaps",
                    &configmap("late", json!({})),
                )
                .await;
            if code != 404 {
                assert_eq!(code, 403, "{refused}");
                assert!(
                    refused["message"]
                        .as_str()
                        .unwrap()
                        .contains("because it is being terminated"),
                    "{refused}"
                );
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(gone, "the namespace was never removed");
    let (_, left) = server.get("/api/v1/namespaces/team/configmaps").await;
    assert_eq!(names(&left), Vec::<String>::new());
    let (_, left) = server.get("/api/v1/namespaces/team/secrets").await;
    assert_eq!(names(&left), Vec::<String>::new());

    let (code, refused) = server.delete("/api/v1/namespaces/default").await;
    assert_eq!(code, 403, "{refused}");
}

#[tokio::test]
async fn finalizers_hold_an_object_until_cleared() {
    let server = Server::start().await;
    let base = "/api/v1/namespaces/default/configmaps";
    let mut cm = configmap("held", json!({}));
    cm["metadata"]["finalizers"] = json!(["example.com/hold"]);
    server.post(base, &cm).await;
    let (code, marked) = server.delete(&format!("{base}/held")).await;
    assert_eq!(code, 200);
    assert!(
        marked["metadata"]["deletionTimestamp"].is_string(),
        "{marked}"
    );
    let (code, still) = server.get(&format!("{base}/held")).await;
    assert_eq!(code, 200);
    let mut cleared = still.clone();
    cleared["metadata"]["finalizers"] = json!([]);
    let (code, body) = server.put(&format!("{base}/held"), &cleared).await;
    assert_eq!(code, 200, "{body}");
    let (code, _) = server.get(&format!("{base}/held")).await;
    assert_eq!(code, 404, "clearing the last finalizer deletes the object");

    // Preconditions.
    server.post(base, &configmap("pre", json!({}))).await;
    let (code, body, _) = server
        .request(
            "DELETE",
            &format!("{base}/pre"),
            Some(&json!({"preconditions": {"uid": "not-the-uid"}})),
        )
        .await;
    assert_eq!(code, 409, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("Precondition failed: UID in precondition: not-the-uid"),
        "{body}"
    );
}

#[tokio::test]
async fn watch_sees_changes_in_order_with_selectors_bookmarks_and_timeouts() {
    let server = Server::start().await;
    let base = "/api/v1/namespaces/default/configmaps";
    server
        .post(base, &configmap("before", json!({"w": "1"})))
        .await;
    let (_, list) = server.get(base).await;
    let rv = list["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();

    let mut from_rv = server
        .watch(&format!("{base}?watch=true&resourceVersion={rv}"))
        .await;
    let mut selected = server
        .watch(&format!("{base}?watch=1&labelSelector=w%3D1"))
        .await;
    let first = selected.next().await;
    assert_eq!(first["type"], "ADDED", "no RV: the existing object first");
    assert_eq!(first["object"]["metadata"]["name"], "before");

    let (_, created) = server.post(base, &configmap("w1", json!({"w": "1"}))).await;
    let mut changed = created.clone();
    changed["metadata"]["labels"] = json!({"w": "2"});
    server.put(&format!("{base}/w1"), &changed).await;
    server.delete(&format!("{base}/w1")).await;

    let events: Vec<(String, String)> = {
        let mut out = Vec::new();
        for _ in 0..3 {
            let e = from_rv.next().await;
            out.push((
                e["type"].as_str().unwrap().to_string(),
                e["object"]["metadata"]["name"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            ));
        }
        out
    };
    assert_eq!(
        events,
        [
            ("ADDED".into(), "w1".into()),
            ("MODIFIED".into(), "w1".into()),
            ("DELETED".into(), "w1".into())
        ]
    );
    // Through the selector, the relabel is the object leaving.
    assert_eq!(selected.next().await["type"], "ADDED");
    assert_eq!(selected.next().await["type"], "DELETED");

    // timeoutSeconds ends the stream, with a bookmark before it when asked.
    let mut short = server
        .watch(&format!(
            "{base}?watch=1&resourceVersion={rv}&allowWatchBookmarks=true&timeoutSeconds=3"
        ))
        .await;
    let mut kinds = Vec::new();
    while let Some(event) = short.next_within(Duration::from_secs(10)).await {
        kinds.push(event["type"].as_str().unwrap().to_string());
        if event["type"] == "BOOKMARK" {
            assert!(
                event["object"]["metadata"]["resourceVersion"].is_string(),
                "{event}"
            );
        }
    }
    assert_eq!(
        kinds.last().map(String::as_str),
        Some("BOOKMARK"),
        "{kinds:?}"
    );
}

#[tokio::test]
async fn watch_from_an_expired_revision_gets_410_in_the_stream() {
    let mut server = Server::start().await;
    let base = "/api/v1/namespaces/default/configmaps";
    let (_, cm) = server.post(base, &configmap("old", json!({}))).await;
    let old_rv = cm["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    server.post(base, &configmap("newer", json!({}))).await;
    // The embedded store's event history lives in memory: after a restart,
    // older revisions are gone, as after an etcd compaction (which the
    // helper runs on etcd, where history survives the restart).
    server.kill9();
    server.spawn().await;
    server.compact_storage().await;
    let (code, got) = server.get(&format!("{base}/old")).await;
    assert_eq!(code, 200, "data survives the restart: {got}");
    let mut watch = server
        .watch(&format!("{base}?watch=true&resourceVersion={old_rv}"))
        .await;
    let event = watch.next().await;
    assert_eq!(event["type"], "ERROR", "{event}");
    assert_eq!(event["object"]["code"], 410);
    assert_eq!(event["object"]["reason"], "Expired");
    assert!(
        event["object"]["message"]
            .as_str()
            .unwrap()
            .starts_with("too old resource version: "),
        "{event}"
    );
}

#[tokio::test]
async fn services_get_cluster_ips_and_node_ports_that_survive_restarts() {
    let mut server = Server::start_with(&[
        "--service-cluster-ip-range=10.96.0.0/28",
        "--service-node-port-range=30000-30009",
    ])
    .await;
    let base = "/api/v1/namespaces/default/services";
    let (code, kubernetes) = server.get(&format!("{base}/kubernetes")).await;
    assert_eq!(code, 200, "{kubernetes}");
    assert_eq!(kubernetes["spec"]["clusterIP"], "10.96.0.1");
    let (code, endpoints) = server
        .get("/api/v1/namespaces/default/endpoints/kubernetes")
        .await;
    assert_eq!(code, 200, "{endpoints}");
    assert_eq!(endpoints["subsets"][0]["addresses"][0]["ip"], "127.0.0.1");
    assert_eq!(endpoints["subsets"][0]["ports"][0]["port"], server.port);

    let svc = |name: &str, spec: Value| json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec});
    let (code, web) = server
        .post(
            base,
            &svc(
                "web",
                json!({"selector": {"app": "web"}, "ports": [{"port": 80}]}),
            ),
        )
        .await;
    assert_eq!(code, 201, "{web}");
    let ip = web["spec"]["clusterIP"].as_str().unwrap().to_string();
    assert!(ip.starts_with("10.96.0.") && ip != "10.96.0.1", "{ip}");
    assert_eq!(web["spec"]["ports"][0]["targetPort"], 80);
    assert_eq!(web["spec"]["type"], "ClusterIP");

    let (code, fixed) = server
        .post(
            base,
            &svc(
                "fixed",
                json!({"clusterIP": "10.96.0.9", "ports": [{"port": 80}]}),
            ),
        )
        .await;
    assert_eq!(code, 201, "{fixed}");
    let (code, taken) = server
        .post(
            base,
            &svc(
                "taken",
                json!({"clusterIP": "10.96.0.9", "ports": [{"port": 80}]}),
            ),
        )
        .await;
    assert_eq!(code, 422, "{taken}");
    let (code, outside) = server
        .post(
            base,
            &svc(
                "outside",
                json!({"clusterIP": "10.1.0.9", "ports": [{"port": 80}]}),
            ),
        )
        .await;
    assert_eq!(code, 422, "{outside}");

    let (code, np) = server
        .post(base, &svc("np", json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": 30005}, {"name": "b", "port": 81}]})))
        .await;
    assert_eq!(code, 422, "two ports need names: {np}");
    let (code, np) = server
        .post(base, &svc("np", json!({"type": "NodePort", "ports": [{"name": "a", "port": 80, "nodePort": 30005}, {"name": "b", "port": 81}]})))
        .await;
    assert_eq!(code, 201, "{np}");
    let second = np["spec"]["ports"][1]["nodePort"].as_i64().unwrap();
    assert!(
        (30000..=30009).contains(&second) && second != 30005,
        "{second}"
    );
    let (code, clash) = server
        .post(
            base,
            &svc(
                "clash",
                json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": 30005}]}),
            ),
        )
        .await;
    assert_eq!(code, 422, "{clash}");
    let (code, range) = server
        .post(
            base,
            &svc(
                "range",
                json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": 31000}]}),
            ),
        )
        .await;
    assert_eq!(code, 422, "{range}");

    // After a restart the allocations are still known.
    server.kill9();
    server.spawn().await;
    let (code, taken) = server
        .post(
            base,
            &svc(
                "taken",
                json!({"clusterIP": "10.96.0.9", "ports": [{"port": 80}]}),
            ),
        )
        .await;
    assert_eq!(code, 422, "{taken}");
    let (code, clash) = server
        .post(
            base,
            &svc(
                "clash",
                json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": 30005}]}),
            ),
        )
        .await;
    assert_eq!(code, 422, "{clash}");

    // Deleting releases.
    let (code, _) = server.delete(&format!("{base}/fixed")).await;
    assert_eq!(code, 200);
    let (code, reused) = server
        .post(
            base,
            &svc(
                "reused",
                json!({"clusterIP": "10.96.0.9", "ports": [{"port": 80}]}),
            ),
        )
        .await;
    assert_eq!(code, 201, "{reused}");
}

#[tokio::test]
async fn an_ipv6_service_range_gives_the_kubernetes_service_its_first_address() {
    let server = Server::start_with(&[
        "--service-cluster-ip-range=fd00:10::/108",
        "--advertise-address=::1",
    ])
    .await;
    let base = "/api/v1/namespaces/default/services";
    let (code, kubernetes) = server.get(&format!("{base}/kubernetes")).await;
    assert_eq!(code, 200, "{kubernetes}");
    assert_eq!(kubernetes["spec"]["clusterIP"], "fd00:10::1");
    assert_eq!(kubernetes["spec"]["ipFamilies"], json!(["IPv6"]));
    let (code, endpoints) = server
        .get("/api/v1/namespaces/default/endpoints/kubernetes")
        .await;
    assert_eq!(code, 200, "{endpoints}");
    assert_eq!(endpoints["subsets"][0]["addresses"][0]["ip"], "::1");

    let (code, web) = server
        .post(
            base,
            &json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                    "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}}),
        )
        .await;
    assert_eq!(code, 201, "{web}");
    let ip: std::net::Ipv6Addr = web["spec"]["clusterIP"].as_str().unwrap().parse().unwrap();
    let range: ipnet::Ipv6Net = "fd00:10::/108".parse().unwrap();
    assert!(range.contains(&ip), "{ip}");
    assert_ne!(
        ip,
        range.network(),
        "the network address is never handed out"
    );
    assert_ne!(
        ip.to_string(),
        "fd00:10::1",
        "the kubernetes service holds it"
    );
}

#[tokio::test]
async fn deployments_generation_and_status_subresource() {
    let server = Server::start().await;
    let base = "/apis/apps/v1/namespaces/default/deployments";
    let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx:1"}]}}}});
    let (code, created) = server.post(base, &deployment).await;
    assert_eq!(code, 201, "{created}");
    assert_eq!(created["metadata"]["generation"], 1);
    assert_eq!(created["spec"]["replicas"], 1);
    assert_eq!(created["spec"]["strategy"]["type"], "RollingUpdate");

    let mut scaled = created.clone();
    scaled["spec"]["replicas"] = json!(3);
    let (_, scaled) = server.put(&format!("{base}/web"), &scaled).await;
    assert_eq!(scaled["metadata"]["generation"], 2);
    let mut labelled = scaled.clone();
    labelled["metadata"]["labels"] = json!({"x": "y"});
    let (_, labelled) = server.put(&format!("{base}/web"), &labelled).await;
    assert_eq!(
        labelled["metadata"]["generation"], 2,
        "metadata changes keep the generation"
    );

    // Status through the main resource is ignored; /status changes only it.
    let mut with_status = labelled.clone();
    with_status["status"] = json!({"replicas": 3, "readyReplicas": 3});
    with_status["spec"]["replicas"] = json!(5);
    let (code, via_status) = server
        .put(&format!("{base}/web/status"), &with_status)
        .await;
    assert_eq!(code, 200, "{via_status}");
    assert_eq!(via_status["status"]["readyReplicas"], 3);
    assert_eq!(
        via_status["spec"]["replicas"], 3,
        "spec is not changed through /status"
    );

    let mut mismatched = deployment.clone();
    mismatched["metadata"]["name"] = json!("bad");
    mismatched["spec"]["template"]["metadata"]["labels"] = json!({"app": "other"});
    let (code, invalid) = server.post(base, &mismatched).await;
    assert_eq!(code, 422, "{invalid}");
    assert!(
        invalid["message"]
            .as_str()
            .unwrap()
            .contains("spec.template.metadata.labels"),
        "{invalid}"
    );

    let (code, list) = server.get("/apis/apps/v1/deployments").await;
    assert_eq!(code, 200);
    assert_eq!(names(&list), ["web"]);
}

#[tokio::test]
async fn discovery_lists_every_resource() {
    let server = Server::start().await;
    let (code, api) = server.get("/api").await;
    assert_eq!(code, 200, "{api}");
    assert_eq!(api["versions"], json!(["v1"]));
    let (_, core) = server.get("/api/v1").await;
    let resources: BTreeSet<&str> = core["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    for r in [
        "namespaces",
        "pods",
        "pods/status",
        "services",
        "endpoints",
        "replicationcontrollers",
        "configmaps",
        "secrets",
        "events",
        "serviceaccounts",
        "nodes",
    ] {
        assert!(resources.contains(r), "{r} missing from /api/v1");
    }
    let (_, apps) = server.get("/apis/apps/v1").await;
    let resources: BTreeSet<&str> = apps["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    for r in ["deployments", "replicasets", "statefulsets", "daemonsets"] {
        assert!(resources.contains(r), "{r} missing from /apis/apps/v1");
    }
    let (code, unknown) = server.get("/apis/nope/v1/things").await;
    assert_eq!(code, 404, "{unknown}");
}

#[tokio::test]
async fn endpoint_reconciler_types_none_and_master_count() {
    let endpoints = "/api/v1/namespaces/default/endpoints/kubernetes";
    let none = Server::start_with(&["--endpoint-reconciler-type=none"]).await;
    let (code, _) = none.get(endpoints).await;
    assert_eq!(code, 404, "none leaves the endpoints alone");
    let (code, service) = none
        .get("/api/v1/namespaces/default/services/kubernetes")
        .await;
    assert_eq!(code, 200, "the service exists either way: {service}");

    let counted = Server::start_with(&[
        "--endpoint-reconciler-type=master-count",
        "--apiserver-count=2",
        "--advertise-address=127.0.0.7",
    ])
    .await;
    let (code, got) = counted.get(endpoints).await;
    assert_eq!(code, 200, "{got}");
    assert_eq!(got["subsets"][0]["addresses"], json!([{"ip": "127.0.0.7"}]));
    assert_eq!(got["subsets"][0]["ports"][0]["port"], counted.port);
}

/// Polls `path` until it answers `code`, for what in-process controllers
/// do a moment after a write.
async fn eventually(server: &Server, path: &str, code: u16) -> Value {
    let mut last = (0, Value::Null);
    for _ in 0..250 {
        last = server.get(path).await;
        if last.0 == code {
            return last.1;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("GET {path}: {} {}, not {code}", last.0, last.1);
}

#[tokio::test]
async fn every_namespace_gets_a_default_service_account_back() {
    let server = Server::start().await;
    eventually(
        &server,
        "/api/v1/namespaces/kube-system/serviceaccounts/default",
        200,
    )
    .await;
    let (code, _) = server
        .post(
            "/api/v1/namespaces",
            &json!({"metadata": {"name": "fresh"}}),
        )
        .await;
    assert_eq!(code, 201);
    let path = "/api/v1/namespaces/fresh/serviceaccounts/default";
    let first = eventually(&server, path, 200).await;
    // Deleted, it comes back (a new object).
    let (code, _) = server.delete(path).await;
    assert_eq!(code, 200);
    let again = eventually(&server, path, 200).await;
    assert_ne!(first["metadata"]["uid"], again["metadata"]["uid"]);
    // A namespace being deleted does not get one back.
    let (code, _) = server.delete("/api/v1/namespaces/fresh").await;
    assert_eq!(code, 200);
    eventually(&server, "/api/v1/namespaces/fresh", 404).await;
    eventually(&server, path, 404).await;
}

#[tokio::test]
async fn a_list_longer_than_a_storage_page_is_streamed_whole_at_one_revision() {
    use futures_util::StreamExt;
    use http_body_util::BodyExt;
    // Past one storage page (1,000 items): the answer is sent in chunks.
    const COUNT: usize = 1_005;
    let server = Server::start().await;
    let base = "/api/v1/namespaces/default/configmaps";
    futures_util::stream::iter(0..COUNT)
        .map(|index| {
            let server = &server;
            async move {
                let name = format!("cm-{index:04}");
                let (code, body) = server.post(base, &configmap(&name, json!({}))).await;
                assert_eq!(code, 201, "{body}");
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<()>>()
        .await;

    let response = server
        .send_with(
            "GET",
            base,
            None,
            "application/json",
            Some(support::TOKEN),
            &[],
        )
        .await
        .expect("the list");
    assert_eq!(response.status(), 200);
    assert!(
        response.headers().get("content-length").is_none(),
        "a list this long is streamed, not sized up front"
    );
    let body = response
        .into_body()
        .collect()
        .await
        .expect("the whole list");
    let list: Value = serde_json::from_slice(&body.to_bytes()).expect("one JSON list");
    assert_eq!(list["kind"], "ConfigMapList");
    let revision: u64 = list["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|rv| rv.parse().ok())
        .expect("the list's resourceVersion");
    let ours: Vec<String> = names(&list)
        .into_iter()
        .filter(|name| name.starts_with("cm-"))
        .collect();
    let expected: Vec<String> = (0..COUNT).map(|index| format!("cm-{index:04}")).collect();
    assert_eq!(ours, expected, "every item once, in key order");
    for item in list["items"].as_array().expect("items") {
        let item_revision: u64 = item["metadata"]["resourceVersion"]
            .as_str()
            .and_then(|rv| rv.parse().ok())
            .expect("each item's resourceVersion");
        assert!(item_revision <= revision, "an item newer than its list");
    }

    // The same items as a client's own pages of 400.
    let mut paged = Vec::new();
    let mut next = String::new();
    loop {
        let (code, page) = server
            .get(&format!("{base}?limit=400&continue={next}"))
            .await;
        assert_eq!(code, 200, "{page}");
        paged.extend(names(&page));
        match page["metadata"]["continue"].as_str() {
            Some(token) if !token.is_empty() => next = token.to_string(),
            _ => break,
        }
    }
    assert_eq!(paged, names(&list));
}

/// `pods/eviction` as `kubectl drain` uses it: a budget the disruption
/// controller has not seen yet, a charged budget, an exhausted one (429 with
/// upstream's cause), an unready pod the budget can spare, a pending pod, a
/// dry run, and two budgets for one pod (500).
#[tokio::test]
async fn evictions_honour_the_pods_disruption_budget() {
    let server = Server::start().await;
    let pods = "/api/v1/namespaces/default/pods";
    let budgets = "/apis/policy/v1/namespaces/default/poddisruptionbudgets";
    let make_pod = |name: &str| {
        json!({"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": name, "labels": {"app": "web"}},
               "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"}]}})
    };
    // A pod as a kubelet reports it: running, ready or not.
    let run = |name: &'static str, ready: bool| {
        let server = &server;
        async move {
            let (code, mut pod) = server.get(&format!("{pods}/{name}")).await;
            assert_eq!(code, 200, "{pod}");
            pod["status"] = json!({"phase": "Running", "conditions": [
                {"type": "Ready", "status": if ready { "True" } else { "False" }}]});
            let (code, updated) = server.put(&format!("{pods}/{name}/status"), &pod).await;
            assert_eq!(code, 200, "{updated}");
        }
    };
    let evict = |name: &'static str, query: &'static str| {
        let server = &server;
        async move {
            let eviction = json!({"apiVersion": "policy/v1", "kind": "Eviction",
                                  "metadata": {"name": name, "namespace": "default"}});
            server
                .post(&format!("{pods}/{name}/eviction{query}"), &eviction)
                .await
        }
    };
    for name in ["web-1", "web-2", "web-3"] {
        let (code, created) = server.post(pods, &make_pod(name)).await;
        assert_eq!(code, 201, "{created}");
    }
    run("web-1", true).await;
    run("web-2", true).await;
    let budget = json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                        "metadata": {"name": "web"},
                        "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}}});
    let (code, created) = server.post(budgets, &budget).await;
    assert_eq!(code, 201, "{created}");

    let (code, waiting) = evict("web-1", "").await;
    assert_eq!(code, 429, "{waiting}");
    assert_eq!(
        waiting["details"]["causes"][0]["message"],
        "The disruption budget web is still being processed by the server."
    );
    assert_eq!(waiting["details"]["retryAfterSeconds"], 10);

    // What the disruption controller would write.
    let (_, mut observed) = server.get(&format!("{budgets}/web")).await;
    observed["status"] = json!({"observedGeneration": 1, "disruptionsAllowed": 1,
                                "currentHealthy": 2, "desiredHealthy": 1, "expectedPods": 2});
    let (code, written) = server
        .put(&format!("{budgets}/web/status"), &observed)
        .await;
    assert_eq!(code, 200, "{written}");

    let (code, dry) = evict("web-1", "?dryRun=All").await;
    assert_eq!(code, 201, "{dry}");
    assert_eq!(server.get(&format!("{pods}/web-1")).await.0, 200);
    let (_, unchanged) = server.get(&format!("{budgets}/web")).await;
    assert_eq!(unchanged["status"]["disruptionsAllowed"], 1, "{unchanged}");

    let (code, evicted) = evict("web-1", "").await;
    assert_eq!(code, 201, "{evicted}");
    assert_eq!(evicted["status"], "Success");
    assert_eq!(server.get(&format!("{pods}/web-1")).await.0, 404);
    let (_, charged) = server.get(&format!("{budgets}/web")).await;
    assert_eq!(charged["status"]["disruptionsAllowed"], 0, "{charged}");
    assert!(
        charged["status"]["disruptedPods"]["web-1"].is_string(),
        "{charged}"
    );
    assert_eq!(
        charged["status"]["conditions"][0]["reason"], "InsufficientPods",
        "{charged}"
    );

    let (code, refused) = evict("web-2", "").await;
    assert_eq!(code, 429, "{refused}");
    assert_eq!(
        refused["message"],
        "Cannot evict pod as it would violate the pod's disruption budget."
    );
    assert_eq!(
        refused["details"]["causes"][0]["reason"],
        "DisruptionBudget"
    );
    assert_eq!(
        refused["details"]["causes"][0]["message"],
        "The disruption budget web needs 1 healthy pods and has 2 currently"
    );
    assert_eq!(server.get(&format!("{pods}/web-2")).await.0, 200);

    // Unready, and the budget has the healthy pods it needs: no charge.
    run("web-2", false).await;
    let (code, spared) = evict("web-2", "").await;
    assert_eq!(code, 201, "{spared}");
    assert_eq!(server.get(&format!("{pods}/web-2")).await.0, 404);

    // Pending: not running yet, no budget consulted.
    let (code, pending) = evict("web-3", "").await;
    assert_eq!(code, 201, "{pending}");
    assert_eq!(server.get(&format!("{pods}/web-3")).await.0, 404);

    let (code, created) = server.post(pods, &make_pod("web-4")).await;
    assert_eq!(code, 201, "{created}");
    run("web-4", true).await;
    let mut second = budget.clone();
    second["metadata"]["name"] = "web-too".into();
    let (code, created) = server.post(budgets, &second).await;
    assert_eq!(code, 201, "{created}");
    let (code, ambiguous) = evict("web-4", "").await;
    assert_eq!(code, 500, "{ambiguous}");
    assert_eq!(
        ambiguous["message"],
        "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."
    );
}

#[tokio::test]
async fn a_scheduler_binds_a_pod_once_through_pods_binding() {
    let server = Server::start().await;
    let pods = "/api/v1/namespaces/default/pods";
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
                     "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"}]}});
    let (code, created) = server.post(pods, &pod).await;
    assert_eq!(code, 201, "{created}");
    let binding = |node: &str| {
        json!({"apiVersion": "v1", "kind": "Binding",
               "metadata": {"name": "web", "annotations": {"scheduled-by": "test"}},
               "target": {"apiVersion": "v1", "kind": "Node", "name": node}})
    };
    let path = format!("{pods}/web/binding");
    let (code, answer) = server.post(&path, &binding("node-1")).await;
    assert_eq!(code, 201, "{answer}");
    assert_eq!(answer["kind"], "Status");
    assert_eq!(answer["status"], "Success");
    let (_, bound) = server.get(&format!("{pods}/web")).await;
    assert_eq!(bound["spec"]["nodeName"], "node-1");
    assert_eq!(bound["metadata"]["annotations"]["scheduled-by"], "test");
    let scheduled: Vec<&Value> = bound["status"]["conditions"]
        .as_array()
        .expect("conditions")
        .iter()
        .filter(|c| c["type"] == "PodScheduled")
        .collect();
    assert_eq!(scheduled.len(), 1, "{bound}");
    assert_eq!(scheduled[0]["status"], "True");

    let (code, again) = server.post(&path, &binding("node-2")).await;
    assert_eq!(code, 409, "{again}");
    assert_eq!(
        again["message"],
        "Operation cannot be fulfilled on pods/binding \"web\": pod web is already assigned to node \"node-1\""
    );
    let (code, nameless) = server.post(&path, &binding("")).await;
    assert_eq!(code, 422, "{nameless}");
    let mut other = binding("node-3");
    other["metadata"]["name"] = "db".into();
    let (code, mismatch) = server.post(&path, &other).await;
    assert_eq!(code, 400, "{mismatch}");
    let (code, missing) = server
        .post(&format!("{pods}/nobody/binding"), &{
            let mut b = binding("node-1");
            b["metadata"]["name"] = "nobody".into();
            b
        })
        .await;
    assert_eq!(code, 404, "{missing}");
}

#[tokio::test]
async fn events_k8s_io_v1_shares_the_core_events() {
    let server = Server::start().await;
    let new_style = "/apis/events.k8s.io/v1/namespaces/default/events";
    let event = json!({
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"name": "web.pulled"},
        "eventTime": "2026-01-02T03:04:05.000000Z",
        "regarding": {"kind": "Pod", "name": "web", "namespace": "default"},
        "note": "pulled the image",
        "reason": "Pulled",
        "type": "Normal",
        "action": "Pull",
        "reportingController": "example.com/puller",
        "reportingInstance": "puller-1",
    });
    let (code, created) = server.post(new_style, &event).await;
    assert_eq!(code, 201, "{created}");
    assert_eq!(created["apiVersion"], "events.k8s.io/v1");
    assert_eq!(created["note"], "pulled the image");

    // The same object through core/v1, its fields under their core names.
    let (code, core) = server
        .get("/api/v1/namespaces/default/events/web.pulled")
        .await;
    assert_eq!(code, 200, "{core}");
    assert_eq!(core["apiVersion"], "v1");
    assert_eq!(core["message"], "pulled the image");
    assert_eq!(core["involvedObject"]["name"], "web");
    assert_eq!(core["reportingComponent"], "example.com/puller");
    assert_eq!(
        core["metadata"]["resourceVersion"],
        created["metadata"]["resourceVersion"]
    );

    // A core event through events.k8s.io/v1, with a field selector on its
    // new-style names.
    let (code, _) = server
        .post(
            "/api/v1/namespaces/default/events",
            &json!({"metadata": {"name": "db.started"},
                    "involvedObject": {"kind": "Pod", "name": "db", "namespace": "default"},
                    "reason": "Started", "message": "started", "type": "Normal",
                    "count": 2, "source": {"component": "kubelet"}}),
        )
        .await;
    assert_eq!(code, 201);
    let (_, list) = server
        .get(&format!("{new_style}?fieldSelector=regarding.name%3Ddb"))
        .await;
    assert_eq!(list["kind"], "EventList");
    assert_eq!(list["apiVersion"], "events.k8s.io/v1");
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{list}");
    assert_eq!(items[0]["deprecatedCount"], 2);
    assert_eq!(items[0]["deprecatedSource"]["component"], "kubelet");
    assert_eq!(items[0]["note"], "started");

    // The strict rules of the new API on create.
    let mut old_style = event.clone();
    old_style["metadata"]["name"] = json!("bad");
    old_style["deprecatedCount"] = json!(3);
    old_style.as_object_mut().unwrap().remove("eventTime");
    let (code, status) = server.post(new_style, &old_style).await;
    assert_eq!(code, 422, "{status}");
    let message = status["message"].as_str().unwrap();
    assert!(
        message.contains("eventTime: Required value")
            && message.contains("count: Invalid value: \"\": needs to be unset"),
        "{message}"
    );
}
