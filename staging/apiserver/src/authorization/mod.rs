//! Authorization: may this user do this verb on this resource or path? The
//! chain of `--authorization-mode` authorizers is asked in order; members of
//! `system:masters` are always allowed (upstream's privileged-group rule).

use crate::authentication::{PRIVILEGED_GROUP, UserInfo};
use crate::options::AuthorizationMode;
use crate::request_info::RequestInfo;
use crate::status::{Status, StatusDetails};

/// The decision for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Deny(String),
}

/// The configured authorizer chain. Only implemented modes may be in it.
#[derive(Debug, Clone)]
pub struct Authorizer {
    modes: Vec<AuthorizationMode>,
}

impl Authorizer {
    /// Fails on a mode this server cannot enforce yet, so that a cluster is
    /// never silently opened up.
    pub fn new(modes: Vec<AuthorizationMode>) -> anyhow::Result<Self> {
        if let Some(mode) = modes.iter().find(|m| !m.is_implemented()) {
            anyhow::bail!(
                "--authorization-mode {mode} is not implemented yet: use AlwaysAllow or AlwaysDeny"
            );
        }
        Ok(Authorizer { modes })
    }

    pub fn authorize(&self, user: &UserInfo, _request: &RequestInfo) -> Decision {
        if user.groups.iter().any(|g| g == PRIVILEGED_GROUP) {
            return Decision::Allow;
        }
        for mode in &self.modes {
            match mode {
                AuthorizationMode::AlwaysAllow => return Decision::Allow,
                AuthorizationMode::AlwaysDeny => {
                    return Decision::Deny("Everything is forbidden.".to_string());
                }
                // Refused by `new`.
                _ => {}
            }
        }
        Decision::Deny(String::new())
    }
}

/// The 403 `Status` upstream's `responsewriters.Forbidden` writes.
pub fn forbidden(user: &UserInfo, request: &RequestInfo, reason: &str) -> Status {
    let message = if !request.is_resource_request {
        format!(
            "User {:?} cannot {} path {:?}",
            user.name, request.verb, request.path
        )
    } else {
        let mut resource = request.resource.clone();
        if !request.subresource.is_empty() {
            resource = format!("{resource}/{}", request.subresource);
        }
        if request.namespace.is_empty() {
            format!(
                "User {:?} cannot {} resource {resource:?} in API group {:?} at the cluster scope",
                user.name, request.verb, request.api_group
            )
        } else {
            format!(
                "User {:?} cannot {} resource {resource:?} in API group {:?} in the namespace {:?}",
                user.name, request.verb, request.api_group, request.namespace
            )
        }
    };
    let message = if reason.is_empty() {
        message
    } else {
        format!("{message}: {reason}")
    };
    if request.resource.is_empty() {
        return Status::forbidden(format!("forbidden: {message}"))
            .with_details(StatusDetails::default());
    }
    let qualified = if request.api_group.is_empty() {
        request.resource.clone()
    } else {
        format!("{}.{}", request.resource, request.api_group)
    };
    Status::forbidden(format!(
        "{qualified} {:?} is forbidden: {message}",
        request.name
    ))
    .with_details(StatusDetails {
        name: Some(request.name.clone()),
        group: Some(request.api_group.clone()),
        kind: Some(request.resource.clone()),
        ..StatusDetails::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Method;

    #[test]
    fn deny_all_but_masters() {
        let authz = Authorizer::new(vec![AuthorizationMode::AlwaysDeny]).unwrap();
        let request = RequestInfo::new(&Method::GET, "/version", None);
        let alice = UserInfo {
            name: "alice".into(),
            ..UserInfo::default()
        };
        assert_eq!(
            authz.authorize(&alice, &request),
            Decision::Deny("Everything is forbidden.".into())
        );
        let root = UserInfo {
            name: "root".into(),
            groups: vec![PRIVILEGED_GROUP.into()],
            ..UserInfo::default()
        };
        assert_eq!(authz.authorize(&root, &request), Decision::Allow);
        let status = forbidden(&alice, &request, "Everything is forbidden.");
        assert_eq!(
            status.message,
            "forbidden: User \"alice\" cannot get path \"/version\": Everything is forbidden."
        );
    }

    #[test]
    fn unimplemented_modes_are_refused() {
        let err =
            Authorizer::new(vec![AuthorizationMode::Node, AuthorizationMode::Rbac]).unwrap_err();
        assert!(err.to_string().contains("Node is not implemented"), "{err}");
    }

    #[test]
    fn resource_message() {
        let request = RequestInfo::new(
            &Method::GET,
            "/apis/apps/v1/namespaces/ns/deployments/d",
            None,
        );
        let user = UserInfo {
            name: "u".into(),
            ..UserInfo::default()
        };
        let status = forbidden(&user, &request, "");
        assert_eq!(
            status.message,
            "deployments.apps \"d\" is forbidden: User \"u\" cannot get resource \"deployments\" in API group \"apps\" in the namespace \"ns\""
        );
    }
}
