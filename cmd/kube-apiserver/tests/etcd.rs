//! The apiserver on a real etcd: several apiservers on one cluster see each
//! other's writes, and an etcd outage is reported, fails requests fast and
//! heals by itself.

mod support;

use std::time::{Duration, Instant};

use apiserver_storage::etcd::test_server::EtcdServer;
use serde_json::{Value, json};

use support::Server;

const CONFIGMAPS: &str = "/api/v1/namespaces/default/configmaps";

fn configmap(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": "v"}})
}

async fn on(etcd: &EtcdServer, extra: &[&str]) -> Server {
    let servers = format!("--etcd-servers={}", etcd.url());
    let mut args = vec![servers.as_str()];
    args.extend_from_slice(extra);
    Server::start_with(&args).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_apiservers_on_one_etcd_see_each_others_writes() {
    let etcd = EtcdServer::start().await;
    let a = on(&etcd, &[]).await;
    let b = on(&etcd, &[]).await;
    let mut watch = b.watch(&format!("{CONFIGMAPS}?watch=true")).await;

    let (code, created) = a.post(CONFIGMAPS, &configmap("through-a")).await;
    assert_eq!(code, 201, "{created}");
    let event = watch.next().await;
    assert_eq!(event["type"], "ADDED", "{event}");
    assert_eq!(event["object"]["metadata"]["name"], "through-a");
    assert_eq!(
        event["object"]["metadata"]["resourceVersion"], created["metadata"]["resourceVersion"],
        "one revision on both apiservers"
    );

    // A stale write through the other apiserver conflicts.
    let (code, _) = b
        .put(&format!("{CONFIGMAPS}/through-a"), &{
            let mut newer = created.clone();
            newer["data"]["k"] = json!("from b");
            newer
        })
        .await;
    assert_eq!(code, 200);
    let mut stale = created.clone();
    stale["data"]["k"] = json!("stale from a");
    let (code, status) = a.put(&format!("{CONFIGMAPS}/through-a"), &stale).await;
    assert_eq!(code, 409, "{status}");
    assert_eq!(status["reason"], "Conflict");

    let (code, got) = a.get(&format!("{CONFIGMAPS}/through-a")).await;
    assert_eq!(code, 200);
    assert_eq!(got["data"]["k"], "from b");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_etcd_outage_fails_readyz_and_requests_fast_and_heals() {
    let mut etcd = EtcdServer::start().await;
    let server = on(&etcd, &["--request-timeout=5s"]).await;
    let (code, before) = server.post(CONFIGMAPS, &configmap("before")).await;
    assert_eq!(code, 201);
    let rv = before["metadata"]["resourceVersion"].as_str().expect("rv");
    let mut watch = server
        .watch(&format!("{CONFIGMAPS}?watch=true&resourceVersion={rv}"))
        .await;

    // A frozen etcd (a partition: nothing answers) fails a request within
    // the request timeout instead of holding it.
    etcd.freeze();
    let asked = Instant::now();
    let (code, status) = server.post(CONFIGMAPS, &configmap("frozen")).await;
    assert!(code >= 500, "{code} {status}");
    assert_eq!(status["kind"], "Status", "{status}");
    assert!(
        asked.elapsed() < Duration::from_secs(8),
        "the request came back after {:?}, past --request-timeout=5s",
        asked.elapsed()
    );
    etcd.thaw();

    etcd.stop();
    let stopped = Instant::now();
    // /readyz names etcd within seconds.
    loop {
        let (code, body) = server
            .raw("GET", "/readyz?verbose", None, "text/plain")
            .await
            .expect("readyz answers");
        if code == 500 {
            assert!(body.contains("[-]etcd failed"), "{body}");
            assert!(body.contains("[-]etcd-readiness failed"), "{body}");
            break;
        }
        assert!(
            stopped.elapsed() < Duration::from_secs(10),
            "readyz still ok: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A write fails with a 5xx Status instead of hanging.
    let asked = Instant::now();
    let (code, status) = server.post(CONFIGMAPS, &configmap("during")).await;
    assert!(code >= 500, "{code} {status}");
    assert_eq!(status["kind"], "Status", "{status}");
    assert!(
        asked.elapsed() < Duration::from_secs(10),
        "the request came back after {:?}",
        asked.elapsed()
    );
    // The watch ends cleanly.
    while let Some(event) = watch.next_within(Duration::from_secs(30)).await {
        assert_eq!(
            event["type"], "ERROR",
            "only an error may end the watch: {event}"
        );
    }

    etcd.restart().await;
    let back = Instant::now();
    loop {
        let (code, _) = server.post(CONFIGMAPS, &configmap("after")).await;
        if code == 201 {
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(30),
            "writes did not resume: {code}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (code, body) = server
        .raw("GET", "/readyz", None, "text/plain")
        .await
        .expect("readyz answers");
    assert_eq!((code, body.as_str()), (200, "ok"));
    let (_, list) = server.get(CONFIGMAPS).await;
    let names: Vec<&str> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|item| item["metadata"]["name"].as_str())
        .collect();
    // A write that timed out has an unknown outcome (etcd may apply it once
    // it runs again), as upstream's; the others are exactly there.
    let names: Vec<&str> = names.into_iter().filter(|name| *name != "frozen").collect();
    assert_eq!(names, ["after", "before"]);
}

/// `--etcd-readycheck-timeout` bounds `/readyz/etcd-readiness` by itself:
/// a longer one than `--etcd-healthcheck-timeout` (2 s) waits out an etcd
/// that answers after 3.5 s, while `/livez/etcd` gives up at 2 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_etcd_check_has_its_own_timeout() {
    let etcd = EtcdServer::start().await;
    let server = on(&etcd, &["--etcd-readycheck-timeout=6s"]).await;
    etcd.freeze();
    let (code, body) = server
        .raw("GET", "/livez/etcd", None, "text/plain")
        .await
        .expect("livez answers");
    assert_eq!(code, 500, "{body}");
    let thaw = async {
        tokio::time::sleep(Duration::from_millis(3500)).await;
        etcd.thaw();
    };
    let asked = Instant::now();
    let (ready, ()) = tokio::join!(
        server.raw("GET", "/readyz/etcd-readiness", None, "text/plain"),
        thaw
    );
    let (code, body) = ready.expect("readyz answers");
    assert_eq!(code, 200, "after {:?}: {body}", asked.elapsed());
    assert!(
        asked.elapsed() >= Duration::from_secs(3),
        "{:?}",
        asked.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_etcd_tls_flags_reach_an_etcd_that_requires_client_certificates() {
    let etcd = EtcdServer::start_tls().await;
    let tls = etcd.tls().expect("TLS material");
    let flag = |name: &str, path: &Option<std::path::PathBuf>| {
        format!("--{name}={}", path.as_ref().expect("a file").display())
    };
    let (ca, cert, key) = (
        flag("etcd-cafile", &tls.ca_file),
        flag("etcd-certfile", &tls.cert_file),
        flag("etcd-keyfile", &tls.key_file),
    );
    let server = on(&etcd, &[&ca, &cert, &key, "--etcd-prefix=/custom"]).await;
    let (code, created) = server.post(CONFIGMAPS, &configmap("over-tls")).await;
    assert_eq!(code, 201, "{created}");
    // Stored under the prefix, as upstream lays keys out.
    let store = apiserver_storage::EtcdStorage::connect(&etcd.config("/registry"))
        .await
        .expect("connect");
    let mut kv = store.client().kv_client();
    let stored = kv
        .get("/custom/configmaps/default/over-tls", None)
        .await
        .expect("raw get");
    assert_eq!(
        stored.kvs().len(),
        1,
        "the object's key under --etcd-prefix"
    );
}

/// The addresses `default/kubernetes` endpoints list, as seen through `server`.
/// Two apiservers on one etcd creating services at the same time hand out
/// every cluster IP and node port once: the pools are stored and change by
/// compare-and-swap. What one releases, the other can give out again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_apiservers_never_allocate_the_same_cluster_ip_or_node_port() {
    const SERVICES: &str = "/api/v1/namespaces/default/services";
    const PER_APISERVER: usize = 10;
    let etcd = EtcdServer::start().await;
    let range = ["--service-cluster-ip-range=10.96.0.0/26"];
    // Started together, they race to create `default/kubernetes` and its IP.
    let (a, b) = tokio::join!(on(&etcd, &range), on(&etcd, &range));
    let service = |name: String, cluster_ip: Option<&str>| {
        let mut service = json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name},
            "spec": {"type": "NodePort", "ports": [{"port": 80}]},
        });
        if let Some(ip) = cluster_ip {
            service["spec"]["clusterIP"] = json!(ip);
        }
        service
    };
    let creates = (0..PER_APISERVER).flat_map(|n| {
        [(&a, format!("a-{n}")), (&b, format!("b-{n}"))]
            .map(|(server, name)| async move { server.post(SERVICES, &service(name, None)).await })
    });
    let created = futures_util::future::join_all(creates).await;
    let mut ips = std::collections::HashSet::new();
    let mut ports = std::collections::HashSet::new();
    for (code, service) in &created {
        assert_eq!(*code, 201, "{service}");
        let ip = service["spec"]["clusterIP"].as_str().expect("cluster IP");
        assert!(ips.insert(ip.to_string()), "{ip} handed out twice");
        let port = service["spec"]["ports"][0]["nodePort"]
            .as_i64()
            .expect("node port");
        assert!(ports.insert(port), "node port {port} handed out twice");
    }
    // `default/kubernetes` holds the range's first address.
    assert!(!ips.contains("10.96.0.1"));

    // The same requested address through both at once: one is refused.
    let wanted = [(&a, "want-a"), (&b, "want-b")].map(|(server, name)| async move {
        server
            .post(SERVICES, &service(name.to_string(), Some("10.96.0.7")))
            .await
    });
    let outcomes = futures_util::future::join_all(wanted).await;
    let codes: Vec<u16> = outcomes.iter().map(|(code, _)| *code).collect();
    assert!(codes.contains(&201) && codes.contains(&422), "{outcomes:?}");

    // Deleted through one, the address is free through the other.
    let winner = if outcomes[0].0 == 201 {
        "want-a"
    } else {
        "want-b"
    };
    let (code, _) = a.delete(&format!("{SERVICES}/{winner}")).await;
    assert_eq!(code, 200);
    let (code, again) = b
        .post(SERVICES, &service("again".to_string(), Some("10.96.0.7")))
        .await;
    assert_eq!(code, 201, "{again}");
}

async fn kubernetes_endpoints(server: &Server) -> Vec<String> {
    let (code, endpoints) = server
        .get("/api/v1/namespaces/default/endpoints/kubernetes")
        .await;
    assert_eq!(code, 200, "{endpoints}");
    endpoints["subsets"][0]["addresses"]
        .as_array()
        .map(|addresses| {
            addresses
                .iter()
                .filter_map(|a| a["ip"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Waits until the endpoints list `expected`, or fails after `within`.
async fn wait_for_endpoints(server: &Server, expected: &[&str], within: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let current = kubernetes_endpoints(server).await;
        if current == expected {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < within,
            "the kubernetes endpoints stayed {current:?}, expected {expected:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kubernetes_endpoints_list_exactly_the_live_apiservers() {
    let etcd = EtcdServer::start().await;
    let mut first = on(&etcd, &["--advertise-address=127.0.0.2"]).await;
    let mut second = on(&etcd, &["--advertise-address=127.0.0.3"]).await;
    let third = on(&etcd, &["--advertise-address=127.0.0.4"]).await;
    // The last one up reconciles with every lease at once.
    wait_for_endpoints(
        &third,
        &["127.0.0.2", "127.0.0.3", "127.0.0.4"],
        Duration::from_secs(5),
    )
    .await;

    // A graceful shutdown takes its apiserver out at once.
    second.terminate();
    wait_for_endpoints(&third, &["127.0.0.2", "127.0.0.4"], Duration::from_secs(5)).await;

    // A dead apiserver drops out when its lease expires (15 s after its last
    // renewal) and a live one reconciles (every 10 s).
    first.kill9();
    let took = wait_for_endpoints(&third, &["127.0.0.4"], Duration::from_secs(40)).await;
    eprintln!("a killed apiserver left the endpoints after {took:?}");
}

/// `master-count`: each apiserver adds itself (up to `--apiserver-count`),
/// and one that shuts down takes itself out, as upstream's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn master_count_apiservers_add_and_remove_themselves() {
    let etcd = EtcdServer::start().await;
    let counted = [
        "--endpoint-reconciler-type=master-count",
        "--apiserver-count=2",
    ];
    let first = on(
        &etcd,
        &[&counted[..], &["--advertise-address=127.0.0.7"]].concat(),
    )
    .await;
    let mut second = on(
        &etcd,
        &[&counted[..], &["--advertise-address=127.0.0.8"]].concat(),
    )
    .await;
    wait_for_endpoints(&first, &["127.0.0.7", "127.0.0.8"], Duration::from_secs(15)).await;
    second.terminate();
    wait_for_endpoints(&first, &["127.0.0.7"], Duration::from_secs(5)).await;
}

#[test]
fn a_start_against_an_etcd_that_never_answers_fails_naming_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let port = silent.local_addr().expect("addr").port();
    // Nobody accepts on it once the listener is gone.
    drop(silent);
    let secure_port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a port")
        .port();
    let started = Instant::now();
    let output = std::process::Command::new(support::server_binary())
        .arg(format!("--etcd-servers=http://127.0.0.1:{port}"))
        .arg("--storage-initialization-timeout=2s")
        .arg(format!("--cert-dir={}", dir.path().display()))
        .arg("--bind-address=127.0.0.1")
        .arg(format!("--secure-port={secure_port}"))
        .output()
        .expect("run kube-apiserver");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "Error: etcd at --etcd-servers http://127.0.0.1:{port} did not answer within --storage-initialization-timeout 2s"
        )),
        "{stderr}"
    );
    assert!(started.elapsed() < Duration::from_secs(30));
}
