//! Who owns which fields (`k8s.io/apimachinery/pkg/util/managedfields` and
//! `structured-merge-diff/merge/update.go`): `metadata.managedFields`
//! decoded into one field set per manager, updated by a write (`Update`:
//! the writer takes every field it changed) or by an apply (`Apply`: the
//! applier owns exactly its configuration, drops what it no longer sets,
//! and may not change another manager's field without `force`).

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{FieldsV1, ManagedFieldsEntry, Time};
use serde_json::Value;

use crate::patch::PatchSchema;

use super::fieldpath::{FieldSet, Path};
use super::typed::Typed;

/// The metadata fields no manager owns (upstream's stripMeta manager).
const SERVER_METADATA: &[&str] = &[
    "clusterName",
    "creationTimestamp",
    "generation",
    "managedFields",
    "name",
    "namespace",
    "resourceVersion",
    "selfLink",
    "uid",
];

/// `Apply` or `Update`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Operation {
    Apply,
    Update,
}

impl Operation {
    fn as_str(self) -> &'static str {
        match self {
            Operation::Apply => "Apply",
            Operation::Update => "Update",
        }
    }
}

/// A manager's identity (upstream's `BuildManagerIdentifier`): appliers
/// are one manager whatever the apiVersion they applied with.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct ManagerId {
    manager: String,
    operation: Operation,
    /// Empty for appliers.
    api_version: String,
    subresource: String,
}

impl ManagerId {
    /// How conflict messages name the manager (upstream's `printManager`):
    /// `"kubectl"`, `"kubectl-edit" using apps/v1`,
    /// `"m" with subresource "status" using v1`.
    fn printed(&self) -> String {
        let mut printed = format!("{:?}", self.manager);
        if !self.subresource.is_empty() {
            printed.push_str(&format!(" with subresource {:?}", self.subresource));
        }
        if self.operation == Operation::Update {
            printed.push_str(&format!(" using {}", self.api_version));
        }
        printed
    }
}

/// One manager's fields.
#[derive(Clone, Debug)]
struct Owned {
    api_version: String,
    time: Option<Time>,
    set: FieldSet,
}

/// Every manager's fields.
type Managers = BTreeMap<ManagerId, Owned>;

/// Reads `metadata.managedFields` (upstream's `DecodeManagedFields`).
fn decode(entries: &[ManagedFieldsEntry]) -> Result<Managers, String> {
    let mut managers = Managers::new();
    for entry in entries {
        let operation = match entry.operation.as_deref() {
            Some("Apply") => Operation::Apply,
            Some("Update") => Operation::Update,
            other => {
                return Err(format!(
                    "operation must be Apply or Update, got {:?}",
                    other.unwrap_or_default()
                ));
            }
        };
        match entry.fields_type.as_deref() {
            Some("FieldsV1") => {}
            other => {
                return Err(format!(
                    "field type not supported: {}",
                    other.unwrap_or_default()
                ));
            }
        }
        let set = match &entry.fields_v1 {
            Some(FieldsV1(value)) => FieldSet::from_fields_v1(value)?,
            None => FieldSet::new(),
        };
        let api_version = entry.api_version.clone().unwrap_or_default();
        let id = ManagerId {
            manager: entry.manager.clone().unwrap_or_default(),
            operation,
            api_version: match operation {
                Operation::Apply => String::new(),
                Operation::Update => api_version.clone(),
            },
            subresource: entry.subresource.clone().unwrap_or_default(),
        };
        match managers.get_mut(&id) {
            Some(owned) => owned.set = owned.set.union(&set),
            None => {
                managers.insert(
                    id,
                    Owned {
                        api_version,
                        time: entry.time.clone(),
                        set,
                    },
                );
            }
        }
    }
    Ok(managers)
}

/// Writes `metadata.managedFields` in upstream's order: by operation, time,
/// manager, apiVersion, subresource.
fn encode(managers: &Managers) -> Vec<ManagedFieldsEntry> {
    let mut entries: Vec<ManagedFieldsEntry> = managers
        .iter()
        .filter(|(_, owned)| !owned.set.is_empty())
        .map(|(id, owned)| ManagedFieldsEntry {
            api_version: Some(owned.api_version.clone()),
            fields_type: Some("FieldsV1".to_string()),
            fields_v1: Some(FieldsV1(owned.set.to_fields_v1())),
            manager: Some(id.manager.clone()),
            operation: Some(id.operation.as_str().to_string()),
            subresource: (!id.subresource.is_empty()).then(|| id.subresource.clone()),
            time: owned.time.clone(),
        })
        .collect();
    entries.sort_by(|a, b| {
        let seconds = |entry: &ManagedFieldsEntry| {
            entry
                .time
                .as_ref()
                .map(|time| time.0.timestamp())
                .unwrap_or(0)
        };
        (a.operation.as_deref(), seconds(a))
            .cmp(&(b.operation.as_deref(), seconds(b)))
            .then_with(|| a.manager.cmp(&b.manager))
            .then_with(|| a.api_version.cmp(&b.api_version))
            .then_with(|| a.subresource.cmp(&b.subresource))
    });
    entries
}

/// A client's `managedFields` of `[{}]`: forget every owner.
fn is_reset(entries: &[ManagedFieldsEntry]) -> bool {
    matches!(entries, [only] if *only == ManagedFieldsEntry::default())
}

/// Why an apply failed.
#[derive(Debug)]
pub enum ApplyError {
    /// 400 with this message.
    BadRequest(String),
    /// 409: fields of other managers the apply would change.
    Conflicts(Conflicts),
    /// 500 with this message.
    Internal(String),
}

/// The conflicts of an apply, each a field and the manager owning it.
#[derive(Debug)]
pub struct Conflicts {
    conflicts: Vec<(ManagerId, Path)>,
}

impl Conflicts {
    /// Upstream's message: `Apply failed with 1 conflict: conflict with
    /// "kubectl-client-side-apply" using apps/v1: .spec.replicas`, or with
    /// several, `Apply failed with 2 conflicts: conflicts with "m":` and one
    /// `- <path>` line per field, per manager.
    pub fn message(&self) -> String {
        if let [(manager, path)] = self.conflicts.as_slice() {
            return format!(
                "Apply failed with 1 conflict: conflict with {}: {path}",
                manager.printed()
            );
        }
        let mut lines = Vec::new();
        let mut current: Option<&ManagerId> = None;
        for (manager, path) in &self.conflicts {
            if current != Some(manager) {
                lines.push(format!("conflicts with {}:", manager.printed()));
                current = Some(manager);
            }
            lines.push(format!("- {path}"));
        }
        format!(
            "Apply failed with {} conflicts: {}",
            self.conflicts.len(),
            lines.join("\n")
        )
    }

    /// One `(message, field)` per conflict for `details.causes` (reason
    /// `FieldManagerConflict`).
    pub fn causes(&self) -> Vec<(String, String)> {
        self.conflicts
            .iter()
            .map(|(manager, path)| {
                (
                    format!("conflict with {}", manager.printed()),
                    path.to_string(),
                )
            })
            .collect()
    }
}

/// The result of an apply.
#[derive(Debug)]
pub struct Applied {
    /// The live object with the configuration merged in and the fields the
    /// applier dropped removed (its `managedFields` untouched).
    pub object: Value,
    /// The new `metadata.managedFields`.
    pub managed_fields: Vec<ManagedFieldsEntry>,
}

/// The field manager of one kind at one group-version.
#[derive(Clone)]
pub struct FieldManager {
    schema: PatchSchema,
    api_version: String,
    kind: String,
    /// The kind's zero object, which creates are compared against (built
    /// once: a store keeps its field manager).
    zero: Value,
}

impl FieldManager {
    /// `api_version` is the group-version requests use (`apps/v1`, `v1`).
    pub fn new(schema: PatchSchema, api_version: &str, kind: &str) -> Self {
        let zero = Typed::new(&schema).zero_object();
        FieldManager {
            schema,
            api_version: api_version.to_string(),
            kind: kind.to_string(),
            zero,
        }
    }

    /// The fields no manager owns through this subresource: server-set
    /// metadata, and the part the subresource does not write (upstream's
    /// reset fields: `status` through the main resource, `spec` through
    /// `status`).
    fn unowned(&self, mut set: FieldSet, subresource: Option<&str>) -> FieldSet {
        set.remove_subtree(&Path::fields(&["apiVersion"]));
        set.remove_subtree(&Path::fields(&["kind"]));
        set.remove_path(&Path::fields(&["metadata"]));
        for field in SERVER_METADATA {
            set.remove_subtree(&Path::fields(&["metadata", field]));
        }
        match subresource {
            None => set.remove_subtree(&Path::fields(&["status"])),
            Some("status") => set.remove_subtree(&Path::fields(&["spec"])),
            Some(_) => {}
        }
        set.prune();
        set
    }

    /// The `managedFields` after a create or update by `manager` (an
    /// `Update` entry with every field it added or changed; other managers
    /// lose those fields and the removed ones). `live` is `None` for a
    /// create. The managers come from the request's `managedFields` when
    /// they are set and valid (`[{}]` clears them), else from the live
    /// object's, as upstream.
    pub fn update(
        &self,
        live: Option<(&Value, &[ManagedFieldsEntry])>,
        new: &Value,
        new_entries: &[ManagedFieldsEntry],
        manager: &str,
        subresource: Option<&str>,
        now: &Time,
    ) -> Vec<ManagedFieldsEntry> {
        let typed = Typed::new(&self.schema);
        let zero = &self.zero;
        let (live_value, live_entries) = live.unwrap_or((zero, &[]));
        let mut managers = if is_reset(new_entries) {
            Managers::new()
        } else {
            match decode(new_entries) {
                Ok(managers) if !managers.is_empty() => managers,
                _ => decode(live_entries).unwrap_or_default(),
            }
        };
        let comparison = typed.compare(live_value, new);
        let mut changed = comparison.modified;
        changed.union_in(&comparison.added);
        let changed = self.unowned(changed, subresource);
        let removed = self.unowned(comparison.removed, subresource);
        for owned in managers.values_mut() {
            owned.set = owned.set.difference(&changed).difference(&removed);
        }
        if !changed.is_empty() {
            let id = ManagerId {
                manager: manager.to_string(),
                operation: Operation::Update,
                api_version: self.api_version.clone(),
                subresource: subresource.unwrap_or_default().to_string(),
            };
            let mut set = changed;
            if let Some(previous) = managers.remove(&id) {
                set.union_in(&previous.set);
            }
            managers.insert(
                id,
                Owned {
                    api_version: self.api_version.clone(),
                    time: Some(now.clone()),
                    set,
                },
            );
        }
        encode(&managers)
    }

    /// Applies `config` (the request's object) for `manager` to `live`
    /// (`None` to create), as upstream's `FieldManager.Apply`.
    pub fn apply(
        &self,
        live: Option<(&Value, &[ManagedFieldsEntry])>,
        config: &Value,
        manager: &str,
        subresource: Option<&str>,
        force: bool,
        now: &Time,
    ) -> Result<Applied, ApplyError> {
        let config_version = config
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if config_version != self.api_version {
            return Err(ApplyError::BadRequest(format!(
                "Incorrect version specified in apply patch. Specified patch version: {config_version}, expected: {}",
                self.api_version
            )));
        }
        if config
            .pointer("/metadata/managedFields")
            .is_some_and(|value| !value.is_null())
        {
            return Err(ApplyError::BadRequest(
                "metadata.managedFields must be nil".to_string(),
            ));
        }
        let typed = Typed::new(&self.schema);
        let zero = &self.zero;
        let (live_value, live_entries) = live.unwrap_or((zero, &[]));
        let mut managers = decode(live_entries).map_err(|err| {
            ApplyError::Internal(format!("failed to decode managed fields: {err}"))
        })?;
        let config_set = typed.field_set(config).map_err(|undeclared| {
            ApplyError::BadRequest(format!(
                "failed to create typed patch object ({}): {}",
                self.describe(config),
                undeclared_message(&undeclared)
            ))
        })?;
        let config_set = self.unowned(config_set, subresource);

        let mut live_value = live_value.clone();
        if let Some(metadata) = live_value
            .get_mut("metadata")
            .and_then(Value::as_object_mut)
        {
            metadata.remove("managedFields");
        }
        let mut merged = typed.merge(&live_value, config);

        let id = ManagerId {
            manager: manager.to_string(),
            operation: Operation::Apply,
            api_version: String::new(),
            subresource: subresource.unwrap_or_default().to_string(),
        };
        let previous = managers.remove(&id);
        // Fields the applier owned and no longer sets go, unless someone
        // (the applier included) still owns them or something below them.
        if let Some(previous) = &previous {
            let owned = managers
                .values()
                .fold(config_set.clone(), |all, owned| all.union(&owned.set));
            let mut dropped = FieldSet::new();
            for path in previous.set.difference(&owned).paths() {
                if !owned.has_prefix(&path) {
                    dropped.insert(&path);
                }
            }
            typed.remove(&mut merged, &dropped);
        }

        let comparison = typed.compare(&live_value, &merged);
        let changed = self.unowned(comparison.modified.union(&comparison.added), subresource);
        let removed = self.unowned(comparison.removed, subresource);
        let mut conflicts = Vec::new();
        for (other, owned) in &managers {
            for path in owned.set.intersection(&changed).paths() {
                conflicts.push((other.clone(), path));
            }
        }
        if !force && !conflicts.is_empty() {
            return Err(ApplyError::Conflicts(Conflicts { conflicts }));
        }
        for owned in managers.values_mut() {
            owned.set = owned.set.difference(&changed).difference(&removed);
        }
        let time = if merged != live_value {
            Some(now.clone())
        } else {
            previous
                .as_ref()
                .and_then(|owned| owned.time.clone())
                .or_else(|| Some(now.clone()))
        };
        managers.insert(
            id,
            Owned {
                api_version: self.api_version.clone(),
                time,
                set: config_set,
            },
        );
        Ok(Applied {
            object: merged,
            managed_fields: encode(&managers),
        })
    }

    /// `namespace/name; apps/v1, Kind=Deployment` (upstream's `objectGVKNN`).
    fn describe(&self, config: &Value) -> String {
        let namespace = config
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let name = config
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let group_version = if self.api_version.contains('/') {
            self.api_version.clone()
        } else {
            format!("/{}", self.api_version)
        };
        format!("{namespace}/{name}; {group_version}, Kind={}", self.kind)
    }
}

/// `.spec.foo: field not declared in schema`, or upstream's list form for
/// several.
fn undeclared_message(undeclared: &[Path]) -> String {
    let lines: Vec<String> = undeclared
        .iter()
        .map(|path| format!("{path}: field not declared in schema"))
        .collect();
    match lines.as_slice() {
        [one] => one.clone(),
        many => format!("errors:\n  {}", many.join("\n  ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::chrono::{TimeZone, Utc};
    use serde_json::json;

    fn manager() -> FieldManager {
        FieldManager::new(PatchSchema::of::<Deployment>(), "apps/v1", "Deployment")
    }

    fn at(seconds: i64) -> Time {
        Time(Utc.timestamp_opt(seconds, 0).single().unwrap_or_default())
    }

    fn deployment(replicas: i64, image: &str) -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "c", "image": image}]}
                }
            }
        })
    }

    fn fields_of<'a>(entries: &'a [ManagedFieldsEntry], name: &str) -> Option<&'a Value> {
        entries
            .iter()
            .find(|entry| entry.manager.as_deref() == Some(name))
            .and_then(|entry| entry.fields_v1.as_ref())
            .map(|fields| &fields.0)
    }

    #[test]
    fn create_records_an_update_entry_like_kubectl_create() {
        let mut created = deployment(1, "nginx");
        created["spec"]["strategy"] = json!({"type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}});
        created["status"] = json!({"replicas": 0});
        let entries = manager().update(None, &created, &[], "kubectl-create", None, &at(10));
        assert_eq!(entries.len(), 1);
        let entry = &entries[0];
        assert_eq!(entry.operation.as_deref(), Some("Update"));
        assert_eq!(entry.api_version.as_deref(), Some("apps/v1"));
        assert_eq!(entry.fields_type.as_deref(), Some("FieldsV1"));
        assert_eq!(entry.subresource, None);
        // The encoding `kubectl create deployment` gets upstream: `.` on
        // maps the create added, none on the structs an empty Deployment
        // already has; no status, no server metadata.
        assert_eq!(
            fields_of(&entries, "kubectl-create"),
            Some(&json!({
                "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
                "f:spec": {
                    "f:replicas": {},
                    "f:selector": {},
                    "f:strategy": {
                        "f:rollingUpdate": {".": {}, "f:maxSurge": {}, "f:maxUnavailable": {}},
                        "f:type": {}
                    },
                    "f:template": {
                        "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
                        "f:spec": {"f:containers": {"k:{\"name\":\"c\"}": {
                            ".": {}, "f:image": {}, "f:name": {}
                        }}}
                    }
                }
            }))
        );
    }

    #[test]
    fn apply_owns_exactly_its_configuration() {
        let fm = manager();
        let applied = fm
            .apply(
                None,
                &deployment(1, "nginx"),
                "kubectl",
                None,
                false,
                &at(10),
            )
            .unwrap();
        assert_eq!(
            fields_of(&applied.managed_fields, "kubectl"),
            Some(&json!({
                "f:metadata": {"f:labels": {"f:app": {}}},
                "f:spec": {
                    "f:replicas": {},
                    "f:selector": {},
                    "f:template": {
                        "f:metadata": {"f:labels": {"f:app": {}}},
                        "f:spec": {"f:containers": {"k:{\"name\":\"c\"}": {
                            ".": {}, "f:image": {}, "f:name": {}
                        }}}
                    }
                }
            }))
        );
        assert_eq!(
            applied.managed_fields[0].operation.as_deref(),
            Some("Apply")
        );
    }

    #[test]
    fn dropped_fields_are_removed_unless_someone_else_owns_them() {
        let fm = manager();
        let mut config = deployment(1, "nginx");
        config["metadata"]["labels"]["tier"] = json!("front");
        config["metadata"]["labels"]["keep"] = json!("yes");
        let first = fm
            .apply(None, &config, "kubectl", None, false, &at(10))
            .unwrap();
        // Another writer changes the `keep` label: it now owns it.
        let mut edited = first.object.clone();
        edited["metadata"]["labels"]["keep"] = json!("mine");
        let entries = fm.update(
            Some((&first.object, &first.managed_fields)),
            &edited,
            &[],
            "kubectl-edit",
            None,
            &at(20),
        );
        // The applier drops both labels.
        let second = fm
            .apply(
                Some((&edited, &entries)),
                &deployment(1, "nginx"),
                "kubectl",
                None,
                false,
                &at(30),
            )
            .unwrap();
        assert_eq!(
            second.object["metadata"]["labels"],
            json!({"app": "web", "keep": "mine"})
        );
    }

    #[test]
    fn changing_another_managers_field_conflicts_unless_forced() {
        let fm = manager();
        let live = deployment(1, "nginx");
        let entries = fm.update(None, &live, &[], "kubectl-client-side-apply", None, &at(10));
        let error = fm
            .apply(
                Some((&live, &entries)),
                &deployment(3, "nginx"),
                "other",
                None,
                false,
                &at(20),
            )
            .unwrap_err();
        let ApplyError::Conflicts(conflicts) = error else {
            panic!("expected conflicts, got {error:?}");
        };
        assert_eq!(
            conflicts.message(),
            "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using apps/v1: .spec.replicas"
        );
        assert_eq!(
            conflicts.causes(),
            vec![(
                "conflict with \"kubectl-client-side-apply\" using apps/v1".to_string(),
                ".spec.replicas".to_string()
            )]
        );
        // The same value is no conflict: both own it.
        let shared = fm
            .apply(
                Some((&live, &entries)),
                &deployment(1, "nginx"),
                "other",
                None,
                false,
                &at(20),
            )
            .unwrap();
        assert!(fields_of(&shared.managed_fields, "kubectl-client-side-apply").is_some());
        // Forced: the field moves to the applier.
        let forced = fm
            .apply(
                Some((&live, &entries)),
                &deployment(3, "httpd"),
                "other",
                None,
                true,
                &at(20),
            )
            .unwrap();
        assert_eq!(forced.object["spec"]["replicas"], json!(3));
        let previous = fields_of(&forced.managed_fields, "kubectl-client-side-apply")
            .cloned()
            .unwrap_or_default();
        assert!(previous["f:spec"].get("f:replicas").is_none());
    }

    #[test]
    fn several_conflicts_are_listed_per_manager() {
        let fm = manager();
        let live = deployment(1, "nginx");
        let entries = fm.update(None, &live, &[], "a", None, &at(10));
        let error = fm
            .apply(
                Some((&live, &entries)),
                &deployment(2, "httpd"),
                "b",
                None,
                false,
                &at(20),
            )
            .unwrap_err();
        let ApplyError::Conflicts(conflicts) = error else {
            panic!("expected conflicts, got {error:?}");
        };
        assert_eq!(
            conflicts.message(),
            "Apply failed with 2 conflicts: conflicts with \"a\" using apps/v1:\n- .spec.replicas\n- .spec.template.spec.containers[name=\"c\"].image"
        );
    }

    #[test]
    fn apply_checks_version_managed_fields_and_schema() {
        let fm = manager();
        let mut wrong_version = deployment(1, "x");
        wrong_version["apiVersion"] = json!("apps/v1beta1");
        let Err(ApplyError::BadRequest(message)) =
            fm.apply(None, &wrong_version, "m", None, false, &at(1))
        else {
            panic!("expected a bad request");
        };
        assert_eq!(
            message,
            "Incorrect version specified in apply patch. Specified patch version: apps/v1beta1, expected: apps/v1"
        );
        let mut unknown = deployment(1, "x");
        unknown["spec"]["foo"] = json!(1);
        let Err(ApplyError::BadRequest(message)) =
            fm.apply(None, &unknown, "m", None, false, &at(1))
        else {
            panic!("expected a bad request");
        };
        assert_eq!(
            message,
            "failed to create typed patch object (default/web; apps/v1, Kind=Deployment): .spec.foo: field not declared in schema"
        );
        let mut with_managed = deployment(1, "x");
        with_managed["metadata"]["managedFields"] = json!([]);
        assert!(matches!(
            fm.apply(None, &with_managed, "m", None, false, &at(1)),
            Err(ApplyError::BadRequest(message)) if message == "metadata.managedFields must be nil"
        ));
    }

    #[test]
    fn an_update_takes_changed_fields_and_keeps_time_when_nothing_changes() {
        let fm = manager();
        let live = deployment(1, "nginx");
        let entries = fm
            .apply(None, &live, "kubectl", None, false, &at(10))
            .unwrap()
            .managed_fields;
        let unchanged = fm.update(
            Some((&live, &entries)),
            &live,
            &[],
            "kubectl-edit",
            None,
            &at(20),
        );
        assert_eq!(unchanged, entries);
        let scaled = deployment(5, "nginx");
        let entries = fm.update(
            Some((&live, &entries)),
            &scaled,
            &[],
            "kubectl-scale",
            None,
            &at(30),
        );
        assert_eq!(
            fields_of(&entries, "kubectl-scale"),
            Some(&json!({"f:spec": {"f:replicas": {}}}))
        );
        let applied = fields_of(&entries, "kubectl").cloned().unwrap_or_default();
        assert!(applied["f:spec"].get("f:replicas").is_none());
        // Apply entries sort before Update entries.
        assert_eq!(entries[0].operation.as_deref(), Some("Apply"));
        // A client's `[{}]` forgets every owner.
        let reset = fm.update(
            Some((&scaled, &entries)),
            &scaled,
            &[ManagedFieldsEntry::default()],
            "x",
            None,
            &at(40),
        );
        assert!(reset.is_empty());
    }
}
