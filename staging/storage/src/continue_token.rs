//! List `continue` tokens, in Kubernetes' format (`k8s.io/apiserver/pkg/storage`
//! `EncodeContinue` / `DecodeContinue`): unpadded URL-safe base64 of
//! `{"v":"meta.k8s.io/v1","rv":<revision>,"start":"<next key after the prefix>"}`.
//! Tokens are opaque to clients; the start key is relative to the listed
//! prefix and checked so that a crafted token cannot escape it.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::{Revision, StorageError};

const TOKEN_API_VERSION: &str = "meta.k8s.io/v1";

/// A decoded continue token: where the next page starts and at which
/// revision the whole list is read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContinueToken {
    /// The revision of the first page; every page is read at it.
    pub revision: Revision,
    /// The full key the next page starts at (inclusive).
    pub start_key: String,
}

#[derive(Serialize, Deserialize)]
struct Wire {
    v: String,
    rv: i64,
    start: String,
}

impl ContinueToken {
    /// The token for a page that ended at `last_key`: the next page starts
    /// just after it (`last_key + "\0"`).
    pub fn after(last_key: &str, revision: Revision) -> Self {
        ContinueToken {
            revision,
            start_key: format!("{last_key}\0"),
        }
    }

    /// Encodes the token for a list of `prefix`.
    pub fn encode(&self, prefix: &str) -> Result<String, StorageError> {
        let start = self.start_key.strip_prefix(prefix).ok_or_else(|| {
            StorageError::internal(
                "encoding a continue token",
                format!("key {:?} is not under {prefix:?}", self.start_key),
            )
        })?;
        let rv = i64::try_from(self.revision.get()).map_err(|e| {
            StorageError::internal("encoding a continue token", format!("revision: {e}"))
        })?;
        let wire = Wire {
            v: TOKEN_API_VERSION.to_owned(),
            rv,
            start: start.to_owned(),
        };
        let json = serde_json::to_vec(&wire)
            .map_err(|e| StorageError::internal("encoding a continue token", e))?;
        Ok(URL_SAFE_NO_PAD.encode(json))
    }

    /// Decodes a client's token for a list of `prefix`.
    pub fn decode(token: &str, prefix: &str) -> Result<Self, StorageError> {
        let invalid = |reason: String| StorageError::InvalidContinue { reason };
        let json = URL_SAFE_NO_PAD
            .decode(token.trim_end_matches('='))
            .map_err(|e| invalid(format!("not base64: {e}")))?;
        let wire: Wire =
            serde_json::from_slice(&json).map_err(|e| invalid(format!("not a token: {e}")))?;
        if wire.v != TOKEN_API_VERSION {
            return Err(invalid(format!(
                "version {:?} is not supported by this server",
                wire.v
            )));
        }
        if wire.start.is_empty() {
            return Err(invalid("encoded start key empty".into()));
        }
        // Kubernetes' defence against path traversal: the start key, as a
        // path, must already be clean (no empty, "." or ".." segments).
        let relative = wire.start.strip_prefix('/').unwrap_or(&wire.start);
        if relative
            .split('/')
            .any(|segment| segment.is_empty() || segment == "." || segment == "..")
        {
            return Err(invalid(format!("start key {:?} is not clean", wire.start)));
        }
        let revision = u64::try_from(wire.rv)
            .ok()
            .filter(|rv| *rv > 0)
            .map(Revision::new)
            .ok_or_else(|| invalid(format!("revision {} is not positive", wire.rv)))?;
        Ok(ContinueToken {
            revision,
            start_key: format!("{prefix}{relative}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PREFIX: &str = "/registry/pods/";

    #[test]
    fn round_trips_relative_to_the_prefix() {
        let token = ContinueToken::after("/registry/pods/default/nginx", Revision::new(42));
        let encoded = token.encode(PREFIX).expect("encode");
        let json = URL_SAFE_NO_PAD.decode(&encoded).expect("base64");
        assert_eq!(
            String::from_utf8(json).expect("utf8"),
            r#"{"v":"meta.k8s.io/v1","rv":42,"start":"default/nginx\u0000"}"#
        );
        assert_eq!(
            ContinueToken::decode(&encoded, PREFIX).expect("decode"),
            token
        );
    }

    #[test]
    fn rejects_garbage_and_traversal() {
        let encode = |json: &str| URL_SAFE_NO_PAD.encode(json);
        for bad in [
            "%%%".to_owned(),
            encode("{}"),
            encode(r#"{"v":"meta.k8s.io/v2","rv":1,"start":"a"}"#),
            encode(r#"{"v":"meta.k8s.io/v1","rv":1,"start":""}"#),
            encode(r#"{"v":"meta.k8s.io/v1","rv":0,"start":"a"}"#),
            encode(r#"{"v":"meta.k8s.io/v1","rv":-4,"start":"a"}"#),
            encode(r#"{"v":"meta.k8s.io/v1","rv":1,"start":"../secrets/x"}"#),
            encode(r#"{"v":"meta.k8s.io/v1","rv":1,"start":"a//b"}"#),
        ] {
            let err = ContinueToken::decode(&bad, PREFIX).expect_err(&bad);
            assert!(
                matches!(err, StorageError::InvalidContinue { .. }),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn encoding_a_key_outside_the_prefix_fails() {
        let token = ContinueToken::after("/registry/services/x", Revision::new(1));
        assert!(token.encode(PREFIX).is_err());
    }
}
