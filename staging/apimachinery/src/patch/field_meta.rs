//! The strategic-merge-patch metadata of the built-in kinds' fields, as one
//! sorted table: for each field of a definition that has a patch strategy, a
//! patch merge key or a list type, what strategic merge patch, server-side
//! apply and the OpenAPI documents need to know.
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

/// `x-kubernetes-patch-strategy`: the `patchStrategy` struct tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchStrategy {
    /// `merge`: lists merge item by item (by the merge key, or as a union of
    /// primitives).
    Merge,
    /// `retainKeys`: a `$retainKeys` directive clears the fields it omits.
    RetainKeys,
    /// `merge,retainKeys`: both.
    MergeRetainKeys,
}

impl PatchStrategy {
    /// The tag's value: `merge`, `retainKeys` or `merge,retainKeys`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Merge => "merge",
            Self::RetainKeys => "retainKeys",
            Self::MergeRetainKeys => "merge,retainKeys",
        }
    }

    /// Whether the strategy includes `merge`.
    pub const fn merges(self) -> bool {
        matches!(self, Self::Merge | Self::MergeRetainKeys)
    }
}

/// `x-kubernetes-list-type`: the `+listType` marker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListType {
    /// `atomic`: the list is replaced as a whole.
    Atomic,
    /// `set`: a list of unique scalars.
    Set,
    /// `map`: a list of objects identified by the list map keys.
    Map,
}

impl ListType {
    /// The marker's value: `atomic`, `set` or `map`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Atomic => "atomic",
            Self::Set => "set",
            Self::Map => "map",
        }
    }
}

/// The patch metadata of one field of a definition (most are lists; a few,
/// like `DeploymentSpec.strategy`, are structs with strategy `retainKeys`).
/// The default ([`FieldPatchMeta::NONE`]) is a field without any.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FieldPatchMeta {
    /// `x-kubernetes-patch-merge-key`: the key that identifies an item of a
    /// list merged by strategic merge patch.
    pub patch_merge_key: Option<&'static str>,
    /// `x-kubernetes-patch-strategy`.
    pub patch_strategy: Option<PatchStrategy>,
    /// `x-kubernetes-list-type`.
    pub list_type: Option<ListType>,
    /// `x-kubernetes-list-map-keys` of a list of type `map`.
    pub list_map_keys: &'static [&'static str],
}

impl FieldPatchMeta {
    /// No patch metadata.
    pub const NONE: Self = Self {
        patch_merge_key: None,
        patch_strategy: None,
        list_type: None,
        list_map_keys: &[],
    };
    /// `+listType=atomic`.
    pub const ATOMIC: Self = Self::list(ListType::Atomic);
    /// `+listType=set`.
    pub const SET: Self = Self::list(ListType::Set);

    const fn list(list_type: ListType) -> Self {
        Self {
            list_type: Some(list_type),
            ..Self::NONE
        }
    }

    /// `+listType=map` with these `+listMapKey`s.
    pub const fn map(keys: &'static [&'static str]) -> Self {
        Self {
            list_map_keys: keys,
            ..Self::list(ListType::Map)
        }
    }

    /// Adds `patchStrategy:"merge"` (without a merge key: a list of scalars).
    pub const fn merge(self) -> Self {
        let strategy = match self.patch_strategy {
            Some(PatchStrategy::RetainKeys | PatchStrategy::MergeRetainKeys) => {
                PatchStrategy::MergeRetainKeys
            }
            _ => PatchStrategy::Merge,
        };
        Self {
            patch_strategy: Some(strategy),
            ..self
        }
    }

    /// Adds `patchStrategy:"merge"` with `patchMergeKey:"<key>"`.
    pub const fn merge_by(self, key: &'static str) -> Self {
        Self {
            patch_merge_key: Some(key),
            ..self.merge()
        }
    }

    /// Adds `retainKeys` to the patch strategy.
    pub const fn retain_keys(self) -> Self {
        let strategy = match self.patch_strategy {
            Some(PatchStrategy::Merge | PatchStrategy::MergeRetainKeys) => {
                PatchStrategy::MergeRetainKeys
            }
            _ => PatchStrategy::RetainKeys,
        };
        Self {
            patch_strategy: Some(strategy),
            ..self
        }
    }

    /// Whether the patch strategy includes `merge`.
    pub const fn merges(&self) -> bool {
        match self.patch_strategy {
            Some(strategy) => strategy.merges(),
            None => false,
        }
    }
}

/// The patch metadata of `field` (its JSON name) of the OpenAPI definition
/// `definition` (e.g. `io.k8s.api.core.v1.PodSpec`), or `None` when the
/// field has none.
pub fn field_patch_meta(definition: &str, field: &str) -> Option<FieldPatchMeta> {
    FIELD_PATCH_META
        .binary_search_by(|(entry_definition, entry_field, _)| {
            (*entry_definition, *entry_field).cmp(&(definition, field))
        })
        .ok()
        .map(|index| FIELD_PATCH_META[index].2)
}

/// Every field with patch metadata, sorted by (definition, field) for the
/// binary search.
#[rustfmt::skip]
static FIELD_PATCH_META: &[(&str, &str, FieldPatchMeta)] = &[
    ("io.k8s.api.apps.v1.DaemonSetStatus", "conditions", FieldPatchMeta::map(&["type"]).merge_by("type")),
    ("io.k8s.api.apps.v1.DeploymentSpec", "strategy", FieldPatchMeta::NONE.retain_keys()),
    ("io.k8s.api.apps.v1.DeploymentStatus", "conditions", FieldPatchMeta::map(&["type"]).merge_by("type")),
    ("io.k8s.api.apps.v1.ReplicaSetStatus", "conditions", FieldPatchMeta::map(&["type"]).merge_by("type")),
    ("io.k8s.api.apps.v1.StatefulSetSpec", "volumeClaimTemplates", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.apps.v1.StatefulSetStatus", "conditions", FieldPatchMeta::map(&["type"]).merge_by("type")),
    ("io.k8s.api.core.v1.AvoidPods", "preferAvoidPods", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.core.v1.Capabilities", "add", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.core.v1.Capabilities", "drop", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.core.v1.CephFSPersistentVolumeSource", "monitors", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.core.v1.CephFSVolumeSource", "monitors", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.core.v1.ComponentStatus", "conditions", FieldPatchMeta::map(&["type"]).merge_by("type")),
    ("io.k8s.api.core.v1.ConfigMapProjection", "items", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.core.v1.ConfigMapVolumeSource", "items", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.core.v1.Container", "args", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.core.v1.Container", "command", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.core.v1.Container", "env", FieldPatchMeta::map(&["name"]).merge_by("name")),
    ("io.k8s.api.core.v1.Container", "envFrom", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.core.v1.Container", "ports", FieldPatchMeta::map(&["containerPort", "protocol"]).merge_by("containerPort")),
    ("io.k8s.api.core.v1.Container", "resizePolicy", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.core.v1.Container", "volumeDevices", FieldPatchMeta::map(&["devicePath"]).merge_by("devicePath")),
    ("io.k8s.api.core.v1.Container", "volumeMounts", FieldPatchMeta::map(&["mountPath"]).merge_by("mountPath")),
    ("io.k8s.api.core.v1.ContainerImage", "names", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.core.v1.ContainerStatus", "allocatedResourcesStatus", FieldPatchMeta::map(&["name"]).merge_by("name")),
    ("io.k8s.api.core.v1.ContainerStatus", "volumeMounts", FieldPatchMeta::map(&["mountPath"]).merge_by("mountPath")),
    ("io.k8s.api.core.v1.DownwardAPIProjection", "items", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.core.v1.DownwardAPIVolumeSource", "items", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.core.v1.EndpointSubset", "addresses", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.core.v1.EndpointSubset", "notReadyAddresses", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.core.v1.EndpointSubset", "ports", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.core.v1.Endpoints", "subsets", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.core.v1.EphemeralContainer", "args", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.core.v1.EphemeralContainer", "command", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.core.v1.EphemeralContainer", "env", FieldPatchMeta::map(&["name"]).merge_by("name")),
    ("io.k8s.api.core.v1.EphemeralContainer", "envFrom", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.core.v1.EphemeralContainer", "ports", FieldPatchMeta::map(&["containerPort", "protocol"]).merge_by("containerPort")),
    ("io.k8s.api.core.v1.EphemeralContainer", "resizePolicy", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.core.v1.EphemeralContainer", "volumeDevices", FieldPatchMeta::map(&["devicePath"]).merge_by("devicePath")),
    ("io.k8s.api.core.v1.EphemeralContainer", "volumeMounts", FieldPatchMeta::map(&["mountPath"]).merge_by("mountPath")),
    ("io.k8s.api.core.v1.ExecAction", "command", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.core.v1.FCVolumeSource", "targetWWNs", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.core.v1.FCVolumeSource", "wwids", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.core.v1.HTTPGetAction", "httpHeaders", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.core.v1.HostAlias", "hostnames", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.core.v1.ISCSIPersistentVolumeSource", "portals", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.core.v1.ISCSIVolumeSource", "portals", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.core.v1.LimitRangeSpec", "limits", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.core.v1.LinuxContainerUser", "supplementalGroups", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.core.v1.LoadBalancerIngress", "ports", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.core.v1.LoadBalancerStatus", "ingress", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.core.v1.NamespaceSpec", "finalizers", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.core.v1.NamespaceStatus", "conditions", FieldPatchMeta::map(&["type"]).merge_by("type")),
    ("io.k8s.api.core.v1.NodeAffinity", "preferredDuringSchedulingIgnoredDuringExecution", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.core.v1.NodeSelector", "nodeSelectorTerms", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.core.v1.NodeSelectorRequirement", "values", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.core.v1.NodeSelectorTerm", "matchExpressions", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.core.v1.NodeSelectorTerm", "matchFields", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.core.v1.NodeSpec", "podCIDRs", FieldPatchMeta::SET.merge()),
    ("io.k8s.api.core.v1.NodeSpec", "taints", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.core.v1.NodeStatus", "addresses", FieldPatchMeta::map(&["type"]).merge_by("type")),
    ("io.k8s.api.core.v1.NodeStatus", "conditions", FieldPatchMeta::map(&["type"]).merge_by("type")),
    ("io.k8s.api.core.v1.NodeStatus", "images", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.core.v1.NodeStatus", "runtimeHandlers", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.core.v1.NodeStatus", "volumesAttached", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.core.v1.NodeStatus", "volumesInUse", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.core.v1.PersistentVolumeClaimSpec", "accessModes", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.core.v1.PersistentVolumeClaimStatus", "accessModes", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.core.v1.PersistentVolumeClaimStatus", "conditions", FieldPatchMeta::map(&["type"]).merge_by("type")),
    ("io.k8s.api.core.v1.PersistentVolumeSpec", "accessModes", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.core.v1.PersistentVolumeSpec", "mountOptions", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.core.v1.PodAffinity", "preferredDuringSchedulingIgnoredDuringExecution", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.core.v1.PodAffinity", "requiredDuringSchedulingIgnoredDuringExecution", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.core.v1.PodAffinityTerm", "matchLabelKeys", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.core.v1.PodAffinityTerm", "mismatchLabelKeys", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.core.v1.PodAffinityTerm", "namespaces", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.core.v1.PodAntiAffinity", "preferredDuringSchedulingIgnoredDuringExecution", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.core.v1.PodAntiAffinity", "requiredDuringSchedulingIgnoredDuringExecution", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.core.v1.PodDNSConfig", "nameservers", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.core.v1.PodDNSConfig", "options", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.core.v1.PodDNSConfig", "searches", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.core.v1.PodExecOptions", "command", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.core.v1.PodPortForwardOptions", "ports", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.core.v1.PodSecurityContext", "supplementalGroups", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.core.v1.PodSecurityContext", "sysctls", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.core.v1.PodSpec", "containers", FieldPatchMeta::map(&["name"]).merge_by("name")),
    ("io.k8s.api.core.v1.PodSpec", "ephemeralContainers", FieldPatchMeta::map(&["name"]).merge_by("name")),
    ("io.k8s.api.core.v1.PodSpec", "hostAliases", FieldPatchMeta::map(&["ip"]).merge_by("ip")),
    ("io.k8s.api.core.v1.PodSpec", "imagePullSecrets", FieldPatchMeta::map(&["name"]).merge_by("name")),
    ("io.k8s.api.core.v1.PodSpec", "initContainers", FieldPatchMeta::map(&["name"]).merge_by("name")),
    ("io.k8s.api.core.v1.PodSpec", "readinessGates", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.core.v1.PodSpec", "resourceClaims", FieldPatchMeta::map(&["name"]).merge_by("name").retain_keys()),
    ("io.k8s.api.core.v1.PodSpec", "schedulingGates", FieldPatchMeta::map(&["name"]).merge_by("name")),
    ("io.k8s.api.core.v1.PodSpec", "tolerations", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.core.v1.PodSpec", "topologySpreadConstraints", FieldPatchMeta::map(&["topologyKey", "whenUnsatisfiable"]).merge_by("topologyKey")),
    ("io.k8s.api.core.v1.PodSpec", "volumes", FieldPatchMeta::map(&["name"]).merge_by("name").retain_keys()),
    ("io.k8s.api.core.v1.PodStatus", "conditions", FieldPatchMeta::map(&["type"]).merge_by("type")),
    ("io.k8s.api.core.v1.PodStatus", "containerStatuses", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.core.v1.PodStatus", "ephemeralContainerStatuses", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.core.v1.PodStatus", "hostIPs", FieldPatchMeta::ATOMIC.merge_by("ip")),
    ("io.k8s.api.core.v1.PodStatus", "initContainerStatuses", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.core.v1.PodStatus", "podIPs", FieldPatchMeta::map(&["ip"]).merge_by("ip")),
    ("io.k8s.api.core.v1.PodStatus", "resourceClaimStatuses", FieldPatchMeta::map(&["name"]).merge_by("name").retain_keys()),
    ("io.k8s.api.core.v1.ProjectedVolumeSource", "sources", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.core.v1.RBDPersistentVolumeSource", "monitors", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.core.v1.RBDVolumeSource", "monitors", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.core.v1.ReplicationControllerStatus", "conditions", FieldPatchMeta::map(&["type"]).merge_by("type")),
    ("io.k8s.api.core.v1.ResourceQuotaSpec", "scopes", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.core.v1.ResourceRequirements", "claims", FieldPatchMeta::map(&["name"])),
    ("io.k8s.api.core.v1.ResourceStatus", "resources", FieldPatchMeta::map(&["resourceID"])),
    ("io.k8s.api.core.v1.ScopeSelector", "matchExpressions", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.core.v1.ScopedResourceSelectorRequirement", "values", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.core.v1.SecretProjection", "items", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.core.v1.SecretVolumeSource", "items", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.core.v1.ServiceAccount", "imagePullSecrets", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.core.v1.ServiceAccount", "secrets", FieldPatchMeta::map(&["name"]).merge_by("name")),
    ("io.k8s.api.core.v1.ServiceSpec", "clusterIPs", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.core.v1.ServiceSpec", "externalIPs", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.core.v1.ServiceSpec", "ipFamilies", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.core.v1.ServiceSpec", "loadBalancerSourceRanges", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.core.v1.ServiceSpec", "ports", FieldPatchMeta::map(&["port", "protocol"]).merge_by("port")),
    ("io.k8s.api.core.v1.ServiceStatus", "conditions", FieldPatchMeta::map(&["type"]).merge_by("type")),
    ("io.k8s.api.core.v1.TopologySelectorLabelRequirement", "values", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.core.v1.TopologySelectorTerm", "matchLabelExpressions", FieldPatchMeta::ATOMIC),
    ("io.k8s.api.core.v1.TopologySpreadConstraint", "matchLabelKeys", FieldPatchMeta::ATOMIC),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.APIGroup", "serverAddressByClientCIDRs", FieldPatchMeta::ATOMIC),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.APIGroup", "versions", FieldPatchMeta::ATOMIC),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.APIGroupList", "groups", FieldPatchMeta::ATOMIC),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.APIResource", "categories", FieldPatchMeta::ATOMIC),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.APIResource", "shortNames", FieldPatchMeta::ATOMIC),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.APIResourceList", "resources", FieldPatchMeta::ATOMIC),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.APIVersions", "serverAddressByClientCIDRs", FieldPatchMeta::ATOMIC),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.APIVersions", "versions", FieldPatchMeta::ATOMIC),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.ApplyOptions", "dryRun", FieldPatchMeta::ATOMIC),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.CreateOptions", "dryRun", FieldPatchMeta::ATOMIC),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions", "dryRun", FieldPatchMeta::ATOMIC),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.FieldSelectorRequirement", "values", FieldPatchMeta::ATOMIC),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector", "matchExpressions", FieldPatchMeta::ATOMIC),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelectorRequirement", "values", FieldPatchMeta::ATOMIC),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "finalizers", FieldPatchMeta::SET.merge()),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "managedFields", FieldPatchMeta::ATOMIC),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "ownerReferences", FieldPatchMeta::map(&["uid"]).merge_by("uid")),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.PatchOptions", "dryRun", FieldPatchMeta::ATOMIC),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.RootPaths", "paths", FieldPatchMeta::ATOMIC),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.Status", "details", FieldPatchMeta::ATOMIC),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.StatusDetails", "causes", FieldPatchMeta::ATOMIC),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.Table", "columnDefinitions", FieldPatchMeta::ATOMIC),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.Table", "rows", FieldPatchMeta::ATOMIC),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.TableRow", "cells", FieldPatchMeta::ATOMIC),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.TableRow", "conditions", FieldPatchMeta::ATOMIC),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.UpdateOptions", "dryRun", FieldPatchMeta::ATOMIC),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_unique() {
        for pair in FIELD_PATCH_META.windows(2) {
            assert!(
                (pair[0].0, pair[0].1) < (pair[1].0, pair[1].1),
                "{}.{} before {}.{}",
                pair[0].0,
                pair[0].1,
                pair[1].0,
                pair[1].1
            );
        }
    }

    #[test]
    fn every_entry_is_found_and_consistent() {
        assert_eq!(FIELD_PATCH_META.len(), 150);
        for (definition, field, meta) in FIELD_PATCH_META {
            let name = format!("{definition}.{field}");
            assert_eq!(field_patch_meta(definition, field), Some(*meta), "{name}");
            assert_ne!(*meta, FieldPatchMeta::NONE, "{name}");
            assert_eq!(
                meta.list_type == Some(ListType::Map),
                !meta.list_map_keys.is_empty(),
                "{name}: list map keys exactly on map lists"
            );
            if meta.patch_merge_key.is_some() {
                assert!(meta.merges(), "{name}: a merge key without merge");
            }
        }
    }

    #[test]
    fn pod_spec_containers_merge_by_name() {
        let meta =
            field_patch_meta("io.k8s.api.core.v1.PodSpec", "containers").expect("containers");
        assert_eq!(meta.patch_merge_key, Some("name"));
        assert_eq!(meta.patch_strategy, Some(PatchStrategy::Merge));
        assert_eq!(meta.list_type, Some(ListType::Map));
        assert_eq!(meta.list_map_keys, &["name"]);
    }

    #[test]
    fn container_ports_merge_by_container_port() {
        let meta = field_patch_meta("io.k8s.api.core.v1.Container", "ports").expect("ports");
        assert_eq!(meta.patch_merge_key, Some("containerPort"));
        assert_eq!(meta.list_map_keys, &["containerPort", "protocol"]);
        let env = field_patch_meta("io.k8s.api.core.v1.Container", "env").expect("env");
        assert_eq!(env.patch_merge_key, Some("name"));
        assert!(env.merges());
    }

    #[test]
    fn volumes_and_deployment_strategy_retain_keys() {
        let volumes = field_patch_meta("io.k8s.api.core.v1.PodSpec", "volumes").expect("volumes");
        assert_eq!(volumes.patch_strategy, Some(PatchStrategy::MergeRetainKeys));
        assert_eq!(
            volumes.patch_strategy.map(PatchStrategy::as_str),
            Some("merge,retainKeys")
        );
        let strategy =
            field_patch_meta("io.k8s.api.apps.v1.DeploymentSpec", "strategy").expect("strategy");
        assert_eq!(
            strategy,
            FieldPatchMeta {
                patch_strategy: Some(PatchStrategy::RetainKeys),
                ..FieldPatchMeta::NONE
            }
        );
        assert!(!strategy.merges());
    }

    #[test]
    fn host_ips_merge_by_ip_but_are_atomic() {
        let meta = field_patch_meta("io.k8s.api.core.v1.PodStatus", "hostIPs").expect("hostIPs");
        assert_eq!(meta.patch_merge_key, Some("ip"));
        assert_eq!(meta.patch_strategy, Some(PatchStrategy::Merge));
        assert_eq!(meta.list_type.map(ListType::as_str), Some("atomic"));
        assert!(meta.list_map_keys.is_empty());
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
            (Some(PatchStrategy::Merge), Some(ListType::Set))
        );
        assert_eq!(
            field_patch_meta(meta, "managedFields").and_then(|m| m.list_type),
            Some(ListType::Atomic)
        );
    }

    #[test]
    fn map_lists_without_strategy() {
        let claims = field_patch_meta("io.k8s.api.core.v1.ResourceRequirements", "claims");
        assert_eq!(claims, Some(FieldPatchMeta::map(&["name"])));
        assert_eq!(claims.and_then(|m| m.patch_strategy), None);
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

    #[test]
    fn constructors_compose() {
        let both = FieldPatchMeta::NONE.retain_keys().merge();
        assert_eq!(both.patch_strategy, Some(PatchStrategy::MergeRetainKeys));
        assert_eq!(both, FieldPatchMeta::NONE.merge().retain_keys());
        assert_eq!(FieldPatchMeta::default(), FieldPatchMeta::NONE);
    }
}
