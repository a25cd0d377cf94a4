//! Deletes: preconditions, graceful and finalizer-held deletion, the
//! garbage collector's finalizers for Foreground and Orphan propagation,
//! through storage's `guaranteed_update`.

use super::*;

use apimachinery::api::{FINALIZER_DELETE_DEPENDENTS, FINALIZER_ORPHAN_DEPENDENTS};

impl<S: Strategy> Store<S> {
    pub(super) fn ready_to_delete(&self, obj: &S::Object) -> bool {
        let meta = obj.metadata();
        meta.deletion_timestamp.is_some()
            && meta.finalizers.as_ref().is_none_or(Vec::is_empty)
            && !self.strategy.has_pending_finalization(obj)
    }

    /// Deletes an object (typed answer for controllers): at once, or marked
    /// with `deletionTimestamp` while finalizers or a grace period hold it.
    /// Returns the object and whether it is gone from storage.
    pub async fn delete_object(
        &self,
        namespace: Option<&str>,
        name: &str,
        opts: &DeleteOptions,
    ) -> Result<(S::Object, bool), Status> {
        let key = self.key(namespace, name);
        let info = self.info();
        self.admit(
            Operation::Delete,
            namespace,
            name,
            Subresource::Main,
            opts.dry_run,
        )
        .await?;
        // The object as decided on, and whether the decision removes it.
        let mut decided: Option<(S::Object, bool)> = None;
        let outcome = guaranteed_update(&*self.storage, &key, false, |current| {
            let current = current.ok_or_else(|| self.storage_error(StorageError::not_found(&key), name))?;
            let mut obj = self.decode_stored(current)?;
            let meta = obj.metadata();
            if let Some(uid) = &opts.precondition_uid
                && meta.uid.as_deref() != Some(uid.as_str())
            {
                return Err(Status::conflict(
                    info.group,
                    info.plural,
                    name,
                    &format!(
                        "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                        meta.uid.as_deref().unwrap_or_default()
                    ),
                ));
            }
            if let Some(rv) = &opts.precondition_resource_version
                && meta.resource_version.as_deref() != Some(rv.as_str())
            {
                return Err(Status::conflict(
                    info.group,
                    info.plural,
                    name,
                    &format!(
                        "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                        meta.resource_version.as_deref().unwrap_or_default()
                    ),
                ));
            }
            let grace = self
                .strategy
                .graceful_delete_period(&obj, opts.grace_period_seconds)
                .filter(|seconds| *seconds > 0);
            // Foreground and Orphan deletes are finished by the garbage
            // collector, which removes its finalizer when the dependents
            // are deleted or orphaned (upstream's `deletionFinalizersForGarbageCollection`).
            let gc_finalizer = match opts.propagation_policy {
                Some(PropagationPolicy::Foreground) => Some(FINALIZER_DELETE_DEPENDENTS),
                Some(PropagationPolicy::Orphan) => Some(FINALIZER_ORPHAN_DEPENDENTS),
                _ => None,
            };
            let mut marks_gc = false;
            if let Some(finalizer) = gc_finalizer
                && meta.deletion_timestamp.is_none()
            {
                let finalizers = obj.metadata_mut().finalizers.get_or_insert_with(Vec::new);
                finalizers.retain(|f| f != FINALIZER_DELETE_DEPENDENTS && f != FINALIZER_ORPHAN_DEPENDENTS);
                finalizers.push(finalizer.to_string());
                marks_gc = true;
            }
            let meta = obj.metadata();
            let held = meta.finalizers.as_ref().is_some_and(|f| !f.is_empty())
                || self.strategy.has_pending_finalization(&obj);
            let decision = if !held && grace.is_none() {
                decided = Some((obj, true));
                if opts.dry_run {
                    Decision::Keep
                } else {
                    Decision::Delete
                }
            } else if meta.deletion_timestamp.is_some() && !marks_gc {
                // Already being deleted: nothing changes.
                decided = Some((obj, false));
                Decision::Keep
            } else {
                // Marked: finalizers or the grace period hold the object.
                let seconds = grace.unwrap_or(0);
                let meta = obj.metadata_mut();
                meta.deletion_timestamp = Some(time_in(seconds));
                meta.deletion_grace_period_seconds = Some(seconds);
                if self.strategy.tracks_generation() {
                    meta.generation = Some(meta.generation.unwrap_or(0) + 1);
                }
                self.strategy.prepare_for_delete(&mut obj);
                let decision = if opts.dry_run {
                    Decision::Keep
                } else {
                    Decision::Write(self.encode_for_storage(&mut obj)?)
                };
                decided = Some((obj, false));
                decision
            };
            Ok(decision)
        })
        .await
        .map_err(|err| self.update_error(err, name))?;
        match outcome {
            Outcome::Written(kv) => Ok((self.decode_stored(&kv)?, false)),
            Outcome::Deleted { .. } => {
                let (gone, _) = decided.ok_or_else(|| undecided(name))?;
                self.strategy.after_delete(&gone).await;
                Ok((gone, true))
            }
            Outcome::Unchanged(_) => decided.ok_or_else(|| undecided(name)),
        }
    }
}
