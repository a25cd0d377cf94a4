//! `authorization.k8s.io/v1` (mirrors `pkg/registry/authorization`): the
//! access reviews, asked of the same authorizer chain as every request.
//! `SelfSubjectAccessReview` (`kubectl auth can-i`) and
//! `SelfSubjectRulesReview` (`can-i --list`) ask about the caller,
//! `SubjectAccessReview` and `LocalSubjectAccessReview` about anyone.

use std::marker::PhantomData;
use std::sync::Arc;

use k8s_openapi::api::authorization::v1::{
    LocalSubjectAccessReview, NonResourceAttributes, NonResourceRule, ResourceAttributes,
    ResourceRule, SelfSubjectAccessReview, SelfSubjectRulesReview, SubjectAccessReview,
    SubjectAccessReviewSpec, SubjectAccessReviewStatus, SubjectRulesReviewStatus,
};

use apimachinery::validation::field::{Error, ErrorList, Path};
use apiserver::authentication::UserInfo;
use apiserver::authorization::{Attributes, Authorizer, Decision};
use apiserver::registry::ResourceInfo;
use apiserver::registry::review::Review;
use apiserver::status::Status;

const GROUP: &str = "authorization.k8s.io";

/// One access review kind, asked of the authorizer chain.
pub struct AccessReviews<T> {
    authorizer: Arc<dyn Authorizer>,
    info: ResourceInfo,
    _kind: PhantomData<fn() -> T>,
}

impl<T> AccessReviews<T>
where
    T: k8s_openapi::Resource,
    T::Scope: 'static,
{
    pub fn new(authorizer: Arc<dyn Authorizer>) -> Self {
        AccessReviews {
            authorizer,
            info: ResourceInfo::review::<T>(),
            _kind: PhantomData,
        }
    }
}

/// What one review asks: a resource or a non-resource request.
enum Asked<'a> {
    Resource(&'a ResourceAttributes),
    NonResource(&'a NonResourceAttributes),
}

/// `ValidateSubjectAccessReviewSpec`'s shared rule: exactly one of the two.
fn asked<'a>(
    resource: Option<&'a ResourceAttributes>,
    non_resource: Option<&'a NonResourceAttributes>,
    errors: &mut ErrorList,
) -> Option<Asked<'a>> {
    let spec = Path::new("spec");
    match (resource, non_resource) {
        (Some(_), Some(_)) => {
            errors.push(Error::invalid(
                &spec.child("nonResourceAttributes"),
                "",
                "cannot be specified in combination with resourceAttributes",
            ));
            None
        }
        (None, None) => {
            errors.push(Error::invalid(
                &spec.child("resourceAttributes"),
                "",
                "exactly one of nonResourceAttributes or resourceAttributes must be specified",
            ));
            None
        }
        (Some(resource), None) => Some(Asked::Resource(resource)),
        (None, Some(non_resource)) => Some(Asked::NonResource(non_resource)),
    }
}

/// Asks `authorizer` about `user` and fills a review status as upstream:
/// `allowed` on Allow, `denied` on Deny, the reason either way.
fn decide(
    authorizer: &dyn Authorizer,
    user: &UserInfo,
    asked: &Asked<'_>,
) -> SubjectAccessReviewStatus {
    let text = |value: &Option<String>| value.clone().unwrap_or_default();
    let verdict = match asked {
        Asked::Resource(attributes) => {
            let (verb, group, version, resource, subresource, namespace, name) = (
                text(&attributes.verb),
                text(&attributes.group),
                text(&attributes.version),
                text(&attributes.resource),
                text(&attributes.subresource),
                text(&attributes.namespace),
                text(&attributes.name),
            );
            authorizer.authorize(&Attributes {
                user,
                verb: &verb,
                resource_request: true,
                api_group: &group,
                api_version: &version,
                resource: &resource,
                subresource: &subresource,
                namespace: &namespace,
                name: &name,
                path: "",
            })
        }
        Asked::NonResource(attributes) => {
            let (verb, path) = (text(&attributes.verb), text(&attributes.path));
            authorizer.authorize(&Attributes {
                user,
                verb: &verb,
                resource_request: false,
                api_group: "",
                api_version: "",
                resource: "",
                subresource: "",
                namespace: "",
                name: "",
                path: &path,
            })
        }
    };
    SubjectAccessReviewStatus {
        allowed: verdict.decision == Decision::Allow,
        denied: (verdict.decision == Decision::Deny).then_some(true),
        reason: (!verdict.reason.is_empty()).then_some(verdict.reason),
        evaluation_error: None,
    }
}

/// The user a `SubjectAccessReviewSpec` names.
fn spec_user(spec: &SubjectAccessReviewSpec) -> UserInfo {
    UserInfo {
        name: spec.user.clone().unwrap_or_default(),
        uid: spec.uid.clone().unwrap_or_default(),
        groups: spec.groups.clone().unwrap_or_default(),
        extra: spec.extra.clone().unwrap_or_default().into_iter().collect(),
    }
}

/// `ValidateSubjectAccessReviewSpec`: what to ask, and someone to ask about.
fn validate_spec<'a>(
    spec: &'a SubjectAccessReviewSpec,
    errors: &mut ErrorList,
) -> Option<Asked<'a>> {
    let asked = asked(
        spec.resource_attributes.as_ref(),
        spec.non_resource_attributes.as_ref(),
        errors,
    );
    let no_user = spec.user.as_deref().unwrap_or_default().is_empty();
    let no_groups = spec.groups.as_ref().is_none_or(Vec::is_empty);
    if no_user && no_groups {
        errors.push(Error::invalid(
            &Path::new("spec").child("user"),
            "",
            "at least one of user or group must be specified",
        ));
    }
    asked
}

/// `selfsubjectaccessreviews`: may I?
pub type SelfSubjectAccessReviews = AccessReviews<SelfSubjectAccessReview>;

#[async_trait::async_trait]
impl Review for AccessReviews<SelfSubjectAccessReview> {
    type Object = SelfSubjectAccessReview;

    fn info(&self) -> &ResourceInfo {
        &self.info
    }

    async fn review(
        &self,
        _namespace: Option<&str>,
        user: &UserInfo,
        mut object: Self::Object,
    ) -> Result<Self::Object, Status> {
        let mut errors = ErrorList::new();
        let asked = asked(
            object.spec.resource_attributes.as_ref(),
            object.spec.non_resource_attributes.as_ref(),
            &mut errors,
        );
        let Some(asked) = asked.filter(|_| errors.is_empty()) else {
            return Err(Status::invalid(
                GROUP,
                "SelfSubjectAccessReview",
                "",
                &errors,
            ));
        };
        object.status = Some(decide(&*self.authorizer, user, &asked));
        Ok(object)
    }
}

/// `subjectaccessreviews`: may this user?
pub type SubjectAccessReviews = AccessReviews<SubjectAccessReview>;

#[async_trait::async_trait]
impl Review for AccessReviews<SubjectAccessReview> {
    type Object = SubjectAccessReview;

    fn info(&self) -> &ResourceInfo {
        &self.info
    }

    async fn review(
        &self,
        _namespace: Option<&str>,
        _user: &UserInfo,
        mut object: Self::Object,
    ) -> Result<Self::Object, Status> {
        let mut errors = ErrorList::new();
        let asked = validate_spec(&object.spec, &mut errors);
        let Some(asked) = asked.filter(|_| errors.is_empty()) else {
            return Err(Status::invalid(GROUP, "SubjectAccessReview", "", &errors));
        };
        object.status = Some(decide(&*self.authorizer, &spec_user(&object.spec), &asked));
        Ok(object)
    }
}

/// `localsubjectaccessreviews`: may this user, in this namespace?
pub type LocalSubjectAccessReviews = AccessReviews<LocalSubjectAccessReview>;

#[async_trait::async_trait]
impl Review for AccessReviews<LocalSubjectAccessReview> {
    type Object = LocalSubjectAccessReview;

    fn info(&self) -> &ResourceInfo {
        &self.info
    }

    async fn review(
        &self,
        namespace: Option<&str>,
        _user: &UserInfo,
        mut object: Self::Object,
    ) -> Result<Self::Object, Status> {
        let namespace = namespace.unwrap_or_default();
        match object.metadata.namespace.as_deref() {
            None | Some("") => object.metadata.namespace = Some(namespace.to_string()),
            Some(given) if given != namespace => {
                return Err(Status::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            Some(_) => {}
        }
        let mut errors = ErrorList::new();
        let asked = validate_spec(&object.spec, &mut errors);
        let spec = Path::new("spec");
        if object.spec.non_resource_attributes.is_some() {
            errors.push(Error::invalid(
                &spec.child("nonResourceAttributes"),
                "",
                "disallowed on this kind of request",
            ));
        }
        if let Some(attributes) = &object.spec.resource_attributes {
            let asked_namespace = attributes.namespace.as_deref().unwrap_or_default();
            if asked_namespace != namespace {
                errors.push(Error::invalid(
                    &spec.child("resourceAttributes").child("namespace"),
                    asked_namespace,
                    "must match metadata.namespace",
                ));
            }
        }
        let Some(asked) = asked.filter(|_| errors.is_empty()) else {
            return Err(Status::invalid(
                GROUP,
                "LocalSubjectAccessReview",
                "",
                &errors,
            ));
        };
        object.status = Some(decide(&*self.authorizer, &spec_user(&object.spec), &asked));
        Ok(object)
    }
}

/// `selfsubjectrulesreviews`: what may I do in a namespace?
pub type SelfSubjectRulesReviews = AccessReviews<SelfSubjectRulesReview>;

#[async_trait::async_trait]
impl Review for AccessReviews<SelfSubjectRulesReview> {
    type Object = SelfSubjectRulesReview;

    fn info(&self) -> &ResourceInfo {
        &self.info
    }

    async fn review(
        &self,
        _namespace: Option<&str>,
        user: &UserInfo,
        mut object: Self::Object,
    ) -> Result<Self::Object, Status> {
        let namespace = object.spec.namespace.clone().unwrap_or_default();
        if namespace.is_empty() {
            return Err(Status::bad_request("no namespace on request"));
        }
        let rules = self.authorizer.rules_for(user, &namespace);
        let none_if_empty = |items: Vec<String>| (!items.is_empty()).then_some(items);
        object.status = Some(SubjectRulesReviewStatus {
            resource_rules: rules
                .resource_rules
                .into_iter()
                .map(|rule| ResourceRule {
                    verbs: rule.verbs,
                    api_groups: none_if_empty(rule.api_groups),
                    resources: none_if_empty(rule.resources),
                    resource_names: none_if_empty(rule.resource_names),
                })
                .collect(),
            non_resource_rules: rules
                .non_resource_rules
                .into_iter()
                .map(|rule| NonResourceRule {
                    verbs: rule.verbs,
                    non_resource_urls: none_if_empty(rule.non_resource_urls),
                })
                .collect(),
            incomplete: rules.incomplete,
            evaluation_error: (!rules.errors.is_empty()).then(|| rules.errors.join(", ")),
        });
        Ok(object)
    }
}
