//! The fuzz targets: what each feeds, and what it requires of every answer.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use proptest::collection::vec;
use proptest::prelude::*;
use serde_json::{Value, json};

use apimachinery::patch::{self, PatchError, PatchSchema};
use apiserver::registry::decode::decode_body;
use apiserver::registry::rest::{Body, BodyFormat, FieldValidation};
use apiserver::request_info::RequestInfo;
use apiserver_storage::{ContinueToken, StorageError};
use controlplane::registry::core::pod::quantity::{ParsedQuantity, QUANTITY_FORMAT_ERROR};
use k8s_openapi::api::core::v1::Pod;

use crate::strategies::{
    bytes_of, container_names, json_object, json_value, object_with_repeated_keys,
    pod_with_containers, text_near,
};
use crate::{Target, fuzz, require};

pub const ALL: &[Target] = &[
    Target {
        name: "label-selectors",
        about: "labels::Selector::parse; a parsed selector prints in a form that parses to itself",
        run: label_selectors,
    },
    Target {
        name: "field-selectors",
        about: "fields::Selector::parse; a parsed selector prints in a form that parses to itself",
        run: field_selectors,
    },
    Target {
        name: "durations",
        about: "Go durations (flag::Duration); a parsed duration prints as text that parses back to it",
        run: durations,
    },
    Target {
        name: "quantities",
        about: "resource quantities; anything else is upstream's format error",
        run: quantities,
    },
    Target {
        name: "json-patch",
        about: "RFC 6902 patches, small and over large arrays; errors are 400, 413 or 422",
        run: json_patches,
    },
    Target {
        name: "merge-patch",
        about: "RFC 7386 patches; applying one twice changes nothing more",
        run: merge_patches,
    },
    Target {
        name: "strategic-merge-patch",
        about: "strategic merge patches with every directive, on pods, small and with thousands of containers",
        run: strategic_merge_patches,
    },
    Target {
        name: "typed-decode",
        about: "JSON (repeated keys included) and YAML bodies decoded as a Pod under each fieldValidation; errors are 400",
        run: typed_decode,
    },
    Target {
        name: "protobuf-envelope",
        about: "Kubernetes protobuf bodies (k8s\\0 + runtime.Unknown); JSON out, or 400/415",
        run: protobuf_envelope,
    },
    Target {
        name: "continue-tokens",
        about: "continue tokens; a token is refused unless it stays inside the listed prefix",
        run: continue_tokens,
    },
    Target {
        name: "request-info",
        about: "RequestInfo of arbitrary methods, paths and queries; a resource request always names its API",
        run: request_info,
    },
];

fn label_selectors(budget: Duration) -> Result<u64, String> {
    fuzz(
        "label-selectors",
        text_near(
            r"[a-z0-9./_-]{0,12}(( ?(=|==|!=) ?| (in|notin) \(|)[a-z0-9,._ -]{0,16}\)?)(,!?[a-z0-9./-]{0,8}){0,3}",
        ),
        budget,
        |text| {
            if let Ok(selector) = apimachinery::labels::Selector::parse(&text) {
                let printed = selector.to_string();
                let again = apimachinery::labels::Selector::parse(&printed).map_err(|err| {
                    TestCaseError::fail(format!("{printed:?} does not parse: {err}"))
                })?;
                require(again.to_string() == printed, || {
                    format!("{text:?} prints as {printed:?}, which prints as {again}")
                })?;
            }
            Ok(())
        },
    )
}

fn field_selectors(budget: Duration) -> Result<u64, String> {
    fuzz(
        "field-selectors",
        text_near(r"([a-z.]{0,16}(=|==|!=)[a-z0-9\\,=!.-]{0,16},?){0,4}"),
        budget,
        |text| {
            // Upstream keeps the terms in the order of their raw text, so
            // `==x` and `=x` may print in another order: the terms, not
            // their order, must survive printing.
            let terms = |selector: &apimachinery::fields::Selector| {
                let mut terms: Vec<String> = selector
                    .requirements()
                    .iter()
                    .map(ToString::to_string)
                    .collect();
                terms.sort();
                terms
            };
            if let Ok(selector) = apimachinery::fields::Selector::parse(&text) {
                let printed = selector.to_string();
                let again = apimachinery::fields::Selector::parse(&printed).map_err(|err| {
                    TestCaseError::fail(format!("{printed:?} does not parse: {err}"))
                })?;
                require(terms(&again) == terms(&selector), || {
                    format!("{text:?} prints as {printed:?}, which parses as {again}")
                })?;
            }
            Ok(())
        },
    )
}

fn durations(budget: Duration) -> Result<u64, String> {
    fuzz(
        "durations",
        text_near(r"[-+]?([0-9]{0,12}(\.[0-9]{0,12})?(ns|us|µs|ms|s|m|h)){0,4}"),
        budget,
        |text| {
            match text.parse::<apiserver::flag::Duration>() {
                Ok(duration) => {
                    let printed = duration.to_string();
                    let again: apiserver::flag::Duration = printed.parse().map_err(|err| {
                        TestCaseError::fail(format!("{text:?} prints as {printed:?}: {err}"))
                    })?;
                    require(again.as_nanos() == duration.as_nanos(), || {
                        format!("{text:?} → {printed:?} → {again}")
                    })?;
                }
                Err(err) => require(err.to_string().starts_with("time: "), || {
                    format!("{text:?}: {err}")
                })?,
            }
            Ok(())
        },
    )
}

fn quantities(budget: Duration) -> Result<u64, String> {
    fuzz(
        "quantities",
        text_near(r"[+-]?[0-9]{0,30}(\.[0-9]{0,30})?([eE][+-]?[0-9]{1,12}|[numkMGTPE]|[KMGTPE]i)?"),
        budget,
        |text| {
            if let Err(err) = ParsedQuantity::parse(&text) {
                require(err == QUANTITY_FORMAT_ERROR, || format!("{text:?}: {err}"))?;
            }
            Ok(())
        },
    )
}

/// A JSON pointer over the words documents are made of.
fn pointer() -> BoxedStrategy<String> {
    vec(
        prop_oneof![
            prop::sample::select(crate::strategies::KEYS).prop_map(str::to_owned),
            (0usize..4).prop_map(|i| i.to_string()),
            Just("-".to_owned()),
            Just("~1x~0".to_owned()),
        ],
        0..4,
    )
    .prop_map(|segments| {
        segments
            .iter()
            .map(|segment| format!("/{segment}"))
            .collect()
    })
    .boxed()
}

fn json_patch_operation() -> BoxedStrategy<Value> {
    (
        prop::sample::select(vec![
            "add", "remove", "replace", "move", "copy", "test", "bogus",
        ]),
        pointer(),
        pointer(),
        json_value(),
    )
        .prop_map(
            |(op, path, from, value)| json!({"op": op, "path": path, "from": from, "value": value}),
        )
        .boxed()
}

fn json_patches(budget: Duration) -> Result<u64, String> {
    let small = (
        json_object(),
        bytes_of(
            vec(json_patch_operation(), 0..8)
                .prop_map(Value::Array)
                .boxed(),
        ),
    );
    // Many inserts at the front of a long array.
    let large = (1usize..4000, 0usize..300).prop_map(|(len, ops)| {
        let doc = json!({"spec": {"containers": vec![json!(1); len]}});
        let patch: Vec<Value> = (0..ops)
            .map(|i| json!({"op": "add", "path": "/spec/containers/0", "value": i}))
            .collect();
        (doc, serde_json::to_vec(&patch).expect("JSON encodes"))
    });
    fuzz(
        "json-patch",
        prop_oneof![4 => small, 1 => large],
        budget,
        |(doc, patch)| match patch::json_patch(&doc, &patch, patch::DEFAULT_MAX_COPY_BYTES) {
            Ok(_) => Ok(()),
            Err(PatchError::Internal(message)) => Err(TestCaseError::fail(format!(
                "a JSON patch error must be 400, 413 or 422, not 500: {message}"
            ))),
            Err(_) => Ok(()),
        },
    )
}

fn merge_patches(budget: Duration) -> Result<u64, String> {
    fuzz(
        "merge-patch",
        (json_object(), bytes_of(json_value())),
        budget,
        |(doc, patch_bytes)| {
            let Ok(once) = patch::merge_patch_bytes(&doc, &patch_bytes) else {
                return Ok(());
            };
            let twice = patch::merge_patch_bytes(&once, &patch_bytes)
                .map_err(|err| TestCaseError::fail(format!("applying it again failed: {err}")))?;
            require(once == twice, || {
                format!("not idempotent: {once} then {twice}")
            })
        },
    )
}

fn strategic_merge_patches(budget: Duration) -> Result<u64, String> {
    let schema = PatchSchema::of::<Pod>();
    let small = (json_object(), json_object());
    // Thousands of containers merged by name, reordered by a directive.
    let large = (
        container_names(3000, 600),
        container_names(3000, 600),
        container_names(3000, 600),
    )
        .prop_map(|(original, patched, order)| {
            let doc = pod_with_containers(original);
            let mut patch = pod_with_containers(patched);
            let order: Vec<Value> = order
                .into_iter()
                .map(|name| json!({"name": format!("c{name}")}))
                .collect();
            patch["spec"]["$setElementOrder/containers"] = Value::Array(order);
            (doc, patch)
        });
    fuzz(
        "strategic-merge-patch",
        prop_oneof![4 => small, 1 => large],
        budget,
        |(doc, patch)| {
            let result = patch::strategic_merge_patch(&doc, &patch, &schema);
            if let Err(err) = &result {
                require(!err.to_string().is_empty(), || {
                    "an error without a message".into()
                })?;
            }
            // An empty patch changes nothing.
            let unchanged = patch::strategic_merge_patch(&doc, &json!({}), &schema)
                .map_err(|err| TestCaseError::fail(format!("the empty patch failed: {err}")))?;
            require(unchanged == doc, || {
                format!("the empty patch changed {doc}")
            })
        },
    )
}

fn typed_decode(budget: Duration) -> Result<u64, String> {
    let json = bytes_of(json_object()).prop_map(|bytes| (BodyFormat::Json, bytes));
    let repeated = object_with_repeated_keys().prop_map(|bytes| (BodyFormat::Json, bytes));
    let yaml = json_object().prop_map(|value| {
        let text = serde_yaml_text(&value);
        (BodyFormat::Yaml, text.into_bytes())
    });
    let validation = prop::sample::select(vec![
        FieldValidation::Ignore,
        FieldValidation::Warn,
        FieldValidation::Strict,
    ]);
    fuzz(
        "typed-decode",
        (prop_oneof![json, repeated, yaml], validation),
        budget,
        |((format, bytes), validation)| {
            let body = Body {
                format,
                bytes: bytes::Bytes::from(bytes),
            };
            match decode_body::<Pod>(&body, validation, "Pod") {
                Ok((_, warnings)) => require(
                    validation == FieldValidation::Warn || warnings.is_empty(),
                    || format!("warnings under {validation:?}: {warnings:?}"),
                ),
                Err(status) => require(status.code == 400, || {
                    format!(
                        "a decode error must be 400: {} {}",
                        status.code, status.message
                    )
                }),
            }
        },
    )
}

/// YAML for a JSON value (JSON is YAML; flow style keeps it simple).
fn serde_yaml_text(value: &Value) -> String {
    format!("# a YAML body\n{value}\n")
}

fn protobuf_envelope(budget: Duration) -> Result<u64, String> {
    let framed = vec(any::<u8>(), 0..512).prop_map(|rest| {
        let mut body = b"k8s\0".to_vec();
        body.extend(rest);
        body
    });
    fuzz(
        "protobuf-envelope",
        prop_oneof![4 => framed, 1 => vec(any::<u8>(), 0..64)],
        budget,
        |body| match apiserver::endpoints::protobuf::body_to_json(&body) {
            Ok(json) => require(serde_json::from_slice::<Value>(&json).is_ok(), || {
                "the JSON it gave does not parse".to_owned()
            }),
            Err(status) => require(matches!(status.code, 400 | 415), || {
                format!("{} {}", status.code, status.message)
            }),
        },
    )
}

fn continue_tokens(budget: Duration) -> Result<u64, String> {
    const PREFIX: &str = "/registry/pods/";
    let wire = (
        any::<i64>(),
        text_near(r"(\.\./|/|[a-z0-9/.-]){0,24}"),
        prop::bool::ANY,
    )
        .prop_map(|(rv, start, right_version)| {
            let version = if right_version {
                "meta.k8s.io/v1"
            } else {
                "v0"
            };
            URL_SAFE_NO_PAD.encode(json!({"v": version, "rv": rv, "start": start}).to_string())
        });
    fuzz(
        "continue-tokens",
        prop_oneof![3 => wire, 1 => any::<String>()],
        budget,
        |token| match ContinueToken::decode(&token, PREFIX) {
            Ok(decoded) => require(decoded.start_key.starts_with(PREFIX), || {
                format!(
                    "{token:?} starts at {:?}, outside {PREFIX}",
                    decoded.start_key
                )
            }),
            Err(StorageError::InvalidContinue { .. }) => Ok(()),
            Err(other) => Err(TestCaseError::fail(format!(
                "a bad token must be InvalidContinue (400), not {other}"
            ))),
        },
    )
}

fn request_info(budget: Duration) -> Result<u64, String> {
    let segment = prop::sample::select(vec![
        "api",
        "apis",
        "v1",
        "apps",
        "namespaces",
        "default",
        "pods",
        "watch",
        "proxy",
        "status",
        "scale",
        "finalize",
        "x",
        "",
        "..",
        "%2F",
        "a b",
    ]);
    let path = vec(segment, 0..9).prop_map(|segments| format!("/{}", segments.join("/")));
    let method = prop::sample::select(vec![
        "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "CONNECT", "FOO",
    ]);
    let query = proptest::option::of(text_near(r"([a-zA-Z]{0,12}=[a-z0-9%=.,&]{0,12}&?){0,3}"));
    fuzz(
        "request-info",
        (method, prop_oneof![3 => path, 1 => any::<String>()], query),
        budget,
        |(method, path, query)| {
            let method = http::Method::from_bytes(method.as_bytes()).expect("a valid method");
            let info = RequestInfo::new(&method, &path, query.as_deref());
            if info.is_resource_request {
                require(
                    matches!(info.api_prefix.as_str(), "api" | "apis")
                        && !info.api_version.is_empty(),
                    || format!("{path:?} is a resource request without an API: {info:?}"),
                )?;
            }
            // Upstream leaves the verb empty for a resource request with a
            // method it does not map (OPTIONS, CONNECT, ...).
            require(
                info.is_resource_request || info.verb == method.as_str().to_ascii_lowercase(),
                || format!("{method} {path:?}: verb {:?}", info.verb),
            )?;
            require(
                matches!(info.scope(), "" | "resource" | "namespace" | "cluster"),
                || format!("scope {}", info.scope()),
            )
        },
    )
}
