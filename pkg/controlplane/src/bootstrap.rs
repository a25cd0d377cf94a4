//! What exists from the first start (`pkg/controlplane/controller`): the
//! system namespaces and the `default/kubernetes` service, reconciled on
//! every start.

use std::collections::BTreeMap;
use std::net::IpAddr;

use k8s_openapi::api::core::v1::{Namespace, Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use apiserver::registry::Store;
use apiserver::registry::rest::Subresource;
use apiserver::status::Status;

use crate::registry::core::namespace::NamespaceStrategy;
use crate::registry::core::service::ServiceStrategy;

/// Namespaces the system creates (upstream's SystemNamespaces plus default).
pub const SYSTEM_NAMESPACES: [&str; 4] =
    ["default", "kube-system", "kube-public", "kube-node-lease"];

/// Creates each system namespace that is missing.
pub async fn ensure_system_namespaces(namespaces: &Store<NamespaceStrategy>) -> Result<(), Status> {
    for name in SYSTEM_NAMESPACES {
        let namespace = Namespace {
            metadata: ObjectMeta {
                name: Some(name.to_string()),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        };
        match namespaces.create_object(None, namespace, false).await {
            Ok(_) => tracing::info!(namespace = name, "created system namespace"),
            Err(status) if status.reason == "AlreadyExists" => {}
            Err(status) => return Err(status),
        }
    }
    Ok(())
}

/// Where clients reach this server.
#[derive(Debug, Clone)]
pub struct MasterEndpoint {
    pub service_ip: IpAddr,
    pub advertise_address: IpAddr,
    pub secure_port: u16,
}

/// How often, and how far apart, the `default/kubernetes` service is read
/// again when another apiserver is creating it at the same moment.
const CREATE_RACE_ATTEMPTS: usize = 20;
const CREATE_RACE_BACKOFF: std::time::Duration = std::time::Duration::from_millis(100);

/// Creates or corrects the `default/kubernetes` service (ClusterIP on 443 →
/// the secure port); its endpoints are the endpoint reconciler's
/// (`controller/endpoint_reconciler.rs`).
pub async fn reconcile_kubernetes_service(
    services: &Store<ServiceStrategy>,
    master: &MasterEndpoint,
) -> Result<(), Status> {
    let labels = BTreeMap::from([
        ("component".to_string(), "apiserver".to_string()),
        ("provider".to_string(), "kubernetes".to_string()),
    ]);
    let port = ServicePort {
        name: Some("https".to_string()),
        port: 443,
        protocol: Some("TCP".to_string()),
        target_port: Some(IntOrString::Int(i32::from(master.secure_port))),
        ..ServicePort::default()
    };
    let service = Service {
        metadata: ObjectMeta {
            name: Some("kubernetes".to_string()),
            namespace: Some("default".to_string()),
            labels: Some(labels.clone()),
            ..ObjectMeta::default()
        },
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".to_string()),
            cluster_ip: Some(master.service_ip.to_string()),
            cluster_ips: Some(vec![master.service_ip.to_string()]),
            ports: Some(vec![port.clone()]),
            session_affinity: Some("None".to_string()),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    };
    // An existing service keeps its allocated IP (allocating it again would
    // collide with itself): only its ports are corrected. Apiservers starting
    // together race to create it: the loser finds its IP taken (422) or the
    // object there (409) and reads it again.
    for attempt in 1..=CREATE_RACE_ATTEMPTS {
        match services.get_object(Some("default"), "kubernetes").await {
            Ok(_) => {
                services
                    .update_object(
                        Some("default"),
                        "kubernetes",
                        Subresource::Main,
                        false,
                        |current| {
                            let mut svc = current.clone();
                            if let Some(spec) = svc.spec.as_mut() {
                                spec.ports = Some(vec![port.clone()]);
                            }
                            Ok(svc)
                        },
                    )
                    .await?;
                return Ok(());
            }
            Err(status) if status.code == 404 => {
                match services
                    .create_object(Some("default"), service.clone(), false)
                    .await
                {
                    Ok(_) => {
                        tracing::info!("created the default/kubernetes service");
                        return Ok(());
                    }
                    Err(status)
                        if attempt < CREATE_RACE_ATTEMPTS
                            && (status.code == 409 || status.code == 422) =>
                    {
                        tokio::time::sleep(CREATE_RACE_BACKOFF).await;
                    }
                    Err(status) => return Err(status),
                }
            }
            Err(status) => return Err(status),
        }
    }
    Ok(())
}
