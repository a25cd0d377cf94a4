//! Input strategies shared by the targets: text near a grammar mixed with
//! arbitrary text, JSON documents over the words Kubernetes objects and
//! patch directives use, and large lists (where a quadratic algorithm
//! would show).

use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use proptest::string::string_regex;
use serde_json::{Map, Value};

/// Text matching `regex` most of the time, any text otherwise.
pub fn text_near(regex: &str) -> BoxedStrategy<String> {
    let near = string_regex(regex).expect("a valid strategy regex");
    prop_oneof![
        4 => near,
        1 => any::<String>(),
    ]
    .boxed()
}

/// The keys documents and patches are made of: object fields, list merge
/// keys, and strategic merge patch directives.
pub const KEYS: &[&str] = &[
    "apiVersion",
    "kind",
    "metadata",
    "name",
    "namespace",
    "labels",
    "annotations",
    "finalizers",
    "resourceVersion",
    "spec",
    "containers",
    "initContainers",
    "env",
    "value",
    "ports",
    "containerPort",
    "protocol",
    "image",
    "volumes",
    "volumeMounts",
    "mountPath",
    "emptyDir",
    "hostPath",
    "tolerations",
    "status",
    "replicas",
    "strategy",
    "type",
    "$patch",
    "$retainKeys",
    "$setElementOrder/containers",
    "$setElementOrder/env",
    "$deleteFromPrimitiveList/finalizers",
    "x",
];

fn json_leaf() -> BoxedStrategy<Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (-1e6f64..1e6).prop_map(Value::from),
        prop::sample::select(vec![
            "", "a", "b", "c", "delete", "replace", "merge", "TCP", "8080", "web",
        ])
        .prop_map(Value::from),
        "[a-z0-9/~.-]{0,12}".prop_map(Value::from),
    ]
    .boxed()
}

/// JSON documents a few levels deep over [`KEYS`].
pub fn json_value() -> BoxedStrategy<Value> {
    json_leaf()
        .prop_recursive(4, 64, 6, |inner| {
            prop_oneof![
                vec(inner.clone(), 0..6).prop_map(Value::Array),
                btree_map(prop::sample::select(KEYS), inner, 0..6).prop_map(object_of),
            ]
        })
        .boxed()
}

/// JSON objects (what every document and patch here must be).
pub fn json_object() -> BoxedStrategy<Value> {
    btree_map(prop::sample::select(KEYS), json_value(), 0..6)
        .prop_map(object_of)
        .boxed()
}

/// A pod-shaped document with `n` containers named from a small set (so
/// names repeat and collide), for list merging at size.
pub fn pod_with_containers(names: Vec<u16>) -> Value {
    let containers: Vec<Value> = names
        .into_iter()
        .map(|name| serde_json::json!({"name": format!("c{name}"), "image": "busybox"}))
        .collect();
    serde_json::json!({"metadata": {"name": "p"}, "spec": {"containers": containers}})
}

/// Up to `max` container names out of `range` (so a big list repeats some).
pub fn container_names(max: usize, range: u16) -> BoxedStrategy<Vec<u16>> {
    vec(0..range, 0..max).boxed()
}

/// Raw bytes: mostly the serialised form of `json`, sometimes cut short or
/// arbitrary.
pub fn bytes_of(json: BoxedStrategy<Value>) -> BoxedStrategy<Vec<u8>> {
    prop_oneof![
        4 => json.clone().prop_map(|value| serde_json::to_vec(&value).expect("JSON encodes")),
        1 => (json, any::<prop::sample::Index>()).prop_map(|(value, cut)| {
            let bytes = serde_json::to_vec(&value).expect("JSON encodes");
            let at = cut.index(bytes.len() + 1);
            bytes[..at].to_vec()
        }),
        1 => vec(any::<u8>(), 0..256),
    ]
    .boxed()
}

/// A JSON object whose members are written out with some keys repeated
/// (what `serde_json::Value` cannot hold).
pub fn object_with_repeated_keys() -> BoxedStrategy<Vec<u8>> {
    vec((prop::sample::select(KEYS), json_value()), 0..12)
        .prop_map(|members| {
            let body: Vec<String> = members
                .iter()
                .map(|(key, value)| format!("{}:{value}", Value::from(*key)))
                .collect();
            format!("{{{}}}", body.join(",")).into_bytes()
        })
        .boxed()
}

/// Members keyed by [`KEYS`] as a JSON object.
fn object_of(members: std::collections::BTreeMap<&'static str, Value>) -> Value {
    Value::Object(
        members
            .into_iter()
            .map(|(key, value)| (key.to_owned(), value))
            .collect::<Map<String, Value>>(),
    )
}
