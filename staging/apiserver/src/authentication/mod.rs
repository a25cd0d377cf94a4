//! Authentication: who sent a request. The authenticator chain mirrors
//! upstream's union: client certificate, then bearer token (each
//! [`TokenAuthenticator`] in turn: the static token file, service-account
//! tokens), then anonymous (only when enabled and no credential failed).

pub mod token_file;
pub mod x509;

use std::collections::BTreeMap;
use std::sync::Arc;

use http::HeaderMap;
use http::header::AUTHORIZATION;

pub use token_file::TokenFile;

pub const ANONYMOUS_USER: &str = "system:anonymous";
pub const UNAUTHENTICATED_GROUP: &str = "system:unauthenticated";
pub const AUTHENTICATED_GROUP: &str = "system:authenticated";
pub const PRIVILEGED_GROUP: &str = "system:masters";

/// The user name of a service account (upstream's `serviceaccount.MakeUsername`).
pub fn service_account_username(namespace: &str, name: &str) -> String {
    format!("system:serviceaccount:{namespace}:{name}")
}

/// `user.Info`: the authenticated identity of a request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserInfo {
    pub name: String,
    pub uid: String,
    pub groups: Vec<String>,
    /// Further facts an authenticator records (`authentication.kubernetes.io/pod-name`, ...).
    pub extra: BTreeMap<String, Vec<String>>,
}

impl UserInfo {
    pub fn anonymous() -> Self {
        UserInfo {
            name: ANONYMOUS_USER.to_string(),
            groups: vec![UNAUTHENTICATED_GROUP.to_string()],
            ..UserInfo::default()
        }
    }

    /// Adds `system:authenticated`, as upstream's group adder does.
    pub fn authenticated(mut self) -> Self {
        if !self.groups.iter().any(|g| g == AUTHENTICATED_GROUP) {
            self.groups.push(AUTHENTICATED_GROUP.to_string());
        }
        self
    }
}

/// The identity a verified client certificate proved for a connection, put
/// into each request's extensions by the server's accept loop.
#[derive(Debug, Clone, Default)]
pub struct ClientCertIdentity(pub Option<Result<UserInfo, String>>);

/// Why authentication failed (logged, never sent to the client).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticationError(pub String);

/// What a token authenticator makes of a bearer token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenVerdict {
    /// Not a token of this authenticator's kind: the next one is asked.
    NotMine,
    /// The token proves `user`, for `audiences` (those of the request's it
    /// is bound to; empty when the authenticator does not bind audiences).
    Authenticated {
        user: UserInfo,
        audiences: Vec<String>,
    },
    /// A token of this kind that does not prove anyone (bad signature,
    /// expired, revoked); the reason is logged, never sent.
    Rejected(String),
}

/// One kind of bearer token (upstream's `authenticator.Token`).
#[async_trait::async_trait]
pub trait TokenAuthenticator: Send + Sync + std::fmt::Debug {
    /// Judges `token` for a request to `audiences` (the server's
    /// `--api-audiences`, or a `TokenReview`'s).
    async fn authenticate_token(&self, token: &str, audiences: &[String]) -> TokenVerdict;

    /// Whether the tokens name their audiences. Those of an authenticator
    /// that does not (the token file) are good for the API's audiences
    /// alone (upstream's `WrapAudienceAgnosticToken`).
    fn audience_aware(&self) -> bool {
        false
    }
}

#[async_trait::async_trait]
impl TokenAuthenticator for TokenFile {
    async fn authenticate_token(&self, token: &str, _audiences: &[String]) -> TokenVerdict {
        match self.lookup(token) {
            Some(user) => TokenVerdict::Authenticated {
                user: user.clone(),
                audiences: Vec::new(),
            },
            None => TokenVerdict::NotMine,
        }
    }
}

/// The configured authenticators.
#[derive(Debug, Clone, Default)]
pub struct Authenticator {
    pub anonymous: bool,
    /// Asked in order; the first that does not answer `NotMine` decides.
    pub tokens: Vec<Arc<dyn TokenAuthenticator>>,
    /// `--api-audiences`: what a token must be meant for.
    pub api_audiences: Vec<String>,
}

impl Authenticator {
    /// Authenticates a request from its client certificate and headers.
    pub async fn authenticate(
        &self,
        cert: Option<&ClientCertIdentity>,
        headers: &HeaderMap,
    ) -> Result<UserInfo, AuthenticationError> {
        let mut failure = None;
        match cert.and_then(|c| c.0.as_ref()) {
            Some(Ok(user)) => return Ok(user.clone().authenticated()),
            Some(Err(err)) => failure = Some(err.clone()),
            None => {}
        }
        if let Some(token) = bearer_token(headers) {
            match self.authenticate_token(token, &self.api_audiences).await {
                TokenVerdict::Authenticated { user, .. } => return Ok(user.authenticated()),
                TokenVerdict::Rejected(reason) => failure = Some(reason),
                TokenVerdict::NotMine => failure = Some("invalid bearer token".to_string()),
            }
        }
        match failure {
            Some(reason) => Err(AuthenticationError(reason)),
            None if self.anonymous => Ok(UserInfo::anonymous()),
            None => Err(AuthenticationError("no credentials provided".to_string())),
        }
    }

    /// The bearer-token authenticators alone, as `TokenReview` asks them:
    /// the first answer other than `NotMine` decides.
    pub async fn authenticate_token(&self, token: &str, audiences: &[String]) -> TokenVerdict {
        let api = &self.api_audiences;
        let requested = if audiences.is_empty() { api } else { audiences };
        let for_the_api: Vec<String> = api
            .iter()
            .filter(|aud| requested.contains(aud))
            .cloned()
            .collect();
        for authenticator in &self.tokens {
            let verdict = if authenticator.audience_aware() {
                authenticator.authenticate_token(token, requested).await
            } else if !api.is_empty() && for_the_api.is_empty() {
                continue;
            } else {
                match authenticator.authenticate_token(token, requested).await {
                    TokenVerdict::Authenticated { user, .. } => TokenVerdict::Authenticated {
                        user,
                        audiences: for_the_api.clone(),
                    },
                    other => other,
                }
            };
            match verdict {
                TokenVerdict::NotMine => continue,
                decided => return decided,
            }
        }
        TokenVerdict::NotMine
    }
}

/// The token of an `Authorization: Bearer <token>` header, if any.
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(auth: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, auth.parse().unwrap());
        headers
    }

    #[tokio::test]
    async fn token_then_anonymous() {
        let tokens = TokenFile::parse("abc,alice,1,\"dev,ops\"\n").unwrap();
        let authn = Authenticator {
            anonymous: true,
            tokens: vec![Arc::new(tokens)],
            api_audiences: Vec::new(),
        };
        let alice = authn
            .authenticate(None, &headers("Bearer abc"))
            .await
            .unwrap();
        assert_eq!(alice.name, "alice");
        assert_eq!(alice.groups, ["dev", "ops", AUTHENTICATED_GROUP]);
        assert!(
            authn
                .authenticate(None, &headers("Bearer nope"))
                .await
                .is_err()
        );
        assert_eq!(
            authn
                .authenticate(None, &HeaderMap::new())
                .await
                .unwrap()
                .name,
            ANONYMOUS_USER
        );
        let closed = Authenticator::default();
        assert!(closed.authenticate(None, &HeaderMap::new()).await.is_err());
    }

    /// Judges every token by a fixed verdict, recording the audiences asked.
    #[derive(Debug)]
    struct Fixed(TokenVerdict);

    #[async_trait::async_trait]
    impl TokenAuthenticator for Fixed {
        async fn authenticate_token(&self, _: &str, _: &[String]) -> TokenVerdict {
            self.0.clone()
        }
    }

    #[tokio::test]
    async fn the_first_token_authenticator_with_an_opinion_decides() {
        let bob = UserInfo {
            name: "bob".into(),
            ..UserInfo::default()
        };
        let rejected = Authenticator {
            anonymous: true,
            tokens: vec![
                Arc::new(Fixed(TokenVerdict::NotMine)),
                Arc::new(Fixed(TokenVerdict::Rejected("expired".into()))),
                Arc::new(Fixed(TokenVerdict::Authenticated {
                    user: bob.clone(),
                    audiences: Vec::new(),
                })),
            ],
            api_audiences: Vec::new(),
        };
        // A rejected token is a failed credential: no anonymous fallback.
        assert_eq!(
            rejected.authenticate(None, &headers("Bearer x")).await,
            Err(AuthenticationError("expired".into()))
        );
        let accepted = Authenticator {
            tokens: rejected.tokens[..1]
                .iter()
                .cloned()
                .chain(rejected.tokens[2..].iter().cloned())
                .collect(),
            ..rejected
        };
        let user = accepted
            .authenticate(None, &headers("Bearer x"))
            .await
            .unwrap();
        assert_eq!(user.name, "bob");
        assert_eq!(user.groups, [AUTHENTICATED_GROUP]);
    }

    #[tokio::test]
    async fn file_tokens_are_good_for_the_api_audiences_alone() {
        let authn = Authenticator {
            tokens: vec![Arc::new(TokenFile::parse("abc,alice,1\n").unwrap())],
            api_audiences: vec!["api".into(), "other-api".into()],
            ..Authenticator::default()
        };
        let for_api = authn.authenticate_token("abc", &[]).await;
        assert!(
            matches!(&for_api, TokenVerdict::Authenticated { user, audiences }
                if user.name == "alice" && audiences == &["api", "other-api"]),
            "{for_api:?}"
        );
        let asked = ["vault".to_string(), "api".to_string()];
        let narrowed = authn.authenticate_token("abc", &asked).await;
        assert!(
            matches!(&narrowed, TokenVerdict::Authenticated { audiences, .. } if audiences == &["api"]),
            "{narrowed:?}"
        );
        assert_eq!(
            authn
                .authenticate_token("abc", &["vault".to_string()])
                .await,
            TokenVerdict::NotMine
        );
    }

    #[tokio::test]
    async fn certificate_wins_over_token() {
        let authn = Authenticator::default();
        let cert = ClientCertIdentity(Some(Ok(UserInfo {
            name: "bob".into(),
            ..UserInfo::default()
        })));
        assert_eq!(
            authn
                .authenticate(Some(&cert), &headers("Bearer nope"))
                .await
                .unwrap()
                .name,
            "bob"
        );
    }
}
