//! The `endpoints` kind's strategy (`pkg/registry/core/endpoint`): the
//! port protocol default and `ValidateEndpoints` (name, addresses, ports),
//! with upstream's field paths and messages.

use k8s_openapi::api::core::v1::{EndpointAddress, EndpointPort, EndpointSubset, Endpoints};

use apimachinery::api::{name_is_dns_subdomain, validate_object_meta, validate_object_meta_update};
use apimachinery::validation::field::{Error, ErrorList, Path};
use apimachinery::validation::{
    is_dns1123_label, is_dns1123_subdomain, is_valid_ip, is_valid_port_num,
};
use apiserver::registry::{ResourceNames, Strategy};

use super::service::validation::{
    validate_non_special_ip, validate_protocol, validate_qualified_name,
};

static INFO: ResourceNames = ResourceNames {
    group: "",
    version: "v1",
    kind: "Endpoints",
    plural: "endpoints",
    singular: "endpoint",
    namespaced: true,
    short_names: &["ep"],
    categories: &[],
};

/// The Endpoints kind's behaviour in the generic store.
#[derive(Debug, Clone, Default)]
pub struct EndpointsStrategy;

impl EndpointsStrategy {
    pub fn new() -> Self {
        EndpointsStrategy
    }
}

impl Strategy for EndpointsStrategy {
    type Object = Endpoints;

    fn table_columns(&self) -> &'static [apiserver::registry::table::ColumnDefinition] {
        crate::printers::service::endpoints_columns()
    }

    fn table_row(
        &self,
        obj: &Self::Object,
        now: k8s_openapi::chrono::DateTime<k8s_openapi::chrono::Utc>,
    ) -> Vec<serde_json::Value> {
        crate::printers::service::endpoints_row(obj, now)
    }

    fn names(&self) -> &ResourceNames {
        &INFO
    }

    fn prepare_for_create(&self, endpoints: &mut Endpoints) {
        set_defaults(endpoints);
    }

    fn prepare_for_update(&self, new: &mut Endpoints, _old: &Endpoints) {
        set_defaults(new);
    }

    fn validate(&self, endpoints: &Endpoints) -> ErrorList {
        let mut errors = validate_object_meta(
            &endpoints.metadata,
            true,
            name_is_dns_subdomain,
            &Path::new("metadata"),
        );
        errors.extend(validate_subsets(endpoints));
        errors
    }

    fn validate_update(&self, new: &Endpoints, old: &Endpoints) -> ErrorList {
        let mut errors =
            validate_object_meta_update(&new.metadata, &old.metadata, &Path::new("metadata"));
        errors.extend(validate_subsets(new));
        errors
    }
}

/// `SetDefaults_Endpoints`: a port's protocol defaults to TCP.
pub fn set_defaults(endpoints: &mut Endpoints) {
    let ports = endpoints
        .subsets
        .iter_mut()
        .flatten()
        .flat_map(|subset| subset.ports.iter_mut().flatten());
    for port in ports {
        if port.protocol.as_deref().unwrap_or("").is_empty() {
            port.protocol = Some("TCP".to_string());
        }
    }
}

/// `validateEndpointSubsets`.
fn validate_subsets(endpoints: &Endpoints) -> ErrorList {
    let mut errors = ErrorList::new();
    let subsets_path = Path::new("subsets");
    for (i, subset) in endpoints.subsets.iter().flatten().enumerate() {
        validate_subset(subset, &subsets_path.index(i), &mut errors);
    }
    errors
}

fn validate_subset(subset: &EndpointSubset, path: &Path, errors: &mut ErrorList) {
    let addresses = subset.addresses.as_deref().unwrap_or(&[]);
    let not_ready = subset.not_ready_addresses.as_deref().unwrap_or(&[]);
    // A headless service's endpoints may have no ports, but not no address.
    if addresses.is_empty() && not_ready.is_empty() {
        errors.push(Error::required(
            path,
            "must specify `addresses` or `notReadyAddresses`",
        ));
    }
    for (i, address) in addresses.iter().enumerate() {
        validate_address(address, &path.child("addresses").index(i), errors);
    }
    for (i, address) in not_ready.iter().enumerate() {
        validate_address(address, &path.child("notReadyAddresses").index(i), errors);
    }
    let ports = subset.ports.as_deref().unwrap_or(&[]);
    for (i, port) in ports.iter().enumerate() {
        validate_port(port, ports.len() > 1, &path.child("ports").index(i), errors);
    }
}

/// `validateEndpointAddress`.
fn validate_address(address: &EndpointAddress, path: &Path, errors: &mut ErrorList) {
    let ip_path = path.child("ip");
    let ip = address.ip.as_str();
    errors.extend(
        is_valid_ip(ip)
            .into_iter()
            .map(|m| Error::invalid(&ip_path, ip, m)),
    );
    if let Some(hostname) = address.hostname.as_deref().filter(|h| !h.is_empty()) {
        let hostname_path = path.child("hostname");
        errors.extend(
            is_dns1123_label(hostname)
                .into_iter()
                .map(|m| Error::invalid(&hostname_path, hostname, m)),
        );
    }
    if let Some(node_name) = &address.node_name {
        let node_path = path.child("nodeName");
        errors.extend(
            is_dns1123_subdomain(node_name)
                .into_iter()
                .map(|m| Error::invalid(&node_path, node_name.as_str(), m)),
        );
    }
    errors.extend(validate_non_special_ip(ip, &ip_path));
}

/// `validateEndpointPort`.
fn validate_port(port: &EndpointPort, require_name: bool, path: &Path, errors: &mut ErrorList) {
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
    }
    errors.extend(
        is_valid_port_num(port.port)
            .into_iter()
            .map(|m| Error::invalid(&path.child("port"), port.port, m)),
    );
    validate_protocol(port.protocol.as_deref(), &path.child("protocol"), errors);
    if let Some(app_protocol) = &port.app_protocol {
        errors.extend(validate_qualified_name(
            app_protocol,
            &path.child("appProtocol"),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn endpoints(subsets: Vec<EndpointSubset>) -> Endpoints {
        Endpoints {
            metadata: ObjectMeta {
                name: Some("web".to_string()),
                namespace: Some("default".to_string()),
                ..ObjectMeta::default()
            },
            subsets: Some(subsets),
        }
    }

    fn address(ip: &str) -> EndpointAddress {
        EndpointAddress {
            ip: ip.to_string(),
            ..EndpointAddress::default()
        }
    }

    fn port(name: Option<&str>, number: i32) -> EndpointPort {
        EndpointPort {
            name: name.map(str::to_string),
            port: number,
            ..EndpointPort::default()
        }
    }

    fn messages(errors: &ErrorList) -> Vec<String> {
        errors.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn info_matches_upstream_discovery() {
        let info = apiserver::registry::ResourceInfo::of(&EndpointsStrategy::new());
        assert_eq!(info.plural, "endpoints");
        assert_eq!(info.short_names, &["ep"]);
        assert!(info.categories.is_empty());
        assert!(info.namespaced && !info.has_status);
    }

    #[test]
    fn a_valid_subset_gets_tcp_and_passes() {
        let strategy = EndpointsStrategy::new();
        let mut obj = endpoints(vec![EndpointSubset {
            addresses: Some(vec![address("10.1.2.3"), address("fd00::5")]),
            ports: Some(vec![port(None, 80)]),
            ..EndpointSubset::default()
        }]);
        strategy.prepare_for_create(&mut obj);
        let ports = obj
            .subsets
            .as_ref()
            .and_then(|s| s[0].ports.as_ref())
            .cloned();
        assert_eq!(
            ports.unwrap_or_default()[0].protocol.as_deref(),
            Some("TCP")
        );
        assert_eq!(messages(&strategy.validate(&obj)), Vec::<String>::new());
    }

    #[test]
    fn bad_addresses_and_ports_have_upstream_paths() {
        let strategy = EndpointsStrategy::new();
        let mut obj = endpoints(vec![
            EndpointSubset::default(),
            EndpointSubset {
                addresses: Some(vec![address("127.0.0.1"), address("nope")]),
                not_ready_addresses: Some(vec![address("169.254.1.1")]),
                ports: Some(vec![
                    port(None, 0),
                    port(Some("Web"), 80),
                    port(Some("a"), 81),
                ]),
            },
        ]);
        strategy.prepare_for_create(&mut obj);
        let found = messages(&strategy.validate(&obj));
        for expected in [
            "subsets[0]: Required value: must specify `addresses` or `notReadyAddresses`",
            "subsets[1].addresses[0].ip: Invalid value: \"127.0.0.1\": may not be in the loopback range (127.0.0.0/8, ::1/128)",
            "subsets[1].addresses[1].ip: Invalid value: \"nope\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
            "subsets[1].notReadyAddresses[0].ip: Invalid value: \"169.254.1.1\": may not be in the link-local range (169.254.0.0/16, fe80::/10)",
            "subsets[1].ports[0].name: Required value",
            "subsets[1].ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
        ] {
            assert!(
                found.iter().any(|m| m == expected),
                "missing {expected:?} in {found:#?}"
            );
        }
        assert!(
            found
                .iter()
                .any(|m| m.starts_with("subsets[1].ports[1].name: Invalid value: \"Web\"")),
            "{found:#?}"
        );
    }

    #[test]
    fn names_are_dns_subdomains() {
        let strategy = EndpointsStrategy::new();
        let mut obj = endpoints(Vec::new());
        obj.metadata.name = Some("a.b-c".to_string());
        assert!(strategy.validate(&obj).is_empty());
        obj.metadata.name = Some("A_b".to_string());
        assert!(
            strategy
                .validate(&obj)
                .iter()
                .any(|e| e.field == "metadata.name")
        );
    }
}
