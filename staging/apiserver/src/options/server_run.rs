//! The generic server's run options (`options.ServerRunOptions`): request
//! limits and timeouts, shutdown behaviour, CORS, HSTS, feature gates.

use std::net::IpAddr;

use clap::{ArgAction, Args};
use regex::Regex;

use crate::flag::{Duration, KeyValue, parse_bool};

/// Bodies larger than this are rejected with 413 (no flag upstream).
pub const DEFAULT_MAX_REQUEST_BODY_BYTES: i64 = 3 * 1024 * 1024;

/// The feature gates this server recognizes (a subset of Kubernetes 1.32's;
/// none changes behaviour yet).
pub const KNOWN_FEATURE_GATES: &[&str] = &[
    "APIListChunking",
    "APIPriorityAndFairness",
    "APIResponseCompression",
    "APIServerIdentity",
    "APIServerTracing",
    "AllAlpha",
    "AllBeta",
    "AnonymousAuthConfigurableEndpoints",
    "ConsistentListFromCache",
    "MultiCIDRServiceAllocator",
    "DisableAllocatorDualWrite",
    "RemainingItemCountRequests",
    "ResilientWatchCacheInitialization",
    "RetryGenerateName",
    "ServerSideApply",
    "ServerSideFieldValidation",
    "StorageVersionAPI",
    "StorageVersionHash",
    "StructuredAuthenticationConfiguration",
    "StructuredAuthorizationConfiguration",
    "WatchBookmark",
    "WatchList",
];

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Generic flags")]
#[group(id = "GenericServerRunOptions")]
pub struct ServerRunOptions {
    /// The IP address on which to advertise the apiserver to members of the cluster. This address must be reachable by the rest of the cluster. If blank, the --bind-address will be used. If --bind-address is unspecified, the host's default interface will be used.
    #[arg(long, value_name = "ip")]
    pub advertise_address: Option<IpAddr>,

    /// List of allowed origins for CORS, comma separated. An allowed origin can be a regular expression to support subdomain matching. If this list is empty CORS will not be enabled. Please ensure each expression matches the entire hostname by anchoring to the start with '^' or including the '//' prefix, and by anchoring to the end with '$' or including the ':' port separator suffix. Examples of valid expressions are '//example\.com(:|$)' and '^https://example\.com(:|$)'
    #[arg(
        long = "cors-allowed-origins",
        value_name = "strings",
        value_delimiter = ','
    )]
    pub cors_allowed_origin_list: Vec<String>,

    /// The hostname to use when generating externalized URLs for this master (e.g. Swagger API Docs or OpenID Discovery).
    #[arg(
        long = "external-hostname",
        value_name = "string",
        default_value = "",
        hide_default_value = true
    )]
    pub external_host: String,

    /// This and --max-mutating-requests-inflight are summed to determine the server's total concurrency limit (which must be positive) if --enable-priority-and-fairness is true. Otherwise, this flag limits the maximum number of non-mutating requests in flight, or a zero value disables the limit completely.
    #[arg(
        long = "max-requests-inflight",
        value_name = "int",
        default_value_t = 400
    )]
    pub max_requests_in_flight: i64,

    /// This and --max-requests-inflight are summed to determine the server's total concurrency limit (which must be positive) if --enable-priority-and-fairness is true. Otherwise, this flag limits the maximum number of mutating requests in flight, or a zero value disables the limit completely.
    #[arg(
        long = "max-mutating-requests-inflight",
        value_name = "int",
        default_value_t = 200
    )]
    pub max_mutating_requests_in_flight: i64,

    /// An optional field indicating the duration a handler must keep a request open before timing it out. This is the default request timeout for requests but may be overridden by flags such as --min-request-timeout for specific types of requests.
    #[arg(long, value_name = "duration", default_value = "1m0s")]
    pub request_timeout: Duration,

    /// An optional field indicating the minimum number of seconds a handler must keep a request open before timing it out. Currently only honored by the watch request handler, which picks a randomized value above this number as the connection timeout, to spread out load.
    #[arg(long, value_name = "int", default_value_t = 1800)]
    pub min_request_timeout: i64,

    /// To prevent HTTP/2 clients from getting stuck on a single apiserver, randomly close a connection (GOAWAY). The client's other in-flight requests won't be affected, and the client will reconnect, likely landing on a different apiserver after going through the load balancer again. This argument sets the fraction of requests that will be sent a GOAWAY. Clusters with single apiservers, or which don't use a load balancer, should NOT enable this. Min is 0 (off), Max is .02 (1/50 requests); .001 (1/1000) is a recommended starting point. [parsed and validated only: not implemented yet]
    #[arg(long, value_name = "float", default_value_t = 0.0)]
    pub goaway_chance: f64,

    /// This option represents the maximum amount of time it should take for apiserver to complete its startup sequence and become live. From apiserver's start time to when this amount of time has elapsed, /livez will assume that unfinished post-start hooks will complete successfully and therefore return true.
    #[arg(long, value_name = "duration", default_value = "0s")]
    pub livez_grace_period: Duration,

    /// Time to delay the termination. During that time the server keeps serving requests normally. The endpoints /healthz and /livez will return success, but /readyz immediately returns failure. Graceful termination starts after this delay has elapsed. This can be used to allow load balancer to stop sending traffic to this server.
    #[arg(long, value_name = "duration", default_value = "0s")]
    pub shutdown_delay_duration: Duration,

    /// If true the HTTP Server will continue listening until all non long running request(s) in flight have been drained, during this window all incoming requests will be rejected with a status code 429 and a 'Retry-After' response header, in addition 'Connection: close' response header is set in order to tear down the TCP connection when idle. [parsed and validated only: not implemented yet]
    #[arg(long, value_name = "true|false", action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", value_parser = parse_bool)]
    pub shutdown_send_retry_after: bool,

    /// This option, if set, represents the maximum amount of grace period the apiserver will wait for active watch request(s) to drain during the graceful server shutdown window.
    #[arg(long, value_name = "duration", default_value = "0s")]
    pub shutdown_watch_termination_grace_period: Duration,

    /// Per-resource limit on the number of bytes copied while applying a JSON patch (no flag upstream).
    #[arg(skip = DEFAULT_MAX_REQUEST_BODY_BYTES)]
    pub json_patch_max_copy_bytes: i64,

    /// Largest request body accepted, in bytes (no flag upstream).
    #[arg(skip = DEFAULT_MAX_REQUEST_BODY_BYTES)]
    pub max_request_body_bytes: i64,

    /// If true, replace the max-in-flight handler with an enhanced one that queues and dispatches with priority and fairness. [Priority and fairness is not implemented yet: the max-in-flight limits apply.]
    #[arg(long, value_name = "true|false", action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_value = "true", default_missing_value = "true", value_parser = parse_bool)]
    pub enable_priority_and_fairness: bool,

    /// Per-directive list for HTTP Strict Transport Security (HSTS), comma separated. If this list is empty, then HSTS directives will not be added. Example: 'max-age=31536000,includeSubDomains,preload'
    #[arg(
        long = "strict-transport-security-directives",
        value_name = "strings",
        value_delimiter = ','
    )]
    pub hsts_directives: Vec<String>,

    /// A set of key=value pairs that describe feature gates for alpha/experimental features. [parsed and validated only: no gate changes behaviour yet]
    #[arg(long, value_name = "mapStringBool", value_delimiter = ',')]
    pub feature_gates: Vec<KeyValue>,

    /// Memory limit for apiserver in MB (used to configure sizes of caches, etc.) [removed upstream; parsed and validated only]
    #[arg(long, value_name = "int", default_value_t = 0, hide = true)]
    pub target_ram_mb: i64,

    /// Maximum amount of time to wait for storage initialization before declaring apiserver ready. Defaults to 1m.
    #[arg(long, value_name = "duration", default_value = "1m0s")]
    pub storage_initialization_timeout: Duration,

    /// This flag indicates that the aggregator should not follow redirects from aggregated API servers. [parsed and validated only: not implemented yet]
    #[arg(long, value_name = "true|false", action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_value = "true", default_missing_value = "true", value_parser = parse_bool)]
    pub aggregator_reject_forwarding_redirect: bool,
}

impl ServerRunOptions {
    pub fn validate(&self) -> Vec<String> {
        let mut errors = Vec::new();
        if self.livez_grace_period.is_negative() {
            errors.push("--livez-grace-period can not be a negative value".to_string());
        }
        if self.max_requests_in_flight < 0 {
            errors.push("--max-requests-inflight can not be negative value".to_string());
        }
        if self.max_mutating_requests_in_flight < 0 {
            errors.push("--max-mutating-requests-inflight can not be negative value".to_string());
        }
        if self.enable_priority_and_fairness
            && self.max_requests_in_flight >= 0
            && self.max_mutating_requests_in_flight >= 0
            && self.max_requests_in_flight + self.max_mutating_requests_in_flight <= 0
        {
            errors.push(
                "--max-requests-inflight plus --max-mutating-requests-inflight must be positive if --enable-priority-and-fairness is true"
                    .to_string(),
            );
        }
        if self.request_timeout.is_negative() {
            errors.push("--request-timeout can not be negative value".to_string());
        }
        if !(0.0..=0.02).contains(&self.goaway_chance) {
            errors.push("--goaway-chance can not be less than 0 or greater than 0.02".to_string());
        }
        if self.min_request_timeout < 0 {
            errors.push("--min-request-timeout can not be negative value".to_string());
        }
        if self.shutdown_delay_duration.is_negative() {
            errors.push("--shutdown-delay-duration can not be negative value".to_string());
        }
        if self.shutdown_watch_termination_grace_period.is_negative() {
            errors.push(
                "shutdown-watch-termination-grace-period, if provided, can not be a negative value"
                    .to_string(),
            );
        }
        if self.json_patch_max_copy_bytes < 0 {
            errors.push(
                "ServerRunOptions.JSONPatchMaxCopyBytes can not be negative value".to_string(),
            );
        }
        if self.max_request_body_bytes < 0 {
            errors
                .push("ServerRunOptions.MaxRequestBodyBytes can not be negative value".to_string());
        }
        if self.target_ram_mb < 0 {
            errors.push("--target-ram-mb can not be negative value".to_string());
        }
        if self.storage_initialization_timeout.is_negative() {
            errors.push("--storage-initialization-timeout can not be negative value".to_string());
        }
        errors.extend(validate_hsts_directives(&self.hsts_directives));
        errors.extend(validate_cors_allowed_origins(
            &self.cors_allowed_origin_list,
        ));
        errors.extend(validate_feature_gates(&self.feature_gates));
        errors
    }

    /// The enabled state of a feature gate given on the command line.
    pub fn feature_enabled(&self, gate: &str) -> Option<bool> {
        self.feature_gates
            .iter()
            .rev()
            .find(|kv| kv.key == gate)
            .and_then(|kv| parse_bool(&kv.value).ok())
    }
}

fn validate_hsts_directives(directives: &[String]) -> Vec<String> {
    let allowed = |d: &str| {
        d == "includeSubDomains"
            || d == "preload"
            || d.strip_prefix("max-age=")
                .is_some_and(|age| age.parse::<u64>().is_ok())
    };
    if directives.iter().all(|d| allowed(d)) {
        return Vec::new();
    }
    vec!["--strict-transport-security-directives invalid, allowed values: max-age=expireTime, includeSubDomains, preload. see https://tools.ietf.org/html/rfc6797#section-6.1 for more information".to_string()]
}

/// Each origin: non-empty, a valid regular expression, anchored at both ends.
pub fn validate_cors_allowed_origins(origins: &[String]) -> Vec<String> {
    let mut errors = Vec::new();
    for origin in origins {
        if origin.is_empty() {
            errors.push("--cors-allowed-origins has an empty value".to_string());
            continue;
        }
        if let Err(err) = Regex::new(origin) {
            errors.push(format!(
                "--cors-allowed-origins has an invalid regular expression: {err}"
            ));
            continue;
        }
        let anchored_start = origin.starts_with('^') || origin.contains("//");
        let anchored_end = origin.ends_with('$') || origin.contains(':');
        if !(anchored_start && anchored_end) {
            errors.push(format!(
                "--cors-allowed-origins has an invalid regular expression: {origin:?} must be anchored at the start with '^' or contain '//', and at the end with '$' or contain ':'"
            ));
        }
    }
    errors
}

fn validate_feature_gates(gates: &[KeyValue]) -> Vec<String> {
    let mut errors = Vec::new();
    for gate in gates {
        if !KNOWN_FEATURE_GATES.contains(&gate.key.as_str()) {
            errors.push(format!("unrecognized feature gate: {}", gate.key));
        } else if let Err(err) = parse_bool(&gate.value) {
            errors.push(format!(
                "invalid value of {}={}, err: {err}",
                gate.key, gate.value
            ));
        }
    }
    errors
}
