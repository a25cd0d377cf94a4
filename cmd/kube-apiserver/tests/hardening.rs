//! What a hostile or careless client could do to the server, one test per
//! defect found by review, each against the real binary over TLS: mutations
//! under `/watch/`, bodies between axum's default limit and ours, objects
//! grown past the size bound, watch timeouts at the ends of their range,
//! quantity exponents that wrapped, audit emptying large responses,
//! allocations leaked by cancelled writes, idle connections held forever,
//! a full disk under the embedded store, and streamed lists read slowly
//! outside the in-flight and timeout limits.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::Server;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn config_map(name: &str, data: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name},
        "data": {"payload": data},
    })
}

/// `/watch/` paths serve GET only: DELETE, PUT, PATCH and POST there are 405
/// and change nothing.
#[tokio::test]
async fn mutations_under_watch_paths_are_refused() {
    let server = Server::start().await;
    let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "stringData": {"k": "v"}});
    let (code, _) = server
        .post("/api/v1/namespaces/default/secrets", &secret)
        .await;
    assert_eq!(code, 201);
    let item = "/api/v1/watch/namespaces/default/secrets/s";
    for (method, path, body) in [
        ("DELETE", item, None),
        ("PUT", item, Some(&secret)),
        (
            "PATCH",
            item,
            Some(&json!({"metadata": {"labels": {"a": "b"}}})),
        ),
        (
            "POST",
            "/api/v1/watch/namespaces/default/secrets",
            Some(&secret),
        ),
        ("DELETE", "/api/v1/watch/namespaces/default/secrets", None),
    ] {
        let (code, status, _) = server.request(method, path, body).await;
        assert_eq!(code, 405, "{method} {path}: {status}");
        assert_eq!(status["reason"], "MethodNotAllowed", "{method} {path}");
    }
    let (code, stored) = server.get("/api/v1/namespaces/default/secrets/s").await;
    assert_eq!(code, 200);
    assert!(stored["metadata"].get("labels").is_none(), "{stored}");
}

/// A body past axum's 2 MiB default but within the request body limit
/// (3 MiB) is served through the real route; past the limit, sent without a
/// length (so the server reads up to the limit), it is a JSON `Status` 413,
/// never a text/plain one.
#[tokio::test]
async fn bodies_up_to_the_limit_are_served() {
    let server = Server::start().await;
    let mut body = serde_json::to_vec(&config_map("padded", "small")).unwrap();
    body.extend(std::iter::repeat_n(b' ', 2_500_000));
    let path = "/api/v1/namespaces/default/configmaps";
    let (code, text) = server
        .raw("POST", path, Some(body.clone()), "application/json")
        .await
        .unwrap();
    assert_eq!(code, 201, "{text}");

    // 3 MiB + 1 KiB in chunks: past the limit by a little.
    body.resize(3 * 1024 * 1024 + 1024, b' ');
    let chunks: Vec<Result<hyper::body::Frame<hyper::body::Bytes>, std::convert::Infallible>> =
        body.chunks(64 * 1024)
            .map(|chunk| {
                Ok(hyper::body::Frame::data(
                    hyper::body::Bytes::copy_from_slice(chunk),
                ))
            })
            .collect();
    let tls = server.tls_connect().await.unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
            .await
            .unwrap();
    tokio::spawn(connection);
    let request = hyper::Request::post(path)
        .header("host", "localhost")
        .header("authorization", format!("Bearer {}", support::TOKEN))
        .header("content-type", "application/json")
        .body(http_body_util::StreamBody::new(futures_util::stream::iter(
            chunks,
        )))
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), 413);
    assert_eq!(response.headers()["content-type"], "application/json");
    let bytes = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    let status: Value = serde_json::from_slice(&bytes).expect("a JSON Status");
    assert_eq!(status["reason"], "RequestEntityTooLarge");
}

fn deployment_with_env(name: &str, vars: std::ops::Range<usize>) -> Value {
    let env: Vec<Value> = vars
        .map(|i| json!({"name": format!("VAR_{i}"), "value": "x".repeat(1000)}))
        .collect();
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "busybox", "env": env}]},
            },
        },
    })
}

/// Writes past --max-object-size-bytes get 413 RequestEntityTooLarge and
/// leave the object as it was: patches cannot grow it without bound.
#[tokio::test]
async fn objects_cannot_grow_past_the_size_bound() {
    let server = Server::start_with(&["--max-object-size-bytes=200000"]).await;
    let path = "/apis/apps/v1/namespaces/default/deployments";
    let (code, status) = server.post(path, &deployment_with_env("big", 0..100)).await;
    assert_eq!(code, 201, "{}", status["message"]);
    let more =
        &deployment_with_env("big", 100..200)["spec"]["template"]["spec"]["containers"][0]["env"];
    let patch =
        json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "env": more}]}}}});
    let (code, text) = server
        .raw(
            "PATCH",
            &format!("{path}/big"),
            Some(serde_json::to_vec(&patch).unwrap()),
            "application/strategic-merge-patch+json",
        )
        .await
        .unwrap();
    let status: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(code, 413, "{}", status["message"]);
    assert_eq!(status["reason"], "RequestEntityTooLarge");
    assert_eq!(
        status["message"],
        "Request entity too large: limit is 200000"
    );
    let (_, stored) = server.get(&format!("{path}/big")).await;
    assert_eq!(
        stored["spec"]["template"]["spec"]["containers"][0]["env"]
            .as_array()
            .map(Vec::len),
        Some(100)
    );
    // Created too large: refused the same way.
    let (code, status) = server
        .post(path, &deployment_with_env("bigger", 0..300))
        .await;
    assert_eq!(code, 413, "{}", status["message"]);
}

/// `timeoutSeconds` past what a clock can hold does not crash the watch,
/// and 0 means the server's default (the stream stays open), as upstream.
#[tokio::test]
async fn watch_timeouts_at_the_ends_of_their_range() {
    let server = Server::start().await;
    let base = "/api/v1/namespaces/default/configmaps?watch=true";
    let mut huge = server
        .watch(&format!("{base}&timeoutSeconds=18446744073709551615"))
        .await;
    let mut zero = server.watch(&format!("{base}&timeoutSeconds=0")).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (code, _) = server
        .post(
            "/api/v1/namespaces/default/configmaps",
            &config_map("after", "x"),
        )
        .await;
    assert_eq!(code, 201);
    for watch in [&mut huge, &mut zero] {
        let event = watch.next().await;
        assert_eq!(event["type"], "ADDED", "{event}");
        assert_eq!(event["object"]["metadata"]["name"], "after");
    }
    let (code, _) = server
        .raw("GET", "/readyz", None, "application/json")
        .await
        .unwrap();
    assert_eq!(code, 200);
}

/// A quantity whose exponent overflowed used to wrap to a small value (and
/// pass `requests <= limits`), or crash a debug build: it is invalid now.
#[tokio::test]
async fn quantity_exponents_cannot_wrap() {
    let server = Server::start().await;
    let pod = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "q"},
        "spec": {"containers": [{
            "name": "c",
            "image": "busybox",
            "resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "1e2147483647"}},
        }]},
    });
    let (code, status) = server.post("/api/v1/namespaces/default/pods", &pod).await;
    assert_eq!(code, 422, "{status}");
    assert!(
        status["message"]
            .as_str()
            .is_some_and(|m| m.contains("spec.containers[0].resources.limits[cpu]")),
        "{status}"
    );
}

/// With every request audited at RequestResponse, a response too large to
/// copy into the event still reaches the client whole.
#[tokio::test]
async fn request_response_audit_never_empties_a_response() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.yaml");
    std::fs::write(
        &policy,
        "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: RequestResponse\n",
    )
    .unwrap();
    let log = dir.path().join("audit.log");
    let server = Server::start_with(&[
        &format!("--audit-policy-file={}", policy.display()),
        &format!("--audit-log-path={}", log.display()),
    ])
    .await;
    let payload = "p".repeat(900_000);
    for i in 0..4 {
        let (code, _) = server
            .post(
                "/api/v1/namespaces/default/configmaps",
                &config_map(&format!("big-{i}"), &payload),
            )
            .await;
        assert_eq!(code, 201);
    }
    let (code, list) = server.get("/api/v1/namespaces/default/configmaps").await;
    assert_eq!(code, 200);
    let items = list["items"].as_array().expect("items");
    let big: Vec<&Value> = items
        .iter()
        .filter(|item| item["data"]["payload"].as_str() == Some(payload.as_str()))
        .collect();
    assert_eq!(big.len(), 4, "the 3.6 MB list arrived cut or empty");
    assert!(
        std::fs::read_to_string(&log)
            .unwrap()
            .contains("ResponseComplete")
    );
}

/// Service writes abandoned by their clients (`?timeout=1ms`: the client
/// gets 504 at once) still finish, so nothing of the small pools leaks:
/// afterwards every node port and address can be taken again.
#[tokio::test]
async fn cancelled_service_writes_leak_nothing() {
    let server = Server::start_with(&[
        "--service-cluster-ip-range=10.0.0.0/28",
        "--service-node-port-range=30000-30009",
    ])
    .await;
    let service = |name: &str| {
        json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name},
            "spec": {"type": "NodePort", "ports": [{"port": 80}], "selector": {"app": name}},
        })
    };
    let path = "/api/v1/namespaces/default/services";
    for round in 0..30 {
        let name = format!("churn-{round}");
        let _ = server
            .request(
                "POST",
                &format!("{path}?timeout=1ms"),
                Some(&service(&name)),
            )
            .await;
        let _ = server
            .request("DELETE", &format!("{path}/{name}?timeout=1ms"), None)
            .await;
    }
    // Let the abandoned writes finish, then remove what they left.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for round in 0..30 {
        let _ = server.delete(&format!("{path}/churn-{round}")).await;
    }
    for i in 0..10 {
        let (code, status) = server.post(path, &service(&format!("fresh-{i}"))).await;
        assert_eq!(code, 201, "service {i}: {status}");
    }
}

/// A connection with no request in progress is closed after
/// --idle-connection-timeout (silent after the handshake, or stalled inside
/// its headers); one carrying a quiet watch is not.
#[tokio::test]
async fn idle_connections_are_closed_and_quiet_watches_are_not() {
    let server = Server::start_with(&["--idle-connection-timeout=2s"]).await;
    let mut watch = server
        .watch("/api/v1/namespaces/default/configmaps?watch=true")
        .await;

    let mut silent = server.tls_connect().await.unwrap();
    let mut stalled = stalled_in_headers(&server).await;
    for (what, connection) in [("silent", &mut silent), ("stalled", &mut stalled)] {
        let mut buffer = [0u8; 256];
        let read = tokio::time::timeout(Duration::from_secs(15), connection.read(&mut buffer))
            .await
            .unwrap_or_else(|_| panic!("the {what} connection was still open after 15 s"));
        assert!(
            matches!(read, Ok(0) | Err(_)),
            "the {what} connection got {read:?}"
        );
    }

    // The watch outlived the idle timeout and still delivers.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (code, _) = server
        .post(
            "/api/v1/namespaces/default/configmaps",
            &config_map("late", "x"),
        )
        .await;
    assert_eq!(code, 201);
    let event = watch.next().await;
    assert_eq!(event["object"]["metadata"]["name"], "late");
}

/// An HTTP/1.1 keep-alive connection waits for its next request as long as
/// --idle-connection-timeout allows, past the 32 s the first request's
/// headers get; a first request stalled inside its headers is still closed
/// after those 32 s.
#[tokio::test]
async fn keep_alive_connections_wait_the_idle_timeout_not_the_header_timeout() {
    use http_body_util::{BodyExt, Empty};
    use hyper::body::Bytes;
    use hyper_util::rt::TokioIo;

    let server = Server::start_with(&["--idle-connection-timeout=120s"]).await;
    let tls = server.tls_connect().await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .expect("HTTP/1.1 handshake");
    tokio::spawn(connection);
    let mut stalled = stalled_in_headers(&server).await;
    let started = std::time::Instant::now();

    let version = async |sender: &mut hyper::client::conn::http1::SendRequest<Empty<Bytes>>| {
        sender.ready().await.expect("the connection is open");
        let request = hyper::Request::get("/version")
            .header("host", "localhost")
            .header("authorization", format!("Bearer {}", support::TOKEN))
            .body(Empty::<Bytes>::new())
            .unwrap();
        let response = sender.send_request(request).await.expect("a response");
        let code = response.status().as_u16();
        response.into_body().collect().await.expect("the body");
        code
    };
    assert_eq!(version(&mut sender).await, 200);

    let mut buffer = [0u8; 256];
    let read = tokio::time::timeout(Duration::from_secs(45), stalled.read(&mut buffer))
        .await
        .expect("the stalled connection was still open after 45 s");
    assert!(
        matches!(read, Ok(0) | Err(_)),
        "the stalled connection got {read:?}"
    );
    let closed_after = started.elapsed();
    assert!(
        closed_after >= Duration::from_secs(30),
        "closed after {closed_after:?}, before the header timeout"
    );

    // Idle for longer than the header timeout: still open, still served.
    tokio::time::sleep(Duration::from_secs(36).saturating_sub(started.elapsed())).await;
    assert_eq!(version(&mut sender).await, 200);
}

/// A streamed list a client stops reading holds its in-flight slot (a
/// second read is 429 with one slot) until the request timeout frees it,
/// and the rest of the list is then refused: the client sees a failed
/// body, not a short list.
#[tokio::test]
async fn a_slowly_read_list_holds_its_slot_until_the_request_timeout() {
    use http_body_util::{BodyExt, Empty};
    use hyper::body::Bytes;
    use hyper_util::rt::TokioIo;

    let server = Server::start_with(&["--max-requests-inflight=1", "--request-timeout=4s"]).await;
    // More than one page (1,000 items) and more than socket buffers hold.
    let payload = "x".repeat(16 * 1024);
    for i in 0..1_005 {
        let (code, created) = server
            .post(
                "/api/v1/namespaces/default/configmaps",
                &config_map(&format!("cm-{i:04}"), &payload),
            )
            .await;
        assert_eq!(code, 201, "{created}");
    }

    let tls = server.tls_connect().await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .expect("HTTP/1.1 handshake");
    tokio::spawn(connection);
    let request = hyper::Request::get("/api/v1/namespaces/default/configmaps")
        .header("host", "localhost")
        .header("authorization", format!("Bearer {}", support::TOKEN))
        .body(Empty::<Bytes>::new())
        .unwrap();
    let response = sender.send_request(request).await.expect("a response");
    assert_eq!(response.status(), 200);
    assert!(
        response.headers().get("content-length").is_none(),
        "the list was not streamed"
    );
    let started = std::time::Instant::now();
    let mut body = response.into_body();
    let first = body.frame().await.expect("a first frame").expect("a frame");
    assert!(first.data_ref().is_some_and(|data| !data.is_empty()));

    // The slot is held while the list is not read.
    let (code, refused) = server.get("/api/v1/namespaces").await;
    assert_eq!(code, 429, "{refused}");
    // The timeout frees it though the client still reads nothing.
    tokio::time::sleep(Duration::from_secs(5).saturating_sub(started.elapsed())).await;
    let (code, served) = server.get("/api/v1/namespaces").await;
    assert_eq!(code, 200, "{served}");

    let rest = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match body.frame().await {
                None => return Ok(()),
                Some(Err(err)) => return Err(err),
                Some(Ok(_)) => {}
            }
        }
    })
    .await
    .expect("the list neither ended nor failed within 30 s");
    assert!(
        rest.is_err(),
        "the whole list was sent after the request timeout"
    );
}

/// A TLS connection that has sent half of a request's headers.
async fn stalled_in_headers(
    server: &Server,
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let mut stalled = server.tls_connect().await.unwrap();
    stalled
        .write_all(b"GET /version HTTP/1.1\r\nHost: localhost\r\n")
        .await
        .unwrap();
    stalled.flush().await.unwrap();
    stalled
}

/// A tmpfs mounted for the test, unmounted when dropped.
struct Tmpfs(tempfile::TempDir);

impl Tmpfs {
    fn mount(size: &str) -> Tmpfs {
        let dir = tempfile::tempdir().unwrap();
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .expect("running mount");
        assert!(
            out.status.success(),
            "mounting a tmpfs failed (this test needs root, as CI runs): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs(dir)
    }

    fn free_bytes(&self) -> u64 {
        let path = std::ffi::CString::new(self.0.path().as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: statvfs writes into the struct it is given.
        let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
        assert_eq!(unsafe { libc::statvfs(path.as_ptr(), &mut stat) }, 0);
        stat.f_bavail as u64 * stat.f_frsize as u64
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.0.path())
            .status();
    }
}

/// The data directory fills up: writes fail (never acknowledged) and
/// /readyz fails while they do; once space is freed writes resume and
/// /readyz passes; after a restart every acknowledged write is there.
#[tokio::test]
async fn a_full_disk_fails_readyz_then_writes_resume_and_nothing_is_lost() {
    let tmpfs = Tmpfs::mount("32m");
    let data = tmpfs.0.path().join("data");
    let mut server = Server::start_with_data_dir(&[], Some(data)).await;
    // Leave about 3 MB free.
    let filler = tmpfs.0.path().join("filler");
    let fill = tmpfs.free_bytes().saturating_sub(3 << 20);
    std::fs::write(&filler, vec![0u8; fill as usize]).unwrap();

    let payload = "d".repeat(200_000);
    let mut acknowledged = Vec::new();
    let mut refused = None;
    for i in 0..100 {
        let name = format!("fill-{i}");
        let (code, status) = server
            .post(
                "/api/v1/namespaces/default/configmaps",
                &config_map(&name, &payload),
            )
            .await;
        if code == 201 {
            acknowledged.push(name);
        } else {
            refused = Some((code, status));
            break;
        }
    }
    let (code, status) = refused.expect("the disk never filled");
    assert_eq!(code, 500, "{status}");
    let (ready, _) = server
        .raw("GET", "/readyz", None, "application/json")
        .await
        .unwrap();
    assert_ne!(ready, 200, "/readyz passed while writes fail");

    std::fs::remove_file(&filler).unwrap();
    let mut resumed = false;
    for attempt in 0..50 {
        let name = format!("after-{attempt}");
        let (code, _) = server
            .post(
                "/api/v1/namespaces/default/configmaps",
                &config_map(&name, "small"),
            )
            .await;
        if code == 201 {
            acknowledged.push(name);
            resumed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(resumed, "writes did not resume once space was freed");
    let (ready, text) = server
        .raw("GET", "/readyz", None, "application/json")
        .await
        .unwrap();
    assert_eq!(ready, 200, "{text}");

    server.kill9();
    server.spawn().await;
    for name in &acknowledged {
        let (code, _) = server
            .get(&format!("/api/v1/namespaces/default/configmaps/{name}"))
            .await;
        assert_eq!(code, 200, "acknowledged {name} is gone after a restart");
    }
}
