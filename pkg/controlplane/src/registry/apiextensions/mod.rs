//! The `apiextensions.k8s.io/v1` group's kind: the definitions of custom
//! resources (the custom resources themselves are `crate::apiextensions`).

pub mod custom_resource_definition;
