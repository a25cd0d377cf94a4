//! API machinery shared by the generic server and the per-kind registry
//! (mirrors `k8s.io/apimachinery`): label and field selectors, field error
//! lists, name and object-metadata validation.

pub mod api;
pub mod fieldmanager;
pub mod fields;
pub mod intern;
pub mod labels;
pub mod patch;
pub mod validation;
