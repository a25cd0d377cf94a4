//! The apiserver's storage layer (mirrors `k8s.io/apiserver/pkg/storage`): the
//! [`Storage`] trait shaped by what etcd v3 gives, the value types it speaks,
//! and its backends. This module owns the trait and its types; each concern
//! lives in its own module (see README.md for the model).
//!
//! One global, monotonic [`Revision`] orders every write; it is the
//! Kubernetes `resourceVersion`. Values are opaque bytes (the registry layer
//! above encodes objects and stamps `metadata.resourceVersion` from the
//! revisions returned here). Keys are strings such as
//! `/registry/pods/default/nginx`.
//!
//! The trait is used as `Arc<dyn Storage>`: the backend is chosen at run time
//! (`--etcd-servers` or not) and shared by every resource's registry store, so
//! a type parameter would spread through every registry type for no gain; the
//! cost of dynamic dispatch (one boxed future per call) is noise next to an
//! fsync or a network round trip.

pub mod conformance;
mod continue_token;
pub mod embedded;
mod errors;
pub mod etcd;
mod history;
mod update;

use std::fmt;
use std::num::NonZeroUsize;
use std::str::FromStr;

use bytes::Bytes;
use futures_util::stream::BoxStream;

pub use continue_token::ContinueToken;
pub use embedded::{EmbeddedOptions, EmbeddedStorage};
pub use errors::{Result, StorageError};
pub use etcd::{EtcdConfig, EtcdStorage, EtcdTls};
pub use update::{
    Decision, Outcome, TryUpdate, UpdateError, guaranteed_delete, guaranteed_update,
    guaranteed_update_with,
};

/// A point in the store's history: the revision of one committed write.
///
/// Revision 0 never names a write; it means "none yet" / "any" in requests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Revision(u64);

impl Revision {
    /// The revision before any write.
    pub const ZERO: Revision = Revision(0);

    pub const fn new(value: u64) -> Self {
        Revision(value)
    }

    pub const fn get(self) -> u64 {
        self.0
    }

    /// The revision after this one (saturating: 2^64 writes do not happen).
    pub const fn next(self) -> Self {
        Revision(self.0.saturating_add(1))
    }
}

impl fmt::Display for Revision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Parses a `resourceVersion` string.
impl FromStr for Revision {
    type Err = std::num::ParseIntError;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        s.parse().map(Revision)
    }
}

/// One stored key with its value and the revisions that created and last
/// modified it (etcd's `mvccpb.KeyValue`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    pub value: Bytes,
    /// The revision of the write that created the key.
    pub create_revision: Revision,
    /// The revision of the last write to the key: the object's resourceVersion.
    pub mod_revision: Revision,
}

/// What a list request asks for.
#[derive(Clone, Debug, Default)]
pub struct ListOptions {
    /// At most this many items; `None` means all.
    pub limit: Option<NonZeroUsize>,
    /// The `continue` token of the previous page (an opaque string from
    /// [`ListResult::continue_token`]); the list then resumes after the last
    /// key of that page, at that page's revision.
    pub continue_token: Option<String>,
    /// List the state as of this exact revision instead of the latest
    /// (Kubernetes' `resourceVersionMatch=Exact`). Ignored with a continue
    /// token, which carries its own revision.
    pub revision: Option<Revision>,
}

/// One page of a list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListResult {
    /// Items in key order.
    pub items: Vec<KeyValue>,
    /// The revision the list was read at: ≥ every item's `mod_revision`, and
    /// the point a watch resumes from to see every later change.
    pub revision: Revision,
    /// Set when more items follow: pass it back in
    /// [`ListOptions::continue_token`].
    pub continue_token: Option<String>,
}

/// Where a watch starts and what it covers.
#[derive(Clone, Debug, Default)]
pub struct WatchOptions {
    /// Deliver events with a revision strictly greater than this one
    /// (Kubernetes' `resourceVersion` on a watch). `None` starts at the
    /// current revision: only future events.
    pub revision: Option<Revision>,
    /// Watch every key starting with the given key (a collection) rather
    /// than that exact key.
    pub recursive: bool,
}

/// One change seen by a watch, in revision order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WatchEvent {
    /// The key was created.
    Added(KeyValue),
    /// The key was updated.
    Modified {
        current: KeyValue,
        previous: KeyValue,
    },
    /// The key was deleted at `revision`; `previous` is its last value.
    Deleted {
        previous: KeyValue,
        revision: Revision,
    },
    /// Every change up to this revision in the watched range has been
    /// delivered, though none came (etcd's progress notification): a
    /// bookmark may name it, so a client resumes from there and not from a
    /// revision compaction may have dropped. No key.
    Progress(Revision),
}

impl WatchEvent {
    /// The revision of the write that caused the event.
    pub fn revision(&self) -> Revision {
        match self {
            WatchEvent::Added(kv) | WatchEvent::Modified { current: kv, .. } => kv.mod_revision,
            WatchEvent::Deleted { revision, .. } | WatchEvent::Progress(revision) => *revision,
        }
    }

    /// The key changed; empty for [`WatchEvent::Progress`].
    pub fn key(&self) -> &str {
        match self {
            WatchEvent::Added(kv)
            | WatchEvent::Modified { current: kv, .. }
            | WatchEvent::Deleted { previous: kv, .. } => &kv.key,
            WatchEvent::Progress(_) => "",
        }
    }

    /// The value before the event, if the key existed.
    pub fn previous(&self) -> Option<&KeyValue> {
        match self {
            WatchEvent::Added(_) | WatchEvent::Progress(_) => None,
            WatchEvent::Modified { previous, .. } | WatchEvent::Deleted { previous, .. } => {
                Some(previous)
            }
        }
    }

    /// The value after the event, if the key still exists.
    pub fn current(&self) -> Option<&KeyValue> {
        match self {
            WatchEvent::Added(kv) | WatchEvent::Modified { current: kv, .. } => Some(kv),
            WatchEvent::Deleted { .. } | WatchEvent::Progress(_) => None,
        }
    }
}

/// A stream of watch events in revision order. It ends with one
/// `Err(StorageError::Expired)` when the watcher fell so far behind that the
/// history it needs was dropped; the client then lists again.
pub type WatchStream = BoxStream<'static, Result<WatchEvent>>;

/// A key-value store with one global revision, shaped by etcd v3: every
/// write gets the next revision, reads see a consistent revision, and recent
/// history can be watched.
#[async_trait::async_trait]
pub trait Storage: Send + Sync + fmt::Debug {
    /// The value stored at `key`, or [`StorageError::NotFound`].
    async fn get(&self, key: &str) -> Result<KeyValue>;

    /// The keys starting with `prefix`, in key order, at one consistent
    /// revision (the latest, or the continue token's or `opts.revision`).
    /// A revision older than the retained history gives
    /// [`StorageError::Expired`].
    async fn list(&self, prefix: &str, opts: ListOptions) -> Result<ListResult>;

    /// Creates `key`; [`StorageError::AlreadyExists`] if it exists.
    async fn create(&self, key: &str, value: Bytes) -> Result<KeyValue>;

    /// Replaces the value of `key` if its `mod_revision` is still `expected`
    /// (compare-and-swap): [`StorageError::Conflict`] if it changed,
    /// [`StorageError::NotFound`] if it is gone. Callers retry through
    /// [`guaranteed_update`].
    async fn update(&self, key: &str, expected: Revision, value: Bytes) -> Result<KeyValue>;

    /// Deletes `key`, if `expected` is given only while its `mod_revision` is
    /// still that revision. Returns the deleted value and the revision of the
    /// delete.
    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<(KeyValue, Revision)>;

    /// Changes to `key` (or under it, if `opts.recursive`) after
    /// `opts.revision`. A start revision older than the retained history
    /// gives [`StorageError::Expired`].
    async fn watch(&self, key: &str, opts: WatchOptions) -> Result<WatchStream>;

    /// Fails if the backend cannot serve requests (the apiserver's
    /// `/readyz/etcd` and `/livez/etcd` checks).
    async fn check_health(&self) -> Result<()>;

    /// The revision of the latest committed write.
    async fn current_revision(&self) -> Result<Revision>;

    /// Drops history before `revision` (etcd's compaction): watches and
    /// continue tokens from before it then get [`StorageError::Expired`];
    /// from `revision` on they are served. (etcd keeps the state at
    /// `revision` itself, so a watch from just before it may still work; the
    /// embedded store drops that event too.) A revision beyond the current
    /// one compacts up to the current one.
    async fn compact(&self, revision: Revision) -> Result<()>;
}
