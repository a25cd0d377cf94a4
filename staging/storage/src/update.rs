//! Read-modify-write loops over the compare-and-swap primitives of
//! [`Storage`]: Kubernetes' `GuaranteedUpdate` and delete with
//! preconditions. They retry on a revision conflict; each retry means another
//! writer's change landed, so the loop makes progress as a whole.

use bytes::Bytes;

use crate::{KeyValue, Result, Revision, Storage, StorageError};

/// Updates `key` to `try_update(current)` at the revision `current` was read
/// at, rereading and calling `try_update` again whenever another write got in
/// between. With `ignore_not_found`, a missing key is passed as `None` and
/// created; otherwise it is [`StorageError::NotFound`]. An error from
/// `try_update` (validation, a failed precondition) stops the loop as is.
/// When the new value equals the stored bytes nothing is written and the
/// current value is returned, as Kubernetes does.
pub async fn guaranteed_update<F>(
    storage: &dyn Storage,
    key: &str,
    ignore_not_found: bool,
    mut try_update: F,
) -> Result<KeyValue>
where
    F: FnMut(Option<&KeyValue>) -> Result<Bytes> + Send,
{
    loop {
        let current = match storage.get(key).await {
            Ok(kv) => Some(kv),
            Err(err) if ignore_not_found && err.is_not_found() => None,
            Err(err) => return Err(err),
        };
        let value = try_update(current.as_ref())?;
        let written = match current {
            Some(current) if current.value == value => return Ok(current),
            Some(current) => storage.update(key, current.mod_revision, value).await,
            None => storage.create(key, value).await,
        };
        match written {
            Err(StorageError::Conflict { .. } | StorageError::AlreadyExists { .. }) => continue,
            Err(StorageError::NotFound { .. }) if ignore_not_found => continue,
            other => return other,
        }
    }
}

/// Deletes `key` once `check(current)` accepts its current value (a UID
/// precondition, deletion validation), rereading and checking again whenever
/// another write got in between. Returns the deleted value and the revision
/// of the delete.
pub async fn guaranteed_delete<F>(
    storage: &dyn Storage,
    key: &str,
    mut check: F,
) -> Result<(KeyValue, Revision)>
where
    F: FnMut(&KeyValue) -> Result<()> + Send,
{
    loop {
        let current = storage.get(key).await?;
        check(&current)?;
        match storage.delete(key, Some(current.mod_revision)).await {
            Err(StorageError::Conflict { .. }) => continue,
            other => return other,
        }
    }
}
