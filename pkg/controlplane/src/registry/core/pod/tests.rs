//! The pod strategy's tests: defaults, validation on create and update, status,
//! graceful deletion and selectable fields.

use super::*;
use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, PodSchedulingGate, ResourceRequirements};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

fn pod() -> Pod {
    Pod {
        metadata: ObjectMeta {
            name: Some("web".into()),
            namespace: Some("default".into()),
            resource_version: Some("1".into()),
            ..Default::default()
        },
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "web".into(),
                image: Some("nginx".into()),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn created() -> Pod {
    let mut p = pod();
    PodStrategy.prepare_for_create(&mut p);
    p
}

#[test]
fn info_matches_discovery() {
    let info = apiserver::registry::ResourceInfo::of(&PodStrategy);
    assert_eq!(
        (info.plural, info.singular, info.kind),
        ("pods", "pod", "Pod")
    );
    assert_eq!(
        (info.short_names, info.categories),
        (&["po"][..], &["all"][..])
    );
    assert!(info.namespaced && info.has_status && !info.has_scale);
    assert!(!PodStrategy.tracks_generation());
    assert!(PodStrategy.returns_deleted_object());
}

#[test]
fn create_defaults_and_pending_status() {
    let mut p = pod();
    p.status = Some(PodStatus {
        phase: Some("Running".into()),
        pod_ip: Some("10.0.0.1".into()),
        ..Default::default()
    });
    PodStrategy.prepare_for_create(&mut p);
    assert_eq!(
        p.status,
        Some(PodStatus {
            phase: Some("Pending".into()),
            qos_class: Some("BestEffort".into()),
            ..Default::default()
        })
    );
    let spec = p.spec.clone().unwrap_or_default();
    assert_eq!(spec.restart_policy.as_deref(), Some("Always"));
    assert_eq!(spec.enable_service_links, Some(true));
    assert_eq!(spec.termination_grace_period_seconds, Some(30));
    assert!(PodStrategy.validate(&p).is_empty());
}

#[test]
fn guaranteed_when_limits_only() {
    let mut p = pod();
    if let Some(spec) = p.spec.as_mut() {
        spec.containers[0].resources = Some(ResourceRequirements {
            limits: Some(BTreeMap::from([
                ("cpu".to_string(), Quantity("500m".into())),
                ("memory".to_string(), Quantity("128Mi".into())),
            ])),
            ..Default::default()
        });
    }
    PodStrategy.prepare_for_create(&mut p);
    assert_eq!(
        p.status.and_then(|s| s.qos_class).as_deref(),
        Some("Guaranteed")
    );
}

#[test]
fn scheduling_gates_add_a_condition() {
    let mut p = pod();
    if let Some(spec) = p.spec.as_mut() {
        spec.scheduling_gates = Some(vec![PodSchedulingGate {
            name: "wait".into(),
        }]);
    }
    PodStrategy.prepare_for_create(&mut p);
    let conditions = p.status.and_then(|s| s.conditions).unwrap_or_default();
    assert_eq!(conditions.len(), 1);
    assert_eq!(conditions[0].reason.as_deref(), Some("SchedulingGated"));
}

#[test]
fn update_keeps_status() {
    let mut old = created();
    old.status = Some(PodStatus {
        phase: Some("Running".into()),
        ..Default::default()
    });
    let mut new = old.clone();
    new.status = None;
    PodStrategy.prepare_for_update(&mut new, &old);
    assert_eq!(new.status, old.status);
}

#[test]
fn status_update_keeps_spec_owners_and_qos() {
    let mut old = created();
    old.metadata.owner_references = Some(vec![OwnerReference {
        name: "rs".into(),
        ..Default::default()
    }]);
    let mut new = old.clone();
    new.spec = None;
    new.metadata.owner_references = None;
    new.metadata.labels = Some(BTreeMap::from([("a".to_string(), "b".to_string())]));
    new.status = Some(PodStatus {
        phase: Some("Running".into()),
        pod_ip: Some("10.1.0.5".into()),
        ..Default::default()
    });
    PodStrategy.prepare_for_status_update(&mut new, &old);
    assert_eq!(new.spec, old.spec);
    assert_eq!(new.metadata.owner_references, old.metadata.owner_references);
    assert!(new.metadata.labels.is_some(), "pods keep metadata changes");
    let status = new.status.clone().unwrap_or_default();
    assert_eq!(status.qos_class.as_deref(), Some("BestEffort"));
    assert_eq!(
        status.pod_ips,
        Some(vec![PodIP {
            ip: "10.1.0.5".into()
        }])
    );
    let fields = PodStrategy.selectable_fields(&new);
    assert!(fields.contains(&("status.podIP", "10.1.0.5".to_string())));
    assert!(fields.contains(&("status.phase", "Running".to_string())));
}

#[test]
fn selectable_fields_of_a_new_pod() {
    let p = created();
    let fields = PodStrategy.selectable_fields(&p);
    let names: Vec<&str> = fields.iter().map(|(name, _)| *name).collect();
    assert_eq!(names, PodStrategy.selectable_field_names());
    assert_eq!(
        fields,
        vec![
            ("spec.nodeName", String::new()),
            ("spec.restartPolicy", "Always".to_string()),
            ("spec.schedulerName", "default-scheduler".to_string()),
            ("spec.serviceAccountName", String::new()),
            ("spec.hostNetwork", "false".to_string()),
            ("status.phase", "Pending".to_string()),
            ("status.podIP", String::new()),
            ("status.nominatedNodeName", String::new()),
        ]
    );
}

#[test]
fn graceful_delete_periods() {
    let unscheduled = created();
    assert_eq!(
        PodStrategy.graceful_delete_period(&unscheduled, None),
        Some(0)
    );
    assert_eq!(
        PodStrategy.graceful_delete_period(&unscheduled, Some(10)),
        Some(0)
    );
    let mut scheduled = created();
    if let Some(spec) = scheduled.spec.as_mut() {
        spec.node_name = Some("worker-1".into());
    }
    assert_eq!(
        PodStrategy.graceful_delete_period(&scheduled, None),
        Some(30)
    );
    assert_eq!(
        PodStrategy.graceful_delete_period(&scheduled, Some(5)),
        Some(5)
    );
    assert_eq!(
        PodStrategy.graceful_delete_period(&scheduled, Some(-3)),
        Some(1)
    );
    let mut finished = scheduled.clone();
    if let Some(status) = finished.status.as_mut() {
        status.phase = Some("Succeeded".into());
    }
    assert_eq!(
        PodStrategy.graceful_delete_period(&finished, Some(5)),
        Some(0)
    );
}
