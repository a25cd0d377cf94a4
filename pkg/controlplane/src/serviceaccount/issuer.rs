//! The token issuer (upstream's `JWTTokenGenerator`): signs a token's
//! claims with `--service-account-signing-key-file` under the first
//! `--service-account-issuer`.

use super::claims::Claims;
use super::jwt;
use super::keys::{Algorithm, SigningKey};

/// Signs service-account tokens.
#[derive(Debug)]
pub struct TokenIssuer {
    issuer: String,
    key: SigningKey,
}

impl TokenIssuer {
    pub fn new(issuer: String, key: SigningKey) -> Self {
        TokenIssuer { issuer, key }
    }

    /// The `iss` of every token issued.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The signed token of `claims` (their `iss` is this issuer's). An RSA
    /// signature takes about a millisecond: it runs off the async workers.
    pub async fn sign(&self, claims: &Claims) -> anyhow::Result<String> {
        debug_assert_eq!(claims.iss, self.issuer);
        let heavy = self.key.public_key().algorithm() == Algorithm::Rs256;
        apiserver::cpu_work::reserve(heavy)
            .await
            .run(|| jwt::sign(&self.key, claims))
    }
}
