//! The service, endpoints and endpoint slice Tables (`printService`,
//! `printEndpoints`, `printEndpointSlice`): type, cluster IP, external IPs
//! by service type, ports with node ports, and the first endpoints
//! `ip:port` (or a slice's first ports and addresses) with `+ N more...`.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use apiserver::registry::table::{ColumnDefinition, field_description};
use k8s_openapi::api::core::v1::{Endpoints, Service, ServiceSpec};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::chrono::{DateTime, Utc};
use serde_json::Value;

use super::{age_cell, format_labels, name_cell};

/// The service columns (`serviceColumnDefinitions`).
pub fn service_columns() -> &'static [ColumnDefinition] {
    static COLUMNS: LazyLock<Vec<ColumnDefinition>> = LazyLock::new(|| {
        let doc = field_description::<ServiceSpec>;
        vec![
            ColumnDefinition::name(),
            ColumnDefinition::new("Type", "string", doc("type")),
            ColumnDefinition::new("Cluster-IP", "string", doc("clusterIP")),
            ColumnDefinition::new("External-IP", "string", doc("externalIPs")),
            ColumnDefinition::new("Port(s)", "string", doc("ports")),
            ColumnDefinition::age(),
            ColumnDefinition::new("Selector", "string", doc("selector")).wide(),
        ]
    });
    &COLUMNS
}

/// `getServiceExternalIP` (wide: load-balancer addresses not clipped).
fn external_ip(service: &Service) -> String {
    let default_spec = ServiceSpec::default();
    let spec = service.spec.as_ref().unwrap_or(&default_spec);
    let external = spec.external_ips.as_deref().unwrap_or_default();
    match spec.type_.as_deref().unwrap_or_default() {
        "ClusterIP" | "NodePort" if !external.is_empty() => external.join(","),
        "ClusterIP" | "NodePort" => "<none>".to_string(),
        "LoadBalancer" => {
            let ingress: BTreeSet<&str> = service
                .status
                .as_ref()
                .and_then(|s| s.load_balancer.as_ref())
                .and_then(|lb| lb.ingress.as_deref())
                .unwrap_or_default()
                .iter()
                .filter_map(|i| {
                    i.ip.as_deref()
                        .filter(|ip| !ip.is_empty())
                        .or(i.hostname.as_deref().filter(|h| !h.is_empty()))
                })
                .collect();
            let mut all: Vec<&str> = ingress.into_iter().collect();
            if all.is_empty() && external.is_empty() {
                return "<pending>".to_string();
            }
            all.extend(external.iter().map(String::as_str));
            all.join(",")
        }
        "ExternalName" => spec.external_name.clone().unwrap_or_default(),
        _ => "<unknown>".to_string(),
    }
}

/// The service's row (`printService`).
pub fn service_row(service: &Service, now: DateTime<Utc>) -> Vec<Value> {
    let default_spec = ServiceSpec::default();
    let spec = service.spec.as_ref().unwrap_or(&default_spec);
    let cluster_ip = spec
        .cluster_ips
        .as_ref()
        .and_then(|ips| ips.first())
        .cloned()
        .unwrap_or_else(|| "<none>".to_string());
    let ports: Vec<String> = spec
        .ports
        .iter()
        .flatten()
        .map(|port| {
            let protocol = port.protocol.as_deref().unwrap_or_default();
            match port.node_port.filter(|p| *p > 0) {
                Some(node_port) => format!("{}:{node_port}/{protocol}", port.port),
                None => format!("{}/{protocol}", port.port),
            }
        })
        .collect();
    let ports = if ports.is_empty() {
        "<none>".to_string()
    } else {
        ports.join(",")
    };
    vec![
        name_cell(&service.metadata),
        Value::from(spec.type_.clone().unwrap_or_default()),
        Value::from(cluster_ip),
        Value::from(external_ip(service)),
        Value::from(ports),
        age_cell(&service.metadata, now),
        Value::from(format_labels(spec.selector.as_ref())),
    ]
}

/// The endpoints columns (`endpointColumnDefinitions`).
pub fn endpoints_columns() -> &'static [ColumnDefinition] {
    static COLUMNS: LazyLock<Vec<ColumnDefinition>> = LazyLock::new(|| {
        vec![
            ColumnDefinition::name(),
            ColumnDefinition::new(
                "Endpoints",
                "string",
                field_description::<Endpoints>("subsets"),
            ),
            ColumnDefinition::age(),
        ]
    });
    &COLUMNS
}

/// `formatEndpoints` of every port: up to three `ip:port`, then
/// `+ N more...`; `<none>` without subsets.
fn format_endpoints(endpoints: &Endpoints) -> String {
    const MAX: usize = 3;
    let subsets = endpoints.subsets.as_deref().unwrap_or_default();
    if subsets.is_empty() {
        return "<none>".to_string();
    }
    let mut list = Vec::new();
    let mut count = 0;
    for subset in subsets {
        let addresses = subset.addresses.as_deref().unwrap_or_default();
        let ports = subset.ports.as_deref().unwrap_or_default();
        if ports.is_empty() {
            for address in addresses {
                if list.len() < MAX {
                    list.push(address.ip.clone());
                }
                count += 1;
            }
            continue;
        }
        for port in ports {
            for address in addresses {
                if list.len() < MAX {
                    list.push(if address.ip.contains(':') {
                        format!("[{}]:{}", address.ip, port.port)
                    } else {
                        format!("{}:{}", address.ip, port.port)
                    });
                }
                count += 1;
            }
        }
    }
    let joined = list.join(",");
    if count > MAX {
        format!("{joined} + {} more...", count - MAX)
    } else {
        joined
    }
}

/// The endpoints' row (`printEndpoints`).
pub fn endpoints_row(endpoints: &Endpoints, now: DateTime<Utc>) -> Vec<Value> {
    vec![
        name_cell(&endpoints.metadata),
        Value::from(format_endpoints(endpoints)),
        age_cell(&endpoints.metadata, now),
    ]
}

/// The endpoint slice columns.
pub fn endpoint_slice_columns() -> &'static [ColumnDefinition] {
    static COLUMNS: LazyLock<Vec<ColumnDefinition>> = LazyLock::new(|| {
        vec![
            ColumnDefinition::name(),
            ColumnDefinition::new(
                "AddressType",
                "string",
                field_description::<EndpointSlice>("addressType"),
            ),
            ColumnDefinition::new(
                "Ports",
                "string",
                field_description::<EndpointSlice>("ports"),
            ),
            ColumnDefinition::new(
                "Endpoints",
                "string",
                field_description::<EndpointSlice>("endpoints"),
            ),
            ColumnDefinition::age(),
        ]
    });
    &COLUMNS
}

/// Name, address type, the first three ports (number, else name, else
/// `*`) and addresses, each with `+ N more...` (`<unset>` when none), age.
pub fn endpoint_slice_row(slice: &EndpointSlice, now: DateTime<Utc>) -> Vec<Value> {
    let ports = slice
        .ports
        .iter()
        .flatten()
        .map(|port| match (port.port, &port.name) {
            (Some(number), _) => number.to_string(),
            (None, Some(name)) => name.clone(),
            (None, None) => "*".to_string(),
        });
    let addresses = slice
        .endpoints
        .iter()
        .flat_map(|endpoint| endpoint.addresses.iter().cloned());
    vec![
        name_cell(&slice.metadata),
        Value::from(slice.address_type.clone()),
        Value::from(first_three_and_more(ports)),
        Value::from(first_three_and_more(addresses)),
        age_cell(&slice.metadata, now),
    ]
}

/// `listWithMoreString`: up to three values joined by `,`, then
/// `+ N more...`; `<unset>` for none.
fn first_three_and_more(values: impl Iterator<Item = String>) -> String {
    const MAX: usize = 3;
    let mut shown = Vec::new();
    let mut count = 0;
    for value in values {
        if shown.len() < MAX {
            shown.push(value);
        }
        count += 1;
    }
    let joined = shown.join(",");
    if count > MAX {
        format!("{joined} + {} more...", count - MAX)
    } else if joined.is_empty() {
        "<unset>".to_string()
    } else {
        joined
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{EndpointAddress, EndpointPort, EndpointSubset, ServicePort};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
    use std::collections::BTreeMap;

    fn meta(name: &str) -> ObjectMeta {
        ObjectMeta {
            name: Some(name.into()),
            creation_timestamp: Some(Time(DateTime::from_timestamp(0, 0).unwrap())),
            ..Default::default()
        }
    }

    #[test]
    fn service_columns_and_row() {
        let names: Vec<&str> = service_columns().iter().map(|c| &*c.name).collect();
        assert_eq!(
            names,
            [
                "Name",
                "Type",
                "Cluster-IP",
                "External-IP",
                "Port(s)",
                "Age",
                "Selector"
            ]
        );
        let service = Service {
            metadata: meta("web"),
            spec: Some(ServiceSpec {
                type_: Some("NodePort".into()),
                cluster_ips: Some(vec!["10.0.0.10".into()]),
                ports: Some(vec![
                    ServicePort {
                        port: 80,
                        node_port: Some(30080),
                        protocol: Some("TCP".into()),
                        ..Default::default()
                    },
                    ServicePort {
                        port: 53,
                        protocol: Some("UDP".into()),
                        ..Default::default()
                    },
                ]),
                selector: Some(BTreeMap::from([("app".to_string(), "web".to_string())])),
                ..Default::default()
            }),
            status: None,
        };
        let now = DateTime::from_timestamp(10 * 86400, 0).unwrap();
        assert_eq!(
            service_row(&service, now),
            vec![
                Value::from("web"),
                Value::from("NodePort"),
                Value::from("10.0.0.10"),
                Value::from("<none>"),
                Value::from("80:30080/TCP,53/UDP"),
                Value::from("10d"),
                Value::from("app=web"),
            ]
        );
        let mut lb = service.clone();
        lb.spec.as_mut().unwrap().type_ = Some("LoadBalancer".into());
        assert_eq!(external_ip(&lb), "<pending>");
    }

    #[test]
    fn endpoints_list_three_then_more() {
        let endpoints = Endpoints {
            metadata: meta("web"),
            subsets: Some(vec![EndpointSubset {
                addresses: Some(
                    ["10.0.0.1", "10.0.0.2", "10.0.0.3", "fd00::4"]
                        .iter()
                        .map(|ip| EndpointAddress {
                            ip: ip.to_string(),
                            ..Default::default()
                        })
                        .collect(),
                ),
                ports: Some(vec![EndpointPort {
                    port: 8080,
                    ..Default::default()
                }]),
                ..Default::default()
            }]),
        };
        assert_eq!(
            format_endpoints(&endpoints),
            "10.0.0.1:8080,10.0.0.2:8080,10.0.0.3:8080 + 1 more..."
        );
        assert_eq!(format_endpoints(&Endpoints::default()), "<none>");
        let names: Vec<&str> = endpoints_columns().iter().map(|c| &*c.name).collect();
        assert_eq!(names, ["Name", "Endpoints", "Age"]);
    }
}
