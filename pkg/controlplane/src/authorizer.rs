//! The `--authorization-mode` chain (mirrors `pkg/kubeapiserver/authorizer`):
//! `system:masters` first, then each mode in the order given.

use std::sync::Arc;

use apiserver::authorization::{AlwaysAllow, AlwaysDeny, Authorizer, PrivilegedGroups, Union};
use apiserver::options::AuthorizationMode;

use apiserver_storage::Storage;

use crate::node::NodeAuthorizer;
use crate::rbac::{RbacAuthorizer, RbacIndex};

/// Refuses a mode this server cannot enforce, so that a cluster is never
/// silently opened up (checked before anything is opened or written).
pub fn check_modes(modes: &[AuthorizationMode]) -> anyhow::Result<()> {
    match modes
        .iter()
        .find(|mode| matches!(mode, AuthorizationMode::Webhook | AuthorizationMode::Abac))
    {
        Some(mode) => anyhow::bail!(
            "--authorization-mode {mode} is not supported by this apiserver: use Node, RBAC, AlwaysAllow or AlwaysDeny"
        ),
        None => Ok(()),
    }
}

/// The chain of `modes` ([`check_modes`] first).
pub fn new_authorizer(
    modes: &[AuthorizationMode],
    rbac: &Arc<RbacIndex>,
    storage: &Arc<dyn Storage>,
) -> anyhow::Result<Arc<dyn Authorizer>> {
    check_modes(modes)?;
    let mut members: Vec<Arc<dyn Authorizer>> = vec![Arc::new(PrivilegedGroups::default())];
    for mode in modes {
        members.push(match mode {
            AuthorizationMode::AlwaysAllow => Arc::new(AlwaysAllow),
            AuthorizationMode::AlwaysDeny => Arc::new(AlwaysDeny),
            AuthorizationMode::Rbac => Arc::new(RbacAuthorizer::new(Arc::clone(rbac))),
            AuthorizationMode::Node => Arc::new(NodeAuthorizer::start(storage)),
            // Refused by `check_modes`.
            AuthorizationMode::Webhook | AuthorizationMode::Abac => continue,
        });
    }
    Ok(Arc::new(Union::new(members)))
}
