//! Config maps (`pkg/registry/core/configmap`): keys are config keys, data
//! at most 1 MiB, and an `immutable` map keeps its data and stays immutable.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;

use apimachinery::api::{name_is_dns_subdomain, validate_object_meta, validate_object_meta_update};
use apimachinery::validation::field::{Error, ErrorList, Path};
use apimachinery::validation::is_config_map_key;
use apiserver::registry::strategy::{ResourceNames, Strategy};

use super::MAX_SECRET_SIZE;

/// `configmaps`, `v1`.
pub static CONFIG_MAP_INFO: ResourceNames = ResourceNames {
    group: "",
    version: "v1",
    kind: "ConfigMap",
    plural: "configmaps",
    singular: "configmap",
    namespaced: true,
    short_names: &["cm"],
    categories: &[],
};

/// Upstream's message for a change to an immutable config map or secret.
pub const IMMUTABLE_WHEN_SET: &str = "field is immutable when `immutable` is set";

#[derive(Debug, Clone, Copy, Default)]
pub struct ConfigMapStrategy;

/// `ValidateConfigMap`.
pub fn validate_config_map(config_map: &ConfigMap) -> ErrorList {
    let mut errors = validate_object_meta(
        &config_map.metadata,
        true,
        name_is_dns_subdomain,
        &Path::new("metadata"),
    );
    let data = config_map.data.clone().unwrap_or_default();
    let binary = config_map.binary_data.clone().unwrap_or_default();
    let mut total = 0;
    for (key, value) in &data {
        let path = Path::new("data").key(key);
        for msg in is_config_map_key(key) {
            errors.push(Error::invalid(&path, key.as_str(), msg));
        }
        if binary.contains_key(key) {
            errors.push(Error::invalid(
                &path,
                key.as_str(),
                "duplicate of key present in binaryData",
            ));
        }
        total += value.len();
    }
    for (key, value) in &binary {
        for msg in is_config_map_key(key) {
            errors.push(Error::invalid(
                &Path::new("binaryData").key(key),
                key.as_str(),
                msg,
            ));
        }
        total += value.0.len();
    }
    if total > MAX_SECRET_SIZE {
        errors.push(Error::too_long(&Path::new(""), MAX_SECRET_SIZE));
    }
    errors
}

/// `ValidateConfigMapUpdate`.
pub fn validate_config_map_update(new: &ConfigMap, old: &ConfigMap) -> ErrorList {
    let mut errors =
        validate_object_meta_update(&new.metadata, &old.metadata, &Path::new("metadata"));
    if old.immutable == Some(true) {
        if new.immutable != Some(true) {
            errors.push(Error::forbidden(
                &Path::new("immutable"),
                IMMUTABLE_WHEN_SET,
            ));
        }
        if new.data != old.data {
            errors.push(Error::forbidden(&Path::new("data"), IMMUTABLE_WHEN_SET));
        }
        if new.binary_data != old.binary_data {
            errors.push(Error::forbidden(
                &Path::new("binaryData"),
                IMMUTABLE_WHEN_SET,
            ));
        }
    }
    errors.extend(validate_config_map(new));
    errors
}

impl Strategy for ConfigMapStrategy {
    type Object = ConfigMap;

    fn table_columns(&self) -> &'static [apiserver::registry::table::ColumnDefinition] {
        crate::printers::config::configmap_columns()
    }

    fn table_row(
        &self,
        obj: &Self::Object,
        now: k8s_openapi::chrono::DateTime<k8s_openapi::chrono::Utc>,
    ) -> Vec<serde_json::Value> {
        crate::printers::config::configmap_row(obj, now)
    }

    fn names(&self) -> &ResourceNames {
        &CONFIG_MAP_INFO
    }

    /// `SetDefaults_ConfigMap`: `data` is never null.
    fn prepare_for_create(&self, config_map: &mut ConfigMap) {
        config_map.data.get_or_insert_with(BTreeMap::new);
    }

    fn prepare_for_update(&self, new: &mut ConfigMap, _old: &ConfigMap) {
        new.data.get_or_insert_with(BTreeMap::new);
    }

    fn validate(&self, config_map: &ConfigMap) -> ErrorList {
        validate_config_map(config_map)
    }

    fn validate_update(&self, new: &ConfigMap, old: &ConfigMap) -> ErrorList {
        validate_config_map_update(new, old)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::ByteString;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn config_map(data: &[(&str, &str)]) -> ConfigMap {
        ConfigMap {
            metadata: ObjectMeta {
                name: Some("settings".into()),
                namespace: Some("default".into()),
                ..Default::default()
            },
            data: Some(
                data.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            ..Default::default()
        }
    }

    fn messages(errors: &ErrorList) -> Vec<String> {
        errors.iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn info_matches_discovery() {
        let info = apiserver::registry::ResourceInfo::of(&ConfigMapStrategy);
        assert_eq!((info.plural, info.short_names), ("configmaps", &["cm"][..]));
        assert!(info.namespaced && !info.has_status);
    }

    #[test]
    fn data_defaults_to_empty() {
        let mut cm = config_map(&[]);
        cm.data = None;
        ConfigMapStrategy.prepare_for_create(&mut cm);
        assert_eq!(cm.data, Some(BTreeMap::new()));
    }

    #[test]
    fn keys_must_be_config_keys() {
        assert!(
            ConfigMapStrategy
                .validate(&config_map(&[("app.conf", "x")]))
                .is_empty()
        );
        let errors = ConfigMapStrategy.validate(&config_map(&[("a b", "x"), ("..x", "y")]));
        assert_eq!(
            messages(&errors),
            vec![
                "data[..x]: Invalid value: \"..x\": must not start with '..'".to_string(),
                "data[a b]: Invalid value: \"a b\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')".to_string(),
            ]
        );
    }

    #[test]
    fn duplicate_key_in_binary_data() {
        let mut cm = config_map(&[("k", "v")]);
        cm.binary_data = Some(BTreeMap::from([("k".to_string(), ByteString(vec![1]))]));
        assert_eq!(
            messages(&ConfigMapStrategy.validate(&cm)),
            vec!["data[k]: Invalid value: \"k\": duplicate of key present in binaryData"]
        );
    }

    #[test]
    fn at_most_one_mebibyte() {
        let big = "x".repeat(MAX_SECRET_SIZE + 1);
        let errors = ConfigMapStrategy.validate(&config_map(&[("big", &big)]));
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "");
        assert_eq!(errors[0].detail, "may not be more than 1048576 bytes");
    }

    #[test]
    fn immutable_keeps_data_and_flag() {
        let mut old = config_map(&[("k", "v")]);
        old.metadata.resource_version = Some("1".into());
        old.immutable = Some(true);
        let mut new = config_map(&[("k", "changed")]);
        new.metadata.resource_version = Some("1".into());
        let errors = ConfigMapStrategy.validate_update(&new, &old);
        assert_eq!(
            messages(&errors),
            vec![
                "immutable: Forbidden: field is immutable when `immutable` is set",
                "data: Forbidden: field is immutable when `immutable` is set",
            ]
        );
        let mut same = old.clone();
        same.metadata.labels = Some(BTreeMap::from([("a".to_string(), "b".to_string())]));
        assert!(ConfigMapStrategy.validate_update(&same, &old).is_empty());
    }
}
