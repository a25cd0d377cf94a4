//! Admission options (`kubeoptions.AdmissionOptions`): which admission plugins
//! run. Admission runs with the REST API (a later issue); the plugin lists are
//! parsed and validated against Kubernetes 1.32's plugin names.

use std::path::PathBuf;

use clap::Args;

/// Every admission plugin Kubernetes 1.32 knows, in its order.
pub const ALL_ORDERED_PLUGINS: &[&str] = &[
    "AlwaysAdmit",
    "NamespaceAutoProvision",
    "NamespaceLifecycle",
    "NamespaceExists",
    "AlwaysPullImages",
    "ImagePolicyWebhook",
    "PodSecurity",
    "PodNodeSelector",
    "Priority",
    "DefaultTolerationSeconds",
    "PodTolerationRestriction",
    "EventRateLimit",
    "ExtendedResourceToleration",
    "DefaultStorageClass",
    "StorageObjectInUseProtection",
    "OwnerReferencesPermissionEnforcement",
    "PersistentVolumeClaimResize",
    "RuntimeClass",
    "CertificateApproval",
    "CertificateSigning",
    "ClusterTrustBundleAttest",
    "CertificateSubjectRestriction",
    "DefaultIngressClass",
    "DenyServiceExternalIPs",
    "PodTopologyLabels",
    "LimitRanger",
    "ServiceAccount",
    "NodeRestriction",
    "TaintNodesByCondition",
    "AlwaysDeny",
    "MutatingAdmissionPolicy",
    "MutatingAdmissionWebhook",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionWebhook",
    "ResourceQuota",
    "LimitPodHardAntiAffinityTopology",
];

/// The plugins that run unless disabled (upstream's default-on set).
pub const DEFAULT_ON_PLUGINS: &[&str] = &[
    "NamespaceLifecycle",
    "LimitRanger",
    "ServiceAccount",
    "TaintNodesByCondition",
    "PodSecurity",
    "Priority",
    "DefaultTolerationSeconds",
    "DefaultStorageClass",
    "StorageObjectInUseProtection",
    "PersistentVolumeClaimResize",
    "RuntimeClass",
    "CertificateApproval",
    "CertificateSigning",
    "ClusterTrustBundleAttest",
    "CertificateSubjectRestriction",
    "DefaultIngressClass",
    "MutatingAdmissionWebhook",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionWebhook",
    "ResourceQuota",
];

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Admission flags")]
pub struct AdmissionOptions {
    /// admission plugins that should be enabled in addition to default enabled ones (NamespaceLifecycle, LimitRanger, ServiceAccount, TaintNodesByCondition, PodSecurity, Priority, DefaultTolerationSeconds, DefaultStorageClass, StorageObjectInUseProtection, PersistentVolumeClaimResize, RuntimeClass, CertificateApproval, CertificateSigning, ClusterTrustBundleAttest, CertificateSubjectRestriction, DefaultIngressClass, MutatingAdmissionWebhook, ValidatingAdmissionPolicy, ValidatingAdmissionWebhook, ResourceQuota). Comma-delimited list of admission plugins. The order of plugins in this flag does not matter. [parsed and validated only: admission arrives with the REST API]
    #[arg(long, value_name = "strings", value_delimiter = ',')]
    pub enable_admission_plugins: Vec<String>,

    /// admission plugins that should be disabled although they are in the default enabled plugins list. Comma-delimited list of admission plugins. The order of plugins in this flag does not matter. [parsed and validated only]
    #[arg(long, value_name = "strings", value_delimiter = ',')]
    pub disable_admission_plugins: Vec<String>,

    /// File with admission control configuration. [parsed only]
    #[arg(long, value_name = "string")]
    pub admission_control_config_file: Option<PathBuf>,

    /// Admission is divided into two phases. (DEPRECATED: Use --enable-admission-plugins or --disable-admission-plugins instead. Will be removed in a future version.)
    #[arg(long, value_name = "strings", value_delimiter = ',', hide = true)]
    pub admission_control: Vec<String>,
}

impl AdmissionOptions {
    pub fn validate(&self) -> Vec<String> {
        let mut errors = Vec::new();
        if !self.admission_control.is_empty()
            && (!self.enable_admission_plugins.is_empty()
                || !self.disable_admission_plugins.is_empty())
        {
            errors.push("admission-control and enable-admission-plugins/disable-admission-plugins flags are mutually exclusive".to_string());
        }
        for (flag, plugins) in [
            ("enable-admission-plugins", &self.enable_admission_plugins),
            ("disable-admission-plugins", &self.disable_admission_plugins),
            ("admission-control", &self.admission_control),
        ] {
            for plugin in plugins {
                if !ALL_ORDERED_PLUGINS.contains(&plugin.as_str()) {
                    errors.push(format!("{flag} plugin {plugin:?} is unknown"));
                }
            }
        }
        let overlap: Vec<&str> = self
            .enable_admission_plugins
            .iter()
            .filter(|p| self.disable_admission_plugins.contains(p))
            .map(String::as_str)
            .collect();
        if !overlap.is_empty() {
            errors.push(format!(
                "[{}] in enable-admission-plugins and disable-admission-plugins overlapped",
                overlap.join(" ")
            ));
        }
        errors
    }

    /// The plugins that would run, in upstream order.
    pub fn enabled_plugins(&self) -> Vec<&'static str> {
        ALL_ORDERED_PLUGINS
            .iter()
            .copied()
            .filter(|p| {
                let named = |list: &[String]| list.iter().any(|n| n == p);
                if !self.admission_control.is_empty() {
                    return named(&self.admission_control);
                }
                (DEFAULT_ON_PLUGINS.contains(p) || named(&self.enable_admission_plugins))
                    && !named(&self.disable_admission_plugins)
            })
            .collect()
    }
}
