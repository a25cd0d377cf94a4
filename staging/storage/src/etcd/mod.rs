//! The etcd3 backend (mirrors `k8s.io/apiserver/pkg/storage/etcd3`): the
//! [`Storage`] contract on an etcd v3 cluster, through the etcd-client crate
//! (gRPC over tonic, TLS by rustls with the ring provider).
//!
//! - **Revisions** are etcd's: a key's `mod_revision` is the object's
//!   `resourceVersion`, a response header's revision is the list's.
//! - **Compare-and-swap** is one etcd transaction per write: create compares
//!   the key's `create_revision` with 0, update and a delete with a
//!   precondition compare its `mod_revision`; the failure branch reads the
//!   key, so a conflict names the revision found in the same round trip.
//! - **Lists** are one range read at one revision (the latest, or the
//!   continue token's) with etcd's `limit`; every page of a paginated list
//!   reads at the first page's revision until etcd compacts it (410).
//! - **Watches** are etcd watches from `revision + 1` with the previous value
//!   of each key; a watch from now first reads the current revision, so a
//!   write acknowledged before `watch` returns is never missed. A watch
//!   whose start was compacted ends with one `Expired` item.
//! - **Compaction** is etcd's, run by [`compactor`] every
//!   `--etcd-compaction-interval`, coordinated between apiservers as
//!   upstream does.
//!
//! - **Members** that stop answering are taken out of the client's
//!   balancer until they answer again ([`members`]).
//!
//! Keys: see [`keys`]. Errors: see [`errors`].

pub mod compactor;
mod errors;
mod keys;
pub mod members;
#[cfg(feature = "etcd-test-server")]
pub mod test_server;
mod watch;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use etcd_client::{
    Certificate, Client, Compare, CompareOp, ConnectOptions, GetOptions, Identity, KvClient,
    PutOptions, TlsOptions, Txn, TxnOp, TxnOpResponse,
};

use crate::{
    ContinueToken, KeyValue, ListOptions, ListResult, Result, Revision, Storage, StorageError,
    WatchOptions, WatchStream,
};
use errors::EtcdError;
pub use keys::REGISTRY_ROOT;
use keys::{KeySpace, prefix_end};

/// The largest etcd response read (upstream's `MaxCallRecvMsgSize`, 2 GiB).
const MAX_RESPONSE_BYTES: usize = i32::MAX as usize;

/// How to reach an etcd cluster (the apiserver's `--etcd-*` flags).
#[derive(Clone, Debug)]
pub struct EtcdConfig {
    /// Client URLs (`--etcd-servers`): `http://host:port` or `https://host:port`.
    pub endpoints: Vec<String>,
    /// Where the registry's keys live (`--etcd-prefix`, default `/registry`).
    pub prefix: String,
    /// TLS to etcd; required for `https://` endpoints that check clients.
    pub tls: EtcdTls,
    /// Bound on every request (upstream's per-request context deadline); a
    /// request to an unreachable cluster fails after it instead of hanging.
    pub request_timeout: Duration,
    /// Bound on the health probe: the longer of `--etcd-healthcheck-timeout`
    /// and `--etcd-readycheck-timeout` (each check bounds it by its own).
    pub health_timeout: Duration,
    /// How often a quiet watch asks etcd how far it has got
    /// ([`WatchEvent::Progress`](crate::WatchEvent::Progress), for
    /// bookmarks); [`WATCH_PROGRESS_INTERVAL`] by default.
    pub watch_progress_interval: Duration,
}

/// How often a watch asks etcd for its progress: as often as the registry
/// sends bookmarks (once a minute), so each bookmark is at most that old.
pub const WATCH_PROGRESS_INTERVAL: Duration = Duration::from_secs(60);

/// TLS material for the connection to etcd (PEM files).
#[derive(Clone, Debug, Default)]
pub struct EtcdTls {
    /// CA bundle that signed etcd's serving certificates (`--etcd-cafile`).
    pub ca_file: Option<PathBuf>,
    /// Client certificate (`--etcd-certfile`), with its key (`--etcd-keyfile`).
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
}

impl EtcdTls {
    fn is_configured(&self) -> bool {
        self.ca_file.is_some() || self.cert_file.is_some() || self.key_file.is_some()
    }

    fn options(&self) -> Result<TlsOptions> {
        let read = |path: &PathBuf, what: &str| {
            std::fs::read(path).map_err(|e| {
                StorageError::internal(format!("reading {what} {}", path.display()), e)
            })
        };
        let mut tls = TlsOptions::new();
        if let Some(ca) = &self.ca_file {
            tls = tls.ca_certificate(Certificate::from_pem(read(ca, "--etcd-cafile")?));
        }
        match (&self.cert_file, &self.key_file) {
            (Some(cert), Some(key)) => {
                tls = tls.identity(Identity::from_pem(
                    read(cert, "--etcd-certfile")?,
                    read(key, "--etcd-keyfile")?,
                ));
            }
            (None, None) => {}
            _ => {
                return Err(StorageError::internal(
                    "configuring TLS to etcd",
                    "--etcd-certfile and --etcd-keyfile must be given together",
                ));
            }
        }
        Ok(tls)
    }
}

/// A [`Storage`] on an etcd cluster. Cheap to clone: clones share one
/// connection pool.
#[derive(Clone)]
pub struct EtcdStorage {
    client: Client,
    keys: KeySpace,
    endpoints: Arc<[String]>,
    health_timeout: Duration,
    watch_progress_interval: Duration,
    /// The highest revision known to be compacted (by this process or seen
    /// from etcd), to name it in `Expired` errors.
    compacted: Arc<AtomicU64>,
    /// The member prober ([`members`]), ended with the last clone.
    _members: Option<Arc<AbortOnDrop>>,
}

/// Ends a background task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl fmt::Debug for EtcdStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EtcdStorage")
            .field("endpoints", &self.endpoints)
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

impl EtcdStorage {
    /// Connects to the cluster. The connection is made lazily and kept up by
    /// the client: an unreachable cluster fails requests (and the health
    /// check), not this call, and a cluster that comes back is used again.
    pub async fn connect(config: &EtcdConfig) -> Result<Self> {
        if config.endpoints.is_empty() {
            return Err(StorageError::internal(
                "connecting to etcd",
                "no endpoints given (--etcd-servers)",
            ));
        }
        let mut options = ConnectOptions::new()
            .with_timeout(config.request_timeout)
            .with_connect_timeout(config.request_timeout)
            .with_keep_alive(Duration::from_secs(30), Duration::from_secs(10))
            .with_keep_alive_while_idle(true)
            // A member cut off from its cluster refuses requests and ends
            // watches instead of serving a stale view (upstream's watches
            // run with WithRequireLeader too).
            .with_require_leader(true);
        if config.tls.is_configured() {
            options = options.with_tls(config.tls.options()?);
        }
        let client = Client::connect(&config.endpoints, Some(options.clone()))
            .await
            .map_err(|e| EtcdError::new("connecting to etcd", e).into_storage())?;
        let members = (config.endpoints.len() > 1).then(|| {
            Arc::new(AbortOnDrop(members::spawn(
                client.clone(),
                config.endpoints.clone(),
                options,
            )))
        });
        Ok(EtcdStorage {
            client,
            keys: KeySpace::new(&config.prefix),
            endpoints: config.endpoints.clone().into(),
            health_timeout: config.health_timeout,
            watch_progress_interval: config.watch_progress_interval,
            compacted: Arc::new(AtomicU64::new(0)),
            _members: members,
        })
    }

    /// A KV client that takes responses of any size etcd sends (gRPC's
    /// default, 4 MiB, would fail a list of a few thousand pods; upstream's
    /// client takes up to 2 GiB too). What a list holds is bounded by what
    /// etcd stores (`--max-request-bytes` per object on etcd's side).
    fn kv(&self) -> KvClient {
        self.client
            .kv_client()
            .max_decoding_message_size(MAX_RESPONSE_BYTES)
    }

    /// The client, for the compactor and the endpoint lease reconciler.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Writes `key` bound to a new etcd lease of `ttl` (rounded up to whole
    /// seconds; etcd raises it to its minimum if lower): etcd deletes the
    /// key once `ttl` passes without another `put_with_ttl` of it. Upstream's
    /// master leases (`--endpoint-reconciler-type=lease`) live this way.
    pub async fn put_with_ttl(&self, key: &str, value: Bytes, ttl: Duration) -> Result<KeyValue> {
        let physical = self.keys.physical(key)?;
        let seconds = i64::try_from(ttl.as_secs() + u64::from(ttl.subsec_nanos() > 0))
            .unwrap_or(i64::MAX)
            .max(1);
        let lease = self
            .client
            .lease_client()
            .grant(seconds, None)
            .await
            .map_err(|e| EtcdError::new("granting an etcd lease", e).into_storage())?;
        let put = self
            .kv()
            .put(
                physical,
                value.to_vec(),
                Some(PutOptions::new().with_lease(lease.id()).with_prev_key()),
            )
            .await
            .map_err(|e| EtcdError::new("writing a leased key to etcd", e).into_storage())?;
        let revision = header_revision(put.header());
        Ok(KeyValue {
            key: key.to_owned(),
            value,
            create_revision: put
                .prev_key()
                .map_or(revision, |prev| self::revision(prev.create_revision())),
            mod_revision: revision,
        })
    }

    fn key_value(&self, kv: &etcd_client::KeyValue) -> KeyValue {
        KeyValue {
            key: self.keys.logical(kv.key()),
            value: Bytes::copy_from_slice(kv.value()),
            create_revision: revision(kv.create_revision()),
            mod_revision: revision(kv.mod_revision()),
        }
    }

    fn compacted(&self) -> Revision {
        Revision::new(self.compacted.load(Ordering::Relaxed))
    }

    fn saw_compaction(&self, revision: Revision) {
        self.compacted.fetch_max(revision.get(), Ordering::Relaxed);
    }

    /// The error of a read at `requested` that etcd refused as compacted
    /// or as a future revision.
    async fn revision_error(&self, err: EtcdError, requested: Revision) -> StorageError {
        if err.is_compacted() {
            let current = self.current_revision().await.unwrap_or(requested);
            // etcd does not say how far it compacted; at least past the request.
            let compacted = self.compacted().max(requested.next());
            return StorageError::Expired {
                requested,
                compacted,
                current,
            };
        }
        if err.is_future_revision() {
            let current = self.current_revision().await.unwrap_or(Revision::ZERO);
            return StorageError::TooLargeRevision { requested, current };
        }
        err.into_storage()
    }

    /// One transaction: `then` when every comparison holds, else a read of
    /// `key` (whose result tells why it failed).
    async fn txn_or_read(
        &self,
        context: &'static str,
        key: &str,
        when: Vec<Compare>,
        then: TxnOp,
    ) -> Result<Txned> {
        let txn = Txn::new()
            .when(when)
            .and_then(vec![then])
            .or_else(vec![TxnOp::get(key, None)]);
        let response = self
            .kv()
            .txn(txn)
            .await
            .map_err(|e| EtcdError::new(context, e).into_storage())?;
        let revision = header_revision(response.header());
        let succeeded = response.succeeded();
        let mut responses = response.op_responses().into_iter();
        let first = responses.next().ok_or_else(|| {
            StorageError::internal(context, "etcd answered a transaction with no result")
        })?;
        Ok(Txned {
            succeeded,
            revision,
            first,
        })
    }

    /// The state of `key` read by a failed transaction: the conflict or
    /// absence it explains.
    fn failed_write(&self, key: &str, expected: Revision, read: TxnOpResponse) -> StorageError {
        match read {
            TxnOpResponse::Get(get) => match get.kvs().first() {
                Some(kv) => StorageError::Conflict {
                    key: key.to_owned(),
                    expected,
                    current: revision(kv.mod_revision()),
                },
                None => StorageError::not_found(key),
            },
            _ => StorageError::internal("writing to etcd", "unexpected transaction result"),
        }
    }
}

/// The outcome of [`EtcdStorage::txn_or_read`].
struct Txned {
    succeeded: bool,
    /// The cluster's revision after the transaction.
    revision: Revision,
    /// The result of the one operation that ran.
    first: TxnOpResponse,
}

fn revision(value: i64) -> Revision {
    Revision::new(u64::try_from(value).unwrap_or(0))
}

fn header_revision(header: Option<&etcd_client::ResponseHeader>) -> Revision {
    revision(header.map_or(0, |h| h.revision()))
}

/// A revision as etcd's signed 64-bit integer.
fn etcd_revision(revision: Revision) -> i64 {
    i64::try_from(revision.get()).unwrap_or(i64::MAX)
}

#[async_trait::async_trait]
impl Storage for EtcdStorage {
    async fn get(&self, key: &str) -> Result<KeyValue> {
        let physical = self.keys.physical(key)?;
        let response = self
            .kv()
            .get(physical, None)
            .await
            .map_err(|e| EtcdError::new("reading from etcd", e).into_storage())?;
        response
            .kvs()
            .first()
            .map(|kv| self.key_value(kv))
            .ok_or_else(|| StorageError::not_found(key))
    }

    async fn list(&self, prefix: &str, opts: ListOptions) -> Result<ListResult> {
        let (start, at) = match &opts.continue_token {
            Some(token) => {
                let token = ContinueToken::decode(token, prefix)?;
                (token.start_key, Some(token.revision))
            }
            None => (prefix.to_owned(), opts.revision),
        };
        let end = prefix_end(self.keys.physical(prefix)?.as_bytes());
        let mut options = GetOptions::new().with_range(end);
        if let Some(limit) = opts.limit {
            options = options.with_limit(i64::try_from(limit.get()).unwrap_or(i64::MAX));
        }
        if let Some(at) = at.filter(|at| *at > Revision::ZERO) {
            options = options.with_revision(etcd_revision(at));
        }
        let response = match self
            .kv()
            .get(self.keys.physical(&start)?, Some(options))
            .await
        {
            Ok(response) => response,
            Err(err) => {
                let err = EtcdError::new("listing from etcd", err);
                return Err(match at {
                    Some(at) => self.revision_error(err, at).await,
                    None => err.into_storage(),
                });
            }
        };
        let revision = at
            .filter(|at| *at > Revision::ZERO)
            .unwrap_or_else(|| header_revision(response.header()));
        let items: Vec<KeyValue> = response.kvs().iter().map(|kv| self.key_value(kv)).collect();
        let continue_token = match items.last() {
            Some(last) if response.more() => {
                Some(ContinueToken::after(&last.key, revision).encode(prefix)?)
            }
            _ => None,
        };
        Ok(ListResult {
            items,
            revision,
            continue_token,
        })
    }

    async fn create(&self, key: &str, value: Bytes) -> Result<KeyValue> {
        let physical = self.keys.physical(key)?;
        let done = self
            .txn_or_read(
                "creating in etcd",
                &physical,
                vec![Compare::create_revision(
                    physical.clone(),
                    CompareOp::Equal,
                    0,
                )],
                TxnOp::put(physical.clone(), value.to_vec(), None),
            )
            .await?;
        if !done.succeeded {
            return Err(StorageError::AlreadyExists {
                key: key.to_owned(),
            });
        }
        Ok(KeyValue {
            key: key.to_owned(),
            value,
            create_revision: done.revision,
            mod_revision: done.revision,
        })
    }

    async fn update(&self, key: &str, expected: Revision, value: Bytes) -> Result<KeyValue> {
        let physical = self.keys.physical(key)?;
        let done = self
            .txn_or_read(
                "updating in etcd",
                &physical,
                vec![Compare::mod_revision(
                    physical.clone(),
                    CompareOp::Equal,
                    etcd_revision(expected),
                )],
                TxnOp::put(
                    physical.clone(),
                    value.to_vec(),
                    Some(PutOptions::new().with_prev_key()),
                ),
            )
            .await?;
        if !done.succeeded {
            return Err(self.failed_write(key, expected, done.first));
        }
        let create_revision = match &done.first {
            TxnOpResponse::Put(put) => put.prev_key().map(|kv| revision(kv.create_revision())),
            _ => None,
        }
        .unwrap_or(done.revision);
        Ok(KeyValue {
            key: key.to_owned(),
            value,
            create_revision,
            mod_revision: done.revision,
        })
    }

    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<(KeyValue, Revision)> {
        let physical = self.keys.physical(key)?;
        let when = expected
            .map(|expected| {
                Compare::mod_revision(physical.clone(), CompareOp::Equal, etcd_revision(expected))
            })
            .into_iter()
            .collect();
        let done = self
            .txn_or_read(
                "deleting from etcd",
                &physical,
                when,
                TxnOp::delete(
                    physical.clone(),
                    Some(etcd_client::DeleteOptions::new().with_prev_key()),
                ),
            )
            .await?;
        if !done.succeeded {
            return Err(self.failed_write(key, expected.unwrap_or_default(), done.first));
        }
        match &done.first {
            TxnOpResponse::Delete(deleted) => match deleted.prev_kvs().first() {
                Some(previous) => Ok((self.key_value(previous), done.revision)),
                None => Err(StorageError::not_found(key)),
            },
            _ => Err(StorageError::internal(
                "deleting from etcd",
                "unexpected transaction result",
            )),
        }
    }

    async fn watch(&self, key: &str, opts: WatchOptions) -> Result<WatchStream> {
        let from = match opts.revision {
            Some(from) => from,
            None => self.current_revision().await?,
        };
        watch::open(self, key, opts.recursive, from).await
    }

    async fn check_health(&self) -> Result<()> {
        let mut kv = self.kv();
        let probe = kv.get(self.keys.health_key(), None);
        match tokio::time::timeout(self.health_timeout, probe).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(err)) => Err(EtcdError::new("probing etcd", err).into_storage()),
            Err(_) => Err(StorageError::internal(
                "probing etcd",
                format!(
                    "no answer from {} within {:?}",
                    self.endpoints.join(","),
                    self.health_timeout
                ),
            )),
        }
    }

    async fn current_revision(&self) -> Result<Revision> {
        let response = self
            .kv()
            .get(
                self.keys.health_key(),
                Some(GetOptions::new().with_count_only()),
            )
            .await
            .map_err(|e| EtcdError::new("reading etcd's revision", e).into_storage())?;
        Ok(header_revision(response.header()))
    }

    async fn compact(&self, revision: Revision) -> Result<()> {
        let target = revision.min(self.current_revision().await?);
        if target <= self.compacted() || target == Revision::ZERO {
            return Ok(());
        }
        if let Err(err) = self.kv().compact(etcd_revision(target), None).await {
            let err = EtcdError::new("compacting etcd", err);
            // Another apiserver (or an earlier call) compacted past it.
            if !err.is_compacted() {
                return Err(err.into_storage());
            }
        }
        self.saw_compaction(target);
        Ok(())
    }
}
