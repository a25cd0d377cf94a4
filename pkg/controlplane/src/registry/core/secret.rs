//! Secrets (`pkg/registry/core/secret`): `type` defaults to `Opaque` and
//! never changes, `stringData` is merged into `data` (as the v1 conversion
//! does), keys are config keys, data at most 1 MiB, each built-in type has
//! its required keys, and an `immutable` secret keeps its data.

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;

use apimachinery::api::{name_is_dns_subdomain, validate_object_meta, validate_object_meta_update};
use apimachinery::validation::field::{Error, ErrorList, Path};
use apimachinery::validation::is_config_map_key;
use apiserver::registry::strategy::{ResourceNames, Strategy};

use super::MAX_SECRET_SIZE;
use super::configmap::IMMUTABLE_WHEN_SET;
use super::pod::validation::validate_immutable;

/// `secrets`, `v1`.
pub static SECRET_INFO: ResourceNames = ResourceNames {
    group: "",
    version: "v1",
    kind: "Secret",
    plural: "secrets",
    singular: "secret",
    namespaced: true,
    short_names: &[],
    categories: &[],
};

pub const SECRET_TYPE_OPAQUE: &str = "Opaque";
const SERVICE_ACCOUNT_NAME_KEY: &str = "kubernetes.io/service-account.name";

#[derive(Debug, Clone, Copy, Default)]
pub struct SecretStrategy;

/// `SetDefaults_Secret` and the v1 conversion of `stringData`, whose
/// entries overwrite `data` and are never stored.
pub fn default_secret(secret: &mut Secret) {
    if secret.type_.as_deref().unwrap_or("").is_empty() {
        secret.type_ = Some(SECRET_TYPE_OPAQUE.to_string());
    }
    if let Some(string_data) = secret.string_data.take() {
        let data = secret.data.get_or_insert_with(Default::default);
        for (key, value) in string_data {
            data.insert(key, ByteString(value.into_bytes()));
        }
    }
}

/// `ValidateSecret`.
pub fn validate_secret(secret: &Secret) -> ErrorList {
    let mut errors = validate_object_meta(
        &secret.metadata,
        true,
        name_is_dns_subdomain,
        &Path::new("metadata"),
    );
    let data_path = Path::new("data");
    let data = secret.data.clone().unwrap_or_default();
    let mut total = 0;
    for (key, value) in &data {
        for msg in is_config_map_key(key) {
            errors.push(Error::invalid(&data_path.key(key), key.as_str(), msg));
        }
        total += value.0.len();
    }
    if total > MAX_SECRET_SIZE {
        errors.push(Error::too_long(&data_path, MAX_SECRET_SIZE));
    }
    let require = |errors: &mut ErrorList, key: &str| {
        if !data.contains_key(key) {
            errors.push(Error::required(&data_path.key(key), ""));
        }
    };
    let json_key = |errors: &mut ErrorList, key: &str| match data.get(key) {
        None => errors.push(Error::required(&data_path.key(key), "")),
        Some(bytes) => {
            if let Err(err) =
                serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&bytes.0)
            {
                errors.push(Error::invalid(
                    &data_path.key(key),
                    "<secret contents redacted>",
                    err.to_string(),
                ));
            }
        }
    };
    match secret.type_.as_deref().unwrap_or("") {
        "kubernetes.io/service-account-token" => {
            let name = secret
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(SERVICE_ACCOUNT_NAME_KEY))
                .map(String::as_str)
                .unwrap_or("");
            if name.is_empty() {
                errors.push(Error::required(
                    &Path::new("metadata")
                        .child("annotations")
                        .key(SERVICE_ACCOUNT_NAME_KEY),
                    "",
                ));
            }
        }
        "kubernetes.io/dockercfg" => json_key(&mut errors, ".dockercfg"),
        "kubernetes.io/dockerconfigjson" => json_key(&mut errors, ".dockerconfigjson"),
        "kubernetes.io/basic-auth"
            if !data.contains_key("username") && !data.contains_key("password") =>
        {
            require(&mut errors, "username");
            require(&mut errors, "password");
        }
        "kubernetes.io/ssh-auth" if data.get("ssh-privatekey").is_none_or(|v| v.0.is_empty()) => {
            errors.push(Error::required(&data_path.key("ssh-privatekey"), ""));
        }
        "kubernetes.io/tls" => {
            require(&mut errors, "tls.crt");
            require(&mut errors, "tls.key");
        }
        _ => {}
    }
    errors
}

/// `ValidateSecretUpdate`.
pub fn validate_secret_update(new: &Secret, old: &Secret) -> ErrorList {
    let mut errors =
        validate_object_meta_update(&new.metadata, &old.metadata, &Path::new("metadata"));
    errors.extend(validate_immutable(
        &new.type_.clone().unwrap_or_default(),
        &old.type_.clone().unwrap_or_default(),
        &Path::new("type"),
    ));
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
    }
    errors.extend(validate_secret(new));
    errors
}

impl Strategy for SecretStrategy {
    type Object = Secret;

    fn table_columns(&self) -> &'static [apiserver::registry::table::ColumnDefinition] {
        crate::printers::config::secret_columns()
    }

    fn table_row(
        &self,
        obj: &Self::Object,
        now: k8s_openapi::chrono::DateTime<k8s_openapi::chrono::Utc>,
    ) -> Vec<serde_json::Value> {
        crate::printers::config::secret_row(obj, now)
    }

    fn names(&self) -> &ResourceNames {
        &SECRET_INFO
    }

    fn prepare_for_create(&self, secret: &mut Secret) {
        default_secret(secret);
    }

    fn prepare_for_update(&self, new: &mut Secret, _old: &Secret) {
        default_secret(new);
    }

    fn validate(&self, secret: &Secret) -> ErrorList {
        validate_secret(secret)
    }

    fn validate_update(&self, new: &Secret, old: &Secret) -> ErrorList {
        validate_secret_update(new, old)
    }

    fn selectable_fields(&self, secret: &Secret) -> Vec<(&'static str, String)> {
        vec![("type", secret.type_.clone().unwrap_or_default())]
    }

    fn selectable_field_names(&self) -> &'static [&'static str] {
        &["type"]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn secret(type_: Option<&str>, data: &[(&str, &str)]) -> Secret {
        Secret {
            metadata: ObjectMeta {
                name: Some("creds".into()),
                namespace: Some("default".into()),
                resource_version: Some("1".into()),
                ..Default::default()
            },
            type_: type_.map(str::to_string),
            data: Some(
                data.iter()
                    .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
                    .collect(),
            ),
            ..Default::default()
        }
    }

    fn messages(errors: &ErrorList) -> Vec<String> {
        errors.iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn type_defaults_to_opaque_and_string_data_merges() {
        let mut s = secret(None, &[("a", "1"), ("b", "2")]);
        s.string_data = Some(BTreeMap::from([("b".to_string(), "two".to_string())]));
        SecretStrategy.prepare_for_create(&mut s);
        assert_eq!(s.type_.as_deref(), Some("Opaque"));
        assert_eq!(s.string_data, None);
        let data = s.data.clone().unwrap_or_default();
        assert_eq!(data.get("b"), Some(&ByteString(b"two".to_vec())));
        assert_eq!(data.get("a"), Some(&ByteString(b"1".to_vec())));
        assert_eq!(
            SecretStrategy.selectable_fields(&s),
            vec![("type", "Opaque".to_string())]
        );
    }

    #[test]
    fn keys_size_and_typed_requirements() {
        assert!(
            SecretStrategy
                .validate(&secret(Some("Opaque"), &[("k", "v")]))
                .is_empty()
        );
        assert_eq!(
            messages(&SecretStrategy.validate(&secret(Some("Opaque"), &[("a/b", "v")]))),
            vec![
                "data[a/b]: Invalid value: \"a/b\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"
            ]
        );
        assert_eq!(
            messages(
                &SecretStrategy.validate(&secret(Some("kubernetes.io/tls"), &[("tls.crt", "x")]))
            ),
            vec!["data[tls.key]: Required value"]
        );
        assert_eq!(
            messages(&SecretStrategy.validate(&secret(Some("kubernetes.io/basic-auth"), &[]))),
            vec![
                "data[username]: Required value",
                "data[password]: Required value"
            ]
        );
        assert_eq!(
            messages(
                &SecretStrategy.validate(&secret(Some("kubernetes.io/service-account-token"), &[]))
            ),
            vec!["metadata.annotations[kubernetes.io/service-account.name]: Required value"]
        );
        let bad_json = secret(
            Some("kubernetes.io/dockerconfigjson"),
            &[(".dockerconfigjson", "{")],
        );
        let errors = SecretStrategy.validate(&bad_json);
        assert_eq!(errors.len(), 1);
        assert!(errors[0].to_string().starts_with(
            "data[.dockerconfigjson]: Invalid value: \"<secret contents redacted>\": "
        ));
        let big = "x".repeat(MAX_SECRET_SIZE + 1);
        assert_eq!(
            messages(&SecretStrategy.validate(&secret(Some("Opaque"), &[("big", &big)]))),
            vec!["data: Too long: may not be more than 1048576 bytes"]
        );
    }

    #[test]
    fn type_is_immutable_and_immutable_keeps_data() {
        let old = secret(Some("Opaque"), &[("k", "v")]);
        let new = secret(Some("kubernetes.io/ssh-auth"), &[("ssh-privatekey", "x")]);
        assert_eq!(
            messages(&SecretStrategy.validate_update(&new, &old)),
            vec!["type: Invalid value: \"kubernetes.io/ssh-auth\": field is immutable"]
        );
        let mut frozen = old.clone();
        frozen.immutable = Some(true);
        let mut changed = frozen.clone();
        changed.data = Some(BTreeMap::new());
        assert_eq!(
            messages(&SecretStrategy.validate_update(&changed, &frozen)),
            vec!["data: Forbidden: field is immutable when `immutable` is set"]
        );
    }
}
