//! Go's printing of the bad values upstream puts in metadata field errors
//! that are not strings or numbers: `%#v` of an `OwnerReference` and
//! `metav1.Time.String()`. The `[]string` rendering and the field error that
//! carries such a value verbatim are the shared ones of
//! [`crate::validation::go_syntax`].

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use k8s_openapi::chrono::{DateTime, Utc};

use crate::validation::go_string;

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
    use crate::api::{validate_finalizers, validate_no_new_finalizers, validate_owner_references};
    use crate::validation::field::{self, Path};
    use k8s_openapi::chrono::TimeZone;

    #[test]
    fn prints_like_go() {
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

    /// The finalizer lists in the messages print as Go's `%#v` of a
    /// `[]string`, each name quoted as `%q` (`"\a"`, `"\u200b"`, not
    /// Rust's `"\u{7}"`, `"\u{200b}"`), and the owner reference's strings
    /// likewise.
    #[test]
    fn bad_values_are_quoted_as_go_does() {
        let path = Path::new("metadata").child("finalizers");
        let finalizers: Vec<String> = vec!["orphan".into(), "foregroundDeletion".into()];
        let messages = |errors: field::ErrorList| -> Vec<String> {
            errors.iter().map(ToString::to_string).collect()
        };
        assert_eq!(
            messages(validate_finalizers(&finalizers, &path)),
            [
                r#"metadata.finalizers: Invalid value: []string{"orphan", "foregroundDeletion"}: finalizer orphan and foregroundDeletion cannot be both set"#
            ]
        );
        let odd: Vec<String> = vec![
            "orphan".into(),
            "foregroundDeletion".into(),
            "a/bell\u{7}".into(),
        ];
        let errors = messages(validate_finalizers(&odd, &path));
        assert_eq!(
            errors.last().map(String::as_str),
            Some(
                r#"metadata.finalizers: Invalid value: []string{"orphan", "foregroundDeletion", "a/bell\a"}: finalizer orphan and foregroundDeletion cannot be both set"#
            ),
            "{errors:?}"
        );
        assert_eq!(
            messages(validate_no_new_finalizers(
                &["a/zw\u{200b}sp".into(), "a/esc\u{1b}".into()],
                &[],
                &path
            )),
            [
                r#"metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{"a/esc\x1b", "a/zw\u200bsp"}"#
            ]
        );
        let event = OwnerReference {
            api_version: "v1".into(),
            kind: "Event".into(),
            name: "e\u{7}".into(),
            uid: "u".into(),
            controller: None,
            block_owner_deletion: None,
        };
        let path = Path::new("metadata").child("ownerReferences");
        assert_eq!(
            messages(validate_owner_references(&[event], &path)),
            [
                r#"metadata.ownerReferences: Invalid value: v1.OwnerReference{APIVersion:"v1", Kind:"Event", Name:"e\a", UID:"u", Controller:(*bool)(nil), BlockOwnerDeletion:(*bool)(nil)}: /v1, Kind=Event is disallowed from being an owner"#
            ]
        );
    }
}
