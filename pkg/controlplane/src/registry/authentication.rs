//! `authentication.k8s.io/v1` (mirrors `pkg/registry/authentication`):
//! `SelfSubjectReview`, who the server takes the caller to be
//! (`kubectl auth whoami`).

use k8s_openapi::api::authentication::v1::{
    SelfSubjectReview, SelfSubjectReviewStatus, UserInfo as ReviewUser,
};

use apiserver::authentication::UserInfo;
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
            user_info: Some(ReviewUser {
                username: Some(user.name.clone()),
                uid: (!user.uid.is_empty()).then(|| user.uid.clone()),
                groups: (!user.groups.is_empty()).then(|| user.groups.clone()),
                extra: None,
            }),
        });
        Ok(object)
    }
}
