//! `NewAPIServerCommand` and `Run`: parse → version/args checks → complete →
//! validate (all errors together) → run until SIGTERM/SIGINT, then drain.

use std::ffi::OsString;
use std::future::Future;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use std::pin::Pin;
use std::sync::Arc;

use anyhow::Context;
use clap::{Command, CommandFactory};
use ipnet::IpNet;
use regex::Regex;

use apiserver::audit::log::Rotation;
use apiserver::audit::{Auditor, LogBackend, Policy};
use apiserver::authentication::{Authenticator, TokenAuthenticator, TokenFile};
use apiserver::healthz::{CheckResult, HealthCheck};
use apiserver::server::{Config, PreparedServer, Server, connections, signals, tls};
use apiserver_storage::etcd::compactor;
use apiserver_storage::{
    EmbeddedOptions, EmbeddedStorage, EtcdConfig, EtcdStorage, EtcdTls, Storage,
};
use controlplane::Instance;
use controlplane::controller::endpoint_reconciler::{LeaseStorage, ReconcilerType};
use controlplane::serviceaccount::{self, SigningKey, TokenIssuer, load_public_keys};

use super::options::{CompletedOptions, ServerRunOptions};

/// Upstream's long description (`kube-apiserver --help`).
pub const LONG_DESCRIPTION: &str = "The Kubernetes API server validates and configures data
for the api objects which include pods, services, replicationcontrollers, and
others. The API Server services REST operations and provides the frontend to the
cluster's shared state through which all other components interact.";

/// `NewAPIServerCommand`: the clap command with every flag section.
pub fn new_api_server_command() -> Command {
    ServerRunOptions::command()
        .about(LONG_DESCRIPTION)
        .long_about(LONG_DESCRIPTION)
        .mut_args(super::options::parse_only::mark)
}

/// Runs the command for `args` (argv, program name first) and returns the
/// process exit code.
pub fn execute<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let options = match ServerRunOptions::try_parse_args(args) {
        Ok(options) => options,
        Err(err) => {
            let _ = err.print();
            return if err.use_stderr() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    if let Some(version) = &options.global.version {
        let info = component_base::version::get();
        match version.as_str() {
            "raw" => {
                println!("{}", info.raw());
                return ExitCode::SUCCESS;
            }
            "true" | "1" | "t" | "T" | "TRUE" | "True" => {
                println!("{}", info.short());
                return ExitCode::SUCCESS;
            }
            "false" | "0" | "f" | "F" | "FALSE" | "False" => {}
            other => {
                eprintln!(
                    "Error: invalid argument {other:?} for \"--version\" flag: expected true, false or raw"
                );
                return ExitCode::FAILURE;
            }
        }
    }
    if !options.args.is_empty() {
        let quoted: Vec<String> = options.args.iter().map(|a| format!("{a:?}")).collect();
        eprintln!(
            "Error: {:?} does not take any arguments, got [{}]",
            "kube-apiserver",
            quoted.join(" ")
        );
        return ExitCode::FAILURE;
    }
    apiserver::logs::init(&options.logs);
    tracing::info!(
        version = component_base::version::get().git_version,
        "starting kube-apiserver"
    );

    let completed = match options.complete() {
        Ok(completed) => completed,
        Err(err) => {
            eprintln!("Error: {err:#}");
            return ExitCode::FAILURE;
        }
    };
    for warning in &completed.warnings {
        tracing::warn!("{warning}");
    }
    let errors = completed.validate();
    if !errors.is_empty() {
        eprintln!("Error: {}", aggregate(&errors));
        return ExitCode::FAILURE;
    }

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("Error: starting the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let prepared = prepare(completed).await?;
        release_freed_memory();
        spawn_memory_release();
        let shutdown = async {
            if let Err(err) = signals::termination().await {
                tracing::error!("{err:#}");
                std::future::pending::<()>().await;
            }
        };
        prepared.run(shutdown).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("Error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// `utilerrors.NewAggregate(...).Error()`: one error as is, several in brackets.
pub fn aggregate(errors: &[String]) -> String {
    match errors {
        [one] => one.clone(),
        many => format!("[{}]", many.join(", ")),
    }
}

/// `CreateServerChain` + `PrepareRun`: builds the server from completed,
/// validated options and binds the secure port.
pub async fn prepare(completed: CompletedOptions) -> anyhow::Result<PreparedServer> {
    let o = &completed.options;
    controlplane::authorizer::check_modes(&o.authorization.parsed_modes())?;
    let tls = tls::server_config(&tls::TlsSettings {
        cert_file: &completed.tls_cert_file,
        key_file: &completed.tls_private_key_file,
        client_ca_file: o.authentication.client_ca_file.as_deref(),
        min_version: o.secure_serving.tls_min_version.as_deref(),
        cipher_suites: &o.secure_serving.tls_cipher_suites,
        sni_cert_keys: &o.secure_serving.tls_sni_cert_key,
    })?;
    let tokens = o
        .authentication
        .token_auth_file
        .as_deref()
        .map(TokenFile::load)
        .transpose()?;
    let authenticator = Authenticator {
        anonymous: o.authentication.anonymous_auth,
        tokens: tokens
            .into_iter()
            .map(|file| Arc::new(file) as Arc<dyn TokenAuthenticator>)
            .collect(),
        api_audiences: o.authentication.api_audiences.clone(),
    };
    // The control plane first: the authorizer chain reads its RBAC index,
    // and service-account tokens are checked against its objects.
    let (storage, endpoint_leases) = open_storage(o).await?;
    let instance = Instance::new(
        control_plane_config(&completed, endpoint_leases, authenticator)?,
        storage.clone(),
    )
    .await?;
    instance.bootstrap().await?;
    let auditor = match (&o.audit.audit_log_path, &o.audit.audit_policy_file) {
        (Some(log), Some(policy)) => Some(Auditor {
            policy: Policy::load(policy)?,
            backend: LogBackend::open_with_rotation(
                log,
                Rotation::from_flags(
                    o.audit.audit_log_maxsize,
                    o.audit.audit_log_maxbackup,
                    o.audit.audit_log_maxage,
                ),
            )?,
        }),
        (Some(_), None) => {
            tracing::warn!(
                "--audit-log-path is set but --audit-policy-file is not: no events are recorded"
            );
            None
        }
        _ => None,
    };
    let cors_allowed_origins = o
        .generic
        .cors_allowed_origin_list
        .iter()
        .map(|origin| {
            Regex::new(origin).with_context(|| format!("--cors-allowed-origins {origin:?}"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let port = u16::try_from(o.secure_serving.secure_port).context("--secure-port")?;
    let request_timeout = o.generic.request_timeout.to_std();
    let drain = if request_timeout.is_zero() {
        Duration::from_secs(60)
    } else {
        request_timeout
    };
    let config = Config {
        bind_address: SocketAddr::new(o.secure_serving.bind_address, port),
        permit_port_sharing: o.secure_serving.permit_port_sharing,
        tls,
        http2_max_streams: u32::try_from(o.secure_serving.http2_max_streams_per_connection)
            .ok()
            .filter(|n| *n > 0),
        authenticator: instance.authenticator(),
        authorizer: instance.authorizer(),
        auditor,
        max_requests_in_flight: usize::try_from(o.generic.max_requests_in_flight).unwrap_or(0),
        max_mutating_requests_in_flight: usize::try_from(o.generic.max_mutating_requests_in_flight)
            .unwrap_or(0),
        request_timeout,
        max_request_body_bytes: u64::try_from(o.generic.max_request_body_bytes).unwrap_or(0),
        cors_allowed_origins,
        hsts_directives: o.generic.hsts_directives.clone(),
        shutdown_delay: o.generic.shutdown_delay_duration.to_std(),
        shutdown_drain_timeout: drain + o.generic.shutdown_watch_termination_grace_period.to_std(),
        max_connections: match usize::try_from(o.secure_serving.max_connections) {
            Ok(0) | Err(_) => {
                connections::default_max_connections(connections::raise_open_file_limit())
            }
            Ok(n) => n,
        },
        idle_connection_timeout: o.secure_serving.idle_connection_timeout.to_std(),
    };
    let mut server = Server::new(config)?;
    server.add_health_check(Arc::new(StorageHealth {
        name: "etcd",
        storage: storage.clone(),
        timeout: o.etcd.etcd_healthcheck_timeout.to_std(),
    }));
    server.add_readyz_check(Arc::new(StorageHealth {
        name: "etcd-readiness",
        storage: storage.clone(),
        timeout: o.etcd.etcd_readycheck_timeout.to_std(),
    }));
    let endpoint_reconciler = instance.endpoint_reconciler();
    server.add_pre_shutdown_hook("remove-endpoints", async move {
        if let Err(status) = endpoint_reconciler.remove_self().await {
            tracing::warn!(error = %status.message, "taking this apiserver out of the kubernetes endpoints");
        }
    });
    server.add_routes(instance.router());
    server
        .metrics()
        .install_resources(&instance.resource_infos());
    instance.start_controllers();
    server.prepare_run().await
}

/// The storage backend: etcd when `--etcd-servers` is given (with its
/// compactor), else the embedded store in `--data-dir`; and where the
/// endpoint reconciler's leases live on it.
async fn open_storage(o: &ServerRunOptions) -> anyhow::Result<(Arc<dyn Storage>, LeaseStorage)> {
    if !o.etcd.etcd_servers.is_empty() {
        let config = EtcdConfig {
            endpoints: o.etcd.etcd_servers.clone(),
            prefix: o.etcd.etcd_prefix.clone(),
            tls: EtcdTls {
                ca_file: o.etcd.etcd_cafile.clone(),
                cert_file: o.etcd.etcd_certfile.clone(),
                key_file: o.etcd.etcd_keyfile.clone(),
            },
            request_timeout: o.generic.request_timeout.to_std(),
            // The probe's own bound is the longer check timeout: each check
            // (`/livez/etcd`, `/readyz/etcd-readiness`) bounds it by its own.
            health_timeout: o
                .etcd
                .etcd_healthcheck_timeout
                .to_std()
                .max(o.etcd.etcd_readycheck_timeout.to_std()),
            watch_progress_interval: apiserver_storage::etcd::WATCH_PROGRESS_INTERVAL,
        };
        let store = EtcdStorage::connect(&config).await.with_context(|| {
            format!(
                "connecting to etcd at --etcd-servers {}",
                o.etcd.etcd_servers.join(",")
            )
        })?;
        wait_for_etcd(&store, o).await?;
        compactor::spawn(store.clone(), o.etcd.etcd_compaction_interval.to_std());
        tracing::info!(servers = %o.etcd.etcd_servers.join(","), prefix = %o.etcd.etcd_prefix, "using etcd");
        return Ok((Arc::new(store.clone()), LeaseStorage::Etcd(Box::new(store))));
    }
    let store = EmbeddedStorage::open(&o.etcd.data_dir, EmbeddedOptions::default())
        .await
        .with_context(|| {
            format!(
                "opening the embedded store in --data-dir {}: the directory must be writable and not used by another kube-apiserver",
                o.etcd.data_dir.display()
            )
        })?;
    tracing::info!(data_dir = %o.etcd.data_dir.display(), "using the embedded store");
    Ok((Arc::new(store), LeaseStorage::Local))
}

/// Waits until etcd answers, at most `--storage-initialization-timeout`
/// (upstream waits for its storage before it serves): etcd started at the
/// same time as the apiserver is normal, an etcd that never answers is a
/// start-up error naming it.
async fn wait_for_etcd(store: &EtcdStorage, o: &ServerRunOptions) -> anyhow::Result<()> {
    let timeout = o.generic.storage_initialization_timeout.to_std();
    let started = tokio::time::Instant::now();
    loop {
        let err = match store.check_health().await {
            Ok(()) => return Ok(()),
            Err(err) => err,
        };
        if started.elapsed() >= timeout {
            anyhow::bail!(
                "etcd at --etcd-servers {} did not answer within --storage-initialization-timeout {}: {err}",
                o.etcd.etcd_servers.join(","),
                o.generic.storage_initialization_timeout
            );
        }
        tracing::info!(%err, "waiting for etcd");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The control plane's share of the completed options.
fn control_plane_config(
    completed: &CompletedOptions,
    endpoint_leases: LeaseStorage,
    authenticator: Authenticator,
) -> anyhow::Result<controlplane::Config> {
    let o = &completed.options;
    let ranges: Vec<IpNet> = completed
        .primary_service_cluster_ip_range
        .into_iter()
        .chain(completed.secondary_service_cluster_ip_range)
        .collect();
    let node_ports = &o.extra.service_node_port_range;
    let last = u32::from(node_ports.base) + node_ports.size.saturating_sub(1);
    Ok(controlplane::Config {
        service_cluster_ip_ranges: ranges,
        service_node_port_range: node_ports.base
            ..=u16::try_from(last).context("--service-node-port-range")?,
        advertise_address: completed.advertise_address,
        secure_port: u16::try_from(o.secure_serving.secure_port).context("--secure-port")?,
        event_ttl: o.extra.event_ttl.to_std(),
        min_request_timeout: Duration::from_secs(
            u64::try_from(o.generic.min_request_timeout).unwrap_or(0),
        ),
        max_object_size_bytes: usize::try_from(o.etcd.max_object_size_bytes)
            .context("--max-object-size-bytes")?,
        endpoint_reconciler: match o.extra.endpoint_reconciler_type.as_str() {
            "master-count" => ReconcilerType::MasterCount(
                usize::try_from(o.extra.master_count).context("--apiserver-count")?,
            ),
            "none" => ReconcilerType::None,
            _ => ReconcilerType::Lease,
        },
        endpoint_leases,
        authorization_modes: o.authorization.parsed_modes(),
        authenticator,
        service_accounts: service_account_config(completed)?,
    })
}

/// Service-account tokens: issued under the first `--service-account-issuer`
/// with `--service-account-signing-key-file`, accepted from every issuer
/// when signed by a key of `--service-account-key-file`.
fn service_account_config(completed: &CompletedOptions) -> anyhow::Result<serviceaccount::Config> {
    let o = &completed.options;
    let auth = &o.authentication;
    let token_issuer = match (
        &o.extra.service_account_signing_key_file,
        auth.service_account_issuer.first(),
    ) {
        (Some(path), Some(issuer)) => Some(Arc::new(TokenIssuer::new(
            issuer.clone(),
            SigningKey::load(path).context("failed to parse service-account-issuer-key-file")?,
        ))),
        _ => None,
    };
    let mut public_keys = Vec::new();
    for path in &auth.service_account_key_file {
        public_keys.extend(load_public_keys(path).context("--service-account-key-file")?);
    }
    let port = u16::try_from(o.secure_serving.secure_port).context("--secure-port")?;
    Ok(serviceaccount::Config {
        issuers: auth.service_account_issuer.clone(),
        token_issuer,
        public_keys,
        max_expiration_seconds: i64::try_from(
            auth.service_account_max_token_expiration.to_std().as_secs(),
        )
        .unwrap_or(i64::MAX),
        extend_expiration: auth.service_account_extend_token_expiration,
        jwks_uri: auth.service_account_jwks_uri.clone(),
        external_address: external_address(&o.generic.external_host, port),
    })
}

/// `ExternalAddress`: `--external-hostname` (the advertise address when
/// unset) with the secure port unless it names one.
fn external_address(host: &str, port: u16) -> String {
    if host.parse::<SocketAddr>().is_ok() {
        return host.to_string();
    }
    match host.parse::<std::net::IpAddr>() {
        Ok(ip) => SocketAddr::new(ip, port).to_string(),
        Err(_) if host.contains(':') => host.to_string(),
        Err(_) => format!("{host}:{port}"),
    }
}

/// `/healthz/etcd`, `/livez/etcd`, `/readyz/etcd` (`--etcd-healthcheck-timeout`)
/// and `/readyz/etcd-readiness` (`--etcd-readycheck-timeout`): the storage
/// answers within the timeout.
struct StorageHealth {
    name: &'static str,
    storage: Arc<dyn Storage>,
    timeout: Duration,
}

impl HealthCheck for StorageHealth {
    fn name(&self) -> &str {
        self.name
    }

    fn check(&self) -> Pin<Box<dyn Future<Output = CheckResult> + Send + '_>> {
        Box::pin(async move {
            match tokio::time::timeout(self.timeout, self.storage.check_health()).await {
                Ok(result) => result.map_err(|err| err.to_string()),
                Err(_) => Err(format!("no answer within {:?}", self.timeout)),
            }
        })
    }
}

/// How often memory freed since is given back to the system.
const MEMORY_RELEASE_INTERVAL: Duration = Duration::from_secs(30);

/// Gives freed memory back to the system: mimalloc purges freed pages only
/// as later allocations go by, so an idle server kept what startup (schemas,
/// documents and tables built once, their temporaries) or the last burst of
/// requests had freed (BENCHMARKS.md, "Idle memory").
fn release_freed_memory() {
    // SAFETY: mi_collect takes a flag and acts on mimalloc's own state; it
    // may be called from any thread at any time.
    unsafe { libmimalloc_sys::mi_collect(true) };
}

/// [`release_freed_memory`] a second after startup (once the controllers'
/// first lists are done), then every [`MEMORY_RELEASE_INTERVAL`], on a
/// blocking thread.
fn spawn_memory_release() {
    tokio::spawn(async {
        let first = tokio::time::Instant::now() + Duration::from_secs(1);
        let mut ticks = tokio::time::interval_at(first, MEMORY_RELEASE_INTERVAL);
        loop {
            ticks.tick().await;
            let _ = tokio::task::spawn_blocking(release_freed_memory).await;
        }
    });
}

/// Runs a prepared server until `shutdown` (for embedding and tests).
pub async fn run(
    prepared: PreparedServer,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    prepared.run(shutdown).await
}

#[cfg(test)]
mod tests {
    use super::external_address;

    #[test]
    fn the_external_address_gets_the_secure_port_unless_it_names_one() {
        assert_eq!(external_address("10.0.0.1", 6443), "10.0.0.1:6443");
        assert_eq!(external_address("fd00::1", 6443), "[fd00::1]:6443");
        assert_eq!(external_address("api.internal", 6443), "api.internal:6443");
        assert_eq!(
            external_address("api.internal:443", 6443),
            "api.internal:443"
        );
        assert_eq!(external_address("10.0.0.1:443", 6443), "10.0.0.1:443");
    }
}
