//! Limit ranges (`pkg/registry/core/limitrange`): per-namespace bounds and
//! defaults of pods', containers' and claims' resources. Validated as
//! upstream validates them (one item per type, resource names the type
//! allows, `min <= defaultRequest <= default <= max`, a ratio of at least 1
//! that `max/min` allows, equal default and request where overcommit is not
//! allowed) and defaulted as upstream defaults a container item (the
//! default limit from `max`, the default request from the default limit,
//! else from `min`). The Table is the default convertor's (Name, Created
//! At), as upstream's. The LimitRanger admission plugin, which applies them
//! to pods, does not run in this server.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{LimitRange, LimitRangeItem};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use apimachinery::api::{name_is_dns_subdomain, validate_object_meta, validate_object_meta_update};
use apimachinery::validation::field::{Error, ErrorList, Path};
use apimachinery::validation::is_qualified_name;
use apiserver::registry::strategy::{ResourceNames, Strategy};

use super::pod::quantity::ParsedQuantity;
use super::pod::validation::{is_overcommit_allowed, validate_container_resource_name};
use super::resource_quota::validate_resource_name;

/// `limitranges`, `v1`.
pub static LIMIT_RANGE_INFO: ResourceNames = ResourceNames {
    group: "",
    version: "v1",
    kind: "LimitRange",
    plural: "limitranges",
    singular: "limitrange",
    namespaced: true,
    short_names: &["limits"],
    categories: &[],
};

/// The limit types Kubernetes defines (`IsStandardLimitRangeType`).
const LIMIT_TYPES: [&str; 3] = ["Pod", "Container", "PersistentVolumeClaim"];

#[derive(Debug, Clone, Copy, Default)]
pub struct LimitRangeStrategy;

/// `SetDefaults_LimitRangeItem`: a container item's default limit is its
/// max, its default request the default limit, else its min.
pub fn default_limit_range(range: &mut LimitRange) {
    let items = range
        .spec
        .as_mut()
        .into_iter()
        .flat_map(|spec| spec.limits.iter_mut());
    for item in items.filter(|item| item.type_ == "Container") {
        let mut defaults = item.default.take().unwrap_or_default();
        for (name, value) in item.max.iter().flatten() {
            defaults
                .entry(name.clone())
                .or_insert_with(|| value.clone());
        }
        let mut requests = item.default_request.take().unwrap_or_default();
        for (name, value) in defaults.iter().chain(item.min.iter().flatten()) {
            requests
                .entry(name.clone())
                .or_insert_with(|| value.clone());
        }
        item.default = (!defaults.is_empty()).then_some(defaults);
        item.default_request = (!requests.is_empty()).then_some(requests);
    }
}

/// `validateLimitRangeTypeName`.
fn validate_limit_type(value: &str, path: &Path) -> ErrorList {
    let errors: ErrorList = is_qualified_name(value)
        .into_iter()
        .map(|message| Error::invalid(path, value, message))
        .collect();
    if errors.is_empty() && !value.contains('/') && !LIMIT_TYPES.contains(&value) {
        return vec![Error::invalid(
            path,
            value,
            "must be a standard limit type or fully qualified",
        )];
    }
    errors
}

/// `validateLimitRangeResourceName`: container resources for pods and
/// containers, any known resource for the other types.
fn validate_limit_resource_name(limit_type: &str, name: &str, path: &Path) -> ErrorList {
    match limit_type {
        "Pod" | "Container" => validate_container_resource_name(name, path),
        _ => validate_resource_name(name, path),
    }
}

/// One bound of one resource: its text (as written) and value.
type Bound<'a> = Option<(&'a str, ParsedQuantity)>;

/// The item's quantities of one field, checked by name, with their values
/// (an unparsable quantity was refused when the object was decoded).
fn bounds<'a>(
    limit_type: &str,
    list: Option<&'a BTreeMap<String, Quantity>>,
    path: &Path,
    keys: &mut BTreeSet<&'a str>,
    errors: &mut ErrorList,
) -> BTreeMap<&'a str, (&'a str, ParsedQuantity)> {
    let mut parsed = BTreeMap::new();
    for (name, value) in list.into_iter().flatten() {
        errors.extend(validate_limit_resource_name(
            limit_type,
            name,
            &path.key(name),
        ));
        keys.insert(name);
        match ParsedQuantity::parse(&value.0) {
            Ok(quantity) => {
                parsed.insert(name.as_str(), (value.0.as_str(), quantity));
            }
            Err(message) => errors.push(Error::invalid(&path.key(name), value.0.as_str(), message)),
        }
    }
    parsed
}

fn bound_of<'a>(map: &BTreeMap<&str, (&'a str, ParsedQuantity)>, key: &str) -> Bound<'a> {
    map.get(key).copied()
}

fn text_of(bound: Bound<'_>) -> &str {
    bound.map_or("", |(text, _)| text)
}

/// `ValidateLimitRange`'s checks of one item but its type's.
fn validate_limit_range_item(item: &LimitRangeItem, path: &Path) -> ErrorList {
    let mut errors = Vec::new();
    let limit_type = item.type_.as_str();
    let mut keys = BTreeSet::new();
    let max = bounds(
        limit_type,
        item.max.as_ref(),
        &path.child("max"),
        &mut keys,
        &mut errors,
    );
    let min = bounds(
        limit_type,
        item.min.as_ref(),
        &path.child("min"),
        &mut keys,
        &mut errors,
    );
    let (defaults, requests) = if limit_type == "Pod" {
        for (list, field) in [
            (&item.default, "default"),
            (&item.default_request, "defaultRequest"),
        ] {
            if list.as_ref().is_some_and(|list| !list.is_empty()) {
                errors.push(Error::forbidden(
                    &path.child(field),
                    "may not be specified when `type` is 'Pod'",
                ));
            }
        }
        (BTreeMap::new(), BTreeMap::new())
    } else {
        let defaults = bounds(
            limit_type,
            item.default.as_ref(),
            &path.child("default"),
            &mut keys,
            &mut errors,
        );
        let requests = bounds(
            limit_type,
            item.default_request.as_ref(),
            &path.child("defaultRequest"),
            &mut keys,
            &mut errors,
        );
        (defaults, requests)
    };
    if limit_type == "PersistentVolumeClaim" {
        let has_storage = |list: &Option<BTreeMap<String, Quantity>>| {
            list.as_ref().is_some_and(|l| l.contains_key("storage"))
        };
        if !has_storage(&item.min) && !has_storage(&item.max) {
            errors.push(Error::required(
                &path.child("limits"),
                "either minimum or maximum storage value is required, but neither was provided",
            ));
        }
    }
    let ratios = bounds(
        limit_type,
        item.max_limit_request_ratio.as_ref(),
        &path.child("maxLimitRequestRatio"),
        &mut keys,
        &mut errors,
    );
    let one = ParsedQuantity::parse("1").unwrap_or_default();
    for key in keys {
        let get = |map| bound_of(map, key);
        let (min, max, default, request, ratio) = (
            get(&min),
            get(&max),
            get(&defaults),
            get(&requests),
            get(&ratios),
        );
        let greater = |a: Bound, b: Bound| matches!((a, b), (Some((_, a)), Some((_, b))) if a.cmp_value(b).is_gt());
        let text = text_of;
        let mut invalid = |field: &str, shown: Bound, detail: String| {
            errors.push(Error::invalid(
                &path.child(field).key(key),
                text(shown),
                detail,
            ));
        };
        if greater(min, max) {
            invalid(
                "min",
                min,
                format!(
                    "min value {} is greater than max value {}",
                    text(min),
                    text(max)
                ),
            );
        }
        if greater(min, request) {
            invalid(
                "defaultRequest",
                request,
                format!(
                    "min value {} is greater than default request value {}",
                    text(min),
                    text(request)
                ),
            );
        }
        if greater(request, max) {
            invalid(
                "defaultRequest",
                request,
                format!(
                    "default request value {} is greater than max value {}",
                    text(request),
                    text(max)
                ),
            );
        }
        if greater(request, default) {
            invalid(
                "defaultRequest",
                request,
                format!(
                    "default request value {} is greater than default limit value {}",
                    text(request),
                    text(default)
                ),
            );
        }
        if greater(min, default) {
            invalid(
                "default",
                min,
                format!(
                    "min value {} is greater than default value {}",
                    text(min),
                    text(default)
                ),
            );
        }
        if greater(default, max) {
            invalid(
                "default",
                max,
                format!(
                    "default value {} is greater than max value {}",
                    text(default),
                    text(max)
                ),
            );
        }
        if let Some((ratio_text, ratio_value)) = ratio {
            if ratio_value.cmp_value(one).is_lt() {
                invalid(
                    "maxLimitRequestRatio",
                    ratio,
                    format!("ratio {ratio_text} is less than 1"),
                );
            }
            if let (Some((_, min)), Some((_, max))) = (min, max) {
                let allowed = max.to_f64() / min.to_f64();
                if ratio_value.to_f64() > allowed {
                    invalid(
                        "maxLimitRequestRatio",
                        ratio,
                        format!("ratio {ratio_text} is greater than max/min = {allowed:.6}"),
                    );
                }
            }
        }
        if let (Some((default_text, default_value)), Some((request_text, request_value))) =
            (default, request)
            && !is_overcommit_allowed(key)
            && default_value.cmp_value(request_value).is_ne()
        {
            invalid(
                "defaultRequest",
                request,
                format!(
                    "default value {default_text} must equal to defaultRequest value {request_text} in {key}"
                ),
            );
        }
    }
    errors
}

/// `ValidateLimitRange`.
pub fn validate_limit_range(range: &LimitRange) -> ErrorList {
    let mut errors = validate_object_meta(
        &range.metadata,
        true,
        name_is_dns_subdomain,
        &Path::new("metadata"),
    );
    let path = Path::new("spec").child("limits");
    let mut types = BTreeSet::new();
    let items = range.spec.iter().flat_map(|spec| spec.limits.iter());
    for (index, item) in items.enumerate() {
        let item_path = path.index(index);
        errors.extend(validate_limit_type(&item.type_, &item_path.child("type")));
        if !types.insert(item.type_.as_str()) {
            errors.push(Error::duplicate(
                &item_path.child("type"),
                item.type_.as_str(),
            ));
        }
        errors.extend(validate_limit_range_item(item, &item_path));
    }
    errors
}

impl Strategy for LimitRangeStrategy {
    type Object = LimitRange;

    fn names(&self) -> &ResourceNames {
        &LIMIT_RANGE_INFO
    }

    fn prepare_for_create(&self, range: &mut LimitRange) {
        default_limit_range(range);
    }

    fn prepare_for_update(&self, new: &mut LimitRange, _old: &LimitRange) {
        default_limit_range(new);
    }

    fn validate(&self, range: &LimitRange) -> ErrorList {
        validate_limit_range(range)
    }

    fn validate_update(&self, new: &LimitRange, old: &LimitRange) -> ErrorList {
        let mut errors =
            validate_object_meta_update(&new.metadata, &old.metadata, &Path::new("metadata"));
        errors.extend(validate_limit_range(new));
        errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::LimitRangeSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn list(pairs: &[(&str, &str)]) -> Option<BTreeMap<String, Quantity>> {
        (!pairs.is_empty()).then(|| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), Quantity(v.to_string())))
                .collect()
        })
    }

    fn item(type_: &str) -> LimitRangeItem {
        LimitRangeItem {
            type_: type_.into(),
            ..Default::default()
        }
    }

    fn range(limits: Vec<LimitRangeItem>) -> LimitRange {
        LimitRange {
            metadata: ObjectMeta {
                name: Some("bounds".into()),
                namespace: Some("team-a".into()),
                ..Default::default()
            },
            spec: Some(LimitRangeSpec { limits }),
        }
    }

    fn messages(range: &LimitRange) -> Vec<String> {
        validate_limit_range(range)
            .iter()
            .map(|e| e.to_string())
            .collect()
    }

    #[test]
    fn container_items_default_from_max_default_and_min() {
        let mut container = item("Container");
        container.max = list(&[("cpu", "2"), ("memory", "1Gi")]);
        container.min = list(&[("cpu", "100m"), ("ephemeral-storage", "1Gi")]);
        container.default = list(&[("memory", "512Mi")]);
        let mut pod = item("Pod");
        pod.max = list(&[("cpu", "4")]);
        let mut defaulted = range(vec![container, pod]);
        default_limit_range(&mut defaulted);
        let limits = &defaulted.spec.as_ref().unwrap().limits;
        assert_eq!(
            limits[0].default,
            list(&[("cpu", "2"), ("memory", "512Mi")])
        );
        assert_eq!(
            limits[0].default_request,
            list(&[
                ("cpu", "2"),
                ("ephemeral-storage", "1Gi"),
                ("memory", "512Mi")
            ])
        );
        assert_eq!(
            limits[1].default, None,
            "only container items are defaulted"
        );
        assert_eq!(messages(&defaulted), Vec::<String>::new());
    }

    #[test]
    fn bounds_are_ordered_and_named_for_their_type() {
        let mut container = item("Container");
        container.min = list(&[("cpu", "2")]);
        container.max = list(&[("cpu", "1")]);
        container.max_limit_request_ratio = list(&[("memory", "500m")]);
        let mut pod = item("Pod");
        pod.default = list(&[("cpu", "1")]);
        let mut claim = item("PersistentVolumeClaim");
        claim.max = list(&[("cpu", "1")]);
        let errors = messages(&range(vec![
            container,
            pod,
            claim,
            item("Container"),
            item("Node"),
        ]));
        let expect = [
            "spec.limits[0].min[cpu]: Invalid value: \"2\": min value 2 is greater than max value 1",
            "spec.limits[0].maxLimitRequestRatio[memory]: Invalid value: \"500m\": ratio 500m is less than 1",
            "spec.limits[1].default: Forbidden: may not be specified when `type` is 'Pod'",
            "spec.limits[2].limits: Required value: either minimum or maximum storage value is required, but neither was provided",
            "spec.limits[3].type: Duplicate value: \"Container\"",
            "spec.limits[4].type: Invalid value: \"Node\": must be a standard limit type or fully qualified",
        ];
        assert_eq!(errors, expect);
    }

    #[test]
    fn ratios_fit_max_over_min_and_fixed_resources_default_to_their_request() {
        let mut container = item("Container");
        container.min = list(&[("memory", "100Mi")]);
        container.max = list(&[("memory", "200Mi")]);
        container.max_limit_request_ratio = list(&[("memory", "3")]);
        container.default = list(&[("example.com/gpu", "2")]);
        container.default_request = list(&[("example.com/gpu", "1")]);
        let errors = messages(&range(vec![container]));
        assert_eq!(
            errors,
            [
                "spec.limits[0].defaultRequest[example.com/gpu]: Invalid value: \"1\": default value 2 must equal to defaultRequest value 1 in example.com/gpu",
                "spec.limits[0].maxLimitRequestRatio[memory]: Invalid value: \"3\": ratio 3 is greater than max/min = 2.000000",
            ]
        );
    }
}
