//! Escalation prevention (upstream's `policybased` role and binding
//! storages): a user may create or change a role only with rules it holds
//! itself (or the `escalate` verb on it), and bind a role only when it holds
//! the role's rules (or the `bind` verb on it). Members of `system:masters`
//! and the server's own writes are never checked.

use std::sync::Arc;

use k8s_openapi::Metadata;
use k8s_openapi::api::rbac::v1::{PolicyRule, RoleRef};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use apiserver::authentication::{PRIVILEGED_GROUP, UserInfo};
use apiserver::authorization::{Attributes, Authorizer};
use apiserver::status::Status;

use super::index::RbacIndex;
use super::rules::{describe_missing, uncovered};

pub const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

/// What a role or binding write is checked against: the rules users hold
/// and the whole authorizer chain (for `escalate` and `bind`).
#[derive(Clone)]
pub struct EscalationCheck {
    index: Arc<RbacIndex>,
    authorizer: Arc<dyn Authorizer>,
}

impl std::fmt::Debug for EscalationCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EscalationCheck").finish_non_exhaustive()
    }
}

/// A role being written: its resource (`roles` or `clusterroles`), where
/// and what it grants.
pub struct RoleWrite<'a> {
    pub resource: &'static str,
    pub namespace: &'a str,
    pub name: &'a str,
    pub rules: &'a [PolicyRule],
    pub aggregates: bool,
}

/// A binding being written.
pub struct BindingWrite<'a> {
    pub resource: &'static str,
    pub namespace: &'a str,
    pub name: &'a str,
    pub role_ref: &'a RoleRef,
}

impl EscalationCheck {
    pub fn new(index: Arc<RbacIndex>, authorizer: Arc<dyn Authorizer>) -> Self {
        EscalationCheck { index, authorizer }
    }

    /// `EscalationAllowed`: the server itself, and `system:masters`.
    fn unchecked(user: Option<&UserInfo>) -> Option<&UserInfo> {
        user.filter(|user| !user.groups.iter().any(|g| g == PRIVILEGED_GROUP))
    }

    /// Whether the chain allows `user` `verb` on the named role resource.
    fn may(
        &self,
        user: &UserInfo,
        verb: &str,
        resource: &str,
        namespace: &str,
        name: &str,
    ) -> bool {
        self.authorizer
            .authorize(&Attributes {
                user,
                verb,
                resource_request: true,
                api_group: RBAC_GROUP,
                api_version: "",
                resource,
                subresource: "",
                namespace,
                name,
                path: "",
            })
            .allowed()
    }

    /// `ConfirmNoEscalation`: the rules `user` holds in `namespace` must
    /// cover `rules`; the refusal lists what they lack.
    fn confirm_no_escalation(
        &self,
        user: &UserInfo,
        namespace: &str,
        rules: &[PolicyRule],
    ) -> Result<(), String> {
        let (owned, errors) = self.index.rules_for(user, namespace);
        let missing = uncovered(&owned, rules);
        if missing.is_empty() {
            return Ok(());
        }
        let groups: Vec<String> = user
            .groups
            .iter()
            .map(|g| apimachinery::validation::go_string::quote(g))
            .collect();
        let mut message = format!(
            "user {:?} (groups=[{}]) is attempting to grant RBAC permissions not currently held:\n{}",
            user.name,
            groups.join(" "),
            describe_missing(missing)
        );
        if !errors.is_empty() {
            message.push_str(&format!("; resolution errors: [{}]", errors.join(" ")));
        }
        Err(message)
    }

    /// Checks a role create or update.
    pub fn check_role(&self, user: Option<&UserInfo>, role: &RoleWrite<'_>) -> Result<(), Status> {
        let Some(user) = Self::unchecked(user) else {
            return Ok(());
        };
        if self.may(user, "escalate", role.resource, role.namespace, role.name) {
            return Ok(());
        }
        let forbidden =
            |why: &str| Status::forbidden_resource(RBAC_GROUP, role.resource, role.name, why);
        self.confirm_no_escalation(user, role.namespace, role.rules)
            .map_err(|why| forbidden(&why))?;
        // An aggregation rule can gather anything: it takes `*` on `*`.
        if role.aggregates
            && self
                .confirm_no_escalation(user, role.namespace, &full_authority())
                .is_err()
        {
            return Err(forbidden(
                "must have cluster-admin privileges to use the aggregationRule",
            ));
        }
        Ok(())
    }

    /// Checks a binding create or update (`BindingAuthorized`, else the
    /// referenced role's rules must be held).
    pub fn check_binding(
        &self,
        user: Option<&UserInfo>,
        binding: &BindingWrite<'_>,
    ) -> Result<(), Status> {
        let Some(user) = Self::unchecked(user) else {
            return Ok(());
        };
        let role_resource = match binding.role_ref.kind.as_str() {
            "ClusterRole" => "clusterroles",
            "Role" => "roles",
            // Validation refuses other kinds first.
            _ => return Ok(()),
        };
        if binding.role_ref.api_group == RBAC_GROUP
            && self.may(
                user,
                "bind",
                role_resource,
                binding.namespace,
                &binding.role_ref.name,
            )
        {
            return Ok(());
        }
        let rules = self
            .index
            .role_reference_rules(binding.role_ref, binding.namespace)
            .map_err(|_| Status::not_found(RBAC_GROUP, role_resource, &binding.role_ref.name))?;
        self.confirm_no_escalation(user, binding.namespace, &rules)
            .map_err(|why| {
                Status::forbidden_resource(RBAC_GROUP, binding.resource, binding.name, &why)
            })
    }
}

/// `*` on everything: what an aggregation rule needs its writer to hold.
fn full_authority() -> [PolicyRule; 2] {
    let all = || Some(vec!["*".to_string()]);
    [
        PolicyRule {
            verbs: vec!["*".into()],
            api_groups: all(),
            resources: all(),
            ..PolicyRule::default()
        },
        PolicyRule {
            verbs: vec!["*".into()],
            non_resource_urls: all(),
            ..PolicyRule::default()
        },
    ]
}

/// `IsOnlyMutatingGCFields`: an update that changes nothing but owner
/// references and finalizers (what garbage collection writes) is not
/// checked. Server-kept metadata (resourceVersion, managedFields) is not
/// the client's change either.
pub fn only_gc_fields_change<T: Metadata<Ty = ObjectMeta> + Clone + PartialEq>(
    new: &T,
    old: &T,
) -> bool {
    let normalized = |object: &T| {
        let mut object = object.clone();
        let meta = object.metadata_mut();
        meta.owner_references = None;
        meta.finalizers = None;
        meta.managed_fields = None;
        meta.resource_version = None;
        object
    };
    normalized(new) == normalized(old)
}
