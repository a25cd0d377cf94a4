//! Auditing options (`options.AuditOptions`): the policy file and the log
//! backend (with size-based rotation). The webhook backend, batching,
//! truncation and compression are parsed and validated only.

use std::path::PathBuf;

use clap::{ArgAction, Args};

use crate::flag::{Duration, parse_bool};

pub const LOG_FORMATS: &[&str] = &["legacy", "json"];
pub const BACKEND_MODES: &[&str] = &["batch", "blocking", "blocking-strict"];
pub const AUDIT_VERSIONS: &[&str] = &["audit.k8s.io/v1"];

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Auditing flags")]
pub struct AuditOptions {
    /// Path to the file that defines the audit policy configuration (YAML or JSON; audit.k8s.io/v1 Policy).
    #[arg(long, value_name = "string")]
    pub audit_policy_file: Option<PathBuf>,

    /// If set, all requests coming to the apiserver will be logged to this file.  '-' means standard out.
    #[arg(long, value_name = "string")]
    pub audit_log_path: Option<PathBuf>,

    /// The maximum number of days to retain old audit log files based on the timestamp encoded in their filename.
    #[arg(long, value_name = "int", default_value_t = 0)]
    pub audit_log_maxage: i64,

    /// The maximum number of old audit log files to retain. Setting a value of 0 will mean there's no restriction on the number of files.
    #[arg(long, value_name = "int", default_value_t = 0)]
    pub audit_log_maxbackup: i64,

    /// The maximum size in megabytes of the audit log file before it gets rotated.
    #[arg(long, value_name = "int", default_value_t = 0)]
    pub audit_log_maxsize: i64,

    /// Format of saved audits. "legacy" indicates 1-line text format for each event. "json" indicates structured json format. Known formats are legacy,json. [only json is written]
    #[arg(long, value_name = "string", default_value = "json")]
    pub audit_log_format: String,

    /// If set, the rotated log files will be compressed using gzip. [parsed and validated only]
    #[arg(long, value_name = "true|false", action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", value_parser = parse_bool)]
    pub audit_log_compress: bool,

    /// Strategy for sending audit events. Blocking indicates sending events should block server responses. Batch causes the backend to buffer and write events asynchronously. Known modes are batch,blocking,blocking-strict. [events are always written before the response]
    #[arg(long, value_name = "string", default_value = "blocking")]
    pub audit_log_mode: String,

    /// The size of the buffer to store events before batching and writing. Only used in batch mode.
    #[arg(long, value_name = "int", default_value_t = 10000)]
    pub audit_log_batch_buffer_size: i64,

    /// The maximum size of a batch. Only used in batch mode.
    #[arg(long, value_name = "int", default_value_t = 1)]
    pub audit_log_batch_max_size: i64,

    /// The amount of time to wait before force writing the batch that hadn't reached the max size. Only used in batch mode.
    #[arg(long, value_name = "duration", default_value = "0s")]
    pub audit_log_batch_max_wait: Duration,

    /// Whether event and batch truncating is enabled. [parsed and validated only]
    #[arg(long, value_name = "true|false", action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", value_parser = parse_bool)]
    pub audit_log_truncate_enabled: bool,

    /// Maximum size of the batch sent to the underlying backend.
    #[arg(long, value_name = "int", default_value_t = 10485760)]
    pub audit_log_truncate_max_batch_size: i64,

    /// Maximum size of the audit event sent to the underlying backend.
    #[arg(long, value_name = "int", default_value_t = 102400)]
    pub audit_log_truncate_max_event_size: i64,

    /// API group and version used for serializing audit events written to log.
    #[arg(long, value_name = "string", default_value = "audit.k8s.io/v1")]
    pub audit_log_version: String,

    /// Path to a kubeconfig formatted file that defines the audit webhook configuration. [parsed and validated only: not implemented yet]
    #[arg(long, value_name = "string")]
    pub audit_webhook_config_file: Option<PathBuf>,

    /// The amount of time to wait before retrying the first failed request.
    #[arg(long, value_name = "duration", default_value = "10s")]
    pub audit_webhook_initial_backoff: Duration,

    /// Strategy for sending audit events. Known modes are batch,blocking,blocking-strict.
    #[arg(long, value_name = "string", default_value = "batch")]
    pub audit_webhook_mode: String,

    /// API group and version used for serializing audit events written to webhook.
    #[arg(long, value_name = "string", default_value = "audit.k8s.io/v1")]
    pub audit_webhook_version: String,
}

impl AuditOptions {
    pub fn validate(&self) -> Vec<String> {
        let mut errors = Vec::new();
        for (flag, value) in [
            ("--audit-log-maxage", self.audit_log_maxage),
            ("--audit-log-maxbackup", self.audit_log_maxbackup),
            ("--audit-log-maxsize", self.audit_log_maxsize),
        ] {
            if value < 0 {
                errors.push(format!("{flag} {value} can't be a negative number"));
            }
        }
        if !LOG_FORMATS.contains(&self.audit_log_format.as_str()) {
            errors.push(format!(
                "invalid audit log format {}, allowed formats are {:?}",
                self.audit_log_format,
                LOG_FORMATS.join(",")
            ));
        }
        for (flag, mode) in [
            ("--audit-log-mode", &self.audit_log_mode),
            ("--audit-webhook-mode", &self.audit_webhook_mode),
        ] {
            if !BACKEND_MODES.contains(&mode.as_str()) {
                errors.push(format!(
                    "{flag}: invalid audit mode {mode}, allowed modes are {:?}",
                    BACKEND_MODES.join(",")
                ));
            }
        }
        for (flag, version) in [
            ("--audit-log-version", &self.audit_log_version),
            ("--audit-webhook-version", &self.audit_webhook_version),
        ] {
            if !AUDIT_VERSIONS.contains(&version.as_str()) {
                errors.push(format!(
                    "{flag} {version:?} invalid, allowed values: audit.k8s.io/v1"
                ));
            }
        }
        if self.audit_log_mode == "batch" {
            if self.audit_log_batch_buffer_size <= 0 {
                errors.push("--audit-log-batch-buffer-size must be positive".to_string());
            }
            if self.audit_log_batch_max_size <= 0 {
                errors.push("--audit-log-batch-max-size must be positive".to_string());
            }
        }
        if self.audit_log_batch_max_wait.is_negative() {
            errors.push("--audit-log-batch-max-wait can not be negative".to_string());
        }
        if self.audit_log_truncate_enabled {
            if self.audit_log_truncate_max_event_size <= 0 {
                errors.push("--audit-log-truncate-max-event-size must be positive".to_string());
            }
            if self.audit_log_truncate_max_batch_size < self.audit_log_truncate_max_event_size {
                errors.push("--audit-log-truncate-max-batch-size must be at least --audit-log-truncate-max-event-size".to_string());
            }
        }
        if self.audit_webhook_initial_backoff.is_negative() {
            errors.push("--audit-webhook-initial-backoff can not be negative".to_string());
        }
        errors
    }
}
