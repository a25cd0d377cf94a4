//! The pod Table (`printPod`): READY, the STATUS reason (init containers,
//! sidecars, waiting/terminated reasons, `Terminating`), RESTARTS with the
//! time of the last restart, and the wide IP, node, nominated node and
//! readiness-gate cells.

use std::sync::LazyLock;

use apiserver::registry::table::{
    ColumnDefinition, RowCondition, field_description, translate_timestamp_since,
};
use k8s_openapi::api::core::v1::{ContainerState, Pod, PodSpec, PodStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::chrono::{DateTime, Utc};
use serde_json::Value;

use super::{age_cell, name_cell};

/// The pod columns (`podColumnDefinitions`).
pub fn columns() -> &'static [ColumnDefinition] {
    static COLUMNS: LazyLock<Vec<ColumnDefinition>> = LazyLock::new(|| {
        vec![
            ColumnDefinition::name(),
            ColumnDefinition::new(
                "Ready",
                "string",
                "The aggregate readiness state of this pod for accepting traffic.",
            ),
            ColumnDefinition::new(
                "Status",
                "string",
                "The aggregate status of the containers in this pod.",
            ),
            ColumnDefinition::new(
                "Restarts",
                "string",
                "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
            ),
            ColumnDefinition::age(),
            ColumnDefinition::new("IP", "string", field_description::<PodStatus>("podIP")).wide(),
            ColumnDefinition::new("Node", "string", field_description::<PodSpec>("nodeName"))
                .wide(),
            ColumnDefinition::new(
                "Nominated Node",
                "string",
                field_description::<PodStatus>("nominatedNodeName"),
            )
            .wide(),
            ColumnDefinition::new(
                "Readiness Gates",
                "string",
                field_description::<PodSpec>("readinessGates"),
            )
            .wide(),
        ]
    });
    &COLUMNS
}

/// `Completed` for a pod that succeeded or failed.
pub fn conditions(pod: &Pod) -> Vec<RowCondition> {
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    let (reason, message) = match phase {
        Some("Succeeded") => ("Succeeded", "The pod has completed successfully."),
        Some("Failed") => ("Failed", "The pod failed."),
        _ => return Vec::new(),
    };
    vec![RowCondition {
        kind: "Completed",
        status: "True",
        reason: reason.to_string(),
        message: message.to_string(),
    }]
}

/// The terminated state's reason as upstream shows it, with `prefix`
/// (`Init:`) before it: the reason, or the signal, or the exit code.
fn terminated_reason(state: &ContainerState, prefix: &str) -> Option<String> {
    let terminated = state.terminated.as_ref()?;
    Some(
        match terminated.reason.as_deref().filter(|r| !r.is_empty()) {
            Some(reason) => format!("{prefix}{reason}"),
            None => match terminated.signal.filter(|s| *s != 0) {
                Some(signal) => format!("{prefix}Signal:{signal}"),
                None => format!("{prefix}ExitCode:{}", terminated.exit_code),
            },
        },
    )
}

/// The later of `current` and the last termination in `last_state`.
fn later_restart(
    current: Option<DateTime<Utc>>,
    last_state: Option<&ContainerState>,
) -> Option<DateTime<Utc>> {
    let finished = last_state
        .and_then(|s| s.terminated.as_ref())
        .and_then(|t| t.finished_at.as_ref())
        .map(|t| t.0);
    match (current, finished) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

fn condition_is_true(status: &PodStatus, kind: &str) -> bool {
    status
        .conditions
        .iter()
        .flatten()
        .any(|c| c.type_ == kind && c.status == "True")
}

/// The pod's row (`printPod`), ages at `now`.
pub fn row(pod: &Pod, now: DateTime<Utc>) -> Vec<Value> {
    let default_spec = PodSpec::default();
    let default_status = PodStatus::default();
    let spec = pod.spec.as_ref().unwrap_or(&default_spec);
    let status = pod.status.as_ref().unwrap_or(&default_status);
    let init_containers = spec.init_containers.as_deref().unwrap_or_default();
    let is_sidecar = |name: &str| {
        init_containers
            .iter()
            .any(|c| c.name == name && c.restart_policy.as_deref() == Some("Always"))
    };

    let mut restarts: i64 = 0;
    let mut total = spec.containers.len();
    total += init_containers
        .iter()
        .filter(|c| c.restart_policy.as_deref() == Some("Always"))
        .count();
    let mut ready = 0usize;
    let mut last_restart: Option<DateTime<Utc>> = None;
    let mut sidecar_restarts: i64 = 0;
    let mut last_sidecar_restart: Option<DateTime<Utc>> = None;

    let phase = status.phase.clone().unwrap_or_default();
    let mut reason = status
        .reason
        .clone()
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| phase.clone());
    if status
        .conditions
        .iter()
        .flatten()
        .any(|c| c.type_ == "PodScheduled" && c.reason.as_deref() == Some("SchedulingGated"))
    {
        reason = "SchedulingGated".to_string();
    }

    let no_state = ContainerState::default();
    let mut initializing = false;
    let init_statuses = status
        .init_container_statuses
        .as_deref()
        .unwrap_or_default();
    for (i, container) in init_statuses.iter().enumerate() {
        restarts += i64::from(container.restart_count);
        last_restart = later_restart(last_restart, container.last_state.as_ref());
        let sidecar = is_sidecar(&container.name);
        if sidecar {
            sidecar_restarts += i64::from(container.restart_count);
            last_sidecar_restart =
                later_restart(last_sidecar_restart, container.last_state.as_ref());
        }
        let state = container.state.as_ref().unwrap_or(&no_state);
        let waiting_reason = state
            .waiting
            .as_ref()
            .and_then(|w| w.reason.as_deref())
            .filter(|r| !r.is_empty());
        match (&state.terminated, waiting_reason) {
            (Some(terminated), _) if terminated.exit_code == 0 => continue,
            _ if sidecar && container.started == Some(true) => {
                if container.ready {
                    ready += 1;
                }
                continue;
            }
            (Some(_), _) => reason = terminated_reason(state, "Init:").unwrap_or_default(),
            (None, Some(waiting)) if waiting != "PodInitializing" => {
                reason = format!("Init:{waiting}");
            }
            _ => reason = format!("Init:{i}/{}", init_containers.len()),
        }
        initializing = true;
        break;
    }

    if !initializing || condition_is_true(status, "Initialized") {
        restarts = sidecar_restarts;
        last_restart = last_sidecar_restart;
        let mut has_running = false;
        for container in status.container_statuses.iter().flatten().rev() {
            restarts += i64::from(container.restart_count);
            last_restart = later_restart(last_restart, container.last_state.as_ref());
            let state = container.state.as_ref().unwrap_or(&no_state);
            let waiting_reason = state
                .waiting
                .as_ref()
                .and_then(|w| w.reason.as_deref())
                .filter(|r| !r.is_empty());
            if let Some(waiting) = waiting_reason {
                reason = waiting.to_string();
            } else if let Some(terminated) = terminated_reason(state, "") {
                reason = terminated;
            } else if container.ready && state.running.is_some() {
                has_running = true;
                ready += 1;
            }
        }
        if reason == "Completed" && has_running {
            reason = if condition_is_true(status, "Ready") {
                "Running".to_string()
            } else {
                "NotReady".to_string()
            };
        }
    }

    let terminal = matches!(phase.as_str(), "Succeeded" | "Failed");
    if pod.metadata.deletion_timestamp.is_some() && status.reason.as_deref() == Some("NodeLost") {
        reason = "Unknown".to_string();
    } else if pod.metadata.deletion_timestamp.is_some() && !terminal {
        reason = "Terminating".to_string();
    }

    let restarts_text = match last_restart {
        Some(at) => format!(
            "{restarts} ({} ago)",
            translate_timestamp_since(Some(&Time(at)), now)
        ),
        None => restarts.to_string(),
    };

    let or_none =
        |value: Option<&str>| Value::from(value.filter(|v| !v.is_empty()).unwrap_or("<none>"));
    let pod_ip = status
        .pod_ips
        .as_ref()
        .and_then(|ips| ips.first())
        .map(|ip| ip.ip.as_str());
    let readiness_gates = match spec.readiness_gates.as_deref() {
        None | Some([]) => "<none>".to_string(),
        Some(gates) => {
            let passing = gates
                .iter()
                .filter(|gate| {
                    status
                        .conditions
                        .iter()
                        .flatten()
                        .find(|c| c.type_ == gate.condition_type)
                        .is_some_and(|c| c.status == "True")
                })
                .count();
            format!("{passing}/{}", gates.len())
        }
    };
    vec![
        name_cell(&pod.metadata),
        Value::from(format!("{ready}/{total}")),
        Value::from(reason),
        Value::from(restarts_text),
        age_cell(&pod.metadata, now),
        or_none(pod_ip),
        or_none(spec.node_name.as_deref()),
        or_none(status.nominated_node_name.as_deref()),
        Value::from(readiness_gates),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{
        Container, ContainerStateRunning, ContainerStateTerminated, ContainerStateWaiting,
        ContainerStatus, PodCondition, PodIP, PodReadinessGate,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + seconds, 0).unwrap()
    }

    fn pod(containers: &[&str]) -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some("web".into()),
                creation_timestamp: Some(Time(at(0))),
                ..Default::default()
            },
            spec: Some(PodSpec {
                containers: containers
                    .iter()
                    .map(|name| Container {
                        name: name.to_string(),
                        image: Some("nginx".into()),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }),
            status: Some(PodStatus {
                phase: Some("Pending".into()),
                ..Default::default()
            }),
        }
    }

    fn running(name: &str, ready: bool, restarts: i32) -> ContainerStatus {
        ContainerStatus {
            name: name.into(),
            ready,
            restart_count: restarts,
            state: Some(ContainerState {
                running: Some(ContainerStateRunning::default()),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn columns_are_upstreams() {
        let names: Vec<(&str, i32)> = columns().iter().map(|c| (&*c.name, c.priority)).collect();
        assert_eq!(
            names,
            vec![
                ("Name", 0),
                ("Ready", 0),
                ("Status", 0),
                ("Restarts", 0),
                ("Age", 0),
                ("IP", 1),
                ("Node", 1),
                ("Nominated Node", 1),
                ("Readiness Gates", 1),
            ]
        );
        assert_eq!(columns()[0].format, "name");
        assert!(columns()[5].description.contains("IP address"));
    }

    #[test]
    fn pending_pod() {
        let cells = row(&pod(&["app"]), at(5));
        assert_eq!(
            cells,
            vec![
                Value::from("web"),
                Value::from("0/1"),
                Value::from("Pending"),
                Value::from("0"),
                Value::from("5s"),
                Value::from("<none>"),
                Value::from("<none>"),
                Value::from("<none>"),
                Value::from("<none>"),
            ]
        );
        assert!(conditions(&pod(&["app"])).is_empty());
    }

    #[test]
    fn running_pod_with_restarts_ip_node_and_gates() {
        let mut p = pod(&["a", "b"]);
        let spec = p.spec.as_mut().unwrap();
        spec.node_name = Some("node-1".into());
        spec.readiness_gates = Some(vec![PodReadinessGate {
            condition_type: "example.com/lb".into(),
        }]);
        let mut restarted = running("b", true, 3);
        restarted.last_state = Some(ContainerState {
            terminated: Some(ContainerStateTerminated {
                finished_at: Some(Time(at(100))),
                ..Default::default()
            }),
            ..Default::default()
        });
        p.status = Some(PodStatus {
            phase: Some("Running".into()),
            pod_ips: Some(vec![PodIP {
                ip: "10.0.0.7".into(),
            }]),
            container_statuses: Some(vec![running("a", true, 0), restarted]),
            conditions: Some(vec![PodCondition {
                type_: "example.com/lb".into(),
                status: "True".into(),
                ..Default::default()
            }]),
            ..Default::default()
        });
        let cells = row(&p, at(3 * 60 + 2 + 100));
        assert_eq!(cells[1], "2/2");
        assert_eq!(cells[2], "Running");
        assert_eq!(cells[3], "3 (3m2s ago)");
        assert_eq!(cells[4], "4m42s");
        assert_eq!(cells[5], "10.0.0.7");
        assert_eq!(cells[6], "node-1");
        assert_eq!(cells[8], "1/1");
    }

    #[test]
    fn status_reasons() {
        let mut waiting = pod(&["app"]);
        waiting.status.as_mut().unwrap().container_statuses = Some(vec![ContainerStatus {
            name: "app".into(),
            state: Some(ContainerState {
                waiting: Some(ContainerStateWaiting {
                    reason: Some("ImagePullBackOff".into()),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }]);
        assert_eq!(row(&waiting, at(1))[2], "ImagePullBackOff");

        let mut crashed = pod(&["app"]);
        crashed.status.as_mut().unwrap().container_statuses = Some(vec![ContainerStatus {
            name: "app".into(),
            state: Some(ContainerState {
                terminated: Some(ContainerStateTerminated {
                    exit_code: 2,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }]);
        assert_eq!(row(&crashed, at(1))[2], "ExitCode:2");

        let mut init = pod(&["app"]);
        init.spec.as_mut().unwrap().init_containers = Some(vec![
            Container {
                name: "setup".into(),
                ..Default::default()
            },
            Container {
                name: "migrate".into(),
                ..Default::default()
            },
        ]);
        init.status.as_mut().unwrap().init_container_statuses = Some(vec![
            ContainerStatus {
                name: "setup".into(),
                state: Some(ContainerState {
                    terminated: Some(ContainerStateTerminated::default()),
                    ..Default::default()
                }),
                ..Default::default()
            },
            ContainerStatus {
                name: "migrate".into(),
                ..Default::default()
            },
        ]);
        assert_eq!(row(&init, at(1))[2], "Init:1/2");

        let mut deleting = pod(&["app"]);
        deleting.metadata.deletion_timestamp = Some(Time(at(1)));
        assert_eq!(row(&deleting, at(1))[2], "Terminating");

        let mut done = pod(&["app"]);
        done.metadata.deletion_timestamp = Some(Time(at(1)));
        done.status.as_mut().unwrap().phase = Some("Succeeded".into());
        assert_eq!(row(&done, at(1))[2], "Succeeded");
        assert_eq!(conditions(&done)[0].reason, "Succeeded");
        assert_eq!(conditions(&done)[0].kind, "Completed");
    }

    #[test]
    fn sidecars_count_as_containers() {
        let mut p = pod(&["app"]);
        p.spec.as_mut().unwrap().init_containers = Some(vec![Container {
            name: "proxy".into(),
            restart_policy: Some("Always".into()),
            ..Default::default()
        }]);
        let status = p.status.as_mut().unwrap();
        status.phase = Some("Running".into());
        let mut proxy = running("proxy", true, 1);
        proxy.started = Some(true);
        status.init_container_statuses = Some(vec![proxy]);
        status.container_statuses = Some(vec![running("app", true, 0)]);
        let cells = row(&p, at(1));
        assert_eq!(cells[1], "2/2");
        assert_eq!(cells[2], "Running");
        assert_eq!(cells[3], "1");
    }
}
