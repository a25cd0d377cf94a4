//! Metrics options (`metrics.Options`): hidden-metric exposure and label
//! allow-lists.

use std::path::PathBuf;

use clap::Args;

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Metrics flags")]
pub struct MetricsOptions {
    /// The previous version for which you want to show hidden metrics. Only the previous minor version is meaningful, other values will not be allowed. The format is <major>.<minor>, e.g.: '1.16'. [parsed and validated only: no metric is hidden yet]
    #[arg(long, value_name = "string")]
    pub show_hidden_metrics_for_version: Option<String>,

    /// The map from metric-label to value allow-list of this label. The key's format is <MetricName>,<LabelName>. The value's format is <allowed_value>,<allowed_value>...e.g. metric1,label1='v1,v2,v3'. [parsed only]
    #[arg(long, value_name = "stringToString")]
    pub allow_metric_labels: Vec<String>,

    /// The path to the manifest file that contains the allow-list mapping. [parsed only]
    #[arg(long, value_name = "string")]
    pub allow_metric_labels_manifest: Option<PathBuf>,

    /// This flag provides an escape hatch for misbehaving metrics. You must provide the fully qualified metric name in order to disable it. Disclaimer: disabling metrics is higher in precedence than showing hidden metrics.
    #[arg(long, value_name = "strings", value_delimiter = ',')]
    pub disabled_metrics: Vec<String>,
}

impl MetricsOptions {
    /// `current_minor`: the minor version this server implements.
    pub fn validate(&self, major: &str, current_minor: u32) -> Vec<String> {
        let mut errors = Vec::new();
        if let Some(version) = &self.show_hidden_metrics_for_version {
            let previous = format!("{major}.{}", current_minor.saturating_sub(1));
            if *version != previous {
                errors.push(format!(
                    "--show-hidden-metrics-for-version must be omitted or have the value '{previous}'. Only the previous minor version is allowed"
                ));
            }
        }
        for entry in &self.allow_metric_labels {
            if !entry.contains('=') || !entry.split('=').next().unwrap_or_default().contains(',') {
                errors.push(format!(
                    "--allow-metric-labels {entry:?}: expected <MetricName>,<LabelName>=<allowed_value>,..."
                ));
            }
        }
        errors
    }
}
