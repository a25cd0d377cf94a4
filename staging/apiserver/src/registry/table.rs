//! Server-side printing (`rest.TableConvertor`, `metav1.Table`, the
//! handlers' `asTable`): the `Table` a client gets when its `Accept` asks
//! for `as=Table`, the column definitions and rows a kind prints, the
//! default convertor (`Name` + `Created At`) of a kind without its own
//! columns, `PartialObjectMetadata` rows and `duration.HumanDuration`.

use std::sync::LazyLock;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::chrono::{DateTime, SecondsFormat, Utc};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use std::borrow::Cow;

use crate::status::Status;

use super::Strategy;

/// `metav1.TableColumnDefinition`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ColumnDefinition {
    pub name: Cow<'static, str>,
    /// The OpenAPI type of the cells: `string`, `integer`, `boolean`, `date`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// `name` for the column holding the object's name, else empty.
    pub format: &'static str,
    pub description: String,
    /// 0 is always shown, more only with `-o wide`.
    pub priority: i32,
}

impl ColumnDefinition {
    /// A column of type `kind` shown by default.
    pub fn new(
        name: impl Into<Cow<'static, str>>,
        kind: &'static str,
        description: impl Into<String>,
    ) -> Self {
        ColumnDefinition {
            name: name.into(),
            kind,
            format: "",
            description: description.into(),
            priority: 0,
        }
    }

    /// A column shown only with `-o wide` (priority 1).
    pub fn wide(mut self) -> Self {
        self.priority = 1;
        self
    }

    /// The column of the object's name (`Name`, format `name`).
    pub fn name() -> Self {
        ColumnDefinition {
            format: "name",
            ..ColumnDefinition::new("Name", "string", field_description::<ObjectMeta>("name"))
        }
    }

    /// The `Age` column, described as `metadata.creationTimestamp`.
    pub fn age() -> Self {
        ColumnDefinition::new(
            "Age",
            "string",
            field_description::<ObjectMeta>("creationTimestamp"),
        )
    }
}

/// The API documentation of a field of `T` (upstream's `SwaggerDoc()`), read
/// from its JSON schema; empty when the field is unknown.
pub fn field_description<T: JsonSchema>(field: &str) -> String {
    let schema = schemars::SchemaGenerator::default().into_root_schema_for::<T>();
    schema
        .get("properties")
        .and_then(|properties| properties.get(field))
        .and_then(|property| property.get("description"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// `metav1.TableRowCondition` (`Completed` for a finished pod).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowCondition {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub status: &'static str,
    pub reason: String,
    pub message: String,
}

/// The version of `meta.k8s.io` the client asked its Table in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableVersion {
    V1,
    V1beta1,
}

impl TableVersion {
    /// `meta.k8s.io/v1` or `meta.k8s.io/v1beta1`.
    pub fn api_version(self) -> &'static str {
        match self {
            TableVersion::V1 => "meta.k8s.io/v1",
            TableVersion::V1beta1 => "meta.k8s.io/v1beta1",
        }
    }

    /// The `v=` parameter of the media type.
    pub fn version(self) -> &'static str {
        match self {
            TableVersion::V1 => "v1",
            TableVersion::V1beta1 => "v1beta1",
        }
    }
}

/// `includeObject`: what each row carries besides its cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IncludeObject {
    /// No object (`"object":null`).
    None,
    /// The object's metadata as a `PartialObjectMetadata` (the default).
    #[default]
    Metadata,
    /// The whole object.
    Object,
}

impl IncludeObject {
    /// The `includeObject` query values, sorted as upstream lists them.
    pub const VALUES: [&'static str; 4] = ["", "Metadata", "None", "Object"];

    /// Parses `includeObject`; `None` for an unsupported value.
    pub fn parse(value: Option<&str>) -> Option<Self> {
        match value.unwrap_or_default() {
            "" | "Metadata" => Some(IncludeObject::Metadata),
            "None" => Some(IncludeObject::None),
            "Object" => Some(IncludeObject::Object),
            _ => None,
        }
    }
}

/// How a Table is asked for: its version and what each row carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableOptions {
    pub version: TableVersion,
    pub include_object: IncludeObject,
}

impl TableOptions {
    /// The `Content-Type` of a Table answer.
    pub fn content_type(&self) -> String {
        format!(
            "application/json;as=Table;v={};g=meta.k8s.io",
            self.version.version()
        )
    }
}

/// One row: its cells in column order, its conditions, and the object as
/// `includeObject` asks.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TableRow {
    pub cells: Vec<Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<RowCondition>,
    pub object: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
struct TableMeta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    resource_version: Option<&'a str>,
    #[serde(rename = "continue", skip_serializing_if = "Option::is_none")]
    continue_token: Option<&'a str>,
}

/// `metav1.Table`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Table<'a> {
    kind: &'static str,
    api_version: &'static str,
    metadata: TableMeta<'a>,
    /// `null` in the events of a watch after the first.
    column_definitions: Option<&'a [ColumnDefinition]>,
    rows: Vec<TableRow>,
}

impl<'a> Table<'a> {
    /// A Table of `rows`; `columns` is `None` when the headers were already
    /// sent (`TableOptions.NoHeaders`, a watch after its first event).
    pub fn new(
        version: TableVersion,
        columns: Option<&'a [ColumnDefinition]>,
        rows: Vec<TableRow>,
        resource_version: Option<&'a str>,
        continue_token: Option<&'a str>,
    ) -> Self {
        Table {
            kind: "Table",
            api_version: version.api_version(),
            metadata: TableMeta {
                resource_version: resource_version.filter(|rv| !rv.is_empty()),
                continue_token: continue_token.filter(|c| !c.is_empty()),
            },
            column_definitions: columns,
            rows,
        }
    }
}

/// A row's object as `includeObject` asks: nothing, the
/// `PartialObjectMetadata` of `meta`, or `full` (the object as JSON).
pub fn row_object(
    include: IncludeObject,
    version: TableVersion,
    meta: &ObjectMeta,
    full: impl FnOnce() -> Value,
) -> Value {
    match include {
        IncludeObject::None => Value::Null,
        IncludeObject::Metadata => partial_object_metadata(meta, version),
        IncludeObject::Object => full(),
    }
}

/// `meta.AsPartialObjectMetadata`, in the Table's group version.
pub fn partial_object_metadata(meta: &ObjectMeta, version: TableVersion) -> Value {
    serde_json::json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": version.api_version(),
        "metadata": meta,
    })
}

/// The columns of the default convertor (`rest.NewDefaultTableConvertor`).
pub fn default_columns() -> &'static [ColumnDefinition] {
    static COLUMNS: LazyLock<Vec<ColumnDefinition>> = LazyLock::new(|| {
        vec![
            ColumnDefinition::name(),
            ColumnDefinition::new(
                "Created At",
                "date",
                field_description::<ObjectMeta>("creationTimestamp"),
            ),
        ]
    });
    &COLUMNS
}

/// The default convertor's row: the name and the creation time in RFC 3339
/// (the zero time when unset, as Go prints it).
pub fn default_row(meta: &ObjectMeta) -> Vec<Value> {
    let created = meta
        .creation_timestamp
        .as_ref()
        .map(|t| t.0.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_else(|| "0001-01-01T00:00:00Z".to_string());
    vec![
        Value::from(meta.name.clone().unwrap_or_default()),
        Value::from(created),
    ]
}

/// One object's row as `options` asks (`asTable` over the kind's
/// convertor), ages computed at `now`.
pub fn row_of<S: Strategy>(
    strategy: &S,
    obj: &S::Object,
    options: &TableOptions,
    now: DateTime<Utc>,
) -> Result<TableRow, Status> {
    let meta = k8s_openapi::Metadata::metadata(obj);
    let object = match options.include_object {
        IncludeObject::Object => serde_json::to_value(obj)
            .map_err(|err| Status::internal_error(format!("encoding: {err}")))?,
        include => row_object(include, options.version, meta, || Value::Null),
    };
    Ok(TableRow {
        cells: strategy.table_row(obj, now),
        conditions: strategy.table_row_conditions(obj),
        object,
    })
}

/// The Table of `items` (one object's for a get or a watch event, a
/// list's page otherwise); without column definitions when `with_headers`
/// is false (the watch events after the first).
pub fn table_of<'a, S: Strategy>(
    strategy: &'a S,
    items: &[S::Object],
    options: &TableOptions,
    resource_version: Option<&'a str>,
    continue_token: Option<&'a str>,
    with_headers: bool,
) -> Result<Table<'a>, Status> {
    let now = current_time();
    let rows = items
        .iter()
        .map(|obj| row_of(strategy, obj, options, now))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Table::new(
        options.version,
        with_headers.then(|| strategy.table_columns()),
        rows,
        resource_version,
        continue_token,
    ))
}

/// The wall-clock time, for ages.
pub fn current_time() -> DateTime<Utc> {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let seconds = i64::try_from(since_epoch.as_secs()).unwrap_or(i64::MAX);
    DateTime::from_timestamp(seconds, since_epoch.subsec_nanos()).unwrap_or_default()
}

/// `translateTimestampSince`: the age of `timestamp` at `now`, or
/// `<unknown>` when it is unset.
pub fn translate_timestamp_since(timestamp: Option<&Time>, now: DateTime<Utc>) -> String {
    match timestamp {
        Some(time) => human_duration(now.signed_duration_since(time.0)),
        None => "<unknown>".to_string(),
    }
}

/// `duration.HumanDuration`: a short, rounded-down duration (`5s`, `3m2s`,
/// `15m`, `5h30m`, `3d4h`, `2y10d`); `<invalid>` for more than a second in
/// the future.
pub fn human_duration(d: k8s_openapi::chrono::TimeDelta) -> String {
    let seconds = d.num_seconds();
    if seconds < -1 {
        return "<invalid>".to_string();
    }
    if seconds < 0 {
        return "0s".to_string();
    }
    if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        let s = seconds % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    }
    if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = minutes / 60;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 {
            format!("{}d", hours / 24)
        } else {
            format!("{}d{h}h", hours / 24)
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let days = (hours / 24) % 365;
        return if days == 0 {
            format!("{}y", hours / 24 / 365)
        } else {
            format!("{}y{days}d", hours / 24 / 365)
        };
    }
    format!("{}y", hours / 24 / 365)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::chrono::TimeDelta;

    #[test]
    fn human_duration_rounds_like_upstream() {
        let cases = [
            (-2, "<invalid>"),
            (-1, "0s"),
            (0, "0s"),
            (5, "5s"),
            (119, "119s"),
            (120, "2m"),
            (182, "3m2s"),
            (600, "10m"),
            (179 * 60 + 59, "179m"),
            (3 * 3600, "3h"),
            (5 * 3600 + 30 * 60, "5h30m"),
            (8 * 3600 + 59, "8h"),
            (47 * 3600, "47h"),
            (48 * 3600, "2d"),
            (3 * 86400 + 4 * 3600, "3d4h"),
            (10 * 86400, "10d"),
            (2 * 365 * 86400, "2y"),
            (2 * 365 * 86400 + 10 * 86400, "2y10d"),
            (9 * 365 * 86400, "9y"),
        ];
        for (seconds, want) in cases {
            assert_eq!(
                human_duration(TimeDelta::seconds(seconds)),
                want,
                "{seconds}s"
            );
        }
    }

    #[test]
    fn timestamps_translate_to_ages() {
        let created = DateTime::from_timestamp(1_000_000, 0).unwrap();
        let now = created + TimeDelta::seconds(65);
        assert_eq!(translate_timestamp_since(Some(&Time(created)), now), "65s");
        assert_eq!(translate_timestamp_since(None, now), "<unknown>");
    }

    #[test]
    fn default_convertor_prints_name_and_creation_time() {
        let columns = default_columns();
        assert_eq!(columns[0].name, "Name");
        assert_eq!(columns[0].format, "name");
        assert!(columns[0].description.starts_with("Name must be unique"));
        assert_eq!((&*columns[1].name, columns[1].kind), ("Created At", "date"));
        let meta = ObjectMeta {
            name: Some("x".into()),
            creation_timestamp: Some(Time(DateTime::from_timestamp(0, 0).unwrap())),
            ..Default::default()
        };
        assert_eq!(
            default_row(&meta),
            vec![Value::from("x"), Value::from("1970-01-01T00:00:00Z")]
        );
    }

    #[test]
    fn rows_carry_partial_object_metadata_by_default() {
        let meta = ObjectMeta {
            name: Some("web".into()),
            namespace: Some("default".into()),
            resource_version: Some("7".into()),
            ..Default::default()
        };
        let object = row_object(
            IncludeObject::default(),
            TableVersion::V1beta1,
            &meta,
            || unreachable!("the full object is not asked for"),
        );
        assert_eq!(
            object,
            serde_json::json!({
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1beta1",
                "metadata": {"name": "web", "namespace": "default", "resourceVersion": "7"},
            })
        );
        assert_eq!(
            row_object(IncludeObject::None, TableVersion::V1, &meta, || Value::Null),
            Value::Null
        );
        let full = row_object(
            IncludeObject::Object,
            TableVersion::V1,
            &meta,
            || serde_json::json!({"kind": "Pod"}),
        );
        assert_eq!(full["kind"], "Pod");
    }

    #[test]
    fn include_object_values() {
        assert_eq!(IncludeObject::parse(None), Some(IncludeObject::Metadata));
        assert_eq!(
            IncludeObject::parse(Some("None")),
            Some(IncludeObject::None)
        );
        assert_eq!(
            IncludeObject::parse(Some("Object")),
            Some(IncludeObject::Object)
        );
        assert_eq!(IncludeObject::parse(Some("All")), None);
    }

    #[test]
    fn table_json_has_upstream_shape() {
        let columns = vec![ColumnDefinition::name(), ColumnDefinition::age().wide()];
        let table = Table::new(
            TableVersion::V1,
            Some(&columns),
            vec![TableRow {
                cells: vec![Value::from("a")],
                conditions: Vec::new(),
                object: Value::Null,
            }],
            Some("12"),
            None,
        );
        let json = serde_json::to_value(&table).unwrap();
        assert_eq!(json["kind"], "Table");
        assert_eq!(json["apiVersion"], "meta.k8s.io/v1");
        assert_eq!(
            json["metadata"],
            serde_json::json!({"resourceVersion": "12"})
        );
        assert_eq!(json["columnDefinitions"][0]["format"], "name");
        assert_eq!(json["columnDefinitions"][0]["priority"], 0);
        assert_eq!(json["columnDefinitions"][1]["priority"], 1);
        assert_eq!(json["rows"][0]["cells"], serde_json::json!(["a"]));
        assert!(json["rows"][0].get("conditions").is_none());
        let headless = Table::new(TableVersion::V1, None, Vec::new(), None, None);
        let json = serde_json::to_value(&headless).unwrap();
        assert_eq!(json["columnDefinitions"], Value::Null);
        assert_eq!(json["rows"], serde_json::json!([]));
        assert_eq!(json["metadata"], serde_json::json!({}));
    }
}
