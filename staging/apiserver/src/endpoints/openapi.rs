//! OpenAPI v3 (`k8s.io/kube-openapi/pkg/handler3` over the builder of
//! `k8s.io/apiserver/pkg/endpoints/openapi`): the index at `/openapi/v3` and
//! one OpenAPI 3.0 document per path (`api/v1`, `apis/apps/v1`, `apis/apps`,
//! `api`, `apis`, `version`), with the operations of every served resource
//! (the `x-kubernetes-action` / `x-kubernetes-group-version-kind` extensions
//! and query parameters kubectl looks for), the POST of every subresource
//! served by its own handler (`serviceaccounts/{name}/token`), and the JSON
//! schemas of every definition they reach, from k8s-openapi's `schemars`
//! implementations.
//!
//! The documents are generated once, when the router is built, and served
//! as bytes with their SHA-512 as ETag and as the index's `?hash=`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
use schemars::JsonSchema;
use schemars::generate::{SchemaGenerator, SchemaSettings};
use schemars::transform::RemoveRefSiblings;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha512};

use crate::query::Query;
use crate::registry::strategy::ResourceInfo;
use crate::registry::subresource::SubresourceKind;
use crate::status::Status;

/// One served resource with what its OpenAPI needs: the schema of its kind
/// (and, through it, every definition it references) and its list kind.
/// Or a subresource served by its own handler, with the schema of the kind
/// it takes and answers, described under its parent's group-version.
pub struct OpenApiResource {
    /// The resource; the parent, for a subresource.
    pub info: ResourceInfo,
    /// `PodList`.
    list_kind: &'static str,
    /// Adds the kind's schema and its references to a generator; returns
    /// the kind's definition name (`io.k8s.api.core.v1.Pod`).
    register_kind: fn(&mut SchemaGenerator) -> String,
    /// Set for a subresource served by its own handler (`token`, taking
    /// and answering `authentication.k8s.io/v1` TokenRequest).
    subresource: Option<SubresourceKind>,
}

impl OpenApiResource {
    /// The resource `info` serving objects of type `T`.
    pub fn of<T>(info: ResourceInfo) -> Self
    where
        T: k8s_openapi::Resource + k8s_openapi::ListableResource + JsonSchema,
    {
        OpenApiResource {
            info,
            list_kind: T::LIST_KIND,
            register_kind: register::<T>,
            subresource: None,
        }
    }

    /// A review (`info.create_only`): one POST, no list.
    pub fn create_only<T>(info: ResourceInfo) -> Self
    where
        T: k8s_openapi::Resource + JsonSchema,
    {
        OpenApiResource {
            info,
            list_kind: "",
            register_kind: register::<T>,
            subresource: None,
        }
    }

    /// A subresource of `parent` served by its own handler and only
    /// created (upstream's `rest.NamedCreater`): one POST on the parent's
    /// item path (`.../serviceaccounts/{name}/token`) taking and answering
    /// `T`, whose kind `subresource` names (as [`NamedCreate::kind`] gives
    /// it).
    ///
    /// [`NamedCreate::kind`]: crate::registry::subresource::NamedCreate::kind
    pub fn named_create<T>(parent: ResourceInfo, subresource: SubresourceKind) -> Self
    where
        T: k8s_openapi::Resource + JsonSchema,
    {
        debug_assert_eq!(
            (subresource.group, subresource.version, subresource.kind),
            (T::GROUP, T::VERSION, T::KIND),
            "the subresource's kind is the schema's"
        );
        OpenApiResource {
            info: parent,
            list_kind: "",
            register_kind: register::<T>,
            subresource: Some(subresource),
        }
    }

    /// The group, version and kind of the schema `register_kind` adds.
    fn schema_kind(&self) -> (&str, &str, &str) {
        match &self.subresource {
            Some(subresource) => (subresource.group, subresource.version, subresource.kind),
            None => (self.info.group, self.info.version, self.info.kind),
        }
    }
}

/// Adds `T` to the generator's definitions; returns its definition name.
fn register<T: JsonSchema>(generator: &mut SchemaGenerator) -> String {
    generator.subschema_for::<T>();
    T::schema_name().into_owned()
}

/// The routes serving `/openapi/v3` and its documents.
pub fn router(resources: Vec<OpenApiResource>) -> Router {
    router_with_dynamic(resources, None)
}

/// As [`router`], with the documents of `dynamic` (custom resources'
/// group-versions) served and indexed beside the fixed ones.
pub fn router_with_dynamic(
    resources: Vec<OpenApiResource>,
    dynamic: Option<Arc<DynamicOpenApi>>,
) -> Router {
    let mut service = Service::build(&resources);
    service.dynamic = dynamic;
    let service = Arc::new(service);
    Router::new()
        .route("/openapi/v3", get(index))
        .route("/openapi/v3/", get(index))
        .route("/openapi/v3/{*path}", get(document))
        .with_state(service)
}

/// The served bytes.
struct Service {
    index: Served,
    /// By index key (`api/v1`, `apis/apps/v1`).
    documents: BTreeMap<String, Served>,
    /// When the documents were generated (`Last-Modified`).
    generated: String,
    /// Documents added and replaced while the server runs.
    dynamic: Option<Arc<DynamicOpenApi>>,
}

/// The OpenAPI v3 documents of group-versions that come and go while the
/// server runs (custom resources): set by their owner, served and indexed
/// with the fixed ones.
#[derive(Default)]
pub struct DynamicOpenApi {
    documents: std::sync::RwLock<BTreeMap<String, Arc<Served>>>,
}

impl DynamicOpenApi {
    /// Serves `document` under `key` (`apis/example.com/v1`), or stops
    /// serving the key.
    pub fn set(&self, key: &str, document: Option<&Value>) {
        let mut documents = self.documents.write().unwrap_or_else(|e| e.into_inner());
        match document {
            // A document of plain JSON values always serializes.
            Some(document) => {
                documents.insert(
                    key.to_string(),
                    Arc::new(Served::new(
                        serde_json::to_vec(document).unwrap_or_default(),
                    )),
                );
            }
            None => {
                documents.remove(key);
            }
        }
    }

    fn get(&self, key: &str) -> Option<Arc<Served>> {
        self.documents
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .cloned()
    }

    fn keys_and_hashes(&self) -> Vec<(String, String)> {
        self.documents
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(key, served)| (key.clone(), served.hash.clone()))
            .collect()
    }
}

/// One document and its hash.
struct Served {
    body: Bytes,
    /// Uppercase hex SHA-512 of `body`, unquoted.
    hash: String,
}

impl Served {
    fn new(body: Vec<u8>) -> Self {
        let hash = Sha512::digest(&body)
            .iter()
            .map(|byte| format!("{byte:02X}"))
            .collect();
        Served {
            body: Bytes::from(body),
            hash,
        }
    }

    fn quoted_hash(&self) -> HeaderValue {
        HeaderValue::from_str(&format!("\"{}\"", self.hash))
            .unwrap_or(HeaderValue::from_static("\"\""))
    }

    /// 200 with the body, or 304 when the client has it.
    fn respond(&self, request_headers: &HeaderMap, last_modified: &str) -> Response {
        let etag = self.quoted_hash();
        let not_modified = request_headers
            .get(header::IF_NONE_MATCH)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| {
                value
                    .split(',')
                    .any(|tag| tag.trim() == "*" || tag.trim().as_bytes() == etag.as_bytes())
            });
        let mut response = if not_modified {
            StatusCode::NOT_MODIFIED.into_response()
        } else {
            let mut response = (StatusCode::OK, self.body.clone()).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        };
        let headers = response.headers_mut();
        headers.insert(header::ETAG, etag);
        if let Ok(value) = HeaderValue::from_str(last_modified) {
            headers.insert(header::LAST_MODIFIED, value);
        }
        response
    }
}

impl Service {
    fn build(resources: &[OpenApiResource]) -> Self {
        let mut documents = BTreeMap::new();
        for (key, document) in build_documents(resources) {
            // A document of plain JSON values always serializes.
            documents.insert(
                key,
                Served::new(serde_json::to_vec(&document).unwrap_or_default()),
            );
        }
        let paths: Map<String, Value> = documents
            .iter()
            .map(|(key, served)| {
                (
                    key.clone(),
                    json!({"serverRelativeURL": server_relative_url(key, &served.hash)}),
                )
            })
            .collect();
        let index = Served::new(serde_json::to_vec(&json!({ "paths": paths })).unwrap_or_default());
        Service {
            index,
            documents,
            generated: http_date(jiff::Timestamp::now()),
            dynamic: None,
        }
    }

    /// The index with the dynamic documents in it; the fixed one when
    /// there are none.
    fn current_index(&self) -> Option<Served> {
        let dynamic = self.dynamic.as_ref()?.keys_and_hashes();
        if dynamic.is_empty() {
            return None;
        }
        let mut paths: BTreeMap<String, Value> = self
            .documents
            .iter()
            .map(|(key, served)| {
                (
                    key.clone(),
                    json!({"serverRelativeURL": server_relative_url(key, &served.hash)}),
                )
            })
            .collect();
        for (key, hash) in dynamic {
            paths.insert(
                key.clone(),
                json!({"serverRelativeURL": server_relative_url(&key, &hash)}),
            );
        }
        Some(Served::new(
            serde_json::to_vec(&json!({ "paths": paths })).unwrap_or_default(),
        ))
    }

    fn document(&self, key: &str) -> Option<Arc<Served>> {
        match self.documents.get(key) {
            Some(served) => Some(Arc::new(Served {
                body: served.body.clone(),
                hash: served.hash.clone(),
            })),
            None => self.dynamic.as_ref()?.get(key),
        }
    }
}

fn server_relative_url(key: &str, hash: &str) -> String {
    format!("/openapi/v3/{key}?hash={hash}")
}

/// `Mon, 02 Jan 2006 15:04:05 GMT`.
fn http_date(timestamp: jiff::Timestamp) -> String {
    timestamp.strftime("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

async fn index(State(service): State<Arc<Service>>, headers: HeaderMap) -> Response {
    match service.current_index() {
        Some(index) => index.respond(&headers, &service.generated),
        None => service.index.respond(&headers, &service.generated),
    }
}

async fn document(
    State(service): State<Arc<Service>>,
    Path(path): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let key = path.trim_end_matches('/');
    let Some(served) = service.document(key) else {
        return Status::not_found_path().into_response();
    };
    if !accepts_json(
        headers
            .get(header::ACCEPT)
            .and_then(|value| value.to_str().ok()),
    ) {
        return Status::failure(
            StatusCode::NOT_ACCEPTABLE,
            "NotAcceptable",
            "only application/json is served for OpenAPI v3 documents",
        )
        .into_response();
    }
    // handler3: `r.URL.Query().Get("hash")`, the first value, decoded.
    let query = Query::parse(query.as_deref());
    let mut response = match query.get("hash") {
        // An outdated link: point at the current document.
        Some(hash) if !hash.is_empty() && hash != served.hash => {
            let mut response = StatusCode::MOVED_PERMANENTLY.into_response();
            if let Ok(location) = HeaderValue::from_str(&server_relative_url(key, &served.hash)) {
                response.headers_mut().insert(header::LOCATION, location);
            }
            response
        }
        Some(hash) if !hash.is_empty() => {
            let mut response = served.respond(&headers, &service.generated);
            let response_headers = response.headers_mut();
            response_headers.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, immutable"),
            );
            let next_year = jiff::Timestamp::now()
                .to_zoned(jiff::tz::TimeZone::UTC)
                .checked_add(jiff::Span::new().years(1))
                .map(|zoned| zoned.timestamp());
            if let Ok(Ok(expires)) = next_year.map(|at| HeaderValue::from_str(&http_date(at))) {
                response_headers.insert(header::EXPIRES, expires);
            }
            response
        }
        _ => served.respond(&headers, &service.generated),
    };
    response
        .headers_mut()
        .insert(header::VARY, HeaderValue::from_static("Accept"));
    response
}

/// Whether an Accept header admits JSON (no header: anything goes).
fn accepts_json(accept: Option<&str>) -> bool {
    let Some(accept) = accept else {
        return true;
    };
    accept.split(',').any(|clause| {
        let mut parts = clause.split(';');
        let essence = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let refused = parts.any(|param| {
            param
                .split_once('=')
                .is_some_and(|(key, value)| key.trim() == "q" && value.trim().parse() == Ok(0.0))
        });
        !refused
            && matches!(
                essence.as_str(),
                "application/json" | "application/*" | "*/*"
            )
    })
}

// ---------------------------------------------------------------------------
// Document generation.

/// A generator with OpenAPI 3.0 settings; `$ref` keeps its siblings
/// (`description`), as the v1.32 documents have them.
fn generator() -> SchemaGenerator {
    SchemaSettings::openapi3()
        .with(|settings| {
            settings
                .transforms
                .retain(|transform| !transform.is::<RemoveRefSiblings>());
        })
        .into_generator()
}

fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn gvk(group: &str, version: &str, kind: &str) -> Value {
    json!({ "group": group, "kind": kind, "version": version })
}

/// Every document, by index key.
fn build_documents(resources: &[OpenApiResource]) -> BTreeMap<String, Value> {
    // Group-versions in order of first appearance.
    let mut group_versions: Vec<(&str, &str, Vec<&OpenApiResource>)> = Vec::new();
    for resource in resources {
        let (group, version) = (resource.info.group, resource.info.version);
        match group_versions
            .iter_mut()
            .find(|(g, v, _)| *g == group && *v == version)
        {
            Some((_, _, members)) => members.push(resource),
            None => group_versions.push((group, version, vec![resource])),
        }
    }
    let served: BTreeSet<(&str, &str)> = group_versions.iter().map(|(g, v, _)| (*g, *v)).collect();
    // The group-versions the shared kinds (DeleteOptions, WatchEvent) are
    // listed under: core v1 first, then every served one.
    let shared_kinds: Vec<Value> = std::iter::once(("", "v1"))
        .chain(served.iter().copied().filter(|gv| *gv != ("", "v1")))
        .map(|(group, version)| json!({ "group": group, "version": version }))
        .collect();

    let mut documents = BTreeMap::new();
    for (group, version, members) in &group_versions {
        let key = if group.is_empty() {
            format!("api/{version}")
        } else {
            format!("apis/{group}/{version}")
        };
        documents.insert(
            key,
            group_version_document(group, version, members, &shared_kinds),
        );
    }
    let groups: BTreeSet<&str> = served.iter().map(|(group, _)| *group).collect();
    for group in groups.iter().filter(|group| !group.is_empty()) {
        documents.insert(
            format!("apis/{group}"),
            root_document::<meta::APIGroup>(
                &format!("/apis/{group}/"),
                "get information of a group",
                &format!("get{}APIGroup", group_ident(group)),
                &lower_first(&group_ident(group)),
                Some(("", "v1", "APIGroup")),
            ),
        );
    }
    if groups.contains("") {
        documents.insert(
            "api".to_string(),
            root_document::<meta::APIVersions>(
                "/api/",
                "get available API versions",
                "getCoreAPIVersions",
                "core",
                Some(("", "v1", "APIVersions")),
            ),
        );
    }
    documents.insert(
        "apis".to_string(),
        root_document::<meta::APIGroupList>(
            "/apis/",
            "get available API versions",
            "getAPIVersions",
            "apis",
            Some(("", "v1", "APIGroupList")),
        ),
    );
    documents.insert(
        "version".to_string(),
        root_document::<k8s_openapi::apimachinery::pkg::version::Info>(
            "/version/",
            "get the code version",
            "getCodeVersion",
            "version",
            None,
        ),
    );
    documents
}

/// A document with one GET path answering `T` (`/api/`, `/apis/`,
/// `/apis/G/`, `/version/`).
fn root_document<T: JsonSchema>(
    path: &str,
    description: &str,
    operation_id: &str,
    tag: &str,
    kind: Option<(&str, &str, &str)>,
) -> Value {
    let mut generator = generator();
    let name = register::<T>(&mut generator);
    let mut schemas = finish_definitions(&mut generator);
    if let (Some((group, version, kind)), Some(Value::Object(schema))) =
        (kind, schemas.get_mut(&name))
    {
        schema.insert(
            "x-kubernetes-group-version-kind".into(),
            json!([gvk(group, version, kind)]),
        );
    }
    let mut paths = Map::new();
    paths.insert(
        path.to_string(),
        json!({
            "get": {
                "description": description,
                "operationId": operation_id,
                "responses": { "200": ok_response("OK", &name, JSON_MEDIA) },
                "tags": [tag],
            }
        }),
    );
    openapi_document(paths, schemas)
}

fn openapi_document(paths: Map<String, Value>, schemas: Map<String, Value>) -> Value {
    json!({
        "openapi": "3.0.0",
        "info": {
            "title": "Kubernetes",
            "version": component_base::version::get().git_version,
        },
        "paths": paths,
        "components": { "schemas": schemas },
    })
}

/// The definitions a generator collected, with the list-merge extensions
/// applied to their properties.
fn finish_definitions(generator: &mut SchemaGenerator) -> Map<String, Value> {
    let mut schemas = generator.take_definitions(true);
    for (definition, schema) in schemas.iter_mut() {
        let Some(Value::Object(properties)) = schema.get_mut("properties") else {
            continue;
        };
        for (field, property) in properties.iter_mut() {
            if let Value::Object(property) = property {
                apply_patch_meta(definition, field, property);
            }
        }
    }
    schemas
}

/// The strategic-merge and list extensions of one property.
fn apply_patch_meta(definition: &str, field: &str, property: &mut Map<String, Value>) {
    let Some(meta) = apimachinery::patch::field_patch_meta(definition, field) else {
        return;
    };
    if let Some(key) = meta.patch_merge_key {
        property.insert("x-kubernetes-patch-merge-key".into(), key.into());
    }
    if let Some(strategy) = meta.patch_strategy {
        property.insert(
            "x-kubernetes-patch-strategy".into(),
            strategy.as_str().into(),
        );
    }
    if let Some(list_type) = meta.list_type {
        property.insert("x-kubernetes-list-type".into(), list_type.as_str().into());
    }
    if !meta.list_map_keys.is_empty() {
        property.insert(
            "x-kubernetes-list-map-keys".into(),
            meta.list_map_keys.iter().copied().collect(),
        );
    }
}

/// The document of one group-version.
fn group_version_document(
    group: &str,
    version: &str,
    members: &[&OpenApiResource],
    shared_kinds: &[Value],
) -> Value {
    let mut generator = generator();
    let status = register::<meta::Status>(&mut generator);
    let delete_options = register::<meta::DeleteOptions>(&mut generator);
    let patch = register::<meta::Patch>(&mut generator);
    let watch_event = register::<meta::WatchEvent<meta::Status>>(&mut generator);
    let resource_list = register::<meta::APIResourceList>(&mut generator);
    let scale = members
        .iter()
        .any(|member| member.info.has_scale)
        .then(|| register::<k8s_openapi::api::autoscaling::v1::Scale>(&mut generator));
    let kinds: Vec<(String, String)> = members
        .iter()
        .map(|member| {
            let kind_schema = (member.register_kind)(&mut generator);
            let list_schema =
                list_definition_name(&kind_schema, member.info.kind, member.list_kind);
            (kind_schema, list_schema)
        })
        .collect();
    let mut schemas = finish_definitions(&mut generator);

    let mark = |schemas: &mut Map<String, Value>, name: &str, kinds: Value| {
        if let Some(Value::Object(schema)) = schemas.get_mut(name) {
            schema.insert("x-kubernetes-group-version-kind".into(), kinds);
        }
    };
    mark(&mut schemas, &status, json!([gvk("", "v1", "Status")]));
    mark(
        &mut schemas,
        &resource_list,
        json!([gvk("", "v1", "APIResourceList")]),
    );
    for (name, kind) in [
        (&delete_options, "DeleteOptions"),
        (&watch_event, "WatchEvent"),
    ] {
        let kinds: Vec<Value> = shared_kinds
            .iter()
            .map(|gv| {
                let mut entry = gv.clone();
                entry["kind"] = kind.into();
                entry
            })
            .collect();
        mark(&mut schemas, name, Value::Array(kinds));
    }
    if let Some(scale) = &scale {
        mark(
            &mut schemas,
            scale,
            json!([gvk("autoscaling", "v1", "Scale")]),
        );
    }
    for (member, (kind_schema, list_schema)) in members.iter().zip(&kinds) {
        let info = &member.info;
        if let Some(Value::Object(schema)) = schemas.get_mut(kind_schema) {
            let (group, version, kind) = member.schema_kind();
            schema.insert(
                "x-kubernetes-group-version-kind".into(),
                json!([gvk(group, version, kind)]),
            );
            drop_required_metadata(schema);
        }
        if !info.create_only && member.subresource.is_none() {
            schemas.insert(
                list_schema.clone(),
                list_schema_for(info, member.list_kind, kind_schema),
            );
        }
    }

    let context = PathContext {
        group,
        version,
        tag: format!("{}_{version}", lower_first(&group_ident(group))),
        ident: format!("{}{}", group_ident(group), upper_first(version)),
        prefix: if group.is_empty() {
            format!("/api/{version}")
        } else {
            format!("/apis/{group}/{version}")
        },
        status,
        delete_options,
        patch,
    };
    let mut paths = Map::new();
    paths.insert(
        format!("{}/", context.prefix),
        json!({
            "get": {
                "description": "get available resources",
                "operationId": format!("get{}APIResources", context.ident),
                "responses": { "200": ok_response("OK", &resource_list, JSON_MEDIA) },
                "tags": [context.tag],
            }
        }),
    );
    for (member, (kind_schema, list_schema)) in members.iter().zip(&kinds) {
        match member.subresource {
            Some(subresource) => {
                context.add_named_create_path(&mut paths, &member.info, subresource, kind_schema)
            }
            None => context.add_resource_paths(
                &mut paths,
                &member.info,
                kind_schema,
                list_schema,
                scale.as_deref(),
            ),
        }
    }
    openapi_document(paths, schemas)
}

/// `io.k8s.api.core.v1.Pod` → `io.k8s.api.core.v1.PodList`.
fn list_definition_name(kind_schema: &str, kind: &str, list_kind: &str) -> String {
    match kind_schema.strip_suffix(kind) {
        Some(prefix) => format!("{prefix}{list_kind}"),
        None => format!("{kind_schema}List"),
    }
}

/// k8s-openapi marks `metadata` required on every kind; upstream does not.
fn drop_required_metadata(schema: &mut Map<String, Value>) {
    let Some(Value::Array(required)) = schema.get_mut("required") else {
        return;
    };
    required.retain(|field| field != "metadata");
    if required.is_empty() {
        schema.remove("required");
    }
}

/// The schema of a kind's list (`PodList`), shaped as upstream's.
fn list_schema_for(info: &ResourceInfo, list_kind: &str, kind_schema: &str) -> Value {
    let mut metadata = schema_ref("io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta");
    metadata["description"] = "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds".into();
    json!({
        "description": format!("{list_kind} is a list of {} objects.", info.kind),
        "properties": {
            "apiVersion": {
                "description": "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources",
                "type": "string",
            },
            "items": {
                "description": format!("List of {}.", info.plural),
                "items": schema_ref(kind_schema),
                "type": "array",
            },
            "kind": {
                "description": "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds",
                "type": "string",
            },
            "metadata": metadata,
        },
        "required": ["items"],
        "type": "object",
        "x-kubernetes-group-version-kind": [gvk(info.group, info.version, list_kind)],
    })
}

/// `apps` → `Apps`, `rbac.authorization.k8s.io` → `RbacAuthorization`, core → `Core`.
fn group_ident(group: &str) -> String {
    if group.is_empty() {
        return "Core".to_string();
    }
    group
        .strip_suffix(".k8s.io")
        .unwrap_or(group)
        .split(['.', '-'])
        .map(upper_first)
        .collect()
}

fn upper_first(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn lower_first(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

// ---------------------------------------------------------------------------
// Paths and operations.

/// Media types of single-object responses.
const JSON_MEDIA: &[&str] = &["application/json"];
/// Media types of list responses (a list may be a watch).
const LIST_MEDIA: &[&str] = &["application/json", "application/json;stream=watch"];
/// What PATCH accepts.
const PATCH_MEDIA: &[&str] = &[
    "application/apply-patch+yaml",
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
];

const LIST_PARAMETERS: &[&str] = &[
    "allowWatchBookmarks",
    "continue",
    "fieldSelector",
    "labelSelector",
    "limit",
    "resourceVersion",
    "resourceVersionMatch",
    "sendInitialEvents",
    "timeoutSeconds",
    "watch",
];
const CREATE_PARAMETERS: &[&str] = &["dryRun", "fieldManager", "fieldValidation"];
const PATCH_PARAMETERS: &[&str] = &["dryRun", "fieldManager", "fieldValidation", "force"];
const DELETE_PARAMETERS: &[&str] = &[
    "dryRun",
    "gracePeriodSeconds",
    "orphanDependents",
    "propagationPolicy",
];
const DELETE_COLLECTION_PARAMETERS: &[&str] = &[
    "continue",
    "dryRun",
    "fieldSelector",
    "gracePeriodSeconds",
    "labelSelector",
    "limit",
    "orphanDependents",
    "propagationPolicy",
    "resourceVersion",
    "resourceVersionMatch",
    "sendInitialEvents",
    "timeoutSeconds",
];

/// A query parameter: its description and schema type.
fn query_parameter(name: &str) -> Value {
    let (description, kind) = match name {
        "allowWatchBookmarks" => (
            "allowWatchBookmarks requests watch events with type \"BOOKMARK\". Servers that do not implement bookmarks may ignore this flag and bookmarks are sent at the server's discretion. If this is not a watch, this field is ignored.",
            "boolean",
        ),
        "continue" => (
            "The continue option should be set when retrieving more results from the server. Since this value is server defined, clients may only use the continue value from a previous query result with identical query parameters (except for the value of continue). An expired continue value results in a 410 ResourceExpired error.\n\nThis field is not supported when watch is true.",
            "string",
        ),
        "dryRun" => (
            "When present, indicates that modifications should not be persisted. An invalid or unrecognized dryRun directive will result in an error response and no further processing of the request. Valid values are: - All: all dry run stages will be processed",
            "string",
        ),
        "fieldManager" => (
            "fieldManager is a name associated with the actor or entity that is making these changes. The value must be less than or 128 characters long, and only contain printable characters. This field is required for apply requests (application/apply-patch) but optional for non-apply patch types (JsonPatch, MergePatch, StrategicMergePatch).",
            "string",
        ),
        "fieldSelector" => (
            "A selector to restrict the list of returned objects by their fields. Defaults to everything.",
            "string",
        ),
        "fieldValidation" => (
            "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore: ignores unknown/duplicate fields. - Warn: responds with a warning for each unknown/duplicate field, but successfully serves the request. This is the default. - Strict: fails the request on unknown/duplicate fields.",
            "string",
        ),
        "force" => (
            "Force is going to \"force\" Apply requests. It means user will re-acquire conflicting fields owned by other people. Force flag must be unset for non-apply patch requests.",
            "boolean",
        ),
        "gracePeriodSeconds" => (
            "The duration in seconds before the object should be deleted. Value must be non-negative integer. The value zero indicates delete immediately. If this value is nil, the default grace period for the specified type will be used.",
            "integer",
        ),
        "labelSelector" => (
            "A selector to restrict the list of returned objects by their labels. Defaults to everything.",
            "string",
        ),
        "limit" => (
            "limit is a maximum number of responses to return for a list call. If more items exist, the server will set the `continue` field on the list metadata to a value that can be used with the same initial query to retrieve the next set of results. This field is not supported if watch is true.",
            "integer",
        ),
        "orphanDependents" => (
            "Deprecated: please use the PropagationPolicy. Should the dependent objects be orphaned. Either this field or PropagationPolicy may be set, but not both.",
            "boolean",
        ),
        "pretty" => ("If 'true', then the output is pretty printed.", "string"),
        "propagationPolicy" => (
            "Whether and how garbage collection will be performed. Either this field or OrphanDependents may be set, but not both. Acceptable values are: 'Orphan' - orphan the dependents; 'Background' - allow the garbage collector to delete the dependents in the background; 'Foreground' - a cascading policy that deletes all dependents in the foreground.",
            "string",
        ),
        "resourceVersion" => (
            "resourceVersion sets a constraint on what resource versions a request may be served from. See https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions for details.\n\nDefaults to unset",
            "string",
        ),
        "resourceVersionMatch" => (
            "resourceVersionMatch determines how resourceVersion is applied to list calls. See https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions for details.\n\nDefaults to unset",
            "string",
        ),
        "sendInitialEvents" => (
            "`sendInitialEvents=true` may be set together with `watch=true`. In that case, the watch stream will begin with synthetic events to produce the current state of objects in the collection, followed by a bookmark event.",
            "boolean",
        ),
        "timeoutSeconds" => (
            "Timeout for the list/watch call. This limits the duration of the call, regardless of any activity or inactivity.",
            "integer",
        ),
        "watch" => (
            "Watch for changes to the described resources and return them as a stream of add, update, and remove notifications. Specify resourceVersion.",
            "boolean",
        ),
        _ => ("", "string"),
    };
    json!({
        "description": description,
        "in": "query",
        "name": name,
        "schema": { "type": kind, "uniqueItems": true },
    })
}

fn path_parameter(name: &str, description: &str) -> Value {
    json!({
        "description": description,
        "in": "path",
        "name": name,
        "required": true,
        "schema": { "type": "string", "uniqueItems": true },
    })
}

fn content(media: &[&str], schema_name: &str) -> Value {
    let entries: Map<String, Value> = media
        .iter()
        .map(|media| {
            (
                media.to_string(),
                json!({ "schema": schema_ref(schema_name) }),
            )
        })
        .collect();
    Value::Object(entries)
}

fn ok_response(description: &str, schema_name: &str, media: &[&str]) -> Value {
    json!({ "content": content(media, schema_name), "description": description })
}

/// What one group-version's paths share.
struct PathContext<'a> {
    group: &'a str,
    version: &'a str,
    /// `core_v1`, `apps_v1`.
    tag: String,
    /// `CoreV1`, `AppsV1`: the middle of operation ids.
    ident: String,
    /// `/api/v1`, `/apis/apps/v1`.
    prefix: String,
    status: String,
    delete_options: String,
    patch: String,
}

/// One operation before it becomes JSON.
struct Operation<'a> {
    /// `x-kubernetes-action`.
    action: &'static str,
    /// The verb of the operation id (`list`, `create`, `read`...).
    verb: &'static str,
    description: String,
    /// Appended to the kind in the operation id (`Status`, `ForAllNamespaces`).
    suffix: &'a str,
    parameters: &'static [&'static str],
    request: Option<(&'static [&'static str], &'a str)>,
    responses: Vec<(&'static str, &'static str, &'a str, &'static [&'static str])>,
    /// The kind the operation is about (`x-kubernetes-group-version-kind`).
    kind: Value,
}

impl PathContext<'_> {
    fn operation(&self, info: &ResourceInfo, namespaced_id: bool, operation: Operation) -> Value {
        let scope = if namespaced_id { "Namespaced" } else { "" };
        let mut value = json!({
            "description": operation.description,
            "operationId": format!(
                "{}{}{}{}{}",
                operation.verb, self.ident, scope, info.kind, operation.suffix
            ),
            "responses": operation
                .responses
                .iter()
                .map(|(code, description, schema, media)| {
                    (code.to_string(), ok_response(description, schema, media))
                })
                .collect::<Map<String, Value>>(),
            "tags": [self.tag],
            "x-kubernetes-action": operation.action,
            "x-kubernetes-group-version-kind": operation.kind,
        });
        if !operation.parameters.is_empty() {
            value["parameters"] = operation
                .parameters
                .iter()
                .map(|name| query_parameter(name))
                .collect();
        }
        if let Some((media, schema)) = operation.request {
            let mut body = json!({ "content": content(media, schema) });
            if schema != self.delete_options {
                body["required"] = true.into();
            }
            value["requestBody"] = body;
        }
        value
    }

    /// The path of a subresource served by its own handler and only
    /// created (`/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token`):
    /// one POST taking and answering the subresource's kind, with the
    /// create options as parameters of the path, as upstream's document
    /// has them.
    fn add_named_create_path(
        &self,
        paths: &mut Map<String, Value>,
        parent: &ResourceInfo,
        subresource: SubresourceKind,
        kind_schema: &str,
    ) {
        let mut parameters: Vec<Value> = CREATE_PARAMETERS
            .iter()
            .chain(["pretty"].iter())
            .map(|name| query_parameter(name))
            .collect();
        parameters.push(path_parameter(
            "name",
            &format!("name of the {}", subresource.kind),
        ));
        let item = if parent.namespaced {
            parameters.push(path_parameter(
                "namespace",
                "object name and auth scope, such as for teams and projects",
            ));
            format!(
                "{}/namespaces/{{namespace}}/{}/{{name}}",
                self.prefix, parent.plural
            )
        } else {
            format!("{}/{}/{{name}}", self.prefix, parent.plural)
        };
        parameters.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
        let suffix = upper_first(subresource.name);
        let post = self.operation(
            parent,
            parent.namespaced,
            Operation {
                action: "post",
                verb: "create",
                description: format!("create {} of a {}", subresource.name, parent.kind),
                suffix: &suffix,
                parameters: &[],
                request: Some((JSON_MEDIA, kind_schema)),
                responses: vec![
                    ("200", "OK", kind_schema, JSON_MEDIA),
                    ("201", "Created", kind_schema, JSON_MEDIA),
                    ("202", "Accepted", kind_schema, JSON_MEDIA),
                ],
                kind: gvk(subresource.group, subresource.version, subresource.kind),
            },
        );
        paths.insert(
            format!("{item}/{}", subresource.name),
            json!({ "parameters": parameters, "post": post }),
        );
    }

    fn add_resource_paths(
        &self,
        paths: &mut Map<String, Value>,
        info: &ResourceInfo,
        kind_schema: &str,
        list_schema: &str,
        scale_schema: Option<&str>,
    ) {
        let own_kind = gvk(self.group, self.version, info.kind);
        let kind = info.kind;
        let namespace = path_parameter(
            "namespace",
            "object name and auth scope, such as for teams and projects",
        );
        let name = path_parameter("name", &format!("name of the {kind}"));
        let pretty = query_parameter("pretty");
        let (collection, scope_parameters) = if info.namespaced {
            (
                format!("{}/namespaces/{{namespace}}/{}", self.prefix, info.plural),
                vec![namespace],
            )
        } else {
            (format!("{}/{}", self.prefix, info.plural), Vec::new())
        };
        let ns = info.namespaced;
        let with_pretty = |mut parameters: Vec<Value>| {
            parameters.push(pretty.clone());
            Value::Array(parameters)
        };

        let create = self.operation(
            info,
            ns,
            Operation {
                action: "post",
                verb: "create",
                description: format!("create a {kind}"),
                suffix: "",
                parameters: CREATE_PARAMETERS,
                request: Some((JSON_MEDIA, kind_schema)),
                responses: vec![
                    ("200", "OK", kind_schema, JSON_MEDIA),
                    ("201", "Created", kind_schema, JSON_MEDIA),
                    ("202", "Accepted", kind_schema, JSON_MEDIA),
                ],
                kind: own_kind.clone(),
            },
        );
        let mut collection_path = Map::new();
        if info.create_only {
            // A review: created, never read back.
            collection_path.insert("post".into(), create);
            collection_path.insert("parameters".into(), with_pretty(scope_parameters));
            paths.insert(collection, Value::Object(collection_path));
            return;
        }
        collection_path.insert(
            "get".into(),
            self.operation(
                info,
                ns,
                Operation {
                    action: "list",
                    verb: "list",
                    description: format!("list or watch objects of kind {kind}"),
                    suffix: "",
                    parameters: LIST_PARAMETERS,
                    request: None,
                    responses: vec![("200", "OK", list_schema, LIST_MEDIA)],
                    kind: own_kind.clone(),
                },
            ),
        );
        collection_path.insert("post".into(), create);
        collection_path.insert(
            "delete".into(),
            self.operation(
                info,
                ns,
                Operation {
                    action: "deletecollection",
                    verb: "delete",
                    description: format!("delete collection of {kind}"),
                    suffix: "",
                    parameters: DELETE_COLLECTION_PARAMETERS,
                    request: Some((JSON_MEDIA, &self.delete_options)),
                    responses: vec![("200", "OK", &self.status, JSON_MEDIA)],
                    kind: own_kind.clone(),
                },
            ),
        );
        // The collection id reads `deleteCoreV1CollectionNamespacedPod`.
        if let Some(Value::String(id)) = collection_path
            .get_mut("delete")
            .and_then(|operation| operation.get_mut("operationId"))
        {
            *id = format!(
                "delete{}Collection{}{kind}",
                self.ident,
                if ns { "Namespaced" } else { "" }
            );
        }
        collection_path.insert("parameters".into(), with_pretty(scope_parameters.clone()));
        paths.insert(collection.clone(), Value::Object(collection_path));

        let mut item_parameters = vec![name];
        item_parameters.extend(scope_parameters);
        let item = format!("{collection}/{{name}}");
        let mut item_path = Map::new();
        item_path.insert(
            "get".into(),
            self.operation(
                info,
                ns,
                Operation {
                    action: "get",
                    verb: "read",
                    description: format!("read the specified {kind}"),
                    suffix: "",
                    parameters: &[],
                    request: None,
                    responses: vec![("200", "OK", kind_schema, JSON_MEDIA)],
                    kind: own_kind.clone(),
                },
            ),
        );
        item_path.insert(
            "put".into(),
            self.operation(
                info,
                ns,
                Operation {
                    action: "put",
                    verb: "replace",
                    description: format!("replace the specified {kind}"),
                    suffix: "",
                    parameters: CREATE_PARAMETERS,
                    request: Some((JSON_MEDIA, kind_schema)),
                    responses: vec![
                        ("200", "OK", kind_schema, JSON_MEDIA),
                        ("201", "Created", kind_schema, JSON_MEDIA),
                    ],
                    kind: own_kind.clone(),
                },
            ),
        );
        item_path.insert(
            "patch".into(),
            self.operation(
                info,
                ns,
                Operation {
                    action: "patch",
                    verb: "patch",
                    description: format!("partially update the specified {kind}"),
                    suffix: "",
                    parameters: PATCH_PARAMETERS,
                    request: Some((PATCH_MEDIA, &self.patch)),
                    responses: vec![
                        ("200", "OK", kind_schema, JSON_MEDIA),
                        ("201", "Created", kind_schema, JSON_MEDIA),
                    ],
                    kind: own_kind.clone(),
                },
            ),
        );
        item_path.insert(
            "delete".into(),
            self.operation(
                info,
                ns,
                Operation {
                    action: "delete",
                    verb: "delete",
                    description: format!("delete a {kind}"),
                    suffix: "",
                    parameters: DELETE_PARAMETERS,
                    request: Some((JSON_MEDIA, &self.delete_options)),
                    responses: vec![
                        ("200", "OK", &self.status, JSON_MEDIA),
                        ("202", "Accepted", &self.status, JSON_MEDIA),
                    ],
                    kind: own_kind.clone(),
                },
            ),
        );
        item_path.insert("parameters".into(), with_pretty(item_parameters.clone()));
        paths.insert(item.clone(), Value::Object(item_path));

        let subresources = [
            info.has_status
                .then(|| ("status", "Status", kind_schema, own_kind.clone())),
            scale_schema
                .filter(|_| info.has_scale)
                .map(|scale| ("scale", "Scale", scale, gvk("autoscaling", "v1", "Scale"))),
        ];
        for (subresource, suffix, schema, subresource_kind) in subresources.into_iter().flatten() {
            let mut path = Map::new();
            path.insert(
                "get".into(),
                self.operation(
                    info,
                    ns,
                    Operation {
                        action: "get",
                        verb: "read",
                        description: format!("read {subresource} of the specified {kind}"),
                        suffix,
                        parameters: &[],
                        request: None,
                        responses: vec![("200", "OK", schema, JSON_MEDIA)],
                        kind: subresource_kind.clone(),
                    },
                ),
            );
            path.insert(
                "put".into(),
                self.operation(
                    info,
                    ns,
                    Operation {
                        action: "put",
                        verb: "replace",
                        description: format!("replace {subresource} of the specified {kind}"),
                        suffix,
                        parameters: CREATE_PARAMETERS,
                        request: Some((JSON_MEDIA, schema)),
                        responses: vec![
                            ("200", "OK", schema, JSON_MEDIA),
                            ("201", "Created", schema, JSON_MEDIA),
                        ],
                        kind: subresource_kind.clone(),
                    },
                ),
            );
            path.insert(
                "patch".into(),
                self.operation(
                    info,
                    ns,
                    Operation {
                        action: "patch",
                        verb: "patch",
                        description: format!(
                            "partially update {subresource} of the specified {kind}"
                        ),
                        suffix,
                        parameters: PATCH_PARAMETERS,
                        request: Some((PATCH_MEDIA, &self.patch)),
                        responses: vec![
                            ("200", "OK", schema, JSON_MEDIA),
                            ("201", "Created", schema, JSON_MEDIA),
                        ],
                        kind: subresource_kind,
                    },
                ),
            );
            path.insert("parameters".into(), with_pretty(item_parameters.clone()));
            paths.insert(format!("{item}/{subresource}"), Value::Object(path));
        }

        if info.namespaced {
            let mut all_namespaces = Map::new();
            all_namespaces.insert(
                "get".into(),
                self.operation(
                    info,
                    false,
                    Operation {
                        action: "list",
                        verb: "list",
                        description: format!("list or watch objects of kind {kind}"),
                        suffix: "ForAllNamespaces",
                        parameters: &[],
                        request: None,
                        responses: vec![("200", "OK", list_schema, LIST_MEDIA)],
                        kind: own_kind,
                    },
                ),
            );
            let mut parameters: Vec<Value> = LIST_PARAMETERS
                .iter()
                .map(|name| query_parameter(name))
                .collect();
            parameters.push(query_parameter("pretty"));
            parameters.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
            all_namespaces.insert("parameters".into(), Value::Array(parameters));
            paths.insert(
                format!("{}/{}", self.prefix, info.plural),
                Value::Object(all_namespaces),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::ResourceNames;
    use axum::body::Body;
    use http::Request;
    use http_body_util::BodyExt;
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::core::v1::{Namespace, Pod};
    use tower::ServiceExt;

    fn pods() -> OpenApiResource {
        OpenApiResource::of::<Pod>(ResourceInfo {
            names: ResourceNames {
                group: "",
                version: "v1",
                kind: "Pod",
                plural: "pods",
                singular: "pod",
                namespaced: true,
                short_names: &["po"],
                categories: &["all"],
            },
            has_status: true,
            has_scale: false,
            create_only: false,
            create_subresources: Vec::new(),
        })
    }

    fn namespaces() -> OpenApiResource {
        OpenApiResource::of::<Namespace>(ResourceInfo {
            names: ResourceNames {
                group: "",
                version: "v1",
                kind: "Namespace",
                plural: "namespaces",
                singular: "namespace",
                namespaced: false,
                short_names: &["ns"],
                categories: &[],
            },
            has_status: true,
            has_scale: false,
            create_only: false,
            create_subresources: Vec::new(),
        })
    }

    fn deployments() -> OpenApiResource {
        OpenApiResource::of::<Deployment>(ResourceInfo {
            names: ResourceNames {
                group: "apps",
                version: "v1",
                kind: "Deployment",
                plural: "deployments",
                singular: "deployment",
                namespaced: true,
                short_names: &["deploy"],
                categories: &["all"],
            },
            has_status: true,
            has_scale: true,
            create_only: false,
            create_subresources: Vec::new(),
        })
    }

    fn app() -> Router {
        router(vec![pods(), namespaces(), deployments()])
    }

    /// `serviceaccounts` and its `token` subresource, as the server
    /// describes them.
    fn service_accounts_with_token() -> Vec<OpenApiResource> {
        use crate::registry::subresource::testing::{EchoToken, service_accounts};
        use k8s_openapi::api::authentication::v1::TokenRequest;
        use k8s_openapi::api::core::v1::ServiceAccount;
        let token = EchoToken::rest();
        vec![
            OpenApiResource::of::<ServiceAccount>(service_accounts()),
            OpenApiResource::named_create::<TokenRequest>(token.parent().clone(), token.kind()),
        ]
    }

    async fn get_with(
        router: &Router,
        uri: &str,
        headers: &[(&str, &str)],
    ) -> (StatusCode, HeaderMap, Bytes) {
        let mut request = Request::get(uri);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = router
            .clone()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, headers, body)
    }

    fn sha512_upper(body: &[u8]) -> String {
        Sha512::digest(body)
            .iter()
            .map(|byte| format!("{byte:02X}"))
            .collect()
    }

    async fn core_v1(router: &Router) -> Value {
        let (status, _, body) = get_with(router, "/openapi/v3/api/v1", &[]).await;
        assert_eq!(status, StatusCode::OK);
        serde_json::from_slice(&body).unwrap()
    }

    #[tokio::test]
    async fn index_links_every_document_by_its_hash() {
        let router = app();
        let (status, headers, body) = get_with(&router, "/openapi/v3", &[]).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[header::CONTENT_TYPE], "application/json");
        assert_eq!(
            headers[header::ETAG].to_str().unwrap(),
            format!("\"{}\"", sha512_upper(&body))
        );
        let index: Value = serde_json::from_slice(&body).unwrap();
        let paths = index["paths"].as_object().unwrap();
        let keys: Vec<&str> = paths.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "api",
                "api/v1",
                "apis",
                "apis/apps",
                "apis/apps/v1",
                "version"
            ]
        );
        for (key, entry) in paths {
            let url = entry["serverRelativeURL"].as_str().unwrap();
            let (path, hash) = url.split_once("?hash=").unwrap();
            assert_eq!(path, format!("/openapi/v3/{key}"));
            assert_eq!(hash.len(), 128);
            let (status, headers, document) = get_with(&router, url, &[]).await;
            assert_eq!(status, StatusCode::OK, "{url}");
            assert_eq!(sha512_upper(&document), hash, "{url}");
            assert_eq!(
                headers[header::ETAG].to_str().unwrap(),
                format!("\"{hash}\"")
            );
            assert_eq!(headers[header::CACHE_CONTROL], "public, immutable");
            assert!(headers.contains_key(header::EXPIRES));
            assert_eq!(headers[header::VARY], "Accept");
        }
    }

    #[tokio::test]
    async fn document_header_and_paths() {
        let document = core_v1(&app()).await;
        assert_eq!(document["openapi"], "3.0.0");
        assert_eq!(document["info"]["title"], "Kubernetes");
        assert_eq!(
            document["info"]["version"],
            component_base::version::get().git_version
        );
        let paths = document["paths"].as_object().unwrap();
        for path in [
            "/api/v1/",
            "/api/v1/namespaces/{namespace}/pods",
            "/api/v1/namespaces/{namespace}/pods/{name}",
            "/api/v1/namespaces/{namespace}/pods/{name}/status",
            "/api/v1/pods",
            "/api/v1/namespaces",
            "/api/v1/namespaces/{name}",
            "/api/v1/namespaces/{name}/status",
        ] {
            assert!(paths.contains_key(path), "missing {path}");
        }
        assert!(!paths.keys().any(|path| path.starts_with("/apis/")));
        let list = &paths["/api/v1/namespaces/{namespace}/pods"]["get"];
        assert_eq!(list["operationId"], "listCoreV1NamespacedPod");
        assert_eq!(list["x-kubernetes-action"], "list");
        assert_eq!(
            list["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/io.k8s.api.core.v1.PodList"
        );
        let delete_collection = &paths["/api/v1/namespaces/{namespace}/pods"]["delete"];
        assert_eq!(
            delete_collection["operationId"],
            "deleteCoreV1CollectionNamespacedPod"
        );
        assert_eq!(delete_collection["x-kubernetes-action"], "deletecollection");
        let create = &paths["/api/v1/namespaces"]["post"];
        assert_eq!(create["operationId"], "createCoreV1Namespace");
        let names: Vec<&str> = create["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|parameter| parameter["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["dryRun", "fieldManager", "fieldValidation"]);
        let status_put = &paths["/api/v1/namespaces/{namespace}/pods/{name}/status"]["put"];
        assert_eq!(
            status_put["operationId"],
            "replaceCoreV1NamespacedPodStatus"
        );
        assert_eq!(
            status_put["x-kubernetes-group-version-kind"],
            gvk("", "v1", "Pod")
        );
    }

    #[tokio::test]
    async fn pod_patch_has_field_validation_and_patch_types() {
        let document = core_v1(&app()).await;
        let patch = &document["paths"]["/api/v1/namespaces/{namespace}/pods/{name}"]["patch"];
        assert_eq!(patch["operationId"], "patchCoreV1NamespacedPod");
        assert_eq!(patch["x-kubernetes-action"], "patch");
        assert_eq!(
            patch["x-kubernetes-group-version-kind"],
            json!({"group": "", "kind": "Pod", "version": "v1"})
        );
        let parameters = patch["parameters"].as_array().unwrap();
        let field_validation = parameters
            .iter()
            .find(|parameter| parameter["name"] == "fieldValidation")
            .expect("fieldValidation parameter");
        assert_eq!(field_validation["in"], "query");
        assert!(
            parameters
                .iter()
                .any(|parameter| parameter["name"] == "force")
        );
        let content = patch["requestBody"]["content"].as_object().unwrap();
        for media in PATCH_MEDIA {
            assert_eq!(
                content[*media]["schema"]["$ref"],
                "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.Patch",
                "{media}"
            );
        }
        assert!(content.contains_key("application/strategic-merge-patch+json"));
    }

    #[tokio::test]
    async fn components_carry_kinds_and_every_reference_resolves() {
        let document = core_v1(&app()).await;
        let schemas = document["components"]["schemas"].as_object().unwrap();
        let pod = &schemas["io.k8s.api.core.v1.Pod"];
        assert_eq!(
            pod["x-kubernetes-group-version-kind"],
            json!([{"group": "", "kind": "Pod", "version": "v1"}])
        );
        assert!(
            pod.get("required").is_none(),
            "metadata is not required upstream"
        );
        assert_eq!(
            pod["properties"]["spec"]["$ref"],
            "#/components/schemas/io.k8s.api.core.v1.PodSpec"
        );
        assert!(pod["properties"]["spec"]["description"].is_string());
        let pod_list = &schemas["io.k8s.api.core.v1.PodList"];
        assert_eq!(
            pod_list["x-kubernetes-group-version-kind"],
            json!([{"group": "", "kind": "PodList", "version": "v1"}])
        );
        assert_eq!(
            pod_list["properties"]["items"]["items"]["$ref"],
            "#/components/schemas/io.k8s.api.core.v1.Pod"
        );
        for name in [
            "io.k8s.apimachinery.pkg.apis.meta.v1.Status",
            "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions",
            "io.k8s.apimachinery.pkg.apis.meta.v1.Patch",
            "io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent",
            "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
            "io.k8s.api.core.v1.Container",
        ] {
            assert!(schemas.contains_key(name), "missing {name}");
        }
        // Every $ref in the document names a definition it carries.
        let text = serde_json::to_string(&document).unwrap();
        for reference in text.split("\"$ref\":\"").skip(1) {
            let target = reference.split('"').next().unwrap();
            let name = target
                .strip_prefix("#/components/schemas/")
                .unwrap_or_else(|| panic!("unexpected reference {target}"));
            assert!(schemas.contains_key(name), "dangling reference {target}");
        }
    }

    #[tokio::test]
    async fn list_fields_carry_strategic_merge_extensions() {
        let document = core_v1(&app()).await;
        let schemas = &document["components"]["schemas"];
        let containers = &schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"];
        assert_eq!(containers["x-kubernetes-patch-merge-key"], "name");
        assert_eq!(containers["x-kubernetes-patch-strategy"], "merge");
        assert_eq!(
            containers["items"]["$ref"],
            "#/components/schemas/io.k8s.api.core.v1.Container"
        );
        let ports = &schemas["io.k8s.api.core.v1.Container"]["properties"]["ports"];
        assert_eq!(ports["x-kubernetes-list-type"], "map");
        assert_eq!(
            ports["x-kubernetes-list-map-keys"],
            json!(["containerPort", "protocol"])
        );
        // Fields without patch metadata stay plain.
        let image = schemas["io.k8s.api.core.v1.Container"]["properties"]["image"]
            .as_object()
            .unwrap();
        assert!(
            !image
                .keys()
                .any(|key| key.starts_with("x-kubernetes-patch"))
        );
    }

    #[tokio::test]
    async fn scale_subresource_uses_autoscaling_scale() {
        let router = app();
        let (_, _, body) = get_with(&router, "/openapi/v3/apis/apps/v1", &[]).await;
        let document: Value = serde_json::from_slice(&body).unwrap();
        let scale =
            &document["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"];
        assert_eq!(
            scale["patch"]["operationId"],
            "patchAppsV1NamespacedDeploymentScale"
        );
        assert_eq!(
            scale["get"]["x-kubernetes-group-version-kind"],
            gvk("autoscaling", "v1", "Scale")
        );
        assert_eq!(
            scale["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/io.k8s.api.autoscaling.v1.Scale"
        );
        assert_eq!(
            document["components"]["schemas"]["io.k8s.api.apps.v1.Deployment"]["x-kubernetes-group-version-kind"],
            json!([gvk("apps", "v1", "Deployment")])
        );
    }

    #[tokio::test]
    async fn named_create_subresource_is_one_post_of_its_kind() {
        let mut resources = vec![pods()];
        resources.extend(service_accounts_with_token());
        let document = core_v1(&router(resources)).await;
        let path =
            &document["paths"]["/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token"];
        let methods: Vec<&str> = path
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(methods, ["parameters", "post"]);
        let post = &path["post"];
        assert_eq!(
            post["operationId"],
            "createCoreV1NamespacedServiceAccountToken"
        );
        assert_eq!(post["description"], "create token of a ServiceAccount");
        assert_eq!(post["x-kubernetes-action"], "post");
        assert_eq!(
            post["x-kubernetes-group-version-kind"],
            gvk("authentication.k8s.io", "v1", "TokenRequest")
        );
        assert_eq!(post["tags"], json!(["core_v1"]));
        let token_request = "#/components/schemas/io.k8s.api.authentication.v1.TokenRequest";
        assert_eq!(
            post["requestBody"]["content"]["application/json"]["schema"]["$ref"],
            token_request
        );
        assert_eq!(post["requestBody"]["required"], true);
        for code in ["200", "201", "202"] {
            assert_eq!(
                post["responses"][code]["content"]["application/json"]["schema"]["$ref"],
                token_request,
                "{code}"
            );
        }
        let parameters: Vec<(&str, &str)> = path["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|parameter| {
                (
                    parameter["name"].as_str().unwrap(),
                    parameter["in"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            parameters,
            [
                ("dryRun", "query"),
                ("fieldManager", "query"),
                ("fieldValidation", "query"),
                ("name", "path"),
                ("namespace", "path"),
                ("pretty", "query"),
            ]
        );
        assert_eq!(
            path["parameters"][3]["description"],
            "name of the TokenRequest"
        );

        let schemas = document["components"]["schemas"].as_object().unwrap();
        let schema = &schemas["io.k8s.api.authentication.v1.TokenRequest"];
        assert_eq!(
            schema["x-kubernetes-group-version-kind"],
            json!([gvk("authentication.k8s.io", "v1", "TokenRequest")])
        );
        assert_eq!(schema["required"], json!(["spec"]));
        assert!(schemas.contains_key("io.k8s.api.authentication.v1.TokenRequestSpec"));
        assert!(!schemas.contains_key("io.k8s.api.authentication.v1.TokenRequestList"));
        // The parent keeps its own paths and list.
        assert_eq!(
            document["paths"]["/api/v1/namespaces/{namespace}/serviceaccounts/{name}"]["get"]["operationId"],
            "readCoreV1NamespacedServiceAccount"
        );
        assert!(schemas.contains_key("io.k8s.api.core.v1.ServiceAccountList"));
        // Every reference resolves.
        let text = serde_json::to_string(&document).unwrap();
        for reference in text.split("\"$ref\":\"").skip(1) {
            let target = reference.split('"').next().unwrap();
            let name = target.trim_start_matches("#/components/schemas/");
            assert!(schemas.contains_key(name), "dangling reference {target}");
        }
    }

    #[tokio::test]
    async fn etag_revalidation_and_outdated_hash() {
        let router = app();
        let (_, headers, _) = get_with(&router, "/openapi/v3/api/v1", &[]).await;
        assert!(headers.get(header::CACHE_CONTROL).is_none());
        let etag = headers[header::ETAG].to_str().unwrap().to_string();
        let (status, headers, body) =
            get_with(&router, "/openapi/v3/api/v1", &[("if-none-match", &etag)]).await;
        assert_eq!(status, StatusCode::NOT_MODIFIED);
        assert!(body.is_empty());
        assert_eq!(headers[header::ETAG], etag.as_str());

        let (_, index_headers, _) = get_with(&router, "/openapi/v3", &[]).await;
        let index_etag = index_headers[header::ETAG].to_str().unwrap().to_string();
        let (status, _, _) =
            get_with(&router, "/openapi/v3", &[("if-none-match", &index_etag)]).await;
        assert_eq!(status, StatusCode::NOT_MODIFIED);

        let (status, headers, _) = get_with(&router, "/openapi/v3/api/v1?hash=0123", &[]).await;
        assert_eq!(status, StatusCode::MOVED_PERMANENTLY);
        let hash = etag.trim_matches('"');
        assert_eq!(
            headers[header::LOCATION].to_str().unwrap(),
            format!("/openapi/v3/api/v1?hash={hash}")
        );
    }

    #[tokio::test]
    async fn the_hash_is_read_decoded_and_first() {
        let router = app();
        let (_, headers, _) = get_with(&router, "/openapi/v3/api/v1", &[]).await;
        let etag = headers[header::ETAG].to_str().unwrap().to_string();
        let hash = etag.trim_matches('"');
        // The current hash with its first character escaped: the same hash
        // once decoded (the hand-written parser compared it raw: a 301).
        let first = hash.as_bytes()[0];
        let escaped = format!("%{first:02X}{}", &hash[1..]);
        let uri = format!("/openapi/v3/api/v1?hash={escaped}");
        let (status, headers, _) = get_with(&router, &uri, &[]).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[header::CACHE_CONTROL], "public, immutable");
        // The first `hash` decides.
        let uri = format!("/openapi/v3/api/v1?hash={hash}&hash=0123");
        assert_eq!(get_with(&router, &uri, &[]).await.0, StatusCode::OK);
        let uri = format!("/openapi/v3/api/v1?hash=0123&hash={hash}");
        assert_eq!(
            get_with(&router, &uri, &[]).await.0,
            StatusCode::MOVED_PERMANENTLY
        );
        // `hash` without a value is no hash: the document, without caching.
        let (status, headers, _) = get_with(&router, "/openapi/v3/api/v1?hash", &[]).await;
        assert_eq!(status, StatusCode::OK);
        assert!(headers.get(header::CACHE_CONTROL).is_none());
    }

    #[tokio::test]
    async fn unknown_documents_and_protobuf_only_clients() {
        let router = app();
        for uri in ["/openapi/v3/apis/batch/v1", "/openapi/v3/apis/apps/v2"] {
            let (status, _, body) = get_with(&router, uri, &[]).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
            let status_object: Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(status_object["kind"], "Status");
        }
        let (status, _, _) = get_with(
            &router,
            "/openapi/v3/api/v1",
            &[(
                "accept",
                "application/com.github.proto-openapi.spec.v3.v1.0+protobuf",
            )],
        )
        .await;
        assert_eq!(status, StatusCode::NOT_ACCEPTABLE);
        let (status, _, _) = get_with(
            &router,
            "/openapi/v3/api/v1",
            &[("accept", "application/json")],
        )
        .await;
        assert_eq!(status, StatusCode::OK);
    }

    #[test]
    fn identifiers_follow_upstream_naming() {
        assert_eq!(group_ident(""), "Core");
        assert_eq!(group_ident("apps"), "Apps");
        assert_eq!(
            group_ident("rbac.authorization.k8s.io"),
            "RbacAuthorization"
        );
        assert_eq!(
            group_ident("flowcontrol.apiserver.k8s.io"),
            "FlowcontrolApiserver"
        );
        assert_eq!(
            lower_first(&group_ident("rbac.authorization.k8s.io")),
            "rbacAuthorization"
        );
        assert_eq!(
            list_definition_name("io.k8s.api.core.v1.Pod", "Pod", "PodList"),
            "io.k8s.api.core.v1.PodList"
        );
    }
}
