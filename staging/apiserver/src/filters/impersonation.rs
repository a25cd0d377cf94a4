//! Impersonation filter (upstream's `WithImpersonation`): `Impersonate-User`,
//! `-Group`, `-Uid` and `-Extra-<key>` headers make the request act as
//! another user, each one authorized first with the `impersonate` verb on
//! `users` (or the service account), `groups`, `uids` and `userextras/<key>`.
//! A caller without the right gets 403, never a silent ignore. The user the
//! request acts as is recorded for audit (`impersonatedUser`).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::HeaderMap;

use super::Chain;
use crate::authentication::{ANONYMOUS_USER, AUTHENTICATED_GROUP, UNAUTHENTICATED_GROUP, UserInfo};
use crate::authorization::{Attributes, Authorizer};
use crate::request_info::RequestInfo;
use crate::status::{Status, StatusDetails};

pub const IMPERSONATE_USER: &str = "impersonate-user";
pub const IMPERSONATE_GROUP: &str = "impersonate-group";
pub const IMPERSONATE_UID: &str = "impersonate-uid";
pub const IMPERSONATE_EXTRA_PREFIX: &str = "impersonate-extra-";

/// The user a request acts as after impersonation, put in the response's
/// extensions for the audit filter.
#[derive(Debug, Clone)]
pub struct ImpersonatedUser(pub UserInfo);

/// One thing to be allowed to impersonate.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    User(String),
    ServiceAccount { namespace: String, name: String },
    Group(String),
    Extra { key: String, value: String },
    Uid(String),
}

impl Target {
    /// The attributes asked of the authorizer: (resource, subresource,
    /// namespace, name).
    fn resource(&self) -> (&'static str, &str, &str, &str) {
        match self {
            Target::User(name) => ("users", "", "", name),
            Target::ServiceAccount { namespace, name } => ("serviceaccounts", "", namespace, name),
            Target::Group(name) => ("groups", "", "", name),
            Target::Extra { key, value } => ("userextras", key, "", value),
            Target::Uid(uid) => ("uids", "", "", uid),
        }
    }
}

/// What the headers ask for; `Ok(None)` without impersonation headers.
fn requested(headers: &HeaderMap) -> Result<Option<(Vec<Target>, UserInfo)>, String> {
    let text = |value: &http::HeaderValue| String::from_utf8_lossy(value.as_bytes()).into_owned();
    let user = headers.get(IMPERSONATE_USER).map(text);
    let groups: Vec<String> = headers
        .get_all(IMPERSONATE_GROUP)
        .iter()
        .map(text)
        .collect();
    let uid = headers.get(IMPERSONATE_UID).map(text);
    let mut extras = Vec::new();
    for (name, value) in headers {
        if let Some(key) = name.as_str().strip_prefix(IMPERSONATE_EXTRA_PREFIX) {
            // Keys are percent-encoded so they may hold any character.
            let key = percent_encoding::percent_decode_str(key)
                .decode_utf8_lossy()
                .to_lowercase();
            extras.push((key, text(value)));
        }
    }
    let Some(username) = user else {
        if groups.is_empty() && extras.is_empty() && uid.is_none() {
            return Ok(None);
        }
        return Err(
            "requested impersonation of groups, extras or a UID without impersonating a user"
                .to_string(),
        );
    };
    let mut targets = Vec::new();
    let mut impersonated = UserInfo {
        name: username.clone(),
        uid: uid.clone().unwrap_or_default(),
        groups: groups.clone(),
        extra: BTreeMap::new(),
    };
    for (key, value) in &extras {
        impersonated
            .extra
            .entry(key.clone())
            .or_default()
            .push(value.clone());
    }
    match parse_service_account(&username) {
        Some((namespace, name)) => {
            if groups.is_empty() {
                impersonated.groups = vec![
                    "system:serviceaccounts".to_string(),
                    format!("system:serviceaccounts:{namespace}"),
                ];
            }
            targets.push(Target::ServiceAccount { namespace, name });
        }
        None => targets.push(Target::User(username.clone())),
    }
    targets.extend(groups.into_iter().map(Target::Group));
    targets.extend(
        extras
            .into_iter()
            .map(|(key, value)| Target::Extra { key, value }),
    );
    targets.extend(uid.map(Target::Uid));
    let own = if username == ANONYMOUS_USER {
        UNAUTHENTICATED_GROUP
    } else {
        AUTHENTICATED_GROUP
    };
    if !impersonated.groups.iter().any(|g| g == own) {
        impersonated.groups.push(own.to_string());
    }
    Ok(Some((targets, impersonated)))
}

/// `system:serviceaccount:<namespace>:<name>` → (namespace, name).
fn parse_service_account(username: &str) -> Option<(String, String)> {
    let rest = username.strip_prefix("system:serviceaccount:")?;
    let (namespace, name) = rest.split_once(':')?;
    (!namespace.is_empty() && !name.is_empty() && !name.contains(':'))
        .then(|| (namespace.to_string(), name.to_string()))
}

/// The first target `authorizer` does not let `user` impersonate, with the
/// 403 upstream writes for it.
fn refused(authorizer: &dyn Authorizer, user: &UserInfo, targets: &[Target]) -> Option<Status> {
    targets.iter().find_map(|target| {
        let (resource, subresource, namespace, name) = target.resource();
        let attributes = Attributes {
            user,
            verb: "impersonate",
            resource_request: true,
            api_group: "",
            api_version: "",
            resource,
            subresource,
            namespace,
            name,
            path: "",
        };
        let verdict = authorizer.authorize(&attributes);
        (!verdict.allowed()).then(|| {
            let request = RequestInfo {
                is_resource_request: true,
                verb: "impersonate".into(),
                resource: resource.into(),
                subresource: subresource.into(),
                namespace: namespace.into(),
                name: name.into(),
                ..RequestInfo::default()
            };
            crate::authorization::forbidden(user, &request, &verdict.reason)
        })
    })
}

pub async fn filter(State(chain): State<Arc<Chain>>, mut request: Request, next: Next) -> Response {
    let (targets, impersonated) = match requested(request.headers()) {
        Ok(Some(found)) => found,
        Ok(None) => return next.run(request).await,
        Err(message) => {
            return Status::internal_error(message)
                .with_details(StatusDetails::default())
                .into_response();
        }
    };
    let Some(user) = request.extensions().get::<UserInfo>() else {
        return Status::internal_error("no user in the request context").into_response();
    };
    if let Some(status) = refused(&*chain.authorizer, user, &targets) {
        return status.into_response();
    }
    tracing::debug!(user = %user.name, as_user = %impersonated.name, "impersonating");
    let headers = request.headers_mut();
    let extra: Vec<_> = headers
        .keys()
        .filter(|name| name.as_str().starts_with(IMPERSONATE_EXTRA_PREFIX))
        .cloned()
        .collect();
    for name in extra {
        headers.remove(name);
    }
    for name in [IMPERSONATE_USER, IMPERSONATE_GROUP, IMPERSONATE_UID] {
        headers.remove(name);
    }
    request.extensions_mut().insert(impersonated.clone());
    let mut response = next.run(request).await;
    response
        .extensions_mut()
        .insert(ImpersonatedUser(impersonated));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        headers
    }

    #[test]
    fn no_headers_no_impersonation() {
        assert_eq!(requested(&HeaderMap::new()), Ok(None));
        assert!(requested(&headers(&[("Impersonate-Group", "dev")])).is_err());
    }

    #[test]
    fn user_groups_extras_and_uid_are_each_a_target() {
        let (targets, user) = requested(&headers(&[
            ("Impersonate-User", "alice"),
            ("Impersonate-Group", "dev"),
            ("Impersonate-Group", "ops"),
            ("Impersonate-Extra-Scopes%2Fa", "view"),
            ("Impersonate-Uid", "42"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(
            targets,
            [
                Target::User("alice".into()),
                Target::Group("dev".into()),
                Target::Group("ops".into()),
                Target::Extra {
                    key: "scopes/a".into(),
                    value: "view".into()
                },
                Target::Uid("42".into()),
            ]
        );
        assert_eq!(user.name, "alice");
        assert_eq!(user.uid, "42");
        assert_eq!(user.groups, ["dev", "ops", AUTHENTICATED_GROUP]);
    }

    #[test]
    fn service_accounts_get_their_groups() {
        let (targets, user) = requested(&headers(&[(
            "Impersonate-User",
            "system:serviceaccount:ci:builder",
        )]))
        .unwrap()
        .unwrap();
        assert_eq!(
            targets,
            [Target::ServiceAccount {
                namespace: "ci".into(),
                name: "builder".into()
            }]
        );
        assert_eq!(
            user.groups,
            [
                "system:serviceaccounts",
                "system:serviceaccounts:ci",
                AUTHENTICATED_GROUP
            ]
        );
        let (_, anonymous) = requested(&headers(&[("Impersonate-User", ANONYMOUS_USER)]))
            .unwrap()
            .unwrap();
        assert_eq!(anonymous.groups, [UNAUTHENTICATED_GROUP]);
    }
}
