//! `additionalPrinterColumns`: a version's table columns and the simple
//! JSONPath (`.spec.replicas`, `.status.conditions[?(@.type=="Ready")].status`)
//! that fills each cell, as upstream's `tableconvertor` does.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceColumnDefinition;
use serde_json::Value;

use apimachinery::validation::field::{Error, ErrorList, Path};
use apiserver::registry::table::ColumnDefinition;

/// The column types upstream allows.
pub const COLUMN_TYPES: [&str; 5] = ["integer", "number", "string", "boolean", "date"];

/// The column formats upstream allows.
pub const COLUMN_FORMATS: [&str; 8] = [
    "int32",
    "int64",
    "float",
    "double",
    "byte",
    "date",
    "date-time",
    "password",
];

/// One step of a path.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    Field(String),
    Index(usize),
    All,
    /// `[?(@.a.b=="value")]`: the items whose field equals the value.
    Filter(Vec<String>, Value),
}

/// A parsed JSONPath of the subset columns use.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonPath(Vec<Step>);

impl JsonPath {
    /// Parses `.a.b[0]['c'][*][?(@.type=="Ready")]`, optionally wrapped in
    /// `{...}` as kubectl writes it.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let text = text
            .strip_prefix('{')
            .and_then(|t| t.strip_suffix('}'))
            .unwrap_or(text);
        let text = text.strip_prefix('$').unwrap_or(text);
        let bytes = text.as_bytes();
        let mut steps = Vec::new();
        let mut at = 0;
        while at < bytes.len() {
            match bytes[at] {
                b'.' => {
                    let end = text[at + 1..]
                        .find(['.', '['])
                        .map_or(text.len(), |offset| at + 1 + offset);
                    let name = &text[at + 1..end];
                    if name.is_empty() {
                        return Err(format!("empty field name at {at} in {text:?}"));
                    }
                    steps.push(Step::Field(name.to_string()));
                    at = end;
                }
                b'[' => {
                    let close = matching_bracket(text, at)
                        .ok_or_else(|| format!("unterminated [ at {at} in {text:?}"))?;
                    steps.push(bracket_step(&text[at + 1..close])?);
                    at = close + 1;
                }
                _ => return Err(format!("unexpected {:?} at {at} in {text:?}", &text[at..])),
            }
        }
        Ok(JsonPath(steps))
    }

    /// The field names of a path that is only field steps (`.spec.color`,
    /// `.spec['color']`); `None` when it has an index, `[*]` or a filter.
    pub fn field_names(&self) -> Option<Vec<&str>> {
        self.0
            .iter()
            .map(|step| match step {
                Step::Field(name) => Some(name.as_str()),
                _ => None,
            })
            .collect()
    }

    /// Every value the path reaches in `value`, in document order.
    pub fn find<'v>(&self, value: &'v Value) -> Vec<&'v Value> {
        let mut current = vec![value];
        for step in &self.0 {
            let mut next = Vec::new();
            for value in current {
                match step {
                    Step::Field(name) => next.extend(value.get(name)),
                    Step::Index(index) => next.extend(value.get(*index)),
                    Step::All => match value {
                        Value::Array(items) => next.extend(items),
                        Value::Object(fields) => next.extend(fields.values()),
                        _ => {}
                    },
                    Step::Filter(path, expected) => {
                        if let Value::Array(items) = value {
                            next.extend(items.iter().filter(|item| {
                                path.iter()
                                    .try_fold(*item, |value, name| value.get(name))
                                    .is_some_and(|found| found == expected)
                            }));
                        }
                    }
                }
            }
            current = next;
        }
        current
    }
}

fn matching_bracket(text: &str, open: usize) -> Option<usize> {
    let mut quote = None;
    for (offset, ch) in text[open + 1..].char_indices() {
        match (quote, ch) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(ch),
            (None, ']') => return Some(open + 1 + offset),
            _ => {}
        }
    }
    None
}

fn bracket_step(inner: &str) -> Result<Step, String> {
    let inner = inner.trim();
    if inner == "*" {
        return Ok(Step::All);
    }
    if let Ok(index) = inner.parse::<usize>() {
        return Ok(Step::Index(index));
    }
    if let Some(name) = unquote(inner) {
        return Ok(Step::Field(name.to_string()));
    }
    let filter = inner
        .strip_prefix("?(")
        .and_then(|f| f.strip_suffix(')'))
        .ok_or_else(|| format!("unsupported [{inner}]"))?;
    let (left, right) = filter
        .split_once("==")
        .ok_or_else(|| format!("unsupported filter {filter:?}: only @.field==value"))?;
    let path = left
        .trim()
        .strip_prefix("@.")
        .ok_or_else(|| format!("unsupported filter {filter:?}: only @.field==value"))?;
    let right = right.trim();
    let expected = match unquote(right) {
        Some(text) => Value::from(text),
        None => serde_json::from_str(right)
            .map_err(|_| format!("unsupported value {right:?} in filter"))?,
    };
    Ok(Step::Filter(
        path.split('.').map(str::to_string).collect(),
        expected,
    ))
}

fn unquote(text: &str) -> Option<&str> {
    ['\'', '"']
        .into_iter()
        .find_map(|quote| text.strip_prefix(quote).and_then(|t| t.strip_suffix(quote)))
}

/// A version's columns, ready to fill rows.
#[derive(Debug)]
pub struct Columns {
    pub definitions: Vec<ColumnDefinition>,
    paths: Vec<JsonPath>,
}

impl Columns {
    /// `Name`, then the version's columns, or `Age` when it has none (as
    /// upstream serves a definition without columns).
    pub fn of(columns: &[CustomResourceColumnDefinition]) -> Self {
        let mut definitions = vec![ColumnDefinition::name()];
        let mut paths = Vec::new();
        if columns.is_empty() {
            definitions.push(ColumnDefinition::new(
                "Age",
                "date",
                "CreationTimestamp is a timestamp representing the server time when this object was created.",
            ));
            paths.push(JsonPath(vec![
                Step::Field("metadata".into()),
                Step::Field("creationTimestamp".into()),
            ]));
        }
        for column in columns {
            // Validated with the definition: the path parses.
            let Ok(path) = JsonPath::parse(&column.json_path) else {
                continue;
            };
            definitions.push(ColumnDefinition {
                format: COLUMN_FORMATS
                    .iter()
                    .find(|format| Some(**format) == column.format.as_deref())
                    .copied()
                    .unwrap_or(""),
                priority: column.priority.unwrap_or(0),
                ..ColumnDefinition::new(
                    column.name.clone(),
                    COLUMN_TYPES
                        .iter()
                        .find(|kind| **kind == column.type_)
                        .copied()
                        .unwrap_or("string"),
                    column.description.clone().unwrap_or_default(),
                )
            });
            paths.push(path);
        }
        Columns { definitions, paths }
    }

    /// The cells of `object`'s row: its name, then each column's first
    /// value (several joined with `,`), `null` where the path finds nothing.
    pub fn row(&self, name: &str, object: &Value) -> Vec<Value> {
        let mut cells = vec![Value::from(name)];
        for path in &self.paths {
            let found = path.find(object);
            cells.push(match found.as_slice() {
                [] => Value::Null,
                [one] => (*one).clone(),
                many => Value::from(
                    many.iter()
                        .map(|value| match value {
                            Value::String(text) => text.clone(),
                            other => other.to_string(),
                        })
                        .collect::<Vec<_>>()
                        .join(","),
                ),
            });
        }
        cells
    }
}

/// `ValidateCustomResourceColumnDefinition`.
pub fn validate_column(column: &CustomResourceColumnDefinition, path: &Path) -> ErrorList {
    let mut errors = Vec::new();
    if column.name.is_empty() {
        errors.push(Error::required(&path.child("name"), ""));
    }
    if column.type_.is_empty() {
        errors.push(Error::required(
            &path.child("type"),
            format!("must be one of {}", COLUMN_TYPES.join(", ")),
        ));
    } else if !COLUMN_TYPES.contains(&column.type_.as_str()) {
        errors.push(Error::not_supported(
            &path.child("type"),
            column.type_.as_str(),
            &COLUMN_TYPES,
        ));
    }
    if let Some(format) = column.format.as_deref()
        && !format.is_empty()
        && !COLUMN_FORMATS.contains(&format)
    {
        errors.push(Error::not_supported(
            &path.child("format"),
            format,
            &COLUMN_FORMATS,
        ));
    }
    if column.json_path.is_empty() {
        errors.push(Error::required(&path.child("jsonPath"), ""));
    } else if let Err(err) = JsonPath::parse(&column.json_path) {
        errors.push(Error::invalid(
            &path.child("jsonPath"),
            column.json_path.as_str(),
            format!("must be a simple json path: {err}"),
        ));
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn find(path: &str, value: &Value) -> Vec<Value> {
        JsonPath::parse(path)
            .unwrap()
            .find(value)
            .into_iter()
            .cloned()
            .collect()
    }

    #[test]
    fn paths_reach_fields_items_and_filtered_items() {
        let object = json!({"spec": {"replicas": 3, "ports": [{"port": 80}, {"port": 443}]},
            "status": {"conditions": [{"type": "Ready", "status": "True"}, {"type": "Synced", "status": "False"}]}});
        assert_eq!(find(".spec.replicas", &object), [json!(3)]);
        assert_eq!(find("{.spec.ports[1].port}", &object), [json!(443)]);
        assert_eq!(
            find(".spec.ports[*].port", &object),
            [json!(80), json!(443)]
        );
        assert_eq!(find(".spec['replicas']", &object), [json!(3)]);
        assert_eq!(
            find(r#".status.conditions[?(@.type=="Ready")].status"#, &object),
            [json!("True")]
        );
        assert!(find(".spec.missing", &object).is_empty());
        assert!(JsonPath::parse(".spec[").is_err());
        assert!(JsonPath::parse("spec").is_err());
    }

    #[test]
    fn rows_have_the_name_then_each_column() {
        let columns: Vec<CustomResourceColumnDefinition> = serde_json::from_value(json!([
            {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
            {"name": "Ports", "type": "string", "jsonPath": ".spec.ports[*].port", "priority": 1},
            {"name": "Missing", "type": "string", "jsonPath": ".status.nothing"},
        ]))
        .unwrap();
        let columns = Columns::of(&columns);
        let names: Vec<(&str, i32)> = columns
            .definitions
            .iter()
            .map(|c| (&*c.name, c.priority))
            .collect();
        assert_eq!(
            names,
            [("Name", 0), ("Size", 0), ("Ports", 1), ("Missing", 0)]
        );
        let object = json!({"spec": {"size": 2, "ports": [{"port": 80}, {"port": 443}]}});
        assert_eq!(
            columns.row("w", &object),
            [json!("w"), json!(2), json!("80,443"), Value::Null]
        );
        let default = Columns::of(&[]);
        assert_eq!(&*default.definitions[1].name, "Age");
    }
}
