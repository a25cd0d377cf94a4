//! Pods: the strategy (`pkg/registry/core/pod/strategy.go`), and the pod
//! defaults and validation that the pod templates of workloads share.

pub mod binding;
pub mod defaults;
pub mod eviction;
pub mod qos;
pub mod quantity;
pub mod validation;

use k8s_openapi::api::core::v1::{Pod, PodCondition, PodIP, PodSpec, PodStatus};

use apimachinery::validation::field::ErrorList;
use apiserver::registry::strategy::{ResourceNames, StatusStrategy, Strategy};

pub use defaults::{default_pod, default_pod_spec, default_pod_template};
pub use validation::{
    validate_controller_template, validate_pod, validate_pod_spec, validate_pod_template_spec,
    validate_pod_update,
};

/// `pods`, `v1`.
pub static POD_INFO: ResourceNames = ResourceNames {
    group: "",
    version: "v1",
    kind: "Pod",
    plural: "pods",
    singular: "pod",
    namespaced: true,
    short_names: &["po"],
    categories: &["all"],
};

const SELECTABLE_FIELDS: &[&str] = &[
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "spec.hostNetwork",
    "status.phase",
    "status.podIP",
    "status.nominatedNodeName",
];

/// Pods: defaulted as the v1 decoder does, `Pending` with their QoS class
/// on create, updatable only in images, deadline and tolerations, deleted
/// gracefully once scheduled.
#[derive(Debug, Clone, Copy, Default)]
pub struct PodStrategy;

/// `applySchedulingGatedCondition`: a pod created with scheduling gates
/// says why it is not scheduled.
fn scheduling_gated_condition(spec: &PodSpec) -> Option<PodCondition> {
    if spec
        .scheduling_gates
        .as_deref()
        .unwrap_or_default()
        .is_empty()
    {
        return None;
    }
    Some(PodCondition {
        type_: "PodScheduled".into(),
        status: "False".into(),
        reason: Some("SchedulingGated".into()),
        message: Some("Scheduling is blocked due to non-empty scheduling gates".into()),
        ..Default::default()
    })
}

/// The v1 conversion keeps `podIP` equal to `podIPs[0]` (and `hostIP` to
/// `hostIPs[0]`), filling the list from the single field when only it is set.
fn mirror_status_ips(status: &mut PodStatus) {
    if status.pod_ips.as_deref().unwrap_or_default().is_empty()
        && let Some(ip) = status.pod_ip.clone().filter(|ip| !ip.is_empty())
    {
        status.pod_ips = Some(vec![PodIP { ip }]);
    }
    status.pod_ip = status
        .pod_ips
        .as_ref()
        .and_then(|ips| ips.first())
        .map(|ip| ip.ip.clone());
    if status.host_ips.as_deref().unwrap_or_default().is_empty()
        && let Some(ip) = status.host_ip.clone().filter(|ip| !ip.is_empty())
    {
        status.host_ips = Some(vec![k8s_openapi::api::core::v1::HostIP { ip }]);
    }
    status.host_ip = status
        .host_ips
        .as_ref()
        .and_then(|ips| ips.first())
        .map(|ip| ip.ip.clone());
}

impl Strategy for PodStrategy {
    type Object = Pod;

    fn table_columns(&self) -> &'static [apiserver::registry::table::ColumnDefinition] {
        crate::printers::pod::columns()
    }

    fn table_row(
        &self,
        obj: &Self::Object,
        now: k8s_openapi::chrono::DateTime<k8s_openapi::chrono::Utc>,
    ) -> Vec<serde_json::Value> {
        crate::printers::pod::row(obj, now)
    }

    fn table_row_conditions(
        &self,
        obj: &Self::Object,
    ) -> Vec<apiserver::registry::table::RowCondition> {
        crate::printers::pod::conditions(obj)
    }

    fn names(&self) -> &ResourceNames {
        &POD_INFO
    }

    fn status(&self) -> Option<&dyn StatusStrategy<Pod>> {
        Some(self)
    }

    fn prepare_for_create(&self, pod: &mut Pod) {
        default_pod(pod);
        let spec = pod.spec.clone().unwrap_or_default();
        pod.status = Some(PodStatus {
            phase: Some("Pending".into()),
            qos_class: Some(qos::pod_qos_class(&spec).into()),
            conditions: scheduling_gated_condition(&spec).map(|c| vec![c]),
            ..Default::default()
        });
    }

    fn prepare_for_update(&self, new: &mut Pod, old: &Pod) {
        default_pod(new);
        new.status = old.status.clone();
    }

    fn validate(&self, pod: &Pod) -> ErrorList {
        validate_pod(pod)
    }

    fn validate_update(&self, new: &Pod, old: &Pod) -> ErrorList {
        validate_pod_update(new, old)
    }

    fn selectable_fields(&self, pod: &Pod) -> Vec<(&'static str, String)> {
        let spec = pod.spec.clone().unwrap_or_default();
        let status = pod.status.clone().unwrap_or_default();
        let text = |value: Option<String>| value.unwrap_or_default();
        let pod_ip = status
            .pod_ips
            .as_ref()
            .and_then(|ips| ips.first())
            .map(|ip| ip.ip.clone())
            .or(status.pod_ip);
        vec![
            ("spec.nodeName", text(spec.node_name)),
            ("spec.restartPolicy", text(spec.restart_policy)),
            ("spec.schedulerName", text(spec.scheduler_name)),
            ("spec.serviceAccountName", text(spec.service_account_name)),
            (
                "spec.hostNetwork",
                spec.host_network.unwrap_or(false).to_string(),
            ),
            ("status.phase", text(status.phase)),
            ("status.podIP", text(pod_ip)),
            ("status.nominatedNodeName", text(status.nominated_node_name)),
        ]
    }

    fn selectable_field_names(&self) -> &'static [&'static str] {
        SELECTABLE_FIELDS
    }

    /// `CheckGracefulDelete`: the requested period, else the pod's
    /// `terminationGracePeriodSeconds`; at once for a pod never scheduled
    /// or already finished; a negative period becomes 1.
    fn graceful_delete_period(&self, pod: &Pod, requested: Option<i64>) -> Option<i64> {
        let spec = pod.spec.as_ref();
        let mut period = requested
            .or_else(|| spec.and_then(|s| s.termination_grace_period_seconds))
            .unwrap_or(0);
        let scheduled = spec
            .and_then(|s| s.node_name.as_deref())
            .is_some_and(|node| !node.is_empty());
        let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
        if !scheduled || matches!(phase, Some("Failed" | "Succeeded")) {
            period = 0;
        }
        if period < 0 {
            period = 1;
        }
        Some(period)
    }

    fn returns_deleted_object(&self) -> bool {
        true
    }
}

impl StatusStrategy<Pod> for PodStrategy {
    fn prepare_for_status_update(&self, new: &mut Pod, old: &Pod) {
        new.spec = old.spec.clone();
        // Old kubelets corrupt owner references through /status.
        new.metadata.owner_references = old.metadata.owner_references.clone();
        let status = new.status.get_or_insert_with(PodStatus::default);
        if status.qos_class.as_deref().unwrap_or("").is_empty() {
            status.qos_class = old.status.as_ref().and_then(|s| s.qos_class.clone());
        }
        mirror_status_ips(status);
    }
}

#[cfg(test)]
mod tests;
