//! What strategic merge patch needs to know of a kind's structure: which
//! fields it has, which are lists, maps or structs, and (from the
//! [`field_patch_meta`](super::field_patch_meta) table) their patch strategy
//! and merge key. Built from the kind's JSON Schema (schemars, as
//! k8s-openapi generates it) by following `properties`, `items`,
//! `additionalProperties` and `$ref`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::schemars::{JsonSchema, SchemaGenerator};
use serde_json::Value;

use super::error::PatchError;
use super::field_meta::{FieldPatchMeta, field_patch_meta};
use crate::intern::intern_list;

type NodeId = usize;

#[derive(Debug, Clone)]
enum Node {
    /// No structure known: maps merge, lists are replaced.
    Unknown,
    /// A struct: its fields by JSON name.
    Struct {
        definition: Option<String>,
        fields: BTreeMap<String, NodeId>,
    },
    /// A map with values of one schema.
    Map(NodeId),
    /// A list with items of one schema, and the list metadata its schema
    /// gives (`x-kubernetes-list-type`, `x-kubernetes-list-map-keys`: a
    /// custom resource's; the built-in kinds' come from the
    /// [`field_patch_meta`](super::field_patch_meta) table).
    List {
        items: NodeId,
        meta: Option<FieldPatchMeta>,
    },
    /// A string, number or boolean.
    Scalar,
}

/// The structure of a kind for strategic merge patch; cheap to clone.
#[derive(Debug, Clone)]
pub struct PatchSchema {
    nodes: Arc<Vec<Node>>,
    root: NodeId,
}

impl PatchSchema {
    /// The schema of `T` (a k8s-openapi type), e.g. `PatchSchema::of::<Pod>()`.
    /// Generating the JSON Schema takes milliseconds: build it once per kind
    /// and keep it (clones share the nodes).
    pub fn of<T: JsonSchema>() -> Self {
        let root_schema = SchemaGenerator::default().into_root_schema_for::<T>();
        let root_value = root_schema.to_value();
        let definitions = root_value
            .get("$defs")
            .or_else(|| root_value.get("definitions"))
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let mut builder = Builder {
            definitions: &definitions,
            nodes: Vec::new(),
            built: HashMap::new(),
            atomic_maps: false,
        };
        let root = builder.build(&root_value, Some(T::schema_name().as_ref()));
        PatchSchema {
            nodes: Arc::new(builder.nodes),
            root,
        }
    }

    /// No schema (custom resources, unknown kinds): maps merge, lists are replaced.
    pub fn unstructured() -> Self {
        PatchSchema {
            nodes: Arc::new(vec![Node::Unknown]),
            root: 0,
        }
    }

    /// The schema of a custom resource from its definition's structural
    /// `openAPIV3Schema` (as JSON): lists carry their `x-kubernetes-list-type`
    /// and `x-kubernetes-list-map-keys`, and `metadata` is `ObjectMeta`
    /// whatever the definition says of it, as upstream's.
    pub fn structural(schema: &Value) -> Self {
        let object_meta = SchemaGenerator::default()
            .into_root_schema_for::<ObjectMeta>()
            .to_value();
        let definitions = object_meta
            .get("$defs")
            .or_else(|| object_meta.get("definitions"))
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let mut builder = Builder {
            definitions: &definitions,
            nodes: Vec::new(),
            built: HashMap::new(),
            atomic_maps: false,
        };
        let metadata = builder.build(&object_meta, Some(ObjectMeta::schema_name().as_ref()));
        builder.atomic_maps = true;
        let root = builder.build(schema, None);
        let scalar = builder.push(Node::Scalar);
        let mut nodes = builder.nodes;
        let envelope = [
            ("metadata", metadata),
            ("apiVersion", scalar),
            ("kind", scalar),
        ];
        match nodes.get_mut(root) {
            Some(Node::Struct { fields, .. }) => {
                for (name, node) in envelope {
                    fields.insert(name.to_owned(), node);
                }
            }
            // No declared fields: every other field stays unknown.
            Some(root_node) => {
                *root_node = Node::Struct {
                    definition: None,
                    fields: envelope
                        .into_iter()
                        .map(|(name, node)| (name.to_owned(), node))
                        .collect(),
                };
            }
            None => {}
        }
        PatchSchema {
            nodes: Arc::new(nodes),
            root,
        }
    }

    pub(crate) fn root(&self) -> SchemaCursor<'_> {
        SchemaCursor {
            schema: self,
            node: self.root,
        }
    }
}

/// A position in a [`PatchSchema`].
#[derive(Clone, Copy)]
pub(crate) struct SchemaCursor<'schema> {
    schema: &'schema PatchSchema,
    node: NodeId,
}

impl<'schema> SchemaCursor<'schema> {
    fn node(&self) -> &'schema Node {
        self.schema.nodes.get(self.node).unwrap_or(&Node::Unknown)
    }

    fn at(&self, node: NodeId) -> Self {
        SchemaCursor {
            schema: self.schema,
            node,
        }
    }

    fn unknown(&self) -> Self {
        // Node 0 of an unstructured schema is Unknown; for a built schema use a
        // node id past the end, which `node()` reads as Unknown.
        self.at(usize::MAX)
    }

    /// The definition name (e.g. `io.k8s.api.core.v1.PodSpec`) when this
    /// position is a struct with one; the key into
    /// [`field_patch_meta`](super::field_patch_meta).
    pub(crate) fn definition(&self) -> Option<&'schema str> {
        match self.node() {
            Node::Struct { definition, .. } => definition.as_deref(),
            _ => None,
        }
    }

    /// The name upstream uses for the type in "cannot merge lists without
    /// merge key for <name>".
    pub(crate) fn type_name(&self) -> &'static str {
        match self.node() {
            Node::Struct { .. } => "struct",
            Node::Map(_) => "map",
            Node::List { .. } => "slice",
            Node::Scalar => "string",
            Node::Unknown => "interface",
        }
    }

    /// The schema and patch metadata of the field `key` of this struct.
    pub(crate) fn field(&self, key: &str) -> Result<(Self, FieldPatchMeta), PatchError> {
        match self.node() {
            Node::Struct { definition, fields } => {
                let found = fields.get_key_value(key).or_else(|| {
                    fields
                        .iter()
                        .find(|(name, _)| name.eq_ignore_ascii_case(key))
                });
                let Some((name, node)) = found else {
                    let short_name = definition
                        .as_deref()
                        .and_then(|definition| definition.rsplit('.').next())
                        .unwrap_or("");
                    return Err(PatchError::Internal(format!(
                        "unable to find api field in struct {short_name} for the json field {key:?}"
                    )));
                };
                let meta = definition
                    .as_deref()
                    .and_then(|definition| field_patch_meta(definition, name))
                    .or_else(|| match self.at(*node).node() {
                        Node::List { meta, .. } => *meta,
                        _ => None,
                    })
                    .unwrap_or_default();
                Ok((self.at(*node), meta))
            }
            Node::Map(values) => {
                // A map of lists: each value's list type is the values'.
                let values = self.at(*values);
                let meta = match values.node() {
                    Node::List { meta, .. } => *meta,
                    _ => None,
                };
                Ok((values, meta.unwrap_or_default()))
            }
            _ => Ok((self.unknown(), FieldPatchMeta::default())),
        }
    }

    /// The schema of the items and the patch metadata of the list field `key`.
    pub(crate) fn list_field(&self, key: &str) -> Result<(Self, FieldPatchMeta), PatchError> {
        let (field, meta) = self.field(key)?;
        let items = match field.node() {
            Node::List { items, .. } => field.at(*items),
            _ => field.unknown(),
        };
        Ok((items, meta))
    }
}

/// The list metadata an array schema declares, its keys interned (a
/// definition's schema comes from a client; the metadata table's are
/// `'static`).
fn list_meta_of(schema: &Value) -> Option<FieldPatchMeta> {
    let keys: Vec<String> = schema
        .get("x-kubernetes-list-map-keys")
        .and_then(Value::as_array)
        .map(|keys| {
            keys.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    match schema.get("x-kubernetes-list-type")?.as_str()? {
        "atomic" => Some(FieldPatchMeta::ATOMIC),
        "set" => Some(FieldPatchMeta::SET),
        "map" => Some(FieldPatchMeta::map(intern_list(&keys))),
        _ => None,
    }
}

struct Builder<'defs> {
    definitions: &'defs serde_json::Map<String, Value>,
    nodes: Vec<Node>,
    built: HashMap<String, NodeId>,
    /// Whether `x-kubernetes-map-type: atomic` makes an object one value
    /// (a definition's schema says so itself; the built-in kinds' atomic
    /// structs are a table in `fieldmanager::typed`).
    atomic_maps: bool,
}

impl Builder<'_> {
    fn push(&mut self, node: Node) -> NodeId {
        self.nodes.push(node);
        self.nodes.len() - 1
    }

    fn build(&mut self, schema: &Value, definition: Option<&str>) -> NodeId {
        if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
            let name = reference.rsplit('/').next().unwrap_or(reference);
            let name = name.replace("~1", "/").replace("~0", "~");
            if let Some(node) = self.built.get(&name) {
                return *node;
            }
            let placeholder = self.push(Node::Unknown);
            self.built.insert(name.clone(), placeholder);
            if let Some(target) = self.definitions.get(&name) {
                let target = target.clone();
                let built = self.build(&target, Some(&name));
                if let Some(node) = self.nodes.get(built).cloned() {
                    self.nodes[placeholder] = node;
                }
            }
            return placeholder;
        }
        if let Some(first) = schema
            .get("allOf")
            .and_then(Value::as_array)
            .and_then(|all| all.first())
        {
            return self.build(first, definition);
        }
        if self.atomic_maps
            && schema.get("x-kubernetes-map-type").and_then(Value::as_str) == Some("atomic")
        {
            // Replaced and owned whole, as a scalar is.
            return self.push(Node::Scalar);
        }
        if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
            let mut fields = BTreeMap::new();
            for (name, property) in properties {
                let node = self.build(property, None);
                fields.insert(name.clone(), node);
            }
            return self.push(Node::Struct {
                definition: definition.map(str::to_owned),
                fields,
            });
        }
        if let Some(items) = schema.get("items").filter(|items| items.is_object()) {
            let items = self.build(items, None);
            let meta = list_meta_of(schema);
            return self.push(Node::List { items, meta });
        }
        if let Some(values) = schema
            .get("additionalProperties")
            .filter(|values| values.is_object())
        {
            let values = self.build(values, None);
            return self.push(Node::Map(values));
        }
        let node = match schema.get("type").and_then(Value::as_str) {
            Some("string" | "integer" | "number" | "boolean") => Node::Scalar,
            _ => Node::Unknown,
        };
        self.push(node)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::patch::{ListType, PatchStrategy};
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::core::v1::Pod;

    #[test]
    fn pod_schema_resolves_containers_and_env() {
        let schema = PatchSchema::of::<Pod>();
        let root = schema.root();
        let (spec, _) = root.field("spec").unwrap();
        let (container, meta) = spec.list_field("containers").unwrap();
        assert_eq!(meta.patch_merge_key, Some("name"));
        assert_eq!(meta.patch_strategy, Some(PatchStrategy::Merge));
        let (_, env) = container.list_field("env").unwrap();
        assert_eq!(env.patch_merge_key, Some("name"));
        let (_, ports) = container.list_field("ports").unwrap();
        assert_eq!(ports.patch_merge_key, Some("containerPort"));
        let (_, finalizers) = root
            .field("metadata")
            .unwrap()
            .0
            .list_field("finalizers")
            .unwrap();
        assert_eq!(finalizers.patch_strategy, Some(PatchStrategy::Merge));
        let error = spec.field("nonsense").err().unwrap();
        assert_eq!(
            error.to_string(),
            "unable to find api field in struct PodSpec for the json field \"nonsense\""
        );
    }

    #[test]
    fn deployment_schema_reaches_pod_template() {
        let schema = PatchSchema::of::<Deployment>();
        let (spec, _) = schema.root().field("spec").unwrap();
        let (_, strategy) = spec.field("strategy").unwrap();
        assert_eq!(strategy.patch_strategy, Some(PatchStrategy::RetainKeys));
        let (template, _) = spec.field("template").unwrap();
        let (pod_spec, _) = template.field("spec").unwrap();
        let (_, volumes) = pod_spec.list_field("volumes").unwrap();
        assert_eq!(volumes.patch_strategy, Some(PatchStrategy::MergeRetainKeys));
        let (labels, _) = template
            .field("metadata")
            .unwrap()
            .0
            .field("labels")
            .unwrap();
        assert_eq!(labels.type_name(), "map");
        assert_eq!(labels.field("app").unwrap().0.type_name(), "string");
    }

    #[test]
    fn unstructured_knows_nothing() {
        let schema = PatchSchema::unstructured();
        let (field, meta) = schema.root().list_field("anything").unwrap();
        assert_eq!(meta, FieldPatchMeta::default());
        assert!(field.field("deeper").is_ok());
    }

    #[test]
    fn structural_schema_carries_list_types_and_object_meta() {
        let schema = PatchSchema::structural(&serde_json::json!({
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "properties": {
                        "parts": {
                            "type": "array",
                            "x-kubernetes-list-type": "map",
                            "x-kubernetes-list-map-keys": ["name", "zone"],
                            "items": {"type": "object", "properties": {
                                "name": {"type": "string"},
                                "zone": {"type": "string"}
                            }}
                        },
                        "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
                        "steps": {"type": "array", "items": {"type": "string"}}
                    }
                }
            }
        }));
        let root = schema.root();
        let (spec, _) = root.field("spec").unwrap();
        let (part, parts) = spec.list_field("parts").unwrap();
        assert_eq!(parts.list_type, Some(ListType::Map));
        assert_eq!(parts.list_map_keys, ["name", "zone"]);
        assert_eq!(part.field("zone").unwrap().0.type_name(), "string");
        assert_eq!(spec.list_field("tags").unwrap().1, FieldPatchMeta::SET);
        assert_eq!(
            spec.list_field("steps").unwrap().1,
            FieldPatchMeta::default()
        );
        // metadata is ObjectMeta's, with its own list metadata.
        let (metadata, _) = root.field("metadata").unwrap();
        assert_eq!(
            metadata.definition(),
            Some("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")
        );
        let (_, owners) = metadata.list_field("ownerReferences").unwrap();
        assert_eq!(owners.patch_merge_key, Some("uid"));
        assert_eq!(root.field("kind").unwrap().0.type_name(), "string");

        // A schema with no declared fields still knows the envelope.
        // x-kubernetes-map-type: atomic makes an object one value.
        let atomic = PatchSchema::structural(&serde_json::json!({
            "type": "object",
            "properties": {"spec": {"type": "object", "properties": {
                "selector": {"type": "object", "x-kubernetes-map-type": "atomic",
                    "properties": {"app": {"type": "string"}}},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}}
            }}}
        }));
        let (spec, _) = atomic.root().field("spec").unwrap();
        assert_eq!(spec.field("selector").unwrap().0.type_name(), "string");
        assert_eq!(spec.field("labels").unwrap().0.type_name(), "map");

        let open = PatchSchema::structural(&serde_json::json!({
            "type": "object", "x-kubernetes-preserve-unknown-fields": true
        }));
        assert!(
            open.root()
                .field("metadata")
                .unwrap()
                .0
                .definition()
                .is_some()
        );
    }
}
