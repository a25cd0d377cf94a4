//! The namespace, node and event Tables (`printNamespace`, `printNode`,
//! `printEvent`): namespace phase; node readiness, roles, kubelet version
//! and the wide addresses and system info; event times, object and source.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use apiserver::registry::table::{ColumnDefinition, field_description, translate_timestamp_since};
use k8s_openapi::api::core::v1::{
    Event, Namespace, Node, NodeStatus, NodeSystemInfo, ObjectReference,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, Time};
use k8s_openapi::chrono::{DateTime, Utc};
use serde_json::Value;

use super::{age_cell, name_cell};

/// The namespace columns.
pub fn namespace_columns() -> &'static [ColumnDefinition] {
    static COLUMNS: LazyLock<Vec<ColumnDefinition>> = LazyLock::new(|| {
        vec![
            ColumnDefinition::name(),
            ColumnDefinition::new("Status", "string", "The status of the namespace"),
            ColumnDefinition::age(),
        ]
    });
    &COLUMNS
}

/// The namespace's row: name, phase, age.
pub fn namespace_row(namespace: &Namespace, now: DateTime<Utc>) -> Vec<Value> {
    let phase = namespace
        .status
        .as_ref()
        .and_then(|s| s.phase.clone())
        .unwrap_or_default();
    vec![
        name_cell(&namespace.metadata),
        Value::from(phase),
        age_cell(&namespace.metadata, now),
    ]
}

/// The node columns.
pub fn node_columns() -> &'static [ColumnDefinition] {
    static COLUMNS: LazyLock<Vec<ColumnDefinition>> = LazyLock::new(|| {
        let info = field_description::<NodeSystemInfo>;
        let addresses = field_description::<NodeStatus>("addresses");
        vec![
            ColumnDefinition::name(),
            ColumnDefinition::new("Status", "string", "The status of the node"),
            ColumnDefinition::new("Roles", "string", "The roles of the node"),
            ColumnDefinition::age(),
            ColumnDefinition::new("Version", "string", info("kubeletVersion")),
            ColumnDefinition::new("Internal-IP", "string", addresses.clone()).wide(),
            ColumnDefinition::new("External-IP", "string", addresses).wide(),
            ColumnDefinition::new("OS-Image", "string", info("osImage")).wide(),
            ColumnDefinition::new("Kernel-Version", "string", info("kernelVersion")).wide(),
            ColumnDefinition::new(
                "Container-Runtime",
                "string",
                info("containerRuntimeVersion"),
            )
            .wide(),
        ]
    });
    &COLUMNS
}

/// `findNodeRoles`: `node-role.kubernetes.io/<role>` keys and the
/// `kubernetes.io/role` value, sorted.
fn node_roles(node: &Node) -> String {
    let mut roles = BTreeSet::new();
    for (key, value) in node.metadata.labels.iter().flatten() {
        if let Some(role) = key.strip_prefix("node-role.kubernetes.io/") {
            if !role.is_empty() {
                roles.insert(role.to_string());
            }
        } else if key == "kubernetes.io/role" && !value.is_empty() {
            roles.insert(value.clone());
        }
    }
    if roles.is_empty() {
        "<none>".to_string()
    } else {
        roles.into_iter().collect::<Vec<_>>().join(",")
    }
}

/// The node's row (`printNode`).
pub fn node_row(node: &Node, now: DateTime<Utc>) -> Vec<Value> {
    let status = node.status.clone().unwrap_or_default();
    let mut state: Vec<String> = status
        .conditions
        .iter()
        .flatten()
        .rfind(|c| c.type_ == "Ready")
        .map(|c| {
            if c.status == "True" {
                "Ready".to_string()
            } else {
                "NotReady".to_string()
            }
        })
        .into_iter()
        .collect();
    if state.is_empty() {
        state.push("Unknown".to_string());
    }
    if node.spec.as_ref().and_then(|s| s.unschedulable) == Some(true) {
        state.push("SchedulingDisabled".to_string());
    }
    let address = |kind: &str| {
        status
            .addresses
            .iter()
            .flatten()
            .find(|a| a.type_ == kind)
            .map_or_else(|| "<none>".to_string(), |a| a.address.clone())
    };
    let info = status.node_info.clone().unwrap_or_default();
    let known = |value: String| {
        if value.is_empty() {
            "<unknown>".to_string()
        } else {
            value
        }
    };
    vec![
        name_cell(&node.metadata),
        Value::from(state.join(",")),
        Value::from(node_roles(node)),
        age_cell(&node.metadata, now),
        Value::from(info.kubelet_version.clone()),
        Value::from(address("InternalIP")),
        Value::from(address("ExternalIP")),
        Value::from(known(info.os_image)),
        Value::from(known(info.kernel_version)),
        Value::from(known(info.container_runtime_version)),
    ]
}

/// The event columns: `Last Seen` first, the name last and wide.
pub fn event_columns() -> &'static [ColumnDefinition] {
    static COLUMNS: LazyLock<Vec<ColumnDefinition>> = LazyLock::new(|| {
        let doc = field_description::<Event>;
        vec![
            ColumnDefinition::new("Last Seen", "string", doc("lastTimestamp")),
            ColumnDefinition::new("Type", "string", doc("type")),
            ColumnDefinition::new("Reason", "string", doc("reason")),
            ColumnDefinition::new("Object", "string", doc("involvedObject")),
            ColumnDefinition::new(
                "Subobject",
                "string",
                field_description::<ObjectReference>("fieldPath"),
            )
            .wide(),
            ColumnDefinition::new("Source", "string", doc("source")).wide(),
            ColumnDefinition::new("Message", "string", doc("message")),
            ColumnDefinition::new("First Seen", "string", doc("firstTimestamp")).wide(),
            ColumnDefinition::new("Count", "string", doc("count")).wide(),
            ColumnDefinition {
                priority: 1,
                ..ColumnDefinition::name()
            },
        ]
    });
    &COLUMNS
}

fn micro_since(time: Option<&MicroTime>, now: DateTime<Utc>) -> String {
    translate_timestamp_since(time.map(|t| Time(t.0)).as_ref(), now)
}

/// The event's row (`printEvent`).
pub fn event_row(event: &Event, now: DateTime<Utc>) -> Vec<Value> {
    let first_seen = match &event.first_timestamp {
        Some(first) => translate_timestamp_since(Some(first), now),
        None => micro_since(event.event_time.as_ref(), now),
    };
    let mut last_seen = match &event.last_timestamp {
        Some(last) => translate_timestamp_since(Some(last), now),
        None => first_seen.clone(),
    };
    let mut count = event.count.unwrap_or_default();
    if let Some(series) = &event.series {
        last_seen = micro_since(series.last_observed_time.as_ref(), now);
        count = series.count.unwrap_or_default();
    } else if count == 0 {
        count = 1;
    }
    let involved = &event.involved_object;
    let kind = involved.kind.as_deref().unwrap_or_default().to_lowercase();
    let target = match involved.name.as_deref().filter(|n| !n.is_empty()) {
        Some(name) => format!("{kind}/{name}"),
        None => kind,
    };
    let source = event.source.clone().unwrap_or_default();
    let first_non_empty = |a: Option<String>, b: Option<&String>| {
        a.filter(|s| !s.is_empty())
            .or_else(|| b.cloned())
            .unwrap_or_default()
    };
    let component = first_non_empty(source.component, event.reporting_component.as_ref());
    let host = first_non_empty(source.host, event.reporting_instance.as_ref());
    let source = if host.is_empty() {
        component
    } else {
        format!("{component}, {host}")
    };
    vec![
        Value::from(last_seen),
        Value::from(event.type_.clone().unwrap_or_default()),
        Value::from(event.reason.clone().unwrap_or_default()),
        Value::from(target),
        Value::from(involved.field_path.clone().unwrap_or_default()),
        Value::from(source),
        Value::from(event.message.as_deref().unwrap_or_default().trim()),
        Value::from(first_seen),
        Value::from(i64::from(count)),
        name_cell(&event.metadata),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{EventSource, NamespaceStatus, NodeCondition, NodeSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    use std::collections::BTreeMap;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + seconds, 0).unwrap()
    }

    fn meta(name: &str) -> ObjectMeta {
        ObjectMeta {
            name: Some(name.into()),
            creation_timestamp: Some(Time(at(0))),
            ..Default::default()
        }
    }

    #[test]
    fn namespace_row_shows_phase() {
        let names: Vec<&str> = namespace_columns().iter().map(|c| &*c.name).collect();
        assert_eq!(names, ["Name", "Status", "Age"]);
        let namespace = Namespace {
            metadata: meta("dev"),
            status: Some(NamespaceStatus {
                phase: Some("Terminating".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(
            namespace_row(&namespace, at(3 * 3600)),
            vec![
                Value::from("dev"),
                Value::from("Terminating"),
                Value::from("3h")
            ]
        );
    }

    #[test]
    fn node_row_shows_readiness_roles_and_info() {
        let mut node = Node {
            metadata: meta("n1"),
            spec: Some(NodeSpec {
                unschedulable: Some(true),
                ..Default::default()
            }),
            status: Some(NodeStatus {
                conditions: Some(vec![NodeCondition {
                    type_: "Ready".into(),
                    status: "False".into(),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
        };
        node.metadata.labels = Some(BTreeMap::from([
            (
                "node-role.kubernetes.io/control-plane".to_string(),
                String::new(),
            ),
            ("kubernetes.io/role".to_string(), "edge".to_string()),
        ]));
        let cells = node_row(&node, at(60));
        assert_eq!(cells[1], "NotReady,SchedulingDisabled");
        assert_eq!(cells[2], "control-plane,edge");
        assert_eq!(cells[5], "<none>");
        assert_eq!(cells[7], "<unknown>");
        assert_eq!(node_columns().len(), cells.len());
        node.status = None;
        assert_eq!(node_row(&node, at(60))[1], "Unknown,SchedulingDisabled");
    }

    #[test]
    fn event_row_shows_times_object_and_source() {
        let event = Event {
            metadata: meta("web.1"),
            involved_object: ObjectReference {
                kind: Some("Pod".into()),
                name: Some("web".into()),
                ..Default::default()
            },
            first_timestamp: Some(Time(at(0))),
            type_: Some("Normal".into()),
            reason: Some("Scheduled".into()),
            message: Some(" assigned \n".into()),
            source: Some(EventSource {
                component: Some("scheduler".into()),
                host: None,
            }),
            ..Default::default()
        };
        let cells = event_row(&event, at(30));
        assert_eq!(
            cells,
            vec![
                Value::from("30s"),
                Value::from("Normal"),
                Value::from("Scheduled"),
                Value::from("pod/web"),
                Value::from(""),
                Value::from("scheduler"),
                Value::from("assigned"),
                Value::from("30s"),
                Value::from(1),
                Value::from("web.1"),
            ]
        );
        let names: Vec<&str> = event_columns().iter().map(|c| &*c.name).collect();
        assert_eq!(
            names,
            [
                "Last Seen",
                "Type",
                "Reason",
                "Object",
                "Subobject",
                "Source",
                "Message",
                "First Seen",
                "Count",
                "Name"
            ]
        );
    }
}
