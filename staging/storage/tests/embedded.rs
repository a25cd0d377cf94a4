//! Behaviour specific to the embedded backend: the bounded in-memory history
//! (old watches and continue tokens expire on their own), the history
//! starting anew after a restart, and slow watchers catching up from the
//! history instead of being dropped.

use std::num::NonZeroUsize;
use std::time::Duration;

use apiserver_storage::{
    EmbeddedOptions, EmbeddedStorage, ListOptions, ListResult, Revision, Storage, StorageError,
    WatchEvent, WatchOptions, WatchStream,
};
use bytes::Bytes;
use futures_util::StreamExt as _;

/// A hang guard, not a performance assertion.
const EVENT_WAIT: Duration = Duration::from_secs(20);

async fn open(dir: &tempfile::TempDir, history_capacity: usize) -> EmbeddedStorage {
    open_with(dir, history_capacity, 0).await
}

/// A store that keeps `list_snapshots` snapshots for paged lists.
async fn open_with(
    dir: &tempfile::TempDir,
    history_capacity: usize,
    list_snapshots: usize,
) -> EmbeddedStorage {
    let options = EmbeddedOptions {
        history_capacity,
        list_snapshots,
        ..EmbeddedOptions::default()
    };
    EmbeddedStorage::open(dir.path(), options)
        .await
        .expect("open the store")
}

fn from(revision: Revision) -> WatchOptions {
    WatchOptions {
        revision: Some(revision),
        recursive: true,
    }
}

async fn next(watch: &mut WatchStream) -> Option<Result<WatchEvent, StorageError>> {
    tokio::time::timeout(EVENT_WAIT, watch.next())
        .await
        .expect("a watch item within the hang guard")
}

/// The first page of `limit` keys under `prefix`.
async fn first_page(store: &EmbeddedStorage, prefix: &str, limit: usize) -> ListResult {
    store
        .list(
            prefix,
            ListOptions {
                limit: NonZeroUsize::new(limit),
                ..Default::default()
            },
        )
        .await
        .expect("first page")
}

/// The rest of a list from its continue token.
async fn rest_of(
    store: &EmbeddedStorage,
    prefix: &str,
    token: &str,
) -> Result<ListResult, StorageError> {
    store
        .list(
            prefix,
            ListOptions {
                continue_token: Some(token.to_owned()),
                ..Default::default()
            },
        )
        .await
}

async fn create_many(store: &EmbeddedStorage, prefix: &str, n: usize) -> Vec<Revision> {
    let mut tasks = Vec::new();
    for w in 0..8 {
        let store = store.clone();
        let prefix = prefix.to_owned();
        tasks.push(tokio::spawn(async move {
            let mut revisions = Vec::new();
            for i in (w..n).step_by(8) {
                let kv = store
                    .create(&format!("{prefix}k{i:05}"), Bytes::from_static(b"{}"))
                    .await
                    .expect("create");
                revisions.push(kv.mod_revision);
            }
            revisions
        }));
    }
    let mut revisions = Vec::new();
    for task in tasks {
        revisions.extend(task.await.expect("writer task"));
    }
    revisions.sort();
    revisions
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bounded_history_expires_old_watches_and_continue_tokens() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(&dir, 5).await;
    let prefix = "/registry/pods/ns/";
    let revisions = create_many(&store, prefix, 4).await;
    let page = first_page(&store, prefix, 2).await;
    let token = page.continue_token.expect("a continue token");
    let more = create_many(&store, "/registry/other/", 6).await;
    let current = *more.last().expect("revisions");

    // Ten events, five kept: a watch from the fifth revision still works
    // (events 6..10 are retained); from the fourth it does not.
    let kept_from = Revision::new(current.get() - 5);
    let err = store
        .watch(prefix, from(Revision::new(kept_from.get() - 1)))
        .await
        .err()
        .expect("a watch from dropped history fails");
    assert!(
        matches!(err, StorageError::Expired { requested, compacted, current: c }
            if requested.get() == kept_from.get() - 1 && compacted == kept_from && c == current),
        "{err}"
    );
    assert!(store.watch(prefix, from(kept_from)).await.is_ok());
    let err = rest_of(&store, prefix, &token)
        .await
        .expect_err("a continue token from dropped history");
    assert!(err.is_expired(), "{err}");
    assert_eq!(revisions.len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paged_lists_read_on_from_their_snapshot_past_the_history() {
    let dir = tempfile::tempdir().expect("temp dir");
    // Five events of history, and snapshots for two paged lists.
    let store = open_with(&dir, 5, 2).await;
    let prefix = "/registry/pods/ns/";
    create_many(&store, prefix, 4).await;
    let page = first_page(&store, prefix, 2).await;
    let token = page.continue_token.expect("a continue token");
    // Far more writes than the history holds, in and out of the list.
    create_many(&store, &format!("{prefix}late-"), 20).await;
    for key in ["k00002", "k00003"] {
        store
            .delete(&format!("{prefix}{key}"), None)
            .await
            .expect("delete");
    }
    let rest = rest_of(&store, prefix, &token)
        .await
        .expect("the next page reads the first page's snapshot");
    assert_eq!(rest.revision, page.revision);
    let keys: Vec<_> = page
        .items
        .iter()
        .chain(&rest.items)
        .map(|kv| kv.key.as_str())
        .collect();
    assert_eq!(
        keys,
        ["k00000", "k00001", "k00002", "k00003"].map(|key| format!("{prefix}{key}")),
        "the list at its first page's revision, as the writes after it never happened"
    );
    assert!(rest.continue_token.is_none());

    // Two later paged lists take the two places: the first list's snapshot
    // is dropped and its token falls back to the history, long compacted.
    let _second = first_page(&store, prefix, 2).await;
    create_many(&store, "/registry/other/", 1).await;
    let _third = first_page(&store, prefix, 2).await;
    let err = rest_of(&store, prefix, &token)
        .await
        .expect_err("a dropped snapshot and compacted history");
    assert!(err.is_expired(), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_starts_anew_after_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let prefix = "/registry/pods/ns/";
    let (old, token, last) = {
        let store = open(&dir, 100).await;
        let revisions = create_many(&store, prefix, 6).await;
        let page = first_page(&store, prefix, 2).await;
        // One more write, so the token's revision is older than the
        // reopened one (a token at the reopened revision stays servable).
        let last = store
            .create("/registry/other/x", Bytes::from_static(b"{}"))
            .await
            .expect("create");
        (
            revisions[0],
            page.continue_token.expect("a continue token"),
            last.mod_revision,
        )
    };
    let store = open(&dir, 100).await;
    assert_eq!(store.current_revision().await.expect("current"), last);
    let err = store
        .watch(prefix, from(old))
        .await
        .err()
        .expect("a watch from before the restart");
    assert!(err.is_expired(), "{err}");
    let err = rest_of(&store, prefix, &token)
        .await
        .expect_err("a continue token from before the restart");
    assert!(err.is_expired(), "{err}");
    // From the reopened revision on, watches work.
    let mut watch = store.watch(prefix, from(last)).await.expect("watch");
    let kv = store
        .create(&format!("{prefix}new"), Bytes::from_static(b"{}"))
        .await
        .expect("create");
    assert_eq!(
        next(&mut watch).await.expect("an item").expect("an event"),
        WatchEvent::Added(kv)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_watcher_catches_up_from_history() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(&dir, 10_000).await;
    let prefix = "/registry/pods/ns/";
    let start = store.current_revision().await.expect("current");
    let mut watch = store.watch(prefix, from(start)).await.expect("watch");
    // More events than the live fan-out buffers per watcher, unread.
    let revisions = create_many(&store, prefix, 1500).await;
    for want in &revisions {
        let event = next(&mut watch).await.expect("an item").expect("an event");
        assert_eq!(event.revision(), *want);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watcher_behind_the_history_gets_one_expired_item() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(&dir, 100).await;
    let prefix = "/registry/pods/ns/";
    let start = store.current_revision().await.expect("current");
    let mut watch = store.watch(prefix, from(start)).await.expect("watch");
    create_many(&store, prefix, 1500).await;
    let mut delivered = 0;
    loop {
        match next(&mut watch).await {
            Some(Ok(_)) => delivered += 1,
            Some(Err(err)) => {
                assert!(err.is_expired(), "{err}");
                break;
            }
            None => panic!("the watch ended without Expired"),
        }
        assert!(delivered <= 1500, "no Expired after every event");
    }
    assert!(next(&mut watch).await.is_none(), "the stream ends");
}
