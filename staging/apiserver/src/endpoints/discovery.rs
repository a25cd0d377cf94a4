//! API discovery (`k8s.io/apiserver/pkg/endpoints/discovery`): the legacy
//! documents (`/api` APIVersions, `/api/v1` and `/apis/G/V` APIResourceList,
//! `/apis` APIGroupList, `/apis/G` APIGroup) and the aggregated discovery
//! `APIGroupDiscoveryList` (apidiscovery.k8s.io v2 and v2beta1) that `/api`
//! and `/apis` answer when the Accept header asks for it.
//!
//! Everything but the server address of `/api` is computed once, when the
//! router is built, and served as bytes.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use serde::Serialize;
use sha2::{Digest, Sha256, Sha512};

use super::dynamic::DynamicResources;
use crate::registry::strategy::ResourceInfo;
use crate::status::Status;

/// The verbs of every served resource, sorted as upstream lists them.
const RESOURCE_VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

/// The verbs of a review, which is created and never stored, and of a
/// subresource served by its own handler (`serviceaccounts/token`).
const CREATE_ONLY_VERBS: &[&str] = &["create"];

/// The verbs `info` serves.
fn resource_verbs(info: &ResourceInfo) -> &'static [&'static str] {
    if info.create_only {
        CREATE_ONLY_VERBS
    } else {
        RESOURCE_VERBS
    }
}

/// The verbs of the `status` and `scale` subresources.
const SUBRESOURCE_VERBS: &[&str] = &["get", "patch", "update"];

/// The group of aggregated discovery documents.
const DISCOVERY_GROUP: &str = "apidiscovery.k8s.io";
/// The `as=` of aggregated discovery media types.
const DISCOVERY_KIND: &str = "APIGroupDiscoveryList";

/// The routes serving discovery for `resources` (main resources; their
/// `status` and `scale` subresources follow from the flags, the ones served
/// by their own handler from `create_subresources`). Groups and
/// versions are listed in the order they first appear in `resources`; the
/// first version of a group is its preferred version.
pub fn router(resources: Vec<ResourceInfo>) -> Router {
    router_with_dynamic(resources, None)
}

/// As [`router`], with the resources of `dynamic` after the fixed ones:
/// the documents are rebuilt on the first request after the set changed.
pub fn router_with_dynamic(
    resources: Vec<ResourceInfo>,
    dynamic: Option<Arc<DynamicResources>>,
) -> Router {
    let documents = Arc::new(Documents::build(&resources));
    let discovery = Arc::new(Discovery {
        fixed: resources,
        dynamic,
        built: Mutex::new((0, documents)),
    });
    Router::new()
        .route("/api", get(core_root))
        .route("/api/", get(core_root))
        .route("/api/{version}", get(core_version))
        .route("/api/{version}/", get(core_version))
        .route("/apis", get(groups_root))
        .route("/apis/", get(groups_root))
        .route("/apis/{group}", get(group))
        .route("/apis/{group}/", get(group))
        .route("/apis/{group}/{version}", get(group_version))
        .route("/apis/{group}/{version}/", get(group_version))
        .with_state(discovery)
}

/// The fixed resources, the dynamic ones, and the documents last built
/// from both.
struct Discovery {
    fixed: Vec<ResourceInfo>,
    dynamic: Option<Arc<DynamicResources>>,
    /// The dynamic set's generation the documents were built at.
    built: Mutex<(u64, Arc<Documents>)>,
}

impl Discovery {
    fn documents(&self) -> Arc<Documents> {
        let mut built = self.built.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(dynamic) = &self.dynamic {
            let snapshot = dynamic.snapshot();
            if snapshot.generation != built.0 {
                let mut resources = self.fixed.clone();
                resources.extend(snapshot.infos());
                *built = (snapshot.generation, Arc::new(Documents::build(&resources)));
            }
        }
        Arc::clone(&built.1)
    }
}

/// The storage version hash of a group/version/kind
/// (`discovery.StorageVersionHash`): base64 of the first 8 bytes of the
/// SHA-256 of `group/version/kind`.
pub fn storage_version_hash(group: &str, version: &str, kind: &str) -> String {
    let digest = Sha256::digest(format!("{group}/{version}/{kind}").as_bytes());
    base64::engine::general_purpose::STANDARD.encode(&digest[..8])
}

/// Which aggregated discovery version a client asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AggregatedVersion {
    V2,
    V2beta1,
}

impl AggregatedVersion {
    fn name(self) -> &'static str {
        match self {
            AggregatedVersion::V2 => "v2",
            AggregatedVersion::V2beta1 => "v2beta1",
        }
    }
}

/// What a discovery request answers with, from its Accept header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DiscoveryFormat {
    Legacy,
    Aggregated(AggregatedVersion),
}

/// Picks the format the way upstream's negotiation does for the discovery
/// endpoints: Accept clauses by decreasing `q`, the first one this server can
/// answer wins. A clause naming a conversion (`g`, `v`, `as`) counts only
/// when it names the aggregated discovery list; JSON or a wildcard without
/// one means the legacy document, which is also the answer when nothing
/// matches.
fn negotiate(accept: Option<&str>) -> DiscoveryFormat {
    let Some(accept) = accept else {
        return DiscoveryFormat::Legacy;
    };
    let mut clauses: Vec<MediaRange> = accept
        .split(',')
        .filter_map(MediaRange::parse)
        .filter(|clause| clause.quality > 0.0)
        .collect();
    clauses.sort_by(|a, b| b.quality.total_cmp(&a.quality));
    for clause in &clauses {
        let json = matches!(
            clause.essence.as_str(),
            "application/json" | "application/*" | "*/*"
        );
        if !json {
            continue;
        }
        let (group, version, kind) = (clause.param("g"), clause.param("v"), clause.param("as"));
        if group.is_none() && version.is_none() && kind.is_none() {
            return DiscoveryFormat::Legacy;
        }
        if group == Some(DISCOVERY_GROUP) && kind == Some(DISCOVERY_KIND) {
            match version {
                Some("v2") => return DiscoveryFormat::Aggregated(AggregatedVersion::V2),
                Some("v2beta1") => return DiscoveryFormat::Aggregated(AggregatedVersion::V2beta1),
                _ => {}
            }
        }
    }
    DiscoveryFormat::Legacy
}

/// One clause of an Accept header.
struct MediaRange {
    /// `type/subtype`, lowercase.
    essence: String,
    params: Vec<(String, String)>,
    quality: f32,
}

impl MediaRange {
    fn parse(clause: &str) -> Option<Self> {
        let mut parts = clause.split(';');
        let essence = parts.next()?.trim().to_ascii_lowercase();
        if essence.is_empty() {
            return None;
        }
        let mut params = Vec::new();
        let mut quality = 1.0;
        for param in parts {
            let Some((key, value)) = param.split_once('=') else {
                continue;
            };
            let key = key.trim().to_ascii_lowercase();
            let value = value.trim().trim_matches('"').to_string();
            if key == "q" {
                quality = value.parse().unwrap_or(0.0);
            } else {
                params.push((key, value));
            }
        }
        Some(MediaRange {
            essence,
            params,
            quality,
        })
    }

    fn param(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.as_str())
    }
}

/// The documents, serialized once.
struct Documents {
    /// `/api/v1` and `/apis/G/V`, by group-version (`v1`, `apps/v1`).
    resource_lists: BTreeMap<String, Bytes>,
    /// `/apis/G`, by group.
    groups: BTreeMap<String, Bytes>,
    /// `/apis`.
    group_list: Bytes,
    /// Aggregated `/api` (the core group).
    core_aggregated: Aggregated,
    /// Aggregated `/apis` (every named group).
    groups_aggregated: Aggregated,
}

/// One aggregated document in both versions, with its ETag.
struct Aggregated {
    v2: Bytes,
    v2beta1: Bytes,
    /// Quoted, as the header carries it.
    etag: HeaderValue,
}

/// A group with its versions in order of first appearance.
struct GroupEntry<'a> {
    name: &'a str,
    versions: Vec<(&'a str, Vec<&'a ResourceInfo>)>,
}

impl Documents {
    fn build(resources: &[ResourceInfo]) -> Self {
        let mut core: Option<GroupEntry> = None;
        let mut named: Vec<GroupEntry> = Vec::new();
        for info in resources {
            let entry = if info.group.is_empty() {
                core.get_or_insert_with(|| GroupEntry {
                    name: "",
                    versions: Vec::new(),
                })
            } else {
                match named.iter().position(|group| group.name == info.group) {
                    Some(index) => &mut named[index],
                    None => {
                        named.push(GroupEntry {
                            name: info.group,
                            versions: Vec::new(),
                        });
                        let last = named.len() - 1;
                        &mut named[last]
                    }
                }
            };
            match entry
                .versions
                .iter_mut()
                .find(|(version, _)| *version == info.version)
            {
                Some((_, members)) => members.push(info),
                None => entry.versions.push((info.version, vec![info])),
            }
        }

        let mut resource_lists = BTreeMap::new();
        let mut groups = BTreeMap::new();
        for group in core.iter().chain(named.iter()) {
            for (version, members) in &group.versions {
                let group_version = join_group_version(group.name, version);
                let list = ApiResourceList {
                    kind: "APIResourceList",
                    api_version: "v1",
                    group_version: group_version.clone(),
                    resources: members
                        .iter()
                        .flat_map(|info| legacy_resources(info))
                        .collect(),
                };
                resource_lists.insert(group_version, to_bytes(&list));
            }
        }
        let api_groups: Vec<ApiGroup> = named.iter().map(legacy_group).collect();
        for api_group in &api_groups {
            let document = ApiGroupDocument {
                kind: "APIGroup",
                api_version: "v1",
                group: api_group,
            };
            groups.insert(api_group.name.to_string(), to_bytes(&document));
        }
        let group_list = to_bytes(&ApiGroupList {
            kind: "APIGroupList",
            api_version: "v1",
            groups: api_groups,
        });

        Documents {
            resource_lists,
            groups,
            group_list,
            core_aggregated: Aggregated::build(core.iter().map(aggregated_group).collect()),
            groups_aggregated: Aggregated::build(named.iter().map(aggregated_group).collect()),
        }
    }
}

impl Aggregated {
    fn build(items: Vec<ApiGroupDiscovery>) -> Self {
        let document = |version: AggregatedVersion| {
            to_bytes(&ApiGroupDiscoveryList {
                kind: DISCOVERY_KIND,
                api_version: format!("{DISCOVERY_GROUP}/{}", version.name()),
                metadata: EmptyObject {},
                items: &items,
            })
        };
        let v2 = document(AggregatedVersion::V2);
        let v2beta1 = document(AggregatedVersion::V2beta1);
        // Upstream hashes the v2 object whatever version is served.
        let etag = format!("\"{}\"", upper_hex(&Sha512::digest(&v2)));
        Aggregated {
            v2,
            v2beta1,
            etag: HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("\"\"")),
        }
    }

    fn response(&self, version: AggregatedVersion, request_headers: &HeaderMap) -> Response {
        let content_type = format!(
            "application/json;g={DISCOVERY_GROUP};v={};as={DISCOVERY_KIND}",
            version.name()
        );
        let not_modified = request_headers
            .get(header::IF_NONE_MATCH)
            .is_some_and(|value| value.as_bytes() == self.etag.as_bytes());
        let mut response = if not_modified {
            StatusCode::NOT_MODIFIED.into_response()
        } else {
            let body = match version {
                AggregatedVersion::V2 => self.v2.clone(),
                AggregatedVersion::V2beta1 => self.v2beta1.clone(),
            };
            let mut response = (StatusCode::OK, body).into_response();
            if let Ok(value) = HeaderValue::from_str(&content_type) {
                response.headers_mut().insert(header::CONTENT_TYPE, value);
            }
            response
        };
        let headers = response.headers_mut();
        headers.insert(header::ETAG, self.etag.clone());
        headers.insert(header::VARY, HeaderValue::from_static("Accept"));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public"));
        response
    }
}

async fn core_root(
    State(discovery): State<Arc<Discovery>>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let documents = discovery.documents();
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok());
    if let DiscoveryFormat::Aggregated(version) = negotiate(accept) {
        return documents.core_aggregated.response(version, &headers);
    }
    let server_address = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .map(str::to_string)
        .or_else(|| uri.authority().map(|authority| authority.to_string()))
        .unwrap_or_default();
    let versions = ApiVersions {
        kind: "APIVersions",
        versions: &["v1"],
        server_address_by_client_cidrs: vec![ServerAddressByClientCidr {
            client_cidr: "0.0.0.0/0",
            server_address,
        }],
    };
    json_response(to_bytes(&versions))
}

async fn groups_root(State(discovery): State<Arc<Discovery>>, headers: HeaderMap) -> Response {
    let documents = discovery.documents();
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok());
    match negotiate(accept) {
        DiscoveryFormat::Aggregated(version) => {
            documents.groups_aggregated.response(version, &headers)
        }
        DiscoveryFormat::Legacy => json_response(documents.group_list.clone()),
    }
}

async fn core_version(
    State(discovery): State<Arc<Discovery>>,
    Path(version): Path<String>,
) -> Response {
    let documents = discovery.documents();
    match documents.resource_lists.get(&version) {
        Some(body) if !version.contains('/') => json_response(body.clone()),
        _ => Status::not_found_path().into_response(),
    }
}

async fn group(State(discovery): State<Arc<Discovery>>, Path(group): Path<String>) -> Response {
    let documents = discovery.documents();
    match documents.groups.get(&group) {
        Some(body) => json_response(body.clone()),
        None => Status::not_found_path().into_response(),
    }
}

async fn group_version(
    State(discovery): State<Arc<Discovery>>,
    Path((group, version)): Path<(String, String)>,
) -> Response {
    let documents = discovery.documents();
    match documents.resource_lists.get(&format!("{group}/{version}")) {
        Some(body) => json_response(body.clone()),
        None => Status::not_found_path().into_response(),
    }
}

fn json_response(body: Bytes) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

fn to_bytes<T: Serialize>(value: &T) -> Bytes {
    // The documents are plain structs of strings: serialization cannot fail.
    Bytes::from(serde_json::to_vec(value).unwrap_or_default())
}

fn upper_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02X}")).collect()
}

fn join_group_version(group: &str, version: &str) -> String {
    if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    }
}

/// The APIResource entries of one resource: itself, then its subresources.
fn legacy_resources(info: &ResourceInfo) -> Vec<ApiResource> {
    let mut entries = vec![ApiResource {
        name: info.plural.to_string(),
        singular_name: info.singular,
        namespaced: info.namespaced,
        group: None,
        version: None,
        kind: info.kind,
        verbs: resource_verbs(info),
        short_names: info.short_names,
        categories: info.categories,
        storage_version_hash: (!info.create_only)
            .then(|| storage_version_hash(info.group, info.version, info.kind)),
    }];
    if info.has_status {
        entries.push(ApiResource {
            name: format!("{}/status", info.plural),
            singular_name: info.singular,
            namespaced: info.namespaced,
            group: None,
            version: None,
            kind: info.kind,
            verbs: SUBRESOURCE_VERBS,
            short_names: &[],
            categories: &[],
            storage_version_hash: None,
        });
    }
    if info.has_scale {
        let scale = scale_kind();
        entries.push(ApiResource {
            name: format!("{}/scale", info.plural),
            singular_name: info.singular,
            namespaced: info.namespaced,
            group: Some(scale.group),
            version: Some(scale.version),
            kind: scale.kind,
            verbs: SUBRESOURCE_VERBS,
            short_names: &[],
            categories: &[],
            storage_version_hash: None,
        });
    }
    for subresource in &info.create_subresources {
        // The kind's group and version are named when they are not the
        // parent's (`authentication.k8s.io/v1` TokenRequest under core v1),
        // and the legacy core group never, as upstream's omitempty.
        let foreign = (subresource.group, subresource.version) != (info.group, info.version);
        entries.push(ApiResource {
            name: format!("{}/{}", info.plural, subresource.name),
            singular_name: "",
            namespaced: info.namespaced,
            group: (foreign && !subresource.group.is_empty()).then_some(subresource.group),
            version: foreign.then_some(subresource.version),
            kind: subresource.kind,
            verbs: CREATE_ONLY_VERBS,
            short_names: &[],
            categories: &[],
            storage_version_hash: None,
        });
    }
    entries
}

fn legacy_group<'a>(group: &GroupEntry<'a>) -> ApiGroup<'a> {
    let versions: Vec<GroupVersionForDiscovery> = group
        .versions
        .iter()
        .map(|(version, _)| GroupVersionForDiscovery {
            group_version: join_group_version(group.name, version),
            version,
        })
        .collect();
    ApiGroup {
        name: group.name,
        preferred_version: versions.first().cloned(),
        versions,
    }
}

fn aggregated_group<'a>(group: &GroupEntry<'a>) -> ApiGroupDiscovery<'a> {
    ApiGroupDiscovery {
        metadata: GroupMetadata {
            name: (!group.name.is_empty()).then_some(group.name),
            creation_timestamp: None,
        },
        versions: group
            .versions
            .iter()
            .map(|(version, members)| ApiVersionDiscovery {
                version,
                resources: members
                    .iter()
                    .map(|info| aggregated_resource(info))
                    .collect(),
                freshness: "Current",
            })
            .collect(),
    }
}

fn aggregated_resource(info: &ResourceInfo) -> ApiResourceDiscovery<'_> {
    let own_kind = GroupVersionKind {
        group: info.group,
        version: info.version,
        kind: info.kind,
    };
    let mut subresources = Vec::new();
    if info.has_status {
        subresources.push(ApiSubresourceDiscovery {
            subresource: "status",
            response_kind: own_kind,
            verbs: SUBRESOURCE_VERBS,
        });
    }
    if info.has_scale {
        subresources.push(ApiSubresourceDiscovery {
            subresource: "scale",
            response_kind: scale_kind(),
            verbs: SUBRESOURCE_VERBS,
        });
    }
    for subresource in &info.create_subresources {
        subresources.push(ApiSubresourceDiscovery {
            subresource: subresource.name,
            response_kind: GroupVersionKind {
                group: subresource.group,
                version: subresource.version,
                kind: subresource.kind,
            },
            verbs: CREATE_ONLY_VERBS,
        });
    }
    ApiResourceDiscovery {
        resource: info.plural,
        response_kind: own_kind,
        scope: if info.namespaced {
            "Namespaced"
        } else {
            "Cluster"
        },
        singular_resource: info.singular,
        verbs: resource_verbs(info),
        short_names: info.short_names,
        categories: info.categories,
        subresources,
    }
}

/// What the `scale` subresource serves: `autoscaling/v1` Scale.
fn scale_kind() -> GroupVersionKind<'static> {
    GroupVersionKind {
        group: "autoscaling",
        version: "v1",
        kind: "Scale",
    }
}

// Wire shapes, field order as upstream's Go structs.

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ApiVersions {
    kind: &'static str,
    versions: &'static [&'static str],
    #[serde(rename = "serverAddressByClientCIDRs")]
    server_address_by_client_cidrs: Vec<ServerAddressByClientCidr>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ServerAddressByClientCidr {
    #[serde(rename = "clientCIDR")]
    client_cidr: &'static str,
    server_address: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ApiResourceList {
    kind: &'static str,
    api_version: &'static str,
    group_version: String,
    resources: Vec<ApiResource>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ApiResource {
    name: String,
    singular_name: &'static str,
    namespaced: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<&'static str>,
    kind: &'static str,
    verbs: &'static [&'static str],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    short_names: &'static [&'static str],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    categories: &'static [&'static str],
    #[serde(skip_serializing_if = "Option::is_none")]
    storage_version_hash: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ApiGroupList<'a> {
    kind: &'static str,
    api_version: &'static str,
    groups: Vec<ApiGroup<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ApiGroupDocument<'a> {
    kind: &'static str,
    api_version: &'static str,
    #[serde(flatten)]
    group: &'a ApiGroup<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ApiGroup<'a> {
    name: &'a str,
    versions: Vec<GroupVersionForDiscovery<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    preferred_version: Option<GroupVersionForDiscovery<'a>>,
}

#[derive(Serialize, Clone)]
#[serde(rename_all = "camelCase")]
struct GroupVersionForDiscovery<'a> {
    group_version: String,
    version: &'a str,
}

#[derive(Serialize)]
struct EmptyObject {}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ApiGroupDiscoveryList<'a> {
    kind: &'static str,
    api_version: String,
    metadata: EmptyObject,
    items: &'a [ApiGroupDiscovery<'a>],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ApiGroupDiscovery<'a> {
    metadata: GroupMetadata<'a>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    versions: Vec<ApiVersionDiscovery<'a>>,
}

/// The ObjectMeta of an APIGroupDiscovery: the name only (and the null
/// creationTimestamp Go's encoder writes for an unset time).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GroupMetadata<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    creation_timestamp: Option<&'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ApiVersionDiscovery<'a> {
    version: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    resources: Vec<ApiResourceDiscovery<'a>>,
    freshness: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ApiResourceDiscovery<'a> {
    resource: &'a str,
    response_kind: GroupVersionKind<'a>,
    scope: &'static str,
    singular_resource: &'a str,
    verbs: &'static [&'static str],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    short_names: &'a [&'a str],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    categories: &'a [&'a str],
    #[serde(skip_serializing_if = "Vec::is_empty")]
    subresources: Vec<ApiSubresourceDiscovery<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ApiSubresourceDiscovery<'a> {
    subresource: &'static str,
    response_kind: GroupVersionKind<'a>,
    verbs: &'static [&'static str],
}

#[derive(Serialize, Clone, Copy)]
struct GroupVersionKind<'a> {
    group: &'a str,
    version: &'a str,
    kind: &'a str,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::ResourceNames;
    use axum::body::Body;
    use http::Request;
    use http_body_util::BodyExt;
    use serde_json::{Value, json};
    use tower::ServiceExt;

    const AGGREGATED_V2: &str =
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";
    const KUBECTL_ACCEPT: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";

    fn pods() -> ResourceInfo {
        ResourceInfo {
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
        }
    }

    fn namespaces() -> ResourceInfo {
        ResourceInfo {
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
        }
    }

    fn deployments() -> ResourceInfo {
        ResourceInfo {
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
        }
    }

    fn leases() -> ResourceInfo {
        ResourceInfo {
            names: ResourceNames {
                group: "coordination.k8s.io",
                version: "v1",
                kind: "Lease",
                plural: "leases",
                singular: "lease",
                namespaced: true,
                short_names: &[],
                categories: &[],
            },
            has_status: false,
            has_scale: false,
            create_only: false,
            create_subresources: Vec::new(),
        }
    }

    fn app() -> Router {
        router(vec![pods(), namespaces(), deployments(), leases()])
    }

    /// `serviceaccounts` with its `token` subresource.
    fn service_accounts_with_token() -> ResourceInfo {
        let mut infos = [crate::registry::subresource::testing::service_accounts()];
        crate::registry::subresource::attach_create_subresources(
            &mut infos,
            &[crate::registry::subresource::testing::EchoToken::rest()],
        );
        let [info] = infos;
        info
    }

    async fn send(
        router: Router,
        path: &str,
        headers: &[(&str, &str)],
    ) -> (StatusCode, HeaderMap, Bytes) {
        let mut request = Request::get(path);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = router
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, headers, body)
    }

    fn json_of(body: &Bytes) -> Value {
        serde_json::from_slice(body).unwrap()
    }

    #[test]
    fn storage_version_hash_matches_upstream() {
        // Values a v1.32 kube-apiserver reports.
        assert_eq!(storage_version_hash("", "v1", "Pod"), "xPOwRZ+Yhw8=");
        assert_eq!(
            storage_version_hash("apps", "v1", "Deployment"),
            "8aSe+NMegvE="
        );
    }

    #[test]
    fn negotiation_follows_accept_order_and_quality() {
        use DiscoveryFormat::*;
        assert_eq!(negotiate(None), Legacy);
        assert_eq!(negotiate(Some("application/json")), Legacy);
        assert_eq!(negotiate(Some("*/*")), Legacy);
        assert_eq!(
            negotiate(Some(KUBECTL_ACCEPT)),
            Aggregated(AggregatedVersion::V2)
        );
        assert_eq!(
            negotiate(Some(
                "application/json;as=APIGroupDiscoveryList;v=v2beta1;g=apidiscovery.k8s.io"
            )),
            Aggregated(AggregatedVersion::V2beta1)
        );
        assert_eq!(
            negotiate(Some(
                "application/json;q=0.5,application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList;q=0.9"
            )),
            Aggregated(AggregatedVersion::V2)
        );
        // An unknown conversion is skipped, not answered as aggregated.
        assert_eq!(
            negotiate(Some(
                "application/json;g=apidiscovery.k8s.io;v=v3;as=APIGroupDiscoveryList,application/json"
            )),
            Legacy
        );
        assert_eq!(
            negotiate(Some("application/json;as=Table;v=v1;g=meta.k8s.io")),
            Legacy
        );
    }

    #[tokio::test]
    async fn api_lists_v1_with_the_request_host() {
        let (status, headers, body) = send(app(), "/api", &[("host", "10.0.0.1:6443")]).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[header::CONTENT_TYPE], "application/json");
        assert_eq!(
            json_of(&body),
            json!({
                "kind": "APIVersions",
                "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "10.0.0.1:6443"}]
            })
        );
    }

    #[tokio::test]
    async fn core_resource_list_has_resources_and_subresources() {
        let (status, headers, body) = send(app(), "/api/v1", &[]).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[header::CONTENT_TYPE], "application/json");
        let list = json_of(&body);
        assert_eq!(list["kind"], "APIResourceList");
        assert_eq!(list["groupVersion"], "v1");
        let names: Vec<&str> = list["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|resource| resource["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            ["pods", "pods/status", "namespaces", "namespaces/status"]
        );
        assert_eq!(
            list["resources"][0],
            json!({
                "name": "pods",
                "singularName": "pod",
                "namespaced": true,
                "kind": "Pod",
                "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
                "shortNames": ["po"],
                "categories": ["all"],
                "storageVersionHash": "xPOwRZ+Yhw8="
            })
        );
        assert_eq!(
            list["resources"][1],
            json!({
                "name": "pods/status",
                "singularName": "pod",
                "namespaced": true,
                "kind": "Pod",
                "verbs": ["get", "patch", "update"]
            })
        );
        assert_eq!(list["resources"][2]["namespaced"], false);
    }

    #[tokio::test]
    async fn group_resource_list_has_scale_as_autoscaling() {
        let (status, _, body) = send(app(), "/apis/apps/v1", &[]).await;
        assert_eq!(status, StatusCode::OK);
        let list = json_of(&body);
        assert_eq!(list["groupVersion"], "apps/v1");
        assert_eq!(
            list["resources"][2],
            json!({
                "name": "deployments/scale",
                "singularName": "deployment",
                "namespaced": true,
                "group": "autoscaling",
                "version": "v1",
                "kind": "Scale",
                "verbs": ["get", "patch", "update"]
            })
        );
    }

    #[tokio::test]
    async fn create_only_subresource_is_listed_with_its_kind_and_create() {
        let app = router(vec![pods(), service_accounts_with_token()]);
        let (status, _, body) = send(app.clone(), "/api/v1", &[]).await;
        assert_eq!(status, StatusCode::OK);
        let list = json_of(&body);
        let names: Vec<&str> = list["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|resource| resource["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "pods",
                "pods/status",
                "serviceaccounts",
                "serviceaccounts/token"
            ]
        );
        // As a v1.31 kube-apiserver lists it.
        assert_eq!(
            list["resources"][3],
            json!({
                "name": "serviceaccounts/token",
                "singularName": "",
                "namespaced": true,
                "group": "authentication.k8s.io",
                "version": "v1",
                "kind": "TokenRequest",
                "verbs": ["create"]
            })
        );

        let (status, _, body) = send(app, "/api", &[("accept", AGGREGATED_V2)]).await;
        assert_eq!(status, StatusCode::OK);
        let list = json_of(&body);
        let service_accounts = &list["items"][0]["versions"][0]["resources"][1];
        assert_eq!(service_accounts["resource"], "serviceaccounts");
        assert_eq!(
            service_accounts["subresources"],
            json!([{
                "subresource": "token",
                "responseKind": {"group": "authentication.k8s.io", "version": "v1", "kind": "TokenRequest"},
                "verbs": ["create"]
            }])
        );
    }

    #[test]
    fn subresource_kind_of_the_parents_group_version_is_not_named() {
        let mut pods = pods();
        pods.create_subresources
            .push(crate::registry::SubresourceKind {
                name: "binding",
                group: "",
                version: "v1",
                kind: "Binding",
            });
        let entries = legacy_resources(&pods);
        let binding = serde_json::to_value(&entries[2]).unwrap();
        assert_eq!(
            binding,
            json!({
                "name": "pods/binding",
                "singularName": "",
                "namespaced": true,
                "kind": "Binding",
                "verbs": ["create"]
            })
        );
    }

    #[tokio::test]
    async fn apis_lists_groups_in_order_with_preferred_version() {
        let (status, headers, body) = send(app(), "/apis", &[("accept", "application/json")]).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[header::CONTENT_TYPE], "application/json");
        assert!(headers.get(header::ETAG).is_none());
        assert_eq!(
            json_of(&body),
            json!({
                "kind": "APIGroupList",
                "apiVersion": "v1",
                "groups": [
                    {
                        "name": "apps",
                        "versions": [{"groupVersion": "apps/v1", "version": "v1"}],
                        "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"}
                    },
                    {
                        "name": "coordination.k8s.io",
                        "versions": [{"groupVersion": "coordination.k8s.io/v1", "version": "v1"}],
                        "preferredVersion": {"groupVersion": "coordination.k8s.io/v1", "version": "v1"}
                    }
                ]
            })
        );
        let (status, _, body) = send(app(), "/apis/apps", &[]).await;
        assert_eq!(status, StatusCode::OK);
        let group = json_of(&body);
        assert_eq!(group["kind"], "APIGroup");
        assert_eq!(group["name"], "apps");
        assert_eq!(group["preferredVersion"]["groupVersion"], "apps/v1");
    }

    #[tokio::test]
    async fn unknown_group_and_versions_are_not_found_statuses() {
        for path in ["/apis/nope/v1", "/apis/apps/v2", "/apis/nope", "/api/v2"] {
            let (status, headers, body) = send(app(), path, &[]).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
            assert_eq!(headers[header::CONTENT_TYPE], "application/json");
            let status_object = json_of(&body);
            assert_eq!(status_object["kind"], "Status");
            assert_eq!(status_object["reason"], "NotFound");
        }
    }

    #[tokio::test]
    async fn aggregated_apis_only_when_asked_with_exact_content_type() {
        let (status, headers, body) = send(app(), "/apis", &[("accept", KUBECTL_ACCEPT)]).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[header::CONTENT_TYPE], AGGREGATED_V2);
        assert_eq!(headers[header::VARY], "Accept");
        let list = json_of(&body);
        assert_eq!(list["kind"], "APIGroupDiscoveryList");
        assert_eq!(list["apiVersion"], "apidiscovery.k8s.io/v2");
        assert_eq!(list["items"][0]["metadata"]["name"], "apps");
        let deployments = &list["items"][0]["versions"][0]["resources"][0];
        assert_eq!(
            *deployments,
            json!({
                "resource": "deployments",
                "responseKind": {"group": "apps", "version": "v1", "kind": "Deployment"},
                "scope": "Namespaced",
                "singularResource": "deployment",
                "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
                "shortNames": ["deploy"],
                "categories": ["all"],
                "subresources": [
                    {
                        "subresource": "status",
                        "responseKind": {"group": "apps", "version": "v1", "kind": "Deployment"},
                        "verbs": ["get", "patch", "update"]
                    },
                    {
                        "subresource": "scale",
                        "responseKind": {"group": "autoscaling", "version": "v1", "kind": "Scale"},
                        "verbs": ["get", "patch", "update"]
                    }
                ]
            })
        );
        assert_eq!(list["items"][0]["versions"][0]["freshness"], "Current");
        assert_eq!(list["items"][1]["metadata"]["name"], "coordination.k8s.io");

        // Plain JSON gets the legacy list.
        let (_, headers, body) = send(app(), "/apis", &[("accept", "application/json")]).await;
        assert_eq!(headers[header::CONTENT_TYPE], "application/json");
        assert_eq!(json_of(&body)["kind"], "APIGroupList");
    }

    #[tokio::test]
    async fn aggregated_core_group_and_v2beta1() {
        let v2beta1 = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList";
        let (status, headers, body) = send(app(), "/api", &[("accept", v2beta1)]).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[header::CONTENT_TYPE], v2beta1);
        let list = json_of(&body);
        assert_eq!(list["apiVersion"], "apidiscovery.k8s.io/v2beta1");
        let items = list["items"].as_array().unwrap();
        assert_eq!(items.len(), 1);
        assert!(items[0]["metadata"].get("name").is_none());
        let resources = items[0]["versions"][0]["resources"].as_array().unwrap();
        assert_eq!(resources[0]["resource"], "pods");
        assert_eq!(
            resources[0]["responseKind"],
            json!({"group": "", "version": "v1", "kind": "Pod"})
        );
        assert_eq!(resources[1]["scope"], "Cluster");
        assert!(resources[1].get("categories").is_none());
    }

    #[tokio::test]
    async fn aggregated_etag_answers_not_modified() {
        let (_, headers, _) = send(app(), "/apis", &[("accept", AGGREGATED_V2)]).await;
        let etag = headers[header::ETAG].to_str().unwrap().to_string();
        assert!(
            etag.starts_with('"') && etag.ends_with('"') && etag.len() == 130,
            "{etag}"
        );
        let (status, headers, body) = send(
            app(),
            "/apis",
            &[("accept", AGGREGATED_V2), ("if-none-match", &etag)],
        )
        .await;
        assert_eq!(status, StatusCode::NOT_MODIFIED);
        assert!(body.is_empty());
        assert_eq!(headers[header::ETAG], etag.as_str());
        let (status, _, body) = send(
            app(),
            "/apis",
            &[("accept", AGGREGATED_V2), ("if-none-match", "\"stale\"")],
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert!(!body.is_empty());
        // Different documents, different tags.
        let (_, core_headers, _) = send(app(), "/api", &[("accept", AGGREGATED_V2)]).await;
        assert_ne!(core_headers[header::ETAG], etag.as_str());
    }
}
