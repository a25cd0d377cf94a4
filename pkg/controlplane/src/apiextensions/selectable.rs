//! `selectableFields`: the fields of a custom resource a field selector may
//! use besides `metadata.name` and `metadata.namespace` (upstream's
//! `CustomResourceFieldSelectors`): their validation against the version's
//! schema, and each object's values for them.

use std::collections::BTreeSet;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    JSONSchemaProps, SelectableField,
};
use serde_json::{Map, Value};

use apimachinery::intern::intern_list;
use apimachinery::validation::field::{Error, ErrorList, Path};

use super::columns::JsonPath;

/// Upstream's `MaxSelectableFields`.
pub const MAX_SELECTABLE_FIELDS: usize = 8;

/// `ValidateSelectableFields`: each path is a simple field path (no array
/// notation) that the schema declares, outside `metadata`, to a string,
/// boolean or integer; no path twice; at most eight.
pub fn validate_selectable_fields(
    fields: &[SelectableField],
    schema: Option<&JSONSchemaProps>,
    path: &Path,
) -> ErrorList {
    let mut errors = Vec::new();
    let mut unique = BTreeSet::new();
    for (index, field) in fields.iter().enumerate() {
        let json_path = &field.json_path;
        let field_path = path.index(index).child("jsonPath");
        if json_path.is_empty() {
            errors.push(Error::required(&field_path, ""));
            continue;
        }
        let Some(schema) = schema else {
            errors.push(Error::invalid(
                &field_path,
                json_path.as_str(),
                "selectableFields may only be set when version.schema.openAPIV3Schema is included",
            ));
            continue;
        };
        let (names, found) = match resolve(json_path, schema) {
            Ok(resolved) => resolved,
            Err(reason) => {
                errors.push(Error::invalid(
                    &field_path,
                    json_path.as_str(),
                    format!("is an invalid path: {reason}"),
                ));
                continue;
            }
        };
        if names.first().map(String::as_str) == Some("metadata") {
            errors.push(Error::invalid(
                &field_path,
                json_path.as_str(),
                "must not point to fields in metadata",
            ));
        }
        if !matches!(
            found.type_.as_deref(),
            Some("string" | "boolean" | "integer")
        ) {
            errors.push(Error::invalid(
                &field_path,
                json_path.as_str(),
                "must point to a field of type string, boolean or integer. Enum string fields and strings with formats are allowed.",
            ));
        }
        if !unique.insert(names.join(".")) {
            errors.push(Error::duplicate(&field_path, json_path.as_str()));
        }
    }
    if unique.len() > MAX_SELECTABLE_FIELDS {
        errors.push(Error::too_many(path, unique.len(), MAX_SELECTABLE_FIELDS));
    }
    errors
}

/// The field names of `json_path` and the schema it reaches.
fn resolve<'s>(
    json_path: &str,
    schema: &'s JSONSchemaProps,
) -> Result<(Vec<String>, &'s JSONSchemaProps), String> {
    let parsed = JsonPath::parse(json_path)?;
    let names = parsed
        .field_names()
        .ok_or_else(|| "array notation is not allowed".to_string())?;
    if names.is_empty() {
        return Err("it names no field".to_string());
    }
    let mut at = schema;
    for name in &names {
        at = at
            .properties
            .as_ref()
            .and_then(|properties| properties.get(*name))
            .ok_or_else(|| format!("does not refer to a valid field: {name:?}"))?;
    }
    Ok((names.into_iter().map(str::to_string).collect(), at))
}

/// A version's selectable fields, ready to read from objects.
#[derive(Debug, Default)]
pub struct SelectableFields {
    /// `spec.color` for `.spec.color`: the field selector's label.
    labels: &'static [&'static str],
    paths: Vec<Vec<String>>,
}

impl SelectableFields {
    /// The fields of a version whose definition passed validation (a path
    /// that does not parse is left out).
    pub fn of(fields: &[SelectableField]) -> Self {
        let mut labels = Vec::new();
        let mut paths = Vec::new();
        for field in fields {
            let Ok(path) = JsonPath::parse(&field.json_path) else {
                continue;
            };
            let Some(names) = path.field_names() else {
                continue;
            };
            let names: Vec<String> = names.into_iter().map(str::to_string).collect();
            labels.push(names.join("."));
            paths.push(names);
        }
        SelectableFields {
            labels: intern_list(&labels),
            paths,
        }
    }

    /// The labels a field selector may use.
    pub fn labels(&self) -> &'static [&'static str] {
        self.labels
    }

    /// `object`'s value of each field, as a field selector compares it: a
    /// string as is, an integer or boolean in decimal or `true`/`false`, an
    /// absent field (or any other value) as the empty string.
    /// (`content`: the object's fields but `metadata`.)
    pub fn values(&self, content: &Map<String, Value>) -> Vec<(&'static str, String)> {
        self.labels
            .iter()
            .zip(&self.paths)
            .map(|(label, names)| {
                let value = names.split_first().and_then(|(first, rest)| {
                    rest.iter()
                        .try_fold(content.get(first)?, |value, name| value.get(name.as_str()))
                });
                let text = match value {
                    Some(Value::String(text)) => text.clone(),
                    Some(Value::Number(number)) if number.is_i64() || number.is_u64() => {
                        number.to_string()
                    }
                    Some(Value::Bool(flag)) => flag.to_string(),
                    _ => String::new(),
                };
                (*label, text)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> JSONSchemaProps {
        serde_json::from_value(json!({
            "type": "object",
            "properties": {
                "metadata": {"type": "object", "properties": {"name": {"type": "string"}}},
                "spec": {"type": "object", "properties": {
                    "color": {"type": "string", "enum": ["red", "blue"]},
                    "size": {"type": "integer"},
                    "ready": {"type": "boolean"},
                    "ratio": {"type": "number"},
                    "parts": {"type": "array", "items": {"type": "string"}}
                }}
            }
        }))
        .unwrap()
    }

    fn fields(paths: &[&str]) -> Vec<SelectableField> {
        paths
            .iter()
            .map(|path| SelectableField {
                json_path: path.to_string(),
            })
            .collect()
    }

    fn errors(paths: &[&str]) -> Vec<String> {
        let schema = schema();
        validate_selectable_fields(
            &fields(paths),
            Some(&schema),
            &Path::new("selectableFields"),
        )
        .iter()
        .map(ToString::to_string)
        .collect()
    }

    #[test]
    fn paths_to_declared_scalars_outside_metadata_are_accepted_once() {
        assert!(errors(&[".spec.color", ".spec['size']", ".spec.ready"]).is_empty());
        let found = errors(&[
            "",
            ".spec.parts[0]",
            ".spec.nope",
            ".metadata.name",
            ".spec.ratio",
            ".spec.parts",
            ".spec.color",
            ".spec['color']",
        ]);
        assert_eq!(
            found,
            [
                "selectableFields[0].jsonPath: Required value",
                "selectableFields[1].jsonPath: Invalid value: \".spec.parts[0]\": is an invalid path: array notation is not allowed",
                "selectableFields[2].jsonPath: Invalid value: \".spec.nope\": is an invalid path: does not refer to a valid field: \"nope\"",
                "selectableFields[3].jsonPath: Invalid value: \".metadata.name\": must not point to fields in metadata",
                "selectableFields[4].jsonPath: Invalid value: \".spec.ratio\": must point to a field of type string, boolean or integer. Enum string fields and strings with formats are allowed.",
                "selectableFields[5].jsonPath: Invalid value: \".spec.parts\": must point to a field of type string, boolean or integer. Enum string fields and strings with formats are allowed.",
                "selectableFields[7].jsonPath: Duplicate value: \".spec['color']\"",
            ]
        );
        let many: Vec<String> = (0..9).map(|i| format!(".spec.f{i}")).collect();
        let mut wide = schema();
        let spec = wide.properties.as_mut().unwrap().get_mut("spec").unwrap();
        for i in 0..9 {
            spec.properties.as_mut().unwrap().insert(
                format!("f{i}"),
                serde_json::from_value(json!({"type": "string"})).unwrap(),
            );
        }
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let found =
            validate_selectable_fields(&fields(&many), Some(&wide), &Path::new("selectableFields"));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0]
                .to_string()
                .contains("Too many: 9: must have at most 8 items"),
            "{}",
            found[0]
        );
    }

    #[test]
    fn values_are_strings_integers_and_booleans_as_text_absent_as_empty() {
        let selectable = SelectableFields::of(&fields(&[
            ".spec.color",
            ".spec.size",
            ".spec.ready",
            ".status.phase",
        ]));
        assert_eq!(
            selectable.labels(),
            ["spec.color", "spec.size", "spec.ready", "status.phase"]
        );
        let content = json!({"spec": {"color": "blue", "size": 3, "ready": true}});
        let values = selectable.values(content.as_object().unwrap());
        assert_eq!(
            values,
            [
                ("spec.color", "blue".to_string()),
                ("spec.size", "3".to_string()),
                ("spec.ready", "true".to_string()),
                ("status.phase", String::new()),
            ]
        );
    }
}
