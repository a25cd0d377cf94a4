//! Storage options (`options.EtcdOptions`): etcd endpoints and TLS, key
//! prefix, media type, watch cache; and `--data-dir`, the embedded store used
//! when no etcd server is given.

use std::path::PathBuf;

use clap::{ArgAction, Args};

use crate::flag::{Duration, parse_bool};

pub const STORAGE_MEDIA_TYPES: &[&str] = &[
    "application/json",
    "application/vnd.kubernetes.protobuf",
    "application/yaml",
];

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Etcd flags")]
pub struct EtcdOptions {
    /// List of etcd servers to connect with (scheme://ip:port), comma separated. Optional here: without it the server uses its embedded store in --data-dir.
    #[arg(long, value_name = "strings", value_delimiter = ',')]
    pub etcd_servers: Vec<String>,

    /// Per-resource etcd servers overrides, comma separated. The individual override format: group/resource#servers, where servers are URLs, semicolon separated. Note that this applies only to resources compiled into this server binary. [parsed and validated only]
    #[arg(long, value_name = "strings", value_delimiter = ',')]
    pub etcd_servers_overrides: Vec<String>,

    /// Directory of the embedded store, used when --etcd-servers is not given. It holds one file (store.redb) and must be on a local disk; every acknowledged write is synced to it before the response.
    #[arg(long, value_name = "string", default_value = "/var/lib/kube-apiserver")]
    pub data_dir: PathBuf,

    /// The largest object stored, in bytes of its stored JSON; larger writes get 413 RequestEntityTooLarge. The default is etcd's request limit (--max-request-bytes), which bounds upstream's objects. [this server's own flag]
    #[arg(long, value_name = "int", default_value_t = 1_572_864)]
    pub max_object_size_bytes: i64,

    /// The prefix to prepend to all resource paths in etcd.
    #[arg(long, value_name = "string", default_value = "/registry")]
    pub etcd_prefix: String,

    /// SSL Certificate Authority file used to secure etcd communication.
    #[arg(long, value_name = "string")]
    pub etcd_cafile: Option<PathBuf>,

    /// SSL certification file used to secure etcd communication.
    #[arg(long, value_name = "string")]
    pub etcd_certfile: Option<PathBuf>,

    /// SSL key file used to secure etcd communication.
    #[arg(long, value_name = "string")]
    pub etcd_keyfile: Option<PathBuf>,

    /// The interval of compaction requests. If 0, the compaction request from apiserver is disabled.
    #[arg(long, value_name = "duration", default_value = "5m0s")]
    pub etcd_compaction_interval: Duration,

    /// Frequency of polling etcd for number of resources per type. 0 disables the metric collection.
    #[arg(long, value_name = "duration", default_value = "1m0s")]
    pub etcd_count_metric_poll_period: Duration,

    /// The interval of requests to poll etcd and update metric. 0 disables the metric collection
    #[arg(long, value_name = "duration", default_value = "30s")]
    pub etcd_db_metric_poll_interval: Duration,

    /// The timeout to use when checking etcd health.
    #[arg(long, value_name = "duration", default_value = "2s")]
    pub etcd_healthcheck_timeout: Duration,

    /// The timeout to use when checking etcd readiness
    #[arg(long, value_name = "duration", default_value = "2s")]
    pub etcd_readycheck_timeout: Duration,

    /// The time in seconds that each lease is reused. A lower value could avoid large number of objects reusing the same lease.
    #[arg(long, value_name = "int", default_value_t = 60)]
    pub lease_reuse_duration_seconds: i64,

    /// The file containing configuration for encryption providers to be used for storing secrets in etcd [parsed and validated only]
    #[arg(long, value_name = "string")]
    pub encryption_provider_config: Option<PathBuf>,

    /// Determines if the file set by --encryption-provider-config should be automatically reloaded if the disk contents change.
    #[arg(long, value_name = "true|false", action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", value_parser = parse_bool)]
    pub encryption_provider_config_automatic_reload: bool,

    /// The storage backend for persistence. Options: 'etcd3' (default).
    #[arg(long, value_name = "string", default_value = "etcd3")]
    pub storage_backend: String,

    /// The media type to use to store objects in storage. Some resources or storage backends may only support a specific media type and will ignore this setting. Supported media types: [application/json, application/yaml, application/vnd.kubernetes.protobuf]
    #[arg(
        long,
        value_name = "string",
        default_value = "application/vnd.kubernetes.protobuf"
    )]
    pub storage_media_type: String,

    /// Enable watch caching in the apiserver
    #[arg(long, value_name = "true|false", action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_value = "true", default_missing_value = "true", value_parser = parse_bool)]
    pub watch_cache: bool,

    /// Watch cache size settings for some resources (pods, nodes, etc.), comma separated. The individual setting format: resource[.group]#size, where resource is lowercase plural (no version), group is omitted for resources of apiVersion v1 (the legacy core API) and included for others, and size is a number. This option is only meaningful for resources built into the apiserver, not ones defined by CRDs or aggregated from external servers, and is only consulted if the watch-cache is enabled. The only meaningful size setting to supply here is zero, which means to disable watch caching for the associated resource; all non-zero values are equivalent and mean to not disable watch caching for that resource
    #[arg(long, value_name = "strings", value_delimiter = ',')]
    pub watch_cache_sizes: Vec<String>,

    /// Number of workers spawned for DeleteCollection call. These are used to speed up namespace cleanup.
    #[arg(long, value_name = "int", default_value_t = 1)]
    pub delete_collection_workers: i64,

    /// Enables the generic garbage collector. MUST be synced with the corresponding flag of the kube-controller-manager.
    #[arg(long, value_name = "true|false", action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_value = "true", default_missing_value = "true", value_parser = parse_bool)]
    pub enable_garbage_collector: bool,
}

impl EtcdOptions {
    pub fn validate(&self) -> Vec<String> {
        let mut errors = Vec::new();
        if self.max_object_size_bytes <= 0 {
            errors.push(format!(
                "--max-object-size-bytes {} must be positive",
                self.max_object_size_bytes
            ));
        }
        for server in &self.etcd_servers {
            if let Err(reason) = check_etcd_server(server) {
                errors.push(format!(
                    "--etcd-servers {server:?} invalid: {reason}; give client URLs such as https://127.0.0.1:2379"
                ));
            }
        }
        if self.storage_backend != "etcd3" {
            errors.push("--storage-backend invalid, allowed values: etcd3. If not specified, it will default to 'etcd3'".to_string());
        }
        for override_ in &self.etcd_servers_overrides {
            let valid = override_
                .split_once('#')
                .is_some_and(|(resource, servers)| {
                    resource.split('/').count() == 2
                        && !servers.is_empty()
                        && !servers.contains('#')
                });
            if !valid {
                errors.push("--etcd-servers-overrides invalid, must be of format: group/resource#servers, where servers are URLs, semicolon separated".to_string());
            }
        }
        if self.encryption_provider_config.is_none()
            && self.encryption_provider_config_automatic_reload
        {
            errors.push("--encryption-provider-config-automatic-reload must be set with --encryption-provider-config".to_string());
        }
        if !STORAGE_MEDIA_TYPES.contains(&self.storage_media_type.as_str()) {
            errors.push(format!(
                "--storage-media-type {:?} invalid, allowed values: {}",
                self.storage_media_type,
                STORAGE_MEDIA_TYPES.join(", ")
            ));
        }
        for entry in &self.watch_cache_sizes {
            match entry.split_once('#') {
                Some((resource, size)) if !resource.is_empty() => match size.parse::<i64>() {
                    Ok(size) if size < 0 => {
                        errors.push(format!("watch cache size cannot be negative: {entry}"))
                    }
                    Ok(_) => {}
                    Err(_) => errors.push(format!("invalid value of watch cache size: {entry}")),
                },
                _ => errors.push(format!("invalid value of watch cache size: {entry}")),
            }
        }
        if self.lease_reuse_duration_seconds < 1 {
            errors.push("--lease-reuse-duration-seconds should be a positive number".to_string());
        }
        if self.delete_collection_workers < 1 {
            errors.push("--delete-collection-workers should be a positive number".to_string());
        }
        errors
    }
}

/// One `--etcd-servers` entry: an `http` or `https` URL with a host.
fn check_etcd_server(server: &str) -> Result<(), String> {
    let uri: http::Uri = server.parse().map_err(|err| format!("{err}"))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        Some(other) => return Err(format!("scheme {other:?} is not http or https")),
        None => return Err("no scheme".to_string()),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err("no host".to_string());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etcd_servers_must_be_http_or_https_urls() {
        assert!(check_etcd_server("https://127.0.0.1:2379").is_ok());
        assert!(check_etcd_server("http://etcd-0.etcd:2379").is_ok());
        assert_eq!(
            check_etcd_server("127.0.0.1:2379").unwrap_err(),
            "no scheme"
        );
        assert_eq!(check_etcd_server("not-a-url").unwrap_err(), "no scheme");
        assert!(check_etcd_server("unix:///run/etcd.sock").is_err());
        assert!(check_etcd_server("").is_err());
    }
}
