//! Service-account JSON Web Tokens (mirrors the signing and verification of
//! `k8s.io/kubernetes/pkg/serviceaccount/jwt.go`, which uses go-jose): a JWS
//! in compact serialization, `base64url(header).base64url(claims).base64url(signature)`,
//! signed with the `--service-account-signing-key-file` key and verified with
//! the `--service-account-key-file` keys ([`super::keys`]).
//!
//! No JWT crate: the compact form is three base64url parts (no padding) and
//! `ring` does the cryptography. The algorithm is chosen by the key, never by
//! the token header: a token is only checked against keys whose own
//! algorithm (`RS256`, `ES256`, `ES384`) equals its `alg`, so there is no
//! algorithm confusion (an RSA public key taken as an HMAC secret) and no
//! unsigned `none` token. Parsing is linear in the token's size, bounded by
//! [`MAX_TOKEN_BYTES`], and never panics.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::keys::{PublicKey, SigningKey};

/// The longest token [`parse`] accepts, in bytes; longer ones are rejected
/// before anything is decoded.
pub const MAX_TOKEN_BYTES: usize = 64 * 1024;

/// Why a token is not a well-formed JWS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwtError {
    /// The token is longer than [`MAX_TOKEN_BYTES`].
    TooLong {
        /// The token's length in bytes.
        len: usize,
    },
    /// The token is not three non-empty dot-separated parts.
    Malformed(&'static str),
    /// A part is not base64url without padding.
    Base64 {
        /// `header`, `payload` or `signature`.
        part: &'static str,
    },
    /// The header is not a JSON object with a string `alg`, or is one this
    /// implementation must reject (`crit`).
    Header(String),
    /// The payload does not decode as the requested claims.
    Claims(String),
}

impl fmt::Display for JwtError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLong { len } => write!(
                f,
                "token is {len} bytes, longer than the {MAX_TOKEN_BYTES}-byte limit"
            ),
            Self::Malformed(reason) => write!(f, "malformed token: {reason}"),
            Self::Base64 { part } => write!(
                f,
                "malformed token: the {part} is not base64url without padding"
            ),
            Self::Header(reason) => write!(f, "invalid token header: {reason}"),
            Self::Claims(reason) => write!(f, "invalid token claims: {reason}"),
        }
    }
}

impl std::error::Error for JwtError {}

/// The JOSE header of a token: the fields this implementation reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// `alg`: the signature algorithm the token claims.
    pub alg: String,
    /// `kid`: the ID of the signing key, if given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
}

/// The header as read: `crit` is kept only to be rejected (RFC 7515 4.1.11:
/// no extension is understood here).
#[derive(Deserialize)]
struct ParsedHeader {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    crit: Option<serde_json::Value>,
}

/// Signs `claims` with `key`: the header is `{"alg":…,"kid":…}` (the key's
/// algorithm and key ID, in go-jose's order), the payload `claims` as JSON.
pub fn sign<C: Serialize + ?Sized>(key: &SigningKey, claims: &C) -> anyhow::Result<String> {
    let public = key.public_key();
    let header = serde_json::to_vec(&Header {
        alg: public.algorithm().as_str().to_owned(),
        kid: Some(public.key_id()),
    })?;
    let claims = serde_json::to_vec(claims)?;
    let mut token = String::with_capacity((header.len() + claims.len()) * 4 / 3 + 700);
    URL_SAFE_NO_PAD.encode_string(&header, &mut token);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(&claims, &mut token);
    let signature = key.sign(token.as_bytes())?;
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(&signature, &mut token);
    Ok(token)
}

/// A parsed token whose signature has not been checked yet: read
/// [`Unverified::claims`] only after [`Unverified::verify`].
#[derive(Debug, Clone)]
pub struct Unverified {
    header: Header,
    payload: Vec<u8>,
    /// `header.payload` as in the token: what the signature covers.
    signing_input: String,
    signature: Vec<u8>,
}

/// Parses a JWS compact serialization: exactly three non-empty parts, each
/// base64url without padding, the first a JSON object with a string `alg`.
/// The signature is not checked.
pub fn parse(token: &str) -> Result<Unverified, JwtError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(JwtError::TooLong { len: token.len() });
    }
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed(
            "a JWS compact serialization has three dot-separated parts",
        ));
    };
    if header.is_empty() || payload.is_empty() || signature.is_empty() {
        return Err(JwtError::Malformed("a part is empty"));
    }
    let decode = |part: &str, name: &'static str| {
        URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| JwtError::Base64 { part: name })
    };
    let header_json = decode(header, "header")?;
    let payload_bytes = decode(payload, "payload")?;
    let signature_bytes = decode(signature, "signature")?;

    if header_json.iter().find(|byte| !byte.is_ascii_whitespace()) != Some(&b'{') {
        return Err(JwtError::Header("not a JSON object".to_owned()));
    }
    let parsed: ParsedHeader =
        serde_json::from_slice(&header_json).map_err(|err| JwtError::Header(err.to_string()))?;
    if parsed.crit.is_some() {
        return Err(JwtError::Header(
            "critical header parameters (crit) are not supported".to_owned(),
        ));
    }
    Ok(Unverified {
        header: Header {
            alg: parsed.alg,
            kid: parsed.kid,
        },
        payload: payload_bytes,
        signing_input: token[..header.len() + 1 + payload.len()].to_owned(),
        signature: signature_bytes,
    })
}

impl Unverified {
    /// The token's header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The decoded payload: the claims' JSON.
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// The payload decoded as `T`.
    pub fn claims<T: DeserializeOwned>(&self) -> Result<T, JwtError> {
        serde_json::from_slice(&self.payload).map_err(|err| JwtError::Claims(err.to_string()))
    }

    /// Whether one of `keys` signed the token. Only keys whose algorithm is
    /// the header's `alg` are tried; those whose key ID is the header's `kid`
    /// first, then (as upstream tries every key) the others.
    pub fn verify(&self, keys: &[PublicKey]) -> bool {
        let kid = self.header.kid.as_deref();
        let candidates = || {
            keys.iter()
                .filter(|key| key.algorithm().as_str() == self.header.alg)
        };
        let matches = |key: &&PublicKey| kid.is_some_and(|kid| key.key_id_str() == kid);
        candidates()
            .filter(matches)
            .chain(candidates().filter(|key| !matches(key)))
            .any(|key| key.verify(self.signing_input.as_bytes(), &self.signature))
    }
}

#[cfg(test)]
mod tests {
    use super::super::keys::test_keys::*;
    use super::*;
    use serde_json::{Value, json};

    fn signing(pem: &str) -> SigningKey {
        SigningKey::from_pem(pem.as_bytes()).unwrap()
    }

    fn all_keys() -> Vec<SigningKey> {
        vec![
            signing(RSA_PKCS1),
            signing(RSA2_PKCS8),
            signing(EC_P256_SEC1),
            signing(&generated(&rcgen::PKCS_ECDSA_P256_SHA256)),
            signing(EC_P384_SEC1),
        ]
    }

    fn claims() -> Value {
        json!({
            "iss": "https://kubernetes.default.svc.cluster.local",
            "sub": "system:serviceaccount:default:builder",
            "aud": ["https://kubernetes.default.svc.cluster.local"],
            "exp": 1_900_000_000u64,
        })
    }

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// `token` with part `index` replaced.
    fn with_part(token: &str, index: usize, part: &str) -> String {
        let mut parts: Vec<&str> = token.split('.').collect();
        parts[index] = part;
        parts.join(".")
    }

    /// A token with this header and claims, signed by `key` over exactly
    /// those bytes.
    fn forge(key: &SigningKey, header: &Value) -> String {
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims().to_string().as_bytes())
        );
        let signature = key.sign(input.as_bytes()).unwrap();
        format!("{input}.{}", b64(&signature))
    }

    #[test]
    fn round_trip_with_each_key_type() {
        for key in all_keys() {
            let public = key.public_key().clone();
            let token = sign(&key, &claims()).unwrap();
            let unverified = parse(&token).unwrap();
            assert_eq!(unverified.header().alg, public.algorithm().as_str());
            assert_eq!(
                unverified.header().kid.as_deref(),
                Some(public.key_id().as_str())
            );
            assert!(unverified.verify(&[public]));
            assert_eq!(unverified.claims::<Value>().unwrap(), claims());
            assert_eq!(unverified.payload(), claims().to_string().as_bytes());
        }
    }

    #[test]
    fn header_is_alg_then_kid() {
        let key = signing(RSA_PKCS1);
        let token = sign(&key, &claims()).unwrap();
        let header = URL_SAFE_NO_PAD
            .decode(token.split('.').next().unwrap())
            .unwrap();
        assert_eq!(
            String::from_utf8(header).unwrap(),
            format!(r#"{{"alg":"RS256","kid":"{RSA_PKCS1_KEY_ID}"}}"#)
        );
        let header = parse(&sign(&signing(EC_P384_SEC1), &claims()).unwrap()).unwrap();
        assert_eq!(header.header().alg, "ES384");
    }

    #[test]
    fn tampering_fails_verification() {
        for key in all_keys() {
            let keys = [key.public_key().clone()];
            let token = sign(&key, &claims()).unwrap();
            let mut other = claims();
            other["sub"] = json!("system:serviceaccount:kube-system:admin");
            let payload = with_part(&token, 1, &b64(other.to_string().as_bytes()));
            assert!(!parse(&payload).unwrap().verify(&keys));

            let header = json!({"alg": key.public_key().algorithm().as_str(), "kid": "other"});
            let header = with_part(&token, 0, &b64(header.to_string().as_bytes()));
            assert!(!parse(&header).unwrap().verify(&keys));

            let mut signature = URL_SAFE_NO_PAD
                .decode(token.split('.').nth(2).unwrap())
                .unwrap();
            let last = signature.len() - 1;
            signature[last] ^= 0x01;
            let signature = with_part(&token, 2, &b64(&signature));
            assert!(!parse(&signature).unwrap().verify(&keys));
        }
    }

    #[test]
    fn header_alg_must_be_the_keys() {
        let rsa = signing(RSA_PKCS1);
        let ec = signing(EC_P256_SEC1);
        let keys = [rsa.public_key().clone(), ec.public_key().clone()];
        // Correctly signed by each key, but claiming another algorithm.
        for (key, alg) in [
            (&rsa, "none"),
            (&rsa, "HS256"),
            (&rsa, "RS384"),
            (&rsa, "PS256"),
            (&rsa, "ES256"),
            (&ec, "RS256"),
            (&ec, "ES384"),
            (&ec, "none"),
            (&rsa, "rs256"),
        ] {
            let token = forge(key, &json!({"alg": alg}));
            assert!(!parse(&token).unwrap().verify(&keys), "{alg}");
        }
        // The same with the right algorithm verifies.
        assert!(
            parse(&forge(&rsa, &json!({"alg": "RS256"})))
                .unwrap()
                .verify(&keys)
        );
        assert!(
            parse(&forge(&ec, &json!({"alg": "ES256"})))
                .unwrap()
                .verify(&keys)
        );

        // An unsigned token ("none" with a placeholder signature) and an HMAC
        // over the public key never verify.
        let unsigned = format!(
            "{}.{}.AA",
            b64(br#"{"alg":"none"}"#),
            b64(claims().to_string().as_bytes())
        );
        assert!(!parse(&unsigned).unwrap().verify(&keys));
        let hs256 = {
            let input = format!(
                "{}.{}",
                b64(br#"{"alg":"HS256"}"#),
                b64(claims().to_string().as_bytes())
            );
            let mac_key =
                ring::hmac::Key::new(ring::hmac::HMAC_SHA256, rsa.public_key().spki_der());
            let tag = ring::hmac::sign(&mac_key, input.as_bytes());
            format!("{input}.{}", b64(tag.as_ref()))
        };
        assert!(!parse(&hs256).unwrap().verify(&keys));
    }

    #[test]
    fn verify_tries_every_key_of_the_algorithm() {
        let keys = all_keys();
        let publics: Vec<PublicKey> = keys.iter().map(|key| key.public_key().clone()).collect();
        for (i, key) in keys.iter().enumerate() {
            let token = sign(key, &claims()).unwrap();
            assert!(parse(&token).unwrap().verify(&publics), "{i}");
            // Without the signing key, no other key verifies.
            let others: Vec<PublicKey> = publics
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, key)| key.clone())
                .collect();
            assert!(!parse(&token).unwrap().verify(&others), "{i}");
            // A missing or wrong kid still tries every key.
            let alg = key.public_key().algorithm().as_str();
            for header in [json!({"alg": alg}), json!({"alg": alg, "kid": "unknown"})] {
                assert!(
                    parse(&forge(key, &header)).unwrap().verify(&publics),
                    "{header}"
                );
            }
        }
        assert!(
            !parse(&sign(&keys[0], &claims()).unwrap())
                .unwrap()
                .verify(&[])
        );
    }

    #[test]
    fn malformed_tokens_are_errors() {
        let token = sign(&signing(EC_P256_SEC1), &claims()).unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        let header = b64(br#"{"alg":"ES256"}"#);
        let cases: Vec<(String, &str)> = vec![
            (String::new(), "three dot-separated parts"),
            (
                format!("{}.{}", parts[0], parts[1]),
                "three dot-separated parts",
            ),
            (format!("{token}.{}", parts[2]), "three dot-separated parts"),
            (format!("{token}."), "three dot-separated parts"),
            (format!("{}..{}", parts[0], parts[2]), "a part is empty"),
            (format!(".{}.{}", parts[1], parts[2]), "a part is empty"),
            (format!("{}.{}.", parts[0], parts[1]), "a part is empty"),
            (with_part(&token, 1, "e30="), "payload is not base64url"),
            (
                with_part(&token, 2, &format!("{}=", parts[2])),
                "signature is not base64url",
            ),
            (with_part(&token, 1, "e30+"), "payload is not base64url"),
            (with_part(&token, 1, "e3 0"), "payload is not base64url"),
            (with_part(&token, 0, "A"), "header is not base64url"),
            (with_part(&token, 0, "!!!!"), "header is not base64url"),
            (
                with_part(&token, 0, &b64(b"not json")),
                "invalid token header",
            ),
            (
                with_part(&token, 0, &b64(br#"["ES256"]"#)),
                "not a JSON object",
            ),
            (with_part(&token, 0, &b64(b"{}")), "missing field `alg`"),
            (
                with_part(&token, 0, &b64(br#"{"alg":256}"#)),
                "invalid token header",
            ),
            (
                with_part(&token, 0, &b64(br#"{"alg":"ES256","kid":5}"#)),
                "invalid token header",
            ),
            (
                with_part(&token, 0, &b64(br#"{"alg":"ES256","alg":"none"}"#)),
                "duplicate field `alg`",
            ),
            (
                with_part(
                    &token,
                    0,
                    &b64(br#"{"alg":"ES256","crit":["exp"],"exp":1}"#),
                ),
                "crit",
            ),
            (
                format!("{header}.{}.{}", parts[1], "x".repeat(MAX_TOKEN_BYTES)),
                "byte limit",
            ),
            ("\u{e9}.\u{e9}.\u{e9}".to_owned(), "header is not base64url"),
        ];
        for (token, expected) in cases {
            let err = parse(&token).unwrap_err();
            assert!(err.to_string().contains(expected), "{token:.80}: {err}");
        }
        assert_eq!(
            parse(&"a".repeat(MAX_TOKEN_BYTES + 1)).unwrap_err(),
            JwtError::TooLong {
                len: MAX_TOKEN_BYTES + 1
            }
        );
    }

    #[test]
    fn tokens_up_to_the_limit_parse() {
        let key = signing(EC_P256_SEC1);
        let mut claims = claims();
        claims["padding"] = json!("p".repeat(40_000));
        let token = sign(&key, &claims).unwrap();
        assert!(token.len() < MAX_TOKEN_BYTES);
        assert!(parse(&token).unwrap().verify(&[key.public_key().clone()]));
        // Many dots are rejected without quadratic work.
        let dots = ".".repeat(MAX_TOKEN_BYTES);
        assert!(matches!(parse(&dots), Err(JwtError::Malformed(_))));
    }

    #[test]
    fn claims_decode_errors() {
        #[derive(Debug, Deserialize)]
        struct Claims {
            sub: String,
            exp: u64,
        }
        let key = signing(EC_P256_SEC1);
        let token = parse(&sign(&key, &claims()).unwrap()).unwrap();
        let parsed: Claims = token.claims().unwrap();
        assert_eq!(parsed.sub, "system:serviceaccount:default:builder");
        assert_eq!(parsed.exp, 1_900_000_000);
        let token = parse(&sign(&key, &json!({"sub": 5})).unwrap()).unwrap();
        let err = token.claims::<Claims>().unwrap_err();
        assert!(matches!(err, JwtError::Claims(_)), "{err}");
        assert!(err.to_string().starts_with("invalid token claims"), "{err}");
    }
}
