//! `serviceaccounts/token` (upstream's `TokenREST`): a `TokenRequest`
//! posted for a service account answers with a signed token for it,
//! optionally bound to a pod, secret or node of its namespace, for the
//! audiences asked (the API's by default) and a lifetime of at least ten
//! minutes, shortened to `--service-account-max-token-expiration`.

use std::sync::Arc;

use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::chrono::{DateTime, Utc};

use apimachinery::validation::field::{Error, ErrorList, Path};
use apiserver::authentication::UserInfo;
use apiserver::registry::subresource::{Created, NamedCreate};
use apiserver::registry::table::current_time;
use apiserver::registry::{ResourceInfo, RestStorage, Store};
use apiserver::status::Status;

use crate::registry::core::node::NodeStrategy;
use crate::registry::core::pod::PodStrategy;
use crate::registry::core::secret::SecretStrategy;
use crate::serviceaccount::TokenIssuer;
use crate::serviceaccount::claims::{Binding, Claims, Ref};

use super::ServiceAccountStrategy;

/// A token request without `expirationSeconds` asks for an hour.
pub const DEFAULT_EXPIRATION_SECONDS: i64 = 60 * 60;
/// `MinTokenAgeSec`.
pub const MIN_EXPIRATION_SECONDS: i64 = 10 * 60;
/// `MaxTokenAgeSec`: 2^32 seconds.
pub const MAX_EXPIRATION_SECONDS: i64 = 1 << 32;
/// The lifetime the kubelet asks for when it wants an extended token
/// (`WarnOnlyBoundTokenExpirationSeconds`).
pub const WARN_ONLY_EXPIRATION_SECONDS: i64 = 60 * 60 + 7;
/// How long such a token really lives (`ExpirationExtensionSeconds`).
pub const EXTENDED_EXPIRATION_SECONDS: i64 = 24 * 365 * 60 * 60;

/// What the handler reads and how it signs.
pub struct TokenRest {
    pub service_accounts: Arc<Store<ServiceAccountStrategy>>,
    pub pods: Arc<Store<PodStrategy>>,
    pub secrets: Arc<Store<SecretStrategy>>,
    pub nodes: Arc<Store<NodeStrategy>>,
    pub issuer: Arc<TokenIssuer>,
    /// `--api-audiences`: the audiences of a request that names none.
    pub api_audiences: Vec<String>,
    /// `--service-account-max-token-expiration` in seconds; 0 is no limit.
    pub max_expiration_seconds: i64,
    /// `--service-account-extend-token-expiration`.
    pub extend_expiration: bool,
}

/// `ValidateTokenRequest`.
fn validate(request: &TokenRequest) -> ErrorList {
    let mut errors = ErrorList::new();
    let path = Path::new("spec").child("expirationSeconds");
    let seconds = request.spec.expiration_seconds.unwrap_or_default();
    if seconds < MIN_EXPIRATION_SECONDS {
        errors.push(Error::invalid(
            &path,
            seconds,
            "may not specify a duration less than 10 minutes",
        ));
    }
    if seconds > MAX_EXPIRATION_SECONDS {
        errors.push(Error::invalid(
            &path,
            seconds,
            "may not specify a duration larger than 2^32 seconds",
        ));
    }
    errors
}

fn invalid(name: &str, errors: &[Error]) -> Status {
    Status::invalid("authentication.k8s.io", "TokenRequest", name, errors)
}

impl TokenRest {
    /// The objects the token names: the service account, and the bound
    /// object of `spec.boundObjectRef` (a pod also brings its node, when it
    /// has one that exists).
    async fn binding(
        &self,
        namespace: &str,
        account_name: &str,
        account_uid: &str,
        request: &TokenRequest,
    ) -> Result<Binding, Status> {
        let mut binding = Binding {
            namespace: namespace.to_string(),
            service_account: Ref {
                name: account_name.to_string(),
                uid: account_uid.to_string(),
            },
            ..Binding::default()
        };
        let Some(reference) = &request.spec.bound_object_ref else {
            return Ok(binding);
        };
        let kind = reference.kind.as_deref().unwrap_or_default();
        let api_version = reference.api_version.as_deref().unwrap_or_default();
        let group = api_version.rsplit_once('/').map_or("", |(group, _)| group);
        let name = reference.name.as_deref().unwrap_or_default();
        let uid = match (group, kind) {
            ("", "Pod") => {
                let pod = self.pods.get_object(Some(namespace), name).await?;
                let spec = pod.spec.unwrap_or_default();
                if spec.service_account_name.as_deref().unwrap_or_default() != account_name {
                    return Err(Status::bad_request(format!(
                        "cannot bind token for serviceaccount {account_name:?} to pod running with different serviceaccount name."
                    )));
                }
                let uid = pod.metadata.uid.unwrap_or_default();
                binding.pod = Some(Ref {
                    name: name.to_string(),
                    uid: uid.clone(),
                });
                if let Some(node_name) = spec.node_name.filter(|n| !n.is_empty()) {
                    binding.node = Some(match self.nodes.get_object(None, &node_name).await {
                        Ok(node) => Ref {
                            name: node_name,
                            uid: node.metadata.uid.unwrap_or_default(),
                        },
                        // A pod on a node that is gone still gets its token.
                        Err(status) if status.code == 404 => Ref {
                            name: node_name,
                            uid: String::new(),
                        },
                        Err(status) => {
                            return Err(Status::internal_error(status.message));
                        }
                    });
                }
                uid
            }
            ("", "Node") => {
                let node = self.nodes.get_object(None, name).await?;
                let uid = node.metadata.uid.unwrap_or_default();
                binding.node = Some(Ref {
                    name: name.to_string(),
                    uid: uid.clone(),
                });
                uid
            }
            ("", "Secret") => {
                let secret = self.secrets.get_object(Some(namespace), name).await?;
                let uid = secret.metadata.uid.unwrap_or_default();
                binding.secret = Some(Ref {
                    name: name.to_string(),
                    uid: uid.clone(),
                });
                uid
            }
            _ => {
                let version = api_version.rsplit('/').next().unwrap_or_default();
                return Err(Status::bad_request(format!(
                    "cannot bind token to object of type {group}/{version}, Kind={kind}"
                )));
            }
        };
        if let Some(wanted) = reference.uid.as_deref().filter(|u| !u.is_empty())
            && wanted != uid
        {
            return Err(Status::conflict(
                group,
                kind,
                name,
                &format!(
                    "the UID in the bound object reference ({wanted}) does not match the UID in record. The object might have been deleted and then recreated"
                ),
            ));
        }
        Ok(binding)
    }
}

#[async_trait::async_trait]
impl NamedCreate for TokenRest {
    type Object = TokenRequest;
    type Answer = TokenRequest;

    fn parent(&self) -> &ResourceInfo {
        self.service_accounts.info()
    }

    fn subresource(&self) -> &'static str {
        "token"
    }

    /// Upstream mints a real token under `dryRun` too: nothing is stored.
    async fn create(
        &self,
        namespace: Option<&str>,
        name: &str,
        _user: &UserInfo,
        mut request: TokenRequest,
        _dry_run: bool,
    ) -> Result<Created<TokenRequest>, Status> {
        let namespace = namespace.ok_or_else(|| Status::bad_request("namespace is required"))?;
        for (field, given, want) in [
            ("name", request.metadata.name.as_deref(), name),
            (
                "namespace",
                request.metadata.namespace.as_deref(),
                namespace,
            ),
        ] {
            if let Some(given) = given.filter(|g| !g.is_empty() && *g != want) {
                return Err(invalid(
                    name,
                    &[Error::invalid(
                        &Path::new("metadata").child(field),
                        given,
                        format!("must match the service account {field} if specified"),
                    )],
                ));
            }
        }
        let account = self
            .service_accounts
            .get_object(Some(namespace), name)
            .await?;

        // `WipeObjectMetaSystemFields`, then the defaults.
        let metadata = &mut request.metadata;
        metadata.uid = None;
        metadata.deletion_timestamp = None;
        metadata.deletion_grace_period_seconds = None;
        metadata.self_link = None;
        metadata.name = Some(name.to_string());
        metadata.namespace = Some(namespace.to_string());
        let now = current_time();
        let now = DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now);
        metadata.creation_timestamp = Some(Time(now));
        if request.spec.audiences.is_empty() {
            request.spec.audiences = self.api_audiences.clone();
        }
        request
            .spec
            .expiration_seconds
            .get_or_insert(DEFAULT_EXPIRATION_SECONDS);
        request.status = None;
        let errors = validate(&request);
        if !errors.is_empty() {
            return Err(invalid("", &errors));
        }

        let binding = self
            .binding(
                namespace,
                name,
                account.metadata.uid.as_deref().unwrap_or_default(),
                &request,
            )
            .await?;

        let mut warnings = Vec::new();
        let mut seconds = request.spec.expiration_seconds.unwrap_or_default();
        if self.max_expiration_seconds > 0 && seconds > self.max_expiration_seconds {
            warnings.push(format!(
                "requested expiration of {seconds} seconds shortened to {} seconds",
                self.max_expiration_seconds
            ));
            seconds = self.max_expiration_seconds;
            request.spec.expiration_seconds = Some(seconds);
        }
        // The kubelet's transition: a pod-bound token for the API asked for
        // 3607 s lives a year, and is stale (not invalid) after 3607 s.
        let audiences = request.spec.audiences.clone();
        let (lifetime, warn_after) = if self.extend_expiration
            && binding.pod.is_some()
            && seconds == WARN_ONLY_EXPIRATION_SECONDS
            && audiences.iter().all(|a| self.api_audiences.contains(a))
        {
            (EXTENDED_EXPIRATION_SECONDS, Some(seconds))
        } else {
            (seconds, None)
        };
        let claims = Claims::new(
            self.issuer.issuer(),
            binding,
            audiences,
            now.timestamp(),
            lifetime,
            warn_after,
        );
        let token =
            self.issuer.sign(&claims).await.map_err(|err| {
                Status::internal_error(format!("failed to generate token: {err:#}"))
            })?;
        request.status = Some(TokenRequestStatus {
            token,
            expiration_timestamp: Time(expires(now, seconds)),
        });
        Ok(Created {
            object: request,
            warnings,
        })
    }
}

/// `now` + `seconds`, saturating at the largest time representable.
fn expires(now: DateTime<Utc>, seconds: i64) -> DateTime<Utc> {
    now.checked_add_signed(k8s_openapi::chrono::TimeDelta::seconds(seconds))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(seconds: Option<i64>) -> TokenRequest {
        let mut request = TokenRequest::default();
        request.spec.expiration_seconds = seconds;
        request
    }

    #[test]
    fn lifetimes_from_ten_minutes_to_two_to_the_thirty_second_seconds() {
        assert!(validate(&request(Some(600))).is_empty());
        assert!(validate(&request(Some(MAX_EXPIRATION_SECONDS))).is_empty());
        let short = validate(&request(Some(599)));
        assert_eq!(
            short[0].to_string(),
            "spec.expirationSeconds: Invalid value: 599: may not specify a duration less than 10 minutes"
        );
        let long = validate(&request(Some(MAX_EXPIRATION_SECONDS + 1)));
        assert_eq!(
            long[0].to_string(),
            "spec.expirationSeconds: Invalid value: 4294967297: may not specify a duration larger than 2^32 seconds"
        );
    }
}
