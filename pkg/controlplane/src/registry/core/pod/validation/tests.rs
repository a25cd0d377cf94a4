//! Pod validation's tests, case by case against upstream's messages.

use super::*;
use k8s_openapi::api::core::v1::{
    ConfigMapKeySelector, EnvVarSource, HTTPGetAction, PodTemplateSpec, ResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use crate::registry::core::pod::defaults::{default_pod, default_pod_spec};

fn messages(errors: &ErrorList) -> Vec<String> {
    errors.iter().map(|e| e.to_string()).collect()
}

fn container(name: &str) -> Container {
    Container {
        name: name.into(),
        image: Some("nginx".into()),
        ..Default::default()
    }
}

/// The defaulted spec of one container, changed by `edit`, validated.
fn spec_errors(edit: impl FnOnce(&mut PodSpec)) -> Vec<String> {
    let mut spec = PodSpec {
        containers: vec![container("web")],
        ..Default::default()
    };
    edit(&mut spec);
    default_pod_spec(&mut spec);
    messages(&validate_pod_spec(&spec, &Path::new("spec")))
}

fn pod(spec: PodSpec) -> Pod {
    let mut pod = Pod {
        metadata: ObjectMeta {
            name: Some("web".into()),
            namespace: Some("default".into()),
            resource_version: Some("1".into()),
            ..Default::default()
        },
        spec: Some(spec),
        ..Default::default()
    };
    default_pod(&mut pod);
    pod
}

#[test]
fn containers_required() {
    assert_eq!(
        spec_errors(|spec| spec.containers.clear()),
        ["spec.containers: Required value"]
    );
}

#[test]
fn container_names_and_images() {
    assert_eq!(
        spec_errors(|spec| {
            spec.containers.push(container("web"));
            spec.containers.push(Container {
                image: None,
                ..container("Bad_Name")
            });
        }),
        [
            "spec.containers[1].name: Duplicate value: \"web\"",
            "spec.containers[2].name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
            "spec.containers[2].image: Required value",
        ]
    );
}

#[test]
fn ports() {
    let port = |name: Option<&str>, number: i32, protocol: Option<&str>| ContainerPort {
        name: name.map(str::to_string),
        container_port: number,
        protocol: protocol.map(str::to_string),
        ..Default::default()
    };
    assert_eq!(
        spec_errors(|spec| {
            spec.containers[0].ports = Some(vec![
                port(Some("http"), 80, None),
                port(Some("http"), 8080, None),
                port(None, 70000, Some("HTTP")),
                port(None, 0, None),
            ]);
        }),
        [
            "spec.containers[0].ports[1].name: Duplicate value: \"http\"",
            "spec.containers[0].ports[2].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
            "spec.containers[0].ports[2].protocol: Unsupported value: \"HTTP\": supported values: \"SCTP\", \"TCP\", \"UDP\"",
            "spec.containers[0].ports[3].containerPort: Required value",
        ]
    );
    assert_eq!(
        spec_errors(|spec| {
            spec.containers[0].ports = Some(vec![ContainerPort {
                host_port: Some(80),
                ..port(None, 80, None)
            }]);
            spec.containers.push(Container {
                ports: Some(vec![ContainerPort {
                    host_port: Some(80),
                    ..port(None, 81, None)
                }]),
                ..container("other")
            });
        }),
        ["spec.containers[1].ports[0].hostPort: Duplicate value: \"TCP//80\""]
    );
}

#[test]
fn env_vars() {
    assert_eq!(
        spec_errors(|spec| {
            spec.containers[0].env = Some(vec![
                EnvVar {
                    name: "GOOD_NAME".into(),
                    value: Some("x".into()),
                    ..Default::default()
                },
                EnvVar {
                    name: "A=B".into(),
                    ..Default::default()
                },
                EnvVar {
                    name: "FROM".into(),
                    value_from: Some(EnvVarSource {
                        config_map_key_ref: Some(ConfigMapKeySelector {
                            name: "settings".into(),
                            key: "bad key".into(),
                            ..Default::default()
                        }),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
            ]);
        }),
        [
            "spec.containers[0].env[1].name: Invalid value: \"A=B\": a valid environment variable name must consist only of printable ASCII characters other than '='",
            "spec.containers[0].env[2].valueFrom.configMapKeyRef.key: Invalid value: \"bad key\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
        ]
    );
}

#[test]
fn volumes_and_mounts() {
    assert_eq!(
        spec_errors(|spec| {
            spec.volumes = Some(vec![
                Volume {
                    name: "data".into(),
                    ..Default::default()
                },
                Volume {
                    name: "data".into(),
                    ..Default::default()
                },
            ]);
            spec.containers[0].volume_mounts = Some(vec![
                VolumeMount {
                    name: "data".into(),
                    mount_path: "/data".into(),
                    ..Default::default()
                },
                VolumeMount {
                    name: "x".into(),
                    mount_path: "/data".into(),
                    ..Default::default()
                },
            ]);
        }),
        [
            "spec.volumes[1].name: Duplicate value: \"data\"",
            "spec.containers[0].volumeMounts[1].name: Not found: \"x\"",
            "spec.containers[0].volumeMounts[1].mountPath: Invalid value: \"/data\": must be unique",
        ]
    );
}

#[test]
fn policies() {
    assert_eq!(
        spec_errors(|spec| {
            spec.restart_policy = Some("Sometimes".into());
            spec.dns_policy = Some("Cluster".into());
            spec.containers[0].image_pull_policy = Some("Maybe".into());
        }),
        [
            "spec.containers[0].imagePullPolicy: Unsupported value: \"Maybe\": supported values: \"Always\", \"IfNotPresent\", \"Never\"",
            "spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\"",
            "spec.dnsPolicy: Unsupported value: \"Cluster\": supported values: \"ClusterFirstWithHostNet\", \"ClusterFirst\", \"Default\", \"None\"",
        ]
    );
}

#[test]
fn resources_requests_within_limits() {
    let list = |pairs: &[(&str, &str)]| {
        Some(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), Quantity(v.to_string())))
                .collect(),
        )
    };
    assert_eq!(
        spec_errors(|spec| {
            spec.containers[0].resources = Some(ResourceRequirements {
                requests: list(&[("cpu", "2"), ("memory", "-1"), ("gpu", "1")]),
                limits: list(&[("cpu", "1500m")]),
                ..Default::default()
            });
        }),
        [
            "spec.containers[0].resources.requests: Invalid value: \"2\": must be less than or equal to cpu limit of 1500m",
            "spec.containers[0].resources.requests[gpu]: Invalid value: \"gpu\": must be a standard resource for containers",
            "spec.containers[0].resources.requests[memory]: Invalid value: \"-1\": must be greater than or equal to 0",
        ]
    );
}

#[test]
fn probes_and_init_containers() {
    assert_eq!(
        spec_errors(|spec| {
            spec.containers[0].liveness_probe = Some(Probe {
                success_threshold: Some(2),
                http_get: Some(HTTPGetAction {
                    port: IntOrString::Int(8080),
                    ..Default::default()
                }),
                ..Default::default()
            });
            spec.init_containers = Some(vec![
                Container {
                    readiness_probe: Some(Probe::default()),
                    ..container("setup")
                },
                container("web"),
            ]);
        }),
        [
            "spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1",
            "spec.initContainers[0].readinessProbe: Forbidden: may not be set for init containers without restartPolicy=Always",
            "spec.initContainers[1].name: Duplicate value: \"web\"",
        ]
    );
}

#[test]
fn tolerations_and_deadline() {
    assert_eq!(
        spec_errors(|spec| {
            spec.active_deadline_seconds = Some(0);
            spec.tolerations = Some(vec![Toleration {
                operator: Some("Equal".into()),
                effect: Some("NoSchedule".into()),
                toleration_seconds: Some(5),
                ..Default::default()
            }]);
        }),
        [
            "spec.activeDeadlineSeconds: Invalid value: 0: must be between 1 and 2147483647, inclusive",
            "spec.tolerations[0].operator: Invalid value: \"Equal\": operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
            "spec.tolerations[0].effect: Invalid value: \"NoSchedule\": effect must be 'NoExecute' when `tolerationSeconds` is set",
        ]
    );
}

#[test]
fn pod_template_labels_and_controller_rules() {
    let mut template = PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(BTreeMap::from([("app".to_string(), "web".to_string())])),
            ..Default::default()
        }),
        spec: Some(PodSpec {
            containers: vec![container("web")],
            restart_policy: Some("OnFailure".into()),
            ..Default::default()
        }),
    };
    crate::registry::core::pod::default_pod_template(&mut template);
    let path = Path::new("spec").child("template");
    let other = Selector::from_set(&BTreeMap::from([("app".to_string(), "db".to_string())]));
    assert_eq!(
        messages(&validate_controller_template(
            &template,
            &other,
            &path,
            "ReplicaSet"
        )),
        [
            "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"web\"}: `selector` does not match template `labels`",
            "spec.template.spec.restartPolicy: Unsupported value: \"OnFailure\": supported values: \"Always\"",
        ]
    );
}

#[test]
fn pod_create_and_metadata() {
    let good = pod(PodSpec {
        containers: vec![container("web")],
        ..Default::default()
    });
    assert!(validate_pod(&good).is_empty());
    let mut bad = good.clone();
    bad.metadata.name = Some("Web".into());
    assert_eq!(validate_pod(&bad)[0].field, "metadata.name");
}

#[test]
fn pod_updates_change_only_images_deadline_and_tolerations() {
    let old = pod(PodSpec {
        containers: vec![container("web")],
        ..Default::default()
    });
    let mut new = old.clone();
    if let Some(spec) = new.spec.as_mut() {
        spec.containers[0].image = Some("nginx:2".into());
        spec.active_deadline_seconds = Some(30);
        spec.tolerations = Some(vec![Toleration {
            key: Some("k".into()),
            operator: Some("Exists".into()),
            ..Default::default()
        }]);
    }
    assert!(validate_pod_update(&new, &old).is_empty());

    let mut changed = old.clone();
    if let Some(spec) = changed.spec.as_mut() {
        spec.restart_policy = Some("Never".into());
    }
    let errors = validate_pod_update(&changed, &old);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].field, "spec");
    assert!(
        errors[0]
            .to_string()
            .starts_with(&format!("spec: Forbidden: {POD_UPDATE_FORBIDDEN}\n"))
    );
    assert!(errors[0].detail.contains("restartPolicy"));

    let mut added = old.clone();
    if let Some(spec) = added.spec.as_mut() {
        spec.containers.push(container("sidecar"));
    }
    default_pod(&mut added);
    assert_eq!(
        messages(&validate_pod_update(&added, &old)),
        ["spec.containers: Forbidden: pod updates may not add or remove containers"]
    );

    let mut longer = new.clone();
    if let Some(spec) = longer.spec.as_mut() {
        spec.active_deadline_seconds = Some(60);
    }
    assert_eq!(
        messages(&validate_pod_update(&longer, &new)),
        [
            "spec.activeDeadlineSeconds: Invalid value: 60: must be less than or equal to previous value"
        ]
    );
}
