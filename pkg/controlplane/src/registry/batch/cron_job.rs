//! CronJobs (`pkg/registry/batch/cronjob`): jobs made on a schedule.
//! Defaulted as upstream's `SetDefaults_CronJob` (concurrent runs allowed,
//! not suspended, three successful and one failed job kept) with the job
//! template's pod defaults. Validated as upstream: a name short enough for
//! the jobs named after it (52 characters), a schedule robfig/cron parses
//! (without `TZ=` unless the old schedule had one), a time zone the
//! machine's zoneinfo knows, a concurrency policy, counts not negative, and
//! a job template whose selector is left to be generated. The status
//! changes only through `/status`. No CronJob controller runs in this
//! server: no jobs are made on the schedule.

use k8s_openapi::api::batch::v1::{CronJob, CronJobSpec, CronJobStatus, JobTemplateSpec};
use k8s_openapi::chrono::{DateTime, Utc};

use apimachinery::api::{
    name_is_dns_subdomain, validate_nonnegative_field, validate_object_meta,
    validate_object_meta_update,
};
use apimachinery::validation::field::{Error, ErrorList, Path};
use apimachinery::validation::go_syntax::{go_label_selector, invalid_shown};
use apiserver::registry::strategy::{ResourceNames, StatusStrategy, Strategy};
use apiserver::registry::table::ColumnDefinition;

use super::job::validate_job_spec_fields;
use super::{schedule, time_zone};
use crate::registry::core::pod::default_pod_template;

/// `cronjobs`, `batch/v1`.
pub static CRON_JOB_INFO: ResourceNames = ResourceNames {
    group: "batch",
    version: "v1",
    kind: "CronJob",
    plural: "cronjobs",
    singular: "cronjob",
    namespaced: true,
    short_names: &["cj"],
    categories: &["all"],
};

/// A job's name is the CronJob's and an 11-character suffix, within a DNS
/// label (`DNS1035LabelMaxLength - 11`).
const MAX_CRON_JOB_NAME_LENGTH: usize = 52;
const CONCURRENCY_POLICIES: [&str; 3] = ["Allow", "Forbid", "Replace"];

#[derive(Debug, Clone, Copy, Default)]
pub struct CronJobStrategy;

/// `SetDefaults_CronJob` and the job template's pod defaults.
pub fn default_cron_job(cron_job: &mut CronJob) {
    let spec = cron_job.spec.get_or_insert_with(CronJobSpec::default);
    if spec
        .concurrency_policy
        .as_deref()
        .unwrap_or_default()
        .is_empty()
    {
        spec.concurrency_policy = Some("Allow".into());
    }
    spec.suspend.get_or_insert(false);
    spec.successful_jobs_history_limit.get_or_insert(3);
    spec.failed_jobs_history_limit.get_or_insert(1);
    if let Some(job_spec) = spec.job_template.spec.as_mut() {
        default_pod_template(&mut job_spec.template);
    }
}

/// `validateScheduleFormat`.
fn validate_schedule(
    schedule_text: &str,
    allow_tz_in_schedule: bool,
    time_zone: Option<&str>,
    path: &Path,
) -> ErrorList {
    let mut errors = Vec::new();
    if let Err(why) = schedule::parse_standard(schedule_text) {
        errors.push(Error::invalid(path, schedule_text, why));
    }
    if schedule_text.contains("TZ") {
        if allow_tz_in_schedule && time_zone.is_some() {
            errors.push(Error::invalid(
                path,
                schedule_text,
                "cannot use both timeZone field and TZ or CRON_TZ in schedule",
            ));
        } else if !allow_tz_in_schedule {
            errors.push(Error::invalid(
                path,
                schedule_text,
                "cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
            ));
        }
    }
    errors
}

/// `validateTimeZone`.
fn validate_time_zone(zone: Option<&str>, path: &Path) -> ErrorList {
    let Some(zone) = zone else {
        return Vec::new();
    };
    if zone.is_empty() {
        return vec![Error::invalid(
            path,
            zone,
            "timeZone must be nil or non-empty string",
        )];
    }
    if !time_zone::is_well_formed(zone) {
        return vec![Error::invalid(
            path,
            zone,
            format!("unknown time zone {zone}"),
        )];
    }
    let mut errors = Vec::new();
    if zone.eq_ignore_ascii_case("Local") {
        errors.push(Error::invalid(
            path,
            zone,
            "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones",
        ));
    }
    if !time_zone::is_known(zone) {
        errors.push(Error::invalid(
            path,
            zone,
            format!("unknown time zone {zone}"),
        ));
    }
    errors
}

/// `ValidateJobTemplateSpec`: the job's fields and template, with the
/// selector left to be generated for each job.
fn validate_job_template(template: &JobTemplateSpec, path: &Path) -> ErrorList {
    let spec = template.spec.clone().unwrap_or_default();
    let spec_path = path.child("spec");
    let mut errors = validate_job_spec_fields(&spec, &spec_path);
    if let Some(selector) = &spec.selector {
        errors.push(invalid_shown(
            &spec_path.child("selector"),
            &go_label_selector(selector),
            "`selector` will be auto-generated",
        ));
    }
    if spec.manual_selector == Some(true) {
        errors.push(Error::not_supported(
            &spec_path.child("manualSelector"),
            true,
            &["nil", "false"],
        ));
    }
    errors
}

/// `ValidateCronJobSpec`.
fn validate_cron_job_spec(
    spec: &CronJobSpec,
    allow_tz_in_schedule: bool,
    path: &Path,
) -> ErrorList {
    let mut errors = Vec::new();
    if spec.schedule.is_empty() {
        errors.push(Error::required(&path.child("schedule"), ""));
    } else {
        errors.extend(validate_schedule(
            &spec.schedule,
            allow_tz_in_schedule,
            spec.time_zone.as_deref(),
            &path.child("schedule"),
        ));
    }
    if let Some(deadline) = spec.starting_deadline_seconds {
        errors.extend(validate_nonnegative_field(
            deadline,
            &path.child("startingDeadlineSeconds"),
        ));
    }
    let policy_path = path.child("concurrencyPolicy");
    match spec.concurrency_policy.as_deref().unwrap_or_default() {
        "" => errors.push(Error::required(&policy_path, "")),
        policy if !CONCURRENCY_POLICIES.contains(&policy) => errors.push(Error::not_supported(
            &policy_path,
            policy,
            &CONCURRENCY_POLICIES,
        )),
        _ => {}
    }
    errors.extend(validate_job_template(
        &spec.job_template,
        &path.child("jobTemplate"),
    ));
    for (value, field) in [
        (
            spec.successful_jobs_history_limit,
            "successfulJobsHistoryLimit",
        ),
        (spec.failed_jobs_history_limit, "failedJobsHistoryLimit"),
    ] {
        if let Some(value) = value {
            errors.extend(validate_nonnegative_field(
                i64::from(value),
                &path.child(field),
            ));
        }
    }
    errors.extend(validate_time_zone(
        spec.time_zone.as_deref(),
        &path.child("timeZone"),
    ));
    errors
}

/// `ValidateCronJobCreate`.
pub fn validate_cron_job(cron_job: &CronJob) -> ErrorList {
    let mut errors = validate_object_meta(
        &cron_job.metadata,
        true,
        name_is_dns_subdomain,
        &Path::new("metadata"),
    );
    let name = cron_job.metadata.name.as_deref().unwrap_or_default();
    if name.len() > MAX_CRON_JOB_NAME_LENGTH {
        errors.push(Error::invalid(
            &Path::new("metadata").child("name"),
            name,
            format!("must be no more than {MAX_CRON_JOB_NAME_LENGTH} characters"),
        ));
    }
    errors.extend(validate_cron_job_spec(
        &cron_job.spec.clone().unwrap_or_default(),
        false,
        &Path::new("spec"),
    ));
    errors
}

/// `ValidateCronJobUpdate`: `TZ=` stays allowed in a schedule that had it.
pub fn validate_cron_job_update(new: &CronJob, old: &CronJob) -> ErrorList {
    let mut errors =
        validate_object_meta_update(&new.metadata, &old.metadata, &Path::new("metadata"));
    let old_had_tz = old
        .spec
        .as_ref()
        .is_some_and(|spec| spec.schedule.contains("TZ"));
    errors.extend(validate_cron_job_spec(
        &new.spec.clone().unwrap_or_default(),
        old_had_tz,
        &Path::new("spec"),
    ));
    errors
}

impl Strategy for CronJobStrategy {
    type Object = CronJob;

    fn names(&self) -> &ResourceNames {
        &CRON_JOB_INFO
    }

    fn table_columns(&self) -> &'static [ColumnDefinition] {
        crate::printers::workloads::cron_job_columns()
    }

    fn table_row(&self, cron_job: &CronJob, now: DateTime<Utc>) -> Vec<serde_json::Value> {
        crate::printers::workloads::cron_job_row(cron_job, now)
    }

    fn status(&self) -> Option<&dyn StatusStrategy<CronJob>> {
        Some(self)
    }

    fn prepare_for_create(&self, cron_job: &mut CronJob) {
        default_cron_job(cron_job);
        cron_job.status = Some(CronJobStatus::default());
    }

    fn prepare_for_update(&self, new: &mut CronJob, old: &CronJob) {
        default_cron_job(new);
        new.status = old.status.clone();
    }

    fn validate(&self, cron_job: &CronJob) -> ErrorList {
        validate_cron_job(cron_job)
    }

    fn validate_update(&self, new: &CronJob, old: &CronJob) -> ErrorList {
        validate_cron_job_update(new, old)
    }

    fn tracks_generation(&self) -> bool {
        true
    }

    fn spec_changed(&self, new: &CronJob, old: &CronJob) -> bool {
        new.spec != old.spec
    }
}

impl StatusStrategy<CronJob> for CronJobStrategy {
    fn prepare_for_status_update(&self, new: &mut CronJob, old: &CronJob) {
        new.spec = old.spec.clone();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::batch::v1::JobSpec;
    use k8s_openapi::api::core::v1::{Container, PodSpec, PodTemplateSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn cron_job(name: &str, schedule: &str) -> CronJob {
        let mut cron_job = CronJob {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("default".into()),
                resource_version: Some("2".into()),
                ..Default::default()
            },
            spec: Some(CronJobSpec {
                schedule: schedule.into(),
                job_template: JobTemplateSpec {
                    metadata: None,
                    spec: Some(JobSpec {
                        template: PodTemplateSpec {
                            metadata: None,
                            spec: Some(PodSpec {
                                restart_policy: Some("OnFailure".into()),
                                containers: vec![Container {
                                    name: "hello".into(),
                                    image: Some("busybox:1.36".into()),
                                    ..Default::default()
                                }],
                                ..Default::default()
                            }),
                        },
                        ..Default::default()
                    }),
                },
                ..Default::default()
            }),
            status: None,
        };
        CronJobStrategy.prepare_for_create(&mut cron_job);
        cron_job
    }

    fn messages(errors: ErrorList) -> Vec<String> {
        errors.iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn defaults_and_a_valid_schedule() {
        let hello = cron_job("hello", "*/5 * * * *");
        let spec = hello.spec.as_ref().unwrap();
        assert_eq!(spec.concurrency_policy.as_deref(), Some("Allow"));
        assert_eq!(spec.suspend, Some(false));
        assert_eq!(
            (
                spec.successful_jobs_history_limit,
                spec.failed_jobs_history_limit
            ),
            (Some(3), Some(1))
        );
        assert_eq!(messages(validate_cron_job(&hello)), Vec::<String>::new());
    }

    #[test]
    fn schedules_names_zones_and_templates_as_upstream_checks_them() {
        let errors = messages(validate_cron_job(&cron_job("hello", "61 * * * *")));
        assert_eq!(
            errors,
            [
                "spec.schedule: Invalid value: \"61 * * * *\": end of range (61) above maximum (59): 61"
            ]
        );
        let errors = messages(validate_cron_job(&cron_job(&"a".repeat(53), "@daily")));
        assert!(
            errors[0].ends_with("must be no more than 52 characters"),
            "{errors:?}"
        );
        let errors = messages(validate_cron_job(&cron_job("hello", "TZ=UTC 0 * * * *")));
        assert_eq!(
            errors,
            [
                "spec.schedule: Invalid value: \"TZ=UTC 0 * * * *\": cannot use TZ or CRON_TZ in schedule, use timeZone field instead"
            ]
        );
        let mut zoned = cron_job("hello", "@daily");
        let spec = zoned.spec.as_mut().unwrap();
        spec.time_zone = Some("Mars/Olympus_Mons".into());
        spec.concurrency_policy = Some("Sometimes".into());
        spec.job_template.spec.as_mut().unwrap().manual_selector = Some(true);
        let errors = messages(validate_cron_job(&zoned));
        assert_eq!(
            errors,
            [
                "spec.concurrencyPolicy: Unsupported value: \"Sometimes\": supported values: \"Allow\", \"Forbid\", \"Replace\"",
                "spec.jobTemplate.spec.manualSelector: Unsupported value: true: supported values: \"nil\", \"false\"",
                "spec.timeZone: Invalid value: \"Mars/Olympus_Mons\": unknown time zone Mars/Olympus_Mons",
            ]
        );
        let mut utc = cron_job("hello", "@daily");
        utc.spec.as_mut().unwrap().time_zone = Some("UTC".into());
        assert!(validate_cron_job(&utc).is_empty());
    }
}
