//! The generic store of one resource (`registry/generic/registry.Store`):
//! objects encoded as JSON under `/registry/<resource>/<namespace>/<name>`,
//! resourceVersion = the storage revision, and every verb's semantics —
//! system metadata, strategy hooks, optimistic concurrency, graceful and
//! finalizer-held deletion, selectors, paging and watches.
//!
//! This module owns the type, its encoding and its errors; each concern has
//! a file: `read` (get, list), `write` (create, update), `delete`, `watch`,
//! `apply` (server-side apply), `scale_subresource`, and `rest_storage` (the
//! REST verbs on top). Every write that depends on the stored object goes
//! through storage's one read-modify-write loop, `guaranteed_update`.

use std::collections::BTreeMap;
use std::num::NonZeroUsize;
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
    Storage, StorageError, TryUpdate, UpdateError, WatchEvent, WatchOptions, guaranteed_update,
    guaranteed_update_with,
};

use apimachinery::fieldmanager::FieldManager;
use apimachinery::patch::{self, PatchError, PatchSchema};
use apimachinery::validation::field::ErrorList;

use crate::authentication::UserInfo;
use crate::cpu_work;

use crate::admission::{self, Attributes, Operation};
use crate::status::{Status, StatusDetails};

use super::decode;
use super::managed_fields;
use super::rest::Output;
use super::rest::{
    Body, BodyFormat, DeleteOptions, FieldValidation, GetOptions, ListOptions, PatchType,
    PropagationPolicy, Reply, ReplyBody, ResourceVersionMatch, RestStorage, Subresource,
    WatchLines, WriteOptions,
};
use super::scale;
use super::stored_json;
use super::{FinishFunc, ResourceInfo, StatusStrategy, Strategy};

mod apply;
mod delete;
mod read;
mod rest_storage;
mod scale_subresource;
mod watch;
mod write;

/// One resource's store.
pub struct Store<S: Strategy> {
    strategy: Arc<S>,
    /// The served resource, its subresources from the strategy.
    info: ResourceInfo,
    storage: Arc<dyn Storage>,
    admission: admission::Chain,
    prefix: String,
    /// The kind's structure for strategic merge patches, built on first use.
    patch_schema: std::sync::OnceLock<PatchSchema>,
    /// The kind's field manager, built on first use.
    field_manager: std::sync::OnceLock<FieldManager>,
    /// The largest object written, as stored.
    max_object_bytes: usize,
    /// The items a list without a limit reads from storage at once.
    list_page_items: NonZeroUsize,
}

/// The items a list without a limit reads from storage at once: past this,
/// its answer is written a page at a time ([`Store::list_in_pages`]).
pub const DEFAULT_LIST_PAGE_ITEMS: NonZeroUsize = NonZeroUsize::new(1000).unwrap();

/// The default bound on a stored object: etcd's default request limit
/// (`--max-request-bytes`, 1.5 MiB), which upstream's objects meet in etcd.
pub const DEFAULT_MAX_OBJECT_BYTES: usize = 1_572_864;

impl<S: Strategy> Store<S> {
    pub fn new(strategy: Arc<S>, storage: Arc<dyn Storage>, admission: admission::Chain) -> Self {
        let info = ResourceInfo::of(&*strategy);
        let prefix = strategy.key_prefix();
        Store {
            strategy,
            info,
            storage,
            admission,
            prefix,
            patch_schema: std::sync::OnceLock::new(),
            field_manager: std::sync::OnceLock::new(),
            max_object_bytes: DEFAULT_MAX_OBJECT_BYTES,
            list_page_items: DEFAULT_LIST_PAGE_ITEMS,
        }
    }

    /// Reads lists without a limit from storage `items` at a time.
    pub fn with_list_page_items(mut self, items: NonZeroUsize) -> Self {
        self.list_page_items = items;
        self
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
        &self.info
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
        let mut obj: S::Object = self
            .strategy
            .decode_stored(&kv.value)
            .map_err(|err| Status::internal_error(format!("decoding {}: {err}", kv.key)))?;
        obj.metadata_mut().resource_version = Some(kv.mod_revision.to_string());
        Ok(obj)
    }

    /// The answer for a stored object: its bytes with the revision as
    /// `resourceVersion`, without decoding them (bytes of another shape
    /// are decoded and encoded again).
    fn answer_stored(&self, kv: &KeyValue) -> Result<Bytes, Status> {
        let mut answer = Vec::new();
        if self.strategy.answers_stored_bytes()
            && stored_json::append_with_resource_version(&kv.value, kv.mod_revision, &mut answer)
        {
            return Ok(Bytes::from(answer));
        }
        Self::encode_reply(&self.decode_stored(kv)?)
    }

    /// The bytes stored for an object: JSON without `resourceVersion`, which
    /// the revision carries.
    /// Refuses objects over the size bound with upstream's 413
    /// `RequestEntityTooLarge` (what etcd's request limit gives there), so
    /// repeated patches cannot grow one object without bound.
    fn encode_for_storage(&self, obj: &mut S::Object) -> Result<Bytes, Status> {
        let resource_version = obj.metadata_mut().resource_version.take();
        let encoded = self.strategy.encode_stored(obj);
        obj.metadata_mut().resource_version = resource_version;
        let bytes = encoded.map_err(|err| Status::internal_error(format!("encoding: {err}")))?;
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
        let (mut obj, mut problems) =
            decode::decode_body::<S::Object>(body, validation, self.info().kind)?;
        // Fields the kind's schema does not declare, beyond the typed
        // decode's (a custom resource's pruned fields).
        let pruned = self.strategy.prune_unknown_fields(&mut obj);
        if !pruned.is_empty() {
            let pruned = pruned
                .iter()
                .map(|path| format!("unknown field \"{path}\""));
            match validation {
                FieldValidation::Strict => {
                    return Err(Status::bad_request(format!(
                        "strict decoding error: {}",
                        pruned.collect::<Vec<_>>().join(", ")
                    )));
                }
                FieldValidation::Warn => problems.extend(pruned),
                _ => {}
            }
        }
        Ok((obj, problems))
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

/// A read-modify-write that ended without the object it decided on (the
/// loop returns only after a decision).
fn undecided(name: &str) -> Status {
    Status::internal_error(format!("the update of {name} ended without a decision"))
}

/// Now, to the second (Kubernetes' metadata times have no fraction).
fn now() -> Time {
    time_in(0)
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

/// `seconds` from now, to the second.
fn time_in(seconds: i64) -> Time {
    let unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    let at = DateTime::from_timestamp(unix.saturating_add(seconds), 0).unwrap_or_default();
    Time(at)
}

#[cfg(test)]
mod tests;
