//! Subresources served by a handler of their own rather than by the parent's
//! store, and only created (upstream's `rest.NamedCreater`): `POST
//! .../serviceaccounts/{name}/token` takes and answers an
//! `authentication.k8s.io/v1` `TokenRequest`; `POST .../pods/{name}/binding`
//! takes a `Binding` and answers a `Status`. A [`NamedCreate`] is the
//! typed handler, [`NamedCreateRest`] serves it as the object-safe
//! [`SubresourceRest`] the routes hold, and [`SubresourceKind`] is what
//! discovery and OpenAPI say about it. The `status` and `scale`
//! subresources are not these: the parent's store serves them.

use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use http::StatusCode;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::ResourceInfo;
use super::decode::decode_body;
use super::rest::{Body, BodyFormat, Reply, WriteOptions};
use crate::authentication::UserInfo;
use crate::endpoints::request;
use crate::status::Status;

/// A subresource served by its own handler, and the kind it takes and
/// answers (`serviceaccounts/token`: `authentication.k8s.io/v1`
/// `TokenRequest`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubresourceKind {
    /// The path segment after the parent's name: `token`.
    pub name: &'static str,
    /// API group of the kind; empty for the legacy core group.
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
}

impl SubresourceKind {
    /// Subresource `name` taking and answering k8s-openapi kind `T`.
    pub fn of<T: k8s_openapi::Resource>(name: &'static str) -> Self {
        SubresourceKind {
            name,
            group: T::GROUP,
            version: T::VERSION,
            kind: T::KIND,
        }
    }
}

/// What a create-only handler answers: the object, and the warnings for
/// the client (`Warning` headers) beside those of decoding the body, as
/// upstream's handlers add them to the request (`warning.AddWarning`: "requested
/// expiration of ... shortened to ...").
#[derive(Debug, Clone, PartialEq)]
pub struct Created<T> {
    pub object: T,
    pub warnings: Vec<String>,
}

impl<T> From<T> for Created<T> {
    /// `object` without warnings.
    fn from(object: T) -> Self {
        Created {
            object,
            warnings: Vec::new(),
        }
    }
}

/// A subresource that is only created, with the name of the parent object
/// it is created for (upstream's `rest.NamedCreater`).
#[async_trait::async_trait]
pub trait NamedCreate: Send + Sync + 'static {
    type Object: k8s_openapi::Resource
        + k8s_openapi::schemars::JsonSchema
        + Serialize
        + DeserializeOwned
        + Send
        + Sync;

    /// What it answers: the object itself (`TokenRequest`), or another
    /// kind (`pods/binding` answers a success `Status`).
    type Answer: Serialize + Send;

    /// The parent resource (`serviceaccounts`).
    fn parent(&self) -> &ResourceInfo;

    /// The path segment after the parent's name (`token`).
    fn subresource(&self) -> &'static str;

    /// The subresource with the kind it takes and answers.
    fn kind(&self) -> SubresourceKind {
        SubresourceKind::of::<Self::Object>(self.subresource())
    }

    /// Answers the posted `object` for the parent object `name` (in
    /// `namespace` for a namespaced parent), as `user`; with `dry_run`,
    /// without any lasting effect.
    async fn create(
        &self,
        namespace: Option<&str>,
        name: &str,
        user: &UserInfo,
        object: Self::Object,
        dry_run: bool,
    ) -> Result<Created<Self::Answer>, Status>;
}

/// A subresource handler as the routes hold it, whatever its Rust type.
#[async_trait::async_trait]
pub trait SubresourceRest: Send + Sync {
    /// The parent resource.
    fn parent(&self) -> &ResourceInfo;

    /// The subresource with the kind it takes and answers.
    fn kind(&self) -> SubresourceKind;

    /// `POST <parent>/{name}/<subresource>` with `body`.
    async fn create(
        &self,
        namespace: Option<&str>,
        name: &str,
        body: Body,
        opts: &WriteOptions,
    ) -> Result<Reply, Status>;
}

/// A [`NamedCreate`] served as a [`SubresourceRest`].
pub struct NamedCreateRest<R>(pub Arc<R>);

#[async_trait::async_trait]
impl<R: NamedCreate> SubresourceRest for NamedCreateRest<R> {
    fn parent(&self) -> &ResourceInfo {
        self.0.parent()
    }

    fn kind(&self) -> SubresourceKind {
        self.0.kind()
    }

    async fn create(
        &self,
        namespace: Option<&str>,
        name: &str,
        body: Body,
        opts: &WriteOptions,
    ) -> Result<Reply, Status> {
        let kind = self.0.kind().kind;
        answer_created(&body, opts, kind, |object: R::Object, user| async move {
            self.0
                .create(namespace, name, &user, object, opts.dry_run)
                .await
        })
        .await
    }
}

/// Records `handlers` in their parents' [`ResourceInfo::create_subresources`]
/// (matched by group, version and plural), each once and ordered by name,
/// for discovery and metrics to list.
pub fn attach_create_subresources(
    infos: &mut [ResourceInfo],
    handlers: &[Arc<dyn SubresourceRest>],
) {
    for handler in handlers {
        let parent = handler.parent();
        let kind = handler.kind();
        let Some(info) = infos.iter_mut().find(|info| {
            (info.group, info.version, info.plural) == (parent.group, parent.version, parent.plural)
        }) else {
            continue;
        };
        if !info.create_subresources.contains(&kind) {
            info.create_subresources.push(kind);
            info.create_subresources.sort_by_key(|sub| sub.name);
        }
    }
}

/// What every typed create-only handler does with a request (a review, a
/// named-create subresource): decodes `body` as `T` (a `kind`, with field
/// problems as warnings when `opts` asks for them), hands it to `create`
/// with the request's user, and answers 201 Created with the result as JSON
/// and the decoding's warnings, then the handler's.
pub(super) async fn answer_created<T, A, F, Fut>(
    body: &Body,
    opts: &WriteOptions,
    kind: &str,
    create: F,
) -> Result<Reply, Status>
where
    T: DeserializeOwned,
    A: Serialize,
    F: FnOnce(T, Arc<UserInfo>) -> Fut,
    Fut: Future<Output = Result<Created<A>, Status>>,
{
    let body = without_status(body, kind)?;
    let (object, mut warnings) = decode_body::<T>(&body, opts.field_validation, kind)?;
    let user = request::user().unwrap_or_default();
    let answer = create(object, user).await?;
    warnings.extend(answer.warnings);
    let body = serde_json::to_vec(&answer.object)
        .map_err(|err| Status::internal_error(format!("encoding: {err}")))?;
    Ok(Reply {
        code: StatusCode::CREATED,
        body: Bytes::from(body).into(),
        warnings,
    })
}

/// The body without its `status`: the server fills a review's or a token
/// request's status and ignores what the client sent, which may not even
/// decode (client-go sends a `TokenRequest` with
/// `"expirationTimestamp": null`).
fn without_status(body: &Body, kind: &str) -> Result<Body, Status> {
    // Most bodies have none: they are not parsed twice.
    if !body.bytes.windows(b"status".len()).any(|w| w == b"status") {
        return Ok(body.clone());
    }
    let parsed: Result<serde_json::Value, String> = match body.format {
        BodyFormat::Json => serde_json::from_slice(&body.bytes).map_err(|e| e.to_string()),
        BodyFormat::Yaml => serde_yaml_ng::from_slice(&body.bytes).map_err(|e| e.to_string()),
    };
    let mut value = match parsed {
        Ok(value) => value,
        // The typed decode reports the syntax error with its position.
        Err(_) => return Ok(body.clone()),
    };
    let Some(object) = value.as_object_mut() else {
        return Ok(body.clone());
    };
    if object.remove("status").is_none() && body.format == BodyFormat::Json {
        return Ok(body.clone());
    }
    let bytes = serde_json::to_vec(&value)
        .map_err(|err| Status::internal_error(format!("re-encoding the {kind}: {err}")))?;
    Ok(Body {
        format: BodyFormat::Json,
        bytes: Bytes::from(bytes),
    })
}

/// A toy `serviceaccounts/token` for the tests of the routes, discovery and
/// OpenAPI as well as this module's.
#[cfg(test)]
pub(crate) mod testing {
    use std::sync::Mutex;

    use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestStatus};
    use k8s_openapi::api::core::v1::ServiceAccount;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use k8s_openapi::chrono::DateTime;

    use super::*;

    /// What one `create` was called with.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub(crate) struct Call {
        pub namespace: Option<String>,
        pub name: String,
        pub user: String,
        pub dry_run: bool,
    }

    /// `serviceaccounts/token` answering with the service account's name
    /// as the token (and a warning under dry run), and remembering what it
    /// was called with.
    pub(crate) struct EchoToken {
        pub parent: ResourceInfo,
        pub calls: Mutex<Vec<Call>>,
    }

    /// The `serviceaccounts` resource, names and scope from the type.
    pub(crate) fn service_accounts() -> ResourceInfo {
        ResourceInfo {
            create_only: false,
            ..ResourceInfo::review::<ServiceAccount>()
        }
    }

    impl EchoToken {
        pub(crate) fn new() -> Self {
            EchoToken {
                parent: service_accounts(),
                calls: Mutex::new(Vec::new()),
            }
        }

        pub(crate) fn rest() -> Arc<dyn SubresourceRest> {
            Arc::new(NamedCreateRest(Arc::new(EchoToken::new())))
        }
    }

    #[async_trait::async_trait]
    impl NamedCreate for EchoToken {
        type Object = TokenRequest;
        type Answer = TokenRequest;

        fn parent(&self) -> &ResourceInfo {
            &self.parent
        }

        fn subresource(&self) -> &'static str {
            "token"
        }

        async fn create(
            &self,
            namespace: Option<&str>,
            name: &str,
            user: &UserInfo,
            mut object: TokenRequest,
            dry_run: bool,
        ) -> Result<Created<TokenRequest>, Status> {
            if let Ok(mut calls) = self.calls.lock() {
                calls.push(Call {
                    namespace: namespace.map(str::to_string),
                    name: name.to_string(),
                    user: user.name.clone(),
                    dry_run,
                });
            }
            object.status = Some(TokenRequestStatus {
                token: name.to_string(),
                expiration_timestamp: Time(DateTime::UNIX_EPOCH),
            });
            Ok(Created {
                object,
                warnings: dry_run
                    .then(|| "dry run: nothing issued".to_string())
                    .into_iter()
                    .collect(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{Call, EchoToken};
    use super::*;
    use crate::registry::rest::{BodyFormat, FieldValidation};

    fn token_request(extra: &str) -> Body {
        Body {
            format: BodyFormat::Json,
            bytes: Bytes::from(format!(
                r#"{{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{{"audiences":["api"]}}{extra}}}"#
            )),
        }
    }

    fn alice() -> Arc<UserInfo> {
        Arc::new(UserInfo {
            name: "alice".into(),
            ..UserInfo::default()
        })
    }

    #[test]
    fn kind_comes_from_the_object_type() {
        let echo = EchoToken::new();
        assert_eq!(
            echo.kind(),
            SubresourceKind {
                name: "token",
                group: "authentication.k8s.io",
                version: "v1",
                kind: "TokenRequest",
            }
        );
        let rest = NamedCreateRest(Arc::new(echo));
        assert_eq!(rest.kind().name, "token");
        assert_eq!(rest.parent().plural, "serviceaccounts");
    }

    #[tokio::test]
    async fn create_answers_201_with_the_handlers_object_as_the_caller() {
        let echo = Arc::new(EchoToken::new());
        let rest = NamedCreateRest(Arc::clone(&echo));
        let opts = WriteOptions {
            dry_run: true,
            ..WriteOptions::default()
        };
        let reply = request::with_user(
            alice(),
            rest.create(Some("default"), "builder", token_request(""), &opts),
        )
        .await
        .expect("created");
        assert_eq!(reply.code, StatusCode::CREATED);
        assert_eq!(reply.warnings, ["dry run: nothing issued"]);
        let answer: serde_json::Value =
            serde_json::from_slice(reply.body.whole().expect("whole")).expect("JSON");
        assert_eq!(answer["kind"], "TokenRequest");
        assert_eq!(answer["apiVersion"], "authentication.k8s.io/v1");
        assert_eq!(answer["spec"]["audiences"], serde_json::json!(["api"]));
        assert_eq!(answer["status"]["token"], "builder");
        let calls = echo.calls.lock().expect("calls").clone();
        assert_eq!(
            calls,
            [Call {
                namespace: Some("default".into()),
                name: "builder".into(),
                user: "alice".into(),
                dry_run: true,
            }]
        );
    }

    #[tokio::test]
    async fn the_status_a_client_sends_is_ignored() {
        // client-go's TokenRequest: a status that does not even decode.
        let reply = EchoToken::rest()
            .create(
                Some("default"),
                "builder",
                token_request(r#","status":{"token":"","expirationTimestamp":null}"#),
                &WriteOptions::default(),
            )
            .await
            .expect("created");
        let answer: serde_json::Value =
            serde_json::from_slice(reply.body.whole().expect("whole")).expect("JSON");
        assert_eq!(answer["status"]["token"], "builder");
    }

    #[tokio::test]
    async fn unknown_fields_warn_or_fail_as_the_request_asks() {
        let rest = EchoToken::rest();
        let reply = rest
            .create(
                Some("default"),
                "builder",
                token_request(r#","color":"blue""#),
                &WriteOptions::default(),
            )
            .await
            .expect("created");
        assert_eq!(reply.warnings, [r#"unknown field "color""#]);
        let dry_run = WriteOptions {
            dry_run: true,
            ..WriteOptions::default()
        };
        let reply = rest
            .create(
                Some("default"),
                "builder",
                token_request(r#","color":"blue""#),
                &dry_run,
            )
            .await
            .expect("created");
        assert_eq!(
            reply.warnings,
            [r#"unknown field "color""#, "dry run: nothing issued"],
            "the body's first, then the handler's"
        );
        let strict = WriteOptions {
            field_validation: FieldValidation::Strict,
            ..WriteOptions::default()
        };
        let refused = rest
            .create(
                Some("default"),
                "builder",
                token_request(r#","color":"blue""#),
                &strict,
            )
            .await
            .expect_err("strict");
        assert_eq!(refused.code, 400);
        let malformed = Body {
            format: BodyFormat::Json,
            bytes: Bytes::from_static(b"{"),
        };
        let refused = rest
            .create(
                Some("default"),
                "builder",
                malformed,
                &WriteOptions::default(),
            )
            .await
            .expect_err("malformed");
        assert_eq!(refused.code, 400);
        assert!(
            refused
                .message
                .starts_with("error decoding the body as TokenRequest"),
            "{}",
            refused.message
        );
    }

    #[test]
    fn handlers_are_recorded_in_their_parents_once() {
        let mut infos = vec![
            testing::service_accounts(),
            ResourceInfo::review::<k8s_openapi::api::core::v1::Secret>(),
        ];
        let handlers = [EchoToken::rest(), EchoToken::rest()];
        attach_create_subresources(&mut infos, &handlers);
        assert_eq!(
            infos[0].create_subresources,
            [SubresourceKind::of::<
                k8s_openapi::api::authentication::v1::TokenRequest,
            >("token")]
        );
        assert!(infos[1].create_subresources.is_empty());
    }
}
