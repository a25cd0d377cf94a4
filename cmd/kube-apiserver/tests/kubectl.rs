//! The real `/usr/bin/kubectl` (v1.32) against our server, each test with
//! its own kubeconfig (CA + bearer token) and a fresh `--cache-dir`:
//! discovery, get, create/delete from files, watches, namespace deletion.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::json;

use support::{Server, failed, file, kubectl, ok};

const POD: &str = "apiVersion: v1
kind: Pod
metadata:
  name: web
  labels:
    app: web
spec:
  containers:
  - name: nginx
    image: nginx:1.27
";

#[tokio::test]
async fn api_resources_and_get() {
    let server = Server::start().await;
    let resources = ok(kubectl(&server, &["api-resources"]));
    for expected in [
        "pods",
        "po",
        "services",
        "svc",
        "deployments",
        "deploy",
        "namespaces",
        "apps/v1",
        "configmaps",
        "events",
        "nodes",
        "statefulsets",
        "daemonsets",
        "replicasets",
    ] {
        assert!(
            resources.contains(expected),
            "{expected} missing:\n{resources}"
        );
    }
    let namespaces = ok(kubectl(&server, &["get", "namespaces"]));
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        assert!(namespaces.contains(ns), "{ns} missing:\n{namespaces}");
    }
    let services = ok(kubectl(&server, &["get", "services", "-n", "default"]));
    assert!(services.contains("kubernetes"), "{services}");
    let empty = kubectl(&server, &["get", "pods"]);
    assert!(empty.status.success());
    assert!(
        String::from_utf8_lossy(&empty.stderr).contains("No resources found in default namespace.")
    );
}

#[tokio::test]
async fn create_and_delete_from_files() {
    let server = Server::start().await;
    let manifest = file(&server, "pod.yaml", POD);
    let path = manifest.to_str().unwrap();
    let created = ok(kubectl(
        &server,
        &["create", "-f", path, "--validate=false"],
    ));
    assert_eq!(created.trim(), "pod/web created");
    let pods = ok(kubectl(&server, &["get", "pods"]));
    assert!(pods.lines().any(|l| l.starts_with("web ")), "{pods}");
    let json_out = ok(kubectl(&server, &["get", "pod", "web", "-o", "json"]));
    let pod: serde_json::Value = serde_json::from_str(&json_out).unwrap();
    assert_eq!(pod["spec"]["containers"][0]["image"], "nginx:1.27");
    assert_eq!(pod["status"]["phase"], "Pending");
    let again = kubectl(&server, &["create", "-f", path, "--validate=false"]);
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("AlreadyExists"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let deleted = ok(kubectl(&server, &["delete", "-f", path]));
    assert_eq!(deleted.trim(), "pod \"web\" deleted");
    let (code, _) = server.get("/api/v1/namespaces/default/pods/web").await;
    assert_eq!(code, 404);
}

#[tokio::test]
async fn get_watch_sees_added_modified_deleted() {
    let server = Server::start().await;
    let mut child = Command::new("kubectl")
        .arg(format!("--kubeconfig={}", server.kubeconfig().display()))
        .arg(format!(
            "--cache-dir={}",
            server.dir.path().join("watch-cache").display()
        ))
        .args([
            "get",
            "configmaps",
            "--watch",
            "--output-watch-events",
            "--no-headers",
        ])
        .env("HOME", server.dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("kubectl get -w");
    let (tx, rx) = mpsc::channel();
    let out = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // Let the watch start before changing anything.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let base = "/api/v1/namespaces/default/configmaps";
    let (code, created) = server
        .post(base, &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "watched"}, "data": {"a": "1"}}))
        .await;
    assert_eq!(code, 201);
    let mut changed = created.clone();
    changed["data"]["a"] = json!("2");
    server.put(&format!("{base}/watched"), &changed).await;
    server.delete(&format!("{base}/watched")).await;

    let mut seen = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while seen.len() < 3 && std::time::Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            // `EVENT NAME AGE` rows: keep the event and the name.
            let words: Vec<&str> = line.split_whitespace().collect();
            seen.push(words.iter().take(2).copied().collect::<Vec<_>>().join(" "));
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(
        seen,
        ["ADDED watched", "MODIFIED watched", "DELETED watched"]
    );
}

#[tokio::test]
async fn delete_namespace_removes_its_contents() {
    let server = Server::start().await;
    let namespace = file(
        &server,
        "ns.yaml",
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team\n",
    );
    ok(kubectl(
        &server,
        &[
            "create",
            "-f",
            namespace.to_str().unwrap(),
            "--validate=false",
        ],
    ));
    let manifest = file(
        &server,
        "cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: team\ndata:\n  a: b\n",
    );
    ok(kubectl(
        &server,
        &[
            "create",
            "-f",
            manifest.to_str().unwrap(),
            "--validate=false",
        ],
    ));
    let pod = file(&server, "pod.yaml", POD);
    ok(kubectl(
        &server,
        &[
            "create",
            "-n",
            "team",
            "-f",
            pod.to_str().unwrap(),
            "--validate=false",
        ],
    ));
    let deleted = ok(kubectl(
        &server,
        &["delete", "namespace", "team", "--timeout=60s"],
    ));
    assert_eq!(deleted.trim(), "namespace \"team\" deleted");
    let (code, _) = server.get("/api/v1/namespaces/team").await;
    assert_eq!(code, 404, "kubectl waits until the namespace is gone");
    let (_, left) = server.get("/api/v1/namespaces/team/configmaps").await;
    assert_eq!(left["items"], json!([]));
    let (_, left) = server.get("/api/v1/namespaces/team/pods").await;
    assert_eq!(left["items"], json!([]));
}

const LEASE: &str = "apiVersion: coordination.k8s.io/v1
kind: Lease
metadata:
  name: my-operator
spec:
  holderIdentity: pod-a_1234
  leaseDurationSeconds: 15
  acquireTime: \"2026-01-02T03:04:05.000000Z\"
  renewTime: \"2026-01-02T03:04:05.000000Z\"
  leaseTransitions: 0
";

#[tokio::test]
async fn leases_for_leader_election() {
    let server = Server::start().await;
    let resources = ok(kubectl(
        &server,
        &["api-resources", "--api-group=coordination.k8s.io"],
    ));
    assert!(
        resources
            .lines()
            .any(|line| line.starts_with("leases ") && line.contains("coordination.k8s.io/v1")),
        "{resources}"
    );
    // Applied with kubectl's schema validation (from the OpenAPI document).
    let manifest = file(&server, "lease.yaml", LEASE);
    let applied = ok(kubectl(
        &server,
        &["apply", "-f", manifest.to_str().unwrap()],
    ));
    assert_eq!(
        applied.trim(),
        "lease.coordination.k8s.io/my-operator created"
    );
    let table = ok(kubectl(&server, &["get", "leases"]));
    let mut lines = table.lines();
    let header: Vec<&str> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(header, ["NAME", "HOLDER", "AGE"], "{table}");
    let row: Vec<&str> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(row[..2], ["my-operator", "pod-a_1234"], "{table}");

    // A takeover as client-go's leader election writes it: the read
    // revision as precondition; the loser's stale write is a conflict.
    let path = "/apis/coordination.k8s.io/v1/namespaces/default/leases/my-operator";
    let (code, mut lease) = server.get(path).await;
    assert_eq!(code, 200, "{lease}");
    let stale = lease.clone();
    lease["spec"]["holderIdentity"] = "pod-b_5678".into();
    lease["spec"]["leaseTransitions"] = 1.into();
    lease["spec"]["renewTime"] = "2026-01-02T03:04:20.123456Z".into();
    let (code, taken) = server.put(path, &lease).await;
    assert_eq!(code, 200, "{taken}");
    assert_eq!(taken["spec"]["holderIdentity"], "pod-b_5678");
    assert_eq!(taken["spec"]["renewTime"], "2026-01-02T03:04:20.123456Z");
    let (code, conflict) = server.put(path, &stale).await;
    assert_eq!(code, 409, "{conflict}");

    let mut invalid = taken.clone();
    invalid["spec"]["leaseDurationSeconds"] = 0.into();
    let (code, refused) = server.put(path, &invalid).await;
    assert_eq!(code, 422, "{refused}");
    assert_eq!(
        refused["message"],
        "Lease.coordination.k8s.io \"my-operator\" is invalid: spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0"
    );
    let deleted = ok(kubectl(&server, &["delete", "lease", "my-operator"]));
    assert_eq!(
        deleted.trim(),
        "lease.coordination.k8s.io \"my-operator\" deleted"
    );
}

/// `kubectl create quota`, upstream's validation messages, the status
/// written only through `/status` (as the quota controller writes it), and
/// `kubectl get quota`'s used/hard columns.
#[tokio::test]
async fn resource_quotas_with_kubectl() {
    let server = Server::start().await;
    let created = ok(kubectl(
        &server,
        &[
            "create",
            "quota",
            "compute",
            "--hard=pods=4,requests.cpu=1,limits.memory=2Gi",
            "--scopes=NotTerminating",
        ],
    ));
    assert_eq!(created.trim(), "resourcequota/compute created");
    // kubectl sends protobuf, with the quantity in its canonical form.
    let refused = kubectl(&server, &["create", "quota", "bad", "--hard=pods=1.5"]);
    let stderr = failed(refused);
    assert!(
        stderr.contains("spec.hard[pods]: Invalid value: \"1500m\": must be an integer"),
        "{stderr}"
    );

    let status = r#"{"status":{"hard":{"pods":"4","requests.cpu":"1","limits.memory":"2Gi"},"used":{"pods":"1","requests.cpu":"500m","limits.memory":"1Gi"}}}"#;
    ok(kubectl(
        &server,
        &[
            "patch",
            "quota",
            "compute",
            "--subresource=status",
            "--type=merge",
            "-p",
            status,
        ],
    ));
    // The main resource changes the spec and keeps the status.
    ok(kubectl(
        &server,
        &[
            "patch",
            "quota",
            "compute",
            "--type=merge",
            "-p",
            r#"{"spec":{"hard":{"pods":"5"}},"status":{"used":{"pods":"3"}}}"#,
        ],
    ));
    let (code, quota) = server
        .get("/api/v1/namespaces/default/resourcequotas/compute")
        .await;
    assert_eq!(code, 200, "{quota}");
    assert_eq!(quota["spec"]["hard"]["pods"], "5");
    assert_eq!(quota["status"]["used"]["pods"], "1");

    let table = ok(kubectl(&server, &["get", "quota"]));
    let rows = table_rows(&table);
    assert_eq!(rows[0], ["NAME", "AGE", "REQUEST", "LIMIT"], "{table}");
    let row = table.lines().nth(1).unwrap_or_default();
    assert!(row.starts_with("compute "), "{table}");
    assert!(
        row.contains("pods: 1/4, requests.cpu: 500m/1") && row.ends_with("limits.memory: 1Gi/2Gi"),
        "{table}"
    );

    let rescoped = kubectl(
        &server,
        &[
            "patch",
            "quota",
            "compute",
            "--type=merge",
            "-p",
            r#"{"spec":{"scopes":["Terminating"]}}"#,
        ],
    );
    let stderr = failed(rescoped);
    assert!(
        stderr.contains("spec.scopes: Invalid value: [\"Terminating\"]: field is immutable"),
        "{stderr}"
    );
}

const LIMIT_RANGE: &str = "apiVersion: v1
kind: LimitRange
metadata:
  name: bounds
spec:
  limits:
  - type: Container
    max:
      cpu: \"2\"
    min:
      memory: 64Mi
  - type: Pod
    max:
      memory: 4Gi
";

/// A limit range applied with kubectl, defaulted as upstream defaults a
/// container item, listed with the default columns, refused with
/// upstream's message when its bounds cross.
#[tokio::test]
async fn limit_ranges_with_kubectl() {
    let server = Server::start().await;
    let manifest = file(&server, "limits.yaml", LIMIT_RANGE);
    let applied = ok(kubectl(
        &server,
        &["apply", "-f", manifest.to_str().unwrap()],
    ));
    assert_eq!(applied.trim(), "limitrange/bounds created");
    let (code, range) = server
        .get("/api/v1/namespaces/default/limitranges/bounds")
        .await;
    assert_eq!(code, 200, "{range}");
    let container = &range["spec"]["limits"][0];
    assert_eq!(container["default"], json!({"cpu": "2"}), "{range}");
    assert_eq!(
        container["defaultRequest"],
        json!({"cpu": "2", "memory": "64Mi"}),
        "{range}"
    );
    assert_eq!(range["spec"]["limits"][1].get("default"), None, "{range}");

    let table = ok(kubectl(&server, &["get", "limits"]));
    let rows = table_rows(&table);
    assert_eq!(rows[0], ["NAME", "CREATED", "AT"], "{table}");
    assert_eq!(rows[1][0], "bounds", "{table}");

    let refused = kubectl(
        &server,
        &[
            "patch",
            "limitrange",
            "bounds",
            "--type=json",
            "-p",
            r#"[{"op":"add","path":"/spec/limits/0/min/cpu","value":"3"}]"#,
        ],
    );
    let stderr = failed(refused);
    assert!(
        stderr.contains(
            "spec.limits[0].min[cpu]: Invalid value: \"3\": min value 3 is greater than max value 2"
        ),
        "{stderr}"
    );
}

/// `kubectl create pdb` (protobuf), its columns, a status written through
/// `/status` as the disruption controller writes it, and upstream's
/// messages for a bound over 100% and for a malformed condition.
#[tokio::test]
async fn pod_disruption_budgets_with_kubectl() {
    let server = Server::start().await;
    let created = ok(kubectl(
        &server,
        &[
            "create",
            "pdb",
            "web",
            "--selector=app=web",
            "--min-available=50%",
        ],
    ));
    assert_eq!(created.trim(), "poddisruptionbudget.policy/web created");
    let refused = kubectl(
        &server,
        &[
            "create",
            "pdb",
            "greedy",
            "--selector=app=web",
            "--max-unavailable=150%",
        ],
    );
    let stderr = failed(refused);
    assert!(
        stderr.contains(
            "spec.maxUnavailable: Invalid value: \"150%\": must not be greater than 100%"
        ),
        "{stderr}"
    );

    let status = r#"{"status":{"disruptionsAllowed":2,"currentHealthy":4,"desiredHealthy":2,"expectedPods":4,"conditions":[{"type":"DisruptionAllowed","status":"True","reason":"SufficientPods","message":"","lastTransitionTime":"2026-01-02T03:04:05Z"}]}}"#;
    ok(kubectl(
        &server,
        &[
            "patch",
            "pdb",
            "web",
            "--subresource=status",
            "--type=merge",
            "-p",
            status,
        ],
    ));
    let table = ok(kubectl(&server, &["get", "pdb"]));
    let rows = table_rows(&table);
    assert_eq!(
        rows[0],
        [
            "NAME",
            "MIN",
            "AVAILABLE",
            "MAX",
            "UNAVAILABLE",
            "ALLOWED",
            "DISRUPTIONS",
            "AGE"
        ],
        "{table}"
    );
    assert_eq!(rows[1][..4], ["web", "50%", "N/A", "2"], "{table}");

    let bad_condition = r#"{"status":{"conditions":[{"type":"DisruptionAllowed","status":"Yes","reason":"SufficientPods","message":"","lastTransitionTime":"2026-01-02T03:04:05Z"}]}}"#;
    let refused = kubectl(
        &server,
        &[
            "patch",
            "pdb",
            "web",
            "--subresource=status",
            "--type=merge",
            "-p",
            bad_condition,
        ],
    );
    let stderr = failed(refused);
    assert!(
        stderr.contains("status.conditions[0].status: Unsupported value: \"Yes\""),
        "{stderr}"
    );
    // A spec change bumps the generation; the status stays.
    ok(kubectl(
        &server,
        &[
            "patch",
            "pdb",
            "web",
            "--type=merge",
            "-p",
            r#"{"spec":{"minAvailable":3}}"#,
        ],
    ));
    let (code, budget) = server
        .get("/apis/policy/v1/namespaces/default/poddisruptionbudgets/web")
        .await;
    assert_eq!(code, 200, "{budget}");
    assert_eq!(budget["metadata"]["generation"], 2, "{budget}");
    assert_eq!(budget["spec"]["minAvailable"], 3, "{budget}");
    assert_eq!(budget["status"]["disruptionsAllowed"], 2, "{budget}");
}

/// `kubectl drain`: the node cordoned, its pod evicted through
/// `pods/eviction` (a protobuf `Eviction`), the node drained.
#[tokio::test]
async fn kubectl_drain_evicts_a_nodes_pods() {
    let server = Server::start().await;
    let (code, node) = server
        .post(
            "/api/v1/nodes",
            &json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}}),
        )
        .await;
    assert_eq!(code, 201, "{node}");
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
                     "spec": {"nodeName": "n1",
                              "containers": [{"name": "nginx", "image": "nginx:1.27"}]}});
    let (code, mut created) = server.post("/api/v1/namespaces/default/pods", &pod).await;
    assert_eq!(code, 201, "{created}");
    created["status"] = json!({"phase": "Running",
                               "conditions": [{"type": "Ready", "status": "True"}]});
    let (code, running) = server
        .put("/api/v1/namespaces/default/pods/web/status", &created)
        .await;
    assert_eq!(code, 200, "{running}");

    let drained = ok(kubectl(
        &server,
        &[
            "drain",
            "n1",
            "--force",
            "--grace-period=0",
            "--timeout=30s",
        ],
    ));
    for line in ["node/n1 cordoned", "pod/web evicted", "node/n1 drained"] {
        assert!(drained.contains(line), "{line:?} missing from {drained}");
    }
    let (_, node) = server.get("/api/v1/nodes/n1").await;
    assert_eq!(node["spec"]["unschedulable"], true, "{node}");
    assert_eq!(
        server.get("/api/v1/namespaces/default/pods/web").await.0,
        404
    );
}

/// `kubectl create job` (protobuf): defaults and the generated selector,
/// `kubectl get jobs` before and after a status a job controller would
/// write, a template that may not change, and pods that must not restart
/// `Always`.
#[tokio::test]
async fn jobs_with_kubectl() {
    let server = Server::start().await;
    let created = ok(kubectl(
        &server,
        &[
            "create",
            "job",
            "pi",
            "--image=perl:5.34",
            "--",
            "perl",
            "-e",
            "print 3.14",
        ],
    ));
    assert_eq!(created.trim(), "job.batch/pi created");
    let path = "/apis/batch/v1/namespaces/default/jobs/pi";
    let (code, job) = server.get(path).await;
    assert_eq!(code, 200, "{job}");
    let uid = job["metadata"]["uid"].as_str().expect("uid").to_owned();
    assert_eq!(job["spec"]["backoffLimit"], 6, "{job}");
    assert_eq!(job["spec"]["completionMode"], "NonIndexed", "{job}");
    assert_eq!(
        job["spec"]["selector"]["matchLabels"]["batch.kubernetes.io/controller-uid"],
        uid.as_str()
    );
    let labels = &job["spec"]["template"]["metadata"]["labels"];
    assert_eq!(labels["batch.kubernetes.io/job-name"], "pi", "{job}");
    assert_eq!(labels["controller-uid"], uid.as_str(), "{job}");
    assert_eq!(job["metadata"]["labels"], *labels, "{job}");

    let table = ok(kubectl(&server, &["get", "jobs"]));
    let rows = table_rows(&table);
    assert_eq!(
        rows[0],
        ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"],
        "{table}"
    );
    assert_eq!(rows[1][..3], ["pi", "Running", "0/1"], "{table}");

    let mut finished = job.clone();
    finished["status"] = json!({"succeeded": 1,
        "startTime": "2026-01-02T03:04:05Z", "completionTime": "2026-01-02T03:04:15Z",
        "conditions": [{"type": "Complete", "status": "True"}]});
    let (code, written) = server.put(&format!("{path}/status"), &finished).await;
    assert_eq!(code, 200, "{written}");
    let table = ok(kubectl(&server, &["get", "jobs"]));
    assert_eq!(
        table_rows(&table)[1][..4],
        ["pi", "Complete", "1/1", "10s"],
        "{table}"
    );

    let changed = kubectl(&server, &["set", "image", "job/pi", "pi=perl:5.36"]);
    let stderr = failed(changed);
    assert!(
        stderr.contains("spec.template: Invalid value: ") && stderr.contains("field is immutable"),
        "{stderr}"
    );

    let manifest = file(
        &server,
        "job.yaml",
        "apiVersion: batch/v1
kind: Job
metadata:
  name: forever
spec:
  template:
    spec:
      restartPolicy: Always
      containers:
      - name: work
        image: busybox:1.36
",
    );
    let refused = kubectl(&server, &["apply", "-f", manifest.to_str().unwrap()]);
    let stderr = failed(refused);
    assert!(
        stderr.contains(
            "spec.template.spec.restartPolicy: Unsupported value: \"Always\": supported values: \"OnFailure\", \"Never\""
        ),
        "{stderr}"
    );
}

/// `kubectl create cronjob` (protobuf), its defaults and columns, and a
/// schedule robfig/cron would not parse, with its message.
#[tokio::test]
async fn cron_jobs_with_kubectl() {
    let server = Server::start().await;
    let created = ok(kubectl(
        &server,
        &[
            "create",
            "cronjob",
            "hello",
            "--image=busybox:1.36",
            "--schedule=*/5 * * * *",
            "--",
            "echo",
            "hi",
        ],
    ));
    assert_eq!(created.trim(), "cronjob.batch/hello created");
    let (code, cron_job) = server
        .get("/apis/batch/v1/namespaces/default/cronjobs/hello")
        .await;
    assert_eq!(code, 200, "{cron_job}");
    assert_eq!(cron_job["spec"]["concurrencyPolicy"], "Allow", "{cron_job}");
    assert_eq!(
        cron_job["spec"]["successfulJobsHistoryLimit"], 3,
        "{cron_job}"
    );

    let table = ok(kubectl(&server, &["get", "cronjobs"]));
    let rows = table_rows(&table);
    assert_eq!(
        rows[0],
        [
            "NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST", "SCHEDULE", "AGE"
        ],
        "{table}"
    );
    assert_eq!(
        rows[1][..10],
        [
            "hello", "*/5", "*", "*", "*", "*", "<none>", "False", "0", "<none>"
        ],
        "{table}"
    );

    let refused = kubectl(
        &server,
        &[
            "create",
            "cronjob",
            "late",
            "--image=busybox:1.36",
            "--schedule=61 * * * *",
        ],
    );
    let stderr = failed(refused);
    assert!(
        stderr.contains(
            "spec.schedule: Invalid value: \"61 * * * *\": end of range (61) above maximum (59): 61"
        ),
        "{stderr}"
    );
}

/// A volume and a claim applied with kubectl; the claim bound the way a
/// volume controller binds it (status, then the volume name), grown, and
/// refused when it shrinks below its capacity; `kubectl get pv` and `pvc`;
/// a volume's source fixed after create.
#[tokio::test]
async fn persistent_volumes_and_claims_with_kubectl() {
    let server = Server::start().await;
    let volume = file(
        &server,
        "volume.yaml",
        "apiVersion: v1
kind: PersistentVolume
metadata:
  name: pv-1
spec:
  accessModes: [ReadWriteOnce]
  capacity:
    storage: 1Gi
  storageClassName: standard
  hostPath:
    path: /data/pv-1
",
    );
    let applied = ok(kubectl(&server, &["apply", "-f", volume.to_str().unwrap()]));
    assert_eq!(applied.trim(), "persistentvolume/pv-1 created");
    let table = ok(kubectl(&server, &["get", "pv"]));
    let rows = table_rows(&table);
    assert_eq!(
        rows[0],
        [
            "NAME",
            "CAPACITY",
            "ACCESS",
            "MODES",
            "RECLAIM",
            "POLICY",
            "STATUS",
            "CLAIM",
            "STORAGECLASS",
            "VOLUMEATTRIBUTESCLASS",
            "REASON",
            "AGE"
        ],
        "{table}"
    );
    assert_eq!(
        rows[1][..7],
        [
            "pv-1", "1Gi", "RWO", "Retain", "Pending", "standard", "<unset>"
        ],
        "{table}"
    );
    let stderr = failed(kubectl(
        &server,
        &[
            "patch",
            "pv",
            "pv-1",
            "-p",
            r#"{"spec":{"hostPath":{"path":"/data/elsewhere"}}}"#,
        ],
    ));
    assert!(
        stderr.contains("spec.persistentvolumesource: Forbidden: spec.persistentvolumesource is immutable after creation"),
        "{stderr}"
    );

    let manifest = file(
        &server,
        "claim.yaml",
        "apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: data
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: standard
  resources:
    requests:
      storage: 1Gi
",
    );
    let applied = ok(kubectl(
        &server,
        &["apply", "-f", manifest.to_str().unwrap()],
    ));
    assert_eq!(applied.trim(), "persistentvolumeclaim/data created");
    let table = ok(kubectl(&server, &["get", "pvc"]));
    let rows = table_rows(&table);
    assert_eq!(
        rows[0],
        [
            "NAME",
            "STATUS",
            "VOLUME",
            "CAPACITY",
            "ACCESS",
            "MODES",
            "STORAGECLASS",
            "VOLUMEATTRIBUTESCLASS",
            "AGE"
        ],
        "{table}"
    );
    assert_eq!(
        rows[1][..4],
        ["data", "Pending", "standard", "<unset>"],
        "{table}"
    );

    let path = "/api/v1/namespaces/default/persistentvolumeclaims/data";
    let (_, mut claim) = server.get(path).await;
    claim["status"] = json!({"phase": "Bound", "accessModes": ["ReadWriteOnce"],
                             "capacity": {"storage": "1Gi"}});
    let (code, written) = server.put(&format!("{path}/status"), &claim).await;
    assert_eq!(code, 200, "{written}");
    ok(kubectl(
        &server,
        &[
            "patch",
            "pvc",
            "data",
            "-p",
            r#"{"spec":{"volumeName":"pv-1"}}"#,
        ],
    ));
    let table = ok(kubectl(&server, &["get", "pvc"]));
    assert_eq!(
        table_rows(&table)[1][..7],
        ["data", "Bound", "pv-1", "1Gi", "RWO", "standard", "<unset>"],
        "{table}"
    );
    ok(kubectl(
        &server,
        &[
            "patch",
            "pvc",
            "data",
            "-p",
            r#"{"spec":{"resources":{"requests":{"storage":"2Gi"}}}}"#,
        ],
    ));
    let stderr = failed(kubectl(
        &server,
        &[
            "patch",
            "pvc",
            "data",
            "-p",
            r#"{"spec":{"resources":{"requests":{"storage":"512Mi"}}}}"#,
        ],
    ));
    assert!(
        stderr.contains(
            "spec.resources.requests.storage: Forbidden: field can not be less than status.capacity"
        ),
        "{stderr}"
    );
    let stderr = failed(kubectl(
        &server,
        &[
            "patch",
            "pvc",
            "data",
            "-p",
            r#"{"spec":{"accessModes":["ReadWriteMany"]}}"#,
        ],
    ));
    assert!(
        stderr.contains("spec: Forbidden: spec is immutable after creation"),
        "{stderr}"
    );
}

const POD_TEMPLATE_AND_REVISION: &str = "apiVersion: v1
kind: PodTemplate
metadata:
  name: worker
template:
  metadata:
    labels:
      app: worker
  spec:
    containers:
    - name: work
      image: busybox:1.36
---
apiVersion: apps/v1
kind: ControllerRevision
metadata:
  name: web-6d4b7c
  ownerReferences:
  - apiVersion: apps/v1
    kind: StatefulSet
    name: web
    uid: 6f1c1d3e-0000-4000-8000-000000000001
    controller: true
data:
  spec:
    template:
      spec:
        containers:
        - name: nginx
          image: nginx:1.27
revision: 2
";

fn table_rows(table: &str) -> Vec<Vec<String>> {
    table
        .lines()
        .map(|line| line.split_whitespace().map(str::to_string).collect())
        .collect()
}

#[tokio::test]
async fn pod_templates_and_controller_revisions() {
    let server = Server::start().await;
    // The revision's owner exists, or the garbage collector deletes it.
    let (code, owner) = server
        .post(
            "/apis/apps/v1/namespaces/default/statefulsets",
            &json!({"metadata": {"name": "web"},
                    "spec": {"selector": {"matchLabels": {"app": "web"}},
                             "template": {"metadata": {"labels": {"app": "web"}},
                                          "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"}]}}}}),
        )
        .await;
    assert_eq!(code, 201, "{owner}");
    let manifest = file(
        &server,
        "templates.yaml",
        &POD_TEMPLATE_AND_REVISION.replace(
            "6f1c1d3e-0000-4000-8000-000000000001",
            owner["metadata"]["uid"].as_str().unwrap(),
        ),
    );
    let applied = ok(kubectl(
        &server,
        &["apply", "-f", manifest.to_str().unwrap()],
    ));
    assert_eq!(
        applied.lines().collect::<Vec<_>>(),
        [
            "podtemplate/worker created",
            "controllerrevision.apps/web-6d4b7c created"
        ]
    );
    let templates = table_rows(&ok(kubectl(&server, &["get", "podtemplates"])));
    assert_eq!(
        templates[0],
        ["NAME", "CONTAINERS", "IMAGES", "POD", "LABELS"]
    );
    assert_eq!(
        templates[1],
        ["worker", "work", "busybox:1.36", "app=worker"]
    );
    let revisions = table_rows(&ok(kubectl(&server, &["get", "controllerrevisions"])));
    assert_eq!(revisions[0], ["NAME", "CONTROLLER", "REVISION", "AGE"]);
    assert_eq!(
        revisions[1][..3],
        ["web-6d4b7c", "statefulset.apps/web", "2"]
    );

    // The template was defaulted as a workload's and counts its changes.
    let path = "/api/v1/namespaces/default/podtemplates/worker";
    let (_, mut template) = server.get(path).await;
    assert_eq!(template["template"]["spec"]["restartPolicy"], "Always");
    assert_eq!(template["metadata"]["generation"], 1);
    template["template"]["spec"]["containers"][0]["image"] = "busybox:1.37".into();
    let (code, changed) = server.put(path, &template).await;
    assert_eq!(code, 200, "{changed}");
    assert_eq!(changed["metadata"]["generation"], 2);

    // A revision's data never changes.
    let path = "/apis/apps/v1/namespaces/default/controllerrevisions/web-6d4b7c";
    let (_, mut revision) = server.get(path).await;
    revision["data"]["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.28".into();
    let (code, refused) = server.put(path, &revision).await;
    assert_eq!(code, 422, "{refused}");
    assert_eq!(refused["details"]["causes"][0]["field"], "data");
    assert_eq!(
        refused["details"]["causes"][0]["reason"],
        "FieldValueInvalid"
    );
}

const ENDPOINT_SLICE: &str = "apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-x7k2p
  labels:
    kubernetes.io/service-name: web
addressType: IPv4
ports:
- name: http
  port: 80
- port: 8443
  protocol: TCP
endpoints:
- addresses: [\"10.1.0.1\"]
  conditions:
    ready: true
  nodeName: node-1
- addresses: [\"10.1.0.2\"]
- addresses: [\"10.1.0.3\"]
- addresses: [\"10.1.0.4\"]
";

#[tokio::test]
async fn endpoint_slices() {
    let server = Server::start().await;
    let manifest = file(&server, "slice.yaml", ENDPOINT_SLICE);
    let applied = ok(kubectl(
        &server,
        &["apply", "-f", manifest.to_str().unwrap()],
    ));
    assert_eq!(
        applied.trim(),
        "endpointslice.discovery.k8s.io/web-x7k2p created"
    );
    let table = table_rows(&ok(kubectl(
        &server,
        &[
            "get",
            "endpointslices",
            "-l",
            "kubernetes.io/service-name=web",
        ],
    )));
    assert_eq!(
        table[0],
        ["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"]
    );
    assert_eq!(
        table[1][..6],
        [
            "web-x7k2p",
            "IPv4",
            "80,8443",
            "10.1.0.1,10.1.0.2,10.1.0.3",
            "+",
            "1"
        ]
    );
    let path = "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/web-x7k2p";
    let (_, mut slice) = server.get(path).await;
    assert_eq!(
        slice["ports"][1]["name"], "",
        "a port's name defaults to empty"
    );
    assert_eq!(slice["ports"][0]["protocol"], "TCP");
    slice["addressType"] = "IPv6".into();
    let (code, refused) = server.put(path, &slice).await;
    assert_eq!(code, 422, "{refused}");
    let causes: Vec<&str> = refused["details"]["causes"]
        .as_array()
        .expect("causes")
        .iter()
        .filter_map(|cause| cause["field"].as_str())
        .collect();
    assert!(causes.contains(&"addressType"), "{refused}");
    assert!(causes.contains(&"endpoints[0].addresses[0]"), "{refused}");
}
