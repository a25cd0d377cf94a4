//! `Complete`: fills the defaults that depend on other options — advertise
//! address, service IP ranges (10.0.0.0/24 with a warning), the self-signed
//! serving certificate in `--cert-dir`, external host, anonymous-vs-AlwaysAllow,
//! and the local service-account defaults.

use std::net::{IpAddr, Ipv4Addr, UdpSocket};
use std::path::PathBuf;

use anyhow::Context;
use ipnet::IpNet;

use apiserver::options::AuthorizationMode;
use apiserver::server::self_signed;
use controlplane::registry::core::service::ipallocator;

use super::ServerRunOptions;

/// Used when no `--service-cluster-ip-range` is given.
pub const DEFAULT_SERVICE_IP_CIDR: &str = "10.0.0.0/24";
/// The issuer used when none is given (kubeadm's value).
pub const DEFAULT_SERVICE_ACCOUNT_ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

/// Options after `complete`: every derived default is filled in.
#[derive(Debug, Clone)]
pub struct CompletedOptions {
    pub options: ServerRunOptions,
    pub advertise_address: IpAddr,
    pub primary_service_cluster_ip_range: Option<IpNet>,
    pub secondary_service_cluster_ip_range: Option<IpNet>,
    /// Why `--service-cluster-ip-range` did not parse (reported by validate).
    pub service_cluster_ip_range_errors: Vec<String>,
    /// The first address of the primary range: the `kubernetes` Service IP.
    pub api_server_service_ip: Option<IpAddr>,
    pub tls_cert_file: PathBuf,
    pub tls_private_key_file: PathBuf,
    pub warnings: Vec<String>,
}

impl ServerRunOptions {
    /// `Complete`. Writes the self-signed certificate when none is given.
    pub fn complete(mut self) -> anyhow::Result<CompletedOptions> {
        let mut warnings = Vec::new();

        // Advertise address: the flag, else the bind address, else the
        // default interface.
        let bind = self.secure_serving.bind_address;
        let advertise_address = match self.generic.advertise_address {
            Some(address) => address,
            None if !bind.is_unspecified() => bind,
            None => default_interface_address().unwrap_or_else(|| {
                warnings.push("unable to find a default network interface: advertising 127.0.0.1; set --advertise-address".to_string());
                IpAddr::V4(Ipv4Addr::LOCALHOST)
            }),
        };
        self.generic.advertise_address = Some(advertise_address);

        // Service cluster IP ranges.
        let mut range_errors = Vec::new();
        let ranges_flag = self.extra.service_cluster_ip_ranges.trim().to_string();
        let mut parsed = Vec::new();
        if ranges_flag.is_empty() {
            warnings.push(format!(
                "No CIDR for service cluster IPs specified. Default value which was {DEFAULT_SERVICE_IP_CIDR} is deprecated and will be removed in future releases. Please specify it using --service-cluster-ip-range on kube-apiserver."
            ));
            parsed.push(
                DEFAULT_SERVICE_IP_CIDR
                    .parse::<IpNet>()
                    .context("the default service CIDR")?,
            );
        } else {
            for (index, cidr) in ranges_flag.split(',').enumerate() {
                match cidr.trim().parse::<IpNet>() {
                    Ok(net) => parsed.push(net.trunc()),
                    Err(_) => range_errors.push(format!(
                        "service-cluster-ip-range[{index}] is not a valid cidr: {:?}",
                        cidr.trim()
                    )),
                }
            }
        }
        let primary = if range_errors.is_empty() {
            parsed.first().copied()
        } else {
            None
        };
        let secondary = if range_errors.is_empty() {
            parsed.get(1).copied()
        } else {
            None
        };
        let api_server_service_ip = primary.and_then(ipallocator::first_usable_address);

        // Serving certificate: the flags, else a self-signed pair in --cert-dir.
        let (tls_cert_file, tls_private_key_file) = match (
            &self.secure_serving.tls_cert_file,
            &self.secure_serving.tls_private_key_file,
        ) {
            (Some(cert), Some(key)) => (cert.clone(), key.clone()),
            (None, None) => {
                let alternate_ips: Vec<IpAddr> = api_server_service_ip.into_iter().collect();
                let (paths, generated) = self_signed::ensure(
                    &self.secure_serving.cert_dir,
                    &advertise_address.to_string(),
                    &["kubernetes.default.svc", "kubernetes.default", "kubernetes"],
                    &alternate_ips,
                )?;
                if generated {
                    tracing::info!(cert = %paths.cert.display(), key = %paths.key.display(), "generated a self-signed serving certificate");
                }
                (paths.cert, paths.key)
            }
            // Validate reports the half-given pair; keep what was given.
            (cert, key) => (
                cert.clone().unwrap_or_default(),
                key.clone().unwrap_or_default(),
            ),
        };

        // External host.
        if self.generic.external_host.is_empty() {
            self.generic.external_host = advertise_address.to_string();
        }

        // Anonymous requests cannot be combined with AlwaysAllow.
        if self.authentication.anonymous_auth
            && self
                .authorization
                .parsed_modes()
                .contains(&AuthorizationMode::AlwaysAllow)
        {
            warnings.push("AnonymousAuth is not allowed with the AlwaysAllow authorizer. Resetting AnonymousAuth to false. You should use a different authorizer".to_string());
            self.authentication.anonymous_auth = false;
        }

        // Service accounts: local defaults so that a start without flags works.
        let auth = &mut self.authentication;
        if auth.service_account_issuer.is_empty() {
            auth.service_account_issuer = vec![DEFAULT_SERVICE_ACCOUNT_ISSUER.to_string()];
        }
        if self.extra.service_account_signing_key_file.is_none()
            && !tls_private_key_file.as_os_str().is_empty()
        {
            self.extra.service_account_signing_key_file = Some(tls_private_key_file.clone());
        }
        if auth.service_account_key_file.is_empty()
            && let Some(signing) = &self.extra.service_account_signing_key_file
        {
            auth.service_account_key_file = vec![signing.clone()];
        }
        if auth.api_audiences.is_empty() {
            auth.api_audiences = auth.service_account_issuer.clone();
        }

        Ok(CompletedOptions {
            options: self,
            advertise_address,
            primary_service_cluster_ip_range: primary,
            secondary_service_cluster_ip_range: secondary,
            service_cluster_ip_range_errors: range_errors,
            api_server_service_ip,
            tls_cert_file,
            tls_private_key_file,
            warnings,
        })
    }
}

/// The address the kernel would use for outbound traffic (no packet is
/// sent: connecting a UDP socket only picks the route).
fn default_interface_address() -> Option<IpAddr> {
    let socket = UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("8.8.8.8:53").ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_unspecified()).then_some(ip)
}
