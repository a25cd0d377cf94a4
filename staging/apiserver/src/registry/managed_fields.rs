//! The request side of managed fields and server-side apply
//! (`k8s.io/apiserver/pkg/endpoints/handlers/fieldmanager` and the apply
//! parts of `handlers/patch.go`): which manager a write records, the
//! `PatchOptions` checks, the apply body, stamping `metadata.managedFields`
//! on typed objects, and the `Status` of an apply error.

use k8s_openapi::Metadata;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::chrono::DateTime;
use serde::Serialize;
use serde_json::Value;

use apimachinery::fieldmanager::{ApplyError, FieldManager};
use apimachinery::validation::field::{Error as FieldError, Path};

use crate::status::{Status, StatusCause, StatusDetails};

use super::rest::{PatchType, Subresource, WriteOptions};

/// The time stamped on a manager's entry: now, to the second.
pub(crate) fn now() -> Time {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or_default();
    let seconds = i64::try_from(seconds).unwrap_or_default();
    Time(DateTime::from_timestamp(seconds, 0).unwrap_or_default())
}

/// The name a write's entry records: the request's `fieldManager`, else
/// the User-Agent's prefix (upstream's `managerOrUserAgent`).
pub(crate) fn manager_name(opts: &WriteOptions) -> String {
    match opts.field_manager.as_deref() {
        Some(manager) if !manager.is_empty() => manager.to_owned(),
        _ => opts.user_agent_manager.clone(),
    }
}

/// The `subresource` of a manager's entry; `None` when the write records
/// no entry at all (in-process system writes). Written as comparisons so
/// that a subresource added later (`scale`) records its own name.
pub(crate) fn entry_subresource(subresource: Subresource) -> Option<Option<&'static str>> {
    if subresource == Subresource::System {
        None
    } else if subresource == Subresource::Main {
        Some(None)
    } else if subresource == Subresource::Status {
        Some(Some("status"))
    } else {
        Some(Some("scale"))
    }
}

/// Upstream's `ValidatePatchOptions`: apply needs a `fieldManager`,
/// other patches may not say `force`. Answers the applier's name.
pub(crate) fn validate_patch_options(
    patch_type: PatchType,
    opts: &WriteOptions,
) -> Result<String, Status> {
    let manager = manager_name(opts);
    let mut errors = Vec::new();
    if patch_type == PatchType::Apply {
        if opts.field_manager.as_deref().unwrap_or_default().is_empty() {
            errors.push(FieldError::required(
                &Path::new("fieldManager"),
                "is required for apply patch",
            ));
        }
    } else if opts.force.is_some() {
        errors.push(FieldError::forbidden(
            &Path::new("force"),
            "may not be specified for non-apply patch",
        ));
    }
    if errors.is_empty() {
        Ok(manager)
    } else {
        Err(Status::invalid_options("PatchOptions", &errors))
    }
}

/// The applied configuration: YAML (JSON is YAML) holding an object.
pub(crate) fn decode_apply_patch(patch: &[u8]) -> Result<Value, Status> {
    let config: Value = match serde_json::from_slice(patch) {
        Ok(config) => config,
        Err(_) => serde_yaml_ng::from_slice(patch)
            .map_err(|err| Status::bad_request(format!("error decoding YAML: {err}")))?,
    };
    if !config.is_object() {
        return Err(Status::bad_request(
            "error decoding YAML: the applied configuration is not an object",
        ));
    }
    Ok(config)
}

/// 400, 409 with one `FieldManagerConflict` cause per field, or 500.
pub(crate) fn apply_status(error: ApplyError) -> Status {
    match error {
        ApplyError::BadRequest(message) => Status::bad_request(message),
        ApplyError::Internal(message) => Status::internal_error(message),
        ApplyError::Conflicts(conflicts) => {
            let causes = conflicts
                .causes()
                .into_iter()
                .map(|(message, field)| StatusCause {
                    reason: "FieldManagerConflict".to_string(),
                    message,
                    field,
                })
                .collect();
            Status::failure(http::StatusCode::CONFLICT, "Conflict", conflicts.message())
                .with_details(StatusDetails {
                    causes,
                    ..StatusDetails::default()
                })
        }
    }
}

/// An update's entry for the write on `subresource` over `live`; nothing
/// for in-process system writes, which record no manager.
pub(crate) fn stamp_write<O>(
    field_manager: &FieldManager,
    subresource: Subresource,
    live: &O,
    new: &mut O,
    manager: &str,
) -> Result<(), Status>
where
    O: Metadata<Ty = ObjectMeta> + Serialize,
{
    match entry_subresource(subresource) {
        Some(entry) => stamp_update(field_manager, Some(live), new, manager, entry),
        None => Ok(()),
    }
}

/// Records `manager`'s `Update` entry in `new` for a write replacing `live`
/// (`None` for a create).
pub(crate) fn stamp_update<O>(
    field_manager: &FieldManager,
    live: Option<&O>,
    new: &mut O,
    manager: &str,
    subresource: Option<&str>,
) -> Result<(), Status>
where
    O: Metadata<Ty = ObjectMeta> + Serialize,
{
    let encode = |obj: &O| {
        serde_json::to_value(obj).map_err(|err| Status::internal_error(format!("encoding: {err}")))
    };
    let live_value = live.map(encode).transpose()?;
    let live_entries = live
        .and_then(|obj| obj.metadata().managed_fields.clone())
        .unwrap_or_default();
    let new_value = encode(new)?;
    let new_entries = new.metadata().managed_fields.clone().unwrap_or_default();
    let entries = field_manager.update(
        live_value
            .as_ref()
            .map(|value| (value, live_entries.as_slice())),
        &new_value,
        &new_entries,
        manager,
        subresource,
        &now(),
    );
    new.metadata_mut().managed_fields = (!entries.is_empty()).then_some(entries);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use apimachinery::fieldmanager::FieldManager;
    use apimachinery::patch::PatchSchema;
    use k8s_openapi::api::core::v1::ConfigMap;

    #[test]
    fn apply_needs_a_field_manager_and_only_apply_may_force() {
        let missing = validate_patch_options(PatchType::Apply, &WriteOptions::default())
            .expect_err("no field manager");
        assert_eq!(missing.code, 422);
        assert_eq!(
            missing.message,
            "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch"
        );
        let from_user_agent = WriteOptions {
            user_agent_manager: "kubectl".to_owned(),
            ..WriteOptions::default()
        };
        assert_eq!(
            validate_patch_options(PatchType::Apply, &from_user_agent)
                .expect_err("the User-Agent does not name an applier")
                .code,
            422
        );
        assert_eq!(
            validate_patch_options(PatchType::Merge, &from_user_agent).expect("a merge patch"),
            "kubectl"
        );
        let forced = WriteOptions {
            force: Some(true),
            ..WriteOptions::default()
        };
        let refused = validate_patch_options(PatchType::Merge, &forced).expect_err("force");
        assert_eq!(
            refused.message,
            "PatchOptions.meta.k8s.io \"\" is invalid: force: Forbidden: may not be specified for non-apply patch"
        );
    }

    #[test]
    fn apply_bodies_are_yaml_or_json_objects() {
        let yaml = decode_apply_patch(b"apiVersion: v1\nkind: ConfigMap\n").unwrap();
        assert_eq!(yaml["kind"], "ConfigMap");
        assert!(decode_apply_patch(br#"{"kind":"ConfigMap"}"#).is_ok());
        assert_eq!(decode_apply_patch(b"- a\n").unwrap_err().code, 400);
    }

    #[test]
    fn a_create_stamps_the_managers_entry() {
        let field_manager = FieldManager::new(PatchSchema::of::<ConfigMap>(), "v1", "ConfigMap");
        let mut config_map: ConfigMap = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "x"}, "data": {"k": "v"}
        }))
        .unwrap();
        stamp_update(
            &field_manager,
            None,
            &mut config_map,
            "kubectl-create",
            None,
        )
        .unwrap();
        let entries = config_map.metadata.managed_fields.unwrap_or_default();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].manager.as_deref(), Some("kubectl-create"));
        assert_eq!(
            entries[0].fields_v1.as_ref().map(|fields| &fields.0),
            Some(&serde_json::json!({"f:data": {".": {}, "f:k": {}}}))
        );
    }
}
