//! Cluster roles (`pkg/registry/rbac/clusterrole`): cluster-scoped,
//! path-segment names, policy rules (non-resource URLs allowed) and an
//! optional aggregation rule whose selectors must be valid label selectors.
//! An update may keep label values an existing selector already had. The
//! Table is the default convertor's (Name, Created At).

use k8s_openapi::api::rbac::v1::ClusterRole;

use apimachinery::api::{
    LabelSelectorValidationOptions, validate_label_selector_with_options, validate_object_meta,
    validate_object_meta_update,
};
use apimachinery::labels::Selector;
use apimachinery::validation::field::{Error, ErrorList, Path};
use apiserver::authentication::UserInfo;
use apiserver::registry::strategy::{ResourceNames, Strategy};
use apiserver::status::Status;

use crate::rbac::EscalationCheck;
use crate::rbac::escalation::{RoleWrite, only_gc_fields_change};

use super::validation::{GROUP_NAME, validate_policy_rule, validate_rbac_name};

/// `clusterroles`, `rbac.authorization.k8s.io/v1`.
pub static CLUSTER_ROLE_INFO: ResourceNames = ResourceNames {
    group: GROUP_NAME,
    version: "v1",
    kind: "ClusterRole",
    plural: "clusterroles",
    singular: "clusterrole",
    namespaced: false,
    short_names: &[],
    categories: &[],
};

/// With an escalation check (the served store), a write must not grant
/// more than the requesting user holds; without one (tests), only
/// validation runs.
#[derive(Debug, Clone, Default)]
pub struct ClusterRoleStrategy {
    escalation: Option<EscalationCheck>,
}

impl ClusterRoleStrategy {
    pub fn new(escalation: EscalationCheck) -> Self {
        ClusterRoleStrategy {
            escalation: Some(escalation),
        }
    }
}

/// `ClusterRoleValidationOptions`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClusterRoleValidationOptions {
    /// Let an aggregation selector keep invalid label values (an update of
    /// a cluster role that already had them).
    pub allow_invalid_label_value_in_selector: bool,
}

/// `ValidateClusterRole`: metadata (cluster-scoped, RBAC names), each rule,
/// and the aggregation rule: at least one selector, each a valid label
/// selector that parses.
pub fn validate_cluster_role(role: &ClusterRole, opts: ClusterRoleValidationOptions) -> ErrorList {
    let mut errors = validate_object_meta(
        &role.metadata,
        false,
        validate_rbac_name,
        &Path::new("metadata"),
    );
    let rules = Path::new("rules");
    for (i, rule) in role.rules.iter().flatten().enumerate() {
        errors.extend(validate_policy_rule(rule, false, &rules.index(i)));
    }
    if let Some(aggregation) = &role.aggregation_rule {
        let path = Path::new("aggregationRule").child("clusterRoleSelectors");
        let selectors = aggregation
            .cluster_role_selectors
            .as_deref()
            .unwrap_or_default();
        if selectors.is_empty() {
            errors.push(Error::required(
                &path,
                "at least one clusterRoleSelector required if aggregationRule is non-nil",
            ));
        }
        let options = LabelSelectorValidationOptions {
            allow_invalid_label_value_in_selector: opts.allow_invalid_label_value_in_selector,
            ..Default::default()
        };
        for (i, selector) in selectors.iter().enumerate() {
            let path = path.index(i);
            errors.extend(validate_label_selector_with_options(
                selector, options, &path,
            ));
            if Selector::from_label_selector(selector).is_err() {
                // Upstream shows the nil selector the conversion returned.
                errors.push(Error::invalid(&path, "null", "invalid label selector."));
            }
        }
    }
    errors
}

/// `ValidateClusterRoleUpdate`: the new cluster role, then the metadata
/// update.
pub fn validate_cluster_role_update(
    new: &ClusterRole,
    old: &ClusterRole,
    opts: ClusterRoleValidationOptions,
) -> ErrorList {
    let mut errors = validate_cluster_role(new, opts);
    errors.extend(validate_object_meta_update(
        &new.metadata,
        &old.metadata,
        &Path::new("metadata"),
    ));
    errors
}

/// `hasInvalidLabelValueInLabelSelector`: whether a selector of the
/// aggregation rule fails strict validation.
fn has_invalid_label_value_in_label_selector(role: &ClusterRole) -> bool {
    role.aggregation_rule
        .iter()
        .flat_map(|rule| rule.cluster_role_selectors.iter().flatten())
        .any(|selector| {
            !validate_label_selector_with_options(
                selector,
                LabelSelectorValidationOptions::default(),
                &Path::default(),
            )
            .is_empty()
        })
}

impl Strategy for ClusterRoleStrategy {
    type Object = ClusterRole;

    fn names(&self) -> &ResourceNames {
        &CLUSTER_ROLE_INFO
    }

    fn validate(&self, role: &ClusterRole) -> ErrorList {
        validate_cluster_role(role, ClusterRoleValidationOptions::default())
    }

    /// The old object decides whether invalid selector label values may
    /// stay. Upstream validates the new role twice (alone and in
    /// `ValidateClusterRoleUpdate`); the repeats collapse in its message,
    /// so they are reported once here.
    fn validate_update(&self, new: &ClusterRole, old: &ClusterRole) -> ErrorList {
        let opts = ClusterRoleValidationOptions {
            allow_invalid_label_value_in_selector: has_invalid_label_value_in_label_selector(old),
        };
        validate_cluster_role_update(new, old, opts)
    }

    fn authorize_write(
        &self,
        user: Option<&UserInfo>,
        role: &ClusterRole,
        old: Option<&ClusterRole>,
    ) -> Result<(), Status> {
        let Some(check) = &self.escalation else {
            return Ok(());
        };
        if old.is_some_and(|old| only_gc_fields_change(role, old)) {
            return Ok(());
        }
        check.check_role(
            user,
            &RoleWrite {
                resource: CLUSTER_ROLE_INFO.plural,
                namespace: "",
                name: role.metadata.name.as_deref().unwrap_or_default(),
                rules: role.rules.as_deref().unwrap_or_default(),
                aggregates: role.aggregation_rule.is_some(),
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::rbac::v1::{AggregationRule, PolicyRule};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
        LabelSelector, LabelSelectorRequirement, ObjectMeta,
    };
    use std::collections::BTreeMap;

    fn cluster_role(rules: Vec<PolicyRule>, aggregation: Option<AggregationRule>) -> ClusterRole {
        ClusterRole {
            metadata: ObjectMeta {
                name: Some("system:aggregate".into()),
                resource_version: Some("1".into()),
                ..Default::default()
            },
            rules: Some(rules),
            aggregation_rule: aggregation,
        }
    }

    fn selectors(selectors: Vec<LabelSelector>) -> Option<AggregationRule> {
        Some(AggregationRule {
            cluster_role_selectors: Some(selectors),
        })
    }

    fn match_labels(key: &str, value: &str) -> LabelSelector {
        LabelSelector {
            match_labels: Some(BTreeMap::from([(key.to_string(), value.to_string())])),
            ..Default::default()
        }
    }

    fn in_values(key: &str, values: &[&str]) -> LabelSelector {
        LabelSelector {
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: key.into(),
                operator: "In".into(),
                values: Some(values.iter().map(|v| v.to_string()).collect()),
            }]),
            ..Default::default()
        }
    }

    fn messages(errors: &ErrorList) -> Vec<String> {
        errors.iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn info_matches_discovery() {
        let info = apiserver::registry::ResourceInfo::of(&ClusterRoleStrategy::default());
        assert_eq!(
            (info.qualified_resource(), info.singular, info.kind),
            (
                "clusterroles.rbac.authorization.k8s.io".to_string(),
                "clusterrole",
                "ClusterRole"
            )
        );
        assert!(!info.namespaced && !info.has_status);
        assert!(info.short_names.is_empty() && info.categories.is_empty());
    }

    #[test]
    fn validation_as_upstream() {
        let urls = PolicyRule {
            non_resource_urls: Some(vec!["/healthz".into(), "/version".into()]),
            verbs: vec!["get".into()],
            ..Default::default()
        };
        let bad_operator = LabelSelector {
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "tier".into(),
                operator: "Sometimes".into(),
                values: None,
            }]),
            ..Default::default()
        };
        let cases: Vec<(&str, ClusterRole, Vec<&str>)> = vec![
            (
                "non-resource URLs",
                cluster_role(vec![urls.clone()], None),
                vec![],
            ),
            (
                "aggregation",
                cluster_role(
                    vec![],
                    selectors(vec![match_labels(
                        "rbac.example.com/aggregate-to-view",
                        "true",
                    )]),
                ),
                vec![],
            ),
            (
                "aggregation without selectors",
                cluster_role(vec![], selectors(vec![])),
                vec![
                    "aggregationRule.clusterRoleSelectors: Required value: at least one clusterRoleSelector required if aggregationRule is non-nil",
                ],
            ),
            (
                "aggregation with null selectors",
                cluster_role(
                    vec![],
                    Some(AggregationRule {
                        cluster_role_selectors: None,
                    }),
                ),
                vec![
                    "aggregationRule.clusterRoleSelectors: Required value: at least one clusterRoleSelector required if aggregationRule is non-nil",
                ],
            ),
            (
                "invalid label key",
                cluster_role(
                    vec![],
                    selectors(vec![match_labels("a", "b"), match_labels("-bad", "x")]),
                ),
                vec![
                    "aggregationRule.clusterRoleSelectors[1].matchLabels: Invalid value: \"-bad\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
                    "aggregationRule.clusterRoleSelectors[1]: Invalid value: \"null\": invalid label selector.",
                ],
            ),
            (
                "unknown operator",
                cluster_role(vec![], selectors(vec![bad_operator])),
                vec![
                    "aggregationRule.clusterRoleSelectors[0].matchExpressions[0].operator: Invalid value: \"Sometimes\": not a valid selector operator",
                    "aggregationRule.clusterRoleSelectors[0]: Invalid value: \"null\": invalid label selector.",
                ],
            ),
            (
                "rules are validated too",
                cluster_role(
                    vec![PolicyRule {
                        api_groups: Some(vec!["apps".into()]),
                        ..urls
                    }],
                    None,
                ),
                vec![
                    "rules[0].nonResourceURLs: Invalid value: []string{\"/healthz\", \"/version\"}: rules cannot apply to both regular resources and non-resource URLs",
                ],
            ),
        ];
        for (name, role, want) in cases {
            assert_eq!(
                messages(&ClusterRoleStrategy::default().validate(&role)),
                want,
                "{name}"
            );
        }
        let mut namespaced = cluster_role(vec![], None);
        namespaced.metadata.namespace = Some("default".into());
        let errors = ClusterRoleStrategy::default().validate(&namespaced);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "metadata.namespace");
    }

    #[test]
    fn invalid_selector_values_are_kept_only_on_update() {
        let bad_value = cluster_role(vec![], selectors(vec![in_values("tier", &["a b"])]));
        let value_error = |errors: &ErrorList| {
            errors.iter().any(|e| {
                e.field == "aggregationRule.clusterRoleSelectors[0].matchExpressions[0].values[0]"
            })
        };
        assert!(value_error(
            &ClusterRoleStrategy::default().validate(&bad_value)
        ));
        assert!(has_invalid_label_value_in_label_selector(&bad_value));

        // An old role that already had the value may keep it: only the
        // selector conversion still fails, as upstream.
        let errors = ClusterRoleStrategy::default().validate_update(&bad_value, &bad_value);
        assert!(!value_error(&errors));
        assert_eq!(
            messages(&errors),
            [
                "aggregationRule.clusterRoleSelectors[0]: Invalid value: \"null\": invalid label selector."
            ]
        );

        // A valid old role gives no such leave.
        let good = cluster_role(vec![], selectors(vec![in_values("tier", &["web"])]));
        assert!(!has_invalid_label_value_in_label_selector(&good));
        assert!(
            ClusterRoleStrategy::default()
                .validate_update(&good, &good)
                .is_empty()
        );
        assert!(value_error(
            &ClusterRoleStrategy::default().validate_update(&bad_value, &good)
        ));
    }

    #[test]
    fn update_checks_metadata() {
        let old = cluster_role(vec![], None);
        let mut new = old.clone();
        new.metadata.resource_version = None;
        assert_eq!(
            messages(&ClusterRoleStrategy::default().validate_update(&new, &old)),
            ["metadata.resourceVersion: Invalid value: \"\": must be specified for an update"]
        );
    }
}
