//! kube-apiserver's own options (`options.Extra`, printed as "Misc flags"):
//! service IP ranges and node ports, kubelet client settings, proxy client
//! certificate, identity lease, endpoint reconciler, and the removed insecure
//! port.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{ArgAction, Args};

use apiserver::flag::{Duration, PortRange, parse_bool};

pub const ENDPOINT_RECONCILER_TYPES: &[&str] = &["master-count", "lease", "none"];

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Misc flags")]
pub struct Extra {
    /// If true, allow privileged containers. [default=false] [parsed only: pod security settings are not checked yet]
    #[arg(long, value_name = "true|false", action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", value_parser = parse_bool)]
    pub allow_privileged: bool,

    /// The number of apiservers running in the cluster, must be a positive number. (In use when --endpoint-reconciler-type=master-count is enabled.)
    #[arg(long = "apiserver-count", value_name = "int", default_value_t = 1)]
    pub master_count: i64,

    /// Turns on aggregator routing requests to endpoints IP rather than cluster IP. [parsed only]
    #[arg(long, value_name = "true|false", action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", value_parser = parse_bool)]
    pub enable_aggregator_routing: bool,

    /// If true, install a /logs handler for the apiserver logs. (DEPRECATED: This flag will be removed in v1.19) [parsed only: no /logs handler yet]
    #[arg(long, value_name = "true|false", action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_value = "true", default_missing_value = "true", value_parser = parse_bool)]
    pub enable_logs_handler: bool,

    /// Use an endpoint reconciler (master-count, lease, none) master-count is deprecated, and will be removed in a future version.
    #[arg(long, value_name = "string", default_value = "lease")]
    pub endpoint_reconciler_type: String,

    /// Amount of time to retain events.
    #[arg(long, value_name = "duration", default_value = "1h0m0s")]
    pub event_ttl: Duration,

    /// Path to a cert file for the certificate authority. [parsed only: no kubelet client yet]
    #[arg(long, value_name = "string")]
    pub kubelet_certificate_authority: Option<PathBuf>,

    /// Path to a client cert file for TLS.
    #[arg(long, value_name = "string")]
    pub kubelet_client_certificate: Option<PathBuf>,

    /// Path to a client key file for TLS.
    #[arg(long, value_name = "string")]
    pub kubelet_client_key: Option<PathBuf>,

    /// DEPRECATED: kubelet port.
    #[arg(long, value_name = "uint", default_value_t = 10250, hide = true)]
    pub kubelet_port: u32,

    /// DEPRECATED: kubelet read only port.
    #[arg(long, value_name = "uint", default_value_t = 10255, hide = true)]
    pub kubelet_read_only_port: u32,

    /// List of the preferred NodeAddressTypes to use for kubelet connections.
    #[arg(
        long,
        value_name = "strings",
        value_delimiter = ',',
        default_value = "Hostname,InternalDNS,InternalIP,ExternalDNS,ExternalIP"
    )]
    pub kubelet_preferred_address_types: Vec<String>,

    /// Timeout for kubelet operations.
    #[arg(long, value_name = "duration", default_value = "5s")]
    pub kubelet_timeout: Duration,

    /// If non-zero, the Kubernetes master service (which apiserver creates/maintains) will be of type NodePort, using this as the value of the port. If zero, the Kubernetes master service will be of type ClusterIP. [validated only]
    #[arg(long, value_name = "int", default_value_t = 0)]
    pub kubernetes_service_node_port: i64,

    /// If non-zero, throttle each user connection to this number of bytes/sec. Currently only applies to long-running requests. [parsed and validated only]
    #[arg(long, value_name = "int", default_value_t = 0)]
    pub max_connection_bytes_per_sec: i64,

    /// If set and the UnknownVersionInteroperabilityProxy feature gate is enabled, this IP will be used by peer kube-apiservers to proxy requests to this kube-apiserver. [parsed only]
    #[arg(long, value_name = "string")]
    pub peer_advertise_ip: Option<IpAddr>,

    /// If set and the UnknownVersionInteroperabilityProxy feature gate is enabled, this port will be used by peer kube-apiservers to proxy requests to this kube-apiserver. [parsed only]
    #[arg(long, value_name = "string")]
    pub peer_advertise_port: Option<u16>,

    /// If set and the UnknownVersionInteroperabilityProxy feature gate is enabled, this file will be used to verify serving certificates of peer kube-apiservers. [parsed only]
    #[arg(long, value_name = "string")]
    pub peer_ca_file: Option<PathBuf>,

    /// Client certificate used to prove the identity of the aggregator or kube-apiserver when it must call out during a request. [parsed and validated only: no aggregator yet]
    #[arg(long, value_name = "string")]
    pub proxy_client_cert_file: Option<PathBuf>,

    /// Private key for the client certificate used to prove the identity of the aggregator or kube-apiserver when it must call out during a request.
    #[arg(long, value_name = "string")]
    pub proxy_client_key_file: Option<PathBuf>,

    /// Path to the file that contains the current private key of the service account token issuer. The issuer will sign issued ID tokens with this private key. Defaults here to the serving key (see README).
    #[arg(long, value_name = "string")]
    pub service_account_signing_key_file: Option<PathBuf>,

    /// A CIDR notation IP range from which to assign service cluster IPs. This must not overlap with any IP ranges assigned to nodes or pods. Max of two dual-stack CIDRs is allowed. Defaults to 10.0.0.0/24.
    #[arg(
        long = "service-cluster-ip-range",
        value_name = "string",
        default_value = "",
        hide_default_value = true
    )]
    pub service_cluster_ip_ranges: String,

    /// A port range to reserve for services with NodePort visibility. This must not overlap with the ephemeral port range on nodes. Example: '30000-32767'. Inclusive at both ends of the range.
    #[arg(long, value_name = "portRange", default_value = "30000-32767")]
    pub service_node_port_range: PortRange,

    /// The duration of the apiserver identity lease in seconds.
    #[arg(long, value_name = "int", default_value_t = 3600, hide = true)]
    pub identity_lease_duration_seconds: i64,

    /// How often the apiserver renews its identity lease, in seconds.
    #[arg(long, value_name = "int", default_value_t = 10, hide = true)]
    pub identity_lease_renew_interval_seconds: i64,

    /// REMOVED: the insecure port is gone; only 0 is accepted.
    #[arg(long, value_name = "int", default_value_t = 0, hide = true)]
    pub insecure_port: i64,
}
