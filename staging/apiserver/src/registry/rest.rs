//! The interface between the HTTP handlers and a resource's store
//! (`k8s.io/apiserver/pkg/registry/rest`): the verbs, their parsed options,
//! and what they answer. [`RestStorage`] is object-safe so that routes hold
//! every resource's store the same way, whatever its Rust type.

use std::num::NonZeroUsize;
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use http::StatusCode;

use apimachinery::{fields, labels};

use crate::status::Status;

use super::ResourceInfo;
use super::table::TableOptions;

/// What a read answers (negotiated from `Accept`): the object (or list) as
/// stored, or a `meta.k8s.io` Table of it (`as=Table`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Output {
    #[default]
    Object,
    Table(TableOptions),
}

/// `resourceVersionMatch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceVersionMatch {
    NotOlderThan,
    Exact,
}

/// The options of a get (`metav1.GetOptions`).
#[derive(Debug, Clone, Default)]
pub struct GetOptions {
    /// `resourceVersion`: unset or "0" is the latest; a number asks for a
    /// state at least that new.
    pub resource_version: Option<String>,
    /// The object itself or a Table of it.
    pub output: Output,
}

/// The options of a list or watch (`metav1.ListOptions`), already
/// validated and parsed.
#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    pub label_selector: labels::Selector,
    pub field_selector: fields::Selector,
    pub limit: Option<NonZeroUsize>,
    pub continue_token: Option<String>,
    pub resource_version: Option<String>,
    pub resource_version_match: Option<ResourceVersionMatch>,
    pub allow_watch_bookmarks: bool,
    /// `sendInitialEvents` (watch-list): the initial state as ADDED events,
    /// then a bookmark marking its end.
    pub send_initial_events: Option<bool>,
    /// How long a watch runs before the server ends it.
    pub timeout: Option<Duration>,
    /// The list (or each watch event's object) itself or a Table of it.
    pub output: Output,
}

impl ListOptions {
    /// Whether a label or field selector narrows the list or watch (the
    /// objects must then be decoded to be matched).
    pub fn selects(&self) -> bool {
        !self.label_selector.is_empty() || !self.field_selector.is_empty()
    }
}

/// How a write reads and checks its body (`fieldValidation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FieldValidation {
    Ignore,
    #[default]
    Warn,
    Strict,
}

/// The options every write shares (`CreateOptions`, `UpdateOptions`,
/// `PatchOptions`).
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    /// `dryRun=All`: validate and answer, store nothing.
    pub dry_run: bool,
    /// `fieldManager` as the request gave it (apply requires one).
    pub field_manager: Option<String>,
    /// The manager a write without `fieldManager` is recorded under: the
    /// request's User-Agent up to its first `/` (upstream's
    /// `prefixFromUserAgent`), e.g. `curl`.
    pub user_agent_manager: String,
    pub field_validation: FieldValidation,
    /// `force` (apply patches only): take fields other managers own.
    pub force: Option<bool>,
}

/// `propagationPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PropagationPolicy {
    Orphan,
    Background,
    Foreground,
}

/// `metav1.DeleteOptions`, merged from the body and the query.
#[derive(Debug, Clone, Default)]
pub struct DeleteOptions {
    pub dry_run: bool,
    pub grace_period_seconds: Option<i64>,
    pub propagation_policy: Option<PropagationPolicy>,
    pub precondition_uid: Option<String>,
    pub precondition_resource_version: Option<String>,
}

/// The media type of a request body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFormat {
    Json,
    Yaml,
}

/// A decoded request body as the store receives it.
#[derive(Debug, Clone)]
pub struct Body {
    pub format: BodyFormat,
    pub bytes: Bytes,
}

/// The patch formats of a PATCH request, by Content-Type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchType {
    /// `application/json-patch+json` (RFC 6902).
    Json,
    /// `application/merge-patch+json` (RFC 7386).
    Merge,
    /// `application/strategic-merge-patch+json`.
    StrategicMerge,
    /// `application/apply-patch+yaml` (server-side apply; YAML or JSON).
    Apply,
}

/// Which part of an object a write addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subresource {
    Main,
    Status,
    /// `/scale`: an `autoscaling/v1` `Scale` read from and written back to
    /// the parent object (only `spec.replicas` changes it).
    Scale,
    /// An in-process controller's change (a namespace's `spec.finalizers`
    /// once its contents are gone): no strategy hooks, no validation. Never
    /// reachable from a request.
    System,
}

/// A successful answer: the HTTP code, the JSON body and any
/// `Warning` headers (`299 - "..."`).
#[derive(Debug)]
pub struct Reply {
    pub code: StatusCode,
    pub body: ReplyBody,
    pub warnings: Vec<String>,
}

impl Reply {
    pub fn ok(body: impl Into<ReplyBody>) -> Self {
        Reply {
            code: StatusCode::OK,
            body: body.into(),
            warnings: Vec::new(),
        }
    }
}

/// The body of a [`Reply`]: whole, or (for a list too large to hold at
/// once) its chunks in order, made as the client reads them. An error in
/// the middle of the chunks ends the response unfinished, so the client
/// sees a failed read rather than a short list.
pub enum ReplyBody {
    Whole(Bytes),
    Chunks(BoxStream<'static, Result<Bytes, Status>>),
}

impl ReplyBody {
    /// The whole body, the chunks read to their end.
    pub async fn into_bytes(self) -> Result<Bytes, Status> {
        match self {
            ReplyBody::Whole(bytes) => Ok(bytes),
            ReplyBody::Chunks(mut chunks) => {
                let mut whole = Vec::new();
                while let Some(chunk) = futures_util::StreamExt::next(&mut chunks).await {
                    whole.extend_from_slice(&chunk?);
                }
                Ok(Bytes::from(whole))
            }
        }
    }

    /// The body when it is whole (every reply but a streamed list's).
    pub fn whole(&self) -> Option<&Bytes> {
        match self {
            ReplyBody::Whole(bytes) => Some(bytes),
            ReplyBody::Chunks(_) => None,
        }
    }
}

impl From<Bytes> for ReplyBody {
    fn from(bytes: Bytes) -> Self {
        ReplyBody::Whole(bytes)
    }
}

impl std::fmt::Debug for ReplyBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReplyBody::Whole(bytes) => f.debug_tuple("Whole").field(&bytes.len()).finish(),
            ReplyBody::Chunks(_) => f.write_str("Chunks"),
        }
    }
}

/// The lines of a watch: each item is one JSON watch event
/// (`{"type":"ADDED","object":{...}}`) without the newline. An error inside
/// the stream is sent as an `ERROR` event by the store itself.
pub type WatchLines = BoxStream<'static, Bytes>;

/// One resource's REST verbs, with the object encoding done inside.
#[async_trait::async_trait]
pub trait RestStorage: Send + Sync {
    fn info(&self) -> &ResourceInfo;

    async fn get(
        &self,
        namespace: Option<&str>,
        name: &str,
        opts: &GetOptions,
    ) -> Result<Reply, Status>;

    /// A list; a large one may answer in chunks read from the store as the
    /// client takes them, for which the chunks hold the store itself.
    async fn list(
        self: std::sync::Arc<Self>,
        namespace: Option<&str>,
        opts: &ListOptions,
    ) -> Result<Reply, Status>;

    async fn watch(
        &self,
        namespace: Option<&str>,
        opts: &ListOptions,
    ) -> Result<WatchLines, Status>;

    async fn create(
        &self,
        namespace: Option<&str>,
        body: Body,
        opts: &WriteOptions,
    ) -> Result<Reply, Status>;

    async fn update(
        &self,
        namespace: Option<&str>,
        name: &str,
        subresource: Subresource,
        body: Body,
        opts: &WriteOptions,
    ) -> Result<Reply, Status>;

    async fn patch(
        &self,
        namespace: Option<&str>,
        name: &str,
        subresource: Subresource,
        patch_type: PatchType,
        patch: Bytes,
        opts: &WriteOptions,
    ) -> Result<Reply, Status>;

    async fn delete(
        &self,
        namespace: Option<&str>,
        name: &str,
        opts: &DeleteOptions,
    ) -> Result<Reply, Status>;

    async fn delete_collection(
        &self,
        namespace: Option<&str>,
        list: &ListOptions,
        opts: &DeleteOptions,
    ) -> Result<Reply, Status>;

    /// `GET .../<name>/scale`: the object's `Scale`; 404 for a resource
    /// without one.
    async fn get_scale(
        &self,
        _namespace: Option<&str>,
        _name: &str,
        _opts: &GetOptions,
    ) -> Result<Reply, Status> {
        Err(Status::not_found_path())
    }

    /// `PUT .../<name>/scale` with a `Scale` body: its `spec.replicas`
    /// written to the object, under its `resourceVersion` precondition.
    async fn update_scale(
        &self,
        _namespace: Option<&str>,
        _name: &str,
        _body: Body,
        _opts: &WriteOptions,
    ) -> Result<Reply, Status> {
        Err(Status::not_found_path())
    }

    /// `PATCH .../<name>/scale`: the patch applied to the current `Scale`,
    /// then written back as by [`RestStorage::update_scale`].
    async fn patch_scale(
        &self,
        _namespace: Option<&str>,
        _name: &str,
        _patch_type: PatchType,
        _patch: Bytes,
        _opts: &WriteOptions,
    ) -> Result<Reply, Status> {
        Err(Status::not_found_path())
    }
}
