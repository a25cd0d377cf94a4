//! Service-account tokens (mirrors `k8s.io/kubernetes/pkg/serviceaccount`):
//! the signing and verification keys, the JWTs they sign, the claims a
//! token carries, the issuer that mints tokens for `serviceaccounts/token`,
//! the authenticator that accepts them while the objects they name exist,
//! and issuer discovery (`/.well-known/openid-configuration`).

pub mod authenticator;
pub mod claims;
pub mod issuer;
pub mod jwt;
pub mod keys;
pub mod lookup;
pub mod openid;

use std::sync::Arc;

pub use authenticator::ServiceAccountTokenAuthenticator;
pub use issuer::TokenIssuer;
pub use keys::{PublicKey, SigningKey, load_public_keys};

/// What the control plane needs to issue and accept tokens.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// `--service-account-issuer`: tokens of any of them are accepted.
    pub issuers: Vec<String>,
    /// Signs new tokens (under the first issuer); without it,
    /// `serviceaccounts/token` is not served.
    pub token_issuer: Option<Arc<TokenIssuer>>,
    /// `--service-account-key-file`'s keys; without any, no token is
    /// accepted.
    pub public_keys: Vec<PublicKey>,
    /// `--service-account-max-token-expiration` in seconds; 0 is no limit.
    pub max_expiration_seconds: i64,
    /// `--service-account-extend-token-expiration`.
    pub extend_expiration: bool,
    /// `--service-account-jwks-uri`.
    pub jwks_uri: Option<String>,
    /// Where this server is reached (`host:port`), for the default JWKS URI.
    pub external_address: String,
}
