//! `rbac.authorization.k8s.io/v1`: roles, cluster roles and their bindings
//! (mirrors `pkg/registry/rbac`).

pub mod cluster_role;
pub mod cluster_role_binding;
pub mod role;
pub mod role_binding;
pub mod validation;
