//! Persistent volume claims (`pkg/registry/core/persistentvolumeclaim`):
//! requests for storage. Defaulted as upstream (`Filesystem` volume mode,
//! `Pending` phase) and validated as upstream's core rules: at least one
//! known access mode (`ReadWriteOncePod` alone), a positive storage request,
//! a valid selector, class name and volume mode. After create the spec is
//! fixed but for the volume name (set once, when bound) and, for a bound
//! claim, a storage request that grows or goes back no lower than the
//! capacity. The status changes only through `/status`. No volume
//! controller binds claims in this server: a claim stays `Pending` until a
//! client writes its status.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    PersistentVolumeClaim, PersistentVolumeClaimSpec, PersistentVolumeClaimStatus,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::chrono::{DateTime, Utc};

use apimachinery::api::{
    name_is_dns_subdomain, validate_label_selector, validate_object_meta,
    validate_object_meta_update,
};
use apimachinery::validation::field::{Error, ErrorList, Path};
use apiserver::registry::strategy::{ResourceNames, StatusStrategy, Strategy};
use apiserver::registry::table::ColumnDefinition;

use super::pod::quantity::ParsedQuantity;

/// `persistentvolumeclaims`, `v1`.
pub static PERSISTENT_VOLUME_CLAIM_INFO: ResourceNames = ResourceNames {
    group: "",
    version: "v1",
    kind: "PersistentVolumeClaim",
    plural: "persistentvolumeclaims",
    singular: "persistentvolumeclaim",
    namespaced: true,
    short_names: &["pvc"],
    categories: &[],
};

/// `supportedAccessModes`, sorted as upstream lists them.
const ACCESS_MODES: [&str; 4] = [
    "ReadOnlyMany",
    "ReadWriteMany",
    "ReadWriteOnce",
    "ReadWriteOncePod",
];
const VOLUME_MODES: [&str; 2] = ["Block", "Filesystem"];

#[derive(Debug, Clone, Copy, Default)]
pub struct PersistentVolumeClaimStrategy;

/// `SetDefaults_PersistentVolumeClaim(Spec)`.
pub fn default_persistent_volume_claim(claim: &mut PersistentVolumeClaim) {
    claim
        .spec
        .get_or_insert_with(PersistentVolumeClaimSpec::default)
        .volume_mode
        .get_or_insert_with(|| "Filesystem".into());
    let status = claim
        .status
        .get_or_insert_with(PersistentVolumeClaimStatus::default);
    if status.phase.as_deref().unwrap_or_default().is_empty() {
        status.phase = Some("Pending".into());
    }
}

fn storage_request(spec: &PersistentVolumeClaimSpec) -> Option<&Quantity> {
    spec.resources
        .as_ref()
        .and_then(|r| r.requests.as_ref())
        .and_then(|requests| requests.get("storage"))
}

/// `ValidatePersistentVolumeClaimSpec`.
fn validate_claim_spec(spec: &PersistentVolumeClaimSpec, path: &Path) -> ErrorList {
    let mut errors = Vec::new();
    let modes = spec.access_modes.as_deref().unwrap_or_default();
    let modes_path = path.child("accessModes");
    if modes.is_empty() {
        errors.push(Error::required(
            &modes_path,
            "at least 1 access mode is required",
        ));
    }
    if let Some(selector) = &spec.selector {
        errors.extend(validate_label_selector(selector, &path.child("selector")));
    }
    for mode in modes {
        if !ACCESS_MODES.contains(&mode.as_str()) {
            errors.push(Error::not_supported(
                &modes_path,
                mode.as_str(),
                &ACCESS_MODES,
            ));
        }
    }
    let once_pod = modes.iter().any(|m| m == "ReadWriteOncePod");
    if once_pod && modes.iter().any(|m| m != "ReadWriteOncePod") {
        errors.push(Error::forbidden(
            &modes_path,
            "may not use ReadWriteOncePod with other access modes",
        ));
    }
    let storage_path = path.child("resources").key("storage");
    match storage_request(spec) {
        None => errors.push(Error::required(&storage_path, "")),
        Some(value) => match ParsedQuantity::parse(&value.0) {
            Err(message) => errors.push(Error::invalid(&storage_path, value.0.as_str(), message)),
            Ok(quantity) if !quantity.is_positive() => errors.push(Error::invalid(
                &storage_path,
                value.0.as_str(),
                "must be greater than zero",
            )),
            Ok(_) => {}
        },
    }
    if let Some(class) = spec.storage_class_name.as_deref().filter(|c| !c.is_empty()) {
        for message in name_is_dns_subdomain(class, false) {
            errors.push(Error::invalid(
                &path.child("storageClassName"),
                class,
                message,
            ));
        }
    }
    if let Some(mode) = spec.volume_mode.as_deref()
        && !VOLUME_MODES.contains(&mode)
    {
        errors.push(Error::not_supported(
            &path.child("volumeMode"),
            mode,
            &VOLUME_MODES,
        ));
    }
    errors
}

/// `ValidatePersistentVolumeClaim`.
pub fn validate_persistent_volume_claim(claim: &PersistentVolumeClaim) -> ErrorList {
    let mut errors = validate_object_meta(
        &claim.metadata,
        true,
        name_is_dns_subdomain,
        &Path::new("metadata"),
    );
    errors.extend(validate_claim_spec(
        &claim.spec.clone().unwrap_or_default(),
        &Path::new("spec"),
    ));
    errors
}

fn storage_of(map: Option<&BTreeMap<String, Quantity>>) -> Option<ParsedQuantity> {
    map.and_then(|m| m.get("storage"))
        .and_then(|q| ParsedQuantity::parse(&q.0).ok())
}

/// `ValidatePersistentVolumeClaimUpdate`: the spec as on create; what may
/// change after create (the volume name once, a bound claim's storage
/// request and attributes class); a request no lower than the capacity.
pub fn validate_persistent_volume_claim_update(
    new: &PersistentVolumeClaim,
    old: &PersistentVolumeClaim,
) -> ErrorList {
    let mut errors =
        validate_object_meta_update(&new.metadata, &old.metadata, &Path::new("metadata"));
    let spec = new.spec.clone().unwrap_or_default();
    let old_spec = old.spec.clone().unwrap_or_default();
    errors.extend(validate_claim_spec(&spec, &Path::new("spec")));

    let mut comparable_new = spec.clone();
    let mut comparable_old = old_spec.clone();
    if old_spec
        .volume_name
        .as_deref()
        .unwrap_or_default()
        .is_empty()
    {
        comparable_old.volume_name = comparable_new.volume_name.clone();
    }
    let bound = new.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Bound");
    if bound {
        if let (Some(new_requests), Some(old_storage)) = (
            comparable_new
                .resources
                .as_mut()
                .and_then(|r| r.requests.as_mut()),
            storage_request(&old_spec),
        ) {
            new_requests.insert("storage".into(), old_storage.clone());
        }
        comparable_new.volume_attributes_class_name =
            comparable_old.volume_attributes_class_name.clone();
    }
    if comparable_new != comparable_old {
        errors.push(Error::forbidden(
            &Path::new("spec"),
            "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims",
        ));
    }
    let new_size = storage_of(spec.resources.as_ref().and_then(|r| r.requests.as_ref()));
    let old_size = storage_of(
        old_spec
            .resources
            .as_ref()
            .and_then(|r| r.requests.as_ref()),
    );
    let capacity = storage_of(old.status.as_ref().and_then(|s| s.capacity.as_ref()));
    if let (Some(new_size), Some(old_size)) = (new_size, old_size)
        && new_size.cmp_value(old_size).is_lt()
        && capacity.is_none_or(|capacity| new_size.cmp_value(capacity).is_le())
    {
        errors.push(Error::forbidden(
            &Path::new("spec")
                .child("resources")
                .child("requests")
                .child("storage"),
            "field can not be less than status.capacity",
        ));
    }
    errors
}

impl Strategy for PersistentVolumeClaimStrategy {
    type Object = PersistentVolumeClaim;

    fn names(&self) -> &ResourceNames {
        &PERSISTENT_VOLUME_CLAIM_INFO
    }

    fn table_columns(&self) -> &'static [ColumnDefinition] {
        crate::printers::storage::persistent_volume_claim_columns()
    }

    fn table_row(
        &self,
        claim: &PersistentVolumeClaim,
        now: DateTime<Utc>,
    ) -> Vec<serde_json::Value> {
        crate::printers::storage::persistent_volume_claim_row(claim, now)
    }

    fn status(&self) -> Option<&dyn StatusStrategy<PersistentVolumeClaim>> {
        Some(self)
    }

    fn prepare_for_create(&self, claim: &mut PersistentVolumeClaim) {
        claim.status = None;
        default_persistent_volume_claim(claim);
    }

    fn prepare_for_update(&self, new: &mut PersistentVolumeClaim, old: &PersistentVolumeClaim) {
        new.status = old.status.clone();
        default_persistent_volume_claim(new);
    }

    fn validate(&self, claim: &PersistentVolumeClaim) -> ErrorList {
        validate_persistent_volume_claim(claim)
    }

    fn validate_update(
        &self,
        new: &PersistentVolumeClaim,
        old: &PersistentVolumeClaim,
    ) -> ErrorList {
        validate_persistent_volume_claim_update(new, old)
    }
}

impl StatusStrategy<PersistentVolumeClaim> for PersistentVolumeClaimStrategy {
    fn prepare_for_status_update(
        &self,
        new: &mut PersistentVolumeClaim,
        old: &PersistentVolumeClaim,
    ) {
        new.spec = old.spec.clone();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::VolumeResourceRequirements;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn claim(modes: &[&str], storage: Option<&str>) -> PersistentVolumeClaim {
        let mut claim = PersistentVolumeClaim {
            metadata: ObjectMeta {
                name: Some("data".into()),
                namespace: Some("default".into()),
                resource_version: Some("5".into()),
                ..Default::default()
            },
            spec: Some(PersistentVolumeClaimSpec {
                access_modes: Some(modes.iter().map(|m| m.to_string()).collect()),
                resources: Some(VolumeResourceRequirements {
                    requests: storage.map(|s| [("storage".to_string(), Quantity(s.into()))].into()),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            status: None,
        };
        PersistentVolumeClaimStrategy.prepare_for_create(&mut claim);
        claim
    }

    fn messages(errors: ErrorList) -> Vec<String> {
        errors.iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn a_claim_asks_for_storage_with_known_access_modes() {
        let good = claim(&["ReadWriteOnce"], Some("1Gi"));
        assert_eq!(
            good.spec.as_ref().unwrap().volume_mode.as_deref(),
            Some("Filesystem")
        );
        assert_eq!(
            good.status.as_ref().unwrap().phase.as_deref(),
            Some("Pending")
        );
        assert!(validate_persistent_volume_claim(&good).is_empty());
        assert_eq!(
            messages(validate_persistent_volume_claim(&claim(&[], None))),
            [
                "spec.accessModes: Required value: at least 1 access mode is required",
                "spec.resources[storage]: Required value",
            ]
        );
        assert_eq!(
            messages(validate_persistent_volume_claim(&claim(
                &["ReadWriteOncePod", "ReadOnlyMany", "Sometimes"],
                Some("0")
            ))),
            [
                "spec.accessModes: Unsupported value: \"Sometimes\": supported values: \"ReadOnlyMany\", \"ReadWriteMany\", \"ReadWriteOnce\", \"ReadWriteOncePod\"",
                "spec.accessModes: Forbidden: may not use ReadWriteOncePod with other access modes",
                "spec.resources[storage]: Invalid value: \"0\": must be greater than zero",
            ]
        );
    }

    #[test]
    fn after_create_only_a_bound_claims_request_changes() {
        let old = claim(&["ReadWriteOnce"], Some("1Gi"));
        let grown = claim(&["ReadWriteOnce"], Some("2Gi"));
        assert_eq!(
            messages(validate_persistent_volume_claim_update(&grown, &old)),
            [
                "spec: Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims"
            ]
        );
        let bound_status = PersistentVolumeClaimStatus {
            phase: Some("Bound".into()),
            capacity: Some([("storage".to_string(), Quantity("1Gi".into()))].into()),
            ..Default::default()
        };
        let mut bound_old = old.clone();
        bound_old.spec.as_mut().unwrap().volume_name = Some("pv-1".into());
        bound_old.status = Some(bound_status.clone());
        let mut bound_grown = grown.clone();
        bound_grown.spec.as_mut().unwrap().volume_name = Some("pv-1".into());
        bound_grown.status = Some(bound_status);
        assert!(validate_persistent_volume_claim_update(&bound_grown, &bound_old).is_empty());
        let mut shrunk = bound_grown.clone();
        shrunk.spec.as_mut().unwrap().resources = Some(VolumeResourceRequirements {
            requests: Some([("storage".to_string(), Quantity("512Mi".into()))].into()),
            ..Default::default()
        });
        assert_eq!(
            messages(validate_persistent_volume_claim_update(&shrunk, &bound_old)),
            [
                "spec.resources.requests.storage: Forbidden: field can not be less than status.capacity"
            ]
        );
        // The volume name is set once, as the binder does.
        let mut named = old.clone();
        named.spec.as_mut().unwrap().volume_name = Some("pv-9".into());
        assert!(validate_persistent_volume_claim_update(&named, &old).is_empty());
    }
}
