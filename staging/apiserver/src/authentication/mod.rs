//! Authentication: who sent a request. The authenticator chain mirrors
//! upstream's union: client certificate, then bearer token (static token
//! file), then anonymous (only when enabled and no credential failed).

pub mod token_file;
pub mod x509;

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
}

impl UserInfo {
    pub fn anonymous() -> Self {
        UserInfo {
            name: ANONYMOUS_USER.to_string(),
            uid: String::new(),
            groups: vec![UNAUTHENTICATED_GROUP.to_string()],
        }
    }

    /// Adds `system:authenticated`, as upstream's group adder does.
    fn authenticated(mut self) -> Self {
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

/// The configured authenticators.
#[derive(Debug, Clone, Default)]
pub struct Authenticator {
    pub anonymous: bool,
    pub tokens: Option<TokenFile>,
}

impl Authenticator {
    /// Authenticates a request from its client certificate and headers.
    pub fn authenticate(
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
            match self.tokens.as_ref().and_then(|t| t.lookup(token)) {
                Some(user) => return Ok(user.clone().authenticated()),
                None => failure = Some("invalid bearer token".to_string()),
            }
        }
        match failure {
            Some(reason) => Err(AuthenticationError(reason)),
            None if self.anonymous => Ok(UserInfo::anonymous()),
            None => Err(AuthenticationError("no credentials provided".to_string())),
        }
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

    #[test]
    fn token_then_anonymous() {
        let tokens = TokenFile::parse("abc,alice,1,\"dev,ops\"\n").unwrap();
        let authn = Authenticator {
            anonymous: true,
            tokens: Some(tokens),
        };
        let alice = authn.authenticate(None, &headers("Bearer abc")).unwrap();
        assert_eq!(alice.name, "alice");
        assert_eq!(alice.groups, ["dev", "ops", AUTHENTICATED_GROUP]);
        assert!(authn.authenticate(None, &headers("Bearer nope")).is_err());
        assert_eq!(
            authn.authenticate(None, &HeaderMap::new()).unwrap().name,
            ANONYMOUS_USER
        );
        let closed = Authenticator {
            anonymous: false,
            tokens: None,
        };
        assert!(closed.authenticate(None, &HeaderMap::new()).is_err());
    }

    #[test]
    fn certificate_wins_over_token() {
        let authn = Authenticator::default();
        let cert = ClientCertIdentity(Some(Ok(UserInfo {
            name: "bob".into(),
            ..UserInfo::default()
        })));
        assert_eq!(
            authn
                .authenticate(Some(&cert), &HeaderMap::new())
                .unwrap()
                .name,
            "bob"
        );
    }
}
