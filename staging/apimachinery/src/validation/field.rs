//! Field errors (`k8s.io/apimachinery/pkg/util/validation/field`): a path to
//! the offending field, the kind of error, the bad value and a detail, with
//! upstream's message text and the `StatusCause` reason of each kind.

use std::fmt;

use serde_json::Value;

/// A path to a field: `spec.containers[0].ports[1].containerPort`,
/// `metadata.labels[app]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Path(String);

impl Path {
    /// The root of a path (`metadata`, `spec`).
    pub fn new(name: &str) -> Self {
        Path(name.to_string())
    }

    /// `path.name`.
    pub fn child(&self, name: &str) -> Self {
        if self.0.is_empty() {
            Path(name.to_string())
        } else {
            Path(format!("{}.{name}", self.0))
        }
    }

    /// `path[i]`.
    pub fn index(&self, i: usize) -> Self {
        Path(format!("{}[{i}]", self.0))
    }

    /// `path[key]`.
    pub fn key(&self, key: &str) -> Self {
        Path(format!("{}[{key}]", self.0))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `field.ErrorType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorType {
    NotFound,
    Required,
    Duplicate,
    Invalid,
    NotSupported,
    Forbidden,
    TooLong,
    TooMany,
    Internal,
    TypeInvalid,
}

impl ErrorType {
    /// The `StatusCause.reason` of this kind of error (`FieldValueRequired`).
    pub fn reason(self) -> &'static str {
        match self {
            ErrorType::NotFound => "FieldValueNotFound",
            ErrorType::Required => "FieldValueRequired",
            ErrorType::Duplicate => "FieldValueDuplicate",
            ErrorType::Invalid => "FieldValueInvalid",
            ErrorType::NotSupported => "FieldValueNotSupported",
            ErrorType::Forbidden => "FieldValueForbidden",
            ErrorType::TooLong => "FieldValueTooLong",
            ErrorType::TooMany => "FieldValueTooMany",
            ErrorType::Internal => "InternalError",
            ErrorType::TypeInvalid => "FieldValueTypeInvalid",
        }
    }

    /// The words upstream prints for this kind (`Required value`).
    pub fn text(self) -> &'static str {
        match self {
            ErrorType::NotFound => "Not found",
            ErrorType::Required => "Required value",
            ErrorType::Duplicate => "Duplicate value",
            ErrorType::Invalid => "Invalid value",
            ErrorType::NotSupported => "Unsupported value",
            ErrorType::Forbidden => "Forbidden",
            ErrorType::TooLong => "Too long",
            ErrorType::TooMany => "Too many",
            ErrorType::Internal => "Internal error",
            ErrorType::TypeInvalid => "Invalid value",
        }
    }
}

/// One validation error (`field.Error`).
#[derive(Debug, Clone, PartialEq)]
pub struct Error {
    pub error_type: ErrorType,
    pub field: String,
    /// The offending value, printed in the message when present.
    pub bad_value: Option<Value>,
    pub detail: String,
}

pub type ErrorList = Vec<Error>;

impl Error {
    fn new(
        error_type: ErrorType,
        path: &Path,
        bad_value: Option<Value>,
        detail: impl Into<String>,
    ) -> Self {
        Error {
            error_type,
            field: path.to_string(),
            bad_value,
            detail: detail.into(),
        }
    }

    /// `field.Required`: a required value is missing.
    pub fn required(path: &Path, detail: impl Into<String>) -> Self {
        Self::new(ErrorType::Required, path, None, detail)
    }

    /// `field.Invalid`.
    pub fn invalid(path: &Path, value: impl Into<Value>, detail: impl Into<String>) -> Self {
        Self::new(ErrorType::Invalid, path, Some(value.into()), detail)
    }

    /// `field.NotSupported`: the detail lists the supported values.
    pub fn not_supported(path: &Path, value: impl Into<Value>, valid: &[&str]) -> Self {
        let detail = if valid.is_empty() {
            String::new()
        } else {
            let quoted: Vec<String> = valid.iter().map(|v| super::go_string::quote(v)).collect();
            format!("supported values: {}", quoted.join(", "))
        };
        Self::new(ErrorType::NotSupported, path, Some(value.into()), detail)
    }

    /// `field.Duplicate`.
    pub fn duplicate(path: &Path, value: impl Into<Value>) -> Self {
        Self::new(ErrorType::Duplicate, path, Some(value.into()), "")
    }

    /// `field.Forbidden`.
    pub fn forbidden(path: &Path, detail: impl Into<String>) -> Self {
        Self::new(ErrorType::Forbidden, path, None, detail)
    }

    /// `field.NotFound`.
    pub fn not_found(path: &Path, value: impl Into<Value>) -> Self {
        Self::new(ErrorType::NotFound, path, Some(value.into()), "")
    }

    /// `field.TooLong`.
    pub fn too_long(path: &Path, max_length: usize) -> Self {
        Self::new(
            ErrorType::TooLong,
            path,
            None,
            format!("may not be more than {max_length} bytes"),
        )
    }

    /// `field.TooMany`.
    pub fn too_many(path: &Path, actual: usize, max: usize) -> Self {
        Self::new(
            ErrorType::TooMany,
            path,
            Some(Value::from(actual)),
            format!("must have at most {max} items"),
        )
    }

    /// `field.InternalError`.
    pub fn internal(path: &Path, detail: impl Into<String>) -> Self {
        Self::new(ErrorType::Internal, path, None, detail)
    }

    /// The message without the field: `Invalid value: "Foo": a lowercase ...`
    /// (the `StatusCause.message`).
    pub fn message(&self) -> String {
        let mut text = self.error_type.text().to_string();
        if let Some(value) = &self.bad_value {
            let shown = match value {
                Value::String(s) => super::go_string::quote(s),
                Value::Null => "null".to_string(),
                other => other.to_string(),
            };
            text.push_str(": ");
            text.push_str(&shown);
        }
        if !self.detail.is_empty() {
            text.push_str(": ");
            text.push_str(&self.detail);
        }
        text
    }
}

/// `field: message`, as upstream's `Error()`.
impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            f.write_str(&self.message())
        } else {
            write!(f, "{}: {}", self.field, self.message())
        }
    }
}

/// `ErrorList.ToAggregate().Error()`: one error as is, several in brackets.
pub fn aggregate(errors: &[Error]) -> String {
    match errors {
        [one] => one.to_string(),
        many => {
            let parts: Vec<String> = many.iter().map(|e| e.to_string()).collect();
            format!("[{}]", parts.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_read_like_upstream() {
        let path = Path::new("spec")
            .child("containers")
            .index(0)
            .child("image");
        assert_eq!(path.as_str(), "spec.containers[0].image");
        assert_eq!(
            Error::required(&path, "").to_string(),
            "spec.containers[0].image: Required value"
        );
        let name = Path::new("metadata").child("name");
        assert_eq!(
            Error::invalid(&name, "Foo", "must be lowercase").to_string(),
            "metadata.name: Invalid value: \"Foo\": must be lowercase"
        );
        let policy = Path::new("spec").child("restartPolicy");
        assert_eq!(
            Error::not_supported(&policy, "Sometimes", &["Always", "Never"]).to_string(),
            "spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"Never\""
        );
        let port = Path::new("spec").child("ports").index(1).child("port");
        assert_eq!(
            Error::invalid(&port, 70000, "must be between 1 and 65535, inclusive").to_string(),
            "spec.ports[1].port: Invalid value: 70000: must be between 1 and 65535, inclusive"
        );
        assert_eq!(ErrorType::Duplicate.reason(), "FieldValueDuplicate");
        let labels = Path::new("metadata").child("labels").key("a/b/c");
        assert_eq!(labels.as_str(), "metadata.labels[a/b/c]");
    }

    #[test]
    fn aggregates_one_bare_and_many_bracketed() {
        let a = Error::required(&Path::new("a"), "");
        let b = Error::forbidden(&Path::new("b"), "may not be set");
        assert_eq!(aggregate(std::slice::from_ref(&a)), "a: Required value");
        assert_eq!(
            aggregate(&[a, b]),
            "[a: Required value, b: Forbidden: may not be set]"
        );
    }
}
