//! The REST endpoints (mirrors `k8s.io/apiserver/pkg/endpoints`): routes for
//! every installed resource, their handlers, discovery and OpenAPI.

pub mod discovery;
pub mod dynamic;
pub mod handlers;
pub mod installer;
pub mod openapi;
pub mod protobuf;
pub mod request;

pub use installer::Api;
