//! `events.k8s.io/v1` Events (`pkg/registry/events` over the core event
//! storage, as upstream): the same stored objects as core/v1 `events`,
//! converted field by field on every read and write (`regarding` is
//! `involvedObject`, `note` is `message`, `reportingController` is
//! `reportingComponent`, the `deprecated*` fields are the core ones), so a
//! controller's events show in `kubectl get events` and the other way
//! round. A create through this group gets upstream's strict validation
//! (`eventTime`, type, reporting fields, none of the deprecated fields).

use k8s_openapi::api::core::v1::{Event as CoreEvent, EventSeries as CoreEventSeries};
use k8s_openapi::api::events::v1::{Event, EventSeries};
use k8s_openapi::chrono::{DateTime, Utc};

use apimachinery::api::{name_is_dns_subdomain, validate_object_meta};
use apimachinery::validation::field::{Error, ErrorList, Path};
use apiserver::registry::strategy::{ResourceNames, Strategy};
use apiserver::registry::table::ColumnDefinition;

use crate::registry::core::event::validate_event;

/// `events`, `events.k8s.io/v1`: stored under core events' prefix.
pub static EVENTS_V1_INFO: ResourceNames = ResourceNames {
    group: "events.k8s.io",
    version: "v1",
    kind: "Event",
    plural: "events",
    singular: "event",
    namespaced: true,
    short_names: &["ev"],
    categories: &[],
};

const SELECTABLE_FIELDS: &[&str] = &[
    "regarding.kind",
    "regarding.namespace",
    "regarding.name",
    "regarding.uid",
    "regarding.apiVersion",
    "regarding.resourceVersion",
    "regarding.fieldPath",
    "reason",
    "reportingController",
    "type",
];

#[derive(Debug, Clone, Copy, Default)]
pub struct EventsV1Strategy;

/// `Convert_v1_Event_To_core_Event`.
pub fn to_core(event: &Event) -> CoreEvent {
    CoreEvent {
        metadata: event.metadata.clone(),
        involved_object: event.regarding.clone().unwrap_or_default(),
        related: event.related.clone(),
        message: event.note.clone(),
        reason: event.reason.clone(),
        type_: event.type_.clone(),
        action: event.action.clone(),
        event_time: event.event_time.clone(),
        series: event.series.as_ref().map(|series| CoreEventSeries {
            count: Some(series.count),
            last_observed_time: Some(series.last_observed_time.clone()),
        }),
        reporting_component: event.reporting_controller.clone(),
        reporting_instance: event.reporting_instance.clone(),
        count: event.deprecated_count,
        first_timestamp: event.deprecated_first_timestamp.clone(),
        last_timestamp: event.deprecated_last_timestamp.clone(),
        source: event.deprecated_source.clone(),
    }
}

/// `Convert_core_Event_To_v1_Event`.
pub fn from_core(event: CoreEvent) -> Event {
    let regarding = event.involved_object;
    Event {
        metadata: event.metadata,
        regarding: (regarding != Default::default()).then_some(regarding),
        related: event.related,
        note: event.message,
        reason: event.reason,
        type_: event.type_,
        action: event.action,
        event_time: event.event_time,
        series: event.series.and_then(|series| {
            Some(EventSeries {
                count: series.count.unwrap_or_default(),
                last_observed_time: series.last_observed_time?,
            })
        }),
        reporting_controller: event.reporting_component,
        reporting_instance: event.reporting_instance,
        deprecated_count: event.count,
        deprecated_first_timestamp: event.first_timestamp,
        deprecated_last_timestamp: event.last_timestamp,
        deprecated_source: event.source,
    }
}

/// `ValidateEventCreate` for an `events.k8s.io/v1` request: the legacy
/// rules, then the strict ones of the new API.
pub fn validate_event_create(event: &Event) -> ErrorList {
    let core = to_core(event);
    let mut errors = validate_event(&core);
    errors.extend(validate_object_meta(
        &event.metadata,
        true,
        name_is_dns_subdomain,
        &Path::new("metadata"),
    ));
    if let Some(series) = &event.series
        && series.count < 2
    {
        errors.push(Error::invalid(
            &Path::new("series").child("count"),
            "",
            "should be at least 2",
        ));
    }
    if event.event_time.is_none() {
        errors.push(Error::required(&Path::new("eventTime"), ""));
    }
    let kind = event.type_.as_deref().unwrap_or_default();
    if kind != "Normal" && kind != "Warning" {
        errors.push(Error::invalid(
            &Path::new("type"),
            "",
            format!("has invalid value: {kind}"),
        ));
    }
    for (set, field) in [
        (event.deprecated_first_timestamp.is_some(), "firstTimestamp"),
        (event.deprecated_last_timestamp.is_some(), "lastTimestamp"),
        (event.deprecated_count.is_some_and(|c| c != 0), "count"),
        (
            event.deprecated_source.as_ref().is_some_and(|s| {
                s.component.as_deref().is_some_and(|c| !c.is_empty())
                    || s.host.as_deref().is_some_and(|h| !h.is_empty())
            }),
            "source",
        ),
    ] {
        if set {
            errors.push(Error::invalid(&Path::new(field), "", "needs to be unset"));
        }
    }
    errors
}

impl Strategy for EventsV1Strategy {
    type Object = Event;

    fn names(&self) -> &ResourceNames {
        &EVENTS_V1_INFO
    }

    fn decode_stored(&self, bytes: &[u8]) -> Result<Event, String> {
        serde_json::from_slice::<CoreEvent>(bytes)
            .map(from_core)
            .map_err(|err| err.to_string())
    }

    fn encode_stored(&self, event: &Event) -> Result<Vec<u8>, String> {
        serde_json::to_vec(&to_core(event)).map_err(|err| err.to_string())
    }

    fn answers_stored_bytes(&self) -> bool {
        false
    }

    fn validate(&self, event: &Event) -> ErrorList {
        validate_event_create(event)
    }

    /// `ValidateEventUpdate` keeps the legacy rules for every version.
    fn validate_update(&self, new: &Event, _old: &Event) -> ErrorList {
        validate_event(&to_core(new))
    }

    fn selectable_fields(&self, event: &Event) -> Vec<(&'static str, String)> {
        let regarding = event.regarding.clone().unwrap_or_default();
        let owned = |value: Option<String>| value.unwrap_or_default();
        vec![
            ("regarding.kind", owned(regarding.kind)),
            ("regarding.namespace", owned(regarding.namespace)),
            ("regarding.name", owned(regarding.name)),
            ("regarding.uid", owned(regarding.uid)),
            ("regarding.apiVersion", owned(regarding.api_version)),
            (
                "regarding.resourceVersion",
                owned(regarding.resource_version),
            ),
            ("regarding.fieldPath", owned(regarding.field_path)),
            ("reason", owned(event.reason.clone())),
            (
                "reportingController",
                owned(event.reporting_controller.clone()),
            ),
            ("type", owned(event.type_.clone())),
        ]
    }

    fn selectable_field_names(&self) -> &'static [&'static str] {
        SELECTABLE_FIELDS
    }

    fn table_columns(&self) -> &'static [ColumnDefinition] {
        crate::printers::core::event_columns()
    }

    fn table_row(&self, event: &Event, now: DateTime<Utc>) -> Vec<serde_json::Value> {
        crate::printers::core::event_row(&to_core(event), now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ObjectReference;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, Time};
    use k8s_openapi::chrono::TimeZone;

    fn event() -> Event {
        let time = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        Event {
            metadata: ObjectMeta {
                name: Some("web.1".into()),
                namespace: Some("default".into()),
                ..ObjectMeta::default()
            },
            regarding: Some(ObjectReference {
                kind: Some("Pod".into()),
                name: Some("web".into()),
                namespace: Some("default".into()),
                ..ObjectReference::default()
            }),
            note: Some("pulled".into()),
            reason: Some("Pulled".into()),
            type_: Some("Normal".into()),
            action: Some("Pull".into()),
            event_time: Some(MicroTime(time)),
            reporting_controller: Some("example.com/puller".into()),
            reporting_instance: Some("puller-1".into()),
            series: Some(EventSeries {
                count: 3,
                last_observed_time: MicroTime(time),
            }),
            ..Event::default()
        }
    }

    #[test]
    fn conversion_round_trips_through_the_core_event() {
        let original = event();
        let core = to_core(&original);
        assert_eq!(core.involved_object.name.as_deref(), Some("web"));
        assert_eq!(core.message.as_deref(), Some("pulled"));
        assert_eq!(
            core.reporting_component.as_deref(),
            Some("example.com/puller")
        );
        assert_eq!(core.series.as_ref().and_then(|s| s.count), Some(3));
        assert_eq!(from_core(core), original);
    }

    #[test]
    fn a_create_gets_the_strict_rules() {
        assert!(validate_event_create(&event()).is_empty());
        let mut old_style = event();
        old_style.event_time = None;
        old_style.type_ = Some("Odd".into());
        old_style.deprecated_count = Some(2);
        old_style.deprecated_first_timestamp =
            Some(Time(Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()));
        let messages: Vec<String> = validate_event_create(&old_style)
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message()))
            .collect();
        assert_eq!(
            messages,
            [
                "eventTime: Required value",
                r#"type: Invalid value: "": has invalid value: Odd"#,
                r#"firstTimestamp: Invalid value: "": needs to be unset"#,
                r#"count: Invalid value: "": needs to be unset"#,
            ]
        );
    }
}
