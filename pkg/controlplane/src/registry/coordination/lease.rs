//! Leases (`pkg/registry/coordination/lease`): what leader election and
//! node heartbeats hold. A lease names its holder; only its duration (more
//! than 0) and transitions (not negative) are checked. The coordinated
//! leader election fields (`strategy`, `preferredHolder`) belong to an alpha
//! feature this server does not enable, so they are dropped on create and
//! on an update of a lease that did not have them, as upstream does with
//! the feature gate off.

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::chrono::{DateTime, Utc};

use apimachinery::api::{name_is_dns_subdomain, validate_object_meta, validate_object_meta_update};
use apimachinery::validation::field::{Error, ErrorList, Path};
use apimachinery::validation::is_qualified_name;
use apiserver::registry::strategy::{ResourceNames, Strategy};
use apiserver::registry::table::ColumnDefinition;

/// `leases`, `coordination.k8s.io/v1`.
pub static LEASE_INFO: ResourceNames = ResourceNames {
    group: "coordination.k8s.io",
    version: "v1",
    kind: "Lease",
    plural: "leases",
    singular: "lease",
    namespaced: true,
    short_names: &[],
    categories: &[],
};

/// The strategies Kubernetes defines for coordinated leader election.
const LEASE_STRATEGIES: [&str; 1] = ["OldestEmulationVersion"];

#[derive(Debug, Clone, Copy, Default)]
pub struct LeaseStrategy;

/// `ValidateLease`.
pub fn validate_lease(lease: &Lease) -> ErrorList {
    let mut errors = validate_object_meta(
        &lease.metadata,
        true,
        name_is_dns_subdomain,
        &Path::new("metadata"),
    );
    errors.extend(validate_lease_spec(
        &lease.spec.clone().unwrap_or_default(),
        &Path::new("spec"),
    ));
    errors
}

/// `ValidateLeaseUpdate`.
pub fn validate_lease_update(new: &Lease, old: &Lease) -> ErrorList {
    let mut errors =
        validate_object_meta_update(&new.metadata, &old.metadata, &Path::new("metadata"));
    errors.extend(validate_lease_spec(
        &new.spec.clone().unwrap_or_default(),
        &Path::new("spec"),
    ));
    errors
}

/// `ValidateLeaseSpec`: the holder and the times are not checked.
fn validate_lease_spec(spec: &LeaseSpec, path: &Path) -> ErrorList {
    let mut errors = Vec::new();
    if let Some(seconds) = spec.lease_duration_seconds
        && seconds <= 0
    {
        errors.push(Error::invalid(
            &path.child("leaseDurationSeconds"),
            seconds,
            "must be greater than 0",
        ));
    }
    if let Some(transitions) = spec.lease_transitions
        && transitions < 0
    {
        errors.push(Error::invalid(
            &path.child("leaseTransitions"),
            transitions,
            "must be greater than or equal to 0",
        ));
    }
    if let Some(strategy) = &spec.strategy {
        errors.extend(validate_coordinated_lease_strategy(
            strategy,
            &path.child("strategy"),
        ));
    }
    let strategy_set = spec.strategy.as_deref().is_some_and(|s| !s.is_empty());
    if spec
        .preferred_holder
        .as_deref()
        .is_some_and(|h| !h.is_empty())
        && !strategy_set
    {
        errors.push(Error::forbidden(
            &path.child("preferredHolder"),
            "may only be specified if `strategy` is defined",
        ));
    }
    errors
}

/// `ValidateCoordinatedLeaseStrategy`: one of Kubernetes' names, or a
/// qualified name of one's own (`example.com/strategy`). Upstream reports
/// it one level deeper than the field (`spec.strategy.strategy`).
fn validate_coordinated_lease_strategy(strategy: &str, path: &Path) -> ErrorList {
    let path = path.child("strategy");
    if !strategy.contains('/') {
        if LEASE_STRATEGIES.contains(&strategy) {
            return Vec::new();
        }
        return vec![Error::not_supported(&path, strategy, &LEASE_STRATEGIES)];
    }
    is_qualified_name(strategy)
        .into_iter()
        .map(|message| Error::invalid(&path, strategy, message))
        .collect()
}

impl Strategy for LeaseStrategy {
    type Object = Lease;

    fn names(&self) -> &ResourceNames {
        &LEASE_INFO
    }

    fn table_columns(&self) -> &'static [ColumnDefinition] {
        crate::printers::coordination::lease_columns()
    }

    fn table_row(&self, lease: &Lease, now: DateTime<Utc>) -> Vec<serde_json::Value> {
        crate::printers::coordination::lease_row(lease, now)
    }

    fn prepare_for_create(&self, lease: &mut Lease) {
        if let Some(spec) = lease.spec.as_mut() {
            spec.strategy = None;
            spec.preferred_holder = None;
        }
    }

    fn prepare_for_update(&self, new: &mut Lease, old: &Lease) {
        let old = old.spec.as_ref();
        if let Some(spec) = new.spec.as_mut() {
            if old.and_then(|spec| spec.strategy.as_ref()).is_none() {
                spec.strategy = None;
            }
            if old
                .and_then(|spec| spec.preferred_holder.as_ref())
                .is_none()
            {
                spec.preferred_holder = None;
            }
        }
    }

    fn validate(&self, lease: &Lease) -> ErrorList {
        validate_lease(lease)
    }

    fn validate_update(&self, new: &Lease, old: &Lease) -> ErrorList {
        validate_lease_update(new, old)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn lease(spec: LeaseSpec) -> Lease {
        Lease {
            metadata: ObjectMeta {
                name: Some("kube-controller-manager".into()),
                namespace: Some("kube-system".into()),
                ..Default::default()
            },
            spec: Some(spec),
        }
    }

    fn messages(errors: &ErrorList) -> Vec<String> {
        errors.iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn info_matches_discovery() {
        let info = apiserver::registry::ResourceInfo::of(&LeaseStrategy);
        assert_eq!(
            (info.group, info.version, info.plural),
            ("coordination.k8s.io", "v1", "leases")
        );
        assert!(info.namespaced && !info.has_status);
    }

    #[test]
    fn a_holder_with_duration_and_transitions_is_valid() {
        let valid = lease(LeaseSpec {
            holder_identity: Some("node-1_4c5b".into()),
            lease_duration_seconds: Some(15),
            lease_transitions: Some(0),
            ..Default::default()
        });
        assert!(LeaseStrategy.validate(&valid).is_empty());
        assert!(
            LeaseStrategy
                .validate(&lease(LeaseSpec::default()))
                .is_empty()
        );
    }

    #[test]
    fn duration_and_transitions_are_bounded() {
        let errors = LeaseStrategy.validate(&lease(LeaseSpec {
            lease_duration_seconds: Some(0),
            lease_transitions: Some(-1),
            ..Default::default()
        }));
        assert_eq!(
            messages(&errors),
            [
                "spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0",
                "spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0",
            ]
        );
    }

    #[test]
    fn a_preferred_holder_needs_a_strategy_and_strategies_are_known_or_qualified() {
        let errors = LeaseStrategy.validate(&lease(LeaseSpec {
            preferred_holder: Some("node-2".into()),
            ..Default::default()
        }));
        assert_eq!(
            messages(&errors),
            ["spec.preferredHolder: Forbidden: may only be specified if `strategy` is defined"]
        );
        let errors = LeaseStrategy.validate(&lease(LeaseSpec {
            strategy: Some("Newest".into()),
            ..Default::default()
        }));
        assert_eq!(
            messages(&errors),
            [
                "spec.strategy.strategy: Unsupported value: \"Newest\": supported values: \"OldestEmulationVersion\""
            ]
        );
        for strategy in ["OldestEmulationVersion", "example.com/mine"] {
            let spec = LeaseSpec {
                strategy: Some(strategy.into()),
                preferred_holder: Some("node-2".into()),
                ..Default::default()
            };
            assert!(
                LeaseStrategy.validate(&lease(spec)).is_empty(),
                "{strategy}"
            );
        }
    }

    #[test]
    fn coordinated_election_fields_are_dropped_while_the_feature_is_off() {
        let with_strategy = LeaseSpec {
            holder_identity: Some("a".into()),
            strategy: Some("OldestEmulationVersion".into()),
            preferred_holder: Some("b".into()),
            ..Default::default()
        };
        let mut created = lease(with_strategy.clone());
        LeaseStrategy.prepare_for_create(&mut created);
        let spec = created.spec.as_ref().unwrap();
        assert_eq!((&spec.strategy, &spec.preferred_holder), (&None, &None));
        assert_eq!(spec.holder_identity.as_deref(), Some("a"));

        let mut updated = lease(with_strategy.clone());
        LeaseStrategy.prepare_for_update(&mut updated, &lease(LeaseSpec::default()));
        assert_eq!(updated.spec.as_ref().unwrap().strategy, None);
        // A lease that already had them keeps them.
        let mut kept = lease(with_strategy.clone());
        LeaseStrategy.prepare_for_update(&mut kept, &lease(with_strategy));
        assert!(kept.spec.as_ref().unwrap().strategy.is_some());
    }
}
