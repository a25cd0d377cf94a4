//! Authorization options (`kubeoptions.BuiltInAuthorizationOptions`): the
//! ordered authorizer chain. Node, RBAC, AlwaysAllow and AlwaysDeny are
//! served; ABAC and Webhook are parsed and validated, and refused at start.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use clap::Args;

use crate::flag::Duration;

/// One `--authorization-mode` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthorizationMode {
    AlwaysAllow,
    AlwaysDeny,
    Abac,
    Webhook,
    Rbac,
    Node,
}

impl AuthorizationMode {
    pub const ALL: [AuthorizationMode; 6] = [
        Self::AlwaysAllow,
        Self::AlwaysDeny,
        Self::Abac,
        Self::Webhook,
        Self::Rbac,
        Self::Node,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::AlwaysAllow => "AlwaysAllow",
            Self::AlwaysDeny => "AlwaysDeny",
            Self::Abac => "ABAC",
            Self::Webhook => "Webhook",
            Self::Rbac => "RBAC",
            Self::Node => "Node",
        }
    }
}

impl fmt::Display for AuthorizationMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AuthorizationMode {
    type Err = String;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|mode| mode.as_str() == input)
            .ok_or_else(|| format!("authorization-mode {input:?} is not a valid mode"))
    }
}

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Authorization flags")]
pub struct AuthorizationOptions {
    /// Ordered list of plug-ins to do authorization on secure port. Defaults to AlwaysAllow if --authorization-config is not used. Comma-delimited list of: AlwaysAllow,AlwaysDeny,ABAC,Webhook,RBAC,Node. [Node, RBAC, AlwaysAllow and AlwaysDeny are implemented; ABAC and Webhook are validated and refused at start]
    #[arg(
        long = "authorization-mode",
        value_name = "strings",
        value_delimiter = ','
    )]
    pub modes: Vec<String>,

    /// File with authorization policy in json line by line format, used with --authorization-mode=ABAC, on the secure port.
    #[arg(long, value_name = "string")]
    pub authorization_policy_file: Option<PathBuf>,

    /// File with webhook configuration in kubeconfig format, used with --authorization-mode=Webhook.
    #[arg(long, value_name = "string")]
    pub authorization_webhook_config_file: Option<PathBuf>,

    /// The duration to cache 'authorized' responses from the webhook authorizer.
    #[arg(long, value_name = "duration", default_value = "5m0s")]
    pub authorization_webhook_cache_authorized_ttl: Duration,

    /// The duration to cache 'unauthorized' responses from the webhook authorizer.
    #[arg(long, value_name = "duration", default_value = "30s")]
    pub authorization_webhook_cache_unauthorized_ttl: Duration,

    /// The API version of the authorization.k8s.io SubjectAccessReview to send to and expect from the webhook.
    #[arg(long, value_name = "string", default_value = "v1beta1")]
    pub authorization_webhook_version: String,

    /// File with Authorization Configuration to configure the authorizer chain. Requires feature flag StructuredAuthorizationConfiguration. This flag is mutually exclusive with the other --authorization-mode and --authorization-webhook-* flags. [parsed only: not implemented yet]
    #[arg(long, value_name = "string")]
    pub authorization_config: Option<PathBuf>,
}

impl AuthorizationOptions {
    /// The configured modes, defaulting to AlwaysAllow; unknown names are
    /// left out (validate reports them).
    pub fn parsed_modes(&self) -> Vec<AuthorizationMode> {
        if self.modes.is_empty() && self.authorization_config.is_none() {
            return vec![AuthorizationMode::AlwaysAllow];
        }
        self.modes.iter().filter_map(|m| m.parse().ok()).collect()
    }

    pub fn validate(&self) -> Vec<String> {
        let mut errors = Vec::new();
        if self.authorization_config.is_some() {
            if !self.modes.is_empty() {
                errors.push("--authorization-config can not be specified when --authorization-mode is specified".to_string());
            }
            return errors;
        }
        let modes = self.parsed_modes();
        if modes.is_empty() && self.modes.is_empty() {
            errors.push("at least one authorization-mode must be passed".to_string());
        }
        let mut seen = Vec::new();
        for mode in &self.modes {
            if let Err(err) = mode.parse::<AuthorizationMode>() {
                errors.push(err);
            }
            if seen.contains(&mode) {
                errors.push(format!(
                    "authorization-mode {mode:?} has mode specified more than once"
                ));
            }
            seen.push(mode);
        }
        let has = |mode| modes.contains(&mode);
        if has(AuthorizationMode::Abac) && self.authorization_policy_file.is_none() {
            errors
                .push("authorization-mode ABAC's authorization policy file not passed".to_string());
        }
        if !has(AuthorizationMode::Abac) && self.authorization_policy_file.is_some() {
            errors.push("cannot specify --authorization-policy-file without mode ABAC".to_string());
        }
        if has(AuthorizationMode::Webhook) && self.authorization_webhook_config_file.is_none() {
            errors.push(
                "authorization-mode Webhook's authorization config file not passed".to_string(),
            );
        }
        if !has(AuthorizationMode::Webhook) && self.authorization_webhook_config_file.is_some() {
            errors.push(
                "cannot specify --authorization-webhook-config-file without mode Webhook"
                    .to_string(),
            );
        }
        if !["v1", "v1beta1"].contains(&self.authorization_webhook_version.as_str()) {
            errors.push(format!(
                "invalid authorization webhook version: {:?}. Valid versions are [v1 v1beta1]",
                self.authorization_webhook_version
            ));
        }
        errors
    }
}
