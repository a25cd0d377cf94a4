//! The default RBAC policy (upstream's `plugin/pkg/auth/authorizer/rbac/bootstrappolicy`):
//! the cluster roles and bindings of `policy.go`, the `system:controller:*` roles of
//! `controller_policy.go` with their bindings to kube-system service accounts, and the
//! namespaced roles and bindings of `namespace_policy.go`, as Kubernetes v1.32 ships them
//! (the release-1.32 branch, so with the `watch` verbs its patch releases added to the
//! controller roles).
//!
//! Feature-gated rules follow the v1.32 defaults (beta-on and GA gates on, alpha and
//! beta-off gates off), i.e. what upstream's `testdata/*.yaml` fixtures hold. Objects come
//! in the fixtures' order (sorted by name); rules keep upstream's order; the verbs, groups,
//! resources, names and URLs of one rule are sorted, as upstream's rule builder sorts them.
//! Every object carries `addDefaultMetadata`'s label and autoupdate annotation.

use std::collections::BTreeMap;

use k8s_openapi::api::rbac::v1::{
    AggregationRule, ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef,
    Subject,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

/// The annotation that lets the apiserver reconcile a default object at start.
pub const AUTOUPDATE_ANNOTATION: &str = "rbac.authorization.kubernetes.io/autoupdate";

const BOOTSTRAPPING_LABEL: &str = "kubernetes.io/bootstrapping";
const BOOTSTRAPPING_VALUE: &str = "rbac-defaults";
const RBAC_GROUP: &str = "rbac.authorization.k8s.io";
const CONTROLLER_PREFIX: &str = "system:controller:";
const KUBE_SYSTEM: &str = "kube-system";
const KUBE_PUBLIC: &str = "kube-public";

const AGGREGATE_TO_ADMIN: &str = "rbac.authorization.k8s.io/aggregate-to-admin";
const AGGREGATE_TO_EDIT: &str = "rbac.authorization.k8s.io/aggregate-to-edit";
const AGGREGATE_TO_VIEW: &str = "rbac.authorization.k8s.io/aggregate-to-view";

// API groups, spelled once.
const CORE: &str = "";
const APPS: &str = "apps";
const AUTHN: &str = "authentication.k8s.io";
const AUTHZ: &str = "authorization.k8s.io";
const AUTOSCALING: &str = "autoscaling";
const BATCH: &str = "batch";
const CERTIFICATES: &str = "certificates.k8s.io";
const COORDINATION: &str = "coordination.k8s.io";
const DISCOVERY: &str = "discovery.k8s.io";
const EXTENSIONS: &str = "extensions";
const NETWORKING: &str = "networking.k8s.io";
const POLICY: &str = "policy";
const STORAGE: &str = "storage.k8s.io";

// Verb sets of upstream's policy.go.
const READ: &str = "get list watch";
const WRITE: &str = "create update patch delete deletecollection";
const READ_WRITE: &str = "get list watch create update patch delete deletecollection";

/// The words of `items`, sorted and deduplicated: the set semantics of upstream's rule
/// builder.
fn words(items: &str) -> Vec<String> {
    let mut out: Vec<String> = items.split_whitespace().map(str::to_owned).collect();
    out.sort();
    out.dedup();
    out
}

/// A resource rule: `verbs` on `resources` in the API `groups` (verbs and resources are
/// whitespace-separated lists; `""` is the core group).
fn rule(verbs: &str, groups: &[&str], resources: &str) -> PolicyRule {
    let mut api_groups: Vec<String> = groups.iter().map(|g| (*g).to_owned()).collect();
    api_groups.sort();
    PolicyRule {
        api_groups: Some(api_groups),
        resources: Some(words(resources)),
        verbs: words(verbs),
        ..Default::default()
    }
}

/// A non-resource rule: `verbs` on the URL paths `paths`.
fn urls(verbs: &str, paths: &str) -> PolicyRule {
    PolicyRule {
        non_resource_urls: Some(words(paths)),
        verbs: words(verbs),
        ..Default::default()
    }
}

trait RuleExt {
    /// Restricts a resource rule to the objects `names` (a whitespace-separated list).
    fn names(self, names: &str) -> PolicyRule;
}

impl RuleExt for PolicyRule {
    fn names(mut self, names: &str) -> PolicyRule {
        self.resource_names = Some(words(names));
        self
    }
}

/// Upstream's `eventsRule()`: writing events in both event API groups.
fn events() -> PolicyRule {
    rule("create update patch", &[CORE, "events.k8s.io"], "events")
}

fn metadata(name: &str, namespace: Option<&str>, labels: &[(&str, &str)]) -> ObjectMeta {
    let mut all = BTreeMap::from([(
        BOOTSTRAPPING_LABEL.to_owned(),
        BOOTSTRAPPING_VALUE.to_owned(),
    )]);
    all.extend(
        labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    ObjectMeta {
        name: Some(name.to_owned()),
        namespace: namespace.map(str::to_owned),
        labels: Some(all),
        annotations: Some(BTreeMap::from([(
            AUTOUPDATE_ANNOTATION.to_owned(),
            "true".to_owned(),
        )])),
        ..Default::default()
    }
}

fn cluster_role(name: &str, rules: Vec<PolicyRule>) -> ClusterRole {
    ClusterRole {
        metadata: metadata(name, None, &[]),
        rules: Some(rules),
        aggregation_rule: None,
    }
}

/// A role whose rules are aggregated into the role selecting `aggregate_to`.
fn aggregated_into(aggregate_to: &str, name: &str, rules: Vec<PolicyRule>) -> ClusterRole {
    ClusterRole {
        metadata: metadata(name, None, &[(aggregate_to, "true")]),
        rules: Some(rules),
        aggregation_rule: None,
    }
}

/// A role with no rules of its own: the aggregation controller fills them from the roles
/// labelled `selects=true`. `labels` aggregates it in turn into other roles.
fn aggregating(name: &str, selects: &str, labels: &[&str]) -> ClusterRole {
    let labels: Vec<(&str, &str)> = labels.iter().map(|l| (*l, "true")).collect();
    ClusterRole {
        metadata: metadata(name, None, &labels),
        rules: None,
        aggregation_rule: Some(AggregationRule {
            cluster_role_selectors: Some(vec![LabelSelector {
                match_labels: Some(BTreeMap::from([(selects.to_owned(), "true".to_owned())])),
                ..Default::default()
            }]),
        }),
    }
}

fn group(name: &str) -> Subject {
    Subject {
        kind: "Group".to_owned(),
        api_group: Some(RBAC_GROUP.to_owned()),
        name: name.to_owned(),
        namespace: None,
    }
}

fn user(name: &str) -> Subject {
    Subject {
        kind: "User".to_owned(),
        api_group: Some(RBAC_GROUP.to_owned()),
        name: name.to_owned(),
        namespace: None,
    }
}

fn service_account(namespace: &str, name: &str) -> Subject {
    Subject {
        kind: "ServiceAccount".to_owned(),
        api_group: None,
        name: name.to_owned(),
        namespace: Some(namespace.to_owned()),
    }
}

fn role_ref(kind: &str, name: &str) -> RoleRef {
    RoleRef {
        api_group: RBAC_GROUP.to_owned(),
        kind: kind.to_owned(),
        name: name.to_owned(),
    }
}

/// A cluster binding named after the cluster role it grants. No subjects is `None`, as
/// upstream's subject-less `system:node` binding.
fn cluster_binding(name: &str, subjects: Vec<Subject>) -> ClusterRoleBinding {
    ClusterRoleBinding {
        metadata: metadata(name, None, &[]),
        role_ref: role_ref("ClusterRole", name),
        subjects: (!subjects.is_empty()).then_some(subjects),
    }
}

fn role(namespace: &str, name: &str, rules: Vec<PolicyRule>) -> Role {
    Role {
        metadata: metadata(name, Some(namespace), &[]),
        rules: Some(rules),
    }
}

/// A binding in `namespace` of the Role `role` of that namespace.
fn role_binding(namespace: &str, name: &str, role: &str, subjects: Vec<Subject>) -> RoleBinding {
    RoleBinding {
        metadata: metadata(name, Some(namespace), &[]),
        role_ref: role_ref("Role", role),
        subjects: Some(subjects),
    }
}

/// policy.go's `ClusterRoles()`, in the order of upstream's `cluster-roles.yaml`.
fn policy_cluster_roles() -> Vec<ClusterRole> {
    let approver = |signer: &str| {
        cluster_role(
            &format!("system:certificates.k8s.io:{signer}-approver"),
            vec![
                rule("approve", &[CERTIFICATES], "signers")
                    .names(&format!("kubernetes.io/{signer}")),
            ],
        )
    };
    vec![
        aggregating("admin", AGGREGATE_TO_ADMIN, &[]),
        cluster_role(
            "cluster-admin",
            vec![rule("*", &["*"], "*"), urls("*", "*")],
        ),
        aggregating("edit", AGGREGATE_TO_EDIT, &[AGGREGATE_TO_ADMIN]),
        aggregated_into(
            AGGREGATE_TO_ADMIN,
            "system:aggregate-to-admin",
            vec![
                rule("create", &[AUTHZ], "localsubjectaccessreviews"),
                rule(READ_WRITE, &[RBAC_GROUP], "roles rolebindings"),
            ],
        ),
        aggregated_into(
            AGGREGATE_TO_EDIT,
            "system:aggregate-to-edit",
            vec![
                rule(
                    READ,
                    &[CORE],
                    "pods/attach pods/proxy pods/exec pods/portforward secrets services/proxy",
                ),
                rule("impersonate", &[CORE], "serviceaccounts"),
                rule(
                    WRITE,
                    &[CORE],
                    "pods pods/attach pods/proxy pods/exec pods/portforward",
                ),
                rule("create", &[CORE], "pods/eviction"),
                rule(
                    WRITE,
                    &[CORE],
                    "replicationcontrollers replicationcontrollers/scale serviceaccounts services services/proxy persistentvolumeclaims configmaps secrets events",
                ),
                rule("create", &[CORE], "serviceaccounts/token"),
                rule(
                    WRITE,
                    &[APPS],
                    "statefulsets statefulsets/scale daemonsets deployments deployments/scale deployments/rollback replicasets replicasets/scale",
                ),
                rule(WRITE, &[AUTOSCALING], "horizontalpodautoscalers"),
                rule(WRITE, &[BATCH], "jobs cronjobs"),
                rule(
                    WRITE,
                    &[EXTENSIONS],
                    "daemonsets deployments deployments/scale deployments/rollback ingresses replicasets replicasets/scale replicationcontrollers/scale networkpolicies",
                ),
                rule(WRITE, &[POLICY], "poddisruptionbudgets"),
                rule(WRITE, &[NETWORKING], "networkpolicies ingresses"),
                rule(READ_WRITE, &[COORDINATION], "leases"),
            ],
        ),
        aggregated_into(
            AGGREGATE_TO_VIEW,
            "system:aggregate-to-view",
            vec![
                rule(
                    READ,
                    &[CORE],
                    "pods replicationcontrollers replicationcontrollers/scale serviceaccounts services services/status endpoints persistentvolumeclaims persistentvolumeclaims/status configmaps",
                ),
                rule(
                    READ,
                    &[CORE],
                    "limitranges resourcequotas bindings events pods/status resourcequotas/status namespaces/status replicationcontrollers/status pods/log",
                ),
                // Reading namespaces at namespace scope reads *this* namespace.
                rule(READ, &[CORE], "namespaces"),
                rule(READ, &[DISCOVERY], "endpointslices"),
                rule(
                    READ,
                    &[APPS],
                    "controllerrevisions statefulsets statefulsets/status statefulsets/scale daemonsets daemonsets/status deployments deployments/status deployments/scale replicasets replicasets/status replicasets/scale",
                ),
                rule(
                    READ,
                    &[AUTOSCALING],
                    "horizontalpodautoscalers horizontalpodautoscalers/status",
                ),
                rule(READ, &[BATCH], "jobs cronjobs cronjobs/status jobs/status"),
                rule(
                    READ,
                    &[EXTENSIONS],
                    "daemonsets daemonsets/status deployments deployments/scale deployments/status ingresses ingresses/status replicasets replicasets/scale replicasets/status replicationcontrollers/scale networkpolicies",
                ),
                rule(
                    READ,
                    &[POLICY],
                    "poddisruptionbudgets poddisruptionbudgets/status",
                ),
                rule(
                    READ,
                    &[NETWORKING],
                    "networkpolicies ingresses ingresses/status",
                ),
            ],
        ),
        cluster_role(
            "system:auth-delegator",
            vec![
                rule("create", &[AUTHN], "tokenreviews"),
                rule("create", &[AUTHZ], "subjectaccessreviews"),
            ],
        ),
        cluster_role(
            "system:basic-user",
            vec![
                rule(
                    "create",
                    &[AUTHZ],
                    "selfsubjectaccessreviews selfsubjectrulesreviews",
                ),
                rule("create", &[AUTHN], "selfsubjectreviews"),
            ],
        ),
        cluster_role(
            "system:certificates.k8s.io:certificatesigningrequests:nodeclient",
            vec![rule(
                "create",
                &[CERTIFICATES],
                "certificatesigningrequests/nodeclient",
            )],
        ),
        cluster_role(
            "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
            vec![rule(
                "create",
                &[CERTIFICATES],
                "certificatesigningrequests/selfnodeclient",
            )],
        ),
        approver("kube-apiserver-client"),
        approver("kube-apiserver-client-kubelet"),
        approver("kubelet-serving"),
        approver("legacy-unknown"),
        cluster_role(
            "system:discovery",
            vec![urls(
                "get",
                "/livez /readyz /healthz /version /version/ /openapi /openapi/* /api /api/* /apis /apis/*",
            )],
        ),
        cluster_role(
            "system:heapster",
            vec![
                rule(READ, &[CORE], "events pods nodes namespaces"),
                rule(READ, &[EXTENSIONS], "deployments"),
            ],
        ),
        cluster_role(
            "system:kube-aggregator",
            vec![rule(READ, &[CORE], "services endpoints")],
        ),
        cluster_role(
            "system:kube-controller-manager",
            vec![
                events(),
                // Leader election.
                rule("create", &[COORDINATION], "leases"),
                rule("get update", &[COORDINATION], "leases").names("kube-controller-manager"),
                // Bootstrapping the controllers' own identities.
                rule("create", &[CORE], "secrets serviceaccounts"),
                rule("delete", &[CORE], "secrets"),
                rule(
                    "get",
                    &[CORE],
                    "namespaces secrets serviceaccounts configmaps",
                ),
                rule("update", &[CORE], "secrets serviceaccounts"),
                // Delegated authentication and authorization.
                rule("create", &[AUTHN], "tokenreviews"),
                rule("create", &[AUTHZ], "subjectaccessreviews"),
                // The shared informers.
                rule("list watch", &["*"], "*"),
                rule("create", &[CORE], "serviceaccounts/token"),
            ],
        ),
        cluster_role(
            "system:kube-dns",
            vec![rule("list watch", &[CORE], "endpoints services")],
        ),
        cluster_role(
            "system:kube-scheduler",
            vec![
                events(),
                // Leader election, coordinated leader election included.
                rule("create", &[COORDINATION], "leases"),
                rule("get update list watch", &[COORDINATION], "leases").names("kube-scheduler"),
                rule(READ_WRITE, &[COORDINATION], "leasecandidates"),
                rule(READ, &[CORE], "nodes"),
                rule("get list watch delete", &[CORE], "pods"),
                rule("create", &[CORE], "pods/binding bindings"),
                rule("patch update", &[CORE], "pods/status"),
                // Spreading.
                rule(READ, &[CORE], "services replicationcontrollers"),
                rule(READ, &[APPS, EXTENSIONS], "replicasets"),
                rule(READ, &[APPS], "statefulsets"),
                // Preemption.
                rule(READ, &[POLICY], "poddisruptionbudgets"),
                // Volumes.
                rule(READ, &[CORE], "persistentvolumeclaims persistentvolumes"),
                // Delegated authentication and authorization.
                rule("create", &[AUTHN], "tokenreviews"),
                rule("create", &[AUTHZ], "subjectaccessreviews"),
                // Volume limits.
                rule(READ, &[STORAGE], "csinodes"),
                rule(READ, &[STORAGE], "volumeattachments"),
                // Namespace selectors of pod affinity.
                rule(READ, &[CORE], "namespaces"),
                rule(READ, &[STORAGE], "csidrivers"),
                rule(READ, &[STORAGE], "csistoragecapacities"),
            ],
        ),
        cluster_role(
            "system:kubelet-api-admin",
            vec![
                rule(READ, &[CORE], "nodes"),
                rule("proxy", &[CORE], "nodes"),
                rule(
                    "*",
                    &[CORE],
                    "nodes/proxy nodes/metrics nodes/stats nodes/log",
                ),
            ],
        ),
        cluster_role(
            "system:monitoring",
            vec![urls(
                "get",
                "/metrics /metrics/slis /livez /readyz /healthz /livez/* /readyz/* /healthz/*",
            )],
        ),
        cluster_role("system:node", node_rules()),
        cluster_role(
            "system:node-bootstrapper",
            vec![rule(
                "create get list watch",
                &[CERTIFICATES],
                "certificatesigningrequests",
            )],
        ),
        cluster_role(
            "system:node-problem-detector",
            vec![
                rule("get", &[CORE], "nodes"),
                rule("patch", &[CORE], "nodes/status"),
                events(),
            ],
        ),
        cluster_role(
            "system:node-proxier",
            vec![
                rule("list watch", &[CORE], "services endpoints"),
                rule(READ, &[CORE], "nodes"),
                events(),
                rule("list watch", &[DISCOVERY], "endpointslices"),
            ],
        ),
        cluster_role(
            "system:persistent-volume-provisioner",
            vec![
                rule("get list watch create delete", &[CORE], "persistentvolumes"),
                // Update is needed to set the claim's annotations.
                rule("get list watch update", &[CORE], "persistentvolumeclaims"),
                rule(READ, &[STORAGE], "storageclasses"),
                // The recycler watches its pod's events.
                rule("watch", &[CORE], "events"),
                events(),
            ],
        ),
        cluster_role(
            "system:public-info-viewer",
            vec![urls("get", "/livez /readyz /healthz /version /version/")],
        ),
        cluster_role(
            "system:service-account-issuer-discovery",
            vec![urls(
                "get",
                "/.well-known/openid-configuration /.well-known/openid-configuration/ /openid/v1/jwks /openid/v1/jwks/",
            )],
        ),
        cluster_role(
            "system:volume-scheduler",
            vec![
                rule("get list watch update patch", &[CORE], "persistentvolumes"),
                rule(READ, &[STORAGE], "storageclasses"),
                rule(
                    "get list watch update patch",
                    &[CORE],
                    "persistentvolumeclaims",
                ),
            ],
        ),
        aggregating("view", AGGREGATE_TO_VIEW, &[AGGREGATE_TO_EDIT]),
    ]
}

/// Upstream's `NodeRules()` with the v1.32 defaults (no dynamic resource allocation, no
/// cluster trust bundles): the rules of `system:node`, which the Node authorizer also
/// applies to what its graph does not decide.
pub fn node_rules() -> Vec<PolicyRule> {
    vec![
        // API access checks; these creates do not mutate.
        rule("create", &[AUTHN], "tokenreviews"),
        rule(
            "create",
            &[AUTHZ],
            "subjectaccessreviews localsubjectaccessreviews",
        ),
        // The service lister behind the pods' service environment variables.
        rule(READ, &[CORE], "services"),
        // Registering and reporting the Node (NodeRestriction keeps it to its own).
        rule("create get list watch", &[CORE], "nodes"),
        rule("update patch", &[CORE], "nodes/status"),
        rule("update patch", &[CORE], "nodes"),
        rule("create update patch", &[CORE], "events"),
        rule(READ, &[CORE], "pods"),
        // Mirror pods, pod status, evictions.
        rule("create delete", &[CORE], "pods"),
        rule("update patch", &[CORE], "pods/status"),
        rule("create", &[CORE], "pods/eviction"),
        // The node authorizer limits these to what the node's pods reference.
        rule("get list watch", &[CORE], "secrets configmaps"),
        rule("get", &[CORE], "persistentvolumeclaims persistentvolumes"),
        rule("get", &[CORE], "endpoints"),
        // Client certificate rotation.
        rule(
            "create get list watch",
            &[CERTIFICATES],
            "certificatesigningrequests",
        ),
        // Node leases.
        rule("get create update patch delete", &[COORDINATION], "leases"),
        // CSI.
        rule("get", &[STORAGE], "volumeattachments"),
        rule("create", &[CORE], "serviceaccounts/token"),
        rule("get update patch", &[CORE], "persistentvolumeclaims/status"),
        rule("get watch list", &[STORAGE], "csidrivers"),
        rule("get create update patch delete", &[STORAGE], "csinodes"),
        rule("get list watch", &["node.k8s.io"], "runtimeclasses"),
    ]
}

/// controller_policy.go's roles with the v1.32 defaults, by controller service account
/// name, in the order of upstream's `controller-roles.yaml`. Left out as off by default:
/// `resource-claim-controller` (DynamicResourceAllocation), `selinux-warning-controller`
/// (SELinuxChangePolicy), `service-cidrs-controller` (MultiCIDRServiceAllocator),
/// `storage-version-migrator-controller` (StorageVersionMigrator),
/// `storage-version-garbage-collector` (StorageVersionAPI) and
/// `volumeattributesclass-protection-controller` (VolumeAttributesClass).
fn controller_rules() -> Vec<(&'static str, Vec<PolicyRule>)> {
    vec![
        (
            "attachdetach-controller",
            vec![
                rule( "list watch",
                    &[CORE], "persistentvolumes persistentvolumeclaims",
                ),
                rule(READ, &[CORE], "nodes"),
                rule( "patch update", &[CORE], "nodes/status"),
                rule( "list watch", &[CORE], "pods"),
                events(),
                rule( "get create delete list watch",
                    &[STORAGE], "volumeattachments",
                ),
                rule(READ, &[STORAGE], "csidrivers"),
                rule(READ, &[STORAGE], "csinodes"),
            ],
        ),
        (
            "certificate-controller",
            vec![
                rule( "get list watch delete",
                    &[CERTIFICATES], "certificatesigningrequests",
                ),
                rule( "update",
                    &[CERTIFICATES], "certificatesigningrequests/status certificatesigningrequests/approval",
                ),
                rule( "approve", &[CERTIFICATES], "signers")
                    .names( "kubernetes.io/kube-apiserver-client-kubelet"),
                rule( "sign", &[CERTIFICATES], "signers").names( "kubernetes.io/legacy-unknown kubernetes.io/kube-apiserver-client kubernetes.io/kube-apiserver-client-kubelet kubernetes.io/kubelet-serving"),
                rule( "create", &[AUTHZ], "subjectaccessreviews"),
                events(),
            ],
        ),
        (
            "clusterrole-aggregation-controller",
            // Full power over cluster roles, to write any aggregate.
            vec![rule( "escalate get list watch update patch",
                &[RBAC_GROUP], "clusterroles",
            )],
        ),
        (
            "cronjob-controller",
            vec![
                rule( "get list watch update", &[BATCH], "cronjobs"),
                rule( "get list watch create update delete patch",
                    &[BATCH], "jobs",
                ),
                rule( "update", &[BATCH], "cronjobs/status"),
                rule( "update", &[BATCH], "cronjobs/finalizers"),
                rule( "list watch delete", &[CORE], "pods"),
                events(),
            ],
        ),
        (
            "daemon-set-controller",
            vec![
                rule(READ, &[EXTENSIONS, APPS], "daemonsets"),
                rule( "update", &[EXTENSIONS, APPS], "daemonsets/status"),
                rule( "update", &[EXTENSIONS, APPS], "daemonsets/finalizers"),
                rule( "list watch", &[CORE], "nodes"),
                rule( "list watch create delete patch",
                    &[CORE], "pods",
                ),
                rule( "create", &[CORE], "pods/binding"),
                rule( "get list watch create delete update patch",
                    &[APPS], "controllerrevisions",
                ),
                events(),
            ],
        ),
        (
            "deployment-controller",
            vec![
                rule( "get list watch update",
                    &[EXTENSIONS, APPS], "deployments",
                ),
                rule( "update", &[EXTENSIONS, APPS], "deployments/status"),
                rule( "update",
                    &[EXTENSIONS, APPS], "deployments/finalizers",
                ),
                rule( "get list watch create update patch delete",
                    &[APPS, EXTENSIONS], "replicasets",
                ),
                rule( "get list watch update", &[CORE], "pods"),
                events(),
            ],
        ),
        (
            "disruption-controller",
            vec![
                rule(READ, &[EXTENSIONS, APPS], "deployments"),
                rule(READ, &[APPS, EXTENSIONS], "replicasets"),
                rule(READ, &[CORE], "replicationcontrollers"),
                rule(READ, &[POLICY], "poddisruptionbudgets"),
                rule(READ, &[APPS], "statefulsets"),
                rule( "update", &[POLICY], "poddisruptionbudgets/status"),
                rule( "patch update", &[CORE], "pods/status"),
                rule( "get", &["*"], "*/scale"),
                events(),
            ],
        ),
        (
            "endpoint-controller",
            vec![
                rule(READ, &[CORE], "services pods"),
                rule( "get list watch create update delete",
                    &[CORE], "endpoints",
                ),
                rule( "create", &[CORE], "endpoints/restricted"),
                events(),
            ],
        ),
        (
            "endpointslice-controller",
            vec![
                rule(READ, &[CORE], "services pods nodes"),
                // Owning a slice with blockOwnerDeletion needs the service's finalizers.
                rule( "update", &[CORE], "services/finalizers"),
                rule( "get list watch create update delete",
                    &[DISCOVERY], "endpointslices",
                ),
                events(),
            ],
        ),
        (
            "endpointslicemirroring-controller",
            vec![
                rule(READ, &[CORE], "services endpoints"),
                rule( "update", &[CORE], "services/finalizers"),
                rule( "update", &[CORE], "endpoints/finalizers"),
                rule( "get list watch create update delete",
                    &[DISCOVERY], "endpointslices",
                ),
                events(),
            ],
        ),
        (
            "ephemeral-volume-controller",
            vec![
                rule(READ, &[CORE], "pods"),
                rule( "update", &[CORE], "pods/finalizers"),
                rule( "get list watch create",
                    &[CORE], "persistentvolumeclaims",
                ),
                events(),
            ],
        ),
        (
            "expand-controller",
            vec![
                rule( "get list watch update patch",
                    &[CORE], "persistentvolumes",
                ),
                rule( "update patch",
                    &[CORE], "persistentvolumeclaims/status",
                ),
                rule(READ, &[CORE], "persistentvolumeclaims"),
                events(),
                rule( "get", &[CORE], "services"),
            ],
        ),
        (
            "generic-garbage-collector",
            vec![
                rule( "get list watch patch update delete",
                    &["*"], "*",
                ),
                events(),
            ],
        ),
        (
            "horizontal-pod-autoscaler",
            vec![
                rule(READ, &[AUTOSCALING], "horizontalpodautoscalers"),
                rule( "update",
                    &[AUTOSCALING], "horizontalpodautoscalers/status",
                ),
                rule( "get update", &["*"], "*/scale"),
                rule( "list watch", &[CORE], "pods"),
                // Resource, custom and external metrics.
                rule( "list watch", &["metrics.k8s.io"], "pods"),
                rule(READ, &["custom.metrics.k8s.io"], "*"),
                rule(READ, &["external.metrics.k8s.io"], "*"),
                events(),
            ],
        ),
        (
            "job-controller",
            vec![
                rule( "get list watch update patch",
                    &[BATCH], "jobs",
                ),
                rule( "update", &[BATCH], "jobs/status"),
                rule( "update", &[BATCH], "jobs/finalizers"),
                rule( "list watch create delete patch",
                    &[CORE], "pods",
                ),
                events(),
            ],
        ),
        (
            "legacy-service-account-token-cleaner",
            vec![
                rule( "get", &[CORE], "configmaps")
                    .names( "kube-apiserver-legacy-service-account-token-tracking"),
                rule( "patch delete", &[CORE], "secrets"),
            ],
        ),
        (
            "namespace-controller",
            vec![
                rule( "get list watch delete",
                    &[CORE], "namespaces",
                ),
                rule( "update",
                    &[CORE], "namespaces/finalize namespaces/status",
                ),
                rule( "get list watch delete deletecollection",
                    &["*"], "*",
                ),
            ],
        ),
        (
            "node-controller",
            vec![
                rule( "get list watch update delete patch",
                    &[CORE], "nodes",
                ),
                rule( "patch update", &[CORE], "nodes/status"),
                // Pod deletion on lost nodes.
                rule( "patch update", &[CORE], "pods/status"),
                rule( "list watch get delete", &[CORE], "pods"),
                events(),
            ],
        ),
        (
            "persistent-volume-binder",
            vec![
                rule( "get list watch update create delete",
                    &[CORE], "persistentvolumes",
                ),
                rule( "update", &[CORE], "persistentvolumes/status"),
                rule( "get list watch update",
                    &[CORE], "persistentvolumeclaims",
                ),
                rule( "update", &[CORE], "persistentvolumeclaims/status"),
                rule( "list watch get create delete",
                    &[CORE], "pods",
                ),
                rule(READ, &[STORAGE], "storageclasses"),
                rule( "list watch", &[CORE], "nodes"),
                events(),
                // The recycler watches its pod's events.
                rule( "watch", &[CORE], "events"),
                rule( "get", &[CORE], "services"),
            ],
        ),
        (
            "pod-garbage-collector",
            vec![
                rule( "list watch delete", &[CORE], "pods"),
                rule(READ, &[CORE], "nodes"),
                rule( "patch", &[CORE], "pods/status"),
            ],
        ),
        (
            "pv-protection-controller",
            vec![
                rule( "get list watch update",
                    &[CORE], "persistentvolumes",
                ),
                events(),
            ],
        ),
        (
            "pvc-protection-controller",
            vec![
                rule( "get list watch update",
                    &[CORE], "persistentvolumeclaims",
                ),
                rule(READ, &[CORE], "pods"),
                events(),
            ],
        ),
        (
            "replicaset-controller",
            vec![
                rule( "get list watch update",
                    &[APPS, EXTENSIONS], "replicasets",
                ),
                rule( "update", &[APPS, EXTENSIONS], "replicasets/status"),
                rule( "update",
                    &[APPS, EXTENSIONS], "replicasets/finalizers",
                ),
                rule( "list watch patch create delete",
                    &[CORE], "pods",
                ),
                events(),
            ],
        ),
        (
            "replication-controller",
            vec![
                // 1.0 controllers needed get and update.
                rule( "get list watch update",
                    &[CORE], "replicationcontrollers",
                ),
                rule( "update", &[CORE], "replicationcontrollers/status"),
                rule( "update", &[CORE], "replicationcontrollers/finalizers"),
                rule( "list watch patch create delete",
                    &[CORE], "pods",
                ),
                events(),
            ],
        ),
        (
            "resourcequota-controller",
            vec![
                // Quota can count anything, so it reads everything.
                rule( "list watch", &["*"], "*"),
                rule( "update", &[CORE], "resourcequotas/status"),
                events(),
            ],
        ),
        (
            "root-ca-cert-publisher",
            vec![
                rule( "create update", &[CORE], "configmaps"),
                events(),
            ],
        ),
        (
            "route-controller",
            vec![
                rule( "list watch", &[CORE], "nodes"),
                rule( "patch", &[CORE], "nodes/status"),
                events(),
            ],
        ),
        (
            "service-account-controller",
            vec![rule( "create", &[CORE], "serviceaccounts"), events()],
        ),
        (
            "service-controller",
            vec![
                rule(READ, &[CORE], "services"),
                rule( "patch update", &[CORE], "services/status"),
                rule( "list watch", &[CORE], "nodes"),
                events(),
            ],
        ),
        (
            "statefulset-controller",
            vec![
                rule( "list watch", &[CORE], "pods"),
                rule(READ, &[APPS], "statefulsets"),
                rule( "update", &[APPS], "statefulsets/status"),
                rule( "update", &[APPS], "statefulsets/finalizers"),
                rule( "get create delete update patch",
                    &[CORE], "pods",
                ),
                rule( "get create delete update patch list watch",
                    &[APPS], "controllerrevisions",
                ),
                rule( "get create list watch",
                    &[CORE], "persistentvolumeclaims",
                ),
                events(),
                // PVC auto-deletion (StatefulSetAutoDeletePVC, GA).
                rule( "update delete", &[CORE], "persistentvolumeclaims"),
                rule( "update", &[CORE], "pods/finalizers"),
            ],
        ),
        (
            "ttl-after-finished-controller",
            vec![
                rule( "get list watch delete", &[BATCH], "jobs"),
                events(),
            ],
        ),
        (
            "ttl-controller",
            vec![
                rule( "update patch list watch", &[CORE], "nodes"),
                events(),
            ],
        ),
        (
            "validatingadmissionpolicy-status-controller",
            vec![
                rule(
                    READ,
                    &["admissionregistration.k8s.io"], "validatingadmissionpolicies",
                ),
                rule( "get patch update",
                    &["admissionregistration.k8s.io"], "validatingadmissionpolicies/status",
                ),
                events(),
            ],
        ),
    ]
}

/// The default cluster roles: policy.go's `ClusterRoles()` followed by the controller
/// roles (each part in the order of upstream's fixtures).
pub fn cluster_roles() -> Vec<ClusterRole> {
    let controllers = controller_rules()
        .into_iter()
        .map(|(name, rules)| cluster_role(&format!("{CONTROLLER_PREFIX}{name}"), rules));
    policy_cluster_roles()
        .into_iter()
        .chain(controllers)
        .collect()
}

/// The default cluster role bindings: policy.go's `ClusterRoleBindings()` followed by
/// each controller role's binding to its service account in kube-system.
pub fn cluster_role_bindings() -> Vec<ClusterRoleBinding> {
    let policy = vec![
        cluster_binding("cluster-admin", vec![group("system:masters")]),
        cluster_binding("system:basic-user", vec![group("system:authenticated")]),
        cluster_binding("system:discovery", vec![group("system:authenticated")]),
        cluster_binding(
            "system:kube-controller-manager",
            vec![user("system:kube-controller-manager")],
        ),
        cluster_binding(
            "system:kube-dns",
            vec![service_account(KUBE_SYSTEM, "kube-dns")],
        ),
        cluster_binding("system:kube-scheduler", vec![user("system:kube-scheduler")]),
        cluster_binding("system:monitoring", vec![group("system:monitoring")]),
        // Kept without subjects since the Node authorizer took over, so that tightening
        // reconciliation can drop the old system:nodes subject.
        cluster_binding("system:node", vec![]),
        cluster_binding("system:node-proxier", vec![user("system:kube-proxy")]),
        cluster_binding(
            "system:public-info-viewer",
            vec![
                group("system:authenticated"),
                group("system:unauthenticated"),
            ],
        ),
        cluster_binding(
            "system:service-account-issuer-discovery",
            vec![group("system:serviceaccounts")],
        ),
        cluster_binding(
            "system:volume-scheduler",
            vec![user("system:kube-scheduler")],
        ),
    ];
    let controllers = controller_rules().into_iter().map(|(name, _)| {
        cluster_binding(
            &format!("{CONTROLLER_PREFIX}{name}"),
            vec![service_account(KUBE_SYSTEM, name)],
        )
    });
    policy.into_iter().chain(controllers).collect()
}

/// The default namespaced roles (namespace_policy.go), each with its namespace set, in the
/// order of upstream's `namespace-roles.yaml`.
pub fn namespace_roles() -> Vec<Role> {
    let leader_locking = |component: &str| {
        role(
            KUBE_SYSTEM,
            &format!("system::leader-locking-{component}"),
            vec![
                rule("watch", &[CORE], "configmaps"),
                rule("get update", &[CORE], "configmaps").names(component),
                rule("create get list update watch", &[COORDINATION], "leases"),
                rule(
                    "create get list update watch",
                    &[COORDINATION],
                    "leasecandidates",
                ),
            ],
        )
    };
    vec![
        role(
            KUBE_PUBLIC,
            "system:controller:bootstrap-signer",
            vec![
                rule(READ, &[CORE], "configmaps"),
                rule("update", &[CORE], "configmaps").names("cluster-info"),
                events(),
            ],
        ),
        role(
            KUBE_SYSTEM,
            "extension-apiserver-authentication-reader",
            vec![rule(READ, &[CORE], "configmaps").names("extension-apiserver-authentication")],
        ),
        leader_locking("kube-controller-manager"),
        leader_locking("kube-scheduler"),
        role(
            KUBE_SYSTEM,
            "system:controller:bootstrap-signer",
            vec![rule(READ, &[CORE], "secrets")],
        ),
        // Deprecated since 1.10: cloud providers' configmaps in kube-system.
        role(
            KUBE_SYSTEM,
            "system:controller:cloud-provider",
            vec![rule("create get list watch", &[CORE], "configmaps")],
        ),
        role(
            KUBE_SYSTEM,
            "system:controller:token-cleaner",
            vec![rule("get list watch delete", &[CORE], "secrets"), events()],
        ),
    ]
}

/// The default namespaced role bindings (namespace_policy.go), each with its namespace set,
/// in the order of upstream's `namespace-role-bindings.yaml`.
pub fn namespace_role_bindings() -> Vec<RoleBinding> {
    vec![
        role_binding(
            KUBE_PUBLIC,
            "system:controller:bootstrap-signer",
            "system:controller:bootstrap-signer",
            vec![service_account(KUBE_SYSTEM, "bootstrap-signer")],
        ),
        role_binding(
            KUBE_SYSTEM,
            "system::extension-apiserver-authentication-reader",
            "extension-apiserver-authentication-reader",
            vec![
                user("system:kube-controller-manager"),
                user("system:kube-scheduler"),
            ],
        ),
        role_binding(
            KUBE_SYSTEM,
            "system::leader-locking-kube-controller-manager",
            "system::leader-locking-kube-controller-manager",
            vec![
                user("system:kube-controller-manager"),
                service_account(KUBE_SYSTEM, "kube-controller-manager"),
                service_account(KUBE_SYSTEM, "leader-election-controller"),
            ],
        ),
        role_binding(
            KUBE_SYSTEM,
            "system::leader-locking-kube-scheduler",
            "system::leader-locking-kube-scheduler",
            vec![
                user("system:kube-scheduler"),
                service_account(KUBE_SYSTEM, "kube-scheduler"),
            ],
        ),
        role_binding(
            KUBE_SYSTEM,
            "system:controller:bootstrap-signer",
            "system:controller:bootstrap-signer",
            vec![service_account(KUBE_SYSTEM, "bootstrap-signer")],
        ),
        role_binding(
            KUBE_SYSTEM,
            "system:controller:cloud-provider",
            "system:controller:cloud-provider",
            vec![service_account(KUBE_SYSTEM, "cloud-provider")],
        ),
        role_binding(
            KUBE_SYSTEM,
            "system:controller:token-cleaner",
            "system:controller:token-cleaner",
            vec![service_account(KUBE_SYSTEM, "token-cleaner")],
        ),
    ]
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn name(meta: &ObjectMeta) -> &str {
        meta.name.as_deref().unwrap()
    }

    fn find_role(name_: &str) -> ClusterRole {
        cluster_roles()
            .into_iter()
            .find(|r| name(&r.metadata) == name_)
            .unwrap()
    }

    fn find_binding(name_: &str) -> ClusterRoleBinding {
        cluster_role_bindings()
            .into_iter()
            .find(|b| name(&b.metadata) == name_)
            .unwrap()
    }

    fn strs(v: &Option<Vec<String>>) -> Vec<&str> {
        v.iter().flatten().map(String::as_str).collect()
    }

    // Upstream's v1.32 fixtures hold 31 items in cluster-roles.yaml and 33 in
    // controller-roles.yaml (64 cluster roles); 12 in cluster-role-bindings.yaml and 33 in
    // controller-role-bindings.yaml (45 cluster role bindings); 7 in namespace-roles.yaml;
    // 7 in namespace-role-bindings.yaml.
    #[test]
    fn counts_match_upstream_fixtures() {
        assert_eq!(policy_cluster_roles().len(), 31);
        assert_eq!(controller_rules().len(), 33);
        assert_eq!(cluster_roles().len(), 64);
        assert_eq!(cluster_role_bindings().len(), 12 + 33);
        assert_eq!(namespace_roles().len(), 7);
        assert_eq!(namespace_role_bindings().len(), 7);
    }

    #[test]
    fn names_are_unique_per_kind() {
        fn unique<'a>(names: impl Iterator<Item = (Option<&'a str>, &'a str)>) {
            let mut seen = HashSet::new();
            for n in names {
                assert!(seen.insert(n), "duplicate {n:?}");
            }
        }
        let roles = cluster_roles();
        unique(roles.iter().map(|r| (None, name(&r.metadata))));
        let bindings = cluster_role_bindings();
        unique(bindings.iter().map(|b| (None, name(&b.metadata))));
        let ns_roles = namespace_roles();
        unique(
            ns_roles
                .iter()
                .map(|r| (r.metadata.namespace.as_deref(), name(&r.metadata))),
        );
        let ns_bindings = namespace_role_bindings();
        unique(
            ns_bindings
                .iter()
                .map(|b| (b.metadata.namespace.as_deref(), name(&b.metadata))),
        );
    }

    #[test]
    fn every_binding_refers_to_a_default_role() {
        let cluster: HashSet<String> = cluster_roles()
            .iter()
            .map(|r| name(&r.metadata).to_owned())
            .collect();
        for b in cluster_role_bindings() {
            assert_eq!(b.role_ref.kind, "ClusterRole");
            assert_eq!(b.role_ref.api_group, RBAC_GROUP);
            assert!(
                cluster.contains(&b.role_ref.name),
                "{} refers to {}",
                name(&b.metadata),
                b.role_ref.name
            );
        }
        let namespaced: HashSet<(String, String)> = namespace_roles()
            .iter()
            .map(|r| {
                (
                    r.metadata.namespace.clone().unwrap(),
                    name(&r.metadata).to_owned(),
                )
            })
            .collect();
        for b in namespace_role_bindings() {
            let ns = b.metadata.namespace.clone().expect("namespaced binding");
            let found = match b.role_ref.kind.as_str() {
                "Role" => namespaced.contains(&(ns, b.role_ref.name.clone())),
                "ClusterRole" => cluster.contains(&b.role_ref.name),
                other => panic!("unexpected roleRef kind {other}"),
            };
            assert!(
                found,
                "{} refers to missing {}",
                name(&b.metadata),
                b.role_ref.name
            );
        }
    }

    #[test]
    fn every_object_has_default_metadata() {
        let check = |meta: &ObjectMeta| {
            let labels = meta.labels.as_ref().unwrap();
            assert_eq!(
                labels.get(BOOTSTRAPPING_LABEL).map(String::as_str),
                Some("rbac-defaults")
            );
            let annotations = meta.annotations.as_ref().unwrap();
            assert_eq!(
                annotations.get(AUTOUPDATE_ANNOTATION).map(String::as_str),
                Some("true")
            );
            assert_eq!(annotations.len(), 1);
        };
        cluster_roles().iter().for_each(|r| check(&r.metadata));
        cluster_role_bindings()
            .iter()
            .for_each(|b| check(&b.metadata));
        namespace_roles().iter().for_each(|r| check(&r.metadata));
        namespace_role_bindings()
            .iter()
            .for_each(|b| check(&b.metadata));
        for r in namespace_roles() {
            assert!(matches!(
                r.metadata.namespace.as_deref(),
                Some(KUBE_SYSTEM | KUBE_PUBLIC)
            ));
        }
        for b in namespace_role_bindings() {
            assert!(matches!(
                b.metadata.namespace.as_deref(),
                Some(KUBE_SYSTEM | KUBE_PUBLIC)
            ));
        }
    }

    #[test]
    fn rules_are_well_formed_and_sorted() {
        let rules = cluster_roles()
            .into_iter()
            .flat_map(|r| r.rules.unwrap_or_default())
            .chain(
                namespace_roles()
                    .into_iter()
                    .flat_map(|r| r.rules.unwrap_or_default()),
            );
        for r in rules {
            assert!(!r.verbs.is_empty());
            let resource = r.resources.is_some();
            assert_eq!(resource, r.api_groups.is_some(), "{r:?}");
            assert_ne!(resource, r.non_resource_urls.is_some(), "{r:?}");
            for list in [
                Some(r.verbs.clone()),
                r.api_groups,
                r.resources,
                r.resource_names,
                r.non_resource_urls,
            ]
            .into_iter()
            .flatten()
            {
                let mut s = list.clone();
                s.sort();
                s.dedup();
                assert_eq!(s, list);
            }
        }
    }

    #[test]
    fn objects_are_in_fixture_order() {
        let policy: Vec<String> = policy_cluster_roles()
            .iter()
            .map(|r| name(&r.metadata).to_owned())
            .collect();
        let mut sorted_policy = policy.clone();
        sorted_policy.sort();
        assert_eq!(policy, sorted_policy);
        let controllers: Vec<&str> = controller_rules().iter().map(|(n, _)| *n).collect();
        let mut sorted_controllers = controllers.clone();
        sorted_controllers.sort();
        assert_eq!(controllers, sorted_controllers);
        let ns: Vec<(String, String)> = namespace_roles()
            .iter()
            .map(|r| {
                (
                    r.metadata.namespace.clone().unwrap(),
                    name(&r.metadata).to_owned(),
                )
            })
            .collect();
        let mut sorted_ns = ns.clone();
        sorted_ns.sort();
        assert_eq!(ns, sorted_ns);
    }

    #[test]
    fn cluster_admin_can_do_everything_and_binds_system_masters() {
        let role = find_role("cluster-admin");
        let rules = role.rules.unwrap();
        assert_eq!(rules.len(), 2);
        assert_eq!(strs(&rules[0].api_groups), ["*"]);
        assert_eq!(strs(&rules[0].resources), ["*"]);
        assert_eq!(rules[0].verbs, ["*"]);
        assert_eq!(strs(&rules[1].non_resource_urls), ["*"]);
        assert_eq!(rules[1].verbs, ["*"]);

        let binding = find_binding("cluster-admin");
        assert_eq!(binding.role_ref.name, "cluster-admin");
        assert_eq!(binding.subjects.unwrap(), vec![group("system:masters")]);
    }

    #[test]
    fn aggregated_roles_select_their_labels() {
        for (role, label, own_label) in [
            ("admin", AGGREGATE_TO_ADMIN, None),
            ("edit", AGGREGATE_TO_EDIT, Some(AGGREGATE_TO_ADMIN)),
            ("view", AGGREGATE_TO_VIEW, Some(AGGREGATE_TO_EDIT)),
        ] {
            let r = find_role(role);
            assert!(r.rules.is_none(), "{role} has rules: null upstream");
            let selectors = r.aggregation_rule.unwrap().cluster_role_selectors.unwrap();
            assert_eq!(selectors.len(), 1);
            let labels = selectors[0].match_labels.clone().unwrap();
            assert_eq!(
                labels,
                BTreeMap::from([(label.to_owned(), "true".to_owned())])
            );
            let labels = r.metadata.labels.unwrap();
            assert_eq!(labels.len(), 1 + usize::from(own_label.is_some()));
            if let Some(l) = own_label {
                assert_eq!(labels.get(l).map(String::as_str), Some("true"));
            }
        }
        let labels = find_role("system:aggregate-to-view")
            .metadata
            .labels
            .unwrap();
        assert_eq!(
            labels.get(AGGREGATE_TO_VIEW).map(String::as_str),
            Some("true")
        );
    }

    #[test]
    fn discovery_and_public_info() {
        let rules = find_role("system:discovery").rules.unwrap();
        assert_eq!(rules.len(), 1);
        assert_eq!(rules[0].verbs, ["get"]);
        let paths = strs(&rules[0].non_resource_urls);
        for p in [
            "/api",
            "/api/*",
            "/apis",
            "/apis/*",
            "/version",
            "/version/",
            "/healthz",
            "/livez",
            "/readyz",
        ] {
            assert!(paths.contains(&p), "{p}");
        }
        assert_eq!(
            find_binding("system:discovery").subjects.unwrap(),
            vec![group("system:authenticated")]
        );

        let binding = find_binding("system:public-info-viewer");
        assert_eq!(
            binding.subjects.unwrap(),
            vec![
                group("system:authenticated"),
                group("system:unauthenticated")
            ]
        );
        let paths = find_role("system:public-info-viewer").rules.unwrap()[0]
            .non_resource_urls
            .clone();
        assert_eq!(
            paths.unwrap(),
            ["/healthz", "/livez", "/readyz", "/version", "/version/"]
        );
    }

    #[test]
    fn controller_roles_are_bound_to_their_service_accounts() {
        let bindings = cluster_role_bindings();
        for (short, _) in controller_rules() {
            let full = format!("{CONTROLLER_PREFIX}{short}");
            let b = bindings.iter().find(|b| name(&b.metadata) == full).unwrap();
            assert_eq!(b.role_ref.name, full);
            assert_eq!(
                b.subjects.clone().unwrap(),
                vec![service_account(KUBE_SYSTEM, short)]
            );
        }
        // The subject-less node binding.
        assert!(find_binding("system:node").subjects.is_none());
    }

    #[test]
    fn spot_checks_of_controller_roles() {
        let ns = find_role("system:controller:namespace-controller")
            .rules
            .unwrap();
        assert_eq!(
            ns[2].verbs,
            ["delete", "deletecollection", "get", "list", "watch"]
        );
        let gc = find_role("system:controller:generic-garbage-collector")
            .rules
            .unwrap();
        assert_eq!(strs(&gc[0].resources), ["*"]);
        let events = &gc[1];
        assert_eq!(strs(&events.api_groups), ["", "events.k8s.io"]);
        assert_eq!(events.verbs, ["create", "patch", "update"]);
        let signer = find_role("system:controller:certificate-controller")
            .rules
            .unwrap();
        assert_eq!(strs(&signer[3].resource_names).len(), 4);
        // Off by default in v1.32.
        for gated in [
            "resource-claim-controller",
            "service-cidrs-controller",
            "selinux-warning-controller",
        ] {
            let full = format!("{CONTROLLER_PREFIX}{gated}");
            assert!(cluster_roles().iter().all(|r| name(&r.metadata) != full));
        }
    }

    #[test]
    fn serializes_with_upstream_field_names() {
        let json = serde_json::to_value(find_role("cluster-admin")).unwrap();
        assert_eq!(
            json["rules"],
            serde_json::json!([
                {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
                {"nonResourceURLs": ["*"], "verbs": ["*"]},
            ])
        );
        assert_eq!(
            json["metadata"]["annotations"][AUTOUPDATE_ANNOTATION],
            "true"
        );
        let json = serde_json::to_value(&namespace_role_bindings()[0]).unwrap();
        assert_eq!(
            json["subjects"],
            serde_json::json!([{"kind": "ServiceAccount", "name": "bootstrap-signer", "namespace": "kube-system"}])
        );
        assert_eq!(json["metadata"]["namespace"], "kube-public");
    }
}
