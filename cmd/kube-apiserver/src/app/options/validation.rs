//! `Validate`: every rule of the generic groups and the component, all errors
//! collected and reported together.

use ipnet::IpNet;

use super::CompletedOptions;
use super::extra::ENDPOINT_RECONCILER_TYPES;

/// Service ranges larger than 2^20 addresses are refused.
const MAX_CIDR_BITS: u8 = 20;

impl CompletedOptions {
    pub fn validate(&self) -> Vec<String> {
        let o = &self.options;
        let mut errors = Vec::new();
        errors.extend(o.generic.validate());
        errors.extend(o.etcd.validate());
        errors.extend(o.secure_serving.validate(true));
        errors.extend(o.audit.validate());
        errors.extend(o.features.validate());
        errors.extend(o.admission.validate());
        errors.extend(
            o.authentication
                .validate(o.extra.service_account_signing_key_file.as_deref()),
        );
        errors.extend(o.authorization.validate());
        errors.extend(o.cloud_provider.validate());
        errors.extend(o.api_enablement.validate());
        errors.extend(o.egress_selector.validate());
        let info = component_base::version::get();
        let minor = info.minor.trim_end_matches('+').parse().unwrap_or(0);
        errors.extend(o.metrics.validate(info.major, minor));
        errors.extend(o.logs.validate());
        errors.extend(o.traces.validate());
        errors.extend(self.validate_extra());
        errors
    }

    fn validate_extra(&self) -> Vec<String> {
        let extra = &self.options.extra;
        let mut errors = Vec::new();
        if extra.insecure_port != 0 {
            errors.push(format!(
                "invalid port value {}: only zero is allowed (the insecure port was removed)",
                extra.insecure_port
            ));
        }
        errors.extend(self.validate_cluster_ip_flags());
        if !(0..=65535).contains(&extra.kubernetes_service_node_port) {
            errors.push(format!(
                "--kubernetes-service-node-port {} must be between 0 and 65535, inclusive. If 0, the Kubernetes master service will be of type ClusterIP.",
                extra.kubernetes_service_node_port
            ));
        }
        if extra.kubernetes_service_node_port > 0
            && !extra
                .service_node_port_range
                .contains(extra.kubernetes_service_node_port)
        {
            errors.push(format!(
                "kubernetes service node port range {} doesn't contain {}",
                extra.service_node_port_range, extra.kubernetes_service_node_port
            ));
        }
        if extra.master_count <= 0 {
            errors.push(format!(
                "--apiserver-count should be a positive number, but value '{}' provided",
                extra.master_count
            ));
        }
        if !ENDPOINT_RECONCILER_TYPES.contains(&extra.endpoint_reconciler_type.as_str()) {
            errors.push(format!(
                "--endpoint-reconciler-type {:?} invalid, allowed values: {}",
                extra.endpoint_reconciler_type,
                ENDPOINT_RECONCILER_TYPES.join(", ")
            ));
        }
        if extra.endpoint_reconciler_type != "none"
            && let Some(primary) = self.primary_service_cluster_ip_range
            && primary.addr().is_ipv4() != self.advertise_address.is_ipv4()
        {
            errors.push(format!(
                "service IP family {:?} must match public address family {:?}",
                primary.to_string(),
                self.advertise_address.to_string()
            ));
        }
        if extra.max_connection_bytes_per_sec < 0 {
            errors.push("--max-connection-bytes-per-sec can not be negative value".to_string());
        }
        if extra.identity_lease_duration_seconds <= 0 {
            errors.push(format!(
                "--identity-lease-duration-seconds should be a positive number, but value '{}' provided",
                extra.identity_lease_duration_seconds
            ));
        }
        if extra.identity_lease_renew_interval_seconds <= 0 {
            errors.push(format!(
                "--identity-lease-renew-interval-seconds should be a positive number, but value '{}' provided",
                extra.identity_lease_renew_interval_seconds
            ));
        }
        if extra.identity_lease_duration_seconds > 0
            && extra.identity_lease_renew_interval_seconds >= extra.identity_lease_duration_seconds
        {
            errors.push(format!(
                "--identity-lease-renew-interval-seconds ({}) must be less than --identity-lease-duration-seconds ({})",
                extra.identity_lease_renew_interval_seconds, extra.identity_lease_duration_seconds
            ));
        }
        if extra.proxy_client_cert_file.is_some() != extra.proxy_client_key_file.is_some() {
            errors.push(
                "--proxy-client-cert-file and --proxy-client-key-file must be specified together"
                    .to_string(),
            );
        }
        if extra.kubelet_client_certificate.is_some() != extra.kubelet_client_key.is_some() {
            errors.push(
                "--kubelet-client-certificate and --kubelet-client-key must be specified together"
                    .to_string(),
            );
        }
        if extra.kubelet_timeout.is_negative() {
            errors.push("--kubelet-timeout can not be negative value".to_string());
        }
        if let Some(path) = &extra.service_account_signing_key_file
            && let Err(err) = controlplane::serviceaccount::SigningKey::load(path)
        {
            errors.push(format!(
                "failed to parse service-account-issuer-key-file: {err:#}"
            ));
        }
        errors
    }

    fn validate_cluster_ip_flags(&self) -> Vec<String> {
        let mut errors = self.service_cluster_ip_range_errors.clone();
        let Some(primary) = self.primary_service_cluster_ip_range else {
            errors.push(
                "--service-cluster-ip-range must contain at least one valid cidr".to_string(),
            );
            return errors;
        };
        let entries = self
            .options
            .extra
            .service_cluster_ip_ranges
            .split(',')
            .count();
        if entries > 2 {
            errors.push(
                "--service-cluster-ip-range must not contain more than two entries".to_string(),
            );
        }
        errors.extend(validate_max_cidr_range(
            primary,
            "--service-cluster-ip-range",
        ));
        if host_bits(primary) < 3 {
            errors.push("the service cluster IP range must be at least 8 IP addresses".to_string());
        }
        if let Some(secondary) = self.secondary_service_cluster_ip_range {
            if secondary.addr().is_ipv4() == primary.addr().is_ipv4() {
                errors.push("--service-cluster-ip-range[0] and --service-cluster-ip-range[1] must be of different IP family".to_string());
            }
            errors.extend(validate_max_cidr_range(
                secondary,
                "--service-cluster-ip-range[1]",
            ));
        }
        errors
    }
}

fn host_bits(net: IpNet) -> u8 {
    net.max_prefix_len() - net.prefix_len()
}

fn validate_max_cidr_range(net: IpNet, flag: &str) -> Option<String> {
    let bits = net.max_prefix_len();
    (host_bits(net) > MAX_CIDR_BITS).then(|| {
        format!(
            "specified {flag} is too large; for {bits}-bit addresses, the mask must be >= {}",
            bits - MAX_CIDR_BITS
        )
    })
}
