//! API enablement options (`options.APIEnablementOptions`): `--runtime-config`
//! switches group-versions on and off. Parsed and validated; resources arrive
//! with the REST API.

use clap::Args;

use crate::flag::{KeyValue, parse_bool};

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Api enablement flags")]
pub struct ApiEnablementOptions {
    /// A set of key=value pairs that enable or disable built-in APIs. Supported options are: v1=true|false for the core API group; <group>/<version>=true|false for a specific API group and version (e.g. apps/v1=true); api/all=true|false controls all API versions; api/ga=true|false controls all API versions of the form v[0-9]+; api/beta=true|false controls all API versions of the form v[0-9]+beta[0-9]+; api/alpha=true|false controls all API versions of the form v[0-9]+alpha[0-9]+; api/legacy is deprecated, and will be removed in a future version [parsed and validated only]
    #[arg(long, value_name = "mapStringString", value_delimiter = ',')]
    pub runtime_config: Vec<KeyValue>,
}

impl ApiEnablementOptions {
    pub fn validate(&self) -> Vec<String> {
        let mut errors = Vec::new();
        for entry in &self.runtime_config {
            let key = entry.key.as_str();
            let well_formed = match key.split('/').collect::<Vec<_>>().as_slice() {
                [version] => !version.is_empty(),
                [group, version] => !group.is_empty() && !version.is_empty(),
                [group, version, resource] => {
                    !group.is_empty() && !version.is_empty() && !resource.is_empty()
                }
                _ => false,
            };
            if !well_formed {
                errors.push(format!(
                    "invalid key {key:?} in --runtime-config: expected group/version"
                ));
            }
            let value = if entry.value.is_empty() {
                "true"
            } else {
                entry.value.as_str()
            };
            if let Err(err) = parse_bool(value) {
                errors.push(format!("invalid value of {key}: {value}, err: {err}"));
            }
        }
        errors
    }
}
