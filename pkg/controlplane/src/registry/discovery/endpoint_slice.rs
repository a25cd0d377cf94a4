//! EndpointSlices (`pkg/registry/discovery/endpointslice`): a service's
//! endpoints in slices of at most 1,000, each address checked against the
//! slice's `addressType` (which never changes), ports named once each with
//! a protocol (TCP by default, as the v1 defaults set it).

use std::collections::BTreeSet;

use k8s_openapi::api::discovery::v1::{Endpoint, EndpointHints, EndpointPort, EndpointSlice};
use k8s_openapi::chrono::{DateTime, Utc};

use apimachinery::api::{
    name_is_dns_subdomain, validate_labels, validate_object_meta, validate_object_meta_update,
};
use apimachinery::validation::field::{Error, ErrorList, Path};
use apimachinery::validation::{
    is_dns1123_label, is_dns1123_subdomain, is_qualified_name, is_valid_label_value,
};
use apiserver::registry::strategy::{ResourceNames, Strategy};
use apiserver::registry::table::ColumnDefinition;

use crate::registry::core::pod::validation::{validate_dns1123_label, validate_immutable};
use crate::registry::core::service::validation::validate_non_special_ip;

/// `endpointslices.discovery.k8s.io`, `discovery.k8s.io/v1`.
pub static ENDPOINT_SLICE_INFO: ResourceNames = ResourceNames {
    group: "discovery.k8s.io",
    version: "v1",
    kind: "EndpointSlice",
    plural: "endpointslices",
    singular: "endpointslice",
    namespaced: true,
    short_names: &[],
    categories: &[],
};

const ADDRESS_TYPES: [&str; 3] = ["FQDN", "IPv4", "IPv6"];
const PROTOCOLS: [&str; 3] = ["SCTP", "TCP", "UDP"];
const MAX_TOPOLOGY_LABELS: usize = 16;
const MAX_ADDRESSES: usize = 100;
const MAX_PORTS: usize = 20_000;
const MAX_ENDPOINTS: usize = 1_000;
const MAX_ZONE_HINTS: usize = 8;

#[derive(Debug, Clone, Copy, Default)]
pub struct EndpointSliceStrategy;

/// The v1 defaults (`SetDefaults_EndpointPort`): a port's name is `""` and
/// its protocol TCP unless given.
pub fn default_endpoint_slice(slice: &mut EndpointSlice) {
    for port in slice.ports.iter_mut().flatten() {
        port.name.get_or_insert_with(String::new);
        port.protocol.get_or_insert_with(|| "TCP".to_string());
    }
}

/// `ValidateEndpointSlice`.
pub fn validate_endpoint_slice(slice: &EndpointSlice) -> ErrorList {
    let mut errors = validate_object_meta(
        &slice.metadata,
        true,
        name_is_dns_subdomain,
        &Path::new("metadata"),
    );
    let address_path = Path::new("addressType");
    if slice.address_type.is_empty() {
        errors.push(Error::required(&address_path, ""));
    } else if !ADDRESS_TYPES.contains(&slice.address_type.as_str()) {
        errors.push(Error::not_supported(
            &address_path,
            slice.address_type.as_str(),
            &ADDRESS_TYPES,
        ));
    }
    errors.extend(validate_endpoints(
        &slice.endpoints,
        &slice.address_type,
        &Path::new("endpoints"),
    ));
    errors.extend(validate_ports(
        slice.ports.as_deref().unwrap_or_default(),
        &Path::new("ports"),
    ));
    errors
}

/// `ValidateEndpointSliceUpdate`: also, the address type never changes.
pub fn validate_endpoint_slice_update(new: &EndpointSlice, old: &EndpointSlice) -> ErrorList {
    let mut errors =
        validate_object_meta_update(&new.metadata, &old.metadata, &Path::new("metadata"));
    errors.extend(validate_endpoint_slice(new));
    errors.extend(validate_immutable(
        &new.address_type,
        &old.address_type,
        &Path::new("addressType"),
    ));
    errors
}

fn validate_endpoints(endpoints: &[Endpoint], address_type: &str, path: &Path) -> ErrorList {
    if endpoints.len() > MAX_ENDPOINTS {
        return vec![Error::too_many(path, endpoints.len(), MAX_ENDPOINTS)];
    }
    let mut errors = Vec::new();
    for (index, endpoint) in endpoints.iter().enumerate() {
        let path = path.index(index);
        let addresses_path = path.child("addresses");
        if endpoint.addresses.is_empty() {
            errors.push(Error::required(
                &addresses_path,
                "must contain at least 1 address",
            ));
        } else if endpoint.addresses.len() > MAX_ADDRESSES {
            errors.push(Error::too_many(
                &addresses_path,
                endpoint.addresses.len(),
                MAX_ADDRESSES,
            ));
        }
        for (index, address) in endpoint.addresses.iter().enumerate() {
            errors.extend(validate_address(
                address,
                address_type,
                &addresses_path.index(index),
            ));
        }
        if let Some(node_name) = &endpoint.node_name {
            let node_path = path.child("nodeName");
            errors.extend(
                is_dns1123_subdomain(node_name)
                    .into_iter()
                    .map(|message| Error::invalid(&node_path, node_name.as_str(), message)),
            );
        }
        let topology_path = path.child("deprecatedTopology");
        if let Some(topology) = &endpoint.deprecated_topology {
            if topology.len() > MAX_TOPOLOGY_LABELS {
                errors.push(Error::too_many(
                    &topology_path,
                    topology.len(),
                    MAX_TOPOLOGY_LABELS,
                ));
            }
            errors.extend(validate_labels(topology, &topology_path));
        }
        if let Some(hostname) = &endpoint.hostname {
            errors.extend(validate_dns1123_label(hostname, &path.child("hostname")));
        }
        if let Some(hints) = &endpoint.hints {
            errors.extend(validate_hints(hints, &path.child("hints")));
        }
    }
    errors
}

/// One address, as its slice's type says; other types are not checked.
fn validate_address(address: &str, address_type: &str, path: &Path) -> ErrorList {
    match address_type {
        "IPv4" | "IPv6" => {
            let v4 = address_type == "IPv4";
            let parsed = address.parse::<std::net::IpAddr>();
            let family_ok = match parsed {
                Ok(std::net::IpAddr::V4(_)) => v4,
                Ok(std::net::IpAddr::V6(v6)) => !v4 && v6.to_ipv4_mapped().is_none(),
                Err(_) => false,
            };
            let mut errors = Vec::new();
            if !family_ok {
                let message = if v4 {
                    "must be a valid IPv4 address"
                } else {
                    "must be a valid IPv6 address"
                };
                errors.push(Error::invalid(path, address, message));
            }
            errors.extend(validate_non_special_ip(address, path));
            errors
        }
        "FQDN" => validate_fully_qualified_domain_name(address, path),
        _ => Vec::new(),
    }
}

/// `IsFullyQualifiedDomainName`: a DNS subdomain of two labels or more (a
/// trailing dot allowed).
fn validate_fully_qualified_domain_name(name: &str, path: &Path) -> ErrorList {
    if name.is_empty() {
        return vec![Error::required(path, "")];
    }
    let name = name.strip_suffix('.').unwrap_or(name);
    let messages = is_dns1123_subdomain(name);
    if !messages.is_empty() {
        return vec![Error::invalid(path, name, messages.join(","))];
    }
    if name.split('.').count() < 2 {
        return vec![Error::invalid(
            path,
            name,
            "should be a domain with at least two segments separated by dots",
        )];
    }
    for label in name.split('.') {
        let messages = is_dns1123_label(label);
        if !messages.is_empty() {
            return vec![Error::invalid(path, label, messages.join(","))];
        }
    }
    Vec::new()
}

fn validate_hints(hints: &EndpointHints, path: &Path) -> ErrorList {
    let zones_path = path.child("forZones");
    let zones = hints.for_zones.as_deref().unwrap_or_default();
    if zones.len() > MAX_ZONE_HINTS {
        return vec![Error::too_many(&zones_path, zones.len(), MAX_ZONE_HINTS)];
    }
    let mut errors = Vec::new();
    let mut seen = BTreeSet::new();
    for (index, zone) in zones.iter().enumerate() {
        let name_path = zones_path.index(index).child("name");
        if !seen.insert(zone.name.as_str()) {
            errors.push(Error::duplicate(&name_path, zone.name.as_str()));
        }
        errors.extend(
            is_valid_label_value(&zone.name)
                .into_iter()
                .map(|message| Error::invalid(&name_path, zone.name.as_str(), message)),
        );
    }
    errors
}

fn validate_ports(ports: &[EndpointPort], path: &Path) -> ErrorList {
    if ports.len() > MAX_PORTS {
        return vec![Error::too_many(path, ports.len(), MAX_PORTS)];
    }
    let mut errors = Vec::new();
    let mut names = BTreeSet::new();
    for (index, port) in ports.iter().enumerate() {
        let path = path.index(index);
        let name = port.name.as_deref().unwrap_or_default();
        if !name.is_empty() {
            errors.extend(validate_dns1123_label(name, &path.child("name")));
        }
        if !names.insert(name) {
            errors.push(Error::duplicate(&path.child("name"), name));
        }
        match port.protocol.as_deref() {
            None => errors.push(Error::required(&path.child("protocol"), "")),
            Some(protocol) if !PROTOCOLS.contains(&protocol) => {
                errors.push(Error::not_supported(
                    &path.child("protocol"),
                    protocol,
                    &PROTOCOLS,
                ));
            }
            Some(_) => {}
        }
        if let Some(app_protocol) = &port.app_protocol {
            let app_path = path.child("appProtocol");
            errors.extend(
                is_qualified_name(app_protocol)
                    .into_iter()
                    .map(|message| Error::invalid(&app_path, app_protocol.as_str(), message)),
            );
        }
    }
    errors
}

impl Strategy for EndpointSliceStrategy {
    type Object = EndpointSlice;

    fn names(&self) -> &ResourceNames {
        &ENDPOINT_SLICE_INFO
    }

    fn table_columns(&self) -> &'static [ColumnDefinition] {
        crate::printers::service::endpoint_slice_columns()
    }

    fn table_row(&self, slice: &EndpointSlice, now: DateTime<Utc>) -> Vec<serde_json::Value> {
        crate::printers::service::endpoint_slice_row(slice, now)
    }

    fn prepare_for_create(&self, slice: &mut EndpointSlice) {
        default_endpoint_slice(slice);
    }

    fn prepare_for_update(&self, new: &mut EndpointSlice, _old: &EndpointSlice) {
        default_endpoint_slice(new);
    }

    fn validate(&self, slice: &EndpointSlice) -> ErrorList {
        validate_endpoint_slice(slice)
    }

    fn validate_update(&self, new: &EndpointSlice, old: &EndpointSlice) -> ErrorList {
        validate_endpoint_slice_update(new, old)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn slice(address_type: &str, addresses: &[&str], ports: Vec<EndpointPort>) -> EndpointSlice {
        EndpointSlice {
            metadata: ObjectMeta {
                name: Some("web-abc12".into()),
                namespace: Some("default".into()),
                resource_version: Some("3".into()),
                ..Default::default()
            },
            address_type: address_type.into(),
            endpoints: vec![Endpoint {
                addresses: addresses.iter().map(|a| a.to_string()).collect(),
                ..Default::default()
            }],
            ports: Some(ports),
        }
    }

    fn port(name: Option<&str>, number: i32) -> EndpointPort {
        EndpointPort {
            name: name.map(str::to_string),
            port: Some(number),
            ..Default::default()
        }
    }

    fn messages(errors: &ErrorList) -> Vec<String> {
        errors.iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn ports_default_to_an_empty_name_and_tcp() {
        let mut valid = slice("IPv4", &["10.1.2.3"], vec![port(None, 80)]);
        EndpointSliceStrategy.prepare_for_create(&mut valid);
        let defaulted = &valid.ports.as_ref().unwrap()[0];
        assert_eq!(defaulted.name.as_deref(), Some(""));
        assert_eq!(defaulted.protocol.as_deref(), Some("TCP"));
        assert!(EndpointSliceStrategy.validate(&valid).is_empty());
        let fqdn = slice("FQDN", &["db.example.com", "cache.example.com."], vec![]);
        assert!(EndpointSliceStrategy.validate(&fqdn).is_empty());
    }

    #[test]
    fn addresses_follow_the_address_type() {
        let mut bad = slice("IPv4", &["fd00::1", "127.0.0.1"], vec![]);
        bad.endpoints.push(Endpoint::default());
        assert_eq!(
            messages(&EndpointSliceStrategy.validate(&bad)),
            [
                "endpoints[0].addresses[0]: Invalid value: \"fd00::1\": must be a valid IPv4 address",
                "endpoints[0].addresses[1]: Invalid value: \"127.0.0.1\": may not be in the loopback range (127.0.0.0/8, ::1/128)",
                "endpoints[1].addresses: Required value: must contain at least 1 address",
            ]
        );
        let fqdn = slice("FQDN", &["localhost"], vec![]);
        assert_eq!(
            messages(&EndpointSliceStrategy.validate(&fqdn)),
            [
                "endpoints[0].addresses[0]: Invalid value: \"localhost\": should be a domain with at least two segments separated by dots"
            ]
        );
        let unknown = slice("IP", &["10.0.0.1"], vec![]);
        assert_eq!(
            messages(&EndpointSliceStrategy.validate(&unknown)),
            [
                "addressType: Unsupported value: \"IP\": supported values: \"FQDN\", \"IPv4\", \"IPv6\""
            ]
        );
    }

    #[test]
    fn port_names_are_unique_labels_with_known_protocols() {
        let mut ports = vec![
            port(Some("http"), 80),
            port(Some("http"), 8080),
            port(Some("Bad_Name"), 1),
        ];
        ports[1].protocol = Some("HTTP".into());
        let mut bad = slice("IPv4", &["10.0.0.1"], ports);
        EndpointSliceStrategy.prepare_for_create(&mut bad);
        let errors = messages(&EndpointSliceStrategy.validate(&bad));
        assert_eq!(errors[0], "ports[1].name: Duplicate value: \"http\"");
        assert_eq!(
            errors[1],
            "ports[1].protocol: Unsupported value: \"HTTP\": supported values: \"SCTP\", \"TCP\", \"UDP\""
        );
        assert!(
            errors[2].starts_with("ports[2].name: Invalid value: \"Bad_Name\""),
            "{errors:?}"
        );
    }

    #[test]
    fn the_address_type_never_changes() {
        let old = slice("IPv4", &["10.0.0.1"], vec![]);
        let new = slice("IPv6", &["fd00::1"], vec![]);
        assert_eq!(
            messages(&EndpointSliceStrategy.validate_update(&new, &old)),
            ["addressType: Invalid value: \"IPv6\": field is immutable"]
        );
    }
}
