//! Tests of the Service strategy: defaults, validation messages, and the
//! allocation transactions of create, update and delete.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::*;

fn strategy() -> ServiceStrategy {
    ServiceStrategy::new(
        vec!["10.0.0.0/24".parse().expect("test cidr")],
        30000..=32767,
    )
}

fn service(name: &str, service_type: Option<&str>, ports: &[i32]) -> Service {
    Service {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some("default".to_string()),
            // As stored; an update must carry it.
            resource_version: Some("1".to_string()),
            ..ObjectMeta::default()
        },
        spec: Some(ServiceSpec {
            type_: service_type.map(str::to_string),
            selector: Some(BTreeMap::from([("app".to_string(), "web".to_string())])),
            ports: Some(
                ports
                    .iter()
                    .enumerate()
                    .map(|(i, port)| ServicePort {
                        name: (ports.len() > 1).then(|| format!("p{i}")),
                        port: *port,
                        ..ServicePort::default()
                    })
                    .collect(),
            ),
            ..ServiceSpec::default()
        }),
        status: None,
    }
}

fn spec(service: &Service) -> &ServiceSpec {
    service.spec.as_ref().expect("spec")
}

fn node_ports(service: &Service) -> Vec<i32> {
    ports(spec(service))
        .iter()
        .filter_map(|p| p.node_port)
        .collect()
}

fn ip(text: &str) -> IpAddr {
    text.parse().expect("test address")
}

/// Create as the store does: prepare, validate, begin; the finish function
/// learns `write_succeeds`.
fn create(
    strategy: &ServiceStrategy,
    mut service: Service,
    dry_run: bool,
    write_succeeds: bool,
) -> Result<Service, Box<Status>> {
    strategy.prepare_for_create(&mut service);
    let errors = strategy.validate(&service);
    if !errors.is_empty() {
        return Err(invalid(service.metadata.name.as_deref().unwrap_or(""), &errors).into());
    }
    let finish = strategy.begin_create(&mut service, dry_run)?;
    if let Some(finish) = finish {
        finish(write_succeeds);
    }
    Ok(service)
}

fn update(
    strategy: &ServiceStrategy,
    mut new: Service,
    old: &Service,
    write_succeeds: bool,
) -> Result<Service, Box<Status>> {
    strategy.prepare_for_update(&mut new, old);
    let errors = strategy.validate_update(&new, old);
    if !errors.is_empty() {
        return Err(invalid(new.metadata.name.as_deref().unwrap_or(""), &errors).into());
    }
    let finish = strategy.begin_update(&mut new, old, false)?;
    if let Some(finish) = finish {
        finish(write_succeeds);
    }
    Ok(new)
}

fn messages(errors: &ErrorList) -> Vec<String> {
    errors.iter().map(ToString::to_string).collect()
}

#[test]
fn resource_info_matches_upstream_discovery() {
    let strategy = strategy();
    let info = apiserver::registry::ResourceInfo::of(&strategy);
    assert_eq!(info.plural, "services");
    assert_eq!(info.short_names, &["svc"]);
    assert_eq!(info.categories, &["all"]);
    assert!(info.namespaced && info.has_status);
    assert!(strategy.returns_deleted_object());
    assert_eq!(
        strategy.selectable_field_names(),
        &["spec.clusterIP", "spec.type"]
    );
}

#[test]
fn defaults_are_filled_and_a_cluster_ip_allocated() {
    let strategy = strategy();
    let mut requested = service("web", None, &[80]);
    requested.status = Some(ServiceStatus {
        conditions: Some(Vec::new()),
        ..ServiceStatus::default()
    });
    let created = create(&strategy, requested, false, true).expect("created");
    let spec = spec(&created);
    assert_eq!(spec.type_.as_deref(), Some("ClusterIP"));
    assert_eq!(spec.session_affinity.as_deref(), Some("None"));
    assert_eq!(spec.internal_traffic_policy.as_deref(), Some("Cluster"));
    assert_eq!(spec.external_traffic_policy, None);
    assert_eq!(spec.ip_family_policy.as_deref(), Some("SingleStack"));
    assert_eq!(spec.ip_families, Some(vec!["IPv4".to_string()]));
    let port = &ports(spec)[0];
    assert_eq!(port.protocol.as_deref(), Some("TCP"));
    assert_eq!(port.target_port, Some(IntOrString::Int(80)));
    assert_eq!(port.node_port, None);
    let cluster_ip = spec.cluster_ip.clone().expect("cluster IP");
    assert_eq!(spec.cluster_ips, Some(vec![cluster_ip.clone()]));
    assert!(strategy.ip_in_use(ip(&cluster_ip)));
    assert_eq!(
        serde_json::to_value(&created.status).expect("json"),
        serde_json::json!({"loadBalancer": {}})
    );
    assert_eq!(
        strategy.selectable_fields(&created),
        vec![
            ("spec.clusterIP", cluster_ip),
            ("spec.type", "ClusterIP".to_string())
        ]
    );
}

#[test]
fn a_node_port_service_gets_a_port_in_range() {
    let strategy = strategy();
    let created = create(
        &strategy,
        service("web", Some("NodePort"), &[80, 443]),
        false,
        true,
    )
    .expect("created");
    let ports = node_ports(&created);
    assert_eq!(ports.len(), 2);
    assert_ne!(ports[0], ports[1]);
    for port in &ports {
        assert!((30000..=32767).contains(port), "{port}");
        assert!(strategy.node_port_in_use(*port));
    }
    assert_eq!(
        spec(&created).external_traffic_policy.as_deref(),
        Some("Cluster")
    );
}

#[test]
fn requested_values_are_honoured_and_conflicts_rejected() {
    let strategy = strategy();
    let mut first = service("first", Some("NodePort"), &[80]);
    if let Some(spec) = first.spec.as_mut() {
        spec.cluster_ip = Some("10.0.0.10".to_string());
        if let Some(port) = spec.ports.as_mut().and_then(|p| p.first_mut()) {
            port.node_port = Some(30080);
        }
    }
    let created = create(&strategy, first.clone(), false, true).expect("created");
    assert_eq!(spec(&created).cluster_ip.as_deref(), Some("10.0.0.10"));
    assert_eq!(node_ports(&created), vec![30080]);

    // The same node port again.
    let mut second = first.clone();
    second.metadata.name = Some("second".to_string());
    if let Some(spec) = second.spec.as_mut() {
        spec.cluster_ip = None;
    }
    let status = create(&strategy, second, false, true).expect_err("port taken");
    assert_eq!(status.code, 422);
    assert_eq!(status.reason, "Invalid");
    assert_eq!(
        status.message,
        "Service \"second\" is invalid: spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated"
    );

    // The same cluster IP again.
    let mut third = service("third", None, &[80]);
    if let Some(spec) = third.spec.as_mut() {
        spec.cluster_ip = Some("10.0.0.10".to_string());
    }
    let status = create(&strategy, third, false, true).expect_err("ip taken");
    assert_eq!(
        status.message,
        "Service \"third\" is invalid: spec.clusterIPs: Invalid value: []string{\"10.0.0.10\"}: failed to allocate IP 10.0.0.10: provided IP is already allocated"
    );

    // Out of range, both kinds.
    let mut outside = service("outside", Some("NodePort"), &[80]);
    if let Some(spec) = outside.spec.as_mut() {
        spec.cluster_ip = Some("10.9.0.1".to_string());
    }
    let status = create(&strategy, outside.clone(), false, true).expect_err("ip outside");
    assert_eq!(
        status.message,
        "Service \"outside\" is invalid: spec.clusterIPs: Invalid value: []string{\"10.9.0.1\"}: failed to allocate IP 10.9.0.1: the provided IP (10.9.0.1) is not in the valid range. The range of valid IPs is 10.0.0.0/24"
    );
    if let Some(spec) = outside.spec.as_mut() {
        spec.cluster_ip = None;
        if let Some(port) = spec.ports.as_mut().and_then(|p| p.first_mut()) {
            port.node_port = Some(80);
        }
    }
    let status = create(&strategy, outside, false, true).expect_err("port outside");
    assert_eq!(
        status.message,
        "Service \"outside\" is invalid: spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. The range of valid ports is 30000-32767"
    );
    // The failed creates kept nothing: one IP and one port, from `first`.
    assert_eq!(strategy.used(), (1, 1));
}

#[test]
fn dry_run_keeps_nothing() {
    let strategy = strategy();
    let created = create(
        &strategy,
        service("web", Some("LoadBalancer"), &[80]),
        true,
        true,
    )
    .expect("dry run");
    assert!(spec(&created).cluster_ip.is_some());
    assert_eq!(node_ports(&created).len(), 1);
    assert_eq!(strategy.used(), (0, 0));
}

#[test]
fn a_failed_write_releases_what_it_took() {
    let strategy = strategy();
    let created = create(
        &strategy,
        service("web", Some("NodePort"), &[80]),
        false,
        false,
    )
    .expect("allocated");
    let cluster_ip = spec(&created).cluster_ip.clone().expect("cluster IP");
    assert!(!strategy.ip_in_use(ip(&cluster_ip)));
    assert!(!strategy.node_port_in_use(node_ports(&created)[0]));
    assert_eq!(strategy.used(), (0, 0));
}

#[test]
fn type_changes_allocate_and_release() {
    let strategy = strategy();
    let cluster = create(&strategy, service("web", None, &[80]), false, true).expect("created");
    let cluster_ip = spec(&cluster).cluster_ip.clone();

    // ClusterIP -> NodePort: a node port; the cluster IP stays, even though
    // the request (kubectl replace) left it out.
    let mut as_node_port = service("web", Some("NodePort"), &[80]);
    as_node_port.metadata = cluster.metadata.clone();
    let node_port = update(&strategy, as_node_port, &cluster, true).expect("updated");
    assert_eq!(spec(&node_port).cluster_ip, cluster_ip);
    let port = node_ports(&node_port)[0];
    assert!(strategy.node_port_in_use(port));

    // NodePort -> ClusterIP: the port is released once the write succeeds,
    // and kept when it fails.
    let mut back = node_port.clone();
    if let Some(spec) = back.spec.as_mut() {
        spec.type_ = Some("ClusterIP".to_string());
    }
    let failed = update(&strategy, back.clone(), &node_port, false).expect("prepared");
    assert!(strategy.node_port_in_use(port));
    assert_eq!(node_ports(&failed), Vec::<i32>::new());
    let back = update(&strategy, back, &node_port, true).expect("updated");
    assert!(!strategy.node_port_in_use(port));
    assert_eq!(spec(&back).external_traffic_policy, None);

    // ClusterIP -> ExternalName releases the IP; back to ClusterIP takes one.
    let mut external = back.clone();
    if let Some(spec) = external.spec.as_mut() {
        spec.type_ = Some("ExternalName".to_string());
        spec.external_name = Some("example.com".to_string());
    }
    let external = update(&strategy, external, &back, true).expect("updated");
    assert_eq!(spec(&external).cluster_ip, None);
    assert_eq!(strategy.used(), (0, 0));
    let mut again = external.clone();
    if let Some(spec) = again.spec.as_mut() {
        spec.type_ = Some("ClusterIP".to_string());
        spec.external_name = None;
    }
    let again = update(&strategy, again, &external, true).expect("updated");
    let new_ip = spec(&again).cluster_ip.clone().expect("cluster IP");
    assert!(strategy.ip_in_use(ip(&new_ip)));
    assert_eq!(strategy.used(), (1, 0));
}

#[test]
fn the_cluster_ip_may_not_change() {
    let strategy = strategy();
    let created = create(&strategy, service("web", None, &[80]), false, true).expect("created");
    let mut changed = created.clone();
    if let Some(spec) = changed.spec.as_mut() {
        spec.cluster_ip = Some("10.0.0.99".to_string());
        spec.cluster_ips = Some(vec!["10.0.0.99".to_string()]);
    }
    let status = update(&strategy, changed, &created, true).expect_err("immutable");
    assert_eq!(
        status.message,
        "Service \"web\" is invalid: spec.clusterIPs[0]: Invalid value: []string{\"10.0.0.99\"}: may not change once set"
    );
}

#[test]
fn delete_and_restore() {
    let strategy = strategy();
    let created = create(
        &strategy,
        service("web", Some("NodePort"), &[80]),
        false,
        true,
    )
    .expect("created");
    assert_eq!(strategy.used(), (1, 1));

    let restarted = super::ServiceStrategy::new(
        vec!["10.0.0.0/24".parse().expect("test cidr")],
        30000..=32767,
    );
    restarted.restore([&created]);
    assert_eq!(restarted.used(), (1, 1));
    let cluster_ip = spec(&created).cluster_ip.clone().expect("cluster IP");
    assert!(restarted.ip_in_use(ip(&cluster_ip)));

    strategy.after_delete(&created);
    assert_eq!(strategy.used(), (0, 0));
}

/// A write whose commit step never ran leaves its values in the pools with
/// no stored service: repair releases them after three passes in a row, not
/// before (a create in flight looks the same for a moment); a stored service
/// whose values the pools lost gets them back at once.
#[test]
fn repair_releases_leaks_after_three_passes_and_retakes_stored_values() {
    let strategy = strategy();
    let stored = create(
        &strategy,
        service("kept", Some("NodePort"), &[80]),
        false,
        true,
    )
    .expect("created");
    // A create whose commit step never ran: its values stay taken.
    let mut leaked = service("lost", Some("NodePort"), &[81]);
    strategy.prepare_for_create(&mut leaked);
    let finish = strategy
        .begin_create(&mut leaked, false)
        .expect("allocated");
    drop(finish);
    assert_eq!(strategy.used(), (2, 2));

    let mut leaks = Leaks::default();
    for pass in 1..REPAIRS_BEFORE_RELEASE {
        let repaired = strategy.repair([&stored], &mut leaks);
        assert_eq!(repaired, Repaired::default(), "pass {pass}");
        assert_eq!(strategy.used(), (2, 2), "released too early, pass {pass}");
    }
    let repaired = strategy.repair([&stored], &mut leaks);
    assert_eq!(
        repaired,
        Repaired {
            taken: 0,
            released: 2
        }
    );
    assert_eq!(strategy.used(), (1, 1));
    let kept_ip = ip(spec(&stored).cluster_ip.as_deref().expect("cluster IP"));
    assert!(strategy.ip_in_use(kept_ip));
    assert!(strategy.node_port_in_use(node_ports(&stored)[0]));

    // A value seen leaked once, then stored again, starts counting afresh.
    let mut leaks = Leaks::default();
    strategy.after_delete(&stored);
    assert_eq!(strategy.used(), (0, 0));
    let repaired = strategy.repair([&stored], &mut leaks);
    assert_eq!(
        repaired,
        Repaired {
            taken: 2,
            released: 0
        }
    );
    assert!(strategy.ip_in_use(kept_ip));
    for _ in 0..REPAIRS_BEFORE_RELEASE {
        assert_eq!(strategy.repair([&stored], &mut leaks).released, 0);
    }
}

#[test]
fn headless_and_external_name_take_no_address() {
    let strategy = strategy();
    let mut headless = service("db", None, &[]);
    if let Some(spec) = headless.spec.as_mut() {
        spec.cluster_ip = Some("None".to_string());
    }
    let created = create(&strategy, headless, false, true).expect("headless");
    assert_eq!(spec(&created).cluster_ips, Some(vec!["None".to_string()]));
    let mut external = service("ext", Some("ExternalName"), &[]);
    if let Some(spec) = external.spec.as_mut() {
        spec.external_name = Some("example.com.".to_string());
    }
    create(&strategy, external, false, true).expect("external name");
    assert_eq!(strategy.used(), (0, 0));
}

#[test]
fn validation_messages_and_paths() {
    let strategy = strategy();
    let mut bad = service("Web", Some("Fancy"), &[0, 80, 80]);
    if let Some(spec) = bad.spec.as_mut() {
        spec.cluster_ip = Some("300.1.1.1".to_string());
        spec.session_affinity = Some("Sticky".to_string());
        if let Some(ports) = spec.ports.as_mut() {
            ports[0].protocol = Some("ICMP".to_string());
            ports[1].name = Some("p0".to_string());
        }
    }
    strategy.prepare_for_create(&mut bad);
    let found = messages(&strategy.validate(&bad));
    for expected in [
        "spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
        "spec.ports[0].protocol: Unsupported value: \"ICMP\": supported values: \"SCTP\", \"TCP\", \"UDP\"",
        "spec.ports[1].name: Duplicate value: \"p0\"",
        "spec.ports[2]: Duplicate value: core.ServicePort{Name:\"\", Protocol:\"TCP\", AppProtocol:(*string)(nil), Port:80, TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}, NodePort:0}",
        "spec.sessionAffinity: Unsupported value: \"Sticky\": supported values: \"ClientIP\", \"None\"",
        "spec.clusterIPs[0]: Invalid value: \"300.1.1.1\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
        "spec.type: Unsupported value: \"Fancy\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\"",
    ] {
        assert!(
            found.iter().any(|m| m == expected),
            "missing {expected:?} in {found:#?}"
        );
    }
    assert!(
        found
            .iter()
            .any(|m| m.starts_with("metadata.name: Invalid value: \"Web\""))
    );

    let mut no_ports = service("web", None, &[]);
    strategy.prepare_for_create(&mut no_ports);
    assert_eq!(
        messages(&strategy.validate(&no_ports)),
        vec!["spec.ports: Required value".to_string()]
    );

    let mut unnamed = service("web", None, &[80, 81]);
    if let Some(ports) = unnamed.spec.as_mut().and_then(|s| s.ports.as_mut()) {
        ports[1].name = None;
        ports[0].node_port = Some(30001);
    }
    strategy.prepare_for_create(&mut unnamed);
    let found = messages(&strategy.validate(&unnamed));
    assert!(found.contains(&"spec.ports[1].name: Required value".to_string()));
    assert!(
        found.contains(
            &"spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"
                .to_string()
        )
    );

    let mut external = service("ext", Some("ExternalName"), &[]);
    strategy.prepare_for_create(&mut external);
    assert_eq!(
        messages(&strategy.validate(&external)),
        vec!["spec.externalName: Required value".to_string()]
    );
}

#[test]
fn dual_stack_clusters_give_both_families_on_request() {
    let strategy = ServiceStrategy::new(
        vec![
            "10.0.0.0/24".parse().expect("test cidr"),
            "fd00::/108".parse().expect("test cidr"),
        ],
        30000..=32767,
    );
    let mut dual = service("web", None, &[80]);
    if let Some(spec) = dual.spec.as_mut() {
        spec.ip_family_policy = Some("PreferDualStack".to_string());
    }
    let created = create(&strategy, dual, false, true).expect("created");
    let spec = spec(&created);
    assert_eq!(
        spec.ip_families,
        Some(vec!["IPv4".to_string(), "IPv6".to_string()])
    );
    let ips = cluster_ips(spec);
    assert_eq!(ips.len(), 2);
    assert!(ip(&ips[0]).is_ipv4() && ip(&ips[1]).is_ipv6());
    assert_eq!(strategy.used(), (2, 0));

    let single = ServiceStrategy::new(vec!["10.0.0.0/24".parse().expect("cidr")], 30000..=32767);
    let mut required = service("web", None, &[80]);
    if let Some(spec) = required.spec.as_mut() {
        spec.ip_family_policy = Some("RequireDualStack".to_string());
    }
    let status = create(&single, required, false, true).expect_err("single-stack cluster");
    assert_eq!(
        status.message,
        "Service \"web\" is invalid: spec.ipFamilyPolicy: Invalid value: \"RequireDualStack\": this cluster is not configured for dual-stack services"
    );
}
