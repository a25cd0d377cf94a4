//! Strategic merge patch (`application/strategic-merge-patch+json`), with the
//! semantics of `k8s.io/apimachinery/pkg/util/strategicpatch` as the apiserver
//! applies it to a stored object:
//!
//! - maps merge recursively; `null` deletes a member;
//! - lists whose field has patch strategy `merge` and a merge key merge item
//!   by item (same merge-key value: the items merge; new items are added);
//!   lists of primitives with strategy `merge` are unions; other lists are
//!   replaced by the patch's list;
//! - directives: `$patch: replace|delete` in a map, `$patch: delete|replace`
//!   items in a merged list, `$retainKeys`, `$setElementOrder/<field>`,
//!   `$deleteFromPrimitiveList/<field>`;
//! - order of a merged list: `$setElementOrder` when given, else the patch's
//!   items in patch order interleaved with the server-only items in server
//!   order.
//!
//! Errors carry upstream's messages and the status its handler gives them
//! (see [`PatchError`]).

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::error::{GoType, PatchError, bad_arg_type, go_format};
use super::field_meta::FieldPatchMeta;
use super::schema::{PatchSchema, SchemaCursor};

const DIRECTIVE_MARKER: &str = "$patch";
const DELETE_DIRECTIVE: &str = "delete";
const REPLACE_DIRECTIVE: &str = "replace";
const MERGE_DIRECTIVE: &str = "merge";
const RETAIN_KEYS_DIRECTIVE: &str = "$retainKeys";
const DELETE_FROM_PRIMITIVE_LIST_PREFIX: &str = "$deleteFromPrimitiveList";
const SET_ELEMENT_ORDER_PREFIX: &str = "$setElementOrder";

const ERR_BAD_JSON_DOC: &str = "invalid JSON document";
const ERR_NO_LIST_OF_LISTS: &str = "lists of lists are not supported";
const ERR_BAD_PRIMITIVE_LIST: &str = "invalid patch format of primitive list";
const ERR_BAD_RETAIN_KEYS: &str = "invalid patch format of retainKeys";
const ERR_BAD_SET_ELEMENT_ORDER: &str = "invalid patch format of setElementOrder list";

/// Applies the strategic merge patch `patch` to the object `doc`, using
/// `schema` for the lists' patch strategies and merge keys.
pub fn strategic_merge_patch(
    doc: &Value,
    patch: &Value,
    schema: &PatchSchema,
) -> Result<Value, PatchError> {
    let Value::Object(original) = doc else {
        return Err(PatchError::BadRequest(ERR_BAD_JSON_DOC.to_owned()));
    };
    let Value::Object(patch) = patch else {
        return Err(PatchError::BadRequest(format!(
            "json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
            json_kind(patch)
        )));
    };
    merge_map(original.clone(), patch.clone(), schema.root()).map(Value::Object)
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn internal(message: String) -> PatchError {
    PatchError::Internal(message)
}

fn no_merge_key(item: &Map<String, Value>, merge_key: &str) -> PatchError {
    internal(format!(
        "map: {} does not contain declared merge key: {merge_key}",
        go_format(&Value::Object(item.clone()))
    ))
}

fn unknown_patch_type(directive: &Value, map: &Map<String, Value>) -> PatchError {
    let directive = match directive {
        Value::String(text) => text.clone(),
        other => format!("%!s({}={})", GoType::of(other).go_name(), go_format(other)),
    };
    internal(format!(
        "unknown patch type: {directive} in map: {}",
        go_format(&Value::Object(map.clone()))
    ))
}

/// Merges `patch` into `original` (both maps) at the position `schema`.
fn merge_map(
    mut original: Map<String, Value>,
    mut patch: Map<String, Value>,
    schema: SchemaCursor<'_>,
) -> Result<Map<String, Value>, PatchError> {
    if let Some(directive) = patch.get(DIRECTIVE_MARKER) {
        return match directive.as_str() {
            Some(REPLACE_DIRECTIVE) => {
                patch.remove(DIRECTIVE_MARKER);
                Ok(patch)
            }
            Some(DELETE_DIRECTIVE) => Ok(Map::new()),
            _ => Err(unknown_patch_type(directive, &patch)),
        };
    }

    apply_retain_keys(&mut original, &mut patch)?;
    apply_set_element_order(&mut original, &mut patch, schema)?;

    for (patch_key, patch_value) in patch {
        let (key, is_delete_list) = if patch_key.starts_with(DELETE_FROM_PRIMITIVE_LIST_PREFIX) {
            let key = directive_field(&patch_key, DELETE_FROM_PRIMITIVE_LIST_PREFIX)
                .ok_or_else(|| PatchError::BadRequest(ERR_BAD_PRIMITIVE_LIST.to_owned()))?;
            (key.to_owned(), true)
        } else {
            (patch_key, false)
        };

        if patch_value.is_null() {
            original.remove(&key);
            continue;
        }

        let Some(original_value) = original.remove(&key) else {
            if !is_delete_list {
                insert_patch_value(&mut original, key, patch_value);
            }
            continue;
        };
        if GoType::of(&original_value) != GoType::of(&patch_value) {
            if is_delete_list {
                original.insert(key, original_value);
            } else {
                insert_patch_value(&mut original, key, patch_value);
            }
            continue;
        }

        let merged = match (original_value, patch_value) {
            (Value::Object(original_map), Value::Object(patch_map)) => {
                let (field_schema, _) = schema.field(&key)?;
                Value::Object(merge_map(original_map, patch_map, field_schema)?)
            }
            (Value::Array(original_list), Value::Array(patch_list)) => {
                let (items_schema, meta) = schema.list_field(&key)?;
                Value::Array(merge_list_field(
                    original_list,
                    patch_list,
                    items_schema,
                    non_retain_keys_strategy(&meta),
                    meta.patch_merge_key.unwrap_or(""),
                    is_delete_list,
                )?)
            }
            (_, scalar) => scalar,
        };
        original.insert(key, merged);
    }
    Ok(original)
}

/// Puts a patch value where the original has none (or one of another type):
/// its nulls dropped, its directives removed.
fn insert_patch_value(original: &mut Map<String, Value>, key: String, mut value: Value) {
    discard_nulls(&mut value);
    if let Some(value) = remove_directives(value) {
        original.insert(key, value);
    }
}

/// The field a `$prefix/<field>` directive key names.
fn directive_field<'key>(key: &'key str, prefix: &str) -> Option<&'key str> {
    match key.split_once('/') {
        Some((head, field)) if head == prefix => Some(field),
        _ => None,
    }
}

/// The strategy other than `retainKeys` (which only the `$retainKeys`
/// directive enforces): `merge`, or "" for none. (The built-in kinds' fields
/// have no `replace` strategy, so a map field always merges.)
fn non_retain_keys_strategy(meta: &FieldPatchMeta) -> &'static str {
    if meta.merges() { MERGE_DIRECTIVE } else { "" }
}

/// `$retainKeys`: every non-null member of the patch must be listed; members
/// of the original that are not listed are cleared.
fn apply_retain_keys(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
) -> Result<(), PatchError> {
    let Some(retain_keys) = patch.remove(RETAIN_KEYS_DIRECTIVE) else {
        return Ok(());
    };
    let Value::Array(retain_keys) = retain_keys else {
        return Err(PatchError::BadRequest(ERR_BAD_RETAIN_KEYS.to_owned()));
    };
    let retained: HashSet<&str> = retain_keys.iter().filter_map(Value::as_str).collect();
    for (key, value) in patch.iter() {
        if value.is_null()
            || key.starts_with(DELETE_FROM_PRIMITIVE_LIST_PREFIX)
            || key.starts_with(SET_ELEMENT_ORDER_PREFIX)
        {
            continue;
        }
        if !retained.contains(key.as_str()) {
            return Err(PatchError::BadRequest(ERR_BAD_RETAIN_KEYS.to_owned()));
        }
    }
    original.retain(|key, _| retained.contains(key.as_str()));
    Ok(())
}

/// Processes every `$setElementOrder/<field>` of `patch` with its list: merges
/// the list and orders the result by the directive.
fn apply_set_element_order(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
    schema: SchemaCursor<'_>,
) -> Result<(), PatchError> {
    let directive_keys: Vec<String> = patch
        .keys()
        .filter(|key| key.starts_with(SET_ELEMENT_ORDER_PREFIX))
        .cloned()
        .collect();
    for directive_key in directive_keys {
        let Some(order) = patch.remove(&directive_key) else {
            continue;
        };
        let Value::Array(order) = order else {
            return Err(bad_arg_type(GoType::Slice, &order));
        };
        let field = directive_field(&directive_key, SET_ELEMENT_ORDER_PREFIX)
            .ok_or_else(|| PatchError::BadRequest(ERR_BAD_SET_ELEMENT_ORDER.to_owned()))?
            .to_owned();

        let original_list = match original.get(&field) {
            None => None,
            Some(Value::Array(list)) => Some(list.clone()),
            Some(other) => return Err(bad_arg_type(GoType::Slice, other)),
        };
        let patch_list = match patch.get(&field) {
            None => None,
            Some(Value::Array(list)) => Some(list.clone()),
            Some(other) => return Err(bad_arg_type(GoType::Slice, other)),
        };
        let (items_schema, meta) = schema.list_field(&field)?;
        let strategy = non_retain_keys_strategy(&meta);
        let merge_key = meta.patch_merge_key.unwrap_or("");
        validate_patch_with_set_order(patch_list.as_deref().unwrap_or(&[]), &order, merge_key)?;

        let original_items = original_list.clone().unwrap_or_default();
        let patch_items = patch_list.clone().unwrap_or_default();
        let merged = match (original_list, patch_list) {
            (None, None) => continue,
            (Some(original_list), None) => original_list,
            (None, Some(patch_list)) => match remove_directives(Value::Array(patch_list)) {
                Some(Value::Array(list)) => list,
                _ => continue,
            },
            (Some(original_list), Some(patch_list)) => merge_list_field(
                original_list,
                patch_list,
                items_schema,
                strategy,
                merge_key,
                false,
            )?,
        };

        let (in_order, server_only) = partition_by_presence(merged, &order, merge_key)?;
        let kind = list_element_type(&[&original_items, &patch_items])?;
        let ordered = normalize_element_order(
            in_order,
            server_only,
            &order,
            &original_items,
            merge_key,
            kind,
        )?;
        original.insert(field.clone(), Value::Array(ordered));
        patch.remove(&field);
    }
    Ok(())
}

/// Checks that the patch list's items (deletions and directives aside) come
/// in the order of the `$setElementOrder` list and are all in it.
fn validate_patch_with_set_order(
    patch_list: &[Value],
    order: &[Value],
    merge_key: &str,
) -> Result<(), PatchError> {
    if patch_list.is_empty() || order.is_empty() {
        return Ok(());
    }
    let kept: Vec<&Value> = if merge_key.is_empty() {
        patch_list.iter().collect()
    } else {
        let mut kept = Vec::new();
        for item in patch_list {
            let Value::Object(map) = item else {
                return Err(bad_arg_type(GoType::Map, item));
            };
            if map.get(DIRECTIVE_MARKER).and_then(Value::as_str) != Some(DELETE_DIRECTIVE) {
                kept.push(item);
            }
        }
        kept
    };
    let (mut patch_index, mut order_index) = (0, 0);
    while patch_index < kept.len() && order_index < order.len() {
        let item = kept[patch_index];
        if item.get(DIRECTIVE_MARKER).is_some() && item.is_object() {
            patch_index += 1;
            continue;
        }
        if merge_key_values_equal(item, &order[order_index], merge_key)? {
            patch_index += 1;
        }
        order_index += 1;
    }
    if patch_index < kept.len() && order_index >= order.len() {
        return Err(internal(format!(
            "The order in patch list:\n{}\n doesn't match {SET_ELEMENT_ORDER_PREFIX} list:\n{}\n",
            go_format(&Value::Array(patch_list.to_vec())),
            go_format(&Value::Array(order.to_vec()))
        )));
    }
    Ok(())
}

fn merge_key_values_equal(
    left: &Value,
    right: &Value,
    merge_key: &str,
) -> Result<bool, PatchError> {
    if merge_key.is_empty() {
        return Ok(left == right);
    }
    let Value::Object(left_map) = left else {
        return Err(bad_arg_type(GoType::Map, left));
    };
    let Value::Object(right_map) = right else {
        return Err(bad_arg_type(GoType::Map, right));
    };
    let left_value = left_map
        .get(merge_key)
        .ok_or_else(|| no_merge_key(left_map, merge_key))?;
    let right_value = right_map
        .get(merge_key)
        .ok_or_else(|| no_merge_key(right_map, merge_key))?;
    Ok(left_value == right_value)
}

/// A list field: merged when its strategy is `merge` (or for a
/// `$deleteFromPrimitiveList`), else replaced by the patch's list.
fn merge_list_field(
    original: Vec<Value>,
    patch: Vec<Value>,
    items_schema: SchemaCursor<'_>,
    strategy: &str,
    merge_key: &str,
    is_delete_list: bool,
) -> Result<Vec<Value>, PatchError> {
    if strategy == MERGE_DIRECTIVE || is_delete_list {
        merge_list(original, patch, items_schema, merge_key, is_delete_list)
    } else {
        Ok(patch)
    }
}

fn merge_list(
    original: Vec<Value>,
    patch: Vec<Value>,
    items_schema: SchemaCursor<'_>,
    merge_key: &str,
    is_delete_list: bool,
) -> Result<Vec<Value>, PatchError> {
    if original.is_empty() && patch.is_empty() {
        return Ok(original);
    }
    let kind = list_element_type(&[&original, &patch])?;

    let (server_order, patch, merged) = if kind != GoType::Map {
        if is_delete_list {
            let deleted: HashSet<String> = patch.iter().map(value_key).collect();
            return Ok(original
                .into_iter()
                .filter(|item| !deleted.contains(&value_key(item)))
                .collect());
        }
        let mut merged: Vec<Value> = Vec::with_capacity(original.len() + patch.len());
        let mut seen = HashSet::with_capacity(original.len() + patch.len());
        for item in original.iter().chain(patch.iter()) {
            if seen.insert(value_key(item)) {
                merged.push(item.clone());
            }
        }
        (original, patch, merged)
    } else {
        if merge_key.is_empty() {
            return Err(internal(format!(
                "cannot merge lists without merge key for {}",
                items_schema.type_name()
            )));
        }
        let (original, patch) = apply_list_item_directives(original, patch, merge_key)?;
        let merged = merge_list_items(original.clone(), &patch, merge_key, items_schema)?;
        (original, patch, merged)
    };

    let (in_patch, server_only) = partition_by_presence(merged, &patch, merge_key)?;
    normalize_element_order(
        in_patch,
        server_only,
        &patch,
        &server_order,
        merge_key,
        kind,
    )
}

/// Handles the `$patch` items of a list of maps: `delete` removes the
/// original items with that merge-key value, `replace` makes the patch's
/// other items the whole list. Returns the original and the plain patch items.
fn apply_list_item_directives(
    mut original: Vec<Value>,
    patch: Vec<Value>,
    merge_key: &str,
) -> Result<(Vec<Value>, Vec<Value>), PatchError> {
    let mut plain = Vec::with_capacity(patch.len());
    let mut replace = false;
    let mut deleted = HashSet::new();
    for item in patch {
        let Value::Object(map) = &item else {
            return Err(bad_arg_type(GoType::Map, &item));
        };
        let Some(directive) = map.get(DIRECTIVE_MARKER) else {
            plain.push(item);
            continue;
        };
        match directive.as_str() {
            Some(DELETE_DIRECTIVE) => {
                let key_value = map
                    .get(merge_key)
                    .ok_or_else(|| no_merge_key(map, merge_key))?;
                deleted.insert(value_key(key_value));
            }
            Some(REPLACE_DIRECTIVE) => replace = true,
            Some(MERGE_DIRECTIVE) => {
                return Err(internal(
                    "merging lists cannot yet be specified in the patch".to_owned(),
                ));
            }
            _ => return Err(unknown_patch_type(directive, map)),
        }
    }
    if !deleted.is_empty() {
        let mut kept = Vec::with_capacity(original.len());
        for (index, candidate) in original.into_iter().enumerate() {
            let Value::Object(candidate_map) = &candidate else {
                return Err(internal(format!("value for key {index} is not a map")));
            };
            let doomed = candidate_map
                .get(merge_key)
                .is_some_and(|value| deleted.contains(&value_key(value)));
            if !doomed {
                kept.push(candidate);
            }
        }
        original = kept;
    }
    if replace {
        Ok((plain, Vec::new()))
    } else {
        Ok((original, plain))
    }
}

/// Merges each patch item into the original item with the same merge-key
/// value, or appends it.
fn merge_list_items(
    mut original: Vec<Value>,
    patch: &[Value],
    merge_key: &str,
    items_schema: SchemaCursor<'_>,
) -> Result<Vec<Value>, PatchError> {
    let mut index = MergeKeyIndex::of(&original, merge_key)?;
    for item in patch {
        let Value::Object(patch_map) = item else {
            return Err(bad_arg_type(GoType::Map, item));
        };
        let key_value = patch_map
            .get(merge_key)
            .ok_or_else(|| no_merge_key(patch_map, merge_key))?;
        match index.find(key_value) {
            Some(at) => {
                let Value::Object(original_map) = std::mem::take(&mut original[at]) else {
                    return Err(internal(format!("value for key {at} is not a map")));
                };
                original[at] =
                    Value::Object(merge_map(original_map, patch_map.clone(), items_schema)?);
            }
            None => {
                index.insert(key_value, original.len());
                original.push(item.clone());
            }
        }
    }
    Ok(original)
}

/// A hashable identity of a JSON value (serde_json's maps keep their keys
/// sorted, so equal values serialise alike), for membership and position
/// lookups that stay linear in a list's length.
fn value_key(value: &Value) -> String {
    value.to_string()
}

/// Where the first map of a list with each merge-key value is.
struct MergeKeyIndex(std::collections::HashMap<String, usize>);

impl MergeKeyIndex {
    /// Every item must be a map, as upstream's lookup requires.
    fn of(list: &[Value], merge_key: &str) -> Result<MergeKeyIndex, PatchError> {
        let mut index = MergeKeyIndex(std::collections::HashMap::with_capacity(list.len()));
        for (at, item) in list.iter().enumerate() {
            let Value::Object(map) = item else {
                return Err(internal(format!("value for key {at} is not a map")));
            };
            if let Some(value) = map.get(merge_key) {
                index.insert(value, at);
            }
        }
        Ok(index)
    }

    fn find(&self, value: &Value) -> Option<usize> {
        self.0.get(&value_key(value)).copied()
    }

    /// Records `at` for `value` unless an earlier item has it.
    fn insert(&mut self, value: &Value, at: usize) {
        self.0.entry(value_key(value)).or_insert(at);
    }
}

/// Splits `items` into those present in `by` (by merge key for maps) and the rest.
fn partition_by_presence(
    items: Vec<Value>,
    by: &[Value],
    merge_key: &str,
) -> Result<(Vec<Value>, Vec<Value>), PatchError> {
    let mut present = Vec::with_capacity(items.len());
    let mut absent = Vec::new();
    let by_value: HashSet<String> = if merge_key.is_empty() {
        by.iter().map(value_key).collect()
    } else {
        HashSet::new()
    };
    let by_key = if merge_key.is_empty() {
        None
    } else {
        Some(MergeKeyIndex::of(by, merge_key)?)
    };
    for item in items {
        let found = match &by_key {
            None => by_value.contains(&value_key(&item)),
            Some(by_key) => {
                let Value::Object(map) = &item else {
                    return Err(bad_arg_type(GoType::Map, &item));
                };
                let key_value = map
                    .get(merge_key)
                    .ok_or_else(|| no_merge_key(map, merge_key))?;
                by_key.find(key_value).is_some()
            }
        };
        if found {
            present.push(item);
        } else {
            absent.push(item);
        }
    }
    Ok((present, absent))
}

/// The one element type of the lists (maps, or one scalar type).
fn list_element_type(lists: &[&[Value]]) -> Result<GoType, PatchError> {
    let mut element_type = None;
    for item in lists.iter().flat_map(|list| list.iter()) {
        let item_type = GoType::of(item);
        match element_type {
            None if item_type == GoType::Slice => {
                return Err(PatchError::Unprocessable(ERR_NO_LIST_OF_LISTS.to_owned()));
            }
            None => element_type = Some(item_type),
            Some(previous) if previous != item_type || item_type == GoType::Nil => {
                let rendered: Vec<String> = lists
                    .iter()
                    .map(|list| go_format(&Value::Array(list.to_vec())))
                    .collect();
                return Err(internal(format!(
                    "list element types are not identical: [{}]",
                    rendered.join(" ")
                )));
            }
            Some(_) => {}
        }
    }
    element_type.ok_or_else(|| internal("no elements in any of the given slices".to_owned()))
}

/// Orders a merged list: the patch's items by `patch_order`, the server-only
/// items by `server_order`, then interleaves them keeping both orders.
fn normalize_element_order(
    patch_items: Vec<Value>,
    server_only: Vec<Value>,
    patch_order: &[Value],
    server_order: &[Value],
    merge_key: &str,
    kind: GoType,
) -> Result<Vec<Value>, PatchError> {
    let patch_items = sort_by_order(patch_items, patch_order, merge_key, kind)?;
    let server_only = sort_by_order(server_only, server_order, merge_key, kind)?;
    Ok(interleave(
        server_only,
        patch_items,
        server_order,
        merge_key,
        kind,
    ))
}

/// What identifies an item for ordering: its merge-key value for maps, the
/// item itself otherwise.
fn identity<'value>(item: &'value Value, merge_key: &str, kind: GoType) -> Option<&'value Value> {
    if kind == GoType::Map {
        item.as_object().and_then(|map| map.get(merge_key))
    } else {
        Some(item)
    }
}

/// The first position of each item identity in an order list, looked up
/// in constant time.
struct Positions<'a> {
    first: std::collections::HashMap<String, usize>,
    merge_key: &'a str,
    kind: GoType,
}

impl<'a> Positions<'a> {
    fn of(order: &[Value], merge_key: &'a str, kind: GoType) -> Positions<'a> {
        let mut first = std::collections::HashMap::with_capacity(order.len());
        for (at, item) in order.iter().enumerate() {
            if let Some(identity) = identity(item, merge_key, kind) {
                first.entry(value_key(identity)).or_insert(at);
            }
        }
        Positions {
            first,
            merge_key,
            kind,
        }
    }

    fn of_item(&self, item: &Value) -> Option<usize> {
        let identity = identity(item, self.merge_key, self.kind)?;
        self.first.get(&value_key(identity)).copied()
    }
}

/// Sorts `items` by their position in `order` (stable; `$patch: delete` items
/// go last). Items missing from `order` are placed as upstream's insertion
/// sort places them.
fn sort_by_order(
    items: Vec<Value>,
    order: &[Value],
    merge_key: &str,
    kind: GoType,
) -> Result<Vec<Value>, PatchError> {
    let mut items = items;
    let mut deletions = Vec::new();
    if kind == GoType::Map {
        for item in items.iter().chain(order.iter()) {
            let Value::Object(map) = item else {
                return Err(bad_arg_type(GoType::Map, item));
            };
            if !map.contains_key(merge_key) {
                return Err(no_merge_key(map, merge_key));
            }
        }
        let (kept, deleted): (Vec<Value>, Vec<Value>) = items.into_iter().partition(|item| {
            item.get(DIRECTIVE_MARKER).and_then(Value::as_str) != Some(DELETE_DIRECTIVE)
        });
        items = kept;
        deletions = deleted;
    }
    let positions = Positions::of(order, merge_key, kind);
    let keyed: Vec<(Option<usize>, Value)> = items
        .into_iter()
        .map(|item| (positions.of_item(&item), item))
        .collect();
    let mut sorted = insertion_order(keyed);
    sorted.extend(deletions);
    Ok(sorted)
}

/// The result of upstream's insertion sort of `keyed` with its comparison,
/// which says "less" whenever either side is missing from the order (so an
/// item without a position moves to the front, and an item with one moves
/// left over items without one and over items with a larger one), computed
/// in n·log n rather than n²: the items with a position stay sorted among
/// themselves, each followed by the positionless items that came to rest
/// after it.
fn insertion_order(keyed: Vec<(Option<usize>, Value)>) -> Vec<Value> {
    use std::collections::BTreeMap;
    // Positionless items in front of every positioned one, newest first.
    let mut front: Vec<Value> = Vec::new();
    // Positioned items by (position, arrival), each with the positionless
    // items that follow it, newest first.
    let mut placed: BTreeMap<(usize, usize), (Value, Vec<Value>)> = BTreeMap::new();
    for (arrival, (position, item)) in keyed.into_iter().enumerate() {
        match position {
            None => front.push(item),
            Some(position) => {
                // It stops right after the last item placed at or before
                // its position and takes over what followed that item; with
                // none, it goes to the very front, before the positionless.
                let followers = match placed.range_mut(..=(position, usize::MAX)).next_back() {
                    Some((_, (_, followers))) => std::mem::take(followers),
                    None => std::mem::take(&mut front),
                };
                placed.insert((position, arrival), (item, followers));
            }
        }
    }
    let mut sorted = Vec::new();
    sorted.extend(front.into_iter().rev());
    for (_, (item, followers)) in placed {
        sorted.push(item);
        sorted.extend(followers.into_iter().rev());
    }
    sorted
}

/// Merges the sorted server-only items (`left`) into the sorted patch items
/// (`right`): a server-only item goes first when both are in the server
/// order and it comes earlier there.
fn interleave(
    left: Vec<Value>,
    right: Vec<Value>,
    server_order: &[Value],
    merge_key: &str,
    kind: GoType,
) -> Vec<Value> {
    let positions = Positions::of(server_order, merge_key, kind);
    let mut result = Vec::with_capacity(left.len() + right.len());
    let mut left = left.into_iter().peekable();
    let mut right = right.into_iter().peekable();
    loop {
        let take_left = match (left.peek(), right.peek()) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(left_item), Some(right_item)) => {
                match (positions.of_item(left_item), positions.of_item(right_item)) {
                    (Some(left_position), Some(right_position)) => left_position < right_position,
                    _ => false,
                }
            }
        };
        let next = if take_left { left.next() } else { right.next() };
        if let Some(item) = next {
            result.push(item);
        }
    }
    result
}

/// Drops the `null` members of maps, recursively (a patch value that lands
/// where the original has nothing).
fn discard_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, member| !member.is_null());
            map.values_mut().for_each(discard_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(discard_nulls),
        _ => {}
    }
}

/// Removes directive maps (those with `$patch`) from a value; `None` when the
/// value itself is one.
fn remove_directives(value: Value) -> Option<Value> {
    match value {
        Value::Object(map) => {
            if map.contains_key(DIRECTIVE_MARKER) {
                return None;
            }
            let cleaned = map
                .into_iter()
                .filter_map(|(key, member)| remove_directives(member).map(|member| (key, member)))
                .collect();
            Some(Value::Object(cleaned))
        }
        Value::Array(items) => Some(Value::Array(
            items.into_iter().filter_map(remove_directives).collect(),
        )),
        other => Some(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::core::v1::Pod;
    use serde_json::json;

    fn pod() -> Value {
        json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": "p",
                "labels": {"app": "web", "tier": "front"},
                "finalizers": ["a", "b"]
            },
            "spec": {
                "containers": [
                    {
                        "name": "c",
                        "image": "nginx:3",
                        "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                        "ports": [{"containerPort": 80, "protocol": "TCP"}]
                    },
                    {"name": "sidecar", "image": "busybox"}
                ]
            }
        })
    }

    fn patch_pod(patch: Value) -> Result<Value, PatchError> {
        strategic_merge_patch(&pod(), &patch, &PatchSchema::of::<Pod>())
    }

    #[test]
    fn kubectl_apply_image_change_with_set_element_order() {
        let patched = patch_pod(json!({
            "metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}},
            "spec": {
                "$setElementOrder/containers": [{"name": "c"}, {"name": "sidecar"}],
                "containers": [{"image": "nginx:4", "name": "c"}]
            }
        }))
        .unwrap();
        let containers = &patched["spec"]["containers"];
        assert_eq!(containers[0]["name"], "c");
        assert_eq!(containers[0]["image"], "nginx:4");
        assert_eq!(
            containers[0]["env"][1]["name"], "B",
            "untouched fields stay"
        );
        assert_eq!(containers[1]["name"], "sidecar");
        assert_eq!(
            patched["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"],
            "{}"
        );
        assert_eq!(patched["metadata"]["labels"]["tier"], "front");
    }

    #[test]
    fn set_element_order_reorders_and_places_new_items() {
        let patched = patch_pod(json!({"spec": {
            "$setElementOrder/containers": [{"name": "new"}, {"name": "sidecar"}, {"name": "c"}],
            "containers": [{"name": "new", "image": "redis"}]
        }}))
        .unwrap();
        let names: Vec<&str> = patched["spec"]["containers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|container| container["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, vec!["new", "sidecar", "c"]);
    }

    #[test]
    fn adding_and_removing_containers() {
        let added =
            patch_pod(json!({"spec": {"containers": [{"name": "extra", "image": "redis"}]}}))
                .unwrap();
        let names: Vec<&str> = added["spec"]["containers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|container| container["name"].as_str().unwrap())
            .collect();
        // Without $setElementOrder upstream puts a new item before the
        // server-only ones (what `kubectl patch` users see).
        assert_eq!(names, vec!["extra", "c", "sidecar"]);

        let removed = patch_pod(json!({"spec": {
            "$setElementOrder/containers": [{"name": "c"}],
            "containers": [{"$patch": "delete", "name": "sidecar"}]
        }}))
        .unwrap();
        assert_eq!(removed["spec"]["containers"].as_array().unwrap().len(), 1);
        assert_eq!(removed["spec"]["containers"][0]["name"], "c");
    }

    #[test]
    fn env_merges_by_name_and_null_deletes() {
        let patched = patch_pod(json!({"spec": {"containers": [{
            "name": "c",
            "env": [{"name": "B", "value": "20"}, {"name": "C", "value": "3"}]
        }]}, "metadata": {"labels": {"tier": null}}}))
        .unwrap();
        assert_eq!(
            patched["spec"]["containers"][0]["env"],
            json!([{"name": "A", "value": "1"}, {"name": "B", "value": "20"}, {"name": "C", "value": "3"}])
        );
        assert_eq!(patched["metadata"]["labels"], json!({"app": "web"}));
    }

    #[test]
    fn ports_merge_by_container_port() {
        let patched = patch_pod(json!({"spec": {"containers": [{
            "name": "c",
            "ports": [{"containerPort": 80, "name": "http"}, {"containerPort": 443}]
        }]}}))
        .unwrap();
        assert_eq!(
            patched["spec"]["containers"][0]["ports"],
            json!([{"containerPort": 80, "protocol": "TCP", "name": "http"}, {"containerPort": 443}])
        );
    }

    #[test]
    fn patch_replace_and_delete_directives() {
        let replaced = patch_pod(json!({"spec": {"containers": [
            {"$patch": "replace"},
            {"name": "only", "image": "x"}
        ]}}))
        .unwrap();
        assert_eq!(
            replaced["spec"]["containers"],
            json!([{"name": "only", "image": "x"}])
        );

        let map_replaced =
            patch_pod(json!({"metadata": {"labels": {"$patch": "replace", "new": "1"}}})).unwrap();
        assert_eq!(map_replaced["metadata"]["labels"], json!({"new": "1"}));

        let map_deleted = patch_pod(json!({"metadata": {"labels": {"$patch": "delete"}}})).unwrap();
        assert_eq!(map_deleted["metadata"]["labels"], json!({}));

        let error = patch_pod(json!({"metadata": {"labels": {"$patch": "merge"}}})).unwrap_err();
        assert_eq!(
            error.to_string(),
            "unknown patch type: merge in map: map[$patch:merge]"
        );

        let error = patch_pod(json!({"spec": {"containers": [{"$patch": "merge", "name": "c"}]}}))
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "merging lists cannot yet be specified in the patch"
        );
    }

    #[test]
    fn missing_merge_key_is_an_error() {
        let error = patch_pod(json!({"spec": {"containers": [{"image": "x"}]}})).unwrap_err();
        assert_eq!(
            error.to_string(),
            "map: map[image:x] does not contain declared merge key: name"
        );
        assert_eq!(error.status_code(), 500);
    }

    #[test]
    fn retain_keys_on_deployment_strategy() {
        let deployment = json!({
            "spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}
        });
        let schema = PatchSchema::of::<Deployment>();
        let patched = strategic_merge_patch(
            &deployment,
            &json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}),
            &schema,
        )
        .unwrap();
        assert_eq!(patched["spec"]["strategy"], json!({"type": "Recreate"}));

        let error = strategic_merge_patch(
            &deployment,
            &json!({"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {"maxSurge": 2}}}}),
            &schema,
        )
        .unwrap_err();
        assert!(error.is_bad_request());
        assert_eq!(error.to_string(), "invalid patch format of retainKeys");
    }

    #[test]
    fn primitive_list_union_and_delete_from_primitive_list() {
        let union = patch_pod(json!({"metadata": {"finalizers": ["c", "a"]}})).unwrap();
        // Patch items first, in patch order, unless the server order puts a
        // server-only item before them (upstream's interleaving).
        assert_eq!(union["metadata"]["finalizers"], json!(["c", "a", "b"]));

        let ordered = patch_pod(json!({"metadata": {
            "$setElementOrder/finalizers": ["a", "c"],
            "$deleteFromPrimitiveList/finalizers": ["b"],
            "finalizers": ["c"]
        }}))
        .unwrap();
        assert_eq!(ordered["metadata"]["finalizers"], json!(["a", "c"]));

        let error =
            patch_pod(json!({"metadata": {"$deleteFromPrimitiveList": ["b"]}})).unwrap_err();
        assert!(error.is_bad_request());
        assert_eq!(error.to_string(), "invalid patch format of primitive list");
    }

    #[test]
    fn lists_without_merge_strategy_are_replaced() {
        let patched =
            patch_pod(json!({"spec": {"containers": [{"name": "c", "args": ["x"]}]}})).unwrap();
        assert_eq!(patched["spec"]["containers"][0]["args"], json!(["x"]));
        let patched = strategic_merge_patch(
            &patched,
            &json!({"spec": {"containers": [{"name": "c", "args": ["y"]}]}}),
            &PatchSchema::of::<Pod>(),
        )
        .unwrap();
        assert_eq!(patched["spec"]["containers"][0]["args"], json!(["y"]));
    }

    #[test]
    fn unstructured_replaces_lists_and_merges_maps() {
        let doc = json!({"spec": {"items": [{"name": "a"}, {"name": "b"}], "keep": 1}});
        let patched = strategic_merge_patch(
            &doc,
            &json!({"spec": {"items": [{"name": "c"}], "added": true}}),
            &PatchSchema::unstructured(),
        )
        .unwrap();
        assert_eq!(
            patched,
            json!({"spec": {"items": [{"name": "c"}], "keep": 1, "added": true}})
        );
    }

    #[test]
    fn bad_set_element_order_and_list_of_lists() {
        let error = patch_pod(json!({"spec": {"$setElementOrder": [{"name": "c"}]}})).unwrap_err();
        assert!(error.is_bad_request());
        assert_eq!(
            error.to_string(),
            "invalid patch format of setElementOrder list"
        );

        let error = patch_pod(json!({"spec": {
            "$setElementOrder/containers": [{"name": "c"}],
            "containers": [{"name": "sidecar", "image": "x"}]
        }}))
        .unwrap_err();
        assert!(
            error.to_string().starts_with("The order in patch list:"),
            "{error}"
        );

        let error = patch_pod(json!({"metadata": {"finalizers": [["x"]]}})).unwrap_err();
        assert_eq!(
            error.to_string(),
            "list element types are not identical: [[a b] [[x]]]"
        );
        let doc = json!({"metadata": {"finalizers": []}});
        let patch = json!({"metadata": {"finalizers": [["x"]]}});
        let error = strategic_merge_patch(&doc, &patch, &PatchSchema::of::<Pod>()).unwrap_err();
        assert_eq!(error.status_code(), 422);
        assert_eq!(error.to_string(), "lists of lists are not supported");
    }

    #[test]
    fn non_object_inputs_are_rejected() {
        assert!(patch_pod(json!([1])).unwrap_err().is_bad_request());
        let error = strategic_merge_patch(&json!([]), &json!({}), &PatchSchema::unstructured())
            .unwrap_err();
        assert_eq!(error.to_string(), "invalid JSON document");
    }

    fn names(list: &Value) -> Vec<String> {
        list.as_array()
            .into_iter()
            .flatten()
            .map(|item| item["name"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    fn pod_with_containers(names: &[&str]) -> Value {
        let containers: Vec<Value> = names.iter().map(|name| json!({"name": name})).collect();
        json!({"spec": {"containers": containers}})
    }

    /// Upstream case "set elements order in a list with server-only items".
    #[test]
    fn set_element_order_keeps_server_only_items_in_place() {
        let doc = pod_with_containers(&["1", "3", "4", "2", "9"]);
        let patch = json!({"spec": {"$setElementOrder/containers":
            [{"name": "4"}, {"name": "2"}, {"name": "3"}, {"name": "1"}]}});
        let patched = strategic_merge_patch(&doc, &patch, &PatchSchema::of::<Pod>()).unwrap();
        assert_eq!(
            names(&patched["spec"]["containers"]),
            ["4", "2", "3", "1", "9"]
        );
    }

    /// Upstream case "$setElementOrder contains item that is not present in
    /// the list to be merged".
    #[test]
    fn set_element_order_may_name_absent_items() {
        let doc = pod_with_containers(&["1", "3"]);
        let patch = json!({"spec": {
            "$setElementOrder/containers": [{"name": "3"}, {"name": "2"}, {"name": "1"}],
            "containers": [{"name": "3", "image": "x"}, {"name": "1", "image": "y"}]
        }});
        let patched = strategic_merge_patch(&doc, &patch, &PatchSchema::of::<Pod>()).unwrap();
        assert_eq!(
            patched["spec"]["containers"],
            json!([{"name": "3", "image": "x"}, {"name": "1", "image": "y"}])
        );

        let doc = json!({"metadata": {"finalizers": ["1", "3"]}});
        let patch = json!({"metadata": {"$setElementOrder/finalizers": ["3", "2", "1"]}});
        let patched = strategic_merge_patch(&doc, &patch, &PatchSchema::of::<Pod>()).unwrap();
        assert_eq!(patched["metadata"]["finalizers"], json!(["3", "1"]));
    }

    #[test]
    fn delete_from_primitive_list_of_absent_items_changes_nothing() {
        let doc = json!({"metadata": {"finalizers": ["1", "2"]}});
        let patch = json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["3"]}});
        let patched = strategic_merge_patch(&doc, &patch, &PatchSchema::of::<Pod>()).unwrap();
        assert_eq!(patched["metadata"]["finalizers"], json!(["1", "2"]));

        let doc = json!({"metadata": {}});
        let patched = strategic_merge_patch(&doc, &patch, &PatchSchema::of::<Pod>()).unwrap();
        assert_eq!(patched["metadata"], json!({}));
    }

    #[test]
    fn retain_keys_on_volumes_switches_the_volume_source() {
        let doc = json!({"spec": {"volumes": [
            {"name": "data", "hostPath": {"path": "/srv"}},
            {"name": "cache", "emptyDir": {}}
        ]}});
        let patch = json!({"spec": {
            "$setElementOrder/volumes": [{"name": "data"}, {"name": "cache"}],
            "volumes": [{"$retainKeys": ["emptyDir", "name"], "emptyDir": {"medium": "Memory"}, "name": "data"}]
        }});
        let patched = strategic_merge_patch(&doc, &patch, &PatchSchema::of::<Pod>()).unwrap();
        assert_eq!(
            patched["spec"]["volumes"],
            json!([
                {"name": "data", "emptyDir": {"medium": "Memory"}},
                {"name": "cache", "emptyDir": {}}
            ])
        );
    }

    #[test]
    fn new_items_lose_nulls_and_directives() {
        let doc = json!({"metadata": {"name": "p"}});
        let patch = json!({"metadata": {"labels": {"a": "1", "b": null}}, "spec": {"containers": [
            {"name": "c", "image": null},
            {"name": "gone", "$patch": "delete"}
        ]}});
        let patched = strategic_merge_patch(&doc, &patch, &PatchSchema::of::<Pod>()).unwrap();
        assert_eq!(patched["metadata"]["labels"], json!({"a": "1"}));
        assert_eq!(patched["spec"]["containers"], json!([{"name": "c"}]));
    }

    /// The n·log n ordering gives exactly what upstream's insertion sort
    /// with its "missing is less" comparison gives (the sort replayed here).
    #[test]
    fn insertion_order_matches_upstreams_insertion_sort() {
        fn replayed(mut keyed: Vec<(Option<usize>, Value)>) -> Vec<Value> {
            let less = |left: Option<usize>, right: Option<usize>| match (left, right) {
                (Some(left), Some(right)) => left < right,
                _ => true,
            };
            for start in 1..keyed.len() {
                let mut index = start;
                while index > 0 && less(keyed[index].0, keyed[index - 1].0) {
                    keyed.swap(index, index - 1);
                    index -= 1;
                }
            }
            keyed.into_iter().map(|(_, item)| item).collect()
        }
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move |bound: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % bound
        };
        for _ in 0..5000 {
            let len = next(14) as usize;
            let keyed: Vec<(Option<usize>, Value)> = (0..len)
                .map(|i| {
                    let position = (next(3) != 0).then(|| next(6) as usize);
                    (position, json!(i))
                })
                .collect();
            assert_eq!(
                insertion_order(keyed.clone()),
                replayed(keyed.clone()),
                "{keyed:?}"
            );
        }
    }

    #[test]
    fn scalar_and_type_changes_replace() {
        let doc = json!({"spec": {"nodeName": "a", "nodeSelector": {"x": "1"}}});
        let patch = json!({"spec": {"nodeName": "b", "nodeSelector": "oops"}});
        let patched = strategic_merge_patch(&doc, &patch, &PatchSchema::of::<Pod>()).unwrap();
        assert_eq!(
            patched["spec"],
            json!({"nodeName": "b", "nodeSelector": "oops"})
        );
    }
}
