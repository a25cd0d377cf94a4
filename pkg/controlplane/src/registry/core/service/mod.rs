//! Services (`pkg/registry/core/service` and its `storage` package): the
//! strategy (defaults, validation, type-dependent field handling), and the
//! allocation of cluster IPs and node ports from the shared pools on create,
//! update and delete, with upstream's error messages.
//!
//! Allocation is transactional: `begin_create`/`begin_update` take what the
//! object needs and return a [`FinishFunc`]; a failed write gives it back, a
//! successful update releases what the old object held and the new one does
//! not. The pools live in storage ([`stored_pools`]), so apiservers sharing
//! one never hand out a value twice. Defaults and the
//! `clusterIP`/`clusterIPs` normalisation run in both the `prepare_*` and
//! `begin_*` hooks (they are idempotent), so the result is the same
//! whichever order the store calls them in.

pub mod ipallocator;
pub mod portallocator;
pub mod stored_pools;
pub mod validation;

mod bitmap;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::convert::Infallible;
use std::net::IpAddr;
use std::ops::RangeInclusive;
use std::sync::Arc;

use ipnet::IpNet;
use k8s_openapi::api::core::v1::{
    ClientIPConfig, LoadBalancerStatus, Service, ServiceSpec, ServiceStatus, SessionAffinityConfig,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use apimachinery::validation::field::{Error, ErrorList, Path};
use apimachinery::validation::go_syntax::{go_string_slice, invalid_shown};
use apiserver::registry::{FinishFunc, ResourceNames, StatusStrategy, Strategy};
use apiserver::status::Status;
use apiserver_storage::{Storage, StorageError};

use self::ipallocator::IpFamily;
use self::stored_pools::{PoolsError, StoredPools};
use self::validation::{
    AFFINITY_CLIENT_IP, AFFINITY_NONE, CLUSTER_IP_NONE, POLICY_PREFER_DUAL_STACK,
    POLICY_REQUIRE_DUAL_STACK, POLICY_SINGLE_STACK, TRAFFIC_POLICY_CLUSTER, TYPE_CLUSTER_IP,
    TYPE_EXTERNAL_NAME, TYPE_LOAD_BALANCER, TYPE_NODE_PORT, cluster_ips, externally_accessible,
    is_headless, needs_health_check, ports, service_type,
};

/// `v1.DefaultClientIPServiceAffinitySeconds` (3 hours).
const DEFAULT_CLIENT_IP_AFFINITY_SECONDS: i32 = 10800;

static INFO: ResourceNames = ResourceNames {
    group: "",
    version: "v1",
    kind: "Service",
    plural: "services",
    singular: "service",
    namespaced: true,
    short_names: &["svc"],
    categories: &["all"],
};

const SELECTABLE_FIELDS: &[&str] = &["spec.clusterIP", "spec.type"];

/// The pools every service shares: one IP allocator per configured family
/// (the primary range first) and the node ports.
#[derive(Debug)]
struct Allocators {
    ips: Vec<ipallocator::Allocator>,
    node_ports: portallocator::Allocator,
}

impl Allocators {
    fn ip_allocator(&mut self, family: IpFamily) -> Option<&mut ipallocator::Allocator> {
        self.ips.iter_mut().find(|alloc| alloc.family() == family)
    }

    fn has_family(&self, family: IpFamily) -> bool {
        self.ips.iter().any(|alloc| alloc.family() == family)
    }

    fn release_ip(&mut self, ip: IpAddr) {
        if let Some(alloc) = self.ip_allocator(IpFamily::of(&ip)) {
            alloc.release(ip);
        }
    }
}

/// What one write took from the pools, and what it gives back once it has
/// succeeded.
#[derive(Debug, Default)]
struct Taken {
    ips: Vec<IpAddr>,
    node_ports: Vec<i32>,
    release_ips_on_success: Vec<IpAddr>,
    release_node_ports_on_success: Vec<i32>,
}

impl Taken {
    fn revert(&self, allocators: &mut Allocators) {
        for ip in &self.ips {
            allocators.release_ip(*ip);
        }
        for port in &self.node_ports {
            allocators.node_ports.release(*port);
        }
    }

    fn commit(&self, allocators: &mut Allocators) {
        for ip in &self.release_ips_on_success {
            allocators.release_ip(*ip);
        }
        for port in &self.release_node_ports_on_success {
            // A port the new object took again stays taken.
            if !self.node_ports.contains(port) {
                allocators.node_ports.release(*port);
            }
        }
    }

    fn is_empty(&self) -> bool {
        self.ips.is_empty()
            && self.node_ports.is_empty()
            && self.release_ips_on_success.is_empty()
            && self.release_node_ports_on_success.is_empty()
    }
}

/// One allocation under the pools' lock: records what it takes so a
/// failure (or a dry run) can give it all back.
struct Transaction<'a> {
    allocators: &'a mut Allocators,
    taken: Taken,
    /// For the 422 `Service "x" is invalid` messages.
    service_name: String,
}

impl Transaction<'_> {
    fn invalid(&self, errors: ErrorList) -> Status {
        invalid(&self.service_name, &errors)
    }

    fn allocate_ip(&mut self, ip: IpAddr) -> Result<(), ipallocator::AllocationError> {
        let alloc = self.allocators.ip_allocator(IpFamily::of(&ip)).ok_or(
            ipallocator::AllocationError::NotInRange {
                ip,
                range: IpNet::from(ip),
            },
        )?;
        alloc.allocate(ip)?;
        self.taken.ips.push(ip);
        Ok(())
    }

    fn allocate_next_ip(
        &mut self,
        family: IpFamily,
    ) -> Result<IpAddr, ipallocator::AllocationError> {
        let alloc = self
            .allocators
            .ip_allocator(family)
            .ok_or(ipallocator::AllocationError::Full)?;
        let ip = alloc.allocate_next()?;
        self.taken.ips.push(ip);
        Ok(ip)
    }

    fn allocate_node_port(&mut self, port: i32) -> Result<(), portallocator::AllocationError> {
        self.allocators.node_ports.allocate(port)?;
        self.taken.node_ports.push(port);
        Ok(())
    }

    fn allocate_next_node_port(&mut self) -> Result<i32, portallocator::AllocationError> {
        let port = self.allocators.node_ports.allocate_next()?;
        self.taken.node_ports.push(port);
        Ok(port)
    }
}

/// Allocation's result inside this module; the `Status` is boxed as it is
/// large and the success path is the common one.
type AllocResult = Result<(), Box<Status>>;

/// 422 `Service "name" is invalid: ...` with the field errors as causes.
pub fn invalid(name: &str, errors: &[Error]) -> Status {
    Status::invalid("", "Service", name, errors)
}

/// How many repair passes in a row must see a value held by the pools and by
/// no stored service before it is released (upstream's
/// `numRepairsBeforeLeakCleanup`).
pub const REPAIRS_BEFORE_RELEASE: u32 = 3;

/// Values the pools hold and no stored service does, with how many repair
/// passes in a row have seen them so.
#[derive(Debug, Default)]
pub struct Leaks {
    ips: HashMap<IpAddr, u32>,
    node_ports: HashMap<i32, u32>,
}

/// What one repair pass changed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Repaired {
    /// Values stored services hold that the pools had free.
    pub taken: usize,
    /// Leaked values given back.
    pub released: usize,
}

/// The next leak counts: `pooled` values seen once more; those seen
/// [`REPAIRS_BEFORE_RELEASE`] times are handed to `release` instead.
fn count_leaks<T: Copy + Eq + std::hash::Hash>(
    previous: &HashMap<T, u32>,
    pooled: Vec<T>,
    mut release: impl FnMut(T),
) -> HashMap<T, u32> {
    let mut next = HashMap::new();
    for value in pooled {
        let seen = previous.get(&value).copied().unwrap_or(0) + 1;
        if seen >= REPAIRS_BEFORE_RELEASE {
            release(value);
        } else {
            next.insert(value, seen);
        }
    }
    next
}

/// The cluster IPs and node ports a set of stored services holds.
#[derive(Debug, Default)]
struct Held {
    ips: HashSet<IpAddr>,
    node_ports: HashSet<i32>,
}

impl Held {
    fn by<'a>(services: impl IntoIterator<Item = &'a Service>) -> Held {
        let mut held = Held::default();
        for service in services {
            let Some(spec) = &service.spec else { continue };
            if service_type(spec) != TYPE_EXTERNAL_NAME {
                held.ips.extend(
                    cluster_ips(spec)
                        .iter()
                        .filter_map(|ip| ip.parse::<IpAddr>().ok()),
                );
            }
            held.node_ports.extend(held_node_ports(spec));
        }
        held
    }

    /// Takes every held value the pools have free (values outside the
    /// configured ranges are skipped); returns how many.
    fn take_into(&self, allocators: &mut Allocators) -> usize {
        let mut taken = 0;
        for ip in &self.ips {
            if let Some(alloc) = allocators.ip_allocator(IpFamily::of(ip))
                && alloc.allocate(*ip).is_ok()
            {
                taken += 1;
            }
        }
        for port in &self.node_ports {
            if allocators.node_ports.allocate(*port).is_ok() {
                taken += 1;
            }
        }
        taken
    }
}

/// The Service kind's behaviour in the generic store, with the cluster-IP
/// and node-port pools (shared by every request, kept in storage).
#[derive(Debug, Clone)]
pub struct ServiceStrategy {
    pools: Arc<StoredPools>,
}

impl ServiceStrategy {
    /// Pools over `--service-cluster-ip-range` (one range, or two of
    /// different families for dual-stack; the first is the primary) and
    /// `--service-node-port-range`, stored in `storage`.
    pub fn new(
        cluster_ip_ranges: Vec<IpNet>,
        node_port_range: RangeInclusive<u16>,
        storage: Arc<dyn Storage>,
    ) -> Self {
        let allocators = Allocators {
            ips: cluster_ip_ranges
                .into_iter()
                .map(ipallocator::Allocator::new)
                .collect(),
            node_ports: portallocator::Allocator::new(node_port_range),
        };
        ServiceStrategy {
            pools: Arc::new(StoredPools::new(storage, allocators)),
        }
    }

    /// Marks the cluster IPs and node ports of stored services as taken
    /// (at start, with every stored service, so the pools hold what data
    /// written before they were stored holds). Values outside the
    /// configured ranges are skipped.
    pub async fn restore<'a>(
        &self,
        services: impl IntoIterator<Item = &'a Service>,
    ) -> Result<Repaired, String> {
        self.repair(services, &mut Leaks::default()).await
    }

    /// One pass of upstream's repair controllers (`RepairIPs`,
    /// `RepairNodePorts`) against every stored service: values a stored
    /// service holds that the pools do not are taken; values the pools hold
    /// that no stored service does are released once [`REPAIRS_BEFORE_RELEASE`]
    /// passes in a row have seen them so (a create in flight, here or on
    /// another apiserver, holds its values before its write lands). `leaks`
    /// carries the count between passes.
    pub async fn repair<'a>(
        &self,
        services: impl IntoIterator<Item = &'a Service>,
        leaks: &mut Leaks,
    ) -> Result<Repaired, String> {
        let held = Held::by(services);
        let previous: &Leaks = leaks;
        let (repaired, next) = self
            .pools
            .update(|allocators| {
                let taken = held.take_into(allocators);
                let pooled_ips: Vec<IpAddr> = allocators
                    .ips
                    .iter()
                    .flat_map(|alloc| alloc.allocated())
                    .filter(|ip| !held.ips.contains(ip))
                    .collect();
                let pooled_ports: Vec<i32> = allocators
                    .node_ports
                    .allocated()
                    .filter(|port| !held.node_ports.contains(port))
                    .collect();
                let mut released_ips = Vec::new();
                let mut released_ports = Vec::new();
                let next = Leaks {
                    ips: count_leaks(&previous.ips, pooled_ips, |ip| released_ips.push(ip)),
                    node_ports: count_leaks(&previous.node_ports, pooled_ports, |port| {
                        released_ports.push(port)
                    }),
                };
                for ip in &released_ips {
                    allocators.release_ip(*ip);
                }
                for port in &released_ports {
                    allocators.node_ports.release(*port);
                }
                let released = released_ips.len() + released_ports.len();
                Ok::<_, Infallible>((Repaired { taken, released }, next))
            })
            .await
            .map_err(pools_error_message)?;
        *leaks = next;
        Ok(repaired)
    }

    /// Whether `ip` is taken in its family's pool, as stored now.
    pub async fn ip_in_use(&self, ip: IpAddr) -> Result<bool, StorageError> {
        self.pools
            .read(|allocators| {
                allocators
                    .ips
                    .iter()
                    .find(|alloc| alloc.family() == IpFamily::of(&ip))
                    .is_some_and(|alloc| alloc.has(ip))
            })
            .await
    }

    /// Whether node port `port` is taken, as stored now.
    pub async fn node_port_in_use(&self, port: i32) -> Result<bool, StorageError> {
        self.pools
            .read(|allocators| allocators.node_ports.has(port))
            .await
    }

    /// How many cluster IPs (all families) and node ports are taken, as
    /// stored now.
    pub async fn used(&self) -> Result<(usize, usize), StorageError> {
        self.pools
            .read(|allocators| {
                let ips = allocators.ips.iter().map(|alloc| alloc.used()).sum();
                (ips, allocators.node_ports.used())
            })
            .await
    }

    /// Runs one allocation (`allocate` fills a copy of the spec) against the
    /// stored pools, again from the requested spec whenever another
    /// apiserver's allocation got in first. Returns the filled spec and
    /// what it took (nothing on a dry run).
    async fn allocate(
        &self,
        service_name: &str,
        requested: &ServiceSpec,
        dry_run: bool,
        allocate: impl Fn(&mut Transaction<'_>, &mut ServiceSpec) -> AllocResult,
    ) -> Result<(ServiceSpec, Taken), Status> {
        // Most updates, and headless or ExternalName services, take and give
        // back nothing: that answer does not depend on the pools, so it
        // stands without reading storage. Anything else (a value taken, a
        // refusal the local copy may owe to being stale) goes to storage.
        let unpooled = self
            .pools
            .local(|allocators| {
                let (result, spec, taken) =
                    run_allocation(allocators, service_name, requested, &allocate);
                if result.is_ok() && taken.is_empty() {
                    return Some(spec);
                }
                taken.revert(allocators);
                None
            })
            .await;
        if let Some(spec) = unpooled {
            return Ok((spec, Taken::default()));
        }
        self.pools
            .update(|allocators| {
                let (result, spec, taken) =
                    run_allocation(allocators, service_name, requested, &allocate);
                if result.is_err() || dry_run {
                    taken.revert(allocators);
                    return result.map(|()| (spec, Taken::default()));
                }
                Ok((spec, taken))
            })
            .await
            .map_err(|err| match err {
                PoolsError::Refused(status) => *status,
                PoolsError::Storage(message) => Status::internal_error(format!(
                    "failed to allocate a service's cluster IPs and node ports: {message}"
                )),
            })
    }

    /// What the store calls once the write is done: a committed write
    /// releases what the old object held and the new one does not; a
    /// refused one gives back what it took.
    fn finish(&self, taken: Taken) -> Option<FinishFunc> {
        if taken.is_empty() {
            return None;
        }
        let pools = Arc::clone(&self.pools);
        Some(Box::new(move |committed: bool| {
            Box::pin(async move {
                pools
                    .give_back("releasing service allocations", |allocators| {
                        if committed {
                            taken.commit(allocators);
                        } else {
                            taken.revert(allocators);
                        }
                    })
                    .await;
            })
        }))
    }
}

fn pools_error_message(err: PoolsError<Infallible>) -> String {
    match err {
        PoolsError::Storage(message) => message,
        PoolsError::Refused(never) => match never {},
    }
}

/// Runs `allocate` on a copy of `requested` in one transaction on
/// `allocators`: its result, the filled spec, and what it took (still
/// taken: the caller keeps or reverts it).
fn run_allocation(
    allocators: &mut Allocators,
    service_name: &str,
    requested: &ServiceSpec,
    allocate: &impl Fn(&mut Transaction<'_>, &mut ServiceSpec) -> AllocResult,
) -> (AllocResult, ServiceSpec, Taken) {
    let mut txn = Transaction {
        allocators,
        taken: Taken::default(),
        service_name: service_name.to_string(),
    };
    let mut spec = requested.clone();
    let result = allocate(&mut txn, &mut spec);
    (result, spec, txn.taken)
}

fn service_name(service: &Service) -> String {
    service.metadata.name.clone().unwrap_or_default()
}

impl Strategy for ServiceStrategy {
    type Object = Service;

    fn table_columns(&self) -> &'static [apiserver::registry::table::ColumnDefinition] {
        crate::printers::service::service_columns()
    }

    fn table_row(
        &self,
        obj: &Self::Object,
        now: k8s_openapi::chrono::DateTime<k8s_openapi::chrono::Utc>,
    ) -> Vec<serde_json::Value> {
        crate::printers::service::service_row(obj, now)
    }

    fn names(&self) -> &ResourceNames {
        &INFO
    }

    fn status(&self) -> Option<&dyn StatusStrategy<Service>> {
        Some(self)
    }

    fn prepare_for_create(&self, service: &mut Service) {
        service.status = Some(ServiceStatus {
            load_balancer: Some(LoadBalancerStatus::default()),
            ..ServiceStatus::default()
        });
        let spec = service.spec.get_or_insert_with(ServiceSpec::default);
        set_defaults(spec);
        normalize_cluster_ips(spec, None);
    }

    fn prepare_for_update(&self, new: &mut Service, old: &Service) {
        new.status = old.status.clone();
        let default_spec = ServiceSpec::default();
        let old_spec = old.spec.as_ref().unwrap_or(&default_spec);
        let spec = new.spec.get_or_insert_with(ServiceSpec::default);
        set_defaults(spec);
        patch_allocated_values(spec, old_spec);
        normalize_cluster_ips(spec, Some(old_spec));
        drop_type_dependent_fields(spec, old_spec);
        // The load balancer's status goes with the type.
        if service_type(spec) != TYPE_LOAD_BALANCER
            && let Some(status) = &mut new.status
        {
            status.load_balancer = Some(LoadBalancerStatus::default());
        }
    }

    fn validate(&self, service: &Service) -> ErrorList {
        validation::validate_service(service)
    }

    fn validate_update(&self, new: &Service, old: &Service) -> ErrorList {
        let mut errors = validation::validate_service_update(new, old);
        if new.status != old.status {
            errors.extend(validation::validate_load_balancer_status(new));
        }
        errors
    }

    fn selectable_fields(&self, service: &Service) -> Vec<(&'static str, String)> {
        let spec = service.spec.as_ref();
        vec![
            (
                SELECTABLE_FIELDS[0],
                spec.and_then(|s| s.cluster_ip.clone()).unwrap_or_default(),
            ),
            (
                SELECTABLE_FIELDS[1],
                spec.map(|s| service_type(s).to_string())
                    .unwrap_or_default(),
            ),
        ]
    }

    fn selectable_field_names(&self) -> &'static [&'static str] {
        SELECTABLE_FIELDS
    }

    async fn begin_create(
        &self,
        service: &mut Service,
        dry_run: bool,
    ) -> Result<Option<FinishFunc>, Status> {
        let name = service_name(service);
        let spec = service.spec.get_or_insert_with(ServiceSpec::default);
        set_defaults(spec);
        normalize_cluster_ips(spec, None);
        let (allocated, taken) = self.allocate(&name, spec, dry_run, allocate_create).await?;
        *spec = allocated;
        Ok(self.finish(taken))
    }

    async fn begin_update(
        &self,
        new: &mut Service,
        old: &Service,
        dry_run: bool,
    ) -> Result<Option<FinishFunc>, Status> {
        let name = service_name(new);
        let default_spec = ServiceSpec::default();
        let old_spec = old.spec.as_ref().unwrap_or(&default_spec);
        let spec = new.spec.get_or_insert_with(ServiceSpec::default);
        set_defaults(spec);
        patch_allocated_values(spec, old_spec);
        normalize_cluster_ips(spec, Some(old_spec));
        let (allocated, taken) = self
            .allocate(&name, spec, dry_run, |txn, spec| {
                allocate_update(txn, spec, old_spec)
            })
            .await?;
        *spec = allocated;
        Ok(self.finish(taken))
    }

    fn returns_deleted_object(&self) -> bool {
        true
    }

    async fn after_delete(&self, service: &Service) {
        let Some(spec) = &service.spec else { return };
        let ips: Vec<IpAddr> = if service_type(spec) != TYPE_EXTERNAL_NAME && !is_headless(spec) {
            cluster_ips(spec)
                .iter()
                .filter_map(|ip| ip.parse().ok())
                .collect()
        } else {
            Vec::new()
        };
        let node_ports: Vec<i32> = held_node_ports(spec).into_iter().collect();
        if ips.is_empty() && node_ports.is_empty() {
            return;
        }
        self.pools
            .give_back("releasing a deleted service's allocations", |allocators| {
                for ip in &ips {
                    allocators.release_ip(*ip);
                }
                for port in &node_ports {
                    allocators.node_ports.release(*port);
                }
            })
            .await;
    }
}

impl StatusStrategy<Service> for ServiceStrategy {
    fn prepare_for_status_update(&self, new: &mut Service, old: &Service) {
        new.spec = old.spec.clone();
    }
}

/// `SetDefaults_Service` (the defaults the decoder fills upstream).
pub fn set_defaults(spec: &mut ServiceSpec) {
    if spec.session_affinity.as_deref().unwrap_or("").is_empty() {
        spec.session_affinity = Some(AFFINITY_NONE.to_string());
    }
    match spec.session_affinity.as_deref() {
        Some(AFFINITY_NONE) => spec.session_affinity_config = None,
        Some(AFFINITY_CLIENT_IP) => {
            let has_timeout = spec
                .session_affinity_config
                .as_ref()
                .and_then(|c| c.client_ip.as_ref())
                .is_some_and(|c| c.timeout_seconds.is_some());
            if !has_timeout {
                spec.session_affinity_config = Some(SessionAffinityConfig {
                    client_ip: Some(ClientIPConfig {
                        timeout_seconds: Some(DEFAULT_CLIENT_IP_AFFINITY_SECONDS),
                    }),
                });
            }
        }
        _ => {}
    }
    if service_type(spec).is_empty() {
        spec.type_ = Some(TYPE_CLUSTER_IP.to_string());
    }
    for port in spec.ports.iter_mut().flatten() {
        if port.protocol.as_deref().unwrap_or("").is_empty() {
            port.protocol = Some("TCP".to_string());
        }
        let unset = match &port.target_port {
            None => true,
            Some(IntOrString::Int(number)) => *number == 0,
            Some(IntOrString::String(name)) => name.is_empty(),
        };
        if unset {
            port.target_port = Some(IntOrString::Int(port.port));
        }
    }
    if externally_accessible(spec)
        && spec
            .external_traffic_policy
            .as_deref()
            .unwrap_or("")
            .is_empty()
    {
        spec.external_traffic_policy = Some(TRAFFIC_POLICY_CLUSTER.to_string());
    }
    if spec.internal_traffic_policy.is_none()
        && matches!(
            service_type(spec),
            TYPE_NODE_PORT | TYPE_LOAD_BALANCER | TYPE_CLUSTER_IP
        )
    {
        spec.internal_traffic_policy = Some(TRAFFIC_POLICY_CLUSTER.to_string());
    }
    if service_type(spec) == TYPE_LOAD_BALANCER && spec.allocate_load_balancer_node_ports.is_none()
    {
        spec.allocate_load_balancer_node_ports = Some(true);
    }
}

/// `normalizeClusterIPs`: keeps `clusterIP` and `clusterIPs` in step for
/// clients that set only one of them.
fn normalize_cluster_ips(spec: &mut ServiceSpec, old: Option<&ServiceSpec>) {
    let cluster_ip = spec.cluster_ip.clone().unwrap_or_default();
    let Some(old) = old else {
        // An old client set only the singular field.
        if !cluster_ip.is_empty() && cluster_ips(spec).is_empty() {
            spec.cluster_ips = Some(vec![cluster_ip]);
        }
        return;
    };
    let old_cluster_ip = old.cluster_ip.clone().unwrap_or_default();
    // An old client patching something else dropped the plural field.
    if !cluster_ips(old).is_empty() && cluster_ips(spec).is_empty() && old_cluster_ip == cluster_ip
    {
        spec.cluster_ips = old.cluster_ips.clone();
    }
    if old_cluster_ip != cluster_ip {
        if !old_cluster_ip.is_empty() && cluster_ip.is_empty() && same_cluster_ips(old, spec) {
            spec.cluster_ips = None;
        }
        if !cluster_ip.is_empty() && same_cluster_ips(old, spec) {
            spec.cluster_ips = Some(vec![cluster_ip]);
        }
    }
}

/// `patchAllocatedValues`: an update that leaves out allocated values
/// (`kubectl replace` of a file without `clusterIP`) keeps the old ones.
fn patch_allocated_values(spec: &mut ServiceSpec, old: &ServiceSpec) {
    if needs_cluster_ip(old) && needs_cluster_ip(spec) {
        if spec.cluster_ip.as_deref().unwrap_or("").is_empty() {
            spec.cluster_ip = old.cluster_ip.clone();
        }
        if cluster_ips(spec).is_empty() && !cluster_ips(old).is_empty() {
            spec.cluster_ips = old.cluster_ips.clone();
        }
    }
    if needs_node_port(old) && needs_node_port(spec) {
        let used_by_both: BTreeSet<i32> = port_node_ports(old)
            .intersection(&port_node_ports(spec))
            .copied()
            .collect();
        // The old node port of each port name.
        let by_name: HashMap<&str, i32> = ports(old)
            .iter()
            .map(|p| (p.name.as_deref().unwrap_or(""), p.node_port.unwrap_or(0)))
            .collect();
        for port in spec.ports.iter_mut().flatten() {
            if port.node_port.unwrap_or(0) == 0 {
                let old_value = by_name
                    .get(port.name.as_deref().unwrap_or(""))
                    .copied()
                    .unwrap_or(0);
                if old_value != 0 && !used_by_both.contains(&old_value) {
                    port.node_port = Some(old_value);
                }
            }
        }
    }
    if needs_health_check(old)
        && needs_health_check(spec)
        && spec.health_check_node_port.unwrap_or(0) == 0
    {
        spec.health_check_node_port = old.health_check_node_port;
    }
}

/// `dropTypeDependentFields`: on a type change, clears the values the old
/// type needed and the new one does not, unless the client changed them.
fn drop_type_dependent_fields(spec: &mut ServiceSpec, old: &ServiceSpec) {
    if needs_cluster_ip(old) && !needs_cluster_ip(spec) {
        if same_cluster_ips(old, spec) {
            spec.cluster_ip = None;
            spec.cluster_ips = None;
        }
        if old.ip_families == spec.ip_families {
            spec.ip_families = None;
        }
        if old.ip_family_policy == spec.ip_family_policy {
            spec.ip_family_policy = None;
        }
    }
    if needs_node_port(old)
        && !needs_node_port(spec)
        && port_node_ports(old).is_superset(&port_node_ports(spec))
    {
        for port in spec.ports.iter_mut().flatten() {
            port.node_port = None;
        }
    }
    if needs_health_check(old)
        && !needs_health_check(spec)
        && old.health_check_node_port == spec.health_check_node_port
    {
        spec.health_check_node_port = None;
    }
    let old_is_load_balancer = service_type(old) == TYPE_LOAD_BALANCER;
    let new_is_load_balancer = service_type(spec) == TYPE_LOAD_BALANCER;
    if old_is_load_balancer && !new_is_load_balancer {
        if spec.allocate_load_balancer_node_ports.is_some()
            && old.allocate_load_balancer_node_ports == spec.allocate_load_balancer_node_ports
        {
            spec.allocate_load_balancer_node_ports = None;
        }
        if old.load_balancer_class == spec.load_balancer_class {
            spec.load_balancer_class = None;
        }
    }
    if needs_node_port(old)
        && !needs_node_port(spec)
        && old.external_traffic_policy == spec.external_traffic_policy
    {
        spec.external_traffic_policy = None;
    }
}

fn needs_cluster_ip(spec: &ServiceSpec) -> bool {
    service_type(spec) != TYPE_EXTERNAL_NAME
}

fn needs_node_port(spec: &ServiceSpec) -> bool {
    matches!(service_type(spec), TYPE_NODE_PORT | TYPE_LOAD_BALANCER)
}

/// `shouldAllocateNodePorts`: NodePort always, LoadBalancer unless
/// `allocateLoadBalancerNodePorts` is false.
fn should_allocate_node_ports(spec: &ServiceSpec) -> bool {
    match service_type(spec) {
        TYPE_NODE_PORT => true,
        TYPE_LOAD_BALANCER => spec.allocate_load_balancer_node_ports.unwrap_or(true),
        _ => false,
    }
}

fn same_cluster_ips(old: &ServiceSpec, new: &ServiceSpec) -> bool {
    old.cluster_ip.as_deref().unwrap_or("") == new.cluster_ip.as_deref().unwrap_or("")
        && cluster_ips(old) == cluster_ips(new)
}

fn ip_family_policy(spec: &ServiceSpec) -> &str {
    spec.ip_family_policy.as_deref().unwrap_or("")
}

fn ip_families(spec: &ServiceSpec) -> &[String] {
    spec.ip_families.as_deref().unwrap_or(&[])
}

/// The non-zero `nodePort`s of the ports.
fn port_node_ports(spec: &ServiceSpec) -> BTreeSet<i32> {
    ports(spec)
        .iter()
        .filter_map(|p| p.node_port)
        .filter(|port| *port != 0)
        .collect()
}

/// Every node port `spec` holds: the ports' and the health check's.
fn held_node_ports(spec: &ServiceSpec) -> BTreeSet<i32> {
    let mut held = port_node_ports(spec);
    if let Some(port) = spec.health_check_node_port.filter(|port| *port != 0) {
        held.insert(port);
    }
    held
}

/// `isMatchingPreferDualStackClusterIPFields`: an update of a
/// PreferDualStack service that changes nothing about its addresses keeps
/// them as they are, even if the cluster's stacks changed.
fn is_matching_prefer_dual_stack(spec: &ServiceSpec, old: Option<&ServiceSpec>) -> bool {
    let Some(old) = old else { return false };
    service_type(old) == service_type(spec)
        && matches!(
            service_type(spec),
            TYPE_CLUSTER_IP | TYPE_NODE_PORT | TYPE_LOAD_BALANCER
        )
        && ip_family_policy(spec) == POLICY_PREFER_DUAL_STACK
        && ip_family_policy(old) == POLICY_PREFER_DUAL_STACK
        && same_cluster_ips(old, spec)
        && old.ip_families == spec.ip_families
}

fn family_of(ip: &str) -> Option<IpFamily> {
    ip.parse::<IpAddr>().ok().map(|ip| IpFamily::of(&ip))
}

/// `initIPFamilyFields`: defaults `ipFamilyPolicy` and `ipFamilies` from
/// the request, the old object and the cluster's configured families, and
/// rejects what the cluster cannot serve.
fn init_ip_family_fields(
    txn: &Transaction<'_>,
    spec: &mut ServiceSpec,
    old: Option<&ServiceSpec>,
) -> AllocResult {
    if service_type(spec) == TYPE_EXTERNAL_NAME || is_matching_prefer_dual_stack(spec, old) {
        return Ok(());
    }
    let headless_without_selector = spec.cluster_ip.as_deref() == Some(CLUSTER_IP_NONE)
        && spec.selector.as_ref().is_none_or(|s| s.is_empty());
    if spec.ip_family_policy.is_none() {
        spec.ip_family_policy = match old.and_then(|o| o.ip_family_policy.clone()) {
            Some(policy) => Some(policy),
            None if headless_without_selector => Some(POLICY_REQUIRE_DUAL_STACK.to_string()),
            None => Some(POLICY_SINGLE_STACK.to_string()),
        };
    }
    let errors = validation::validate_cluster_ips_related_fields(spec);
    if !errors.is_empty() {
        return Err(txn.invalid(errors).into());
    }

    let policy_path = Path::new("spec").child("ipFamilyPolicy");
    let policy = ip_family_policy(spec).to_string();
    let single_stack = policy == POLICY_SINGLE_STACK;
    let mut errors = ErrorList::new();
    if let Some(old) = old {
        if single_stack {
            // Clear intent to drop the secondary address and family.
            if same_cluster_ips(old, spec)
                && let Some(ips) = spec.cluster_ips.as_mut()
            {
                ips.truncate(1);
            }
            if old.ip_families == spec.ip_families
                && let Some(families) = spec.ip_families.as_mut()
            {
                families.truncate(1);
            }
        } else {
            if !cluster_ips(spec).is_empty() && cluster_ips(spec).len() < cluster_ips(old).len() {
                errors.push(Error::invalid(
                    &policy_path,
                    policy.as_str(),
                    "must be 'SingleStack' to release the secondary cluster IP",
                ));
            }
            if !ip_families(spec).is_empty() && ip_families(spec).len() < ip_families(old).len() {
                errors.push(Error::invalid(
                    &policy_path,
                    policy.as_str(),
                    "must be 'SingleStack' to release the secondary IP family",
                ));
            }
        }
    }
    if single_stack {
        if cluster_ips(spec).len() == 2 {
            errors.push(Error::invalid(
                &policy_path,
                policy.as_str(),
                "must be 'RequireDualStack' or 'PreferDualStack' when multiple cluster IPs are specified",
            ));
        }
        if ip_families(spec).len() == 2 {
            errors.push(Error::invalid(
                &policy_path,
                policy.as_str(),
                "must be 'RequireDualStack' or 'PreferDualStack' when multiple IP families are specified",
            ));
        }
    }

    // Families the request leaves out follow from its addresses.
    let ips = cluster_ips(spec).to_vec();
    for (i, ip) in ips.iter().enumerate() {
        if ip == CLUSTER_IP_NONE {
            break;
        }
        let Some(family) = family_of(ip) else {
            continue;
        };
        if i >= ip_families(spec).len() {
            if txn.allocators.has_family(family) {
                spec.ip_families
                    .get_or_insert_with(Vec::new)
                    .push(family.to_string());
            } else {
                errors.push(invalid_shown(
                    &Path::new("spec").child("clusterIPs").index(i),
                    &go_string_slice(spec.cluster_ips.as_deref()),
                    &format!("{family} is not configured on this cluster"),
                ));
            }
        }
    }
    if !errors.is_empty() {
        return Err(txn.invalid(errors).into());
    }

    let primary = txn
        .allocators
        .ips
        .first()
        .map_or(IpFamily::V4, |alloc| alloc.family());
    let families = spec.ip_families.get_or_insert_with(Vec::new);
    if headless_without_selector {
        // May name families the cluster lacks: nothing is allocated.
        if families.is_empty() {
            families.push(primary.to_string());
        }
        if families.len() < 2
            && !single_stack
            && let Some(first) = families.first().and_then(|f| IpFamily::parse(f))
        {
            families.push(first.other().to_string());
        }
        return Ok(());
    }

    if policy == POLICY_REQUIRE_DUAL_STACK && txn.allocators.ips.len() < 2 {
        errors.push(Error::invalid(
            &policy_path,
            policy.as_str(),
            "this cluster is not configured for dual-stack services",
        ));
    }
    for (i, family) in families.iter().enumerate() {
        if !IpFamily::parse(family).is_some_and(|f| txn.allocators.has_family(f)) {
            errors.push(Error::invalid(
                &Path::new("spec").child("ipFamilies").index(i),
                family.as_str(),
                "not configured on this cluster",
            ));
        }
    }
    if !errors.is_empty() {
        return Err(txn.invalid(errors).into());
    }
    if families.is_empty() {
        families.push(primary.to_string());
    }
    if !single_stack && families.len() == 1 && txn.allocators.ips.len() == 2 {
        let other = IpFamily::parse(&families[0]).map_or(primary, IpFamily::other);
        families.push(other.to_string());
    }
    Ok(())
}

/// `allocClusterIPs`: an address per family, the requested one when the
/// client named it.
fn allocate_cluster_ips(txn: &mut Transaction<'_>, spec: &mut ServiceSpec) -> AllocResult {
    if service_type(spec) == TYPE_EXTERNAL_NAME
        || cluster_ips(spec).first().map(String::as_str) == Some(CLUSTER_IP_NONE)
    {
        return Ok(());
    }
    let families: Vec<IpFamily> = ip_families(spec)
        .iter()
        .filter_map(|f| IpFamily::parse(f))
        .collect();
    let ips = spec.cluster_ips.get_or_insert_with(Vec::new);
    while ips.len() < families.len() {
        ips.push(String::new());
    }
    for (i, family) in families.iter().enumerate() {
        let requested = spec
            .cluster_ips
            .as_ref()
            .map(|ips| ips[i].clone())
            .unwrap_or_default();
        allocate_cluster_ip(txn, spec, i, *family, &requested)?;
    }
    Ok(())
}

/// Allocates `clusterIPs[index]` (the requested address, or the next free
/// one of `family` when empty) and mirrors the primary into `clusterIP`.
fn allocate_cluster_ip(
    txn: &mut Transaction<'_>,
    spec: &mut ServiceSpec,
    index: usize,
    family: IpFamily,
    requested: &str,
) -> AllocResult {
    let ip = if requested.is_empty() {
        txn.allocate_next_ip(family).map_err(|err| {
            Status::internal_error(format!("failed to allocate a serviceIP: {err}"))
        })?
    } else {
        let parsed: IpAddr = requested.parse().map_err(|_| {
            Status::internal_error(format!("failed to parse service IP {requested:?}"))
        })?;
        if let Err(err) = txn.allocate_ip(parsed) {
            return Err(txn
                .invalid(vec![invalid_shown(
                    &Path::new("spec").child("clusterIPs"),
                    &go_string_slice(spec.cluster_ips.as_deref()),
                    &format!("failed to allocate IP {requested}: {err}"),
                )])
                .into());
        }
        parsed
    };
    let ips = spec.cluster_ips.get_or_insert_with(Vec::new);
    if let Some(slot) = ips.get_mut(index) {
        *slot = ip.to_string();
    }
    if index == 0 {
        spec.cluster_ip = Some(ip.to_string());
    }
    Ok(())
}

fn node_port_error(txn: &Transaction<'_>, index: usize, port: i32, err: impl ToString) -> Status {
    txn.invalid(vec![Error::invalid(
        &Path::new("spec")
            .child("ports")
            .index(index)
            .child("nodePort"),
        port,
        err.to_string(),
    )])
}

fn next_node_port_error(err: portallocator::AllocationError) -> Status {
    Status::internal_error(format!("failed to allocate a nodePort: {err}"))
}

/// `initNodePorts`: a node port per service port (ports with the same
/// number, e.g. TCP and UDP 53, share one), requested ones honoured.
fn allocate_node_ports_for_create(
    txn: &mut Transaction<'_>,
    spec: &mut ServiceSpec,
) -> AllocResult {
    let allocate_new = should_allocate_node_ports(spec);
    let Some(ports) = spec.ports.as_mut() else {
        return Ok(());
    };
    let mut by_service_port: HashMap<i32, i32> = HashMap::new();
    for i in 0..ports.len() {
        let node_port = ports[i].node_port.unwrap_or(0);
        if node_port == 0 && !allocate_new {
            continue;
        }
        let service_port = ports[i].port;
        match by_service_port.get(&service_port).copied() {
            None => {
                // The first node port a client asked for among the ports
                // with this number.
                let requested = ports[i..]
                    .iter()
                    .filter(|p| p.port == service_port)
                    .find_map(|p| p.node_port.filter(|np| *np != 0));
                let chosen = match requested {
                    Some(requested) => {
                        txn.allocate_node_port(requested)
                            .map_err(|err| node_port_error(txn, i, requested, err))?;
                        requested
                    }
                    None => txn
                        .allocate_next_node_port()
                        .map_err(next_node_port_error)?,
                };
                ports[i].node_port = Some(chosen);
                by_service_port.insert(service_port, chosen);
            }
            Some(shared) if node_port == 0 => ports[i].node_port = Some(shared),
            Some(shared) if node_port != shared => {
                txn.allocate_node_port(node_port)
                    .map_err(|err| node_port_error(txn, i, node_port, err))?;
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Allocates the health check node port of a LoadBalancer with the Local
/// policy (`allocHealthCheckNodePort`).
fn allocate_health_check_node_port(
    txn: &mut Transaction<'_>,
    spec: &mut ServiceSpec,
) -> AllocResult {
    match spec.health_check_node_port.filter(|port| *port != 0) {
        Some(requested) => txn.allocate_node_port(requested).map_err(|err| {
            Box::new(Status::internal_error(format!(
                "failed to allocate requested HealthCheck NodePort {requested}: {err}"
            )))
        }),
        None => {
            let port = txn.allocate_next_node_port().map_err(|err| {
                Status::internal_error(format!(
                    "failed to allocate a HealthCheck NodePort 0: {err}"
                ))
            })?;
            spec.health_check_node_port = Some(port);
            Ok(())
        }
    }
}

/// `allocateCreate`.
fn allocate_create(txn: &mut Transaction<'_>, spec: &mut ServiceSpec) -> AllocResult {
    init_ip_family_fields(txn, spec, None)?;
    allocate_cluster_ips(txn, spec)?;
    if needs_node_port(spec) {
        allocate_node_ports_for_create(txn, spec)?;
    }
    if needs_health_check(spec) {
        allocate_health_check_node_port(txn, spec)?;
    }
    Ok(())
}

/// `allocateUpdate`: cluster IPs for a type or stack change, node ports
/// for a type or port change; what the old object no longer needs is
/// released once the write succeeds.
fn allocate_update(
    txn: &mut Transaction<'_>,
    spec: &mut ServiceSpec,
    old: &ServiceSpec,
) -> AllocResult {
    init_ip_family_fields(txn, spec, Some(old))?;
    update_cluster_ips(txn, spec, old)?;
    update_node_ports(txn, spec, old)?;
    update_health_check_node_port(txn, spec, old)
}

/// `updateClusterIPs`.
fn update_cluster_ips(
    txn: &mut Transaction<'_>,
    spec: &mut ServiceSpec,
    old: &ServiceSpec,
) -> AllocResult {
    if is_matching_prefer_dual_stack(spec, Some(old)) {
        return Ok(());
    }
    let old_is_external_name = service_type(old) == TYPE_EXTERNAL_NAME;
    let new_is_external_name = service_type(spec) == TYPE_EXTERNAL_NAME;
    if old_is_external_name && !new_is_external_name {
        return allocate_cluster_ips(txn, spec);
    }
    if cluster_ips(old).first().map(String::as_str) == Some(CLUSTER_IP_NONE) {
        return Ok(());
    }
    let old_ips: Vec<IpAddr> = cluster_ips(old)
        .iter()
        .filter_map(|ip| ip.parse().ok())
        .collect();
    if !old_is_external_name && new_is_external_name {
        txn.taken.release_ips_on_success.extend(old_ips);
        return Ok(());
    }
    let old_families = ip_families(old).len();
    let new_families: Vec<IpFamily> = ip_families(spec)
        .iter()
        .filter_map(|f| IpFamily::parse(f))
        .collect();
    if old_families == 1 && new_families.len() == 2 {
        let ips = spec.cluster_ips.get_or_insert_with(Vec::new);
        while ips.len() < 2 {
            ips.push(String::new());
        }
        let requested = ips[1].clone();
        allocate_cluster_ip(txn, spec, 1, new_families[1], &requested)?;
    } else if old_families == 2 && new_families.len() == 1 {
        txn.taken
            .release_ips_on_success
            .extend(old_ips.get(1).copied());
    }
    Ok(())
}

/// `txnUpdateNodePorts`/`updateNodePorts`.
fn update_node_ports(
    txn: &mut Transaction<'_>,
    spec: &mut ServiceSpec,
    old: &ServiceSpec,
) -> AllocResult {
    let old_ports = port_node_ports(old);
    if needs_node_port(old) && !needs_node_port(spec) {
        txn.taken.release_node_ports_on_success.extend(&old_ports);
    }
    if !needs_node_port(spec) {
        return Ok(());
    }
    let allocate_new = should_allocate_node_ports(spec);
    let mut allocated_here = BTreeSet::new();
    if let Some(ports) = spec.ports.as_mut() {
        for (i, port) in ports.iter_mut().enumerate() {
            let node_port = port.node_port.unwrap_or(0);
            if node_port == 0 && !allocate_new {
                continue;
            }
            if node_port != 0 {
                if !old_ports.contains(&node_port) && allocated_here.insert(node_port) {
                    txn.allocate_node_port(node_port)
                        .map_err(|err| node_port_error(txn, i, node_port, err))?;
                }
            } else {
                port.node_port = Some(
                    txn.allocate_next_node_port()
                        .map_err(next_node_port_error)?,
                );
            }
        }
    }
    let new_ports = port_node_ports(spec);
    txn.taken
        .release_node_ports_on_success
        .extend(old_ports.difference(&new_ports));
    Ok(())
}

/// `updateHealthCheckNodePort`.
fn update_health_check_node_port(
    txn: &mut Transaction<'_>,
    spec: &mut ServiceSpec,
    old: &ServiceSpec,
) -> AllocResult {
    match (needs_health_check(old), needs_health_check(spec)) {
        (false, true) => allocate_health_check_node_port(txn, spec),
        (true, false) => {
            if let Some(port) = old.health_check_node_port.filter(|port| *port != 0) {
                txn.taken.release_node_ports_on_success.push(port);
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests;
