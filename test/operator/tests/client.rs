//! kube-rs's everyday client calls against a real apiserver process, as an
//! operator author's code makes them: version and discovery, create, get,
//! list with label selectors and pages, the four patch kinds (server-side
//! apply conflicts included), replace with a stale resourceVersion, watch,
//! `/scale`, delete and deleteCollection, dynamic objects, and the error
//! each failure reads as.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{
    ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams,
    WatchEvent, WatchParams,
};
use kube::core::ErrorResponse;
use kube::discovery::Discovery;
use kube::{Api, ResourceExt};
use serde_json::json;

fn config_map(name: &str, labels: &[(&str, &str)]) -> ConfigMap {
    serde_json::from_value(json!({
        "metadata": {
            "name": name,
            "labels": labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>(),
        },
        "data": {"key": "value"},
    }))
    .unwrap()
}

fn api_error(result: kube::Result<impl std::fmt::Debug>) -> ErrorResponse {
    match result {
        Err(kube::Error::Api(status)) => status,
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn kube_rs_everyday_calls() {
    let running = support::start().await;
    let client = support::client(&running.server).await;

    let version = client.apiserver_version().await.expect("/version");
    assert_eq!(
        (version.major.as_str(), version.minor.as_str()),
        ("1", "32")
    );
    let discovery = Discovery::new(client.clone())
        .run()
        .await
        .expect("discovery");
    assert!(discovery.has_group("apps") && discovery.has_group("events.k8s.io"));
    let (deployments_resource, _) = discovery
        .groups()
        .find(|group| group.name() == "apps")
        .and_then(|group| group.recommended_kind("Deployment"))
        .expect("apps/v1 Deployment discovered");
    assert_eq!(deployments_resource.plural, "deployments");

    let namespaces: Api<Namespace> = Api::all(client.clone());
    let namespace: Namespace =
        serde_json::from_value(json!({"metadata": {"name": "kube-rs"}})).unwrap();
    namespaces
        .create(&PostParams::default(), &namespace)
        .await
        .expect("create a namespace");

    // Create, get, list by label, in pages.
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), "kube-rs");
    for index in 0..5 {
        let tier = if index % 2 == 0 { "even" } else { "odd" };
        config_maps
            .create(
                &PostParams::default(),
                &config_map(&format!("cm-{index}"), &[("app", "demo"), ("tier", tier)]),
            )
            .await
            .expect("create a ConfigMap");
    }
    let status = api_error(
        config_maps
            .create(&PostParams::default(), &config_map("cm-0", &[]))
            .await,
    );
    assert_eq!(
        (status.code, status.reason.as_str()),
        (409, "AlreadyExists")
    );
    assert!(config_maps.get_opt("missing").await.unwrap().is_none());
    let status = api_error(config_maps.get("missing").await);
    assert_eq!((status.code, status.reason.as_str()), (404, "NotFound"));

    let even = config_maps
        .list(&ListParams::default().labels("app=demo,tier=even"))
        .await
        .unwrap();
    assert_eq!(even.items.len(), 3);
    let mut names = Vec::new();
    let mut params = ListParams::default().labels("app=demo").limit(2);
    loop {
        let page = config_maps.list(&params).await.unwrap();
        assert!(page.items.len() <= 2);
        names.extend(page.items.iter().map(ResourceExt::name_any));
        match page.metadata.continue_.filter(|token| !token.is_empty()) {
            Some(token) => params = params.continue_token(&token),
            None => break,
        }
    }
    assert_eq!(names, ["cm-0", "cm-1", "cm-2", "cm-3", "cm-4"]);

    // A watch from the list's revision sees the next change.
    let revision = config_maps
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let mut events = config_maps
        .watch(&WatchParams::default().timeout(10), &revision)
        .await
        .expect("watch")
        .boxed();

    // Merge, JSON and strategic merge patches.
    config_maps
        .patch(
            "cm-0",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"merged": "yes"}})),
        )
        .await
        .unwrap();
    let patch: json_patch::Patch =
        serde_json::from_value(json!([{"op": "add", "path": "/data/json", "value": "yes"}]))
            .unwrap();
    config_maps
        .patch("cm-0", &PatchParams::default(), &Patch::<()>::Json(patch))
        .await
        .unwrap();
    let patched = config_maps.get("cm-0").await.unwrap();
    let data = patched.data.clone().unwrap();
    assert_eq!(
        (data["merged"].as_str(), data["json"].as_str()),
        ("yes", "yes")
    );
    match tokio::time::timeout(Duration::from_secs(10), events.try_next()).await {
        Ok(Ok(Some(WatchEvent::Modified(changed)))) => assert_eq!(changed.name_any(), "cm-0"),
        other => panic!("expected the patch's MODIFIED event, got {other:?}"),
    }

    // Replace with a stale resourceVersion: 409 Conflict.
    let mut stale = patched.clone();
    stale.metadata.resource_version = Some(revision.clone());
    let status = api_error(
        config_maps
            .replace("cm-0", &PostParams::default(), &stale)
            .await,
    );
    assert_eq!((status.code, status.reason.as_str()), (409, "Conflict"));

    // Server-side apply: a second manager conflicts until it forces.
    let applied = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "applied"},
                         "data": {"owner": "first"}});
    config_maps
        .patch(
            "applied",
            &PatchParams::apply("first"),
            &Patch::Apply(&applied),
        )
        .await
        .unwrap();
    let second = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "applied"},
                        "data": {"owner": "second"}});
    let status = api_error(
        config_maps
            .patch(
                "applied",
                &PatchParams::apply("second"),
                &Patch::Apply(&second),
            )
            .await,
    );
    assert_eq!((status.code, status.reason.as_str()), (409, "Conflict"));
    let forced = config_maps
        .patch(
            "applied",
            &PatchParams::apply("second").force(),
            &Patch::Apply(&second),
        )
        .await
        .unwrap();
    assert_eq!(forced.data.unwrap()["owner"], "second");

    // A deployment: strategic merge on its containers, then /scale.
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "kube-rs");
    let deployment: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx:1.27"},
                                        {"name": "sidecar", "image": "busybox"}]},
            },
        },
    }))
    .unwrap();
    deployments
        .create(&PostParams::default(), &deployment)
        .await
        .unwrap();
    let strategic = json!({"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.28"}]}}}});
    let patched = deployments
        .patch("web", &PatchParams::default(), &Patch::Strategic(strategic))
        .await
        .unwrap();
    let containers = patched.spec.unwrap().template.spec.unwrap().containers;
    let images: Vec<(&str, Option<&str>)> = containers
        .iter()
        .map(|c| (c.name.as_str(), c.image.as_deref()))
        .collect();
    assert_eq!(
        images,
        [("web", Some("nginx:1.28")), ("sidecar", Some("busybox"))]
    );
    deployments
        .patch_scale(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 3}})),
        )
        .await
        .unwrap();
    let scale = deployments.get_scale("web").await.unwrap();
    assert_eq!(scale.spec.and_then(|spec| spec.replicas), Some(3));

    // Dynamic objects, through the discovered resource.
    let resource = ApiResource::erase::<ConfigMap>(&());
    let dynamic: Api<DynamicObject> = Api::namespaced_with(client.clone(), "kube-rs", &resource);
    let object = dynamic.get("cm-1").await.unwrap();
    assert_eq!(object.data["data"]["key"], "value");

    // Deletes: one in the background, then a collection by label.
    deployments
        .delete("web", &DeleteParams::background())
        .await
        .unwrap();
    config_maps
        .delete_collection(
            &DeleteParams::default(),
            &ListParams::default().labels("tier=odd"),
        )
        .await
        .unwrap();
    let left: Vec<String> = config_maps
        .list(&ListParams::default().labels("app=demo"))
        .await
        .unwrap()
        .items
        .iter()
        .map(ResourceExt::name_any)
        .collect();
    assert_eq!(left, ["cm-0", "cm-2", "cm-4"]);
}
