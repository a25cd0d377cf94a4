//! A version's OpenAPI v3 schema as custom objects meet it (upstream's
//! `apiextensions-apiserver/pkg/apiserver/schema`): compiled once per
//! definition from `JSONSchemaProps` (which also checks that it is
//! structural), then used to prune undeclared fields, fill defaults and
//! validate objects with kube-openapi's messages. Every pass is one walk
//! of the object; patterns are compiled regular expressions (linear time).

use std::collections::{BTreeMap, HashMap, HashSet};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    JSONSchemaProps, JSONSchemaPropsOrArray, JSONSchemaPropsOrBool,
};
use regex::Regex;
use serde_json::{Map, Value};

use apimachinery::validation::field::{Error, ErrorList, Path};

use super::cel::{self, Position, RuleCheck};

/// The OpenAPI types a structural schema may name.
const TYPES: [&str; 6] = ["array", "boolean", "integer", "number", "object", "string"];

/// The list types of `x-kubernetes-list-type`.
const LIST_TYPES: [&str; 3] = ["atomic", "set", "map"];

/// One node of a structural schema.
#[derive(Debug, Default)]
pub struct Node {
    /// Empty when the node leaves the type open (int-or-string, preserved).
    pub(super) kind: String,
    pub(super) nullable: bool,
    pub(super) int_or_string: bool,
    pub(super) preserve_unknown_fields: bool,
    pub(super) embedded_resource: bool,
    pub(super) properties: BTreeMap<String, Node>,
    /// `additionalProperties` with a schema: a map of these.
    pub(super) additional_properties: Option<Box<Node>>,
    pub(super) items: Option<Box<Node>>,
    pub(super) required: Vec<String>,
    pub(super) enum_values: Vec<Value>,
    pub(super) minimum: Option<(f64, bool)>,
    pub(super) maximum: Option<(f64, bool)>,
    pub(super) min_length: Option<i64>,
    pub(super) max_length: Option<i64>,
    pub(super) min_items: Option<i64>,
    pub(super) max_items: Option<i64>,
    pub(super) min_properties: Option<i64>,
    pub(super) max_properties: Option<i64>,
    pub(super) pattern: Option<(String, Regex)>,
    pub(super) default: Option<Value>,
    pub(super) list_type: Option<String>,
    pub(super) list_map_keys: Vec<String>,
    /// Its `x-kubernetes-validations`, compiled.
    pub(super) rules: Vec<cel::Rule>,
    /// It or a node below it has rules.
    pub(super) has_rules: bool,
    /// At the root: the estimated cost of all the schema's rules.
    pub(super) rules_cost: u64,
}

impl Node {
    /// The schema of `properties[name]`, if declared.
    pub fn property(&self, name: &str) -> Option<&Node> {
        self.properties.get(name)
    }

    /// The OpenAPI type (`integer`, `string`...), empty when open.
    pub fn kind(&self) -> &str {
        &self.kind
    }

    pub fn items(&self) -> Option<&Node> {
        self.items.as_deref()
    }

    /// The schema has `x-kubernetes-validations` rules somewhere.
    pub fn has_rules(&self) -> bool {
        self.has_rules
    }

    /// Evaluating the schema's rules is heavy work (their estimated cost
    /// is high): it belongs off the async workers.
    pub fn rules_are_heavy(&self) -> bool {
        cel::is_heavy(self.rules_cost)
    }
}

/// Compiles `props` at `path` (the CRD field holding it), checking the
/// rules of a structural schema that objects are pruned and validated by,
/// and its `x-kubernetes-validations` rules (syntax, references, cost).
pub fn compile(props: &JSONSchemaProps, path: &Path) -> Result<Node, ErrorList> {
    let (node, mut errors, rule_errors) = compile_with_rules(props, path);
    errors.extend(rule_errors);
    if errors.is_empty() {
        Ok(node)
    } else {
        Err(errors)
    }
}

/// Compiles the schema of a stored definition for serving it: its rules'
/// errors were reported when it was written (a definition stored by an
/// earlier version may have some), so the rules that compile are kept and
/// the others left out, rather than leaving the resource unserved.
pub fn compile_served(props: &JSONSchemaProps, path: &Path) -> Result<Node, ErrorList> {
    let (node, errors, rule_errors) = compile_with_rules(props, path);
    for error in &rule_errors {
        tracing::warn!(%error, "a custom resource's validation rule is not enforced");
    }
    if errors.is_empty() {
        Ok(node)
    } else {
        Err(errors)
    }
}

/// The node, the schema's structural errors and its rules' errors.
fn compile_with_rules(props: &JSONSchemaProps, path: &Path) -> (Node, ErrorList, ErrorList) {
    let mut errors = Vec::new();
    match props.type_.as_deref() {
        None | Some("") => errors.push(Error::required(
            &path.child("type"),
            "must not be empty at the root",
        )),
        Some("object") => {}
        Some(other) => errors.push(Error::invalid(
            &path.child("type"),
            other,
            "must be object at the root",
        )),
    }
    let mut rules = RuleCheck::default();
    let mut node = compile_node(props, path, Position::ROOT, &mut rules, &mut errors);
    node.rules_cost = rules.total();
    (node, errors, rules.finish(path))
}

/// The position of a list's items or a map's values under a node at
/// `position`: as many times as the list or map can hold them.
fn entry_position(
    position: Position,
    bound: Option<i64>,
    entry: &JSONSchemaProps,
    overhead: u64,
    correlatable: bool,
) -> Position {
    let entry_size = cel::min_json_size(
        entry.type_.as_deref().unwrap_or_default(),
        entry.nullable == Some(true),
    );
    Position {
        cardinality: position
            .cardinality
            .saturating_mul(cel::entries_bound(bound, entry_size, overhead)),
        correlatable: position.correlatable && correlatable,
        resource_root: entry.x_kubernetes_embedded_resource == Some(true),
    }
}

fn compile_node(
    props: &JSONSchemaProps,
    path: &Path,
    position: Position,
    rules: &mut RuleCheck,
    errors: &mut ErrorList,
) -> Node {
    let int_or_string = props.x_kubernetes_int_or_string == Some(true);
    let preserve = props.x_kubernetes_preserve_unknown_fields == Some(true);
    let kind = props.type_.clone().unwrap_or_default();
    if kind.is_empty() {
        if !int_or_string && !preserve {
            errors.push(Error::required(
                &path.child("type"),
                "must not be empty for specified object fields",
            ));
        }
    } else if !TYPES.contains(&kind.as_str()) {
        errors.push(Error::not_supported(
            &path.child("type"),
            kind.as_str(),
            &TYPES,
        ));
    } else if int_or_string {
        errors.push(Error::invalid(
            &path.child("type"),
            kind.as_str(),
            "must be empty if x-kubernetes-int-or-string is true",
        ));
    }
    if props.ref_path.is_some() {
        errors.push(Error::forbidden(
            &path.child("$ref"),
            "$ref is not supported",
        ));
    }
    if props.x_kubernetes_embedded_resource == Some(true) && kind != "object" {
        errors.push(Error::invalid(
            &path.child("type"),
            kind.as_str(),
            "must be object if x-kubernetes-embedded-resource is true",
        ));
    }
    let mut node = Node {
        kind,
        nullable: props.nullable == Some(true),
        int_or_string,
        preserve_unknown_fields: preserve,
        embedded_resource: props.x_kubernetes_embedded_resource == Some(true),
        required: props.required.clone().unwrap_or_default(),
        enum_values: props
            .enum_
            .iter()
            .flatten()
            .map(|value| value.0.clone())
            .collect(),
        minimum: props
            .minimum
            .map(|min| (min, props.exclusive_minimum == Some(true))),
        maximum: props
            .maximum
            .map(|max| (max, props.exclusive_maximum == Some(true))),
        min_length: props.min_length,
        max_length: props.max_length,
        min_items: props.min_items,
        max_items: props.max_items,
        min_properties: props.min_properties,
        max_properties: props.max_properties,
        default: props.default.as_ref().map(|value| value.0.clone()),
        list_type: props.x_kubernetes_list_type.clone(),
        list_map_keys: props.x_kubernetes_list_map_keys.clone().unwrap_or_default(),
        ..Node::default()
    };
    if let Some(pattern) = &props.pattern {
        match Regex::new(pattern) {
            Ok(regex) => node.pattern = Some((pattern.clone(), regex)),
            Err(err) => errors.push(Error::invalid(
                &path.child("pattern"),
                pattern.as_str(),
                format!("must be a valid regular expression, but isn't: {err}"),
            )),
        }
    }
    let properties_path = path.child("properties");
    for (name, child) in props.properties.iter().flatten() {
        let child_position = Position {
            resource_root: child.x_kubernetes_embedded_resource == Some(true),
            ..position
        };
        node.properties.insert(
            name.clone(),
            compile_node(
                child,
                &properties_path.key(name),
                child_position,
                rules,
                errors,
            ),
        );
    }
    if !node.properties.is_empty() && node.kind != "object" && !node.kind.is_empty() {
        errors.push(Error::forbidden(
            &properties_path,
            "must not be specified for a type other than object",
        ));
    }
    match &props.additional_properties {
        Some(JSONSchemaPropsOrBool::Schema(child)) => {
            if !node.properties.is_empty() {
                errors.push(Error::forbidden(
                    &path.child("additionalProperties"),
                    "additionalProperties and properties are mutual exclusive",
                ));
            }
            let child_position = entry_position(position, props.max_properties, child, 4, true);
            node.additional_properties = Some(Box::new(compile_node(
                child,
                &path.child("additionalProperties"),
                child_position,
                rules,
                errors,
            )));
        }
        Some(JSONSchemaPropsOrBool::Bool(false)) | None => {}
        Some(JSONSchemaPropsOrBool::Bool(true)) => {
            // `additionalProperties: true` keeps every field, as preserving does.
            node.preserve_unknown_fields = true;
        }
    }
    match &props.items {
        Some(JSONSchemaPropsOrArray::Schema(child)) => {
            // An update's old item is found by its keys in a `map` list
            // only.
            let keyed = props.x_kubernetes_list_type.as_deref() == Some("map");
            let child_position = entry_position(position, props.max_items, child, 1, keyed);
            node.items = Some(Box::new(compile_node(
                child,
                &path.child("items"),
                child_position,
                rules,
                errors,
            )));
        }
        Some(JSONSchemaPropsOrArray::Schemas(_)) => errors.push(Error::forbidden(
            &path.child("items"),
            "items must be a schema object and not an array",
        )),
        None if node.kind == "array" => {
            errors.push(Error::required(&path.child("items"), "must be specified"));
        }
        None => {}
    }
    if let Some(list_type) = &node.list_type {
        let list_type_path = path.child("x-kubernetes-list-type");
        if !LIST_TYPES.contains(&list_type.as_str()) {
            errors.push(Error::not_supported(
                &list_type_path,
                list_type.as_str(),
                &LIST_TYPES,
            ));
        } else if node.kind != "array" {
            errors.push(Error::invalid(
                &list_type_path,
                list_type.as_str(),
                "must only be used if type is array",
            ));
        } else if list_type == "map" && node.list_map_keys.is_empty() {
            errors.push(Error::required(
                &path.child("x-kubernetes-list-map-keys"),
                "must not be empty if x-kubernetes-list-type is map",
            ));
        }
    }
    if let Some(validations) = props.x_kubernetes_validations.as_deref()
        && !validations.is_empty()
    {
        node.rules = cel::compile_rules(validations, &node, path, position, rules);
    }
    node.has_rules = !node.rules.is_empty()
        || node.properties.values().any(|child| child.has_rules)
        || node
            .additional_properties
            .as_ref()
            .is_some_and(|n| n.has_rules)
        || node.items.as_ref().is_some_and(|n| n.has_rules);
    node
}

/// Drops from `value` (a whole object, or the part `node` describes) what
/// `node` does not declare, and returns the dropped fields' paths. The
/// root of an object and of an embedded resource keeps `apiVersion`,
/// `kind` and `metadata`.
pub fn prune(value: &mut Value, node: &Node, root: bool) -> Vec<String> {
    let mut pruned = Vec::new();
    prune_at(value, node, root, &Path::default(), &mut pruned);
    pruned
}

fn prune_at(value: &mut Value, node: &Node, keep_meta: bool, path: &Path, out: &mut Vec<String>) {
    match value {
        Value::Object(fields) => {
            if let Some(additional) = &node.additional_properties {
                for (key, child) in fields.iter_mut() {
                    prune_at(child, additional, false, &path.child(key), out);
                }
                return;
            }
            let mut dropped = Vec::new();
            for (key, child) in fields.iter_mut() {
                if keep_meta && matches!(key.as_str(), "apiVersion" | "kind" | "metadata") {
                    // Type metadata and object metadata are kept whole; the
                    // typed metadata decode drops what it does not know.
                    continue;
                }
                match node.properties.get(key) {
                    Some(child_node) => prune_at(
                        child,
                        child_node,
                        child_node.embedded_resource,
                        &path.child(key),
                        out,
                    ),
                    None if node.preserve_unknown_fields => {}
                    None => dropped.push(key.clone()),
                }
            }
            for key in dropped {
                fields.remove(&key);
                out.push(path.child(&key).to_string());
            }
        }
        Value::Array(items) => {
            if let Some(item_node) = &node.items {
                for (index, item) in items.iter_mut().enumerate() {
                    prune_at(
                        item,
                        item_node,
                        item_node.embedded_resource,
                        &path.index(index),
                        out,
                    );
                }
            }
        }
        _ => {}
    }
}

/// Fills every absent field that has a default, the defaults of the
/// defaults' own fields included (upstream's structural defaulting).
pub fn default(value: &mut Value, node: &Node) {
    match value {
        Value::Object(fields) => {
            for (key, child_node) in &node.properties {
                if !fields.contains_key(key)
                    && let Some(default) = &child_node.default
                {
                    fields.insert(key.clone(), default.clone());
                }
                if let Some(child) = fields.get_mut(key) {
                    default_value(child, child_node);
                }
            }
            if let Some(additional) = &node.additional_properties {
                for child in fields.values_mut() {
                    default_value(child, additional);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_node) = &node.items {
                for item in items {
                    default_value(item, item_node);
                }
            }
        }
        _ => {}
    }
}

fn default_value(value: &mut Value, node: &Node) {
    if !value.is_null() {
        default(value, node);
    }
}

/// Validates `value` against `node`; `path` names the value (the root of
/// an object has an empty path, its fields `spec.replicas`). `old`, on an
/// update: the value's counterpart in the object replaced (by field, map
/// key, and `map`-list keys). A value equal to its old one is not checked
/// again (upstream's validation ratcheting, on by default since
/// Kubernetes 1.30): a schema made stricter does not refuse updates that
/// leave the old values alone.
pub fn validate(
    value: &Value,
    old: Option<&Value>,
    node: &Node,
    path: &Path,
    errors: &mut ErrorList,
) {
    if old == Some(value) {
        return;
    }
    if value.is_null() {
        if !node.nullable && !node.kind.is_empty() {
            errors.push(type_error(path, value, &node.kind));
        }
        return;
    }
    if node.int_or_string {
        if !(is_integer(value) || value.is_string()) {
            errors.push(type_error(path, value, "integer,string"));
            return;
        }
    } else if !node.kind.is_empty() && !has_type(value, &node.kind) {
        errors.push(type_error(path, value, &node.kind));
        return;
    }
    if !node.enum_values.is_empty() && !node.enum_values.contains(value) {
        let supported: Vec<String> = node.enum_values.iter().map(scalar_text).collect();
        let supported: Vec<&str> = supported.iter().map(String::as_str).collect();
        errors.push(Error::not_supported(path, value.clone(), &supported));
    }
    match value {
        Value::Number(number) => {
            if let Some(number) = number.as_f64() {
                validate_number(number, value, node, path, errors);
            }
        }
        Value::String(text) => validate_string(text, node, path, errors),
        Value::Array(items) => {
            validate_list(items, node, path, errors);
            if let Some(item_node) = &node.items {
                let old_items = OldItems::of(node, old);
                for (index, item) in items.iter().enumerate() {
                    let old_item = old_items.counterpart(node, item);
                    validate(item, old_item, item_node, &path.index(index), errors);
                }
            }
        }
        Value::Object(fields) => validate_object(fields, old, node, path, errors),
        _ => {}
    }
}

fn validate_number(number: f64, value: &Value, node: &Node, path: &Path, errors: &mut ErrorList) {
    if let Some((max, exclusive)) = node.maximum
        && (number > max || (exclusive && number == max))
    {
        let relation = if exclusive {
            "less than"
        } else {
            "less than or equal to"
        };
        errors.push(Error::invalid(
            path,
            value.clone(),
            format!("{path} in body should be {relation} {}", number_text(max)),
        ));
    }
    if let Some((min, exclusive)) = node.minimum
        && (number < min || (exclusive && number == min))
    {
        let relation = if exclusive {
            "greater than"
        } else {
            "greater than or equal to"
        };
        errors.push(Error::invalid(
            path,
            value.clone(),
            format!("{path} in body should be {relation} {}", number_text(min)),
        ));
    }
}

fn validate_string(text: &str, node: &Node, path: &Path, errors: &mut ErrorList) {
    let length = text.chars().count() as i64;
    if let Some(max) = node.max_length
        && length > max
    {
        errors.push(Error::too_long(path, max.max(0) as usize));
    }
    if let Some(min) = node.min_length
        && length < min
    {
        errors.push(Error::invalid(
            path,
            text,
            format!("{path} in body should be at least {min} chars long"),
        ));
    }
    if let Some((pattern, regex)) = &node.pattern
        && !regex.is_match(text)
    {
        errors.push(Error::invalid(
            path,
            text,
            format!("{path} in body should match '{pattern}'"),
        ));
    }
}

fn validate_list(items: &[Value], node: &Node, path: &Path, errors: &mut ErrorList) {
    if let Some(max) = node.max_items
        && items.len() as i64 > max
    {
        errors.push(Error::too_many(path, items.len(), max.max(0) as usize));
    }
    if let Some(min) = node.min_items
        && (items.len() as i64) < min
    {
        errors.push(Error::invalid(
            path,
            items.len(),
            format!("{path} in body should have at least {min} items"),
        ));
    }
    match node.list_type.as_deref() {
        Some("set") => {
            let mut seen = HashSet::new();
            for (index, item) in items.iter().enumerate() {
                if !seen.insert(item.to_string()) {
                    errors.push(Error::duplicate(&path.index(index), item.clone()));
                }
            }
        }
        Some("map") => {
            let mut seen = HashSet::new();
            for (index, item) in items.iter().enumerate() {
                if !seen.insert(list_map_key(node, item)) {
                    errors.push(Error::duplicate(&path.index(index), item.clone()));
                }
            }
        }
        _ => {}
    }
}

/// An item's key in a `map` list: its key fields' values.
fn list_map_key(node: &Node, item: &Value) -> Vec<String> {
    node.list_map_keys
        .iter()
        .map(|key| item.get(key).map(Value::to_string).unwrap_or_default())
        .collect()
}

/// The old items of a list, as its new items find their counterparts: by
/// key in a `map` list (indexed once, so a long list costs linear time);
/// none in other lists, whose items do not correlate.
pub(super) struct OldItems<'a>(Option<HashMap<Vec<String>, &'a Value>>);

impl<'a> OldItems<'a> {
    pub(super) fn of(node: &Node, old: Option<&'a Value>) -> Self {
        match (node.list_type.as_deref(), old) {
            (Some("map"), Some(Value::Array(items))) => OldItems(Some(
                items
                    .iter()
                    .map(|item| (list_map_key(node, item), item))
                    .collect(),
            )),
            _ => OldItems(None),
        }
    }

    pub(super) fn counterpart(&self, node: &Node, item: &Value) -> Option<&'a Value> {
        self.0
            .as_ref()
            .and_then(|index| index.get(&list_map_key(node, item)).copied())
    }
}

fn validate_object(
    fields: &Map<String, Value>,
    old: Option<&Value>,
    node: &Node,
    path: &Path,
    errors: &mut ErrorList,
) {
    for name in &node.required {
        if !fields.contains_key(name) {
            errors.push(Error::required(&path.child(name), ""));
        }
    }
    if let Some(max) = node.max_properties
        && fields.len() as i64 > max
    {
        errors.push(Error::too_many(path, fields.len(), max.max(0) as usize));
    }
    if let Some(min) = node.min_properties
        && (fields.len() as i64) < min
    {
        errors.push(Error::invalid(
            path,
            fields.len(),
            format!("{path} in body should have at least {min} properties"),
        ));
    }
    for (key, child) in fields {
        let child_node = node
            .properties
            .get(key)
            .or(node.additional_properties.as_deref());
        if let Some(child_node) = child_node {
            let old_child = old.and_then(|old| old.get(key));
            validate(child, old_child, child_node, &path.child(key), errors);
        }
    }
}

fn has_type(value: &Value, kind: &str) -> bool {
    match kind {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "number" => value.is_number(),
        "integer" => is_integer(value),
        _ => true,
    }
}

/// An integer, or a number with no fraction (how Go decodes `2.0`).
fn is_integer(value: &Value) -> bool {
    match value {
        Value::Number(number) => {
            number.is_i64() || number.is_u64() || number.as_f64().is_some_and(|f| f.fract() == 0.0)
        }
        _ => false,
    }
}

/// kube-openapi's type error: `Invalid value: "string": spec.replicas in
/// body must be of type integer: "string"`.
fn type_error(path: &Path, value: &Value, expected: &str) -> Error {
    let actual = match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) if is_integer(value) => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    Error::invalid(
        path,
        actual,
        format!("{path} in body must be of type {expected}: \"{actual}\""),
    )
}

fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn number_text(number: f64) -> String {
    if number.fract() == 0.0 && number.abs() < 1e15 {
        format!("{}", number as i64)
    } else {
        number.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema(value: Value) -> Node {
        let props: JSONSchemaProps = serde_json::from_value(value).unwrap();
        compile(&props, &Path::new("schema")).unwrap()
    }

    fn widget() -> Node {
        schema(json!({
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "required": ["size"],
                    "properties": {
                        "size": {"type": "integer", "minimum": 1, "maximum": 10},
                        "color": {"type": "string", "enum": ["red", "blue"], "default": "red"},
                        "name": {"type": "string", "maxLength": 5, "pattern": "^[a-z]+$"},
                        "port": {"x-kubernetes-int-or-string": true},
                        "tags": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"},
                        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                        "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                        "template": {"type": "object", "x-kubernetes-embedded-resource": true,
                                      "properties": {"spec": {"type": "object"}}},
                    },
                },
                "status": {"type": "object", "properties": {"ready": {"type": "boolean"}}},
            },
        }))
    }

    fn messages(value: &Value, node: &Node) -> Vec<String> {
        let mut errors = Vec::new();
        validate(value, None, node, &Path::default(), &mut errors);
        errors
            .iter()
            .map(|error| format!("{}: {}", error.field, error.message()))
            .collect()
    }

    #[test]
    fn a_valid_object_has_no_errors() {
        let object = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
            "spec": {"size": 3, "color": "blue", "name": "abc", "port": "http", "tags": ["a", "b"],
                     "labels": {"x": "y"}, "extra": {"anything": [1, 2]}}});
        assert_eq!(messages(&object, &widget()), Vec::<String>::new());
    }

    #[test]
    fn errors_read_as_kube_openapi_reports_them() {
        let object = json!({"spec": {"size": "three", "color": "green", "name": "ABCDEFG",
                                     "port": true, "tags": ["a", "a"], "labels": {"x": 1}}});
        assert_eq!(
            messages(&object, &widget()),
            [
                r#"spec.color: Unsupported value: "green": supported values: "red", "blue""#,
                r#"spec.labels.x: Invalid value: "integer": spec.labels.x in body must be of type string: "integer""#,
                "spec.name: Too long: may not be more than 5 bytes",
                r#"spec.name: Invalid value: "ABCDEFG": spec.name in body should match '^[a-z]+$'"#,
                r#"spec.port: Invalid value: "boolean": spec.port in body must be of type integer,string: "boolean""#,
                r#"spec.size: Invalid value: "string": spec.size in body must be of type integer: "string""#,
                r#"spec.tags[1]: Duplicate value: "a""#,
            ]
        );
        assert_eq!(
            messages(&json!({"spec": {"size": 11}}), &widget()),
            ["spec.size: Invalid value: 11: spec.size in body should be less than or equal to 10"]
        );
        assert_eq!(
            messages(&json!({"spec": {}}), &widget()),
            ["spec.size: Required value"]
        );
    }

    #[test]
    fn an_update_is_not_refused_for_values_it_leaves_alone() {
        let node = schema(
            json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
                "size": {"type": "integer", "maximum": 10},
                "name": {"type": "string", "maxLength": 3},
                "ports": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                          "items": {"type": "object", "properties": {
                              "name": {"type": "string"}, "port": {"type": "integer", "maximum": 100}}}},
                "tags": {"type": "array", "items": {"type": "string", "maxLength": 2}},
            }}}}),
        );
        // Stored before the schema was made stricter.
        let old = json!({"spec": {"size": 11, "name": "long", "ports": [{"name": "a", "port": 8080}],
                                  "tags": ["long"]}});
        let errors = |new: Value| {
            let mut errors = Vec::new();
            validate(&new, Some(&old), &node, &Path::default(), &mut errors);
            errors
                .iter()
                .map(|error| format!("{}: {}", error.field, error.message()))
                .collect::<Vec<_>>()
        };
        // Only the name changes (still too long): the rest ratchets, and
        // the map list's item is found by its key, wherever it moved.
        assert_eq!(
            errors(json!({"spec": {"size": 11, "name": "longer",
                "ports": [{"name": "b", "port": 1}, {"name": "a", "port": 8080}], "tags": ["long"]}})),
            ["spec.name: Too long: may not be more than 3 bytes"]
        );
        // A changed value is checked; an atomic list that changed has its
        // items checked.
        assert_eq!(
            errors(
                json!({"spec": {"size": 12, "name": "long", "ports": [{"name": "a", "port": 8081}],
                                   "tags": ["long", "x"]}})
            ),
            [
                "spec.ports[0].port: Invalid value: 8081: spec.ports[0].port in body should be less than or equal to 100",
                "spec.size: Invalid value: 12: spec.size in body should be less than or equal to 10",
                "spec.tags[0]: Too long: may not be more than 2 bytes",
            ]
        );
    }

    #[test]
    fn pruning_drops_what_the_schema_does_not_declare() {
        let mut object = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
            "spec": {"size": 1, "unknown": 1, "extra": {"kept": true},
                     "template": {"apiVersion": "v1", "kind": "Pod", "metadata": {}, "spec": {}, "junk": 1}},
            "junk": {"a": 1}});
        let pruned = prune(&mut object, &widget(), true);
        assert_eq!(pruned, ["spec.template.junk", "spec.unknown", "junk"]);
        assert_eq!(
            object,
            json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
                   "spec": {"size": 1, "extra": {"kept": true},
                            "template": {"apiVersion": "v1", "kind": "Pod", "metadata": {}, "spec": {}}}})
        );
    }

    #[test]
    fn defaults_fill_absent_fields_only() {
        let mut object = json!({"spec": {"size": 1}});
        default(&mut object, &widget());
        assert_eq!(object["spec"]["color"], "red");
        let mut object = json!({"spec": {"size": 1, "color": "blue"}});
        default(&mut object, &widget());
        assert_eq!(object["spec"]["color"], "blue");
    }

    #[test]
    fn a_schema_that_is_not_structural_is_refused() {
        let props: JSONSchemaProps = serde_json::from_value(json!({
            "type": "object",
            "properties": {
                "spec": {"properties": {"a": {"type": "string"}}},
                "list": {"type": "array"},
                "name": {"type": "string", "pattern": "("},
                "kind": {"type": "thing"},
            },
        }))
        .unwrap();
        let errors = compile(
            &props,
            &Path::new("spec.versions[0].schema.openAPIV3Schema"),
        )
        .unwrap_err();
        let texts: Vec<String> = errors
            .iter()
            .map(|error| format!("{}: {}", error.field, error.message()))
            .collect();
        let root = "spec.versions[0].schema.openAPIV3Schema.properties";
        assert!(
            texts.contains(&format!(
                "{root}[spec].type: Required value: must not be empty for specified object fields"
            )),
            "{texts:?}"
        );
        assert!(
            texts.contains(&format!(
                "{root}[list].items: Required value: must be specified"
            )),
            "{texts:?}"
        );
        assert!(
            texts.iter().any(|t| t.starts_with(&format!(
                "{root}[name].pattern: Invalid value: \"(\": must be a valid regular expression"
            ))),
            "{texts:?}"
        );
        assert!(texts.iter().any(|t| t.starts_with(&format!("{root}[kind].type: Unsupported value: \"thing\""))), "{texts:?}");
        let not_object: JSONSchemaProps =
            serde_json::from_value(json!({"type": "string"})).unwrap();
        assert!(compile(&not_object, &Path::new("s")).is_err());
    }
}
