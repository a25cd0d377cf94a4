//! Service-account issuer discovery (upstream's `openidmetadata.go`):
//! `/.well-known/openid-configuration` and `/openid/v1/jwks`, so that
//! anyone holding a service-account token can verify it the OpenID Connect
//! way. Both documents are rendered once, at start.

use anyhow::{Context, bail};
use axum::Router;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use serde::Serialize;
use url::Url;

use super::keys::{Jwk, PublicKey};

pub const OPENID_CONFIGURATION_PATH: &str = "/.well-known/openid-configuration";
pub const JWKS_PATH: &str = "/openid/v1/jwks";

/// How long a client may cache either document (upstream's value for
/// keys read from files).
const CACHE_CONTROL_VALUE: &str = "public, max-age=3600";

/// The discovery document's fields, in upstream's order.
#[derive(Serialize)]
struct Configuration<'a> {
    issuer: &'a str,
    jwks_uri: &'a str,
    response_types_supported: [&'static str; 1],
    subject_types_supported: [&'static str; 1],
    id_token_signing_alg_values_supported: Vec<&'static str>,
}

/// The key set (`{"keys": [...]}`), each key's fields in go-jose's order.
#[derive(Serialize)]
struct Jwks {
    keys: Vec<Jwk>,
}

/// The two documents, rendered.
#[derive(Debug, Clone)]
pub struct OpenIdMetadata {
    configuration: Bytes,
    jwks: Bytes,
}

impl OpenIdMetadata {
    /// Renders the documents for `issuer` (an `https` URL without query or
    /// fragment) and `keys`. The key set's address is `jwks_uri`, or
    /// `https://<external address>/openid/v1/jwks`.
    pub fn new(
        issuer: &str,
        jwks_uri: Option<&str>,
        external_address: &str,
        keys: &[PublicKey],
    ) -> anyhow::Result<Self> {
        if issuer.is_empty() {
            bail!("empty issuer URL");
        }
        if keys.is_empty() {
            bail!("no keys provided for validating keyset");
        }
        let parsed = Url::parse(issuer)?;
        if parsed.scheme() != "https" {
            bail!("issuer URL must use https scheme, got: {issuer}");
        }
        if parsed.query().is_some() {
            bail!("issuer URL may not include a query, got: {issuer}");
        }
        if parsed.fragment().is_some() {
            bail!("issuer URL may not include a fragment, got: {issuer}");
        }
        let jwks_uri = match jwks_uri.filter(|uri| !uri.is_empty()) {
            Some(uri) => {
                let parsed = Url::parse(uri).context("jwksURI")?;
                if parsed.scheme() != "https" {
                    bail!("jwksURI requires https scheme, parsed as: {parsed}");
                }
                uri.to_string()
            }
            None => {
                if external_address.is_empty() {
                    bail!(
                        "either the JWKS URI or the default external address, or both, must be set"
                    );
                }
                let built = format!("https://{external_address}{JWKS_PATH}");
                Url::parse(&built).map_err(|err| {
                    anyhow::anyhow!(
                        "attempted to build jwks_uri from external address {external_address}, but could not construct a valid URL. Error: {err}"
                    )
                })?;
                built
            }
        };
        let mut algorithms: Vec<&'static str> =
            keys.iter().map(|key| key.algorithm().as_str()).collect();
        algorithms.sort_unstable();
        algorithms.dedup();
        let configuration = serde_json::to_vec(&Configuration {
            issuer,
            jwks_uri: &jwks_uri,
            response_types_supported: ["id_token"],
            subject_types_supported: ["public"],
            id_token_signing_alg_values_supported: algorithms,
        })?;
        let jwks = serde_json::to_vec(&Jwks {
            keys: keys.iter().map(PublicKey::jwk).collect(),
        })?;
        Ok(OpenIdMetadata {
            configuration: Bytes::from(configuration),
            jwks: Bytes::from(jwks),
        })
    }

    /// The configuration document.
    pub fn configuration(&self) -> &Bytes {
        &self.configuration
    }

    /// The key set.
    pub fn jwks(&self) -> &Bytes {
        &self.jwks
    }

    /// Both routes.
    pub fn router(&self) -> Router {
        let configuration = self.configuration.clone();
        let jwks = self.jwks.clone();
        Router::new()
            .route(
                OPENID_CONFIGURATION_PATH,
                get(move || async move { document("application/json", configuration) }),
            )
            .route(
                JWKS_PATH,
                get(move || async move { document("application/jwk-set+json", jwks) }),
            )
    }
}

fn document(content_type: &'static str, body: Bytes) -> Response {
    (
        [
            (CONTENT_TYPE, content_type),
            (CACHE_CONTROL, CACHE_CONTROL_VALUE),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serviceaccount::keys::SigningKey;
    use crate::serviceaccount::keys::test_keys::{EC_P256_SEC1, RSA_PKCS1};

    fn keys() -> Vec<PublicKey> {
        [RSA_PKCS1, EC_P256_SEC1]
            .iter()
            .map(|pem| {
                SigningKey::from_pem(pem.as_bytes())
                    .unwrap()
                    .public_key()
                    .clone()
            })
            .collect()
    }

    #[test]
    fn documents_are_upstreams() {
        let keys = keys();
        let metadata = OpenIdMetadata::new(
            "https://kubernetes.default.svc.cluster.local",
            None,
            "10.0.0.1:6443",
            &keys,
        )
        .unwrap();
        assert_eq!(
            std::str::from_utf8(metadata.configuration()).unwrap(),
            r#"{"issuer":"https://kubernetes.default.svc.cluster.local","jwks_uri":"https://10.0.0.1:6443/openid/v1/jwks","response_types_supported":["id_token"],"subject_types_supported":["public"],"id_token_signing_alg_values_supported":["ES256","RS256"]}"#
        );
        let jwks = std::str::from_utf8(metadata.jwks()).unwrap();
        assert!(
            jwks.starts_with(&format!(
                r#"{{"keys":[{{"use":"sig","kty":"RSA","kid":"{}","alg":"RS256","n":"#,
                keys[0].key_id()
            )),
            "{jwks}"
        );
        assert!(
            jwks.contains(&format!(
                r#"{{"use":"sig","kty":"EC","kid":"{}","crv":"P-256","alg":"ES256","x":"#,
                keys[1].key_id()
            )),
            "{jwks}"
        );
        let given = OpenIdMetadata::new(
            "https://issuer.example",
            Some("https://keys.example/jwks"),
            "",
            &keys,
        )
        .unwrap();
        let config: serde_json::Value = serde_json::from_slice(given.configuration()).unwrap();
        assert_eq!(config["jwks_uri"], "https://keys.example/jwks");
    }

    #[test]
    fn issuers_and_uris_that_disable_discovery() {
        let keys = keys();
        let error = |issuer: &str, jwks: Option<&str>, keys: &[PublicKey]| {
            OpenIdMetadata::new(issuer, jwks, "10.0.0.1:6443", keys)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            error("http://issuer.example", None, &keys),
            "issuer URL must use https scheme, got: http://issuer.example"
        );
        assert_eq!(
            error("https://issuer.example?x=1", None, &keys),
            "issuer URL may not include a query, got: https://issuer.example?x=1"
        );
        assert_eq!(
            error("https://issuer.example#f", None, &keys),
            "issuer URL may not include a fragment, got: https://issuer.example#f"
        );
        assert!(
            error("https://issuer.example", Some("http://keys.example"), &keys)
                .starts_with("jwksURI requires https scheme")
        );
        assert_eq!(
            error("https://issuer.example", None, &[]),
            "no keys provided for validating keyset"
        );
        assert!(error("kubernetes/serviceaccount", None, &keys).contains("relative URL"));
    }
}
