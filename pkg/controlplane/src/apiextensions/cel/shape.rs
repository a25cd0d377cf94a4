//! What the cost estimate knows of a value: the largest size it can have
//! (a string's length, a list's or map's entries) and the shapes of its
//! parts. A definition's schema gives the worst case its objects can reach
//! (upstream's `maxLength`/`maxItems`/`maxProperties`, or what the request
//! size limit leaves room for); an object being validated gives its own.

use std::collections::BTreeMap;

use serde_json::Value;

use super::super::schema::Node;
use super::value::escape_field_name;

/// The request size the worst case of an unbounded value is derived from
/// (upstream's `maxRequestSizeBytes`, 3 MiB).
pub const MAX_REQUEST_SIZE_BYTES: u64 = 3 * 1024 * 1024;

/// What kind of value a shape describes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Kind {
    /// Nothing yet: the identity of [`Shape::merge`] (an empty list's
    /// items).
    #[default]
    Nothing,
    /// A number, a boolean, null.
    Scalar,
    /// A string or bytes; `size` is its length.
    String,
    /// A list; `size` is its number of items, `element` their shape.
    List,
    /// An object or a map; `size` is its number of entries, `fields` the
    /// shapes of named fields and `element` the shape of any entry.
    Map,
    /// Anything (unknown fields kept by `x-kubernetes-preserve-unknown-fields`).
    Dyn,
}

/// The shape of one value.
#[derive(Clone, Debug, Default)]
pub struct Shape {
    pub kind: Kind,
    pub size: u64,
    pub fields: BTreeMap<String, Shape>,
    pub element: Option<Box<Shape>>,
    /// `fields` is every field the value can have (a schema's object that
    /// keeps no unknown fields): selecting another is a mistake.
    pub closed: bool,
}

impl Shape {
    pub fn scalar() -> Self {
        Shape {
            kind: Kind::Scalar,
            ..Shape::default()
        }
    }

    pub fn string(size: u64) -> Self {
        Shape {
            kind: Kind::String,
            size,
            ..Shape::default()
        }
    }

    pub fn list(size: u64, element: Shape) -> Self {
        Shape {
            kind: Kind::List,
            size,
            element: Some(Box::new(element)),
            ..Shape::default()
        }
    }

    /// Anything, as large as a request.
    pub fn dynamic() -> Self {
        Shape {
            kind: Kind::Dyn,
            size: MAX_REQUEST_SIZE_BYTES,
            ..Shape::default()
        }
    }

    /// The shape of a list's items or a map's values.
    pub fn element(&self) -> Shape {
        match self.kind {
            Kind::Dyn => Shape::dynamic(),
            // A string's "items" are its characters.
            Kind::String => Shape::string(1),
            _ => self.element.as_deref().cloned().unwrap_or_default(),
        }
    }

    /// The shape of `.name`, and whether the value can have that field at
    /// all (`false` only for a closed object that does not declare it).
    pub fn field(&self, name: &str) -> (Shape, bool) {
        match self.kind {
            Kind::Dyn => (Shape::dynamic(), true),
            Kind::Map => match self.fields.get(name) {
                Some(shape) => (shape.clone(), true),
                None => (self.element(), !self.closed),
            },
            _ => (Shape::default(), true),
        }
    }

    /// The shape that covers both (a conditional's branches, a list's
    /// items).
    pub fn merge(self, other: Shape) -> Shape {
        match (self.kind, other.kind) {
            (Kind::Nothing, _) => other,
            (_, Kind::Nothing) => self,
            (a, b) if a != b => Shape {
                kind: Kind::Dyn,
                size: self.size.max(other.size),
                ..Shape::default()
            },
            _ => {
                let mut fields = self.fields;
                for (name, shape) in other.fields {
                    let merged = match fields.remove(&name) {
                        Some(mine) => mine.merge(shape),
                        None => shape,
                    };
                    fields.insert(name, merged);
                }
                let element = match (self.element, other.element) {
                    (Some(a), Some(b)) => Some(Box::new(a.merge(*b))),
                    (a, b) => a.or(b),
                };
                Shape {
                    kind: self.kind,
                    size: self.size.max(other.size),
                    fields,
                    element,
                    closed: self.closed && other.closed,
                }
            }
        }
    }

    /// How much there is to traverse in the value: characters and entries,
    /// all the way down (what comparing or copying it costs).
    pub fn weight(&self) -> u64 {
        match self.kind {
            Kind::Nothing | Kind::Scalar => 1,
            Kind::String | Kind::Dyn => self.size.max(1),
            Kind::List | Kind::Map => {
                let named: u64 = self
                    .fields
                    .values()
                    .fold(0u64, |sum, field| sum.saturating_add(field.weight()));
                let any = self.element.as_deref().map_or(1, Shape::weight);
                named.saturating_add(self.size.saturating_mul(any))
            }
        }
    }

    /// The worst case of the values `node` describes. `resource_root`: the
    /// root of an object or an embedded resource, which also has
    /// `apiVersion`, `kind` and `metadata.name`/`generateName`.
    pub fn of_schema(node: &Node, resource_root: bool) -> Shape {
        let mut shape = if node.int_or_string {
            Shape::string(node.max_length.map_or(MAX_STRING, to_size))
        } else {
            match node.kind.as_str() {
                "string" => Shape::string(string_bound(node)),
                "array" => {
                    let item = node.items.as_deref().map_or_else(Shape::dynamic, |items| {
                        Shape::of_schema(items, items.embedded_resource)
                    });
                    let size =
                        entries_bound(node.max_items, node.items.as_deref().map_or(1, min_size), 1);
                    Shape::list(size, item)
                }
                "object" => Self::object_of_schema(node),
                "" => Shape::dynamic(),
                _ => Shape::scalar(),
            }
        };
        if resource_root && shape.kind == Kind::Map {
            shape
                .fields
                .insert("apiVersion".into(), Shape::string(MAX_STRING));
            shape
                .fields
                .insert("kind".into(), Shape::string(MAX_STRING));
            let mut metadata = Shape {
                kind: Kind::Map,
                size: 2,
                closed: true,
                ..Shape::default()
            };
            metadata.fields.insert("name".into(), Shape::string(253));
            metadata
                .fields
                .insert("generateName".into(), Shape::string(253));
            shape.fields.insert("metadata".into(), metadata);
            shape.size = shape.size.saturating_add(3);
        }
        shape
    }

    fn object_of_schema(node: &Node) -> Shape {
        if let Some(additional) = node.additional_properties.as_deref() {
            let size = entries_bound(node.max_properties, min_size(additional), 4);
            return Shape {
                kind: Kind::Map,
                size,
                element: Some(Box::new(Shape::of_schema(
                    additional,
                    additional.embedded_resource,
                ))),
                ..Shape::default()
            };
        }
        if node.properties.is_empty() && node.preserve_unknown_fields {
            return Shape {
                kind: Kind::Dyn,
                size: MAX_REQUEST_SIZE_BYTES,
                ..Shape::default()
            };
        }
        let fields: BTreeMap<String, Shape> = node
            .properties
            .iter()
            .filter_map(|(name, child)| {
                let escaped = escape_field_name(name)?;
                Some((escaped, Shape::of_schema(child, child.embedded_resource)))
            })
            .collect();
        Shape {
            kind: Kind::Map,
            size: fields.len() as u64,
            fields,
            element: node
                .preserve_unknown_fields
                .then(|| Box::new(Shape::dynamic())),
            closed: !node.preserve_unknown_fields,
        }
    }

    /// The shape of one JSON value (an object being validated).
    pub fn of_value(value: &Value) -> Shape {
        match value {
            Value::String(text) => Shape::string(text.chars().count() as u64),
            Value::Array(items) => {
                let element = items.iter().fold(Shape::default(), |shape, item| {
                    shape.merge(Self::of_value(item))
                });
                Shape::list(items.len() as u64, element)
            }
            Value::Object(fields) => {
                let mut shape = Shape {
                    kind: Kind::Map,
                    size: fields.len() as u64,
                    ..Shape::default()
                };
                let mut element = Shape::default();
                for (name, field) in fields {
                    let field = Self::of_value(field);
                    element = element.merge(field.clone());
                    let name = escape_field_name(name).unwrap_or_else(|| name.clone());
                    shape.fields.insert(name, field);
                }
                shape.element = Some(Box::new(element));
                shape
            }
            _ => Shape::scalar(),
        }
    }
}

/// The longest string a request can carry (its quotes aside).
const MAX_STRING: u64 = MAX_REQUEST_SIZE_BYTES - 2;

fn to_size(bound: i64) -> u64 {
    u64::try_from(bound).unwrap_or(0)
}

fn string_bound(node: &Node) -> u64 {
    if let Some(max) = node.max_length {
        return to_size(max);
    }
    let longest_enum = node
        .enum_values
        .iter()
        .filter_map(|value| value.as_str())
        .map(|text| text.chars().count() as u64)
        .max();
    match (node.enum_values.is_empty(), longest_enum) {
        (false, Some(longest)) => longest,
        _ => MAX_STRING,
    }
}

/// How many entries of at least `entry_size` bytes, each with `overhead`
/// more, fit in a request.
fn max_entries(entry_size: u64, overhead: u64) -> u64 {
    (MAX_REQUEST_SIZE_BYTES - 2) / (entry_size + overhead).max(1)
}

/// The fewest bytes a value of `node` takes in JSON.
fn min_size(node: &Node) -> u64 {
    min_json_size(&node.kind, node.nullable)
}

/// The fewest bytes a value of OpenAPI type `kind` takes in JSON.
pub fn min_json_size(kind: &str, nullable: bool) -> u64 {
    if nullable {
        return 4;
    }
    match kind {
        "string" | "array" | "object" => 2,
        "boolean" => 4,
        _ => 1,
    }
}

/// How many items a list (`overhead` 1, the comma) or entries a map
/// (`overhead` 4, `"":` and the comma) can hold: `max` when declared, else
/// as many of at least `entry_size` bytes as fit in a request.
pub fn entries_bound(max: Option<i64>, entry_size: u64, overhead: u64) -> u64 {
    max.map_or_else(|| max_entries(entry_size, overhead), to_size)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merging_takes_the_larger_of_each_part() {
        let a = Shape::of_value(&json!([{"name": "ab"}, {"name": "abcd", "x": 1}]));
        assert_eq!(a.kind, Kind::List);
        assert_eq!(a.size, 2);
        let item = a.element();
        assert_eq!(item.field("name").0.size, 4);
        assert_eq!(item.field("x").0.kind, Kind::Scalar);
        let mixed = Shape::string(3).merge(Shape::scalar());
        assert_eq!(mixed.kind, Kind::Dyn);
    }
}
