//! Nodes (`pkg/registry/core/node`): cluster-scoped, created with the
//! status the kubelet reports (allocatable defaulting to capacity), and
//! updated only in labels, taints, unschedulability, capacity and the
//! fields that may be set once (`podCIDRs`, `providerID`).

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{Node, Taint};

use apimachinery::api::{
    name_is_dns_subdomain, validate_label_name, validate_object_meta, validate_object_meta_update,
};
use apimachinery::validation::field::{Error, ErrorList, Path};
use apimachinery::validation::is_valid_label_value;
use apiserver::registry::strategy::{ResourceNames, StatusStrategy, Strategy};

use super::pod::validation::validate_taint_effect;

/// `nodes`, `v1`.
pub static NODE_INFO: ResourceNames = ResourceNames {
    group: "",
    version: "v1",
    kind: "Node",
    plural: "nodes",
    singular: "node",
    namespaced: false,
    short_names: &["no"],
    categories: &[],
};

/// Upstream's message for a change to a field a node update may not touch.
pub const NODE_UPDATE_FORBIDDEN: &str = "node updates may only change labels, taints, or capacity (or configSource, if the DynamicKubeletConfig feature gate is enabled)";

#[derive(Debug, Clone, Copy, Default)]
pub struct NodeStrategy;

/// `SetDefaults_NodeStatus` and the v1 conversion of `podCIDR`/`podCIDRs`.
fn default_node(node: &mut Node) {
    if let Some(status) = node.status.as_mut()
        && status.allocatable.is_none()
        && status.capacity.is_some()
    {
        status.allocatable = status.capacity.clone();
    }
    if let Some(spec) = node.spec.as_mut() {
        if spec.pod_cidrs.as_deref().unwrap_or_default().is_empty()
            && let Some(cidr) = spec.pod_cidr.clone().filter(|c| !c.is_empty())
        {
            spec.pod_cidrs = Some(vec![cidr]);
        }
        spec.pod_cidr = spec.pod_cidrs.as_ref().and_then(|c| c.first().cloned());
    }
}

/// `validateNodeTaints`.
fn validate_taints(taints: &[Taint], path: &Path) -> ErrorList {
    let mut errors = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, taint) in taints.iter().enumerate() {
        let item_path = path.index(i);
        errors.extend(validate_label_name(&taint.key, &item_path.child("key")));
        let value = taint.value.as_deref().unwrap_or("");
        let msgs = is_valid_label_value(value);
        if !msgs.is_empty() {
            errors.push(Error::invalid(
                &item_path.child("value"),
                value,
                msgs.join(";"),
            ));
        }
        errors.extend(validate_taint_effect(
            &taint.effect,
            false,
            &item_path.child("effect"),
        ));
        if !seen.insert((taint.effect.as_str(), taint.key.as_str())) {
            let mut duplicate =
                Error::duplicate(&item_path, serde_json::to_value(taint).unwrap_or_default());
            duplicate.detail = "taints must be unique by key and effect pair".to_string();
            errors.push(duplicate);
        }
    }
    errors
}

/// `ValidateNode`.
pub fn validate_node(node: &Node) -> ErrorList {
    let mut errors = validate_object_meta(
        &node.metadata,
        false,
        name_is_dns_subdomain,
        &Path::new("metadata"),
    );
    let spec = node.spec.clone().unwrap_or_default();
    let spec_path = Path::new("spec");
    errors.extend(validate_taints(
        spec.taints.as_deref().unwrap_or_default(),
        &spec_path.child("taints"),
    ));
    for (i, cidr) in spec.pod_cidrs.iter().flatten().enumerate() {
        if cidr.parse::<ipnet::IpNet>().is_err() {
            errors.push(Error::invalid(
                &spec_path.child("podCIDRs").index(i),
                cidr.as_str(),
                "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
            ));
        }
    }
    errors
}

/// `ValidateNodeUpdate`.
pub fn validate_node_update(new: &Node, old: &Node) -> ErrorList {
    let mut errors =
        validate_object_meta_update(&new.metadata, &old.metadata, &Path::new("metadata"));
    errors.extend(validate_node(new));
    let new_spec = new.spec.clone().unwrap_or_default();
    let old_spec = old.spec.clone().unwrap_or_default();
    let spec_path = Path::new("spec");
    let mut allowed = old_spec.clone();
    if old_spec.pod_cidrs.as_deref().unwrap_or_default().is_empty() {
        allowed.pod_cidrs = new_spec.pod_cidrs.clone();
        allowed.pod_cidr = new_spec.pod_cidr.clone();
    } else if old_spec.pod_cidrs != new_spec.pod_cidrs {
        errors.push(Error::forbidden(
            &spec_path.child("podCIDRs"),
            "node updates may not change podCIDR except from \"\" to valid",
        ));
        allowed.pod_cidrs = new_spec.pod_cidrs.clone();
        allowed.pod_cidr = new_spec.pod_cidr.clone();
    }
    if old_spec.provider_id.as_deref().unwrap_or("").is_empty() {
        allowed.provider_id = new_spec.provider_id.clone();
    } else if old_spec.provider_id != new_spec.provider_id {
        errors.push(Error::forbidden(
            &spec_path.child("providerID"),
            "node updates may not change providerID except from \"\" to valid",
        ));
        allowed.provider_id = new_spec.provider_id.clone();
    }
    allowed.config_source = new_spec.config_source.clone();
    allowed.unschedulable = new_spec.unschedulable;
    allowed.taints = new_spec.taints.clone();
    if allowed != new_spec {
        errors.push(Error::forbidden(&Path::new(""), NODE_UPDATE_FORBIDDEN));
    }
    errors
}

impl Strategy for NodeStrategy {
    type Object = Node;

    fn table_columns(&self) -> &'static [apiserver::registry::table::ColumnDefinition] {
        crate::printers::core::node_columns()
    }

    fn table_row(
        &self,
        obj: &Self::Object,
        now: k8s_openapi::chrono::DateTime<k8s_openapi::chrono::Utc>,
    ) -> Vec<serde_json::Value> {
        crate::printers::core::node_row(obj, now)
    }

    fn names(&self) -> &ResourceNames {
        &NODE_INFO
    }

    fn status(&self) -> Option<&dyn StatusStrategy<Node>> {
        Some(self)
    }

    /// The kubelet registers a node with its status, which is kept.
    fn prepare_for_create(&self, node: &mut Node) {
        default_node(node);
    }

    fn prepare_for_update(&self, new: &mut Node, old: &Node) {
        default_node(new);
        new.status = old.status.clone();
    }

    fn validate(&self, node: &Node) -> ErrorList {
        validate_node(node)
    }

    fn validate_update(&self, new: &Node, old: &Node) -> ErrorList {
        validate_node_update(new, old)
    }

    fn selectable_fields(&self, node: &Node) -> Vec<(&'static str, String)> {
        let unschedulable = node
            .spec
            .as_ref()
            .and_then(|s| s.unschedulable)
            .unwrap_or(false);
        vec![("spec.unschedulable", unschedulable.to_string())]
    }

    fn selectable_field_names(&self) -> &'static [&'static str] {
        &["spec.unschedulable"]
    }
}

impl StatusStrategy<Node> for NodeStrategy {
    fn prepare_for_status_update(&self, new: &mut Node, old: &Node) {
        new.spec = old.spec.clone();
        default_node(new);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    use k8s_openapi::api::core::v1::{NodeSpec, NodeStatus};

    use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn node(name: &str) -> Node {
        Node {
            metadata: ObjectMeta {
                name: Some(name.into()),
                resource_version: Some("1".into()),
                ..Default::default()
            },
            spec: Some(NodeSpec::default()),
            ..Default::default()
        }
    }

    fn taint(key: &str, effect: &str) -> Taint {
        Taint {
            key: key.into(),
            effect: effect.into(),
            ..Default::default()
        }
    }

    fn messages(errors: &ErrorList) -> Vec<String> {
        errors.iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn create_keeps_status_and_defaults_allocatable() {
        let mut n = node("worker-1");
        let capacity = BTreeMap::from([("cpu".to_string(), Quantity("4".into()))]);
        n.status = Some(NodeStatus {
            capacity: Some(capacity.clone()),
            ..Default::default()
        });
        NodeStrategy.prepare_for_create(&mut n);
        assert_eq!(n.status.and_then(|s| s.allocatable), Some(capacity));
        assert!(!apiserver::registry::ResourceInfo::of(&NodeStrategy).namespaced);
    }

    #[test]
    fn taints_are_validated() {
        let mut n = node("worker-1");
        n.spec = Some(NodeSpec {
            taints: Some(vec![
                taint("dedicated", "NoSchedule"),
                taint("dedicated", "NoSchedule"),
                taint("x", "Sometimes"),
            ]),
            ..Default::default()
        });
        let errors = NodeStrategy.validate(&n);
        assert_eq!(
            messages(&errors)[1..],
            [
                "spec.taints[2].effect: Unsupported value: \"Sometimes\": supported values: \"NoSchedule\", \"PreferNoSchedule\", \"NoExecute\"".to_string()
            ]
        );
        assert_eq!(errors[0].field, "spec.taints[1]");
        assert_eq!(
            errors[0].detail,
            "taints must be unique by key and effect pair"
        );
    }

    #[test]
    fn update_may_change_only_some_fields() {
        let old = node("worker-1");
        let mut cordoned = old.clone();
        cordoned.spec = Some(NodeSpec {
            unschedulable: Some(true),
            pod_cidrs: Some(vec!["10.244.0.0/24".into()]),
            ..Default::default()
        });
        assert!(NodeStrategy.validate_update(&cordoned, &old).is_empty());
        assert_eq!(
            NodeStrategy.selectable_fields(&cordoned),
            vec![("spec.unschedulable", "true".to_string())]
        );
        let mut moved = cordoned.clone();
        moved.spec = Some(NodeSpec {
            pod_cidrs: Some(vec!["10.245.0.0/24".into()]),
            ..Default::default()
        });
        assert_eq!(
            messages(&NodeStrategy.validate_update(&moved, &cordoned)),
            vec![
                "spec.podCIDRs: Forbidden: node updates may not change podCIDR except from \"\" to valid"
            ]
        );
        let mut external = old.clone();
        external.spec = Some(NodeSpec {
            external_id: Some("x".into()),
            ..Default::default()
        });
        assert_eq!(
            messages(&NodeStrategy.validate_update(&external, &old)),
            vec![format!("Forbidden: {NODE_UPDATE_FORBIDDEN}")]
        );
    }

    #[test]
    fn status_update_keeps_spec() {
        let mut old = node("worker-1");
        old.spec = Some(NodeSpec {
            unschedulable: Some(true),
            ..Default::default()
        });
        let mut new = node("worker-1");
        NodeStrategy.prepare_for_status_update(&mut new, &old);
        assert_eq!(new.spec, old.spec);
    }
}
