//! Persistent volumes (`pkg/registry/core/persistentvolume`): the cluster's
//! pieces of storage. Defaulted as upstream (`Retain`, `Filesystem`,
//! `Pending`) and validated as upstream's `ValidatePersistentVolumeSpec`:
//! known access modes (`ReadWriteOncePod` alone), a positive `storage`
//! capacity and nothing else, a known reclaim policy, exactly one volume
//! source (the second and later refused in upstream's order), a class and
//! volume mode, node affinity for a local volume. Of the sources, host
//! paths, local volumes, NFS and CSI are checked field by field as
//! upstream; the others are counted only. After create the source, the
//! volume mode and a set node affinity are fixed. The status changes only
//! through `/status`. No volume controller binds volumes in this server.

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeSpec, PersistentVolumeStatus};
use k8s_openapi::chrono::{DateTime, Utc};

use apimachinery::api::{name_is_dns_subdomain, validate_object_meta, validate_object_meta_update};
use apimachinery::validation::field::{Error, ErrorList, Path};
use apiserver::registry::strategy::{ResourceNames, StatusStrategy, Strategy};
use apiserver::registry::table::ColumnDefinition;

use super::pod::quantity::ParsedQuantity;
use super::pod::validation::validate_immutable;

/// `persistentvolumes`, `v1`.
pub static PERSISTENT_VOLUME_INFO: ResourceNames = ResourceNames {
    group: "",
    version: "v1",
    kind: "PersistentVolume",
    plural: "persistentvolumes",
    singular: "persistentvolume",
    namespaced: false,
    short_names: &["pv"],
    categories: &[],
};

const ACCESS_MODES: [&str; 4] = [
    "ReadOnlyMany",
    "ReadWriteMany",
    "ReadWriteOnce",
    "ReadWriteOncePod",
];
const RECLAIM_POLICIES: [&str; 3] = ["Delete", "Recycle", "Retain"];
const VOLUME_MODES: [&str; 2] = ["Block", "Filesystem"];
const HOST_PATH_TYPES: [&str; 8] = [
    "",
    "BlockDevice",
    "CharDevice",
    "Directory",
    "DirectoryOrCreate",
    "File",
    "FileOrCreate",
    "Socket",
];

#[derive(Debug, Clone, Copy, Default)]
pub struct PersistentVolumeStrategy;

/// `SetDefaults_PersistentVolume`.
pub fn default_persistent_volume(volume: &mut PersistentVolume) {
    let spec = volume
        .spec
        .get_or_insert_with(PersistentVolumeSpec::default);
    if spec
        .persistent_volume_reclaim_policy
        .as_deref()
        .unwrap_or_default()
        .is_empty()
    {
        spec.persistent_volume_reclaim_policy = Some("Retain".into());
    }
    spec.volume_mode.get_or_insert_with(|| "Filesystem".into());
    let status = volume
        .status
        .get_or_insert_with(PersistentVolumeStatus::default);
    if status.phase.as_deref().unwrap_or_default().is_empty() {
        status.phase = Some("Pending".into());
    }
}

/// The volume sources present, by their JSON names, in the order upstream
/// checks them (the flex volume is counted, never refused as a second).
fn sources(spec: &PersistentVolumeSpec) -> Vec<&'static str> {
    [
        (spec.host_path.is_some(), "hostPath"),
        (spec.gce_persistent_disk.is_some(), "gcePersistentDisk"),
        (
            spec.aws_elastic_block_store.is_some(),
            "awsElasticBlockStore",
        ),
        (spec.glusterfs.is_some(), "glusterfs"),
        (spec.flocker.is_some(), "flocker"),
        (spec.nfs.is_some(), "nfs"),
        (spec.rbd.is_some(), "rbd"),
        (spec.quobyte.is_some(), "quobyte"),
        (spec.cephfs.is_some(), "cephFS"),
        (spec.iscsi.is_some(), "iscsi"),
        (spec.cinder.is_some(), "cinder"),
        (spec.fc.is_some(), "fc"),
        (spec.flex_volume.is_some(), "flexVolume"),
        (spec.azure_file.is_some(), "azureFile"),
        (spec.vsphere_volume.is_some(), "vsphereVolume"),
        (
            spec.photon_persistent_disk.is_some(),
            "photonPersistentDisk",
        ),
        (spec.portworx_volume.is_some(), "portworxVolume"),
        (spec.azure_disk.is_some(), "azureDisk"),
        (spec.scale_io.is_some(), "scaleIO"),
        (spec.local.is_some(), "local"),
        (spec.storageos.is_some(), "storageos"),
        (spec.csi.is_some(), "csi"),
    ]
    .into_iter()
    .filter_map(|(present, name)| present.then_some(name))
    .collect()
}

/// `validatePathNoBacksteps`.
fn validate_no_backsteps(target: &str, path: &Path) -> ErrorList {
    if target.split('/').any(|part| part == "..") {
        vec![Error::invalid(path, target, "must not contain '..'")]
    } else {
        Vec::new()
    }
}

/// The checked sources' own rules (`validateHostPathVolumeSource`,
/// `validateLocalVolumeSource`, `validateNFSVolumeSource`,
/// `validateCSIPersistentVolumeSource`).
fn validate_source(spec: &PersistentVolumeSpec, source: &str, path: &Path) -> ErrorList {
    let mut errors = Vec::new();
    match source {
        "hostPath" => {
            let Some(host_path) = &spec.host_path else {
                return errors;
            };
            let path = path.child("hostPath");
            if host_path.path.is_empty() {
                errors.push(Error::required(&path.child("path"), ""));
            }
            errors.extend(validate_no_backsteps(&host_path.path, &path.child("path")));
            if let Some(kind) = host_path.type_.as_deref()
                && !HOST_PATH_TYPES.contains(&kind)
            {
                errors.push(Error::not_supported(
                    &path.child("type"),
                    kind,
                    &HOST_PATH_TYPES,
                ));
            }
        }
        "local" => {
            let Some(local) = &spec.local else {
                return errors;
            };
            let path = path.child("local").child("path");
            if local.path.is_empty() {
                errors.push(Error::required(&path, ""));
                return errors;
            }
            if !local.path.starts_with('/') {
                errors.push(Error::invalid(
                    &path,
                    local.path.as_str(),
                    "must be an absolute path",
                ));
            }
            errors.extend(validate_no_backsteps(&local.path, &path));
        }
        "nfs" => {
            let Some(nfs) = &spec.nfs else {
                return errors;
            };
            let path = path.child("nfs");
            if nfs.server.is_empty() {
                errors.push(Error::required(&path.child("server"), ""));
            }
            if nfs.path.is_empty() {
                errors.push(Error::required(&path.child("path"), ""));
            } else if !nfs.path.starts_with('/') {
                errors.push(Error::invalid(
                    &path.child("path"),
                    nfs.path.as_str(),
                    "must be an absolute path",
                ));
            }
        }
        "csi" => {
            let Some(csi) = &spec.csi else {
                return errors;
            };
            let path = path.child("csi");
            if csi.driver.is_empty() {
                errors.push(Error::required(&path.child("driver"), ""));
            }
            if csi.volume_handle.is_empty() {
                errors.push(Error::required(&path.child("volumeHandle"), ""));
            }
        }
        _ => {}
    }
    errors
}

/// `ValidatePersistentVolumeSpec` for a volume object.
fn validate_volume_spec(spec: &PersistentVolumeSpec, path: &Path) -> ErrorList {
    let mut errors = Vec::new();
    let modes = spec.access_modes.as_deref().unwrap_or_default();
    let modes_path = path.child("accessModes");
    if modes.is_empty() {
        errors.push(Error::required(&modes_path, ""));
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
    if modes.iter().any(|m| m == "ReadWriteOncePod")
        && modes.iter().any(|m| m != "ReadWriteOncePod")
    {
        errors.push(Error::forbidden(
            &modes_path,
            "may not use ReadWriteOncePod with other access modes",
        ));
    }
    let capacity_path = path.child("capacity");
    let capacity = spec.capacity.clone().unwrap_or_default();
    if capacity.is_empty() {
        errors.push(Error::required(&capacity_path, ""));
    } else {
        if !capacity.contains_key("storage") || capacity.len() > 1 {
            errors.push(Error::not_supported(
                &capacity_path,
                serde_json::to_value(&capacity).unwrap_or_default(),
                &["storage"],
            ));
        }
        for (name, value) in &capacity {
            let value_path = capacity_path.key(name);
            match ParsedQuantity::parse(&value.0) {
                Err(message) => errors.push(Error::invalid(&value_path, value.0.as_str(), message)),
                Ok(quantity) if !quantity.is_positive() => errors.push(Error::invalid(
                    &value_path,
                    value.0.as_str(),
                    "must be greater than zero",
                )),
                Ok(_) => {}
            }
        }
    }
    let policy = spec
        .persistent_volume_reclaim_policy
        .as_deref()
        .unwrap_or_default();
    if !policy.is_empty() && !RECLAIM_POLICIES.contains(&policy) {
        errors.push(Error::not_supported(
            &path.child("persistentVolumeReclaimPolicy"),
            policy,
            &RECLAIM_POLICIES,
        ));
    }
    let node_affinity = spec
        .node_affinity
        .as_ref()
        .and_then(|a| a.required.as_ref())
        .is_some_and(|r| !r.node_selector_terms.is_empty());
    let present = sources(spec);
    for (index, source) in present.iter().enumerate() {
        if index > 0 && *source != "flexVolume" {
            errors.push(Error::forbidden(
                &path.child(source),
                "may not specify more than 1 volume type",
            ));
            continue;
        }
        errors.extend(validate_source(spec, source, path));
        if *source == "local" && !node_affinity {
            errors.push(Error::required(
                &path.child("nodeAffinity"),
                "Local volume requires node affinity",
            ));
        }
    }
    if present.is_empty() {
        errors.push(Error::required(path, "must specify a volume type"));
    }
    if let Some(host_path) = &spec.host_path
        && host_path.path.trim_end_matches('/').is_empty()
        && host_path.path.starts_with('/')
        && policy == "Recycle"
    {
        errors.push(Error::forbidden(
            &path.child("persistentVolumeReclaimPolicy"),
            "may not be 'recycle' for a hostPath mount of '/'",
        ));
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

/// `ValidatePersistentVolume`.
pub fn validate_persistent_volume(volume: &PersistentVolume) -> ErrorList {
    let mut errors = validate_object_meta(
        &volume.metadata,
        false,
        name_is_dns_subdomain,
        &Path::new("metadata"),
    );
    errors.extend(validate_volume_spec(
        &volume.spec.clone().unwrap_or_default(),
        &Path::new("spec"),
    ));
    errors
}

/// The spec's volume source alone (`PersistentVolumeSource`).
fn source_only(spec: &PersistentVolumeSpec) -> PersistentVolumeSpec {
    PersistentVolumeSpec {
        access_modes: None,
        capacity: None,
        claim_ref: None,
        mount_options: None,
        node_affinity: None,
        persistent_volume_reclaim_policy: None,
        storage_class_name: None,
        volume_attributes_class_name: None,
        volume_mode: None,
        ..spec.clone()
    }
}

/// `ValidatePersistentVolumeUpdate`.
pub fn validate_persistent_volume_update(
    new: &PersistentVolume,
    old: &PersistentVolume,
) -> ErrorList {
    let mut errors =
        validate_object_meta_update(&new.metadata, &old.metadata, &Path::new("metadata"));
    let spec = new.spec.clone().unwrap_or_default();
    let old_spec = old.spec.clone().unwrap_or_default();
    errors.extend(validate_volume_spec(&spec, &Path::new("spec")));
    if source_only(&spec) != source_only(&old_spec) {
        errors.push(Error::forbidden(
            &Path::new("spec").child("persistentvolumesource"),
            "spec.persistentvolumesource is immutable after creation",
        ));
    }
    errors.extend(validate_immutable(
        &spec.volume_mode,
        &old_spec.volume_mode,
        &Path::new("volumeMode"),
    ));
    if old_spec.node_affinity.is_some() {
        errors.extend(validate_immutable(
            &spec.node_affinity,
            &old_spec.node_affinity,
            &Path::new("nodeAffinity"),
        ));
    }
    errors
}

impl Strategy for PersistentVolumeStrategy {
    type Object = PersistentVolume;

    fn names(&self) -> &ResourceNames {
        &PERSISTENT_VOLUME_INFO
    }

    fn table_columns(&self) -> &'static [ColumnDefinition] {
        crate::printers::storage::persistent_volume_columns()
    }

    fn table_row(&self, volume: &PersistentVolume, now: DateTime<Utc>) -> Vec<serde_json::Value> {
        crate::printers::storage::persistent_volume_row(volume, now)
    }

    fn status(&self) -> Option<&dyn StatusStrategy<PersistentVolume>> {
        Some(self)
    }

    fn prepare_for_create(&self, volume: &mut PersistentVolume) {
        volume.status = None;
        default_persistent_volume(volume);
    }

    fn prepare_for_update(&self, new: &mut PersistentVolume, old: &PersistentVolume) {
        new.status = old.status.clone();
        default_persistent_volume(new);
    }

    fn validate(&self, volume: &PersistentVolume) -> ErrorList {
        validate_persistent_volume(volume)
    }

    fn validate_update(&self, new: &PersistentVolume, old: &PersistentVolume) -> ErrorList {
        validate_persistent_volume_update(new, old)
    }
}

impl StatusStrategy<PersistentVolume> for PersistentVolumeStrategy {
    fn prepare_for_status_update(&self, new: &mut PersistentVolume, old: &PersistentVolume) {
        new.spec = old.spec.clone();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{
        CSIPersistentVolumeSource, HostPathVolumeSource, LocalVolumeSource, NFSVolumeSource,
    };
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn volume(spec: PersistentVolumeSpec) -> PersistentVolume {
        let mut volume = PersistentVolume {
            metadata: ObjectMeta {
                name: Some("pv-1".into()),
                resource_version: Some("3".into()),
                ..Default::default()
            },
            spec: Some(PersistentVolumeSpec {
                access_modes: Some(vec!["ReadWriteOnce".into()]),
                capacity: Some([("storage".to_string(), Quantity("10Gi".into()))].into()),
                ..spec
            }),
            status: None,
        };
        PersistentVolumeStrategy.prepare_for_create(&mut volume);
        volume
    }

    fn host_path(path: &str) -> PersistentVolumeSpec {
        PersistentVolumeSpec {
            host_path: Some(HostPathVolumeSource {
                path: path.into(),
                type_: None,
            }),
            ..Default::default()
        }
    }

    fn messages(errors: ErrorList) -> Vec<String> {
        errors.iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn one_source_with_its_own_rules() {
        let good = volume(host_path("/data/pv-1"));
        let spec = good.spec.as_ref().unwrap();
        assert_eq!(
            spec.persistent_volume_reclaim_policy.as_deref(),
            Some("Retain")
        );
        assert_eq!(
            good.status.as_ref().unwrap().phase.as_deref(),
            Some("Pending")
        );
        assert!(validate_persistent_volume(&good).is_empty());

        assert_eq!(
            messages(validate_persistent_volume(&volume(
                PersistentVolumeSpec::default()
            ))),
            ["spec: Required value: must specify a volume type"]
        );
        let mut two = host_path("/data");
        two.nfs = Some(NFSVolumeSource {
            server: "nfs.example".into(),
            path: "exports".into(),
            read_only: None,
        });
        assert_eq!(
            messages(validate_persistent_volume(&volume(two))),
            ["spec.nfs: Forbidden: may not specify more than 1 volume type"]
        );
        let local = PersistentVolumeSpec {
            local: Some(LocalVolumeSource {
                path: "relative/../x".into(),
                fs_type: None,
            }),
            ..Default::default()
        };
        assert_eq!(
            messages(validate_persistent_volume(&volume(local))),
            [
                "spec.local.path: Invalid value: \"relative/../x\": must be an absolute path",
                "spec.local.path: Invalid value: \"relative/../x\": must not contain '..'",
                "spec.nodeAffinity: Required value: Local volume requires node affinity",
            ]
        );
        let csi = PersistentVolumeSpec {
            csi: Some(CSIPersistentVolumeSource {
                driver: String::new(),
                volume_handle: "vol-1".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(
            messages(validate_persistent_volume(&volume(csi))),
            ["spec.csi.driver: Required value"]
        );
    }

    #[test]
    fn the_source_and_mode_are_fixed_after_create() {
        let old = volume(host_path("/data/pv-1"));
        let moved = volume(host_path("/data/pv-2"));
        assert_eq!(
            messages(validate_persistent_volume_update(&moved, &old)),
            [
                "spec.persistentvolumesource: Forbidden: spec.persistentvolumesource is immutable after creation"
            ]
        );
        let mut claimed = old.clone();
        claimed
            .spec
            .as_mut()
            .unwrap()
            .persistent_volume_reclaim_policy = Some("Delete".into());
        assert!(validate_persistent_volume_update(&claimed, &old).is_empty());
    }
}
