//! The embedded backend: a [`Storage`] durable in one local directory (the
//! apiserver's `--data-dir`), the default when no `--etcd-servers` is given.
//!
//! It keeps its data in [redb](https://www.redb.org): pure Rust (no C, cmake
//! or system libraries, so the aarch64 cross build stays plain), ACID with
//! copy-on-write B-trees, checksummed pages and an fsync before every commit
//! returns, MVCC read transactions that run beside the single writer, and a
//! stable (1.0+) file format. Rejected: RocksDB (C++ through cmake, heavy to
//! cross-compile), LMDB/heed and SQLite (C code, and more machinery than a
//! sorted key-value map needs), sled (unmaintained beta), fjall (a good LSM,
//! but background compaction threads and write amplification buy nothing for
//! a small, overwrite-heavy control-plane dataset).
//!
//! Writes go through one writer thread that batches whatever requests are
//! queued into one redb transaction (group commit): each request still gets
//! its own revision and its own outcome, but concurrent writers share one
//! fsync. A request is acknowledged only after its transaction committed, so
//! an acknowledged write survives `kill -9`. The global revision is stored in
//! the same transaction as the data, so it continues across restarts; the
//! event history for watches is in memory and starts empty at the reopened
//! revision (see `history.rs` and README.md).
//!
//! A failed commit (a full disk, an I/O error) is answered as an error to
//! every request of its batch, fails the health check, and makes the writer
//! close and reopen the database (redb refuses every later write until it
//! is reopened, and repairs on reopening): writes resume once the cause is
//! gone, and the health check passes again with the next commit.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use tokio::sync::{mpsc, oneshot};

use crate::history::History;
use crate::{
    ContinueToken, KeyValue, ListOptions, ListResult, Result, Revision, Storage, StorageError,
    WatchEvent, WatchOptions, WatchStream,
};

/// Key → 16-byte header (create revision, mod revision, little-endian) + value.
const KV: TableDefinition<&str, &[u8]> = TableDefinition::new("kv");
/// Store-wide counters.
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const META_REVISION: &str = "revision";
const HEADER_LEN: usize = 16;

/// The file the store lives in, inside its data directory.
pub const DATA_FILE: &str = "store.redb";

/// Tuning of an [`EmbeddedStorage`].
#[derive(Clone, Debug)]
pub struct EmbeddedOptions {
    /// Events kept in memory for watches and continue tokens; older ones are
    /// compacted (Kubernetes' watch cache keeps a similar window).
    pub history_capacity: usize,
    /// Most write requests committed in one transaction.
    pub max_batch: usize,
    /// Snapshots kept for the next pages of paged lists (see
    /// [`ListSnapshots`]); 0 leaves the pages to the history alone.
    pub list_snapshots: usize,
}

impl Default for EmbeddedOptions {
    fn default() -> Self {
        EmbeddedOptions {
            history_capacity: 10_000,
            max_batch: 512,
            list_snapshots: 8,
        }
    }
}

/// The embedded, durable store. Cheap to clone; the data directory is
/// released when the last clone is dropped.
#[derive(Clone)]
pub struct EmbeddedStorage {
    inner: Arc<Inner>,
}

struct Inner {
    dir: PathBuf,
    db: Arc<DatabaseSlot>,
    history: Arc<History>,
    /// `None` only while dropping.
    writes: Option<mpsc::Sender<WriteRequest>>,
    writer: Option<JoinHandle<()>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Closing the queue stops the writer after its current batch; wait
        // for it so the database file is closed when the store is gone.
        self.writes = None;
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

impl fmt::Debug for EmbeddedStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmbeddedStorage")
            .field("dir", &self.inner.dir)
            .finish_non_exhaustive()
    }
}

/// The open database, swapped for a reopened one after a failed commit,
/// and what went wrong last.
struct DatabaseSlot {
    path: PathBuf,
    /// `None` while the writer reopens it.
    current: RwLock<Option<Arc<Database>>>,
    /// The last commit's error, until a commit succeeds.
    failure: Mutex<Option<String>>,
    /// Snapshots of the current database that paged lists read on from.
    list_snapshots: Mutex<ListSnapshots>,
}

/// The key table as one read snapshot saw it.
type TableSnapshot = redb::ReadOnlyTable<&'static str, &'static [u8]>;

/// Read snapshots kept for the continue tokens of paged lists: the next
/// page of a list reads the very snapshot its first page read, so a paged
/// list stays consistent at its revision however many writes come between
/// its pages (the event history, which otherwise rebuilds that revision,
/// holds only the last `history_capacity` events), until a compaction past
/// that revision, as on etcd. At most `capacity` are
/// kept, the least recently read dropped first, and each is dropped once
/// unread for [`LIST_SNAPSHOT_IDLE`]: a kept snapshot holds the pages it
/// reads from, which the writer cannot reuse while it lives.
struct ListSnapshots {
    capacity: usize,
    kept: Vec<KeptSnapshot>,
}

struct KeptSnapshot {
    revision: Revision,
    table: Arc<TableSnapshot>,
    read: Instant,
}

/// How long a paged list's snapshot outlives its last page read.
pub const LIST_SNAPSHOT_IDLE: Duration = Duration::from_secs(30);

impl ListSnapshots {
    fn new(capacity: usize) -> Self {
        ListSnapshots {
            capacity,
            kept: Vec::new(),
        }
    }

    /// The snapshot kept at `revision`, if any (and marks it read).
    fn at(&mut self, revision: Revision) -> Option<Arc<TableSnapshot>> {
        self.drop_idle();
        let kept = self
            .kept
            .iter_mut()
            .find(|kept| kept.revision == revision)?;
        kept.read = Instant::now();
        Some(Arc::clone(&kept.table))
    }

    /// Keeps `table`, the state at `revision`, for the pages to come.
    fn keep(&mut self, revision: Revision, table: Arc<TableSnapshot>) {
        self.drop_idle();
        if self.capacity == 0 || self.kept.iter().any(|kept| kept.revision == revision) {
            return;
        }
        if self.kept.len() >= self.capacity
            && let Some(oldest) = (0..self.kept.len()).min_by_key(|&index| self.kept[index].read)
        {
            self.kept.swap_remove(oldest);
        }
        self.kept.push(KeptSnapshot {
            revision,
            table,
            read: Instant::now(),
        });
    }

    fn drop_idle(&mut self) {
        self.kept
            .retain(|kept| kept.read.elapsed() < LIST_SNAPSHOT_IDLE);
    }
}

impl DatabaseSlot {
    /// The database to read from or write to.
    fn get(&self) -> Result<Arc<Database>> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .ok_or_else(|| {
                StorageError::internal(
                    "using the embedded store",
                    "it is being reopened after a failed write",
                )
            })
    }

    fn failure(&self) -> Option<String> {
        self.failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn list_snapshots(&self) -> std::sync::MutexGuard<'_, ListSnapshots> {
        self.list_snapshots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn set_failure(&self, failure: Option<String>) {
        *self.failure.lock().unwrap_or_else(PoisonError::into_inner) = failure;
    }

    /// Closes the database and opens it again (redb repairs the file on
    /// opening after a failed commit). Readers still holding the old handle
    /// finish within moments; the open is retried until they have.
    fn reopen(&self) -> Result<Arc<Database>> {
        let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
        *current = None;
        // A kept snapshot holds the old database open.
        self.list_snapshots().kept.clear();
        let mut last_error = None;
        for _ in 0..100 {
            match Database::create(&self.path) {
                Ok(db) => {
                    let db = Arc::new(db);
                    *current = Some(Arc::clone(&db));
                    return Ok(db);
                }
                Err(err) => {
                    last_error = Some(err);
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
        Err(StorageError::internal(
            format!("reopening {}", self.path.display()),
            last_error.map_or_else(|| "unknown error".to_owned(), |e| e.to_string()),
        ))
    }
}

enum WriteOp {
    Create {
        key: String,
        value: Bytes,
    },
    Update {
        key: String,
        expected: Revision,
        value: Bytes,
    },
    Delete {
        key: String,
        expected: Option<Revision>,
    },
}

enum Written {
    Put(KeyValue),
    Deleted(KeyValue, Revision),
}

struct WriteRequest {
    op: WriteOp,
    reply: oneshot::Sender<Result<Written>>,
}

impl EmbeddedStorage {
    /// Opens (or creates) the store in `dir`, continuing its revision.
    pub async fn open(dir: impl Into<PathBuf>, options: EmbeddedOptions) -> Result<Self> {
        let dir = dir.into();
        tokio::task::spawn_blocking(move || Self::open_blocking(dir, options))
            .await
            .map_err(|e| StorageError::internal("opening the embedded store", e))?
    }

    fn open_blocking(dir: PathBuf, options: EmbeddedOptions) -> Result<Self> {
        std::fs::create_dir_all(&dir).map_err(|e| {
            StorageError::internal(format!("creating data directory {}", dir.display()), e)
        })?;
        let path = dir.join(DATA_FILE);
        let db = Database::create(&path)
            .map_err(|e| StorageError::internal(format!("opening {}", path.display()), e))?;
        let revision = init_tables(&db)
            .map_err(|e| StorageError::internal(format!("initialising {}", path.display()), e))?;
        let db = Arc::new(DatabaseSlot {
            path,
            current: RwLock::new(Some(Arc::new(db))),
            failure: Mutex::new(None),
            list_snapshots: Mutex::new(ListSnapshots::new(options.list_snapshots)),
        });
        let history = History::new(revision, options.history_capacity);
        let (writes, queue) = mpsc::channel(options.max_batch.max(1) * 4);
        let writer = {
            let db = Arc::clone(&db);
            let history = Arc::clone(&history);
            let max_batch = options.max_batch.max(1);
            std::thread::Builder::new()
                .name("storage-writer".into())
                .spawn(move || run_writer(&db, &history, queue, max_batch))
                .map_err(|e| StorageError::internal("starting the storage writer", e))?
        };
        Ok(EmbeddedStorage {
            inner: Arc::new(Inner {
                dir,
                db,
                history,
                writes: Some(writes),
                writer: Some(writer),
            }),
        })
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    async fn write(&self, op: WriteOp) -> Result<Written> {
        let stopped = || {
            StorageError::internal(
                "writing to the embedded store",
                "the storage writer has stopped",
            )
        };
        let writes = self.inner.writes.as_ref().ok_or_else(stopped)?;
        let (reply, outcome) = oneshot::channel();
        writes
            .send(WriteRequest { op, reply })
            .await
            .map_err(|_| stopped())?;
        outcome.await.map_err(|_| stopped())?
    }

    /// Runs a read on the blocking pool (redb reads may touch the disk).
    async fn read<T: Send + 'static>(
        &self,
        context: &'static str,
        f: impl FnOnce(&Inner) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || f(&inner))
            .await
            .map_err(|e| StorageError::internal(context, e))?
    }
}

/// Creates the tables if needed; returns the stored revision.
fn init_tables(db: &Database) -> Result<Revision, redb::Error> {
    let txn = db.begin_write()?;
    let revision = {
        txn.open_table(KV)?;
        let meta = txn.open_table(META)?;
        let revision = meta.get(META_REVISION)?.map(|v| v.value()).unwrap_or(0);
        Revision::new(revision)
    };
    txn.commit()?;
    Ok(revision)
}

fn encode(create: Revision, modified: Revision, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + value.len());
    out.extend_from_slice(&create.get().to_le_bytes());
    out.extend_from_slice(&modified.get().to_le_bytes());
    out.extend_from_slice(value);
    out
}

fn decode(key: &str, stored: &[u8]) -> Result<KeyValue> {
    let corrupt = || StorageError::internal(format!("reading {key:?}"), "stored record is corrupt");
    let (create, rest) = stored.split_first_chunk::<8>().ok_or_else(corrupt)?;
    let (modified, value) = rest.split_first_chunk::<8>().ok_or_else(corrupt)?;
    Ok(KeyValue {
        key: key.to_owned(),
        value: Bytes::copy_from_slice(value),
        create_revision: Revision::new(u64::from_le_bytes(*create)),
        mod_revision: Revision::new(u64::from_le_bytes(*modified)),
    })
}

/// The writer thread: group commit of whatever is queued; after a failed
/// commit, the database is reopened before the next batch.
fn run_writer(
    slot: &DatabaseSlot,
    history: &History,
    mut queue: mpsc::Receiver<WriteRequest>,
    max_batch: usize,
) {
    while let Some(first) = queue.blocking_recv() {
        let mut batch = vec![first];
        while batch.len() < max_batch {
            match queue.try_recv() {
                Ok(request) => batch.push(request),
                Err(_) => break,
            }
        }
        let (ops, replies): (Vec<_>, Vec<_>) = batch.into_iter().map(|r| (r.op, r.reply)).unzip();
        let db = match slot.get() {
            Ok(db) => Ok(db),
            Err(_) => slot.reopen(),
        };
        let committed = db.and_then(|db| {
            commit_batch(&db, history, ops)
                .map_err(|err| StorageError::internal("committing to the embedded store", err))
        });
        match committed {
            Ok(outcomes) => {
                slot.set_failure(None);
                for (reply, outcome) in replies.into_iter().zip(outcomes) {
                    // The requester may have given up (cancelled); the write
                    // stands regardless, as with etcd.
                    let _ = reply.send(outcome);
                }
            }
            Err(err) => {
                let message = err.to_string();
                slot.set_failure(Some(message.clone()));
                for reply in replies {
                    let _ = reply.send(Err(StorageError::internal(
                        "committing to the embedded store",
                        message.clone(),
                    )));
                }
                // redb refuses every write after a failed commit until the
                // database is reopened; reopening also repairs the file.
                match slot.reopen() {
                    Ok(_) => {
                        tracing::warn!(error = %message, "a commit failed; reopened the embedded store")
                    }
                    Err(reopen) => {
                        tracing::error!(error = %message, reopen = %reopen, "a commit failed and the embedded store could not be reopened")
                    }
                }
            }
        }
    }
}

/// Applies `ops` in order in one transaction, each at its own revision, and
/// commits once. Returns each op's outcome; an `Err` fails the whole batch.
fn commit_batch(
    db: &Database,
    history: &History,
    ops: Vec<WriteOp>,
) -> Result<Vec<Result<Written>>, redb::Error> {
    let txn = db.begin_write()?;
    let mut outcomes = Vec::with_capacity(ops.len());
    let mut events = Vec::new();
    {
        let mut kv = txn.open_table(KV)?;
        let mut meta = txn.open_table(META)?;
        let mut revision = Revision::new(meta.get(META_REVISION)?.map(|v| v.value()).unwrap_or(0));
        for op in ops {
            let current = match &op {
                WriteOp::Create { key, .. }
                | WriteOp::Update { key, .. }
                | WriteOp::Delete { key, .. } => kv
                    .get(key.as_str())?
                    .map(|stored| decode(key, stored.value())),
            };
            let current = match current.transpose() {
                Ok(current) => current,
                Err(err) => {
                    outcomes.push(Err(err));
                    continue;
                }
            };
            let outcome = match (op, current) {
                (WriteOp::Create { key, .. }, Some(_)) => Err(StorageError::AlreadyExists { key }),
                (WriteOp::Create { key, value }, None) => {
                    revision = revision.next();
                    kv.insert(key.as_str(), encode(revision, revision, &value).as_slice())?;
                    let created = KeyValue {
                        key,
                        value,
                        create_revision: revision,
                        mod_revision: revision,
                    };
                    events.push(WatchEvent::Added(created.clone()));
                    Ok(Written::Put(created))
                }
                (WriteOp::Update { key, .. } | WriteOp::Delete { key, .. }, None) => {
                    Err(StorageError::NotFound { key })
                }
                (WriteOp::Update { key, expected, .. }, Some(previous))
                    if previous.mod_revision != expected =>
                {
                    Err(StorageError::Conflict {
                        key,
                        expected,
                        current: previous.mod_revision,
                    })
                }
                (WriteOp::Update { key, value, .. }, Some(previous)) => {
                    revision = revision.next();
                    let encoded = encode(previous.create_revision, revision, &value);
                    kv.insert(key.as_str(), encoded.as_slice())?;
                    let updated = KeyValue {
                        key,
                        value,
                        create_revision: previous.create_revision,
                        mod_revision: revision,
                    };
                    events.push(WatchEvent::Modified {
                        current: updated.clone(),
                        previous,
                    });
                    Ok(Written::Put(updated))
                }
                (
                    WriteOp::Delete {
                        key,
                        expected: Some(expected),
                    },
                    Some(previous),
                ) if previous.mod_revision != expected => Err(StorageError::Conflict {
                    key,
                    expected,
                    current: previous.mod_revision,
                }),
                (WriteOp::Delete { key, .. }, Some(previous)) => {
                    revision = revision.next();
                    kv.remove(key.as_str())?;
                    events.push(WatchEvent::Deleted {
                        previous: previous.clone(),
                        revision,
                    });
                    Ok(Written::Deleted(previous, revision))
                }
            };
            outcomes.push(outcome);
        }
        if events.is_empty() {
            drop((kv, meta));
            txn.abort()?;
            return Ok(outcomes);
        }
        meta.insert(META_REVISION, revision.get())?;
    }
    // The commit (an fsync) runs without the history lock, so async callers
    // of the history never wait for the disk; readers of a past state wait
    // for the history to reach their snapshot (`History::reaching`).
    txn.commit()?;
    history.append(events);
    Ok(outcomes)
}

#[async_trait::async_trait]
impl Storage for EmbeddedStorage {
    async fn get(&self, key: &str) -> Result<KeyValue> {
        // One key is read on the calling task: a B-tree lookup in redb's
        // page cache costs microseconds, a hop to the blocking pool and back
        // costs more than that in thread wake-ups (gets/s rose by a quarter
        // without it, BENCHMARKS.md). Lists stay on the blocking pool.
        let txn = self
            .inner
            .db
            .get()?
            .begin_read()
            .map_err(|e| StorageError::internal("starting a read", e))?;
        let table = txn
            .open_table(KV)
            .map_err(|e| StorageError::internal("opening the key table", e))?;
        match table
            .get(key)
            .map_err(|e| StorageError::internal(format!("reading {key:?}"), e))?
        {
            Some(stored) => decode(key, stored.value()),
            None => Err(StorageError::NotFound {
                key: key.to_owned(),
            }),
        }
    }

    async fn list(&self, prefix: &str, opts: ListOptions) -> Result<ListResult> {
        let prefix = prefix.to_owned();
        let (start_key, at) = match &opts.continue_token {
            Some(token) => {
                let token = ContinueToken::decode(token, &prefix)?;
                (token.start_key, Some(token.revision))
            }
            None => (prefix.clone(), opts.revision),
        };
        let limit = opts.limit.map_or(usize::MAX, |l| l.get());
        self.read("listing the embedded store", move |inner| {
            list_blocking(inner, &prefix, &start_key, at, limit)
        })
        .await
    }

    async fn create(&self, key: &str, value: Bytes) -> Result<KeyValue> {
        let op = WriteOp::Create {
            key: key.to_owned(),
            value,
        };
        match self.write(op).await? {
            Written::Put(kv) => Ok(kv),
            Written::Deleted(..) => Err(unexpected_outcome()),
        }
    }

    async fn update(&self, key: &str, expected: Revision, value: Bytes) -> Result<KeyValue> {
        let op = WriteOp::Update {
            key: key.to_owned(),
            expected,
            value,
        };
        match self.write(op).await? {
            Written::Put(kv) => Ok(kv),
            Written::Deleted(..) => Err(unexpected_outcome()),
        }
    }

    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<(KeyValue, Revision)> {
        let op = WriteOp::Delete {
            key: key.to_owned(),
            expected,
        };
        match self.write(op).await? {
            Written::Deleted(kv, revision) => Ok((kv, revision)),
            Written::Put(_) => Err(unexpected_outcome()),
        }
    }

    async fn watch(&self, key: &str, opts: WatchOptions) -> Result<WatchStream> {
        self.inner.history.watch(key, &opts)
    }

    async fn check_health(&self) -> Result<()> {
        let writer_alive = self
            .inner
            .writes
            .as_ref()
            .is_some_and(|writes| !writes.is_closed());
        if !writer_alive {
            return Err(StorageError::internal(
                "checking the embedded store",
                "the storage writer has stopped",
            ));
        }
        if let Some(failure) = self.inner.db.failure() {
            return Err(StorageError::internal(
                "the last write to the embedded store failed (writes fail until one succeeds)",
                failure,
            ));
        }
        self.read("checking the embedded store", |inner| {
            let txn = inner
                .db
                .get()?
                .begin_read()
                .map_err(|e| StorageError::internal("starting a read", e))?;
            txn.open_table(META)
                .map_err(|e| StorageError::internal("opening the meta table", e))?;
            Ok(())
        })
        .await
    }

    async fn current_revision(&self) -> Result<Revision> {
        Ok(self.inner.history.lock().current())
    }

    async fn compact(&self, revision: Revision) -> Result<()> {
        self.inner.history.lock().compact(revision);
        // Compacted revisions are gone for paged lists too, as on etcd.
        self.inner
            .db
            .list_snapshots()
            .kept
            .retain(|kept| kept.revision >= revision);
        Ok(())
    }
}

fn unexpected_outcome() -> StorageError {
    StorageError::internal(
        "writing to the embedded store",
        "the writer answered another request",
    )
}

/// One page of keys under `prefix` from `start_key`, at revision `at` (the
/// latest if `None`), rebuilt from the current data and the history.
fn list_blocking(
    inner: &Inner,
    prefix: &str,
    start_key: &str,
    at: Option<Revision>,
    limit: usize,
) -> Result<ListResult> {
    let db = inner.db.get()?;
    // A snapshot and the revision it is at, read in the same transaction.
    let snapshot = || -> Result<(redb::ReadTransaction, Revision)> {
        let txn = db
            .begin_read()
            .map_err(|e| StorageError::internal("starting a read", e))?;
        let revision = txn
            .open_table(META)
            .map_err(|e| StorageError::internal("opening the meta table", e))?
            .get(META_REVISION)
            .map_err(|e| StorageError::internal("reading the revision", e))?
            .map_or(0, |v| v.value());
        Ok((txn, Revision::new(revision)))
    };
    let open_table = |txn: redb::ReadTransaction| -> Result<TableSnapshot> {
        txn.open_table(KV)
            .map_err(|e| StorageError::internal("opening the key table", e))
    };
    let kept = at.and_then(|at| inner.db.list_snapshots().at(at));
    // The table to read, the revision it is at, the changes since `at` to
    // undo over it, and whether it is a snapshot at exactly `revision`.
    let (table, revision, changed, exact) = match (at, kept) {
        // The next page of a paged list, from the snapshot of its first.
        (Some(at), Some(table)) => (table, at, Default::default(), true),
        // The latest state: the revision is read in the same snapshot.
        (None, _) => {
            let (txn, revision) = snapshot()?;
            (
                Arc::new(open_table(txn)?),
                revision,
                Default::default(),
                true,
            )
        }
        // A past state: the snapshot, with the changes since `at` undone
        // from the history once it holds every event up to the snapshot.
        (Some(at), None) => {
            let (mut txn, mut snapshot_revision) = snapshot()?;
            if at > snapshot_revision {
                // Committed after the snapshot began, or not at all.
                let current = inner.history.lock().current();
                if at > current {
                    return Err(StorageError::TooLargeRevision {
                        requested: at,
                        current,
                    });
                }
                (txn, snapshot_revision) = snapshot()?;
            }
            let state = inner.history.reaching(snapshot_revision)?;
            let changed = state.undo_between(at, snapshot_revision, prefix, start_key)?;
            drop(state);
            let exact = at == snapshot_revision;
            (Arc::new(open_table(txn)?), at, changed, exact)
        }
    };
    let range = table
        .range(start_key..)
        .map_err(|e| StorageError::internal(format!("listing {prefix:?}"), e))?;
    let mut stored = range.map(|entry| {
        let (key, value) =
            entry.map_err(|e| StorageError::internal(format!("listing {prefix:?}"), e))?;
        decode(key.value(), value.value())
    });
    let mut changed = changed.into_iter().peekable();
    let mut items: Vec<KeyValue> = Vec::new();
    let mut next_stored = stored.next().transpose()?;
    // Merge the stored keys with the changed ones (which replace or hide
    // stored keys, or bring back deleted ones) until one past the limit.
    while items.len() <= limit {
        let from_stored = next_stored
            .as_ref()
            .filter(|kv| kv.key.starts_with(prefix))
            .map(|kv| kv.key.as_str());
        let from_changed = changed.peek().map(|(key, _)| key.as_str());
        match (from_stored, from_changed) {
            (None, None) => break,
            (Some(s), Some(c)) if c <= s => {
                if c == s {
                    next_stored = stored.next().transpose()?;
                }
                if let Some((_, Some(kv))) = changed.next() {
                    items.push(kv);
                }
            }
            (Some(_), _) => {
                if let Some(kv) = next_stored.take() {
                    items.push(kv);
                }
                next_stored = stored.next().transpose()?;
            }
            (None, Some(_)) => {
                if let Some((_, Some(kv))) = changed.next() {
                    items.push(kv);
                }
            }
        }
    }
    let continue_token = if items.len() > limit {
        items.truncate(limit);
        if exact {
            drop(stored);
            inner.db.list_snapshots().keep(revision, table);
        }
        match items.last() {
            Some(last) => Some(ContinueToken::after(&last.key, revision).encode(prefix)?),
            None => None,
        }
    } else {
        None
    };
    Ok(ListResult {
        items,
        revision,
        continue_token,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_short_ones_are_corrupt() {
        let stored = encode(Revision::new(3), Revision::new(9), b"{\"a\":1}");
        let kv = decode("/k", &stored).expect("decode");
        assert_eq!(kv.create_revision, Revision::new(3));
        assert_eq!(kv.mod_revision, Revision::new(9));
        assert_eq!(&kv.value[..], b"{\"a\":1}");
        assert!(decode("/k", &stored[..10]).is_err());
    }
}
