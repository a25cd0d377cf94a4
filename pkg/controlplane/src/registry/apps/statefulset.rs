//! StatefulSets (`pkg/registry/apps/statefulset`): `SetDefaults_StatefulSet`
//! (OrderedReady, RollingUpdate with partition 0, Retain/Retain claims, one
//! replica, 10 revisions), template and claim-template defaults, upstream's
//! spec validation (the template's labels and annotations, not its pod
//! spec) and the few spec fields an update may change.

use k8s_openapi::api::apps::v1::{
    RollingUpdateStatefulSetStrategy, StatefulSet, StatefulSetPersistentVolumeClaimRetentionPolicy,
    StatefulSetSpec, StatefulSetStatus, StatefulSetUpdateStrategy,
};
use k8s_openapi::api::core::v1::{PersistentVolumeClaimSpec, PersistentVolumeClaimStatus};

use apimachinery::api::{
    name_is_dns_label, validate_annotations, validate_labels, validate_object_meta,
    validate_object_meta_update,
};
use apimachinery::validation::field::{Error, ErrorList, Path};
use apiserver::registry::scale::{ScaleSelector, ScaleView};
use apiserver::registry::strategy::{ResourceNames, ScaleStrategy, StatusStrategy, Strategy};

use super::workload::{
    int_or_percent_value, int_or_string_value, or_default, validate_nonnegative_opt,
    validate_not_more_than_100_percent, validate_positive_int_or_percent,
    validate_required_selector,
};
use crate::registry::core::pod::default_pod_template;
use crate::registry::core::pod::validation::{
    validate_template_keeps_running, validate_template_matches_selector,
};

/// `statefulsets.apps`, `apps/v1`.
pub static STATEFUL_SET_INFO: ResourceNames = ResourceNames {
    group: "apps",
    version: "v1",
    kind: "StatefulSet",
    plural: "statefulsets",
    singular: "statefulset",
    namespaced: true,
    short_names: &["sts"],
    categories: &["all"],
};

/// What a StatefulSet update may change, upstream's words.
pub const STATEFUL_SET_UPDATE_FORBIDDEN: &str = "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden";

#[derive(Debug, Clone, Copy, Default)]
pub struct StatefulSetStrategy;

/// `SetDefaults_StatefulSet`, the template defaults and the claim
/// templates' (`volumeMode: Filesystem`, `status.phase: Pending`).
pub fn default_stateful_set(stateful_set: &mut StatefulSet) {
    let spec = stateful_set
        .spec
        .get_or_insert_with(StatefulSetSpec::default);
    if spec
        .pod_management_policy
        .as_deref()
        .unwrap_or("")
        .is_empty()
    {
        spec.pod_management_policy = Some("OrderedReady".into());
    }
    let strategy = spec
        .update_strategy
        .get_or_insert_with(StatefulSetUpdateStrategy::default);
    if strategy.type_.as_deref().unwrap_or("").is_empty() {
        strategy.type_ = Some("RollingUpdate".into());
        strategy
            .rolling_update
            .get_or_insert_with(RollingUpdateStatefulSetStrategy::default);
    }
    if strategy.type_.as_deref() == Some("RollingUpdate")
        && let Some(rolling) = strategy.rolling_update.as_mut()
    {
        rolling.partition.get_or_insert(0);
    }
    let retention = spec
        .persistent_volume_claim_retention_policy
        .get_or_insert_with(StatefulSetPersistentVolumeClaimRetentionPolicy::default);
    for policy in [&mut retention.when_deleted, &mut retention.when_scaled] {
        if policy.as_deref().unwrap_or("").is_empty() {
            *policy = Some("Retain".into());
        }
    }
    spec.replicas.get_or_insert(1);
    spec.revision_history_limit.get_or_insert(10);
    default_pod_template(&mut spec.template);
    for claim in spec.volume_claim_templates.iter_mut().flatten() {
        claim
            .spec
            .get_or_insert_with(PersistentVolumeClaimSpec::default)
            .volume_mode
            .get_or_insert_with(|| "Filesystem".into());
        let status = claim
            .status
            .get_or_insert_with(PersistentVolumeClaimStatus::default);
        if status.phase.as_deref().unwrap_or("").is_empty() {
            status.phase = Some("Pending".into());
        }
    }
}

fn validate_retention_policy(policy: Option<&str>, path: &Path) -> ErrorList {
    match policy.unwrap_or("") {
        "Retain" | "Delete" => Vec::new(),
        other => vec![Error::not_supported(path, other, &["Retain", "Delete"])],
    }
}

fn validate_update_strategy(strategy: &StatefulSetUpdateStrategy, path: &Path) -> ErrorList {
    let mut errors = Vec::new();
    match strategy.type_.as_deref().unwrap_or("") {
        "" => errors.push(Error::required(path, "")),
        "OnDelete" => {
            if let Some(rolling) = &strategy.rolling_update {
                errors.push(Error::invalid(
                    &path.child("rollingUpdate"),
                    serde_json::to_value(rolling).unwrap_or_default(),
                    "only allowed for updateStrategy 'RollingUpdate'",
                ));
            }
        }
        "RollingUpdate" => {
            if let Some(rolling) = &strategy.rolling_update {
                let rolling_path = path.child("rollingUpdate");
                errors.extend(validate_nonnegative_opt(
                    rolling.partition,
                    &rolling_path.child("partition"),
                ));
                if let Some(max_unavailable) = &rolling.max_unavailable {
                    let max_path = rolling_path.child("maxUnavailable");
                    errors.extend(validate_positive_int_or_percent(max_unavailable, &max_path));
                    if int_or_percent_value(max_unavailable) == 0 {
                        errors.push(Error::invalid(
                            &max_path,
                            int_or_string_value(max_unavailable),
                            "cannot be 0",
                        ));
                    }
                    errors.extend(validate_not_more_than_100_percent(
                        max_unavailable,
                        &max_path,
                    ));
                }
            }
        }
        other => errors.push(Error::invalid(
            path,
            other,
            "must be 'RollingUpdate' or 'OnDelete'",
        )),
    }
    errors
}

/// `ValidateStatefulSetSpec`.
pub fn validate_stateful_set_spec(spec: &StatefulSetSpec, path: &Path) -> ErrorList {
    let mut errors = Vec::new();
    match spec.pod_management_policy.as_deref().unwrap_or("") {
        "" => errors.push(Error::required(&path.child("podManagementPolicy"), "")),
        "OrderedReady" | "Parallel" => {}
        other => errors.push(Error::invalid(
            &path.child("podManagementPolicy"),
            other,
            "must be 'OrderedReady' or 'Parallel'",
        )),
    }
    errors.extend(validate_update_strategy(
        &or_default(spec.update_strategy.as_ref()),
        &path.child("updateStrategy"),
    ));
    if let Some(retention) = &spec.persistent_volume_claim_retention_policy {
        let retention_path = path.child("persistentVolumeClaimRetentionPolicy");
        errors.extend(validate_retention_policy(
            retention.when_deleted.as_deref(),
            &retention_path.child("whenDeleted"),
        ));
        errors.extend(validate_retention_policy(
            retention.when_scaled.as_deref(),
            &retention_path.child("whenScaled"),
        ));
    }
    errors.extend(validate_nonnegative_opt(
        spec.replicas,
        &path.child("replicas"),
    ));
    errors.extend(validate_nonnegative_opt(
        spec.min_ready_seconds,
        &path.child("minReadySeconds"),
    ));
    if let Some(ordinals) = &spec.ordinals {
        errors.extend(validate_nonnegative_opt(
            ordinals.start,
            &path.child("ordinals.start"),
        ));
    }
    let template_path = path.child("template");
    let (selector_errors, selector) =
        validate_required_selector(&spec.selector, &path.child("selector"), "statefulset", "");
    errors.extend(selector_errors);
    if let Some(selector) = selector {
        errors.extend(validate_template_matches_selector(
            &spec.template,
            &selector,
            &template_path,
        ));
        let meta = spec.template.metadata.as_ref();
        if let Some(labels) = meta.and_then(|m| m.labels.as_ref()) {
            errors.extend(validate_labels(labels, &template_path.child("labels")));
        }
        if let Some(annotations) = meta.and_then(|m| m.annotations.as_ref()) {
            errors.extend(validate_annotations(
                annotations,
                &template_path.child("annotations"),
            ));
        }
    }
    errors.extend(validate_template_keeps_running(
        &spec.template,
        &template_path,
        "StatefulSet",
    ));
    errors
}

impl Strategy for StatefulSetStrategy {
    type Object = StatefulSet;

    fn table_columns(&self) -> &'static [apiserver::registry::table::ColumnDefinition] {
        crate::printers::workloads::stateful_set_columns()
    }

    fn table_row(
        &self,
        obj: &Self::Object,
        now: k8s_openapi::chrono::DateTime<k8s_openapi::chrono::Utc>,
    ) -> Vec<serde_json::Value> {
        crate::printers::workloads::stateful_set_row(obj, now)
    }

    fn names(&self) -> &ResourceNames {
        &STATEFUL_SET_INFO
    }

    fn status(&self) -> Option<&dyn StatusStrategy<StatefulSet>> {
        Some(self)
    }

    fn scale(&self) -> Option<&dyn ScaleStrategy<StatefulSet>> {
        Some(self)
    }

    fn prepare_for_create(&self, stateful_set: &mut StatefulSet) {
        default_stateful_set(stateful_set);
        stateful_set.status = Some(StatefulSetStatus::default());
    }

    fn prepare_for_update(&self, new: &mut StatefulSet, old: &StatefulSet) {
        default_stateful_set(new);
        new.status = old.status.clone();
    }

    /// Names are DNS labels: they become the pods' hostnames.
    fn validate(&self, stateful_set: &StatefulSet) -> ErrorList {
        let mut errors = validate_object_meta(
            &stateful_set.metadata,
            true,
            name_is_dns_label,
            &Path::new("metadata"),
        );
        errors.extend(validate_stateful_set_spec(
            &or_default(stateful_set.spec.as_ref()),
            &Path::new("spec"),
        ));
        errors
    }

    /// `ValidateStatefulSetUpdate` (the name is not re-validated).
    fn validate_update(&self, new: &StatefulSet, old: &StatefulSet) -> ErrorList {
        let mut errors =
            validate_object_meta_update(&new.metadata, &old.metadata, &Path::new("metadata"));
        let new_spec = or_default(new.spec.as_ref());
        let old_spec = or_default(old.spec.as_ref());
        errors.extend(validate_stateful_set_spec(&new_spec, &Path::new("spec")));
        let mut fixed = new_spec.into_owned();
        fixed.replicas = old_spec.replicas;
        fixed.template = old_spec.template.clone();
        fixed.update_strategy = old_spec.update_strategy.clone();
        fixed.min_ready_seconds = old_spec.min_ready_seconds;
        fixed.ordinals = old_spec.ordinals.clone();
        fixed.persistent_volume_claim_retention_policy =
            old_spec.persistent_volume_claim_retention_policy.clone();
        if fixed != *old_spec {
            errors.push(Error::forbidden(
                &Path::new("spec"),
                STATEFUL_SET_UPDATE_FORBIDDEN,
            ));
        }
        errors
    }

    fn tracks_generation(&self) -> bool {
        true
    }

    fn spec_changed(&self, new: &StatefulSet, old: &StatefulSet) -> bool {
        new.spec != old.spec
    }
}

impl StatusStrategy<StatefulSet> for StatefulSetStrategy {
    fn prepare_for_status_update(&self, new: &mut StatefulSet, old: &StatefulSet) {
        new.spec = old.spec.clone();
    }
}

impl ScaleStrategy<StatefulSet> for StatefulSetStrategy {
    /// `/scale`: `spec.replicas` (defaulted to 1), `status.replicas` and the
    /// selector.
    fn scale_of(&self, stateful_set: &StatefulSet) -> Option<ScaleView> {
        let spec = stateful_set.spec.as_ref()?;
        Some(ScaleView {
            replicas: spec.replicas.unwrap_or(1),
            status_replicas: stateful_set.status.as_ref().map_or(0, |s| s.replicas),
            selector: ScaleSelector::Labels(spec.selector.clone()),
        })
    }

    fn set_replicas(&self, stateful_set: &mut StatefulSet, replicas: i32) {
        stateful_set
            .spec
            .get_or_insert_with(StatefulSetSpec::default)
            .replicas = Some(replicas);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::apps::workload::fixtures::{messages, meta, selector, template};
    use k8s_openapi::api::core::v1::PersistentVolumeClaim;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn created() -> StatefulSet {
        let mut sts = StatefulSet {
            metadata: meta("db"),
            spec: Some(StatefulSetSpec {
                selector: selector(&[("app", "web")]),
                template: template(),
                service_name: Some("db".into()),
                volume_claim_templates: Some(vec![PersistentVolumeClaim {
                    metadata: ObjectMeta {
                        name: Some("data".into()),
                        ..Default::default()
                    },
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        };
        StatefulSetStrategy.prepare_for_create(&mut sts);
        sts
    }

    #[test]
    fn defaults_as_upstream() {
        let sts = created();
        let spec = or_default(sts.spec.as_ref());
        assert_eq!(spec.pod_management_policy.as_deref(), Some("OrderedReady"));
        let strategy = or_default(spec.update_strategy.as_ref());
        assert_eq!(strategy.type_.as_deref(), Some("RollingUpdate"));
        assert_eq!(
            strategy.rolling_update.as_ref().and_then(|r| r.partition),
            Some(0)
        );
        let retention = or_default(spec.persistent_volume_claim_retention_policy.as_ref());
        assert_eq!(
            (
                retention.when_deleted.as_deref(),
                retention.when_scaled.as_deref()
            ),
            (Some("Retain"), Some("Retain"))
        );
        assert_eq!(
            (spec.replicas, spec.revision_history_limit),
            (Some(1), Some(10))
        );
        let claim = &spec.volume_claim_templates.as_deref().unwrap_or_default()[0];
        assert_eq!(
            claim.spec.as_ref().and_then(|s| s.volume_mode.as_deref()),
            Some("Filesystem")
        );
        assert_eq!(
            claim.status.as_ref().and_then(|s| s.phase.as_deref()),
            Some("Pending")
        );
        assert!(StatefulSetStrategy.validate(&sts).is_empty());
        assert_eq!(
            apiserver::registry::ResourceInfo::of(&StatefulSetStrategy).short_names,
            ["sts"]
        );
    }

    #[test]
    fn spec_rules() {
        let mut sts = created();
        if let Some(spec) = sts.spec.as_mut() {
            spec.pod_management_policy = Some("Random".into());
            spec.selector = selector(&[("app", "db")]);
        }
        assert_eq!(
            messages(&StatefulSetStrategy.validate(&sts)),
            vec![
                "spec.podManagementPolicy: Invalid value: \"Random\": must be 'OrderedReady' or 'Parallel'",
                "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"web\"}: `selector` does not match template `labels`",
            ]
        );
        let mut dotted = created();
        dotted.metadata.name = Some("db.v1".into());
        assert_eq!(
            StatefulSetStrategy.validate(&dotted)[0].field,
            "metadata.name"
        );
    }

    #[test]
    fn updates_limited_to_some_fields() {
        let old = created();
        let mut scaled = old.clone();
        if let Some(spec) = scaled.spec.as_mut() {
            spec.replicas = Some(3);
        }
        assert!(
            StatefulSetStrategy
                .validate_update(&scaled, &old)
                .is_empty()
        );
        assert!(StatefulSetStrategy.spec_changed(&scaled, &old));
        let mut renamed = old.clone();
        if let Some(spec) = renamed.spec.as_mut() {
            spec.service_name = Some("other".into());
        }
        assert_eq!(
            messages(&StatefulSetStrategy.validate_update(&renamed, &old)),
            vec![format!("spec: Forbidden: {STATEFUL_SET_UPDATE_FORBIDDEN}")]
        );
    }
}
