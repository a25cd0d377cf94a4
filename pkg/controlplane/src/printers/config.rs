//! The config map, secret and service account Tables: how many keys, the
//! secret type, how many secrets a service account lists.

use std::sync::LazyLock;

use apiserver::registry::table::{ColumnDefinition, field_description};
use k8s_openapi::api::core::v1::{ConfigMap, Secret, ServiceAccount};
use k8s_openapi::chrono::{DateTime, Utc};
use serde_json::Value;

use super::{age_cell, name_cell};

/// The config map columns.
pub fn configmap_columns() -> &'static [ColumnDefinition] {
    static COLUMNS: LazyLock<Vec<ColumnDefinition>> = LazyLock::new(|| {
        vec![
            ColumnDefinition::name(),
            ColumnDefinition::new("Data", "string", field_description::<ConfigMap>("data")),
            ColumnDefinition::age(),
        ]
    });
    &COLUMNS
}

/// Name, the number of `data` and `binaryData` keys, age.
pub fn configmap_row(configmap: &ConfigMap, now: DateTime<Utc>) -> Vec<Value> {
    let keys = configmap.data.as_ref().map_or(0, |d| d.len())
        + configmap.binary_data.as_ref().map_or(0, |d| d.len());
    vec![
        name_cell(&configmap.metadata),
        Value::from(keys),
        age_cell(&configmap.metadata, now),
    ]
}

/// The secret columns.
pub fn secret_columns() -> &'static [ColumnDefinition] {
    static COLUMNS: LazyLock<Vec<ColumnDefinition>> = LazyLock::new(|| {
        vec![
            ColumnDefinition::name(),
            ColumnDefinition::new("Type", "string", field_description::<Secret>("type")),
            ColumnDefinition::new("Data", "string", field_description::<Secret>("data")),
            ColumnDefinition::age(),
        ]
    });
    &COLUMNS
}

/// Name, type, the number of `data` keys, age.
pub fn secret_row(secret: &Secret, now: DateTime<Utc>) -> Vec<Value> {
    vec![
        name_cell(&secret.metadata),
        Value::from(secret.type_.clone().unwrap_or_default()),
        Value::from(secret.data.as_ref().map_or(0, |d| d.len())),
        age_cell(&secret.metadata, now),
    ]
}

/// The service account columns.
pub fn service_account_columns() -> &'static [ColumnDefinition] {
    static COLUMNS: LazyLock<Vec<ColumnDefinition>> = LazyLock::new(|| {
        vec![
            ColumnDefinition::name(),
            ColumnDefinition::new(
                "Secrets",
                "string",
                field_description::<ServiceAccount>("secrets"),
            ),
            ColumnDefinition::age(),
        ]
    });
    &COLUMNS
}

/// Name, the number of listed secrets, age.
pub fn service_account_row(account: &ServiceAccount, now: DateTime<Utc>) -> Vec<Value> {
    vec![
        name_cell(&account.metadata),
        Value::from(account.secrets.as_ref().map_or(0, |s| s.len())),
        age_cell(&account.metadata, now),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::ByteString;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
    use std::collections::BTreeMap;

    fn meta() -> ObjectMeta {
        ObjectMeta {
            name: Some("x".into()),
            creation_timestamp: Some(Time(DateTime::from_timestamp(0, 0).unwrap())),
            ..Default::default()
        }
    }

    #[test]
    fn rows_count_keys() {
        let now = DateTime::from_timestamp(90, 0).unwrap();
        let configmap = ConfigMap {
            metadata: meta(),
            data: Some(BTreeMap::from([("a".to_string(), "1".to_string())])),
            binary_data: Some(BTreeMap::from([("b".to_string(), ByteString(vec![1]))])),
            ..Default::default()
        };
        assert_eq!(
            configmap_row(&configmap, now),
            vec![Value::from("x"), Value::from(2), Value::from("90s")]
        );
        let secret = Secret {
            metadata: meta(),
            type_: Some("Opaque".into()),
            ..Default::default()
        };
        assert_eq!(
            secret_row(&secret, now),
            vec![
                Value::from("x"),
                Value::from("Opaque"),
                Value::from(0),
                Value::from("90s")
            ]
        );
        let account = ServiceAccount {
            metadata: meta(),
            ..Default::default()
        };
        assert_eq!(service_account_row(&account, now)[1], 0);
        let names: Vec<&str> = secret_columns().iter().map(|c| &*c.name).collect();
        assert_eq!(names, ["Name", "Type", "Data", "Age"]);
        let names: Vec<&str> = configmap_columns().iter().map(|c| &*c.name).collect();
        assert_eq!(names, ["Name", "Data", "Age"]);
        let names: Vec<&str> = service_account_columns().iter().map(|c| &*c.name).collect();
        assert_eq!(names, ["Name", "Secrets", "Age"]);
    }
}
