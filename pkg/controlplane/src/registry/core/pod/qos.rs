//! A pod's quality-of-service class (`qos.GetPodQOS`), set once on create:
//! `Guaranteed` when every container limits CPU and memory and requests
//! equal limits, `BestEffort` when nothing is requested or limited,
//! `Burstable` otherwise.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, PodSpec};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use super::quantity::ParsedQuantity;

const QOS_RESOURCES: [&str; 2] = ["cpu", "memory"];

/// Adds the positive CPU and memory amounts of `list` to `totals`; returns
/// which of the two were present.
fn add_positive(
    list: Option<&BTreeMap<String, Quantity>>,
    totals: &mut BTreeMap<&'static str, ParsedQuantity>,
) -> Vec<&'static str> {
    let mut found = Vec::new();
    for name in QOS_RESOURCES {
        let Some(value) = list.and_then(|l| l.get(name)) else {
            continue;
        };
        let Ok(quantity) = ParsedQuantity::parse(&value.0) else {
            continue;
        };
        if quantity.is_positive() {
            found.push(name);
            let total = totals.entry(name).or_default();
            *total = total.saturating_add(quantity);
        }
    }
    found
}

/// The QoS class of a pod with this spec (init containers count, ephemeral
/// ones do not).
pub fn pod_qos_class(spec: &PodSpec) -> &'static str {
    let mut requests = BTreeMap::new();
    let mut limits = BTreeMap::new();
    let mut guaranteed = true;
    let init = spec.init_containers.iter().flatten();
    let containers: Vec<&Container> = spec.containers.iter().chain(init).collect();
    for container in containers {
        let resources = container.resources.as_ref();
        add_positive(resources.and_then(|r| r.requests.as_ref()), &mut requests);
        let limited = add_positive(resources.and_then(|r| r.limits.as_ref()), &mut limits);
        if limited.len() != QOS_RESOURCES.len() {
            guaranteed = false;
        }
    }
    if requests.is_empty() && limits.is_empty() {
        return "BestEffort";
    }
    if guaranteed
        && requests.len() == limits.len()
        && requests
            .iter()
            .all(|(name, request)| limits.get(name) == Some(request))
    {
        return "Guaranteed";
    }
    "Burstable"
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ResourceRequirements;

    fn quantities(pairs: &[(&str, &str)]) -> Option<BTreeMap<String, Quantity>> {
        Some(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), Quantity(v.to_string())))
                .collect(),
        )
    }

    fn spec(requests: &[(&str, &str)], limits: &[(&str, &str)]) -> PodSpec {
        PodSpec {
            containers: vec![Container {
                name: "c".into(),
                resources: Some(ResourceRequirements {
                    requests: quantities(requests),
                    limits: quantities(limits),
                    ..Default::default()
                }),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn classes() {
        assert_eq!(pod_qos_class(&spec(&[], &[])), "BestEffort");
        assert_eq!(pod_qos_class(&spec(&[("cpu", "0")], &[])), "BestEffort");
        assert_eq!(pod_qos_class(&spec(&[("cpu", "100m")], &[])), "Burstable");
        assert_eq!(
            pod_qos_class(&spec(
                &[("cpu", "1"), ("memory", "1Gi")],
                &[("cpu", "1000m"), ("memory", "1024Mi")]
            )),
            "Guaranteed"
        );
        assert_eq!(
            pod_qos_class(&spec(
                &[("cpu", "500m"), ("memory", "1Gi")],
                &[("cpu", "1"), ("memory", "1Gi")]
            )),
            "Burstable"
        );
        assert_eq!(
            pod_qos_class(&spec(&[("cpu", "1")], &[("cpu", "1")])),
            "Burstable",
            "memory not limited"
        );
    }
}
