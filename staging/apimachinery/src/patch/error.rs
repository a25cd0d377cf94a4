//! The error of the patch engines, with the HTTP status upstream answers for
//! it, and the Go `%v` rendering of JSON values that upstream messages embed.

use std::fmt;

use serde_json::Value;

/// Why a patch could not be applied. `Display` gives the upstream message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PatchError {
    /// The patch itself is malformed (upstream: 400 BadRequest), e.g. a JSON
    /// patch that is not a list of operations, or a strategic merge patch with
    /// a malformed `$retainKeys` / `$setElementOrder` / `$deleteFromPrimitiveList`.
    BadRequest(String),
    /// The patch is well formed but does not apply to the object (upstream:
    /// 422 with the bare message), e.g. a failing JSON patch `test`
    /// (`testing value /x failed: test failed`), a missing path, the copy
    /// limit, or a strategic merge patch of a list of lists.
    Unprocessable(String),
    /// A JSON patch with more operations than upstream allows (413).
    TooManyOperations { max: usize, got: usize },
    /// Strategic merge patch errors that upstream returns untyped, which its
    /// handler answers with 500 and the bare message (e.g. a list item
    /// without its merge key, `$patch: merge` in a map).
    Internal(String),
}

impl PatchError {
    /// True for a malformed patch (answer 400 BadRequest).
    pub fn is_bad_request(&self) -> bool {
        matches!(self, PatchError::BadRequest(_))
    }

    /// The HTTP status upstream answers with: 400, 413, 422 or 500.
    pub fn status_code(&self) -> u16 {
        match self {
            PatchError::BadRequest(_) => 400,
            PatchError::TooManyOperations { .. } => 413,
            PatchError::Unprocessable(_) => 422,
            PatchError::Internal(_) => 500,
        }
    }
}

impl fmt::Display for PatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PatchError::BadRequest(message)
            | PatchError::Unprocessable(message)
            | PatchError::Internal(message) => f.write_str(message),
            PatchError::TooManyOperations { max, got } => write!(
                f,
                "The allowed maximum operations in a JSON patch is {max}, got {got}"
            ),
        }
    }
}

impl std::error::Error for PatchError {}

/// The type of a JSON value as Go's decoder sees it (integers and floats are
/// distinct types: `int64` and `float64`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum GoType {
    Nil,
    Bool,
    Int,
    Float,
    String,
    Slice,
    Map,
}

impl GoType {
    pub(crate) fn of(value: &Value) -> GoType {
        match value {
            Value::Null => GoType::Nil,
            Value::Bool(_) => GoType::Bool,
            Value::Number(number) if number.is_f64() => GoType::Float,
            Value::Number(_) => GoType::Int,
            Value::String(_) => GoType::String,
            Value::Array(_) => GoType::Slice,
            Value::Object(_) => GoType::Map,
        }
    }

    /// The name `reflect.TypeOf(v)` prints.
    pub(crate) fn go_name(self) -> &'static str {
        match self {
            GoType::Nil => "<nil>",
            GoType::Bool => "bool",
            GoType::Int => "int64",
            GoType::Float => "float64",
            GoType::String => "string",
            GoType::Slice => "[]interface {}",
            GoType::Map => "map[string]interface {}",
        }
    }
}

/// Upstream `ErrBadArgType`: "expected a <type>, but received a <type>".
pub(crate) fn bad_arg_type(expected: GoType, actual: &Value) -> PatchError {
    let actual = match GoType::of(actual) {
        GoType::Nil => "%!s(<nil>)",
        other => other.go_name(),
    };
    PatchError::Internal(format!(
        "expected a {}, but received a {actual}",
        expected.go_name()
    ))
}

/// Renders a JSON value as Go's `fmt` `%v` renders the decoded value:
/// `map[k:v]` with sorted keys, `[a b]`, `<nil>`.
pub(crate) fn go_format(value: &Value) -> String {
    let mut out = String::new();
    write_go(value, &mut out);
    out
}

fn write_go(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("<nil>"),
        Value::Bool(flag) => out.push_str(if *flag { "true" } else { "false" }),
        Value::Number(number) => match number.as_f64() {
            Some(float) if number.is_f64() => out.push_str(&go_float(float)),
            _ => out.push_str(&number.to_string()),
        },
        Value::String(text) => out.push_str(text),
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(' ');
                }
                write_go(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push_str("map[");
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            for (index, key) in keys.into_iter().enumerate() {
                if index > 0 {
                    out.push(' ');
                }
                out.push_str(key);
                out.push(':');
                if let Some(item) = map.get(key) {
                    write_go(item, out);
                }
            }
            out.push(']');
        }
    }
}

/// Go's `%v` of a float64: shortest digits, exponent form when the decimal
/// exponent is below -4 or at least 6 (`1e+06`).
fn go_float(float: f64) -> String {
    if !float.is_finite() {
        return float.to_string();
    }
    let scientific = format!("{float:e}");
    let exponent: i32 = scientific
        .split_once('e')
        .and_then(|(_, exponent)| exponent.parse().ok())
        .unwrap_or(0);
    if (-4..6).contains(&exponent) {
        float.to_string()
    } else {
        let (mantissa, _) = scientific.split_once('e').unwrap_or((&scientific, ""));
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exponent.abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn go_format_renders_like_fmt_v() {
        let value = json!({"name": "c", "ports": [80, 1.5], "x": null, "b": true});
        assert_eq!(
            go_format(&value),
            "map[b:true name:c ports:[80 1.5] x:<nil>]"
        );
        assert_eq!(go_format(&json!(1e6)), "1e+06");
        assert_eq!(go_format(&json!(123456.5)), "123456.5");
    }

    #[test]
    fn status_codes() {
        assert!(PatchError::BadRequest("x".into()).is_bad_request());
        assert_eq!(PatchError::Unprocessable("x".into()).status_code(), 422);
        let too_many = PatchError::TooManyOperations {
            max: 10000,
            got: 10001,
        };
        assert_eq!(too_many.status_code(), 413);
        assert_eq!(
            too_many.to_string(),
            "The allowed maximum operations in a JSON patch is 10000, got 10001"
        );
    }
}
