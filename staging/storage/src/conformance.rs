//! The storage conformance suite: backend-agnostic async checks of the
//! [`Storage`] contract (CAS conflicts, list consistency under concurrent
//! writes, continue tokens, watch ordering and resume, 410 after compaction,
//! delete preconditions, the revision across a restart). Every backend runs
//! the same cases through [`storage_conformance_tests!`](crate::storage_conformance_tests)
//! (one `#[tokio::test]` per case) or [`run_all`].
//!
//! Cases only assume what etcd guarantees: revisions are compared, never
//! predicted, so a backend may share one server between cases as long as
//! each [`Factory::location`] is an isolated key space (a fresh key prefix).
//! Cases compact, so a shared server must not be shared with other users.
//! This is test support: cases panic with a message on a violation.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt as _;

use crate::{
    Decision, ListOptions, Outcome, Revision, Storage, StorageError, UpdateError, WatchEvent,
    WatchOptions, WatchStream, guaranteed_delete, guaranteed_update,
};

/// How a backend provides stores to the suite.
pub trait Factory: Send + Sync {
    /// Where one store's data lives: a temporary directory, a key prefix.
    type Location: Send + Sync;

    /// A fresh, empty location.
    fn location(&self) -> impl Future<Output = Self::Location> + Send;

    /// Opens the store at `location`. Opening it again after every handle
    /// to the previous store was dropped is a restart.
    fn open(
        &self,
        location: &Self::Location,
    ) -> impl Future<Output = crate::Result<Arc<dyn Storage>>> + Send;
}

/// Declares one `#[tokio::test]` per conformance case for a backend, e.g.
/// `apiserver_storage::storage_conformance_tests!(EmbeddedFactory);`.
/// The calling crate needs tokio with the `macros` and `rt-multi-thread`
/// features.
#[macro_export]
macro_rules! storage_conformance_tests {
    ($factory:expr) => {
        $crate::storage_conformance_tests!(@cases $factory;
            create_get_update_delete,
            revisions_are_global_and_increasing,
            compare_and_swap_conflicts,
            guaranteed_update_under_contention,
            delete_preconditions,
            list_by_prefix,
            list_is_consistent_under_concurrent_writes,
            continue_tokens_page_one_revision,
            list_at_exact_revision,
            invalid_continue_token,
            continue_token_expires_after_compaction,
            watch_ordering_and_resume,
            watch_single_key_and_from_now,
            watch_sees_concurrent_writes_in_order,
            watch_expires_after_compaction,
            revision_continues_after_restart,
        );
    };
    (@cases $factory:expr; $($case:ident),* $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                $crate::conformance::$case(&$factory).await;
            }
        )*
    };
}

/// Runs every case in turn.
pub async fn run_all<F: Factory>(factory: &F) {
    create_get_update_delete(factory).await;
    revisions_are_global_and_increasing(factory).await;
    compare_and_swap_conflicts(factory).await;
    guaranteed_update_under_contention(factory).await;
    delete_preconditions(factory).await;
    list_by_prefix(factory).await;
    list_is_consistent_under_concurrent_writes(factory).await;
    continue_tokens_page_one_revision(factory).await;
    list_at_exact_revision(factory).await;
    invalid_continue_token(factory).await;
    continue_token_expires_after_compaction(factory).await;
    watch_ordering_and_resume(factory).await;
    watch_single_key_and_from_now(factory).await;
    watch_sees_concurrent_writes_in_order(factory).await;
    watch_expires_after_compaction(factory).await;
    revision_continues_after_restart(factory).await;
}

/// A hang guard for waiting on a watch, not a performance assertion.
const EVENT_WAIT: Duration = Duration::from_secs(20);

async fn fresh<F: Factory>(factory: &F) -> Arc<dyn Storage> {
    let location = factory.location().await;
    factory.open(&location).await.expect("open a fresh store")
}

fn bytes(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

async fn next_event(watch: &mut WatchStream) -> crate::Result<WatchEvent> {
    tokio::time::timeout(EVENT_WAIT, watch.next())
        .await
        .expect("a watch event within the hang guard")
        .expect("the watch stream to stay open")
}

fn assert_expired<T: std::fmt::Debug>(result: crate::Result<T>, what: &str) {
    match result {
        Err(err @ StorageError::Expired { .. }) => {
            assert_eq!(err.code(), 410, "{what}: {err}");
        }
        other => panic!("{what}: expected Expired (410), got {other:?}"),
    }
}

/// A watch from a compacted revision fails, either when it is opened or as
/// its first item (etcd reports compaction on the stream).
async fn assert_watch_expired(storage: &dyn Storage, key: &str, from: Revision) {
    let opts = WatchOptions {
        revision: Some(from),
        recursive: true,
    };
    match storage.watch(key, opts).await {
        Err(err) => assert_expired::<()>(Err(err), "opening a watch from a compacted revision"),
        Ok(mut watch) => assert_expired(
            next_event(&mut watch).await,
            "first item of a watch from a compacted revision",
        ),
    }
}

pub async fn create_get_update_delete<F: Factory>(factory: &F) {
    let s = fresh(factory).await;
    s.check_health().await.expect("a fresh store is healthy");
    let key = "/registry/pods/default/nginx";
    let created = s.create(key, bytes("v1")).await.expect("create");
    assert_eq!(created.key, key);
    assert_eq!(created.value, bytes("v1"));
    assert_eq!(created.create_revision, created.mod_revision);
    assert!(created.mod_revision > Revision::ZERO);
    assert_eq!(s.get(key).await.expect("get"), created);

    let again = s.create(key, bytes("v2")).await;
    assert!(
        matches!(&again, Err(StorageError::AlreadyExists { key: k }) if k == key),
        "create of an existing key: {again:?}"
    );
    assert_eq!(s.get(key).await.expect("get").value, bytes("v1"));

    let updated = s
        .update(key, created.mod_revision, bytes("v2"))
        .await
        .expect("update");
    assert!(updated.mod_revision > created.mod_revision);
    assert_eq!(updated.create_revision, created.create_revision);
    assert_eq!(s.get(key).await.expect("get"), updated);

    let (deleted, at) = s
        .delete(key, Some(updated.mod_revision))
        .await
        .expect("delete");
    assert_eq!(deleted, updated);
    assert!(at > updated.mod_revision);
    assert!(
        s.get(key)
            .await
            .expect_err("get after delete")
            .is_not_found()
    );
    assert!(
        s.delete(key, None)
            .await
            .expect_err("delete again")
            .is_not_found()
    );
    let missing = s.update(key, updated.mod_revision, bytes("v3")).await;
    assert!(
        matches!(missing, Err(StorageError::NotFound { .. })),
        "{missing:?}"
    );

    let recreated = s.create(key, bytes("v4")).await.expect("recreate");
    assert!(recreated.create_revision > at);
}

pub async fn revisions_are_global_and_increasing<F: Factory>(factory: &F) {
    let s = fresh(factory).await;
    let mut last = s.current_revision().await.expect("current revision");
    for i in 0..20 {
        let key = format!("/registry/kind{}/ns/o{i}", i % 3);
        let kv = s.create(&key, bytes("x")).await.expect("create");
        assert!(
            kv.mod_revision > last,
            "revision went from {last} to {kv:?}"
        );
        last = kv.mod_revision;
        assert_eq!(s.current_revision().await.expect("current"), last);
    }
    let (_, deleted_at) = s
        .delete("/registry/kind0/ns/o0", None)
        .await
        .expect("delete");
    assert!(deleted_at > last);
    assert_eq!(s.current_revision().await.expect("current"), deleted_at);
    // A failed write takes no revision.
    let failed = s.create("/registry/kind1/ns/o1", bytes("x")).await;
    assert!(failed.is_err());
    assert_eq!(s.current_revision().await.expect("current"), deleted_at);
}

pub async fn compare_and_swap_conflicts<F: Factory>(factory: &F) {
    let s = fresh(factory).await;
    let key = "/registry/configmaps/default/cas";
    let original = s.create(key, bytes("0")).await.expect("create");
    // Many writers race with the same expected revision: exactly one wins.
    let mut tasks = Vec::new();
    for i in 0..8 {
        let s = Arc::clone(&s);
        tasks.push(tokio::spawn(async move {
            s.update(key, original.mod_revision, bytes(&format!("w{i}")))
                .await
        }));
    }
    let mut winners = Vec::new();
    for task in tasks {
        match task.await.expect("writer task") {
            Ok(kv) => winners.push(kv),
            Err(StorageError::Conflict {
                key: k,
                expected,
                current,
            }) => {
                assert_eq!(k, key);
                assert_eq!(expected, original.mod_revision);
                assert!(current > expected);
            }
            Err(other) => panic!("unexpected error: {other}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one CAS wins: {winners:?}");
    assert_eq!(s.get(key).await.expect("get"), winners[0]);
    let err = s
        .update(key, original.mod_revision, bytes("late"))
        .await
        .expect_err("stale update");
    assert_eq!((err.code(), err.reason()), (409, "Conflict"));
}

pub async fn guaranteed_update_under_contention<F: Factory>(factory: &F) {
    const WRITERS: u64 = 4;
    const INCREMENTS: u64 = 25;
    let s = fresh(factory).await;
    let key = "/registry/counters/default/c";
    s.create(key, bytes("0")).await.expect("create");
    let mut tasks = Vec::new();
    for _ in 0..WRITERS {
        let s = Arc::clone(&s);
        tasks.push(tokio::spawn(async move {
            let mut attempts = 0u64;
            for _ in 0..INCREMENTS {
                attempts += increment(&*s, key).await.expect("guaranteed update");
            }
            attempts
        }));
    }
    let mut attempts = 0;
    for task in tasks {
        attempts += task.await.expect("writer task");
    }
    let total = s.get(key).await.expect("get");
    assert_eq!(total.value, bytes(&(WRITERS * INCREMENTS).to_string()));
    // Each attempt beyond one per write was a conflict, and each conflict
    // means another writer's write landed.
    assert!(attempts >= WRITERS * INCREMENTS, "{attempts} attempts");

    // No change, no write; Keep writes nothing either.
    let before = s.current_revision().await.expect("current");
    let same = guaranteed_update(&*s, key, false, |current| {
        Ok::<_, StorageError>(Decision::Write(current.expect("exists").value.clone()))
    })
    .await
    .expect("no-op update");
    assert_eq!(same, Outcome::Unchanged(Some(total.clone())));
    let kept = guaranteed_update(&*s, key, false, |_| Ok::<_, StorageError>(Decision::Keep))
        .await
        .expect("keep");
    assert_eq!(kept, Outcome::Unchanged(Some(total.clone())));
    assert_eq!(s.current_revision().await.expect("current"), before);

    // A missing key: NotFound, or created with ignore_not_found.
    let missing = "/registry/counters/default/missing";
    let err = guaranteed_update(&*s, missing, false, |_| {
        Ok::<_, StorageError>(Decision::Write(bytes("1")))
    })
    .await
    .expect_err("missing key");
    assert!(
        matches!(&err, UpdateError::Storage(e) if e.is_not_found()),
        "{err:?}"
    );
    let created = guaranteed_update(&*s, missing, true, |current| {
        assert!(current.is_none());
        Ok::<_, StorageError>(Decision::Write(bytes("1")))
    })
    .await
    .expect("create through guaranteed update");
    let Outcome::Written(created) = created else {
        panic!("not created: {created:?}");
    };
    assert_eq!(created.create_revision, created.mod_revision);

    // The update function's error stops the loop, refused, nothing written.
    let before = s.current_revision().await.expect("current");
    let err = guaranteed_update(&*s, key, false, |_| Err::<Decision, _>("invalid"))
        .await
        .expect_err("update function error");
    assert!(matches!(err, UpdateError::Refused("invalid")), "{err:?}");
    assert_eq!(s.current_revision().await.expect("current"), before);

    // A delete decided on a value read is applied at that value's revision
    // only: writers incrementing meanwhile (the decision takes a moment, so
    // they do) make it read and decide again, and the value it deletes is
    // the one it decided on, holding every acknowledged increment.
    let key = "/registry/counters/default/deleted-under-writes";
    s.create(key, bytes("0")).await.expect("create");
    let mut writers = Vec::new();
    for _ in 0..WRITERS {
        let s = Arc::clone(&s);
        writers.push(tokio::spawn(async move {
            let mut acknowledged = 0u64;
            for _ in 0..INCREMENTS {
                match increment(&*s, key).await {
                    Ok(_) => acknowledged += 1,
                    Err(UpdateError::Storage(err)) if err.is_not_found() => break,
                    Err(err) => panic!("increment: {err:?}"),
                }
                tokio::task::yield_now().await;
            }
            acknowledged
        }));
    }
    let mut decided_on = 0;
    let deleted = loop {
        let outcome = guaranteed_update(&*s, key, false, |current| {
            decided_on = counter(current.expect("read"));
            std::thread::sleep(Duration::from_millis(2));
            Ok::<_, StorageError>(if decided_on >= 10 {
                Decision::Delete
            } else {
                Decision::Keep
            })
        })
        .await
        .expect("delete from 10 on");
        match outcome {
            Outcome::Deleted { previous, revision } => {
                assert!(revision > previous.mod_revision);
                break previous;
            }
            Outcome::Unchanged(_) => tokio::task::yield_now().await,
            Outcome::Written(kv) => panic!("a delete decision wrote {kv:?}"),
        }
    };
    let mut acknowledged = 0;
    for writer in writers {
        acknowledged += writer.await.expect("writer task");
    }
    assert_eq!(
        counter(&deleted),
        decided_on,
        "deleted another value than decided on"
    );
    assert_eq!(
        counter(&deleted),
        acknowledged,
        "the delete lost increments"
    );
    assert!(s.get(key).await.expect_err("gone").is_not_found());
}

/// Adds one to the counter at `key` through [`guaranteed_update`]; how
/// many attempts it took.
async fn increment(s: &dyn Storage, key: &str) -> Result<u64, UpdateError<StorageError>> {
    let mut attempts = 0;
    guaranteed_update(s, key, false, |current| {
        attempts += 1;
        let n = counter(current.ok_or_else(|| StorageError::not_found(key))?);
        Ok(Decision::Write(bytes(&(n + 1).to_string())))
    })
    .await?;
    Ok(attempts)
}

/// The number a counter key holds.
fn counter(kv: &crate::KeyValue) -> u64 {
    std::str::from_utf8(&kv.value)
        .expect("utf8")
        .parse()
        .expect("a number")
}

pub async fn delete_preconditions<F: Factory>(factory: &F) {
    let s = fresh(factory).await;
    let key = "/registry/secrets/default/s";
    let v1 = s.create(key, bytes("uid-1")).await.expect("create");
    let v2 = s
        .update(key, v1.mod_revision, bytes("uid-1"))
        .await
        .expect("update");
    let stale = s.delete(key, Some(v1.mod_revision)).await;
    assert!(
        matches!(&stale, Err(StorageError::Conflict { expected, current, .. })
            if *expected == v1.mod_revision && *current == v2.mod_revision),
        "{stale:?}"
    );
    assert_eq!(s.get(key).await.expect("still there"), v2);

    // A precondition on the value (a UID) that fails leaves the key.
    let refused = guaranteed_delete(&*s, key, |current| {
        if current.value == bytes("uid-2") {
            Ok(())
        } else {
            Err(StorageError::Conflict {
                key: current.key.clone(),
                expected: Revision::ZERO,
                current: current.mod_revision,
            })
        }
    })
    .await;
    assert!(refused.is_err());
    assert!(s.get(key).await.is_ok());

    let (deleted, at) = guaranteed_delete(&*s, key, |current| {
        assert_eq!(current.value, bytes("uid-1"));
        Ok(())
    })
    .await
    .expect("delete with a matching precondition");
    assert_eq!(deleted, v2);
    assert!(at > v2.mod_revision);
    assert!(s.get(key).await.expect_err("gone").is_not_found());
    let err = guaranteed_delete(&*s, key, |_| Ok(()))
        .await
        .expect_err("delete of a missing key");
    assert!(err.is_not_found());
}

pub async fn list_by_prefix<F: Factory>(factory: &F) {
    let s = fresh(factory).await;
    let keys = [
        "/registry/pods/default/b",
        "/registry/pods/default/a",
        "/registry/pods/default/c",
        "/registry/pods/defaultx/a",
        "/registry/pods/kube-system/a",
        "/registry/services/default/a",
    ];
    let mut max = Revision::ZERO;
    for key in keys {
        max = max.max(
            s.create(key, bytes(key))
                .await
                .expect("create")
                .mod_revision,
        );
    }
    let list = s
        .list("/registry/pods/default/", ListOptions::default())
        .await
        .expect("list");
    let listed: Vec<&str> = list.items.iter().map(|kv| kv.key.as_str()).collect();
    assert_eq!(
        listed,
        [
            "/registry/pods/default/a",
            "/registry/pods/default/b",
            "/registry/pods/default/c"
        ]
    );
    assert!(list.revision >= max);
    assert!(list.continue_token.is_none());
    for kv in &list.items {
        assert_eq!(kv.value, bytes(&kv.key));
    }
    let all_pods = s
        .list("/registry/pods/", ListOptions::default())
        .await
        .expect("list");
    assert_eq!(all_pods.items.len(), 5);
    let none = s
        .list("/registry/nothing/", ListOptions::default())
        .await
        .expect("empty list");
    assert!(none.items.is_empty());
    assert!(none.revision >= max, "an empty list still has a revision");
}

pub async fn list_is_consistent_under_concurrent_writes<F: Factory>(factory: &F) {
    const WRITERS: usize = 4;
    const PER_WRITER: usize = 40;
    let s = fresh(factory).await;
    let prefix = "/registry/events/ns/";
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let s = Arc::clone(&s);
        tasks.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            for i in 0..PER_WRITER {
                let key = format!("{prefix}w{w}-{i:03}");
                let kv = s.create(&key, bytes("e")).await.expect("create");
                acked.push((key, kv.mod_revision));
            }
            acked
        }));
    }
    let mut lists = Vec::new();
    while lists.len() < 200 && !tasks.iter().all(|t| t.is_finished()) {
        let list = s
            .list(prefix, ListOptions::default())
            .await
            .expect("list while writing");
        lists.push(list);
        tokio::task::yield_now().await;
    }
    let mut created: BTreeMap<String, Revision> = BTreeMap::new();
    for task in tasks {
        created.extend(task.await.expect("writer task"));
    }
    lists.push(
        s.list(prefix, ListOptions::default())
            .await
            .expect("final list"),
    );
    for list in &lists {
        // Exactly the creates at or before the list's revision.
        let expected: BTreeSet<&str> = created
            .iter()
            .filter(|(_, rev)| **rev <= list.revision)
            .map(|(key, _)| key.as_str())
            .collect();
        let listed: BTreeSet<&str> = list.items.iter().map(|kv| kv.key.as_str()).collect();
        assert_eq!(listed, expected, "list at revision {}", list.revision);
        assert!(list.items.windows(2).all(|w| w[0].key < w[1].key));
    }
    assert_eq!(
        lists.last().map(|l| l.items.len()),
        Some(WRITERS * PER_WRITER)
    );
}

pub async fn continue_tokens_page_one_revision<F: Factory>(factory: &F) {
    let s = fresh(factory).await;
    let prefix = "/registry/configmaps/ns/";
    for i in 0..25 {
        s.create(&format!("{prefix}cm{i:02}"), bytes("v1"))
            .await
            .expect("create");
    }
    let limit = NonZeroUsize::new(10);
    let first = s
        .list(
            prefix,
            ListOptions {
                limit,
                ..Default::default()
            },
        )
        .await
        .expect("first page");
    assert_eq!(first.items.len(), 10);
    let mut token = first.continue_token.clone().expect("a continue token");

    // Change the collection between pages: update a key of a later page,
    // delete one, create one in the middle and one at the end.
    let cm15 = s.get(&format!("{prefix}cm15")).await.expect("get");
    s.update(&cm15.key, cm15.mod_revision, bytes("v2"))
        .await
        .expect("update");
    s.delete(&format!("{prefix}cm20"), None)
        .await
        .expect("delete");
    s.create(&format!("{prefix}cm12a"), bytes("new"))
        .await
        .expect("create");
    s.create(&format!("{prefix}cm99"), bytes("new"))
        .await
        .expect("create");
    s.delete(&format!("{prefix}cm03"), None)
        .await
        .expect("delete");

    let mut items = first.items.clone();
    let mut pages = 1;
    loop {
        let page = s
            .list(
                prefix,
                ListOptions {
                    limit,
                    continue_token: Some(token.clone()),
                    revision: None,
                },
            )
            .await
            .expect("next page");
        pages += 1;
        assert_eq!(page.revision, first.revision, "every page at one revision");
        items.extend(page.items);
        match page.continue_token {
            Some(next) => token = next,
            None => break,
        }
        assert!(pages < 10, "pagination does not end");
    }
    assert_eq!(pages, 3);
    let keys: Vec<String> = items.iter().map(|kv| kv.key.clone()).collect();
    let expected: Vec<String> = (0..25).map(|i| format!("{prefix}cm{i:02}")).collect();
    assert_eq!(keys, expected, "the collection as of the first page");
    assert!(items.iter().all(|kv| kv.value == bytes("v1")));

    // A fresh list sees the changes.
    let now = s
        .list(prefix, ListOptions::default())
        .await
        .expect("fresh list");
    assert_eq!(now.items.len(), 25 - 2 + 2);
    assert!(now.revision > first.revision);
}

pub async fn list_at_exact_revision<F: Factory>(factory: &F) {
    let s = fresh(factory).await;
    let prefix = "/registry/nodes/";
    let a = s
        .create(&format!("{prefix}a"), bytes("a1"))
        .await
        .expect("create");
    let b = s
        .create(&format!("{prefix}b"), bytes("b1"))
        .await
        .expect("create");
    let then = b.mod_revision;
    s.update(&a.key, a.mod_revision, bytes("a2"))
        .await
        .expect("update");
    s.delete(&b.key, None).await.expect("delete");
    s.create(&format!("{prefix}c"), bytes("c1"))
        .await
        .expect("create");
    let past = s
        .list(
            prefix,
            ListOptions {
                revision: Some(then),
                ..Default::default()
            },
        )
        .await
        .expect("list at a past revision");
    assert_eq!(past.revision, then);
    assert_eq!(past.items, vec![a, b]);
}

pub async fn invalid_continue_token<F: Factory>(factory: &F) {
    let s = fresh(factory).await;
    s.create("/registry/pods/ns/a", bytes("a"))
        .await
        .expect("create");
    for token in ["not a token", "eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ", ""] {
        let err = s
            .list(
                "/registry/pods/ns/",
                ListOptions {
                    continue_token: Some(token.to_owned()),
                    ..Default::default()
                },
            )
            .await
            .expect_err("invalid token");
        assert!(
            matches!(err, StorageError::InvalidContinue { .. }),
            "{token:?}: {err}"
        );
        assert_eq!(err.code(), 400);
    }
}

pub async fn continue_token_expires_after_compaction<F: Factory>(factory: &F) {
    let s = fresh(factory).await;
    let prefix = "/registry/pods/ns/";
    for i in 0..6 {
        s.create(&format!("{prefix}p{i}"), bytes("v"))
            .await
            .expect("create");
    }
    let first = s
        .list(
            prefix,
            ListOptions {
                limit: NonZeroUsize::new(2),
                ..Default::default()
            },
        )
        .await
        .expect("first page");
    let token = first.continue_token.expect("a continue token");
    let later = s
        .create(&format!("{prefix}p9"), bytes("v"))
        .await
        .expect("create");
    s.compact(later.mod_revision).await.expect("compact");
    let result = s
        .list(
            prefix,
            ListOptions {
                limit: NonZeroUsize::new(2),
                continue_token: Some(token),
                revision: None,
            },
        )
        .await;
    assert_expired(result, "continue after compaction");
    // A fresh list still works.
    let fresh_list = s
        .list(prefix, ListOptions::default())
        .await
        .expect("relist");
    assert_eq!(fresh_list.items.len(), 7);
}

pub async fn watch_ordering_and_resume<F: Factory>(factory: &F) {
    let s = fresh(factory).await;
    let prefix = "/registry/pods/ns/";
    let start = s.current_revision().await.expect("current");
    let mut watch = s
        .watch(
            prefix,
            WatchOptions {
                revision: Some(start),
                recursive: true,
            },
        )
        .await
        .expect("watch");
    let a = s
        .create(&format!("{prefix}a"), bytes("a1"))
        .await
        .expect("create");
    s.create("/registry/services/ns/a", bytes("other"))
        .await
        .expect("create outside the prefix");
    let a2 = s
        .update(&a.key, a.mod_revision, bytes("a2"))
        .await
        .expect("update");
    let (_, deleted_at) = s.delete(&a.key, None).await.expect("delete");
    let b = s
        .create(&format!("{prefix}b"), bytes("b1"))
        .await
        .expect("create");

    let expected = vec![
        WatchEvent::Added(a.clone()),
        WatchEvent::Modified {
            current: a2.clone(),
            previous: a.clone(),
        },
        WatchEvent::Deleted {
            previous: a2.clone(),
            revision: deleted_at,
        },
        WatchEvent::Added(b.clone()),
    ];
    for want in &expected {
        let got = next_event(&mut watch).await.expect("event");
        assert_eq!(&got, want);
    }

    // Resume after the second event: the rest replays, in order.
    let mut resumed = s
        .watch(
            prefix,
            WatchOptions {
                revision: Some(a2.mod_revision),
                recursive: true,
            },
        )
        .await
        .expect("resume");
    for want in &expected[2..] {
        assert_eq!(&next_event(&mut resumed).await.expect("event"), want);
    }
    // And both keep following new writes.
    let c = s
        .create(&format!("{prefix}c"), bytes("c1"))
        .await
        .expect("create");
    assert_eq!(
        next_event(&mut watch).await.expect("event"),
        WatchEvent::Added(c.clone())
    );
    assert_eq!(
        next_event(&mut resumed).await.expect("event"),
        WatchEvent::Added(c)
    );
}

pub async fn watch_single_key_and_from_now<F: Factory>(factory: &F) {
    let s = fresh(factory).await;
    let key = "/registry/pods/ns/x";
    let before = s.create(key, bytes("1")).await.expect("create");
    // From now: the existing state is not replayed.
    let mut exact = s
        .watch(key, WatchOptions::default())
        .await
        .expect("watch one key");
    s.create("/registry/pods/ns/x2", bytes("sibling"))
        .await
        .expect("create a sibling");
    let updated = s
        .update(key, before.mod_revision, bytes("2"))
        .await
        .expect("update");
    assert_eq!(
        next_event(&mut exact).await.expect("event"),
        WatchEvent::Modified {
            current: updated,
            previous: before,
        },
        "only the exact key, only changes after the watch started"
    );
}

pub async fn watch_sees_concurrent_writes_in_order<F: Factory>(factory: &F) {
    const WRITERS: usize = 4;
    const PER_WRITER: usize = 50;
    let s = fresh(factory).await;
    let prefix = "/registry/leases/ns/";
    let start = s.current_revision().await.expect("current");
    let mut watches = Vec::new();
    for _ in 0..3 {
        watches.push(
            s.watch(
                prefix,
                WatchOptions {
                    revision: Some(start),
                    recursive: true,
                },
            )
            .await
            .expect("watch"),
        );
    }
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let s = Arc::clone(&s);
        tasks.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            for i in 0..PER_WRITER {
                let kv = s
                    .create(&format!("{prefix}w{w}-{i}"), bytes("l"))
                    .await
                    .expect("create");
                acked.push((kv.mod_revision, kv.key));
            }
            acked
        }));
    }
    let mut acked = Vec::new();
    for task in tasks {
        acked.extend(task.await.expect("writer task"));
    }
    acked.sort();
    for watch in &mut watches {
        let mut seen = Vec::new();
        for _ in 0..acked.len() {
            match next_event(watch).await.expect("event") {
                WatchEvent::Added(kv) => seen.push((kv.mod_revision, kv.key)),
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(seen, acked, "every acknowledged write, in revision order");
    }
}

pub async fn watch_expires_after_compaction<F: Factory>(factory: &F) {
    let s = fresh(factory).await;
    let prefix = "/registry/pods/ns/";
    let old = s
        .create(&format!("{prefix}a"), bytes("1"))
        .await
        .expect("create");
    let newer = s
        .update(&old.key, old.mod_revision, bytes("2"))
        .await
        .expect("update");
    let newest = s
        .update(&old.key, newer.mod_revision, bytes("3"))
        .await
        .expect("update");
    s.compact(newer.mod_revision).await.expect("compact");
    // A watch from before the last write the compaction removed (etcd keeps
    // the state at the compaction revision, so a watch from one revision
    // before it may still be served).
    let before_old = Revision::new(old.mod_revision.get() - 1);
    assert_watch_expired(&*s, prefix, before_old).await;
    // From the compaction point on, history is still served.
    let mut watch = s
        .watch(
            prefix,
            WatchOptions {
                revision: Some(newer.mod_revision),
                recursive: true,
            },
        )
        .await
        .expect("watch from the compaction point");
    assert_eq!(
        next_event(&mut watch).await.expect("event"),
        WatchEvent::Modified {
            current: newest,
            previous: newer,
        }
    );
}

pub async fn revision_continues_after_restart<F: Factory>(factory: &F) {
    let location = factory.location().await;
    let s = factory.open(&location).await.expect("open");
    let prefix = "/registry/pods/ns/";
    let mut last = None;
    for i in 0..10 {
        last = Some(
            s.create(&format!("{prefix}p{i}"), bytes("v"))
                .await
                .expect("create"),
        );
    }
    let last = last.expect("ten creates");
    let (_, deleted_at) = s
        .delete(&format!("{prefix}p0"), None)
        .await
        .expect("delete");
    let before = s
        .list(prefix, ListOptions::default())
        .await
        .expect("list before restart");
    drop(s);

    let s = factory.open(&location).await.expect("reopen");
    assert!(s.current_revision().await.expect("current") >= deleted_at);
    let after = s
        .list(prefix, ListOptions::default())
        .await
        .expect("list after restart");
    assert_eq!(after.items, before.items, "the data survives the restart");
    assert_eq!(s.get(&last.key).await.expect("get"), last);
    let next = s
        .create(&format!("{prefix}after"), bytes("v"))
        .await
        .expect("create after restart");
    assert!(
        next.mod_revision > deleted_at,
        "the revision continues: {} after {deleted_at}",
        next.mod_revision
    );
    // A watch from the current revision follows new writes.
    let mut watch = s
        .watch(
            prefix,
            WatchOptions {
                revision: Some(next.mod_revision),
                recursive: true,
            },
        )
        .await
        .expect("watch after restart");
    let newer = s
        .create(&format!("{prefix}newer"), bytes("v"))
        .await
        .expect("create");
    assert_eq!(
        next_event(&mut watch).await.expect("event"),
        WatchEvent::Added(newer)
    );
}
