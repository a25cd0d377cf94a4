//! Behaviour specific to the etcd backend, on a real etcd: `--etcd-prefix`
//! isolation, the compactor's coordination between apiservers, and what a
//! client sees while etcd is down and after it returns.

use std::time::{Duration, Instant};

use apiserver_storage::etcd::compactor::{self, Round};
use apiserver_storage::etcd::test_server::EtcdServer;
use apiserver_storage::{
    EtcdStorage, ListOptions, Revision, Storage, StorageError, WatchEvent, WatchOptions,
    WatchStream,
};
use bytes::Bytes;
use futures_util::StreamExt as _;

async fn watch_pods_from_now(store: &EtcdStorage) -> WatchStream {
    store
        .watch(
            "/registry/pods/",
            WatchOptions {
                revision: None,
                recursive: true,
            },
        )
        .await
        .expect("watch")
}

async fn connect(server: &EtcdServer, prefix: &str) -> EtcdStorage {
    EtcdStorage::connect(&server.config(prefix))
        .await
        .expect("connect to etcd")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefixes_are_separate_key_spaces() {
    let server = EtcdServer::start().await;
    let default = connect(&server, "/registry").await;
    let other = connect(&server, "/kube/").await;
    default
        .create("/registry/pods/ns/a", Bytes::from_static(b"default"))
        .await
        .expect("create");
    other
        .create("/registry/pods/ns/a", Bytes::from_static(b"other"))
        .await
        .expect("the same registry key under another prefix is another etcd key");
    let listed = other
        .list("/registry/pods/", ListOptions::default())
        .await
        .expect("list");
    assert_eq!(listed.items.len(), 1);
    assert_eq!(listed.items[0].key, "/registry/pods/ns/a");
    assert_eq!(listed.items[0].value, Bytes::from_static(b"other"));
    // What upstream's tools see: the key under the prefix.
    let mut raw = other.client().kv_client();
    let stored = raw.get("/kube/pods/ns/a", None).await.expect("raw get");
    assert_eq!(stored.kvs()[0].value(), b"other");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apiservers_compact_once_per_round_to_the_previous_rounds_revision() {
    let server = EtcdServer::start().await;
    let first = connect(&server, "/registry").await;
    let second = connect(&server, "/registry").await;
    let write = |n: u32| {
        let first = first.clone();
        async move {
            first
                .create(
                    &format!("/registry/pods/ns/p{n}"),
                    Bytes::from_static(b"{}"),
                )
                .await
                .expect("create")
                .mod_revision
        }
    };
    let early = write(0).await;
    // Round one: the first apiserver takes version 0 and records the
    // current revision; the second learns the version and compacts nothing.
    let a = compactor::compact_round(&first, Round::default())
        .await
        .expect("round");
    let b = compactor::compact_round(&second, Round::default())
        .await
        .expect("round");
    assert_eq!((a.version, b.version), (1, 1));
    let recorded = a.revision;
    assert!(recorded >= early);
    let later = write(1).await;
    // Round two: whoever wins compacts to what round one recorded.
    let b = compactor::compact_round(&second, b).await.expect("round");
    assert_eq!(b.version, 2);
    let a = compactor::compact_round(&first, a).await.expect("round");
    assert_eq!(a.version, 2, "the loser follows the winner's version");
    let expired = first
        .list(
            "/registry/pods/",
            ListOptions {
                revision: Some(Revision::new(early.get() - 1)),
                ..ListOptions::default()
            },
        )
        .await;
    assert!(
        matches!(expired, Err(StorageError::Expired { .. })),
        "history before the recorded revision is compacted: {expired:?}"
    );
    let kept = first
        .list(
            "/registry/pods/",
            ListOptions {
                revision: Some(later),
                ..ListOptions::default()
            },
        )
        .await
        .expect("history after the recorded revision is kept");
    assert_eq!(kept.items.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_etcd_is_down_requests_fail_fast_and_recover_after() {
    let mut server = EtcdServer::start().await;
    let mut config = server.config("/registry");
    config.request_timeout = Duration::from_secs(3);
    let store = EtcdStorage::connect(&config).await.expect("connect");
    store
        .create("/registry/pods/ns/before", Bytes::from_static(b"1"))
        .await
        .expect("create");
    let mut watch = watch_pods_from_now(&store).await;

    server.stop();
    let started = Instant::now();
    let health = store.check_health().await;
    assert!(health.is_err(), "the health check fails: {health:?}");
    let write = store
        .create("/registry/pods/ns/during", Bytes::from_static(b"2"))
        .await;
    let err = write.expect_err("a write without etcd fails");
    assert_eq!(err.code(), 500, "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "requests fail within their timeout, not hang: {:?}",
        started.elapsed()
    );
    // The watch ends with an error instead of hanging.
    let ended = tokio::time::timeout(Duration::from_secs(30), watch.next())
        .await
        .expect("the watch ends while etcd is down");
    assert!(matches!(ended, Some(Err(_)) | None), "{ended:?}");

    server.restart().await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match store
            .create("/registry/pods/ns/after", Bytes::from_static(b"3"))
            .await
        {
            Ok(_) => break,
            Err(err) if Instant::now() < deadline => {
                tracing::debug!(%err, "etcd not back yet");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(err) => panic!("the same client works again once etcd is back: {err}"),
        }
    }
    store.check_health().await.expect("healthy again");
    let listed = store
        .list("/registry/pods/", ListOptions::default())
        .await
        .expect("list");
    let keys: Vec<&str> = listed.items.iter().map(|kv| kv.key.as_str()).collect();
    assert_eq!(
        keys,
        ["/registry/pods/ns/after", "/registry/pods/ns/before"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_outlives_the_request_timeout() {
    let server = EtcdServer::start().await;
    let mut config = server.config("/registry");
    config.request_timeout = Duration::from_secs(1);
    let store = EtcdStorage::connect(&config).await.expect("connect");
    let mut watch = watch_pods_from_now(&store).await;
    // Idle for longer than any single request may take.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let created = store
        .create("/registry/pods/ns/late", Bytes::from_static(b"1"))
        .await
        .expect("create");
    let event = tokio::time::timeout(Duration::from_secs(20), watch.next())
        .await
        .expect("an event within the hang guard")
        .expect("the watch is still open")
        .expect("an event, not an error");
    assert_eq!(event.revision(), created.mod_revision);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_a_client_certificate_and_without() {
    let server = EtcdServer::start_tls().await;
    let store = connect(&server, "/registry").await;
    store
        .create("/registry/pods/ns/secure", Bytes::from_static(b"1"))
        .await
        .expect("a client with etcd's CA and a client certificate writes");

    let mut anonymous = server.config("/registry");
    anonymous.tls.cert_file = None;
    anonymous.tls.key_file = None;
    anonymous.request_timeout = Duration::from_secs(3);
    let refused = match EtcdStorage::connect(&anonymous).await {
        Ok(store) => store.get("/registry/pods/ns/secure").await.map(|_| ()),
        Err(err) => Err(err),
    };
    assert!(refused.is_err(), "etcd requires a client certificate");

    let mut half = server.config("/registry");
    half.tls.key_file = None;
    let err = EtcdStorage::connect(&half)
        .await
        .expect_err("a certificate without its key");
    assert!(
        err.to_string()
            .contains("--etcd-certfile and --etcd-keyfile must be given together"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leased_key_lives_while_renewed_and_goes_after_its_ttl() {
    let server = EtcdServer::start().await;
    let store = connect(&server, "/registry").await;
    let ttl = Duration::from_secs(2);
    let renewed = "/registry/masterleases/10.0.0.1";
    let abandoned = "/registry/masterleases/10.0.0.2";
    store
        .put_with_ttl(abandoned, Bytes::from_static(b"{}"), ttl)
        .await
        .expect("lease");
    let started = Instant::now();
    loop {
        let kv = store
            .put_with_ttl(renewed, Bytes::from_static(b"{}"), ttl)
            .await
            .expect("renew");
        assert_eq!(kv.key, renewed);
        if store.get(abandoned).await.is_err() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "the abandoned key outlived its TTL"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(
        started.elapsed() >= Duration::from_millis(1500),
        "not before its TTL"
    );
    store
        .get(renewed)
        .await
        .expect("the renewed key is still there");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_larger_than_grpcs_default_message_limit() {
    let server = EtcdServer::start().await;
    let store = connect(&server, "/registry").await;
    // Six values of 1 MiB (under etcd's 1.5 MiB request limit): a 6 MiB
    // list, past gRPC's default 4 MiB response limit.
    let value = Bytes::from(vec![b'x'; 1 << 20]);
    for i in 0..6 {
        store
            .create(&format!("/registry/configmaps/ns/big-{i}"), value.clone())
            .await
            .expect("create");
    }
    let listed = store
        .list("/registry/configmaps/", ListOptions::default())
        .await
        .expect("the whole list");
    assert_eq!(listed.items.len(), 6);
    assert!(listed.items.iter().all(|kv| kv.value.len() == 1 << 20));
}

/// A member that is gone (nothing listens at its address) stops getting
/// requests once the prober notices: every request after that succeeds
/// through the member that answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_that_is_gone_gets_no_more_requests() {
    let server = EtcdServer::start().await;
    let gone = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let gone_url = format!("http://{}", gone.local_addr().expect("address"));
    drop(gone);
    let mut config = server.config("/registry");
    config.endpoints = vec![gone_url, server.url().to_owned()];
    let store = EtcdStorage::connect(&config).await.expect("connect");
    tokio::time::sleep(
        apiserver_storage::etcd::members::PROBE_INTERVAL
            + apiserver_storage::etcd::members::PROBE_TIMEOUT,
    )
    .await;
    store
        .create("/registry/configmaps/default/a", Bytes::from_static(b"a"))
        .await
        .expect("a write through the member that answers");
    for n in 0..40 {
        store
            .get("/registry/configmaps/default/a")
            .await
            .unwrap_or_else(|err| panic!("read {n} went to the gone member: {err}"));
    }
}

/// A watch that sees no events still learns how far etcd has got: it asks
/// every progress interval, and the answer names a revision at least as new
/// as the writes elsewhere (what a bookmark then carries).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quiet_watch_reports_progress() {
    let server = EtcdServer::start().await;
    let mut config = server.config("/registry");
    config.watch_progress_interval = Duration::from_millis(200);
    let store = EtcdStorage::connect(&config).await.expect("connect");
    let mut watch = watch_pods_from_now(&store).await;
    let elsewhere = store
        .create(
            "/registry/configmaps/default/elsewhere",
            Bytes::from_static(b"x"),
        )
        .await
        .expect("a write outside the watch");
    let progressed = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match watch.next().await {
                Some(Ok(WatchEvent::Progress(revision))) if revision >= elsewhere.mod_revision => {
                    return revision;
                }
                Some(Ok(WatchEvent::Progress(_))) => continue,
                other => panic!("a quiet watch gave {other:?}"),
            }
        }
    })
    .await
    .expect("progress within 5 s");
    assert!(progressed >= elsewhere.mod_revision);
}
