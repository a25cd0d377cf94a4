//! The `default/kubernetes` endpoints: which apiservers serve the cluster
//! (`pkg/controlplane/reconcilers`), by `--endpoint-reconciler-type`:
//!
//! - `lease` (the default): every apiserver keeps a lease,
//!   `/registry/masterleases/<ip>`, renewed every [`INTERVAL`] with a TTL of
//!   [`LEASE_TTL`], and writes the endpoints as exactly the addresses with a
//!   live lease. On etcd the lease is etcd's own, so a dead apiserver's
//!   expires and the next round of any live one drops it; an apiserver that
//!   shuts down removes its lease at once. On the embedded store only one
//!   apiserver can run, so the live set is this one.
//! - `master-count`: this apiserver is always listed and the list holds at
//!   most `--apiserver-count` addresses (the ones after ours are dropped).
//! - `none`: the endpoints are not managed.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use k8s_openapi::api::core::v1::{EndpointAddress, EndpointPort, EndpointSubset, Endpoints};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use apiserver::registry::Store;
use apiserver::registry::rest::Subresource;
use apiserver::status::Status;
use apiserver_storage::{EtcdStorage, ListOptions, Storage, StorageError};

use crate::registry::core::endpoints::EndpointsStrategy;

/// How often each apiserver renews its lease and reconciles (upstream's
/// `DefaultEndpointReconcilerInterval`).
pub const INTERVAL: Duration = Duration::from_secs(10);
/// How long a lease outlives its last renewal (upstream's
/// `DefaultEndpointReconcilerTTL`).
pub const LEASE_TTL: Duration = Duration::from_secs(15);
/// Where the leases live (upstream's `masterleases` prefix).
pub const LEASES_PREFIX: &str = "/registry/masterleases/";

/// `--endpoint-reconciler-type`, with `--apiserver-count` for `master-count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReconcilerType {
    Lease,
    MasterCount(usize),
    None,
}

/// Where the leases of `lease` live.
#[derive(Clone, Debug)]
pub enum LeaseStorage {
    /// The embedded store: one apiserver, so no leases to keep.
    Local,
    /// etcd's leases, shared by every apiserver on the cluster.
    Etcd(Box<EtcdStorage>),
}

/// Keeps `default/kubernetes` endpoints pointing at the live apiservers.
pub struct EndpointReconciler {
    pub kind: ReconcilerType,
    pub leases: LeaseStorage,
    pub endpoints: Arc<Store<EndpointsStrategy>>,
    /// This apiserver's `--advertise-address` and `--secure-port`.
    pub ip: IpAddr,
    pub port: u16,
}

impl EndpointReconciler {
    /// One round: renew this apiserver's lease, then write the endpoints if
    /// they differ from what they should be.
    pub async fn reconcile(&self) -> Result<(), Status> {
        let addresses = match self.kind {
            ReconcilerType::None => return Ok(()),
            ReconcilerType::Lease => {
                self.renew_lease().await?;
                self.live_addresses().await?
            }
            ReconcilerType::MasterCount(count) => {
                let current = self.current().await?;
                with_master_count(current_addresses(current.as_ref()), self.ip, count)
            }
        };
        self.write(addresses).await
    }

    /// Reconciles every [`INTERVAL`], forever (a failed round is logged and
    /// tried again next time).
    pub async fn run(self: Arc<Self>) {
        if self.kind == ReconcilerType::None {
            return;
        }
        let mut ticks = tokio::time::interval(INTERVAL);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if let Err(status) = self.reconcile().await {
                tracing::warn!(error = %status.message, "reconciling the kubernetes endpoints");
            }
        }
    }

    /// At shutdown (upstream's `RemoveEndpoints`): drop this apiserver's
    /// lease and take it out of the endpoints, so clients stop being sent
    /// here before the lease would expire.
    pub async fn remove_self(&self) -> Result<(), Status> {
        let mut addresses = match (&self.kind, &self.leases) {
            (ReconcilerType::Lease, LeaseStorage::Etcd(etcd)) => {
                match etcd.delete(&self.lease_key(), None).await {
                    Ok(_) | Err(StorageError::NotFound { .. }) => {}
                    Err(err) => return Err(storage_status(err)),
                }
                self.live_addresses().await?
            }
            // Upstream's master-count reconciler takes its address out too.
            (ReconcilerType::MasterCount(_), _) => match self.current().await? {
                Some(current) => current_addresses(Some(&current)),
                None => return Ok(()),
            },
            _ => return Ok(()),
        };
        addresses.retain(|ip| *ip != self.ip);
        self.write(addresses).await
    }

    fn lease_key(&self) -> String {
        format!("{LEASES_PREFIX}{}", self.ip)
    }

    async fn renew_lease(&self) -> Result<(), Status> {
        let LeaseStorage::Etcd(etcd) = &self.leases else {
            return Ok(());
        };
        let record = Endpoints {
            metadata: ObjectMeta {
                name: Some(self.ip.to_string()),
                ..ObjectMeta::default()
            },
            subsets: Some(self.subsets(vec![self.ip])),
        };
        let mut value =
            serde_json::to_value(&record).map_err(|err| Status::internal_error(err.to_string()))?;
        value["kind"] = "Endpoints".into();
        value["apiVersion"] = "v1".into();
        let value =
            serde_json::to_vec(&value).map_err(|err| Status::internal_error(err.to_string()))?;
        etcd.put_with_ttl(&self.lease_key(), Bytes::from(value), LEASE_TTL)
            .await
            .map(|_| ())
            .map_err(storage_status)
    }

    /// The addresses with a live lease, this apiserver's included, sorted.
    async fn live_addresses(&self) -> Result<Vec<IpAddr>, Status> {
        let mut addresses = vec![self.ip];
        if let LeaseStorage::Etcd(etcd) = &self.leases {
            let leases = etcd
                .list(LEASES_PREFIX, ListOptions::default())
                .await
                .map_err(storage_status)?;
            addresses.extend(
                leases
                    .items
                    .iter()
                    .filter_map(|kv| kv.key.strip_prefix(LEASES_PREFIX)?.parse::<IpAddr>().ok()),
            );
        }
        addresses.sort();
        addresses.dedup();
        Ok(addresses)
    }

    async fn current(&self) -> Result<Option<Endpoints>, Status> {
        match self
            .endpoints
            .get_object(Some("default"), "kubernetes")
            .await
        {
            Ok(endpoints) => Ok(Some(endpoints)),
            Err(status) if status.code == 404 => Ok(None),
            Err(status) => Err(status),
        }
    }

    fn subsets(&self, addresses: Vec<IpAddr>) -> Vec<EndpointSubset> {
        vec![EndpointSubset {
            addresses: Some(
                addresses
                    .into_iter()
                    .map(|ip| EndpointAddress {
                        ip: ip.to_string(),
                        ..EndpointAddress::default()
                    })
                    .collect(),
            ),
            ports: Some(vec![EndpointPort {
                name: Some("https".to_string()),
                port: i32::from(self.port),
                protocol: Some("TCP".to_string()),
                ..EndpointPort::default()
            }]),
            ..EndpointSubset::default()
        }]
    }

    /// Writes the endpoints with `addresses` unless they already say so.
    async fn write(&self, addresses: Vec<IpAddr>) -> Result<(), Status> {
        let subsets = self.subsets(addresses);
        let object = Endpoints {
            metadata: ObjectMeta {
                name: Some("kubernetes".to_string()),
                namespace: Some("default".to_string()),
                labels: Some(
                    [(
                        "endpointslice.kubernetes.io/skip-mirror".to_string(),
                        "true".to_string(),
                    )]
                    .into(),
                ),
                ..ObjectMeta::default()
            },
            subsets: Some(subsets.clone()),
        };
        let update = async || {
            self.endpoints
                .update_object(
                    Some("default"),
                    "kubernetes",
                    Subresource::System,
                    false,
                    |current| {
                        let mut endpoints = current.clone();
                        endpoints.subsets = Some(subsets.clone());
                        Ok(endpoints)
                    },
                )
                .await
                .map(|_| ())
        };
        // Read first: every round of every apiserver finds the object there,
        // and an unchanged one is not written.
        if self.current().await?.is_some() {
            return update().await;
        }
        // The advertise address may be loopback, which validation refuses
        // for clients' endpoints: these are the servers' own, written as such.
        match self
            .endpoints
            .create_system_object(Some("default"), object)
            .await
        {
            Ok(_) => Ok(()),
            Err(status) if status.reason == "AlreadyExists" => update().await,
            Err(status) => Err(status),
        }
    }
}

fn storage_status(err: StorageError) -> Status {
    Status::internal_error(format!("the endpoint reconciler's leases: {err}"))
}

/// The addresses the stored endpoints list.
fn current_addresses(endpoints: Option<&Endpoints>) -> Vec<IpAddr> {
    endpoints
        .and_then(|e| e.subsets.as_ref())
        .into_iter()
        .flatten()
        .flat_map(|subset| subset.addresses.iter().flatten())
        .filter_map(|address| address.ip.parse().ok())
        .collect()
}

/// `master-count`: `current` with `ip` added, sorted, and at most `count`
/// long, dropping the addresses just after `ip` (wrapping around) as
/// upstream does, so every apiserver converges on the same list.
fn with_master_count(mut current: Vec<IpAddr>, ip: IpAddr, count: usize) -> Vec<IpAddr> {
    current.push(ip);
    current.sort();
    current.dedup();
    let count = count.max(1);
    while current.len() > count {
        let Some(own) = current.iter().position(|a| *a == ip) else {
            break;
        };
        current.remove((own + 1) % current.len());
    }
    current
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ips(list: &[&str]) -> Vec<IpAddr> {
        list.iter().map(|ip| ip.parse().unwrap()).collect()
    }

    #[test]
    fn master_count_adds_this_apiserver_and_trims_after_it() {
        let me: IpAddr = "10.0.0.2".parse().unwrap();
        assert_eq!(with_master_count(vec![], me, 3), ips(&["10.0.0.2"]));
        assert_eq!(
            with_master_count(ips(&["10.0.0.1", "10.0.0.3"]), me, 3),
            ips(&["10.0.0.1", "10.0.0.2", "10.0.0.3"])
        );
        // One too many: the address after ours goes.
        assert_eq!(
            with_master_count(ips(&["10.0.0.1", "10.0.0.3"]), me, 2),
            ips(&["10.0.0.1", "10.0.0.2"])
        );
        // Ours is last: wrap around to the first.
        let last: IpAddr = "10.0.0.9".parse().unwrap();
        assert_eq!(
            with_master_count(ips(&["10.0.0.1", "10.0.0.3"]), last, 2),
            ips(&["10.0.0.3", "10.0.0.9"])
        );
        assert_eq!(
            with_master_count(ips(&["10.0.0.2", "10.0.0.2"]), me, 1),
            ips(&["10.0.0.2"])
        );
    }
}
