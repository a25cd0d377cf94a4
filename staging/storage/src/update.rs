//! The one read-modify-write loop over the compare-and-swap primitives of
//! [`Storage`]: Kubernetes' `GuaranteedUpdate`. Every write that depends on
//! the stored value (an update, a delete with preconditions, the delete that
//! follows the last finalizer) goes through [`guaranteed_update`]. It retries
//! on a revision conflict; each retry means another writer's change landed,
//! so the loop makes progress as a whole.

use bytes::Bytes;

use crate::{KeyValue, Result, Revision, Storage, StorageError};

/// What a read-modify-write makes of the value it read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Store these bytes (creating the key when it is missing). Bytes equal
    /// to the stored ones write nothing, as Kubernetes does.
    Write(Bytes),
    /// Delete the key, while it is still at the revision read.
    Delete,
    /// Leave the key as it is.
    Keep,
}

/// What the loop did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The key now holds this value.
    Written(KeyValue),
    /// The key was deleted at `revision`; `previous` is its last value.
    Deleted {
        previous: KeyValue,
        revision: Revision,
    },
    /// Nothing was written: the decision was [`Decision::Keep`], or the new
    /// bytes were the stored ones. The value read (`None`: the key was
    /// missing).
    Unchanged(Option<KeyValue>),
}

/// Why the loop stopped without a write.
#[derive(Debug)]
pub enum UpdateError<E> {
    /// The store refused or failed (not found, a failed commit...).
    Storage(StorageError),
    /// The caller's function refused the value (validation, a failed
    /// precondition), with its own error.
    Refused(E),
}

impl From<UpdateError<StorageError>> for StorageError {
    fn from(err: UpdateError<StorageError>) -> Self {
        match err {
            UpdateError::Storage(err) | UpdateError::Refused(err) => err,
        }
    }
}

/// One attempt of a read-modify-write: what to make of the value read.
/// A plain closure is one (through [`guaranteed_update`]); a type of its own
/// is one when an attempt must await something before it decides (an
/// allocation that is itself a compare-and-swap in storage).
pub trait TryUpdate: Send {
    type Error: Send;

    /// Decides on `current` (`None`: the key is missing). Anything an
    /// attempt reserves is its to release on the next attempt.
    fn try_update(
        &mut self,
        current: Option<&KeyValue>,
    ) -> impl Future<Output = std::result::Result<Decision, Self::Error>> + Send;
}

/// A synchronous closure as a [`TryUpdate`].
struct Sync<F>(F);

impl<F, E> TryUpdate for Sync<F>
where
    F: FnMut(Option<&KeyValue>) -> std::result::Result<Decision, E> + Send,
    E: Send,
{
    type Error = E;

    fn try_update(
        &mut self,
        current: Option<&KeyValue>,
    ) -> impl Future<Output = std::result::Result<Decision, E>> + Send {
        std::future::ready((self.0)(current))
    }
}

/// Reads `key`, asks `try_update` what to make of it, and applies that at
/// the revision read; whenever another write got in between, reads and
/// asks again. `try_update` may thus run several times: anything it
/// reserves on one attempt is its to release on the next. With
/// `ignore_not_found`, a missing key is passed as `None` (and
/// [`Decision::Write`] creates it); otherwise it is
/// [`StorageError::NotFound`]. An error from `try_update` stops the loop as
/// [`UpdateError::Refused`].
pub async fn guaranteed_update<F, E>(
    storage: &dyn Storage,
    key: &str,
    ignore_not_found: bool,
    try_update: F,
) -> std::result::Result<Outcome, UpdateError<E>>
where
    F: FnMut(Option<&KeyValue>) -> std::result::Result<Decision, E> + Send,
    E: Send,
{
    guaranteed_update_with(storage, key, ignore_not_found, &mut Sync(try_update)).await
}

/// [`guaranteed_update`] with an attempt that may await before deciding.
pub async fn guaranteed_update_with<T: TryUpdate>(
    storage: &dyn Storage,
    key: &str,
    ignore_not_found: bool,
    attempt: &mut T,
) -> std::result::Result<Outcome, UpdateError<T::Error>> {
    loop {
        let current = match storage.get(key).await {
            Ok(kv) => Some(kv),
            Err(err) if ignore_not_found && err.is_not_found() => None,
            Err(err) => return Err(UpdateError::Storage(err)),
        };
        let decision = attempt
            .try_update(current.as_ref())
            .await
            .map_err(UpdateError::Refused)?;
        let applied = match (decision, current) {
            (Decision::Keep, current) => return Ok(Outcome::Unchanged(current)),
            (Decision::Write(value), Some(current)) if current.value == value => {
                return Ok(Outcome::Unchanged(Some(current)));
            }
            (Decision::Write(value), Some(current)) => storage
                .update(key, current.mod_revision, value)
                .await
                .map(Outcome::Written),
            (Decision::Write(value), None) => {
                storage.create(key, value).await.map(Outcome::Written)
            }
            (Decision::Delete, Some(current)) => storage
                .delete(key, Some(current.mod_revision))
                .await
                .map(|(previous, revision)| Outcome::Deleted { previous, revision }),
            (Decision::Delete, None) => return Ok(Outcome::Unchanged(None)),
        };
        match applied {
            Err(StorageError::Conflict { .. } | StorageError::AlreadyExists { .. }) => continue,
            Err(StorageError::NotFound { .. }) if ignore_not_found => continue,
            Err(err) => return Err(UpdateError::Storage(err)),
            Ok(outcome) => return Ok(outcome),
        }
    }
}

/// Deletes `key` once `check(current)` accepts its current value (a UID
/// precondition, deletion validation), through [`guaranteed_update`].
/// Returns the deleted value and the revision of the delete.
pub async fn guaranteed_delete<F>(
    storage: &dyn Storage,
    key: &str,
    mut check: F,
) -> Result<(KeyValue, Revision)>
where
    F: FnMut(&KeyValue) -> Result<()> + Send,
{
    let outcome = guaranteed_update(storage, key, false, |current| {
        // Without ignore_not_found the loop never passes a missing key.
        let current = current.ok_or_else(|| StorageError::not_found(key))?;
        check(current).map(|()| Decision::Delete)
    })
    .await?;
    match outcome {
        Outcome::Deleted { previous, revision } => Ok((previous, revision)),
        Outcome::Written(_) | Outcome::Unchanged(_) => Err(StorageError::internal(
            key,
            "a delete decision ended without a delete",
        )),
    }
}
