//! The secure server end to end, in process: TLS (HTTP/1.1 and HTTP/2) with
//! the generated certificate, the filter chain (401/403/429/504/413, panics,
//! CORS, audit), health and metrics output, graceful shutdown.

mod common;

use std::sync::Arc;
use std::time::Duration;

use apiserver::audit::{Auditor, LogBackend, Policy};
use apiserver::authentication::{Authenticator, TokenFile};
use apiserver::authorization::{AlwaysDeny, PrivilegedGroups, Union};
use apiserver::healthz::NamedCheck;
use apiserver::server::tls;
use bytes::Bytes;
use common::{Chunks, Client, TestServer};
use http::{Method, StatusCode};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

fn assert_status(reply: &common::Reply, code: u16, reason: &str) {
    assert_eq!(reply.status.as_u16(), code, "{}", reply.text());
    let json = reply.json();
    assert_eq!(json["kind"], "Status", "{json}");
    assert_eq!(json["apiVersion"], "v1");
    assert_eq!(json["status"], "Failure");
    assert_eq!(json["reason"], reason, "{json}");
    assert_eq!(json["code"], code);
}

#[tokio::test]
async fn tls_with_the_generated_certificate_over_http1_and_http2() {
    let server = TestServer::start(|config, _| {
        config.hsts_directives = vec!["max-age=31536000".into(), "includeSubDomains".into()];
    })
    .await;
    // The client trusts only the generated certificate and checks the name.
    let http1 = server.client().get("/version").await;
    assert_eq!(http1.status, StatusCode::OK);
    assert!(!http1.http2);
    assert_eq!(
        http1.headers["strict-transport-security"],
        "max-age=31536000; includeSubDomains"
    );
    let version = http1.json();
    assert_eq!(version["major"], "1");
    // "32", or "32+" for a build stamped between tags: kubectl speaks 1.32 to both.
    let minor = version["minor"].as_str().expect("minor is a string");
    assert!(minor == "32" || minor == "32+", "minor {minor:?}");
    for key in [
        "gitVersion",
        "gitCommit",
        "gitTreeState",
        "buildDate",
        "goVersion",
        "compiler",
        "platform",
    ] {
        assert!(version.get(key).is_some(), "{key} missing from {version}");
    }
    let http2 = server.client().http2().get("/healthz").await;
    assert!(http2.http2);
    assert_eq!(
        (http2.status, http2.text().as_str()),
        (StatusCode::OK, "ok")
    );

    // A client trusting another CA refuses the server.
    let other = tempfile::tempdir().unwrap();
    let (paths, _) =
        apiserver::server::self_signed::ensure(other.path(), "127.0.0.1", &[], &[]).unwrap();
    let stranger = Client::new(server.addr, &paths.cert);
    assert!(
        stranger
            .send(Method::GET, "/healthz", &[], Bytes::new())
            .await
            .is_err()
    );
}

struct ClientCa {
    cert_pem: String,
    params: CertificateParams,
    key: KeyPair,
}

fn client_ca() -> ClientCa {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::default();
    params
        .distinguished_name
        .push(DnType::CommonName, "test-client-ca");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let cert_pem = params.self_signed(&key).unwrap().pem();
    ClientCa {
        cert_pem,
        params,
        key,
    }
}

fn client_cert(
    ca: &ClientCa,
    name: &str,
    orgs: &[&str],
) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, name);
    for org in orgs {
        params
            .distinguished_name
            .push(DnType::OrganizationName, *org);
    }
    let issuer = Issuer::from_params(&ca.params, &ca.key);
    let cert = params.signed_by(&key, &issuer).unwrap();
    (
        vec![cert.der().clone()],
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
    )
}

#[tokio::test]
async fn token_and_client_certificate_authentication() {
    let ca = client_ca();
    let server = TestServer::start(|config, dir| {
        let ca_file = dir.join("client-ca.crt");
        std::fs::write(&ca_file, &ca.cert_pem).unwrap();
        let paths = apiserver::server::self_signed::CertKeyPaths::in_dir(dir);
        config.tls = tls::server_config(&tls::TlsSettings {
            cert_file: &paths.cert,
            key_file: &paths.key,
            client_ca_file: Some(&ca_file),
            min_version: None,
            cipher_suites: &[],
            sni_cert_keys: &[],
        })
        .unwrap();
        config.authenticator = Authenticator {
            anonymous: false,
            tokens: vec![Arc::new(
                TokenFile::parse("alice-token,alice,1\nroot-token,root,0,\"system:masters\"\n")
                    .unwrap(),
            )],
            api_audiences: Vec::new(),
        };
        config.authorizer = Arc::new(Union::new(vec![
            Arc::new(PrivilegedGroups::default()),
            Arc::new(AlwaysDeny),
        ]));
    })
    .await;
    let client = server.client();
    let bearer = |t: &str| format!("Bearer {t}");

    let none = client.get("/version").await;
    assert_status(&none, 401, "Unauthorized");
    let wrong = client
        .send(
            Method::GET,
            "/version",
            &[("authorization", &bearer("nope"))],
            Bytes::new(),
        )
        .await
        .unwrap();
    assert_status(&wrong, 401, "Unauthorized");
    let alice = client
        .send(
            Method::GET,
            "/version",
            &[("authorization", &bearer("alice-token"))],
            Bytes::new(),
        )
        .await
        .unwrap();
    assert_status(&alice, 403, "Forbidden");
    assert_eq!(
        alice.json()["message"],
        "forbidden: User \"alice\" cannot get path \"/version\": Everything is forbidden."
    );
    let root = client
        .send(
            Method::GET,
            "/version",
            &[("authorization", &bearer("root-token"))],
            Bytes::new(),
        )
        .await
        .unwrap();
    assert_eq!(root.status, StatusCode::OK);

    let (chain, key) = client_cert(&ca, "admin", &["system:masters"]);
    let admin = Client::with_client_cert(server.addr, &server.ca, chain, key);
    assert_eq!(admin.get("/version").await.status, StatusCode::OK);
    let (chain, key) = client_cert(&ca, "bob", &["dev"]);
    let bob = Client::with_client_cert(server.addr, &server.ca, chain, key);
    let denied = bob.get("/version").await;
    assert_status(&denied, 403, "Forbidden");
    assert!(
        denied.text().contains("User \\\"bob\\\""),
        "{}",
        denied.text()
    );

    // A certificate from an unknown CA fails the handshake.
    let (chain, key) = client_cert(&client_ca(), "mallory", &["system:masters"]);
    let mallory = Client::with_client_cert(server.addr, &server.ca, chain, key);
    assert!(
        mallory
            .send(Method::GET, "/version", &[], Bytes::new())
            .await
            .is_err()
    );
}

#[tokio::test]
async fn max_in_flight_rejects_with_429_and_exempts_watches() {
    let mut server = TestServer::start(|config, _| {
        config.max_requests_in_flight = 1;
        config.max_mutating_requests_in_flight = 1;
    })
    .await;
    let client = server.client();
    let first = tokio::spawn({
        let client = client.clone();
        async move { client.get("/slow").await }
    });
    server.entered.recv().await.unwrap();
    let rejected = client.get("/healthz").await;
    assert_status(&rejected, 429, "TooManyRequests");
    assert_eq!(rejected.headers["retry-after"], "1");
    assert_eq!(rejected.json()["details"]["retryAfterSeconds"], 1);

    // Mutating requests have their own limit; watches are not limited.
    let mutating = client
        .send(Method::POST, "/echo", &[], Bytes::from_static(b"{}"))
        .await
        .unwrap();
    assert_eq!(mutating.status, StatusCode::OK);
    let watch = tokio::spawn({
        let client = client.clone();
        async move { client.get("/api/v1/pods?watch=true").await }
    });
    server.entered.recv().await.unwrap();
    server.release.notify_waiters();
    assert_eq!(first.await.unwrap().status, StatusCode::OK);
    assert_eq!(watch.await.unwrap().status, StatusCode::OK);
    assert_eq!(client.get("/healthz").await.status, StatusCode::OK);
}

#[tokio::test]
async fn slow_requests_time_out_with_504() {
    let server =
        TestServer::start(|config, _| config.request_timeout = Duration::from_millis(200)).await;
    let client = server.client();
    assert_status(&client.get("/slow").await, 504, "Timeout");
    // Watches are exempt: one outliving the timeout still completes.
    let mut server = server;
    let watch = tokio::spawn({
        let client = client.clone();
        async move { client.get("/api/v1/pods?watch=true").await }
    });
    server.entered.recv().await.unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    server.release.notify_waiters();
    assert_eq!(watch.await.unwrap().status, StatusCode::OK);

    let server = TestServer::start(|_, _| {}).await;
    let client = server.client();
    assert_status(&client.get("/slow?timeout=100ms").await, 504, "Timeout");
    assert_status(&client.get("/slow?timeout=soon").await, 400, "BadRequest");
}

#[tokio::test]
async fn large_bodies_are_refused_with_413() {
    let server = TestServer::start(|_, _| {}).await;
    let client = server.client();
    let limit = 3 * 1024 * 1024;
    let small = client
        .send(Method::POST, "/echo", &[], Bytes::from_static(b"{\"a\":1}"))
        .await
        .unwrap();
    assert_eq!(
        (small.status, small.text().as_str()),
        (StatusCode::OK, "{\"a\":1}")
    );
    let declared = client
        .send(
            Method::POST,
            "/echo",
            &[],
            Bytes::from(vec![b'x'; limit + 1]),
        )
        .await
        .unwrap();
    assert_status(&declared, 413, "RequestEntityTooLarge");
    let streamed = client
        .send_body(Method::POST, "/echo", &[], Chunks::new(limit + 64 * 1024))
        .await
        .unwrap();
    assert_status(&streamed, 413, "RequestEntityTooLarge");
}

#[tokio::test]
async fn health_endpoints_verbose_exclude_and_single_checks() {
    let server = TestServer::start_with(
        |_, _| {},
        |server| {
            server.add_readyz_check(Arc::new(NamedCheck::new("etcd", || {
                Err("storage is down".to_string())
            })));
        },
    )
    .await;
    let client = server.client();
    let healthz = client.get("/healthz?verbose").await;
    assert_eq!(healthz.status, StatusCode::OK);
    assert_eq!(
        healthz.text(),
        "[+]ping ok\n[+]log ok\nhealthz check passed\n"
    );
    assert_eq!(healthz.headers["content-type"], "text/plain; charset=utf-8");
    assert_eq!(client.get("/livez").await.text(), "ok");

    let readyz = client.get("/readyz").await;
    assert_eq!(readyz.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        readyz.text(),
        "[+]ping ok\n[+]log ok\n[-]etcd failed: reason withheld\n[+]shutdown ok\nreadyz check failed\n"
    );
    let excluded = client.get("/readyz?verbose&exclude=etcd").await;
    assert_eq!(excluded.status, StatusCode::OK);
    assert_eq!(
        excluded.text(),
        "[+]ping ok\n[+]log ok\n[+]etcd excluded: ok\n[+]shutdown ok\nreadyz check passed\n"
    );
    assert_eq!(client.get("/readyz/ping").await.text(), "ok");
    let etcd = client.get("/readyz/etcd").await;
    assert_eq!(etcd.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(etcd.text(), "internal server error: storage is down\n");
    assert_status(&client.get("/readyz/nope").await, 404, "NotFound");
    assert_status(&client.get("/no/such/path").await, 404, "NotFound");
    let post = client
        .send(Method::POST, "/healthz", &[], Bytes::new())
        .await
        .unwrap();
    assert_status(&post, 405, "MethodNotAllowed");
    let post = client
        .send(Method::POST, "/version", &[], Bytes::new())
        .await
        .unwrap();
    assert_status(&post, 405, "MethodNotAllowed");
}

fn counter(metrics: &str, labels: &[&str]) -> u64 {
    metrics
        .lines()
        .filter(|line| line.starts_with("apiserver_request_total{"))
        .filter(|line| labels.iter().all(|label| line.contains(label)))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

#[tokio::test]
async fn metrics_count_requests_per_verb_and_code() {
    let resource = |group: &'static str, plural: &'static str| apiserver::registry::ResourceInfo {
        names: apiserver::registry::ResourceNames {
            group,
            version: "v1",
            kind: "Test",
            plural,
            singular: "test",
            namespaced: true,
            short_names: &[],
            categories: &[],
        },
        has_status: false,
        has_scale: false,
        create_only: false,
        create_subresources: Vec::new(),
    };
    let installed = [
        resource("", "pods"),
        resource("", "configmaps"),
        resource("apps", "deployments"),
    ];
    let server = TestServer::start_with(
        |_, _| {},
        |server| server.metrics().install_resources(&installed),
    )
    .await;
    let client = server.client();
    // Not installed: counted, but under empty resource labels.
    client.get("/apis/random.example/v1/things/x").await;
    client.get("/version").await;
    client.get("/version").await;
    client.get("/api/v1/namespaces/default/pods/p").await;
    client.get("/api/v1/namespaces/default/pods/p").await;
    client.get("/api/v1/namespaces/default/pods/p").await;
    client.get("/api/v1/namespaces/default/configmaps").await;
    client
        .send(Method::POST, "/echo", &[], Bytes::from_static(b"{}"))
        .await
        .unwrap();
    client
        .send(
            Method::DELETE,
            "/apis/apps/v1/deployments",
            &[],
            Bytes::new(),
        )
        .await
        .unwrap();
    let metrics = client.get("/metrics").await;
    assert_eq!(metrics.status, StatusCode::OK);
    assert!(
        metrics.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = metrics.text();
    let get_pod = [
        "verb=\"GET\"",
        "code=\"404\"",
        "resource=\"pods\"",
        "scope=\"resource\"",
        "version=\"v1\"",
    ];
    assert_eq!(counter(&text, &get_pod), 3, "{text}");
    assert_eq!(
        counter(
            &text,
            &[
                "verb=\"LIST\"",
                "resource=\"configmaps\"",
                "scope=\"namespace\""
            ]
        ),
        1
    );
    assert_eq!(counter(&text, &["verb=\"POST\"", "code=\"200\""]), 1);
    assert_eq!(
        counter(
            &text,
            &[
                "verb=\"DELETECOLLECTION\"",
                "group=\"apps\"",
                "scope=\"cluster\""
            ]
        ),
        1
    );
    assert!(counter(&text, &["verb=\"GET\"", "code=\"200\"", "resource=\"\""]) >= 2);
    assert!(
        !text.contains("random.example") && !text.contains("things"),
        "{text}"
    );
    assert!(text.contains("apiserver_request_duration_seconds_bucket{"));
    assert!(text.contains("apiserver_current_inflight_requests{request_kind=\"readOnly\"}"));
    assert!(text.contains("process_resident_memory_bytes"));
    assert!(text.contains("process_cpu_seconds_total"));
}

#[tokio::test]
async fn panics_become_500_status_and_the_server_keeps_serving() {
    let server = TestServer::start(|_, _| {}).await;
    let client = server.client();
    assert_status(&client.get("/panic").await, 500, "InternalError");
    assert_eq!(client.get("/healthz").await.status, StatusCode::OK);
}

#[tokio::test]
async fn cors_allows_matching_origins_before_authentication() {
    let server = TestServer::start(|config, _| {
        config.cors_allowed_origins = vec![regex::Regex::new("//good\\.example(:|$)").unwrap()];
        config.authenticator.anonymous = false;
    })
    .await;
    let client = server.client();
    let good = [("origin", "https://good.example")];
    let preflight = |origin: &'static str| {
        let client = &client;
        async move {
            client
                .send(
                    Method::OPTIONS,
                    "/version",
                    &[("origin", origin), ("access-control-request-method", "GET")],
                    Bytes::new(),
                )
                .await
                .unwrap()
        }
    };
    // An allowed origin's preflight is answered before authentication.
    let allowed = preflight("https://good.example").await;
    assert_eq!(allowed.status, StatusCode::NO_CONTENT);
    assert_eq!(
        allowed.headers["access-control-allow-origin"],
        "https://good.example"
    );
    assert_eq!(
        allowed.headers["access-control-allow-methods"],
        "POST, GET, OPTIONS, PUT, DELETE, PATCH"
    );
    assert_eq!(allowed.headers["access-control-allow-credentials"], "true");
    // Any other origin's preflight goes on to authentication, without CORS
    // headers.
    let refused = preflight("https://evil.example").await;
    assert_status(&refused, 401, "Unauthorized");
    assert!(!refused.headers.contains_key("access-control-allow-origin"));

    let simple = client
        .send(Method::GET, "/version", &good, Bytes::new())
        .await
        .unwrap();
    assert_status(&simple, 401, "Unauthorized");
    assert_eq!(
        simple.headers["access-control-allow-origin"],
        "https://good.example"
    );
    let evil = client
        .send(
            Method::GET,
            "/version",
            &[("origin", "https://evil.example")],
            Bytes::new(),
        )
        .await
        .unwrap();
    assert!(!evil.headers.contains_key("access-control-allow-origin"));
}

#[tokio::test]
async fn audit_log_records_events_at_the_policy_levels() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.log");
    let policy = Policy::parse(
        r#"
apiVersion: audit.k8s.io/v1
kind: Policy
rules:
  - level: None
    nonResourceURLs: ["/healthz*"]
  - level: RequestResponse
    nonResourceURLs: ["/echo"]
  - level: Metadata
"#,
    )
    .unwrap();
    let backend = LogBackend::open(&log).unwrap();
    let server = TestServer::start(move |config, _| {
        config.auditor = Some(Auditor { policy, backend });
        config.authenticator.tokens =
            vec![Arc::new(TokenFile::parse("t,alice,42,\"dev\"").unwrap())];
    })
    .await;
    let client = server.client();
    client.get("/healthz").await;
    let echo = client
        .send(
            Method::POST,
            "/echo",
            &[("authorization", "Bearer t"), ("user-agent", "audit-test")],
            Bytes::from_static(b"{\"hello\":\"world\"}"),
        )
        .await
        .unwrap();
    assert_eq!(echo.status, StatusCode::OK);
    let version = client
        .send(
            Method::GET,
            "/version",
            &[("authorization", "Bearer t")],
            Bytes::new(),
        )
        .await
        .unwrap();
    let rejected = client
        .send(
            Method::GET,
            "/version",
            &[("authorization", "Bearer wrong")],
            Bytes::new(),
        )
        .await
        .unwrap();
    assert_eq!(rejected.status, StatusCode::UNAUTHORIZED);
    let text = std::fs::read_to_string(&log).unwrap();
    let events: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.len(), 3, "{text}");
    let failed = &events[2];
    assert_eq!(failed["level"], "Metadata");
    assert_eq!(failed["user"], serde_json::json!({}));
    assert_eq!(failed["responseStatus"]["code"], 401);
    assert_eq!(failed["responseStatus"]["message"], "Authentication failed");
    let (echo_event, version_event) = (&events[0], &events[1]);
    assert_eq!(echo_event["kind"], "Event");
    assert_eq!(echo_event["apiVersion"], "audit.k8s.io/v1");
    assert_eq!(echo_event["level"], "RequestResponse");
    assert_eq!(echo_event["stage"], "ResponseComplete");
    assert_eq!(echo_event["verb"], "post");
    assert_eq!(echo_event["requestURI"], "/echo");
    assert_eq!(echo_event["user"]["username"], "alice");
    assert_eq!(echo_event["user"]["uid"], "42");
    assert_eq!(echo_event["userAgent"], "audit-test");
    assert_eq!(echo_event["sourceIPs"][0], "127.0.0.1");
    assert_eq!(echo_event["responseStatus"]["code"], 200);
    assert_eq!(echo_event["requestObject"]["hello"], "world");
    assert_eq!(echo_event["responseObject"]["hello"], "world");
    assert_eq!(
        echo_event["auditID"],
        echo.headers["audit-id"].to_str().unwrap()
    );
    assert_eq!(version_event["level"], "Metadata");
    assert!(version_event.get("requestObject").is_none());
    assert!(version_event.get("responseObject").is_none());
    assert_eq!(
        version_event["auditID"],
        version.headers["audit-id"].to_str().unwrap()
    );
}

#[tokio::test]
async fn shutdown_drains_in_flight_requests() {
    let mut server = TestServer::start(|_, _| {}).await;
    let client = server.client();
    let in_flight = tokio::spawn({
        let client = client.clone();
        async move { client.get("/slow").await }
    });
    server.entered.recv().await.unwrap();
    server.shutdown();
    // Wait until the listener is closed: new connections are refused.
    loop {
        if tokio::net::TcpStream::connect(server.addr).await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        !server.task.is_finished(),
        "the server must wait for the in-flight request"
    );
    server.release.notify_waiters();
    let reply = in_flight.await.unwrap();
    assert_eq!(
        (reply.status, reply.text().as_str()),
        (StatusCode::OK, "released")
    );
    (&mut server.task).await.unwrap().unwrap();
}

#[tokio::test]
async fn readyz_fails_during_the_shutdown_delay() {
    let mut server =
        TestServer::start(|config, _| config.shutdown_delay = Duration::from_secs(600)).await;
    let client = server.client();
    assert_eq!(client.get("/readyz").await.status, StatusCode::OK);
    server.shutdown();
    let failing = loop {
        let reply = client.get("/readyz?verbose").await;
        if reply.status != StatusCode::OK {
            break reply;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(failing.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        failing
            .text()
            .contains("[-]shutdown failed: reason withheld\n"),
        "{}",
        failing.text()
    );
    assert!(failing.text().ends_with("readyz check failed\n"));
    // Liveness is unaffected and requests are still served during the delay.
    assert_eq!(client.get("/livez").await.text(), "ok");
    assert_eq!(client.get("/version").await.status, StatusCode::OK);
    server.task.abort();
}

#[tokio::test]
async fn port_sharing_lets_two_servers_bind_one_port() {
    let first = TestServer::start(|config, _| config.permit_port_sharing = true).await;
    let port = first.addr.port();
    // The kernel spreads connections over both: serve the same certificate.
    let shared = apiserver::server::self_signed::CertKeyPaths::in_dir(first.dir.path());
    let second = TestServer::start(move |config, _| {
        config.permit_port_sharing = true;
        config.bind_address = format!("127.0.0.1:{port}").parse().unwrap();
        config.tls = tls::server_config(&tls::TlsSettings {
            cert_file: &shared.cert,
            key_file: &shared.key,
            client_ca_file: None,
            min_version: None,
            cipher_suites: &[],
            sni_cert_keys: &[],
        })
        .unwrap();
    })
    .await;
    assert_eq!(second.addr, first.addr);
    for _ in 0..4 {
        assert_eq!(first.client().get("/healthz").await.status, StatusCode::OK);
    }

    // Without the flag, the port is taken: a clear error, no panic.
    let dir = tempfile::tempdir().unwrap();
    let mut config = common::base_config(dir.path());
    config.bind_address = first.addr;
    let err = apiserver::server::Server::new(config)
        .unwrap()
        .prepare_run()
        .await
        .err()
        .expect("bind must fail");
    assert!(
        format!("{err:#}").contains("failed to listen on 127.0.0.1:"),
        "{err:#}"
    );
}

#[tokio::test]
async fn sni_certificates_are_chosen_by_server_name() {
    let sni_dir = tempfile::tempdir().unwrap();
    let (sni, _) = apiserver::server::self_signed::ensure(
        sni_dir.path(),
        "sni.example",
        &["*.wild.example"],
        &[],
    )
    .unwrap();
    let pair = format!(
        "{},{}:sni.example,*.wild.example",
        sni.cert.display(),
        sni.key.display()
    );
    let server = TestServer::start(move |config, dir| {
        let paths = apiserver::server::self_signed::CertKeyPaths::in_dir(dir);
        config.tls = tls::server_config(&tls::TlsSettings {
            cert_file: &paths.cert,
            key_file: &paths.key,
            client_ca_file: None,
            min_version: None,
            cipher_suites: &[],
            sni_cert_keys: &[pair],
        })
        .unwrap();
    })
    .await;
    // The default certificate for names that match no pair.
    assert_eq!(server.client().get("/healthz").await.status, StatusCode::OK);
    // The SNI pair, verified against its own CA, for the exact and wildcard names.
    for name in ["sni.example", "api.wild.example"] {
        let client = Client::new(server.addr, &sni.cert).with_server_name(name);
        assert_eq!(
            client.get("/healthz").await.status,
            StatusCode::OK,
            "{name}"
        );
    }
    // The default certificate does not verify against the SNI CA.
    let wrong = Client::new(server.addr, &sni.cert);
    assert!(
        wrong
            .send(Method::GET, "/healthz", &[], Bytes::new())
            .await
            .is_err()
    );
}
