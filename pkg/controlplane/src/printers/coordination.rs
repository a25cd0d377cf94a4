//! The lease Table: who holds it.

use std::sync::LazyLock;

use apiserver::registry::table::{ColumnDefinition, field_description};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::chrono::{DateTime, Utc};
use serde_json::Value;

use super::{age_cell, name_cell};

/// The lease columns.
pub fn lease_columns() -> &'static [ColumnDefinition] {
    static COLUMNS: LazyLock<Vec<ColumnDefinition>> = LazyLock::new(|| {
        vec![
            ColumnDefinition::name(),
            ColumnDefinition::new(
                "Holder",
                "string",
                field_description::<LeaseSpec>("holderIdentity"),
            ),
            ColumnDefinition::age(),
        ]
    });
    &COLUMNS
}

/// Name, holder identity (empty when none), age.
pub fn lease_row(lease: &Lease, now: DateTime<Utc>) -> Vec<Value> {
    let holder = lease
        .spec
        .as_ref()
        .and_then(|spec| spec.holder_identity.clone())
        .unwrap_or_default();
    vec![
        name_cell(&lease.metadata),
        Value::from(holder),
        age_cell(&lease.metadata, now),
    ]
}
