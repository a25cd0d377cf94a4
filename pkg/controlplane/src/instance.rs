//! The control plane instance (`controlplane.Instance`): one store per
//! built-in resource over the shared storage, the admission chain, the REST
//! routes with discovery, the objects created at start and the in-process
//! controllers.

use std::net::IpAddr;
use std::ops::RangeInclusive;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use ipnet::IpNet;

use apiserver::admission;
use apiserver::authentication::Authenticator;
use apiserver::authorization::Authorizer;
use apiserver::endpoints::dynamic::DynamicResources;
use apiserver::endpoints::openapi::{self, DynamicOpenApi, OpenApiResource};
use apiserver::endpoints::{Api, discovery};
use apiserver::options::AuthorizationMode;
use apiserver::registry::review::{Review, ReviewRest};
use apiserver::registry::subresource::{
    NamedCreate, NamedCreateRest, SubresourceRest, attach_create_subresources,
};
use apiserver::registry::{ResourceInfo, RestStorage, Store, Strategy};
use apiserver::status::Status;
use apiserver_storage::{Revision, Storage};
use futures_util::future::try_join_all;

use crate::admission::NamespaceLifecycle;
use crate::apiextensions::controller::{DefinitionsController, StoreMaker};
use crate::apiextensions::strategy::CustomResourceStrategy;
use crate::authorizer::new_authorizer;
use crate::bootstrap::{self, MasterEndpoint};
use crate::controller::cluster_role_aggregation::ClusterRoleAggregation;
use crate::controller::endpoint_reconciler::{EndpointReconciler, LeaseStorage, ReconcilerType};
use crate::controller::event_ttl::EventTtl;
use crate::controller::garbage_collector::GarbageCollector;
use crate::controller::namespace::NamespaceController;
use crate::controller::service_account::ServiceAccountController;
use crate::controller::service_repair::{self, ServiceRepair};
use crate::rbac::index::Kind;
use crate::rbac::{EscalationCheck, RbacIndex, bootstrap_policy, reconcile};
use crate::registry::apiextensions::custom_resource_definition::CustomResourceDefinitionStrategy;
use crate::registry::apps::controller_revision::ControllerRevisionStrategy;
use crate::registry::apps::daemonset::DaemonSetStrategy;
use crate::registry::apps::deployment::DeploymentStrategy;
use crate::registry::apps::replicaset::ReplicaSetStrategy;
use crate::registry::apps::statefulset::StatefulSetStrategy;
use crate::registry::authentication::{SelfSubjectReviews, TokenReviews};
use crate::registry::authorization::{
    LocalSubjectAccessReviews, SelfSubjectAccessReviews, SelfSubjectRulesReviews,
    SubjectAccessReviews,
};
use crate::registry::batch::cron_job::CronJobStrategy;
use crate::registry::batch::job::JobStrategy;
use crate::registry::coordination::lease::LeaseStrategy;
use crate::registry::core::configmap::ConfigMapStrategy;
use crate::registry::core::endpoints::EndpointsStrategy;
use crate::registry::core::event::EventStrategy;
use crate::registry::core::limit_range::LimitRangeStrategy;
use crate::registry::core::namespace::NamespaceStrategy;
use crate::registry::core::node::NodeStrategy;
use crate::registry::core::persistent_volume::PersistentVolumeStrategy;
use crate::registry::core::persistent_volume_claim::PersistentVolumeClaimStrategy;
use crate::registry::core::pod::PodStrategy;
use crate::registry::core::pod::binding::BindingRest;
use crate::registry::core::pod::eviction::EvictionRest;
use crate::registry::core::pod_template::PodTemplateStrategy;
use crate::registry::core::replication_controller::ReplicationControllerStrategy;
use crate::registry::core::resource_quota::ResourceQuotaStrategy;
use crate::registry::core::secret::SecretStrategy;
use crate::registry::core::service::ServiceStrategy;
use crate::registry::core::service::ipallocator;
use crate::registry::core::service_account::ServiceAccountStrategy;
use crate::registry::core::service_account::token::TokenRest;
use crate::registry::discovery::endpoint_slice::EndpointSliceStrategy;
use crate::registry::events::event::EventsV1Strategy;
use crate::registry::policy::pod_disruption_budget::PodDisruptionBudgetStrategy;
use crate::registry::rbac::cluster_role::ClusterRoleStrategy;
use crate::registry::rbac::cluster_role_binding::ClusterRoleBindingStrategy;
use crate::registry::rbac::role::RoleStrategy;
use crate::registry::rbac::role_binding::RoleBindingStrategy;
use crate::serviceaccount::lookup::BoundObjects;
use crate::serviceaccount::openid::OpenIdMetadata;
use crate::serviceaccount::{self, ServiceAccountTokenAuthenticator};

/// Issuer discovery's documents, or `None` (logged) when the issuer or the
/// keys do not allow them, as upstream serves the server without them.
fn open_id_metadata(accounts: &serviceaccount::Config) -> Option<OpenIdMetadata> {
    let issuer = accounts.issuers.first()?;
    match OpenIdMetadata::new(
        issuer,
        accounts.jwks_uri.as_deref(),
        &accounts.external_address,
        &accounts.public_keys,
    ) {
        Ok(metadata) => Some(metadata),
        Err(err) => {
            tracing::error!(error = %format!("{err:#}"), "Could not construct pre-rendered responses for ServiceAccountIssuerDiscovery endpoints. Endpoints will not be enabled.");
            None
        }
    }
}

/// How long start waits for the RBAC index to see the default policy.
const RBAC_INDEX_WAIT: Duration = Duration::from_secs(30);

/// What the control plane needs from the completed options.
#[derive(Debug, Clone)]
pub struct Config {
    pub service_cluster_ip_ranges: Vec<IpNet>,
    pub service_node_port_range: RangeInclusive<u16>,
    pub advertise_address: IpAddr,
    pub secure_port: u16,
    /// `--event-ttl`.
    pub event_ttl: Duration,
    /// `--min-request-timeout`.
    pub min_request_timeout: Duration,
    /// `--max-object-size-bytes`: the largest object stored (as JSON).
    pub max_object_size_bytes: usize,
    /// `--endpoint-reconciler-type` (with `--apiserver-count`).
    pub endpoint_reconciler: ReconcilerType,
    /// Where the `lease` reconciler keeps its leases (etcd's, or none on the
    /// embedded store).
    pub endpoint_leases: LeaseStorage,
    /// `--authorization-mode`, in order.
    pub authorization_modes: Vec<AuthorizationMode>,
    /// The authenticators the options configure (client certificates, the
    /// token file, anonymous); service-account tokens are added here.
    pub authenticator: Authenticator,
    /// Service-account tokens: issued, accepted and discoverable.
    pub service_accounts: serviceaccount::Config,
}

/// Every resource's store, ready to serve.
pub struct Instance {
    config: Config,
    storage: Arc<dyn Storage>,
    pub namespaces: Arc<Store<NamespaceStrategy>>,
    pub services: Arc<Store<ServiceStrategy>>,
    pub endpoints: Arc<Store<EndpointsStrategy>>,
    pub events: Arc<Store<EventStrategy>>,
    pub service_accounts: Arc<Store<ServiceAccountStrategy>>,
    /// Keeps `default/kubernetes` endpoints on the live apiservers.
    endpoint_reconciler: Arc<EndpointReconciler>,
    /// The roles and bindings, for the RBAC authorizer and escalation checks.
    rbac: Arc<RbacIndex>,
    /// The `--authorization-mode` chain.
    authorizer: Arc<dyn Authorizer>,
    /// The request authenticators, service-account tokens included.
    authenticator: Arc<Authenticator>,
    /// Issuer discovery, when the issuer is an `https` URL.
    openid: Option<OpenIdMetadata>,
    pub cluster_roles: Arc<Store<ClusterRoleStrategy>>,
    pub cluster_role_bindings: Arc<Store<ClusterRoleBindingStrategy>>,
    pub roles: Arc<Store<RoleStrategy>>,
    pub role_bindings: Arc<Store<RoleBindingStrategy>>,
    pub custom_resource_definitions: Arc<Store<CustomResourceDefinitionStrategy>>,
    /// The custom resources being served, kept by the definitions controller.
    dynamic: Arc<DynamicResources>,
    /// Their OpenAPI v3 documents, kept by the same controller.
    dynamic_openapi: Arc<DynamicOpenApi>,
    /// Makes a custom resource version's store (the definitions controller's).
    custom_resource_stores: StoreMaker,

    /// Every store, in discovery order.
    all: Vec<Arc<dyn RestStorage>>,
    /// The subresources with handlers of their own (`serviceaccounts/token`).
    subresources: Vec<Arc<dyn SubresourceRest>>,
    /// The OpenAPI description of every resource, taken by [`Instance::router`].
    openapi: std::sync::Mutex<Vec<OpenApiResource>>,
}

/// The stores being built, with their OpenAPI descriptions.
#[derive(Default)]
struct Resources {
    stores: Vec<Arc<dyn RestStorage>>,
    subresources: Vec<Arc<dyn SubresourceRest>>,
    openapi: Vec<OpenApiResource>,
}

impl Resources {
    fn add<S: Strategy>(&mut self, store: Arc<Store<S>>) -> Arc<Store<S>> {
        self.openapi
            .push(OpenApiResource::of::<S::Object>(store.info().clone()));
        self.stores.push(store.clone());
        store
    }

    fn add_review<R: Review>(&mut self, review: R) {
        self.openapi.push(OpenApiResource::create_only::<R::Object>(
            review.info().clone(),
        ));
        self.stores.push(Arc::new(ReviewRest(Arc::new(review))));
    }

    fn add_subresource<R: NamedCreate>(&mut self, handler: R) {
        self.openapi
            .push(OpenApiResource::named_create::<R::Object>(
                handler.parent().clone(),
                handler.kind(),
            ));
        self.subresources
            .push(Arc::new(NamedCreateRest(Arc::new(handler))));
    }
}

impl Instance {
    /// Builds the stores and restores what allocators must know from the
    /// stored data (cluster IPs and node ports in use).
    pub async fn new(config: Config, storage: Arc<dyn Storage>) -> anyhow::Result<Self> {
        let admission =
            admission::Chain::new(vec![Arc::new(NamespaceLifecycle::new(storage.clone()))]);
        let stores = StoreFactory {
            storage: storage.clone(),
            admission: admission.clone(),
            max_object_bytes: config.max_object_size_bytes,
        };

        let rbac = RbacIndex::start(&storage);
        let authorizer = new_authorizer(&config.authorization_modes, &rbac, &storage)?;
        let accounts = &config.service_accounts;
        let mut authenticator = config.authenticator.clone();
        if !accounts.public_keys.is_empty() {
            authenticator
                .tokens
                .push(Arc::new(ServiceAccountTokenAuthenticator::new(
                    accounts.issuers.clone(),
                    accounts.public_keys.clone(),
                    authenticator.api_audiences.clone(),
                    BoundObjects::start(&storage),
                )));
        }
        let authenticator = Arc::new(authenticator);
        let openid = open_id_metadata(accounts);
        let mut resources = Resources::default();
        // Discovery order: upstream's order within each group.
        let namespaces = resources.add(stores.of(NamespaceStrategy));
        let pods = resources.add(stores.of(PodStrategy));
        let services = resources.add(stores.of(ServiceStrategy::new(
            config.service_cluster_ip_ranges.clone(),
            config.service_node_port_range.clone(),
            storage.clone(),
        )));
        let endpoints = resources.add(stores.of(EndpointsStrategy));
        resources.add(stores.of(PodTemplateStrategy));
        resources.add(stores.of(ReplicationControllerStrategy));
        resources.add(stores.of(ResourceQuotaStrategy));
        resources.add(stores.of(LimitRangeStrategy));
        resources.add(stores.of(PersistentVolumeStrategy));
        resources.add(stores.of(PersistentVolumeClaimStrategy));
        resources.add(stores.of(ConfigMapStrategy));
        let secrets = resources.add(stores.of(SecretStrategy));
        let events = resources.add(stores.of(EventStrategy));
        let service_accounts = resources.add(stores.of(ServiceAccountStrategy));
        let nodes = resources.add(stores.of(NodeStrategy));
        resources.add(stores.of(DeploymentStrategy));
        resources.add(stores.of(ReplicaSetStrategy));
        resources.add(stores.of(StatefulSetStrategy));
        resources.add(stores.of(DaemonSetStrategy));
        resources.add(stores.of(ControllerRevisionStrategy));
        resources.add(stores.of(JobStrategy));
        resources.add(stores.of(CronJobStrategy));
        resources.add_subresource(BindingRest { pods: pods.clone() });
        let budgets = resources.add(stores.of(PodDisruptionBudgetStrategy));
        resources.add_subresource(EvictionRest {
            pods: pods.clone(),
            budgets,
        });
        if let Some(issuer) = &accounts.token_issuer {
            resources.add_subresource(TokenRest {
                service_accounts: service_accounts.clone(),
                pods,
                secrets,
                nodes,
                issuer: issuer.clone(),
                api_audiences: authenticator.api_audiences.clone(),
                max_expiration_seconds: accounts.max_expiration_seconds,
                extend_expiration: accounts.extend_expiration,
            });
        }
        resources.add_review(TokenReviews::new(authenticator.clone()));
        resources.add_review(SelfSubjectReviews::default());
        resources.add_review(LocalSubjectAccessReviews::new(authorizer.clone()));
        resources.add_review(SelfSubjectAccessReviews::new(authorizer.clone()));
        resources.add_review(SelfSubjectRulesReviews::new(authorizer.clone()));
        resources.add_review(SubjectAccessReviews::new(authorizer.clone()));
        let escalation = EscalationCheck::new(rbac.clone(), authorizer.clone());
        let cluster_role_bindings =
            resources.add(stores.of(ClusterRoleBindingStrategy::new(escalation.clone())));
        let cluster_roles = resources.add(stores.of(ClusterRoleStrategy::new(escalation.clone())));
        let role_bindings = resources.add(stores.of(RoleBindingStrategy::new(escalation.clone())));
        let roles = resources.add(stores.of(RoleStrategy::new(escalation)));
        resources.add(stores.of(LeaseStrategy));
        resources.add(stores.of(EndpointSliceStrategy));
        resources.add(stores.of(EventsV1Strategy));
        let custom_resource_definitions =
            resources.add(stores.of(CustomResourceDefinitionStrategy));

        let (existing, _) = services
            .list_objects(None)
            .await
            .map_err(|status| anyhow::anyhow!(status.message))
            .context("reading the stored services to restore IP and port allocations")?;
        services
            .strategy()
            .restore(existing.iter())
            .await
            .map_err(|message| anyhow::anyhow!(message))
            .context("storing the IP and port allocations of the stored services")?;

        let endpoint_reconciler = Arc::new(EndpointReconciler {
            kind: config.endpoint_reconciler,
            leases: config.endpoint_leases.clone(),
            endpoints: endpoints.clone(),
            ip: config.advertise_address,
            port: config.secure_port,
        });
        let custom_resource_stores: StoreMaker = Arc::new({
            let stores = stores.clone();
            move |strategy: CustomResourceStrategy| stores.of(strategy) as Arc<dyn RestStorage>
        });
        Ok(Instance {
            config,
            storage,
            namespaces,
            services,
            endpoints,
            endpoint_reconciler,
            events,
            service_accounts,
            rbac,
            authorizer,
            authenticator,
            openid,
            cluster_roles,
            cluster_role_bindings,
            roles,
            role_bindings,
            custom_resource_definitions,
            dynamic: Arc::new(DynamicResources::default()),
            dynamic_openapi: Arc::new(DynamicOpenApi::default()),
            custom_resource_stores,

            all: resources.stores,
            subresources: resources.subresources,
            openapi: std::sync::Mutex::new(resources.openapi),
        })
    }

    /// What every served resource is (for discovery and metrics labels),
    /// with the subresources served by handlers of their own.
    pub fn resource_infos(&self) -> Vec<ResourceInfo> {
        let mut infos: Vec<ResourceInfo> =
            self.all.iter().map(|store| store.info().clone()).collect();
        attach_create_subresources(&mut infos, &self.subresources);
        infos
    }

    /// The request authenticators: those of the options, then
    /// service-account tokens.
    pub fn authenticator(&self) -> Authenticator {
        (*self.authenticator).clone()
    }

    /// The REST routes of every resource, with discovery.
    pub fn router(&self) -> Router {
        let infos = self.resource_infos();
        let openapi = std::mem::take(&mut *self.openapi.lock().unwrap_or_else(|e| e.into_inner()));
        let router = Api::new(
            self.all.clone(),
            self.subresources.clone(),
            self.config.min_request_timeout,
        )
        .with_dynamic(self.dynamic.clone())
        .router()
        .merge(discovery::router_with_dynamic(
            infos,
            Some(self.dynamic.clone()),
        ))
        .merge(openapi::router_with_dynamic(
            openapi,
            Some(self.dynamic_openapi.clone()),
        ));
        match &self.openid {
            Some(openid) => router.merge(openid.router()),
            None => router,
        }
    }

    /// Creates the system namespaces and the `kubernetes` service, and
    /// reconciles its endpoints once.
    pub async fn bootstrap(&self) -> anyhow::Result<()> {
        bootstrap::ensure_system_namespaces(&self.namespaces)
            .await
            .map_err(|status| anyhow::anyhow!(status.message))
            .context("creating the system namespaces")?;
        let service_ip = self
            .config
            .service_cluster_ip_ranges
            .first()
            .and_then(|range| ipallocator::first_usable_address(*range))
            .context("the service cluster IP range has no addresses")?;
        let master = MasterEndpoint {
            service_ip,
            advertise_address: self.config.advertise_address,
            secure_port: self.config.secure_port,
        };
        bootstrap::reconcile_kubernetes_service(&self.services, &master)
            .await
            .map_err(|status| anyhow::anyhow!(status.message))
            .context("reconciling the default/kubernetes service")?;
        self.endpoint_reconciler
            .reconcile()
            .await
            .map_err(|status| anyhow::anyhow!(status.message))
            .context("reconciling the default/kubernetes endpoints")?;
        self.reconcile_rbac_policy()
            .await
            .context("reconciling the default RBAC policy")?;
        Ok(())
    }

    /// The default roles and bindings (upstream's `rbac/bootstrap-roles`
    /// hook), the aggregated roles filled, and the RBAC index caught up
    /// with all of it, so the first request is authorized by the policy.
    async fn reconcile_rbac_policy(&self) -> anyhow::Result<()> {
        let status = |status: Status| anyhow::anyhow!(status.message);
        let newest = |revisions: Vec<u64>| revisions.into_iter().max().unwrap_or(0);
        let cluster_roles = newest(
            try_join_all(
                bootstrap_policy::cluster_roles()
                    .into_iter()
                    .map(|role| reconcile::reconcile_role(&self.cluster_roles, role)),
            )
            .await
            .map_err(status)?,
        );
        let roles = newest(
            try_join_all(
                bootstrap_policy::namespace_roles()
                    .into_iter()
                    .map(|role| reconcile::reconcile_role(&self.roles, role)),
            )
            .await
            .map_err(status)?,
        );
        let cluster_role_bindings =
            newest(
                try_join_all(bootstrap_policy::cluster_role_bindings().into_iter().map(
                    |binding| reconcile::reconcile_binding(&self.cluster_role_bindings, binding),
                ))
                .await
                .map_err(status)?,
            );
        let role_bindings = newest(
            try_join_all(
                bootstrap_policy::namespace_role_bindings()
                    .into_iter()
                    .map(|binding| reconcile::reconcile_binding(&self.role_bindings, binding)),
            )
            .await
            .map_err(status)?,
        );
        let aggregated = self.aggregation().sync_all().await.map_err(status)?;
        for (kind, revision) in [
            (Kind::ClusterRoles, cluster_roles.max(aggregated)),
            (Kind::Roles, roles),
            (Kind::ClusterRoleBindings, cluster_role_bindings),
            (Kind::RoleBindings, role_bindings),
        ] {
            if !self
                .rbac
                .wait_for(kind, Revision::new(revision), RBAC_INDEX_WAIT)
                .await
            {
                anyhow::bail!(
                    "the RBAC index did not see revision {revision} of {kind:?} within {RBAC_INDEX_WAIT:?}"
                );
            }
        }
        Ok(())
    }

    fn aggregation(&self) -> ClusterRoleAggregation {
        ClusterRoleAggregation {
            cluster_roles: self.cluster_roles.clone(),
            index: self.rbac.clone(),
        }
    }

    /// The `--authorization-mode` chain the server's filter asks.
    pub fn authorizer(&self) -> Arc<dyn Authorizer> {
        Arc::clone(&self.authorizer)
    }

    /// The endpoint reconciler, for its shutdown step
    /// ([`EndpointReconciler::remove_self`]).
    pub fn endpoint_reconciler(&self) -> Arc<EndpointReconciler> {
        Arc::clone(&self.endpoint_reconciler)
    }

    /// Starts the namespace controller, the event TTL sweeper, the service
    /// repair loop and the endpoint reconciler on the current tokio runtime.
    pub fn start_controllers(&self) {
        let contents = self
            .all
            .iter()
            // Reviews store nothing: nothing of theirs is in a namespace.
            .filter(|store| store.info().namespaced && !store.info().create_only)
            .cloned()
            .collect();
        let controller = Arc::new(NamespaceController {
            storage: self.storage.clone(),
            namespaces: self.namespaces.clone(),
            contents,
            custom: self.dynamic.clone(),
        });
        tokio::spawn(controller.run());
        tokio::spawn(
            EventTtl {
                events: self.events.clone(),
                ttl: self.config.event_ttl,
            }
            .run(),
        );
        tokio::spawn(Arc::clone(&self.endpoint_reconciler).run());
        tokio::spawn(self.aggregation().run());
        tokio::spawn(
            ServiceAccountController {
                storage: self.storage.clone(),
                namespaces: self.namespaces.clone(),
                accounts: self.service_accounts.clone(),
            }
            .run(),
        );
        tokio::spawn(
            Arc::new(DefinitionsController::new(
                self.storage.clone(),
                self.custom_resource_definitions.clone(),
                self.dynamic.clone(),
                self.custom_resource_stores.clone(),
                self.dynamic_openapi.clone(),
            ))
            .run(),
        );
        tokio::spawn(
            Arc::new(GarbageCollector::new(
                self.storage.clone(),
                self.all.clone(),
                self.dynamic.clone(),
            ))
            .run(),
        );
        tokio::spawn(
            ServiceRepair {
                services: self.services.clone(),
                interval: service_repair::INTERVAL,
            }
            .run(),
        );
    }
}

/// Makes every resource's store over the same storage, admission chain and
/// object size bound: the built-in ones at start, a custom resource's
/// versions as the definitions controller serves them.
#[derive(Clone)]
struct StoreFactory {
    storage: Arc<dyn Storage>,
    admission: admission::Chain,
    max_object_bytes: usize,
}

impl StoreFactory {
    fn of<S: Strategy>(&self, strategy: S) -> Arc<Store<S>> {
        Arc::new(
            Store::new(
                Arc::new(strategy),
                self.storage.clone(),
                self.admission.clone(),
            )
            .with_max_object_bytes(self.max_object_bytes),
        )
    }
}
