//! JSON merge patch (RFC 7386, `application/merge-patch+json`): objects merge
//! recursively, `null` deletes a member, anything else replaces the target.

use serde_json::{Map, Value};

use super::error::PatchError;

/// Applies the RFC 7386 merge patch `patch` to `doc`.
pub fn merge_patch(doc: &Value, patch: &Value) -> Value {
    let Value::Object(patch_members) = patch else {
        return patch.clone();
    };
    let mut target = match doc {
        Value::Object(members) => members.clone(),
        _ => Map::new(),
    };
    for (name, value) in patch_members {
        if value.is_null() {
            target.remove(name);
        } else {
            let merged = merge_patch(target.get(name).unwrap_or(&Value::Null), value);
            target.insert(name.clone(), merged);
        }
    }
    Value::Object(target)
}

/// Applies a merge patch given as the request body, with upstream's errors:
/// a body that is not JSON, `null`, or a scalar is `Invalid JSON Patch`
/// (400). A list replaces the whole document, as upstream does.
pub fn merge_patch_bytes(doc: &Value, patch: &[u8]) -> Result<Value, PatchError> {
    let invalid = || PatchError::BadRequest("Invalid JSON Patch".to_owned());
    let patch: Value = serde_json::from_slice(patch).map_err(|_| invalid())?;
    match patch {
        Value::Object(_) => Ok(merge_patch(doc, &patch)),
        Value::Array(_) => Ok(merge_patch(&Value::Null, &patch)),
        _ => Err(invalid()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The test cases of RFC 7386, appendix A.
    #[test]
    fn rfc7386_appendix_a() {
        let cases = [
            (json!({"a": "b"}), json!({"a": "c"}), json!({"a": "c"})),
            (
                json!({"a": "b"}),
                json!({"b": "c"}),
                json!({"a": "b", "b": "c"}),
            ),
            (json!({"a": "b"}), json!({"a": null}), json!({})),
            (
                json!({"a": "b", "b": "c"}),
                json!({"a": null}),
                json!({"b": "c"}),
            ),
            (json!({"a": ["b"]}), json!({"a": "c"}), json!({"a": "c"})),
            (json!({"a": "c"}), json!({"a": ["b"]}), json!({"a": ["b"]})),
            (
                json!({"a": {"b": "c"}}),
                json!({"a": {"b": "d", "c": null}}),
                json!({"a": {"b": "d"}}),
            ),
            (
                json!({"a": [{"b": "c"}]}),
                json!({"a": [1]}),
                json!({"a": [1]}),
            ),
            (json!(["a", "b"]), json!(["c", "d"]), json!(["c", "d"])),
            (json!({"a": "b"}), json!(["c"]), json!(["c"])),
            (json!({"a": "foo"}), json!(null), json!(null)),
            (json!({"a": "foo"}), json!("bar"), json!("bar")),
            (
                json!({"e": null}),
                json!({"a": 1}),
                json!({"e": null, "a": 1}),
            ),
            (
                json!([1, 2]),
                json!({"a": "b", "c": null}),
                json!({"a": "b"}),
            ),
            (
                json!({}),
                json!({"a": {"bb": {"ccc": null}}}),
                json!({"a": {"bb": {}}}),
            ),
        ];
        for (doc, patch, expected) in cases {
            assert_eq!(merge_patch(&doc, &patch), expected, "{doc} + {patch}");
        }
    }

    #[test]
    fn request_bodies() {
        let doc = json!({"metadata": {"labels": {"a": "1", "b": "2"}}});
        let patched =
            merge_patch_bytes(&doc, br#"{"metadata":{"labels":{"a":null,"c":"3"}}}"#).unwrap();
        assert_eq!(
            patched,
            json!({"metadata": {"labels": {"b": "2", "c": "3"}}})
        );
        for body in [&b"null"[..], b"\"x\"", b"{"] {
            let error = merge_patch_bytes(&doc, body).unwrap_err();
            assert!(error.is_bad_request());
            assert_eq!(error.to_string(), "Invalid JSON Patch");
        }
    }
}
