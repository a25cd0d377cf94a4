//! What authorization costs: pod gets/s of a user who is not in
//! `system:masters`, at concurrency 16 over TLS, against a server with
//! `--authorization-mode=AlwaysAllow` and then one with RBAC holding 1,000
//! roles and 1,000 role bindings (the user named in ten of them, the rule
//! that allows the gets in the last), both running, measured in alternating
//! rounds so that the machine's drift hits both alike. A third row is the
//! RBAC server's gets by a service account, with a signed token (ES256:
//! the generated serving key) instead of a static one: what verifying the
//! token and looking up its service account cost. Prints a table with the
//! ratios of the median rates.
//!
//! Run: `cargo bench -p kube-apiserver --bench authz` (release profile).
//! The server processes and the TLS client are `kube-loadgen`'s
//! (`test/loadgen`).

use std::path::Path;
use std::time::{Duration, Instant};

use hyper::Method;
use hyper::body::Bytes;
use kube_loadgen::client::{Connection, Protocol, Target};
use kube_loadgen::server::{Server, ServerConfig, User};
use kube_loadgen::stats::{Summary, ms};

const ADMIN: &str = "admin-token";
const USER: &str = "reader-token";
const CONCURRENCY: usize = 16;
const PODS: usize = 1_000;
const ROLES: usize = 1_000;
const GET_SECONDS: u64 = 3;
const ROUNDS: usize = 7;

const BUILT: &str = env!("CARGO_BIN_EXE_kube-apiserver");

/// A ready server (killed when dropped) and its admin's target.
struct Running {
    server: Server,
    admin: Target,
}

async fn start(dir: &Path, mode: &str) -> Running {
    let user = |token: &str, name: &str, uid: &str, groups: &str| User {
        token: token.to_owned(),
        name: name.to_owned(),
        uid: uid.to_owned(),
        groups: groups.to_owned(),
    };
    let mut config = ServerConfig::new(BUILT, dir);
    config.users = vec![
        user(ADMIN, "admin", "1", "system:masters"),
        user(USER, "reader", "2", "readers"),
    ];
    config.args = vec![format!("--authorization-mode={mode}")];
    let (server, _) = Server::start(config).await.expect("start kube-apiserver");
    let admin = server.target(Protocol::Http1, ADMIN).expect("a target");
    Running { server, admin }
}

impl Running {
    /// The same server as the user of `token`.
    fn target(&self, token: &str) -> Target {
        self.server
            .target(Protocol::Http1, token)
            .expect("a target")
    }
}

/// One request on `connection`; the code and the body.
async fn call(
    connection: &mut Connection,
    method: Method,
    path: &str,
    body: Option<Vec<u8>>,
) -> (u16, Bytes) {
    let reply = connection
        .call(method, path, body.map(Bytes::from))
        .await
        .expect("a reply");
    (reply.status, reply.body)
}

/// Creates `items` at `path` as the admin, 16 at a time.
async fn create_all(server: &Running, path: &str, items: Vec<serde_json::Value>) {
    let chunks: Vec<Vec<serde_json::Value>> = items
        .chunks(items.len().div_ceil(CONCURRENCY).max(1))
        .map(<[_]>::to_vec)
        .collect();
    let tasks: Vec<_> = chunks
        .into_iter()
        .map(|chunk| {
            let (admin, path) = (server.admin.clone(), path.to_string());
            tokio::spawn(async move {
                let mut c = admin.connect().await.expect("connect");
                for item in chunk {
                    let body = serde_json::to_vec(&item).expect("JSON");
                    let (code, reply) = call(&mut c, Method::POST, &path, Some(body)).await;
                    assert_eq!(code, 201, "{}", String::from_utf8_lossy(&reply));
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("creator");
    }
}

/// 1,000 roles and bindings in 100 namespaces; the reader's group is in the
/// ten bindings of `default`, the last of which grants the gets.
async fn fill_rbac(server: &Running) {
    let rbac = "/apis/rbac.authorization.k8s.io/v1";
    let namespaces: Vec<_> = (0..ROLES / 10)
        .map(|n| serde_json::json!({"metadata": {"name": format!("ns-{n:03}")}}))
        .collect();
    create_all(server, "/api/v1/namespaces", namespaces).await;
    for n in 0..ROLES / 10 {
        let namespace = if n == 0 {
            "default".to_string()
        } else {
            format!("ns-{n:03}")
        };
        let roles: Vec<_> = (0..10)
            .map(|r| {
                let resource = if n == 0 && r == 9 { "pods" } else { "configmaps" };
                serde_json::json!({"metadata": {"name": format!("role-{r}")},
                    "rules": [{"verbs": ["get", "list"], "apiGroups": [""], "resources": [resource]}]})
            })
            .collect();
        create_all(
            server,
            &format!("{rbac}/namespaces/{namespace}/roles"),
            roles,
        )
        .await;
        let bindings: Vec<_> = (0..10)
            .map(|r| {
                serde_json::json!({"metadata": {"name": format!("binding-{r}")},
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": format!("role-{r}")},
                    "subjects": [{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "readers"},
                                 {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": format!("user-{n}-{r}")}]})
            })
            .collect();
        create_all(
            server,
            &format!("{rbac}/namespaces/{namespace}/rolebindings"),
            bindings,
        )
        .await;
    }
}

/// A service account of `default` bound like the reader, and a token for it.
async fn service_account_token(server: &Running) -> String {
    let mut c = server.admin.connect().await.expect("connect");
    let account = serde_json::json!({"metadata": {"name": "reader"}});
    let (code, reply) = call(
        &mut c,
        Method::POST,
        "/api/v1/namespaces/default/serviceaccounts",
        Some(serde_json::to_vec(&account).expect("JSON")),
    )
    .await;
    assert_eq!(code, 201, "{}", String::from_utf8_lossy(&reply));
    let binding = serde_json::json!({"metadata": {"name": "reader-account"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "role-9"},
        "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": "default"}]});
    let (code, reply) = call(
        &mut c,
        Method::POST,
        "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings",
        Some(serde_json::to_vec(&binding).expect("JSON")),
    )
    .await;
    assert_eq!(code, 201, "{}", String::from_utf8_lossy(&reply));
    let request = serde_json::json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}});
    let (code, reply) = call(
        &mut c,
        Method::POST,
        "/api/v1/namespaces/default/serviceaccounts/reader/token",
        Some(serde_json::to_vec(&request).expect("JSON")),
    )
    .await;
    assert_eq!(code, 201, "{}", String::from_utf8_lossy(&reply));
    let reply: serde_json::Value = serde_json::from_slice(&reply).expect("JSON");
    let token = reply["status"]["token"]
        .as_str()
        .expect("token")
        .to_string();
    // The binding takes effect once the RBAC index's watch delivers it.
    let mut as_account = server.target(&token).connect().await.expect("connect");
    while call(
        &mut as_account,
        Method::GET,
        "/api/v1/namespaces/default/pods/pod-0000",
        None,
    )
    .await
    .0 != 200
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    token
}

/// Gets of the pods with `token` for `GET_SECONDS`: (gets/s, latencies).
async fn gets(server: &Running, token: &str) -> (f64, Vec<Duration>) {
    let deadline = Instant::now() + Duration::from_secs(GET_SECONDS);
    let target = server.target(token);
    let tasks: Vec<_> = (0..CONCURRENCY)
        .map(|w| {
            let target = target.clone();
            tokio::spawn(async move {
                let mut c = target.connect().await.expect("connect");
                let mut latencies = Vec::new();
                let mut i = w;
                while Instant::now() < deadline {
                    let t = Instant::now();
                    let path = format!("/api/v1/namespaces/default/pods/pod-{:04}", i % PODS);
                    let (code, body) = call(&mut c, Method::GET, &path, None).await;
                    assert_eq!(code, 200, "{}", String::from_utf8_lossy(&body));
                    latencies.push(t.elapsed());
                    i += 7;
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.expect("getter"));
    }
    (latencies.len() as f64 / GET_SECONDS as f64, latencies)
}

/// A server of `mode` with its pods (and, for RBAC, its roles and bindings).
async fn prepare(dir: &Path, mode: &str) -> Running {
    let server = start(dir, mode).await;
    if mode == "RBAC" {
        fill_rbac(&server).await;
    }
    let pods: Vec<_> = (0..PODS)
        .map(|i| {
            serde_json::json!({"metadata": {"name": format!("pod-{i:04}")},
            "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}})
        })
        .collect();
    create_all(&server, "/api/v1/namespaces/default/pods", pods).await;
    // Warm up the connections and the caches.
    let _ = gets(&server, USER).await;
    server
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

#[tokio::main]
async fn main() {
    let (allow_dir, rbac_dir) = (
        tempfile::tempdir().expect("temp dir"),
        tempfile::tempdir().expect("temp dir"),
    );
    let allow_server = prepare(allow_dir.path(), "AlwaysAllow").await;
    let rbac_server = prepare(rbac_dir.path(), "RBAC").await;
    let account_token = service_account_token(&rbac_server).await;
    let _ = gets(&rbac_server, &account_token).await;
    // Alternating rounds, so drift in the machine's speed hits all alike.
    let (mut allow_rates, mut rbac_rates, mut account_rates) = (Vec::new(), Vec::new(), Vec::new());
    let (mut allow, mut rbac, mut account) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let (rate, latencies) = gets(&allow_server, USER).await;
        allow_rates.push(rate);
        allow.extend(latencies);
        let (rate, latencies) = gets(&rbac_server, USER).await;
        rbac_rates.push(rate);
        rbac.extend(latencies);
        let (rate, latencies) = gets(&rbac_server, &account_token).await;
        account_rates.push(rate);
        account.extend(latencies);
    }
    let (allow_rate, rbac_rate) = (median(allow_rates.clone()), median(rbac_rates.clone()));
    let account_rate = median(account_rates.clone());
    let summary = |mut latencies: Vec<Duration>| {
        let s = Summary::of(&mut latencies).expect("latencies");
        (ms(s.p50), ms(s.p99), ms(s.max))
    };
    let (a50, a99, amax) = summary(allow);
    let (r50, r99, rmax) = summary(rbac);
    let (s50, s99, smax) = summary(account);
    println!(
        "pod gets as a non-masters user over TLS, concurrency {CONCURRENCY}, {ROUNDS} alternating rounds of {GET_SECONDS} s per mode, median rate ({BUILT})"
    );
    println!(
        "| authorization                               | gets/s (median) |  p50 ms |  p99 ms |  max ms |"
    );
    println!(
        "|---------------------------------------------|-----------------|---------|---------|---------|"
    );
    println!(
        "| AlwaysAllow                                 | {allow_rate:15.0} | {a50:>7} | {a99:>7} | {amax:>7} |"
    );
    println!(
        "| RBAC, {ROLES} roles + {ROLES} bindings            | {rbac_rate:15.0} | {r50:>7} | {r99:>7} | {rmax:>7} |"
    );
    println!(
        "| RBAC, service-account token (ES256)         | {account_rate:15.0} | {s50:>7} | {s99:>7} | {smax:>7} |"
    );
    println!();
    println!("rounds, AlwaysAllow: {allow_rates:.0?}");
    println!("rounds, RBAC:        {rbac_rates:.0?}");
    println!("rounds, SA token:    {account_rates:.0?}");
    println!(
        "RBAC/AlwaysAllow: {:.3} (cost {:.1} %)",
        rbac_rate / allow_rate,
        (1.0 - rbac_rate / allow_rate) * 100.0
    );
    println!(
        "service-account token/static token (RBAC): {:.3} (cost {:.1} %)",
        account_rate / rbac_rate,
        (1.0 - account_rate / rbac_rate) * 100.0
    );
}
