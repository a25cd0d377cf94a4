//! The storage Tables: persistent volumes (capacity, modes, reclaim
//! policy, phase, claim) and persistent volume claims (phase, bound volume,
//! its capacity and access modes, class).

use std::sync::LazyLock;

use apiserver::registry::table::{ColumnDefinition, field_description};
use k8s_openapi::api::core::v1::{
    PersistentVolume, PersistentVolumeClaim, PersistentVolumeClaimSpec, PersistentVolumeSpec,
};
use k8s_openapi::chrono::{DateTime, Utc};
use serde_json::Value;

use super::{age_cell, name_cell};

/// `persistentVolumeClaimColumnDefinitions`.
pub fn persistent_volume_claim_columns() -> &'static [ColumnDefinition] {
    static COLUMNS: LazyLock<Vec<ColumnDefinition>> = LazyLock::new(|| {
        vec![
            ColumnDefinition::name(),
            ColumnDefinition::new(
                "Status",
                "string",
                "Phase represents the current phase of PersistentVolumeClaim.",
            ),
            ColumnDefinition::new(
                "Volume",
                "string",
                field_description::<PersistentVolumeClaimSpec>("volumeName"),
            ),
            ColumnDefinition::new(
                "Capacity",
                "string",
                "Capacity is the actual resources of the underlying volume.",
            ),
            ColumnDefinition::new(
                "Access Modes",
                "string",
                "AccessModes contains the actual access modes the volume backing the PVC has.",
            ),
            ColumnDefinition::new("StorageClass", "string", "StorageClass of the pvc"),
            ColumnDefinition::new(
                "VolumeAttributesClass",
                "string",
                "VolumeAttributesClass of the pvc",
            ),
            ColumnDefinition::age(),
            ColumnDefinition::new(
                "VolumeMode",
                "string",
                field_description::<PersistentVolumeClaimSpec>("volumeMode"),
            )
            .wide(),
        ]
    });
    &COLUMNS
}

/// `GetAccessModesAsString`: `RWO,ROX,RWX,RWOP` for the modes present, in
/// that order.
fn access_modes(modes: &[String]) -> String {
    [
        ("ReadWriteOnce", "RWO"),
        ("ReadOnlyMany", "ROX"),
        ("ReadWriteMany", "RWX"),
        ("ReadWriteOncePod", "RWOP"),
    ]
    .iter()
    .filter(|(mode, _)| modes.iter().any(|m| m == mode))
    .map(|(_, short)| *short)
    .collect::<Vec<_>>()
    .join(",")
}

/// `printPersistentVolumeClaim`: a bound claim shows its volume's capacity
/// and access modes; the class from the beta annotation first.
pub fn persistent_volume_claim_row(
    claim: &PersistentVolumeClaim,
    now: DateTime<Utc>,
) -> Vec<Value> {
    let spec = claim.spec.as_ref();
    let status = claim.status.as_ref();
    let phase = if claim.metadata.deletion_timestamp.is_some() {
        "Terminating".to_owned()
    } else {
        status.and_then(|s| s.phase.clone()).unwrap_or_default()
    };
    let volume = spec.and_then(|s| s.volume_name.clone()).unwrap_or_default();
    let (capacity, modes) = if volume.is_empty() {
        (String::new(), String::new())
    } else {
        (
            status
                .and_then(|s| s.capacity.as_ref())
                .and_then(|c| c.get("storage"))
                .map(|q| q.0.clone())
                .unwrap_or_default(),
            access_modes(
                status
                    .and_then(|s| s.access_modes.as_deref())
                    .unwrap_or_default(),
            ),
        )
    };
    let class = claim
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get("volume.beta.kubernetes.io/storage-class").cloned())
        .or_else(|| spec.and_then(|s| s.storage_class_name.clone()))
        .unwrap_or_default();
    let attributes_class = spec
        .and_then(|s| s.volume_attributes_class_name.clone())
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| "<unset>".to_owned());
    let volume_mode = spec
        .and_then(|s| s.volume_mode.clone())
        .unwrap_or_else(|| "<unset>".to_owned());
    vec![
        name_cell(&claim.metadata),
        Value::from(phase),
        Value::from(volume),
        Value::from(capacity),
        Value::from(modes),
        Value::from(class),
        Value::from(attributes_class),
        age_cell(&claim.metadata, now),
        Value::from(volume_mode),
    ]
}

/// `persistentVolumeColumnDefinitions`.
pub fn persistent_volume_columns() -> &'static [ColumnDefinition] {
    static COLUMNS: LazyLock<Vec<ColumnDefinition>> = LazyLock::new(|| {
        vec![
            ColumnDefinition::name(),
            ColumnDefinition::new(
                "Capacity",
                "string",
                field_description::<PersistentVolumeSpec>("capacity"),
            ),
            ColumnDefinition::new(
                "Access Modes",
                "string",
                field_description::<PersistentVolumeSpec>("accessModes"),
            ),
            ColumnDefinition::new(
                "Reclaim Policy",
                "string",
                field_description::<PersistentVolumeSpec>("persistentVolumeReclaimPolicy"),
            ),
            ColumnDefinition::new(
                "Status",
                "string",
                "Phase indicates if a volume is available, bound to a claim, or released by a claim.",
            ),
            ColumnDefinition::new(
                "Claim",
                "string",
                field_description::<PersistentVolumeSpec>("claimRef"),
            ),
            ColumnDefinition::new("StorageClass", "string", "StorageClass of the pv"),
            ColumnDefinition::new(
                "VolumeAttributesClass",
                "string",
                "VolumeAttributesClass of the pv",
            ),
            ColumnDefinition::new(
                "Reason",
                "string",
                "Reason is a brief CamelCase string that describes any failure and is meant for machine parsing and tidy display in the CLI.",
            ),
            ColumnDefinition::age(),
            ColumnDefinition::new(
                "VolumeMode",
                "string",
                field_description::<PersistentVolumeSpec>("volumeMode"),
            )
            .wide(),
        ]
    });
    &COLUMNS
}

/// `printPersistentVolume`: the claim as `namespace/name`, the class from
/// the beta annotation first.
pub fn persistent_volume_row(volume: &PersistentVolume, now: DateTime<Utc>) -> Vec<Value> {
    let spec = volume.spec.as_ref();
    let status = volume.status.as_ref();
    let claim = spec
        .and_then(|s| s.claim_ref.as_ref())
        .map(|claim| {
            format!(
                "{}/{}",
                claim.namespace.as_deref().unwrap_or_default(),
                claim.name.as_deref().unwrap_or_default()
            )
        })
        .unwrap_or_default();
    let phase = if volume.metadata.deletion_timestamp.is_some() {
        "Terminating".to_owned()
    } else {
        status.and_then(|s| s.phase.clone()).unwrap_or_default()
    };
    let class = volume
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get("volume.beta.kubernetes.io/storage-class").cloned())
        .or_else(|| spec.and_then(|s| s.storage_class_name.clone()))
        .unwrap_or_default();
    vec![
        name_cell(&volume.metadata),
        Value::from(
            spec.and_then(|s| s.capacity.as_ref())
                .and_then(|c| c.get("storage"))
                .map_or("0", |q| q.0.as_str()),
        ),
        Value::from(access_modes(
            spec.and_then(|s| s.access_modes.as_deref())
                .unwrap_or_default(),
        )),
        Value::from(
            spec.and_then(|s| s.persistent_volume_reclaim_policy.clone())
                .unwrap_or_default(),
        ),
        Value::from(phase),
        Value::from(claim),
        Value::from(class),
        Value::from(
            spec.and_then(|s| s.volume_attributes_class_name.clone())
                .filter(|c| !c.is_empty())
                .unwrap_or_else(|| "<unset>".to_owned()),
        ),
        Value::from(status.and_then(|s| s.reason.clone()).unwrap_or_default()),
        age_cell(&volume.metadata, now),
        Value::from(
            spec.and_then(|s| s.volume_mode.clone())
                .unwrap_or_else(|| "<unset>".to_owned()),
        ),
    ]
}
