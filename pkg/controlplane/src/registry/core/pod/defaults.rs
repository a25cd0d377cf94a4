//! Pod defaults as the v1 decoder applies them (`pkg/apis/core/v1/defaults.go`
//! and the generated declarative defaults): the pod spec's and every
//! container's, probe's, port's and volume's, shared by pods and the pod
//! templates of workloads; plus the pod-only ones (`SetDefaults_Pod`) and the
//! v1 conversion's `serviceAccount` mirror.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Container, EmptyDirVolumeSource, EnvVar, HTTPGetAction, Lifecycle, LifecycleHandler, Pod,
    PodSecurityContext, PodSpec, PodTemplateSpec, Probe, Volume, VolumeProjection,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

pub const DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS: i64 = 30;
pub const DEFAULT_SCHEDULER_NAME: &str = "default-scheduler";
pub const TERMINATION_MESSAGE_PATH_DEFAULT: &str = "/dev/termination-log";
/// `0644`, the default mode of secret, config map, downward API and
/// projected volumes.
const DEFAULT_VOLUME_MODE: i32 = 0o644;
const DEFAULT_TOKEN_EXPIRATION_SECONDS: i64 = 3600;

fn default_str(field: &mut Option<String>, value: &str) {
    if field.as_deref().unwrap_or("").is_empty() {
        *field = Some(value.to_string());
    }
}

/// `SetDefaults_PodSpec` and the defaults of everything inside a pod spec;
/// what a workload's pod template gets.
pub fn default_pod_spec(spec: &mut PodSpec) {
    default_str(&mut spec.dns_policy, "ClusterFirst");
    default_str(&mut spec.restart_policy, "Always");
    spec.security_context
        .get_or_insert_with(PodSecurityContext::default);
    spec.termination_grace_period_seconds
        .get_or_insert(DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS);
    default_str(&mut spec.scheduler_name, DEFAULT_SCHEDULER_NAME);
    mirror_service_account(spec);

    for container in spec.containers.iter_mut() {
        default_container(container);
    }
    for container in spec.init_containers.iter_mut().flatten() {
        default_container(container);
    }
    for container in spec.ephemeral_containers.iter_mut().flatten() {
        default_str(
            &mut container.termination_message_path,
            TERMINATION_MESSAGE_PATH_DEFAULT,
        );
        default_str(&mut container.termination_message_policy, "File");
        if container
            .image_pull_policy
            .as_deref()
            .unwrap_or("")
            .is_empty()
        {
            container.image_pull_policy =
                Some(pull_policy_for(container.image.as_deref().unwrap_or("")).to_string());
        }
        for env in container.env.iter_mut().flatten() {
            default_env_var(env);
        }
    }
    for volume in spec.volumes.iter_mut().flatten() {
        default_volume(volume);
    }
}

/// The v1 conversion keeps the deprecated `serviceAccount` equal to
/// `serviceAccountName` (taking it when only the old field is set).
fn mirror_service_account(spec: &mut PodSpec) {
    if spec
        .service_account_name
        .as_deref()
        .unwrap_or("")
        .is_empty()
        && let Some(old) = spec.service_account.clone().filter(|s| !s.is_empty())
    {
        spec.service_account_name = Some(old);
    }
    spec.service_account = spec
        .service_account_name
        .clone()
        .filter(|name| !name.is_empty());
}

/// The defaults of a workload's pod template (`spec.template`).
pub fn default_pod_template(template: &mut PodTemplateSpec) {
    default_pod_spec(template.spec.get_or_insert_with(PodSpec::default));
}

/// `SetDefaults_Pod` on top of the spec defaults: requests default to
/// limits, service links are on, and with host networking every container
/// port is also a host port.
pub fn default_pod(pod: &mut Pod) {
    let spec = pod.spec.get_or_insert_with(PodSpec::default);
    default_pod_spec(spec);
    let init = spec.init_containers.iter_mut().flatten();
    for container in spec.containers.iter_mut().chain(init) {
        default_requests_to_limits(container);
    }
    spec.enable_service_links.get_or_insert(true);
    if spec.host_network == Some(true) {
        let init = spec.init_containers.iter_mut().flatten();
        for container in spec.containers.iter_mut().chain(init) {
            for port in container.ports.iter_mut().flatten() {
                if port.host_port.unwrap_or(0) == 0 {
                    port.host_port = Some(port.container_port);
                }
            }
        }
    }
}

fn default_requests_to_limits(container: &mut Container) {
    let Some(resources) = container.resources.as_mut() else {
        return;
    };
    let Some(limits) = resources.limits.as_ref() else {
        return;
    };
    let requests = resources.requests.get_or_insert_with(BTreeMap::new);
    for (name, value) in limits {
        requests
            .entry(name.clone())
            .or_insert_with(|| Quantity(value.0.clone()));
    }
}

/// `SetDefaults_Container` and the declarative defaults inside a container.
pub fn default_container(container: &mut Container) {
    if container
        .image_pull_policy
        .as_deref()
        .unwrap_or("")
        .is_empty()
    {
        container.image_pull_policy =
            Some(pull_policy_for(container.image.as_deref().unwrap_or("")).to_string());
    }
    default_str(
        &mut container.termination_message_path,
        TERMINATION_MESSAGE_PATH_DEFAULT,
    );
    default_str(&mut container.termination_message_policy, "File");
    for port in container.ports.iter_mut().flatten() {
        default_str(&mut port.protocol, "TCP");
    }
    for env in container.env.iter_mut().flatten() {
        default_env_var(env);
    }
    for probe in [
        container.liveness_probe.as_mut(),
        container.readiness_probe.as_mut(),
        container.startup_probe.as_mut(),
    ]
    .into_iter()
    .flatten()
    {
        default_probe(probe);
    }
    if let Some(lifecycle) = container.lifecycle.as_mut() {
        default_lifecycle(lifecycle);
    }
}

fn default_env_var(env: &mut EnvVar) {
    if let Some(field_ref) = env
        .value_from
        .as_mut()
        .and_then(|from| from.field_ref.as_mut())
    {
        default_str(&mut field_ref.api_version, "v1");
    }
}

fn default_http_get(action: &mut HTTPGetAction) {
    default_str(&mut action.path, "/");
    default_str(&mut action.scheme, "HTTP");
}

fn default_probe(probe: &mut Probe) {
    for (field, value) in [
        (&mut probe.timeout_seconds, 1),
        (&mut probe.period_seconds, 10),
        (&mut probe.success_threshold, 1),
        (&mut probe.failure_threshold, 3),
    ] {
        if field.unwrap_or(0) == 0 {
            *field = Some(value);
        }
    }
    if let Some(http_get) = probe.http_get.as_mut() {
        default_http_get(http_get);
    }
    if let Some(grpc) = probe.grpc.as_mut() {
        grpc.service.get_or_insert_with(String::new);
    }
}

fn default_lifecycle(lifecycle: &mut Lifecycle) {
    let handlers: [Option<&mut LifecycleHandler>; 2] =
        [lifecycle.post_start.as_mut(), lifecycle.pre_stop.as_mut()];
    for handler in handlers.into_iter().flatten() {
        if let Some(http_get) = handler.http_get.as_mut() {
            default_http_get(http_get);
        }
    }
}

/// `SetDefaults_Volume` (no source: an `emptyDir`) and the default modes of
/// the sources that have one.
pub fn default_volume(volume: &mut Volume) {
    if volume_source_count(volume) == 0 {
        volume.empty_dir = Some(EmptyDirVolumeSource::default());
    }
    if let Some(secret) = volume.secret.as_mut() {
        secret.default_mode.get_or_insert(DEFAULT_VOLUME_MODE);
    }
    if let Some(config_map) = volume.config_map.as_mut() {
        config_map.default_mode.get_or_insert(DEFAULT_VOLUME_MODE);
    }
    if let Some(downward) = volume.downward_api.as_mut() {
        downward.default_mode.get_or_insert(DEFAULT_VOLUME_MODE);
        for item in downward.items.iter_mut().flatten() {
            if let Some(field_ref) = item.field_ref.as_mut() {
                default_str(&mut field_ref.api_version, "v1");
            }
        }
    }
    if let Some(projected) = volume.projected.as_mut() {
        projected.default_mode.get_or_insert(DEFAULT_VOLUME_MODE);
        for source in projected.sources.iter_mut().flatten() {
            default_projection(source);
        }
    }
    if let Some(host_path) = volume.host_path.as_mut() {
        host_path.type_.get_or_insert_with(String::new);
    }
}

fn default_projection(source: &mut VolumeProjection) {
    if let Some(token) = source.service_account_token.as_mut() {
        token
            .expiration_seconds
            .get_or_insert(DEFAULT_TOKEN_EXPIRATION_SECONDS);
    }
    if let Some(downward) = source.downward_api.as_mut() {
        for item in downward.items.iter_mut().flatten() {
            if let Some(field_ref) = item.field_ref.as_mut() {
                default_str(&mut field_ref.api_version, "v1");
            }
        }
    }
}

/// How many volume sources (`emptyDir`, `secret`, ...) a volume sets, and
/// their JSON names in order.
pub fn volume_sources(volume: &Volume) -> Vec<String> {
    match serde_json::to_value(volume) {
        Ok(serde_json::Value::Object(fields)) => fields
            .into_iter()
            .filter(|(key, value)| key != "name" && !value.is_null())
            .map(|(key, _)| key)
            .collect(),
        _ => Vec::new(),
    }
}

fn volume_source_count(volume: &Volume) -> usize {
    volume_sources(volume).len()
}

/// `Always` when the image has the `latest` tag or no tag and no digest,
/// else `IfNotPresent` (`parsers.ParseImageName`).
pub fn pull_policy_for(image: &str) -> &'static str {
    if image_tag(image).as_deref() == Some("latest") {
        "Always"
    } else {
        "IfNotPresent"
    }
}

/// The tag of an image reference: `latest` when it has neither a tag nor a
/// digest, `None` when it has only a digest or is empty.
fn image_tag(image: &str) -> Option<String> {
    if image.is_empty() {
        return None;
    }
    let (name, digest) = match image.split_once('@') {
        Some((name, digest)) => (name, Some(digest)),
        None => (image, None),
    };
    let last_component = name.rsplit('/').next().unwrap_or(name);
    match last_component.split_once(':') {
        Some((_, tag)) => Some(tag.to_string()),
        None if digest.is_some() => None,
        None => Some("latest".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{ContainerPort, ResourceRequirements, SecretVolumeSource};

    fn container(image: &str) -> Container {
        Container {
            name: "c".into(),
            image: Some(image.into()),
            ..Default::default()
        }
    }

    #[test]
    fn pull_policy_follows_the_tag() {
        assert_eq!(pull_policy_for("nginx"), "Always");
        assert_eq!(pull_policy_for("nginx:latest"), "Always");
        assert_eq!(pull_policy_for("nginx:1.27"), "IfNotPresent");
        assert_eq!(pull_policy_for("registry:5000/nginx"), "Always");
        assert_eq!(pull_policy_for("registry:5000/nginx:1"), "IfNotPresent");
        assert_eq!(pull_policy_for("nginx@sha256:abcd"), "IfNotPresent");
        assert_eq!(pull_policy_for(""), "IfNotPresent");
    }

    #[test]
    fn pod_spec_defaults_as_upstream() {
        let mut spec = PodSpec {
            containers: vec![Container {
                ports: Some(vec![ContainerPort {
                    container_port: 80,
                    ..Default::default()
                }]),
                liveness_probe: Some(Probe {
                    http_get: Some(HTTPGetAction::default()),
                    ..Default::default()
                }),
                ..container("nginx")
            }],
            volumes: Some(vec![
                Volume {
                    name: "scratch".into(),
                    ..Default::default()
                },
                Volume {
                    name: "creds".into(),
                    secret: Some(SecretVolumeSource {
                        secret_name: Some("s".into()),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
            ]),
            ..Default::default()
        };
        default_pod_spec(&mut spec);
        assert_eq!(spec.dns_policy.as_deref(), Some("ClusterFirst"));
        assert_eq!(spec.restart_policy.as_deref(), Some("Always"));
        assert_eq!(spec.scheduler_name.as_deref(), Some("default-scheduler"));
        assert_eq!(spec.termination_grace_period_seconds, Some(30));
        assert_eq!(spec.security_context, Some(PodSecurityContext::default()));
        assert_eq!(spec.enable_service_links, None, "pod-only default");
        let c = &spec.containers[0];
        assert_eq!(c.image_pull_policy.as_deref(), Some("Always"));
        assert_eq!(
            c.termination_message_path.as_deref(),
            Some("/dev/termination-log")
        );
        assert_eq!(c.termination_message_policy.as_deref(), Some("File"));
        let ports = c.ports.as_deref().unwrap_or_default();
        assert_eq!(ports[0].protocol.as_deref(), Some("TCP"));
        let probe = c.liveness_probe.clone().unwrap_or_default();
        assert_eq!(
            (
                probe.timeout_seconds,
                probe.period_seconds,
                probe.success_threshold,
                probe.failure_threshold
            ),
            (Some(1), Some(10), Some(1), Some(3))
        );
        let http = probe.http_get.unwrap_or_default();
        assert_eq!(
            (http.path.as_deref(), http.scheme.as_deref()),
            (Some("/"), Some("HTTP"))
        );
        let volumes = spec.volumes.unwrap_or_default();
        assert_eq!(volumes[0].empty_dir, Some(EmptyDirVolumeSource::default()));
        assert_eq!(volumes[1].empty_dir, None);
        assert_eq!(
            volumes[1].secret.as_ref().and_then(|s| s.default_mode),
            Some(420)
        );
    }

    #[test]
    fn pod_defaults_requests_links_and_host_ports() {
        let mut limits = BTreeMap::new();
        limits.insert("cpu".to_string(), Quantity("1".into()));
        let mut pod = Pod {
            spec: Some(PodSpec {
                host_network: Some(true),
                service_account: Some("builder".into()),
                containers: vec![Container {
                    resources: Some(ResourceRequirements {
                        limits: Some(limits.clone()),
                        ..Default::default()
                    }),
                    ports: Some(vec![ContainerPort {
                        container_port: 8080,
                        ..Default::default()
                    }]),
                    ..container("app:v1")
                }],
                ..Default::default()
            }),
            ..Default::default()
        };
        default_pod(&mut pod);
        let spec = pod.spec.unwrap_or_default();
        assert_eq!(spec.enable_service_links, Some(true));
        assert_eq!(spec.service_account_name.as_deref(), Some("builder"));
        assert_eq!(spec.service_account.as_deref(), Some("builder"));
        let c = &spec.containers[0];
        assert_eq!(c.image_pull_policy.as_deref(), Some("IfNotPresent"));
        let resources = c.resources.clone().unwrap_or_default();
        assert_eq!(resources.requests, Some(limits));
        let ports = c.ports.clone().unwrap_or_default();
        assert_eq!(ports[0].host_port, Some(8080));
    }
}
