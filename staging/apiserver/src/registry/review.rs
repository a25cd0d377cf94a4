//! Resources that are created and never stored (upstream's `rest.Creater`
//! without a store behind it): the access reviews, the token review and
//! `SelfSubjectReview`. A [`Review`] answers the posted object with its
//! status filled in; every other verb is 405.

use std::sync::Arc;

use bytes::Bytes;
use http::StatusCode;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::ResourceInfo;
use super::decode::decode_body;
use super::rest::{
    Body, DeleteOptions, GetOptions, ListOptions, PatchType, Reply, RestStorage, Subresource,
    WatchLines, WriteOptions,
};
use crate::authentication::UserInfo;
use crate::endpoints::request;
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

    async fn list(&self, _: Option<&str>, _: &ListOptions) -> Result<Reply, Status> {
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
        let info = self.0.info();
        let (object, warnings) = decode_body::<R::Object>(&body, opts.field_validation, info.kind)?;
        let user = request::user().unwrap_or_default();
        let answer = self.0.review(namespace, &user, object).await?;
        let body = serde_json::to_vec(&answer)
            .map_err(|err| Status::internal_error(format!("encoding: {err}")))?;
        Ok(Reply {
            code: StatusCode::CREATED,
            body: Bytes::from(body),
            warnings,
        })
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
