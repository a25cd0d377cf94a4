//! Decoding write bodies under `fieldValidation` (mirrors the strict
//! decoding of `k8s.io/apimachinery/pkg/runtime/serializer/json` over
//! `sigs.k8s.io/json`): unknown fields and fields repeated within one JSON
//! object are reported by field path, in document order, as
//! `unknown field "spec.foo"` / `duplicate field "metadata.name"`; warnings
//! under `Warn`, a 400 `strict decoding error: ...` under `Strict`,
//! nothing under `Ignore`. A repeated field takes its last value.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

use serde::de::{DeserializeOwned, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use apimachinery::validation::go_string::quote;

use crate::status::Status;

use super::rest::{Body, BodyFormat, FieldValidation};

/// Decodes `body` as `T` (a `kind`), with the field problems `validation`
/// asks for as warnings.
///
/// Every body reaches the typed decode as JSON bytes, through one
/// deserializer: YAML is converted first and a JSON document with repeated
/// keys is rewritten with the last value of each. The typed decode is
/// instantiated for every kind; one deserializer type instead of three
/// (JSON, JSON value, YAML) took a third off the release binary and 40 % off
/// the release build of the crates above this one (ARCHITECTURE.md, "Build
/// weight").
pub fn decode_body<T: DeserializeOwned>(
    body: &Body,
    validation: FieldValidation,
    kind: &str,
) -> Result<(T, Vec<String>), Status> {
    let decode_error = |err: String| {
        Status::bad_request(if validation == FieldValidation::Strict {
            format!("strict decoding error: {err}")
        } else {
            format!("error decoding the body as {kind}: {err}")
        })
    };
    let (json, rewritten, duplicated) = match body.format {
        BodyFormat::Json => {
            // One streaming pass over the keys; a syntax error is left to
            // the typed decode, which reports it with its position.
            let duplicated = duplicate_fields(&body.bytes).unwrap_or_default();
            if duplicated.is_empty() {
                (Cow::Borrowed(&body.bytes[..]), false, false)
            } else {
                // Repeated keys: the last one wins, as upstream.
                let value: serde_json::Value =
                    serde_json::from_slice(&body.bytes).map_err(|e| decode_error(e.to_string()))?;
                (Cow::Owned(reencode(&value)?), true, true)
            }
        }
        BodyFormat::Yaml => {
            let value: serde_json::Value =
                serde_yaml_ng::from_slice(&body.bytes).map_err(|e| decode_error(e.to_string()))?;
            (Cow::Owned(reencode(&value)?), true, false)
        }
    };
    let mut unknown = Vec::new();
    let mut de = serde_json::Deserializer::from_slice(&json);
    let obj: T = serde_ignored::deserialize(&mut de, |path: serde_ignored::Path<'_>| {
        unknown.push(field_path(&path))
    })
    .and_then(|obj| de.end().map(|()| obj))
    .map_err(|e| {
        // A position in a document the client did not send means nothing.
        decode_error(if rewritten {
            without_position(&e)
        } else {
            e.to_string()
        })
    })?;
    let problems = if duplicated {
        in_document_order(&body.bytes, &unknown)
    } else {
        unknown
            .iter()
            .map(|path| format!("unknown field {}", quote(path)))
            .collect()
    };
    match validation {
        FieldValidation::Strict if !problems.is_empty() => Err(Status::bad_request(format!(
            "strict decoding error: {}",
            problems.join(", ")
        ))),
        FieldValidation::Warn => Ok((obj, problems)),
        _ => Ok((obj, Vec::new())),
    }
}

fn reencode(value: &serde_json::Value) -> Result<Vec<u8>, Status> {
    serde_json::to_vec(value)
        .map_err(|e| Status::internal_error(format!("re-encoding the body: {e}")))
}

/// A decode error's message without serde_json's ` at line L column C`.
fn without_position(err: &serde_json::Error) -> String {
    let message = err.to_string();
    let position = format!(" at line {} column {}", err.line(), err.column());
    match message.strip_suffix(&position) {
        Some(bare) => bare.to_owned(),
        None => message,
    }
}

/// `spec.containers[0].image` for a `serde_ignored` path.
fn field_path(path: &serde_ignored::Path<'_>) -> String {
    use serde_ignored::Path;
    match path {
        Path::Root => String::new(),
        Path::Seq { parent, index } => format!("{}[{index}]", field_path(parent)),
        Path::Map { parent, key } => {
            let parent = field_path(parent);
            if parent.is_empty() {
                key.to_string()
            } else {
                format!("{parent}.{key}")
            }
        }
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => field_path(parent),
    }
}

/// The paths of the keys that repeat within one JSON object, in document
/// order, each once.
fn duplicate_fields(json: &[u8]) -> Result<Vec<String>, serde_json::Error> {
    let mut found = Problems::default();
    walk(json, &mut |path: &str, repeated: bool| {
        if repeated {
            found.push(path.to_string());
        }
        true
    })?;
    Ok(found.in_order)
}

/// A list without repeats in first-seen order, linear in its length (a
/// request body can hold hundreds of thousands of keys).
#[derive(Default)]
struct Problems {
    in_order: Vec<String>,
    seen: HashSet<String>,
}

impl Problems {
    fn push(&mut self, problem: String) {
        if self.seen.insert(problem.clone()) {
            self.in_order.push(problem);
        }
    }
}

/// The unknown fields (found by the typed decode) and the repeated ones,
/// merged in document order as upstream reports them: a field both unknown
/// and repeated is reported once, as unknown, and nothing below an unknown
/// field is looked at.
fn in_document_order(json: &[u8], unknown: &[String]) -> Vec<String> {
    let unknown_set: HashSet<&str> = unknown.iter().map(String::as_str).collect();
    let mut problems = Problems::default();
    let walked = walk(json, &mut |path: &str, repeated: bool| {
        if unknown_set.contains(path) {
            problems.push(format!("unknown field {}", quote(path)));
            false
        } else {
            if repeated {
                problems.push(format!("duplicate field {}", quote(path)));
            }
            true
        }
    });
    if walked.is_err() {
        // Cannot happen for a body that decoded; keep the unknown fields.
        problems = Problems::default();
    }
    // Anything the walk did not meet by the same path still counts.
    for path in unknown {
        problems.push(format!("unknown field {}", quote(path)));
    }
    problems.in_order
}

/// Visits every object key of a JSON document in order, without building
/// it: `visit(path, repeated)` gets the key's field path and whether the key
/// was already seen in its object, and answers whether to look inside its
/// value.
fn walk(json: &[u8], visit: &mut dyn FnMut(&str, bool) -> bool) -> Result<(), serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(json);
    let mut path = String::new();
    Node {
        path: &mut path,
        visit,
    }
    .deserialize(&mut de)?;
    de.end()
}

struct Node<'a> {
    path: &'a mut String,
    visit: &'a mut dyn FnMut(&str, bool) -> bool,
}

impl<'de> DeserializeSeed<'de> for Node<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, de: D) -> Result<(), D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Node<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_none<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let Node { path, visit } = self;
        let parent = path.len();
        let mut index = 0usize;
        loop {
            path.truncate(parent);
            path.push('[');
            path.push_str(&index.to_string());
            path.push(']');
            let element = Node {
                path: &mut *path,
                visit: &mut *visit,
            };
            if seq.next_element_seed(element)?.is_none() {
                break;
            }
            index += 1;
        }
        path.truncate(parent);
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Node { path, visit } = self;
        let parent = path.len();
        let mut seen: HashSet<String> = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            path.truncate(parent);
            if parent > 0 {
                path.push('.');
            }
            path.push_str(&key);
            let repeated = !seen.insert(key);
            if visit(path, repeated) {
                map.next_value_seed(Node {
                    path: &mut *path,
                    visit: &mut *visit,
                })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        path.truncate(parent);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use bytes::Bytes;
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::core::v1::ConfigMap;

    fn json(text: &str) -> Body {
        Body {
            format: BodyFormat::Json,
            bytes: Bytes::from(text.to_string()),
        }
    }

    const DEPLOYMENT: &str = r#"{
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "dupename",
            "name": "web",
            "labels": {"app": "nginx"},
            "unknownMeta": "metaVal"
        },
        "spec": {
            "unknown1": "val1",
            "unknownDupe": "valDupe",
            "unknownDupe": "valDupe2",
            "paused": true,
            "paused": false,
            "selector": {"matchLabels": {"app": "nginx"}},
            "template": {
                "metadata": {"labels": {"app": "nginx"}},
                "spec": {
                    "containers": [{
                        "name": "nginx",
                        "image": "nginx:latest",
                        "unknownNested": "val1",
                        "imagePullPolicy": "Always",
                        "imagePullPolicy": "Never"
                    }]
                }
            }
        }
    }"#;

    #[test]
    fn strict_reports_duplicates_and_unknowns_in_document_order() {
        let err =
            decode_body::<Deployment>(&json(DEPLOYMENT), FieldValidation::Strict, "Deployment")
                .expect_err("strict refuses");
        assert_eq!(err.code, 400);
        assert_eq!(
            err.message,
            r#"strict decoding error: duplicate field "metadata.name", unknown field "metadata.unknownMeta", unknown field "spec.unknown1", unknown field "spec.unknownDupe", duplicate field "spec.paused", unknown field "spec.template.spec.containers[0].unknownNested", duplicate field "spec.template.spec.containers[0].imagePullPolicy""#
        );
    }

    #[test]
    fn warn_keeps_the_last_value_and_warns() {
        let (obj, warnings) =
            decode_body::<Deployment>(&json(DEPLOYMENT), FieldValidation::Warn, "Deployment")
                .expect("warn decodes");
        assert_eq!(obj.metadata.name.as_deref(), Some("web"));
        let spec = obj.spec.expect("spec");
        assert_eq!(spec.paused, Some(false));
        let containers = spec.template.spec.expect("pod spec").containers;
        assert_eq!(containers[0].image_pull_policy.as_deref(), Some("Never"));
        assert_eq!(warnings.len(), 7, "{warnings:?}");
        assert_eq!(warnings[0], r#"duplicate field "metadata.name""#);
        assert_eq!(
            warnings[6],
            r#"duplicate field "spec.template.spec.containers[0].imagePullPolicy""#
        );
    }

    #[test]
    fn ignore_accepts_duplicates_silently() {
        let (obj, warnings) =
            decode_body::<Deployment>(&json(DEPLOYMENT), FieldValidation::Ignore, "Deployment")
                .expect("ignore decodes");
        assert_eq!(obj.metadata.name.as_deref(), Some("web"));
        assert!(warnings.is_empty());
    }

    #[test]
    fn map_keys_are_fields_too() {
        let body = json(r#"{"metadata":{"name":"c"},"data":{"a":"1","b":"2","a":"3"}}"#);
        let err = decode_body::<ConfigMap>(&body, FieldValidation::Strict, "ConfigMap")
            .expect_err("strict refuses");
        assert_eq!(
            err.message,
            r#"strict decoding error: duplicate field "data.a""#
        );
        let (obj, _) = decode_body::<ConfigMap>(&body, FieldValidation::Warn, "ConfigMap")
            .expect("warn decodes");
        assert_eq!(
            obj.data.and_then(|d| d.get("a").cloned()).as_deref(),
            Some("3")
        );
    }

    #[test]
    fn clean_bodies_and_syntax_errors() {
        let body = json(r#"{"metadata":{"name":"c"},"data":{"a":"1"}}"#);
        let (_, warnings) =
            decode_body::<ConfigMap>(&body, FieldValidation::Strict, "ConfigMap").expect("decodes");
        assert!(warnings.is_empty());
        let err =
            decode_body::<ConfigMap>(&json(r#"{"data":"#), FieldValidation::Warn, "ConfigMap")
                .expect_err("syntax");
        assert!(
            err.message
                .starts_with("error decoding the body as ConfigMap: EOF while parsing"),
            "{}",
            err.message
        );
    }

    #[test]
    fn yaml_bodies_report_unknown_fields_and_errors_without_json_positions() {
        let yaml = |text: &str| Body {
            format: BodyFormat::Yaml,
            bytes: Bytes::from(text.to_string()),
        };
        let body = yaml("metadata:\n  name: c\n  bogus: 1\ndata:\n  a: \"1\"\n");
        let (obj, warnings) = decode_body::<ConfigMap>(&body, FieldValidation::Warn, "ConfigMap")
            .expect("warn decodes");
        assert_eq!(obj.metadata.name.as_deref(), Some("c"));
        assert_eq!(warnings, [r#"unknown field "metadata.bogus""#]);
        let err = decode_body::<ConfigMap>(&body, FieldValidation::Strict, "ConfigMap")
            .expect_err("strict refuses");
        assert_eq!(
            err.message,
            r#"strict decoding error: unknown field "metadata.bogus""#
        );

        let wrong_type = yaml("metadata:\n  name: c\ndata: [1, 2]\n");
        let err = decode_body::<ConfigMap>(&wrong_type, FieldValidation::Warn, "ConfigMap")
            .expect_err("a list is not a map");
        assert_eq!(
            err.message,
            "error decoding the body as ConfigMap: invalid type: sequence, expected a map"
        );
        let err = decode_body::<ConfigMap>(&yaml("data: [\n"), FieldValidation::Warn, "ConfigMap")
            .expect_err("not YAML");
        assert!(
            err.message
                .starts_with("error decoding the body as ConfigMap: "),
            "{}",
            err.message
        );
    }

    #[test]
    fn type_errors_keep_the_position_only_in_the_clients_document() {
        let err = decode_body::<ConfigMap>(
            &json(r#"{"metadata":{"name":"c"},"data":[1]}"#),
            FieldValidation::Warn,
            "ConfigMap",
        )
        .expect_err("a list is not a map");
        assert_eq!(
            err.message,
            "error decoding the body as ConfigMap: invalid type: sequence, expected a map at line 1 column 32"
        );
        let err = decode_body::<ConfigMap>(
            &json(r#"{"metadata":{"name":"c","name":"d"},"data":[1]}"#),
            FieldValidation::Strict,
            "ConfigMap",
        )
        .expect_err("a list is not a map");
        assert_eq!(
            err.message,
            "strict decoding error: invalid type: sequence, expected a map"
        );
    }

    #[test]
    fn repeated_keys_in_different_objects_are_not_duplicates() {
        let body = json(r#"{"items":[{"name":"a"},{"name":"b"}],"x":{"name":1},"y":{"name":2}}"#);
        assert_eq!(
            duplicate_fields(&body.bytes).expect("walks"),
            Vec::<String>::new()
        );
        let deep = "[".repeat(10_000);
        assert!(duplicate_fields(deep.as_bytes()).is_err());
    }
}
