//! The OpenAPI v3 document of a custom group-version (upstream's
//! `builder.BuildOpenAPIV3`): each served kind's schema from its definition,
//! with `apiVersion`, `kind` and `metadata` added and its
//! `x-kubernetes-group-version-kind`, so `kubectl explain` finds it.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde_json::{Map, Value, json};

/// `com.example.v1.Widget` for `example.com/v1` `Widget`: the group's
/// labels reversed, as upstream names custom schemas.
pub fn definition_name(group: &str, version: &str, kind: &str) -> String {
    let reversed: Vec<&str> = group.split('.').rev().collect();
    format!("{}.{version}.{kind}", reversed.join("."))
}

/// The document of `group`/`version` with every definition in `crds` that
/// serves it.
pub fn group_version_document(
    group: &str,
    version: &str,
    crds: &[&CustomResourceDefinition],
) -> Value {
    let mut schemas = Map::new();
    let mut paths = Map::new();
    for crd in crds {
        let spec = &crd.spec;
        let Some(served) = spec
            .versions
            .iter()
            .find(|v| v.served && v.name == version && spec.group == group)
        else {
            continue;
        };
        let kind = &spec.names.kind;
        let mut schema = served
            .schema
            .as_ref()
            .and_then(|s| s.open_api_v3_schema.as_ref())
            .and_then(|props| serde_json::to_value(props).ok())
            .unwrap_or_else(|| json!({"type": "object"}));
        let properties = schema
            .as_object_mut()
            .map(|object| object.entry("properties").or_insert_with(|| json!({})));
        if let Some(Value::Object(properties)) = properties {
            properties.insert("apiVersion".into(), json!({"type": "string",
                "description": "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values."}));
            properties.insert("kind".into(), json!({"type": "string",
                "description": "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase."}));
            properties.insert("metadata".into(), json!({"type": "object",
                "description": "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"}));
        }
        let gvk = json!([{"group": group, "version": version, "kind": kind}]);
        if let Some(object) = schema.as_object_mut() {
            object.insert("x-kubernetes-group-version-kind".into(), gvk);
        }
        let name = definition_name(group, version, kind);
        let list_kind = spec
            .names
            .list_kind
            .clone()
            .unwrap_or_else(|| format!("{kind}List"));
        schemas.insert(
            definition_name(group, version, &list_kind),
            json!({
                "type": "object",
                "required": ["items"],
                "properties": {
                    "apiVersion": {"type": "string"},
                    "kind": {"type": "string"},
                    "metadata": {"type": "object"},
                    "items": {"type": "array", "items": {"$ref": format!("#/components/schemas/{name}")}},
                },
                "x-kubernetes-group-version-kind": [{"group": group, "version": version, "kind": list_kind}],
            }),
        );
        schemas.insert(name.clone(), schema);
        let namespaced = spec.scope == "Namespaced";
        let plural = &spec.names.plural;
        let collection = if namespaced {
            format!("/apis/{group}/{version}/namespaces/{{namespace}}/{plural}")
        } else {
            format!("/apis/{group}/{version}/{plural}")
        };
        // Each operation names its kind, as kubectl explain looks it up.
        let operation_gvk = json!({"group": group, "version": version, "kind": kind});
        let reply = |schema: &str| {
            json!({
                "responses": {"200": {"description": "OK", "content": {"application/json": {
                    "schema": {"$ref": format!("#/components/schemas/{schema}")}}}}},
                "x-kubernetes-group-version-kind": operation_gvk,
            })
        };
        // The write options, which kubectl looks for before it leaves
        // validation to the server (`fieldValidation`).
        let write = |schema: &str| {
            let mut operation = reply(schema);
            operation["parameters"] = ["dryRun", "fieldManager", "fieldValidation"]
                .iter()
                .map(|name| json!({"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": true}}))
                .collect();
            operation
        };
        paths.insert(
            collection.clone(),
            json!({"get": reply(&definition_name(group, version, &list_kind)), "post": write(&name)}),
        );
        paths.insert(
            format!("{collection}/{{name}}"),
            json!({"get": reply(&name), "put": write(&name), "patch": write(&name), "delete": reply(&name)}),
        );
    }
    json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes CRD Swagger", "version": "v0.1.0"},
        "paths": paths,
        "components": {"schemas": schemas},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kind_is_named_by_its_reversed_group_and_carries_its_gvk() {
        let crd: CustomResourceDefinition = serde_json::from_value(json!({
            "metadata": {"name": "widgets.example.com"},
            "spec": {"group": "example.com", "scope": "Namespaced",
                     "names": {"plural": "widgets", "kind": "Widget", "listKind": "WidgetList"},
                     "versions": [{"name": "v1", "served": true, "storage": true,
                                   "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                                       "spec": {"type": "object", "description": "What the widget is."}}}}}]},
        }))
        .unwrap();
        let document = group_version_document("example.com", "v1", &[&crd]);
        let widget = &document["components"]["schemas"]["com.example.v1.Widget"];
        assert_eq!(
            widget["properties"]["spec"]["description"],
            "What the widget is."
        );
        assert_eq!(widget["properties"]["kind"]["type"], "string");
        assert_eq!(
            widget["x-kubernetes-group-version-kind"],
            json!([{"group": "example.com", "version": "v1", "kind": "Widget"}])
        );
        assert_eq!(
            document["paths"]["/apis/example.com/v1/namespaces/{namespace}/widgets/{name}"]["get"]
                ["x-kubernetes-group-version-kind"]["kind"],
            "Widget"
        );
        let patch = &document["paths"]["/apis/example.com/v1/namespaces/{namespace}/widgets/{name}"]
            ["patch"];
        assert!(
            patch["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["name"] == "fieldValidation")
        );
        assert!(
            group_version_document("example.com", "v2", &[&crd])["components"]["schemas"]
                .as_object()
                .unwrap()
                .is_empty()
        );
    }
}
