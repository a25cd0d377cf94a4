//! Tests of the Service strategy: defaults, validation messages, and the
//! allocation transactions of create, update and delete.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::*;

use apiserver_storage::{EmbeddedOptions, EmbeddedStorage};

/// A strategy whose pools are stored in a temporary embedded store.
struct TestStrategy {
    strategy: ServiceStrategy,
    storage: Arc<dyn Storage>,
    _dir: tempfile::TempDir,
}

impl std::ops::Deref for TestStrategy {
    type Target = ServiceStrategy;

    fn deref(&self) -> &ServiceStrategy {
        &self.strategy
    }
}

impl TestStrategy {
    /// Another apiserver's strategy over the same store.
    fn sibling(&self, ranges: &[&str]) -> ServiceStrategy {
        ServiceStrategy::new(
            ranges
                .iter()
                .map(|r| r.parse().expect("test cidr"))
                .collect(),
            30000..=32767,
            Arc::clone(&self.storage),
        )
    }
}

async fn strategy_with(ranges: &[&str]) -> TestStrategy {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let storage: Arc<dyn Storage> = Arc::new(
        EmbeddedStorage::open(dir.path(), EmbeddedOptions::default())
            .await
            .expect("embedded store"),
    );
    let strategy = ServiceStrategy::new(
        ranges
            .iter()
            .map(|r| r.parse().expect("test cidr"))
            .collect(),
        30000..=32767,
        Arc::clone(&storage),
    );
    TestStrategy {
        strategy,
        storage,
        _dir: dir,
    }
}

async fn strategy() -> TestStrategy {
    strategy_with(&["10.0.0.0/24"]).await
}

async fn used(strategy: &ServiceStrategy) -> (usize, usize) {
    strategy.used().await.expect("stored pools")
}

async fn ip_in_use(strategy: &ServiceStrategy, ip: IpAddr) -> bool {
    strategy.ip_in_use(ip).await.expect("stored pools")
}

async fn port_in_use(strategy: &ServiceStrategy, port: i32) -> bool {
    strategy.node_port_in_use(port).await.expect("stored pools")
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
async fn create(
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
    let finish = strategy.begin_create(&mut service, dry_run).await?;
    if let Some(finish) = finish {
        finish(write_succeeds).await;
    }
    Ok(service)
}

async fn update(
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
    let finish = strategy.begin_update(&mut new, old, false).await?;
    if let Some(finish) = finish {
        finish(write_succeeds).await;
    }
    Ok(new)
}

fn messages(errors: &ErrorList) -> Vec<String> {
    errors.iter().map(ToString::to_string).collect()
}

#[tokio::test]
async fn resource_info_matches_upstream_discovery() {
    let strategy = strategy().await;
    let info = apiserver::registry::ResourceInfo::of(&*strategy);
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

#[tokio::test]
async fn defaults_are_filled_and_a_cluster_ip_allocated() {
    let strategy = strategy().await;
    let mut requested = service("web", None, &[80]);
    requested.status = Some(ServiceStatus {
        conditions: Some(Vec::new()),
        ..ServiceStatus::default()
    });
    let created = create(&strategy, requested, false, true)
        .await
        .expect("created");
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
    assert!(ip_in_use(&strategy, ip(&cluster_ip)).await);
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

#[tokio::test]
async fn a_node_port_service_gets_a_port_in_range() {
    let strategy = strategy().await;
    let created = create(
        &strategy,
        service("web", Some("NodePort"), &[80, 443]),
        false,
        true,
    )
    .await
    .expect("created");
    let ports = node_ports(&created);
    assert_eq!(ports.len(), 2);
    assert_ne!(ports[0], ports[1]);
    for port in &ports {
        assert!((30000..=32767).contains(port), "{port}");
        assert!(port_in_use(&strategy, *port).await);
    }
    assert_eq!(
        spec(&created).external_traffic_policy.as_deref(),
        Some("Cluster")
    );
}

#[tokio::test]
async fn requested_values_are_honoured_and_conflicts_rejected() {
    let strategy = strategy().await;
    let mut first = service("first", Some("NodePort"), &[80]);
    if let Some(spec) = first.spec.as_mut() {
        spec.cluster_ip = Some("10.0.0.10".to_string());
        if let Some(port) = spec.ports.as_mut().and_then(|p| p.first_mut()) {
            port.node_port = Some(30080);
        }
    }
    let created = create(&strategy, first.clone(), false, true)
        .await
        .expect("created");
    assert_eq!(spec(&created).cluster_ip.as_deref(), Some("10.0.0.10"));
    assert_eq!(node_ports(&created), vec![30080]);

    // The same node port again.
    let mut second = first.clone();
    second.metadata.name = Some("second".to_string());
    if let Some(spec) = second.spec.as_mut() {
        spec.cluster_ip = None;
    }
    let status = create(&strategy, second, false, true)
        .await
        .expect_err("port taken");
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
    let status = create(&strategy, third, false, true)
        .await
        .expect_err("ip taken");
    assert_eq!(
        status.message,
        "Service \"third\" is invalid: spec.clusterIPs: Invalid value: []string{\"10.0.0.10\"}: failed to allocate IP 10.0.0.10: provided IP is already allocated"
    );

    // Out of range, both kinds.
    let mut outside = service("outside", Some("NodePort"), &[80]);
    if let Some(spec) = outside.spec.as_mut() {
        spec.cluster_ip = Some("10.9.0.1".to_string());
    }
    let status = create(&strategy, outside.clone(), false, true)
        .await
        .expect_err("ip outside");
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
    let status = create(&strategy, outside, false, true)
        .await
        .expect_err("port outside");
    assert_eq!(
        status.message,
        "Service \"outside\" is invalid: spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. The range of valid ports is 30000-32767"
    );
    // The failed creates kept nothing: one IP and one port, from `first`.
    assert_eq!(used(&strategy).await, (1, 1));
}

#[tokio::test]
async fn dry_run_keeps_nothing() {
    let strategy = strategy().await;
    let created = create(
        &strategy,
        service("web", Some("LoadBalancer"), &[80]),
        true,
        true,
    )
    .await
    .expect("dry run");
    assert!(spec(&created).cluster_ip.is_some());
    assert_eq!(node_ports(&created).len(), 1);
    assert_eq!(used(&strategy).await, (0, 0));
}

#[tokio::test]
async fn a_failed_write_releases_what_it_took() {
    let strategy = strategy().await;
    let created = create(
        &strategy,
        service("web", Some("NodePort"), &[80]),
        false,
        false,
    )
    .await
    .expect("allocated");
    let cluster_ip = spec(&created).cluster_ip.clone().expect("cluster IP");
    assert!(!ip_in_use(&strategy, ip(&cluster_ip)).await);
    assert!(!port_in_use(&strategy, node_ports(&created)[0]).await);
    assert_eq!(used(&strategy).await, (0, 0));
}

#[tokio::test]
async fn type_changes_allocate_and_release() {
    let strategy = strategy().await;
    let cluster = create(&strategy, service("web", None, &[80]), false, true)
        .await
        .expect("created");
    let cluster_ip = spec(&cluster).cluster_ip.clone();

    // ClusterIP -> NodePort: a node port; the cluster IP stays, even though
    // the request (kubectl replace) left it out.
    let mut as_node_port = service("web", Some("NodePort"), &[80]);
    as_node_port.metadata = cluster.metadata.clone();
    let node_port = update(&strategy, as_node_port, &cluster, true)
        .await
        .expect("updated");
    assert_eq!(spec(&node_port).cluster_ip, cluster_ip);
    let port = node_ports(&node_port)[0];
    assert!(port_in_use(&strategy, port).await);

    // NodePort -> ClusterIP: the port is released once the write succeeds,
    // and kept when it fails.
    let mut back = node_port.clone();
    if let Some(spec) = back.spec.as_mut() {
        spec.type_ = Some("ClusterIP".to_string());
    }
    let failed = update(&strategy, back.clone(), &node_port, false)
        .await
        .expect("prepared");
    assert!(port_in_use(&strategy, port).await);
    assert_eq!(node_ports(&failed), Vec::<i32>::new());
    let back = update(&strategy, back, &node_port, true)
        .await
        .expect("updated");
    assert!(!port_in_use(&strategy, port).await);
    assert_eq!(spec(&back).external_traffic_policy, None);

    // ClusterIP -> ExternalName releases the IP; back to ClusterIP takes one.
    let mut external = back.clone();
    if let Some(spec) = external.spec.as_mut() {
        spec.type_ = Some("ExternalName".to_string());
        spec.external_name = Some("example.com".to_string());
    }
    let external = update(&strategy, external, &back, true)
        .await
        .expect("updated");
    assert_eq!(spec(&external).cluster_ip, None);
    assert_eq!(used(&strategy).await, (0, 0));
    let mut again = external.clone();
    if let Some(spec) = again.spec.as_mut() {
        spec.type_ = Some("ClusterIP".to_string());
        spec.external_name = None;
    }
    let again = update(&strategy, again, &external, true)
        .await
        .expect("updated");
    let new_ip = spec(&again).cluster_ip.clone().expect("cluster IP");
    assert!(ip_in_use(&strategy, ip(&new_ip)).await);
    assert_eq!(used(&strategy).await, (1, 0));
}

#[tokio::test]
async fn the_cluster_ip_may_not_change() {
    let strategy = strategy().await;
    let created = create(&strategy, service("web", None, &[80]), false, true)
        .await
        .expect("created");
    let mut changed = created.clone();
    if let Some(spec) = changed.spec.as_mut() {
        spec.cluster_ip = Some("10.0.0.99".to_string());
        spec.cluster_ips = Some(vec!["10.0.0.99".to_string()]);
    }
    let status = update(&strategy, changed, &created, true)
        .await
        .expect_err("immutable");
    assert_eq!(
        status.message,
        "Service \"web\" is invalid: spec.clusterIPs[0]: Invalid value: []string{\"10.0.0.99\"}: may not change once set"
    );
}

#[tokio::test]
async fn delete_and_restore() {
    let strategy = strategy().await;
    let created = create(
        &strategy,
        service("web", Some("NodePort"), &[80]),
        false,
        true,
    )
    .await
    .expect("created");
    assert_eq!(used(&strategy).await, (1, 1));

    // A restarted apiserver over the same store sees the stored pools; the
    // start's restore pass finds nothing to add.
    let restarted = strategy.sibling(&["10.0.0.0/24"]);
    let restored = restarted.restore([&created]).await.expect("restore");
    assert_eq!(restored, Repaired::default());
    assert_eq!(used(&restarted).await, (1, 1));
    let cluster_ip = spec(&created).cluster_ip.clone().expect("cluster IP");
    assert!(ip_in_use(&restarted, ip(&cluster_ip)).await);

    strategy.after_delete(&created).await;
    assert_eq!(used(&strategy).await, (0, 0));
}

/// A write whose commit step never ran leaves its values in the pools with
/// no stored service: repair releases them after three passes in a row, not
/// before (a create in flight looks the same for a moment); a stored service
/// whose values the pools lost gets them back at once.
#[tokio::test]
async fn repair_releases_leaks_after_three_passes_and_retakes_stored_values() {
    let strategy = strategy().await;
    let stored = create(
        &strategy,
        service("kept", Some("NodePort"), &[80]),
        false,
        true,
    )
    .await
    .expect("created");
    // A create whose commit step never ran: its values stay taken.
    let mut leaked = service("lost", Some("NodePort"), &[81]);
    strategy.prepare_for_create(&mut leaked);
    let finish = strategy
        .begin_create(&mut leaked, false)
        .await
        .expect("allocated");
    drop(finish);
    assert_eq!(used(&strategy).await, (2, 2));

    let mut leaks = Leaks::default();
    for pass in 1..REPAIRS_BEFORE_RELEASE {
        let repaired = strategy
            .repair([&stored], &mut leaks)
            .await
            .expect("repair");
        assert_eq!(repaired, Repaired::default(), "pass {pass}");
        assert_eq!(
            used(&strategy).await,
            (2, 2),
            "released too early, pass {pass}"
        );
    }
    let repaired = strategy
        .repair([&stored], &mut leaks)
        .await
        .expect("repair");
    assert_eq!(
        repaired,
        Repaired {
            taken: 0,
            released: 2
        }
    );
    assert_eq!(used(&strategy).await, (1, 1));
    let kept_ip = ip(spec(&stored).cluster_ip.as_deref().expect("cluster IP"));
    assert!(ip_in_use(&strategy, kept_ip).await);
    assert!(port_in_use(&strategy, node_ports(&stored)[0]).await);

    // A value seen leaked once, then stored again, starts counting afresh.
    let mut leaks = Leaks::default();
    strategy.after_delete(&stored).await;
    assert_eq!(used(&strategy).await, (0, 0));
    let repaired = strategy
        .repair([&stored], &mut leaks)
        .await
        .expect("repair");
    assert_eq!(
        repaired,
        Repaired {
            taken: 2,
            released: 0
        }
    );
    assert!(ip_in_use(&strategy, kept_ip).await);
    for _ in 0..REPAIRS_BEFORE_RELEASE {
        assert_eq!(
            strategy
                .repair([&stored], &mut leaks)
                .await
                .expect("repair")
                .released,
            0
        );
    }
}

#[tokio::test]
async fn headless_and_external_name_take_no_address() {
    let strategy = strategy().await;
    let mut headless = service("db", None, &[]);
    if let Some(spec) = headless.spec.as_mut() {
        spec.cluster_ip = Some("None".to_string());
    }
    let created = create(&strategy, headless, false, true)
        .await
        .expect("headless");
    assert_eq!(spec(&created).cluster_ips, Some(vec!["None".to_string()]));
    let mut external = service("ext", Some("ExternalName"), &[]);
    if let Some(spec) = external.spec.as_mut() {
        spec.external_name = Some("example.com.".to_string());
    }
    create(&strategy, external, false, true)
        .await
        .expect("external name");
    assert_eq!(used(&strategy).await, (0, 0));
}

#[tokio::test]
async fn validation_messages_and_paths() {
    let strategy = strategy().await;
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

/// Bad values inside a rendered slice or struct print as Go's `%q` (`\a`,
/// `\x1b`), not as Rust's `{:?}` (`\u{7}`, `\u{1b}`).
#[test]
fn rendered_values_quote_strings_as_go_does() {
    let mut bad = service("web", None, &[80, 80]);
    if let Some(spec) = bad.spec.as_mut() {
        spec.cluster_ip = Some("None".to_string());
        spec.cluster_ips = Some(vec!["None".to_string(), "bell\u{7}".to_string()]);
        for port in spec.ports.iter_mut().flatten() {
            port.name = None;
            port.protocol = Some("esc\u{1b}".to_string());
        }
    }
    let found = messages(&validation::validate_service(&bad));
    for expected in [
        r#"spec.clusterIPs: Invalid value: []string{"None", "bell\a"}: 'None' must be the first and only value"#,
        r#"spec.clusterIPs[1]: Invalid value: "bell\a": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"#,
        r#"spec.ports[1]: Duplicate value: core.ServicePort{Name:"", Protocol:"esc\x1b", AppProtocol:(*string)(nil), Port:80, TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:""}, NodePort:0}"#,
    ] {
        assert!(
            found.iter().any(|m| m == expected),
            "missing {expected:?} in {found:#?}"
        );
    }
}

#[tokio::test]
async fn dual_stack_clusters_give_both_families_on_request() {
    let strategy = strategy_with(&["10.0.0.0/24", "fd00::/108"]).await;
    let mut dual = service("web", None, &[80]);
    if let Some(spec) = dual.spec.as_mut() {
        spec.ip_family_policy = Some("PreferDualStack".to_string());
    }
    let created = create(&strategy, dual, false, true).await.expect("created");
    let spec = spec(&created);
    assert_eq!(
        spec.ip_families,
        Some(vec!["IPv4".to_string(), "IPv6".to_string()])
    );
    let ips = cluster_ips(spec);
    assert_eq!(ips.len(), 2);
    assert!(ip(&ips[0]).is_ipv4() && ip(&ips[1]).is_ipv6());
    assert_eq!(used(&strategy).await, (2, 0));

    let single = strategy_with(&["10.0.0.0/24"]).await;
    let mut required = service("web", None, &[80]);
    if let Some(spec) = required.spec.as_mut() {
        spec.ip_family_policy = Some("RequireDualStack".to_string());
    }
    let status = create(&single, required, false, true)
        .await
        .expect_err("single-stack cluster");
    assert_eq!(
        status.message,
        "Service \"web\" is invalid: spec.ipFamilyPolicy: Invalid value: \"RequireDualStack\": this cluster is not configured for dual-stack services"
    );
}

/// Two apiservers over one store, allocating at the same time: every
/// service gets its own cluster IP and node port, and of two asking for the
/// same value exactly one gets it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apiservers_sharing_a_store_never_hand_out_a_value_twice() {
    const PER_APISERVER: usize = 12;
    let first = strategy_with(&["10.0.0.0/26"]).await;
    let apiservers = [first.strategy.clone(), first.sibling(&["10.0.0.0/26"])];
    let mut tasks = Vec::new();
    for (index, apiserver) in apiservers.iter().enumerate() {
        for n in 0..PER_APISERVER {
            let apiserver = apiserver.clone();
            tasks.push(tokio::spawn(async move {
                let name = format!("svc-{index}-{n}");
                create(
                    &apiserver,
                    service(&name, Some("NodePort"), &[80]),
                    false,
                    true,
                )
                .await
            }));
        }
    }
    let mut ips = HashSet::new();
    let mut ports = HashSet::new();
    for task in tasks {
        let created = task.await.expect("task").expect("created");
        assert!(ips.insert(spec(&created).cluster_ip.clone().expect("cluster IP")));
        assert!(ports.insert(node_ports(&created)[0]));
    }
    assert_eq!(ips.len(), 2 * PER_APISERVER);
    for apiserver in &apiservers {
        assert_eq!(
            used(apiserver).await,
            (2 * PER_APISERVER, 2 * PER_APISERVER)
        );
    }

    // The same requested IP through both at once: one wins, one is told.
    let mut racers = Vec::new();
    for (index, apiserver) in apiservers.iter().enumerate() {
        let apiserver = apiserver.clone();
        racers.push(tokio::spawn(async move {
            let mut wanted = service(&format!("want-{index}"), None, &[80]);
            if let Some(spec) = wanted.spec.as_mut() {
                spec.cluster_ip = Some("10.0.0.5".to_string());
            }
            create(&apiserver, wanted, false, true).await
        }));
    }
    let mut outcomes = Vec::new();
    for racer in racers {
        outcomes.push(racer.await.expect("task"));
    }
    assert_eq!(
        outcomes.iter().filter(|o| o.is_ok()).count(),
        1,
        "{outcomes:?}"
    );
    let lost = outcomes
        .into_iter()
        .find_map(Result::err)
        .expect("one refusal");
    assert!(
        lost.message.ends_with("provided IP is already allocated"),
        "{}",
        lost.message
    );

    // What one releases the other can take at once.
    let mut held = service("held", None, &[80]);
    if let Some(spec) = held.spec.as_mut() {
        spec.cluster_ip = Some("10.0.0.6".to_string());
    }
    let held = create(&apiservers[0], held, false, true)
        .await
        .expect("created");
    apiservers[0].after_delete(&held).await;
    let mut again = held.clone();
    again.metadata.name = Some("again".to_string());
    create(&apiservers[1], again, false, true)
        .await
        .expect("released through the other apiserver");
}

/// The pools are upstream's `RangeAllocation` objects at upstream's keys.
#[tokio::test]
async fn the_pools_are_stored_as_range_allocations() {
    let strategy = strategy().await;
    create(
        &strategy,
        service("web", Some("NodePort"), &[80]),
        false,
        true,
    )
    .await
    .expect("created");
    let stored = strategy
        .storage
        .get(stored_pools::SERVICE_IPS_KEY)
        .await
        .expect("stored IP range");
    let object: serde_json::Value = serde_json::from_slice(&stored.value).expect("json");
    assert_eq!(object["kind"], "RangeAllocation");
    assert_eq!(object["apiVersion"], "v1");
    assert_eq!(object["range"], "10.0.0.0/24");
    assert!(object["data"].as_str().is_some_and(|data| !data.is_empty()));
    let ports = strategy
        .storage
        .get(stored_pools::NODE_PORTS_KEY)
        .await
        .expect("stored node ports");
    let object: serde_json::Value = serde_json::from_slice(&ports.value).expect("json");
    assert_eq!(object["range"], "30000-32767");

    // An apiserver configured with another range does not trust the
    // stored bitmap: it starts empty and the repair pass re-takes what the
    // stored services hold.
    let other = strategy.sibling(&["10.1.0.0/24"]);
    assert_eq!(used(&other).await, (0, 1));
}

/// An allocation that takes and gives back nothing (an update that keeps
/// the allocated values, a headless service) is answered without reading
/// storage; one that takes a value reads the stored pools.
#[tokio::test]
async fn only_allocations_that_take_or_give_back_read_storage() {
    let storage = Arc::new(crate::testing::CountingGets::open().await);
    let strategy = ServiceStrategy::new(
        vec!["10.0.0.0/24".parse().expect("test cidr")],
        30000..=32767,
        storage.clone(),
    );
    let created = create(&strategy, service("web", None, &[80]), false, true)
        .await
        .expect("created");
    let before = storage.gets();
    assert!(before > 0, "taking a cluster IP reads the stored pools");

    let mut relabelled = created.clone();
    relabelled.metadata.labels = Some(BTreeMap::from([("tier".to_string(), "web".to_string())]));
    update(&strategy, relabelled, &created, true)
        .await
        .expect("updated");
    let mut headless = service("db", None, &[]);
    if let Some(spec) = headless.spec.as_mut() {
        spec.cluster_ip = Some("None".to_string());
    }
    create(&strategy, headless, false, true)
        .await
        .expect("headless");
    assert_eq!(storage.gets(), before, "nothing taken, nothing read");
}
