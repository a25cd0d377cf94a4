//! The roles and bindings as watches last showed them (upstream's RBAC
//! listers and `DefaultRuleResolver`), indexed by subject: the rules a user
//! has are found from the bindings naming the user or one of its groups,
//! not by scanning every binding.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock, Weak};
use std::time::Duration;

use tokio::sync::Notify;

use k8s_openapi::api::rbac::v1::{
    ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject,
};
use serde::de::DeserializeOwned;

use apiserver::authentication::{UserInfo, service_account_username};
use apiserver_storage::{KeyValue, Revision, Storage};

use crate::informer::{self, AbortOnDrop, Handler};

/// The rules of one role.
type Rules = Arc<[PolicyRule]>;

/// Who a binding names, as it matches a user.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum SubjectKey {
    /// A user name (a service account is its user name).
    User(String),
    Group(String),
}

/// One binding, reduced to what resolution needs.
#[derive(Debug)]
struct Binding {
    role_ref: RoleRef,
    /// Each subject's key and its description in reasons (`User "alice"`).
    subjects: Vec<(SubjectKey, String)>,
}

impl Binding {
    /// `appliesTo`: a binding's subjects as keys; a service account without
    /// a namespace is in the binding's namespace (none for a cluster binding).
    fn new(role_ref: RoleRef, subjects: &[Subject], namespace: &str) -> Self {
        let subjects = subjects
            .iter()
            .filter_map(|subject| match subject.kind.as_str() {
                "User" => Some((
                    SubjectKey::User(subject.name.clone()),
                    format!("User {:?}", subject.name),
                )),
                "Group" => Some((
                    SubjectKey::Group(subject.name.clone()),
                    format!("Group {:?}", subject.name),
                )),
                "ServiceAccount" => {
                    let sa_namespace = subject
                        .namespace
                        .as_deref()
                        .filter(|ns| !ns.is_empty())
                        .unwrap_or(namespace);
                    (!sa_namespace.is_empty()).then(|| {
                        (
                            SubjectKey::User(service_account_username(sa_namespace, &subject.name)),
                            format!(
                                "ServiceAccount {:?}",
                                format!("{}/{sa_namespace}", subject.name)
                            ),
                        )
                    })
                }
                _ => None,
            })
            .collect();
        Binding { role_ref, subjects }
    }

    /// The first subject that is `user` (or one of its groups).
    fn subject_for(&self, user: &UserInfo) -> Option<&str> {
        self.subjects
            .iter()
            .find(|(key, _)| match key {
                SubjectKey::User(name) => *name == user.name,
                SubjectKey::Group(name) => user.groups.contains(name),
            })
            .map(|(_, description)| description.as_str())
    }
}

/// The bindings of one scope (the cluster, or one namespace).
#[derive(Debug, Default)]
struct Bindings {
    by_name: HashMap<String, Arc<Binding>>,
    by_subject: HashMap<SubjectKey, BTreeSet<String>>,
}

impl Bindings {
    fn insert(&mut self, name: String, binding: Binding) {
        self.remove(&name);
        for (key, _) in &binding.subjects {
            self.by_subject
                .entry(key.clone())
                .or_default()
                .insert(name.clone());
        }
        self.by_name.insert(name, Arc::new(binding));
    }

    fn remove(&mut self, name: &str) {
        let Some(old) = self.by_name.remove(name) else {
            return;
        };
        for (key, _) in &old.subjects {
            if let Some(names) = self.by_subject.get_mut(key) {
                names.remove(name);
                if names.is_empty() {
                    self.by_subject.remove(key);
                }
            }
        }
    }

    /// The bindings naming `user` or one of its groups, by name.
    fn for_user(&self, user: &UserInfo) -> BTreeMap<&str, &Arc<Binding>> {
        let mut found = BTreeMap::new();
        let keys = std::iter::once(SubjectKey::User(user.name.clone()))
            .chain(user.groups.iter().cloned().map(SubjectKey::Group));
        for key in keys {
            for name in self.by_subject.get(&key).into_iter().flatten() {
                if let Some(binding) = self.by_name.get(name) {
                    found.insert(name.as_str(), binding);
                }
            }
        }
        found
    }
}

#[derive(Debug, Default)]
struct State {
    cluster_roles: HashMap<String, Rules>,
    /// namespace → name → rules.
    roles: HashMap<String, HashMap<String, Rules>>,
    cluster_bindings: Bindings,
    /// namespace → its role bindings.
    role_bindings: HashMap<String, Bindings>,
}

/// The four kinds an index follows, in the order of its revisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    ClusterRoles = 0,
    Roles = 1,
    ClusterRoleBindings = 2,
    RoleBindings = 3,
}

impl Kind {
    const ALL: [Kind; 4] = [
        Kind::ClusterRoles,
        Kind::Roles,
        Kind::ClusterRoleBindings,
        Kind::RoleBindings,
    ];

    fn prefix(self) -> &'static str {
        match self {
            Kind::ClusterRoles => "/registry/clusterroles/",
            Kind::Roles => "/registry/roles/",
            Kind::ClusterRoleBindings => "/registry/clusterrolebindings/",
            Kind::RoleBindings => "/registry/rolebindings/",
        }
    }
}

/// What a rule visit stops or goes on with.
pub enum Visit {
    Continue,
    Stop,
}

/// The RBAC objects of the store, indexed; kept by four informers.
#[derive(Debug, Default)]
pub struct RbacIndex {
    state: RwLock<State>,
    /// The newest revision each kind's informer has shown (0: not listed yet).
    revisions: [AtomicU64; 4],
    /// Signalled on every cluster role change (for aggregation).
    cluster_role_changes: Notify,
    /// The informers keeping the index, ended when the index goes (they
    /// hold it weakly).
    informers: OnceLock<Vec<AbortOnDrop>>,
}

impl RbacIndex {
    /// An index kept in step with `storage` by tasks on the current runtime,
    /// which end when the index is dropped.
    pub fn start(storage: &Arc<dyn Storage>) -> Arc<Self> {
        let index = Arc::new(RbacIndex::default());
        let tasks = Kind::ALL
            .into_iter()
            .map(|kind| {
                informer::spawn(
                    Arc::clone(storage),
                    kind.prefix(),
                    Arc::new(KindHandler {
                        kind,
                        index: Arc::downgrade(&index),
                    }),
                )
            })
            .collect();
        let _ = index.informers.set(tasks);
        index
    }

    /// Waits until the informer of `kind` has shown `revision` (a write the
    /// caller made), at most `timeout`.
    pub async fn wait_for(&self, kind: Kind, revision: Revision, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if self.revisions[kind as usize].load(Ordering::Acquire) >= revision.get() {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Resolves after a cluster role changed (at once if one changed since
    /// the last call).
    pub async fn cluster_roles_changed(&self) {
        self.cluster_role_changes.notified().await;
    }

    fn changed(&self, kind: Kind) {
        if kind == Kind::ClusterRoles {
            self.cluster_role_changes.notify_one();
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The rules a role reference grants in `namespace`
    /// (`GetRoleReferenceRules`), or upstream's not-found text.
    pub fn role_reference_rules(
        &self,
        role_ref: &RoleRef,
        namespace: &str,
    ) -> Result<Rules, String> {
        let state = self.read();
        Self::referenced(&state, role_ref, namespace)
    }

    fn referenced(state: &State, role_ref: &RoleRef, namespace: &str) -> Result<Rules, String> {
        match role_ref.kind.as_str() {
            "ClusterRole" => state
                .cluster_roles
                .get(&role_ref.name)
                .cloned()
                .ok_or_else(|| {
                    format!(
                        "clusterrole.rbac.authorization.k8s.io {:?} not found",
                        role_ref.name
                    )
                }),
            "Role" => state
                .roles
                .get(namespace)
                .and_then(|roles| roles.get(&role_ref.name))
                .cloned()
                .ok_or_else(|| {
                    format!(
                        "role.rbac.authorization.k8s.io {:?} not found",
                        role_ref.name
                    )
                }),
            other => Err(format!("unsupported role reference kind: {other:?}")),
        }
    }

    /// `VisitRulesFor`: every rule `user` has in `namespace` (cluster-wide
    /// ones first), with where it comes from, until `visit` stops; then the
    /// resolution errors met (roles that are referenced but missing).
    pub fn visit_rules(
        &self,
        user: &UserInfo,
        namespace: &str,
        mut visit: impl FnMut(&dyn Fn() -> String, &PolicyRule) -> Visit,
    ) -> Vec<String> {
        let state = self.read();
        let mut errors = Vec::new();
        for (name, binding) in state.cluster_bindings.for_user(user) {
            let Some(subject) = binding.subject_for(user) else {
                continue;
            };
            match Self::referenced(&state, &binding.role_ref, "") {
                Ok(rules) => {
                    let source = || {
                        format!(
                            "ClusterRoleBinding {name:?} of {} {:?} to {subject}",
                            binding.role_ref.kind, binding.role_ref.name
                        )
                    };
                    for rule in rules.iter() {
                        if let Visit::Stop = visit(&source, rule) {
                            return errors;
                        }
                    }
                }
                Err(err) => errors.push(err),
            }
        }
        if namespace.is_empty() {
            return errors;
        }
        let Some(bindings) = state.role_bindings.get(namespace) else {
            return errors;
        };
        for (name, binding) in bindings.for_user(user) {
            let Some(subject) = binding.subject_for(user) else {
                continue;
            };
            match Self::referenced(&state, &binding.role_ref, namespace) {
                Ok(rules) => {
                    let source = || {
                        format!(
                            "RoleBinding {:?} of {} {:?} to {subject}",
                            format!("{name}/{namespace}"),
                            binding.role_ref.kind,
                            binding.role_ref.name
                        )
                    };
                    for rule in rules.iter() {
                        if let Visit::Stop = visit(&source, rule) {
                            return errors;
                        }
                    }
                }
                Err(err) => errors.push(err),
            }
        }
        errors
    }

    /// `RulesFor`: every rule `user` has in `namespace`, and the errors met.
    pub fn rules_for(&self, user: &UserInfo, namespace: &str) -> (Vec<PolicyRule>, Vec<String>) {
        let mut rules = Vec::new();
        let errors = self.visit_rules(user, namespace, |_, rule| {
            rules.push(rule.clone());
            Visit::Continue
        });
        (rules, errors)
    }

    fn apply(state: &mut State, kind: Kind, value: &[u8]) {
        match kind {
            Kind::ClusterRoles => {
                if let Some(role) = decode::<ClusterRole>(value)
                    && let Some(name) = role.metadata.name
                {
                    let rules: Rules = role.rules.unwrap_or_default().into();
                    state.cluster_roles.insert(name, rules);
                }
            }
            Kind::Roles => {
                if let Some(role) = decode::<Role>(value)
                    && let (Some(namespace), Some(name)) =
                        (role.metadata.namespace, role.metadata.name)
                {
                    let rules: Rules = role.rules.unwrap_or_default().into();
                    state
                        .roles
                        .entry(namespace)
                        .or_default()
                        .insert(name, rules);
                }
            }
            Kind::ClusterRoleBindings => {
                if let Some(binding) = decode::<ClusterRoleBinding>(value)
                    && let Some(name) = binding.metadata.name
                {
                    let binding = Binding::new(
                        binding.role_ref,
                        binding.subjects.as_deref().unwrap_or_default(),
                        "",
                    );
                    state.cluster_bindings.insert(name, binding);
                }
            }
            Kind::RoleBindings => {
                if let Some(binding) = decode::<RoleBinding>(value)
                    && let (Some(namespace), Some(name)) =
                        (binding.metadata.namespace, binding.metadata.name)
                {
                    let resolved = Binding::new(
                        binding.role_ref,
                        binding.subjects.as_deref().unwrap_or_default(),
                        &namespace,
                    );
                    state
                        .role_bindings
                        .entry(namespace)
                        .or_default()
                        .insert(name, resolved);
                }
            }
        }
    }

    fn remove(state: &mut State, kind: Kind, key: &str) {
        let Some(rest) = key.strip_prefix(kind.prefix()) else {
            return;
        };
        match kind {
            Kind::ClusterRoles => {
                state.cluster_roles.remove(rest);
            }
            Kind::ClusterRoleBindings => state.cluster_bindings.remove(rest),
            Kind::Roles => {
                if let Some((namespace, name)) = rest.split_once('/')
                    && let Some(roles) = state.roles.get_mut(namespace)
                {
                    roles.remove(name);
                    if roles.is_empty() {
                        state.roles.remove(namespace);
                    }
                }
            }
            Kind::RoleBindings => {
                if let Some((namespace, name)) = rest.split_once('/')
                    && let Some(bindings) = state.role_bindings.get_mut(namespace)
                {
                    bindings.remove(name);
                    if bindings.by_name.is_empty() {
                        state.role_bindings.remove(namespace);
                    }
                }
            }
        }
    }

    fn clear(state: &mut State, kind: Kind) {
        match kind {
            Kind::ClusterRoles => state.cluster_roles.clear(),
            Kind::Roles => state.roles.clear(),
            Kind::ClusterRoleBindings => state.cluster_bindings = Bindings::default(),
            Kind::RoleBindings => state.role_bindings.clear(),
        }
    }

    fn seen(&self, kind: Kind, revision: Revision) {
        self.revisions[kind as usize].fetch_max(revision.get(), Ordering::AcqRel);
    }
}

fn decode<T: DeserializeOwned>(value: &[u8]) -> Option<T> {
    serde_json::from_slice(value)
        .inspect_err(|err| tracing::warn!(error = %err, "RBAC index: undecodable object"))
        .ok()
}

/// Feeds one kind's informer into the index (held weakly: the index owns
/// its informers).
struct KindHandler {
    kind: Kind,
    index: Weak<RbacIndex>,
}

impl Handler for KindHandler {
    /// One write lock for the whole list: readers never see a half-filled
    /// index.
    fn replace(&self, items: &[KeyValue], revision: Revision) {
        let Some(index) = self.index.upgrade() else {
            return;
        };
        {
            let mut state = index.write();
            RbacIndex::clear(&mut state, self.kind);
            for kv in items {
                RbacIndex::apply(&mut state, self.kind, &kv.value);
            }
        }
        index.seen(self.kind, revision);
        index.changed(self.kind);
    }

    fn apply(&self, kv: &KeyValue) {
        let Some(index) = self.index.upgrade() else {
            return;
        };
        RbacIndex::apply(&mut index.write(), self.kind, &kv.value);
        index.seen(self.kind, kv.mod_revision);
        index.changed(self.kind);
    }

    fn remove(&self, previous: &KeyValue) {
        let Some(index) = self.index.upgrade() else {
            return;
        };
        RbacIndex::remove(&mut index.write(), self.kind, &previous.key);
        index.changed(self.kind);
    }

    /// A stale index keeps answering from what it knows, as upstream's
    /// listers do while their reflector lists again.
    fn stale(&self) {}
}
