//! Resource quotas (`pkg/registry/core/resourcequota`): hard limits per
//! namespace on compute resources and object counts, with the scopes that
//! narrow which pods count. Checked as upstream checks them (resource names
//! quota knows, non-negative and, for counts, whole quantities, scopes that
//! fit the limited resources and do not conflict, scopes fixed after
//! create); the status is written only through `/status`. What is used is
//! not counted here: no quota controller runs in this server, so `status`
//! holds what a client writes.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ResourceQuota, ResourceQuotaSpec, ResourceQuotaStatus};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::chrono::{DateTime, Utc};

use apimachinery::api::{
    IS_NEGATIVE_ERROR_MSG, name_is_dns_subdomain, validate_object_meta, validate_object_meta_update,
};
use apimachinery::validation::field::{Error, ErrorList, Path};
use apimachinery::validation::is_qualified_name;
use apiserver::registry::strategy::{ResourceNames, StatusStrategy, Strategy};
use apiserver::registry::table::ColumnDefinition;

use super::pod::quantity::ParsedQuantity;

/// `resourcequotas`, `v1`.
pub static RESOURCE_QUOTA_INFO: ResourceNames = ResourceNames {
    group: "",
    version: "v1",
    kind: "ResourceQuota",
    plural: "resourcequotas",
    singular: "resourcequota",
    namespaced: true,
    short_names: &["quota"],
    categories: &[],
};

/// The resources the quota system tracks (`standardQuotaResources`), beside
/// huge pages and `count/<resource>.<group>`.
const STANDARD_QUOTA_RESOURCES: [&str; 19] = [
    "cpu",
    "memory",
    "ephemeral-storage",
    "requests.cpu",
    "requests.memory",
    "requests.storage",
    "requests.ephemeral-storage",
    "limits.cpu",
    "limits.memory",
    "limits.ephemeral-storage",
    "pods",
    "resourcequotas",
    "services",
    "replicationcontrollers",
    "secrets",
    "persistentvolumeclaims",
    "configmaps",
    "services.nodeports",
    "services.loadbalancers",
];

/// The one resource name Kubernetes knows (`standardResources`) that quota
/// does not track.
const STANDARD_RESOURCES_BEYOND_QUOTA: [&str; 1] = ["storage"];

/// Resources counted in whole units (`integerResources`).
const INTEGER_RESOURCES: [&str; 9] = [
    "pods",
    "resourcequotas",
    "services",
    "replicationcontrollers",
    "secrets",
    "configmaps",
    "persistentvolumeclaims",
    "services.nodeports",
    "services.loadbalancers",
];

/// The scopes a quota may name (`IsStandardResourceQuotaScope`).
const QUOTA_SCOPES: [&str; 6] = [
    "Terminating",
    "NotTerminating",
    "BestEffort",
    "NotBestEffort",
    "PriorityClass",
    "CrossNamespacePodAffinity",
];

/// What a pod-narrowing scope can limit (`podObjectCountQuotaResources` and
/// `podComputeQuotaResources`).
const POD_QUOTA_RESOURCES: [&str; 7] = [
    "pods",
    "cpu",
    "memory",
    "limits.cpu",
    "limits.memory",
    "requests.cpu",
    "requests.memory",
];

/// Scopes that cannot be used together.
const CONFLICTING_SCOPES: [(&str, &str); 2] = [
    ("BestEffort", "NotBestEffort"),
    ("Terminating", "NotTerminating"),
];

const UNSUPPORTED_SCOPE_FOR_RESOURCE: &str = "unsupported scope applied to resource";

#[derive(Debug, Clone, Copy, Default)]
pub struct ResourceQuotaStrategy;

fn is_quota_huge_page_resource(name: &str) -> bool {
    name.starts_with("hugepages-") || name.starts_with("requests.hugepages-")
}

/// `IsStandardQuotaResourceName`.
fn is_standard_quota_resource(name: &str) -> bool {
    STANDARD_QUOTA_RESOURCES.contains(&name) || is_quota_huge_page_resource(name)
}

/// `IsExtendedResourceName`: outside `kubernetes.io/`, not a `requests.`
/// name, and valid as `requests.<name>`.
fn is_extended_resource(name: &str) -> bool {
    let native = !name.contains('/') || name.contains("kubernetes.io/");
    !native
        && !name.starts_with("requests.")
        && is_qualified_name(&format!("requests.{name}")).is_empty()
}

/// `IsIntegerResourceName`.
fn is_integer_resource(name: &str) -> bool {
    INTEGER_RESOURCES.contains(&name) || is_extended_resource(name)
}

/// `validateResourceName`: a qualified name; without a domain, one
/// Kubernetes knows.
pub(crate) fn validate_resource_name(name: &str, path: &Path) -> ErrorList {
    let errors: ErrorList = is_qualified_name(name)
        .into_iter()
        .map(|message| Error::invalid(path, name, message))
        .collect();
    let known = is_standard_quota_resource(name) || STANDARD_RESOURCES_BEYOND_QUOTA.contains(&name);
    if errors.is_empty() && !name.contains('/') && !known {
        return vec![Error::invalid(
            path,
            name,
            "must be a standard resource type or fully qualified",
        )];
    }
    errors
}

/// `ValidateResourceQuotaResourceName`: a valid resource name; without a
/// domain, one quota tracks.
fn validate_quota_resource_name(name: &str, path: &Path) -> ErrorList {
    let mut errors = validate_resource_name(name, path);
    if !name.contains('/') && !is_standard_quota_resource(name) {
        errors.push(Error::invalid(
            path,
            name,
            "must be a standard resource for quota",
        ));
    }
    errors
}

/// `ValidateResourceQuantityValue`: not negative; whole for counted
/// resources.
fn validate_quota_quantity(name: &str, value: &Quantity, path: &Path) -> ErrorList {
    let quantity = match ParsedQuantity::parse(&value.0) {
        Ok(quantity) => quantity,
        Err(message) => return vec![Error::invalid(path, value.0.as_str(), message)],
    };
    let mut errors = Vec::new();
    if quantity.is_negative() {
        errors.push(Error::invalid(
            path,
            value.0.as_str(),
            IS_NEGATIVE_ERROR_MSG,
        ));
    }
    if is_integer_resource(name) && !quantity.is_integer() {
        errors.push(Error::invalid(path, value.0.as_str(), "must be an integer"));
    }
    errors
}

fn validate_resource_list(
    resources: Option<&BTreeMap<String, Quantity>>,
    path: &Path,
) -> ErrorList {
    let mut errors = Vec::new();
    for (name, value) in resources.into_iter().flatten() {
        let path = path.key(name);
        errors.extend(validate_quota_resource_name(name, &path));
        errors.extend(validate_quota_quantity(name, value, &path));
    }
    errors
}

/// Whether `scope` may limit `resource` (`IsResourceQuotaScopeValidForResource`).
fn scope_fits_resource(scope: &str, resource: &str) -> bool {
    match scope {
        "Terminating"
        | "NotTerminating"
        | "NotBestEffort"
        | "PriorityClass"
        | "CrossNamespacePodAffinity" => POD_QUOTA_RESOURCES.contains(&resource),
        "BestEffort" => resource == "pods",
        _ => true,
    }
}

/// What is wrong with a list of scopes, in upstream's order: per scope, an
/// unknown name, then one finding per limited resource it cannot narrow;
/// last, whether it names both scopes of a conflicting pair.
#[derive(Debug, PartialEq, Eq)]
enum ScopeFinding<'a> {
    Unsupported(&'a str),
    Misapplied,
    Conflicting,
}

fn scope_findings<'a>(
    scopes: impl IntoIterator<Item = &'a str>,
    hard: Option<&BTreeMap<String, Quantity>>,
) -> Vec<ScopeFinding<'a>> {
    let mut findings = Vec::new();
    let mut seen = Vec::new();
    for scope in scopes {
        if !QUOTA_SCOPES.contains(&scope) {
            findings.push(ScopeFinding::Unsupported(scope));
        }
        for resource in hard.into_iter().flat_map(|hard| hard.keys()) {
            if is_standard_quota_resource(resource) && !scope_fits_resource(scope, resource) {
                findings.push(ScopeFinding::Misapplied);
            }
        }
        seen.push(scope);
    }
    for (a, b) in CONFLICTING_SCOPES {
        if seen.contains(&a) && seen.contains(&b) {
            findings.push(ScopeFinding::Conflicting);
        }
    }
    findings
}

/// `validateResourceQuotaScopes` and `validateScopeSelector`.
fn validate_scopes(spec: &ResourceQuotaSpec, path: &Path) -> ErrorList {
    let mut errors = Vec::new();
    let hard = spec.hard.as_ref();
    let scopes = spec.scopes.as_deref().unwrap_or_default();
    if !scopes.is_empty() {
        let scopes_path = path.child("scopes");
        let shown = serde_json::json!(scopes);
        errors.extend(
            scope_findings(scopes.iter().map(String::as_str), hard)
                .into_iter()
                .map(|finding| {
                    let detail = match finding {
                        ScopeFinding::Unsupported(_) => "unsupported scope",
                        ScopeFinding::Misapplied => UNSUPPORTED_SCOPE_FOR_RESOURCE,
                        ScopeFinding::Conflicting => "conflicting scopes",
                    };
                    Error::invalid(&scopes_path, shown.clone(), detail)
                }),
        );
    }
    let Some(selector) = &spec.scope_selector else {
        return errors;
    };
    let path = path.child("scopeSelector").child("matchExpressions");
    let expressions = selector.match_expressions.as_deref().unwrap_or_default();
    let shown_selector = serde_json::to_value(selector).unwrap_or_default();
    for requirement in expressions {
        let scope = requirement.scope_name.as_str();
        let values = requirement.values.as_deref().unwrap_or_default();
        if matches!(
            scope,
            "BestEffort"
                | "NotBestEffort"
                | "Terminating"
                | "NotTerminating"
                | "CrossNamespacePodAffinity"
        ) && requirement.operator != "Exists"
        {
            errors.push(Error::invalid(
                &path.child("operator"),
                requirement.operator.as_str(),
                "must be 'Exist' when scope is any of ResourceQuotaScopeTerminating, \
                 ResourceQuotaScopeNotTerminating, ResourceQuotaScopeBestEffort, \
                 ResourceQuotaScopeNotBestEffort or ResourceQuotaScopeCrossNamespacePodAffinity",
            ));
        }
        match requirement.operator.as_str() {
            "In" | "NotIn" if values.is_empty() => errors.push(Error::required(
                &path.child("values"),
                "must be at least one value when `operator` is 'In' or 'NotIn' for scope selector",
            )),
            "Exists" | "DoesNotExist" if !values.is_empty() => errors.push(Error::invalid(
                &path.child("values"),
                serde_json::json!(values),
                "must be no value when `operator` is 'Exist' or 'DoesNotExist' for scope selector",
            )),
            "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
            other => errors.push(Error::invalid(
                &path.child("operator"),
                other,
                "not a valid selector operator",
            )),
        }
    }
    let findings = scope_findings(expressions.iter().map(|r| r.scope_name.as_str()), hard);
    errors.extend(findings.into_iter().map(|finding| match finding {
        ScopeFinding::Unsupported(scope) => {
            Error::invalid(&path.child("scopeName"), scope, "unsupported scope")
        }
        ScopeFinding::Misapplied => Error::invalid(
            &path,
            shown_selector.clone(),
            UNSUPPORTED_SCOPE_FOR_RESOURCE,
        ),
        // Upstream shows `spec.scopes` here, whatever it holds.
        ScopeFinding::Conflicting => {
            Error::invalid(&path, serde_json::json!(scopes), "conflicting scopes")
        }
    }));
    errors
}

/// `ValidateResourceQuotaSpec`.
fn validate_resource_quota_spec(spec: &ResourceQuotaSpec, path: &Path) -> ErrorList {
    let mut errors = validate_resource_list(spec.hard.as_ref(), &path.child("hard"));
    errors.extend(validate_scopes(spec, path));
    errors
}

/// `ValidateResourceQuotaStatus`.
fn validate_resource_quota_status(status: &ResourceQuotaStatus, path: &Path) -> ErrorList {
    let mut errors = validate_resource_list(status.hard.as_ref(), &path.child("hard"));
    errors.extend(validate_resource_list(
        status.used.as_ref(),
        &path.child("used"),
    ));
    errors
}

/// `ValidateResourceQuota`.
pub fn validate_resource_quota(quota: &ResourceQuota) -> ErrorList {
    let mut errors = validate_object_meta(
        &quota.metadata,
        true,
        name_is_dns_subdomain,
        &Path::new("metadata"),
    );
    errors.extend(validate_resource_quota_spec(
        &quota.spec.clone().unwrap_or_default(),
        &Path::new("spec"),
    ));
    errors.extend(validate_resource_quota_status(
        &quota.status.clone().unwrap_or_default(),
        &Path::new("status"),
    ));
    errors
}

/// `ValidateResourceQuotaUpdate` with the status checks of
/// `ValidateResourceQuotaStatusUpdate` (an update through `/status` keeps
/// the spec, so one function serves both): the scopes are immutable.
pub fn validate_resource_quota_update(new: &ResourceQuota, old: &ResourceQuota) -> ErrorList {
    let mut errors =
        validate_object_meta_update(&new.metadata, &old.metadata, &Path::new("metadata"));
    let new_spec = new.spec.clone().unwrap_or_default();
    errors.extend(validate_resource_quota_spec(&new_spec, &Path::new("spec")));
    let scope_set = |spec: Option<&ResourceQuotaSpec>| {
        spec.and_then(|s| s.scopes.clone())
            .unwrap_or_default()
            .into_iter()
            .collect::<std::collections::BTreeSet<String>>()
    };
    if scope_set(new.spec.as_ref()) != scope_set(old.spec.as_ref()) {
        errors.push(Error::invalid(
            &Path::new("spec").child("scopes"),
            serde_json::json!(new_spec.scopes.unwrap_or_default()),
            apimachinery::api::FIELD_IMMUTABLE_ERROR_MSG,
        ));
    }
    errors.extend(validate_resource_quota_status(
        &new.status.clone().unwrap_or_default(),
        &Path::new("status"),
    ));
    errors
}

impl Strategy for ResourceQuotaStrategy {
    type Object = ResourceQuota;

    fn names(&self) -> &ResourceNames {
        &RESOURCE_QUOTA_INFO
    }

    fn table_columns(&self) -> &'static [ColumnDefinition] {
        crate::printers::policy::resource_quota_columns()
    }

    fn table_row(&self, quota: &ResourceQuota, now: DateTime<Utc>) -> Vec<serde_json::Value> {
        crate::printers::policy::resource_quota_row(quota, now)
    }

    fn status(&self) -> Option<&dyn StatusStrategy<ResourceQuota>> {
        Some(self)
    }

    fn prepare_for_create(&self, quota: &mut ResourceQuota) {
        quota.status = None;
    }

    fn prepare_for_update(&self, new: &mut ResourceQuota, old: &ResourceQuota) {
        new.status = old.status.clone();
    }

    fn validate(&self, quota: &ResourceQuota) -> ErrorList {
        validate_resource_quota(quota)
    }

    fn validate_update(&self, new: &ResourceQuota, old: &ResourceQuota) -> ErrorList {
        validate_resource_quota_update(new, old)
    }
}

impl StatusStrategy<ResourceQuota> for ResourceQuotaStrategy {
    fn prepare_for_status_update(&self, new: &mut ResourceQuota, old: &ResourceQuota) {
        new.spec = old.spec.clone();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{ScopeSelector, ScopedResourceSelectorRequirement};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn quota(hard: &[(&str, &str)], scopes: &[&str]) -> ResourceQuota {
        ResourceQuota {
            metadata: ObjectMeta {
                name: Some("compute".into()),
                namespace: Some("team-a".into()),
                ..Default::default()
            },
            spec: Some(ResourceQuotaSpec {
                hard: Some(
                    hard.iter()
                        .map(|(k, v)| (k.to_string(), Quantity(v.to_string())))
                        .collect(),
                ),
                scopes: (!scopes.is_empty())
                    .then(|| scopes.iter().map(|s| s.to_string()).collect()),
                ..Default::default()
            }),
            status: None,
        }
    }

    fn messages(errors: ErrorList) -> Vec<String> {
        errors.iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn hard_limits_name_quota_resources_with_sound_quantities() {
        let good = quota(
            &[
                ("pods", "10"),
                ("requests.cpu", "500m"),
                ("limits.memory", "2Gi"),
                ("count/deployments.apps", "3"),
                ("requests.nvidia.com/gpu", "2"),
                ("requests.hugepages-2Mi", "1Gi"),
            ],
            &[],
        );
        assert_eq!(
            messages(validate_resource_quota(&good)),
            Vec::<String>::new()
        );

        let bad = quota(
            &[
                ("pods", "1.5"),
                ("cpu", "-1"),
                ("storage", "1Gi"),
                ("bogus", "1"),
                ("example.com/widgets", "500m"),
                ("memory", "lots"),
            ],
            &[],
        );
        let errors = messages(validate_resource_quota(&bad));
        let expect = [
            "spec.hard[pods]: Invalid value: \"1.5\": must be an integer",
            "spec.hard[cpu]: Invalid value: \"-1\": must be greater than or equal to 0",
            "spec.hard[storage]: Invalid value: \"storage\": must be a standard resource for quota",
            "spec.hard[bogus]: Invalid value: \"bogus\": must be a standard resource type or fully qualified",
            "spec.hard[bogus]: Invalid value: \"bogus\": must be a standard resource for quota",
            "spec.hard[example.com/widgets]: Invalid value: \"500m\": must be an integer",
            "spec.hard[memory]: Invalid value: \"lots\": quantities must match",
        ];
        for wanted in expect {
            assert!(
                errors.iter().any(|e| e.starts_with(wanted)),
                "{wanted} missing from {errors:#?}"
            );
        }
        assert_eq!(errors.len(), expect.len(), "{errors:#?}");
    }

    #[test]
    fn scopes_fit_what_they_limit_and_do_not_conflict() {
        let fine = quota(&[("pods", "5"), ("requests.cpu", "1")], &["NotBestEffort"]);
        assert!(validate_resource_quota(&fine).is_empty());
        let errors = messages(validate_resource_quota(&quota(
            &[("requests.cpu", "1")],
            &["BestEffort"],
        )));
        assert_eq!(
            errors,
            ["spec.scopes: Invalid value: [\"BestEffort\"]: unsupported scope applied to resource"]
        );
        let errors = messages(validate_resource_quota(&quota(
            &[("pods", "1")],
            &["Terminating", "NotTerminating", "Sometimes"],
        )));
        assert!(
            errors.iter().any(|e| e.ends_with(": unsupported scope")),
            "{errors:?}"
        );
        assert!(
            errors.iter().any(|e| e.ends_with(": conflicting scopes")),
            "{errors:?}"
        );

        let mut selected = quota(&[("pods", "4")], &[]);
        selected.spec.as_mut().unwrap().scope_selector = Some(ScopeSelector {
            match_expressions: Some(vec![
                ScopedResourceSelectorRequirement {
                    scope_name: "PriorityClass".into(),
                    operator: "In".into(),
                    values: Some(vec!["high".into()]),
                },
                ScopedResourceSelectorRequirement {
                    scope_name: "BestEffort".into(),
                    operator: "In".into(),
                    values: None,
                },
            ]),
        });
        let errors = messages(validate_resource_quota(&selected));
        assert!(
            errors.iter().any(|e| e.starts_with(
                "spec.scopeSelector.matchExpressions.operator: Invalid value: \"In\": must be 'Exist'"
            )),
            "{errors:?}"
        );
        assert!(
            errors.iter().any(|e| e.starts_with(
                "spec.scopeSelector.matchExpressions.values: Required value: must be at least one value"
            )),
            "{errors:?}"
        );
        assert_eq!(errors.len(), 2, "{errors:?}");
    }

    #[test]
    fn scopes_are_fixed_and_status_goes_through_its_subresource() {
        let strategy = ResourceQuotaStrategy;
        let mut old = quota(&[("pods", "5")], &["NotTerminating"]);
        old.metadata.resource_version = Some("7".into());
        let mut created = old.clone();
        created.status = Some(ResourceQuotaStatus {
            hard: Some([("pods".to_string(), Quantity("5".into()))].into()),
            used: None,
        });
        strategy.prepare_for_create(&mut created);
        assert_eq!(created.status, None, "status is cleared on create");

        let mut rescoped = quota(&[("pods", "6")], &["Terminating"]);
        rescoped.metadata.resource_version = Some("7".into());
        let errors = messages(strategy.validate_update(&rescoped, &old));
        assert_eq!(
            errors,
            ["spec.scopes: Invalid value: [\"Terminating\"]: field is immutable"]
        );

        old.status = Some(ResourceQuotaStatus {
            hard: Some([("pods".to_string(), Quantity("5".into()))].into()),
            used: Some([("pods".to_string(), Quantity("2".into()))].into()),
        });
        let mut update = quota(&[("pods", "9")], &["NotTerminating"]);
        update.status = None;
        strategy.prepare_for_update(&mut update, &old);
        assert_eq!(
            update.status, old.status,
            "the main resource keeps the status"
        );

        let mut status_update = quota(&[("pods", "100")], &[]);
        status_update.metadata.resource_version = Some("7".into());
        status_update.status = Some(ResourceQuotaStatus {
            hard: None,
            used: Some([("pods".to_string(), Quantity("-1".into()))].into()),
        });
        strategy.prepare_for_status_update(&mut status_update, &old);
        assert_eq!(status_update.spec, old.spec, "/status keeps the spec");
        let errors = messages(strategy.validate_update(&status_update, &old));
        assert_eq!(
            errors,
            ["status.used[pods]: Invalid value: \"-1\": must be greater than or equal to 0"]
        );
    }
}
