//! The flags that are parsed and validated but do not change the server's
//! behaviour yet, and the marker their `--help` text carries.

use clap::Arg;

use apiserver::options::NOT_IMPLEMENTED;

/// Long names of the flags that do nothing yet (storage, REST API, admission,
/// and the authenticators/authorizers/backends still to come).
pub const PARSE_ONLY_FLAGS: &[&str] = &[
    // Generic
    "aggregator-reject-forwarding-redirect",
    "enable-priority-and-fairness",
    "feature-gates",
    "goaway-chance",
    "livez-grace-period",
    "shutdown-send-retry-after",
    // Etcd
    "delete-collection-workers",
    "enable-garbage-collector",
    "encryption-provider-config",
    "encryption-provider-config-automatic-reload",
    "etcd-count-metric-poll-period",
    "etcd-db-metric-poll-interval",
    "etcd-servers-overrides",
    "lease-reuse-duration-seconds",
    "storage-backend",
    "storage-media-type",
    "watch-cache",
    "watch-cache-sizes",
    // Secure serving
    // Auditing
    "audit-log-batch-buffer-size",
    "audit-log-batch-max-size",
    "audit-log-batch-max-wait",
    "audit-log-compress",
    "audit-log-truncate-enabled",
    "audit-log-truncate-max-batch-size",
    "audit-log-truncate-max-event-size",
    "audit-webhook-config-file",
    "audit-webhook-initial-backoff",
    "audit-webhook-mode",
    "audit-webhook-version",
    // Features
    "contention-profiling",
    "debug-socket-path",
    "profiling",
    // Authentication
    "authentication-config",
    "authentication-token-webhook-cache-ttl",
    "authentication-token-webhook-config-file",
    "authentication-token-webhook-version",
    "enable-bootstrap-token-auth",
    "oidc-ca-file",
    "oidc-client-id",
    "oidc-groups-claim",
    "oidc-groups-prefix",
    "oidc-issuer-url",
    "oidc-required-claim",
    "oidc-signing-algs",
    "oidc-username-claim",
    "oidc-username-prefix",
    "requestheader-allowed-names",
    "requestheader-client-ca-file",
    "requestheader-extra-headers-prefix",
    "requestheader-group-headers",
    "requestheader-uid-headers",
    "requestheader-username-headers",
    "service-account-lookup",
    // Authorization
    "authorization-config",
    "authorization-policy-file",
    "authorization-webhook-cache-authorized-ttl",
    "authorization-webhook-cache-unauthorized-ttl",
    "authorization-webhook-config-file",
    "authorization-webhook-version",
    // Cloud provider, API enablement, egress selector, admission
    "cloud-config",
    "cloud-provider",
    "runtime-config",
    "egress-selector-config-file",
    "admission-control-config-file",
    "disable-admission-plugins",
    "enable-admission-plugins",
    // Metrics
    "allow-metric-labels",
    "allow-metric-labels-manifest",
    "disabled-metrics",
    "show-hidden-metrics-for-version",
    // Logs, traces
    "log-flush-frequency",
    "log-json-info-buffer-size",
    "log-json-split-stream",
    "log-text-info-buffer-size",
    "log-text-split-stream",
    "vmodule",
    "tracing-config-file",
    // Misc
    "allow-privileged",
    "enable-aggregator-routing",
    "enable-logs-handler",
    "kubelet-certificate-authority",
    "kubelet-client-certificate",
    "kubelet-client-key",
    "kubelet-preferred-address-types",
    "kubelet-timeout",
    "kubernetes-service-node-port",
    "max-connection-bytes-per-sec",
    "peer-advertise-ip",
    "peer-advertise-port",
    "peer-ca-file",
    "proxy-client-cert-file",
    "proxy-client-key-file",
];

/// Appends the marker to a parse-only flag's help unless its text already
/// says how it is limited.
pub fn mark(arg: Arg) -> Arg {
    let Some(long) = arg.get_long() else {
        return arg;
    };
    if !PARSE_ONLY_FLAGS.contains(&long) {
        return arg;
    }
    let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
    if help.contains("[parsed") {
        return arg;
    }
    arg.help(format!("{help} {NOT_IMPLEMENTED}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_flag_exists_and_is_marked() {
        let command = crate::app::new_api_server_command();
        for flag in PARSE_ONLY_FLAGS {
            let arg = command
                .get_arguments()
                .find(|a| a.get_long() == Some(flag))
                .unwrap_or_else(|| panic!("--{flag} is not a flag"));
            let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
            assert!(help.contains("[parsed"), "--{flag}: {help}");
        }
    }
}
