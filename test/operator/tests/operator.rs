//! The greeting controller (kube-rs: `Controller`, finalizers, events,
//! status, leader election on a Lease) against a real apiserver process:
//! its definition is created and established, two candidates start, the
//! leader converges each greeting (ConfigMap, event, status), follows an
//! update and a delete, and the other takes over when the leader stops.

mod support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::wait::{await_condition, conditions};
use kube::{Api, CustomResourceExt, ResourceExt};
use serde_json::json;

use kube_test_operator::greeting::{Greeting, GreetingSpec, config_map_name};
use kube_test_operator::leader::LeaseLock;
use kube_test_operator::reconciler::{Context, FINALIZER, run};

const WAIT: Duration = Duration::from_secs(30);

async fn holder(leases: &Api<Lease>) -> Option<String> {
    leases
        .get_opt("greeting-controller")
        .await
        .ok()
        .flatten()
        .and_then(|lease| lease.spec?.holder_identity)
}

/// Waits until the greeting's status says the ConfigMap holds `message`
/// for its current generation.
async fn converged(
    greetings: &Api<Greeting>,
    config_maps: &Api<ConfigMap>,
    name: &str,
    message: &str,
) {
    support::eventually(
        &format!("{name} converged on {message:?}"),
        WAIT,
        || async {
            let greeting = greetings.get(name).await.ok()?;
            let status = greeting.status.clone()?;
            let current =
                status.ready && status.observed_generation == greeting.metadata.generation;
            let config_map = config_maps.get(&config_map_name(name)).await.ok()?;
            let data = config_map.data?;
            (current && data.get("message").map(String::as_str) == Some(message)).then_some(())
        },
    )
    .await;
}

#[tokio::test]
async fn a_kube_rs_controller_converges_against_the_apiserver() {
    let running = support::start().await;
    let client = support::client(&running.server).await;

    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.create(&PostParams::default(), &Greeting::crd())
        .await
        .expect("create the definition");
    tokio::time::timeout(
        WAIT,
        await_condition(
            crds,
            "greetings.example.com",
            conditions::is_crd_established(),
        ),
    )
    .await
    .expect("established in time")
    .expect("watch the definition");

    let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-system");
    let lock = |identity: &str| LeaseLock {
        leases: leases.clone(),
        name: "greeting-controller".into(),
        identity: identity.into(),
        duration: Duration::from_secs(2),
    };
    let first = Context::new(client.clone(), "first");
    let leader = tokio::spawn(run(lock("first"), first.clone()));
    support::eventually("the first candidate leads", WAIT, || async {
        (holder(&leases).await.as_deref() == Some("first")).then_some(())
    })
    .await;
    let second = Context::new(client.clone(), "second");
    let standby = tokio::spawn(run(lock("second"), second.clone()));

    let greetings: Api<Greeting> = Api::namespaced(client.clone(), "default");
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    // The definition's CEL rule refuses an empty greeting, as kube-rs
    // hears it: a 422 with the rule's message.
    let refused = greetings
        .create(
            &PostParams::default(),
            &Greeting::new(
                "silent",
                GreetingSpec {
                    message: String::new(),
                },
            ),
        )
        .await
        .expect_err("an empty greeting is refused");
    match refused {
        kube::Error::Api(status) => {
            assert_eq!(status.code, 422, "{status:?}");
            assert!(
                status
                    .message
                    .contains("Invalid value: a greeting says something"),
                "{status:?}"
            );
        }
        other => panic!("not the apiserver's refusal: {other:?}"),
    }
    let mut reconciled = first.reconciled.subscribe();
    greetings
        .create(
            &PostParams::default(),
            &Greeting::new(
                "hello",
                GreetingSpec {
                    message: "hello".into(),
                },
            ),
        )
        .await
        .expect("create a greeting");
    tokio::time::timeout(WAIT, reconciled.changed())
        .await
        .expect("a reconcile in time")
        .expect("the controller runs");
    eprintln!(
        "server start to the controller's first reconcile: {:?} (the server was ready after {:?})",
        running.started.elapsed(),
        running.ready_after
    );
    converged(&greetings, &config_maps, "hello", "hello").await;

    let greeting = greetings.get("hello").await.expect("get the greeting");
    assert!(
        greeting.finalizers().iter().any(|f| f == FINALIZER),
        "{greeting:?}"
    );
    let config_map = config_maps
        .get(&config_map_name("hello"))
        .await
        .expect("its ConfigMap");
    let owner = &config_map.owner_references()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str()),
        ("Greeting", "hello")
    );
    let events: Api<Event> = Api::namespaced(client.clone(), "default");
    let reconciled_events = events
        .list(&ListParams::default().fields("regarding.name=hello"))
        .await
        .expect("list events");
    assert!(
        reconciled_events
            .items
            .iter()
            .any(|event| event.reason.as_deref() == Some("Reconciled")
                && event.reporting_controller.as_deref() == Some("greeting-controller")),
        "{:?}",
        reconciled_events.items
    );

    // An update is followed, at the next generation.
    greetings
        .patch(
            "hello",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"message": "hi"}})),
        )
        .await
        .expect("update the greeting");
    converged(&greetings, &config_maps, "hello", "hi").await;
    assert_eq!(
        greetings.get("hello").await.unwrap().metadata.generation,
        Some(2)
    );

    // A delete waits for the finalizer, which deletes the ConfigMap.
    greetings
        .delete("hello", &DeleteParams::default())
        .await
        .expect("delete the greeting");
    support::eventually("the greeting and its ConfigMap gone", WAIT, || async {
        let greeting = greetings.get_opt("hello").await.ok()?;
        let config_map = config_maps.get_opt(&config_map_name("hello")).await.ok()?;
        (greeting.is_none() && config_map.is_none()).then_some(())
    })
    .await;
    assert_eq!(
        second.reconciles.load(Ordering::SeqCst),
        0,
        "the standby reconciled"
    );

    // The leader stops renewing: the standby takes the lease and reconciles.
    leader.abort();
    support::eventually("the second candidate leads", WAIT, || async {
        (holder(&leases).await.as_deref() == Some("second")).then_some(())
    })
    .await;
    greetings
        .create(
            &PostParams::default(),
            &Greeting::new(
                "again",
                GreetingSpec {
                    message: "again".into(),
                },
            ),
        )
        .await
        .expect("create another greeting");
    converged(&greetings, &config_maps, "again", "again").await;
    assert!(second.reconciles.load(Ordering::SeqCst) > 0);
    let lease = leases.get("greeting-controller").await.unwrap();
    assert_eq!(lease.spec.unwrap().lease_transitions, Some(1));
    standby.abort();
}
