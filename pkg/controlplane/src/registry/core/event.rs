//! Core (`v1`) events (`pkg/registry/core/event`): the legacy validation a
//! `v1` request gets (the involved object's namespace agrees with the
//! event's; new-style events with `eventTime` need the reporting fields),
//! and the fields `kubectl get events --field-selector` uses. Expiry
//! (`--event-ttl`) is handled by the event-TTL controller.

use k8s_openapi::api::core::v1::Event;

use apimachinery::validation::field::{Error, ErrorList, Path};
use apimachinery::validation::{is_dns1123_subdomain, is_qualified_name};
use apiserver::registry::strategy::{ResourceNames, Strategy};

/// `events`, `v1`.
pub static EVENT_INFO: ResourceNames = ResourceNames {
    group: "",
    version: "v1",
    kind: "Event",
    plural: "events",
    singular: "event",
    namespaced: true,
    short_names: &["ev"],
    categories: &[],
};

const SELECTABLE_FIELDS: &[&str] = &[
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
];

const REPORTING_INSTANCE_LENGTH_LIMIT: usize = 128;
const ACTION_LENGTH_LIMIT: usize = 128;
const REASON_LENGTH_LIMIT: usize = 128;
const NOTE_LENGTH_LIMIT: usize = 1024;

#[derive(Debug, Clone, Copy, Default)]
pub struct EventStrategy;

fn text(value: &Option<String>) -> &str {
    value.as_deref().unwrap_or("")
}

/// `legacyValidateEvent` for a `v1` request (what `ValidateEventCreate` and
/// `ValidateEventUpdate` check for the core group).
pub fn validate_event(event: &Event) -> ErrorList {
    let mut errors = Vec::new();
    let namespace = text(&event.metadata.namespace);
    let involved_namespace = text(&event.involved_object.namespace);
    let involved_path = Path::new("involvedObject").child("namespace");
    let mismatch = |errors: &mut ErrorList| {
        errors.push(Error::invalid(
            &involved_path,
            involved_namespace,
            "does not match event.namespace",
        ));
    };
    if event.event_time.is_none() {
        if involved_namespace.is_empty() {
            if !namespace.is_empty() && namespace != "default" {
                mismatch(&mut errors);
            }
        } else if namespace != involved_namespace {
            mismatch(&mut errors);
        }
    } else {
        if involved_namespace.is_empty() && namespace != "default" && namespace != "kube-system" {
            mismatch(&mut errors);
        }
        let controller = text(&event.reporting_component);
        let controller_path = Path::new("reportingComponent");
        if controller.is_empty() {
            errors.push(Error::required(&controller_path, ""));
        }
        for msg in is_qualified_name(controller) {
            errors.push(Error::invalid(&controller_path, controller, msg));
        }
        for (value, field, limit) in [
            (
                text(&event.reporting_instance),
                "reportingInstance",
                REPORTING_INSTANCE_LENGTH_LIMIT,
            ),
            (text(&event.action), "action", ACTION_LENGTH_LIMIT),
            (text(&event.reason), "reason", REASON_LENGTH_LIMIT),
        ] {
            if value.is_empty() {
                errors.push(Error::required(&Path::new(field), ""));
            }
            if value.len() > limit {
                errors.push(Error::invalid(
                    &Path::new(field),
                    "",
                    format!("can have at most {limit} characters"),
                ));
            }
        }
        if text(&event.message).len() > NOTE_LENGTH_LIMIT {
            errors.push(Error::invalid(
                &Path::new("message"),
                "",
                format!("can have at most {NOTE_LENGTH_LIMIT} characters"),
            ));
        }
    }
    for msg in is_dns1123_subdomain(namespace) {
        errors.push(Error::invalid(&Path::new("namespace"), namespace, msg));
    }
    errors
}

impl Strategy for EventStrategy {
    type Object = Event;

    fn table_columns(&self) -> &'static [apiserver::registry::table::ColumnDefinition] {
        crate::printers::core::event_columns()
    }

    fn table_row(
        &self,
        obj: &Self::Object,
        now: k8s_openapi::chrono::DateTime<k8s_openapi::chrono::Utc>,
    ) -> Vec<serde_json::Value> {
        crate::printers::core::event_row(obj, now)
    }

    fn names(&self) -> &ResourceNames {
        &EVENT_INFO
    }

    fn validate(&self, event: &Event) -> ErrorList {
        validate_event(event)
    }

    fn selectable_fields(&self, event: &Event) -> Vec<(&'static str, String)> {
        let involved = &event.involved_object;
        let owned = |value: &Option<String>| value.clone().unwrap_or_default();
        let mut source = event
            .source
            .as_ref()
            .map(|s| owned(&s.component))
            .unwrap_or_default();
        if source.is_empty() {
            source = owned(&event.reporting_component);
        }
        vec![
            ("involvedObject.kind", owned(&involved.kind)),
            ("involvedObject.namespace", owned(&involved.namespace)),
            ("involvedObject.name", owned(&involved.name)),
            ("involvedObject.uid", owned(&involved.uid)),
            ("involvedObject.apiVersion", owned(&involved.api_version)),
            (
                "involvedObject.resourceVersion",
                owned(&involved.resource_version),
            ),
            ("involvedObject.fieldPath", owned(&involved.field_path)),
            ("reason", owned(&event.reason)),
            ("reportingComponent", owned(&event.reporting_component)),
            ("source", source),
            ("type", owned(&event.type_)),
        ]
    }

    fn selectable_field_names(&self) -> &'static [&'static str] {
        SELECTABLE_FIELDS
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{EventSource, ObjectReference};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};

    fn event(namespace: &str, involved_namespace: Option<&str>) -> Event {
        Event {
            metadata: ObjectMeta {
                name: Some("web.17a".into()),
                namespace: Some(namespace.into()),
                ..Default::default()
            },
            involved_object: ObjectReference {
                kind: Some("Pod".into()),
                name: Some("web".into()),
                namespace: involved_namespace.map(str::to_string),
                ..Default::default()
            },
            reason: Some("Started".into()),
            type_: Some("Normal".into()),
            source: Some(EventSource {
                component: Some("kubelet".into()),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn messages(errors: &ErrorList) -> Vec<String> {
        errors.iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn involved_namespace_must_agree() {
        assert!(
            EventStrategy
                .validate(&event("apps", Some("apps")))
                .is_empty()
        );
        assert!(EventStrategy.validate(&event("default", None)).is_empty());
        assert_eq!(
            messages(&EventStrategy.validate(&event("apps", Some("other")))),
            vec![
                "involvedObject.namespace: Invalid value: \"other\": does not match event.namespace"
            ]
        );
        assert_eq!(EventStrategy.validate(&event("apps", None)).len(), 1);
    }

    #[test]
    fn new_style_events_need_reporting_fields() {
        let mut e = event("apps", Some("apps"));
        e.event_time = Some(MicroTime(Default::default()));
        assert_eq!(
            messages(&EventStrategy.validate(&e)),
            vec![
                "reportingComponent: Required value",
                "reportingComponent: Invalid value: \"\": name part must be non-empty",
                "reportingInstance: Required value",
                "action: Required value",
            ]
        );
    }

    #[test]
    fn selectable_fields_fall_back_to_reporting_component() {
        let mut e = event("apps", Some("apps"));
        let fields = EventStrategy.selectable_fields(&e);
        let names: Vec<&str> = fields.iter().map(|(name, _)| *name).collect();
        assert_eq!(names, SELECTABLE_FIELDS);
        assert!(fields.contains(&("source", "kubelet".to_string())));
        assert!(fields.contains(&("involvedObject.kind", "Pod".to_string())));
        e.source = None;
        e.reporting_component = Some("scheduler".into());
        assert!(
            EventStrategy
                .selectable_fields(&e)
                .contains(&("source", "scheduler".to_string()))
        );
    }
}
