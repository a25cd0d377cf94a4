//! Objects walked with their kind's structure (`structured-merge-diff/typed`):
//! the set of fields an object sets, the comparison of two objects (fields
//! added, modified, removed), the merge of an applied configuration into a
//! live object, and the removal of a set of fields.
//!
//! Structure comes from [`PatchSchema`] and the list metadata table:
//! lists with `x-kubernetes-list-type: map` (or a patch merge key) are
//! associative by their keys, `set` lists (or `merge` without a key) by
//! value, every other list is atomic; a few structs are atomic
//! (`+structType=atomic`); fields the schema does not know are "deduced":
//! objects are granular maps, everything else is atomic.

use serde_json::{Map, Value};

use crate::patch::{PatchSchema, SchemaCursor, field_patch_meta};

use super::fieldpath::{FieldSet, Path, PathElement};

/// The structs the v1.32 API marks `+structType=atomic`
/// (`x-kubernetes-map-type: atomic`): replaced as a whole, owned as one field.
const ATOMIC_STRUCTS: &[&str] = &[
    "io.k8s.api.core.v1.ConfigMapKeySelector",
    "io.k8s.api.core.v1.LocalObjectReference",
    "io.k8s.api.core.v1.NodeSelector",
    "io.k8s.api.core.v1.NodeSelectorTerm",
    "io.k8s.api.core.v1.ObjectFieldSelector",
    "io.k8s.api.core.v1.ObjectReference",
    "io.k8s.api.core.v1.ResourceFieldSelector",
    "io.k8s.api.core.v1.SecretKeySelector",
    "io.k8s.api.core.v1.TopologySelectorTerm",
    "io.k8s.api.core.v1.TypedLocalObjectReference",
    "io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector",
    "io.k8s.apimachinery.pkg.apis.meta.v1.OwnerReference",
];

/// How a list's items are told apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ListKind {
    /// By the values of these key fields (`x-kubernetes-list-map-keys`).
    Map(&'static [&'static str]),
    /// By the item's value.
    Set,
}

/// The structure at one position of an object.
#[derive(Clone, Copy)]
enum Shape<'s> {
    /// A struct with declared fields.
    Struct(SchemaCursor<'s>),
    /// A map with values of one shape.
    Map(SchemaCursor<'s>),
    /// A granular list.
    List {
        items: SchemaCursor<'s>,
        kind: ListKind,
    },
    /// A scalar, or an atomic list, map or struct: one field, compared and
    /// replaced whole.
    Atomic,
    /// Not in the schema: objects are maps of deduced values, the rest atomic.
    Deduced,
}

impl<'s> Shape<'s> {
    fn root(schema: &'s PatchSchema) -> Self {
        Shape::of(schema.root())
    }

    /// The shape of a position reached other than through a list field.
    fn of(cursor: SchemaCursor<'s>) -> Self {
        match cursor.type_name() {
            "struct" => match cursor.definition() {
                Some(definition) if ATOMIC_STRUCTS.contains(&definition) => Shape::Atomic,
                _ => Shape::Struct(cursor),
            },
            "map" => Shape::Map(cursor),
            "interface" => Shape::Deduced,
            _ => Shape::Atomic,
        }
    }

    /// The shape of the field or map entry `key`, or `None` for a field a
    /// struct does not declare.
    fn child(&self, key: &str) -> Option<Shape<'s>> {
        let parent = match self {
            Shape::Struct(cursor) | Shape::Map(cursor) => *cursor,
            Shape::Deduced => return Some(Shape::Deduced),
            Shape::List { .. } | Shape::Atomic => return None,
        };
        let (field, _) = parent.field(key).ok()?;
        if field.type_name() != "slice" {
            return Some(Shape::of(field));
        }
        let (items, _) = parent.list_field(key).ok()?;
        let meta = parent
            .definition()
            .and_then(|definition| field_patch_meta(definition, key));
        let kind = meta.and_then(|meta| match meta.list_type {
            Some("map") if !meta.list_map_keys.is_empty() => {
                Some(ListKind::Map(meta.list_map_keys))
            }
            Some("map") => meta
                .patch_merge_key
                .map(|key| ListKind::Map(key_slice(key))),
            Some("set") => Some(ListKind::Set),
            Some(_) => None,
            None if meta.patch_strategies().contains(&"merge") => match meta.patch_merge_key {
                Some(key) => Some(ListKind::Map(key_slice(key))),
                None => Some(ListKind::Set),
            },
            None => None,
        });
        Some(match kind {
            Some(kind) => Shape::List { items, kind },
            None => Shape::Atomic,
        })
    }

    /// Whether `key` is a declared struct field (rather than a map entry).
    fn declares(&self, key: &str) -> bool {
        matches!(self, Shape::Struct(cursor) if cursor.field(key).is_ok())
    }

    /// The shape of this list's items.
    fn items(&self) -> Shape<'s> {
        match self {
            Shape::List { items, .. } => Shape::of(*items),
            _ => Shape::Deduced,
        }
    }

    fn is_granular_object(&self, value: Option<&Value>) -> bool {
        match self {
            Shape::Struct(_) | Shape::Map(_) => true,
            Shape::Deduced => value.is_some_and(Value::is_object),
            _ => false,
        }
    }
}

/// A merge key as a one-element key list, for the few merge keys the table
/// gives without `x-kubernetes-list-map-keys`.
fn key_slice(key: &'static str) -> &'static [&'static str] {
    const KEYS: &[&str] = &[
        "containerPort",
        "devicePath",
        "ip",
        "key",
        "mountPath",
        "name",
        "port",
        "topologyKey",
        "type",
        "uid",
    ];
    KEYS.iter()
        .position(|known| *known == key)
        .map(|index| &KEYS[index..=index])
        .unwrap_or(&[])
}

/// The path element of a list item.
fn item_element(kind: ListKind, item: &Value, index: usize) -> PathElement {
    match kind {
        ListKind::Set => PathElement::Value(item.to_string()),
        ListKind::Map(keys) => {
            let mut fields: Vec<(String, String)> = keys
                .iter()
                .filter_map(|key| {
                    let value = match item.get(*key) {
                        Some(value) if !value.is_null() => value.clone(),
                        // The one defaulted key of the built-in kinds.
                        _ if *key == "protocol" => Value::String("TCP".to_string()),
                        _ => return None,
                    };
                    Some(((*key).to_string(), value.to_string()))
                })
                .collect();
            fields.sort();
            if fields.is_empty() {
                PathElement::Index(index)
            } else {
                PathElement::Key(fields)
            }
        }
    }
}

/// The items of a list by their path elements, in order.
fn index_items(kind: ListKind, list: Option<&Value>) -> Vec<(PathElement, &Value)> {
    list.and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .enumerate()
                .map(|(index, item)| (item_element(kind, item, index), item))
                .collect()
        })
        .unwrap_or_default()
}

/// Structure-aware operations over the objects of one kind.
pub(crate) struct Typed<'s> {
    root: Shape<'s>,
}

impl<'s> Typed<'s> {
    pub(crate) fn new(schema: &'s PatchSchema) -> Self {
        Typed {
            root: Shape::root(schema),
        }
    }

    /// The fields `value` sets (upstream's `ToFieldSet`), or the paths of
    /// the fields the schema does not declare.
    pub(crate) fn field_set(&self, value: &Value) -> Result<FieldSet, Vec<Path>> {
        let mut set = FieldSet::new();
        let mut undeclared = Vec::new();
        to_field_set(
            value,
            self.root,
            &Path::default(),
            &mut set,
            &mut undeclared,
        );
        if undeclared.is_empty() {
            Ok(set)
        } else {
            Err(undeclared)
        }
    }

    /// The object as upstream's empty Go value of the kind serializes: the
    /// struct fields that are not pointers (`metadata`, `spec`, `status`,
    /// a workload's `template` and its update strategy) present and empty,
    /// the lists without `omitempty` (`containers`) present as null.
    /// Creates are compared against it.
    pub(crate) fn zero_object(&self) -> Value {
        fn keep_declared(value: &Value, shape: Shape<'_>) -> Value {
            let Value::Object(object) = value else {
                return value.clone();
            };
            let mut kept = Map::new();
            for (key, child) in object {
                match shape.child(key) {
                    Some(child_shape @ Shape::Struct(_)) if shape.declares(key) => {
                        kept.insert(key.clone(), keep_declared(child, child_shape));
                    }
                    Some(_) if child.is_null() && shape.declares(key) => {
                        kept.insert(key.clone(), Value::Null);
                    }
                    _ => {}
                }
            }
            Value::Object(kept)
        }
        let candidate = serde_json::json!({
            "metadata": {},
            "spec": {
                "containers": null,
                "template": {"metadata": {}, "spec": {"containers": null}},
                "strategy": {},
                "updateStrategy": {}
            },
            "status": {}
        });
        keep_declared(&candidate, self.root)
    }

    /// What changed from `old` to `new`.
    pub(crate) fn compare(&self, old: &Value, new: &Value) -> Comparison {
        let mut comparison = Comparison::default();
        compare(
            Some(old),
            Some(new),
            self.root,
            &Path::default(),
            &mut comparison,
        );
        comparison
    }

    /// `config` merged into `live`: config values win, granular maps and
    /// lists merge item by item, atomic values are replaced.
    pub(crate) fn merge(&self, live: &Value, config: &Value) -> Value {
        merge(Some(live), config, self.root)
    }

    /// `value` without the fields of `set` (each member path with
    /// everything below it).
    pub(crate) fn remove(&self, value: &mut Value, set: &FieldSet) {
        remove(value, set, self.root);
    }
}

/// The fields added, modified and removed between two objects.
#[derive(Debug, Default)]
pub(crate) struct Comparison {
    pub added: FieldSet,
    pub modified: FieldSet,
    pub removed: FieldSet,
}

fn present(value: Option<&Value>) -> Option<&Value> {
    value.filter(|value| !value.is_null())
}

fn to_field_set(
    value: &Value,
    shape: Shape<'_>,
    path: &Path,
    set: &mut FieldSet,
    undeclared: &mut Vec<Path>,
) {
    match (shape, value) {
        (Shape::Struct(_) | Shape::Map(_) | Shape::Deduced, Value::Object(object)) => {
            for (key, child) in object {
                let child_path = path.child(PathElement::Field(key.clone()));
                let Some(child_shape) = shape.child(key) else {
                    undeclared.push(child_path);
                    continue;
                };
                to_field_set(child, child_shape, &child_path, set, undeclared);
                let empty = child.is_null() || child.as_object().is_some_and(Map::is_empty);
                if empty || !shape.declares(key) {
                    set.insert(&child_path);
                }
            }
        }
        (Shape::List { kind, .. }, Value::Array(items)) => {
            let item_shape = shape.items();
            for (index, item) in items.iter().enumerate() {
                let item_path = path.child(item_element(kind, item, index));
                to_field_set(item, item_shape, &item_path, set, undeclared);
                set.insert(&item_path);
            }
        }
        (Shape::Struct(_) | Shape::Map(_) | Shape::List { .. }, _) => {}
        (Shape::Atomic | Shape::Deduced, _) => set.insert(path),
    }
}

fn compare(
    old: Option<&Value>,
    new: Option<&Value>,
    shape: Shape<'_>,
    path: &Path,
    comparison: &mut Comparison,
) {
    // A null is no value, yet a container that is there: a list or map
    // replacing a null is not "added" (Go's zero values serialize so).
    let (old_raw, new_raw) = (old, new);
    let (old, new) = (present(old), present(new));
    if old.is_none() && new.is_none() {
        return;
    }
    let granular = match shape {
        Shape::List { .. } => old.is_none_or(Value::is_array) && new.is_none_or(Value::is_array),
        _ => {
            shape.is_granular_object(old.or(new))
                && old.is_none_or(Value::is_object)
                && new.is_none_or(Value::is_object)
        }
    };
    if !granular {
        match (old, new) {
            (None, Some(_)) => comparison.added.insert(path),
            (Some(_), None) => comparison.removed.insert(path),
            (Some(old), Some(new)) if old != new => comparison.modified.insert(path),
            _ => {}
        }
        return;
    }
    if let Shape::List { kind, .. } = shape {
        let item_shape = shape.items();
        let old_items = index_items(kind, old);
        let new_items = index_items(kind, new);
        for (element, new_item) in &new_items {
            let old_item = old_items
                .iter()
                .find(|(old_element, _)| old_element == element)
                .map(|(_, item)| *item);
            let item_path = path.child(element.clone());
            compare(old_item, Some(new_item), item_shape, &item_path, comparison);
        }
        for (element, old_item) in &old_items {
            if !new_items
                .iter()
                .any(|(new_element, _)| new_element == element)
            {
                let item_path = path.child(element.clone());
                compare(Some(old_item), None, item_shape, &item_path, comparison);
            }
        }
    } else {
        let empty = Map::new();
        let old_object = old.and_then(Value::as_object).unwrap_or(&empty);
        let new_object = new.and_then(Value::as_object).unwrap_or(&empty);
        let mut keys: Vec<&String> = old_object.keys().chain(new_object.keys()).collect();
        keys.sort();
        keys.dedup();
        for key in keys {
            let Some(child_shape) = shape.child(key) else {
                continue;
            };
            let child_path = path.child(PathElement::Field(key.clone()));
            compare(
                old_object.get(key),
                new_object.get(key),
                child_shape,
                &child_path,
                comparison,
            );
        }
    }
    match (old_raw, new_raw) {
        (None, Some(_)) => comparison.added.insert(path),
        (Some(_), None) => comparison.removed.insert(path),
        _ => {}
    }
}

fn merge(live: Option<&Value>, config: &Value, shape: Shape<'_>) -> Value {
    let Some(live) = present(live) else {
        return config.clone();
    };
    match (shape, live, config) {
        (
            Shape::Struct(_) | Shape::Map(_) | Shape::Deduced,
            Value::Object(live_object),
            Value::Object(config_object),
        ) => {
            let mut merged = live_object.clone();
            for (key, config_value) in config_object {
                let child_shape = shape.child(key).unwrap_or(Shape::Deduced);
                let value = merge(live_object.get(key), config_value, child_shape);
                merged.insert(key.clone(), value);
            }
            Value::Object(merged)
        }
        (Shape::List { kind, .. }, Value::Array(_), Value::Array(_)) => {
            let item_shape = shape.items();
            let live_items = index_items(kind, Some(live));
            let config_items = index_items(kind, Some(config));
            let in_config = |element: &PathElement| {
                config_items
                    .iter()
                    .any(|(config_element, _)| config_element == element)
            };
            let mut merged = Vec::with_capacity(live_items.len() + config_items.len());
            let mut next_live = 0;
            for (element, config_item) in &config_items {
                // Items only the live list has keep their place before the
                // next shared item.
                while let Some((live_element, live_item)) = live_items.get(next_live) {
                    if in_config(live_element) {
                        break;
                    }
                    merged.push((*live_item).clone());
                    next_live += 1;
                }
                if live_items
                    .get(next_live)
                    .is_some_and(|(live_element, _)| live_element == element)
                {
                    next_live += 1;
                }
                let live_item = live_items
                    .iter()
                    .find(|(live_element, _)| live_element == element)
                    .map(|(_, item)| *item);
                merged.push(merge(live_item, config_item, item_shape));
            }
            for (live_element, live_item) in live_items.iter().skip(next_live) {
                if !in_config(live_element) {
                    merged.push((*live_item).clone());
                }
            }
            Value::Array(merged)
        }
        _ => config.clone(),
    }
}

fn remove(value: &mut Value, set: &FieldSet, shape: Shape<'_>) {
    for (element, child_set) in set.children() {
        match (element, &mut *value) {
            (PathElement::Field(key), Value::Object(object)) => {
                if child_set.is_member() {
                    object.remove(key);
                } else if let (Some(child), Some(child_shape)) =
                    (object.get_mut(key), shape.child(key))
                {
                    remove(child, child_set, child_shape);
                }
            }
            (_, Value::Array(items)) => {
                let Shape::List { kind, .. } = shape else {
                    continue;
                };
                let item_shape = shape.items();
                let position = items
                    .iter()
                    .enumerate()
                    .position(|(index, item)| item_element(kind, item, index) == *element);
                let Some(position) = position else {
                    continue;
                };
                if child_set.is_member() {
                    items.remove(position);
                } else if let Some(item) = items.get_mut(position) {
                    remove(item, child_set, item_shape);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::core::v1::{Pod, Service};
    use serde_json::json;

    #[test]
    fn apply_field_set_of_a_deployment_is_upstreams() {
        let schema = PatchSchema::of::<Deployment>();
        let config = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "c", "image": "nginx",
                        "ports": [{"containerPort": 80}], "args": ["a"]}]}
                }
            }
        });
        let set = Typed::new(&schema).field_set(&config).unwrap();
        assert_eq!(
            set.to_fields_v1(),
            json!({
                "f:apiVersion": {}, "f:kind": {},
                "f:metadata": {"f:labels": {"f:app": {}}, "f:name": {}},
                "f:spec": {
                    "f:replicas": {},
                    "f:selector": {},
                    "f:template": {
                        "f:metadata": {"f:labels": {"f:app": {}}},
                        "f:spec": {"f:containers": {"k:{\"name\":\"c\"}": {
                            ".": {}, "f:args": {}, "f:image": {}, "f:name": {},
                            "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {
                                ".": {}, "f:containerPort": {}
                            }}
                        }}}
                    }
                }
            })
        );
    }

    #[test]
    fn undeclared_fields_are_reported_with_their_paths() {
        let schema = PatchSchema::of::<Pod>();
        let config = json!({"spec": {"foo": 1, "containers": [{"name": "c", "bar": true}]}});
        let undeclared = Typed::new(&schema).field_set(&config).unwrap_err();
        let printed: Vec<String> = undeclared.iter().map(ToString::to_string).collect();
        assert_eq!(
            printed,
            vec![".spec.containers[name=\"c\"].bar", ".spec.foo"]
        );
    }

    #[test]
    fn finalizers_are_a_set_and_service_ports_keyed_by_port_and_protocol() {
        let schema = PatchSchema::of::<Service>();
        let value = json!({
            "metadata": {"finalizers": ["a"]},
            "spec": {"ports": [{"port": 80, "protocol": "UDP"}]}
        });
        let set = Typed::new(&schema).field_set(&value).unwrap();
        assert_eq!(
            set.to_fields_v1(),
            json!({
                "f:metadata": {"f:finalizers": {"v:\"a\"": {}}},
                "f:spec": {"f:ports": {"k:{\"port\":80,\"protocol\":\"UDP\"}": {
                    ".": {}, "f:port": {}, "f:protocol": {}
                }}}
            })
        );
    }

    #[test]
    fn comparison_marks_new_maps_and_items() {
        let schema = PatchSchema::of::<Pod>();
        let typed = Typed::new(&schema);
        let old = json!({"metadata": {}, "spec": {"containers": [{"name": "a", "image": "x"}]}});
        let new = json!({
            "metadata": {"labels": {"k": "v"}},
            "spec": {"containers": [{"name": "a", "image": "y"}, {"name": "b", "image": "z"}]}
        });
        let comparison = typed.compare(&old, &new);
        assert_eq!(
            comparison.added.to_fields_v1(),
            json!({
                "f:metadata": {"f:labels": {".": {}, "f:k": {}}},
                "f:spec": {"f:containers": {"k:{\"name\":\"b\"}": {
                    ".": {}, "f:image": {}, "f:name": {}
                }}}
            })
        );
        assert_eq!(
            comparison.modified.to_fields_v1(),
            json!({"f:spec": {"f:containers": {"k:{\"name\":\"a\"}": {"f:image": {}}}}})
        );
        let back = typed.compare(&new, &old);
        assert!(
            back.removed
                .contains(&Path::fields(&["metadata", "labels", "k"]))
        );
    }

    #[test]
    fn merge_is_associative_for_keyed_lists_and_replaces_atomic_ones() {
        let schema = PatchSchema::of::<Pod>();
        let typed = Typed::new(&schema);
        let live = json!({"spec": {"containers": [
            {"name": "a", "image": "x", "args": ["1", "2"]},
            {"name": "b", "image": "y"}
        ]}});
        let config = json!({"spec": {"containers": [
            {"name": "c", "image": "z"},
            {"name": "a", "args": ["3"]}
        ]}});
        let merged = typed.merge(&live, &config);
        assert_eq!(
            merged,
            json!({"spec": {"containers": [
                {"name": "c", "image": "z"},
                {"name": "a", "image": "x", "args": ["3"]},
                {"name": "b", "image": "y"}
            ]}})
        );
    }

    #[test]
    fn remove_takes_members_with_their_subtrees() {
        let schema = PatchSchema::of::<Pod>();
        let typed = Typed::new(&schema);
        let mut value = json!({
            "metadata": {"labels": {"a": "1", "b": "2"}},
            "spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]}
        });
        let mut set = FieldSet::new();
        set.insert(&Path::fields(&["metadata", "labels", "a"]));
        set.insert(
            &Path::fields(&["spec", "containers"])
                .child(PathElement::Key(vec![("name".into(), "\"b\"".into())])),
        );
        typed.remove(&mut value, &set);
        assert_eq!(
            value,
            json!({
                "metadata": {"labels": {"b": "2"}},
                "spec": {"containers": [{"name": "a", "image": "x"}]}
            })
        );
    }
}
