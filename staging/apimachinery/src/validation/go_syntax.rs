//! Go's `%#v` of the bad values upstream prints in field errors that are not
//! a string or a number (`map[string]string{"app":"web"}`,
//! `[]string{"a", "b"}`, `&v1.LabelSelector{...}`), each string in it
//! quoted as `strconv.Quote` does, and the field errors that carry such a
//! rendering verbatim instead of a JSON bad value.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use super::field::{Error, ErrorType, Path};
use super::go_string::quote;

/// A field error whose bad value is `shown` verbatim (already rendered as
/// Go prints it): `path: <type>: <shown>: <detail>`, or without the detail
/// when it is empty.
pub fn error_shown(error_type: ErrorType, path: &Path, shown: &str, detail: &str) -> Error {
    let detail = if detail.is_empty() {
        shown.to_string()
    } else {
        format!("{shown}: {detail}")
    };
    Error {
        error_type,
        field: path.to_string(),
        bad_value: None,
        detail,
    }
}

/// A `field.Invalid` whose bad value is `shown` verbatim:
/// `path: Invalid value: map[string]string{...}: detail`. The `: ` follows
/// the value even when the detail is empty (upstream would drop it; the
/// StatefulSet selector that does not parse is the one caller that passes
/// none, and keeps its message as it was).
pub fn invalid_shown(path: &Path, shown: &str, detail: &str) -> Error {
    Error {
        error_type: ErrorType::Invalid,
        field: path.to_string(),
        bad_value: None,
        detail: format!("{shown}: {detail}"),
    }
}

/// `%#v` of a slice of a string type named `type_name` (`string`,
/// `core.IPFamily`): `[]string{"a", "b"}`; `None` is `[]string(nil)`.
pub fn go_slice_of(type_name: &str, values: Option<&[String]>) -> String {
    match values {
        None => format!("[]{type_name}(nil)"),
        Some(values) => {
            let quoted: Vec<String> = values.iter().map(|v| quote(v)).collect();
            format!("[]{type_name}{{{}}}", quoted.join(", "))
        }
    }
}

/// `%#v` of a `[]string`: `[]string{"a", "b"}`, `[]string(nil)`.
pub fn go_string_slice(values: Option<&[String]>) -> String {
    go_slice_of("string", values)
}

/// `%#v` of a `map[string]string` (nil prints as `map[string]string(nil)`).
pub fn go_string_map(map: Option<&BTreeMap<String, String>>) -> String {
    match map {
        None => "map[string]string(nil)".to_string(),
        Some(map) => {
            let entries: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}:{}", quote(k), quote(v)))
                .collect();
            format!("map[string]string{{{}}}", entries.join(", "))
        }
    }
}

/// `%#v` of a `*metav1.LabelSelector`.
pub fn go_label_selector(selector: &LabelSelector) -> String {
    let expressions = match &selector.match_expressions {
        None => "[]v1.LabelSelectorRequirement(nil)".to_string(),
        Some(list) => {
            let items: Vec<String> = list
                .iter()
                .map(|r| {
                    format!(
                        "v1.LabelSelectorRequirement{{Key:{}, Operator:{}, Values:{}}}",
                        quote(&r.key),
                        quote(&r.operator),
                        go_string_slice(r.values.as_deref())
                    )
                })
                .collect();
            format!("[]v1.LabelSelectorRequirement{{{}}}", items.join(", "))
        }
    };
    format!(
        "&v1.LabelSelector{{MatchLabels:{}, MatchExpressions:{expressions}}}",
        go_string_map(selector.match_labels.as_ref())
    )
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    use super::*;

    #[test]
    fn slices_and_maps() {
        assert_eq!(go_string_slice(None), "[]string(nil)");
        assert_eq!(go_string_slice(Some(&[])), "[]string{}");
        assert_eq!(
            go_string_slice(Some(&["10.0.0.1".into(), "::1".into()])),
            r#"[]string{"10.0.0.1", "::1"}"#
        );
        assert_eq!(
            go_slice_of("core.IPFamily", Some(&["IPv4".into()])),
            r#"[]core.IPFamily{"IPv4"}"#
        );
        assert_eq!(go_string_map(None), "map[string]string(nil)");
        let map = BTreeMap::from([("app".to_string(), "web".to_string())]);
        assert_eq!(
            go_string_map(Some(&map)),
            r#"map[string]string{"app":"web"}"#
        );
    }

    /// Where Rust's `{:?}` and Go's `%q` part: control characters with a
    /// short escape (`\a`, not `\u{7}`), other control characters (`\x1b`,
    /// not `\u{1b}`), format characters (`\u200b`, not `\u{200b}`) and
    /// printable combining marks (kept, not `\u{301}`).
    #[test]
    fn strings_are_quoted_as_go_does() {
        let values = [
            "bell\u{7}".to_string(),
            "esc\u{1b}".to_string(),
            "nul\0".to_string(),
            "zw\u{200b}sp".to_string(),
            "cafe\u{301}".to_string(),
            "tab\t\"q\"\\".to_string(),
        ];
        assert_eq!(
            go_string_slice(Some(&values)),
            concat!(
                r#"[]string{"bell\a", "esc\x1b", "nul\x00", "zw\u200bsp", "cafe"#,
                "\u{301}",
                r#"", "tab\t\"q\"\\"}"#
            )
        );
        let map = BTreeMap::from([("k\u{7}".to_string(), "v\u{1b}".to_string())]);
        assert_eq!(
            go_string_map(Some(&map)),
            r#"map[string]string{"k\a":"v\x1b"}"#
        );
    }

    #[test]
    fn label_selectors() {
        assert_eq!(
            go_label_selector(&LabelSelector::default()),
            "&v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}"
        );
        let selector = LabelSelector {
            match_labels: Some(BTreeMap::from([("app".to_string(), "web".to_string())])),
            match_expressions: Some(vec![
                LabelSelectorRequirement {
                    key: "tier".into(),
                    operator: "In".into(),
                    values: Some(vec!["front\u{7}".into()]),
                },
                LabelSelectorRequirement {
                    key: "x".into(),
                    operator: "Exists".into(),
                    values: None,
                },
            ]),
        };
        assert_eq!(
            go_label_selector(&selector),
            r#"&v1.LabelSelector{MatchLabels:map[string]string{"app":"web"}, MatchExpressions:[]v1.LabelSelectorRequirement{v1.LabelSelectorRequirement{Key:"tier", Operator:"In", Values:[]string{"front\a"}}, v1.LabelSelectorRequirement{Key:"x", Operator:"Exists", Values:[]string(nil)}}}"#
        );
    }

    #[test]
    fn shown_errors() {
        let path = Path::new("spec").child("clusterIPs");
        assert_eq!(
            invalid_shown(&path, r#"[]string{"a"}"#, "may not change once set").to_string(),
            r#"spec.clusterIPs: Invalid value: []string{"a"}: may not change once set"#
        );
        assert_eq!(
            error_shown(
                ErrorType::Duplicate,
                &path.index(1),
                "core.ServicePort{}",
                ""
            )
            .to_string(),
            "spec.clusterIPs[1]: Duplicate value: core.ServicePort{}"
        );
    }
}
