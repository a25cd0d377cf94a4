//! Defaults and flag parsing against the reference table, and one failing
//! case per validation rule.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use apiserver::flag::Duration;

use super::*;

fn parse(args: &[&str]) -> ServerRunOptions {
    let argv = std::iter::once("kube-apiserver").chain(args.iter().copied());
    ServerRunOptions::try_parse_args(argv).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

fn cert_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

/// Complete + validate with a temporary --cert-dir and loopback bind.
fn errors_for(dir: &Path, args: &[&str]) -> Vec<String> {
    let cert_dir = format!("--cert-dir={}", dir.display());
    let mut all = vec![cert_dir.as_str(), "--bind-address=127.0.0.1"];
    all.extend_from_slice(args);
    parse(&all).complete().expect("complete").validate()
}

#[test]
fn defaults_match_the_reference_table() {
    let o = new_server_run_options();
    assert_eq!(o.generic.advertise_address, None);
    assert!(o.generic.cors_allowed_origin_list.is_empty());
    assert_eq!(o.generic.external_host, "");
    assert_eq!(o.generic.max_requests_in_flight, 400);
    assert_eq!(o.generic.max_mutating_requests_in_flight, 200);
    assert_eq!(o.generic.request_timeout, Duration::from_secs(60));
    assert_eq!(o.generic.request_timeout.to_string(), "1m0s");
    assert_eq!(o.generic.min_request_timeout, 1800);
    assert_eq!(o.generic.json_patch_max_copy_bytes, 3 * 1024 * 1024);
    assert_eq!(o.generic.max_request_body_bytes, 3 * 1024 * 1024);
    assert_eq!(o.generic.target_ram_mb, 0);
    assert_eq!(o.generic.shutdown_delay_duration, Duration::ZERO);
    assert!(o.generic.enable_priority_and_fairness);
    assert!(o.etcd.etcd_servers.is_empty());
    assert_eq!(o.etcd.etcd_prefix, "/registry");
    assert_eq!(
        o.etcd.storage_media_type,
        "application/vnd.kubernetes.protobuf"
    );
    assert_eq!(o.etcd.storage_backend, "etcd3");
    assert!(o.etcd.watch_cache);
    assert!(o.etcd.watch_cache_sizes.is_empty());
    assert_eq!(o.etcd.etcd_compaction_interval.to_string(), "5m0s");
    assert_eq!(
        o.secure_serving.bind_address,
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    );
    assert_eq!(o.secure_serving.secure_port, 6443);
    assert_eq!(
        o.secure_serving.cert_dir,
        PathBuf::from("/var/run/kubernetes")
    );
    assert_eq!(o.secure_serving.tls_cert_file, None);
    assert!(o.authentication.anonymous_auth);
    assert_eq!(o.authentication.token_auth_file, None);
    assert_eq!(o.authentication.client_ca_file, None);
    assert!(o.authentication.service_account_issuer.is_empty());
    assert!(o.authorization.modes.is_empty());
    assert_eq!(
        o.authorization.parsed_modes(),
        vec![apiserver::options::AuthorizationMode::AlwaysAllow]
    );
    assert!(
        o.admission
            .enabled_plugins()
            .contains(&"NamespaceLifecycle")
    );
    assert!(o.admission.enabled_plugins().contains(&"ResourceQuota"));
    assert!(!o.admission.enabled_plugins().contains(&"AlwaysDeny"));
    assert_eq!(o.audit.audit_log_path, None);
    assert_eq!(o.audit.audit_log_format, "json");
    assert_eq!(o.audit.audit_log_mode, "blocking");
    assert_eq!(
        (
            o.audit.audit_log_maxage,
            o.audit.audit_log_maxbackup,
            o.audit.audit_log_maxsize
        ),
        (0, 0, 0)
    );
    assert!(o.generic.feature_gates.is_empty());
    assert!(o.api_enablement.runtime_config.is_empty());
    assert_eq!(o.extra.event_ttl.to_string(), "1h0m0s");
    assert_eq!(o.extra.kubelet_port, 10250);
    assert_eq!(o.extra.kubelet_read_only_port, 10255);
    assert_eq!(
        o.extra.kubelet_preferred_address_types,
        [
            "Hostname",
            "InternalDNS",
            "InternalIP",
            "ExternalDNS",
            "ExternalIP"
        ]
    );
    assert_eq!(o.extra.kubelet_timeout, Duration::from_secs(5));
    assert_eq!(o.extra.service_cluster_ip_ranges, "");
    assert_eq!(o.extra.service_node_port_range.to_string(), "30000-32767");
    assert_eq!(o.extra.kubernetes_service_node_port, 0);
    assert_eq!(o.extra.master_count, 1);
    assert_eq!(o.extra.endpoint_reconciler_type, "lease");
    assert_eq!(o.extra.identity_lease_duration_seconds, 3600);
    assert_eq!(o.extra.identity_lease_renew_interval_seconds, 10);
    assert_eq!(o.extra.max_connection_bytes_per_sec, 0);
    assert!(!o.extra.allow_privileged);
    assert!(o.extra.enable_logs_handler);
    assert!(!o.extra.enable_aggregator_routing);
    assert_eq!(o.extra.proxy_client_cert_file, None);
    assert_eq!(o.metrics.show_hidden_metrics_for_version, None);
    assert_eq!(o.logs.verbosity, 0);
    assert_eq!(
        o.logs.logging_format,
        apiserver::options::LoggingFormat::Text
    );
    assert_eq!(o.logs.log_flush_frequency, Duration::from_secs(5));
}

#[test]
fn flags_parse_into_typed_fields() {
    let o = parse(&[
        "--advertise-address=192.168.1.10",
        "--cors-allowed-origins=//a\\.com$,//b\\.com$",
        "--max-requests-inflight=10",
        "--max-mutating-requests-inflight",
        "5",
        "--request-timeout=90s",
        "--min-request-timeout=60",
        "--etcd-servers=https://e1:2379,https://e2:2379",
        "--etcd-prefix=/kube",
        "--storage-media-type=application/json",
        "--watch-cache=false",
        "--watch-cache-sizes=pods#100,deployments.apps#0",
        "--bind-address=127.0.0.1",
        "--secure-port=8443",
        "--anonymous-auth=false",
        "--token-auth-file=/t.csv",
        "--service-account-issuer=https://a",
        "--service-account-issuer=https://b",
        "--authorization-mode=AlwaysDeny,AlwaysAllow",
        "--audit-log-path=-",
        "--feature-gates=WatchList=true,APIListChunking=false",
        "--runtime-config=api/all=true,apps/v1=false",
        "--event-ttl=2h",
        "--kubelet-timeout=1.5s",
        "--service-cluster-ip-range=10.96.0.0/16,fd00::/108",
        "--service-node-port-range=20000-22767",
        "--kubernetes-service-node-port=20001",
        "--apiserver-count=3",
        "--endpoint-reconciler-type=none",
        "--allow-privileged",
        "--enable-logs-handler=false",
        "-v=4",
        "--logging-format=json",
    ]);
    assert_eq!(
        o.generic.advertise_address,
        Some("192.168.1.10".parse().unwrap())
    );
    assert_eq!(o.generic.cors_allowed_origin_list.len(), 2);
    assert_eq!(
        (
            o.generic.max_requests_in_flight,
            o.generic.max_mutating_requests_in_flight
        ),
        (10, 5)
    );
    assert_eq!(o.generic.request_timeout, Duration::from_secs(90));
    assert_eq!(o.generic.min_request_timeout, 60);
    assert_eq!(o.etcd.etcd_servers, ["https://e1:2379", "https://e2:2379"]);
    assert_eq!(o.etcd.etcd_prefix, "/kube");
    assert!(!o.etcd.watch_cache);
    assert_eq!(o.etcd.watch_cache_sizes.len(), 2);
    assert_eq!(o.secure_serving.secure_port, 8443);
    assert!(!o.authentication.anonymous_auth);
    assert_eq!(
        o.authentication.service_account_issuer,
        ["https://a", "https://b"]
    );
    assert_eq!(o.authorization.modes, ["AlwaysDeny", "AlwaysAllow"]);
    assert_eq!(o.audit.audit_log_path, Some(PathBuf::from("-")));
    assert_eq!(o.generic.feature_enabled("WatchList"), Some(true));
    assert_eq!(o.generic.feature_enabled("APIListChunking"), Some(false));
    assert_eq!(o.api_enablement.runtime_config.len(), 2);
    assert_eq!(o.extra.event_ttl, Duration::from_secs(7200));
    assert_eq!(o.extra.kubelet_timeout, Duration::from_millis(1500));
    assert_eq!(o.extra.service_node_port_range.to_string(), "20000-22767");
    assert_eq!(o.extra.kubernetes_service_node_port, 20001);
    assert_eq!(o.extra.master_count, 3);
    assert!(o.extra.allow_privileged);
    assert!(!o.extra.enable_logs_handler);
    assert_eq!(o.logs.verbosity, 4);
    assert_eq!(
        o.logs.logging_format,
        apiserver::options::LoggingFormat::Json
    );
}

#[test]
fn malformed_values_are_parse_errors() {
    for bad in [
        "--request-timeout=abc",
        "--secure-port=x",
        "--anonymous-auth=yes",
        "--bind-address=not-an-ip",
        "--service-node-port-range=5-1",
        "--logging-format=xml",
        "--feature-gates=NoEquals",
        "--no-such-flag",
    ] {
        let argv = ["kube-apiserver", bad];
        assert!(
            ServerRunOptions::try_parse_args(argv).is_err(),
            "{bad} should not parse"
        );
    }
}

#[test]
fn complete_fills_derived_defaults() {
    let dir = cert_dir();
    let cert_dir = format!("--cert-dir={}", dir.path().display());
    let completed = parse(&[&cert_dir, "--bind-address=127.0.0.1"])
        .complete()
        .unwrap();
    assert_eq!(completed.advertise_address, IpAddr::V4(Ipv4Addr::LOCALHOST));
    assert_eq!(completed.options.generic.external_host, "127.0.0.1");
    assert_eq!(
        completed.primary_service_cluster_ip_range,
        Some("10.0.0.0/24".parse().unwrap())
    );
    assert_eq!(
        completed.api_server_service_ip,
        Some("10.0.0.1".parse().unwrap())
    );
    assert!(completed.warnings.iter().any(|w| w.contains("10.0.0.0/24")));
    assert_eq!(completed.tls_cert_file, dir.path().join("apiserver.crt"));
    assert!(completed.tls_cert_file.is_file() && completed.tls_private_key_file.is_file());
    // AlwaysAllow (the default) turns anonymous off.
    assert!(!completed.options.authentication.anonymous_auth);
    // Local service-account defaults.
    let auth = &completed.options.authentication;
    assert_eq!(
        auth.service_account_issuer,
        [completion::DEFAULT_SERVICE_ACCOUNT_ISSUER]
    );
    assert_eq!(auth.api_audiences, auth.service_account_issuer);
    assert_eq!(
        auth.service_account_key_file,
        std::slice::from_ref(&completed.tls_private_key_file)
    );
    assert_eq!(
        completed
            .options
            .extra
            .service_account_signing_key_file
            .as_ref(),
        Some(&completed.tls_private_key_file)
    );
    assert!(
        completed.validate().is_empty(),
        "{:?}",
        completed.validate()
    );

    let dual = parse(&[
        &cert_dir,
        "--bind-address=127.0.0.1",
        "--service-cluster-ip-range=10.96.0.0/16,fd00::/108",
        "--authorization-mode=AlwaysDeny",
    ])
    .complete()
    .unwrap();
    assert_eq!(
        dual.secondary_service_cluster_ip_range,
        Some("fd00::/108".parse().unwrap())
    );
    assert_eq!(
        dual.api_server_service_ip,
        Some("10.96.0.1".parse().unwrap())
    );
    assert!(dual.options.authentication.anonymous_auth);
    assert!(dual.validate().is_empty(), "{:?}", dual.validate());
}

#[test]
fn every_validation_rule_has_a_failing_case() {
    let dir = cert_dir();
    let key = dir.path().join("apiserver.key");
    let _ = errors_for(dir.path(), &[]); // writes the certificate once
    let key_flag = format!("--proxy-client-key-file={}", key.display());
    let not_a_key = dir.path().join("apiserver.crt");
    let bad_sa_key = format!("--service-account-signing-key-file={}", not_a_key.display());
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["--livez-grace-period=-1s"],
            "--livez-grace-period can not be a negative value",
        ),
        (
            vec!["--max-requests-inflight=-1"],
            "--max-requests-inflight can not be negative value",
        ),
        (
            vec!["--max-mutating-requests-inflight=-1"],
            "--max-mutating-requests-inflight can not be negative value",
        ),
        (
            vec![
                "--max-requests-inflight=0",
                "--max-mutating-requests-inflight=0",
            ],
            "must be positive if --enable-priority-and-fairness is true",
        ),
        (
            vec!["--request-timeout=-1s"],
            "--request-timeout can not be negative value",
        ),
        (
            vec!["--goaway-chance=0.5"],
            "--goaway-chance can not be less than 0 or greater than 0.02",
        ),
        (
            vec!["--min-request-timeout=-1"],
            "--min-request-timeout can not be negative value",
        ),
        (
            vec!["--shutdown-delay-duration=-1s"],
            "--shutdown-delay-duration can not be negative value",
        ),
        (
            vec!["--shutdown-watch-termination-grace-period=-1s"],
            "shutdown-watch-termination-grace-period, if provided, can not be a negative value",
        ),
        (
            vec!["--target-ram-mb=-1"],
            "--target-ram-mb can not be negative value",
        ),
        (
            vec!["--strict-transport-security-directives=max-age=x"],
            "--strict-transport-security-directives invalid",
        ),
        (
            vec!["--cors-allowed-origins=("],
            "--cors-allowed-origins has an invalid regular expression",
        ),
        (
            vec!["--cors-allowed-origins=example.com"],
            "must be anchored",
        ),
        (
            vec!["--feature-gates=NoSuchGate=true"],
            "unrecognized feature gate: NoSuchGate",
        ),
        (
            vec!["--feature-gates=WatchList=maybe"],
            "invalid value of WatchList=maybe",
        ),
        (
            vec!["--storage-backend=etcd2"],
            "--storage-backend invalid, allowed values: etcd3",
        ),
        (
            vec!["--etcd-servers=https://127.0.0.1:2379,127.0.0.1:2379"],
            "--etcd-servers \"127.0.0.1:2379\" invalid: no scheme; give client URLs such as https://127.0.0.1:2379",
        ),
        (
            vec!["--etcd-servers-overrides=pods#http://x"],
            "--etcd-servers-overrides invalid",
        ),
        (
            vec!["--encryption-provider-config-automatic-reload"],
            "--encryption-provider-config-automatic-reload must be set with --encryption-provider-config",
        ),
        (
            vec!["--storage-media-type=text/plain"],
            "--storage-media-type \"text/plain\" invalid",
        ),
        (
            vec!["--watch-cache-sizes=pods"],
            "invalid value of watch cache size: pods",
        ),
        (
            vec!["--watch-cache-sizes=pods#-1"],
            "watch cache size cannot be negative: pods#-1",
        ),
        (
            vec!["--secure-port=0"],
            "--secure-port 0 must be between 1 and 65535, inclusive. It cannot be turned off with 0",
        ),
        (
            vec!["--secure-port=70000"],
            "--secure-port 70000 must be between 1 and 65535",
        ),
        (
            vec!["--tls-cert-file=/x.crt"],
            "--tls-cert-file and --tls-private-key-file must be specified together",
        ),
        (
            vec!["--tls-min-version=VersionSSL30"],
            "--tls-min-version \"VersionSSL30\" invalid",
        ),
        (
            vec!["--tls-cipher-suites=TLS_RSA_WITH_RC4_128_SHA"],
            "cipher suite TLS_RSA_WITH_RC4_128_SHA not supported",
        ),
        (
            vec!["--audit-log-maxage=-1"],
            "--audit-log-maxage -1 can't be a negative number",
        ),
        (
            vec!["--audit-log-maxbackup=-1"],
            "--audit-log-maxbackup -1 can't be a negative number",
        ),
        (
            vec!["--audit-log-maxsize=-1"],
            "--audit-log-maxsize -1 can't be a negative number",
        ),
        (
            vec!["--audit-log-format=xml"],
            "invalid audit log format xml",
        ),
        (
            vec!["--audit-log-mode=sometimes"],
            "invalid audit mode sometimes",
        ),
        (
            vec!["--audit-log-version=audit.k8s.io/v2"],
            "--audit-log-version \"audit.k8s.io/v2\" invalid",
        ),
        (
            vec!["--contention-profiling", "--profiling=false"],
            "--contention-profiling requires --profiling",
        ),
        (
            vec!["--enable-admission-plugins=NoSuchPlugin"],
            "enable-admission-plugins plugin \"NoSuchPlugin\" is unknown",
        ),
        (
            vec![
                "--enable-admission-plugins=AlwaysPullImages",
                "--disable-admission-plugins=AlwaysPullImages",
            ],
            "in enable-admission-plugins and disable-admission-plugins overlapped",
        ),
        (
            vec![
                "--service-account-issuer=https://a",
                "--service-account-issuer=https://a",
            ],
            "service-account-issuer \"https://a\" is already specified",
        ),
        (
            vec!["--service-account-issuer=a b:c"],
            "contained a ':' but was not a valid URL",
        ),
        (
            vec!["--service-account-max-token-expiration=10m"],
            "the service-account-max-token-expiration must be between 1 hour and 2^32 seconds",
        ),
        (
            vec!["--service-account-max-token-expiration=2000000h"],
            "the service-account-max-token-expiration must be between 1 hour and 2^32 seconds",
        ),
        (
            vec!["--service-account-jwks-uri=http://keys.example/jwks"],
            "service-account-jwks-uri requires https scheme, parsed as: http://keys.example/jwks",
        ),
        (
            vec!["--oidc-issuer-url=https://x"],
            "oidc-issuer-url and oidc-client-id must be specified together",
        ),
        (
            vec!["--authentication-token-webhook-version=v2"],
            "invalid authentication token webhook version",
        ),
        (
            vec![&bad_sa_key],
            "failed to parse service-account-issuer-key-file",
        ),
        (
            vec!["--authorization-mode=Foo"],
            "authorization-mode \"Foo\" is not a valid mode",
        ),
        (
            vec!["--authorization-mode=AlwaysDeny,AlwaysDeny"],
            "has mode specified more than once",
        ),
        (
            vec!["--authorization-mode=ABAC"],
            "authorization-mode ABAC's authorization policy file not passed",
        ),
        (
            vec!["--authorization-policy-file=/p"],
            "cannot specify --authorization-policy-file without mode ABAC",
        ),
        (
            vec!["--authorization-mode=Webhook"],
            "authorization-mode Webhook's authorization config file not passed",
        ),
        (
            vec!["--authorization-webhook-config-file=/w"],
            "cannot specify --authorization-webhook-config-file without mode Webhook",
        ),
        (
            vec!["--cloud-provider=aws"],
            "cloud provider \"aws\" is not supported",
        ),
        (
            vec!["--runtime-config=api/all=maybe"],
            "invalid value of api/all: maybe",
        ),
        (
            vec!["--runtime-config=a/b/c/d=true"],
            "invalid key \"a/b/c/d\" in --runtime-config",
        ),
        (
            vec!["--egress-selector-config-file=/no/such/file"],
            "--egress-selector-config-file /no/such/file: no such file",
        ),
        (
            vec!["--show-hidden-metrics-for-version=1.20"],
            "--show-hidden-metrics-for-version must be omitted or have the value '1.31'",
        ),
        (vec!["-v=-1"], "verbosity must be non-negative"),
        (
            vec!["--vmodule=foo"],
            "--vmodule \"foo\": expected pattern=N",
        ),
        (
            vec!["--tracing-config-file=/no/such/file"],
            "--tracing-config-file /no/such/file: no such file",
        ),
        (
            vec!["--insecure-port=8080"],
            "invalid port value 8080: only zero is allowed",
        ),
        (
            vec!["--service-cluster-ip-range=banana"],
            "service-cluster-ip-range[0] is not a valid cidr",
        ),
        (
            vec!["--service-cluster-ip-range=banana"],
            "--service-cluster-ip-range must contain at least one valid cidr",
        ),
        (
            vec!["--service-cluster-ip-range=10.0.0.0/24,fd00::/108,10.1.0.0/24"],
            "--service-cluster-ip-range must not contain more than two entries",
        ),
        (
            vec!["--service-cluster-ip-range=10.0.0.0/8"],
            "specified --service-cluster-ip-range is too large; for 32-bit addresses, the mask must be >= 12",
        ),
        (
            vec!["--service-cluster-ip-range=10.0.0.0/30"],
            "the service cluster IP range must be at least 8 IP addresses",
        ),
        (
            vec!["--service-cluster-ip-range=10.0.0.0/24,10.1.0.0/24"],
            "--service-cluster-ip-range[0] and --service-cluster-ip-range[1] must be of different IP family",
        ),
        (
            vec!["--service-cluster-ip-range=10.0.0.0/24,fd00::/64"],
            "specified --service-cluster-ip-range[1] is too large; for 128-bit addresses, the mask must be >= 108",
        ),
        (
            vec!["--service-cluster-ip-range=fd00::/108"],
            "service IP family \"fd00::/108\" must match public address family \"127.0.0.1\"",
        ),
        (
            vec!["--kubernetes-service-node-port=70000"],
            "--kubernetes-service-node-port 70000 must be between 0 and 65535",
        ),
        (
            vec!["--kubernetes-service-node-port=80"],
            "kubernetes service node port range 30000-32767 doesn't contain 80",
        ),
        (
            vec!["--apiserver-count=0"],
            "--apiserver-count should be a positive number, but value '0' provided",
        ),
        (
            vec!["--endpoint-reconciler-type=magic"],
            "--endpoint-reconciler-type \"magic\" invalid",
        ),
        (
            vec!["--max-connection-bytes-per-sec=-1"],
            "--max-connection-bytes-per-sec can not be negative value",
        ),
        (
            vec!["--identity-lease-duration-seconds=0"],
            "--identity-lease-duration-seconds should be a positive number, but value '0' provided",
        ),
        (
            vec!["--identity-lease-renew-interval-seconds=0"],
            "--identity-lease-renew-interval-seconds should be a positive number, but value '0' provided",
        ),
        (
            vec!["--identity-lease-renew-interval-seconds=3600"],
            "must be less than --identity-lease-duration-seconds",
        ),
        (
            vec![&key_flag],
            "--proxy-client-cert-file and --proxy-client-key-file must be specified together",
        ),
        (
            vec!["--kubelet-client-key=/k"],
            "--kubelet-client-certificate and --kubelet-client-key must be specified together",
        ),
    ];
    let mut failures = Vec::new();
    for (args, expected) in &cases {
        let errors = errors_for(dir.path(), args);
        if !errors.iter().any(|e| e.contains(expected)) {
            failures.push(format!("{args:?}: expected {expected:?}, got {errors:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn required_service_account_flags_without_local_defaults() {
    // Upstream's rules, visible when the local defaults are not applied.
    let o = new_server_run_options();
    let errors = o.authentication.validate(None);
    assert!(
        errors.contains(&"service-account-issuer is a required flag".to_string()),
        "{errors:?}"
    );
    assert!(
        errors.contains(
            &"--service-account-signing-key-file and --service-account-issuer are required flags"
                .to_string()
        )
    );
}

#[test]
fn several_bad_flags_are_reported_together() {
    let dir = cert_dir();
    let errors = errors_for(
        dir.path(),
        &[
            "--max-requests-inflight=-1",
            "--authorization-mode=Foo",
            "--apiserver-count=0",
            "--service-cluster-ip-range=10.0.0.0/8",
        ],
    );
    assert_eq!(errors.len(), 4, "{errors:?}");
    let message = crate::app::server::aggregate(&errors);
    assert!(
        message.starts_with('[') && message.ends_with(']'),
        "{message}"
    );
}
