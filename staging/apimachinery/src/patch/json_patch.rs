//! JSON Patch (RFC 6902, `application/json-patch+json`) as the Kubernetes
//! apiserver applies it (the `evanphx/json-patch` v4 library): its error
//! messages, its copy-size limit (`JSONPatchMaxCopyBytes`), its limit of
//! 10000 operations, and its leniencies (a `replace` of a missing object key
//! adds it, an operation without `value` uses `null`, negative array indices
//! count from the end).

use serde_json::{Map, Value};

use super::error::PatchError;

/// The most operations one JSON patch may hold (upstream `maxJSONPatchOperations`).
pub const MAX_JSON_PATCH_OPERATIONS: usize = 10_000;

/// The default of `JSONPatchMaxCopyBytes`: 3 MiB.
pub const DEFAULT_MAX_COPY_BYTES: usize = 3 * 1024 * 1024;

/// Applies the RFC 6902 patch `patch` (the request body) to `doc`.
///
/// `max_copy_bytes` bounds the total size of the values that `copy`
/// operations duplicate (0: no bound). A body that is not a list of
/// operations is a [`PatchError::BadRequest`]; an operation that does not
/// apply, including a failing `test`, is a [`PatchError::Unprocessable`].
pub fn json_patch(doc: &Value, patch: &[u8], max_copy_bytes: usize) -> Result<Value, PatchError> {
    let operations = decode_operations(patch)?;
    if operations.len() > MAX_JSON_PATCH_OPERATIONS {
        return Err(PatchError::TooManyOperations {
            max: MAX_JSON_PATCH_OPERATIONS,
            got: operations.len(),
        });
    }
    let mut result = doc.clone();
    let mut copied_bytes = 0usize;
    for operation in &operations {
        apply_operation(&mut result, operation, max_copy_bytes, &mut copied_bytes)
            .map_err(PatchError::Unprocessable)?;
    }
    Ok(result)
}

/// One operation: its members, or none for a `null` entry.
type Operation = Option<Map<String, Value>>;

fn decode_operations(patch: &[u8]) -> Result<Vec<Operation>, PatchError> {
    let body: Value =
        serde_json::from_slice(patch).map_err(|error| PatchError::BadRequest(error.to_string()))?;
    let entries = match body {
        Value::Null => return Ok(Vec::new()),
        Value::Array(entries) => entries,
        other => {
            return Err(PatchError::BadRequest(format!(
                "json: cannot unmarshal {} into Go value of type jsonpatch.Patch",
                json_kind(&other)
            )));
        }
    };
    entries
        .into_iter()
        .map(|entry| match entry {
            Value::Null => Ok(None),
            Value::Object(members) => Ok(Some(members)),
            other => Err(PatchError::BadRequest(format!(
                "json: cannot unmarshal {} into Go value of type jsonpatch.Operation",
                json_kind(&other)
            ))),
        })
        .collect()
}

/// The JSON kind Go's decoder names in "cannot unmarshal X into ...".
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

const MISSING: &str = "missing value";
const INVALID_INDEX: &str = "invalid index referenced";

fn apply_operation(
    doc: &mut Value,
    operation: &Operation,
    max_copy_bytes: usize,
    copied_bytes: &mut usize,
) -> Result<(), String> {
    let kind = match operation.as_ref().and_then(|members| members.get("op")) {
        Some(Value::String(kind)) => kind.as_str(),
        _ => "unknown",
    };
    let members = operation.clone().unwrap_or_default();
    let value = || members.get("value").cloned().unwrap_or(Value::Null);
    match kind {
        "add" => {
            let path = string_member(&members, "path")
                .map_err(|_| format!("add operation failed to decode path: {MISSING}"))?;
            let (container, key) = find_container(doc, &path).ok_or_else(|| {
                format!("add operation does not apply: doc is missing path: \"{path}\": {MISSING}")
            })?;
            add(container, &key, value())
                .map_err(|error| format!("error in add for path: '{path}': {error}"))
        }
        "remove" => {
            let path = string_member(&members, "path")
                .map_err(|_| format!("remove operation failed to decode path: {MISSING}"))?;
            let (container, key) = find_container(doc, &path).ok_or_else(|| {
                format!(
                    "remove operation does not apply: doc is missing path: \"{path}\": {MISSING}"
                )
            })?;
            remove(container, &key)
                .map(drop)
                .map_err(|error| format!("error in remove for path: '{path}': {error}"))
        }
        "replace" => {
            let path = string_member(&members, "path")
                .map_err(|error| format!("replace operation failed to decode path: {error}"))?;
            let (container, key) = find_container(doc, &path).ok_or_else(|| {
                format!("replace operation does not apply: doc is missing path: {path}: {MISSING}")
            })?;
            if get(container, &key).is_err() {
                return Err(format!(
                    "replace operation does not apply: doc is missing key: {path}: {MISSING}"
                ));
            }
            set(container, &key, value())
                .map_err(|error| format!("error in remove for path: '{path}': {error}"))
        }
        "move" => {
            let from = string_member(&members, "from")
                .map_err(|error| format!("move operation failed to decode from: {error}"))?;
            let (container, key) = find_container(doc, &from).ok_or_else(|| {
                format!(
                    "move operation does not apply: doc is missing from path: {from}: {MISSING}"
                )
            })?;
            get(container, &key)
                .map_err(|error| format!("error in move for path: '{key}': {error}"))?;
            let moved = remove(container, &key)
                .map_err(|error| format!("error in move for path: '{key}': {error}"))?;
            let path = string_member(&members, "path")
                .map_err(|error| format!("move operation failed to decode path: {error}"))?;
            let (container, key) = find_container(doc, &path).ok_or_else(|| {
                format!(
                    "move operation does not apply: doc is missing destination path: {path}: {MISSING}"
                )
            })?;
            add(container, &key, moved)
                .map_err(|error| format!("error in move for path: '{path}': {error}"))
        }
        "test" => {
            let path = string_member(&members, "path")
                .map_err(|error| format!("test operation failed to decode path: {error}"))?;
            let (container, key) = find_container(doc, &path).ok_or_else(|| {
                format!("test operation does not apply: is missing path: {path}: {MISSING}")
            })?;
            let current = get(container, &key)
                .map_err(|error| format!("error in test for path: '{path}': {error}"))?;
            let failed = || format!("testing value {path} failed: test failed");
            let expected = members.get("value");
            match (current.filter(|value| !value.is_null()), expected) {
                (None, Some(Value::Null)) => Ok(()),
                (Some(current), Some(expected)) if current == expected => Ok(()),
                _ => Err(failed()),
            }
        }
        "copy" => {
            let from = string_member(&members, "from")
                .map_err(|error| format!("copy operation failed to decode from: {error}"))?;
            let (container, key) = find_container(doc, &from).ok_or_else(|| {
                format!(
                    "copy operation does not apply: doc is missing from path: {from}: {MISSING}"
                )
            })?;
            let copied = get(container, &key)
                .map_err(|error| format!("error in copy for from: '{from}': {error}"))?
                .cloned()
                .unwrap_or(Value::Null);
            let path = string_member(&members, "path")
                .map_err(|_| format!("copy operation failed to decode path: {MISSING}"))?;
            let (container, key) = find_container(doc, &path).ok_or_else(|| {
                format!(
                    "copy operation does not apply: doc is missing destination path: {path}: {MISSING}"
                )
            })?;
            if !copied.is_null() {
                *copied_bytes += serde_json::to_vec(&copied)
                    .map(|bytes| bytes.len())
                    .unwrap_or(0);
            }
            if max_copy_bytes > 0 && *copied_bytes > max_copy_bytes {
                return Err(format!(
                    "Unable to complete the copy, the accumulated size increase of copy is {copied_bytes}, exceeding the limit {max_copy_bytes}"
                ));
            }
            add(container, &key, copied)
                .map_err(|error| format!("error while adding value during copy: {error}"))
        }
        other => Err(format!("Unexpected kind: {other}")),
    }
}

/// A string member (`path`, `from`) of an operation, or the upstream error.
fn string_member(members: &Map<String, Value>, name: &str) -> Result<String, String> {
    match members.get(name) {
        Some(Value::String(text)) => Ok(text.clone()),
        None | Some(Value::Null) => {
            let what = if name == "from" {
                "operation, missing from field"
            } else {
                "operation missing path field"
            };
            Err(format!("{what}: {MISSING}"))
        }
        Some(other) => Err(format!(
            "json: cannot unmarshal {} into Go value of type string",
            json_kind(other)
        )),
    }
}

/// Decodes one reference token (RFC 6901: `~1` is `/`, `~0` is `~`).
fn decode_token(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

/// Finds the object or array that holds the last token of `path`, and that
/// token decoded. `None` when the path has no `/` or a parent is missing.
fn find_container<'doc>(doc: &'doc mut Value, path: &str) -> Option<(&'doc mut Value, String)> {
    let tokens: Vec<&str> = path.split('/').collect();
    if tokens.len() < 2 {
        return None;
    }
    let (key, parents) = tokens[1..].split_last()?;
    let mut current = doc;
    for parent in parents {
        let token = decode_token(parent);
        let next = match current {
            Value::Object(map) => map.get_mut(&token)?,
            Value::Array(items) => {
                let index = parse_index(&token).ok().filter(|index| *index >= 0)?;
                items.get_mut(usize::try_from(index).ok()?)?
            }
            _ => return None,
        };
        if !(next.is_object() || next.is_array()) {
            return None;
        }
        current = next;
    }
    if current.is_object() || current.is_array() {
        Some((current, decode_token(key)))
    } else {
        None
    }
}

/// Go's `strconv.Atoi`, with its error text.
fn parse_index(token: &str) -> Result<i64, String> {
    let digits = token.strip_prefix(['+', '-']).unwrap_or(token);
    if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(format!("strconv.Atoi: parsing {token:?}: invalid syntax"));
    }
    token
        .parse::<i64>()
        .map_err(|_| format!("strconv.Atoi: parsing {token:?}: value out of range"))
}

fn invalid_index(index: i64) -> String {
    format!("Unable to access invalid index: {index}: {INVALID_INDEX}")
}

/// The value at `key`; `Ok(None)` for a missing object key.
fn get<'doc>(container: &'doc Value, key: &str) -> Result<Option<&'doc Value>, String> {
    match container {
        Value::Array(items) => {
            let index = parse_index(key)?;
            let position = usize::try_from(index).map_err(|_| invalid_index(index))?;
            items
                .get(position)
                .map(Some)
                .ok_or_else(|| invalid_index(index))
        }
        Value::Object(map) => Ok(map.get(key)),
        _ => Ok(None),
    }
}

fn set(container: &mut Value, key: &str, value: Value) -> Result<(), String> {
    match container {
        Value::Array(items) => {
            let index = parse_index(key)?;
            let slot = usize::try_from(index)
                .ok()
                .and_then(|position| items.get_mut(position))
                .ok_or_else(|| invalid_index(index))?;
            *slot = value;
            Ok(())
        }
        Value::Object(map) => {
            map.insert(key.to_owned(), value);
            Ok(())
        }
        _ => Err(MISSING.to_owned()),
    }
}

fn add(container: &mut Value, key: &str, value: Value) -> Result<(), String> {
    match container {
        Value::Array(items) => {
            if key == "-" {
                items.push(value);
                return Ok(());
            }
            let index = parse_index(key)
                .map_err(|error| format!("value was not a proper array index: '{key}': {error}"))?;
            let position = resolve_index(index, items.len() + 1)?;
            items.insert(position, value);
            Ok(())
        }
        Value::Object(map) => {
            map.insert(key.to_owned(), value);
            Ok(())
        }
        _ => Err(MISSING.to_owned()),
    }
}

fn remove(container: &mut Value, key: &str) -> Result<Value, String> {
    match container {
        Value::Array(items) => {
            let index = parse_index(key)?;
            let position = resolve_index(index, items.len())?;
            Ok(items.remove(position))
        }
        Value::Object(map) => map
            .remove(key)
            .ok_or_else(|| format!("Unable to remove nonexistent key: {key}: {MISSING}")),
        _ => Err(MISSING.to_owned()),
    }
}

/// An index below `len` (negative ones count from the end), or the error.
fn resolve_index(index: i64, len: usize) -> Result<usize, String> {
    let len_signed = i64::try_from(len).unwrap_or(i64::MAX);
    if index >= len_signed || index < -len_signed {
        return Err(invalid_index(index));
    }
    let resolved = if index < 0 { index + len_signed } else { index };
    usize::try_from(resolved).map_err(|_| invalid_index(index))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn apply(doc: Value, patch: Value) -> Result<Value, PatchError> {
        json_patch(&doc, patch.to_string().as_bytes(), DEFAULT_MAX_COPY_BYTES)
    }

    #[test]
    fn add_to_object_and_array() {
        let doc = json!({"foo": "bar", "list": [1, 3]});
        let patch = json!([
            {"op": "add", "path": "/baz", "value": "qux"},
            {"op": "add", "path": "/list/1", "value": 2},
            {"op": "add", "path": "/list/-", "value": 4}
        ]);
        assert_eq!(
            apply(doc, patch).unwrap(),
            json!({"foo": "bar", "baz": "qux", "list": [1, 2, 3, 4]})
        );
    }

    #[test]
    fn remove_replace_move_copy() {
        let doc = json!({"a": {"b": 1, "c": [1, 2, 3]}, "d": "x"});
        let patch = json!([
            {"op": "remove", "path": "/a/c/0"},
            {"op": "replace", "path": "/d", "value": "y"},
            {"op": "move", "from": "/a/b", "path": "/moved"},
            {"op": "copy", "from": "/a/c", "path": "/copied"}
        ]);
        assert_eq!(
            apply(doc, patch).unwrap(),
            json!({"a": {"c": [2, 3]}, "d": "y", "moved": 1, "copied": [2, 3]})
        );
    }

    #[test]
    fn escaped_tokens() {
        let doc = json!({"metadata": {"labels": {"app.kubernetes.io/name": "x", "a~b": "y"}}});
        let patch = json!([
            {"op": "remove", "path": "/metadata/labels/app.kubernetes.io~1name"},
            {"op": "replace", "path": "/metadata/labels/a~0b", "value": "z"}
        ]);
        assert_eq!(
            apply(doc, patch).unwrap(),
            json!({"metadata": {"labels": {"a~b": "z"}}})
        );
    }

    #[test]
    fn passing_and_failing_test_op() {
        let doc = json!({"metadata": {"uid": "u1", "resourceVersion": "5"}});
        let passing = json!([
            {"op": "test", "path": "/metadata/uid", "value": "u1"},
            {"op": "replace", "path": "/metadata/resourceVersion", "value": "6"}
        ]);
        assert_eq!(
            apply(doc.clone(), passing).unwrap()["metadata"]["resourceVersion"],
            "6"
        );

        let failing = json!([{"op": "test", "path": "/metadata/uid", "value": "other"}]);
        let error = apply(doc.clone(), failing).unwrap_err();
        assert_eq!(
            error.to_string(),
            "testing value /metadata/uid failed: test failed"
        );
        assert_eq!(error.status_code(), 422);
        assert!(!error.is_bad_request());

        let null_matches_missing = json!([{"op": "test", "path": "/metadata/gone", "value": null}]);
        assert!(apply(doc, null_matches_missing).is_ok());
    }

    #[test]
    fn copy_limit() {
        let doc = json!({"data": {"big": "x".repeat(100)}});
        let patch = json!([
            {"op": "copy", "from": "/data/big", "path": "/data/c1"},
            {"op": "copy", "from": "/data/big", "path": "/data/c2"}
        ]);
        let body = patch.to_string();
        assert!(json_patch(&doc, body.as_bytes(), 300).is_ok());
        let error = json_patch(&doc, body.as_bytes(), 150).unwrap_err();
        assert_eq!(
            error.to_string(),
            "Unable to complete the copy, the accumulated size increase of copy is 204, exceeding the limit 150"
        );
        assert_eq!(error.status_code(), 422);
    }

    #[test]
    fn missing_paths_and_bad_indices() {
        let doc = json!({"a": [1]});
        let error = apply(
            doc.clone(),
            json!([{"op": "add", "path": "/x/y", "value": 1}]),
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "add operation does not apply: doc is missing path: \"/x/y\": missing value"
        );
        let error = apply(doc.clone(), json!([{"op": "remove", "path": "/b"}])).unwrap_err();
        assert_eq!(
            error.to_string(),
            "error in remove for path: '/b': Unable to remove nonexistent key: b: missing value"
        );
        let error = apply(
            doc.clone(),
            json!([{"op": "add", "path": "/a/5", "value": 1}]),
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "error in add for path: '/a/5': Unable to access invalid index: 5: invalid index referenced"
        );
        let error = apply(
            doc.clone(),
            json!([{"op": "replace", "path": "/a/1", "value": 1}]),
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "replace operation does not apply: doc is missing key: /a/1: missing value"
        );
        let error = apply(doc, json!([{"op": "frobnicate", "path": "/a"}])).unwrap_err();
        assert_eq!(error.to_string(), "Unexpected kind: frobnicate");
    }

    #[test]
    fn malformed_patches_are_bad_requests() {
        let doc = json!({});
        let error = json_patch(&doc, b"{\"op\":\"add\"}", 0).unwrap_err();
        assert!(error.is_bad_request());
        assert_eq!(
            error.to_string(),
            "json: cannot unmarshal object into Go value of type jsonpatch.Patch"
        );
        assert!(json_patch(&doc, b"[1]", 0).unwrap_err().is_bad_request());
        assert!(
            json_patch(&doc, b"not json", 0)
                .unwrap_err()
                .is_bad_request()
        );
    }

    #[test]
    fn too_many_operations() {
        let operations: Vec<Value> = (0..=MAX_JSON_PATCH_OPERATIONS)
            .map(|_| json!({"op": "test", "path": "/a", "value": null}))
            .collect();
        let body = Value::Array(operations).to_string();
        let error = json_patch(&json!({}), body.as_bytes(), 0).unwrap_err();
        assert_eq!(error.status_code(), 413);
    }
}
