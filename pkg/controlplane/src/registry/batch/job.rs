//! Jobs (`pkg/registry/batch/job`): pods run to completion. Defaulted as
//! upstream's `SetDefaults_Job` (one completion and one pod at a time when
//! neither is set, six retries, `NonIndexed`, not suspended, pods replaced
//! once terminated or failed) with the pod template's defaults; on create,
//! unless `manualSelector` is set, the selector is generated from the job's
//! uid and the template gets the `batch.kubernetes.io/controller-uid`,
//! `batch.kubernetes.io/job-name` labels and their legacy twins, which also
//! become the job's labels when it has none. Validated as upstream's core
//! rules (counts not negative, a template whose pods restart `OnFailure`
//! or `Never` and that the selector matches, a generated selector that was
//! not tampered with, the completion modes and their limits) and on update
//! the fields upstream keeps (selector, completions, completion mode; the
//! template, but for a suspended job that has not started its scheduling
//! directives). The status changes only through `/status`. No job
//! controller runs in this server: no pods are created for a job.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::{Job, JobSpec, JobStatus};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::chrono::{DateTime, Utc};

use apimachinery::api::{
    name_is_dns_subdomain, validate_label_selector, validate_nonnegative_field,
    validate_object_meta, validate_object_meta_update,
};
use apimachinery::labels::Selector;
use apimachinery::validation::field::{Error, ErrorList, Path};
use apimachinery::validation::go_syntax::{go_label_selector, go_string_map, invalid_shown};
use apiserver::registry::strategy::{ResourceNames, StatusStrategy, Strategy};
use apiserver::registry::table::ColumnDefinition;

use crate::registry::core::pod::validation::validate_immutable;
use crate::registry::core::pod::{default_pod_template, validate_pod_template_spec};

/// `jobs`, `batch/v1`.
pub static JOB_INFO: ResourceNames = ResourceNames {
    group: "batch",
    version: "v1",
    kind: "Job",
    plural: "jobs",
    singular: "job",
    namespaced: true,
    short_names: &[],
    categories: &["all"],
};

/// The labels a generated selector puts on the template.
pub const CONTROLLER_UID_LABEL: &str = "batch.kubernetes.io/controller-uid";
pub const JOB_NAME_LABEL: &str = "batch.kubernetes.io/job-name";
const LEGACY_CONTROLLER_UID_LABEL: &str = "controller-uid";
const LEGACY_JOB_NAME_LABEL: &str = "job-name";

const COMPLETION_MODES: [&str; 2] = ["NonIndexed", "Indexed"];
const POD_REPLACEMENT_POLICIES: [&str; 2] = ["TerminatingOrFailed", "Failed"];
const JOB_RESTART_POLICIES: [&str; 2] = ["OnFailure", "Never"];
/// `maxParallelismForIndexedJob` and `maxCompletionsForIndexedJob`
/// (without a per-index backoff limit).
const MAX_INDEXED_PARALLELISM: i32 = 100_000;
const MAX_INDEXED_COMPLETIONS: i32 = 100_000;

#[derive(Debug, Clone, Copy, Default)]
pub struct JobStrategy;

/// `SetDefaults_Job` and the template's pod defaults.
pub fn default_job(job: &mut Job) {
    let spec = job.spec.get_or_insert_with(JobSpec::default);
    if spec.completions.is_none() && spec.parallelism.is_none() {
        spec.completions = Some(1);
    }
    spec.parallelism.get_or_insert(1);
    if spec.backoff_limit.is_none() {
        spec.backoff_limit = Some(if spec.backoff_limit_per_index.is_some() {
            i32::MAX
        } else {
            6
        });
    }
    spec.completion_mode
        .get_or_insert_with(|| "NonIndexed".into());
    spec.suspend.get_or_insert(false);
    if spec.pod_replacement_policy.is_none() {
        spec.pod_replacement_policy = Some(
            if spec.pod_failure_policy.is_some() {
                "Failed"
            } else {
                "TerminatingOrFailed"
            }
            .into(),
        );
    }
    for rule in spec
        .pod_failure_policy
        .iter_mut()
        .flat_map(|policy| policy.rules.iter_mut())
    {
        for pattern in rule.on_pod_conditions.iter_mut().flatten() {
            if pattern.status.is_empty() {
                pattern.status = "True".into();
            }
        }
    }
    default_pod_template(&mut spec.template);
}

/// `generateSelector`: the template labelled with the job's name and uid
/// (labels a client already set are left for validation to judge), the
/// selector matching the uid.
fn generate_selector(job: &mut Job) {
    let name = job.metadata.name.clone().unwrap_or_default();
    let uid = job.metadata.uid.clone().unwrap_or_default();
    let spec = job.spec.get_or_insert_with(JobSpec::default);
    let labels = spec
        .template
        .metadata
        .get_or_insert_with(Default::default)
        .labels
        .get_or_insert_with(BTreeMap::new);
    for (key, value) in [
        (LEGACY_JOB_NAME_LABEL, &name),
        (JOB_NAME_LABEL, &name),
        (LEGACY_CONTROLLER_UID_LABEL, &uid),
        (CONTROLLER_UID_LABEL, &uid),
    ] {
        labels
            .entry(key.to_owned())
            .or_insert_with(|| value.clone());
    }
    spec.selector
        .get_or_insert_with(LabelSelector::default)
        .match_labels
        .get_or_insert_with(BTreeMap::new)
        .entry(CONTROLLER_UID_LABEL.to_owned())
        .or_insert(uid);
}

fn template_labels(template: &PodTemplateSpec) -> BTreeMap<String, String> {
    template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.clone())
        .unwrap_or_default()
}

/// `ValidateHasLabel`.
fn validate_has_label(
    labels: &BTreeMap<String, String>,
    path: &Path,
    key: &str,
    expected: &str,
) -> ErrorList {
    match labels.get(key) {
        None => vec![Error::required(&path.child("labels").key(key), expected)],
        Some(value) if value != expected => vec![invalid_shown(
            &path.child("labels").key(key),
            &go_string_map(Some(labels)),
            &format!("must be '{expected}'"),
        )],
        Some(_) => Vec::new(),
    }
}

/// `ValidateGeneratedSelector`: without `manualSelector`, the template
/// carries the generated labels and the selector selects them.
fn validate_generated_selector(job: &Job) -> ErrorList {
    let spec = job.spec.clone().unwrap_or_default();
    let Some(selector) = spec.selector.as_ref() else {
        return Vec::new();
    };
    if spec.manual_selector == Some(true) {
        return Vec::new();
    }
    let mut errors = Vec::new();
    let uid = job.metadata.uid.clone().unwrap_or_default();
    let name = job.metadata.name.clone().unwrap_or_default();
    if uid.is_empty() {
        errors.push(Error::required(&Path::new("metadata").child("uid"), ""));
    }
    let labels = template_labels(&spec.template);
    let path = Path::new("spec").child("template").child("metadata");
    let expected = [
        (LEGACY_CONTROLLER_UID_LABEL, &uid),
        (LEGACY_JOB_NAME_LABEL, &name),
        (CONTROLLER_UID_LABEL, &uid),
        (JOB_NAME_LABEL, &name),
    ];
    for (key, value) in expected {
        errors.extend(validate_has_label(&labels, &path, key, value));
    }
    let expected: BTreeMap<String, String> = expected
        .iter()
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect();
    if let Ok(parsed) = Selector::from_label_selector(selector)
        && !parsed.matches(&expected)
    {
        errors.push(invalid_shown(
            &Path::new("spec").child("selector"),
            &go_label_selector(selector),
            "`selector` not auto-generated",
        ));
    }
    errors
}

/// `validateJobSpec`: counts, completion mode, replacement policy and the
/// template.
pub(crate) fn validate_job_spec_fields(spec: &JobSpec, path: &Path) -> ErrorList {
    let mut errors = Vec::new();
    for (value, field) in [
        (spec.parallelism, "parallelism"),
        (spec.completions, "completions"),
        (spec.backoff_limit, "backoffLimit"),
        (spec.ttl_seconds_after_finished, "ttlSecondsAfterFinished"),
        (spec.backoff_limit_per_index, "backoffLimitPerIndex"),
        (spec.max_failed_indexes, "maxFailedIndexes"),
    ] {
        if let Some(value) = value {
            errors.extend(validate_nonnegative_field(
                i64::from(value),
                &path.child(field),
            ));
        }
    }
    if let Some(deadline) = spec.active_deadline_seconds {
        errors.extend(validate_nonnegative_field(
            deadline,
            &path.child("activeDeadlineSeconds"),
        ));
    }
    let indexed = spec.completion_mode.as_deref() == Some("Indexed");
    if let Some(mode) = spec.completion_mode.as_deref()
        && !COMPLETION_MODES.contains(&mode)
    {
        errors.push(Error::not_supported(
            &path.child("completionMode"),
            mode,
            &COMPLETION_MODES,
        ));
    }
    if indexed {
        match spec.completions {
            None => errors.push(Error::required(
                &path.child("completions"),
                "when completion mode is Indexed",
            )),
            Some(completions) if completions > MAX_INDEXED_COMPLETIONS => {
                errors.push(Error::invalid(
                    &path.child("completions"),
                    completions,
                    format!(
                        "must be less than or equal to {MAX_INDEXED_COMPLETIONS} when completion mode is Indexed"
                    ),
                ))
            }
            Some(_) => {}
        }
        if let Some(parallelism) = spec.parallelism
            && parallelism > MAX_INDEXED_PARALLELISM
        {
            errors.push(Error::invalid(
                &path.child("parallelism"),
                parallelism,
                format!(
                    "must be less than or equal to {MAX_INDEXED_PARALLELISM} when completion mode is Indexed"
                ),
            ));
        }
    }
    if spec.backoff_limit_per_index.is_some() && !indexed {
        errors.push(Error::invalid(
            &path.child("backoffLimitPerIndex"),
            spec.backoff_limit_per_index.unwrap_or_default(),
            "requires indexed completion mode",
        ));
    }
    if let Some(policy) = spec.pod_replacement_policy.as_deref() {
        if !POD_REPLACEMENT_POLICIES.contains(&policy) {
            errors.push(Error::not_supported(
                &path.child("podReplacementPolicy"),
                policy,
                &POD_REPLACEMENT_POLICIES,
            ));
        } else if spec.pod_failure_policy.is_some() && policy != "Failed" {
            errors.push(Error::not_supported(
                &path.child("podReplacementPolicy"),
                policy,
                &["Failed"],
            ));
        }
    }
    let template_path = path.child("template");
    errors.extend(validate_pod_template_spec(&spec.template, &template_path));
    let restart_policy = spec
        .template
        .spec
        .as_ref()
        .and_then(|s| s.restart_policy.as_deref())
        .unwrap_or_default();
    let restart_path = template_path.child("spec").child("restartPolicy");
    if !JOB_RESTART_POLICIES.contains(&restart_policy) {
        errors.push(Error::not_supported(
            &restart_path,
            restart_policy,
            &JOB_RESTART_POLICIES,
        ));
    } else if spec.pod_failure_policy.is_some() && restart_policy != "Never" {
        errors.push(Error::invalid(
            &restart_path,
            restart_policy,
            "only \"Never\" is supported when podFailurePolicy is specified",
        ));
    }
    errors
}

/// `ValidateJobSpec`: the fields, a valid selector, and a template the
/// selector matches.
fn validate_job_spec(spec: &JobSpec, path: &Path) -> ErrorList {
    let mut errors = validate_job_spec_fields(spec, path);
    let selector_path = path.child("selector");
    match &spec.selector {
        None => errors.push(Error::required(&selector_path, "")),
        Some(selector) => {
            errors.extend(validate_label_selector(selector, &selector_path));
            if let Ok(parsed) = Selector::from_label_selector(selector) {
                let labels = template_labels(&spec.template);
                if !parsed.matches(&labels) {
                    errors.push(invalid_shown(
                        &path.child("template").child("metadata").child("labels"),
                        &go_string_map(Some(&labels)),
                        "`selector` does not match template `labels`",
                    ));
                }
            }
        }
    }
    errors
}

/// `ValidateJob`.
pub fn validate_job(job: &Job) -> ErrorList {
    let mut errors = validate_object_meta(
        &job.metadata,
        true,
        name_is_dns_subdomain,
        &Path::new("metadata"),
    );
    errors.extend(validate_generated_selector(job));
    errors.extend(validate_job_spec(
        &job.spec.clone().unwrap_or_default(),
        &Path::new("spec"),
    ));
    errors
}

/// What a suspended job that has not started may still change in its
/// template (`AllowMutableSchedulingDirectives`): labels, annotations,
/// node selector, tolerations, affinity, scheduling gates.
fn without_scheduling_directives(template: &PodTemplateSpec) -> PodTemplateSpec {
    let mut template = template.clone();
    if let Some(meta) = template.metadata.as_mut() {
        meta.labels = None;
        meta.annotations = None;
    }
    if let Some(spec) = template.spec.as_mut() {
        spec.node_selector = None;
        spec.tolerations = None;
        spec.affinity = None;
        spec.scheduling_gates = None;
    }
    template
}

/// `ValidateJobUpdate`: the spec as on create, and what may not change.
pub fn validate_job_update(new: &Job, old: &Job) -> ErrorList {
    let mut errors =
        validate_object_meta_update(&new.metadata, &old.metadata, &Path::new("metadata"));
    let spec = new.spec.clone().unwrap_or_default();
    let old_spec = old.spec.clone().unwrap_or_default();
    let path = Path::new("spec");
    errors.extend(validate_job_spec(&spec, &path));
    errors.extend(validate_immutable(
        &spec.completions,
        &old_spec.completions,
        &path.child("completions"),
    ));
    if spec.selector != old_spec.selector {
        errors.push(invalid_shown(
            &path.child("selector"),
            &spec
                .selector
                .as_ref()
                .map_or_else(|| "nil".to_owned(), go_label_selector),
            apimachinery::api::FIELD_IMMUTABLE_ERROR_MSG,
        ));
    }
    let not_started = old.status.as_ref().is_none_or(|s| s.start_time.is_none());
    let scheduling_directives_mutable = old_spec.suspend == Some(true) && not_started;
    let (template, old_template) = if scheduling_directives_mutable {
        (
            without_scheduling_directives(&spec.template),
            without_scheduling_directives(&old_spec.template),
        )
    } else {
        (spec.template.clone(), old_spec.template.clone())
    };
    if template != old_template {
        errors.extend(validate_immutable(
            &spec.template,
            &old_spec.template,
            &path.child("template"),
        ));
    }
    errors.extend(validate_immutable(
        &spec.completion_mode,
        &old_spec.completion_mode,
        &path.child("completionMode"),
    ));
    errors.extend(validate_immutable(
        &spec.pod_failure_policy,
        &old_spec.pod_failure_policy,
        &path.child("podFailurePolicy"),
    ));
    errors.extend(validate_immutable(
        &spec.backoff_limit_per_index,
        &old_spec.backoff_limit_per_index,
        &path.child("backoffLimitPerIndex"),
    ));
    errors
}

/// The status counters that may not be negative.
fn validate_job_status(status: &JobStatus, path: &Path) -> ErrorList {
    let mut errors = Vec::new();
    for (value, field) in [
        (status.active, "active"),
        (status.succeeded, "succeeded"),
        (status.failed, "failed"),
        (status.ready, "ready"),
        (status.terminating, "terminating"),
    ] {
        if let Some(value) = value {
            errors.extend(validate_nonnegative_field(
                i64::from(value),
                &path.child(field),
            ));
        }
    }
    errors
}

impl Strategy for JobStrategy {
    type Object = Job;

    fn names(&self) -> &ResourceNames {
        &JOB_INFO
    }

    fn table_columns(&self) -> &'static [ColumnDefinition] {
        crate::printers::workloads::job_columns()
    }

    fn table_row(&self, job: &Job, now: DateTime<Utc>) -> Vec<serde_json::Value> {
        crate::printers::workloads::job_row(job, now)
    }

    fn status(&self) -> Option<&dyn StatusStrategy<Job>> {
        Some(self)
    }

    fn prepare_for_create(&self, job: &mut Job) {
        default_job(job);
        let manual = job.spec.as_ref().and_then(|s| s.manual_selector) == Some(true);
        if !manual {
            generate_selector(job);
        }
        if job.metadata.labels.as_ref().is_none_or(|l| l.is_empty()) {
            let labels = template_labels(&job.spec.clone().unwrap_or_default().template);
            job.metadata.labels = (!labels.is_empty()).then_some(labels);
        }
        job.status = Some(JobStatus::default());
    }

    fn prepare_for_update(&self, new: &mut Job, old: &Job) {
        default_job(new);
        new.status = old.status.clone();
    }

    fn validate(&self, job: &Job) -> ErrorList {
        validate_job(job)
    }

    /// The spec rules, and through `/status` (which keeps the spec) the
    /// status counters.
    fn validate_update(&self, new: &Job, old: &Job) -> ErrorList {
        let mut errors = validate_job_update(new, old);
        if new.status != old.status {
            errors.extend(validate_job_status(
                &new.status.clone().unwrap_or_default(),
                &Path::new("status"),
            ));
        }
        errors
    }

    fn tracks_generation(&self) -> bool {
        true
    }

    fn spec_changed(&self, new: &Job, old: &Job) -> bool {
        new.spec != old.spec
    }
}

impl StatusStrategy<Job> for JobStrategy {
    fn prepare_for_status_update(&self, new: &mut Job, old: &Job) {
        new.spec = old.spec.clone();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Container, PodSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn job(restart_policy: &str) -> Job {
        Job {
            metadata: ObjectMeta {
                name: Some("pi".into()),
                namespace: Some("default".into()),
                uid: Some("0b7c-uid".into()),
                resource_version: Some("4".into()),
                ..Default::default()
            },
            spec: Some(JobSpec {
                template: PodTemplateSpec {
                    metadata: None,
                    spec: Some(PodSpec {
                        restart_policy: Some(restart_policy.into()),
                        containers: vec![Container {
                            name: "pi".into(),
                            image: Some("perl:5.34".into()),
                            ..Default::default()
                        }],
                        ..Default::default()
                    }),
                },
                ..Default::default()
            }),
            status: None,
        }
    }

    fn created(restart_policy: &str) -> Job {
        let mut job = job(restart_policy);
        JobStrategy.prepare_for_create(&mut job);
        job
    }

    fn messages(errors: ErrorList) -> Vec<String> {
        errors.iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn a_created_job_is_defaulted_and_selects_its_own_pods() {
        let job = created("Never");
        let spec = job.spec.as_ref().unwrap();
        assert_eq!((spec.completions, spec.parallelism), (Some(1), Some(1)));
        assert_eq!(spec.backoff_limit, Some(6));
        assert_eq!(spec.completion_mode.as_deref(), Some("NonIndexed"));
        assert_eq!(spec.suspend, Some(false));
        assert_eq!(
            spec.pod_replacement_policy.as_deref(),
            Some("TerminatingOrFailed")
        );
        let labels = template_labels(&spec.template);
        assert_eq!(labels[CONTROLLER_UID_LABEL], "0b7c-uid");
        assert_eq!(labels[JOB_NAME_LABEL], "pi");
        assert_eq!(labels["controller-uid"], "0b7c-uid");
        assert_eq!(labels["job-name"], "pi");
        assert_eq!(
            spec.selector
                .as_ref()
                .unwrap()
                .match_labels
                .as_ref()
                .unwrap()[CONTROLLER_UID_LABEL],
            "0b7c-uid"
        );
        assert_eq!(job.metadata.labels.as_ref(), Some(&labels));
        assert_eq!(messages(validate_job(&job)), Vec::<String>::new());
    }

    #[test]
    fn pods_run_to_completion_and_a_generated_selector_is_not_forged() {
        let errors = messages(validate_job(&created("Always")));
        assert_eq!(
            errors,
            [
                "spec.template.spec.restartPolicy: Unsupported value: \"Always\": supported values: \"OnFailure\", \"Never\""
            ]
        );
        let mut forged = job("Never");
        forged.spec.as_mut().unwrap().selector = Some(LabelSelector {
            match_labels: Some([(CONTROLLER_UID_LABEL.to_string(), "other".to_string())].into()),
            ..Default::default()
        });
        JobStrategy.prepare_for_create(&mut forged);
        let errors = messages(validate_job(&forged));
        assert!(
            errors
                .iter()
                .any(|e| e.starts_with("spec.selector: Invalid value: ")
                    && e.ends_with("`selector` not auto-generated")),
            "{errors:?}"
        );
        assert!(
            errors
                .iter()
                .any(|e| e.ends_with("`selector` does not match template `labels`")),
            "{errors:?}"
        );

        let mut indexed = job("OnFailure");
        let spec = indexed.spec.as_mut().unwrap();
        spec.completion_mode = Some("Indexed".into());
        spec.parallelism = Some(2);
        spec.backoff_limit = Some(-1);
        JobStrategy.prepare_for_create(&mut indexed);
        assert_eq!(
            messages(validate_job(&indexed)),
            [
                "spec.backoffLimit: Invalid value: -1: must be greater than or equal to 0",
                "spec.completions: Required value: when completion mode is Indexed",
            ]
        );
    }

    #[test]
    fn the_template_is_fixed_but_for_a_suspended_jobs_scheduling() {
        let old = created("Never");
        let mut changed = old.clone();
        let template = &mut changed.spec.as_mut().unwrap().template;
        template.spec.as_mut().unwrap().node_selector =
            Some([("zone".to_string(), "a".to_string())].into());
        let errors = messages(validate_job_update(&changed, &old));
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].starts_with("spec.template: Invalid value: ")
                && errors[0].ends_with("field is immutable"),
            "{errors:?}"
        );

        let mut suspended = old.clone();
        suspended.spec.as_mut().unwrap().suspend = Some(true);
        let mut rescheduled = changed.clone();
        rescheduled.spec.as_mut().unwrap().suspend = Some(true);
        assert_eq!(
            messages(validate_job_update(&rescheduled, &suspended)),
            Vec::<String>::new()
        );

        let mut more = old.clone();
        more.spec.as_mut().unwrap().completions = Some(3);
        assert_eq!(
            messages(validate_job_update(&more, &old)),
            ["spec.completions: Invalid value: 3: field is immutable"]
        );
    }

    #[test]
    fn status_goes_through_its_subresource() {
        let old = created("Never");
        let mut update = old.clone();
        update.status = Some(JobStatus {
            succeeded: Some(1),
            ..Default::default()
        });
        JobStrategy.prepare_for_update(&mut update, &old);
        assert_eq!(update.status, old.status);

        let mut status = old.clone();
        status.spec.as_mut().unwrap().parallelism = Some(9);
        status.status = Some(JobStatus {
            failed: Some(-2),
            ..Default::default()
        });
        JobStrategy.prepare_for_status_update(&mut status, &old);
        assert_eq!(status.spec, old.spec);
        assert_eq!(
            messages(JobStrategy.validate_update(&status, &old)),
            ["status.failed: Invalid value: -2: must be greater than or equal to 0"]
        );
    }
}
