//! The generic store of one resource (`registry/generic/registry.Store`):
//! objects encoded as JSON under `/registry/<resource>/<namespace>/<name>`,
//! resourceVersion = the storage revision, and every verb's semantics —
//! system metadata, strategy hooks, optimistic concurrency, graceful and
//! finalizer-held deletion, selectors, paging and watches.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use http::StatusCode;
use k8s_openapi::Metadata;
use k8s_openapi::api::autoscaling::v1::Scale;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::chrono::DateTime;
use serde::Serialize;

use apiserver_storage::{
    ContinueToken, Decision, KeyValue, ListOptions as StorageListOptions, Outcome, Revision,
    Storage, StorageError, UpdateError, WatchEvent, WatchOptions, guaranteed_update,
};

use apimachinery::fieldmanager::FieldManager;
use apimachinery::patch::{self, PatchError, PatchSchema};

use crate::cpu_work;

use crate::admission::{self, Attributes, Operation};
use crate::status::{Status, StatusDetails};

use super::decode;
use super::managed_fields;
use super::rest::Output;
use super::rest::{
    Body, BodyFormat, DeleteOptions, FieldValidation, GetOptions, ListOptions, PatchType, Reply,
    ResourceVersionMatch, RestStorage, Subresource, WatchLines, WriteOptions,
};
use super::scale;
use super::{FinishFunc, ResourceInfo, Strategy};

/// How often a watch that allows bookmarks gets one when nothing else
/// happens (upstream: about a minute, and just before the watch times out).
const BOOKMARK_INTERVAL: Duration = Duration::from_secs(60);

/// Attempts at a unique name for `generateName` before giving up
/// (upstream's RetryGenerateName).
const GENERATE_NAME_ATTEMPTS: usize = 8;

/// The characters of a generated name suffix (no vowels, no look-alikes).
const NAME_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// One resource's store.
pub struct Store<S: Strategy> {
    strategy: Arc<S>,
    storage: Arc<dyn Storage>,
    admission: admission::Chain,
    prefix: String,
    /// The kind's structure for strategic merge patches, built on first use.
    patch_schema: std::sync::OnceLock<PatchSchema>,
    /// The largest object written, as stored.
    max_object_bytes: usize,
}

/// The default bound on a stored object: etcd's default request limit
/// (`--max-request-bytes`, 1.5 MiB), which upstream's objects meet in etcd.
pub const DEFAULT_MAX_OBJECT_BYTES: usize = 1_572_864;

impl<S: Strategy> Store<S> {
    pub fn new(strategy: Arc<S>, storage: Arc<dyn Storage>, admission: admission::Chain) -> Self {
        let prefix = strategy.info().key_prefix();
        Store {
            strategy,
            storage,
            admission,
            prefix,
            patch_schema: std::sync::OnceLock::new(),
            max_object_bytes: DEFAULT_MAX_OBJECT_BYTES,
        }
    }

    /// Refuses to store objects larger than `bytes` (as stored, JSON).
    pub fn with_max_object_bytes(mut self, bytes: usize) -> Self {
        self.max_object_bytes = bytes;
        self
    }

    pub fn strategy(&self) -> &Arc<S> {
        &self.strategy
    }

    fn info(&self) -> &ResourceInfo {
        self.strategy.info()
    }

    /// The storage key of one object.
    pub fn key(&self, namespace: Option<&str>, name: &str) -> String {
        match (self.info().namespaced, namespace) {
            (true, Some(ns)) => format!("{}{ns}/{name}", self.prefix),
            _ => format!("{}{name}", self.prefix),
        }
    }

    /// The storage prefix of a collection: one namespace's, or all.
    fn collection_prefix(&self, namespace: Option<&str>) -> String {
        match (self.info().namespaced, namespace) {
            (true, Some(ns)) => format!("{}{ns}/", self.prefix),
            _ => self.prefix.clone(),
        }
    }

    // ----- encoding -------------------------------------------------------

    /// The object as stored, with `resourceVersion` set from the revision.
    fn decode_stored(&self, kv: &KeyValue) -> Result<S::Object, Status> {
        let mut obj: S::Object = serde_json::from_slice(&kv.value)
            .map_err(|err| Status::internal_error(format!("decoding {}: {err}", kv.key)))?;
        obj.metadata_mut().resource_version = Some(kv.mod_revision.to_string());
        Ok(obj)
    }

    /// The bytes stored for an object: JSON without `resourceVersion`, which
    /// the revision carries.
    /// Refuses objects over the size bound with upstream's 413
    /// `RequestEntityTooLarge` (what etcd's request limit gives there), so
    /// repeated patches cannot grow one object without bound.
    fn encode_for_storage(&self, obj: &S::Object) -> Result<Bytes, Status> {
        let mut obj = obj.clone();
        obj.metadata_mut().resource_version = None;
        let bytes = serde_json::to_vec(&obj)
            .map_err(|err| Status::internal_error(format!("encoding: {err}")))?;
        if bytes.len() > self.max_object_bytes {
            return Err(Status::request_entity_too_large(
                self.max_object_bytes as u64,
            ));
        }
        Ok(Bytes::from(bytes))
    }

    fn encode_reply(obj: &impl Serialize) -> Result<Bytes, Status> {
        serde_json::to_vec(obj)
            .map(Bytes::from)
            .map_err(|err| Status::internal_error(format!("encoding: {err}")))
    }

    /// Decodes a request body into the kind, collecting unknown and
    /// duplicate fields for `fieldValidation`.
    fn decode_body(
        &self,
        body: &Body,
        validation: FieldValidation,
    ) -> Result<(S::Object, Vec<String>), Status> {
        decode::decode_body(body, validation, self.info().kind)
    }

    // ----- errors ---------------------------------------------------------

    fn storage_error(&self, err: StorageError, name: &str) -> Status {
        let info = self.info();
        match err {
            StorageError::NotFound { .. } => Status::not_found(info.group, info.plural, name),
            StorageError::AlreadyExists { .. } => {
                Status::already_exists(info.group, info.plural, name)
            }
            StorageError::Conflict { .. } => {
                Status::modified_conflict(info.group, info.plural, name)
            }
            StorageError::Expired { .. } => Status::expired(err.to_string()),
            StorageError::TooLargeRevision { .. } => {
                Status::failure(StatusCode::GATEWAY_TIMEOUT, "Timeout", err.to_string())
            }
            StorageError::InvalidContinue { .. } => Status::bad_request(err.to_string()),
            other => Status::internal_error(other.to_string()),
        }
    }

    /// The Status of a read-modify-write that ended without a write.
    fn update_error(&self, err: UpdateError<Status>, name: &str) -> Status {
        match err {
            UpdateError::Refused(status) => status,
            UpdateError::Storage(err) => self.storage_error(err, name),
        }
    }

    fn invalid(&self, name: &str, errors: &[apimachinery::validation::field::Error]) -> Status {
        let info = self.info();
        Status::invalid(info.group, info.kind, name, errors)
    }

    // ----- reads ----------------------------------------------------------

    /// One object, typed (for controllers in the same process).
    pub async fn get_object(
        &self,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<S::Object, Status> {
        let kv = self
            .storage
            .get(&self.key(namespace, name))
            .await
            .map_err(|err| self.storage_error(err, name))?;
        self.decode_stored(&kv)
    }

    /// Every object of a namespace (or all), typed, at one revision.
    pub async fn list_objects(
        &self,
        namespace: Option<&str>,
    ) -> Result<(Vec<S::Object>, Revision), Status> {
        let list = self
            .storage
            .list(
                &self.collection_prefix(namespace),
                StorageListOptions::default(),
            )
            .await
            .map_err(|err| self.storage_error(err, ""))?;
        let items = list
            .items
            .iter()
            .map(|kv| self.decode_stored(kv))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((items, list.revision))
    }

    /// Waits until the store has seen `resourceVersion` (a read "not older
    /// than" it), or answers 504 as upstream does for a revision from the
    /// future.
    async fn require_revision(&self, resource_version: Option<&str>) -> Result<(), Status> {
        let Some(wanted) = parse_resource_version(resource_version)? else {
            return Ok(());
        };
        if wanted == Revision::ZERO {
            return Ok(());
        }
        for _ in 0..30 {
            let current = self
                .storage
                .current_revision()
                .await
                .map_err(|err| self.storage_error(err, ""))?;
            if current >= wanted {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let current = self.storage.current_revision().await.unwrap_or_default();
        Err(self.storage_error(
            StorageError::TooLargeRevision {
                requested: wanted,
                current,
            },
            "",
        ))
    }

    fn matches(&self, obj: &S::Object, opts: &ListOptions) -> bool {
        matches_selectors(self.strategy.as_ref(), obj, opts)
    }

    /// Refuses selectors on fields this kind cannot select by (400
    /// `field label not supported: ...`).
    fn check_field_selector(&self, opts: &ListOptions) -> Result<(), Status> {
        let mut supported = vec!["metadata.name", "metadata.namespace"];
        supported.extend_from_slice(self.strategy.selectable_field_names());
        opts.field_selector
            .check_supported(&supported)
            .map_err(Status::bad_request)
    }

    /// One page of matching objects: the items, the revision they were read
    /// at, and the continue token when more may follow.
    async fn list_matching(
        &self,
        namespace: Option<&str>,
        opts: &ListOptions,
    ) -> Result<(Vec<S::Object>, Revision, Option<String>), Status> {
        self.check_field_selector(opts)?;
        let prefix = self.collection_prefix(namespace);
        let mut revision = None;
        if opts.continue_token.is_none() {
            match opts.resource_version_match {
                Some(ResourceVersionMatch::Exact) => {
                    revision = parse_resource_version(opts.resource_version.as_deref())?;
                }
                _ => {
                    self.require_revision(opts.resource_version.as_deref())
                        .await?
                }
            }
        }
        let mut items = Vec::new();
        let mut continue_token = opts.continue_token.clone();
        loop {
            let wanted = opts.limit.map(|limit| limit.get() - items.len());
            let page = self
                .storage
                .list(
                    &prefix,
                    StorageListOptions {
                        limit: wanted.and_then(std::num::NonZeroUsize::new),
                        continue_token: continue_token.take(),
                        revision,
                    },
                )
                .await
                .map_err(|err| self.storage_error(err, ""))?;
            revision = Some(page.revision);
            let heavy = cpu_work::reserve(page.items.len() >= cpu_work::HEAVY_ITEMS).await;
            let last_key = heavy.run(|| {
                let mut last_key = None;
                for kv in &page.items {
                    let obj = self.decode_stored(kv)?;
                    if self.matches(&obj, opts) {
                        items.push(obj);
                    }
                    last_key = Some(kv.key.as_str());
                    if opts.limit.is_some_and(|limit| items.len() >= limit.get()) {
                        break;
                    }
                }
                Ok::<_, Status>(last_key)
            })?;
            let full = opts.limit.is_some_and(|limit| items.len() >= limit.get());
            let stopped_early =
                last_key.is_some_and(|key| page.items.last().is_some_and(|last| last.key != key));
            match (full, stopped_early, page.continue_token) {
                (true, true, _) => {
                    let key = last_key.unwrap_or_default();
                    let token = ContinueToken::after(key, page.revision)
                        .encode(&prefix)
                        .map_err(|err| self.storage_error(err, ""))?;
                    return Ok((items, page.revision, Some(token)));
                }
                (true, false, token) => return Ok((items, page.revision, token)),
                (false, _, Some(token)) => continue_token = Some(token),
                (false, _, None) => return Ok((items, page.revision, None)),
            }
        }
    }

    fn list_body(
        &self,
        items: &[S::Object],
        revision: Revision,
        continue_token: Option<&str>,
    ) -> Result<Bytes, Status> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct ListMeta<'a> {
            resource_version: String,
            #[serde(rename = "continue", skip_serializing_if = "Option::is_none")]
            continue_token: Option<&'a str>,
        }
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct List<'a, T> {
            kind: &'static str,
            api_version: &'static str,
            metadata: ListMeta<'a>,
            items: &'a [T],
        }
        Self::encode_reply(&List {
            kind: <S::Object as k8s_openapi::ListableResource>::LIST_KIND,
            api_version: <S::Object as k8s_openapi::Resource>::API_VERSION,
            metadata: ListMeta {
                resource_version: revision.to_string(),
                continue_token,
            },
            items,
        })
    }

    // ----- writes ---------------------------------------------------------

    /// Fills what the server owns on a new object.
    fn fill_system_fields(&self, obj: &mut S::Object) {
        let tracks_generation = self.strategy.tracks_generation();
        let meta = obj.metadata_mut();
        meta.uid = Some(uuid::Uuid::new_v4().to_string());
        meta.creation_timestamp = Some(now());
        meta.resource_version = None;
        meta.deletion_timestamp = None;
        meta.deletion_grace_period_seconds = None;
        meta.generation = tracks_generation.then_some(1);
        meta.self_link = None;
    }

    fn check_namespace(&self, obj: &mut S::Object, namespace: Option<&str>) -> Result<(), Status> {
        let meta = obj.metadata_mut();
        if !self.info().namespaced {
            meta.namespace = None;
            return Ok(());
        }
        match (namespace, meta.namespace.as_deref()) {
            (Some(url), Some(body)) if !body.is_empty() && body != url => Err(Status::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            )),
            (url, _) => {
                meta.namespace = url.map(str::to_string);
                Ok(())
            }
        }
    }

    async fn admit(
        &self,
        operation: Operation,
        namespace: Option<&str>,
        name: &str,
        subresource: Subresource,
        dry_run: bool,
    ) -> Result<(), Status> {
        let info = self.info();
        self.admission
            .validate(&Attributes {
                operation,
                group: info.group,
                resource: info.plural,
                subresource: match subresource {
                    Subresource::Status => Some("status"),
                    Subresource::Scale => Some("scale"),
                    Subresource::Main | Subresource::System => None,
                },
                namespace: if info.namespaced { namespace } else { None },
                name,
                dry_run,
            })
            .await
    }

    /// Creates a typed object (for bootstrap and controllers).
    pub async fn create_object(
        &self,
        namespace: Option<&str>,
        obj: S::Object,
        dry_run: bool,
    ) -> Result<S::Object, Status> {
        self.create_object_as(namespace, obj, dry_run, None).await
    }

    /// Creates a typed object; `manager` (a request's field manager) gets
    /// the `Update` entry of `metadata.managedFields`, `None` keeps the
    /// object's own entries.
    async fn create_object_as(
        &self,
        namespace: Option<&str>,
        mut obj: S::Object,
        dry_run: bool,
        manager: Option<&str>,
    ) -> Result<S::Object, Status> {
        self.check_namespace(&mut obj, namespace)?;
        let namespace = obj.metadata().namespace.clone();
        let generate_name = obj.metadata().generate_name.clone().filter(|_| {
            obj.metadata()
                .name
                .as_deref()
                .unwrap_or_default()
                .is_empty()
        });
        let attempts = if generate_name.is_some() {
            GENERATE_NAME_ATTEMPTS
        } else {
            1
        };
        let mut last_error = None;
        for _ in 0..attempts {
            let mut candidate = obj.clone();
            if let Some(base) = &generate_name {
                candidate.metadata_mut().name = Some(format!("{base}{}", random_suffix()));
            }
            match self
                .create_once(namespace.as_deref(), candidate, dry_run, true, manager)
                .await
            {
                Err(status) if status.reason == "AlreadyExists" && generate_name.is_some() => {
                    last_error = Some(status);
                }
                other => return other,
            }
        }
        Err(last_error.unwrap_or_else(|| Status::internal_error("no name could be generated")))
    }

    /// Creates an object the server itself owns (the `kubernetes`
    /// endpoints may point at a loopback address, which clients may not
    /// write): strategy defaults apply, validation does not.
    pub async fn create_system_object(
        &self,
        namespace: Option<&str>,
        mut obj: S::Object,
    ) -> Result<S::Object, Status> {
        self.check_namespace(&mut obj, namespace)?;
        self.create_once(namespace, obj, false, false, None).await
    }

    async fn create_once(
        &self,
        namespace: Option<&str>,
        mut obj: S::Object,
        dry_run: bool,
        validate: bool,
        manager: Option<&str>,
    ) -> Result<S::Object, Status> {
        let name = obj.metadata().name.clone().unwrap_or_default();
        self.admit(
            Operation::Create,
            namespace,
            &name,
            Subresource::Main,
            dry_run,
        )
        .await?;
        self.fill_system_fields(&mut obj);
        // Upstream's order: allocation (BeginCreate) first, so validation
        // sees allocated values; a refused object gives them back.
        let finish = self.strategy.begin_create(&mut obj, dry_run)?;
        self.strategy.prepare_for_create(&mut obj);
        if let Some(manager) = manager
            && let Err(status) =
                managed_fields::stamp_update(&self.field_manager(), None, &mut obj, manager, None)
        {
            finish_with(finish, false);
            return Err(status);
        }
        let errors = if validate {
            self.strategy.validate(&obj)
        } else {
            Vec::new()
        };
        if !errors.is_empty() {
            finish_with(finish, false);
            return Err(self.invalid(&name, &errors));
        }
        if dry_run {
            finish_with(finish, true);
            return Ok(obj);
        }
        let result = async {
            let value = self.encode_for_storage(&obj)?;
            let kv = self
                .storage
                .create(&self.key(namespace, &name), value)
                .await
                .map_err(|err| self.storage_error(err, &name))?;
            self.decode_stored(&kv)
        }
        .await;
        finish_with(finish, result.is_ok());
        result
    }

    /// Applies `change` to the stored object under optimistic concurrency,
    /// rereading on conflict, with the strategy's update semantics. `change`
    /// gets the current object and returns the desired one (or a Status).
    pub async fn update_object<F>(
        &self,
        namespace: Option<&str>,
        name: &str,
        subresource: Subresource,
        dry_run: bool,
        mut change: F,
    ) -> Result<S::Object, Status>
    where
        F: FnMut(&S::Object) -> Result<S::Object, Status> + Send,
    {
        let key = self.key(namespace, name);
        self.admit(Operation::Update, namespace, name, subresource, dry_run)
            .await?;
        // An attempt's allocations (BeginUpdate) are given back when a
        // conflict makes the loop try again, and the last attempt's when the
        // loop ends, kept only if its write was committed.
        let mut allocation: Option<FinishFunc> = None;
        let mut decided: Option<S::Object> = None;
        let outcome = guaranteed_update(&*self.storage, &key, false, |current| {
            finish_with(allocation.take(), false);
            let current = current.ok_or_else(|| self.storage_error(not_found(&key), name))?;
            let old = self.decode_stored(current)?;
            let mut new = change(&old)?;
            self.carry_system_fields(&mut new, &old, namespace);
            // Allocation first (upstream's BeginUpdate), then defaults and
            // validation; only the main resource allocates.
            allocation = match subresource {
                Subresource::Main | Subresource::Scale => {
                    self.strategy.begin_update(&mut new, &old, dry_run)?
                }
                _ => None,
            };
            match subresource {
                Subresource::Main | Subresource::Scale => {
                    self.strategy.prepare_for_update(&mut new, &old)
                }
                Subresource::Status => self.strategy.prepare_for_status_update(&mut new, &old),
                Subresource::System => {}
            }
            if self.strategy.tracks_generation() && self.strategy.spec_changed(&new, &old) {
                let generation = old.metadata().generation.unwrap_or(0);
                new.metadata_mut().generation = Some(generation + 1);
            }
            let errors = match subresource {
                Subresource::System => Vec::new(),
                _ => self.strategy.validate_update(&new, &old),
            };
            if !errors.is_empty() {
                return Err(self.invalid(name, &errors));
            }
            let decision = if new == old {
                new = old;
                Decision::Keep
            } else if dry_run {
                Decision::Keep
            } else if self.ready_to_delete(&new) {
                // The last finalizer of an object being deleted is gone:
                // the object goes with it.
                Decision::Delete
            } else {
                Decision::Write(self.encode_for_storage(&new)?)
            };
            decided = Some(new);
            Ok(decision)
        })
        .await
        .map_err(|err| self.update_error(err, name));
        finish_with(allocation.take(), outcome.is_ok());
        match outcome? {
            Outcome::Written(kv) => self.decode_stored(&kv),
            Outcome::Deleted { .. } => {
                let gone = decided.ok_or_else(|| undecided(name))?;
                self.strategy.after_delete(&gone);
                Ok(gone)
            }
            Outcome::Unchanged(_) => decided.ok_or_else(|| undecided(name)),
        }
    }

    /// Keeps what a client may not change on update: uid, creation time,
    /// generation, deletion fields.
    fn carry_system_fields(&self, new: &mut S::Object, old: &S::Object, namespace: Option<&str>) {
        let old_meta: &ObjectMeta = old.metadata();
        let meta = new.metadata_mut();
        if meta.uid.as_deref().unwrap_or_default().is_empty() {
            meta.uid = old_meta.uid.clone();
        }
        meta.creation_timestamp = old_meta.creation_timestamp.clone();
        meta.generation = old_meta.generation;
        meta.deletion_timestamp = old_meta.deletion_timestamp.clone();
        meta.deletion_grace_period_seconds = old_meta.deletion_grace_period_seconds;
        meta.resource_version = old_meta.resource_version.clone();
        meta.self_link = None;
        if self.info().namespaced {
            meta.namespace = namespace.map(str::to_string);
        }
    }

    fn ready_to_delete(&self, obj: &S::Object) -> bool {
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
            let current = current.ok_or_else(|| self.storage_error(not_found(&key), name))?;
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
            let held = meta.finalizers.as_ref().is_some_and(|f| !f.is_empty())
                || self.strategy.has_pending_finalization(&obj);
            let decision = if !held && grace.is_none() {
                decided = Some((obj, true));
                if opts.dry_run {
                    Decision::Keep
                } else {
                    Decision::Delete
                }
            } else if meta.deletion_timestamp.is_some() {
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
                    Decision::Write(self.encode_for_storage(&obj)?)
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
                self.strategy.after_delete(&gone);
                Ok((gone, true))
            }
            Outcome::Unchanged(_) => decided.ok_or_else(|| undecided(name)),
        }
    }

    // ----- watch ----------------------------------------------------------

    async fn start_watch(
        &self,
        namespace: Option<&str>,
        opts: &ListOptions,
    ) -> Result<WatchLines, Status> {
        self.check_field_selector(opts)?;
        let prefix = self.collection_prefix(namespace);
        let requested = parse_resource_version(opts.resource_version.as_deref())?
            .filter(|rv| *rv != Revision::ZERO);
        let send_initial = opts.send_initial_events.unwrap_or(requested.is_none());
        let (initial, start) = if send_initial {
            let list = self
                .storage
                .list(&prefix, StorageListOptions::default())
                .await
                .map_err(|err| self.storage_error(err, ""))?;
            let mut objects = Vec::new();
            for kv in &list.items {
                let obj = self.decode_stored(kv)?;
                if self.matches(&obj, opts) {
                    objects.push(obj);
                }
            }
            (objects, list.revision)
        } else {
            (Vec::new(), Revision::ZERO)
        };
        let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(64);
        let from = match (send_initial, requested) {
            (true, _) => start,
            (false, Some(revision)) => revision,
            (false, None) => self
                .storage
                .current_revision()
                .await
                .map_err(|err| self.storage_error(err, ""))?,
        };
        let source = self
            .storage
            .watch(
                &prefix,
                WatchOptions {
                    revision: Some(from),
                    recursive: true,
                },
            )
            .await;
        let watcher = Watcher {
            strategy: self.strategy.clone(),
            opts: opts.clone(),
            tx,
            last_revision: start,
            table_headers_sent: std::sync::atomic::AtomicBool::new(false),
        };
        tokio::spawn(watcher.run(initial, source));
        Ok(futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|line| (line, rx))
        })
        .boxed())
    }
}

/// The task behind one watch: initial state, then storage events through
/// the selectors, bookmarks, and the timeout. It ends when the client goes
/// away (the channel closes).
struct Watcher<S: Strategy> {
    strategy: Arc<S>,
    opts: ListOptions,
    tx: tokio::sync::mpsc::Sender<Bytes>,
    last_revision: Revision,
    /// Whether a watch asked as Table has sent its column definitions (in
    /// its first event only, as upstream).
    table_headers_sent: std::sync::atomic::AtomicBool,
}

impl<S: Strategy> Watcher<S> {
    fn decode(&self, kv: &KeyValue, revision: Revision) -> Option<S::Object> {
        let mut obj: S::Object = serde_json::from_slice(&kv.value).ok()?;
        obj.metadata_mut().resource_version = Some(revision.to_string());
        Some(obj)
    }

    fn matches(&self, obj: &S::Object) -> bool {
        matches_selectors(self.strategy.as_ref(), obj, &self.opts)
    }

    async fn send(&self, kind: &str, object: &impl Serialize) -> bool {
        #[derive(Serialize)]
        struct Event<'a, T> {
            #[serde(rename = "type")]
            kind: &'a str,
            object: &'a T,
        }
        match serde_json::to_vec(&Event { kind, object }) {
            Ok(line) => self.tx.send(Bytes::from(line)).await.is_ok(),
            Err(_) => false,
        }
    }

    /// Sends an object event: the object itself, or as a one-row Table
    /// when the watch asked for Tables (column definitions in the first
    /// only). An object that cannot be printed is sent as itself, as
    /// upstream does.
    async fn send_object(&self, kind: &str, obj: &S::Object) -> bool {
        let Output::Table(table) = self.opts.output else {
            return self.send(kind, obj).await;
        };
        let with_headers = !self
            .table_headers_sent
            .swap(true, std::sync::atomic::Ordering::Relaxed);
        match super::table::table_of(
            self.strategy.as_ref(),
            std::slice::from_ref(obj),
            &table,
            obj.metadata().resource_version.as_deref(),
            None,
            with_headers,
        ) {
            Ok(table) => self.send(kind, &table).await,
            Err(_) => self.send(kind, obj).await,
        }
    }

    async fn send_bookmark(&self, initial_events_end: bool) -> bool {
        let mut annotations = serde_json::Map::new();
        if initial_events_end {
            annotations.insert("k8s.io/initial-events-end".into(), "true".into());
        }
        let mut metadata = serde_json::json!({ "resourceVersion": self.last_revision.to_string() });
        if !annotations.is_empty() {
            metadata["annotations"] = serde_json::Value::Object(annotations);
        }
        let object = serde_json::json!({
            "kind": <S::Object as k8s_openapi::Resource>::KIND,
            "apiVersion": <S::Object as k8s_openapi::Resource>::API_VERSION,
            "metadata": metadata,
        });
        self.send("BOOKMARK", &object).await
    }

    async fn run(
        mut self,
        initial: Vec<S::Object>,
        source: Result<apiserver_storage::WatchStream, StorageError>,
    ) {
        for obj in &initial {
            if !self.send_object("ADDED", obj).await {
                return;
            }
        }
        if self.opts.send_initial_events == Some(true)
            && self.opts.allow_watch_bookmarks
            && !self.send_bookmark(true).await
        {
            return;
        }
        let mut source = match source {
            Ok(source) => source,
            Err(err) => {
                let _ = self.send("ERROR", &expired_status(err)).await;
                return;
            }
        };
        // A timeout past what the clock can represent is no deadline at all.
        let deadline = self
            .opts
            .timeout
            .and_then(|t| tokio::time::Instant::now().checked_add(t));
        let mut next_bookmark = next_bookmark_at(deadline);
        loop {
            let timeout = async {
                match deadline {
                    Some(deadline) => tokio::time::sleep_until(deadline).await,
                    None => std::future::pending().await,
                }
            };
            let bookmark = async {
                match next_bookmark {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = timeout => return,
                _ = self.tx.closed() => return,
                _ = bookmark => {
                    if self.opts.allow_watch_bookmarks && !self.send_bookmark(false).await {
                        return;
                    }
                    next_bookmark = next_bookmark_at(deadline)
                        .filter(|at| Some(*at) != next_bookmark);
                }
                event = source.next() => {
                    let Some(event) = event else { return };
                    let event = match event {
                        Ok(event) => event,
                        Err(err) => {
                            let _ = self.send("ERROR", &expired_status(err)).await;
                            return;
                        }
                    };
                    let revision = event.revision();
                    self.last_revision = revision;
                    if !self.deliver(&event, revision).await {
                        return;
                    }
                }
            }
        }
    }

    /// Sends one storage event as the client sees it through its
    /// selectors: entering the selection is ADDED, leaving it DELETED.
    async fn deliver(&self, event: &WatchEvent, revision: Revision) -> bool {
        let current = event
            .current()
            .and_then(|kv| self.decode(kv, revision))
            .filter(|obj| self.matches(obj));
        let previous = event
            .previous()
            .and_then(|kv| self.decode(kv, revision))
            .filter(|obj| self.matches(obj));
        match (event, current, previous) {
            (WatchEvent::Modified { .. }, Some(obj), Some(_)) => {
                self.send_object("MODIFIED", &obj).await
            }
            (WatchEvent::Added(_) | WatchEvent::Modified { .. }, Some(obj), None) => {
                self.send_object("ADDED", &obj).await
            }
            (WatchEvent::Modified { .. } | WatchEvent::Deleted { .. }, None, Some(obj)) => {
                self.send_object("DELETED", &obj).await
            }
            _ => true,
        }
    }
}

/// Whether an object passes a list's label and field selectors.
fn matches_selectors<S: Strategy>(strategy: &S, obj: &S::Object, opts: &ListOptions) -> bool {
    let meta = obj.metadata();
    if !opts.label_selector.is_empty() {
        let empty = BTreeMap::new();
        if !opts
            .label_selector
            .matches(meta.labels.as_ref().unwrap_or(&empty))
        {
            return false;
        }
    }
    if opts.field_selector.is_empty() {
        return true;
    }
    let extra = strategy.selectable_fields(obj);
    opts.field_selector.matches(|field| match field {
        "metadata.name" => meta.name.clone(),
        "metadata.namespace" => Some(meta.namespace.clone().unwrap_or_default()),
        other => extra
            .iter()
            .find(|(name, _)| *name == other)
            .map(|(_, value)| value.clone()),
    })
}

fn expired_status(err: StorageError) -> Status {
    match err {
        StorageError::Expired { .. } => Status::expired(err.to_string()),
        other => Status::internal_error(other.to_string()),
    }
}

/// The next bookmark: a minute from now, or two seconds before the watch
/// ends if that is sooner (so a client resumes from a fresh revision).
fn next_bookmark_at(deadline: Option<tokio::time::Instant>) -> Option<tokio::time::Instant> {
    let now = tokio::time::Instant::now();
    let regular = now + BOOKMARK_INTERVAL;
    match deadline.map(|d| d.checked_sub(Duration::from_secs(2)).unwrap_or(d)) {
        Some(before_end) if before_end > now && before_end < regular => Some(before_end),
        _ => Some(regular),
    }
}

/// The error for a key the read-modify-write loop passed as missing (it
/// does not, without `ignore_not_found`).
fn not_found(key: &str) -> StorageError {
    StorageError::NotFound {
        key: key.to_owned(),
    }
}

/// A read-modify-write that ended without the object it decided on (the
/// loop returns only after a decision).
fn undecided(name: &str) -> Status {
    Status::internal_error(format!("the update of {name} ended without a decision"))
}

fn finish_with(finish: Option<FinishFunc>, success: bool) {
    if let Some(finish) = finish {
        finish(success);
    }
}

/// Now, to the second (Kubernetes' metadata times have no fraction).
fn now() -> Time {
    time_in(0)
}

/// `seconds` from now, to the second.
fn time_in(seconds: i64) -> Time {
    let unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    let at = DateTime::from_timestamp(unix.saturating_add(seconds), 0).unwrap_or_default();
    Time(at)
}

/// Five characters for `generateName`.
fn random_suffix() -> String {
    let random = uuid::Uuid::new_v4();
    random.as_bytes()[..5]
        .iter()
        .map(|b| NAME_ALPHABET[usize::from(*b) % NAME_ALPHABET.len()] as char)
        .collect()
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

/// A `resourceVersion` parameter: unset or empty is `None`.
fn parse_resource_version(value: Option<&str>) -> Result<Option<Revision>, Status> {
    match value {
        None | Some("") => Ok(None),
        Some(text) => text
            .parse::<Revision>()
            .map(Some)
            .map_err(|_| Status::bad_request(format!("invalid resource version: {text}"))),
    }
}

/// Server-side apply and managed fields.
impl<S: Strategy> Store<S> {
    /// The kind's field manager (its schema built once, shared with
    /// strategic merge patch).
    fn field_manager(&self) -> FieldManager {
        let info = self.info();
        FieldManager::new(
            self.patch_schema
                .get_or_init(PatchSchema::of::<S::Object>)
                .clone(),
            &info.api_version(),
            info.kind,
        )
    }

    /// A PATCH with `application/apply-patch+yaml`: the configuration
    /// merged into the live object for `manager`, or the object created
    /// from it when there is none (201).
    async fn apply_patch(
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
                                body: Self::encode_reply(&created)?,
                                warnings: Vec::new(),
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
        Ok(Reply::ok(Self::encode_reply(&updated)?))
    }
}

#[async_trait::async_trait]
impl<S: Strategy> RestStorage for Store<S> {
    fn info(&self) -> &ResourceInfo {
        self.strategy.info()
    }

    async fn get(
        &self,
        namespace: Option<&str>,
        name: &str,
        opts: &GetOptions,
    ) -> Result<Reply, Status> {
        self.require_revision(opts.resource_version.as_deref())
            .await?;
        let obj = self.get_object(namespace, name).await?;
        let body = match opts.output {
            Output::Object => Self::encode_reply(&obj)?,
            Output::Table(table) => Self::encode_reply(&super::table::table_of(
                self.strategy.as_ref(),
                std::slice::from_ref(&obj),
                &table,
                obj.metadata().resource_version.as_deref(),
                None,
                true,
            )?)?,
        };
        Ok(Reply::ok(body))
    }

    async fn list(&self, namespace: Option<&str>, opts: &ListOptions) -> Result<Reply, Status> {
        let (items, revision, continue_token) = self.list_matching(namespace, opts).await?;
        let heavy = cpu_work::reserve(items.len() >= cpu_work::HEAVY_ITEMS).await;
        let body = heavy.run(|| match opts.output {
            Output::Object => self.list_body(&items, revision, continue_token.as_deref()),
            Output::Table(table) => {
                let resource_version = revision.to_string();
                Self::encode_reply(&super::table::table_of(
                    self.strategy.as_ref(),
                    &items,
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
        Ok(Reply {
            code: StatusCode::CREATED,
            body: heavy.run(|| Self::encode_reply(&created))?,
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
                    &field_manager,
                    subresource,
                    current,
                    &mut new,
                    &manager,
                )?;
                Ok(new)
            })
            .await?;
        Ok(Reply {
            code: StatusCode::OK,
            body: heavy.run(|| Self::encode_reply(&updated))?,
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
        let schema = self.patch_schema.get_or_init(PatchSchema::of::<S::Object>);
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
                        &field_manager,
                        subresource,
                        current,
                        &mut obj,
                        &manager,
                    )?;
                    Ok(obj)
                })
            })
            .await?;
        Ok(Reply {
            code: StatusCode::OK,
            body: heavy.run(|| Self::encode_reply(&updated))?,
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
        let (items, revision, _) = self.list_matching(namespace, &unpaged).await?;
        let mut deleted = Vec::with_capacity(items.len());
        for item in items {
            let meta = item.metadata();
            let name = meta.name.clone().unwrap_or_default();
            let ns = meta.namespace.clone();
            match self.delete_object(ns.as_deref(), &name, opts).await {
                Ok((obj, _)) => deleted.push(obj),
                Err(status) if status.code == 404 => {}
                Err(status) => return Err(status),
            }
        }
        Ok(Reply::ok(self.list_body(&deleted, revision, None)?))
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
            body: Self::encode_reply(&scale)?,
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
            body: Self::encode_reply(&scale)?,
            warnings,
        })
    }
}

// ----- scale subresource ----------------------------------------------------

impl<S: Strategy> Store<S> {
    /// The `Scale` of an object; 404 when the kind has none.
    fn scale_of(&self, obj: &S::Object) -> Result<Scale, Status> {
        let view = self
            .strategy
            .scale_of(obj)
            .filter(|_| self.info().has_scale)
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
    async fn write_scale<F>(
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
                    .set_replicas(&mut new, scale::desired_replicas(&wanted));
                managed_fields::stamp_write(
                    &field_manager,
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
fn decode_typed<T: serde::de::DeserializeOwned>(
    body: &Body,
    validation: FieldValidation,
    kind: &str,
) -> Result<(T, Vec<String>), Status> {
    decode::decode_body(body, validation, kind)
}
