//! The scale subresource: an object's `Scale`, and scale writes through
//! the ordinary update path.

use super::*;

impl<S: Strategy> Store<S> {
    /// The `Scale` of an object; 404 when the kind has none.
    pub(super) fn scale_of(&self, obj: &S::Object) -> Result<Scale, Status> {
        let view = self
            .strategy
            .scale()
            .and_then(|scale| scale.scale_of(obj))
            .ok_or_else(Status::not_found_path)?;
        scale::scale_from(obj.metadata(), &view)
    }

    /// A scale update (`scaleUpdatedObjectInfo`): the current object's
    /// `Scale` goes to `requested`, which returns the wanted one; that is
    /// validated, its uid and resourceVersion preconditions checked, and
    /// its `spec.replicas` written to the object through the ordinary update
    /// path (so the main resource's defaults, validation and generation
    /// rules apply), with the writer's managed-fields entry for subresource
    /// `scale` (`f:spec.f:replicas` when it changed the count). Answers with
    /// the `Scale` of the written object.
    pub(super) async fn write_scale<F>(
        &self,
        namespace: Option<&str>,
        name: &str,
        opts: &WriteOptions,
        mut requested: F,
    ) -> Result<Scale, Status>
    where
        F: FnMut(&Scale) -> Result<Scale, Status> + Send,
    {
        let info = self.info();
        let field_manager = self.field_manager();
        let manager = managed_fields::manager_name(opts);
        let updated = self
            .update_object(namespace, name, Subresource::Scale, opts.dry_run, |current| {
                let wanted = requested(&self.scale_of(current)?)?;
                let errors = scale::validate_scale(&wanted);
                if !errors.is_empty() {
                    return Err(scale::invalid_scale(name, &errors));
                }
                let meta = current.metadata();
                let current_uid = meta.uid.as_deref().unwrap_or_default();
                if let Some(uid) = wanted.metadata.uid.as_deref().filter(|u| !u.is_empty())
                    && uid != current_uid
                {
                    return Err(Status::conflict(
                        info.group,
                        &format!("{}/scale", info.plural),
                        name,
                        &format!(
                            "Precondition failed: UID in precondition: {uid}, UID in object meta: {current_uid}"
                        ),
                    ));
                }
                if let Some(rv) = wanted
                    .metadata
                    .resource_version
                    .as_deref()
                    .filter(|rv| !rv.is_empty())
                    && meta.resource_version.as_deref() != Some(rv)
                {
                    return Err(Status::modified_conflict(info.group, info.plural, name));
                }
                let mut new = current.clone();
                self.strategy
                    .scale()
                    .ok_or_else(Status::not_found_path)?
                    .set_replicas(&mut new, scale::desired_replicas(&wanted));
                managed_fields::stamp_write(
                    field_manager,
                    Subresource::Scale,
                    current,
                    &mut new,
                    &manager,
                )?;
                Ok(new)
            })
            .await?;
        self.scale_of(&updated)
    }
}

/// Decodes a request body of a kind other than the store's own (the
/// `Scale` of a subresource), with `fieldValidation` as for the object.
pub(super) fn decode_typed<T: serde::de::DeserializeOwned>(
    body: &Body,
    validation: FieldValidation,
    kind: &str,
) -> Result<(T, Vec<String>), Status> {
    decode::decode_body(body, validation, kind)
}
