//! `authentication.k8s.io/v1` (mirrors `pkg/registry/authentication`):
//! `SelfSubjectReview`, who the server takes the caller to be
//! (`kubectl auth whoami`), and `TokenReview`, who a token proves its
//! holder to be.

use std::sync::Arc;

use k8s_openapi::api::authentication::v1::{
    SelfSubjectReview, SelfSubjectReviewStatus, TokenReview, TokenReviewStatus,
    UserInfo as ReviewUser,
};

use apiserver::authentication::{Authenticator, TokenVerdict, UserInfo};
use apiserver::registry::ResourceInfo;
use apiserver::registry::review::Review;
use apiserver::status::Status;

/// `selfsubjectreviews`.
pub struct SelfSubjectReviews {
    info: ResourceInfo,
}

impl Default for SelfSubjectReviews {
    fn default() -> Self {
        SelfSubjectReviews {
            info: ResourceInfo::review::<SelfSubjectReview>(),
        }
    }
}

#[async_trait::async_trait]
impl Review for SelfSubjectReviews {
    type Object = SelfSubjectReview;

    fn info(&self) -> &ResourceInfo {
        &self.info
    }

    async fn review(
        &self,
        _namespace: Option<&str>,
        user: &UserInfo,
        mut object: Self::Object,
    ) -> Result<Self::Object, Status> {
        object.status = Some(SelfSubjectReviewStatus {
            user_info: Some(review_user(user)),
        });
        Ok(object)
    }
}

/// `tokenreviews` (upstream's `tokenreview.REST`): who a bearer token
/// proves its holder to be, asked of the server's token authenticators
/// for the review's audiences (the API's when it names none).
pub struct TokenReviews {
    info: ResourceInfo,
    authenticator: Arc<Authenticator>,
}

impl TokenReviews {
    pub fn new(authenticator: Arc<Authenticator>) -> Self {
        TokenReviews {
            info: ResourceInfo::review::<TokenReview>(),
            authenticator,
        }
    }
}

#[async_trait::async_trait]
impl Review for TokenReviews {
    type Object = TokenReview;

    fn info(&self) -> &ResourceInfo {
        &self.info
    }

    async fn review(
        &self,
        _namespace: Option<&str>,
        _user: &UserInfo,
        mut object: Self::Object,
    ) -> Result<Self::Object, Status> {
        let token = object.spec.token.as_deref().unwrap_or_default();
        if token.is_empty() {
            return Err(Status::bad_request(
                "token is required for TokenReview in authentication",
            ));
        }
        let asked = object
            .spec
            .audiences
            .clone()
            .filter(|audiences| !audiences.is_empty())
            .unwrap_or_else(|| self.authenticator.api_audiences.clone());
        let status = match self.authenticator.authenticate_token(token, &asked).await {
            TokenVerdict::Authenticated { user, audiences } => {
                if !asked.is_empty() && !audiences.iter().any(|aud| asked.contains(aud)) {
                    tracing::warn!(want = ?asked, got = ?audiences, "error validating audience");
                    return Err(Status::internal_error("error validating audiences"));
                }
                TokenReviewStatus {
                    authenticated: Some(true),
                    user: Some(review_user(&user.authenticated())),
                    audiences: Some(audiences),
                    error: None,
                }
            }
            TokenVerdict::Rejected(reason) => failed(reason),
            TokenVerdict::NotMine => failed("invalid bearer token".to_string()),
        };
        object.status = Some(status);
        Ok(object)
    }
}

fn failed(reason: String) -> TokenReviewStatus {
    TokenReviewStatus {
        authenticated: Some(false),
        error: Some(reason),
        ..TokenReviewStatus::default()
    }
}

/// A user as the review APIs write it.
fn review_user(user: &UserInfo) -> ReviewUser {
    ReviewUser {
        username: Some(user.name.clone()),
        uid: (!user.uid.is_empty()).then(|| user.uid.clone()),
        groups: (!user.groups.is_empty()).then(|| user.groups.clone()),
        extra: (!user.extra.is_empty()).then(|| user.extra.clone().into_iter().collect()),
    }
}
