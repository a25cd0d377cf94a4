//! Role-based access control (mirrors `plugin/pkg/auth/authorizer/rbac` and
//! `pkg/registry/rbac/validation`): the index of roles and bindings kept by
//! watches, rule matching and coverage, the authorizer, escalation
//! prevention, and the default policy reconciled at start.

pub mod authorizer;
pub mod bootstrap_policy;
pub mod escalation;
pub mod index;
pub mod reconcile;
pub mod rules;

pub use authorizer::RbacAuthorizer;
pub use escalation::EscalationCheck;
pub use index::RbacIndex;
