//! The verbs of the REST layer (`RestStorage`) on a store: request bodies
//! in, replies out.

use super::scale_subresource::decode_typed;
use super::*;

#[async_trait::async_trait]
impl<S: Strategy> RestStorage for Store<S> {
    fn info(&self) -> &ResourceInfo {
        &self.info
    }

    async fn get(
        &self,
        namespace: Option<&str>,
        name: &str,
        opts: &GetOptions,
    ) -> Result<Reply, Status> {
        self.require_revision(opts.resource_version.as_deref())
            .await?;
        let kv = self.get_stored(namespace, name).await?;
        let body = match opts.output {
            Output::Object => self.answer_stored(&kv)?,
            Output::Table(table) => {
                let obj = self.decode_stored(&kv)?;
                Self::encode_reply(&crate::registry::table::table_of(
                    self.strategy.as_ref(),
                    std::slice::from_ref(&obj),
                    &table,
                    obj.metadata().resource_version.as_deref(),
                    None,
                    true,
                )?)?
            }
        };
        Ok(Reply::ok(body))
    }

    async fn list(
        self: Arc<Self>,
        namespace: Option<&str>,
        opts: &ListOptions,
    ) -> Result<Reply, Status> {
        if opts.output == Output::Object && opts.limit.is_none() {
            return self.list_in_pages(namespace, opts).await;
        }
        let tabled = matches!(opts.output, Output::Table(_));
        let (items, revision, continue_token) = self.list_matching(namespace, opts, tabled).await?;
        let heavy = cpu_work::reserve(items.len() >= cpu_work::HEAVY_ITEMS).await;
        let body = heavy.run(|| match opts.output {
            Output::Object => self.list_body(items, revision, continue_token.as_deref()),
            Output::Table(table) => {
                let resource_version = revision.to_string();
                Self::encode_reply(&crate::registry::table::table_of(
                    self.strategy.as_ref(),
                    &self.list_objects_of(items)?,
                    &table,
                    Some(&resource_version),
                    continue_token.as_deref(),
                    true,
                )?)
            }
        })?;
        Ok(Reply::ok(body))
    }

    async fn watch(
        &self,
        namespace: Option<&str>,
        opts: &ListOptions,
    ) -> Result<WatchLines, Status> {
        self.start_watch(namespace, opts).await
    }

    async fn create(
        &self,
        namespace: Option<&str>,
        body: Body,
        opts: &WriteOptions,
    ) -> Result<Reply, Status> {
        let heavy = cpu_work::reserve(body.bytes.len() >= cpu_work::HEAVY_BYTES).await;
        let (obj, warnings) = heavy.run(|| self.decode_body(&body, opts.field_validation))?;
        let manager = managed_fields::manager_name(opts);
        let created = self
            .create_object_as(namespace, obj, opts.dry_run, Some(&manager))
            .await?;
        let body = match &created.stored {
            Some(stored) => self.answer_stored(stored)?,
            None => heavy.run(|| Self::encode_reply(&created.object))?,
        };
        let mut warnings = warnings;
        warnings.extend(self.strategy.warnings(&created.object));
        Ok(Reply {
            code: StatusCode::CREATED,
            body: body.into(),
            warnings,
        })
    }

    async fn update(
        &self,
        namespace: Option<&str>,
        name: &str,
        subresource: Subresource,
        body: Body,
        opts: &WriteOptions,
    ) -> Result<Reply, Status> {
        let heavy = cpu_work::reserve(body.bytes.len() >= cpu_work::HEAVY_BYTES).await;
        let (mut obj, warnings) = heavy.run(|| self.decode_body(&body, opts.field_validation))?;
        let info = self.info();
        match obj.metadata().name.as_deref() {
            Some(body_name) if body_name != name => {
                return Err(Status::bad_request(format!(
                    "the name of the object ({body_name}) does not match the name on the URL ({name})"
                )));
            }
            _ => obj.metadata_mut().name = Some(name.to_string()),
        }
        self.check_namespace(&mut obj, namespace)?;
        let wanted_rv = obj
            .metadata()
            .resource_version
            .clone()
            .filter(|rv| !rv.is_empty());
        let field_manager = self.field_manager();
        let manager = managed_fields::manager_name(opts);
        let updated = self
            .update_object(namespace, name, subresource, opts.dry_run, |current| {
                if let Some(rv) = &wanted_rv
                    && current.metadata().resource_version.as_deref() != Some(rv.as_str())
                {
                    return Err(Status::modified_conflict(info.group, info.plural, name));
                }
                let mut new = obj.clone();
                managed_fields::stamp_write(
                    field_manager,
                    subresource,
                    current,
                    &mut new,
                    &manager,
                )?;
                Ok(new)
            })
            .await?;
        let mut warnings = warnings;
        warnings.extend(self.strategy.warnings(&updated));
        Ok(Reply {
            code: StatusCode::OK,
            body: heavy.run(|| Self::encode_reply(&updated))?.into(),
            warnings,
        })
    }

    async fn patch(
        &self,
        namespace: Option<&str>,
        name: &str,
        subresource: Subresource,
        patch_type: PatchType,
        patch: Bytes,
        opts: &WriteOptions,
    ) -> Result<Reply, Status> {
        let manager = managed_fields::validate_patch_options(patch_type, opts)?;
        if patch_type == PatchType::Apply {
            return self
                .apply_patch(namespace, name, subresource, &patch, &manager, opts)
                .await;
        }
        if patch_type == PatchType::StrategicMerge && !self.strategy.accepts_strategic_merge_patch()
        {
            return Err(Status::failure(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UnsupportedMediaType",
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
            ));
        }
        let schema = self
            .patch_schema
            .get_or_init(|| self.strategy.patch_schema());
        let field_manager = self.field_manager();
        let info = self.info();
        let strategic: Option<serde_json::Value> = match patch_type {
            PatchType::StrategicMerge => Some(
                serde_json::from_slice(&patch)
                    .map_err(|err| Status::bad_request(format!("error decoding patch: {err}")))?,
            ),
            _ => None,
        };
        let mut warnings = Vec::new();
        let heavy = cpu_work::reserve(patch.len() >= cpu_work::HEAVY_BYTES).await;
        let updated = self
            .update_object(namespace, name, subresource, opts.dry_run, |current| {
                heavy.run(|| {
                    let doc = serde_json::to_value(current)
                        .map_err(|err| Status::internal_error(format!("encoding: {err}")))?;
                    let patched = match (patch_type, &strategic) {
                        (PatchType::Json, _) => {
                            patch::json_patch(&doc, &patch, patch::DEFAULT_MAX_COPY_BYTES)
                        }
                        (PatchType::Merge, _) => patch::merge_patch_bytes(&doc, &patch),
                        (PatchType::StrategicMerge, Some(p)) => {
                            patch::strategic_merge_patch(&doc, p, schema)
                        }
                        (PatchType::StrategicMerge, None) | (PatchType::Apply, _) => {
                            patch::merge_patch_bytes(&doc, &patch)
                        }
                    }
                    .map_err(|err| patch_status(&err, info, name))?;
                    if let Some(rv) = patched["metadata"]["resourceVersion"].as_str()
                        && current.metadata().resource_version.as_deref() != Some(rv)
                    {
                        return Err(Status::modified_conflict(info.group, info.plural, name));
                    }
                    let bytes = serde_json::to_vec(&patched)
                        .map_err(|err| Status::internal_error(format!("encoding: {err}")))?;
                    let (obj, unknown) = self.decode_body(
                        &Body {
                            format: BodyFormat::Json,
                            bytes: Bytes::from(bytes),
                        },
                        opts.field_validation,
                    )?;
                    warnings = unknown;
                    let mut obj = obj;
                    managed_fields::stamp_write(
                        field_manager,
                        subresource,
                        current,
                        &mut obj,
                        &manager,
                    )?;
                    Ok(obj)
                })
            })
            .await?;
        warnings.extend(self.strategy.warnings(&updated));
        Ok(Reply {
            code: StatusCode::OK,
            body: heavy.run(|| Self::encode_reply(&updated))?.into(),
            warnings,
        })
    }

    async fn delete(
        &self,
        namespace: Option<&str>,
        name: &str,
        opts: &DeleteOptions,
    ) -> Result<Reply, Status> {
        let (obj, gone) = self.delete_object(namespace, name, opts).await?;
        let body = if gone && !self.strategy.returns_deleted_object() {
            let info = self.info();
            let mut details = StatusDetails::named(info.group, info.plural, name);
            details.uid = obj.metadata().uid.clone();
            Self::encode_reply(&Status::success(details))?
        } else {
            Self::encode_reply(&obj)?
        };
        Ok(Reply::ok(body))
    }

    async fn delete_collection(
        &self,
        namespace: Option<&str>,
        list: &ListOptions,
        opts: &DeleteOptions,
    ) -> Result<Reply, Status> {
        let mut unpaged = list.clone();
        unpaged.limit = None;
        unpaged.continue_token = None;
        let (items, revision, _) = self.list_matching(namespace, &unpaged, true).await?;
        let mut deleted = Vec::with_capacity(items.len());
        for item in self.list_objects_of(items)? {
            let meta = item.metadata();
            let name = meta.name.clone().unwrap_or_default();
            let ns = meta.namespace.clone();
            match self.delete_object(ns.as_deref(), &name, opts).await {
                Ok((obj, _)) => deleted.push(obj),
                Err(status) if status.code == 404 => {}
                Err(status) => return Err(status),
            }
        }
        Ok(Reply::ok(self.list_body_of_objects(&deleted, revision)?))
    }

    async fn get_scale(
        &self,
        namespace: Option<&str>,
        name: &str,
        opts: &GetOptions,
    ) -> Result<Reply, Status> {
        self.require_revision(opts.resource_version.as_deref())
            .await?;
        let obj = self.get_object(namespace, name).await?;
        Ok(Reply::ok(Self::encode_reply(&self.scale_of(&obj)?)?))
    }

    async fn update_scale(
        &self,
        namespace: Option<&str>,
        name: &str,
        body: Body,
        opts: &WriteOptions,
    ) -> Result<Reply, Status> {
        let (mut requested, warnings) =
            decode_typed::<Scale>(&body, opts.field_validation, "Scale")?;
        let meta = &mut requested.metadata;
        match meta.name.as_deref() {
            Some(body_name) if !body_name.is_empty() && body_name != name => {
                return Err(Status::bad_request(format!(
                    "the name of the object ({body_name}) does not match the name on the URL ({name})"
                )));
            }
            _ => meta.name = Some(name.to_string()),
        }
        match (namespace, meta.namespace.as_deref()) {
            (Some(url), Some(body_ns)) if !body_ns.is_empty() && body_ns != url => {
                return Err(Status::bad_request(format!(
                    "the namespace of the object ({body_ns}) does not match the namespace on the URL ({url})"
                )));
            }
            _ => meta.namespace = namespace.map(str::to_string),
        }
        let scale = self
            .write_scale(namespace, name, opts, |_| Ok(requested.clone()))
            .await?;
        Ok(Reply {
            code: StatusCode::OK,
            body: Self::encode_reply(&scale)?.into(),
            warnings,
        })
    }

    async fn patch_scale(
        &self,
        namespace: Option<&str>,
        name: &str,
        patch_type: PatchType,
        patch: Bytes,
        opts: &WriteOptions,
    ) -> Result<Reply, Status> {
        let info = self.info();
        let mut warnings = Vec::new();
        let scale = self
            .write_scale(namespace, name, opts, |current| {
                let patched = scale::patch_scale(current, patch_type, &patch)
                    .map_err(|err| patch_status(&err, info, name))?;
                let bytes = serde_json::to_vec(&patched)
                    .map_err(|err| Status::internal_error(format!("encoding: {err}")))?;
                let body = Body {
                    format: BodyFormat::Json,
                    bytes: Bytes::from(bytes),
                };
                let (scale, unknown) = decode_typed(&body, opts.field_validation, "Scale")?;
                warnings = unknown;
                Ok(scale)
            })
            .await?;
        Ok(Reply {
            code: StatusCode::OK,
            body: Self::encode_reply(&scale)?.into(),
            warnings,
        })
    }
}

/// A patch that could not be applied, as upstream answers it.
fn patch_status(err: &PatchError, info: &ResourceInfo, name: &str) -> Status {
    match err.status_code() {
        400 => Status::bad_request(err.to_string()),
        413 => Status::failure(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLarge",
            err.to_string(),
        ),
        422 => Status::failure(StatusCode::UNPROCESSABLE_ENTITY, "Invalid", err.to_string())
            .with_details(StatusDetails::named(info.group, info.kind, name)),
        _ => Status::internal_error(err.to_string()),
    }
}
