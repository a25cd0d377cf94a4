//! A custom object's JSON as a rule sees it (upstream's
//! `apiserver/pkg/cel/common` values): typed by the schema (a `number` is a
//! double even when written `3`), object fields under their escaped names,
//! and the resource root reduced to what upstream exposes of it.

use std::collections::HashMap;
use std::sync::Arc;

use cel::objects::{Key, Map};
use serde_json::Value;

use super::super::schema::Node;

/// CEL's reserved words: a field so named is reached as `__name__`.
const RESERVED: [&str; 21] = [
    "true",
    "false",
    "null",
    "in",
    "as",
    "break",
    "const",
    "continue",
    "else",
    "for",
    "function",
    "if",
    "import",
    "let",
    "loop",
    "package",
    "namespace",
    "return",
    "var",
    "void",
    "while",
];

/// The name a rule reaches a property by (upstream's `cel.Escape`): `-`,
/// `.` and `/` spelled `__dash__`, `__dot__`, `__slash__`, `__` spelled
/// `__underscores__`, reserved words wrapped in `__`; `None` for a name
/// no rule can reach (a leading digit, other characters).
pub fn escape_field_name(name: &str) -> Option<String> {
    let first = name.chars().next()?;
    if first.is_ascii_digit() {
        return None;
    }
    if RESERVED.contains(&name) {
        return Some(format!("__{name}__"));
    }
    let mut escaped = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(c) = rest.chars().next() {
        if rest.starts_with("__") {
            escaped.push_str("__underscores__");
            rest = &rest[2..];
            continue;
        }
        match c {
            '.' => escaped.push_str("__dot__"),
            '-' => escaped.push_str("__dash__"),
            '/' => escaped.push_str("__slash__"),
            c if c.is_ascii_alphanumeric() || c == '_' => escaped.push(c),
            _ => return None,
        }
        rest = &rest[c.len_utf8()..];
    }
    Some(escaped)
}

/// `value` as a CEL value, typed by `node` where it declares the part.
/// `resource_root`: keep only `name` and `generateName` of `metadata`.
pub fn to_cel(value: &Value, node: Option<&Node>, resource_root: bool) -> cel::Value {
    match value {
        Value::Null => cel::Value::Null,
        Value::Bool(b) => cel::Value::Bool(*b),
        Value::Number(number) => {
            let double = node.is_some_and(|node| node.kind == "number");
            match (number.as_i64(), number.as_u64()) {
                (Some(int), _) if !double => cel::Value::Int(int),
                (None, Some(uint)) if !double => cel::Value::UInt(uint),
                _ => cel::Value::Float(number.as_f64().unwrap_or_default()),
            }
        }
        Value::String(text) => cel::Value::String(Arc::new(text.clone())),
        Value::Array(items) => {
            let item_node = node.and_then(|node| node.items.as_deref());
            let root = item_node.is_some_and(|node| node.embedded_resource);
            cel::Value::List(Arc::new(
                items
                    .iter()
                    .map(|item| to_cel(item, item_node, root))
                    .collect(),
            ))
        }
        Value::Object(fields) => {
            let mut map = HashMap::with_capacity(fields.len());
            if let Some(additional) = node.and_then(|node| node.additional_properties.as_deref()) {
                for (key, field) in fields {
                    map.insert(
                        Key::String(Arc::new(key.clone())),
                        to_cel(field, Some(additional), additional.embedded_resource),
                    );
                }
            } else {
                for (key, field) in fields {
                    let Some(name) = escape_field_name(key) else {
                        continue;
                    };
                    let child = node.and_then(|node| node.properties.get(key));
                    let converted = if resource_root && key == "metadata" {
                        object_meta(field)
                    } else {
                        to_cel(field, child, child.is_some_and(|c| c.embedded_resource))
                    };
                    map.insert(Key::String(Arc::new(name)), converted);
                }
            }
            cel::Value::Map(Map { map: Arc::new(map) })
        }
    }
}

/// What a rule sees of an object's metadata: `name` and `generateName`.
fn object_meta(metadata: &Value) -> cel::Value {
    let mut map = HashMap::new();
    for field in ["name", "generateName"] {
        if let Some(Value::String(text)) = metadata.get(field) {
            map.insert(
                Key::String(Arc::new(field.to_string())),
                cel::Value::String(Arc::new(text.clone())),
            );
        }
    }
    cel::Value::Map(Map { map: Arc::new(map) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_names_escape_as_upstream() {
        assert_eq!(escape_field_name("replicas").as_deref(), Some("replicas"));
        assert_eq!(
            escape_field_name("namespace").as_deref(),
            Some("__namespace__")
        );
        assert_eq!(
            escape_field_name("a-b.c/d").as_deref(),
            Some("a__dash__b__dot__c__slash__d")
        );
        assert_eq!(
            escape_field_name("x__y").as_deref(),
            Some("x__underscores__y")
        );
        assert_eq!(escape_field_name("1st"), None);
        assert_eq!(escape_field_name("a b"), None);
        assert_eq!(escape_field_name(""), None);
    }
}
