//! The service-account token authenticator (upstream's
//! `JWTTokenAuthenticator` with the bound-token validator): a bearer token
//! from one of our issuers is checked for a signature by one of
//! `--service-account-key-file`'s keys, its time window, an audience the
//! request accepts, and for the objects it names still being there with the
//! same UIDs. A token from another issuer (or no JWT at all) is left to the
//! other authenticators.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use apiserver::authentication::{TokenAuthenticator, TokenVerdict};

use super::claims::{Claims, Ref};
use super::jwt;
use super::keys::PublicKey;
use super::lookup::{BoundKind, BoundObjects, Identity};

/// How far the clocks of the issuer and this server may disagree (go-jose's
/// `DefaultLeeway`, which upstream's validator uses).
pub const LEEWAY_SECONDS: i64 = 60;

/// Judges service-account tokens.
#[derive(Debug)]
pub struct ServiceAccountTokenAuthenticator {
    /// `--service-account-issuer`: every value is accepted.
    issuers: Vec<String>,
    /// `--service-account-key-file`'s keys.
    keys: Vec<PublicKey>,
    /// The same keys by key ID (`kid`).
    keys_by_id: HashMap<String, Vec<PublicKey>>,
    /// `--api-audiences`: what a token without `aud` is taken to be for.
    implicit_audiences: Vec<String>,
    objects: Arc<BoundObjects>,
    /// Tokens whose signature was verified, by the SHA-256 of the token,
    /// with their claims: a token is verified once, and each use checks
    /// only its time, audience and bound objects.
    verified: RwLock<HashMap<[u8; 32], Arc<Claims>>>,
    /// How many it holds at most ([`VERIFIED_TOKENS`]).
    verified_capacity: usize,
}

/// The most verified tokens remembered; past it the memory starts anew (a
/// flood of fresh tokens costs their verification, nothing more).
pub const VERIFIED_TOKENS: usize = 4096;

/// What is read of a token before its signature is checked.
#[derive(Deserialize)]
struct IssuerOnly {
    #[serde(default)]
    iss: String,
}

impl ServiceAccountTokenAuthenticator {
    pub fn new(
        issuers: Vec<String>,
        keys: Vec<PublicKey>,
        implicit_audiences: Vec<String>,
        objects: Arc<BoundObjects>,
    ) -> Self {
        let mut keys_by_id: HashMap<String, Vec<PublicKey>> = HashMap::new();
        for key in &keys {
            keys_by_id
                .entry(key.key_id())
                .or_default()
                .push(key.clone());
        }
        ServiceAccountTokenAuthenticator {
            issuers,
            keys,
            keys_by_id,
            implicit_audiences,
            objects,
            verified: RwLock::default(),
            verified_capacity: VERIFIED_TOKENS,
        }
    }

    /// The claims of a token whose signature is ours, from memory or
    /// verified now; `Err` with the verdict otherwise.
    fn verified_claims(&self, token: &str) -> Result<Arc<Claims>, TokenVerdict> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some(claims) = self
            .verified
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&digest)
        {
            return Ok(Arc::clone(claims));
        }
        let Ok(unverified) = jwt::parse(token) else {
            return Err(TokenVerdict::NotMine);
        };
        // `hasCorrectIssuer`: tokens of other issuers are someone else's.
        match unverified.claims::<IssuerOnly>() {
            Ok(claimed) if self.issuers.contains(&claimed.iss) => {}
            _ => return Err(TokenVerdict::NotMine),
        }
        // A token naming its key is checked against that key alone.
        let keys = match unverified
            .header()
            .kid
            .as_deref()
            .filter(|kid| !kid.is_empty())
        {
            Some(kid) => self.keys_by_id.get(kid).map_or(&[][..], Vec::as_slice),
            None => &self.keys[..],
        };
        if keys.is_empty() {
            return Err(rejected("invalid signature, no keys found"));
        }
        if !unverified.verify(keys) {
            return Err(rejected(
                "invalid signature: no service-account key verifies it",
            ));
        }
        let claims: Arc<Claims> = match unverified.claims() {
            Ok(claims) => Arc::new(claims),
            Err(err) => {
                return Err(rejected(format!("the token's claims do not parse: {err}")));
            }
        };
        let mut verified = self.verified.write().unwrap_or_else(|e| e.into_inner());
        if verified.len() >= self.verified_capacity {
            verified.clear();
        }
        verified.insert(digest, Arc::clone(&claims));
        Ok(claims)
    }

    /// The verdict at `now` (seconds since the epoch).
    pub async fn authenticate_at(
        &self,
        token: &str,
        audiences: &[String],
        now: i64,
    ) -> TokenVerdict {
        let claims = match self.verified_claims(token) {
            Ok(claims) => claims,
            Err(verdict) => return verdict,
        };
        if let Err(reason) = check_time(&claims, now) {
            return rejected(reason);
        }
        let token_audiences = if claims.aud.is_empty() {
            self.implicit_audiences.clone()
        } else {
            claims.aud.clone()
        };
        let requested = if audiences.is_empty() {
            &self.implicit_audiences
        } else {
            audiences
        };
        let granted: Vec<String> = token_audiences
            .iter()
            .filter(|aud| requested.contains(aud))
            .cloned()
            .collect();
        if granted.is_empty() && !self.implicit_audiences.is_empty() {
            return rejected(format!(
                "token audiences {token_audiences:?} is invalid for the target audiences {requested:?}"
            ));
        }
        if let Err(reason) = self.check_bound_objects(&claims, now).await {
            return rejected(reason);
        }
        TokenVerdict::Authenticated {
            user: claims.user_info(),
            audiences: granted,
        }
    }

    /// `validator.Validate`: the service account, and the secret, pod or
    /// node the token is bound to, exist with the UIDs it names and were
    /// not deleted more than [`LEEWAY_SECONDS`] ago. The reasons are
    /// upstream's.
    async fn check_bound_objects(&self, claims: &Claims, now: i64) -> Result<(), String> {
        const INVALIDATED: &str = "service account token has been invalidated";
        let private = &claims.kubernetes;
        let namespace = private.namespace.as_str();
        let deleted = |identity: &Identity| {
            identity
                .deletion_timestamp
                .is_some_and(|at| at < now - LEEWAY_SECONDS)
        };
        let account = &private.serviceaccount;
        let found = self
            .lookup(BoundKind::ServiceAccount, namespace, account)
            .await?
            .ok_or_else(|| format!("serviceaccounts {:?} not found", account.name))?;
        if found.uid != account.uid {
            return Err(format!(
                "service account UID ({}) does not match claim ({})",
                found.uid, account.uid
            ));
        }
        if deleted(&found) {
            return Err(format!(
                "service account {namespace}/{} has been deleted",
                account.name
            ));
        }
        let mut bound = Vec::new();
        if let Some(secret) = &private.secret {
            bound.push((BoundKind::Secret, "secret", namespace, secret));
        }
        if let Some(pod) = &private.pod {
            bound.push((BoundKind::Pod, "pod", namespace, pod));
        }
        // A pod-bound token only records its pod's node.
        if let (Some(node), None) = (&private.node, &private.pod) {
            bound.push((BoundKind::Node, "node", "", node));
        }
        for (kind, what, namespace, claimed) in bound {
            let found = self
                .lookup(kind, namespace, claimed)
                .await?
                .ok_or(INVALIDATED)?;
            if found.uid != claimed.uid {
                return Err(format!(
                    "{what} UID ({}) does not match service account {what} ref claim ({})",
                    found.uid, claimed.uid
                ));
            }
            if deleted(&found) {
                return Err(INVALIDATED.to_string());
            }
        }
        Ok(())
    }

    async fn lookup(
        &self,
        kind: BoundKind,
        namespace: &str,
        claimed: &Ref,
    ) -> Result<Option<Identity>, String> {
        self.objects
            .get(kind, namespace, &claimed.name, &claimed.uid)
            .await
            .map_err(|err| format!("looking up {kind:?} {namespace}/{}: {err}", claimed.name))
    }
}

/// go-jose's `Claims.Validate` with its leeway: not expired, already valid,
/// not issued in the future.
fn check_time(claims: &Claims, now: i64) -> Result<(), &'static str> {
    if now - LEEWAY_SECONDS > claims.exp {
        return Err("service account token has expired");
    }
    if claims.nbf > now + LEEWAY_SECONDS {
        return Err("service account token is not valid yet");
    }
    if claims.iat > now + LEEWAY_SECONDS {
        return Err("service account token is issued in the future");
    }
    Ok(())
}

fn rejected(reason: impl Into<String>) -> TokenVerdict {
    TokenVerdict::Rejected(reason.into())
}

#[async_trait::async_trait]
impl TokenAuthenticator for ServiceAccountTokenAuthenticator {
    async fn authenticate_token(&self, token: &str, audiences: &[String]) -> TokenVerdict {
        self.authenticate_at(token, audiences, jiff::Timestamp::now().as_second())
            .await
    }

    fn audience_aware(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use serde_json::json;

    use apiserver_storage::Storage;

    use crate::serviceaccount::claims::{Binding, Ref};
    use crate::serviceaccount::keys::SigningKey;
    use crate::serviceaccount::keys::test_keys::{EC_P256_SEC1, RSA_PKCS1, RSA2_PKCS8};
    use crate::testing::CountingGets;

    const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";
    const NOW: i64 = 1_800_000_000;

    struct Fixture {
        storage: Arc<dyn Storage>,
        authenticator: ServiceAccountTokenAuthenticator,
        key: SigningKey,
    }

    async fn fixture() -> Fixture {
        let storage: Arc<dyn Storage> = Arc::new(CountingGets::open().await);
        storage
            .create(
                "/registry/serviceaccounts/ci/builder",
                Bytes::from(
                    json!({"metadata": {"name": "builder", "namespace": "ci", "uid": "sa-1"}})
                        .to_string(),
                ),
            )
            .await
            .unwrap();
        let key = SigningKey::from_pem(RSA_PKCS1.as_bytes()).unwrap();
        let other = SigningKey::from_pem(EC_P256_SEC1.as_bytes()).unwrap();
        let authenticator = ServiceAccountTokenAuthenticator::new(
            vec![ISSUER.to_string(), "https://old.example".to_string()],
            vec![other.public_key().clone(), key.public_key().clone()],
            vec![ISSUER.to_string()],
            BoundObjects::start(&storage),
        );
        Fixture {
            storage,
            authenticator,
            key,
        }
    }

    fn binding() -> Binding {
        Binding {
            namespace: "ci".into(),
            service_account: Ref {
                name: "builder".into(),
                uid: "sa-1".into(),
            },
            ..Binding::default()
        }
    }

    fn token(key: &SigningKey, claims: &Claims) -> String {
        jwt::sign(key, claims).unwrap()
    }

    fn claims(binding: Binding) -> Claims {
        Claims::new(ISSUER, binding, vec![ISSUER.to_string()], NOW, 3600, None)
    }

    fn reason(verdict: TokenVerdict) -> String {
        match verdict {
            TokenVerdict::Rejected(reason) => reason,
            other => panic!("not rejected: {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_valid_token_proves_its_service_account() {
        let f = fixture().await;
        let claims = claims(binding());
        let verdict = f
            .authenticator
            .authenticate_at(&token(&f.key, &claims), &[], NOW + 10)
            .await;
        let TokenVerdict::Authenticated { user, audiences } = verdict else {
            panic!("{verdict:?}");
        };
        assert_eq!(user.name, "system:serviceaccount:ci:builder");
        assert_eq!(user.uid, "sa-1");
        assert_eq!(audiences, [ISSUER]);
        // Another accepted issuer, and the token's own audience asked for.
        let mut older = claims.clone();
        older.iss = "https://old.example".into();
        older.aud = vec!["vault".into()];
        let verdict = f
            .authenticator
            .authenticate_at(&token(&f.key, &older), &["vault".to_string()], NOW)
            .await;
        assert!(
            matches!(&verdict, TokenVerdict::Authenticated { audiences, .. } if audiences == &["vault"]),
            "{verdict:?}"
        );
    }

    #[tokio::test]
    async fn time_audience_issuer_and_key_are_checked() {
        let f = fixture().await;
        let good = claims(binding());
        let signed = token(&f.key, &good);
        // Within the minute of leeway, then past it.
        assert!(matches!(
            f.authenticator
                .authenticate_at(&signed, &[], good.exp + 60)
                .await,
            TokenVerdict::Authenticated { .. }
        ));
        assert_eq!(
            reason(
                f.authenticator
                    .authenticate_at(&signed, &[], good.exp + 61)
                    .await
            ),
            "service account token has expired"
        );
        assert_eq!(
            reason(
                f.authenticator
                    .authenticate_at(&signed, &[], NOW - 61)
                    .await
            ),
            "service account token is not valid yet"
        );
        assert_eq!(
            reason(
                f.authenticator
                    .authenticate_at(&signed, &["vault".to_string()], NOW)
                    .await
            ),
            format!("token audiences [{ISSUER:?}] is invalid for the target audiences [\"vault\"]")
        );
        // Another issuer's token is someone else's to judge.
        let mut foreign = good.clone();
        foreign.iss = "https://elsewhere.example".into();
        assert_eq!(
            f.authenticator
                .authenticate_at(&token(&f.key, &foreign), &[], NOW)
                .await,
            TokenVerdict::NotMine
        );
        assert_eq!(
            f.authenticator.authenticate_at("not-a-jwt", &[], NOW).await,
            TokenVerdict::NotMine
        );
        // Signed by a key that is not ours: its kid matches none.
        let stranger = SigningKey::from_pem(RSA2_PKCS8.as_bytes()).unwrap();
        assert_eq!(
            reason(
                f.authenticator
                    .authenticate_at(&token(&stranger, &good), &[], NOW)
                    .await
            ),
            "invalid signature, no keys found"
        );
        // Our kid on another key's signature.
        let ours = signed.split('.').next().unwrap();
        let theirs = token(&stranger, &good);
        let forged = format!("{ours}.{}", theirs.split_once('.').unwrap().1);
        assert!(
            reason(f.authenticator.authenticate_at(&forged, &[], NOW).await)
                .starts_with("invalid signature")
        );
    }

    #[tokio::test]
    async fn verified_tokens_are_remembered_within_a_bound() {
        let mut f = fixture().await;
        f.authenticator.verified_capacity = 2;
        let remembered = |f: &Fixture| f.authenticator.verified.read().unwrap().len();
        let first = token(&f.key, &claims(binding()));
        for _ in 0..3 {
            assert!(matches!(
                f.authenticator.authenticate_at(&first, &[], NOW).await,
                TokenVerdict::Authenticated { .. }
            ));
        }
        assert_eq!(remembered(&f), 1, "one token, verified once");
        // Remembered, yet still judged by its time on every use.
        assert_eq!(
            reason(
                f.authenticator
                    .authenticate_at(&first, &[], NOW + 3600 + 61)
                    .await
            ),
            "service account token has expired"
        );
        for _ in 0..3 {
            let fresh = token(&f.key, &claims(binding()));
            f.authenticator.authenticate_at(&fresh, &[], NOW).await;
            assert!(remembered(&f) <= 2);
        }
        // A rejected token is never remembered.
        f.authenticator.verified.write().unwrap().clear();
        let stranger = SigningKey::from_pem(RSA2_PKCS8.as_bytes()).unwrap();
        f.authenticator
            .authenticate_at(&token(&stranger, &claims(binding())), &[], NOW)
            .await;
        assert_eq!(remembered(&f), 0);
    }

    #[tokio::test]
    async fn deleted_or_replaced_objects_revoke_their_tokens() {
        let f = fixture().await;
        let mut replaced = binding();
        replaced.service_account.uid = "sa-0".into();
        assert_eq!(
            reason(
                f.authenticator
                    .authenticate_at(&token(&f.key, &claims(replaced)), &[], NOW)
                    .await
            ),
            "service account UID (sa-1) does not match claim (sa-0)"
        );
        let mut pod_bound = binding();
        pod_bound.pod = Some(Ref {
            name: "job".into(),
            uid: "pod-1".into(),
        });
        assert_eq!(
            reason(
                f.authenticator
                    .authenticate_at(&token(&f.key, &claims(pod_bound)), &[], NOW)
                    .await
            ),
            "service account token has been invalidated"
        );
        let signed = token(&f.key, &claims(binding()));
        f.storage
            .delete("/registry/serviceaccounts/ci/builder", None)
            .await
            .unwrap();
        for _ in 0..200 {
            match f.authenticator.authenticate_at(&signed, &[], NOW).await {
                TokenVerdict::Rejected(reason) => {
                    assert_eq!(reason, "serviceaccounts \"builder\" not found");
                    return;
                }
                _ => tokio::time::sleep(std::time::Duration::from_millis(10)).await,
            }
        }
        panic!("the deleted service account's token is still accepted");
    }
}
