//! Server-side apply and managed fields.

use super::*;

impl<S: Strategy> Store<S> {
    /// The kind's field manager (its schema built once, shared with
    /// strategic merge patch).
    pub(super) fn field_manager(&self) -> &FieldManager {
        self.field_manager.get_or_init(|| {
            let info = self.info();
            FieldManager::new(
                self.patch_schema
                    .get_or_init(|| self.strategy.patch_schema())
                    .clone(),
                &info.api_version(),
                info.kind,
            )
        })
    }

    /// A PATCH with `application/apply-patch+yaml`: the configuration
    /// merged into the live object for `manager`, or the object created
    /// from it when there is none (201).
    pub(super) async fn apply_patch(
        &self,
        namespace: Option<&str>,
        name: &str,
        subresource: Subresource,
        patch: &[u8],
        manager: &str,
        opts: &WriteOptions,
    ) -> Result<Reply, Status> {
        let info = self.info();
        let config = managed_fields::decode_apply_patch(patch)?;
        if let Some(config_name) = config.pointer("/metadata/name").and_then(|v| v.as_str())
            && config_name != name
        {
            return Err(Status::bad_request(format!(
                "the name of the object ({config_name}) does not match the name on the URL ({name})"
            )));
        }
        let field_manager = self.field_manager();
        let force = opts.force.unwrap_or(false);
        let Some(entry_subresource) = managed_fields::entry_subresource(subresource) else {
            return Err(Status::method_not_supported(
                info.group,
                info.plural,
                "apply",
            ));
        };
        let decode = |value: &serde_json::Value| -> Result<S::Object, Status> {
            let bytes = serde_json::to_vec(value)
                .map_err(|err| Status::internal_error(format!("encoding: {err}")))?;
            let body = Body {
                format: BodyFormat::Json,
                bytes: Bytes::from(bytes),
            };
            self.decode_body(&body, opts.field_validation)
                .map(|(obj, _)| obj)
        };
        // Create on apply; a create racing with another one applies again.
        for _ in 0..2 {
            match self.get_object(namespace, name).await {
                Err(status) if status.code == 404 && subresource == Subresource::Main => {
                    let applied = field_manager
                        .apply(None, &config, manager, None, force, &managed_fields::now())
                        .map_err(managed_fields::apply_status)?;
                    let mut obj = decode(&applied.object)?;
                    obj.metadata_mut().name = Some(name.to_string());
                    obj.metadata_mut().managed_fields = Some(applied.managed_fields);
                    match self.create_object(namespace, obj, opts.dry_run).await {
                        Err(status) if status.reason == "AlreadyExists" => continue,
                        Err(status) => return Err(status),
                        Ok(created) => {
                            return Ok(Reply {
                                code: StatusCode::CREATED,
                                body: Self::encode_reply(&created)?.into(),
                                warnings: self.strategy.warnings(&created),
                            });
                        }
                    }
                }
                Err(status) => return Err(status),
                Ok(_) => break,
            }
        }
        let wanted_rv = config
            .pointer("/metadata/resourceVersion")
            .and_then(|v| v.as_str())
            .filter(|rv| !rv.is_empty())
            .map(str::to_string);
        let updated = self
            .update_object(namespace, name, subresource, opts.dry_run, |current| {
                if let Some(rv) = &wanted_rv
                    && current.metadata().resource_version.as_deref() != Some(rv.as_str())
                {
                    return Err(Status::modified_conflict(info.group, info.plural, name));
                }
                let live = serde_json::to_value(current)
                    .map_err(|err| Status::internal_error(format!("encoding: {err}")))?;
                let live_entries = current
                    .metadata()
                    .managed_fields
                    .clone()
                    .unwrap_or_default();
                let applied = field_manager
                    .apply(
                        Some((&live, &live_entries)),
                        &config,
                        manager,
                        entry_subresource,
                        force,
                        &managed_fields::now(),
                    )
                    .map_err(managed_fields::apply_status)?;
                let mut obj = decode(&applied.object)?;
                obj.metadata_mut().managed_fields =
                    (!applied.managed_fields.is_empty()).then_some(applied.managed_fields);
                Ok(obj)
            })
            .await?;
        Ok(Reply {
            warnings: self.strategy.warnings(&updated),
            ..Reply::ok(Self::encode_reply(&updated)?)
        })
    }
}
