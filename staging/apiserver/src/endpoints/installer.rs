//! Installs resources under `/api/v1` and `/apis/<group>/<version>`
//! (`endpoints.APIInstaller`): parses a resource path into namespace,
//! resource, name and subresource, picks the verb from the method and query,
//! and calls the resource's store, or the handler of a subresource served
//! by its own (`serviceaccounts/token`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use bytes::Bytes;
use http::{HeaderMap, Method, Uri};

use crate::filters::body_limit::{BodyLimit, read_body};
use crate::registry::RestStorage;
use crate::registry::rest::Subresource;
use crate::registry::subresource::SubresourceRest;
use crate::status::{Status, StatusDetails};

use super::dynamic::DynamicResources;
use super::handlers::{self, Query};
use super::request;
use crate::authentication::UserInfo;

/// Group, version and plural name of an installed resource.
type ResourceKey = (String, String, String);

/// Group, version, the parent's plural name and the subresource's name.
type SubresourceKey = (String, String, String, String);

/// Every installed resource, by group, version and plural name.
pub struct Api {
    resources: HashMap<ResourceKey, Arc<dyn RestStorage>>,
    /// The subresources served by their own handler (create only).
    subresources: HashMap<SubresourceKey, Arc<dyn SubresourceRest>>,
    /// The resources added while the server runs (custom resources),
    /// looked up after `resources`.
    dynamic: Arc<DynamicResources>,
    /// `--min-request-timeout`: a watch without `timeoutSeconds` ends after
    /// a random time in [this, 2×this], as upstream spreads reconnects.
    min_request_timeout: Duration,
}

/// What a resource path addresses.
#[derive(Debug, PartialEq, Eq)]
struct Target<'a> {
    group: &'a str,
    version: &'a str,
    namespace: Option<&'a str>,
    resource: &'a str,
    name: Option<&'a str>,
    subresource: Option<&'a str>,
    /// The deprecated `/watch/` path prefix.
    watch: bool,
}

/// Namespace subresources that are not nested resources:
/// `/api/v1/namespaces/<name>/status`.
const NAMESPACE_SUBRESOURCES: [&str; 2] = ["status", "finalize"];

fn parse_target(path: &str) -> Option<Target<'_>> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, mut rest) = match parts.as_slice() {
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return None,
    };
    let watch = rest.first() == Some(&"watch");
    if watch {
        rest = &rest[1..];
    }
    let mut namespace = None;
    if let ["namespaces", ns, nested, tail @ ..] = rest
        && !NAMESPACE_SUBRESOURCES.contains(nested)
    {
        namespace = Some(*ns);
        rest = &rest[2..];
        let _ = tail;
    }
    match rest {
        [resource] => Some(Target {
            group,
            version,
            namespace,
            resource,
            name: None,
            subresource: None,
            watch,
        }),
        [resource, name] => Some(Target {
            group,
            version,
            namespace,
            resource,
            name: Some(name),
            subresource: None,
            watch,
        }),
        [resource, name, sub] => Some(Target {
            group,
            version,
            namespace,
            resource,
            name: Some(name),
            subresource: Some(sub),
            watch,
        }),
        _ => None,
    }
    .filter(|t| !t.resource.is_empty() && t.name.is_none_or(|n| !n.is_empty()))
}

/// The answer to a method a path does not serve, as upstream's router gives
/// it (`NewGenericServerResponse` of a 405).
fn method_not_allowed() -> Status {
    Status::failure(
        http::StatusCode::METHOD_NOT_ALLOWED,
        "MethodNotAllowed",
        "the server does not allow this method on the requested resource",
    )
    .with_details(StatusDetails::default())
}

impl Api {
    /// Routes for `resources` and for the `subresources` served by their
    /// own handler (`serviceaccounts/token`). Upstream installs a
    /// subresource only beside its parent, so each handler's parent belongs
    /// among `resources`; the handler is looked up by the parent's path
    /// alone, before any store.
    pub fn new(
        resources: Vec<Arc<dyn RestStorage>>,
        subresources: Vec<Arc<dyn SubresourceRest>>,
        min_request_timeout: Duration,
    ) -> Self {
        let subresources = subresources
            .into_iter()
            .map(|handler| {
                let parent = handler.parent();
                (
                    (
                        parent.group.to_string(),
                        parent.version.to_string(),
                        parent.plural.to_string(),
                        handler.kind().name.to_string(),
                    ),
                    handler,
                )
            })
            .collect();
        let resources = resources
            .into_iter()
            .map(|store| {
                let info = store.info();
                (
                    (
                        info.group.to_string(),
                        info.version.to_string(),
                        info.plural.to_string(),
                    ),
                    store,
                )
            })
            .collect();
        Api {
            resources,
            subresources,
            dynamic: Arc::new(DynamicResources::default()),
            min_request_timeout,
        }
    }

    /// Also serves the resources of `dynamic` (after the fixed ones).
    pub fn with_dynamic(mut self, dynamic: Arc<DynamicResources>) -> Self {
        self.dynamic = dynamic;
        self
    }

    /// The handler of the subresource `target` addresses, if one serves it.
    fn subresource_handler(&self, target: &Target<'_>) -> Option<&Arc<dyn SubresourceRest>> {
        let subresource = target.subresource?;
        self.subresources.get(&(
            target.group.to_string(),
            target.version.to_string(),
            target.resource.to_string(),
            subresource.to_string(),
        ))
    }

    /// A request for a subresource served by its own handler: `POST` with
    /// the parent's name creates, any other method is 405. The parent's
    /// scope decides the path as for the parent itself; the deprecated
    /// `/watch/` paths have no subresources.
    async fn handle_subresource(
        &self,
        handler: &dyn SubresourceRest,
        target: &Target<'_>,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: Bytes,
    ) -> Result<Response, Status> {
        let parent = handler.parent();
        let Some(name) = target.name else {
            return Err(Status::not_found_path());
        };
        if target.watch || parent.namespaced != target.namespace.is_some() {
            return Err(Status::not_found_path());
        }
        if method != Method::POST {
            return Err(method_not_allowed());
        }
        let query = Query::parse(uri.query());
        handlers::negotiate_output(headers, &query)?;
        let opts = handlers::write_options(headers, &query, "CreateOptions")?;
        let reply = handler
            .create(
                target.namespace,
                name,
                handlers::request_body(headers, body).await?,
                &opts,
            )
            .await?;
        Ok(handlers::reply(reply))
    }

    /// The routes of every resource path (discovery is served beside them).
    pub fn router(self) -> Router {
        let api = Arc::new(self);
        Router::new()
            .route("/api/{version}/{*rest}", any(serve))
            .route("/apis/{group}/{version}/{*rest}", any(serve))
            .with_state(api)
    }

    fn watch_timeout(&self) -> Duration {
        let base = self.min_request_timeout;
        let jitter = u64::from(uuid::Uuid::new_v4().as_bytes()[0]);
        base + base.mul_f64(jitter as f64 / 255.0)
    }

    async fn handle(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: Bytes,
    ) -> Result<Response, Status> {
        let target = parse_target(uri.path()).ok_or_else(Status::not_found_path)?;
        if let Some(handler) = self.subresource_handler(&target) {
            return self
                .handle_subresource(handler.as_ref(), &target, method, uri, headers, body)
                .await;
        }
        let store = match self.resources.get(&(
            target.group.to_string(),
            target.version.to_string(),
            target.resource.to_string(),
        )) {
            Some(store) => Arc::clone(store),
            None => self
                .dynamic
                .snapshot()
                .get(target.group, target.version, target.resource)
                .cloned()
                .ok_or_else(Status::not_found_path)?,
        };
        let info = store.info();
        // A namespaced resource is addressed through its namespace (or, for
        // lists and watches, across all); a cluster-scoped one never is.
        if !info.namespaced && target.namespace.is_some() {
            return Err(Status::not_found_path());
        }
        if info.namespaced && target.namespace.is_none() && target.name.is_some() {
            return Err(Status::not_found_path());
        }
        let subresource = match target.subresource {
            None => Subresource::Main,
            Some("status") if info.has_status => Subresource::Status,
            Some("scale") if info.has_scale => Subresource::Scale,
            Some(_) => return Err(Status::not_found_path()),
        };
        let namespace = target.namespace;
        let query = Query::parse(uri.query());
        let output = handlers::negotiate_output(headers, &query)?;
        // The deprecated `/watch/` paths serve GET only, as upstream's.
        if target.watch && method != Method::GET {
            return Err(Status::method_not_supported(
                info.group,
                info.plural,
                &method.as_str().to_ascii_lowercase(),
            ));
        }
        let watch = target.watch || handlers::is_watch(&query);
        let reply = match (method.clone(), target.name) {
            (Method::GET, Some(name)) if subresource == Subresource::Scale && !watch => {
                store
                    .get_scale(namespace, name, &handlers::get_options(&query))
                    .await?
            }
            (Method::PUT, Some(name)) if subresource == Subresource::Scale => {
                let opts = handlers::write_options(headers, &query, "UpdateOptions")?;
                store
                    .update_scale(
                        namespace,
                        name,
                        handlers::request_body(headers, body).await?,
                        &opts,
                    )
                    .await?
            }
            (Method::PATCH, Some(name)) if subresource == Subresource::Scale => {
                let opts = handlers::write_options(headers, &query, "PatchOptions")?;
                let patch_type = handlers::patch_type(headers)?;
                store
                    .patch_scale(namespace, name, patch_type, body, &opts)
                    .await?
            }
            (Method::GET, None) if watch => {
                let mut opts = handlers::list_options(&query, true, self.watch_timeout())?;
                opts.output = output;
                return Ok(handlers::watch_response(
                    store.watch(namespace, &opts).await?,
                ));
            }
            (Method::GET, Some(name)) if watch => {
                // `/watch/.../name`: a watch of one object.
                let mut opts = handlers::list_options(&query, true, self.watch_timeout())?;
                opts.output = output;
                opts.field_selector =
                    apimachinery::fields::Selector::parse(&format!("metadata.name={name}"))
                        .map_err(Status::bad_request)?;
                return Ok(handlers::watch_response(
                    store.watch(namespace, &opts).await?,
                ));
            }
            (Method::GET, None) => {
                let mut opts = handlers::list_options(&query, false, Duration::ZERO)?;
                opts.output = output;
                let reply = Arc::clone(&store).list(namespace, &opts).await?;
                return Ok(handlers::output_reply(reply, &output));
            }
            (Method::GET, Some(name)) => {
                let mut opts = handlers::get_options(&query);
                opts.output = output;
                let reply = store.get(namespace, name, &opts).await?;
                return Ok(handlers::output_reply(reply, &output));
            }
            (Method::POST, None) => {
                if info.namespaced && namespace.is_none() {
                    return Err(Status::not_found_path());
                }
                let opts = handlers::write_options(headers, &query, "CreateOptions")?;
                store
                    .create(
                        namespace,
                        handlers::request_body(headers, body).await?,
                        &opts,
                    )
                    .await?
            }
            (Method::PUT, Some(name)) => {
                let opts = handlers::write_options(headers, &query, "UpdateOptions")?;
                store
                    .update(
                        namespace,
                        name,
                        subresource,
                        handlers::request_body(headers, body).await?,
                        &opts,
                    )
                    .await?
            }
            (Method::PATCH, Some(name)) => {
                let opts = handlers::write_options(headers, &query, "PatchOptions")?;
                let patch_type = handlers::patch_type(headers)?;
                store
                    .patch(namespace, name, subresource, patch_type, body, &opts)
                    .await?
            }
            (Method::DELETE, Some(name)) if subresource == Subresource::Main => {
                let opts = handlers::delete_options(&query, &body)?;
                store.delete(namespace, name, &opts).await?
            }
            (Method::DELETE, None) => {
                let list = handlers::list_options(&query, false, Duration::ZERO)?;
                let opts = handlers::delete_options(&query, &body)?;
                store.delete_collection(namespace, &list, &opts).await?
            }
            (method, _) => {
                return Err(Status::method_not_supported(
                    info.group,
                    info.plural,
                    &method.as_str().to_ascii_lowercase(),
                ));
            }
        };
        Ok(handlers::reply(reply))
    }
}

/// Reads the body under the body-limit filter's limit (a JSON `Status` 413
/// past it; axum's own 2 MiB default does not apply) and serves the request.
async fn serve(State(api): State<Arc<Api>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let limit = parts
        .extensions
        .get::<BodyLimit>()
        .map_or(u64::MAX, |limit| limit.0);
    let body = match read_body(body, limit).await {
        Ok(body) => body,
        Err(status) => return status.into_response(),
    };
    let user = Arc::new(
        parts
            .extensions
            .get::<UserInfo>()
            .cloned()
            .unwrap_or_default(),
    );
    if parts.method == Method::GET {
        return match request::with_user(
            user,
            api.handle(&parts.method, &parts.uri, &parts.headers, body),
        )
        .await
        {
            Ok(response) => response,
            Err(status) => status.into_response(),
        };
    }
    // A write runs to its end in a task of its own: a client that goes away
    // (or a request timeout) must not stop it between the storage write and
    // what follows it (allocations committed or released, finalizers), as
    // upstream's handler goroutine also runs on after a timeout.
    let write = tokio::spawn(async move {
        request::with_user(
            user,
            api.handle(&parts.method, &parts.uri, &parts.headers, body),
        )
        .await
    });
    match write.await {
        Ok(Ok(response)) => response,
        Ok(Err(status)) => status.into_response(),
        Err(failed) => {
            tracing::error!(error = %failed, "a write request's task failed");
            Status::internal_error("the request could not be completed").into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::subresource::testing::{Call, EchoToken};
    use crate::registry::subresource::{NamedCreateRest, SubresourceRest};
    use axum::body::to_bytes;

    /// (namespace, resource, name, subresource, watch)
    type Parts<'a> = (
        Option<&'a str>,
        &'a str,
        Option<&'a str>,
        Option<&'a str>,
        bool,
    );

    fn target(path: &str) -> Option<Parts<'_>> {
        parse_target(path).map(|t| (t.namespace, t.resource, t.name, t.subresource, t.watch))
    }

    #[test]
    fn paths_parse_like_upstream() {
        assert_eq!(
            target("/api/v1/pods"),
            Some((None, "pods", None, None, false))
        );
        assert_eq!(
            target("/api/v1/namespaces/default/pods"),
            Some((Some("default"), "pods", None, None, false))
        );
        assert_eq!(
            target("/api/v1/namespaces/default/pods/x/status"),
            Some((Some("default"), "pods", Some("x"), Some("status"), false))
        );
        assert_eq!(
            target("/api/v1/namespaces/default"),
            Some((None, "namespaces", Some("default"), None, false))
        );
        assert_eq!(
            target("/api/v1/namespaces/default/status"),
            Some((None, "namespaces", Some("default"), Some("status"), false))
        );
        assert_eq!(
            target("/api/v1/namespaces/default/finalize"),
            Some((None, "namespaces", Some("default"), Some("finalize"), false))
        );
        assert_eq!(
            target("/apis/apps/v1/namespaces/a/deployments/web/scale"),
            Some((Some("a"), "deployments", Some("web"), Some("scale"), false))
        );
        assert_eq!(
            target("/api/v1/watch/namespaces/a/pods"),
            Some((Some("a"), "pods", None, None, true))
        );
        assert_eq!(target("/api/v1/namespaces/a/pods/x/y/z"), None);
        assert_eq!(target("/apis/apps"), None);
    }

    const TOKEN_PATH: &str = "/api/v1/namespaces/default/serviceaccounts/builder/token";
    const TOKEN_REQUEST: &str = r#"{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{"audiences":["api"]}}"#;

    /// An `Api` serving only `serviceaccounts/token`, and its handler.
    fn token_api() -> (Api, Arc<EchoToken>) {
        let echo = Arc::new(EchoToken::new());
        let rest: Arc<dyn SubresourceRest> = Arc::new(NamedCreateRest(Arc::clone(&echo)));
        (
            Api::new(Vec::new(), vec![rest], Duration::from_secs(1800)),
            echo,
        )
    }

    /// `method` on `uri` as alice: the HTTP code and the JSON body.
    async fn call(api: &Api, method: Method, uri: &str, body: &str) -> (u16, serde_json::Value) {
        let uri: Uri = uri.parse().expect("URI");
        let alice = Arc::new(UserInfo {
            name: "alice".into(),
            ..UserInfo::default()
        });
        let answer = request::with_user(
            alice,
            api.handle(
                &method,
                &uri,
                &HeaderMap::new(),
                Bytes::from(body.to_string()),
            ),
        )
        .await;
        let response = match answer {
            Ok(response) => response,
            Err(status) => status.into_response(),
        };
        let code = response.status().as_u16();
        let bytes = to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        (code, serde_json::from_slice(&bytes).expect("JSON"))
    }

    #[test]
    fn subresource_handlers_are_found_by_parent_and_name() {
        let (api, _) = token_api();
        let found = |path: &str| {
            let target = parse_target(path).expect("a resource path");
            api.subresource_handler(&target)
                .map(|handler| handler.kind().kind)
        };
        assert_eq!(found(TOKEN_PATH), Some("TokenRequest"));
        assert_eq!(
            found("/api/v1/serviceaccounts/builder/token"),
            Some("TokenRequest")
        );
        assert_eq!(
            found("/api/v1/namespaces/default/serviceaccounts/builder"),
            None
        );
        assert_eq!(
            found("/api/v1/namespaces/default/serviceaccounts/builder/status"),
            None
        );
        assert_eq!(
            found("/api/v1/namespaces/default/secrets/builder/token"),
            None
        );
        assert_eq!(
            found("/apis/apps/v1/namespaces/default/serviceaccounts/builder/token"),
            None
        );
    }

    #[tokio::test]
    async fn post_to_a_named_create_subresource_creates() {
        let (api, echo) = token_api();
        let (code, body) = call(&api, Method::POST, TOKEN_PATH, TOKEN_REQUEST).await;
        assert_eq!(code, 201, "{body}");
        assert_eq!(body["kind"], "TokenRequest");
        assert_eq!(body["status"]["token"], "builder");
        let (code, _) = call(
            &api,
            Method::POST,
            &format!("{TOKEN_PATH}?dryRun=All"),
            TOKEN_REQUEST,
        )
        .await;
        assert_eq!(code, 201);
        let calls = echo.calls.lock().expect("calls").clone();
        let call_as = |dry_run| Call {
            namespace: Some("default".into()),
            name: "builder".into(),
            user: "alice".into(),
            dry_run,
        };
        assert_eq!(calls, [call_as(false), call_as(true)]);
    }

    #[tokio::test]
    async fn other_methods_are_405_and_other_paths_404() {
        let (api, echo) = token_api();
        for method in [Method::GET, Method::PUT, Method::PATCH, Method::DELETE] {
            let (code, body) = call(&api, method.clone(), TOKEN_PATH, "").await;
            assert_eq!(code, 405, "{method}");
            // As upstream's router answers a method a path does not serve.
            assert_eq!(
                body,
                serde_json::json!({
                    "kind": "Status",
                    "apiVersion": "v1",
                    "metadata": {},
                    "status": "Failure",
                    "message": "the server does not allow this method on the requested resource",
                    "reason": "MethodNotAllowed",
                    "details": {},
                    "code": 405
                })
            );
        }
        for path in [
            // A namespaced parent is only addressed through its namespace.
            "/api/v1/serviceaccounts/builder/token",
            "/api/v1/watch/namespaces/default/serviceaccounts/builder/token",
            "/api/v1/namespaces/default/serviceaccounts/builder/nope",
        ] {
            let (code, body) = call(&api, Method::POST, path, TOKEN_REQUEST).await;
            assert_eq!(code, 404, "{path}");
            assert_eq!(body["reason"], "NotFound");
        }
        let (code, body) = call(&api, Method::POST, TOKEN_PATH, "{").await;
        assert_eq!(code, 400);
        assert_eq!(body["reason"], "BadRequest");
        assert_eq!(echo.calls.lock().expect("calls").len(), 0);
    }
}
