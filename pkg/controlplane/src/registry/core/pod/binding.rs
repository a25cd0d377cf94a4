//! `pods/binding` (`pkg/registry/core/pod/storage.BindingREST`): what a
//! scheduler posts to put a pod on a node. The pod gets `spec.nodeName`,
//! the binding's annotations and a true `PodScheduled` condition, in one
//! compare-and-swap write that refuses a pod already bound, being deleted
//! or still gated (409, as upstream's `pods/binding` conflict). The answer
//! is a success `Status`.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Binding, Pod, PodCondition, PodStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use apimachinery::validation::field::{Error, ErrorList, Path};
use apiserver::authentication::UserInfo;
use apiserver::registry::rest::Subresource;
use apiserver::registry::subresource::{Created, NamedCreate};
use apiserver::registry::table::current_time;
use apiserver::registry::{ResourceInfo, RestStorage, Store};
use apiserver::status::Status;

use super::PodStrategy;

/// The binding subresource over the pods' store.
pub struct BindingRest {
    pub pods: Arc<Store<PodStrategy>>,
}

/// `ValidatePodBinding`: the target is a node (kind `Node` or empty) with
/// a name.
pub fn validate_pod_binding(binding: &Binding) -> ErrorList {
    let mut errors = Vec::new();
    let target = Path::new("target");
    if let Some(kind) = binding
        .target
        .kind
        .as_deref()
        .filter(|k| !k.is_empty() && *k != "Node")
    {
        errors.push(Error::not_supported(
            &target.child("kind"),
            kind,
            &["Node", "<empty>"],
        ));
    }
    if binding
        .target
        .name
        .as_deref()
        .unwrap_or_default()
        .is_empty()
    {
        errors.push(Error::required(&target.child("name"), ""));
    }
    errors
}

/// The pod bound to `node`, or why it cannot be.
fn bind(current: &Pod, node: &str, binding: &Binding) -> Result<Pod, String> {
    let name = current.metadata.name.as_deref().unwrap_or_default();
    if current.metadata.deletion_timestamp.is_some() {
        return Err(format!(
            "pod {name} is being deleted, cannot be assigned to a host"
        ));
    }
    let spec = current.spec.clone().unwrap_or_default();
    if let Some(bound) = spec.node_name.as_deref().filter(|n| !n.is_empty()) {
        return Err(format!("pod {name} is already assigned to node {bound:?}"));
    }
    if !spec
        .scheduling_gates
        .as_deref()
        .unwrap_or_default()
        .is_empty()
    {
        return Err(format!("pod {name} has non-empty .spec.schedulingGates"));
    }
    let mut pod = current.clone();
    let spec = pod.spec.get_or_insert_with(Default::default);
    spec.node_name = Some(node.to_string());
    if let Some(annotations) = &binding.metadata.annotations {
        pod.metadata
            .annotations
            .get_or_insert_with(Default::default)
            .extend(annotations.clone());
    }
    set_scheduled(pod.status.get_or_insert_with(PodStatus::default));
    Ok(pod)
}

/// `UpdatePodCondition` with `PodScheduled=True`: the transition time
/// moves only when the status changes.
fn set_scheduled(status: &mut PodStatus) {
    let conditions = status.conditions.get_or_insert_with(Vec::new);
    let scheduled = PodCondition {
        type_: "PodScheduled".into(),
        status: "True".into(),
        last_transition_time: Some(Time(current_time())),
        ..Default::default()
    };
    match conditions.iter_mut().find(|c| c.type_ == "PodScheduled") {
        Some(existing) if existing.status == "True" => {
            let since = existing.last_transition_time.clone();
            *existing = PodCondition {
                last_transition_time: since,
                ..scheduled
            };
        }
        Some(existing) => *existing = scheduled,
        None => conditions.push(scheduled),
    }
}

#[async_trait::async_trait]
impl NamedCreate for BindingRest {
    type Object = Binding;
    type Answer = Status;

    fn parent(&self) -> &ResourceInfo {
        self.pods.info()
    }

    fn subresource(&self) -> &'static str {
        "binding"
    }

    async fn create(
        &self,
        namespace: Option<&str>,
        name: &str,
        _user: &UserInfo,
        binding: Binding,
        dry_run: bool,
    ) -> Result<Created<Status>, Status> {
        if binding.metadata.name.as_deref() != Some(name) {
            return Err(Status::bad_request(
                "name in URL does not match name in Binding object",
            ));
        }
        let errors = validate_pod_binding(&binding);
        if !errors.is_empty() {
            return Err(Status::invalid("", "Binding", name, &errors));
        }
        let node = binding.target.name.clone().unwrap_or_default();
        self.pods
            .update_object(namespace, name, Subresource::System, dry_run, |current| {
                bind(current, &node, &binding)
                    .map_err(|why| Status::conflict("", "pods/binding", name, &why))
            })
            .await?;
        let mut answer = Status::success(Default::default());
        answer.details = None;
        answer.code = http::StatusCode::CREATED.as_u16();
        Ok(answer.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{ObjectReference, PodSchedulingGate, PodSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn binding(kind: Option<&str>, node: &str) -> Binding {
        Binding {
            metadata: ObjectMeta {
                name: Some("web".into()),
                annotations: Some([("scheduler".to_string(), "mine".to_string())].into()),
                ..Default::default()
            },
            target: ObjectReference {
                kind: kind.map(str::to_string),
                name: Some(node.to_string()),
                ..Default::default()
            },
        }
    }

    fn pod(spec: PodSpec) -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some("web".into()),
                ..Default::default()
            },
            spec: Some(spec),
            status: Some(PodStatus {
                phase: Some("Pending".into()),
                ..Default::default()
            }),
        }
    }

    #[test]
    fn the_target_is_a_named_node() {
        assert!(validate_pod_binding(&binding(Some("Node"), "n1")).is_empty());
        assert!(validate_pod_binding(&binding(None, "n1")).is_empty());
        let errors: Vec<String> = validate_pod_binding(&binding(Some("Pod"), ""))
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            errors,
            [
                "target.kind: Unsupported value: \"Pod\": supported values: \"Node\", \"<empty>\"",
                "target.name: Required value",
            ]
        );
    }

    #[test]
    fn binding_sets_the_node_annotations_and_scheduled_condition() {
        let bound = bind(&pod(PodSpec::default()), "n1", &binding(None, "n1")).expect("bound");
        assert_eq!(
            bound.spec.as_ref().unwrap().node_name.as_deref(),
            Some("n1")
        );
        assert_eq!(
            bound.metadata.annotations.as_ref().unwrap()["scheduler"],
            "mine"
        );
        let conditions = bound.status.as_ref().unwrap().conditions.as_ref().unwrap();
        assert_eq!(conditions.len(), 1);
        assert_eq!(
            (conditions[0].type_.as_str(), conditions[0].status.as_str()),
            ("PodScheduled", "True")
        );
        assert!(conditions[0].last_transition_time.is_some());
    }

    #[test]
    fn a_bound_gated_or_deleted_pod_is_refused() {
        let bound = pod(PodSpec {
            node_name: Some("n0".into()),
            ..Default::default()
        });
        assert_eq!(
            bind(&bound, "n1", &binding(None, "n1")).unwrap_err(),
            "pod web is already assigned to node \"n0\""
        );
        let gated = pod(PodSpec {
            scheduling_gates: Some(vec![PodSchedulingGate {
                name: "wait".into(),
            }]),
            ..Default::default()
        });
        assert_eq!(
            bind(&gated, "n1", &binding(None, "n1")).unwrap_err(),
            "pod web has non-empty .spec.schedulingGates"
        );
        let mut deleted = pod(PodSpec::default());
        deleted.metadata.deletion_timestamp = Some(Time(current_time()));
        assert_eq!(
            bind(&deleted, "n1", &binding(None, "n1")).unwrap_err(),
            "pod web is being deleted, cannot be assigned to a host"
        );
    }
}
