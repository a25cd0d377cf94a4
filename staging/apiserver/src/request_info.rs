//! `RequestInfo`: what a request addresses (verb, API group/version, namespace,
//! resource, subresource, name), derived from the URL and method exactly as
//! `k8s.io/apiserver/pkg/endpoints/request.RequestInfoFactory` does. The
//! filters read it from the request extensions.

use http::Method;

use crate::query::Query;

/// The parsed target of one request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestInfo {
    pub is_resource_request: bool,
    pub path: String,
    /// Lower-case Kubernetes verb: get, list, watch, create, update, patch,
    /// delete, deletecollection, proxy; for non-resource requests the method.
    pub verb: String,
    pub api_prefix: String,
    pub api_group: String,
    pub api_version: String,
    pub namespace: String,
    pub resource: String,
    pub subresource: String,
    pub name: String,
}

const API_PREFIXES: [&str; 2] = ["api", "apis"];
const GROUPLESS_API_PREFIXES: [&str; 1] = ["api"];
const NAMESPACE_SUBRESOURCES: [&str; 2] = ["status", "finalize"];
const LONG_RUNNING_SUBRESOURCES: [&str; 5] = ["attach", "exec", "proxy", "log", "portforward"];

impl RequestInfo {
    /// Parses `path` (without query) and `query` for `method`.
    pub fn new(method: &Method, path: &str, query: Option<&str>) -> Self {
        let mut info = RequestInfo {
            path: path.to_string(),
            verb: method.as_str().to_ascii_lowercase(),
            ..RequestInfo::default()
        };
        let parts: Vec<&str> = path
            .trim_matches('/')
            .split('/')
            .filter(|p| !p.is_empty())
            .collect();
        if parts.len() < 3 || !API_PREFIXES.contains(&parts[0]) {
            return info;
        }
        info.api_prefix = parts[0].to_string();
        let mut current = &parts[1..];
        if !GROUPLESS_API_PREFIXES.contains(&parts[0]) {
            if current.len() < 3 {
                return info;
            }
            info.api_group = current[0].to_string();
            current = &current[1..];
        }
        info.is_resource_request = true;
        info.api_version = current[0].to_string();
        current = &current[1..];

        if matches!(current.first(), Some(&"watch") | Some(&"proxy")) {
            if current.len() < 2 {
                // Upstream returns an error here; treat as a non-resource request.
                info.is_resource_request = false;
                return info;
            }
            info.verb = current[0].to_string();
            current = &current[1..];
        } else {
            info.verb = match *method {
                Method::POST => "create",
                Method::GET | Method::HEAD => "get",
                Method::PUT => "update",
                Method::PATCH => "patch",
                Method::DELETE => "delete",
                _ => "",
            }
            .to_string();
        }

        if current.first() == Some(&"namespaces") && current.len() > 1 {
            info.namespace = current[1].to_string();
            if current.len() > 2 && !NAMESPACE_SUBRESOURCES.contains(&current[2]) {
                current = &current[2..];
            }
        }

        if current.len() >= 3 && info.verb != "proxy" {
            info.subresource = current[2].to_string();
        }
        if current.len() >= 2 {
            info.name = current[1].to_string();
        }
        if let Some(resource) = current.first() {
            info.resource = resource.to_string();
        }

        if info.name.is_empty() && info.verb == "get" {
            let query = Query::parse(query);
            let watch = query.flag("watch").unwrap_or(false);
            info.verb = if watch { "watch" } else { "list" }.to_string();
            if let Some(selector) = query.get("fieldSelector")
                && let Some(name) = selector.strip_prefix("metadata.name=")
                && !name.contains(',')
                && !name.is_empty()
            {
                info.name = name.to_string();
            }
        }
        if info.name.is_empty() && info.verb == "delete" {
            info.verb = "deletecollection".to_string();
        }
        info
    }

    /// Long-running requests (watch, proxy, exec, logs, ...) are exempt from
    /// the max-in-flight limit and the request timeout.
    pub fn is_long_running(&self) -> bool {
        self.is_resource_request
            && (self.verb == "watch"
                || self.verb == "proxy"
                || LONG_RUNNING_SUBRESOURCES.contains(&self.subresource.as_str()))
    }

    /// get, list and watch do not mutate; everything else does.
    pub fn is_read_only(&self) -> bool {
        matches!(
            self.verb.as_str(),
            "get" | "list" | "watch" | "head" | "options"
        )
    }

    /// The verb as `apiserver_request_total` labels it (GET, LIST, WATCH, ...).
    pub fn metrics_verb(&self) -> String {
        self.verb.to_ascii_uppercase()
    }

    /// The metric `scope` label: resource, namespace or cluster.
    pub fn scope(&self) -> &'static str {
        if !self.is_resource_request {
            ""
        } else if !self.name.is_empty() {
            "resource"
        } else if !self.namespace.is_empty() {
            "namespace"
        } else {
            "cluster"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(method: Method, uri: &str) -> RequestInfo {
        let (path, query) = match uri.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (uri, None),
        };
        RequestInfo::new(&method, path, query)
    }

    #[test]
    fn parses_like_request_info_factory() {
        // (method, url, verb, group, version, namespace, resource, subresource, name)
        let cases = [
            (
                Method::GET,
                "/api/v1/namespaces",
                "list",
                "",
                "v1",
                "",
                "namespaces",
                "",
                "",
            ),
            (
                Method::GET,
                "/api/v1/namespaces/other",
                "get",
                "",
                "v1",
                "other",
                "namespaces",
                "",
                "other",
            ),
            (
                Method::GET,
                "/api/v1/namespaces/other/pods",
                "list",
                "",
                "v1",
                "other",
                "pods",
                "",
                "",
            ),
            (
                Method::GET,
                "/api/v1/namespaces/other/pods/foo",
                "get",
                "",
                "v1",
                "other",
                "pods",
                "",
                "foo",
            ),
            (
                Method::GET,
                "/api/v1/namespaces/other/pods/foo/status",
                "get",
                "",
                "v1",
                "other",
                "pods",
                "status",
                "foo",
            ),
            (
                Method::GET,
                "/api/v1/pods",
                "list",
                "",
                "v1",
                "",
                "pods",
                "",
                "",
            ),
            (
                Method::GET,
                "/api/v1/namespaces/other/pods?watch=true",
                "watch",
                "",
                "v1",
                "other",
                "pods",
                "",
                "",
            ),
            (
                Method::GET,
                "/api/v1/watch/namespaces/other/pods",
                "watch",
                "",
                "v1",
                "other",
                "pods",
                "",
                "",
            ),
            (
                Method::POST,
                "/apis/apps/v1/namespaces/other/deployments",
                "create",
                "apps",
                "v1",
                "other",
                "deployments",
                "",
                "",
            ),
            (
                Method::PUT,
                "/apis/apps/v1/namespaces/other/deployments/d",
                "update",
                "apps",
                "v1",
                "other",
                "deployments",
                "",
                "d",
            ),
            (
                Method::PATCH,
                "/apis/apps/v1/namespaces/other/deployments/d/scale",
                "patch",
                "apps",
                "v1",
                "other",
                "deployments",
                "scale",
                "d",
            ),
            (
                Method::DELETE,
                "/api/v1/namespaces/other/pods",
                "deletecollection",
                "",
                "v1",
                "other",
                "pods",
                "",
                "",
            ),
            (
                Method::DELETE,
                "/api/v1/namespaces/other/pods/foo",
                "delete",
                "",
                "v1",
                "other",
                "pods",
                "",
                "foo",
            ),
            (
                Method::PUT,
                "/api/v1/namespaces/other/finalize",
                "update",
                "",
                "v1",
                "other",
                "namespaces",
                "finalize",
                "other",
            ),
            (
                Method::GET,
                "/api/v1/namespaces/other/pods?fieldSelector=metadata.name%3Dfoo",
                "list",
                "",
                "v1",
                "other",
                "pods",
                "",
                "foo",
            ),
        ];
        for (method, url, verb, group, version, namespace, resource, subresource, name) in cases {
            let got = info(method, url);
            assert!(got.is_resource_request, "{url}");
            assert_eq!(
                (
                    got.verb.as_str(),
                    got.api_group.as_str(),
                    got.api_version.as_str(),
                    got.namespace.as_str(),
                    got.resource.as_str(),
                    got.subresource.as_str(),
                    got.name.as_str()
                ),
                (verb, group, version, namespace, resource, subresource, name),
                "{url}"
            );
        }
    }

    #[test]
    fn non_resource_requests_keep_the_method() {
        for url in [
            "/healthz",
            "/version",
            "/api",
            "/api/v1",
            "/apis/apps",
            "/apis/apps/v1",
            "/metrics",
        ] {
            let got = info(Method::GET, url);
            assert!(!got.is_resource_request, "{url}");
            assert_eq!(got.verb, "get");
        }
        assert_eq!(info(Method::POST, "/foo").verb, "post");
    }

    #[test]
    fn the_query_is_read_as_upstreams_url_values() {
        // A pair Go cannot unescape is dropped, so the next `watch` counts
        // (the hand-written parser read "%zz" as the first value: a list).
        assert_eq!(
            info(Method::GET, "/api/v1/pods?watch=%zz&watch=1").verb,
            "watch"
        );
        // Keys decode too, and the first of repeated values wins.
        let got = info(
            Method::GET,
            "/api/v1/namespaces/a/pods?field%53elector=metadata.name%3Dweb&fieldSelector=metadata.name%3Dother",
        );
        assert_eq!((got.verb.as_str(), got.name.as_str()), ("list", "web"));
        // `;` separates nothing: the pair holding it is dropped.
        assert_eq!(info(Method::GET, "/api/v1/pods?watch=1;x=1").verb, "list");
    }

    #[test]
    fn long_running_and_read_only() {
        assert!(info(Method::GET, "/api/v1/pods?watch=1").is_long_running());
        assert!(info(Method::GET, "/api/v1/namespaces/a/pods/p/log").is_long_running());
        assert!(!info(Method::GET, "/api/v1/pods").is_long_running());
        assert!(info(Method::GET, "/api/v1/pods").is_read_only());
        assert!(!info(Method::POST, "/api/v1/namespaces/a/pods").is_read_only());
    }
}
