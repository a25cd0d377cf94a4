//! CustomResourceDefinitions (`apiextensions-apiserver/pkg/registry/customresourcedefinition`):
//! upstream's defaults and validation of the definition itself — its
//! name is `<plural>.<group>`, names are DNS labels, exactly one storage
//! version, every version has a structural schema, printer columns and
//! subresource paths that parse — and `/status`, which only the
//! definitions controller (`apiextensions::controller`) writes in practice.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, CustomResourceDefinitionNames, CustomResourceDefinitionSpec,
    CustomResourceDefinitionVersion, JSONSchemaProps, JSONSchemaPropsOrArray,
    JSONSchemaPropsOrBool,
};
use std::collections::HashSet;

use apimachinery::api::{
    FIELD_IMMUTABLE_ERROR_MSG, name_is_dns_subdomain, validate_object_meta_generic,
    validate_object_meta_update_generic,
};
use apimachinery::validation::field::{Error, ErrorList, Path};
use apimachinery::validation::{is_dns1035_label, is_dns1123_subdomain};
use apiserver::registry::strategy::{ResourceNames, StatusStrategy, Strategy};

use crate::apiextensions::columns::validate_column;
use crate::apiextensions::schema;
use crate::apiextensions::selectable::validate_selectable_fields;

/// `customresourcedefinitions`, `apiextensions.k8s.io/v1`.
pub static CUSTOM_RESOURCE_DEFINITION_INFO: ResourceNames = ResourceNames {
    group: "apiextensions.k8s.io",
    version: "v1",
    kind: "CustomResourceDefinition",
    plural: "customresourcedefinitions",
    singular: "customresourcedefinition",
    namespaced: false,
    short_names: &["crd", "crds"],
    categories: &["api-extensions"],
};

/// Where definitions are stored, as upstream keys them.
pub const CUSTOM_RESOURCE_DEFINITION_PREFIX: &str =
    "/registry/apiextensions.k8s.io/customresourcedefinitions/";

/// The finalizer that keeps a definition until its objects are deleted.
pub const CLEANUP_FINALIZER: &str = "customresourcecleanup.apiextensions.k8s.io";

const SCOPES: [&str; 2] = ["Cluster", "Namespaced"];

#[derive(Debug, Clone, Copy, Default)]
pub struct CustomResourceDefinitionStrategy;

/// The defaults of a v1 definition (`SetDefaults_CustomResourceDefinitionSpec`):
/// singular and list kind from the kind, conversion `None`.
pub fn default_spec(spec: &mut CustomResourceDefinitionSpec) {
    let names = &mut spec.names;
    if names.singular.as_deref().unwrap_or_default().is_empty() {
        names.singular = Some(names.kind.to_lowercase());
    }
    if names.list_kind.as_deref().unwrap_or_default().is_empty() && !names.kind.is_empty() {
        names.list_kind = Some(format!("{}List", names.kind));
    }
    let conversion = spec.conversion.get_or_insert_with(Default::default);
    if conversion.strategy.is_empty() {
        conversion.strategy = "None".into();
    }
}

/// `ValidateCustomResourceDefinition`.
pub fn validate_custom_resource_definition(crd: &CustomResourceDefinition) -> ErrorList {
    let mut errors = validate_object_meta_generic(
        &crd.metadata,
        false,
        name_is_dns_subdomain,
        &Path::new("metadata"),
    );
    let spec = &crd.spec;
    let name = crd.metadata.name.as_deref().unwrap_or_default();
    if name != format!("{}.{}", spec.names.plural, spec.group) {
        errors.push(Error::invalid(
            &Path::new("metadata").child("name"),
            name,
            "must be spec.names.plural+\".\"+spec.group",
        ));
    }
    errors.extend(validate_spec(spec, &Path::new("spec")));
    errors
}

/// `ValidateCustomResourceDefinitionUpdate`: the group, scope and names
/// that key the stored objects stay.
pub fn validate_custom_resource_definition_update(
    new: &CustomResourceDefinition,
    old: &CustomResourceDefinition,
) -> ErrorList {
    let mut errors =
        validate_object_meta_update_generic(&new.metadata, &old.metadata, &Path::new("metadata"));
    errors.extend(validate_custom_resource_definition(new));
    let spec = Path::new("spec");
    if new.spec.group != old.spec.group {
        errors.push(Error::invalid(
            &spec.child("group"),
            new.spec.group.as_str(),
            FIELD_IMMUTABLE_ERROR_MSG,
        ));
    }
    if new.spec.scope != old.spec.scope {
        errors.push(Error::invalid(
            &spec.child("scope"),
            new.spec.scope.as_str(),
            FIELD_IMMUTABLE_ERROR_MSG,
        ));
    }
    errors
}

fn validate_spec(spec: &CustomResourceDefinitionSpec, path: &Path) -> ErrorList {
    let mut errors = Vec::new();
    let group = path.child("group");
    if spec.group.is_empty() {
        errors.push(Error::required(&group, ""));
    } else {
        for message in is_dns1123_subdomain(&spec.group) {
            errors.push(Error::invalid(&group, spec.group.as_str(), message));
        }
        if !spec.group.contains('.') {
            errors.push(Error::invalid(
                &group,
                spec.group.as_str(),
                "should be a domain with at least one dot",
            ));
        }
    }
    let scope = path.child("scope");
    if spec.scope.is_empty() {
        errors.push(Error::required(&scope, ""));
    } else if !SCOPES.contains(&spec.scope.as_str()) {
        errors.push(Error::not_supported(&scope, spec.scope.as_str(), &SCOPES));
    }
    errors.extend(validate_names(&spec.names, &path.child("names")));
    errors.extend(validate_versions(&spec.versions, &path.child("versions")));
    if spec.preserve_unknown_fields == Some(true) {
        errors.push(Error::invalid(
            &path.child("preserveUnknownFields"),
            true,
            "cannot set to true, set x-kubernetes-preserve-unknown-fields to true in spec.versions[*].schema instead",
        ));
    }
    if let Some(conversion) = &spec.conversion {
        let strategy = path.child("conversion").child("strategy");
        match conversion.strategy.as_str() {
            "None" => {}
            "Webhook" => errors.push(Error::forbidden(
                &strategy,
                "conversion webhooks are not supported by this server; use None",
            )),
            other => errors.push(Error::not_supported(&strategy, other, &["None", "Webhook"])),
        }
    }
    errors
}

/// `ValidateCustomResourceDefinitionNames`.
fn validate_names(names: &CustomResourceDefinitionNames, path: &Path) -> ErrorList {
    let mut errors = Vec::new();
    let lowercase_label = |value: &str, field: &Path, errors: &mut ErrorList| {
        for message in is_dns1035_label(value) {
            errors.push(Error::invalid(field, value, message));
        }
    };
    if names.plural.is_empty() {
        errors.push(Error::required(&path.child("plural"), ""));
    } else {
        lowercase_label(&names.plural, &path.child("plural"), &mut errors);
    }
    if let Some(singular) = names.singular.as_deref().filter(|s| !s.is_empty()) {
        lowercase_label(singular, &path.child("singular"), &mut errors);
    }
    let mixed_case = |value: &str, field: &Path, errors: &mut ErrorList| {
        for message in is_dns1035_label(&value.to_lowercase()) {
            errors.push(Error::invalid(
                field,
                value,
                format!("may have mixed case, but should otherwise match: {message}"),
            ));
        }
    };
    if names.kind.is_empty() {
        errors.push(Error::required(&path.child("kind"), ""));
    } else {
        mixed_case(&names.kind, &path.child("kind"), &mut errors);
    }
    if let Some(list_kind) = names.list_kind.as_deref() {
        if list_kind.is_empty() {
            errors.push(Error::required(&path.child("listKind"), ""));
        } else {
            mixed_case(list_kind, &path.child("listKind"), &mut errors);
            if list_kind == names.kind {
                errors.push(Error::invalid(
                    &path.child("listKind"),
                    list_kind,
                    "kind and listKind may not be the same or parsing become ambiguous",
                ));
            }
        }
    }
    for (index, short) in names.short_names.iter().flatten().enumerate() {
        lowercase_label(short, &path.child("shortNames").index(index), &mut errors);
    }
    for (index, category) in names.categories.iter().flatten().enumerate() {
        lowercase_label(
            category,
            &path.child("categories").index(index),
            &mut errors,
        );
    }
    errors
}

fn validate_versions(versions: &[CustomResourceDefinitionVersion], path: &Path) -> ErrorList {
    let mut errors = Vec::new();
    if versions.is_empty() {
        errors.push(Error::required(
            path,
            "must have exactly one version marked as storage version",
        ));
        return errors;
    }
    let storage = versions.iter().filter(|v| v.storage).count();
    if storage != 1 {
        errors.push(Error::invalid(
            path,
            serde_json::to_value(versions.iter().map(|v| &v.name).collect::<Vec<_>>())
                .unwrap_or_default(),
            "must have exactly one version marked as storage version",
        ));
    }
    if !versions.iter().any(|v| v.served) {
        errors.push(Error::invalid(
            path,
            serde_json::to_value(versions.iter().map(|v| &v.name).collect::<Vec<_>>())
                .unwrap_or_default(),
            "must have at least one version marked as served",
        ));
    }
    let mut seen = HashSet::new();
    for (index, version) in versions.iter().enumerate() {
        let at = path.index(index);
        if version.name.is_empty() {
            errors.push(Error::required(&at.child("name"), ""));
        } else {
            for message in is_dns1035_label(&version.name) {
                errors.push(Error::invalid(
                    &at.child("name"),
                    version.name.as_str(),
                    message,
                ));
            }
            if !seen.insert(version.name.as_str()) {
                errors.push(Error::duplicate(&at.child("name"), version.name.as_str()));
            }
        }
        errors.extend(validate_version(version, &at));
    }
    errors
}

fn validate_version(version: &CustomResourceDefinitionVersion, path: &Path) -> ErrorList {
    let mut errors = Vec::new();
    let schema_path = path.child("schema").child("openAPIV3Schema");
    match version
        .schema
        .as_ref()
        .and_then(|s| s.open_api_v3_schema.as_ref())
    {
        None => errors.push(Error::required(&schema_path, "schemas are required")),
        Some(props) => {
            if let Err(schema_errors) = schema::compile(props, &schema_path) {
                errors.extend(schema_errors);
            }
        }
    }
    errors.extend(validate_selectable_fields(
        version.selectable_fields.as_deref().unwrap_or_default(),
        version
            .schema
            .as_ref()
            .and_then(|s| s.open_api_v3_schema.as_ref()),
        &path.child("selectableFields"),
    ));
    for (index, column) in version
        .additional_printer_columns
        .iter()
        .flatten()
        .enumerate()
    {
        errors.extend(validate_column(
            column,
            &path.child("additionalPrinterColumns").index(index),
        ));
    }
    if let Some(scale) = version.subresources.as_ref().and_then(|s| s.scale.as_ref()) {
        let scale_path = path.child("subresources").child("scale");
        for (field, value, under) in [
            (
                "specReplicasPath",
                Some(&scale.spec_replicas_path),
                ".spec.",
            ),
            (
                "statusReplicasPath",
                Some(&scale.status_replicas_path),
                ".status.",
            ),
            ("labelSelectorPath", scale.label_selector_path.as_ref(), ""),
        ] {
            let Some(value) = value else { continue };
            let simple = value.starts_with('.')
                && value[1..].split('.').all(|part| {
                    !part.is_empty()
                        && part
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                });
            if value.is_empty() {
                errors.push(Error::required(&scale_path.child(field), ""));
            } else if !simple || !value.starts_with(under) {
                let detail = if under.is_empty() {
                    "should be a json path under either .spec or .status".to_string()
                } else {
                    format!(
                        "should be a json path under {}",
                        under.trim_end_matches('.')
                    )
                };
                errors.push(Error::invalid(
                    &scale_path.child(field),
                    value.as_str(),
                    detail,
                ));
            }
        }
    }
    errors
}

impl Strategy for CustomResourceDefinitionStrategy {
    type Object = CustomResourceDefinition;

    fn names(&self) -> &ResourceNames {
        &CUSTOM_RESOURCE_DEFINITION_INFO
    }

    fn key_prefix(&self) -> String {
        CUSTOM_RESOURCE_DEFINITION_PREFIX.to_string()
    }

    fn status(&self) -> Option<&dyn StatusStrategy<CustomResourceDefinition>> {
        Some(self)
    }

    /// Defaults, no status (the controller sets it), and the cleanup
    /// finalizer, so a deleted definition stays until its objects are gone.
    fn prepare_for_create(&self, crd: &mut CustomResourceDefinition) {
        crd.status = None;
        default_spec(&mut crd.spec);
        let finalizers = crd.metadata.finalizers.get_or_insert_with(Vec::new);
        if !finalizers.iter().any(|f| f == CLEANUP_FINALIZER) {
            finalizers.push(CLEANUP_FINALIZER.to_string());
        }
    }

    fn prepare_for_update(
        &self,
        new: &mut CustomResourceDefinition,
        old: &CustomResourceDefinition,
    ) {
        new.status = old.status.clone();
        default_spec(&mut new.spec);
    }

    fn warnings(&self, crd: &CustomResourceDefinition) -> Vec<String> {
        unenforced_rule_warnings(crd)
    }

    fn validate(&self, crd: &CustomResourceDefinition) -> ErrorList {
        validate_custom_resource_definition(crd)
    }

    fn validate_update(
        &self,
        new: &CustomResourceDefinition,
        old: &CustomResourceDefinition,
    ) -> ErrorList {
        validate_custom_resource_definition_update(new, old)
    }

    fn tracks_generation(&self) -> bool {
        true
    }

    fn spec_changed(&self, new: &CustomResourceDefinition, old: &CustomResourceDefinition) -> bool {
        new.spec != old.spec
    }
}

impl StatusStrategy<CustomResourceDefinition> for CustomResourceDefinitionStrategy {
    fn prepare_for_status_update(
        &self,
        new: &mut CustomResourceDefinition,
        old: &CustomResourceDefinition,
    ) {
        new.spec = old.spec.clone();
    }
}

/// A warning for each version whose schema carries CEL rules
/// (`x-kubernetes-validations`) under `allOf`, `anyOf`, `oneOf` or `not`:
/// the definition is accepted, as upstream accepts it, but this apiserver
/// evaluates only the rules of the structural schema, and a client relying
/// on the others should hear so.
fn unenforced_rule_warnings(crd: &CustomResourceDefinition) -> Vec<String> {
    crd.spec
        .versions
        .iter()
        .enumerate()
        .filter_map(|(index, version)| {
            let schema = version.schema.as_ref()?.open_api_v3_schema.as_ref()?;
            let rules = count_combined_rules(schema);
            (rules > 0).then(|| {
                format!(
                    "spec.versions[{index}].schema.openAPIV3Schema: {rules} x-kubernetes-validations rule(s) under allOf, anyOf, oneOf or not are not enforced: this apiserver evaluates the rules of the structural schema only"
                )
            })
        })
        .collect()
}

/// The schemas directly below `schema` in its structure: properties,
/// items, additional properties.
fn structural_children(schema: &JSONSchemaProps) -> impl Iterator<Item = &JSONSchemaProps> {
    let properties = schema.properties.iter().flat_map(|p| p.values());
    let items = match &schema.items {
        Some(JSONSchemaPropsOrArray::Schema(item)) => vec![item.as_ref()],
        Some(JSONSchemaPropsOrArray::Schemas(items)) => items.iter().collect(),
        None => Vec::new(),
    };
    let additional = match &schema.additional_properties {
        Some(JSONSchemaPropsOrBool::Schema(values)) => Some(values.as_ref()),
        _ => None,
    };
    properties.chain(items).chain(additional)
}

/// The schemas of `schema`'s `allOf`, `anyOf`, `oneOf` and `not`.
fn combined(schema: &JSONSchemaProps) -> impl Iterator<Item = &JSONSchemaProps> {
    [&schema.all_of, &schema.any_of, &schema.one_of]
        .into_iter()
        .flatten()
        .flatten()
        .chain(schema.not.as_deref())
}

/// The CEL rules anywhere in `schema` (its depth is bounded by the JSON
/// decoder's nesting limit).
fn count_rules(schema: &JSONSchemaProps) -> usize {
    let own = schema.x_kubernetes_validations.as_ref().map_or(0, Vec::len);
    own + structural_children(schema)
        .chain(combined(schema))
        .map(count_rules)
        .sum::<usize>()
}

/// The CEL rules in `schema` that sit under a combinator.
fn count_combined_rules(schema: &JSONSchemaProps) -> usize {
    structural_children(schema)
        .map(count_combined_rules)
        .sum::<usize>()
        + combined(schema).map(count_rules).sum::<usize>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn crd(value: serde_json::Value) -> CustomResourceDefinition {
        serde_json::from_value(value).unwrap()
    }

    fn widgets() -> serde_json::Value {
        json!({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.example.com"},
            "spec": {
                "group": "example.com",
                "scope": "Namespaced",
                "names": {"plural": "widgets", "kind": "Widget"},
                "versions": [{
                    "name": "v1", "served": true, "storage": true,
                    "schema": {"openAPIV3Schema": {"type": "object"}},
                }],
            },
        })
    }

    fn messages(errors: &ErrorList) -> Vec<String> {
        errors
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message()))
            .collect()
    }

    #[test]
    fn a_valid_definition_is_defaulted_and_finalized() {
        let mut definition = crd(widgets());
        CustomResourceDefinitionStrategy.prepare_for_create(&mut definition);
        assert_eq!(
            messages(&CustomResourceDefinitionStrategy.validate(&definition)),
            Vec::<String>::new()
        );
        assert_eq!(definition.spec.names.singular.as_deref(), Some("widget"));
        assert_eq!(
            definition.spec.names.list_kind.as_deref(),
            Some("WidgetList")
        );
        assert_eq!(
            definition.metadata.finalizers,
            Some(vec![CLEANUP_FINALIZER.to_string()])
        );
    }

    #[test]
    fn names_scope_versions_and_schemas_are_checked() {
        let mut value = widgets();
        value["metadata"]["name"] = json!("gadgets.example.com");
        value["spec"]["group"] = json!("example");
        value["spec"]["scope"] = json!("Global");
        value["spec"]["names"]["plural"] = json!("Widgets");
        value["spec"]["versions"][0]["storage"] = json!(false);
        value["spec"]["versions"][0]["schema"] = json!(null);
        let errors = messages(&validate_custom_resource_definition(&crd(value)));
        for expected in [
            r#"metadata.name: Invalid value: "gadgets.example.com": must be spec.names.plural+"."+spec.group"#,
            r#"spec.group: Invalid value: "example": should be a domain with at least one dot"#,
            r#"spec.scope: Unsupported value: "Global": supported values: "Cluster", "Namespaced""#,
            r#"spec.versions: Invalid value: ["v1"]: must have exactly one version marked as storage version"#,
            "spec.versions[0].schema.openAPIV3Schema: Required value: schemas are required",
        ] {
            assert!(
                errors.iter().any(|e| e == expected),
                "{expected}\nin {errors:#?}"
            );
        }
        assert!(
            errors.iter().any(|e| e
                .starts_with(r#"spec.names.plural: Invalid value: "Widgets": a DNS-1035 label"#)),
            "{errors:#?}"
        );
    }

    #[test]
    fn group_and_scope_are_immutable() {
        let old = crd(widgets());
        let mut value = widgets();
        value["spec"]["scope"] = json!("Cluster");
        let errors = messages(&validate_custom_resource_definition_update(
            &crd(value),
            &old,
        ));
        assert!(
            errors.contains(
                &r#"spec.scope: Invalid value: "Cluster": field is immutable"#.to_string()
            ),
            "{errors:#?}"
        );
    }
}
