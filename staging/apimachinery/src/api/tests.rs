//! Tests of object-metadata and label-selector validation: exact field
//! paths and messages.

use super::*;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::chrono::{TimeZone, Utc};

fn meta_path() -> Path {
    Path::new("metadata")
}

fn named(name: &str, namespace: Option<&str>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        namespace: namespace.map(Into::into),
        ..Default::default()
    }
}

fn messages(errors: &field::ErrorList) -> Vec<String> {
    errors.iter().map(|e| e.to_string()).collect()
}

fn string_map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn name_validators_mask_a_trailing_dash_of_prefixes() {
    assert!(name_is_dns_subdomain("web-", true).is_empty());
    assert!(!name_is_dns_subdomain("web-", false).is_empty());
    assert!(name_is_dns_label("a-", true).is_empty());
    assert!(name_is_dns1035_label("svc-", true).is_empty());
    assert!(!name_is_dns1035_label("1svc-", true).is_empty());
    // Upstream replaces the dash and the byte before it: "a--" is "aa".
    assert_eq!(mask_trailing_dash("a--"), "aa");
    assert_eq!(mask_trailing_dash("-"), "-");
    assert!(!name_is_dns_label("-", true).is_empty());
    assert_eq!(name_is_dns_label("Web", false), is_dns1123_label("Web"));
}

#[test]
fn path_segment_names() {
    assert_eq!(name_is_path_segment("..", false), ["may not be '..'"]);
    assert!(name_is_path_segment("..", true).is_empty());
    assert_eq!(
        name_is_path_segment("a/b%c", false),
        ["may not contain '/'", "may not contain '%'"]
    );
    assert!(name_is_path_segment("Any_Name.v1", false).is_empty());
}

#[test]
fn valid_metadata_has_no_errors() {
    let mut meta = named("web", Some("default"));
    meta.labels = Some(string_map(&[("app", "web"), ("example.com/tier", "")]));
    meta.annotations = Some(string_map(&[("Example.com/Note", "anything at all")]));
    meta.finalizers = Some(vec!["example.com/cleanup".into(), "kubernetes".into()]);
    meta.owner_references = Some(vec![OwnerReference {
        api_version: "apps/v1".into(),
        kind: "ReplicaSet".into(),
        name: "web-1".into(),
        uid: "uid-1".into(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }]);
    meta.generation = Some(3);
    let errors = validate_object_meta(&meta, true, name_is_dns_subdomain, &meta_path());
    assert_eq!(messages(&errors), Vec::<String>::new());
}

#[test]
fn name_namespace_and_generation() {
    let empty = ObjectMeta::default();
    assert_eq!(
        messages(&validate_object_meta(
            &empty,
            true,
            name_is_dns_subdomain,
            &meta_path()
        )),
        [
            "metadata.name: Required value: name or generateName is required",
            "metadata.namespace: Required value",
        ]
    );

    let bad = ObjectMeta {
        name: Some("Web".into()),
        generate_name: Some("Web-".into()),
        namespace: Some("default".into()),
        generation: Some(-1),
        ..Default::default()
    };
    let errors = validate_object_meta(&bad, false, name_is_dns_subdomain, &meta_path());
    let subdomain = is_dns1123_subdomain("Web").join("");
    assert_eq!(
        messages(&errors),
        [
            format!("metadata.generateName: Invalid value: \"Web-\": {subdomain}"),
            format!("metadata.name: Invalid value: \"Web\": {subdomain}"),
            "metadata.namespace: Forbidden: not allowed on this type".to_string(),
            "metadata.generation: Invalid value: -1: must be greater than or equal to 0"
                .to_string(),
        ]
    );

    let bad_namespace = named("web", Some("Default"));
    let errors = validate_object_meta(&bad_namespace, true, name_is_dns_subdomain, &meta_path());
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].field, "metadata.namespace");
    assert_eq!(errors[0].error_type, field::ErrorType::Invalid);
}

#[test]
fn labels_and_annotations() {
    let labels = string_map(&[("a/b/c", "x"), ("app", "-bad")]);
    let errors = validate_labels(&labels, &meta_path().child("labels"));
    assert_eq!(
        messages(&errors),
        [
            format!(
                "metadata.labels: Invalid value: \"a/b/c\": {}",
                is_qualified_name("a/b/c")[0]
            ),
            format!(
                "metadata.labels: Invalid value: \"-bad\": {}",
                is_valid_label_value("-bad")[0]
            ),
        ]
    );

    // Annotation keys are checked lowercased, reported as given.
    let annotations = string_map(&[("Example.COM/Key", "v"), ("bad key", "v")]);
    let errors = validate_annotations(&annotations, &meta_path().child("annotations"));
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].to_string().starts_with(
            "metadata.annotations: Invalid value: \"bad key\": name part must consist"
        ),
        "{}",
        errors[0]
    );

    let big = string_map(&[("big", &"x".repeat(TOTAL_ANNOTATION_SIZE_LIMIT_B))]);
    assert_eq!(
        messages(&validate_annotations(
            &big,
            &meta_path().child("annotations")
        )),
        ["metadata.annotations: Too long: may not be more than 262144 bytes"]
    );
    let fits = string_map(&[("big", &"x".repeat(TOTAL_ANNOTATION_SIZE_LIMIT_B - 3))]);
    assert!(validate_annotations(&fits, &meta_path().child("annotations")).is_empty());
}

#[test]
fn owner_references() {
    let path = meta_path().child("ownerReferences");
    let empty = OwnerReference::default();
    assert_eq!(
        messages(&validate_owner_references(&[empty], &path)),
        [
            "metadata.ownerReferences.apiVersion: Invalid value: \"\": version must not be empty",
            "metadata.ownerReferences.kind: Invalid value: \"\": must not be empty",
            "metadata.ownerReferences.name: Invalid value: \"\": must not be empty",
            "metadata.ownerReferences.uid: Invalid value: \"\": must not be empty",
        ]
    );
    let event = OwnerReference {
        api_version: "v1".into(),
        kind: "Event".into(),
        name: "e".into(),
        uid: "u".into(),
        ..Default::default()
    };
    let errors = validate_owner_references(&[event], &path);
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0]
            .to_string()
            .ends_with(": /v1, Kind=Event is disallowed from being an owner"),
        "{}",
        errors[0]
    );
    let controller = |name: &str| OwnerReference {
        api_version: "apps/v1".into(),
        kind: "ReplicaSet".into(),
        name: name.into(),
        uid: name.into(),
        controller: Some(true),
        ..Default::default()
    };
    let errors = validate_owner_references(&[controller("a"), controller("b")], &path);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].field, "metadata.ownerReferences");
    assert!(errors[0].to_string().ends_with(
        "Only one reference can have Controller set to true. Found \"true\" in references for ReplicaSet/a and ReplicaSet/b"
    ));
    let too_many_slashes = OwnerReference {
        api_version: "a/b/c".into(),
        ..controller("x")
    };
    assert_eq!(
        messages(&validate_owner_references(&[too_many_slashes], &path)),
        [
            "metadata.ownerReferences.apiVersion: Invalid value: \"a/b/c\": version must not be empty"
        ]
    );
}

#[test]
fn finalizers() {
    let mut meta = named("web", None);
    meta.finalizers = Some(vec![
        "foo".into(),
        "orphan".into(),
        "foregroundDeletion".into(),
        "example.com/ok".into(),
    ]);
    assert_eq!(
        messages(&validate_object_meta(
            &meta,
            false,
            name_is_dns_subdomain,
            &meta_path()
        )),
        [
            "metadata.finalizers: Invalid value: []string{\"foo\", \"orphan\", \"foregroundDeletion\", \"example.com/ok\"}: finalizer orphan and foregroundDeletion cannot be both set",
            "metadata.finalizers[0]: Invalid value: \"foo\": name is neither a standard finalizer name nor is it fully qualified",
        ]
    );
    // The generic variant (custom resources) only wants qualified names.
    meta.finalizers = Some(vec!["foo".into(), "a b".into()]);
    let errors = validate_object_meta_generic(&meta, false, name_is_dns_subdomain, &meta_path());
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0]
            .to_string()
            .starts_with("metadata.finalizers: Invalid value: \"a b\": name part must consist"),
        "{}",
        errors[0]
    );
}

#[test]
fn managed_fields() {
    let entry = ManagedFieldsEntry {
        manager: Some("kube\u{7}ctl".into()),
        operation: Some("Patch".into()),
        fields_type: Some("FieldsV2".into()),
        subresource: Some("s".repeat(MAX_SUBRESOURCE_NAME_LENGTH + 1)),
        ..Default::default()
    };
    let errors = validate_managed_fields(&[entry], &meta_path().child("managedFields"));
    let found = messages(&errors);
    assert_eq!(found.len(), 4, "{found:?}");
    assert_eq!(
        found[0],
        "metadata.managedFields[0].operation: Invalid value: \"Patch\": must be `Apply` or `Update`"
    );
    assert_eq!(
        found[1],
        "metadata.managedFields[0].fieldsType: Invalid value: \"FieldsV2\": must be `FieldsV1`"
    );
    // (How the control character is quoted is field::Error's business.)
    assert_eq!(errors[2].field, "metadata.managedFields[0].manager");
    assert_eq!(errors[2].detail, "invalid character U+0007 (at position 4)");
    assert_eq!(
        found[3],
        "metadata.managedFields[0].subresource: Too long: may not be more than 256 bytes"
    );
}

#[test]
fn update_checks_immutable_fields() {
    let created = Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).single();
    let mut old = named("web", Some("default"));
    old.uid = Some("uid-1".into());
    old.resource_version = Some("7".into());
    old.generation = Some(2);
    old.creation_timestamp = created.map(Time);
    old.generate_name = Some("we-".into());

    let mut same = old.clone();
    same.generate_name = Some("other-".into());
    same.labels = Some(string_map(&[("app", "web")]));
    assert_eq!(
        messages(&validate_object_meta_update(&same, &old, &meta_path())),
        Vec::<String>::new()
    );

    let changed = ObjectMeta {
        name: Some("db".into()),
        namespace: Some("kube-system".into()),
        uid: Some("uid-2".into()),
        generation: Some(1),
        deletion_grace_period_seconds: Some(30),
        labels: Some(string_map(&[("app", "a b")])),
        ..Default::default()
    };
    let errors = validate_object_meta_update(&changed, &old, &meta_path());
    assert_eq!(
        messages(&errors),
        [
            "metadata.resourceVersion: Invalid value: \"\": must be specified for an update".to_string(),
            "metadata.generation: Invalid value: 1: must not be decremented".to_string(),
            "metadata.name: Invalid value: \"db\": field is immutable".to_string(),
            "metadata.namespace: Invalid value: \"kube-system\": field is immutable".to_string(),
            "metadata.uid: Invalid value: \"uid-2\": field is immutable".to_string(),
            "metadata.creationTimestamp: Invalid value: 0001-01-01 00:00:00 +0000 UTC: field is immutable".to_string(),
            "metadata.deletionGracePeriodSeconds: Invalid value: 30: field is immutable".to_string(),
            format!(
                "metadata.labels: Invalid value: \"a b\": {}",
                is_valid_label_value("a b")[0]
            ),
        ]
    );
}

#[test]
fn update_while_deleting_forbids_new_finalizers() {
    let deleted = Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).single();
    let mut old = named("web", Some("default"));
    old.resource_version = Some("7".into());
    old.deletion_timestamp = deleted.map(Time);
    old.finalizers = Some(vec!["example.com/a".into()]);
    let mut new = old.clone();
    new.finalizers = Some(vec![
        "example.com/c".into(),
        "example.com/a".into(),
        "example.com/b".into(),
    ]);
    assert_eq!(
        messages(&validate_object_meta_update(&new, &old, &meta_path())),
        [
            "metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{\"example.com/b\", \"example.com/c\"}"
        ]
    );
    new.finalizers = None;
    new.deletion_timestamp = None;
    assert_eq!(
        messages(&validate_object_meta_update(&new, &old, &meta_path())),
        ["metadata.deletionTimestamp: Invalid value: \"null\": field is immutable"]
    );
}

#[test]
fn label_selectors() {
    let path = Path::new("spec").child("selector");
    let good = LabelSelector {
        match_labels: Some(string_map(&[("app", "web")])),
        match_expressions: Some(vec![LabelSelectorRequirement {
            key: "tier".into(),
            operator: "In".into(),
            values: Some(vec!["front".into()]),
        }]),
    };
    assert!(validate_label_selector(&good, &path).is_empty());

    let bad = LabelSelector {
        match_labels: Some(string_map(&[("app", "a b")])),
        match_expressions: Some(vec![
            LabelSelectorRequirement {
                key: "tier".into(),
                operator: "In".into(),
                values: None,
            },
            LabelSelectorRequirement {
                key: "tier".into(),
                operator: "Exists".into(),
                values: Some(vec!["x".into()]),
            },
            LabelSelectorRequirement {
                key: "a/b/c".into(),
                operator: "Gt".into(),
                values: Some(vec!["-x".into()]),
            },
        ]),
    };
    let errors = validate_label_selector(&bad, &path);
    assert_eq!(
        messages(&errors),
        [
            format!(
                "spec.selector.matchLabels: Invalid value: \"a b\": {}",
                is_valid_label_value("a b")[0]
            ),
            "spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'".to_string(),
            "spec.selector.matchExpressions[1].values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'".to_string(),
            "spec.selector.matchExpressions[2].operator: Invalid value: \"Gt\": not a valid selector operator".to_string(),
            format!(
                "spec.selector.matchExpressions[2].key: Invalid value: \"a/b/c\": {}",
                is_qualified_name("a/b/c")[0]
            ),
            format!(
                "spec.selector.matchExpressions[2].values[0]: Invalid value: \"-x\": {}",
                is_valid_label_value("-x")[0]
            ),
        ]
    );
    let lenient = LabelSelectorValidationOptions {
        allow_invalid_label_value_in_selector: true,
        allow_unknown_operator_in_requirement: true,
    };
    let errors = validate_label_selector_with_options(&bad, lenient, &path);
    assert_eq!(errors.len(), 4, "{:?}", messages(&errors));
}
