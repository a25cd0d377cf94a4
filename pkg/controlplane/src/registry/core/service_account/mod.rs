//! Service accounts (`pkg/registry/core/serviceaccount`): DNS-subdomain
//! names, and secret references trimmed to their names on create; and
//! their `token` subresource ([`token`]).

pub mod token;

use k8s_openapi::api::core::v1::{ObjectReference, ServiceAccount};

use apimachinery::api::{name_is_dns_subdomain, validate_object_meta, validate_object_meta_update};
use apimachinery::validation::field::{ErrorList, Path};
use apiserver::registry::strategy::{ResourceNames, Strategy};

/// `serviceaccounts`, `v1`.
pub static SERVICE_ACCOUNT_INFO: ResourceNames = ResourceNames {
    group: "",
    version: "v1",
    kind: "ServiceAccount",
    plural: "serviceaccounts",
    singular: "serviceaccount",
    namespaced: true,
    short_names: &["sa"],
    categories: &[],
};

#[derive(Debug, Clone, Copy, Default)]
pub struct ServiceAccountStrategy;

/// `ValidateServiceAccount`.
pub fn validate_service_account(account: &ServiceAccount) -> ErrorList {
    validate_object_meta(
        &account.metadata,
        true,
        name_is_dns_subdomain,
        &Path::new("metadata"),
    )
}

impl Strategy for ServiceAccountStrategy {
    type Object = ServiceAccount;

    fn table_columns(&self) -> &'static [apiserver::registry::table::ColumnDefinition] {
        crate::printers::config::service_account_columns()
    }

    fn table_row(
        &self,
        obj: &Self::Object,
        now: k8s_openapi::chrono::DateTime<k8s_openapi::chrono::Utc>,
    ) -> Vec<serde_json::Value> {
        crate::printers::config::service_account_row(obj, now)
    }

    fn names(&self) -> &ResourceNames {
        &SERVICE_ACCOUNT_INFO
    }

    /// `cleanSecretReferences`: only the name of each secret is kept.
    fn prepare_for_create(&self, account: &mut ServiceAccount) {
        for secret in account.secrets.iter_mut().flatten() {
            *secret = ObjectReference {
                name: secret.name.take(),
                ..Default::default()
            };
        }
    }

    fn validate(&self, account: &ServiceAccount) -> ErrorList {
        validate_service_account(account)
    }

    fn validate_update(&self, new: &ServiceAccount, old: &ServiceAccount) -> ErrorList {
        let mut errors =
            validate_object_meta_update(&new.metadata, &old.metadata, &Path::new("metadata"));
        errors.extend(validate_service_account(new));
        errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn account(name: &str) -> ServiceAccount {
        ServiceAccount {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("default".into()),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn info_and_names() {
        assert_eq!(
            apiserver::registry::ResourceInfo::of(&ServiceAccountStrategy).short_names,
            &["sa"]
        );
        assert!(
            ServiceAccountStrategy
                .validate(&account("build.bot"))
                .is_empty()
        );
        let errors = ServiceAccountStrategy.validate(&account("Build"));
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "metadata.name");
    }

    #[test]
    fn secret_references_keep_only_names() {
        let mut sa = account("builder");
        sa.secrets = Some(vec![ObjectReference {
            name: Some("token".into()),
            namespace: Some("other".into()),
            kind: Some("Secret".into()),
            ..Default::default()
        }]);
        ServiceAccountStrategy.prepare_for_create(&mut sa);
        assert_eq!(
            sa.secrets,
            Some(vec![ObjectReference {
                name: Some("token".into()),
                ..Default::default()
            }])
        );
    }
}
