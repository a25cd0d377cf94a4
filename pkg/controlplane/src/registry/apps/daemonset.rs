//! DaemonSets (`pkg/registry/apps/daemonset`): `SetDefaults_DaemonSet`
//! (RollingUpdate with maxUnavailable 1 and maxSurge 0, 10 revisions) and
//! the template defaults, the selector rules, the update strategy's bounds,
//! and the template generation the v1 API keeps in the
//! `deprecated.daemonset.template.generation` annotation (1 on create,
//! +1 whenever the template changes).

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    DaemonSet, DaemonSetSpec, DaemonSetStatus, DaemonSetUpdateStrategy, RollingUpdateDaemonSet,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use apimachinery::api::validate_label_selector;
use apimachinery::labels::Selector;
use apimachinery::validation::field::{Error, ErrorList, Path};
use apimachinery::validation::go_syntax::{go_label_selector, invalid_shown};
use apiserver::registry::strategy::{ResourceNames, StatusStrategy, Strategy};

use super::workload::{
    int_or_percent_value, int_or_string_value, or_default, selector_is_unset,
    validate_nonnegative_opt, validate_not_more_than_100_percent, validate_positive_int_or_percent,
    validate_workload, validate_workload_update,
};
use crate::registry::core::pod::validation::validate_template_matches_selector;
use crate::registry::core::pod::{default_pod_template, validate_controller_template};

/// `daemonsets.apps`, `apps/v1`.
pub static DAEMON_SET_INFO: ResourceNames = ResourceNames {
    group: "apps",
    version: "v1",
    kind: "DaemonSet",
    plural: "daemonsets",
    singular: "daemonset",
    namespaced: true,
    short_names: &["ds"],
    categories: &["all"],
};

/// `appsv1.DeprecatedTemplateGeneration`.
pub const TEMPLATE_GENERATION_ANNOTATION: &str = "deprecated.daemonset.template.generation";

#[derive(Debug, Clone, Copy, Default)]
pub struct DaemonSetStrategy;

/// `SetDefaults_DaemonSet` and the template defaults.
pub fn default_daemon_set(daemon_set: &mut DaemonSet) {
    let spec = daemon_set.spec.get_or_insert_with(DaemonSetSpec::default);
    let strategy = spec
        .update_strategy
        .get_or_insert_with(DaemonSetUpdateStrategy::default);
    if strategy.type_.as_deref().unwrap_or("").is_empty() {
        strategy.type_ = Some("RollingUpdate".into());
    }
    if strategy.type_.as_deref() == Some("RollingUpdate") {
        let rolling = strategy
            .rolling_update
            .get_or_insert_with(RollingUpdateDaemonSet::default);
        rolling.max_unavailable.get_or_insert(IntOrString::Int(1));
        rolling.max_surge.get_or_insert(IntOrString::Int(0));
    }
    spec.revision_history_limit.get_or_insert(10);
    default_pod_template(&mut spec.template);
}

fn template_generation(daemon_set: &DaemonSet) -> i64 {
    daemon_set
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(TEMPLATE_GENERATION_ANNOTATION))
        .and_then(|value| value.parse().ok())
        .unwrap_or(0)
}

fn set_template_generation(daemon_set: &mut DaemonSet, generation: i64) {
    daemon_set
        .metadata
        .annotations
        .get_or_insert_with(BTreeMap::new)
        .insert(
            TEMPLATE_GENERATION_ANNOTATION.to_string(),
            generation.to_string(),
        );
}

/// `ValidateDaemonSetUpdateStrategy`.
fn validate_update_strategy(strategy: &DaemonSetUpdateStrategy, path: &Path) -> ErrorList {
    let mut errors = Vec::new();
    match strategy.type_.as_deref().unwrap_or("") {
        "OnDelete" => {}
        "RollingUpdate" => {
            let rolling_path = path.child("rollingUpdate");
            let Some(rolling) = &strategy.rolling_update else {
                return vec![Error::required(&rolling_path, "")];
            };
            let zero = IntOrString::Int(0);
            let max_unavailable = rolling.max_unavailable.as_ref().unwrap_or(&zero);
            let max_surge = rolling.max_surge.as_ref().unwrap_or(&zero);
            let unavailable_path = rolling_path.child("maxUnavailable");
            let surge_path = rolling_path.child("maxSurge");
            errors.extend(validate_positive_int_or_percent(
                max_unavailable,
                &unavailable_path,
            ));
            errors.extend(validate_positive_int_or_percent(max_surge, &surge_path));
            errors.extend(validate_not_more_than_100_percent(
                max_unavailable,
                &unavailable_path,
            ));
            errors.extend(validate_not_more_than_100_percent(max_surge, &surge_path));
            let has_unavailable = int_or_percent_value(max_unavailable) != 0;
            let has_surge = int_or_percent_value(max_surge) != 0;
            if has_unavailable && has_surge {
                errors.push(Error::invalid(
                    &surge_path,
                    int_or_string_value(max_surge),
                    "may not be set when maxUnavailable is non-zero",
                ));
            } else if !has_unavailable && !has_surge {
                errors.push(Error::required(
                    &unavailable_path,
                    "cannot be 0 when maxSurge is 0",
                ));
            }
        }
        other => errors.push(Error::not_supported(
            path,
            other,
            &["RollingUpdate", "OnDelete"],
        )),
    }
    errors
}

/// `ValidateDaemonSetSpec`. A left-out selector matches nothing, so only
/// the template mismatch is reported (as upstream, which has no
/// "required" here).
pub fn validate_daemon_set_spec(spec: &DaemonSetSpec, path: &Path) -> ErrorList {
    let selector_path = path.child("selector");
    let template_path = path.child("template");
    let mut errors = Vec::new();
    let selector = if selector_is_unset(&spec.selector) {
        Some(Selector::nothing())
    } else {
        errors.extend(validate_label_selector(&spec.selector, &selector_path));
        Selector::from_label_selector(&spec.selector).ok()
    };
    if let Some(selector) = &selector {
        errors.extend(validate_template_matches_selector(
            &spec.template,
            selector,
            &template_path,
        ));
    }
    let match_labels = spec.selector.match_labels.as_ref().map(|m| m.len());
    let match_expressions = spec.selector.match_expressions.as_ref().map(|m| m.len());
    if !selector_is_unset(&spec.selector)
        && match_labels.unwrap_or(0) + match_expressions.unwrap_or(0) == 0
    {
        errors.push(invalid_shown(
            &selector_path,
            &go_label_selector(&spec.selector),
            "empty selector is invalid for daemonset",
        ));
    }
    // The template itself, with an empty selector so the match is not
    // reported twice.
    errors.extend(validate_controller_template(
        &spec.template,
        &Selector::everything(),
        &template_path,
        "DaemonSet",
    ));
    errors.extend(validate_nonnegative_opt(
        spec.min_ready_seconds,
        &path.child("minReadySeconds"),
    ));
    errors.extend(validate_update_strategy(
        &or_default(spec.update_strategy.as_ref()),
        &path.child("updateStrategy"),
    ));
    if let Some(limit) = spec.revision_history_limit {
        errors.extend(validate_nonnegative_opt(
            Some(limit),
            &path.child("revisionHistoryLimit"),
        ));
    }
    errors
}

impl Strategy for DaemonSetStrategy {
    type Object = DaemonSet;

    fn table_columns(&self) -> &'static [apiserver::registry::table::ColumnDefinition] {
        crate::printers::workloads::daemon_set_columns()
    }

    fn table_row(
        &self,
        obj: &Self::Object,
        now: k8s_openapi::chrono::DateTime<k8s_openapi::chrono::Utc>,
    ) -> Vec<serde_json::Value> {
        crate::printers::workloads::daemon_set_row(obj, now)
    }

    fn names(&self) -> &ResourceNames {
        &DAEMON_SET_INFO
    }

    fn status(&self) -> Option<&dyn StatusStrategy<DaemonSet>> {
        Some(self)
    }

    fn prepare_for_create(&self, daemon_set: &mut DaemonSet) {
        default_daemon_set(daemon_set);
        daemon_set.status = Some(DaemonSetStatus::default());
        let generation = template_generation(daemon_set).max(1);
        set_template_generation(daemon_set, generation);
    }

    /// The template generation is the server's: the old one, bumped when
    /// the template changed.
    fn prepare_for_update(&self, new: &mut DaemonSet, old: &DaemonSet) {
        default_daemon_set(new);
        new.status = old.status.clone();
        let old_template = old.spec.as_ref().map(|s| &s.template);
        let new_template = new.spec.as_ref().map(|s| &s.template);
        let mut generation = template_generation(old);
        if old_template != new_template {
            generation += 1;
        }
        set_template_generation(new, generation);
    }

    fn validate(&self, daemon_set: &DaemonSet) -> ErrorList {
        validate_workload(
            &daemon_set.metadata,
            daemon_set.spec.as_ref(),
            validate_daemon_set_spec,
        )
    }

    fn validate_update(&self, new: &DaemonSet, old: &DaemonSet) -> ErrorList {
        validate_workload_update(
            (&new.metadata, new.spec.as_ref()),
            (&old.metadata, old.spec.as_ref()),
            validate_daemon_set_spec,
            |spec| &spec.selector,
        )
    }

    fn tracks_generation(&self) -> bool {
        true
    }

    fn spec_changed(&self, new: &DaemonSet, old: &DaemonSet) -> bool {
        new.spec != old.spec
    }
}

impl StatusStrategy<DaemonSet> for DaemonSetStrategy {
    fn prepare_for_status_update(&self, new: &mut DaemonSet, old: &DaemonSet) {
        new.spec = old.spec.clone();
        set_template_generation(new, template_generation(old));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::apps::workload::fixtures::{messages, meta, selector, template};

    fn daemon_set() -> DaemonSet {
        DaemonSet {
            metadata: meta("agent"),
            spec: Some(DaemonSetSpec {
                selector: selector(&[("app", "web")]),
                template: template(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn created() -> DaemonSet {
        let mut ds = daemon_set();
        DaemonSetStrategy.prepare_for_create(&mut ds);
        ds
    }

    #[test]
    fn defaults_as_upstream() {
        let ds = created();
        let spec = or_default(ds.spec.as_ref());
        let strategy = or_default(spec.update_strategy.as_ref());
        assert_eq!(strategy.type_.as_deref(), Some("RollingUpdate"));
        let rolling = or_default(strategy.rolling_update.as_ref());
        assert_eq!(
            (rolling.max_unavailable.clone(), rolling.max_surge.clone()),
            (Some(IntOrString::Int(1)), Some(IntOrString::Int(0)))
        );
        assert_eq!(spec.revision_history_limit, Some(10));
        assert_eq!(template_generation(&ds), 1);
        assert!(DaemonSetStrategy.validate(&ds).is_empty());
        let info = apiserver::registry::ResourceInfo::of(&DaemonSetStrategy);
        assert!(info.has_status && !info.has_scale);
    }

    #[test]
    fn selector_and_strategy_rules() {
        let mut ds = daemon_set();
        if let Some(spec) = ds.spec.as_mut() {
            spec.selector = Default::default();
            spec.update_strategy = Some(DaemonSetUpdateStrategy {
                type_: Some("RollingUpdate".into()),
                rolling_update: Some(RollingUpdateDaemonSet {
                    max_unavailable: Some(IntOrString::Int(1)),
                    max_surge: Some(IntOrString::Int(1)),
                }),
            });
        }
        DaemonSetStrategy.prepare_for_create(&mut ds);
        assert_eq!(
            messages(&DaemonSetStrategy.validate(&ds)),
            vec![
                "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"web\"}: `selector` does not match template `labels`",
                "spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: 1: may not be set when maxUnavailable is non-zero",
            ]
        );
    }

    #[test]
    fn template_generation_follows_template_changes() {
        let old = created();
        let mut same = old.clone();
        if let Some(spec) = same.spec.as_mut() {
            spec.min_ready_seconds = Some(5);
        }
        DaemonSetStrategy.prepare_for_update(&mut same, &old);
        assert_eq!(template_generation(&same), 1);
        assert!(DaemonSetStrategy.spec_changed(&same, &old));

        let mut changed = old.clone();
        if let Some(pod) = changed
            .spec
            .as_mut()
            .and_then(|spec| spec.template.spec.as_mut())
        {
            pod.containers[0].image = Some("nginx:2".into());
        }
        DaemonSetStrategy.prepare_for_update(&mut changed, &old);
        assert_eq!(template_generation(&changed), 2);
        assert!(DaemonSetStrategy.validate_update(&changed, &old).is_empty());

        let mut status = changed.clone();
        status.spec = None;
        status.metadata.annotations = None;
        DaemonSetStrategy.prepare_for_status_update(&mut status, &changed);
        assert_eq!(status.spec, changed.spec);
        assert_eq!(template_generation(&status), 2);
    }
}
