//! Validation of object metadata (`k8s.io/apimachinery/pkg/api/validation`,
//! `pkg/apis/meta/v1/validation` and the finalizer rule of
//! `pkg/apis/core/validation`): name validators for `metadata.name` and
//! `generateName`, `ValidateObjectMeta` on create and update (labels,
//! annotations, owner references, finalizers, managed fields, immutable
//! fields) and `ValidateLabelSelector` for workloads' `spec.selector`.
//! Paths and messages are upstream's; where upstream prints a Go value that
//! is not a string (`[]string{...}`, a timestamp) the value is printed the
//! way Go does, ahead of the detail.

mod go_value;

pub mod conditions;

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    LabelSelector, LabelSelectorRequirement, ManagedFieldsEntry, ObjectMeta, OwnerReference,
};

use crate::validation::field::{self, Path};
use crate::validation::go_syntax::{go_string_slice, invalid_shown};
use crate::validation::{
    go_string, is_dns1035_label, is_dns1123_label, is_dns1123_subdomain, is_qualified_name,
    is_valid_label_value,
};

/// `FieldImmutableErrorMsg`.
pub const FIELD_IMMUTABLE_ERROR_MSG: &str = "field is immutable";
/// `IsNegativeErrorMsg`.
pub const IS_NEGATIVE_ERROR_MSG: &str = "must be greater than or equal to 0";
/// `TotalAnnotationSizeLimitB`: keys and values together, 256 KiB.
pub const TOTAL_ANNOTATION_SIZE_LIMIT_B: usize = 256 * (1 << 10);
/// `FieldManagerMaxLength`.
pub const FIELD_MANAGER_MAX_LENGTH: usize = 128;
/// `MaxSubresourceNameLength`.
pub const MAX_SUBRESOURCE_NAME_LENGTH: usize = 256;

/// `metav1.FinalizerOrphanDependents`.
pub const FINALIZER_ORPHAN_DEPENDENTS: &str = "orphan";
/// `metav1.FinalizerDeleteDependents`.
pub const FINALIZER_DELETE_DEPENDENTS: &str = "foregroundDeletion";
/// `core.FinalizerKubernetes`.
pub const FINALIZER_KUBERNETES: &str = "kubernetes";

/// `ValidateNameFunc`: the problems of a name (empty: valid). `prefix` is
/// true when validating a `generateName`, which may end in `-`.
pub type NameValidator = fn(name: &str, prefix: bool) -> Vec<String>;

/// `maskTrailingDash`: a trailing `-` (of a name longer than one byte) and
/// the byte before it become `a`, as upstream does.
fn mask_trailing_dash(name: &str) -> String {
    let bytes = name.as_bytes();
    if bytes.len() > 1 && bytes.ends_with(b"-") {
        let mut masked = bytes[..bytes.len() - 2].to_vec();
        masked.push(b'a');
        String::from_utf8_lossy(&masked).into_owned()
    } else {
        name.to_string()
    }
}

fn masked(name: &str, prefix: bool) -> String {
    if prefix {
        mask_trailing_dash(name)
    } else {
        name.to_string()
    }
}

/// `NameIsDNSSubdomain`: most kinds' names.
pub fn name_is_dns_subdomain(name: &str, prefix: bool) -> Vec<String> {
    is_dns1123_subdomain(&masked(name, prefix))
}

/// `NameIsDNSLabel`: namespaces, pods' hostnames.
pub fn name_is_dns_label(name: &str, prefix: bool) -> Vec<String> {
    is_dns1123_label(&masked(name, prefix))
}

/// `NameIsDNS1035Label`: services.
pub fn name_is_dns1035_label(name: &str, prefix: bool) -> Vec<String> {
    is_dns1035_label(&masked(name, prefix))
}

/// `path.ValidatePathSegmentName`: what the generic registry checks of
/// every name (`BeforeCreate`), since a name is a URL path segment: not `.`
/// or `..`, no `/` or `%` (a prefix may be anything without those).
pub fn name_is_path_segment(name: &str, prefix: bool) -> Vec<String> {
    if !prefix {
        for illegal in [".", ".."] {
            if name == illegal {
                return vec![format!("may not be '{illegal}'")];
            }
        }
    }
    ["/", "%"]
        .into_iter()
        .filter(|illegal| name.contains(illegal))
        .map(|illegal| format!("may not contain '{illegal}'"))
        .collect()
}

/// `ValidateNamespaceName`.
pub fn validate_namespace_name(name: &str, prefix: bool) -> Vec<String> {
    name_is_dns_label(name, prefix)
}

/// `ValidateNonnegativeField`.
pub fn validate_nonnegative_field(value: i64, path: &Path) -> field::ErrorList {
    if value < 0 {
        vec![field::Error::invalid(path, value, IS_NEGATIVE_ERROR_MSG)]
    } else {
        Vec::new()
    }
}

/// `ValidateLabelName`: a qualified name.
pub fn validate_label_name(name: &str, path: &Path) -> field::ErrorList {
    is_qualified_name(name)
        .into_iter()
        .map(|msg| field::Error::invalid(path, name, msg))
        .collect()
}

/// `ValidateLabels`: keys are qualified names, values label values; the
/// errors are on the map's path itself (`metadata.labels`).
pub fn validate_labels(labels: &BTreeMap<String, String>, path: &Path) -> field::ErrorList {
    let mut errors = Vec::new();
    for (key, value) in labels {
        errors.extend(validate_label_name(key, path));
        for msg in is_valid_label_value(value) {
            errors.push(field::Error::invalid(path, value.as_str(), msg));
        }
    }
    errors
}

/// `ValidateAnnotations`: keys are qualified names regardless of case, and
/// keys and values together are at most 256 KiB.
pub fn validate_annotations(
    annotations: &BTreeMap<String, String>,
    path: &Path,
) -> field::ErrorList {
    let mut errors = Vec::new();
    for key in annotations.keys() {
        for msg in is_qualified_name(&key.to_lowercase()) {
            errors.push(field::Error::invalid(path, key.as_str(), msg));
        }
    }
    let total: usize = annotations.iter().map(|(k, v)| k.len() + v.len()).sum();
    if total > TOTAL_ANNOTATION_SIZE_LIMIT_B {
        errors.push(field::Error::too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT_B));
    }
    errors
}

/// `schema.FromAPIVersionAndKind`'s group and version: an unparsable
/// apiVersion (more than one `/`) has neither.
fn parse_group_version(api_version: &str) -> (&str, &str) {
    if api_version.is_empty() || api_version == "/" {
        return ("", "");
    }
    match api_version.matches('/').count() {
        0 => ("", api_version),
        1 => api_version.split_once('/').unwrap_or(("", "")),
        _ => ("", ""),
    }
}

fn validate_owner_reference(reference: &OwnerReference, path: &Path) -> field::ErrorList {
    let mut errors = Vec::new();
    let (group, version) = parse_group_version(&reference.api_version);
    if version.is_empty() {
        errors.push(field::Error::invalid(
            &path.child("apiVersion"),
            reference.api_version.as_str(),
            "version must not be empty",
        ));
    }
    if reference.kind.is_empty() {
        errors.push(field::Error::invalid(
            &path.child("kind"),
            reference.kind.as_str(),
            "must not be empty",
        ));
    }
    if reference.name.is_empty() {
        errors.push(field::Error::invalid(
            &path.child("name"),
            reference.name.as_str(),
            "must not be empty",
        ));
    }
    if reference.uid.is_empty() {
        errors.push(field::Error::invalid(
            &path.child("uid"),
            reference.uid.as_str(),
            "must not be empty",
        ));
    }
    // BannedOwners: only core/v1 Event.
    if group.is_empty() && version == "v1" && reference.kind == "Event" {
        errors.push(invalid_shown(
            path,
            &go_value::owner_reference(reference),
            &format!(
                "{group}/{version}, Kind={} is disallowed from being an owner",
                reference.kind
            ),
        ));
    }
    errors
}

/// `ValidateOwnerReferences`: each reference's fields (on the list's path,
/// not indexed, as upstream) and at most one controller.
pub fn validate_owner_references(references: &[OwnerReference], path: &Path) -> field::ErrorList {
    let mut errors = Vec::new();
    let mut first_controller: Option<String> = None;
    for reference in references {
        errors.extend(validate_owner_reference(reference, path));
        if reference.controller == Some(true) {
            let current = format!("{}/{}", reference.kind, reference.name);
            match &first_controller {
                Some(first) => errors.push(invalid_shown(
                    path,
                    &go_value::owner_references(references),
                    &format!(
                        "Only one reference can have Controller set to true. Found \"true\" in references for {first} and {current}"
                    ),
                )),
                None => first_controller = Some(current),
            }
        }
    }
    errors
}

/// `ValidateFinalizerName` (apimachinery): a qualified name.
pub fn validate_finalizer_name(name: &str, path: &Path) -> field::ErrorList {
    is_qualified_name(name)
        .into_iter()
        .map(|msg| field::Error::invalid(path, name, msg))
        .collect()
}

/// `ValidateFinalizers`: qualified names (on the list's path) and not both
/// `orphan` and `foregroundDeletion`.
pub fn validate_finalizers(finalizers: &[String], path: &Path) -> field::ErrorList {
    let mut errors = Vec::new();
    for finalizer in finalizers {
        errors.extend(validate_finalizer_name(finalizer, path));
    }
    let has = |name: &str| finalizers.iter().any(|f| f == name);
    if has(FINALIZER_ORPHAN_DEPENDENTS) && has(FINALIZER_DELETE_DEPENDENTS) {
        errors.push(invalid_shown(
            path,
            &go_string_slice(Some(finalizers)),
            &format!(
                "finalizer {FINALIZER_ORPHAN_DEPENDENTS} and {FINALIZER_DELETE_DEPENDENTS} cannot be both set"
            ),
        ));
    }
    errors
}

/// `helper.IsStandardFinalizerName`.
pub fn is_standard_finalizer_name(name: &str) -> bool {
    [
        FINALIZER_KUBERNETES,
        FINALIZER_ORPHAN_DEPENDENTS,
        FINALIZER_DELETE_DEPENDENTS,
    ]
    .contains(&name)
}

/// `validateKubeFinalizerName` (core): a finalizer without a `/` must be one
/// of the standard ones.
fn validate_kube_finalizer_name(name: &str, path: &Path) -> field::ErrorList {
    if !name.contains('/') && !is_standard_finalizer_name(name) {
        vec![field::Error::invalid(
            path,
            name,
            "name is neither a standard finalizer name nor is it fully qualified",
        )]
    } else {
        Vec::new()
    }
}

fn validate_kube_finalizer_names(finalizers: &[String], path: &Path) -> field::ErrorList {
    finalizers
        .iter()
        .enumerate()
        .flat_map(|(i, name)| validate_kube_finalizer_name(name, &path.index(i)))
        .collect()
}

/// `ValidateNoNewFinalizers`: nothing may be added while deleting.
pub fn validate_no_new_finalizers(new: &[String], old: &[String], path: &Path) -> field::ErrorList {
    let old: BTreeSet<&str> = old.iter().map(String::as_str).collect();
    let extra: BTreeSet<&str> = new
        .iter()
        .map(String::as_str)
        .filter(|f| !old.contains(f))
        .collect();
    if extra.is_empty() {
        return Vec::new();
    }
    let extra: Vec<String> = extra.into_iter().map(str::to_string).collect();
    vec![field::Error::forbidden(
        path,
        format!(
            "no new finalizers can be added if the object is being deleted, found new finalizers {}",
            go_string_slice(Some(&extra))
        ),
    )]
}

/// `ValidateFieldManager`: at most 128 bytes, printable characters only.
pub fn validate_field_manager(manager: &str, path: &Path) -> field::ErrorList {
    let mut errors = Vec::new();
    if manager.len() > FIELD_MANAGER_MAX_LENGTH {
        errors.push(field::Error::too_long(path, FIELD_MANAGER_MAX_LENGTH));
    }
    for (i, c) in manager.char_indices() {
        if !go_string::is_print(c) {
            errors.push(field::Error::invalid(
                path,
                manager,
                format!("invalid character U+{:04X} (at position {i})", u32::from(c)),
            ));
        }
    }
    errors
}

/// `ValidateManagedFields`.
pub fn validate_managed_fields(entries: &[ManagedFieldsEntry], path: &Path) -> field::ErrorList {
    let mut errors = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let entry_path = path.index(i);
        let operation = entry.operation.as_deref().unwrap_or_default();
        if operation != "Apply" && operation != "Update" {
            errors.push(field::Error::invalid(
                &entry_path.child("operation"),
                operation,
                "must be `Apply` or `Update`",
            ));
        }
        let fields_type = entry.fields_type.as_deref().unwrap_or_default();
        if !fields_type.is_empty() && fields_type != "FieldsV1" {
            errors.push(field::Error::invalid(
                &entry_path.child("fieldsType"),
                fields_type,
                "must be `FieldsV1`",
            ));
        }
        errors.extend(validate_field_manager(
            entry.manager.as_deref().unwrap_or_default(),
            &entry_path.child("manager"),
        ));
        if entry.subresource.as_deref().unwrap_or_default().len() > MAX_SUBRESOURCE_NAME_LENGTH {
            errors.push(field::Error::too_long(
                &entry_path.child("subresource"),
                MAX_SUBRESOURCE_NAME_LENGTH,
            ));
        }
    }
    errors
}

fn text(value: &Option<String>) -> &str {
    value.as_deref().unwrap_or_default()
}

fn list<T>(value: &Option<Vec<T>>) -> &[T] {
    value.as_deref().unwrap_or_default()
}

fn map(value: &Option<BTreeMap<String, String>>) -> BTreeMap<String, String> {
    value.clone().unwrap_or_default()
}

/// The checks of create after the name (upstream's
/// `validateObjectMetaAccessorWithOptsCommon`).
fn validate_object_meta_common(
    meta: &ObjectMeta,
    requires_namespace: bool,
    path: &Path,
) -> field::ErrorList {
    let mut errors = Vec::new();
    let namespace = text(&meta.namespace);
    if requires_namespace {
        if namespace.is_empty() {
            errors.push(field::Error::required(&path.child("namespace"), ""));
        } else {
            for msg in validate_namespace_name(namespace, false) {
                errors.push(field::Error::invalid(
                    &path.child("namespace"),
                    namespace,
                    msg,
                ));
            }
        }
    } else if !namespace.is_empty() {
        errors.push(field::Error::forbidden(
            &path.child("namespace"),
            "not allowed on this type",
        ));
    }
    errors.extend(validate_nonnegative_field(
        meta.generation.unwrap_or_default(),
        &path.child("generation"),
    ));
    errors.extend(validate_labels(&map(&meta.labels), &path.child("labels")));
    errors.extend(validate_annotations(
        &map(&meta.annotations),
        &path.child("annotations"),
    ));
    errors.extend(validate_owner_references(
        list(&meta.owner_references),
        &path.child("ownerReferences"),
    ));
    errors.extend(validate_finalizers(
        list(&meta.finalizers),
        &path.child("finalizers"),
    ));
    errors.extend(validate_managed_fields(
        list(&meta.managed_fields),
        &path.child("managedFields"),
    ));
    errors
}

/// apimachinery's `ValidateObjectMeta` (what the generic registry runs for
/// every kind, custom resources included): `generateName` and `name` by
/// `name_fn`, "name or generateName is required", the namespace required
/// (a DNS label) or forbidden, generation ≥ 0, labels, annotations, owner
/// references, finalizers (qualified names) and managed fields.
pub fn validate_object_meta_generic(
    meta: &ObjectMeta,
    requires_namespace: bool,
    name_fn: NameValidator,
    path: &Path,
) -> field::ErrorList {
    let mut errors = Vec::new();
    let generate_name = text(&meta.generate_name);
    if !generate_name.is_empty() {
        for msg in name_fn(generate_name, true) {
            errors.push(field::Error::invalid(
                &path.child("generateName"),
                generate_name,
                msg,
            ));
        }
    }
    let name = text(&meta.name);
    if name.is_empty() {
        errors.push(field::Error::required(
            &path.child("name"),
            "name or generateName is required",
        ));
    } else {
        for msg in name_fn(name, false) {
            errors.push(field::Error::invalid(&path.child("name"), name, msg));
        }
    }
    errors.extend(validate_object_meta_common(meta, requires_namespace, path));
    errors
}

/// The built-in kinds' `ValidateObjectMeta` (`pkg/apis/core/validation`):
/// [`validate_object_meta_generic`] plus, for each finalizer without a `/`,
/// that it is a standard one (`metadata.finalizers[i]: ... name is neither a
/// standard finalizer name nor is it fully qualified`).
pub fn validate_object_meta(
    meta: &ObjectMeta,
    requires_namespace: bool,
    name_fn: NameValidator,
    path: &Path,
) -> field::ErrorList {
    let mut errors = validate_object_meta_generic(meta, requires_namespace, name_fn, path);
    errors.extend(validate_kube_finalizer_names(
        list(&meta.finalizers),
        &path.child("finalizers"),
    ));
    errors
}

/// `ValidateImmutableField` for strings.
fn validate_immutable_string(new: &str, old: &str, path: &Path) -> field::ErrorList {
    if new == old {
        Vec::new()
    } else {
        vec![field::Error::invalid(path, new, FIELD_IMMUTABLE_ERROR_MSG)]
    }
}

/// apimachinery's `ValidateObjectMetaUpdate`: no new finalizers while
/// deleting, resourceVersion required, generation not decremented, name,
/// namespace, uid, creationTimestamp, deletionTimestamp and
/// deletionGracePeriodSeconds immutable ("field is immutable"), then the
/// new labels, annotations, owner references and managed fields.
/// (`generateName` may change and finalizers are not re-validated, as
/// upstream.)
pub fn validate_object_meta_update_generic(
    new: &ObjectMeta,
    old: &ObjectMeta,
    path: &Path,
) -> field::ErrorList {
    let mut errors = Vec::new();
    if old.deletion_timestamp.is_some() {
        errors.extend(validate_no_new_finalizers(
            list(&new.finalizers),
            list(&old.finalizers),
            &path.child("finalizers"),
        ));
    }
    let resource_version = text(&new.resource_version);
    if resource_version.is_empty() {
        errors.push(field::Error::invalid(
            &path.child("resourceVersion"),
            resource_version,
            "must be specified for an update",
        ));
    }
    let new_generation = new.generation.unwrap_or_default();
    if new_generation < old.generation.unwrap_or_default() {
        errors.push(field::Error::invalid(
            &path.child("generation"),
            new_generation,
            "must not be decremented",
        ));
    }
    errors.extend(validate_immutable_string(
        text(&new.name),
        text(&old.name),
        &path.child("name"),
    ));
    errors.extend(validate_immutable_string(
        text(&new.namespace),
        text(&old.namespace),
        &path.child("namespace"),
    ));
    errors.extend(validate_immutable_string(
        text(&new.uid),
        text(&old.uid),
        &path.child("uid"),
    ));
    let created = |m: &ObjectMeta| m.creation_timestamp.as_ref().map(|t| t.0);
    if created(new) != created(old) {
        errors.push(invalid_shown(
            &path.child("creationTimestamp"),
            &go_value::time(created(new)),
            FIELD_IMMUTABLE_ERROR_MSG,
        ));
    }
    let deleted = |m: &ObjectMeta| m.deletion_timestamp.as_ref().map(|t| t.0);
    if deleted(new) != deleted(old) {
        let path = path.child("deletionTimestamp");
        errors.push(match deleted(new) {
            Some(t) => invalid_shown(&path, &go_value::time(Some(t)), FIELD_IMMUTABLE_ERROR_MSG),
            // A nil pointer prints as the string "null".
            None => field::Error::invalid(&path, "null", FIELD_IMMUTABLE_ERROR_MSG),
        });
    }
    if new.deletion_grace_period_seconds != old.deletion_grace_period_seconds {
        let path = path.child("deletionGracePeriodSeconds");
        errors.push(match new.deletion_grace_period_seconds {
            Some(seconds) => field::Error::invalid(&path, seconds, FIELD_IMMUTABLE_ERROR_MSG),
            None => field::Error::invalid(&path, "null", FIELD_IMMUTABLE_ERROR_MSG),
        });
    }
    errors.extend(validate_labels(&map(&new.labels), &path.child("labels")));
    errors.extend(validate_annotations(
        &map(&new.annotations),
        &path.child("annotations"),
    ));
    errors.extend(validate_owner_references(
        list(&new.owner_references),
        &path.child("ownerReferences"),
    ));
    errors.extend(validate_managed_fields(
        list(&new.managed_fields),
        &path.child("managedFields"),
    ));
    errors
}

/// The built-in kinds' `ValidateObjectMetaUpdate`:
/// [`validate_object_meta_update_generic`] plus the standard-or-qualified
/// rule for each new finalizer.
pub fn validate_object_meta_update(
    new: &ObjectMeta,
    old: &ObjectMeta,
    path: &Path,
) -> field::ErrorList {
    let mut errors = validate_object_meta_update_generic(new, old, path);
    errors.extend(validate_kube_finalizer_names(
        list(&new.finalizers),
        &path.child("finalizers"),
    ));
    errors
}

/// `LabelSelectorValidationOptions`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LabelSelectorValidationOptions {
    /// Skip the label-value check of `matchExpressions` values (updates of
    /// objects that already had such a selector).
    pub allow_invalid_label_value_in_selector: bool,
    /// Let an unknown operator pass (for access reviews).
    pub allow_unknown_operator_in_requirement: bool,
}

/// `ValidateLabelSelectorRequirement`.
pub fn validate_label_selector_requirement(
    requirement: &LabelSelectorRequirement,
    options: LabelSelectorValidationOptions,
    path: &Path,
) -> field::ErrorList {
    let mut errors = Vec::new();
    let values = list(&requirement.values);
    match requirement.operator.as_str() {
        "In" | "NotIn" => {
            if values.is_empty() {
                errors.push(field::Error::required(
                    &path.child("values"),
                    "must be specified when `operator` is 'In' or 'NotIn'",
                ));
            }
        }
        "Exists" | "DoesNotExist" => {
            if !values.is_empty() {
                errors.push(field::Error::forbidden(
                    &path.child("values"),
                    "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                ));
            }
        }
        other => {
            if !options.allow_unknown_operator_in_requirement {
                errors.push(field::Error::invalid(
                    &path.child("operator"),
                    other,
                    "not a valid selector operator",
                ));
            }
        }
    }
    errors.extend(validate_label_name(&requirement.key, &path.child("key")));
    if !options.allow_invalid_label_value_in_selector {
        for (i, value) in values.iter().enumerate() {
            for msg in is_valid_label_value(value) {
                errors.push(field::Error::invalid(
                    &path.child("values").index(i),
                    value.as_str(),
                    msg,
                ));
            }
        }
    }
    errors
}

/// `ValidateLabelSelector` with explicit options.
pub fn validate_label_selector_with_options(
    selector: &LabelSelector,
    options: LabelSelectorValidationOptions,
    path: &Path,
) -> field::ErrorList {
    let mut errors = validate_labels(&map(&selector.match_labels), &path.child("matchLabels"));
    for (i, requirement) in list(&selector.match_expressions).iter().enumerate() {
        errors.extend(validate_label_selector_requirement(
            requirement,
            options,
            &path.child("matchExpressions").index(i),
        ));
    }
    errors
}

/// `metav1validation.ValidateLabelSelector` with the default (strict)
/// options, for workloads' `spec.selector`.
pub fn validate_label_selector(selector: &LabelSelector, path: &Path) -> field::ErrorList {
    validate_label_selector_with_options(selector, LabelSelectorValidationOptions::default(), path)
}

#[cfg(test)]
mod tests;
