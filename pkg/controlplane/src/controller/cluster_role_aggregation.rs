//! ClusterRole aggregation (upstream's `clusterroleaggregation` controller,
//! which the controller manager runs): a cluster role with an
//! `aggregationRule` holds the rules of every other cluster role its
//! selectors match — selector by selector, roles by name, each rule once.
//! It runs whenever a cluster role changes (the RBAC index says so) and
//! every minute.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::rbac::v1::{ClusterRole, PolicyRule};

use apimachinery::labels::Selector;
use apiserver::registry::Store;
use apiserver::registry::rest::Subresource;
use apiserver::status::Status;

use crate::rbac::RbacIndex;
use crate::registry::rbac::cluster_role::ClusterRoleStrategy;

/// A full pass at least this often, whatever the notifications say.
const RESYNC: Duration = Duration::from_secs(60);

pub struct ClusterRoleAggregation {
    pub cluster_roles: Arc<Store<ClusterRoleStrategy>>,
    pub index: Arc<RbacIndex>,
}

/// The rules `role`'s aggregation rule gathers from `all`; `None` for a
/// role without one.
pub fn aggregated_rules(role: &ClusterRole, all: &[ClusterRole]) -> Option<Vec<PolicyRule>> {
    let rule = role.aggregation_rule.as_ref()?;
    let by_name: BTreeMap<&str, &ClusterRole> = all
        .iter()
        .filter_map(|other| Some((other.metadata.name.as_deref()?, other)))
        .collect();
    let mut rules: Vec<PolicyRule> = Vec::new();
    for selector in rule.cluster_role_selectors.iter().flatten() {
        // Validation refuses a selector that does not convert.
        let Ok(selector) = Selector::from_label_selector(selector) else {
            continue;
        };
        for (name, other) in &by_name {
            let labels = other.metadata.labels.clone().unwrap_or_default();
            if Some(*name) == role.metadata.name.as_deref() || !selector.matches(&labels) {
                continue;
            }
            for candidate in other.rules.iter().flatten() {
                if !rules.contains(candidate) {
                    rules.push(candidate.clone());
                }
            }
        }
    }
    Some(rules)
}

impl ClusterRoleAggregation {
    /// Aggregates after every cluster role change, and every minute,
    /// until the process ends.
    pub async fn run(self) {
        loop {
            if let Err(status) = self.sync_all().await {
                tracing::warn!(error = %status.message, "cluster role aggregation");
            }
            let _ = tokio::time::timeout(RESYNC, self.index.cluster_roles_changed()).await;
        }
    }

    /// One pass over every aggregated cluster role; returns the newest
    /// revision written (0 when nothing changed).
    pub async fn sync_all(&self) -> Result<u64, Status> {
        let (all, _) = self.cluster_roles.list_objects(None).await?;
        let mut newest = 0;
        for role in &all {
            let Some(rules) = aggregated_rules(role, &all) else {
                continue;
            };
            if role.rules.as_deref().unwrap_or_default() == rules.as_slice() {
                continue;
            }
            let name = role.metadata.name.clone().unwrap_or_default();
            let updated = self
                .cluster_roles
                .update_object(None, &name, Subresource::Main, false, |current| {
                    let mut next = current.clone();
                    next.rules = Some(rules.clone());
                    Ok(next)
                })
                .await;
            match updated {
                Ok(updated) => {
                    tracing::debug!(role = %name, rules = rules.len(), "aggregated cluster role");
                    let revision = updated
                        .metadata
                        .resource_version
                        .as_deref()
                        .and_then(|rv| rv.parse().ok())
                        .unwrap_or(0);
                    newest = newest.max(revision);
                }
                // Deleted meanwhile, or changed: the next pass sees it.
                Err(status) if status.code == 404 || status.code == 409 => {}
                Err(status) => return Err(status),
            }
        }
        Ok(newest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::rbac::v1::AggregationRule;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

    fn role(name: &str, labels: &[(&str, &str)], verbs: &[&str]) -> ClusterRole {
        ClusterRole {
            metadata: ObjectMeta {
                name: Some(name.into()),
                labels: Some(
                    labels
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                ),
                ..ObjectMeta::default()
            },
            rules: Some(
                verbs
                    .iter()
                    .map(|verb| PolicyRule {
                        verbs: vec![verb.to_string()],
                        api_groups: Some(vec![String::new()]),
                        resources: Some(vec!["pods".into()]),
                        ..PolicyRule::default()
                    })
                    .collect(),
            ),
            aggregation_rule: None,
        }
    }

    #[test]
    fn rules_of_matching_roles_by_name_each_once() {
        let mut admin = role("admin", &[], &[]);
        admin.aggregation_rule = Some(AggregationRule {
            cluster_role_selectors: Some(vec![LabelSelector {
                match_labels: Some([("aggregate-to-admin".to_string(), "true".to_string())].into()),
                ..LabelSelector::default()
            }]),
        });
        let all = vec![
            admin.clone(),
            role(
                "z-extra",
                &[("aggregate-to-admin", "true")],
                &["delete", "get"],
            ),
            role("a-base", &[("aggregate-to-admin", "true")], &["get"]),
            role("unrelated", &[("other", "true")], &["create"]),
        ];
        let rules = aggregated_rules(&admin, &all).unwrap();
        let verbs: Vec<_> = rules.iter().map(|r| r.verbs[0].as_str()).collect();
        assert_eq!(verbs, ["get", "delete"]);
        assert_eq!(aggregated_rules(&all[3], &all), None);
    }
}
