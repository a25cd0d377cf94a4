//! A custom object as the generic store holds it (upstream's
//! `unstructured.Unstructured`): typed metadata, everything else as JSON.

use std::borrow::Cow;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One custom object: `apiVersion`, `kind`, `spec`, `status` and whatever
/// else its schema keeps sit in `content`, in the order they came.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CustomObject {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(flatten)]
    pub content: Map<String, Value>,
}

impl CustomObject {
    pub fn api_version(&self) -> Option<&str> {
        self.content.get("apiVersion").and_then(Value::as_str)
    }

    pub fn kind(&self) -> Option<&str> {
        self.content.get("kind").and_then(Value::as_str)
    }
}

// The store takes a kind's names from its strategy, never from these
// constants: one Rust type serves every custom kind, so they say nothing.
impl k8s_openapi::Resource for CustomObject {
    const API_VERSION: &'static str = "";
    const GROUP: &'static str = "";
    const KIND: &'static str = "";
    const VERSION: &'static str = "";
    const URL_PATH_SEGMENT: &'static str = "";
    type Scope = k8s_openapi::NamespaceResourceScope;
}

impl k8s_openapi::ListableResource for CustomObject {
    const LIST_KIND: &'static str = "";
}

impl k8s_openapi::Metadata for CustomObject {
    type Ty = ObjectMeta;

    fn metadata(&self) -> &ObjectMeta {
        &self.metadata
    }

    fn metadata_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

impl JsonSchema for CustomObject {
    fn schema_name() -> Cow<'static, str> {
        "CustomObject".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let metadata = generator.subschema_for::<ObjectMeta>();
        json_schema!({
            "type": "object",
            "properties": { "metadata": metadata },
            "x-kubernetes-preserve-unknown-fields": true,
        })
    }
}
