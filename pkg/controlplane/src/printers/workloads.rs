//! The workload Tables: replication controllers, deployments, replica
//! sets, stateful sets and daemon sets (replica counts, and the wide
//! containers, images and selector), jobs (status, completions, duration)
//! and cron jobs (schedule, last run), and what they are made from: pod
//! templates and controller revisions.

use std::sync::LazyLock;

use apiserver::registry::table::{ColumnDefinition, field_description};
use k8s_openapi::api::apps::v1::{
    ControllerRevision, DaemonSet, DaemonSetSpec, DaemonSetStatus, Deployment, DeploymentSpec,
    DeploymentStatus, ReplicaSet, ReplicaSetSpec, ReplicaSetStatus, StatefulSet, StatefulSetSpec,
};
use k8s_openapi::api::batch::v1::{CronJob, CronJobSpec, Job, JobSpec, JobStatus};
use k8s_openapi::api::core::v1::{
    PodSpec, PodTemplate, PodTemplateSpec, ReplicationController, ReplicationControllerSpec,
    ReplicationControllerStatus,
};
use k8s_openapi::chrono::{DateTime, Utc};
use serde_json::Value;

use super::{
    age_cell, container_cells, format_label_selector, format_labels, name_cell, selector_string,
};

const CONTAINERS: &str = "Names of each container in the template.";
const IMAGES: &str = "Images referenced by each container in the template.";

/// The template's containers and images cells.
fn template_cells(template: Option<&PodTemplateSpec>) -> [Value; 2] {
    let containers = template
        .and_then(|t| t.spec.as_ref())
        .map(|s| s.containers.as_slice())
        .unwrap_or_default();
    container_cells(containers)
}

/// The wide columns of a kind made from a pod template: its containers,
/// images and selector.
fn template_wide_columns(selector: String) -> [ColumnDefinition; 3] {
    [
        ColumnDefinition::new("Containers", "string", CONTAINERS).wide(),
        ColumnDefinition::new("Images", "string", IMAGES).wide(),
        ColumnDefinition::new("Selector", "string", selector).wide(),
    ]
}

/// Desired / current / ready columns then the wide ones, as replication
/// controllers and replica sets print.
fn replica_columns(
    desired: String,
    current: String,
    ready: String,
    selector: String,
) -> Vec<ColumnDefinition> {
    let mut columns = vec![
        ColumnDefinition::name(),
        ColumnDefinition::new("Desired", "integer", desired),
        ColumnDefinition::new("Current", "integer", current),
        ColumnDefinition::new("Ready", "integer", ready),
        ColumnDefinition::age(),
    ];
    columns.extend(template_wide_columns(selector));
    columns
}

/// The replication controller columns.
pub fn replication_controller_columns() -> &'static [ColumnDefinition] {
    static COLUMNS: LazyLock<Vec<ColumnDefinition>> = LazyLock::new(|| {
        replica_columns(
            field_description::<ReplicationControllerSpec>("replicas"),
            field_description::<ReplicationControllerStatus>("replicas"),
            field_description::<ReplicationControllerStatus>("readyReplicas"),
            field_description::<ReplicationControllerSpec>("selector"),
        )
    });
    &COLUMNS
}

/// The replication controller's row.
pub fn replication_controller_row(rc: &ReplicationController, now: DateTime<Utc>) -> Vec<Value> {
    let spec = rc.spec.clone().unwrap_or_default();
    let status = rc.status.clone().unwrap_or_default();
    let [containers, images] = template_cells(spec.template.as_ref());
    vec![
        name_cell(&rc.metadata),
        Value::from(spec.replicas.unwrap_or(1)),
        Value::from(status.replicas),
        Value::from(status.ready_replicas.unwrap_or_default()),
        age_cell(&rc.metadata, now),
        containers,
        images,
        Value::from(format_labels(spec.selector.as_ref())),
    ]
}

/// The replica set columns.
pub fn replica_set_columns() -> &'static [ColumnDefinition] {
    static COLUMNS: LazyLock<Vec<ColumnDefinition>> = LazyLock::new(|| {
        replica_columns(
            field_description::<ReplicaSetSpec>("replicas"),
            field_description::<ReplicaSetStatus>("replicas"),
            field_description::<ReplicaSetStatus>("readyReplicas"),
            field_description::<ReplicaSetSpec>("selector"),
        )
    });
    &COLUMNS
}

/// The replica set's row.
pub fn replica_set_row(rs: &ReplicaSet, now: DateTime<Utc>) -> Vec<Value> {
    let spec = rs.spec.clone().unwrap_or_default();
    let status = rs.status.clone().unwrap_or_default();
    let [containers, images] = template_cells(spec.template.as_ref());
    vec![
        name_cell(&rs.metadata),
        Value::from(spec.replicas.unwrap_or(1)),
        Value::from(status.replicas),
        Value::from(status.ready_replicas.unwrap_or_default()),
        age_cell(&rs.metadata, now),
        containers,
        images,
        Value::from(format_label_selector(Some(&spec.selector))),
    ]
}

/// The deployment columns.
pub fn deployment_columns() -> &'static [ColumnDefinition] {
    static COLUMNS: LazyLock<Vec<ColumnDefinition>> = LazyLock::new(|| {
        vec![
            ColumnDefinition::name(),
            ColumnDefinition::new("Ready", "string", "Number of the pod with ready state"),
            ColumnDefinition::new(
                "Up-to-date",
                "string",
                field_description::<DeploymentStatus>("updatedReplicas"),
            ),
            ColumnDefinition::new(
                "Available",
                "string",
                field_description::<DeploymentStatus>("availableReplicas"),
            ),
            ColumnDefinition::age(),
        ]
        .into_iter()
        .chain(template_wide_columns(field_description::<DeploymentSpec>(
            "selector",
        )))
        .collect()
    });
    &COLUMNS
}

/// The deployment's row: `ready/desired`, up to date, available, age.
pub fn deployment_row(deployment: &Deployment, now: DateTime<Utc>) -> Vec<Value> {
    let spec = deployment.spec.clone().unwrap_or_default();
    let status = deployment.status.clone().unwrap_or_default();
    let [containers, images] = template_cells(Some(&spec.template));
    let selector = selector_string(Some(&spec.selector)).unwrap_or_else(|| "<invalid>".to_string());
    vec![
        name_cell(&deployment.metadata),
        Value::from(format!(
            "{}/{}",
            status.ready_replicas.unwrap_or_default(),
            spec.replicas.unwrap_or(1)
        )),
        Value::from(status.updated_replicas.unwrap_or_default()),
        Value::from(status.available_replicas.unwrap_or_default()),
        age_cell(&deployment.metadata, now),
        containers,
        images,
        Value::from(selector),
    ]
}

/// The stateful set columns.
pub fn stateful_set_columns() -> &'static [ColumnDefinition] {
    static COLUMNS: LazyLock<Vec<ColumnDefinition>> = LazyLock::new(|| {
        vec![
            ColumnDefinition::name(),
            ColumnDefinition::new("Ready", "string", "Number of the pod with ready state"),
            ColumnDefinition::age(),
            ColumnDefinition::new("Containers", "string", CONTAINERS).wide(),
            ColumnDefinition::new("Images", "string", IMAGES).wide(),
        ]
    });
    &COLUMNS
}

/// The stateful set's row: `ready/desired`, age.
pub fn stateful_set_row(set: &StatefulSet, now: DateTime<Utc>) -> Vec<Value> {
    let spec: StatefulSetSpec = set.spec.clone().unwrap_or_default();
    let ready = set
        .status
        .as_ref()
        .and_then(|s| s.ready_replicas)
        .unwrap_or_default();
    let [containers, images] = template_cells(Some(&spec.template));
    vec![
        name_cell(&set.metadata),
        Value::from(format!("{ready}/{}", spec.replicas.unwrap_or(1))),
        age_cell(&set.metadata, now),
        containers,
        images,
    ]
}

/// The daemon set columns.
pub fn daemon_set_columns() -> &'static [ColumnDefinition] {
    static COLUMNS: LazyLock<Vec<ColumnDefinition>> = LazyLock::new(|| {
        let doc = field_description::<DaemonSetStatus>;
        vec![
            ColumnDefinition::name(),
            ColumnDefinition::new("Desired", "integer", doc("desiredNumberScheduled")),
            ColumnDefinition::new("Current", "integer", doc("currentNumberScheduled")),
            ColumnDefinition::new("Ready", "integer", doc("numberReady")),
            ColumnDefinition::new("Up-to-date", "integer", doc("updatedNumberScheduled")),
            ColumnDefinition::new("Available", "integer", doc("numberAvailable")),
            ColumnDefinition::new(
                "Node Selector",
                "string",
                field_description::<PodSpec>("nodeSelector"),
            ),
            ColumnDefinition::age(),
        ]
        .into_iter()
        .chain(template_wide_columns(field_description::<DaemonSetSpec>(
            "selector",
        )))
        .collect()
    });
    &COLUMNS
}

/// The daemon set's row.
pub fn daemon_set_row(set: &DaemonSet, now: DateTime<Utc>) -> Vec<Value> {
    let spec: DaemonSetSpec = set.spec.clone().unwrap_or_default();
    let status = set.status.clone().unwrap_or_default();
    let [containers, images] = template_cells(Some(&spec.template));
    let node_selector = spec
        .template
        .spec
        .as_ref()
        .and_then(|s| s.node_selector.as_ref());
    vec![
        name_cell(&set.metadata),
        Value::from(status.desired_number_scheduled),
        Value::from(status.current_number_scheduled),
        Value::from(status.number_ready),
        Value::from(status.updated_number_scheduled.unwrap_or_default()),
        Value::from(status.number_available.unwrap_or_default()),
        Value::from(format_labels(node_selector)),
        age_cell(&set.metadata, now),
        containers,
        images,
        Value::from(format_label_selector(Some(&spec.selector))),
    ]
}

/// The controller revision columns.
pub fn controller_revision_columns() -> &'static [ColumnDefinition] {
    static COLUMNS: LazyLock<Vec<ColumnDefinition>> = LazyLock::new(|| {
        vec![
            ColumnDefinition::name(),
            ColumnDefinition::new("Controller", "string", "Controller of the object"),
            ColumnDefinition::new(
                "Revision",
                "string",
                field_description::<ControllerRevision>("revision"),
            ),
            ColumnDefinition::age(),
        ]
    });
    &COLUMNS
}

/// Name, the controller as `kind.group/name` (`<none>` without one), the
/// revision, age.
pub fn controller_revision_row(revision: &ControllerRevision, now: DateTime<Utc>) -> Vec<Value> {
    let controller = revision
        .metadata
        .owner_references
        .iter()
        .flatten()
        .find(|owner| owner.controller == Some(true))
        .map_or_else(
            || "<none>".to_string(),
            |owner| {
                let group = owner
                    .api_version
                    .rsplit_once('/')
                    .map_or("", |(group, _)| group);
                let kind = owner.kind.to_lowercase();
                match group {
                    "" => format!("{kind}/{}", owner.name),
                    group => format!("{kind}.{group}/{}", owner.name),
                }
            },
        );
    vec![
        name_cell(&revision.metadata),
        Value::from(controller),
        Value::from(revision.revision),
        age_cell(&revision.metadata, now),
    ]
}

/// The pod template columns.
pub fn pod_template_columns() -> &'static [ColumnDefinition] {
    static COLUMNS: LazyLock<Vec<ColumnDefinition>> = LazyLock::new(|| {
        vec![
            ColumnDefinition::name(),
            ColumnDefinition::new("Containers", "string", CONTAINERS),
            ColumnDefinition::new("Images", "string", IMAGES),
            ColumnDefinition::new("Pod Labels", "string", "The labels for the pod template."),
        ]
    });
    &COLUMNS
}

/// Name, the template's containers and images, its labels.
pub fn pod_template_row(template: &PodTemplate) -> Vec<Value> {
    let [names, images] = template_cells(template.template.as_ref());
    let labels = template
        .template
        .as_ref()
        .and_then(|template| template.metadata.as_ref())
        .and_then(|meta| meta.labels.as_ref());
    vec![
        name_cell(&template.metadata),
        names,
        images,
        Value::from(format_labels(labels)),
    ]
}

/// `jobColumnDefinitions`.
pub fn job_columns() -> &'static [ColumnDefinition] {
    static COLUMNS: LazyLock<Vec<ColumnDefinition>> = LazyLock::new(|| {
        vec![
            ColumnDefinition::name(),
            ColumnDefinition::new("Status", "string", "Status of the job."),
            ColumnDefinition::new(
                "Completions",
                "string",
                field_description::<JobStatus>("succeeded"),
            ),
            ColumnDefinition::new("Duration", "string", "Time required to complete the job."),
            ColumnDefinition::age(),
        ]
        .into_iter()
        .chain(template_wide_columns(field_description::<JobSpec>(
            "selector",
        )))
        .collect()
    });
    &COLUMNS
}

/// `printJob`: the first of Complete, Failed, Terminating, Suspended,
/// FailureTarget, SuccessCriteriaMet that holds, else Running; succeeded
/// of completions (`N/1 of P` for a parallel job without completions); the
/// run's duration; the wide cells.
pub fn job_row(job: &Job, now: DateTime<Utc>) -> Vec<Value> {
    let spec = job.spec.as_ref();
    let status = job.status.as_ref();
    let succeeded = status.and_then(|s| s.succeeded).unwrap_or(0);
    let completions = match spec.and_then(|s| s.completions) {
        Some(completions) => format!("{succeeded}/{completions}"),
        None => match spec.and_then(|s| s.parallelism).unwrap_or(0) {
            parallelism if parallelism > 1 => format!("{succeeded}/1 of {parallelism}"),
            _ => format!("{succeeded}/1"),
        },
    };
    let start = status.and_then(|s| s.start_time.as_ref());
    let duration = match (start, status.and_then(|s| s.completion_time.as_ref())) {
        (None, _) => String::new(),
        (Some(start), None) => {
            apiserver::registry::table::human_duration(now.signed_duration_since(start.0))
        }
        (Some(start), Some(end)) => {
            apiserver::registry::table::human_duration(end.0.signed_duration_since(start.0))
        }
    };
    let holds = |kind: &str| {
        status
            .and_then(|s| s.conditions.as_ref())
            .into_iter()
            .flatten()
            .any(|c| c.type_ == kind && c.status == "True")
    };
    let state = if holds("Complete") {
        "Complete"
    } else if holds("Failed") {
        "Failed"
    } else if job.metadata.deletion_timestamp.is_some() {
        "Terminating"
    } else if holds("Suspended") {
        "Suspended"
    } else if holds("FailureTarget") {
        "FailureTarget"
    } else if holds("SuccessCriteriaMet") {
        "SuccessCriteriaMet"
    } else {
        "Running"
    };
    let [containers, images] = template_cells(spec.map(|s| &s.template));
    vec![
        name_cell(&job.metadata),
        Value::from(state),
        Value::from(completions),
        Value::from(duration),
        age_cell(&job.metadata, now),
        containers,
        images,
        Value::from(format_label_selector(
            spec.and_then(|s| s.selector.as_ref()),
        )),
    ]
}

/// `cronJobColumnDefinitions`.
pub fn cron_job_columns() -> &'static [ColumnDefinition] {
    static COLUMNS: LazyLock<Vec<ColumnDefinition>> = LazyLock::new(|| {
        vec![
            ColumnDefinition::name(),
            ColumnDefinition::new(
                "Schedule",
                "string",
                field_description::<CronJobSpec>("schedule"),
            ),
            ColumnDefinition::new(
                "Timezone",
                "string",
                field_description::<CronJobSpec>("timeZone"),
            ),
            ColumnDefinition::new(
                "Suspend",
                "boolean",
                field_description::<CronJobSpec>("suspend"),
            ),
            ColumnDefinition::new(
                "Active",
                "integer",
                "Active holds pointers to currently running jobs.",
            ),
            ColumnDefinition::new(
                "Last Schedule",
                "string",
                "LastScheduleTime keeps information of when was the last time the job was successfully scheduled.",
            ),
            ColumnDefinition::age(),
        ]
        .into_iter()
        .chain(template_wide_columns(field_description::<JobSpec>("selector")))
        .collect()
    });
    &COLUMNS
}

/// `printCronJob`: schedule, zone (`<none>`), suspend (`<unset>`), running
/// jobs, time since the last run (`<none>`), age, and the job template's
/// wide cells.
pub fn cron_job_row(cron_job: &CronJob, now: DateTime<Utc>) -> Vec<Value> {
    let spec = cron_job.spec.as_ref();
    let status = cron_job.status.as_ref();
    let suspend = match spec.and_then(|s| s.suspend) {
        Some(true) => "True",
        Some(false) => "False",
        None => "<unset>",
    };
    let last_schedule = match status.and_then(|s| s.last_schedule_time.as_ref()) {
        Some(time) => apiserver::registry::table::translate_timestamp_since(Some(time), now),
        None => "<none>".to_owned(),
    };
    let job_spec = spec.and_then(|s| s.job_template.spec.as_ref());
    let [containers, images] = template_cells(job_spec.map(|s| &s.template));
    vec![
        name_cell(&cron_job.metadata),
        Value::from(spec.map(|s| s.schedule.clone()).unwrap_or_default()),
        Value::from(
            spec.and_then(|s| s.time_zone.clone())
                .unwrap_or_else(|| "<none>".to_owned()),
        ),
        Value::from(suspend),
        Value::from(status.and_then(|s| s.active.as_ref()).map_or(0, Vec::len)),
        Value::from(last_schedule),
        age_cell(&cron_job.metadata, now),
        containers,
        images,
        Value::from(format_label_selector(
            job_spec.and_then(|s| s.selector.as_ref()),
        )),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Container;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, Time};
    use std::collections::BTreeMap;

    fn meta() -> ObjectMeta {
        ObjectMeta {
            name: Some("web".into()),
            creation_timestamp: Some(Time(DateTime::from_timestamp(0, 0).unwrap())),
            ..Default::default()
        }
    }

    fn template() -> PodTemplateSpec {
        PodTemplateSpec {
            metadata: None,
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: "nginx".into(),
                    image: Some("nginx:1.27".into()),
                    ..Default::default()
                }],
                ..Default::default()
            }),
        }
    }

    fn selector() -> LabelSelector {
        LabelSelector {
            match_labels: Some(BTreeMap::from([("app".to_string(), "web".to_string())])),
            ..Default::default()
        }
    }

    fn names(columns: &[ColumnDefinition]) -> Vec<(&str, i32)> {
        columns.iter().map(|c| (&*c.name, c.priority)).collect()
    }

    #[test]
    fn deployment_columns_and_row() {
        assert_eq!(
            names(deployment_columns()),
            [
                ("Name", 0),
                ("Ready", 0),
                ("Up-to-date", 0),
                ("Available", 0),
                ("Age", 0),
                ("Containers", 1),
                ("Images", 1),
                ("Selector", 1)
            ]
        );
        let deployment = Deployment {
            metadata: meta(),
            spec: Some(DeploymentSpec {
                replicas: Some(3),
                selector: selector(),
                template: template(),
                ..Default::default()
            }),
            status: Some(DeploymentStatus {
                ready_replicas: Some(2),
                updated_replicas: Some(3),
                available_replicas: Some(2),
                ..Default::default()
            }),
        };
        let now = DateTime::from_timestamp(600, 0).unwrap();
        assert_eq!(
            deployment_row(&deployment, now),
            vec![
                Value::from("web"),
                Value::from("2/3"),
                Value::from(3),
                Value::from(2),
                Value::from("10m"),
                Value::from("nginx"),
                Value::from("nginx:1.27"),
                Value::from("app=web"),
            ]
        );
    }

    #[test]
    fn replica_and_daemon_sets() {
        let now = DateTime::from_timestamp(60, 0).unwrap();
        let rs = ReplicaSet {
            metadata: meta(),
            spec: Some(ReplicaSetSpec {
                replicas: Some(2),
                selector: selector(),
                template: Some(template()),
                ..Default::default()
            }),
            status: None,
        };
        let cells = replica_set_row(&rs, now);
        assert_eq!(cells.len(), replica_set_columns().len());
        assert_eq!(
            &cells[1..4],
            &[Value::from(2), Value::from(0), Value::from(0)]
        );
        assert_eq!(cells[7], "app=web");
        let ds = DaemonSet {
            metadata: meta(),
            spec: Some(DaemonSetSpec {
                selector: selector(),
                template: template(),
                ..Default::default()
            }),
            status: None,
        };
        let cells = daemon_set_row(&ds, now);
        assert_eq!(cells.len(), daemon_set_columns().len());
        assert_eq!(cells[6], "<none>");
        let sts = StatefulSet {
            metadata: meta(),
            spec: Some(StatefulSetSpec {
                replicas: Some(3),
                selector: selector(),
                template: template(),
                ..Default::default()
            }),
            status: None,
        };
        assert_eq!(stateful_set_row(&sts, now)[1], "0/3");
        assert_eq!(
            names(stateful_set_columns()),
            [
                ("Name", 0),
                ("Ready", 0),
                ("Age", 0),
                ("Containers", 1),
                ("Images", 1)
            ]
        );
        let rc = ReplicationController {
            metadata: meta(),
            spec: Some(ReplicationControllerSpec {
                replicas: Some(1),
                selector: Some(BTreeMap::from([("app".to_string(), "web".to_string())])),
                template: Some(template()),
                ..Default::default()
            }),
            status: None,
        };
        let cells = replication_controller_row(&rc, now);
        assert_eq!(cells.len(), replication_controller_columns().len());
        assert_eq!(cells[7], "app=web");
    }
}
