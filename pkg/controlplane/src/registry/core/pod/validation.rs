//! Pod and pod-template validation: the everyday subset of upstream's
//! `pkg/apis/core/validation` (containers, ports, env, volumes and mounts,
//! resources, probes, policies, tolerations, pod updates), with upstream's
//! field paths and messages; plus `ValidateDNS1123Label` and
//! `ValidateImmutableField`, which other core kinds share.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{
    Container, ContainerPort, EnvFromSource, EnvVar, Pod, PodSpec, PodTemplateSpec, Probe,
    ResourceRequirements, Toleration, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::Value;

use apimachinery::api::{
    self, FIELD_IMMUTABLE_ERROR_MSG, validate_annotations, validate_label_name, validate_labels,
    validate_nonnegative_field,
};
use apimachinery::labels::Selector;
use apimachinery::validation::field::{Error, ErrorList, Path};
use apimachinery::validation::go_syntax::{go_string_map, invalid_shown};
use apimachinery::validation::{
    is_config_map_key, is_dns1123_label, is_dns1123_subdomain, is_relaxed_env_var_name,
    is_valid_label_value, is_valid_port_name, is_valid_port_num,
};

use super::defaults::volume_sources;
use super::quantity::ParsedQuantity;

/// `ValidateDNS1123Label`.
pub fn validate_dns1123_label(value: &str, path: &Path) -> ErrorList {
    is_dns1123_label(value)
        .into_iter()
        .map(|msg| Error::invalid(path, value, msg))
        .collect()
}

/// `ValidateImmutableField` for any value printed as JSON.
pub fn validate_immutable<T: PartialEq + serde::Serialize>(
    new: &T,
    old: &T,
    path: &Path,
) -> ErrorList {
    if new == old {
        return Vec::new();
    }
    let shown = serde_json::to_value(new).unwrap_or(Value::Null);
    vec![Error::invalid(path, shown, FIELD_IMMUTABLE_ERROR_MSG)]
}

// ---------------------------------------------------------------------------
// Small accessors for k8s-openapi's optional fields.

fn text(value: &Option<String>) -> &str {
    value.as_deref().unwrap_or("")
}

fn list<T>(value: &Option<Vec<T>>) -> &[T] {
    value.as_deref().unwrap_or(&[])
}

// ---------------------------------------------------------------------------
// Pod spec.

const SUPPORTED_PORT_PROTOCOLS: [&str; 3] = ["SCTP", "TCP", "UDP"];
const INCLUSIVE_INT32_RANGE_FROM_1: &str = "must be between 1 and 2147483647, inclusive";

/// `ValidatePodSpec` (with the `PodValidationOptions` of a new object).
pub fn validate_pod_spec(spec: &PodSpec, path: &Path) -> ErrorList {
    let mut errors = Vec::new();
    if spec.termination_grace_period_seconds.is_none() {
        errors.push(Error::required(
            &path.child("terminationGracePeriodSeconds"),
            "",
        ));
    }
    let volumes = validate_volumes(list(&spec.volumes), &path.child("volumes"), &mut errors);
    errors.extend(validate_containers(
        &spec.containers,
        &volumes,
        &path.child("containers"),
    ));
    errors.extend(validate_init_containers(
        list(&spec.init_containers),
        &spec.containers,
        &volumes,
        &path.child("initContainers"),
    ));
    errors.extend(validate_host_network_ports(spec, path));
    errors.extend(validate_restart_policy(
        text(&spec.restart_policy),
        &path.child("restartPolicy"),
    ));
    errors.extend(validate_dns_policy(
        text(&spec.dns_policy),
        &path.child("dnsPolicy"),
    ));
    if let Some(selector) = &spec.node_selector {
        errors.extend(validate_labels(selector, &path.child("nodeSelector")));
    }
    let service_account = text(&spec.service_account_name);
    if !service_account.is_empty() {
        for msg in is_dns1123_subdomain(service_account) {
            errors.push(Error::invalid(
                &path.child("serviceAccountName"),
                service_account,
                msg,
            ));
        }
    }
    let node_name = text(&spec.node_name);
    if !node_name.is_empty() {
        for msg in is_dns1123_subdomain(node_name) {
            errors.push(Error::invalid(&path.child("nodeName"), node_name, msg));
        }
    }
    if let Some(deadline) = spec.active_deadline_seconds
        && !(1..=i64::from(i32::MAX)).contains(&deadline)
    {
        errors.push(Error::invalid(
            &path.child("activeDeadlineSeconds"),
            deadline,
            INCLUSIVE_INT32_RANGE_FROM_1,
        ));
    }
    let hostname = text(&spec.hostname);
    if !hostname.is_empty() {
        errors.extend(validate_dns1123_label(hostname, &path.child("hostname")));
    }
    let subdomain = text(&spec.subdomain);
    if !subdomain.is_empty() {
        errors.extend(validate_dns1123_label(subdomain, &path.child("subdomain")));
    }
    errors.extend(validate_tolerations(
        list(&spec.tolerations),
        &path.child("tolerations"),
    ));
    for (i, secret) in list(&spec.image_pull_secrets).iter().enumerate() {
        if secret.name.is_empty() {
            errors.push(Error::required(
                &path.child("imagePullSecrets").index(i).child("name"),
                "",
            ));
        }
    }
    if let Some(policy) = spec.preemption_policy.as_deref() {
        let valid = ["Never", "PreemptLowerPriority"];
        if !valid.contains(&policy) {
            errors.push(Error::not_supported(
                &path.child("preemptionPolicy"),
                policy,
                &valid,
            ));
        }
    }
    errors
}

/// `validateRestartPolicy`.
pub fn validate_restart_policy(policy: &str, path: &Path) -> ErrorList {
    match policy {
        "Always" | "OnFailure" | "Never" => Vec::new(),
        "" => vec![Error::required(path, "")],
        other => vec![Error::not_supported(
            path,
            other,
            &["Always", "OnFailure", "Never"],
        )],
    }
}

fn validate_dns_policy(policy: &str, path: &Path) -> ErrorList {
    let valid = ["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"];
    match policy {
        "" => vec![Error::required(path, "")],
        p if valid.contains(&p) => Vec::new(),
        other => vec![Error::not_supported(path, other, &valid)],
    }
}

/// `ValidateVolumes`: returns the names of the valid volumes.
fn validate_volumes(volumes: &[Volume], path: &Path, errors: &mut ErrorList) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for (i, volume) in volumes.iter().enumerate() {
        let volume_path = path.index(i);
        let name_path = volume_path.child("name");
        let mut volume_errors = validate_volume_source(volume, &volume_path);
        if volume.name.is_empty() {
            volume_errors.push(Error::required(&name_path, ""));
        } else {
            volume_errors.extend(validate_dns1123_label(&volume.name, &name_path));
        }
        if names.contains(&volume.name) {
            volume_errors.push(Error::duplicate(&name_path, volume.name.as_str()));
        }
        if volume_errors.is_empty() {
            names.insert(volume.name.clone());
        } else {
            errors.extend(volume_errors);
        }
    }
    names
}

fn validate_volume_source(volume: &Volume, path: &Path) -> ErrorList {
    let sources = volume_sources(volume);
    let mut errors = Vec::new();
    match sources.as_slice() {
        [] => errors.push(Error::required(path, "must specify a volume type")),
        [_] => {}
        [_, rest @ ..] => {
            for source in rest {
                errors.push(Error::forbidden(
                    &path.child(source),
                    "may not specify more than 1 volume type",
                ));
            }
        }
    }
    if let Some(secret) = &volume.secret
        && text(&secret.secret_name).is_empty()
    {
        errors.push(Error::required(
            &path.child("secret").child("secretName"),
            "",
        ));
    }
    if let Some(config_map) = &volume.config_map
        && config_map.name.is_empty()
    {
        errors.push(Error::required(&path.child("configMap").child("name"), ""));
    }
    if let Some(host_path) = &volume.host_path
        && host_path.path.is_empty()
    {
        errors.push(Error::required(&path.child("hostPath").child("path"), ""));
    }
    if let Some(claim) = &volume.persistent_volume_claim
        && claim.claim_name.is_empty()
    {
        errors.push(Error::required(
            &path.child("persistentVolumeClaim").child("claimName"),
            "",
        ));
    }
    errors
}

/// `validateContainers`: the regular containers.
fn validate_containers(
    containers: &[Container],
    volumes: &BTreeSet<String>,
    path: &Path,
) -> ErrorList {
    if containers.is_empty() {
        return vec![Error::required(path, "")];
    }
    let mut errors = Vec::new();
    let mut names = BTreeSet::new();
    for (i, container) in containers.iter().enumerate() {
        let container_path = path.index(i);
        errors.extend(validate_container_common(
            container,
            volumes,
            &container_path,
        ));
        if !names.insert(container.name.as_str()) {
            errors.push(Error::duplicate(
                &container_path.child("name"),
                container.name.as_str(),
            ));
        }
        errors.extend(validate_probes(container, &container_path));
        if container.restart_policy.is_some() {
            errors.push(Error::forbidden(
                &container_path.child("restartPolicy"),
                "may not be set for non-init containers",
            ));
        }
    }
    errors.extend(check_host_port_conflicts(containers, path));
    errors
}

/// `validateInitContainers`: names unique across init and regular
/// containers; only sidecars (`restartPolicy: Always`) may have probes and
/// lifecycle hooks.
fn validate_init_containers(
    containers: &[Container],
    regular: &[Container],
    volumes: &BTreeSet<String>,
    path: &Path,
) -> ErrorList {
    let mut errors = Vec::new();
    let mut names: BTreeSet<&str> = regular.iter().map(|c| c.name.as_str()).collect();
    for (i, container) in containers.iter().enumerate() {
        let container_path = path.index(i);
        errors.extend(validate_container_common(
            container,
            volumes,
            &container_path,
        ));
        let mut sidecar = false;
        if let Some(policy) = container.restart_policy.as_deref() {
            if policy == "Always" {
                sidecar = true;
            } else {
                errors.push(Error::not_supported(
                    &container_path.child("restartPolicy"),
                    policy,
                    &["Always"],
                ));
            }
        }
        if names.contains(container.name.as_str()) {
            errors.push(Error::duplicate(
                &container_path.child("name"),
                container.name.as_str(),
            ));
        } else if !container.name.is_empty() {
            names.insert(container.name.as_str());
        }
        errors.extend(check_host_port_conflicts(
            std::slice::from_ref(container),
            path,
        ));
        if sidecar {
            errors.extend(validate_probes(container, &container_path));
        } else {
            let forbidden = "may not be set for init containers without restartPolicy=Always";
            for (set, field) in [
                (container.lifecycle.is_some(), "lifecycle"),
                (container.liveness_probe.is_some(), "livenessProbe"),
                (container.readiness_probe.is_some(), "readinessProbe"),
                (container.startup_probe.is_some(), "startupProbe"),
            ] {
                if set {
                    errors.push(Error::forbidden(&container_path.child(field), forbidden));
                }
            }
        }
    }
    errors
}

/// `validateContainerCommon`: what every kind of container must satisfy.
fn validate_container_common(
    container: &Container,
    volumes: &BTreeSet<String>,
    path: &Path,
) -> ErrorList {
    let mut errors = Vec::new();
    let name_path = path.child("name");
    if container.name.is_empty() {
        errors.push(Error::required(&name_path, ""));
    } else {
        errors.extend(validate_dns1123_label(&container.name, &name_path));
    }
    if text(&container.image).is_empty() {
        errors.push(Error::required(&path.child("image"), ""));
    }
    match text(&container.termination_message_policy) {
        "File" | "FallbackToLogsOnError" => {}
        "" => errors.push(Error::required(&path.child("terminationMessagePolicy"), "")),
        other => errors.push(Error::not_supported(
            &path.child("terminationMessagePolicy"),
            other,
            &["File", "FallbackToLogsOnError"],
        )),
    }
    errors.extend(validate_container_ports(
        list(&container.ports),
        &path.child("ports"),
    ));
    errors.extend(validate_env(list(&container.env), &path.child("env")));
    errors.extend(validate_env_from(
        list(&container.env_from),
        &path.child("envFrom"),
    ));
    errors.extend(validate_volume_mounts(
        list(&container.volume_mounts),
        volumes,
        &path.child("volumeMounts"),
    ));
    match text(&container.image_pull_policy) {
        "Always" | "IfNotPresent" | "Never" => {}
        "" => errors.push(Error::required(&path.child("imagePullPolicy"), "")),
        other => errors.push(Error::not_supported(
            &path.child("imagePullPolicy"),
            other,
            &["Always", "IfNotPresent", "Never"],
        )),
    }
    if let Some(resources) = &container.resources {
        errors.extend(validate_resource_requirements(
            resources,
            &path.child("resources"),
        ));
    }
    errors
}

/// `validateContainerPorts`.
fn validate_container_ports(ports: &[ContainerPort], path: &Path) -> ErrorList {
    let mut errors = Vec::new();
    let mut names = BTreeSet::new();
    for (i, port) in ports.iter().enumerate() {
        let port_path = path.index(i);
        let name = text(&port.name);
        if !name.is_empty() {
            let msgs = is_valid_port_name(name);
            if !msgs.is_empty() {
                for msg in msgs {
                    errors.push(Error::invalid(&port_path.child("name"), name, msg));
                }
            } else if !names.insert(name) {
                errors.push(Error::duplicate(&port_path.child("name"), name));
            }
        }
        if port.container_port == 0 {
            errors.push(Error::required(&port_path.child("containerPort"), ""));
        } else {
            for msg in is_valid_port_num(port.container_port) {
                errors.push(Error::invalid(
                    &port_path.child("containerPort"),
                    port.container_port,
                    msg,
                ));
            }
        }
        let host_port = port.host_port.unwrap_or(0);
        if host_port != 0 {
            for msg in is_valid_port_num(host_port) {
                errors.push(Error::invalid(&port_path.child("hostPort"), host_port, msg));
            }
        }
        match text(&port.protocol) {
            "" => errors.push(Error::required(&port_path.child("protocol"), "")),
            p if SUPPORTED_PORT_PROTOCOLS.contains(&p) => {}
            other => errors.push(Error::not_supported(
                &port_path.child("protocol"),
                other,
                &SUPPORTED_PORT_PROTOCOLS,
            )),
        }
    }
    errors
}

/// `checkHostPortConflicts`: one host port per protocol and host IP.
fn check_host_port_conflicts(containers: &[Container], path: &Path) -> ErrorList {
    let mut errors = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, container) in containers.iter().enumerate() {
        for (j, port) in list(&container.ports).iter().enumerate() {
            let host_port = port.host_port.unwrap_or(0);
            if host_port == 0 {
                continue;
            }
            let key = format!(
                "{}/{}/{}",
                text(&port.protocol),
                text(&port.host_ip),
                host_port
            );
            if !seen.insert(key.clone()) {
                errors.push(Error::duplicate(
                    &path.index(i).child("ports").index(j).child("hostPort"),
                    key,
                ));
            }
        }
    }
    errors
}

/// `validatePodHostNetworkDeps`: with host networking a host port must equal
/// its container port.
fn validate_host_network_ports(spec: &PodSpec, path: &Path) -> ErrorList {
    let mut errors = Vec::new();
    if spec.host_network != Some(true) {
        return errors;
    }
    let groups = [
        ("containers", spec.containers.as_slice()),
        ("initContainers", list(&spec.init_containers)),
    ];
    for (field, containers) in groups {
        for (i, container) in containers.iter().enumerate() {
            for (j, port) in list(&container.ports).iter().enumerate() {
                if let Some(host_port) = port.host_port
                    && host_port != port.container_port
                {
                    errors.push(Error::invalid(
                        &path
                            .child(field)
                            .index(i)
                            .child("ports")
                            .index(j)
                            .child("containerPort"),
                        port.container_port,
                        "must match `hostPort` when `hostNetwork` is true",
                    ));
                }
            }
        }
    }
    errors
}

/// `ValidateEnv` and the common part of `validateEnvVarValueFrom`.
fn validate_env(vars: &[EnvVar], path: &Path) -> ErrorList {
    let mut errors = Vec::new();
    for (i, var) in vars.iter().enumerate() {
        let var_path = path.index(i);
        if var.name.is_empty() {
            errors.push(Error::required(&var_path.child("name"), ""));
        }
        for msg in is_relaxed_env_var_name(&var.name) {
            errors.push(Error::invalid(
                &var_path.child("name"),
                var.name.as_str(),
                msg,
            ));
        }
        let Some(from) = &var.value_from else {
            continue;
        };
        let from_path = var_path.child("valueFrom");
        let sources = [
            from.field_ref.is_some(),
            from.resource_field_ref.is_some(),
            from.config_map_key_ref.is_some(),
            from.secret_key_ref.is_some(),
        ]
        .into_iter()
        .filter(|set| *set)
        .count();
        if sources == 0 {
            errors.push(Error::invalid(
                &from_path,
                "",
                "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
            ));
        } else if !text(&var.value).is_empty() {
            errors.push(Error::invalid(
                &from_path,
                "",
                "may not be specified when `value` is not empty",
            ));
        } else if sources > 1 {
            errors.push(Error::invalid(
                &from_path,
                "",
                "may not have more than one field specified at a time",
            ));
        }
        let key_refs = [
            (
                "configMapKeyRef",
                from.config_map_key_ref.as_ref().map(|r| (&r.name, &r.key)),
            ),
            (
                "secretKeyRef",
                from.secret_key_ref.as_ref().map(|r| (&r.name, &r.key)),
            ),
        ];
        for (field, key_ref) in key_refs {
            let Some((name, key)) = key_ref else {
                continue;
            };
            let ref_path = from_path.child(field);
            if name.is_empty() {
                errors.push(Error::required(&ref_path.child("name"), ""));
            }
            if key.is_empty() {
                errors.push(Error::required(&ref_path.child("key"), ""));
            } else {
                for msg in is_config_map_key(key) {
                    errors.push(Error::invalid(&ref_path.child("key"), key.as_str(), msg));
                }
            }
        }
        if let Some(field_ref) = &from.field_ref
            && field_ref.field_path.is_empty()
        {
            errors.push(Error::required(
                &from_path.child("fieldRef").child("fieldPath"),
                "",
            ));
        }
    }
    errors
}

/// `ValidateEnvFrom`.
fn validate_env_from(sources: &[EnvFromSource], path: &Path) -> ErrorList {
    let mut errors = Vec::new();
    for (i, source) in sources.iter().enumerate() {
        let source_path = path.index(i);
        let prefix = text(&source.prefix);
        if !prefix.is_empty() {
            for msg in is_relaxed_env_var_name(prefix) {
                errors.push(Error::invalid(&source_path.child("prefix"), prefix, msg));
            }
        }
        let refs = [
            (
                "configMapRef",
                source.config_map_ref.as_ref().map(|r| &r.name),
            ),
            ("secretRef", source.secret_ref.as_ref().map(|r| &r.name)),
        ];
        let set = refs.iter().filter(|(_, name)| name.is_some()).count();
        for (field, name) in refs {
            if let Some(name) = name
                && name.is_empty()
            {
                errors.push(Error::required(&source_path.child(field).child("name"), ""));
            }
        }
        if set == 0 {
            errors.push(Error::invalid(
                &source_path,
                "",
                "must specify one of: `configMapRef` or `secretRef`",
            ));
        } else if set > 1 {
            errors.push(Error::invalid(
                &source_path,
                "",
                "may not have more than one field specified at a time",
            ));
        }
    }
    errors
}

/// `ValidateVolumeMounts`.
fn validate_volume_mounts(
    mounts: &[VolumeMount],
    volumes: &BTreeSet<String>,
    path: &Path,
) -> ErrorList {
    let mut errors = Vec::new();
    let mut mount_points = BTreeSet::new();
    for (i, mount) in mounts.iter().enumerate() {
        let mount_path = path.index(i);
        if mount.name.is_empty() {
            errors.push(Error::required(&mount_path.child("name"), ""));
        }
        if !volumes.contains(&mount.name) {
            errors.push(Error::not_found(
                &mount_path.child("name"),
                mount.name.as_str(),
            ));
        }
        if mount.mount_path.is_empty() {
            errors.push(Error::required(&mount_path.child("mountPath"), ""));
        }
        if !mount_points.insert(mount.mount_path.as_str()) {
            errors.push(Error::invalid(
                &mount_path.child("mountPath"),
                mount.mount_path.as_str(),
                "must be unique",
            ));
        }
        let sub_path = text(&mount.sub_path);
        let sub_path_expr = text(&mount.sub_path_expr);
        if !sub_path.is_empty() && !sub_path_expr.is_empty() {
            errors.push(Error::invalid(
                &mount_path.child("subPathExpr"),
                sub_path_expr,
                "subPathExpr and subPath are mutually exclusive",
            ));
        }
        for (value, field) in [(sub_path, "subPath"), (sub_path_expr, "subPathExpr")] {
            if !value.is_empty() {
                errors.extend(validate_local_descending_path(value, &path.child(field)));
            }
        }
    }
    errors
}

/// `validateLocalDescendingPath`: relative, without `..` elements.
fn validate_local_descending_path(target: &str, path: &Path) -> ErrorList {
    let mut errors = Vec::new();
    if target.starts_with('/') {
        errors.push(Error::invalid(path, target, "must be a relative path"));
    }
    if target.split(['/', '\\']).any(|part| part == "..") {
        errors.push(Error::invalid(path, target, "must not contain '..'"));
    }
    errors
}

/// Whether a resource name needs no domain (`IsStandardContainerResourceName`).
fn is_standard_container_resource(name: &str) -> bool {
    matches!(name, "cpu" | "memory" | "ephemeral-storage") || name.starts_with("hugepages-")
}

/// Whether requests may be below limits (`IsOvercommitAllowed`): only the
/// native resources but huge pages.
pub(crate) fn is_overcommit_allowed(name: &str) -> bool {
    let native = !name.contains('/') || name.contains("kubernetes.io/");
    native && !name.starts_with("hugepages-")
}

pub(crate) fn validate_container_resource_name(name: &str, path: &Path) -> ErrorList {
    let mut errors: ErrorList = apimachinery::validation::is_qualified_name(name)
        .into_iter()
        .map(|msg| Error::invalid(path, name, msg))
        .collect();
    if !name.contains('/') && !is_standard_container_resource(name) {
        errors.push(Error::invalid(
            path,
            name,
            "must be a standard resource for containers",
        ));
    }
    errors
}

fn validate_quantity(name: &str, value: &str, path: &Path) -> (ErrorList, Option<ParsedQuantity>) {
    match ParsedQuantity::parse(value) {
        Err(msg) => (vec![Error::invalid(path, value, msg)], None),
        Ok(quantity) => {
            let mut errors = Vec::new();
            if quantity.is_negative() {
                errors.push(Error::invalid(path, value, api::IS_NEGATIVE_ERROR_MSG));
            }
            let integer_only = name.contains('/') && !name.contains("kubernetes.io/");
            if integer_only && !quantity.is_integer() {
                errors.push(Error::invalid(path, value, "must be an integer"));
            }
            (errors, Some(quantity))
        }
    }
}

/// `ValidateResourceRequirements`: names, non-negative values and
/// `requests <= limits`.
fn validate_resource_requirements(resources: &ResourceRequirements, path: &Path) -> ErrorList {
    let mut errors = Vec::new();
    let limits_path = path.child("limits");
    let requests_path = path.child("requests");
    let mut limits = BTreeMap::new();
    for (name, value) in resources.limits.iter().flatten() {
        let value_path = limits_path.key(name);
        errors.extend(validate_container_resource_name(name, &value_path));
        let (quantity_errors, parsed) = validate_quantity(name, &value.0, &value_path);
        errors.extend(quantity_errors);
        if let Some(parsed) = parsed {
            limits.insert(name.as_str(), (parsed, value.0.as_str()));
        }
    }
    for (name, value) in resources.requests.iter().flatten() {
        let value_path = requests_path.key(name);
        errors.extend(validate_container_resource_name(name, &value_path));
        let (quantity_errors, parsed) = validate_quantity(name, &value.0, &value_path);
        errors.extend(quantity_errors);
        let Some(request) = parsed else {
            continue;
        };
        match limits.get(name.as_str()) {
            Some((limit, limit_text)) => {
                let order = request.cmp_value(*limit);
                if order.is_ne() && !is_overcommit_allowed(name) {
                    errors.push(Error::invalid(
                        &requests_path,
                        value.0.as_str(),
                        format!("must be equal to {name} limit of {limit_text}"),
                    ));
                } else if order.is_gt() {
                    errors.push(Error::invalid(
                        &requests_path,
                        value.0.as_str(),
                        format!("must be less than or equal to {name} limit of {limit_text}"),
                    ));
                }
            }
            None if !is_overcommit_allowed(name) => errors.push(Error::required(
                &limits_path,
                "Limit must be set for non overcommitable resources",
            )),
            None => {}
        }
    }
    errors
}

fn validate_probes(container: &Container, path: &Path) -> ErrorList {
    let mut errors = Vec::new();
    let probes = [
        (&container.liveness_probe, "livenessProbe"),
        (&container.readiness_probe, "readinessProbe"),
        (&container.startup_probe, "startupProbe"),
    ];
    for (probe, field) in probes {
        let Some(probe) = probe else {
            continue;
        };
        let probe_path = path.child(field);
        errors.extend(validate_probe(probe, &probe_path));
        if field == "readinessProbe" {
            if let Some(grace) = probe.termination_grace_period_seconds {
                errors.push(Error::invalid(
                    &probe_path.child("terminationGracePeriodSeconds"),
                    grace,
                    "must not be set for readinessProbes",
                ));
            }
        } else if let Some(threshold) = probe.success_threshold
            && threshold != 1
        {
            errors.push(Error::invalid(
                &probe_path.child("successThreshold"),
                threshold,
                "must be 1",
            ));
        }
    }
    errors
}

/// `validateProbe` and `validateHandler`.
fn validate_probe(probe: &Probe, path: &Path) -> ErrorList {
    let mut errors = Vec::new();
    let handlers: Vec<&str> = [
        (probe.exec.is_some(), "exec"),
        (probe.http_get.is_some(), "httpGet"),
        (probe.tcp_socket.is_some(), "tcpSocket"),
        (probe.grpc.is_some(), "grpc"),
    ]
    .into_iter()
    .filter(|(set, _)| *set)
    .map(|(_, name)| name)
    .collect();
    match handlers.as_slice() {
        [] => errors.push(Error::required(path, "must specify a handler type")),
        [_] => {}
        [_, rest @ ..] => {
            for name in rest {
                errors.push(Error::forbidden(
                    &path.child(name),
                    "may not specify more than 1 handler type",
                ));
            }
        }
    }
    if let Some(exec) = &probe.exec
        && list(&exec.command).is_empty()
    {
        errors.push(Error::required(&path.child("exec").child("command"), ""));
    }
    if let Some(http) = &probe.http_get {
        let http_path = path.child("httpGet");
        if text(&http.path).is_empty() {
            errors.push(Error::required(&http_path.child("path"), ""));
        }
        errors.extend(validate_port_num_or_name(
            &http.port,
            &http_path.child("port"),
        ));
        let scheme = text(&http.scheme);
        if scheme != "HTTP" && scheme != "HTTPS" {
            errors.push(Error::not_supported(
                &http_path.child("scheme"),
                scheme,
                &["HTTP", "HTTPS"],
            ));
        }
    }
    if let Some(tcp) = &probe.tcp_socket {
        errors.extend(validate_port_num_or_name(
            &tcp.port,
            &path.child("tcpSocket").child("port"),
        ));
    }
    if let Some(grpc) = &probe.grpc {
        for msg in is_valid_port_num(grpc.port) {
            errors.push(Error::invalid(
                &path.child("grpc").child("port"),
                grpc.port,
                msg,
            ));
        }
    }
    for (value, field) in [
        (probe.initial_delay_seconds, "initialDelaySeconds"),
        (probe.timeout_seconds, "timeoutSeconds"),
        (probe.period_seconds, "periodSeconds"),
        (probe.success_threshold, "successThreshold"),
        (probe.failure_threshold, "failureThreshold"),
    ] {
        errors.extend(validate_nonnegative_field(
            i64::from(value.unwrap_or(0)),
            &path.child(field),
        ));
    }
    if let Some(grace) = probe.termination_grace_period_seconds
        && grace <= 0
    {
        errors.push(Error::invalid(
            &path.child("terminationGracePeriodSeconds"),
            grace,
            "must be greater than 0",
        ));
    }
    errors
}

/// `ValidatePortNumOrName`.
pub fn validate_port_num_or_name(port: &IntOrString, path: &Path) -> ErrorList {
    match port {
        IntOrString::Int(number) => is_valid_port_num(*number)
            .into_iter()
            .map(|msg| Error::invalid(path, *number, msg))
            .collect(),
        IntOrString::String(name) => is_valid_port_name(name)
            .into_iter()
            .map(|msg| Error::invalid(path, name.as_str(), msg))
            .collect(),
    }
}

/// `validateTaintEffect`.
pub fn validate_taint_effect(effect: &str, allow_empty: bool, path: &Path) -> ErrorList {
    if effect.is_empty() && !allow_empty {
        return vec![Error::required(path, "")];
    }
    let valid = ["NoSchedule", "PreferNoSchedule", "NoExecute"];
    if valid.contains(&effect) {
        Vec::new()
    } else {
        vec![Error::not_supported(path, effect, &valid)]
    }
}

/// `ValidateTolerations`.
pub fn validate_tolerations(tolerations: &[Toleration], path: &Path) -> ErrorList {
    let mut errors = Vec::new();
    for (i, toleration) in tolerations.iter().enumerate() {
        let item_path = path.index(i);
        let key = text(&toleration.key);
        let operator = text(&toleration.operator);
        let effect = text(&toleration.effect);
        let value = text(&toleration.value);
        if !key.is_empty() {
            errors.extend(validate_label_name(key, &item_path.child("key")));
        }
        if key.is_empty() && operator != "Exists" {
            errors.push(Error::invalid(
                &item_path.child("operator"),
                operator,
                "operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
            ));
        }
        if toleration.toleration_seconds.is_some() && effect != "NoExecute" {
            errors.push(Error::invalid(
                &item_path.child("effect"),
                effect,
                "effect must be 'NoExecute' when `tolerationSeconds` is set",
            ));
        }
        match operator {
            "Equal" | "" => {
                let msgs = is_valid_label_value(value);
                if !msgs.is_empty() {
                    errors.push(Error::invalid(
                        &item_path.child("operator"),
                        value,
                        msgs.join(";"),
                    ));
                }
            }
            "Exists" => {
                if !value.is_empty() {
                    let shown = serde_json::to_value(toleration).unwrap_or(Value::Null);
                    errors.push(Error::invalid(
                        &item_path.child("operator"),
                        shown,
                        "value must be empty when `operator` is 'Exists'",
                    ));
                }
            }
            other => errors.push(Error::not_supported(
                &item_path.child("operator"),
                other,
                &["Equal", "Exists"],
            )),
        }
        if !effect.is_empty() {
            errors.extend(validate_taint_effect(
                effect,
                true,
                &item_path.child("effect"),
            ));
        }
    }
    errors
}

// ---------------------------------------------------------------------------
// Pod templates and pods.

fn template_meta(template: &PodTemplateSpec) -> ObjectMeta {
    template.metadata.clone().unwrap_or_default()
}

/// `ValidatePodTemplateSpec`: the template's labels (at `<path>.labels`, as
/// upstream), annotations and pod spec.
pub fn validate_pod_template_spec(template: &PodTemplateSpec, path: &Path) -> ErrorList {
    let meta = template_meta(template);
    let mut errors = Vec::new();
    if let Some(labels) = &meta.labels {
        errors.extend(validate_labels(labels, &path.child("labels")));
    }
    if let Some(annotations) = &meta.annotations {
        errors.extend(validate_annotations(
            annotations,
            &path.child("annotations"),
        ));
    }
    let spec = template.spec.clone().unwrap_or_default();
    errors.extend(validate_pod_spec(&spec, &path.child("spec")));
    if !list(&spec.ephemeral_containers).is_empty() {
        errors.push(Error::forbidden(
            &path.child("spec").child("ephemeralContainers"),
            "ephemeral containers not allowed in pod template",
        ));
    }
    errors
}

/// The template labels must match the controller's selector (skipped for
/// an empty selector, as upstream's `selector.Empty()`).
pub fn validate_template_matches_selector(
    template: &PodTemplateSpec,
    selector: &Selector,
    path: &Path,
) -> ErrorList {
    let meta = template_meta(template);
    let labels = meta.labels.clone().unwrap_or_default();
    if selector.is_empty() || selector.matches(&labels) {
        return Vec::new();
    }
    vec![invalid_shown(
        &path.child("metadata").child("labels"),
        &go_string_map(meta.labels.as_ref()),
        "`selector` does not match template `labels`",
    )]
}

/// `ValidatePodTemplateSpecForReplicaSet` / `ForRC`: the template of a
/// controller that keeps pods running. `kind` names the controller in the
/// `activeDeadlineSeconds` message (`ReplicaSet`, `ReplicationController`,
/// `DaemonSet`).
pub fn validate_controller_template(
    template: &PodTemplateSpec,
    selector: &Selector,
    path: &Path,
    kind: &str,
) -> ErrorList {
    let mut errors = validate_template_matches_selector(template, selector, path);
    errors.extend(validate_pod_template_spec(template, path));
    errors.extend(validate_template_keeps_running(template, path, kind));
    errors
}

/// A controller's pods restart always and have no deadline.
pub fn validate_template_keeps_running(
    template: &PodTemplateSpec,
    path: &Path,
    kind: &str,
) -> ErrorList {
    let mut errors = Vec::new();
    let spec_path = path.child("spec");
    let spec = template.spec.clone().unwrap_or_default();
    let restart_policy = text(&spec.restart_policy);
    if restart_policy != "Always" {
        errors.push(Error::not_supported(
            &spec_path.child("restartPolicy"),
            restart_policy,
            &["Always"],
        ));
    }
    if spec.active_deadline_seconds.is_some() {
        errors.push(Error::forbidden(
            &spec_path.child("activeDeadlineSeconds"),
            format!("activeDeadlineSeconds in {kind} is not Supported"),
        ));
    }
    errors
}

/// `ValidatePodCreate`.
pub fn validate_pod(pod: &Pod) -> ErrorList {
    let spec_path = Path::new("spec");
    let mut errors = api::validate_object_meta(
        &pod.metadata,
        true,
        api::name_is_dns_subdomain,
        &Path::new("metadata"),
    );
    let spec = pod.spec.clone().unwrap_or_default();
    errors.extend(validate_pod_spec(&spec, &spec_path));
    if !list(&spec.ephemeral_containers).is_empty() {
        errors.push(Error::forbidden(
            &spec_path.child("ephemeralContainers"),
            "cannot be set on create",
        ));
    }
    if !text(&spec.node_name).is_empty() && !list(&spec.scheduling_gates).is_empty() {
        errors.push(Error::forbidden(
            &spec_path.child("nodeName"),
            "cannot be set until all schedulingGates have been cleared",
        ));
    }
    errors
}

/// What a pod update may change, upstream's words.
pub const POD_UPDATE_FORBIDDEN: &str = "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

/// `ValidatePodUpdate`: metadata rules, the new spec valid, and only images,
/// a shorter deadline, added tolerations and removed scheduling gates
/// changed.
pub fn validate_pod_update(new: &Pod, old: &Pod) -> ErrorList {
    let spec_path = Path::new("spec");
    let mut errors =
        api::validate_object_meta_update(&new.metadata, &old.metadata, &Path::new("metadata"));
    let new_spec = new.spec.clone().unwrap_or_default();
    let old_spec = old.spec.clone().unwrap_or_default();
    errors.extend(validate_pod_spec(&new_spec, &spec_path));

    for (field, new_containers, old_containers) in [
        (
            "containers",
            new_spec.containers.as_slice(),
            old_spec.containers.as_slice(),
        ),
        (
            "initContainers",
            list(&new_spec.init_containers),
            list(&old_spec.init_containers),
        ),
    ] {
        let path = spec_path.child(field);
        if new_containers.len() != old_containers.len() {
            errors.push(Error::forbidden(
                &path,
                "pod updates may not add or remove containers",
            ));
            return errors;
        }
        for (i, container) in new_containers.iter().enumerate() {
            let image = text(&container.image);
            if image.trim().len() != image.len() {
                errors.push(Error::invalid(
                    &path.index(i).child("image"),
                    image,
                    "must not have leading or trailing whitespace",
                ));
            }
        }
    }

    match (
        new_spec.active_deadline_seconds,
        old_spec.active_deadline_seconds,
    ) {
        (Some(new_deadline), old_deadline) => {
            let path = spec_path.child("activeDeadlineSeconds");
            if !(0..=i64::from(i32::MAX)).contains(&new_deadline) {
                errors.push(Error::invalid(
                    &path,
                    new_deadline,
                    "must be between 0 and 2147483647, inclusive",
                ));
                return errors;
            }
            if old_deadline.is_some_and(|old| old < new_deadline) {
                errors.push(Error::invalid(
                    &path,
                    new_deadline,
                    "must be less than or equal to previous value",
                ));
                return errors;
            }
        }
        (None, Some(_)) => errors.push(Error::invalid(
            &spec_path.child("activeDeadlineSeconds"),
            Value::Null,
            "must not update from a positive integer to nil value",
        )),
        (None, None) => {}
    }

    errors.extend(validate_only_added_tolerations(
        list(&new_spec.tolerations),
        list(&old_spec.tolerations),
        &spec_path.child("tolerations"),
    ));

    // Everything else must stay: compare with the updatable fields taken
    // from the old spec.
    let mut munged = new_spec.clone();
    for (container, old_container) in munged.containers.iter_mut().zip(&old_spec.containers) {
        container.image = old_container.image.clone();
    }
    if let (Some(containers), Some(old_containers)) = (
        munged.init_containers.as_mut(),
        old_spec.init_containers.as_ref(),
    ) {
        for (container, old_container) in containers.iter_mut().zip(old_containers) {
            container.image = old_container.image.clone();
        }
    }
    munged.active_deadline_seconds = old_spec.active_deadline_seconds;
    munged.tolerations = old_spec.tolerations.clone();
    munged.scheduling_gates = old_spec.scheduling_gates.clone();
    if old_spec
        .termination_grace_period_seconds
        .is_some_and(|g| g < 0)
        && munged.termination_grace_period_seconds == Some(1)
    {
        munged.termination_grace_period_seconds = old_spec.termination_grace_period_seconds;
    }
    if !list(&old_spec.scheduling_gates).is_empty() {
        // A gated pod may gain node selector entries.
        munged.node_selector = old_spec.node_selector.clone();
    }
    if munged != old_spec {
        let diff = spec_diff(&old_spec, &munged);
        errors.push(Error::forbidden(
            &spec_path,
            format!("{POD_UPDATE_FORBIDDEN}\n{diff}"),
        ));
    }
    errors
}

/// `validateOnlyAddedTolerations`.
fn validate_only_added_tolerations(
    new: &[Toleration],
    old: &[Toleration],
    path: &Path,
) -> ErrorList {
    for old_toleration in old {
        let kept = new.iter().any(|candidate| {
            let mut same = old_toleration.clone();
            same.toleration_seconds = candidate.toleration_seconds;
            &same == candidate
        });
        if !kept {
            return vec![Error::forbidden(
                path,
                "existing toleration can not be modified except its tolerationSeconds",
            )];
        }
    }
    validate_tolerations(new, path)
}

/// A readable difference of two pod specs, field by field (upstream prints
/// a `cmp.Diff`): `- field: old` / `+ field: new` lines.
fn spec_diff(old: &PodSpec, new: &PodSpec) -> String {
    let as_map = |spec: &PodSpec| match serde_json::to_value(spec) {
        Ok(Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    };
    let (old, new) = (as_map(old), as_map(new));
    let keys: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    let mut lines = vec!["  core.PodSpec{".to_string()];
    for key in keys {
        let (before, after) = (old.get(key), new.get(key));
        if before != after {
            if let Some(before) = before {
                lines.push(format!("- \t{key}: {before},"));
            }
            if let Some(after) = after {
                lines.push(format!("+ \t{key}: {after},"));
            }
        }
    }
    lines.push("  }".to_string());
    lines.join("\n") + "\n"
}

#[cfg(test)]
mod tests;
