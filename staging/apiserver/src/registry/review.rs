//! Resources that are created and never stored (upstream's `rest.Creater`
//! without a store behind it): the access reviews, the token review and
//! `SelfSubjectReview`. A [`Review`] answers the posted object with its
//! status filled in; every other verb is 405.

use std::sync::Arc;

use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::ResourceInfo;
use super::rest::{
    Body, DeleteOptions, GetOptions, ListOptions, PatchType, Reply, RestStorage, Subresource,
    WatchLines, WriteOptions,
};
use super::subresource::{Created, answer_created};
use crate::authentication::UserInfo;
use crate::status::Status;

/// One review kind.
#[async_trait::async_trait]
pub trait Review: Send + Sync + 'static {
    type Object: k8s_openapi::Resource
        + k8s_openapi::schemars::JsonSchema
        + Serialize
        + DeserializeOwned
        + Send
        + Sync;

    /// The review's resource (`info.create_only` set).
    fn info(&self) -> &ResourceInfo;

    /// Fills in the answer; `namespace` is the URL's (for local reviews),
    /// `user` the one asking.
    async fn review(
        &self,
        namespace: Option<&str>,
        user: &UserInfo,
        object: Self::Object,
    ) -> Result<Self::Object, Status>;
}

/// A review served as a resource.
pub struct ReviewRest<R>(pub Arc<R>);

impl<R: Review> ReviewRest<R> {
    fn unsupported(&self, verb: &str) -> Status {
        let info = self.0.info();
        Status::method_not_supported(info.group, info.plural, verb)
    }
}

#[async_trait::async_trait]
impl<R: Review> RestStorage for ReviewRest<R> {
    fn info(&self) -> &ResourceInfo {
        self.0.info()
    }

    async fn get(&self, _: Option<&str>, _: &str, _: &GetOptions) -> Result<Reply, Status> {
        Err(self.unsupported("get"))
    }

    async fn list(
        self: std::sync::Arc<Self>,
        _: Option<&str>,
        _: &ListOptions,
    ) -> Result<Reply, Status> {
        Err(self.unsupported("list"))
    }

    async fn watch(&self, _: Option<&str>, _: &ListOptions) -> Result<WatchLines, Status> {
        Err(self.unsupported("watch"))
    }

    async fn create(
        &self,
        namespace: Option<&str>,
        body: Body,
        opts: &WriteOptions,
    ) -> Result<Reply, Status> {
        let kind = self.0.info().kind;
        answer_created(&body, opts, kind, |object: R::Object, user| async move {
            self.0
                .review(namespace, &user, object)
                .await
                .map(Created::from)
        })
        .await
    }

    async fn update(
        &self,
        _: Option<&str>,
        _: &str,
        _: Subresource,
        _: Body,
        _: &WriteOptions,
    ) -> Result<Reply, Status> {
        Err(self.unsupported("update"))
    }

    async fn patch(
        &self,
        _: Option<&str>,
        _: &str,
        _: Subresource,
        _: PatchType,
        _: Bytes,
        _: &WriteOptions,
    ) -> Result<Reply, Status> {
        Err(self.unsupported("patch"))
    }

    async fn delete(&self, _: Option<&str>, _: &str, _: &DeleteOptions) -> Result<Reply, Status> {
        Err(self.unsupported("delete"))
    }

    async fn delete_collection(
        &self,
        _: Option<&str>,
        _: &ListOptions,
        _: &DeleteOptions,
    ) -> Result<Reply, Status> {
        Err(self.unsupported("deletecollection"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoints::request;
    use http::StatusCode;
    use k8s_openapi::api::authentication::v1::SelfSubjectReview;
    use k8s_openapi::api::authorization::v1::LocalSubjectAccessReview;

    /// Answers with the caller's name in `status.userInfo.username`.
    struct WhoAmI(ResourceInfo);

    #[async_trait::async_trait]
    impl Review for WhoAmI {
        type Object = SelfSubjectReview;

        fn info(&self) -> &ResourceInfo {
            &self.0
        }

        async fn review(
            &self,
            _: Option<&str>,
            user: &UserInfo,
            mut object: SelfSubjectReview,
        ) -> Result<SelfSubjectReview, Status> {
            object.status = Some(
                k8s_openapi::api::authentication::v1::SelfSubjectReviewStatus {
                    user_info: Some(k8s_openapi::api::authentication::v1::UserInfo {
                        username: Some(user.name.clone()),
                        ..Default::default()
                    }),
                },
            );
            Ok(object)
        }
    }

    #[test]
    fn review_names_and_scope_come_from_the_type() {
        let local = ResourceInfo::review::<LocalSubjectAccessReview>();
        assert_eq!(
            (local.group, local.plural, local.singular, local.namespaced),
            (
                "authorization.k8s.io",
                "localsubjectaccessreviews",
                "localsubjectaccessreview",
                true
            )
        );
        assert!(local.create_only);
        assert!(!ResourceInfo::review::<SelfSubjectReview>().namespaced);
    }

    #[tokio::test]
    async fn only_create_is_served_and_it_answers_as_the_caller() {
        let rest = ReviewRest(Arc::new(
            WhoAmI(ResourceInfo::review::<SelfSubjectReview>()),
        ));
        let body = Body {
            format: super::super::rest::BodyFormat::Json,
            bytes: Bytes::from_static(
                br#"{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}"#,
            ),
        };
        let alice = Arc::new(UserInfo {
            name: "alice".into(),
            ..UserInfo::default()
        });
        let reply = request::with_user(alice, rest.create(None, body, &WriteOptions::default()))
            .await
            .expect("created");
        assert_eq!(reply.code, StatusCode::CREATED);
        let answer: serde_json::Value =
            serde_json::from_slice(reply.body.whole().expect("whole")).expect("JSON");
        assert_eq!(answer["status"]["userInfo"]["username"], "alice");
        assert_eq!(answer["kind"], "SelfSubjectReview");
        let refused = Arc::new(rest)
            .list(None, &ListOptions::default())
            .await
            .expect_err("no list");
        assert_eq!(refused.code, 405);
        assert_eq!(
            refused.message,
            "list is not supported on resources of kind \"selfsubjectreviews.authentication.k8s.io\""
        );
    }
}
