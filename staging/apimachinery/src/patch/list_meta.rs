//! The list patch metadata of the built-in kinds: for each field of a
//! definition that has a patch strategy, a patch merge key or a list type,
//! what strategic merge patch and the OpenAPI documents need to know.
//!
//! Where the facts come from: the `patchStrategy` / `patchMergeKey` struct tags
//! and the `+listType` / `+listMapKey` markers of the Kubernetes v1.32 API
//! types (`k8s.io/api` v0.32: `core/v1/types.go`, `apps/v1/types.go`;
//! `k8s.io/apimachinery` v0.32: `pkg/apis/meta/v1/types.go`), the same facts
//! the v1.32 OpenAPI documents publish as `x-kubernetes-patch-strategy`,
//! `x-kubernetes-patch-merge-key`, `x-kubernetes-list-type` and
//! `x-kubernetes-list-map-keys`. The fields of the inlined
//! `EphemeralContainerCommon` are listed under `EphemeralContainer`.
//! The table covers every such field of core/v1 and apps/v1 (a superset of
//! the types reachable from Pod, Service, Endpoints, ReplicationController,
//! ConfigMap, Secret, Event, ServiceAccount, Node, Namespace, Deployment,
//! ReplicaSet, StatefulSet and DaemonSet) and the list fields of meta/v1.

/// The patch metadata of one field of a definition (most are lists; a few,
/// like `DeploymentSpec.strategy`, are structs with strategy `retainKeys`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListMeta {
    /// `x-kubernetes-patch-merge-key`: the key that identifies an item of a
    /// list merged by strategic merge patch.
    pub patch_merge_key: Option<&'static str>,
    /// `x-kubernetes-patch-strategy`: `merge`, `retainKeys`, or both
    /// separated by a comma.
    pub patch_strategy: Option<&'static str>,
    /// `x-kubernetes-list-type`: `atomic`, `set` or `map`.
    pub list_type: Option<&'static str>,
    /// `x-kubernetes-list-map-keys` of a list of type `map`.
    pub list_map_keys: &'static [&'static str],
}

impl ListMeta {
    /// The patch strategies, split at commas (empty when there is none).
    pub fn patch_strategies(&self) -> Vec<&'static str> {
        self.patch_strategy
            .map(|strategy| strategy.split(',').collect())
            .unwrap_or_default()
    }
}

/// The list patch metadata of `field` (its JSON name) of the OpenAPI
/// definition `definition` (e.g. `io.k8s.api.core.v1.PodSpec`), or `None`
/// when the field has none.
pub fn field_patch_meta(definition: &str, field: &str) -> Option<ListMeta> {
    FIELD_PATCH_META
        .binary_search_by(|(entry_definition, entry_field, _)| {
            (*entry_definition, *entry_field).cmp(&(definition, field))
        })
        .ok()
        .map(|index| FIELD_PATCH_META[index].2)
}

/// Every field with patch metadata, sorted by (definition, field).
pub(crate) const FIELD_PATCH_META: &[(&str, &str, ListMeta)] = &[
    (
        "io.k8s.api.apps.v1.DaemonSetStatus",
        "conditions",
        ListMeta {
            patch_merge_key: Some("type"),
            patch_strategy: Some("merge"),
            list_type: Some("map"),
            list_map_keys: &["type"],
        },
    ),
    (
        "io.k8s.api.apps.v1.DeploymentSpec",
        "strategy",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: Some("retainKeys"),
            list_type: None,
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.apps.v1.DeploymentStatus",
        "conditions",
        ListMeta {
            patch_merge_key: Some("type"),
            patch_strategy: Some("merge"),
            list_type: Some("map"),
            list_map_keys: &["type"],
        },
    ),
    (
        "io.k8s.api.apps.v1.ReplicaSetStatus",
        "conditions",
        ListMeta {
            patch_merge_key: Some("type"),
            patch_strategy: Some("merge"),
            list_type: Some("map"),
            list_map_keys: &["type"],
        },
    ),
    (
        "io.k8s.api.apps.v1.StatefulSetSpec",
        "volumeClaimTemplates",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.apps.v1.StatefulSetStatus",
        "conditions",
        ListMeta {
            patch_merge_key: Some("type"),
            patch_strategy: Some("merge"),
            list_type: Some("map"),
            list_map_keys: &["type"],
        },
    ),
    (
        "io.k8s.api.core.v1.AvoidPods",
        "preferAvoidPods",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.Capabilities",
        "add",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.Capabilities",
        "drop",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.CephFSPersistentVolumeSource",
        "monitors",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.CephFSVolumeSource",
        "monitors",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.ComponentStatus",
        "conditions",
        ListMeta {
            patch_merge_key: Some("type"),
            patch_strategy: Some("merge"),
            list_type: Some("map"),
            list_map_keys: &["type"],
        },
    ),
    (
        "io.k8s.api.core.v1.ConfigMapProjection",
        "items",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.ConfigMapVolumeSource",
        "items",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.Container",
        "args",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.Container",
        "command",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.Container",
        "env",
        ListMeta {
            patch_merge_key: Some("name"),
            patch_strategy: Some("merge"),
            list_type: Some("map"),
            list_map_keys: &["name"],
        },
    ),
    (
        "io.k8s.api.core.v1.Container",
        "envFrom",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.Container",
        "ports",
        ListMeta {
            patch_merge_key: Some("containerPort"),
            patch_strategy: Some("merge"),
            list_type: Some("map"),
            list_map_keys: &["containerPort", "protocol"],
        },
    ),
    (
        "io.k8s.api.core.v1.Container",
        "resizePolicy",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.Container",
        "volumeDevices",
        ListMeta {
            patch_merge_key: Some("devicePath"),
            patch_strategy: Some("merge"),
            list_type: Some("map"),
            list_map_keys: &["devicePath"],
        },
    ),
    (
        "io.k8s.api.core.v1.Container",
        "volumeMounts",
        ListMeta {
            patch_merge_key: Some("mountPath"),
            patch_strategy: Some("merge"),
            list_type: Some("map"),
            list_map_keys: &["mountPath"],
        },
    ),
    (
        "io.k8s.api.core.v1.ContainerImage",
        "names",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.ContainerStatus",
        "allocatedResourcesStatus",
        ListMeta {
            patch_merge_key: Some("name"),
            patch_strategy: Some("merge"),
            list_type: Some("map"),
            list_map_keys: &["name"],
        },
    ),
    (
        "io.k8s.api.core.v1.ContainerStatus",
        "volumeMounts",
        ListMeta {
            patch_merge_key: Some("mountPath"),
            patch_strategy: Some("merge"),
            list_type: Some("map"),
            list_map_keys: &["mountPath"],
        },
    ),
    (
        "io.k8s.api.core.v1.DownwardAPIProjection",
        "items",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.DownwardAPIVolumeSource",
        "items",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.EndpointSubset",
        "addresses",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.EndpointSubset",
        "notReadyAddresses",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.EndpointSubset",
        "ports",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.Endpoints",
        "subsets",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.EphemeralContainer",
        "args",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.EphemeralContainer",
        "command",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.EphemeralContainer",
        "env",
        ListMeta {
            patch_merge_key: Some("name"),
            patch_strategy: Some("merge"),
            list_type: Some("map"),
            list_map_keys: &["name"],
        },
    ),
    (
        "io.k8s.api.core.v1.EphemeralContainer",
        "envFrom",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.EphemeralContainer",
        "ports",
        ListMeta {
            patch_merge_key: Some("containerPort"),
            patch_strategy: Some("merge"),
            list_type: Some("map"),
            list_map_keys: &["containerPort", "protocol"],
        },
    ),
    (
        "io.k8s.api.core.v1.EphemeralContainer",
        "resizePolicy",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.EphemeralContainer",
        "volumeDevices",
        ListMeta {
            patch_merge_key: Some("devicePath"),
            patch_strategy: Some("merge"),
            list_type: Some("map"),
            list_map_keys: &["devicePath"],
        },
    ),
    (
        "io.k8s.api.core.v1.EphemeralContainer",
        "volumeMounts",
        ListMeta {
            patch_merge_key: Some("mountPath"),
            patch_strategy: Some("merge"),
            list_type: Some("map"),
            list_map_keys: &["mountPath"],
        },
    ),
    (
        "io.k8s.api.core.v1.ExecAction",
        "command",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.FCVolumeSource",
        "targetWWNs",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.FCVolumeSource",
        "wwids",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.HTTPGetAction",
        "httpHeaders",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.HostAlias",
        "hostnames",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.ISCSIPersistentVolumeSource",
        "portals",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.ISCSIVolumeSource",
        "portals",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.LimitRangeSpec",
        "limits",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.LinuxContainerUser",
        "supplementalGroups",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.LoadBalancerIngress",
        "ports",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.LoadBalancerStatus",
        "ingress",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.NamespaceSpec",
        "finalizers",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.NamespaceStatus",
        "conditions",
        ListMeta {
            patch_merge_key: Some("type"),
            patch_strategy: Some("merge"),
            list_type: Some("map"),
            list_map_keys: &["type"],
        },
    ),
    (
        "io.k8s.api.core.v1.NodeAffinity",
        "preferredDuringSchedulingIgnoredDuringExecution",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.NodeSelector",
        "nodeSelectorTerms",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.NodeSelectorRequirement",
        "values",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.NodeSelectorTerm",
        "matchExpressions",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.NodeSelectorTerm",
        "matchFields",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.NodeSpec",
        "podCIDRs",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: Some("merge"),
            list_type: Some("set"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.NodeSpec",
        "taints",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.NodeStatus",
        "addresses",
        ListMeta {
            patch_merge_key: Some("type"),
            patch_strategy: Some("merge"),
            list_type: Some("map"),
            list_map_keys: &["type"],
        },
    ),
    (
        "io.k8s.api.core.v1.NodeStatus",
        "conditions",
        ListMeta {
            patch_merge_key: Some("type"),
            patch_strategy: Some("merge"),
            list_type: Some("map"),
            list_map_keys: &["type"],
        },
    ),
    (
        "io.k8s.api.core.v1.NodeStatus",
        "images",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.NodeStatus",
        "runtimeHandlers",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.NodeStatus",
        "volumesAttached",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.NodeStatus",
        "volumesInUse",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.PersistentVolumeClaimSpec",
        "accessModes",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.PersistentVolumeClaimStatus",
        "accessModes",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.PersistentVolumeClaimStatus",
        "conditions",
        ListMeta {
            patch_merge_key: Some("type"),
            patch_strategy: Some("merge"),
            list_type: Some("map"),
            list_map_keys: &["type"],
        },
    ),
    (
        "io.k8s.api.core.v1.PersistentVolumeSpec",
        "accessModes",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.PersistentVolumeSpec",
        "mountOptions",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.PodAffinity",
        "preferredDuringSchedulingIgnoredDuringExecution",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.PodAffinity",
        "requiredDuringSchedulingIgnoredDuringExecution",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.PodAffinityTerm",
        "matchLabelKeys",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.PodAffinityTerm",
        "mismatchLabelKeys",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.PodAffinityTerm",
        "namespaces",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.PodAntiAffinity",
        "preferredDuringSchedulingIgnoredDuringExecution",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.PodAntiAffinity",
        "requiredDuringSchedulingIgnoredDuringExecution",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.PodDNSConfig",
        "nameservers",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.PodDNSConfig",
        "options",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.PodDNSConfig",
        "searches",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.PodExecOptions",
        "command",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.PodPortForwardOptions",
        "ports",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.PodSecurityContext",
        "supplementalGroups",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.PodSecurityContext",
        "sysctls",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.PodSpec",
        "containers",
        ListMeta {
            patch_merge_key: Some("name"),
            patch_strategy: Some("merge"),
            list_type: Some("map"),
            list_map_keys: &["name"],
        },
    ),
    (
        "io.k8s.api.core.v1.PodSpec",
        "ephemeralContainers",
        ListMeta {
            patch_merge_key: Some("name"),
            patch_strategy: Some("merge"),
            list_type: Some("map"),
            list_map_keys: &["name"],
        },
    ),
    (
        "io.k8s.api.core.v1.PodSpec",
        "hostAliases",
        ListMeta {
            patch_merge_key: Some("ip"),
            patch_strategy: Some("merge"),
            list_type: Some("map"),
            list_map_keys: &["ip"],
        },
    ),
    (
        "io.k8s.api.core.v1.PodSpec",
        "imagePullSecrets",
        ListMeta {
            patch_merge_key: Some("name"),
            patch_strategy: Some("merge"),
            list_type: Some("map"),
            list_map_keys: &["name"],
        },
    ),
    (
        "io.k8s.api.core.v1.PodSpec",
        "initContainers",
        ListMeta {
            patch_merge_key: Some("name"),
            patch_strategy: Some("merge"),
            list_type: Some("map"),
            list_map_keys: &["name"],
        },
    ),
    (
        "io.k8s.api.core.v1.PodSpec",
        "readinessGates",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.PodSpec",
        "resourceClaims",
        ListMeta {
            patch_merge_key: Some("name"),
            patch_strategy: Some("merge,retainKeys"),
            list_type: Some("map"),
            list_map_keys: &["name"],
        },
    ),
    (
        "io.k8s.api.core.v1.PodSpec",
        "schedulingGates",
        ListMeta {
            patch_merge_key: Some("name"),
            patch_strategy: Some("merge"),
            list_type: Some("map"),
            list_map_keys: &["name"],
        },
    ),
    (
        "io.k8s.api.core.v1.PodSpec",
        "tolerations",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.PodSpec",
        "topologySpreadConstraints",
        ListMeta {
            patch_merge_key: Some("topologyKey"),
            patch_strategy: Some("merge"),
            list_type: Some("map"),
            list_map_keys: &["topologyKey", "whenUnsatisfiable"],
        },
    ),
    (
        "io.k8s.api.core.v1.PodSpec",
        "volumes",
        ListMeta {
            patch_merge_key: Some("name"),
            patch_strategy: Some("merge,retainKeys"),
            list_type: Some("map"),
            list_map_keys: &["name"],
        },
    ),
    (
        "io.k8s.api.core.v1.PodStatus",
        "conditions",
        ListMeta {
            patch_merge_key: Some("type"),
            patch_strategy: Some("merge"),
            list_type: Some("map"),
            list_map_keys: &["type"],
        },
    ),
    (
        "io.k8s.api.core.v1.PodStatus",
        "containerStatuses",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.PodStatus",
        "ephemeralContainerStatuses",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.PodStatus",
        "hostIPs",
        ListMeta {
            patch_merge_key: Some("ip"),
            patch_strategy: Some("merge"),
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.PodStatus",
        "initContainerStatuses",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.PodStatus",
        "podIPs",
        ListMeta {
            patch_merge_key: Some("ip"),
            patch_strategy: Some("merge"),
            list_type: Some("map"),
            list_map_keys: &["ip"],
        },
    ),
    (
        "io.k8s.api.core.v1.PodStatus",
        "resourceClaimStatuses",
        ListMeta {
            patch_merge_key: Some("name"),
            patch_strategy: Some("merge,retainKeys"),
            list_type: Some("map"),
            list_map_keys: &["name"],
        },
    ),
    (
        "io.k8s.api.core.v1.ProjectedVolumeSource",
        "sources",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.RBDPersistentVolumeSource",
        "monitors",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.RBDVolumeSource",
        "monitors",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.ReplicationControllerStatus",
        "conditions",
        ListMeta {
            patch_merge_key: Some("type"),
            patch_strategy: Some("merge"),
            list_type: Some("map"),
            list_map_keys: &["type"],
        },
    ),
    (
        "io.k8s.api.core.v1.ResourceQuotaSpec",
        "scopes",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.ResourceRequirements",
        "claims",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("map"),
            list_map_keys: &["name"],
        },
    ),
    (
        "io.k8s.api.core.v1.ResourceStatus",
        "resources",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("map"),
            list_map_keys: &["resourceID"],
        },
    ),
    (
        "io.k8s.api.core.v1.ScopeSelector",
        "matchExpressions",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.ScopedResourceSelectorRequirement",
        "values",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.SecretProjection",
        "items",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.SecretVolumeSource",
        "items",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.ServiceAccount",
        "imagePullSecrets",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.ServiceAccount",
        "secrets",
        ListMeta {
            patch_merge_key: Some("name"),
            patch_strategy: Some("merge"),
            list_type: Some("map"),
            list_map_keys: &["name"],
        },
    ),
    (
        "io.k8s.api.core.v1.ServiceSpec",
        "clusterIPs",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.ServiceSpec",
        "externalIPs",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.ServiceSpec",
        "ipFamilies",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.ServiceSpec",
        "loadBalancerSourceRanges",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.ServiceSpec",
        "ports",
        ListMeta {
            patch_merge_key: Some("port"),
            patch_strategy: Some("merge"),
            list_type: Some("map"),
            list_map_keys: &["port", "protocol"],
        },
    ),
    (
        "io.k8s.api.core.v1.ServiceStatus",
        "conditions",
        ListMeta {
            patch_merge_key: Some("type"),
            patch_strategy: Some("merge"),
            list_type: Some("map"),
            list_map_keys: &["type"],
        },
    ),
    (
        "io.k8s.api.core.v1.TopologySelectorLabelRequirement",
        "values",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.TopologySelectorTerm",
        "matchLabelExpressions",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.api.core.v1.TopologySpreadConstraint",
        "matchLabelKeys",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.apimachinery.pkg.apis.meta.v1.APIGroup",
        "serverAddressByClientCIDRs",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.apimachinery.pkg.apis.meta.v1.APIGroup",
        "versions",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.apimachinery.pkg.apis.meta.v1.APIGroupList",
        "groups",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.apimachinery.pkg.apis.meta.v1.APIResource",
        "categories",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.apimachinery.pkg.apis.meta.v1.APIResource",
        "shortNames",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.apimachinery.pkg.apis.meta.v1.APIResourceList",
        "resources",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.apimachinery.pkg.apis.meta.v1.APIVersions",
        "serverAddressByClientCIDRs",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.apimachinery.pkg.apis.meta.v1.APIVersions",
        "versions",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.apimachinery.pkg.apis.meta.v1.ApplyOptions",
        "dryRun",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.apimachinery.pkg.apis.meta.v1.CreateOptions",
        "dryRun",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions",
        "dryRun",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.apimachinery.pkg.apis.meta.v1.FieldSelectorRequirement",
        "values",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector",
        "matchExpressions",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelectorRequirement",
        "values",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
        "finalizers",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: Some("merge"),
            list_type: Some("set"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
        "managedFields",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
        "ownerReferences",
        ListMeta {
            patch_merge_key: Some("uid"),
            patch_strategy: Some("merge"),
            list_type: Some("map"),
            list_map_keys: &["uid"],
        },
    ),
    (
        "io.k8s.apimachinery.pkg.apis.meta.v1.PatchOptions",
        "dryRun",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.apimachinery.pkg.apis.meta.v1.RootPaths",
        "paths",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.apimachinery.pkg.apis.meta.v1.Status",
        "details",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.apimachinery.pkg.apis.meta.v1.StatusDetails",
        "causes",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.apimachinery.pkg.apis.meta.v1.Table",
        "columnDefinitions",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.apimachinery.pkg.apis.meta.v1.Table",
        "rows",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.apimachinery.pkg.apis.meta.v1.TableRow",
        "cells",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.apimachinery.pkg.apis.meta.v1.TableRow",
        "conditions",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (
        "io.k8s.apimachinery.pkg.apis.meta.v1.UpdateOptions",
        "dryRun",
        ListMeta {
            patch_merge_key: None,
            patch_strategy: None,
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_unique() {
        for pair in FIELD_PATCH_META.windows(2) {
            assert!(
                (pair[0].0, pair[0].1) < (pair[1].0, pair[1].1),
                "{:?} before {:?}",
                pair[0].0,
                pair[1].1
            );
        }
    }

    #[test]
    fn pod_spec_containers_merge_by_name() {
        let meta =
            field_patch_meta("io.k8s.api.core.v1.PodSpec", "containers").expect("containers");
        assert_eq!(meta.patch_merge_key, Some("name"));
        assert_eq!(meta.patch_strategy, Some("merge"));
        assert_eq!(meta.list_type, Some("map"));
        assert_eq!(meta.list_map_keys, &["name"]);
    }

    #[test]
    fn container_ports_merge_by_container_port() {
        let meta = field_patch_meta("io.k8s.api.core.v1.Container", "ports").expect("ports");
        assert_eq!(meta.patch_merge_key, Some("containerPort"));
        assert_eq!(meta.list_map_keys, &["containerPort", "protocol"]);
    }

    #[test]
    fn container_env_merges_by_name() {
        let meta = field_patch_meta("io.k8s.api.core.v1.Container", "env").expect("env");
        assert_eq!(meta.patch_merge_key, Some("name"));
        assert_eq!(meta.patch_strategies(), vec!["merge"]);
    }

    #[test]
    fn volumes_and_deployment_strategy_retain_keys() {
        let volumes = field_patch_meta("io.k8s.api.core.v1.PodSpec", "volumes").expect("volumes");
        assert_eq!(volumes.patch_strategies(), vec!["merge", "retainKeys"]);
        let strategy =
            field_patch_meta("io.k8s.api.apps.v1.DeploymentSpec", "strategy").expect("strategy");
        assert_eq!(strategy.patch_strategies(), vec!["retainKeys"]);
        assert_eq!(strategy.patch_merge_key, None);
    }

    #[test]
    fn object_meta_lists() {
        let meta = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
        assert_eq!(
            field_patch_meta(meta, "ownerReferences").and_then(|m| m.patch_merge_key),
            Some("uid")
        );
        let finalizers = field_patch_meta(meta, "finalizers").expect("finalizers");
        assert_eq!(
            (finalizers.patch_strategy, finalizers.list_type),
            (Some("merge"), Some("set"))
        );
        assert_eq!(
            field_patch_meta(meta, "managedFields").and_then(|m| m.list_type),
            Some("atomic")
        );
    }

    #[test]
    fn ephemeral_containers_and_unknown_fields() {
        assert!(field_patch_meta("io.k8s.api.core.v1.EphemeralContainer", "env").is_some());
        assert_eq!(
            field_patch_meta("io.k8s.api.core.v1.PodSpec", "nodeName"),
            None
        );
        assert_eq!(
            field_patch_meta("io.k8s.api.core.v1.Nothing", "containers"),
            None
        );
    }
}
