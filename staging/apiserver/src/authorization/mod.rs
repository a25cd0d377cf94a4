//! Authorization (mirrors `k8s.io/apiserver/pkg/authorization`): may this
//! user do this verb on this resource or path? An [`Authorizer`] answers
//! with a [`Decision`]; the `--authorization-mode` chain is a [`Union`]
//! whose first Allow or Deny wins, after upstream's privileged-group rule
//! (`system:masters` may do everything).

mod union;

pub use union::{AlwaysAllow, AlwaysDeny, PrivilegedGroups, Union};

use crate::authentication::UserInfo;
use crate::request_info::RequestInfo;
use crate::status::{Status, StatusDetails};

/// What an authorizer answers (`authorizer.Decision`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Deny,
    /// This authorizer has nothing to say: the next one is asked.
    NoOpinion,
}

/// A decision and why (the reason is shown in a 403 and in reviews).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub decision: Decision,
    pub reason: String,
}

impl Verdict {
    pub fn allow(reason: impl Into<String>) -> Self {
        Verdict {
            decision: Decision::Allow,
            reason: reason.into(),
        }
    }

    pub fn deny(reason: impl Into<String>) -> Self {
        Verdict {
            decision: Decision::Deny,
            reason: reason.into(),
        }
    }

    pub fn no_opinion(reason: impl Into<String>) -> Self {
        Verdict {
            decision: Decision::NoOpinion,
            reason: reason.into(),
        }
    }

    pub fn allowed(&self) -> bool {
        self.decision == Decision::Allow
    }
}

/// What is asked (`authorizer.Attributes`): a user and either a resource
/// request (verb, group, resource, subresource, namespace, name) or a
/// non-resource one (verb, path).
#[derive(Debug, Clone, Copy)]
pub struct Attributes<'a> {
    pub user: &'a UserInfo,
    pub verb: &'a str,
    pub resource_request: bool,
    pub api_group: &'a str,
    pub api_version: &'a str,
    pub resource: &'a str,
    pub subresource: &'a str,
    pub namespace: &'a str,
    pub name: &'a str,
    pub path: &'a str,
}

impl<'a> Attributes<'a> {
    /// The attributes of an HTTP request (`GetAuthorizerAttributes`).
    pub fn of_request(user: &'a UserInfo, info: &'a RequestInfo) -> Self {
        Attributes {
            user,
            verb: &info.verb,
            resource_request: info.is_resource_request,
            api_group: &info.api_group,
            api_version: &info.api_version,
            resource: &info.resource,
            subresource: &info.subresource,
            namespace: &info.namespace,
            name: &info.name,
            path: &info.path,
        }
    }
}

/// A rule as the rules review reports it (`authorizer.ResourceRuleInfo`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResourceRule {
    pub verbs: Vec<String>,
    pub api_groups: Vec<String>,
    pub resources: Vec<String>,
    pub resource_names: Vec<String>,
}

/// A non-resource rule (`authorizer.NonResourceRuleInfo`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NonResourceRule {
    pub verbs: Vec<String>,
    pub non_resource_urls: Vec<String>,
}

/// What a user may do in a namespace, as far as the authorizers can list it
/// (`authorizer.RuleResolver`'s answer).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rules {
    pub resource_rules: Vec<ResourceRule>,
    pub non_resource_rules: Vec<NonResourceRule>,
    /// Some authorizer could not list all it allows.
    pub incomplete: bool,
    /// Errors met while listing (missing roles, ...).
    pub errors: Vec<String>,
}

/// One authorizer (`authorizer.Authorizer` with `authorizer.RuleResolver`).
pub trait Authorizer: Send + Sync {
    fn authorize(&self, attributes: &Attributes<'_>) -> Verdict;

    /// The rules `user` has in `namespace` (for SelfSubjectRulesReview).
    fn rules_for(&self, user: &UserInfo, namespace: &str) -> Rules;
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
    let subject = if request.name.is_empty() {
        qualified
    } else {
        format!("{qualified} {:?}", request.name)
    };
    Status::forbidden(format!("{subject} is forbidden: {message}")).with_details(StatusDetails {
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
    fn path_message() {
        let request = RequestInfo::new(&Method::GET, "/version", None);
        let alice = UserInfo {
            name: "alice".into(),
            ..UserInfo::default()
        };
        let status = forbidden(&alice, &request, "Everything is forbidden.");
        assert_eq!(
            status.message,
            "forbidden: User \"alice\" cannot get path \"/version\": Everything is forbidden."
        );
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
