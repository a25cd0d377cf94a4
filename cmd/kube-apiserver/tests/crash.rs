//! Durability: a server taking a stream of creates is killed with SIGKILL
//! mid-stream; after a restart on the same `--data-dir`, every create that
//! was answered 201 is there, and the revision continues past them.

mod support;

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::sync::Mutex;

use support::Server;

#[tokio::test]
async fn every_acknowledged_create_survives_sigkill() {
    let mut server = Server::start().await;
    let acknowledged = Arc::new(Mutex::new(Vec::<(String, u64)>::new()));

    // Four writers, each a stream of creates, until the kill stops them.
    let port_server = &server;
    let writers = async {
        let mut tasks = Vec::new();
        for writer in 0..4 {
            let acknowledged = acknowledged.clone();
            tasks.push(async move {
                for i in 0..10_000 {
                    let name = format!("w{writer}-{i}");
                    let body = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"i": i.to_string()}});
                    let Ok(bytes) = serde_json::to_vec(&body) else { return };
                    match port_server
                        .raw("POST", "/api/v1/namespaces/default/configmaps", Some(bytes), "application/json")
                        .await
                    {
                        Ok((201, text)) => {
                            let created: serde_json::Value = serde_json::from_str(&text).expect("JSON reply");
                            let rv = created["metadata"]["resourceVersion"].as_str().unwrap().parse().unwrap();
                            acknowledged.lock().await.push((name, rv));
                        }
                        _ => return,
                    }
                }
            });
        }
        futures_util::future::join_all(tasks).await;
    };
    let killer = async {
        // Let a few hundred creates land, then crash.
        loop {
            tokio::time::sleep(Duration::from_millis(50)).await;
            if acknowledged.lock().await.len() >= 300 {
                break;
            }
        }
    };
    tokio::select! {
        _ = writers => panic!("the writers finished before the kill"),
        _ = killer => {}
    }
    // The writers future is dropped: in-flight requests are abandoned, as a
    // crash leaves them. Kill now.
    server.kill9();
    let acknowledged = acknowledged.lock().await.clone();
    assert!(acknowledged.len() >= 300);

    server.spawn().await;
    let mut max_rv = 0;
    for (name, rv) in &acknowledged {
        let (code, body) = server
            .get(&format!("/api/v1/namespaces/default/configmaps/{name}"))
            .await;
        assert_eq!(code, 200, "{name} was acknowledged but is gone: {body}");
        assert_eq!(
            body["metadata"]["resourceVersion"]
                .as_str()
                .unwrap()
                .parse::<u64>()
                .unwrap(),
            *rv
        );
        max_rv = max_rv.max(*rv);
    }
    let (code, created) = server
        .post(
            "/api/v1/namespaces/default/configmaps",
            &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "after"}}),
        )
        .await;
    assert_eq!(code, 201, "{created}");
    let rv: u64 = created["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        rv > max_rv,
        "the revision continues after a restart: {rv} <= {max_rv}"
    );
}
