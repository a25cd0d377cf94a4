//! The generic registry (mirrors `k8s.io/apiserver/pkg/registry`): one
//! [`store::Store`] per resource over the shared `Storage`, its behaviour
//! per kind given by a [`strategy::Strategy`].

pub mod decode;
mod managed_fields;
pub mod rest;
pub mod review;
pub mod scale;
pub mod store;
mod stored_json;
pub mod strategy;
pub mod subresource;
pub mod table;

pub use rest::RestStorage;
pub use store::Store;
pub use strategy::{
    FinishFunc, Object, ResourceInfo, ResourceNames, ScaleStrategy, StatusStrategy, Strategy,
};
pub use subresource::{Created, NamedCreate, NamedCreateRest, SubresourceKind, SubresourceRest};
