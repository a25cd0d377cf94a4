//! What makes one kind different from another in the generic store
//! (`rest.RESTCreateStrategy`, `RESTUpdateStrategy`, `RESTDeleteStrategy`
//! and the registry's `BeginCreate`/`BeginUpdate` hooks): defaults, validation,
//! generation and status handling, selectable fields, graceful deletion and
//! allocation side effects.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;

use apimachinery::patch::PatchSchema;
use apimachinery::validation::field::ErrorList;

use crate::authentication::UserInfo;
use crate::status::Status;

use futures_util::future::BoxFuture;

use super::table::{self, ColumnDefinition, RowCondition};

use super::scale::ScaleView;
use super::subresource::SubresourceKind;

/// Called once a write that allocated something (a cluster IP, a node port)
/// has succeeded (`true`) or failed (`false`), so a failed write releases
/// what it took (`registry.FinishFunc`). Giving back may itself be a write
/// to storage, hence the future. When a write's fate is unknown (the store
/// timed out) the store drops the function uncalled: what it took stays
/// taken until the kind's repair loop finds it unused.
pub type FinishFunc = Box<dyn FnOnce(bool) -> BoxFuture<'static, ()> + Send>;

/// What a kind declares about itself: its names and scope. Which
/// subresources it has is not declared here but given by its strategy
/// ([`Strategy::status`], [`Strategy::scale`]), the one source of both.
#[derive(Debug, Clone)]
pub struct ResourceNames {
    /// API group; empty for the legacy core group.
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    /// The URL segment: `pods`.
    pub plural: &'static str,
    /// `pod`.
    pub singular: &'static str,
    pub namespaced: bool,
    pub short_names: &'static [&'static str],
    /// Discovery categories, e.g. `all` for `kubectl get all`.
    pub categories: &'static [&'static str],
}

impl ResourceNames {
    /// `apps/v1` or `v1`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `pods` or `deployments.apps`, the name in "not found" messages.
    pub fn qualified_resource(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_string()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// The storage prefix of every object of this resource:
    /// `/registry/pods/`.
    pub fn key_prefix(&self) -> String {
        format!("/registry/{}/", self.plural)
    }
}

/// A served resource as discovery, OpenAPI and routing need it: the kind's
/// names and the subresources its strategy gives it. The names read
/// through (`info.plural`).
#[derive(Debug, Clone)]
pub struct ResourceInfo {
    pub names: ResourceNames,
    /// Has a `/status` subresource (status is ignored on the main resource,
    /// everything but status is ignored on `/status`).
    pub has_status: bool,
    /// Has a `/scale` subresource.
    pub has_scale: bool,
    /// Serves `create` only, and stores nothing: a review
    /// (`SubjectAccessReview`, `TokenReview`, ...).
    pub create_only: bool,
    /// Subresources served by their own handler, create only
    /// (`serviceaccounts/token`); filled from the registered handlers
    /// ([`attach_create_subresources`](super::subresource::attach_create_subresources)).
    pub create_subresources: Vec<SubresourceKind>,
}

impl ResourceInfo {
    /// The resource a strategy serves.
    pub fn of<S: Strategy>(strategy: &S) -> Self {
        ResourceInfo {
            names: strategy.names().clone(),
            has_status: strategy.status().is_some(),
            has_scale: strategy.scale().is_some(),
            create_only: false,
            create_subresources: Vec::new(),
        }
    }
}

impl ResourceInfo {
    /// A review (`info.create_only`) of k8s-openapi kind `T`: its names and
    /// scope from the type.
    pub fn review<T>() -> Self
    where
        T: k8s_openapi::Resource,
        T::Scope: 'static,
    {
        let namespaced = std::any::TypeId::of::<T::Scope>()
            == std::any::TypeId::of::<k8s_openapi::NamespaceResourceScope>();
        ResourceInfo {
            names: ResourceNames {
                group: T::GROUP,
                version: T::VERSION,
                kind: T::KIND,
                plural: T::URL_PATH_SEGMENT,
                singular: T::URL_PATH_SEGMENT
                    .strip_suffix('s')
                    .unwrap_or(T::URL_PATH_SEGMENT),
                namespaced,
                short_names: &[],
                categories: &[],
            },
            has_status: false,
            has_scale: false,
            create_only: true,
            create_subresources: Vec::new(),
        }
    }
}

impl std::ops::Deref for ResourceInfo {
    type Target = ResourceNames;

    fn deref(&self) -> &ResourceNames {
        &self.names
    }
}

/// A kind's `/status` subresource (upstream's `<kind>StatusStrategy`): an
/// update through it changes the status only.
pub trait StatusStrategy<O>: Send + Sync {
    /// Keeps everything but the status from `old`.
    fn prepare_for_status_update(&self, new: &mut O, old: &O);
}

/// A kind's `/scale` subresource (upstream's per-kind `ScaleREST`).
pub trait ScaleStrategy<O>: Send + Sync {
    /// What `/scale` shows of `obj`: desired and observed replicas and the
    /// pod selector (`scaleFromDeployment` and its siblings); `None` when
    /// the object has no spec to scale.
    fn scale_of(&self, obj: &O) -> Option<ScaleView>;

    /// Writes a `/scale` update's `spec.replicas` into the object: the only
    /// field a scale update changes.
    fn set_replicas(&self, obj: &mut O, replicas: i32);
}

/// An object kind as the registry needs it: the k8s-openapi type with its
/// metadata.
pub trait Object:
    k8s_openapi::ListableResource
    + k8s_openapi::Metadata<Ty = ObjectMeta>
    + Serialize
    + DeserializeOwned
    + k8s_openapi::schemars::JsonSchema
    + Clone
    + PartialEq
    + Send
    + Sync
    + 'static
{
}

impl<T> Object for T where
    T: k8s_openapi::ListableResource
        + k8s_openapi::Metadata<Ty = ObjectMeta>
        + Serialize
        + DeserializeOwned
        + k8s_openapi::schemars::JsonSchema
        + Clone
        + PartialEq
        + Send
        + Sync
        + 'static
{
}

/// One kind's behaviour in the generic store. Every method but
/// [`Strategy::names`] and [`Strategy::validate`] has the behaviour of a kind
/// that needs nothing special.
///
/// Metadata the store owns (uid, creationTimestamp, resourceVersion,
/// generation, deletion fields, namespace from the URL, `generateName`) is
/// handled by the store and never by a strategy.
pub trait Strategy: Send + Sync + 'static {
    type Object: Object;

    fn names(&self) -> &ResourceNames;

    /// The storage prefix of every object of the kind: `/registry/pods/`
    /// ([`ResourceNames::key_prefix`]); custom resources add their group.
    fn key_prefix(&self) -> String {
        self.names().key_prefix()
    }

    /// The kind's structure for strategic merge patch and server-side
    /// apply; built once per store.
    fn patch_schema(&self) -> PatchSchema {
        PatchSchema::of::<Self::Object>()
    }

    /// Whether PATCH takes `application/strategic-merge-patch+json`; custom
    /// resources do not (upstream answers 415).
    fn accepts_strategic_merge_patch(&self) -> bool {
        true
    }

    /// Drops the fields of a decoded body the kind's schema does not
    /// declare and returns their paths (`spec.unknown`), for
    /// `fieldValidation`; the typed decode already finds a built-in kind's.
    fn prune_unknown_fields(&self, _obj: &mut Self::Object) -> Vec<String> {
        Vec::new()
    }

    /// An object from its stored bytes. Stored bytes may be another
    /// version's or kind's (events.k8s.io/v1 Events are stored as core/v1
    /// Events, a custom resource's objects at any of its versions); such a
    /// kind converts here, and answers with
    /// [`Strategy::answers_stored_bytes`] false.
    fn decode_stored(&self, bytes: &[u8]) -> Result<Self::Object, String> {
        serde_json::from_slice(bytes).map_err(|err| err.to_string())
    }

    /// The bytes stored for an object (without `resourceVersion`, which the
    /// store clears first).
    fn encode_stored(&self, obj: &Self::Object) -> Result<Vec<u8>, String> {
        serde_json::to_vec(obj).map_err(|err| err.to_string())
    }

    /// Whether a read may answer the stored bytes themselves (with
    /// `resourceVersion` written in) rather than the decoded object.
    fn answers_stored_bytes(&self) -> bool {
        true
    }

    /// The kind of a list of these objects (`PodList`).
    fn list_kind(&self) -> &str {
        <Self::Object as k8s_openapi::ListableResource>::LIST_KIND
    }

    /// The kind's `/status` subresource, if it has one.
    fn status(&self) -> Option<&dyn StatusStrategy<Self::Object>> {
        None
    }

    /// The kind's `/scale` subresource, if it has one.
    fn scale(&self) -> Option<&dyn ScaleStrategy<Self::Object>> {
        None
    }

    /// Fills defaults and clears what a client may not set on create (for a
    /// kind with status: the status, then its initial value, e.g. a pod's
    /// `phase: Pending`). Runs before validation.
    fn prepare_for_create(&self, _obj: &mut Self::Object) {}

    /// Fills defaults on update and keeps what the main resource may not
    /// change (for a kind with status: `new.status = old.status`).
    fn prepare_for_update(&self, _new: &mut Self::Object, _old: &Self::Object) {}

    /// The kind's validation of a new object; field paths as upstream
    /// (`spec.containers[0].image`).
    fn validate(&self, obj: &Self::Object) -> ErrorList;

    /// Validation of an update (immutable fields and the like); by default
    /// the new object is validated like a new one.
    fn validate_update(&self, new: &Self::Object, _old: &Self::Object) -> ErrorList {
        self.validate(new)
    }

    /// Whether validating an object of this kind is CPU-heavy (a custom
    /// resource's costly validation rules): the store then runs it off the
    /// async workers, as it does large decodes.
    fn validation_is_heavy(&self) -> bool {
        false
    }

    /// Whether `metadata.generation` is kept (set to 1 on create, bumped
    /// when [`Strategy::spec_changed`]).
    fn tracks_generation(&self) -> bool {
        false
    }

    /// Whether the update changed the desired state (spec) rather than only
    /// metadata or status.
    fn spec_changed(&self, _new: &Self::Object, _old: &Self::Object) -> bool {
        false
    }

    /// What the client should hear about `obj` as it is written (upstream's
    /// `WarningsOnCreate` and `WarningsOnUpdate`): `Warning` headers on the
    /// reply of a create, update, patch or apply.
    fn warnings(&self, _obj: &Self::Object) -> Vec<String> {
        Vec::new()
    }

    /// The kind-specific fields a field selector may use besides
    /// `metadata.name` and `metadata.namespace`, with their values for
    /// `obj` (`spec.nodeName`, `status.phase`, ...). The names must be the
    /// same for every object.
    fn selectable_fields(&self, _obj: &Self::Object) -> Vec<(&'static str, String)> {
        Vec::new()
    }

    /// The names [`Strategy::selectable_fields`] returns (for the error on an
    /// unsupported field, without an object at hand).
    fn selectable_field_names(&self) -> &'static [&'static str] {
        &[]
    }

    /// The grace period a delete of `obj` waits for, given the one the client
    /// asked for (`CheckGracefulDelete`); `None` or `Some(0)` deletes at once.
    fn graceful_delete_period(&self, _obj: &Self::Object, _requested: Option<i64>) -> Option<i64> {
        None
    }

    /// Takes what a new object needs from shared pools (cluster IPs, node
    /// ports) before it is stored; 422/409 `Status` when it can't. With
    /// `dry_run` nothing is kept. The returned function learns whether the
    /// write succeeded. Asynchronous, as the pools may live in storage.
    fn begin_create(
        &self,
        _obj: &mut Self::Object,
        _dry_run: bool,
    ) -> impl Future<Output = Result<Option<FinishFunc>, Status>> + Send {
        std::future::ready(Ok(None))
    }

    /// As [`Strategy::begin_create`], for an update from `old` to `new`.
    fn begin_update(
        &self,
        _new: &mut Self::Object,
        _old: &Self::Object,
        _dry_run: bool,
    ) -> impl Future<Output = Result<Option<FinishFunc>, Status>> + Send {
        std::future::ready(Ok(None))
    }

    /// Refuses a write the requesting `user` may not make although it may
    /// use the verb: RBAC's escalation prevention (upstream's
    /// `policybased` storages). Runs after validation, on every attempt of
    /// an update; `user` is `None` for the server's own writes.
    fn authorize_write(
        &self,
        _user: Option<&UserInfo>,
        _new: &Self::Object,
        _old: Option<&Self::Object>,
    ) -> Result<(), Status> {
        Ok(())
    }

    /// Whether a delete must keep the object (marked with
    /// `deletionTimestamp`) because the kind has its own finalization still
    /// to run, beyond `metadata.finalizers`: a namespace's
    /// `spec.finalizers` until its contents are gone.
    fn has_pending_finalization(&self, _obj: &Self::Object) -> bool {
        false
    }

    /// Changes a kept object on its first delete (a namespace becomes
    /// `Terminating`).
    fn prepare_for_delete(&self, _obj: &mut Self::Object) {}

    /// Whether a delete answers with the deleted object (pods, services,
    /// namespaces) rather than a success `Status` (`ReturnDeletedObject`).
    fn returns_deleted_object(&self) -> bool {
        false
    }

    /// Gives back what the object held, once it is gone from storage.
    fn after_delete(&self, _obj: &Self::Object) -> impl Future<Output = ()> + Send {
        std::future::ready(())
    }

    /// The columns of this kind's Table (`kubectl get`), every one of them
    /// including the wide-only ones (priority 1); by default upstream's
    /// default convertor: `Name` and `Created At`.
    fn table_columns(&self) -> &[ColumnDefinition] {
        table::default_columns()
    }

    /// The cells of `obj`'s row, one per [`Strategy::table_columns`], with
    /// ages computed at `now`.
    fn table_row(&self, obj: &Self::Object, _now: DateTime<Utc>) -> Vec<serde_json::Value> {
        table::default_row(k8s_openapi::Metadata::metadata(obj))
    }

    /// The conditions of `obj`'s row (`Completed` for a finished pod).
    fn table_row_conditions(&self, _obj: &Self::Object) -> Vec<RowCondition> {
        Vec::new()
    }
}
