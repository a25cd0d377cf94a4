//! Answers built from stored bytes without decoding them. A store keeps an
//! object as the API's JSON without `metadata.resourceVersion` (the
//! revision carries it), so the answer for a read is those bytes with
//! `"resourceVersion":"<revision>"` written into `metadata`: one scan of
//! the bytes that allocates nothing, instead of decoding the typed object
//! and encoding it again.
//!
//! Bytes of another shape (not an object, no `metadata` object, or one
//! that already names a `resourceVersion`) are refused, and the caller
//! decodes them as before.

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::value::RawValue;

/// Appends `stored` with `"resourceVersion":"<revision>"` as the first
/// field of its `metadata` to `out`; `false` (and `out` unchanged) when
/// `stored` is not an object whose `metadata` is an object without a
/// `resourceVersion`.
pub(crate) fn append_with_resource_version(
    stored: &[u8],
    revision: impl std::fmt::Display,
    out: &mut Vec<u8>,
) -> bool {
    let Some(open) = metadata_start(stored) else {
        return false;
    };
    let (head, rest) = stored.split_at(open + 1);
    out.reserve(stored.len() + 40);
    out.extend_from_slice(head);
    // The revision is a number: it needs no escaping.
    out.extend_from_slice(format!("\"resourceVersion\":\"{revision}\"").as_bytes());
    if !rest.trim_ascii_start().starts_with(b"}") {
        out.push(b',');
    }
    out.extend_from_slice(rest);
    true
}

/// The offset of the `{` opening the top-level `metadata` object, when
/// `stored` is an object with one that has no `resourceVersion` field.
fn metadata_start(stored: &[u8]) -> Option<usize> {
    #[derive(Deserialize)]
    struct Object<'a> {
        #[serde(borrow)]
        metadata: Option<&'a RawValue>,
    }
    #[derive(Deserialize)]
    struct Metadata {
        #[serde(rename = "resourceVersion")]
        resource_version: Option<IgnoredAny>,
    }
    let object: Object<'_> = serde_json::from_slice(stored).ok()?;
    let metadata = object.metadata?.get();
    if !metadata.starts_with('{') {
        return None;
    }
    let Metadata {
        resource_version: None,
    } = serde_json::from_str(metadata).ok()?
    else {
        return None;
    };
    // `metadata` borrows from `stored`: its offset there.
    let offset = (metadata.as_ptr() as usize).checked_sub(stored.as_ptr() as usize)?;
    (stored.get(offset) == Some(&b'{')).then_some(offset)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn answer(stored: &str, revision: u64) -> Option<Value> {
        let mut out = b"prefix".to_vec();
        if !append_with_resource_version(stored.as_bytes(), revision, &mut out) {
            assert_eq!(
                out, b"prefix",
                "a refused input leaves the output unchanged"
            );
            return None;
        }
        assert!(out.starts_with(b"prefix"));
        Some(serde_json::from_slice(&out[6..]).expect("the answer is JSON"))
    }

    #[test]
    fn the_revision_becomes_the_first_metadata_field() {
        let stored = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "a", "labels": {"metadata": "x"}, "uid": "u"},
            "spec": {"metadata": {"resourceVersion": "nested, not the object's"}}
        });
        let got = answer(&stored.to_string(), 42).expect("an object with metadata");
        let mut expected = stored.clone();
        expected["metadata"]["resourceVersion"] = json!("42");
        assert_eq!(got, expected);
        let mut out = Vec::new();
        assert!(append_with_resource_version(
            stored.to_string().as_bytes(),
            42,
            &mut out
        ));
        assert!(
            String::from_utf8(out)
                .unwrap()
                .contains(r#""metadata":{"resourceVersion":"42","#)
        );
    }

    #[test]
    fn empty_metadata_and_whitespace() {
        assert_eq!(
            answer(r#"{"kind":"ConfigMap","metadata":{}}"#, 7),
            Some(json!({"kind": "ConfigMap", "metadata": {"resourceVersion": "7"}}))
        );
        assert_eq!(
            answer("{ \"metadata\" : {  } , \"data\": {\"a\": \"b\"} }", 8),
            Some(json!({"metadata": {"resourceVersion": "8"}, "data": {"a": "b"}}))
        );
        assert_eq!(
            answer("{\"metadata\":{ \"name\" : \"n\" }}", 9),
            Some(json!({"metadata": {"resourceVersion": "9", "name": "n"}}))
        );
    }

    #[test]
    fn other_shapes_are_refused() {
        for stored in [
            "",
            "[]",
            "\"metadata\"",
            "{}",
            r#"{"metadata":null}"#,
            r#"{"metadata":[]}"#,
            r#"{"metadata":"x"}"#,
            r#"{"metadata":{"resourceVersion":"1"}}"#,
            r#"{"metadata":{},"metadata":{}}"#,
            r#"{"metadata":{"name":"a"}"#,
            r#"{"metadata":{"name":"a"}} trailing"#,
        ] {
            assert_eq!(answer(stored, 1), None, "{stored:?}");
        }
    }
}
