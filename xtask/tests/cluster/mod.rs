//! The apiserver as a highly available control plane on the Docker engine:
//! a three-member etcd cluster (containers of the build image, which carries
//! Debian's etcd-server) and two apiservers (the release's server image) on
//! a private network this test creates. A client on loopback writes through
//! both apiservers while the etcd leader and one apiserver are killed: no
//! acknowledged write may be lost, and the survivors keep serving.

use std::collections::BTreeSet;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::assert_success;

const TOKEN: &str = "cluster-test-token";
const ETCD_MEMBERS: usize = 3;
/// Writes acknowledged before each fault, and after the last one.
const WRITES_PER_PHASE: usize = 40;
/// A writer stops after this many attempts whatever happens.
const MAX_ATTEMPTS_PER_WRITER: usize = 2_000;
/// How long anything (a start, a phase of writes) may take.
const DEADLINE: Duration = Duration::from_secs(90);

fn docker(args: &[&str]) -> Output {
    Command::new("docker")
        .args(args)
        .output()
        .expect("running the docker CLI")
}

fn docker_ok(args: &[&str]) -> String {
    let out = docker(args);
    assert_success(&out, &format!("docker {}", args.join(" ")));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The containers and network of one test, removed when dropped (also when
/// the test fails).
struct Cluster {
    network: String,
    containers: Vec<String>,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for container in &self.containers {
            if std::thread::panicking() {
                let logs = docker(&["logs", "--tail", "30", container]);
                eprintln!(
                    "--- {container}:\n{}",
                    String::from_utf8_lossy(&logs.stderr)
                );
            }
            docker(&["rm", "--force", container]);
        }
        docker(&["network", "rm", &self.network]);
    }
}

impl Cluster {
    fn name(&self, role: &str) -> String {
        format!("{}-{role}", self.network)
    }

    /// The member that leads the etcd cluster now (its `/metrics` on the
    /// published client port say `etcd_server_is_leader 1`).
    fn etcd_leader(&self) -> usize {
        let start = Instant::now();
        loop {
            for member in 0..ETCD_MEMBERS {
                let name = self.name(&format!("etcd-{member}"));
                let address = docker_ok(&["port", &name, "2379/tcp"]);
                let address = address.lines().next().unwrap_or_default();
                let metrics = Command::new("curl")
                    .args(["--silent", "--max-time", "5"])
                    .arg(format!("http://{address}/metrics"))
                    .output()
                    .expect("running curl");
                if String::from_utf8_lossy(&metrics.stdout)
                    .lines()
                    .any(|line| line == "etcd_server_is_leader 1")
                {
                    return member;
                }
            }
            assert!(start.elapsed() < DEADLINE, "the etcd cluster has no leader");
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    fn start_etcd(&mut self, build_image: &str, member: usize) {
        let name = self.name(&format!("etcd-{member}"));
        let alias = format!("etcd-{member}");
        let initial: Vec<String> = (0..ETCD_MEMBERS)
            .map(|m| format!("etcd-{m}=http://etcd-{m}:2380"))
            .collect();
        docker_ok(&[
            "run",
            "--detach",
            "--name",
            &name,
            "--network",
            &self.network,
            "--network-alias",
            &alias,
            "--publish",
            "127.0.0.1::2379",
            "--entrypoint",
            "etcd",
            build_image,
            "--name",
            &alias,
            "--data-dir",
            "/tmp/etcd",
            "--listen-peer-urls",
            "http://0.0.0.0:2380",
            "--initial-advertise-peer-urls",
            &format!("http://{alias}:2380"),
            "--listen-client-urls",
            "http://0.0.0.0:2379",
            "--advertise-client-urls",
            &format!("http://{alias}:2379"),
            "--initial-cluster",
            &initial.join(","),
            "--initial-cluster-state",
            "new",
            "--initial-cluster-token",
            &self.network,
        ]);
        self.containers.push(name);
    }

    /// Starts an apiserver on the etcd cluster; its loopback address and
    /// its address on the private network.
    fn start_apiserver(&mut self, server_image: &str, role: &str, auth: &str) -> Apiserver {
        let name = self.name(role);
        let servers: Vec<String> = (0..ETCD_MEMBERS)
            .map(|m| format!("http://etcd-{m}:2379"))
            .collect();
        docker_ok(&[
            "run",
            "--detach",
            "--name",
            &name,
            "--network",
            &self.network,
            "--publish",
            "127.0.0.1::6443",
            "--volume",
            &format!("{auth}:/etc/kubernetes/auth:ro"),
            server_image,
            "--secure-port=6443",
            "--cert-dir=/tmp/certs",
            "--token-auth-file=/etc/kubernetes/auth/tokens.csv",
            &format!("--etcd-servers={}", servers.join(",")),
            "--request-timeout=10s",
        ]);
        self.containers.push(name.clone());
        let published = docker_ok(&["port", &name, "6443/tcp"]);
        let address = published.lines().next().unwrap_or_default().to_owned();
        let format = format!(
            "{{{{(index .NetworkSettings.Networks \"{}\").IPAddress}}}}",
            self.network
        );
        let ip = docker_ok(&["inspect", "--format", &format, &name]);
        Apiserver {
            container: name,
            address,
            ip,
        }
    }
}

struct Apiserver {
    container: String,
    /// `127.0.0.1:PORT`, published on loopback.
    address: String,
    /// On the private network.
    ip: String,
}

/// One HTTPS request with the test's token: the status code (0 when nothing
/// answered) and the body.
fn request(address: &str, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
    let mut command = Command::new("curl");
    command
        .args(["--silent", "--insecure", "--max-time", "15"])
        .args(["--request", method])
        .args(["--write-out", "\n%{http_code}"])
        .arg("--header")
        .arg(format!("Authorization: Bearer {TOKEN}"));
    if let Some(body) = body {
        command
            .args(["--header", "Content-Type: application/json"])
            .args(["--data-binary", body]);
    }
    let out = command
        .arg(format!("https://{address}{path}"))
        .output()
        .expect("running curl");
    let text = String::from_utf8_lossy(&out.stdout);
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
    (code.trim().parse().unwrap_or(0), body.to_owned())
}

fn wait_ready(apiserver: &Apiserver) {
    let start = Instant::now();
    loop {
        let (code, body) = request(&apiserver.address, "GET", "/readyz", None);
        if code == 200 {
            return;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "{} never became ready: {code} {body}",
            apiserver.container
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The addresses `default/kubernetes` lists, as `apiserver` serves them.
fn kubernetes_endpoints(apiserver: &Apiserver) -> BTreeSet<String> {
    let (code, body) = request(
        &apiserver.address,
        "GET",
        "/api/v1/namespaces/default/endpoints/kubernetes",
        None,
    );
    if code != 200 {
        return BTreeSet::new();
    }
    let endpoints: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
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

fn wait_for_endpoints(apiserver: &Apiserver, expected: &BTreeSet<String>) {
    let start = Instant::now();
    loop {
        let listed = kubernetes_endpoints(apiserver);
        if &listed == expected {
            return;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "default/kubernetes lists {listed:?}, not {expected:?}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// What the writers share: the acknowledged writes and whether to stop.
#[derive(Default)]
struct Writes {
    acknowledged: Mutex<Vec<String>>,
    count: AtomicUsize,
    stop: AtomicBool,
}

impl Writes {
    fn wait_for(&self, count: usize, phase: &str) {
        let start = Instant::now();
        while self.count.load(Ordering::SeqCst) < count {
            assert!(
                start.elapsed() < DEADLINE,
                "{phase}: {} of {count} writes acknowledged",
                self.count.load(Ordering::SeqCst)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Creates ConfigMaps through `address` until told to stop, recording the
/// ones acknowledged (201).
fn writer(writes: Arc<Writes>, address: String, prefix: &'static str) {
    for n in 0..MAX_ATTEMPTS_PER_WRITER {
        if writes.stop.load(Ordering::SeqCst) {
            return;
        }
        let name = format!("{prefix}-{n}");
        let body = serde_json::json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name}, "data": {"n": n.to_string()},
        })
        .to_string();
        let (code, _) = request(
            &address,
            "POST",
            "/api/v1/namespaces/default/configmaps",
            Some(&body),
        );
        if code == 201 {
            writes.acknowledged.lock().unwrap().push(name);
            writes.count.fetch_add(1, Ordering::SeqCst);
        } else {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Three etcd members and two apiservers; the etcd leader and then an
/// apiserver are killed while two writers load both apiservers.
pub fn survives_losing_an_etcd_member_and_an_apiserver(build_image: &str, server_image: &str) {
    let mut cluster = Cluster {
        network: format!("kube-ha-{}", std::process::id()),
        containers: Vec::new(),
    };
    docker_ok(&["network", "create", &cluster.network]);
    let auth = tempfile::tempdir().unwrap();
    std::fs::write(
        auth.path().join("tokens.csv"),
        format!("{TOKEN},cluster-test,1001,\"system:masters\"\n"),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(auth.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(
        auth.path().join("tokens.csv"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let auth = auth.path().to_str().unwrap();

    for member in 0..ETCD_MEMBERS {
        cluster.start_etcd(build_image, member);
    }
    let a = cluster.start_apiserver(server_image, "apiserver-a", auth);
    let b = cluster.start_apiserver(server_image, "apiserver-b", auth);
    wait_ready(&a);
    wait_ready(&b);
    wait_for_endpoints(&a, &BTreeSet::from([a.ip.clone(), b.ip.clone()]));

    let writes = Arc::new(Writes::default());
    let writers: Vec<_> = [(a.address.clone(), "via-a"), (b.address.clone(), "via-b")]
        .into_iter()
        .map(|(address, prefix)| {
            let writes = Arc::clone(&writes);
            std::thread::spawn(move || writer(writes, address, prefix))
        })
        .collect();

    writes.wait_for(WRITES_PER_PHASE, "before any fault");
    // The leader, the member whose loss costs an election.
    let leader = cluster.etcd_leader();
    docker_ok(&["kill", &cluster.name(&format!("etcd-{leader}"))]);
    writes.wait_for(2 * WRITES_PER_PHASE, "after the etcd leader died");
    docker_ok(&["kill", &b.container]);
    let after_kills = writes.count.load(Ordering::SeqCst);
    writes.wait_for(
        after_kills + WRITES_PER_PHASE,
        "after an etcd member and an apiserver died",
    );
    writes.stop.store(true, Ordering::SeqCst);
    for writer in writers {
        writer.join().expect("a writer");
    }

    // Every acknowledged write is there, read through the survivor.
    let (code, body) = request(
        &a.address,
        "GET",
        "/api/v1/namespaces/default/configmaps",
        None,
    );
    assert_eq!(code, 200, "{body}");
    let list: serde_json::Value = serde_json::from_str(&body).unwrap();
    let stored: BTreeSet<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|item| item["metadata"]["name"].as_str())
        .collect();
    let acknowledged = writes.acknowledged.lock().unwrap();
    let lost: Vec<&String> = acknowledged
        .iter()
        .filter(|name| !stored.contains(name.as_str()))
        .collect();
    assert!(lost.is_empty(), "acknowledged writes lost: {lost:?}");
    assert!(
        acknowledged.iter().any(|name| name.starts_with("via-b")),
        "the second apiserver served writes before it died"
    );
    eprintln!(
        "cluster test: {} acknowledged writes, all stored; {after_kills} before the apiserver died",
        acknowledged.len()
    );

    // The dead apiserver leaves `default/kubernetes` within its lease.
    wait_for_endpoints(&a, &BTreeSet::from([a.ip.clone()]));
}
