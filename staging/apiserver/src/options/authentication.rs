//! Authentication options (`kubeoptions.BuiltInAuthenticationOptions`). Served
//! now: anonymous requests, the static token file, client certificates.
//! OIDC, webhook, request-header and service-account tokens are parsed and
//! validated only.

use std::path::PathBuf;

use clap::{ArgAction, Args};

use crate::flag::{Duration, parse_bool};

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Authentication flags")]
pub struct AuthenticationOptions {
    /// Enables anonymous requests to the secure port of the API server. Requests that are not rejected by another authentication method are treated as anonymous requests. Anonymous requests have a username of system:anonymous, and a group name of system:unauthenticated. (Forced to false with the AlwaysAllow authorizer.)
    #[arg(long, value_name = "true|false", action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_value = "true", default_missing_value = "true", value_parser = parse_bool)]
    pub anonymous_auth: bool,

    /// Identifiers of the API. The service account token authenticator will validate that tokens used against the API are bound to at least one of these audiences. If the --service-account-issuer flag is configured and this flag is not, this field defaults to a single element list containing the issuer URL.
    #[arg(long, value_name = "strings", value_delimiter = ',')]
    pub api_audiences: Vec<String>,

    /// File with Authentication Configuration to configure the JWT Token authenticator or the anonymous authenticator. [parsed only]
    #[arg(long, value_name = "string")]
    pub authentication_config: Option<PathBuf>,

    /// The duration to cache responses from the webhook token authenticator.
    #[arg(long, value_name = "duration", default_value = "2m0s")]
    pub authentication_token_webhook_cache_ttl: Duration,

    /// File with webhook configuration for token authentication in kubeconfig format. [parsed only: not implemented yet]
    #[arg(long, value_name = "string")]
    pub authentication_token_webhook_config_file: Option<PathBuf>,

    /// The API version of the authentication.k8s.io TokenReview to send to and expect from the webhook.
    #[arg(long, value_name = "string", default_value = "v1beta1")]
    pub authentication_token_webhook_version: String,

    /// If set, any request presenting a client certificate signed by one of the authorities in the client-ca-file is authenticated with an identity corresponding to the CommonName of the client certificate.
    #[arg(long, value_name = "string")]
    pub client_ca_file: Option<PathBuf>,

    /// Enable to allow secrets of type 'bootstrap.kubernetes.io/token' in the 'kube-system' namespace to be used for TLS bootstrapping authentication. [parsed only]
    #[arg(long, value_name = "true|false", action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", value_parser = parse_bool)]
    pub enable_bootstrap_token_auth: bool,

    /// The client ID for the OpenID Connect client, must be set if oidc-issuer-url is set. [parsed and validated only]
    #[arg(long, value_name = "string")]
    pub oidc_client_id: Option<String>,

    /// The URL of the OpenID issuer, only HTTPS scheme will be accepted. [parsed and validated only]
    #[arg(long, value_name = "string")]
    pub oidc_issuer_url: Option<String>,

    /// If set, the OpenID server's certificate will be verified by one of the authorities in the oidc-ca-file.
    #[arg(long, value_name = "string")]
    pub oidc_ca_file: Option<PathBuf>,

    /// If provided, the name of a custom OpenID Connect claim for specifying user groups.
    #[arg(long, value_name = "string")]
    pub oidc_groups_claim: Option<String>,

    /// If provided, all groups will be prefixed with this value to prevent conflicts with other authentication strategies.
    #[arg(long, value_name = "string")]
    pub oidc_groups_prefix: Option<String>,

    /// A key=value pair that describes a required claim in the ID Token.
    #[arg(long, value_name = "mapStringString", value_delimiter = ',')]
    pub oidc_required_claim: Vec<String>,

    /// Comma-separated list of allowed JOSE asymmetric signing algorithms.
    #[arg(
        long,
        value_name = "strings",
        value_delimiter = ',',
        default_value = "RS256"
    )]
    pub oidc_signing_algs: Vec<String>,

    /// The OpenID claim to use as the user name.
    #[arg(long, value_name = "string", default_value = "sub")]
    pub oidc_username_claim: String,

    /// If provided, all usernames will be prefixed with this value.
    #[arg(long, value_name = "string")]
    pub oidc_username_prefix: Option<String>,

    /// List of client certificate common names to allow to provide usernames in headers specified by --requestheader-username-headers. [parsed only: not implemented yet]
    #[arg(long, value_name = "strings", value_delimiter = ',')]
    pub requestheader_allowed_names: Vec<String>,

    /// Root certificate bundle to use to verify client certificates on incoming requests before trusting usernames in headers specified by --requestheader-username-headers. [parsed only]
    #[arg(long, value_name = "string")]
    pub requestheader_client_ca_file: Option<PathBuf>,

    /// List of request header prefixes to inspect. X-Remote-Extra- is suggested.
    #[arg(long, value_name = "strings", value_delimiter = ',')]
    pub requestheader_extra_headers_prefix: Vec<String>,

    /// List of request headers to inspect for groups. X-Remote-Group is suggested.
    #[arg(long, value_name = "strings", value_delimiter = ',')]
    pub requestheader_group_headers: Vec<String>,

    /// List of request headers to inspect for UIDs. X-Remote-Uid is suggested.
    #[arg(long, value_name = "strings", value_delimiter = ',')]
    pub requestheader_uid_headers: Vec<String>,

    /// List of request headers to inspect for usernames. X-Remote-User is common.
    #[arg(long, value_name = "strings", value_delimiter = ',')]
    pub requestheader_username_headers: Vec<String>,

    /// Turns on projected service account expiration extension during token generation.
    #[arg(long, value_name = "true|false", action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_value = "true", default_missing_value = "true", value_parser = parse_bool)]
    pub service_account_extend_token_expiration: bool,

    /// Identifier of the service account token issuer. The issuer will assert this identifier in "iss" claim of issued tokens. This value is a string or URI. If this option is not a valid URI per the OpenID Discovery 1.0 spec, the ServiceAccountIssuerDiscovery feature will remain disabled. When this flag is specified multiple times, the first is used to generate tokens and all are used to determine which issuers are accepted. Defaults here to https://kubernetes.default.svc.cluster.local (see README).
    #[arg(long, value_name = "stringArray")]
    pub service_account_issuer: Vec<String>,

    /// Overrides the URI for the JSON Web Key Set in the discovery doc served at /.well-known/openid-configuration. Defaults to https://<external host>:<secure port>/openid/v1/jwks.
    #[arg(long, value_name = "string")]
    pub service_account_jwks_uri: Option<String>,

    /// File containing PEM-encoded x509 RSA or ECDSA private or public keys, used to verify ServiceAccount tokens. The specified file can contain multiple keys, and the flag can be specified multiple times with different files. If unspecified, --tls-private-key-file is used.
    #[arg(long, value_name = "stringArray")]
    pub service_account_key_file: Vec<PathBuf>,

    /// If true, validate ServiceAccount tokens exist in etcd as part of authentication. [parsed only: it governs legacy secret-based tokens, which are not accepted; bound tokens are always checked]
    #[arg(long, value_name = "true|false", action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_value = "true", default_missing_value = "true", value_parser = parse_bool)]
    pub service_account_lookup: bool,

    /// The maximum validity duration of a token created by the service account token issuer. If an otherwise valid TokenRequest with a validity duration larger than this value is requested, a token will be issued with a validity duration of this value.
    #[arg(long, value_name = "duration", default_value = "0s")]
    pub service_account_max_token_expiration: Duration,

    /// Path to the file containing the static bearer tokens: CSV lines `token,user,uid[,"group1,group2"]`.
    #[arg(long, value_name = "string")]
    pub token_auth_file: Option<PathBuf>,
}

impl AuthenticationOptions {
    /// `signing_key_file`: the component's --service-account-signing-key-file
    /// (upstream validates the two together).
    pub fn validate(&self, signing_key_file: Option<&std::path::Path>) -> Vec<String> {
        let mut errors = Vec::new();
        if self.service_account_issuer.is_empty() {
            errors.push("service-account-issuer is a required flag".to_string());
        }
        if signing_key_file.is_none() || self.service_account_issuer.is_empty() {
            errors.push("--service-account-signing-key-file and --service-account-issuer are required flags".to_string());
        }
        let mut seen = std::collections::BTreeSet::new();
        for issuer in &self.service_account_issuer {
            if issuer.is_empty() {
                errors.push("service-account-issuer should not be an empty string".to_string());
                continue;
            }
            if !seen.insert(issuer) {
                errors.push(format!(
                    "service-account-issuer {issuer:?} is already specified"
                ));
            }
            if issuer.contains(':') && !looks_like_url(issuer) {
                errors.push(format!(
                    "service-account-issuer {issuer:?} contained a ':' but was not a valid URL"
                ));
            }
        }
        if !self.service_account_max_token_expiration.is_negative()
            && self.service_account_max_token_expiration != Duration::ZERO
            && (self.service_account_max_token_expiration < Duration::from_secs(3600)
                || self.service_account_max_token_expiration > Duration::from_secs(1 << 32))
        {
            errors.push(
                "the service-account-max-token-expiration must be between 1 hour and 2^32 seconds"
                    .to_string(),
            );
        }
        if let Some(uri) = &self.service_account_jwks_uri
            && !uri.is_empty()
        {
            match http::Uri::try_from(uri.as_str()) {
                Err(err) => errors.push(format!(
                    "service-account-jwks-uri must be a valid URL: {err}"
                )),
                Ok(parsed) if parsed.scheme_str() != Some("https") => errors.push(format!(
                    "service-account-jwks-uri requires https scheme, parsed as: {parsed}"
                )),
                Ok(_) => {}
            }
        }
        if self.service_account_max_token_expiration.is_negative() {
            errors.push("service-account-max-token-expiration can not be negative".to_string());
        }
        if self.oidc_issuer_url.is_some() != self.oidc_client_id.is_some() {
            errors
                .push("oidc-issuer-url and oidc-client-id must be specified together".to_string());
        }
        if let Some(url) = &self.oidc_issuer_url
            && !url.starts_with("https://")
        {
            errors.push(format!(
                "oidc-issuer-url ({url}) must be a valid URL with the https scheme"
            ));
        }
        if self.authentication_config.is_some()
            && (self.oidc_issuer_url.is_some() || self.oidc_client_id.is_some())
        {
            errors.push(
                "authentication-config file and oidc-* flags are mutually exclusive".to_string(),
            );
        }
        if !["v1", "v1beta1"].contains(&self.authentication_token_webhook_version.as_str()) {
            errors.push(format!(
                "invalid authentication token webhook version: {:?}. Valid versions are [v1 v1beta1]",
                self.authentication_token_webhook_version
            ));
        }
        if !self.requestheader_username_headers.is_empty()
            && self.requestheader_client_ca_file.is_none()
        {
            errors.push(
                "--requestheader-client-ca-file is required with --requestheader-username-headers"
                    .to_string(),
            );
        }
        errors
    }
}

/// A URL as Go's `url.Parse` accepts it for the issuer: `scheme://host...`
/// or at least `scheme:opaque` with a valid scheme.
fn looks_like_url(value: &str) -> bool {
    let Some((scheme, rest)) = value.split_once(':') else {
        return false;
    };
    let scheme_ok = scheme
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    scheme_ok && !rest.is_empty() && !rest.contains(char::is_whitespace)
}
