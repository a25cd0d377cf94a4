//! Custom resources (mirrors `k8s.io/apiextensions-apiserver`): the
//! definitions controller that serves each established definition's
//! versions, and what one served version is — the object type, its
//! strategy, its schema and its printer columns. The definition kind
//! itself is `registry::apiextensions`.

pub mod cel;
pub mod columns;
pub mod controller;
pub mod object;
pub mod openapi;
pub mod schema;
pub mod selectable;
pub mod strategy;

pub use apimachinery::intern::{intern, intern_list};
