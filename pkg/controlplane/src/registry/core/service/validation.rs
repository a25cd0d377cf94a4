//! Service validation (`ValidateService`, `ValidateServiceUpdate` and the
//! helpers they use in `pkg/apis/core/validation`), with upstream's field
//! paths and messages. Values upstream prints with Go's `%#v` (slices,
//! structs) are rendered the same way so the messages read alike.

use std::collections::HashSet;
use std::net::IpAddr;

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::Value;

use apimachinery::api::{
    name_is_dns1035_label, validate_labels, validate_object_meta, validate_object_meta_update,
};
use apimachinery::validation::field::{Error, ErrorList, ErrorType, Path};
use apimachinery::validation::go_string::quote;
use apimachinery::validation::go_syntax::{
    error_shown, go_slice_of, go_string_slice, invalid_shown,
};
use apimachinery::validation::{
    is_dns1123_label, is_dns1123_subdomain, is_qualified_name, is_valid_ip, is_valid_port_num,
};

pub(crate) const TYPE_CLUSTER_IP: &str = "ClusterIP";
pub(crate) const TYPE_NODE_PORT: &str = "NodePort";
pub(crate) const TYPE_LOAD_BALANCER: &str = "LoadBalancer";
pub(crate) const TYPE_EXTERNAL_NAME: &str = "ExternalName";
pub(crate) const CLUSTER_IP_NONE: &str = "None";
pub(crate) const POLICY_SINGLE_STACK: &str = "SingleStack";
pub(crate) const POLICY_PREFER_DUAL_STACK: &str = "PreferDualStack";
pub(crate) const POLICY_REQUIRE_DUAL_STACK: &str = "RequireDualStack";
pub(crate) const TRAFFIC_POLICY_CLUSTER: &str = "Cluster";
pub(crate) const TRAFFIC_POLICY_LOCAL: &str = "Local";
pub(crate) const AFFINITY_NONE: &str = "None";
pub(crate) const AFFINITY_CLIENT_IP: &str = "ClientIP";

/// `sets.List` order (sorted), as upstream lists supported values.
const SERVICE_TYPES: &[&str] = &[
    TYPE_CLUSTER_IP,
    TYPE_EXTERNAL_NAME,
    TYPE_LOAD_BALANCER,
    TYPE_NODE_PORT,
];
const SESSION_AFFINITIES: &[&str] = &[AFFINITY_CLIENT_IP, AFFINITY_NONE];
pub(crate) const PORT_PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];
const TRAFFIC_POLICIES: &[&str] = &[TRAFFIC_POLICY_CLUSTER, TRAFFIC_POLICY_LOCAL];
const IP_FAMILIES: &[&str] = &["IPv4", "IPv6"];
const IP_FAMILY_POLICIES: &[&str] = &[
    POLICY_PREFER_DUAL_STACK,
    POLICY_REQUIRE_DUAL_STACK,
    POLICY_SINGLE_STACK,
];
const TRAFFIC_DISTRIBUTIONS: &[&str] = &["PreferClose"];
/// `core.MaxClientIPServiceAffinitySeconds`.
const MAX_CLIENT_IP_AFFINITY_SECONDS: i32 = 86400;
const LOAD_BALANCER_SOURCE_RANGES_ANNOTATION: &str =
    "service.beta.kubernetes.io/load-balancer-source-ranges";

/// `spec.type`, empty when unset.
pub(crate) fn service_type(spec: &ServiceSpec) -> &str {
    spec.type_.as_deref().unwrap_or("")
}

pub(crate) fn cluster_ips(spec: &ServiceSpec) -> &[String] {
    spec.cluster_ips.as_deref().unwrap_or(&[])
}

pub(crate) fn ports(spec: &ServiceSpec) -> &[ServicePort] {
    spec.ports.as_deref().unwrap_or(&[])
}

/// `isHeadlessService`: `clusterIPs` is exactly `["None"]`.
pub(crate) fn is_headless(spec: &ServiceSpec) -> bool {
    matches!(cluster_ips(spec), [only] if only == CLUSTER_IP_NONE)
}

/// `apiservice.ExternallyAccessible`.
pub(crate) fn externally_accessible(spec: &ServiceSpec) -> bool {
    match service_type(spec) {
        TYPE_LOAD_BALANCER | TYPE_NODE_PORT => true,
        TYPE_CLUSTER_IP => !spec.external_ips.as_deref().unwrap_or(&[]).is_empty(),
        _ => false,
    }
}

/// `apiservice.NeedsHealthCheck`: a LoadBalancer with the Local policy.
pub(crate) fn needs_health_check(spec: &ServiceSpec) -> bool {
    service_type(spec) == TYPE_LOAD_BALANCER
        && spec.external_traffic_policy.as_deref() == Some(TRAFFIC_POLICY_LOCAL)
}

/// `*string` as upstream prints it: the value, or `null`.
fn optional_string(value: Option<&String>) -> Value {
    value.map_or(Value::Null, |v| Value::from(v.as_str()))
}

fn spec_path() -> Path {
    Path::new("spec")
}

/// `ValidateService`.
pub fn validate_service(service: &Service) -> ErrorList {
    let metadata_path = Path::new("metadata");
    let mut errors = validate_object_meta(
        &service.metadata,
        true,
        name_is_dns1035_label,
        &metadata_path,
    );
    let default_spec = ServiceSpec::default();
    let spec = service.spec.as_ref().unwrap_or(&default_spec);
    let spec_path = spec_path();
    let service_type = service_type(spec);
    let headless = is_headless(spec);
    let ports = ports(spec);
    let ports_path = spec_path.child("ports");

    if ports.is_empty() && !headless && service_type != TYPE_EXTERNAL_NAME {
        errors.push(Error::required(&ports_path, ""));
    }
    match service_type {
        TYPE_LOAD_BALANCER | TYPE_NODE_PORT if headless => {
            errors.push(Error::invalid(
                &spec_path.child("clusterIPs").index(0),
                CLUSTER_IP_NONE,
                format!("may not be set to 'None' for {service_type} services"),
            ));
        }
        TYPE_EXTERNAL_NAME => validate_external_name(spec, &spec_path, &mut errors),
        _ => {}
    }

    let mut port_names = HashSet::new();
    for (i, port) in ports.iter().enumerate() {
        validate_service_port(
            port,
            ports.len() > 1,
            &mut port_names,
            &ports_path.index(i),
            &mut errors,
        );
    }

    if let Some(selector) = &spec.selector {
        errors.extend(validate_labels(selector, &spec_path.child("selector")));
    }

    validate_session_affinity(spec, &spec_path, &mut errors);
    errors.extend(validate_cluster_ips_related_fields(spec));

    let external_ips_path = spec_path.child("externalIPs");
    for (i, ip) in spec
        .external_ips
        .as_deref()
        .unwrap_or(&[])
        .iter()
        .enumerate()
    {
        let path = external_ips_path.index(i);
        let messages = is_valid_ip(ip);
        if messages.is_empty() {
            errors.extend(validate_non_special_ip(ip, &path));
        } else {
            errors.extend(
                messages
                    .into_iter()
                    .map(|m| Error::invalid(&path, ip.as_str(), m)),
            );
        }
    }

    if service_type.is_empty() {
        errors.push(Error::required(&spec_path.child("type"), ""));
    } else if !SERVICE_TYPES.contains(&service_type) {
        errors.push(Error::not_supported(
            &spec_path.child("type"),
            service_type,
            SERVICE_TYPES,
        ));
    }

    if service_type == TYPE_CLUSTER_IP {
        for (i, port) in ports.iter().enumerate() {
            if port.node_port.unwrap_or(0) != 0 {
                errors.push(Error::forbidden(
                    &ports_path.index(i).child("nodePort"),
                    "may not be used when `type` is 'ClusterIP'",
                ));
            }
        }
    }

    // Duplicate node ports and ports, per protocol.
    let mut node_ports = HashSet::new();
    for (i, port) in ports.iter().enumerate() {
        let node_port = port.node_port.unwrap_or(0);
        if node_port != 0 && !node_ports.insert((port.protocol.clone(), node_port)) {
            errors.push(Error::duplicate(
                &ports_path.index(i).child("nodePort"),
                node_port,
            ));
        }
    }
    let mut service_ports = HashSet::new();
    for (i, port) in ports.iter().enumerate() {
        if !service_ports.insert((port.protocol.clone(), port.port)) {
            let protocol = port.protocol.as_deref().unwrap_or("");
            errors.push(error_shown(
                ErrorType::Duplicate,
                &ports_path.index(i),
                &format!(
                    "core.ServicePort{{Name:\"\", Protocol:{}, AppProtocol:(*string)(nil), Port:{}, TargetPort:intstr.IntOrString{{Type:0, IntVal:0, StrVal:\"\"}}, NodePort:0}}",
                    quote(protocol),
                    port.port
                ),
                "",
            ));
        }
    }

    validate_source_ranges(service, spec, &spec_path, &mut errors);

    if spec.allocate_load_balancer_node_ports.is_some() && service_type != TYPE_LOAD_BALANCER {
        errors.push(Error::forbidden(
            &spec_path.child("allocateLoadBalancerNodePorts"),
            "may only be used when `type` is 'LoadBalancer'",
        ));
    }
    if service_type == TYPE_LOAD_BALANCER && spec.allocate_load_balancer_node_ports.is_none() {
        // Upstream's path has no `spec.` here.
        errors.push(Error::required(
            &Path::new("allocateLoadBalancerNodePorts"),
            "",
        ));
    }

    errors.extend(validate_load_balancer_class(None, spec));
    validate_external_traffic_policy(spec, &spec_path, &mut errors);
    validate_internal_traffic_policy(spec, &spec_path, &mut errors);
    if let Some(distribution) = &spec.traffic_distribution
        && !TRAFFIC_DISTRIBUTIONS.contains(&distribution.as_str())
    {
        errors.push(Error::not_supported(
            &spec_path.child("trafficDistribution"),
            distribution.as_str(),
            TRAFFIC_DISTRIBUTIONS,
        ));
    }
    errors
}

/// `ValidateServiceUpdate`.
pub fn validate_service_update(new: &Service, old: &Service) -> ErrorList {
    let mut errors =
        validate_object_meta_update(&new.metadata, &old.metadata, &Path::new("metadata"));
    let default_spec = ServiceSpec::default();
    let new_spec = new.spec.as_ref().unwrap_or(&default_spec);
    let old_spec = old.spec.as_ref().unwrap_or(&default_spec);
    errors.extend(validate_upgrade_downgrade_cluster_ips(old_spec, new_spec));
    errors.extend(validate_upgrade_downgrade_ip_families(old_spec, new_spec));
    errors.extend(validate_load_balancer_class(Some(old_spec), new_spec));
    if needs_health_check(old_spec)
        && needs_health_check(new_spec)
        && new_spec.health_check_node_port != old_spec.health_check_node_port
    {
        errors.push(Error::forbidden(
            &spec_path().child("healthCheckNodePort"),
            "field is immutable",
        ));
    }
    errors.extend(validate_service(new));
    errors
}

/// `ValidateServiceStatusUpdate`.
pub fn validate_service_status_update(new: &Service, old: &Service) -> ErrorList {
    let mut errors =
        validate_object_meta_update(&new.metadata, &old.metadata, &Path::new("metadata"));
    errors.extend(validate_load_balancer_status(new));
    errors
}

/// `ValidateLoadBalancerStatus`: the ingress points' addresses and names.
pub fn validate_load_balancer_status(new: &Service) -> ErrorList {
    let mut errors = ErrorList::new();
    let ingress_path = Path::new("status").child("loadBalancer").child("ingress");
    let ingress = new
        .status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.as_deref())
        .unwrap_or(&[]);
    for (i, point) in ingress.iter().enumerate() {
        let path = ingress_path.index(i);
        if let Some(ip) = point.ip.as_deref().filter(|ip| !ip.is_empty()) {
            errors.extend(
                is_valid_ip(ip)
                    .into_iter()
                    .map(|m| Error::invalid(&path.child("ip"), ip, m)),
            );
        }
        if let Some(hostname) = point.hostname.as_deref().filter(|h| !h.is_empty()) {
            let hostname_path = path.child("hostname");
            errors.extend(
                is_dns1123_subdomain(hostname)
                    .into_iter()
                    .map(|m| Error::invalid(&hostname_path, hostname, m)),
            );
            if hostname.parse::<IpAddr>().is_ok() {
                errors.push(Error::invalid(
                    &hostname_path,
                    hostname,
                    "must be a DNS name, not an IP address",
                ));
            }
        }
    }
    errors
}

fn validate_external_name(spec: &ServiceSpec, spec_path: &Path, errors: &mut ErrorList) {
    if !cluster_ips(spec).is_empty() {
        errors.push(Error::forbidden(
            &spec_path.child("clusterIPs"),
            "may not be set for ExternalName services",
        ));
    }
    if !spec.ip_families.as_deref().unwrap_or(&[]).is_empty() {
        errors.push(Error::forbidden(
            &spec_path.child("ipFamilies"),
            "may not be set for ExternalName services",
        ));
    }
    if spec.ip_family_policy.is_some() {
        errors.push(Error::forbidden(
            &spec_path.child("ipFamilyPolicy"),
            "may not be set for ExternalName services",
        ));
    }
    // A CNAME may end with a dot to mark it fully qualified.
    let external_name = spec.external_name.as_deref().unwrap_or("");
    let cname = external_name.strip_suffix('.').unwrap_or(external_name);
    let path = spec_path.child("externalName");
    if cname.is_empty() {
        errors.push(Error::required(&path, ""));
    } else {
        errors.extend(
            is_dns1123_subdomain(cname)
                .into_iter()
                .map(|m| Error::invalid(&path, cname, m)),
        );
    }
}

/// `validateServicePort`.
fn validate_service_port(
    port: &ServicePort,
    require_name: bool,
    names: &mut HashSet<String>,
    path: &Path,
    errors: &mut ErrorList,
) {
    let name = port.name.as_deref().unwrap_or("");
    let name_path = path.child("name");
    if require_name && name.is_empty() {
        errors.push(Error::required(&name_path, ""));
    } else if !name.is_empty() {
        errors.extend(
            is_dns1123_label(name)
                .into_iter()
                .map(|m| Error::invalid(&name_path, name, m)),
        );
        if !names.insert(name.to_string()) {
            errors.push(Error::duplicate(&name_path, name));
        }
    }
    errors.extend(
        is_valid_port_num(port.port)
            .into_iter()
            .map(|m| Error::invalid(&path.child("port"), port.port, m)),
    );
    validate_protocol(port.protocol.as_deref(), &path.child("protocol"), errors);
    if let Some(target) = &port.target_port {
        errors.extend(validate_port_num_or_name(target, &path.child("targetPort")));
    }
    if let Some(app_protocol) = &port.app_protocol {
        errors.extend(validate_qualified_name(
            app_protocol,
            &path.child("appProtocol"),
        ));
    }
}

/// A port's protocol: required, one of TCP, UDP, SCTP.
pub(crate) fn validate_protocol(protocol: Option<&str>, path: &Path, errors: &mut ErrorList) {
    match protocol.unwrap_or("") {
        "" => errors.push(Error::required(path, "")),
        protocol if !PORT_PROTOCOLS.contains(&protocol) => {
            errors.push(Error::not_supported(path, protocol, PORT_PROTOCOLS));
        }
        _ => {}
    }
}

/// `ValidateQualifiedName`.
pub(crate) fn validate_qualified_name(value: &str, path: &Path) -> ErrorList {
    is_qualified_name(value)
        .into_iter()
        .map(|m| Error::invalid(path, value, m))
        .collect()
}

/// `ValidatePortNumOrName`.
fn validate_port_num_or_name(port: &IntOrString, path: &Path) -> ErrorList {
    match port {
        IntOrString::Int(number) => is_valid_port_num(*number)
            .into_iter()
            .map(|m| Error::invalid(path, *number, m))
            .collect(),
        IntOrString::String(name) => is_valid_port_name(name)
            .into_iter()
            .map(|m| Error::invalid(path, name.as_str(), m))
            .collect(),
    }
}

/// `IsValidPortName` (an IANA service name).
fn is_valid_port_name(port: &str) -> Vec<String> {
    let mut messages = Vec::new();
    if port.len() > 15 {
        messages.push("must be no more than 15 characters".to_string());
    }
    if !port
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        || port.is_empty()
    {
        messages.push(
            "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".to_string(),
        );
    }
    if !port.bytes().any(|b| b.is_ascii_lowercase()) {
        messages.push("must contain at least one letter (a-z)".to_string());
    }
    if port.contains("--") {
        messages.push("must not contain consecutive hyphens (--)".to_string());
    }
    if port.starts_with('-') || port.ends_with('-') {
        messages.push("must not begin or end with a hyphen (-)".to_string());
    }
    messages
}

fn validate_session_affinity(spec: &ServiceSpec, spec_path: &Path, errors: &mut ErrorList) {
    let affinity = spec.session_affinity.as_deref().unwrap_or("");
    let path = spec_path.child("sessionAffinity");
    if affinity.is_empty() {
        errors.push(Error::required(&path, ""));
    } else if !SESSION_AFFINITIES.contains(&affinity) {
        errors.push(Error::not_supported(&path, affinity, SESSION_AFFINITIES));
    }
    let config_path = spec_path.child("sessionAffinityConfig");
    match affinity {
        AFFINITY_CLIENT_IP => {
            let when = format!("when session affinity type is {AFFINITY_CLIENT_IP}");
            let client_ip_path = config_path.child("clientIP");
            let timeout_path = client_ip_path.child("timeoutSeconds");
            match &spec.session_affinity_config {
                None => errors.push(Error::required(&config_path, when)),
                Some(config) => match &config.client_ip {
                    None => errors.push(Error::required(&client_ip_path, when)),
                    Some(client_ip) => match client_ip.timeout_seconds {
                        None => errors.push(Error::required(&timeout_path, when)),
                        Some(timeout)
                            if timeout <= 0 || timeout > MAX_CLIENT_IP_AFFINITY_SECONDS =>
                        {
                            errors.push(Error::invalid(
                                &timeout_path,
                                timeout,
                                format!(
                                    "must be greater than 0 and less than {MAX_CLIENT_IP_AFFINITY_SECONDS}"
                                ),
                            ));
                        }
                        Some(_) => {}
                    },
                },
            }
        }
        AFFINITY_NONE if spec.session_affinity_config.is_some() => {
            errors.push(Error::forbidden(
                &config_path,
                format!("must not be set when session affinity is {AFFINITY_NONE}"),
            ));
        }
        _ => {}
    }
}

/// `ValidateServiceClusterIPsRelatedFields`: `clusterIP`/`clusterIPs`,
/// `ipFamilies` and `ipFamilyPolicy` on their own and together. Also run
/// before allocation, so the allocator only sees well-formed input.
pub(crate) fn validate_cluster_ips_related_fields(spec: &ServiceSpec) -> ErrorList {
    let mut errors = ErrorList::new();
    if service_type(spec) == TYPE_EXTERNAL_NAME {
        return errors;
    }
    let spec_path = spec_path();
    let cluster_ips_path = spec_path.child("clusterIPs");
    let families_path = spec_path.child("ipFamilies");
    let cluster_ip = spec.cluster_ip.as_deref().unwrap_or("");
    let ips = cluster_ips(spec);
    let ips_rendered = || go_string_slice(spec.cluster_ips.as_deref());

    if !cluster_ip.is_empty() {
        match ips.first() {
            None => errors.push(Error::required(&cluster_ips_path, "")),
            Some(first) if first != cluster_ip => errors.push(invalid_shown(
                &cluster_ips_path,
                &ips_rendered(),
                "first value must match `clusterIP`",
            )),
            Some(_) => {}
        }
    } else if !ips.is_empty() {
        errors.push(invalid_shown(
            &cluster_ips_path,
            &ips_rendered(),
            "must be empty when `clusterIP` is not specified",
        ));
    }

    let mut seen = HashSet::new();
    for (i, family) in spec
        .ip_families
        .as_deref()
        .unwrap_or(&[])
        .iter()
        .enumerate()
    {
        if !IP_FAMILIES.contains(&family.as_str()) {
            errors.push(Error::not_supported(
                &families_path.index(i),
                family.as_str(),
                IP_FAMILIES,
            ));
        }
        if !seen.insert(family.as_str()) {
            errors.push(Error::duplicate(&families_path.index(i), family.as_str()));
        }
    }

    if let Some(policy) = &spec.ip_family_policy
        && !IP_FAMILY_POLICIES.contains(&policy.as_str())
    {
        errors.push(Error::not_supported(
            &spec_path.child("ipFamilyPolicy"),
            policy.as_str(),
            IP_FAMILY_POLICIES,
        ));
    }

    let mut has_invalid_ips = false;
    for (i, ip) in ips.iter().enumerate() {
        if i == 0 && ip == CLUSTER_IP_NONE {
            if ips.len() > 1 {
                has_invalid_ips = true;
                errors.push(invalid_shown(
                    &cluster_ips_path,
                    &ips_rendered(),
                    "'None' must be the first and only value",
                ));
            }
            continue;
        }
        let messages = is_valid_ip(ip);
        has_invalid_ips |= !messages.is_empty();
        errors.extend(
            messages
                .into_iter()
                .map(|m| Error::invalid(&cluster_ips_path.index(i), ip.as_str(), m)),
        );
    }
    if ips.len() > 2 {
        errors.push(invalid_shown(
            &cluster_ips_path,
            &ips_rendered(),
            "may only hold up to 2 values",
        ));
    }
    if has_invalid_ips {
        return errors;
    }

    let parsed: Vec<IpAddr> = ips.iter().filter_map(|ip| ip.parse().ok()).collect();
    if ips.len() > 1 && !is_dual_stack(&parsed) {
        errors.push(invalid_shown(
            &cluster_ips_path,
            &ips_rendered(),
            "may specify no more than one IP for each IP family",
        ));
    }

    if !is_headless(spec) {
        for (i, (ip, family)) in parsed
            .iter()
            .zip(spec.ip_families.as_deref().unwrap_or(&[]))
            .enumerate()
        {
            let expected = match family.as_str() {
                "IPv4" if ip.is_ipv6() => "IPv4",
                "IPv6" if !ip.is_ipv6() => "IPv6",
                _ => continue,
            };
            errors.push(Error::invalid(
                &cluster_ips_path.index(i),
                ips[i].as_str(),
                format!("expected an {expected} value as indicated by `ipFamilies[{i}]`"),
            ));
        }
    }
    errors
}

/// `netutils.IsDualStackIPs`: exactly two addresses of different families.
fn is_dual_stack(ips: &[IpAddr]) -> bool {
    matches!(ips, [a, b] if a.is_ipv4() != b.is_ipv4())
}

/// `validateUpgradeDowngradeClusterIPs`.
fn validate_upgrade_downgrade_cluster_ips(old: &ServiceSpec, new: &ServiceSpec) -> ErrorList {
    let mut errors = ErrorList::new();
    if service_type(new) == TYPE_EXTERNAL_NAME || service_type(old) == TYPE_EXTERNAL_NAME {
        return errors;
    }
    if is_headless(old) && is_headless(new) {
        return errors;
    }
    let old_ips = cluster_ips(old);
    let new_ips = cluster_ips(new);
    let path = spec_path().child("clusterIPs");
    let rendered = go_string_slice(new.cluster_ips.as_deref());
    let changed = |errors: &mut ErrorList, i: usize| {
        errors.push(invalid_shown(
            &path.index(i),
            &rendered,
            "may not change once set",
        ));
    };
    use std::cmp::Ordering;
    match old_ips.len().cmp(&new_ips.len()) {
        Ordering::Equal => {
            for (i, (old_ip, new_ip)) in old_ips.iter().zip(new_ips).enumerate() {
                if old_ip != new_ip {
                    changed(&mut errors, i);
                }
            }
        }
        Ordering::Greater => {
            if new_ips.is_empty() {
                errors.push(invalid_shown(
                    &path.index(0),
                    &rendered,
                    "primary clusterIP can not be unset",
                ));
            }
            if let (Some(old_first), Some(new_first)) = (old_ips.first(), new_ips.first())
                && old_first != new_first
            {
                changed(&mut errors, 0);
            }
            if new_ips.len() == 1 && new.ip_family_policy.as_deref() != Some(POLICY_SINGLE_STACK) {
                errors.push(Error::invalid(
                    &spec_path().child("ipFamilyPolicy"),
                    optional_string(new.ip_family_policy.as_ref()),
                    "must be set to 'SingleStack' when releasing the secondary clusterIP",
                ));
            }
        }
        Ordering::Less => {
            if let (Some(old_first), Some(new_first)) = (old_ips.first(), new_ips.first())
                && old_first != new_first
            {
                changed(&mut errors, 0);
            }
        }
    }
    errors
}

/// `validateUpgradeDowngradeIPFamilies`.
fn validate_upgrade_downgrade_ip_families(old: &ServiceSpec, new: &ServiceSpec) -> ErrorList {
    let mut errors = ErrorList::new();
    if service_type(new) == TYPE_EXTERNAL_NAME || service_type(old) == TYPE_EXTERNAL_NAME {
        return errors;
    }
    // To or from headless, or headless on both sides: families may change.
    if is_headless(old) || is_headless(new) {
        return errors;
    }
    let old_families = old.ip_families.as_deref().unwrap_or(&[]);
    let new_families = new.ip_families.as_deref().unwrap_or(&[]);
    let first_path = spec_path().child("ipFamilies").index(0);
    let families_rendered = go_slice_of("core.IPFamily", new.ip_families.as_deref());
    let ips_rendered = go_string_slice(new.cluster_ips.as_deref());
    use std::cmp::Ordering;
    match old_families.len().cmp(&new_families.len()) {
        Ordering::Equal => {
            for (old_family, new_family) in old_families.iter().zip(new_families) {
                if old_family != new_family {
                    errors.push(invalid_shown(
                        &first_path,
                        &families_rendered,
                        "may not change once set",
                    ));
                }
            }
        }
        Ordering::Greater => {
            if cluster_ips(new).is_empty() {
                errors.push(invalid_shown(
                    &first_path,
                    &families_rendered,
                    "primary ipFamily can not be unset",
                ));
            }
            if let (Some(old_first), Some(new_first)) = (old_families.first(), new_families.first())
                && old_first != new_first
            {
                errors.push(invalid_shown(
                    &first_path,
                    &ips_rendered,
                    "may not change once set",
                ));
            }
            if new_families.len() == 1
                && new.ip_family_policy.as_deref() != Some(POLICY_SINGLE_STACK)
            {
                errors.push(Error::invalid(
                    &spec_path().child("ipFamilyPolicy"),
                    optional_string(new.ip_family_policy.as_ref()),
                    "must be set to 'SingleStack' when releasing the secondary ipFamily",
                ));
            }
        }
        Ordering::Less => {
            if let (Some(old_first), Some(new_first)) = (old_families.first(), new_families.first())
                && old_first != new_first
            {
                errors.push(invalid_shown(
                    &first_path,
                    &ips_rendered,
                    "may not change once set",
                ));
            }
        }
    }
    errors
}

/// `validateLoadBalancerClassField`.
fn validate_load_balancer_class(old: Option<&ServiceSpec>, new: &ServiceSpec) -> ErrorList {
    let mut errors = ErrorList::new();
    let path = spec_path().child("loadBalancerClass");
    let is_load_balancer = |spec: &ServiceSpec| service_type(spec) == TYPE_LOAD_BALANCER;
    if let Some(old) = old
        && is_load_balancer(old)
        && is_load_balancer(new)
        && old.load_balancer_class != new.load_balancer_class
    {
        errors.push(Error::invalid(
            &path,
            optional_string(new.load_balancer_class.as_ref()),
            "may not change once set",
        ));
    }
    match &new.load_balancer_class {
        Some(class) if is_load_balancer(new) => {
            errors.extend(validate_qualified_name(class, &path));
        }
        Some(_) => errors.push(Error::forbidden(
            &path,
            "may only be used when service type is 'LoadBalancer'",
        )),
        None => {}
    }
    errors
}

fn validate_source_ranges(
    service: &Service,
    spec: &ServiceSpec,
    spec_path: &Path,
    errors: &mut ErrorList,
) {
    let is_load_balancer = service_type(spec) == TYPE_LOAD_BALANCER;
    let forbidden =
        |path: &Path| Error::forbidden(path, "may only be used when `type` is 'LoadBalancer'");
    let ranges = spec.load_balancer_source_ranges.as_deref().unwrap_or(&[]);
    if !ranges.is_empty() {
        let path = spec_path.child("LoadBalancerSourceRanges");
        if !is_load_balancer {
            errors.push(forbidden(&path));
        }
        for (i, range) in ranges.iter().enumerate() {
            // Historically space-padded values are allowed.
            errors.extend(validate_cidr(range.trim(), &path.index(i)));
        }
    } else if let Some(value) = service
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(LOAD_BALANCER_SOURCE_RANGES_ANNOTATION))
    {
        let path = Path::new("metadata")
            .child("annotations")
            .key(LOAD_BALANCER_SOURCE_RANGES_ANNOTATION);
        if !is_load_balancer {
            errors.push(forbidden(&path));
        }
        let value = value.trim();
        if !value.is_empty() {
            for range in value.split(',') {
                errors.extend(validate_cidr(range.trim(), &path));
            }
        }
    }
}

/// `IsValidCIDR`.
fn validate_cidr(value: &str, path: &Path) -> ErrorList {
    if value.parse::<ipnet::IpNet>().is_ok() {
        ErrorList::new()
    } else {
        vec![Error::invalid(
            path,
            value,
            "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
        )]
    }
}

/// `validateServiceExternalTrafficPolicy`.
fn validate_external_traffic_policy(spec: &ServiceSpec, spec_path: &Path, errors: &mut ErrorList) {
    let policy_path = spec_path.child("externalTrafficPolicy");
    let policy = spec.external_traffic_policy.as_deref().unwrap_or("");
    if !externally_accessible(spec) {
        if !policy.is_empty() {
            errors.push(Error::invalid(
                &policy_path,
                policy,
                "may only be set for externally-accessible services",
            ));
        }
    } else if policy.is_empty() {
        errors.push(Error::required(&policy_path, ""));
    } else if !TRAFFIC_POLICIES.contains(&policy) {
        errors.push(Error::not_supported(&policy_path, policy, TRAFFIC_POLICIES));
    }

    let health_path = spec_path.child("healthCheckNodePort");
    let health_check_port = spec.health_check_node_port.unwrap_or(0);
    if !needs_health_check(spec) {
        if health_check_port != 0 {
            errors.push(Error::invalid(
                &health_path,
                health_check_port,
                "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'",
            ));
        }
    } else if health_check_port == 0 {
        errors.push(Error::required(&health_path, ""));
    } else {
        errors.extend(
            is_valid_port_num(health_check_port)
                .into_iter()
                .map(|m| Error::invalid(&health_path, health_check_port, m)),
        );
    }
}

/// `validateServiceInternalTrafficFieldsValue`.
fn validate_internal_traffic_policy(spec: &ServiceSpec, spec_path: &Path, errors: &mut ErrorList) {
    let path = spec_path.child("internalTrafficPolicy");
    match spec.internal_traffic_policy.as_deref() {
        None => {
            if matches!(
                service_type(spec),
                TYPE_NODE_PORT | TYPE_LOAD_BALANCER | TYPE_CLUSTER_IP
            ) {
                errors.push(Error::required(&path, ""));
            }
        }
        Some(policy) if !TRAFFIC_POLICIES.contains(&policy) => {
            errors.push(Error::not_supported(&path, policy, TRAFFIC_POLICIES));
        }
        Some(_) => {}
    }
}

/// `ValidateNonSpecialIP`: no unspecified, loopback or link-local address
/// (external IPs and endpoints).
pub(crate) fn validate_non_special_ip(value: &str, path: &Path) -> ErrorList {
    let Ok(ip) = value.parse::<IpAddr>() else {
        return vec![Error::invalid(path, value, "must be a valid IP address")];
    };
    let ip = ip.to_canonical();
    let mut errors = ErrorList::new();
    if ip.is_unspecified() {
        errors.push(Error::invalid(
            path,
            value,
            format!("may not be unspecified ({value})"),
        ));
    }
    if ip.is_loopback() {
        errors.push(Error::invalid(
            path,
            value,
            "may not be in the loopback range (127.0.0.0/8, ::1/128)",
        ));
    }
    let (link_local_unicast, link_local_multicast) = match ip {
        IpAddr::V4(v4) => {
            let octets = v4.octets();
            (
                v4.is_link_local(),
                octets[0] == 224 && octets[1] == 0 && octets[2] == 0,
            )
        }
        IpAddr::V6(v6) => {
            let segments = v6.segments();
            (v6.is_unicast_link_local(), segments[0] & 0xff0f == 0xff02)
        }
    };
    if link_local_unicast {
        errors.push(Error::invalid(
            path,
            value,
            "may not be in the link-local range (169.254.0.0/16, fe80::/10)",
        ));
    }
    if link_local_multicast {
        errors.push(Error::invalid(
            path,
            value,
            "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)",
        ));
    }
    errors
}
