//! One served version of a custom resource in the generic store
//! (upstream's `customresource` strategy): the definition's names, its
//! schema (pruning, defaults, validation), `/status` and `/scale` as the
//! definition declares them, generation, and its printer columns.

use std::sync::Arc;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceSubresourceScale;
use k8s_openapi::chrono::{DateTime, Utc};
use serde_json::Value;

use apimachinery::api::{
    name_is_dns_subdomain, validate_object_meta_generic, validate_object_meta_update_generic,
};
use apimachinery::patch::PatchSchema;
use apimachinery::validation::field::{Error, ErrorList, ErrorType, Path};
use apiserver::registry::scale::{ScaleSelector, ScaleView};
use apiserver::registry::strategy::{
    FinishFunc, ResourceNames, ScaleStrategy, StatusStrategy, Strategy,
};
use apiserver::registry::table::ColumnDefinition;
use apiserver::status::Status;

use super::cel;
use super::columns::{Columns, JsonPath};
use super::object::CustomObject;
use super::schema::{self, Node};
use super::selectable::SelectableFields;

/// The `/scale` subresource's paths into the object.
#[derive(Debug)]
pub struct ScalePaths {
    spec_replicas: JsonPath,
    status_replicas: JsonPath,
    label_selector: Option<JsonPath>,
    /// `spec_replicas` as field names, to write through.
    spec_replicas_fields: Vec<String>,
}

impl ScalePaths {
    /// The paths of `scale`, when each is a plain `.a.b` path (the
    /// definition's validation has refused any other).
    pub fn of(scale: &CustomResourceSubresourceScale) -> Option<Self> {
        let fields: Vec<String> = scale
            .spec_replicas_path
            .strip_prefix('.')?
            .split('.')
            .map(str::to_string)
            .collect();
        Some(ScalePaths {
            spec_replicas: JsonPath::parse(&scale.spec_replicas_path).ok()?,
            status_replicas: JsonPath::parse(&scale.status_replicas_path).ok()?,
            label_selector: match &scale.label_selector_path {
                Some(path) => Some(JsonPath::parse(path).ok()?),
                None => None,
            },
            spec_replicas_fields: fields,
        })
    }
}

/// One version of one custom resource definition.
pub struct CustomResourceStrategy {
    pub names: ResourceNames,
    /// `/registry/<group>/<plural>/`, shared by every version.
    pub key_prefix: String,
    pub list_kind: String,
    pub schema: Arc<Node>,
    /// The schema's structure for server-side apply: its lists' types and
    /// map keys.
    pub patch_schema: PatchSchema,
    pub columns: Columns,
    /// The fields a field selector may use (`selectableFields`).
    pub selectable: SelectableFields,
    pub has_status: bool,
    pub scale: Option<ScalePaths>,
    /// `group/version` of the storage version, when the definition has
    /// other versions: objects are stored at it and read at this one
    /// (conversion `None` changes only `apiVersion`).
    pub storage_api_version: Option<String>,
    /// The definition is being deleted: creates are refused (405), as
    /// upstream's handler refuses them while the objects are deleted.
    pub terminating: bool,
}

impl CustomResourceStrategy {
    /// Runs `f` on the object's content as one JSON object (moved, not
    /// copied).
    fn with_content<R>(obj: &mut CustomObject, f: impl FnOnce(&mut Value) -> R) -> R {
        let mut value = Value::Object(std::mem::take(&mut obj.content));
        let result = f(&mut value);
        if let Value::Object(content) = value {
            obj.content = content;
        }
        result
    }

    fn validate_content(&self, obj: &CustomObject, old: Option<&CustomObject>) -> ErrorList {
        let mut errors = Vec::new();
        let api_version = self.names.api_version();
        match obj.api_version() {
            Some(found) if found == api_version => {}
            found => errors.push(Error::invalid(
                &Path::new("apiVersion"),
                found.unwrap_or_default(),
                format!("must be {api_version}"),
            )),
        }
        match obj.kind() {
            Some(found) if found == self.names.kind => {}
            found => errors.push(Error::invalid(
                &Path::new("kind"),
                found.unwrap_or_default(),
                format!("must be {}", self.names.kind),
            )),
        }
        let value = Value::Object(obj.content.clone());
        let old = old.map(|old| Value::Object(old.content.clone()));
        schema::validate(
            &value,
            old.as_ref(),
            &self.schema,
            &Path::default(),
            &mut errors,
        );
        if let Some(scale) = &self.scale {
            errors.extend(self.validate_scale_fields(&value, scale));
        }
        if self.schema.has_rules() {
            if errors.iter().any(blocks_rules) {
                // Upstream's `hasBlockingErr`: rules would see values of
                // the wrong type.
                errors.push(Error {
                    error_type: ErrorType::Invalid,
                    field: String::new(),
                    bad_value: None,
                    detail: "some validation rules were not checked because the object was invalid; correct the existing errors to complete validation".into(),
                });
            } else {
                cel::validate(&value, old.as_ref(), &self.schema, &mut errors);
            }
        }
        errors
    }

    /// The replica count `/scale` reads must be an int32 (upstream checks
    /// it on every write of a resource with the subresource).
    fn validate_scale_fields(&self, value: &Value, scale: &ScalePaths) -> ErrorList {
        let mut errors = Vec::new();
        if let Some(replicas) = scale.spec_replicas.find(value).first()
            && replicas
                .as_i64()
                .and_then(|r| i32::try_from(r).ok())
                .is_none()
        {
            let path = scale.spec_replicas_fields.join(".");
            errors.push(Error::invalid(
                &Path::new(&path),
                (*replicas).clone(),
                "should be an integer between 0 and 2147483647",
            ));
        }
        errors
    }

    fn spec_of(obj: &CustomObject) -> impl Iterator<Item = (&String, &Value)> {
        obj.content
            .iter()
            .filter(|(key, _)| key.as_str() != "status")
    }
}

/// A schema error after which rules are not run: a value of another type
/// than declared, or not among the supported ones.
fn blocks_rules(error: &Error) -> bool {
    error.error_type == ErrorType::NotSupported || error.detail.contains("must be of type")
}

impl Strategy for CustomResourceStrategy {
    type Object = CustomObject;

    fn names(&self) -> &ResourceNames {
        &self.names
    }

    fn key_prefix(&self) -> String {
        self.key_prefix.clone()
    }

    fn list_kind(&self) -> &str {
        &self.list_kind
    }

    fn patch_schema(&self) -> PatchSchema {
        self.patch_schema.clone()
    }

    fn accepts_strategic_merge_patch(&self) -> bool {
        false
    }

    fn decode_stored(&self, bytes: &[u8]) -> Result<CustomObject, String> {
        let mut obj: CustomObject = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        if self.storage_api_version.is_some() {
            obj.content
                .insert("apiVersion".into(), Value::from(self.names.api_version()));
        }
        Ok(obj)
    }

    fn encode_stored(&self, obj: &CustomObject) -> Result<Vec<u8>, String> {
        match &self.storage_api_version {
            Some(storage) if obj.api_version() != Some(storage.as_str()) => {
                let mut stored = obj.clone();
                stored
                    .content
                    .insert("apiVersion".into(), Value::from(storage.as_str()));
                serde_json::to_vec(&stored)
            }
            _ => serde_json::to_vec(obj),
        }
        .map_err(|e| e.to_string())
    }

    fn answers_stored_bytes(&self) -> bool {
        self.storage_api_version.is_none()
    }

    fn prune_unknown_fields(&self, obj: &mut CustomObject) -> Vec<String> {
        let schema = Arc::clone(&self.schema);
        Self::with_content(obj, |value| schema::prune(value, &schema, true))
    }

    fn status(&self) -> Option<&dyn StatusStrategy<CustomObject>> {
        self.has_status.then_some(self as _)
    }

    fn scale(&self) -> Option<&dyn ScaleStrategy<CustomObject>> {
        self.scale.as_ref().map(|_| self as _)
    }

    fn begin_create(
        &self,
        _obj: &mut CustomObject,
        _dry_run: bool,
    ) -> impl Future<Output = Result<Option<FinishFunc>, Status>> + Send {
        std::future::ready(if self.terminating {
            Err(Status::method_not_supported(
                self.names.group,
                self.names.plural,
                "create",
            ))
        } else {
            Ok(None)
        })
    }

    fn prepare_for_create(&self, obj: &mut CustomObject) {
        if self.has_status {
            obj.content.remove("status");
        }
        let schema = Arc::clone(&self.schema);
        Self::with_content(obj, |value| schema::default(value, &schema));
    }

    fn prepare_for_update(&self, new: &mut CustomObject, old: &CustomObject) {
        if self.has_status {
            match old.content.get("status") {
                Some(status) => new.content.insert("status".into(), status.clone()),
                None => new.content.remove("status"),
            };
        }
        let schema = Arc::clone(&self.schema);
        Self::with_content(new, |value| schema::default(value, &schema));
    }

    fn validate(&self, obj: &CustomObject) -> ErrorList {
        let mut errors = validate_object_meta_generic(
            &obj.metadata,
            self.names.namespaced,
            name_is_dns_subdomain,
            &Path::new("metadata"),
        );
        errors.extend(self.validate_content(obj, None));
        errors
    }

    fn validate_update(&self, new: &CustomObject, old: &CustomObject) -> ErrorList {
        let mut errors = validate_object_meta_update_generic(
            &new.metadata,
            &old.metadata,
            &Path::new("metadata"),
        );
        errors.extend(self.validate_content(new, Some(old)));
        errors
    }

    fn validation_is_heavy(&self) -> bool {
        self.schema.rules_are_heavy()
    }

    fn tracks_generation(&self) -> bool {
        true
    }

    /// Anything but metadata changed (anything but metadata and status,
    /// with a `/status` subresource).
    fn spec_changed(&self, new: &CustomObject, old: &CustomObject) -> bool {
        if self.has_status {
            !Self::spec_of(new).eq(Self::spec_of(old))
        } else {
            new.content != old.content
        }
    }

    fn selectable_fields(&self, obj: &CustomObject) -> Vec<(&'static str, String)> {
        self.selectable.values(&obj.content)
    }

    fn selectable_field_names(&self) -> &'static [&'static str] {
        self.selectable.labels()
    }

    fn table_columns(&self) -> &[ColumnDefinition] {
        &self.columns.definitions
    }

    fn table_row(&self, obj: &CustomObject, _now: DateTime<Utc>) -> Vec<Value> {
        let mut value = Value::Object(obj.content.clone());
        if let Ok(metadata) = serde_json::to_value(&obj.metadata) {
            value["metadata"] = metadata;
        }
        self.columns
            .row(obj.metadata.name.as_deref().unwrap_or_default(), &value)
    }
}

impl StatusStrategy<CustomObject> for CustomResourceStrategy {
    /// A status update changes the status alone: everything else, the
    /// metadata included, is the old object's (the managed fields are the
    /// update's, as they record it).
    fn prepare_for_status_update(&self, new: &mut CustomObject, old: &CustomObject) {
        let status = new.content.remove("status");
        let managed_fields = new.metadata.managed_fields.take();
        new.content = old.content.clone();
        new.metadata = old.metadata.clone();
        new.metadata.managed_fields = managed_fields;
        match status {
            Some(status) => new.content.insert("status".into(), status),
            None => new.content.remove("status"),
        };
    }
}

impl ScaleStrategy<CustomObject> for CustomResourceStrategy {
    fn scale_of(&self, obj: &CustomObject) -> Option<ScaleView> {
        let scale = self.scale.as_ref()?;
        let value = Value::Object(obj.content.clone());
        let int = |path: &JsonPath| {
            path.find(&value)
                .first()
                .and_then(|v| v.as_i64())
                .and_then(|v| i32::try_from(v).ok())
                .unwrap_or(0)
        };
        let selector = scale
            .label_selector
            .as_ref()
            .and_then(|path| {
                path.find(&value)
                    .first()
                    .and_then(|v| v.as_str())
                    .map(str::to_string)
            })
            .unwrap_or_default();
        Some(ScaleView {
            replicas: int(&scale.spec_replicas),
            status_replicas: int(&scale.status_replicas),
            selector: ScaleSelector::Text(selector),
        })
    }

    fn set_replicas(&self, obj: &mut CustomObject, replicas: i32) {
        let Some(scale) = &self.scale else {
            return;
        };
        let Some((last, parents)) = scale.spec_replicas_fields.split_last() else {
            return;
        };
        let mut at = &mut obj.content;
        for field in parents {
            let entry = at
                .entry(field.clone())
                .or_insert_with(|| Value::Object(Default::default()));
            if !entry.is_object() {
                *entry = Value::Object(Default::default());
            }
            let Value::Object(next) = entry else {
                return;
            };
            at = next;
        }
        at.insert(last.clone(), Value::from(replicas));
    }
}
