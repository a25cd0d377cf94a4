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

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use crate::patch::{ListType, PatchSchema, SchemaCursor};

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
        // The metadata table's for the built-in kinds, the schema's own for
        // a custom resource's.
        let (items, meta) = parent.list_field(key).ok()?;
        let kind = match meta.list_type {
            Some(ListType::Map) if !meta.list_map_keys.is_empty() => {
                Some(ListKind::Map(meta.list_map_keys))
            }
            Some(ListType::Map) => meta
                .patch_merge_key
                .map(|key| ListKind::Map(key_slice(key))),
            Some(ListType::Set) => Some(ListKind::Set),
            Some(ListType::Atomic) => None,
            None if meta.merges() => match meta.patch_merge_key {
                Some(key) => Some(ListKind::Map(key_slice(key))),
                None => Some(ListKind::Set),
            },
            None => None,
        };
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
                        Some(value) if !value.is_null() => value.to_string(),
                        // The one defaulted key of the built-in kinds.
                        _ if *key == "protocol" => "\"TCP\"".to_string(),
                        _ => return None,
                    };
                    Some(((*key).to_string(), value))
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

/// The items of a list by their path elements, in order (duplicates
/// included).
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

/// The items of two lists paired by path element, in n·log n: for each
/// item of `to`, the first item of `from` with its element (a later
/// duplicate is never paired), and for each item of `from`, whether an
/// item of `to` has its element.
fn pair<'v>(
    from: &[(PathElement, &'v Value)],
    to: &[(PathElement, &Value)],
) -> (Vec<Option<&'v Value>>, Vec<bool>) {
    let mut first_positions: BTreeMap<&PathElement, usize> = BTreeMap::new();
    let firsts: Vec<usize> = from
        .iter()
        .enumerate()
        .map(|(position, (element, _))| *first_positions.entry(element).or_insert(position))
        .collect();
    // By the position of the first item of each element.
    let mut in_to = vec![false; from.len()];
    let paired = to
        .iter()
        .map(|(element, _)| {
            let position = *first_positions.get(element)?;
            in_to[position] = true;
            Some(from[position].1)
        })
        .collect();
    let in_to = firsts.iter().map(|first| in_to[*first]).collect();
    (paired, in_to)
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
            &mut Path::default(),
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

/// Adds what changed from `old` to `new` at `path` (extended and restored
/// below it, rather than copied for each child).
fn compare(
    old: Option<&Value>,
    new: Option<&Value>,
    shape: Shape<'_>,
    path: &mut Path,
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
        let (old_of_new, old_in_new) = pair(&old_items, &new_items);
        for ((element, new_item), old_item) in new_items.iter().zip(old_of_new) {
            path.0.push(element.clone());
            compare(old_item, Some(new_item), item_shape, path, comparison);
            path.0.pop();
        }
        for ((element, old_item), in_new) in old_items.iter().zip(old_in_new) {
            if !in_new {
                path.0.push(element.clone());
                compare(Some(old_item), None, item_shape, path, comparison);
                path.0.pop();
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
            path.0.push(PathElement::Field(key.clone()));
            compare(
                old_object.get(key),
                new_object.get(key),
                child_shape,
                path,
                comparison,
            );
            path.0.pop();
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
            // The live fields in their order, merged with the config's,
            // then the config's new ones (as inserting the config's fields
            // into a copy of the live object, without copying what the
            // config replaces).
            let mut merged = Map::new();
            for (key, live_value) in live_object {
                let value = match config_object.get(key) {
                    Some(config_value) => {
                        let child_shape = shape.child(key).unwrap_or(Shape::Deduced);
                        merge(Some(live_value), config_value, child_shape)
                    }
                    None => live_value.clone(),
                };
                merged.insert(key.clone(), value);
            }
            for (key, config_value) in config_object {
                if !live_object.contains_key(key) {
                    merged.insert(key.clone(), config_value.clone());
                }
            }
            Value::Object(merged)
        }
        (Shape::List { kind, .. }, Value::Array(_), Value::Array(_)) => {
            let item_shape = shape.items();
            let live_items = index_items(kind, Some(live));
            let config_items = index_items(kind, Some(config));
            let (live_of_config, live_in_config) = pair(&live_items, &config_items);
            let mut merged = Vec::with_capacity(live_items.len() + config_items.len());
            let mut next_live = 0;
            for ((element, config_item), live_item) in config_items.iter().zip(live_of_config) {
                // Items only the live list has keep their place before the
                // next shared item.
                while let Some((_, live_item)) = live_items.get(next_live) {
                    if live_in_config[next_live] {
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
                merged.push(merge(live_item, config_item, item_shape));
            }
            let live_only = live_items.iter().zip(&live_in_config).skip(next_live);
            for ((_, live_item), in_config) in live_only {
                if !in_config {
                    merged.push((*live_item).clone());
                }
            }
            Value::Array(merged)
        }
        _ => config.clone(),
    }
}

fn remove(value: &mut Value, set: &FieldSet, shape: Shape<'_>) {
    match value {
        Value::Object(object) => {
            for (element, child_set) in set.children() {
                let PathElement::Field(key) = element else {
                    continue;
                };
                if child_set.is_member() {
                    object.remove(key);
                } else if let (Some(child), Some(child_shape)) =
                    (object.get_mut(key), shape.child(key))
                {
                    remove(child, child_set, child_shape);
                }
            }
        }
        Value::Array(items) => {
            if let Shape::List { kind, .. } = shape {
                remove_items(items, set, kind, shape.items());
            }
        }
        _ => {}
    }
}

/// The list without the items of `set`, as if each element of the set, in
/// order, took the first item of the list left by the ones before it with
/// that element (an item without keys is at the index it has in that
/// list; removing fields below an item can change its keys).
///
/// The set's keys and values come before its indexes (the order of
/// [`PathElement`]), so the items are found by key or value in a map first
/// (the list's order does not change), then by index with a count of the
/// items removed before: n·log n rather than a scan and a shift per element.
fn remove_items(items: &mut Vec<Value>, set: &FieldSet, kind: ListKind, item_shape: Shape<'_>) {
    fn keyed(element: &PathElement) -> bool {
        !matches!(element, PathElement::Index(_))
    }
    // The positions of the items left with each key or value.
    let mut positions: BTreeMap<PathElement, BTreeSet<usize>> = BTreeMap::new();
    for (position, item) in items.iter().enumerate() {
        let element = item_element(kind, item, position);
        if keyed(&element) {
            positions.entry(element).or_default().insert(position);
        }
    }
    let mut gone = vec![false; items.len()];
    for (element, child_set) in set.children() {
        if !keyed(element) {
            continue;
        }
        let Some(position) = positions.get_mut(element).and_then(BTreeSet::pop_first) else {
            continue;
        };
        if child_set.is_member() {
            gone[position] = true;
        } else {
            let item = &mut items[position];
            remove(item, child_set, item_shape);
            let element = item_element(kind, item, position);
            if keyed(&element) {
                positions.entry(element).or_default().insert(position);
            }
        }
    }
    drop_gone(items, &gone);

    let mut gone = vec![false; items.len()];
    let mut removed = 0;
    for (element, child_set) in set.children() {
        let PathElement::Index(index) = *element else {
            continue;
        };
        // Index `index` of the list left is past the items removed so far
        // (all before it: the indexes come in increasing order).
        let Some(position) = index
            .checked_add(removed)
            .filter(|position| *position < items.len())
        else {
            continue;
        };
        let item = &mut items[position];
        if item_element(kind, item, index) != *element {
            continue;
        }
        if child_set.is_member() {
            gone[position] = true;
            removed += 1;
        } else {
            remove(item, child_set, item_shape);
        }
    }
    drop_gone(items, &gone);
}

/// `items` without the ones flagged in `gone` (same length).
fn drop_gone(items: &mut Vec<Value>, gone: &[bool]) {
    let mut flags = gone.iter();
    items.retain(|_| !flags.next().is_some_and(|gone| *gone));
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
    fn a_custom_resource_schema_gives_list_maps_sets_and_atomic_objects() {
        let schema = PatchSchema::structural(&json!({
            "type": "object",
            "properties": {"spec": {"type": "object", "properties": {
                "parts": {"type": "array", "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["name"],
                    "items": {"type": "object", "properties": {
                        "name": {"type": "string"}, "count": {"type": "integer"}}}},
                "tags": {"type": "array", "x-kubernetes-list-type": "set",
                    "items": {"type": "string"}},
                "steps": {"type": "array", "items": {"type": "string"}},
                "selector": {"type": "object", "x-kubernetes-map-type": "atomic",
                    "properties": {"app": {"type": "string"}}},
                "pools": {"type": "object", "additionalProperties": {"type": "array",
                    "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                    "items": {"type": "object", "properties": {"name": {"type": "string"}}}}}
            }}}
        }));
        let value = json!({
            "metadata": {"labels": {"a": "b"}},
            "spec": {
                "parts": [{"name": "p", "count": 1}],
                "tags": ["t"],
                "steps": ["s"],
                "selector": {"app": "x"},
                "pools": {"east": [{"name": "e1"}]}
            }
        });
        let set = Typed::new(&schema).field_set(&value).unwrap();
        assert_eq!(
            set.to_fields_v1(),
            json!({
                "f:metadata": {"f:labels": {"f:a": {}}},
                "f:spec": {
                    "f:parts": {"k:{\"name\":\"p\"}": {".": {}, "f:count": {}, "f:name": {}}},
                    "f:tags": {"v:\"t\"": {}},
                    "f:steps": {},
                    "f:selector": {},
                    "f:pools": {"f:east": {".": {}, "k:{\"name\":\"e1\"}": {".": {}, "f:name": {}}}}
                }
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

    /// Lists with items reordered, added, removed, without keys and with
    /// duplicate keys (the first item of a key is the one matched; every
    /// duplicate is compared, merged and kept in place).
    fn tangled_pods() -> (Value, Value) {
        let old = json!({
            "metadata": {"finalizers": ["f1", "f2", "f1"]},
            "spec": {"containers": [
                {"name": "a", "image": "1"},
                {"name": "b", "image": "2", "env": [
                    {"name": "X", "value": "1"},
                    {"name": "Y", "value": "2"},
                    {"name": "X", "value": "dup"}
                ], "ports": [
                    {"containerPort": 80},
                    {"containerPort": 80, "protocol": "UDP"},
                    {"containerPort": 81, "protocol": "TCP"}
                ]},
                {"name": "a", "image": "dup-old"},
                {"name": "c", "image": "3"},
                {"name": "gone", "image": "4"},
                {"image": "keyless"}
            ]}
        });
        let new = json!({
            "metadata": {"finalizers": ["f2", "f3", "f3"]},
            "spec": {"containers": [
                {"name": "c", "image": "3"},
                {"name": "new", "image": "5"},
                {"name": "b", "image": "2", "env": [
                    {"name": "Y", "value": "2"},
                    {"name": "Z", "value": "3"},
                    {"name": "X", "value": "changed"}
                ], "ports": [
                    {"containerPort": 81},
                    {"containerPort": 80, "protocol": "TCP", "name": "http"}
                ]},
                {"name": "a", "image": "1x"},
                {"name": "new", "image": "dup-new"},
                {"image": "keyless2"},
                {"image": "keyless3"}
            ]}
        });
        (old, new)
    }

    #[test]
    fn list_items_are_compared_by_key_whatever_their_order_and_duplicates() {
        let schema = PatchSchema::of::<Pod>();
        let typed = Typed::new(&schema);
        let (old, new) = tangled_pods();
        let forward = typed.compare(&old, &new);
        assert_eq!(
            forward.added.to_fields_v1(),
            json!({
                "f:metadata": {"f:finalizers": {"v:\"f3\"": {}}},
                "f:spec": {
                    "f:containers": {
                        "i:6": {".": {}, "f:image": {}},
                        "k:{\"name\":\"b\"}": {
                            "f:env": {"k:{\"name\":\"Z\"}": {".": {}, "f:name": {}, "f:value": {}}},
                            "f:ports": {
                                "k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {
                                    "f:name": {}, "f:protocol": {}
                                }
                            }
                        },
                        "k:{\"name\":\"new\"}": {".": {}, "f:image": {}, "f:name": {}}
                    }
                }
            })
        );
        assert_eq!(
            forward.modified.to_fields_v1(),
            json!({
                "f:spec": {
                    "f:containers": {
                        "i:5": {"f:image": {}},
                        "k:{\"name\":\"a\"}": {"f:image": {}},
                        "k:{\"name\":\"b\"}": {"f:env": {"k:{\"name\":\"X\"}": {"f:value": {}}}}
                    }
                }
            })
        );
        assert_eq!(
            forward.removed.to_fields_v1(),
            json!({
                "f:metadata": {"f:finalizers": {"v:\"f1\"": {}}},
                "f:spec": {
                    "f:containers": {
                        "k:{\"name\":\"b\"}": {
                            "f:ports": {
                                "k:{\"containerPort\":80,\"protocol\":\"UDP\"}": {
                                    ".": {}, "f:containerPort": {}, "f:protocol": {}
                                },
                                "k:{\"containerPort\":81,\"protocol\":\"TCP\"}": {"f:protocol": {}}
                            }
                        },
                        "k:{\"name\":\"gone\"}": {".": {}, "f:image": {}, "f:name": {}}
                    }
                }
            })
        );
        let back = typed.compare(&new, &old);
        assert_eq!(back.added, forward.removed);
        assert_eq!(back.modified, forward.modified);
        assert_eq!(back.removed, forward.added);
    }

    #[test]
    fn list_items_merge_by_key_whatever_their_order_and_duplicates() {
        let schema = PatchSchema::of::<Pod>();
        let typed = Typed::new(&schema);
        let (old, new) = tangled_pods();
        // Every config item is merged with the first live item of its key;
        // a later live item of a key the config has goes, the live-only
        // ones stay before the next shared item.
        assert_eq!(
            typed.merge(&old, &new),
            json!({
                "metadata": {"finalizers": ["f1", "f2", "f1", "f3", "f3"]},
                "spec": {
                    "containers": [
                        {"image": "3", "name": "c"},
                        {"image": "5", "name": "new"},
                        {
                            "env": [
                                {"name": "Y", "value": "2"},
                                {"name": "Z", "value": "3"},
                                {"name": "X", "value": "changed"}
                            ],
                            "image": "2",
                            "name": "b",
                            "ports": [
                                {"containerPort": 81, "protocol": "TCP"},
                                {"containerPort": 80, "name": "http", "protocol": "TCP"},
                                {"containerPort": 80, "protocol": "UDP"}
                            ]
                        },
                        {"image": "1x", "name": "a"},
                        {"image": "dup-new", "name": "new"},
                        {"image": "keyless2"},
                        {"image": "keyless3"},
                        {"image": "4", "name": "gone"}
                    ]
                }
            })
        );
        assert_eq!(
            typed.merge(&new, &old),
            json!({
                "metadata": {"finalizers": ["f1", "f2", "f3", "f3", "f1"]},
                "spec": {
                    "containers": [
                        {"image": "1", "name": "a"},
                        {
                            "env": [
                                {"name": "X", "value": "1"},
                                {"name": "Y", "value": "2"},
                                {"name": "Z", "value": "3"},
                                {"name": "X", "value": "dup"}
                            ],
                            "image": "2",
                            "name": "b",
                            "ports": [
                                {"containerPort": 80, "name": "http", "protocol": "TCP"},
                                {"containerPort": 80, "protocol": "UDP"},
                                {"containerPort": 81, "protocol": "TCP"}
                            ]
                        },
                        {"image": "dup-old", "name": "a"},
                        {"image": "3", "name": "c"},
                        {"image": "5", "name": "new"},
                        {"image": "4", "name": "gone"},
                        {"image": "keyless"},
                        {"image": "dup-new", "name": "new"},
                        {"image": "keyless3"}
                    ]
                }
            })
        );
    }

    #[test]
    fn list_items_are_removed_by_key_value_and_shifting_index() {
        let schema = PatchSchema::of::<Pod>();
        let typed = Typed::new(&schema);
        let mut value = json!({
            "metadata": {"finalizers": ["f1", "f2", "f1", "f3"]},
            "spec": {"containers": [
                {"name": "a", "image": "1"},
                {"name": "b", "image": "2", "ports": [
                    {"containerPort": 80},
                    {"containerPort": 80, "protocol": "UDP"},
                    {"containerPort": 81, "protocol": "TCP"}
                ]},
                {"name": "a", "image": "dup"},
                {"image": "keyless0"},
                {"image": "keyless1"},
                {"name": "d", "image": "4"},
                {"image": "keyless2"},
                {"name": "c", "image": "3"}
            ]}
        });
        let set = FieldSet::from_fields_v1(&json!({
            "f:metadata": {"f:finalizers": {"v:\"f1\"": {}, "v:\"f3\"": {}, "v:\"nope\"": {}}},
            "f:spec": {"f:containers": {
                "k:{\"name\":\"a\"}": {},
                "k:{\"name\":\"b\"}": {
                    "f:ports": {
                        "k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {},
                        "k:{\"containerPort\":81,\"protocol\":\"TCP\"}": {"f:protocol": {}}
                    }
                },
                "k:{\"name\":\"c\"}": {"f:image": {}},
                "k:{\"name\":\"d\"}": {"f:name": {}},
                "k:{\"name\":\"zz\"}": {},
                "i:2": {},
                "i:3": {"f:image": {}},
                "i:4": {},
                "i:40": {}
            }}
        }))
        .unwrap();
        // Keys and values take the first item that has them (`d` loses its
        // key), then indexes count in the list left by the removals before.
        typed.remove(&mut value, &set);
        assert_eq!(
            value,
            json!({
                "metadata": {"finalizers": ["f2", "f1"]},
                "spec": {
                    "containers": [
                        {
                            "image": "2",
                            "name": "b",
                            "ports": [
                                {"containerPort": 80, "protocol": "UDP"},
                                {"containerPort": 81}
                            ]
                        },
                        {"image": "dup", "name": "a"},
                        {"image": "keyless1"},
                        {},
                        {"name": "c"}
                    ]
                }
            })
        );
    }

    /// The size of the lists of the scale tests: n·log n item comparisons
    /// run in a fraction of a second in a debug build, n² in minutes.
    const SCALE: usize = 20_000;

    /// The old and new version of a list of [`SCALE`] items: 0 to 19,999,
    /// then 24,999 down to 5,000 (a quarter gone, a quarter new, the rest
    /// reversed).
    fn scale_lists() -> (Vec<usize>, Vec<usize>) {
        (
            (0..SCALE).collect(),
            (SCALE / 4..SCALE + SCALE / 4).rev().collect(),
        )
    }

    #[test]
    fn keyed_lists_of_twenty_thousand_items_compare_merge_and_remove_in_n_log_n() {
        const N: usize = SCALE;
        let schema = PatchSchema::of::<Pod>();
        let typed = Typed::new(&schema);
        let pod = |names: &[usize], changed: bool| {
            let env: Vec<Value> = names
                .iter()
                .map(|i| {
                    let value = if changed && i % 2 == 0 { "new" } else { "old" };
                    json!({"name": format!("n{i}"), "value": value})
                })
                .collect();
            json!({"spec": {"containers": [{"name": "c", "env": env}]}})
        };
        let (old_names, new_names) = scale_lists();
        // The even items the two have are changed.
        let (old, new) = (pod(&old_names, false), pod(&new_names, true));

        let comparison = typed.compare(&old, &new);
        // Each new or gone item: itself, its name and its value.
        assert_eq!(comparison.added.paths().len(), 3 * N / 4);
        assert_eq!(comparison.removed.paths().len(), 3 * N / 4);
        // The value of each even item of both.
        assert_eq!(comparison.modified.paths().len(), (N - N / 4) / 2);

        let merged = typed.merge(&old, &new);
        let env = merged["spec"]["containers"][0]["env"].as_array().unwrap();
        assert_eq!(env.len(), N + N / 4);
        // The live-only items keep their place before the first shared one.
        assert_eq!(env[0], json!({"name": "n0", "value": "old"}));
        assert_eq!(env[N / 4 - 1]["name"], "n4999");
        assert_eq!(env[N / 4], json!({"name": "n24999", "value": "old"}));
        assert_eq!(env[N + N / 4 - 1], json!({"name": "n5000", "value": "new"}));

        // Every other item goes.
        let env_path = Path::fields(&["spec", "containers"])
            .child(PathElement::Key(vec![("name".into(), "\"c\"".into())]))
            .child(PathElement::Field("env".into()));
        let mut set = FieldSet::new();
        for i in (0..N + N / 4).step_by(2) {
            let key = vec![("name".into(), format!("\"n{i}\""))];
            set.insert(&env_path.child(PathElement::Key(key)));
        }
        let mut removed = merged;
        typed.remove(&mut removed, &set);
        let env = removed["spec"]["containers"][0]["env"].as_array().unwrap();
        assert_eq!(env.len(), (N + N / 4) / 2);
        assert_eq!(env[0]["name"], "n1");
        assert_eq!(env[N / 8]["name"], "n24999");
    }

    #[test]
    fn set_lists_of_twenty_thousand_items_compare_merge_and_remove_in_n_log_n() {
        const N: usize = SCALE;
        let schema = PatchSchema::of::<Pod>();
        let typed = Typed::new(&schema);
        let pod = |names: &[usize]| {
            let finalizers: Vec<String> = names.iter().map(|i| format!("f{i}")).collect();
            json!({"metadata": {"finalizers": finalizers}})
        };
        let (old_names, new_names) = scale_lists();
        let (old, new) = (pod(&old_names), pod(&new_names));

        let comparison = typed.compare(&old, &new);
        assert_eq!(comparison.added.paths().len(), N / 4);
        assert_eq!(comparison.removed.paths().len(), N / 4);
        assert!(comparison.modified.is_empty());

        let merged = typed.merge(&old, &new);
        let finalizers = merged["metadata"]["finalizers"].as_array().unwrap();
        assert_eq!(finalizers.len(), N + N / 4);
        assert_eq!(finalizers[N / 4 - 1], "f4999");
        assert_eq!(finalizers[N / 4], "f24999");
        assert_eq!(finalizers[N + N / 4 - 1], "f5000");

        // Every other finalizer goes.
        let finalizers_path = Path::fields(&["metadata", "finalizers"]);
        let mut set = FieldSet::new();
        for i in (0..N + N / 4).step_by(2) {
            set.insert(&finalizers_path.child(PathElement::Value(format!("\"f{i}\""))));
        }
        let mut removed = merged;
        typed.remove(&mut removed, &set);
        let finalizers = removed["metadata"]["finalizers"].as_array().unwrap();
        assert_eq!(finalizers.len(), (N + N / 4) / 2);
        assert_eq!(finalizers[0], "f1");
        assert_eq!(finalizers[N / 8], "f24999");
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
