//! Go's printing of the bad values upstream puts in field errors that are
//! not strings or numbers: `%#v` of a `[]string` or an `OwnerReference`, and
//! `metav1.Time.String()`.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use k8s_openapi::chrono::{DateTime, Utc};

use crate::validation::field::{self, Path};
use crate::validation::go_string;

/// A `field.Invalid` whose bad value is printed verbatim (Go's rendering of
/// a non-string value) ahead of the detail, so the message reads as
/// upstream's: `path: Invalid value: []string{"a"}: detail`.
pub(super) fn invalid(path: &Path, shown: &str, detail: &str) -> field::Error {
    field::Error {
        error_type: field::ErrorType::Invalid,
        field: path.to_string(),
        bad_value: None,
        detail: format!("{shown}: {detail}"),
    }
}

/// `%#v` of a `[]string`: `[]string{"a", "b"}`.
pub(super) fn string_slice(values: &[String]) -> String {
    let quoted: Vec<String> = values.iter().map(|v| go_string::quote(v)).collect();
    format!("[]string{{{}}}", quoted.join(", "))
}

/// `%#v` of a `*bool` field. Go prints a set pointer's address, which has
/// no meaning here; the pointed-to value is shown instead.
fn bool_pointer(value: Option<bool>) -> String {
    match value {
        None => "(*bool)(nil)".to_string(),
        Some(b) => format!("(*bool)({b})"),
    }
}

/// `%#v` of a `metav1.OwnerReference`.
pub(super) fn owner_reference(reference: &OwnerReference) -> String {
    format!(
        "v1.OwnerReference{{APIVersion:{}, Kind:{}, Name:{}, UID:{}, Controller:{}, BlockOwnerDeletion:{}}}",
        go_string::quote(&reference.api_version),
        go_string::quote(&reference.kind),
        go_string::quote(&reference.name),
        go_string::quote(&reference.uid),
        bool_pointer(reference.controller),
        bool_pointer(reference.block_owner_deletion),
    )
}

/// `%#v` of a `[]metav1.OwnerReference`.
pub(super) fn owner_references(references: &[OwnerReference]) -> String {
    let items: Vec<String> = references.iter().map(owner_reference).collect();
    format!("[]v1.OwnerReference{{{}}}", items.join(", "))
}

/// `metav1.Time.String()` (Go's `2006-01-02 15:04:05.999999999 -0700 MST`,
/// in UTC); `None` is Go's zero time.
pub(super) fn time(value: Option<DateTime<Utc>>) -> String {
    let Some(value) = value else {
        return "0001-01-01 00:00:00 +0000 UTC".to_string();
    };
    let mut text = value.format("%Y-%m-%d %H:%M:%S").to_string();
    let nanos = value.timestamp_subsec_nanos();
    if nanos > 0 {
        let fraction = format!("{nanos:09}");
        text.push('.');
        text.push_str(fraction.trim_end_matches('0'));
    }
    text.push_str(" +0000 UTC");
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::chrono::TimeZone;

    #[test]
    fn prints_like_go() {
        assert_eq!(
            string_slice(&["orphan".into(), "foregroundDeletion".into()]),
            "[]string{\"orphan\", \"foregroundDeletion\"}"
        );
        assert_eq!(time(None), "0001-01-01 00:00:00 +0000 UTC");
        let t = Utc.with_ymd_and_hms(2024, 5, 6, 7, 8, 9).single();
        assert_eq!(time(t), "2024-05-06 07:08:09 +0000 UTC");
        let with_millis = t.map(|t| t + k8s_openapi::chrono::Duration::milliseconds(120));
        assert_eq!(time(with_millis), "2024-05-06 07:08:09.12 +0000 UTC");
        let reference = OwnerReference {
            api_version: "v1".into(),
            kind: "Event".into(),
            name: "e".into(),
            uid: "u".into(),
            controller: Some(true),
            block_owner_deletion: None,
        };
        assert_eq!(
            owner_reference(&reference),
            "v1.OwnerReference{APIVersion:\"v1\", Kind:\"Event\", Name:\"e\", UID:\"u\", Controller:(*bool)(true), BlockOwnerDeletion:(*bool)(nil)}"
        );
    }
}
