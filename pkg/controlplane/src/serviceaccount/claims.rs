//! The claims of a service-account token (upstream's
//! `pkg/serviceaccount/claims.go`): the registered JWT claims, and under
//! `kubernetes.io` the namespace, the service account and the one object the
//! token is bound to; and the identity a valid token proves.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use apiserver::authentication::{UserInfo, service_account_username};

/// `authentication.kubernetes.io/pod-name`: the pod a token is bound to.
pub const POD_NAME_KEY: &str = "authentication.kubernetes.io/pod-name";
/// `authentication.kubernetes.io/pod-uid`.
pub const POD_UID_KEY: &str = "authentication.kubernetes.io/pod-uid";
/// `authentication.kubernetes.io/node-name`: the node a token is bound to,
/// or the node of the pod it is bound to.
pub const NODE_NAME_KEY: &str = "authentication.kubernetes.io/node-name";
/// `authentication.kubernetes.io/node-uid`.
pub const NODE_UID_KEY: &str = "authentication.kubernetes.io/node-uid";
/// `authentication.kubernetes.io/credential-id`: `JTI=<token ID>`.
pub const CREDENTIAL_ID_KEY: &str = "authentication.kubernetes.io/credential-id";

/// Every service account's group.
pub const ALL_SERVICE_ACCOUNTS_GROUP: &str = "system:serviceaccounts";

/// The claims of a token, in the order upstream's signer writes them
/// (its claims are merged through a map, so the keys come sorted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    #[serde(default, with = "audience")]
    pub aud: Vec<String>,
    pub exp: i64,
    pub iat: i64,
    pub iss: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub jti: String,
    #[serde(rename = "kubernetes.io")]
    pub kubernetes: PrivateClaims,
    pub nbf: i64,
    pub sub: String,
}

/// `kubernetes.io`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrivateClaims {
    pub namespace: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<Ref>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<Ref>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<Ref>,
    pub serviceaccount: Ref,
    /// Past this time a valid token is stale: still accepted, but the
    /// holder should have refreshed it (the kubelet's extended tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warnafter: Option<i64>,
}

/// An object a token names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ref {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub uid: String,
}

/// `aud`: written as a list (as upstream's signer does, even for one
/// audience), read as a string or a list (RFC 7519 allows both).
mod audience {
    use super::*;

    pub fn serialize<S: Serializer>(
        audiences: &[String],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        audiences.serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<String>, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum OneOrMany {
            One(String),
            Many(Vec<String>),
        }
        Ok(match OneOrMany::deserialize(deserializer)? {
            OneOrMany::One(one) => vec![one],
            OneOrMany::Many(many) => many,
        })
    }
}

/// The objects a new token is for.
#[derive(Debug, Clone, Default)]
pub struct Binding {
    /// The service account (namespace, name, uid).
    pub namespace: String,
    pub service_account: Ref,
    pub pod: Option<Ref>,
    pub secret: Option<Ref>,
    /// The node a token is bound to, or the node of its pod.
    pub node: Option<Ref>,
}

impl Claims {
    /// Upstream's `Claims(...)`: a token for `binding` valid from `now` for
    /// `expiration_seconds`, stale after `warn_after_seconds` (when set).
    pub fn new(
        issuer: &str,
        binding: Binding,
        audiences: Vec<String>,
        now: i64,
        expiration_seconds: i64,
        warn_after_seconds: Option<i64>,
    ) -> Self {
        Claims {
            aud: audiences,
            exp: now.saturating_add(expiration_seconds),
            iat: now,
            iss: issuer.to_string(),
            jti: uuid::Uuid::new_v4().to_string(),
            sub: service_account_username(&binding.namespace, &binding.service_account.name),
            nbf: now,
            kubernetes: PrivateClaims {
                namespace: binding.namespace,
                node: binding.node,
                pod: binding.pod,
                secret: binding.secret,
                serviceaccount: binding.service_account,
                warnafter: warn_after_seconds.map(|seconds| now.saturating_add(seconds)),
            },
        }
    }

    /// The identity the token proves (`ServiceAccountInfo.UserInfo`). A
    /// pod-bound token also names its pod and, when known, its node; a
    /// node-bound one its node.
    pub fn user_info(&self) -> UserInfo {
        let private = &self.kubernetes;
        let mut extra = BTreeMap::new();
        if let Some(pod) = private
            .pod
            .as_ref()
            .filter(|p| !p.name.is_empty() && !p.uid.is_empty())
        {
            extra.insert(POD_NAME_KEY.to_string(), vec![pod.name.clone()]);
            extra.insert(POD_UID_KEY.to_string(), vec![pod.uid.clone()]);
        }
        if !self.jti.is_empty() {
            extra.insert(
                CREDENTIAL_ID_KEY.to_string(),
                vec![format!("JTI={}", self.jti)],
            );
        }
        if let Some(node) = private.node.as_ref().filter(|n| !n.name.is_empty()) {
            extra.insert(NODE_NAME_KEY.to_string(), vec![node.name.clone()]);
            if !node.uid.is_empty() {
                extra.insert(NODE_UID_KEY.to_string(), vec![node.uid.clone()]);
            }
        }
        UserInfo {
            name: service_account_username(&private.namespace, &private.serviceaccount.name),
            uid: private.serviceaccount.uid.clone(),
            groups: vec![
                ALL_SERVICE_ACCOUNTS_GROUP.to_string(),
                format!("{ALL_SERVICE_ACCOUNTS_GROUP}:{}", private.namespace),
            ],
            extra,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn binding() -> Binding {
        Binding {
            namespace: "ci".into(),
            service_account: Ref {
                name: "builder".into(),
                uid: "sa-1".into(),
            },
            pod: Some(Ref {
                name: "job-x".into(),
                uid: "pod-1".into(),
            }),
            secret: None,
            node: Some(Ref {
                name: "node-a".into(),
                uid: "node-1".into(),
            }),
        }
    }

    #[test]
    fn claims_are_written_as_upstream_writes_them() {
        let claims = Claims::new(
            "https://kubernetes.default.svc.cluster.local",
            binding(),
            vec!["api".into()],
            1_000,
            3_600,
            Some(600),
        );
        let mut written = serde_json::to_value(&claims).unwrap();
        assert!(
            written["jti"].as_str().is_some_and(|j| j.len() == 36),
            "a UUID token ID"
        );
        written["jti"] = json!("id");
        assert_eq!(
            written,
            json!({
                "aud": ["api"],
                "exp": 4_600,
                "iat": 1_000,
                "iss": "https://kubernetes.default.svc.cluster.local",
                "jti": "id",
                "kubernetes.io": {
                    "namespace": "ci",
                    "node": {"name": "node-a", "uid": "node-1"},
                    "pod": {"name": "job-x", "uid": "pod-1"},
                    "serviceaccount": {"name": "builder", "uid": "sa-1"},
                    "warnafter": 1_600
                },
                "nbf": 1_000,
                "sub": "system:serviceaccount:ci:builder"
            })
        );
        let keys: Vec<_> = written.as_object().unwrap().keys().cloned().collect();
        let text = serde_json::to_string(&claims).unwrap();
        let positions: Vec<_> = keys
            .iter()
            .map(|k| text.find(&format!("\"{k}\"")).unwrap())
            .collect();
        assert!(positions.is_sorted(), "keys in sorted order: {text}");
    }

    #[test]
    fn audiences_read_as_a_string_or_a_list() {
        let mut claims = serde_json::to_value(Claims::new(
            "iss",
            binding(),
            vec!["a".into(), "b".into()],
            0,
            600,
            None,
        ))
        .unwrap();
        assert_eq!(claims["aud"], json!(["a", "b"]));
        let read: Claims = serde_json::from_value(claims.clone()).unwrap();
        assert_eq!(read.aud, ["a", "b"]);
        claims["aud"] = json!("only");
        let read: Claims = serde_json::from_value(claims).unwrap();
        assert_eq!(read.aud, ["only"]);
    }

    #[test]
    fn the_user_carries_the_pod_node_and_credential() {
        let claims = Claims::new("iss", binding(), vec![], 0, 600, None);
        let user = claims.user_info();
        assert_eq!(user.name, "system:serviceaccount:ci:builder");
        assert_eq!(user.uid, "sa-1");
        assert_eq!(
            user.groups,
            ["system:serviceaccounts", "system:serviceaccounts:ci"]
        );
        assert_eq!(user.extra[POD_NAME_KEY], ["job-x"]);
        assert_eq!(user.extra[POD_UID_KEY], ["pod-1"]);
        assert_eq!(user.extra[NODE_NAME_KEY], ["node-a"]);
        assert_eq!(user.extra[NODE_UID_KEY], ["node-1"]);
        assert_eq!(
            user.extra[CREDENTIAL_ID_KEY],
            [format!("JTI={}", claims.jti)]
        );
        let unbound = Claims::new(
            "iss",
            Binding {
                pod: None,
                node: None,
                ..binding()
            },
            vec![],
            0,
            600,
            None,
        );
        assert_eq!(
            unbound.user_info().extra.keys().collect::<Vec<_>>(),
            [CREDENTIAL_ID_KEY]
        );
    }
}
