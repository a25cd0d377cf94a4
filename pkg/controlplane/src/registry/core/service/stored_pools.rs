//! The service pools kept in storage (upstream's
//! `pkg/registry/core/service/allocator/storage`): the primary cluster-IP
//! range, the secondary one of a dual-stack cluster and the node ports are
//! each one `RangeAllocation` object under `/registry/ranges/`, a bitmap
//! that changes only by compare-and-swap. Apiservers sharing a store thus
//! never hand out one value twice: two that pick the same value race on the
//! same object, and the loser reloads and picks again.
//!
//! The bitmaps in memory are this apiserver's copy of the stored ones,
//! reloaded whenever the stored revision moved; every change runs under one
//! lock, on a copy just checked against storage.

use std::sync::Arc;

use k8s_openapi::ByteString;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};

use apiserver_storage::{Revision, Storage, StorageError};

use super::Allocators;

/// Upstream's keys (under the registry prefix) for the primary and
/// secondary cluster-IP ranges and the node ports.
pub const SERVICE_IPS_KEY: &str = "/registry/ranges/serviceips";
pub const SECONDARY_SERVICE_IPS_KEY: &str = "/registry/ranges/secondaryserviceips";
pub const NODE_PORTS_KEY: &str = "/registry/ranges/servicenodeports";

/// How often one change is tried against writers that keep getting in
/// first before it fails.
const ATTEMPTS: usize = 16;

/// The stored form of one pool (`api.RangeAllocation`).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RangeAllocation {
    api_version: String,
    kind: String,
    metadata: ObjectMeta,
    range: String,
    data: ByteString,
}

impl RangeAllocation {
    fn new(range: String, data: Vec<u8>) -> Self {
        RangeAllocation {
            api_version: "v1".to_string(),
            kind: "RangeAllocation".to_string(),
            metadata: ObjectMeta::default(),
            range,
            data: ByteString(data),
        }
    }
}

/// Why a change to the pools did not land.
#[derive(Debug)]
pub enum PoolsError<E> {
    /// The change itself refused (a value taken, a pool full).
    Refused(E),
    /// Storage failed or other writers kept winning.
    Storage(String),
}

/// One pool's range and bitmap as stored.
type Snapshot = (String, Vec<u8>);

/// The pools as this apiserver last saw them in storage.
#[derive(Debug)]
struct Synced {
    allocators: Allocators,
    /// Per pool (the IP ranges in order, then the node ports), the revision
    /// the bitmap was loaded from or written at; `None` when the object is
    /// not stored yet (or the copy must be reloaded).
    revisions: Vec<Option<Revision>>,
}

impl Synced {
    fn keys(&self) -> impl Iterator<Item = &'static str> + '_ {
        let ips = self.allocators.ips.len();
        [SERVICE_IPS_KEY, SECONDARY_SERVICE_IPS_KEY]
            .into_iter()
            .take(ips)
            .chain(std::iter::once(NODE_PORTS_KEY))
    }

    fn snapshot(&self, pool: usize) -> Snapshot {
        match self.allocators.ips.get(pool) {
            Some(alloc) => alloc.snapshot(),
            None => self.allocators.node_ports.snapshot(),
        }
    }

    /// Loads a stored object into pool `pool` (`None`: empties it);
    /// `false` when the object describes another range: the pool is then
    /// emptied, and the next write replaces the object.
    fn restore(&mut self, pool: usize, stored: Option<&RangeAllocation>) -> bool {
        let (range, data) = match stored {
            Some(stored) => (stored.range.clone(), stored.data.0.as_slice()),
            None => (self.snapshot(pool).0, &[][..]),
        };
        let restored = match self.allocators.ips.get_mut(pool) {
            Some(alloc) => alloc.restore(&range, data),
            None => self.allocators.node_ports.restore(&range, data),
        };
        if !restored {
            let own_range = self.snapshot(pool).0;
            match self.allocators.ips.get_mut(pool) {
                Some(alloc) => alloc.restore(&own_range, &[]),
                None => self.allocators.node_ports.restore(&own_range, &[]),
            };
        }
        restored
    }

    /// Brings every pool up to the stored revision.
    async fn load(&mut self, storage: &dyn Storage) -> Result<(), StorageError> {
        let keys: Vec<&'static str> = self.keys().collect();
        for (pool, key) in keys.into_iter().enumerate() {
            match storage.get(key).await {
                Ok(kv) if self.revisions[pool] == Some(kv.mod_revision) => {}
                Ok(kv) => {
                    let stored: RangeAllocation = serde_json::from_slice(&kv.value)
                        .map_err(|err| StorageError::internal(key, err.to_string()))?;
                    if !self.restore(pool, Some(&stored)) {
                        tracing::warn!(
                            key,
                            stored = stored.range,
                            "the stored allocation range is not this apiserver's; \
                             the next allocation replaces it and the repair loop \
                             re-takes what stored services hold"
                        );
                    }
                    self.revisions[pool] = Some(kv.mod_revision);
                }
                Err(err) if err.is_not_found() => {
                    self.restore(pool, None);
                    self.revisions[pool] = None;
                }
                Err(err) => return Err(err),
            }
        }
        Ok(())
    }

    fn snapshots(&self) -> Vec<Snapshot> {
        (0..self.revisions.len())
            .map(|pool| self.snapshot(pool))
            .collect()
    }

    /// Writes the pools whose bitmap differs from `before` by
    /// compare-and-swap. On a conflict, what this change added to pools
    /// already written is taken out of them again.
    async fn store(
        &mut self,
        storage: &dyn Storage,
        before: &[Snapshot],
    ) -> Result<(), StoreFailure> {
        let keys: Vec<&'static str> = self.keys().collect();
        let mut written = Vec::new();
        for (pool, key) in keys.iter().enumerate() {
            let (range, data) = self.snapshot(pool);
            if before[pool].1 == data {
                continue;
            }
            let added = and_not(&data, &before[pool].1);
            let failure = match write(storage, key, self.revisions[pool], range, data).await {
                Ok(revision) => {
                    self.revisions[pool] = Some(revision);
                    written.push((*key, added));
                    continue;
                }
                Err(
                    StorageError::Conflict { .. }
                    | StorageError::AlreadyExists { .. }
                    | StorageError::NotFound { .. },
                ) => StoreFailure::Conflict,
                Err(err) => StoreFailure::Storage(err),
            };
            for (key, added) in written {
                if let Err(err) = take_out(storage, key, &added).await {
                    tracing::warn!(
                        key,
                        "could not undo a partial allocation ({err}); the repair loop frees it"
                    );
                }
            }
            self.invalidate();
            return Err(failure);
        }
        Ok(())
    }

    /// Forgets what was loaded: the next change reloads every pool.
    fn invalidate(&mut self) {
        for revision in &mut self.revisions {
            // Revision 0 is never a stored one: a reload always follows.
            if revision.is_some() {
                *revision = Some(Revision::ZERO);
            }
        }
    }
}

enum StoreFailure {
    Conflict,
    Storage(StorageError),
}

/// The bits of `bits` that `mask` does not have (`bits & !mask`), both
/// bitmaps in the stored big-endian form of any lengths, in the same form:
/// what a change added (`after`, masked by `before`), or a stored bitmap
/// without what is taken out of it.
fn and_not(bits: &[u8], mask: &[u8]) -> Vec<u8> {
    let mut result: Vec<u8> = bits
        .iter()
        .rev()
        .enumerate()
        .map(|(index, byte)| {
            let masked = mask.len().checked_sub(index + 1).map_or(0, |i| mask[i]);
            byte & !masked
        })
        .collect();
    result.reverse();
    strip_leading_zeros(result)
}

fn strip_leading_zeros(mut bytes: Vec<u8>) -> Vec<u8> {
    let zeros = bytes.iter().take_while(|byte| **byte == 0).count();
    bytes.drain(..zeros);
    bytes
}

/// Takes `bits` out of the pool stored at `key`, rereading on conflict.
async fn take_out(storage: &dyn Storage, key: &str, bits: &[u8]) -> Result<(), StorageError> {
    for _ in 0..ATTEMPTS {
        let kv = storage.get(key).await?;
        let stored: RangeAllocation = serde_json::from_slice(&kv.value)
            .map_err(|err| StorageError::internal(key, err.to_string()))?;
        let data = and_not(&stored.data.0, bits);
        match write(storage, key, Some(kv.mod_revision), stored.range, data).await {
            Ok(_) => return Ok(()),
            Err(StorageError::Conflict { .. }) => continue,
            Err(err) => return Err(err),
        }
    }
    Err(StorageError::internal(
        key,
        "other writers kept changing the range",
    ))
}

/// Stores one pool at `expected` (create when `None`); the new revision.
async fn write(
    storage: &dyn Storage,
    key: &str,
    expected: Option<Revision>,
    range: String,
    data: Vec<u8>,
) -> Result<Revision, StorageError> {
    let value = serde_json::to_vec(&RangeAllocation::new(range, data))
        .map_err(|err| StorageError::internal(key, err.to_string()))?;
    let kv = match expected {
        Some(revision) => storage.update(key, revision, value.into()).await?,
        None => storage.create(key, value.into()).await?,
    };
    Ok(kv.mod_revision)
}

/// The pools, shared by every request of this apiserver, backed by storage.
#[derive(Debug)]
pub struct StoredPools {
    storage: Arc<dyn Storage>,
    synced: tokio::sync::Mutex<Synced>,
}

impl StoredPools {
    pub(super) fn new(storage: Arc<dyn Storage>, allocators: Allocators) -> Self {
        let pools = allocators.ips.len() + 1;
        StoredPools {
            storage,
            synced: tokio::sync::Mutex::new(Synced {
                allocators,
                revisions: vec![None; pools],
            }),
        }
    }

    /// Runs `change` on the pools as stored now and stores what it changed
    /// by compare-and-swap; whenever another apiserver's change got in
    /// between, reloads and runs it again. `change` leaves the pools as it
    /// found them when it refuses (or has nothing to keep, as a dry run).
    pub(super) async fn update<T, E>(
        &self,
        mut change: impl FnMut(&mut Allocators) -> Result<T, E>,
    ) -> Result<T, PoolsError<E>> {
        let mut synced = self.synced.lock().await;
        for _ in 0..ATTEMPTS {
            synced
                .load(&*self.storage)
                .await
                .map_err(|err| PoolsError::Storage(err.to_string()))?;
            let before = synced.snapshots();
            let value = match change(&mut synced.allocators) {
                Ok(value) => value,
                Err(err) => {
                    synced.invalidate();
                    return Err(PoolsError::Refused(err));
                }
            };
            match synced.store(&*self.storage, &before).await {
                Ok(()) => return Ok(value),
                Err(StoreFailure::Conflict) => continue,
                Err(StoreFailure::Storage(err)) => {
                    return Err(PoolsError::Storage(err.to_string()));
                }
            }
        }
        Err(PoolsError::Storage(format!(
            "other writers changed the allocation ranges {ATTEMPTS} times in a row; try again"
        )))
    }

    /// [`StoredPools::update`] with a change that always applies (giving
    /// values back); a failure is logged, as the repair loop frees what it
    /// leaves taken.
    pub(super) async fn give_back(&self, what: &str, mut change: impl FnMut(&mut Allocators)) {
        let result = self
            .update(|allocators| {
                change(allocators);
                Ok::<_, std::convert::Infallible>(())
            })
            .await;
        if let Err(PoolsError::Storage(message)) = result {
            tracing::warn!("{what}: {message}; the repair loop frees them");
        }
    }

    /// Runs `try_local` on this apiserver's copy of the pools as it is,
    /// without reading storage. For changes whose answer does not depend on
    /// the stored state; `try_local` leaves the copy as it found it when it
    /// answers `None`.
    pub(super) async fn local<T>(
        &self,
        try_local: impl FnOnce(&mut Allocators) -> Option<T>,
    ) -> Option<T> {
        let mut synced = self.synced.lock().await;
        try_local(&mut synced.allocators)
    }

    /// Reads the pools as stored now.
    pub(super) async fn read<T>(
        &self,
        read: impl FnOnce(&Allocators) -> T,
    ) -> Result<T, StorageError> {
        let mut synced = self.synced.lock().await;
        synced.load(&*self.storage).await?;
        Ok(read(&synced.allocators))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_added_and_cleared_align_on_the_lowest_byte() {
        // before: offsets 0 and 9; after: 0, 9, 17 and 3.
        let before = [0b10, 0b1];
        let after = [0b10, 0b10, 0b1001];
        let added = and_not(&after, &before);
        assert_eq!(added, vec![0b10, 0, 0b1000]);
        assert_eq!(and_not(&after, &added), before);
        assert_eq!(and_not(&before, &before), Vec::<u8>::new());
        assert_eq!(and_not(&before, &after), Vec::<u8>::new());
    }
}
