//! The REST handlers (`endpoints/handlers`): query parameters and bodies
//! into the store's typed options, the store's reply into an HTTP response
//! (JSON, `Warning` headers, chunked watch streams).

use std::convert::Infallible;
use std::num::NonZeroUsize;
use std::time::Duration;

use axum::body::Body as HttpBody;
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use futures_util::{StreamExt, TryStreamExt};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde_json::Value;

use apimachinery::validation::field::{Error as FieldError, Path};
use apimachinery::{fields, labels};

use crate::registry::rest::Output;
use crate::registry::rest::{
    Body, BodyFormat, DeleteOptions, FieldValidation, GetOptions, ListOptions, PatchType,
    PropagationPolicy, Reply, ReplyBody, ResourceVersionMatch, WatchLines, WriteOptions,
};
use crate::registry::table::{IncludeObject, TableOptions, TableVersion};
use crate::status::Status;

pub use crate::query::Query;

/// A boolean option, false when absent ([`Query::flag`]).
fn flag(query: &Query, key: &str) -> bool {
    query.flag(key).unwrap_or(false)
}

/// Whether the request asks for a watch (`?watch=true` or the `/watch/`
/// path prefix, already stripped by the router).
pub fn is_watch(query: &Query) -> bool {
    flag(query, "watch")
}

pub fn get_options(query: &Query) -> GetOptions {
    GetOptions {
        resource_version: query.get("resourceVersion").map(str::to_string),
        output: Output::Object,
    }
}

/// `metav1.ListOptions` from the query, validated as upstream's
/// `ValidateListOptions`. `default_watch_timeout` is used when the client
/// gives no `timeoutSeconds`.
pub fn list_options(
    query: &Query,
    watch: bool,
    default_watch_timeout: Duration,
) -> Result<ListOptions, Status> {
    let label_selector = match query.get("labelSelector") {
        Some(text) => labels::Selector::parse(text).map_err(Status::bad_request)?,
        None => labels::Selector::everything(),
    };
    let field_selector = match query.get("fieldSelector") {
        Some(text) => fields::Selector::parse(text).map_err(Status::bad_request)?,
        None => fields::Selector::everything(),
    };
    let limit = match query.get("limit") {
        Some(text) => {
            let n: i64 = text
                .parse()
                .map_err(|_| Status::bad_request(format!("limit: invalid value {text:?}")))?;
            usize::try_from(n).ok().and_then(NonZeroUsize::new)
        }
        None => None,
    };
    let continue_token = query
        .get("continue")
        .filter(|c| !c.is_empty())
        .map(str::to_string);
    let resource_version = query.get("resourceVersion").map(str::to_string);
    let mut errors = Vec::new();
    let match_path = Path::new("resourceVersionMatch");
    let resource_version_match = match query.get("resourceVersionMatch") {
        None | Some("") => None,
        Some("NotOlderThan") => Some(ResourceVersionMatch::NotOlderThan),
        Some("Exact") => Some(ResourceVersionMatch::Exact),
        Some(other) => {
            errors.push(FieldError::not_supported(
                &match_path,
                other,
                &["Exact", "NotOlderThan"],
            ));
            None
        }
    };
    if resource_version_match.is_some() {
        if watch {
            errors.push(FieldError::forbidden(
                &match_path,
                "resourceVersionMatch is forbidden for watch",
            ));
        }
        if resource_version.as_deref().unwrap_or_default().is_empty() {
            errors.push(FieldError::forbidden(
                &match_path,
                "resourceVersionMatch is forbidden unless resourceVersion is provided",
            ));
        }
        if continue_token.is_some() {
            errors.push(FieldError::forbidden(
                &match_path,
                "resourceVersionMatch is forbidden when continue is provided",
            ));
        }
        if resource_version_match == Some(ResourceVersionMatch::Exact)
            && resource_version.as_deref() == Some("0")
        {
            errors.push(FieldError::forbidden(
                &match_path,
                "resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"",
            ));
        }
    }
    let send_initial_events = query.flag("sendInitialEvents");
    if send_initial_events.is_some() && !watch {
        errors.push(FieldError::forbidden(
            &Path::new("sendInitialEvents"),
            "sendInitialEvents is forbidden for list",
        ));
    }
    if !errors.is_empty() {
        return Err(Status::invalid_options("ListOptions", &errors));
    }
    // As upstream's watch handler: no timeoutSeconds, or 0, means the
    // server's randomised default.
    let timeout = match query.get("timeoutSeconds") {
        Some(text) => {
            let seconds: u64 = text.parse().map_err(|_| {
                Status::bad_request(format!("timeoutSeconds: invalid value {text:?}"))
            })?;
            match seconds {
                0 if watch => Some(default_watch_timeout),
                0 => None,
                seconds => Some(Duration::from_secs(seconds)),
            }
        }
        None if watch => Some(default_watch_timeout),
        None => None,
    };
    Ok(ListOptions {
        label_selector,
        field_selector,
        limit,
        continue_token,
        resource_version,
        resource_version_match,
        allow_watch_bookmarks: flag(query, "allowWatchBookmarks"),
        send_initial_events,
        timeout,
        output: Output::Object,
    })
}

/// `dryRun` is a list upstream (`[]string`, every value of the query): each
/// value must be `All` (an empty one is let through, as before); any `All`
/// makes the write a dry run.
fn dry_run(query: &Query) -> Result<bool, Status> {
    let mut dry_run = false;
    for value in query.get_all("dryRun") {
        match value {
            "" => {}
            "All" => dry_run = true,
            other => {
                return Err(Status::bad_request(format!(
                    "dryRun: Unsupported value: {other:?}: supported values: \"All\""
                )));
            }
        }
    }
    Ok(dry_run)
}

/// Upstream's `prefixFromUserAgent`: the User-Agent up to its first `/`,
/// without unprintable characters, cut to the 128 bytes a manager may have
/// (`kubectl/v1.32.0 (linux/amd64) kubernetes/...` → `kubectl`).
pub fn manager_from_user_agent(user_agent: &str) -> String {
    let prefix = user_agent.split('/').next().unwrap_or_default();
    let mut manager = String::new();
    for c in prefix
        .chars()
        .filter(|&c| apimachinery::validation::go_string::is_print(c))
    {
        if manager.len() + c.len_utf8() > apimachinery::api::FIELD_MANAGER_MAX_LENGTH {
            break;
        }
        manager.push(c);
    }
    manager
}

/// The options of a write (`options_kind`: `CreateOptions`,
/// `UpdateOptions` or `PatchOptions`, named in a 422): `dryRun`,
/// `fieldManager` (validated as upstream's `ValidateFieldManager`; without
/// one, the write is recorded under the User-Agent's prefix),
/// `fieldValidation`, `force`.
pub fn write_options(
    headers: &HeaderMap,
    query: &Query,
    options_kind: &str,
) -> Result<WriteOptions, Status> {
    let field_manager = query.get("fieldManager").map(str::to_string);
    if let Some(manager) = &field_manager {
        let errors = apimachinery::api::validate_field_manager(manager, &Path::new("fieldManager"));
        if !errors.is_empty() {
            return Err(Status::invalid_options(options_kind, &errors));
        }
    }
    let user_agent = headers
        .get(header::USER_AGENT)
        .map(|value| String::from_utf8_lossy(value.as_bytes()))
        .unwrap_or_default();
    let field_validation = match query.get("fieldValidation") {
        None | Some("") | Some("Warn") => FieldValidation::Warn,
        Some("Strict") => FieldValidation::Strict,
        Some("Ignore") => FieldValidation::Ignore,
        Some(other) => {
            return Err(Status::bad_request(format!(
                "fieldValidation: Unsupported value: {other:?}: supported values: \"Ignore\", \"Strict\", \"Warn\""
            )));
        }
    };
    Ok(WriteOptions {
        dry_run: dry_run(query)?,
        field_manager,
        user_agent_manager: manager_from_user_agent(&user_agent),
        field_validation,
        force: query.flag("force"),
    })
}

/// `DeleteOptions` from the body (if any) and the query; query values win
/// as upstream.
pub fn delete_options(query: &Query, body: &[u8]) -> Result<DeleteOptions, Status> {
    let mut opts = DeleteOptions::default();
    if !body.iter().all(u8::is_ascii_whitespace) {
        let value: Value = serde_json::from_slice(body)
            .map_err(|err| Status::bad_request(format!("decoding DeleteOptions: {err}")))?;
        opts.grace_period_seconds = value.get("gracePeriodSeconds").and_then(Value::as_i64);
        if let Some(policy) = value.get("propagationPolicy").and_then(Value::as_str) {
            opts.propagation_policy = Some(propagation_policy(policy)?);
        }
        if value.get("orphanDependents").and_then(Value::as_bool) == Some(true) {
            opts.propagation_policy = Some(PropagationPolicy::Orphan);
        }
        if let Some(pre) = value.get("preconditions") {
            opts.precondition_uid = pre.get("uid").and_then(Value::as_str).map(str::to_string);
            opts.precondition_resource_version = pre
                .get("resourceVersion")
                .and_then(Value::as_str)
                .map(str::to_string);
        }
        if let Some(Value::Array(modes)) = value.get("dryRun") {
            opts.dry_run = modes.iter().any(|m| m == "All");
        }
    }
    if let Some(text) = query.get("gracePeriodSeconds") {
        opts.grace_period_seconds = Some(text.parse().map_err(|_| {
            Status::bad_request(format!("gracePeriodSeconds: invalid value {text:?}"))
        })?);
    }
    if let Some(policy) = query.get("propagationPolicy") {
        opts.propagation_policy = Some(propagation_policy(policy)?);
    }
    opts.dry_run |= dry_run(query)?;
    if opts.grace_period_seconds.is_some_and(|s| s < 0) {
        opts.grace_period_seconds = Some(0);
    }
    Ok(opts)
}

fn propagation_policy(value: &str) -> Result<PropagationPolicy, Status> {
    match value {
        "Orphan" => Ok(PropagationPolicy::Orphan),
        "Background" => Ok(PropagationPolicy::Background),
        "Foreground" => Ok(PropagationPolicy::Foreground),
        other => Err(Status::invalid_options(
            "DeleteOptions",
            &[FieldError::not_supported(
                &Path::new("propagationPolicy"),
                other,
                &["Foreground", "Background", "Orphan", "nil"],
            )],
        )),
    }
}

/// The body of a create or update, by its Content-Type. A Kubernetes
/// protobuf body becomes the equivalent JSON here, so the store reads JSON.
pub async fn request_body(headers: &HeaderMap, bytes: Bytes) -> Result<Body, Status> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    let media = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let format = match media.as_str() {
        "application/json" | "" => BodyFormat::Json,
        "application/yaml" => BodyFormat::Yaml,
        super::protobuf::MEDIA_TYPE => {
            let heavy = crate::cpu_work::reserve(bytes.len() >= crate::cpu_work::HEAVY_BYTES).await;
            let json = heavy.run(|| super::protobuf::body_to_json(&bytes))?;
            return Ok(Body {
                format: BodyFormat::Json,
                bytes: Bytes::from(json),
            });
        }
        _ => return Err(Status::unsupported_media_type(content_type)),
    };
    Ok(Body { format, bytes })
}

/// The patch format of a PATCH request, by its Content-Type (415 for any
/// other, as upstream).
pub fn patch_type(headers: &HeaderMap) -> Result<PatchType, Status> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let media = content_type.split(';').next().unwrap_or_default().trim();
    match media {
        "application/json-patch+json" => Ok(PatchType::Json),
        "application/merge-patch+json" => Ok(PatchType::Merge),
        "application/strategic-merge-patch+json" => Ok(PatchType::StrategicMerge),
        "application/apply-patch+yaml" => Ok(PatchType::Apply),
        _ => Err(Status::failure(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml; got {content_type:?}"
            ),
        )),
    }
}

/// One media range of an `Accept` header: `type/subtype;param=value`.
struct MediaRange<'a> {
    kind: &'a str,
    subtype: &'a str,
    params: Vec<(&'a str, &'a str)>,
    quality: f32,
}

impl<'a> MediaRange<'a> {
    fn parse(item: &'a str) -> Self {
        let mut parts = item.split(';');
        let media = parts.next().unwrap_or_default().trim();
        let (kind, subtype) = media.split_once('/').unwrap_or((media, ""));
        let params: Vec<(&str, &str)> = parts
            .filter_map(|param| param.split_once('='))
            .map(|(key, value)| (key.trim(), value.trim().trim_matches('"')))
            .collect();
        let quality = params
            .iter()
            .find(|(key, _)| *key == "q")
            .and_then(|(_, value)| value.parse().ok())
            .unwrap_or(1.0);
        MediaRange {
            kind: kind.trim(),
            subtype: subtype.trim(),
            params,
            quality,
        }
    }

    fn param(&self, key: &str) -> Option<&'a str> {
        self.params.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }

    /// What this range asks for, if we can write it: JSON (any range
    /// covering `application/json`), as the object or, with
    /// `as=Table;g=meta.k8s.io;v=v1|v1beta1`, as a Table. `None` for a
    /// media type or conversion we do not serve (upstream's
    /// `AllowsMediaTypeTransform`).
    fn acceptable(&self) -> Option<Option<TableVersion>> {
        let json = matches!(self.kind, "application" | "*") && matches!(self.subtype, "json" | "*");
        if !json || self.quality <= 0.0 {
            return None;
        }
        let (Some(kind), group, version) = (self.param("as"), self.param("g"), self.param("v"))
        else {
            return Some(None);
        };
        match (kind, group, version) {
            ("Table", Some("meta.k8s.io"), Some("v1")) => Some(Some(TableVersion::V1)),
            ("Table", Some("meta.k8s.io"), Some("v1beta1")) => Some(Some(TableVersion::V1beta1)),
            _ => None,
        }
    }
}

/// Content negotiation of a request's answer (`negotiation.NegotiateOutputMediaType`
/// and `optionsForTransform`): the most preferred range of `Accept` we can
/// write decides between the object and a Table of it (`includeObject` from
/// the query). 406 when the client accepts nothing we write; 400 for an
/// unsupported `includeObject`.
pub fn negotiate_output(headers: &HeaderMap, query: &Query) -> Result<Output, Status> {
    let Some(accept) = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .filter(|accept| !accept.trim().is_empty())
    else {
        return Ok(Output::Object);
    };
    let mut ranges: Vec<MediaRange<'_>> = accept.split(',').map(MediaRange::parse).collect();
    // Most preferred first: by quality, then specific types before wildcards
    // (goautoneg's order); the header's order otherwise.
    ranges.sort_by(|a, b| {
        b.quality
            .total_cmp(&a.quality)
            .then((a.kind == "*").cmp(&(b.kind == "*")))
            .then((a.subtype == "*").cmp(&(b.subtype == "*")))
    });
    let Some(table) = ranges.iter().find_map(MediaRange::acceptable) else {
        return Err(Status::failure(
            StatusCode::NOT_ACCEPTABLE,
            "NotAcceptable",
            format!(
                "only the following media types are accepted: application/json, got {accept:?}"
            ),
        ));
    };
    let Some(version) = table else {
        return Ok(Output::Object);
    };
    let value = query.get("includeObject");
    let include_object = IncludeObject::parse(value).ok_or_else(|| {
        let error = FieldError::not_supported(
            &Path::new("includeObject"),
            value.unwrap_or_default(),
            &IncludeObject::VALUES,
        );
        Status::bad_request(format!("Unable to convert to Table as requested: {error}"))
    })?;
    Ok(Output::Table(TableOptions {
        version,
        include_object,
    }))
}

/// The HTTP response of a read's reply, typed as what was negotiated
/// (`application/json;as=Table;v=v1;g=meta.k8s.io` for a Table).
pub fn output_reply(store_reply: Reply, output: &Output) -> Response {
    let mut response = reply(store_reply);
    if let Output::Table(table) = output
        && let Ok(value) = HeaderValue::from_str(&table.content_type())
    {
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    response
}

/// The HTTP response of a store reply.
pub fn reply(reply: Reply) -> Response {
    let mut response = match reply.body {
        ReplyBody::Whole(bytes) => (reply.code, bytes).into_response(),
        ReplyBody::Chunks(chunks) => {
            // A failed chunk aborts the response: the client's read fails
            // instead of ending at a short, well-formed-looking list.
            let chunks = chunks.map_err(|status| {
                tracing::warn!(message = %status.message, "a list answer failed after it started");
                std::io::Error::other(status.message)
            });
            (reply.code, HttpBody::from_stream(chunks)).into_response()
        }
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    for warning in bounded_warnings(reply.warnings) {
        let text = format!("299 - {}", quote_warning(&warning));
        if let Ok(value) = HeaderValue::from_str(&text) {
            headers.append(header::WARNING, value);
        }
    }
    response
}

/// Warnings past this many characters in all make the rest truncated.
const WARNINGS_TOTAL_CHARS: usize = 4 * 1024;
/// Once truncating, each warning keeps at most this many characters.
const WARNING_TRUNCATED_CHARS: usize = 256;

/// The warnings as upstream's warning recorder sends them: each once, in
/// order, and within 4 KiB in all; past that, every warning is cut to 256
/// characters and the ones that still do not fit are dropped. A body with a
/// hundred thousand unknown fields gets a few kilobytes of headers.
fn bounded_warnings(warnings: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    let unique: Vec<String> = warnings
        .into_iter()
        .filter(|warning| seen.insert(warning.clone()))
        .collect();
    let total: usize = unique.iter().map(|w| w.chars().count()).sum();
    if total <= WARNINGS_TOTAL_CHARS {
        return unique;
    }
    let mut written = 0;
    let mut kept = Vec::new();
    for warning in unique {
        if written >= WARNINGS_TOTAL_CHARS {
            break;
        }
        let cut: String = warning.chars().take(WARNING_TRUNCATED_CHARS).collect();
        written += cut.chars().count();
        kept.push(cut);
    }
    kept
}

/// A warning text as a quoted string (RFC 7234 warn-text).
fn quote_warning(text: &str) -> String {
    let escaped: String = text
        .chars()
        .filter(|c| !c.is_control())
        .flat_map(|c| match c {
            '"' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect();
    format!("\"{escaped}\"")
}

/// A watch as a chunked stream: one JSON event per line, flushed per event.
pub fn watch_response(lines: WatchLines) -> Response {
    let body = lines.map(|line| {
        let mut chunk = BytesMut::with_capacity(line.len() + 1);
        chunk.extend_from_slice(&line);
        chunk.extend_from_slice(b"\n");
        Ok::<Bytes, Infallible>(chunk.freeze())
    });
    let mut response = Response::new(HttpBody::from_stream(body));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_chunked_reply_is_streamed_and_a_failed_chunk_aborts_it() {
        use http_body_util::BodyExt;
        let chunks = futures_util::stream::iter([
            Ok(Bytes::from_static(br#"{"items":["#)),
            Ok(Bytes::from_static(b"1,2]}")),
        ]);
        let response = reply(Reply::ok(ReplyBody::Chunks(chunks.boxed())));
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
        assert!(response.headers().get(header::CONTENT_LENGTH).is_none());
        let body = response.into_body().collect().await.expect("a body");
        assert_eq!(body.to_bytes(), Bytes::from_static(br#"{"items":[1,2]}"#));

        let failing = futures_util::stream::iter([
            Ok(Bytes::from_static(br#"{"items":["#)),
            Err(Status::internal_error("the store went away")),
        ]);
        let response = reply(Reply::ok(ReplyBody::Chunks(failing.boxed())));
        assert!(
            response.into_body().collect().await.is_err(),
            "a failed chunk must fail the client's read"
        );
    }

    #[test]
    fn the_user_agent_names_a_manager_when_the_request_does_not() {
        assert_eq!(
            manager_from_user_agent("kubectl/v1.32.0 (linux/amd64) kubernetes/70d3cc9"),
            "kubectl"
        );
        assert_eq!(manager_from_user_agent("curl/8.5.0"), "curl");
        assert_eq!(manager_from_user_agent("no slash"), "no slash");
        assert_eq!(manager_from_user_agent("tab\there/1"), "tabhere");
        assert_eq!(manager_from_user_agent(""), "");
        let long = "é".repeat(100);
        assert_eq!(manager_from_user_agent(&long), "é".repeat(64));

        let mut headers = HeaderMap::new();
        headers.insert(header::USER_AGENT, HeaderValue::from_static("curl/8.5.0"));
        let opts = write_options(&headers, &Query::parse(None), "CreateOptions").expect("valid");
        assert_eq!(opts.field_manager, None);
        assert_eq!(opts.user_agent_manager, "curl");
        let opts = write_options(
            &headers,
            &Query::parse(Some("fieldManager=kubectl-edit")),
            "UpdateOptions",
        )
        .expect("valid");
        assert_eq!(opts.field_manager.as_deref(), Some("kubectl-edit"));
        let refused = write_options(
            &headers,
            &Query::parse(Some(&format!("fieldManager={}", "x".repeat(129)))),
            "UpdateOptions",
        )
        .expect_err("too long");
        assert_eq!(refused.code, 422);
        assert_eq!(
            refused.message,
            "UpdateOptions.meta.k8s.io \"\" is invalid: fieldManager: Too long: may not be more than 128 bytes"
        );
    }

    #[test]
    fn query_is_percent_decoded() {
        let query = Query::parse(Some(
            "labelSelector=app%3Dweb%2Ctier+in+(a)&watch=1&limit=5",
        ));
        assert_eq!(query.get("labelSelector"), Some("app=web,tier in (a)"));
        assert!(is_watch(&query));
        assert_eq!(query.get("limit"), Some("5"));
        // As upstream's `req.URL.Query()`: a pair Go cannot unescape is
        // dropped (it was kept raw, "%zz", before).
        assert_eq!(Query::parse(Some("a=%zz")).get("a"), None);
    }

    #[test]
    fn options_read_the_query_as_upstreams_url_values() {
        let headers = HeaderMap::new();
        let write =
            |query: &str| write_options(&headers, &Query::parse(Some(query)), "CreateOptions");
        // `dryRun` is a list: every value counts (only the first did).
        assert!(write("dryRun=&dryRun=All").expect("valid").dry_run);
        assert!(write("dryRun=All&dryRun=All").expect("valid").dry_run);
        assert_eq!(write("dryRun=All&dryRun=Sometimes").unwrap_err().code, 400);
        let delete = delete_options(&Query::parse(Some("dryRun=&dryRun=All")), b"").expect("valid");
        assert!(delete.dry_run);
        // Scalars take the first value.
        let opts = write("fieldManager=a&fieldManager=b&force=true&force=maybe").expect("valid");
        assert_eq!(
            (opts.field_manager.as_deref(), opts.force),
            (Some("a"), Some(true))
        );
        // A badly escaped pair is dropped, not a 400, and the next value is
        // the first (the hand-written parser answered 400 for "%zz"; it also
        // read "%+1" as the byte 1 through `from_str_radix`).
        let list = list_options(
            &Query::parse(Some("limit=%zz&limit=2")),
            false,
            Duration::ZERO,
        )
        .expect("valid");
        assert_eq!(list.limit.map(NonZeroUsize::get), Some(2));
        assert_eq!(
            Query::parse(Some("fieldManager=%+1")).get("fieldManager"),
            None
        );
        // `;` is no separator: `limit=1;watch=1` is dropped whole.
        let list = list_options(
            &Query::parse(Some("limit=1;watch=1")),
            false,
            Duration::ZERO,
        )
        .expect("valid");
        assert_eq!(list.limit, None);
    }

    #[test]
    fn list_options_are_validated_like_upstream() {
        let opts = list_options(
            &Query::parse(Some("limit=2&resourceVersion=5&resourceVersionMatch=Exact")),
            false,
            Duration::ZERO,
        )
        .unwrap();
        assert_eq!(opts.limit.map(NonZeroUsize::get), Some(2));
        assert_eq!(
            opts.resource_version_match,
            Some(ResourceVersionMatch::Exact)
        );
        let err = list_options(
            &Query::parse(Some("resourceVersionMatch=Exact")),
            false,
            Duration::ZERO,
        )
        .unwrap_err();
        assert_eq!(err.code, 422);
        assert!(
            err.message
                .contains("resourceVersionMatch is forbidden unless resourceVersion is provided"),
            "{}",
            err.message
        );
        let err = list_options(
            &Query::parse(Some("resourceVersionMatch=Sometimes&resourceVersion=1")),
            false,
            Duration::ZERO,
        )
        .unwrap_err();
        assert!(
            err.message.contains("Unsupported value: \"Sometimes\""),
            "{}",
            err.message
        );
        let watch =
            list_options(&Query::parse(Some("watch=1")), true, Duration::from_secs(7)).unwrap();
        assert_eq!(watch.timeout, Some(Duration::from_secs(7)));
    }

    #[test]
    fn delete_options_merge_body_and_query() {
        let opts = delete_options(
            &Query::parse(Some("gracePeriodSeconds=0")),
            br#"{"kind":"DeleteOptions","propagationPolicy":"Background","preconditions":{"uid":"u1"},"gracePeriodSeconds":30}"#,
        )
        .unwrap();
        assert_eq!(opts.grace_period_seconds, Some(0));
        assert_eq!(opts.propagation_policy, Some(PropagationPolicy::Background));
        assert_eq!(opts.precondition_uid.as_deref(), Some("u1"));
        assert!(delete_options(&Query::default(), br#"{"propagationPolicy":"Sideways"}"#).is_err());
        assert!(delete_options(&Query::default(), b"{not json").is_err());
    }

    #[tokio::test]
    async fn bodies_by_content_type() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        assert_eq!(
            request_body(&headers, Bytes::new()).await.unwrap().format,
            BodyFormat::Json
        );
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        assert_eq!(
            request_body(&headers, Bytes::new()).await.unwrap_err().code,
            415
        );
    }

    fn accept(value: &'static str, query: Option<&str>) -> Result<Output, Status> {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_static(value));
        negotiate_output(&headers, &Query::parse(query))
    }

    #[test]
    fn accept_negotiates_tables_like_upstream() {
        let kubectl = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
        assert_eq!(
            accept(kubectl, None).unwrap(),
            Output::Table(TableOptions {
                version: TableVersion::V1,
                include_object: IncludeObject::Metadata
            })
        );
        assert_eq!(
            accept(
                "application/json;as=Table;v=v1beta1;g=meta.k8s.io",
                Some("includeObject=Object")
            )
            .unwrap(),
            Output::Table(TableOptions {
                version: TableVersion::V1beta1,
                include_object: IncludeObject::Object
            })
        );
        // An unknown Table version is skipped for the next range, or 406.
        assert_eq!(
            accept(
                "application/json;as=Table;v=v2;g=meta.k8s.io,application/json",
                None
            )
            .unwrap(),
            Output::Object
        );
        let err = accept("application/json;as=Table;v=v2;g=meta.k8s.io", None).unwrap_err();
        assert_eq!((err.code, err.reason), (406, "NotAcceptable"));
        // Preference by quality.
        assert_eq!(
            accept(
                "application/json;as=Table;v=v1;g=meta.k8s.io;q=0.5,application/json",
                None
            )
            .unwrap(),
            Output::Object
        );
        assert_eq!(
            accept("application/vnd.kubernetes.protobuf,*/*", None).unwrap(),
            Output::Object
        );
        assert_eq!(accept("text/html", None).unwrap_err().code, 406);
        let err = accept(kubectl, Some("includeObject=All")).unwrap_err();
        assert_eq!(err.code, 400);
        assert_eq!(
            err.message,
            "Unable to convert to Table as requested: includeObject: Unsupported value: \"All\": supported values: \"\", \"Metadata\", \"None\", \"Object\""
        );
        assert_eq!(
            negotiate_output(&HeaderMap::new(), &Query::default()).unwrap(),
            Output::Object
        );
    }

    #[test]
    fn warnings_are_bounded_like_upstreams_recorder() {
        let few = vec!["a".to_owned(), "b".to_owned(), "a".to_owned()];
        assert_eq!(bounded_warnings(few), ["a", "b"]);
        let many: Vec<String> = (0..100_000)
            .map(|i| format!("duplicate field \"data.k{i}\""))
            .collect();
        let kept = bounded_warnings(many);
        let total: usize = kept.iter().map(String::len).sum();
        assert!(
            total <= WARNINGS_TOTAL_CHARS + WARNING_TRUNCATED_CHARS,
            "{total}"
        );
        assert_eq!(kept[0], "duplicate field \"data.k0\"");
        let long = vec!["x".repeat(10_000)];
        assert_eq!(bounded_warnings(long)[0].len(), WARNING_TRUNCATED_CHARS);
    }

    #[test]
    fn warnings_are_quoted() {
        let response = reply(Reply {
            code: StatusCode::CREATED,
            body: Bytes::from_static(b"{}").into(),
            warnings: vec!["unknown field \"spec.foo\"".into()],
        });
        assert_eq!(
            response.headers()[header::WARNING],
            "299 - \"unknown field \\\"spec.foo\\\"\""
        );
    }
}
