//! `Store<S>` on a temporary embedded store with a small strategy of its
//! own: the write path's retries, allocations, validation, finalizers and
//! deletion preconditions, without a server.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};

use apimachinery::validation::field::{self, ErrorList};
use apiserver_storage::{EmbeddedOptions, EmbeddedStorage};
use k8s_openapi::api::core::v1::ConfigMap;

use super::*;
use crate::registry::rest::{DeleteOptions, Subresource};
use crate::registry::{ResourceNames, StatusStrategy};

/// ConfigMaps whose `data.counter` must be a number, and whose updates hold
/// one unit of a pool while they are in flight (a stand-in for a service's
/// cluster IP): `held` counts the units taken and not given back. With
/// `with_status`, a `/status` subresource that changes `data.status` only.
struct CountingStrategy {
    names: ResourceNames,
    held: Arc<AtomicI64>,
    deleted: AtomicUsize,
    with_status: bool,
}

impl CountingStrategy {
    fn new() -> Self {
        CountingStrategy {
            names: ResourceNames {
                group: "",
                version: "v1",
                kind: "ConfigMap",
                plural: "configmaps",
                singular: "configmap",
                namespaced: true,
                short_names: &[],
                categories: &[],
            },
            held: Arc::new(AtomicI64::new(0)),
            deleted: AtomicUsize::new(0),
            with_status: false,
        }
    }
}

impl Strategy for CountingStrategy {
    type Object = ConfigMap;

    fn names(&self) -> &ResourceNames {
        &self.names
    }

    fn status(&self) -> Option<&dyn StatusStrategy<ConfigMap>> {
        self.with_status.then_some(self)
    }

    fn validate(&self, obj: &ConfigMap) -> ErrorList {
        let counter = obj
            .data
            .as_ref()
            .and_then(|data| data.get("counter"))
            .map(String::as_str)
            .unwrap_or("0");
        if counter.parse::<u64>().is_ok() {
            Vec::new()
        } else {
            vec![field::Error::invalid(
                &field::Path::new("data").key("counter"),
                counter,
                "must be a number",
            )]
        }
    }

    async fn begin_update(
        &self,
        _new: &mut ConfigMap,
        _old: &ConfigMap,
        dry_run: bool,
    ) -> Result<Option<FinishFunc>, Status> {
        if dry_run {
            return Ok(None);
        }
        self.held.fetch_add(1, Ordering::SeqCst);
        let held = Arc::clone(&self.held);
        Ok(Some(Box::new(move |committed| {
            if !committed {
                held.fetch_sub(1, Ordering::SeqCst);
            }
            Box::pin(std::future::ready(()))
        })))
    }

    async fn after_delete(&self, _obj: &ConfigMap) {
        self.deleted.fetch_add(1, Ordering::SeqCst);
    }
}

impl StatusStrategy<ConfigMap> for CountingStrategy {
    fn prepare_for_status_update(&self, new: &mut ConfigMap, old: &ConfigMap) {
        let status = new
            .data
            .as_ref()
            .and_then(|data| data.get("status"))
            .cloned();
        let mut kept = old.data.clone().unwrap_or_default();
        match status {
            Some(status) => kept.insert("status".to_owned(), status),
            None => kept.remove("status"),
        };
        new.data = Some(kept);
    }
}

async fn store() -> (tempfile::TempDir, Arc<Store<CountingStrategy>>) {
    store_of(CountingStrategy::new()).await
}

async fn store_of(strategy: CountingStrategy) -> (tempfile::TempDir, Arc<Store<CountingStrategy>>) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let storage = EmbeddedStorage::open(dir.path(), EmbeddedOptions::default())
        .await
        .expect("an embedded store");
    let store = Store::new(
        Arc::new(strategy),
        Arc::new(storage),
        admission::Chain::default(),
    );
    (dir, Arc::new(store))
}

fn config_map(name: &str, data: &[(&str, &str)]) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            ..ObjectMeta::default()
        },
        data: Some(
            data.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<BTreeMap<_, _>>(),
        ),
        ..ConfigMap::default()
    }
}

/// `data.counter`, 0 when unset.
fn counter(obj: &ConfigMap) -> u64 {
    obj.data
        .as_ref()
        .and_then(|data| data.get("counter"))
        .map_or(0, |n| n.parse().expect("a number"))
}

fn increment(obj: &ConfigMap) -> Result<ConfigMap, Status> {
    let mut next = obj.clone();
    next.data
        .get_or_insert_with(BTreeMap::new)
        .insert("counter".to_owned(), (counter(obj) + 1).to_string());
    Ok(next)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_updates_lose_nothing_and_give_back_what_retries_took() {
    const WRITERS: u64 = 4;
    const INCREMENTS: u64 = 20;
    let (_dir, store) = store().await;
    let created = store
        .create_object(Some("default"), config_map("c", &[("counter", "0")]), false)
        .await
        .expect("create");
    let mut writers = Vec::new();
    for _ in 0..WRITERS {
        let store = Arc::clone(&store);
        writers.push(tokio::spawn(async move {
            for _ in 0..INCREMENTS {
                store
                    .update_object(Some("default"), "c", Subresource::Main, false, increment)
                    .await
                    .expect("update");
            }
        }));
    }
    for writer in writers {
        writer.await.expect("writer");
    }
    let stored = store.get_object(Some("default"), "c").await.expect("get");
    assert_eq!(counter(&stored), WRITERS * INCREMENTS);
    assert_ne!(
        stored.metadata.resource_version,
        created.metadata.resource_version
    );
    // One unit per committed write; every attempt a conflict superseded,
    // and none of the refused ones below, gave its unit back.
    let held = store.strategy().held.load(Ordering::SeqCst);
    assert_eq!(held, i64::try_from(WRITERS * INCREMENTS).unwrap());

    let refused = store
        .update_object(Some("default"), "c", Subresource::Main, false, |obj| {
            let mut next = obj.clone();
            next.data
                .get_or_insert_with(BTreeMap::new)
                .insert("counter".to_owned(), "many".to_owned());
            Ok(next)
        })
        .await
        .expect_err("an invalid update");
    assert_eq!((refused.code, refused.reason), (422, "Invalid"));
    assert_eq!(store.strategy().held.load(Ordering::SeqCst), held);
    let unchanged = store.get_object(Some("default"), "c").await.expect("get");
    assert_eq!(unchanged, stored);

    // A dry run changes nothing and takes nothing.
    let dry = store
        .update_object(Some("default"), "c", Subresource::Main, true, increment)
        .await
        .expect("dry run");
    assert_eq!(counter(&dry), WRITERS * INCREMENTS + 1);
    assert_eq!(
        store.get_object(Some("default"), "c").await.expect("get"),
        stored
    );
    assert_eq!(store.strategy().held.load(Ordering::SeqCst), held);
}

#[tokio::test]
async fn a_finalizer_holds_a_delete_until_an_update_removes_it() {
    let (_dir, store) = store().await;
    let mut held = config_map("held", &[]);
    held.metadata.finalizers = Some(vec!["example.com/cleanup".to_owned()]);
    store
        .create_object(Some("default"), held, false)
        .await
        .expect("create");

    let (marked, gone) = store
        .delete_object(Some("default"), "held", &DeleteOptions::default())
        .await
        .expect("delete");
    assert!(!gone);
    assert!(marked.metadata.deletion_timestamp.is_some());
    // A second delete changes nothing.
    let (again, gone) = store
        .delete_object(Some("default"), "held", &DeleteOptions::default())
        .await
        .expect("delete again");
    assert!(!gone);
    assert_eq!(again, marked);

    // The update that empties the finalizers deletes the object.
    let last = store
        .update_object(Some("default"), "held", Subresource::Main, false, |obj| {
            let mut next = obj.clone();
            next.metadata.finalizers = None;
            Ok(next)
        })
        .await
        .expect("remove the finalizer");
    assert!(last.metadata.finalizers.is_none());
    let err = store
        .get_object(Some("default"), "held")
        .await
        .expect_err("gone");
    assert_eq!(err.code, 404);
    assert_eq!(store.strategy().deleted.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn delete_preconditions_and_dry_runs_leave_the_object() {
    let (_dir, store) = store().await;
    let created = store
        .create_object(Some("default"), config_map("c", &[]), false)
        .await
        .expect("create");
    let uid = created.metadata.uid.clone().expect("a uid");

    let wrong_uid = DeleteOptions {
        precondition_uid: Some("another".to_owned()),
        ..DeleteOptions::default()
    };
    let err = store
        .delete_object(Some("default"), "c", &wrong_uid)
        .await
        .expect_err("a wrong uid");
    assert_eq!((err.code, err.reason), (409, "Conflict"));
    assert!(err.message.contains(&uid), "{}", err.message);

    let stale = DeleteOptions {
        precondition_resource_version: Some("1".to_owned()),
        ..DeleteOptions::default()
    };
    let updated = store
        .update_object(Some("default"), "c", Subresource::Main, false, |obj| {
            increment(obj)
        })
        .await
        .expect("update");
    let err = store
        .delete_object(Some("default"), "c", &stale)
        .await
        .expect_err("a stale resourceVersion");
    assert_eq!(err.code, 409);

    let dry = DeleteOptions {
        dry_run: true,
        ..DeleteOptions::default()
    };
    let (would_go, gone) = store
        .delete_object(Some("default"), "c", &dry)
        .await
        .expect("dry run");
    assert!(gone);
    assert_eq!(would_go, updated);
    assert_eq!(
        store.get_object(Some("default"), "c").await.expect("kept"),
        updated
    );
    assert_eq!(store.strategy().deleted.load(Ordering::SeqCst), 0);

    let exact = DeleteOptions {
        precondition_uid: Some(uid),
        precondition_resource_version: updated.metadata.resource_version.clone(),
        ..DeleteOptions::default()
    };
    let (deleted, gone) = store
        .delete_object(Some("default"), "c", &exact)
        .await
        .expect("delete");
    assert!(gone);
    assert_eq!(deleted, updated);
    assert_eq!(store.strategy().deleted.load(Ordering::SeqCst), 1);
    let err = store
        .delete_object(Some("default"), "c", &DeleteOptions::default())
        .await
        .expect_err("already gone");
    assert_eq!(err.code, 404);
}

#[tokio::test]
async fn subresources_are_the_strategys() {
    // Without a status or scale strategy: neither subresource exists.
    let (_dir, plain) = store().await;
    assert!(!plain.info().has_status && !plain.info().has_scale);
    let created = plain
        .create_object(Some("default"), config_map("c", &[]), false)
        .await
        .expect("create");
    let err = plain
        .update_object(Some("default"), "c", Subresource::Status, false, |obj| {
            Ok(obj.clone())
        })
        .await
        .expect_err("a /status update of a kind without one");
    assert_eq!(err.code, 404);
    assert_eq!(plain.scale_of(&created).expect_err("no /scale").code, 404);

    // With one: a /status update changes what the status strategy lets it
    // change, and nothing else; it allocates nothing.
    let (_dir, with_status) = store_of(CountingStrategy {
        with_status: true,
        ..CountingStrategy::new()
    })
    .await;
    assert!(with_status.info().has_status && !with_status.info().has_scale);
    with_status
        .create_object(Some("default"), config_map("c", &[("counter", "1")]), false)
        .await
        .expect("create");
    let updated = with_status
        .update_object(Some("default"), "c", Subresource::Status, false, |obj| {
            let mut next = increment(obj)?;
            next.data
                .get_or_insert_with(BTreeMap::new)
                .insert("status".to_owned(), "ready".to_owned());
            Ok(next)
        })
        .await
        .expect("a /status update");
    let data = updated.data.expect("data");
    assert_eq!(data["status"], "ready");
    assert_eq!(data["counter"], "1", "a /status update changed the spec");
    assert_eq!(with_status.strategy().held.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_create_answers_what_a_get_then_reads() {
    // The create's answer is the object it encoded, not a decode of the
    // stored bytes: the two must not differ (labels, managed fields, the
    // creation time, the revision).
    let (_dir, store) = store().await;
    let mut wanted = config_map("same", &[("counter", "7")]);
    wanted.metadata.labels = Some(BTreeMap::from([("app".to_owned(), "web".to_owned())]));
    let created = store
        .create_object_as(Some("default"), wanted, false, Some("kubectl-create"))
        .await
        .expect("create")
        .object;
    assert!(created.metadata.managed_fields.is_some());
    assert!(created.metadata.resource_version.is_some());
    let read = store
        .get_object(Some("default"), "same")
        .await
        .expect("get");
    assert_eq!(created, read);
}

#[tokio::test]
async fn reads_answer_the_stored_bytes_as_the_decoded_object() {
    // Gets, lists and watch events are the stored bytes with the revision
    // written in, not a decode and encode: the JSON must be the object's.
    use crate::registry::rest::{BodyFormat, GetOptions, RestStorage, WriteOptions};
    use futures_util::StreamExt;
    let (_dir, store) = store().await;
    let as_json = |bytes: &[u8]| serde_json::from_slice::<serde_json::Value>(bytes).expect("JSON");
    let whole = |body: &ReplyBody| body.whole().expect("a whole body").clone();
    let typed = |obj: &ConfigMap| serde_json::to_value(obj).expect("encode");
    let mut watch = store
        .watch(
            Some("default"),
            &ListOptions {
                resource_version: Some(store.storage.current_revision().await.unwrap().to_string()),
                ..ListOptions::default()
            },
        )
        .await
        .expect("watch");
    let mut answers = Vec::new();
    for (name, app) in [("a", "web"), ("b", "db")] {
        let body = serde_json::json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "labels": {"app": app}},
            "data": {"counter": "1", "text": "quote \" and \u{7}"}
        });
        let reply = store
            .create(
                Some("default"),
                Body {
                    format: BodyFormat::Json,
                    bytes: Bytes::from(body.to_string()),
                },
                &WriteOptions::default(),
            )
            .await
            .expect("create");
        answers.push(as_json(&whole(&reply.body)));
    }
    let a = store.get_object(Some("default"), "a").await.expect("a");
    let b = store.get_object(Some("default"), "b").await.expect("b");
    assert_eq!(answers, [typed(&a), typed(&b)], "the create answers");
    let got = store
        .get(Some("default"), "a", &GetOptions::default())
        .await
        .expect("get");
    assert_eq!(as_json(&whole(&got.body)), typed(&a));

    let list = Arc::clone(&store)
        .list(Some("default"), &ListOptions::default())
        .await
        .expect("list");
    let list = as_json(&whole(&list.body));
    assert_eq!(list["kind"], "ConfigMapList");
    assert_eq!(list["apiVersion"], "v1");
    assert!(list["metadata"]["resourceVersion"].is_string());
    assert_eq!(list["items"], serde_json::json!([typed(&a), typed(&b)]));
    let selected = Arc::clone(&store)
        .list(
            Some("default"),
            &ListOptions {
                label_selector: apimachinery::labels::Selector::parse("app=db").unwrap(),
                ..ListOptions::default()
            },
        )
        .await
        .expect("list by label");
    assert_eq!(
        as_json(&whole(&selected.body))["items"],
        serde_json::json!([typed(&b)])
    );
    let first_page = Arc::clone(&store)
        .list(
            Some("default"),
            &ListOptions {
                limit: std::num::NonZeroUsize::new(1),
                ..ListOptions::default()
            },
        )
        .await
        .expect("a page");
    let first_page = as_json(&whole(&first_page.body));
    assert_eq!(first_page["items"], serde_json::json!([typed(&a)]));
    assert!(first_page["metadata"]["continue"].is_string());

    store
        .delete_object(Some("default"), "b", &DeleteOptions::default())
        .await
        .expect("delete");
    let mut events = Vec::new();
    for _ in 0..3 {
        events.push(as_json(&watch.next().await.expect("an event")));
    }
    assert_eq!(
        events[0],
        serde_json::json!({"type": "ADDED", "object": typed(&a)})
    );
    assert_eq!(
        events[1],
        serde_json::json!({"type": "ADDED", "object": typed(&b)})
    );
    assert_eq!(events[2]["type"], "DELETED");
    assert_eq!(events[2]["object"]["metadata"]["name"], "b");
    assert_ne!(
        events[2]["object"]["metadata"]["resourceVersion"],
        events[1]["object"]["metadata"]["resourceVersion"],
        "a deleted object carries the deletion's revision"
    );
}

#[tokio::test]
async fn a_list_longer_than_a_page_is_answered_in_chunks_at_one_revision() {
    use crate::registry::rest::RestStorage;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let storage = EmbeddedStorage::open(dir.path(), EmbeddedOptions::default())
        .await
        .expect("an embedded store");
    let paged = |items| {
        Arc::new(
            Store::new(
                Arc::new(CountingStrategy::new()),
                Arc::new(storage.clone()),
                admission::Chain::default(),
            )
            .with_list_page_items(NonZeroUsize::new(items).unwrap()),
        )
    };
    let (store, whole_store) = (paged(2), paged(1000));
    for index in 0..5 {
        let mut obj = config_map(&format!("cm-{index}"), &[("counter", "1")]);
        let app = if index % 2 == 0 { "even" } else { "odd" };
        obj.metadata.labels = Some(BTreeMap::from([("app".to_string(), app.to_string())]));
        store
            .create_object(Some("default"), obj, false)
            .await
            .expect("create");
    }
    let as_json = |bytes: &[u8]| serde_json::from_slice::<serde_json::Value>(bytes).expect("JSON");
    let names = |list: &serde_json::Value| -> Vec<String> {
        list["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|item| item["metadata"]["name"].as_str().unwrap().to_string())
            .collect()
    };

    // Five items in pages of two: three chunks, and the same answer as one
    // page of all of them.
    let reply = Arc::clone(&store)
        .list(Some("default"), &ListOptions::default())
        .await
        .expect("list");
    let ReplyBody::Chunks(mut chunks) = reply.body else {
        panic!("a list of five in pages of two is answered in chunks");
    };
    let first = chunks
        .next()
        .await
        .expect("a first chunk")
        .expect("no error");
    // Written between the chunks: not in the list, which stays at the
    // first page's revision.
    store
        .create_object(Some("default"), config_map("cm-late", &[]), false)
        .await
        .expect("create");
    store
        .delete_object(Some("default"), "cm-4", &DeleteOptions::default())
        .await
        .expect("delete");
    let mut answer = first.to_vec();
    let mut count = 1;
    while let Some(chunk) = chunks.next().await {
        answer.extend_from_slice(&chunk.expect("no error"));
        count += 1;
    }
    assert_eq!(count, 3, "one chunk a page");
    let paged_list = as_json(&answer);
    assert_eq!(names(&paged_list), ["cm-0", "cm-1", "cm-2", "cm-3", "cm-4"]);
    let at = paged_list["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    let whole_list = Arc::clone(&whole_store)
        .list(
            Some("default"),
            &ListOptions {
                resource_version: Some(at.clone()),
                resource_version_match: Some(ResourceVersionMatch::Exact),
                ..ListOptions::default()
            },
        )
        .await
        .expect("list at the revision");
    let whole_list = as_json(whole_list.body.whole().expect("one page holds five"));
    assert_eq!(paged_list, whole_list, "chunked and whole answers agree");

    // A selector filters each page; the matches still fit one answer.
    let selected = Arc::clone(&store)
        .list(
            Some("default"),
            &ListOptions {
                label_selector: apimachinery::labels::Selector::parse("app=even").unwrap(),
                ..ListOptions::default()
            },
        )
        .await
        .expect("list by label");
    let selected = as_json(&selected.body.into_bytes().await.expect("the whole list"));
    assert_eq!(names(&selected), ["cm-0", "cm-2"]);

    // A list that fits one page is answered whole, with a length.
    let small = Arc::clone(&store)
        .list(
            Some("default"),
            &ListOptions {
                field_selector: apimachinery::fields::Selector::parse("metadata.name=cm-1")
                    .unwrap(),
                ..ListOptions::default()
            },
        )
        .await
        .expect("one item");
    assert_eq!(
        names(&as_json(small.body.whole().expect("whole"))),
        ["cm-1"]
    );
}
