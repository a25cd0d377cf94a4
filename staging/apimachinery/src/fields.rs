//! Field selectors (`k8s.io/apimachinery/pkg/fields`): `?fieldSelector=`
//! terms `field=value`, `field==value`, `field!=value` joined by `,`, with
//! upstream's backslash escapes in values (`\,` `\=` `\\`) and error texts,
//! matching against an object's field values, the check against the fields
//! a kind supports, and the canonical string form.

use std::fmt;

/// How a term relates the field to its value (`==` parses as `Equals`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operator {
    Equals,
    NotEquals,
}

/// One term of a field selector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requirement {
    pub field: String,
    pub operator: Operator,
    /// The unescaped value.
    pub value: String,
}

impl Requirement {
    /// Whether an object whose `field` has `actual` (missing: "") passes.
    fn matches(&self, actual: &str) -> bool {
        match self.operator {
            Operator::Equals => actual == self.value,
            Operator::NotEquals => actual != self.value,
        }
    }
}

/// `field=value` / `field!=value`, the value escaped.
impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = match self.operator {
            Operator::Equals => "=",
            Operator::NotEquals => "!=",
        };
        write!(f, "{}{op}{}", self.field, escape_value(&self.value))
    }
}

/// A field selector: the AND of its terms, in the order of their sorted
/// source text (as upstream). The default (no terms) selects everything.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Selector {
    requirements: Vec<Requirement>,
}

/// The operators in the order a term is tried against them: `==` before
/// `=` so that no `=` is left on the value.
const TERM_OPERATORS: [(&str, Operator); 3] = [
    ("!=", Operator::NotEquals),
    ("==", Operator::Equals),
    ("=", Operator::Equals),
];

impl Selector {
    /// `fields.Everything()`.
    pub fn everything() -> Self {
        Selector::default()
    }

    /// `fields.ParseSelector`: comma-separated terms (a backslash-escaped
    /// comma does not split), each split at its first operator, the value
    /// unescaped. Errors are upstream's: `invalid selector: '...'; can't
    /// understand '...'` and `invalid field selector: ...` for escapes.
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut terms = split_terms(s);
        terms.sort_unstable();
        let mut requirements = Vec::new();
        for term in terms {
            if term.is_empty() {
                continue;
            }
            let Some((field, operator, raw_value)) = split_term(term) else {
                return Err(format!(
                    "invalid selector: '{s}'; can't understand '{term}'"
                ));
            };
            let value = unescape_value(raw_value)?;
            // Upstream's transform step drops a term whose field and value
            // are both empty (`=`).
            if field.is_empty() && value.is_empty() {
                continue;
            }
            requirements.push(Requirement {
                field: field.to_string(),
                operator,
                value,
            });
        }
        Ok(Selector { requirements })
    }

    /// `fields.OneTermEqualSelector`.
    pub fn one_term_equal(field: &str, value: &str) -> Self {
        Selector {
            requirements: vec![Requirement {
                field: field.to_string(),
                operator: Operator::Equals,
                value: value.to_string(),
            }],
        }
    }

    /// Selects everything (no terms).
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    /// Whether every term holds; `value_of` gives an object's value of a
    /// field, and a field the object lacks counts as "".
    pub fn matches(&self, value_of: impl Fn(&str) -> Option<String>) -> bool {
        self.requirements.iter().all(|requirement| {
            let actual = value_of(&requirement.field).unwrap_or_default();
            requirement.matches(&actual)
        })
    }

    /// Err(`field label not supported: spec.foo`) for the first field not in
    /// `supported` (the message of upstream's field label conversion).
    pub fn check_supported(&self, supported: &[&str]) -> Result<(), String> {
        match self
            .requirements
            .iter()
            .find(|r| !supported.contains(&r.field.as_str()))
        {
            Some(unsupported) => Err(format!("field label not supported: {}", unsupported.field)),
            None => Ok(()),
        }
    }

    /// `RequiresExactMatch`: the value `field` must equal when a `=` term
    /// pins it (`metadata.name=x`), for fast paths.
    pub fn exact_match(&self, field: &str) -> Option<&str> {
        self.requirements
            .iter()
            .find(|r| r.operator == Operator::Equals && r.field == field)
            .map(|r| r.value.as_str())
    }
}

/// `Selector.String()`: the terms joined by `,`, values escaped.
impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, requirement) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{requirement}")?;
        }
        Ok(())
    }
}

/// `fields.EscapeValue`: `\` → `\\`, `,` → `\,`, `=` → `\=`.
pub fn escape_value(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '\\' | ',' | '=') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// `fields.UnescapeValue`: the literal value of an escaped one. A bare `,`
/// or `=` or an unknown escape is an error with upstream's text (which
/// prints the bare character as its code point, `44` for `,`).
pub fn unescape_value(value: &str) -> Result<String, String> {
    let mut unescaped = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(escaped @ ('\\' | ',' | '=')) => unescaped.push(escaped),
                Some(other) => {
                    return Err(format!(
                        "invalid field selector: invalid escape sequence: \\{other}"
                    ));
                }
                None => {
                    return Err("invalid field selector: invalid escape sequence: \\".to_string());
                }
            },
            ',' | '=' => {
                return Err(format!(
                    "invalid field selector: unescaped character in value: {}",
                    u32::from(c)
                ));
            }
            other => unescaped.push(other),
        }
    }
    Ok(unescaped)
}

/// The comma-separated terms; an escaped comma stays in its term, with its
/// backslash.
fn split_terms(selector: &str) -> Vec<&str> {
    if selector.is_empty() {
        return Vec::new();
    }
    let mut terms = Vec::new();
    let mut start = 0;
    let mut in_slash = false;
    for (i, c) in selector.char_indices() {
        if in_slash {
            in_slash = false;
        } else if c == '\\' {
            in_slash = true;
        } else if c == ',' {
            terms.push(&selector[start..i]);
            start = i + 1;
        }
    }
    terms.push(&selector[start..]);
    terms
}

/// The field, operator and raw value of a term, split at the first
/// operator (fields have no escapes).
fn split_term(term: &str) -> Option<(&str, Operator, &str)> {
    for (i, _) in term.char_indices() {
        let rest = &term[i..];
        for (text, operator) in TERM_OPERATORS {
            if let Some(value) = rest.strip_prefix(text) {
                return Some((&term[..i], operator, value));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn parses_terms_and_prints_canonically() {
        let cases = [
            ("", ""),
            ("a=b", "a=b"),
            ("a==b", "a=b"),
            ("a!=b", "a!=b"),
            ("a=", "a="),
            ("=", ""),
            ("b=2,a=1", "a=1,b=2"),
            ("a=1,,b=2", "a=1,b=2"),
            ("metadata.name=x\\,y", "metadata.name=x\\,y"),
            ("a=x\\=y", "a=x\\=y"),
            ("a=x\\\\y", "a=x\\\\y"),
            ("spec.nodeName=", "spec.nodeName="),
        ];
        for (input, canonical) in cases {
            let selector = Selector::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(selector.to_string(), canonical, "{input}");
        }
        let selector = Selector::parse("metadata.name=x\\,y,status.phase!=Running").unwrap();
        assert_eq!(
            selector.requirements(),
            &[
                Requirement {
                    field: "metadata.name".into(),
                    operator: Operator::Equals,
                    value: "x,y".into()
                },
                Requirement {
                    field: "status.phase".into(),
                    operator: Operator::NotEquals,
                    value: "Running".into()
                },
            ]
        );
        let double = Selector::parse("a==b").unwrap();
        assert_eq!(double.requirements()[0].value, "b");
    }

    #[test]
    fn rejects_with_upstream_messages() {
        let cases = [
            ("a", "invalid selector: 'a'; can't understand 'a'"),
            ("x=1,b", "invalid selector: 'x=1,b'; can't understand 'b'"),
            (
                "a=b=c",
                "invalid field selector: unescaped character in value: 61",
            ),
            (
                "a=b\\x",
                "invalid field selector: invalid escape sequence: \\x",
            ),
            (
                "a=b\\",
                "invalid field selector: invalid escape sequence: \\",
            ),
            (
                "a=!=b",
                "invalid field selector: unescaped character in value: 61",
            ),
        ];
        for (input, message) in cases {
            assert_eq!(Selector::parse(input).unwrap_err(), message, "{input}");
        }
    }

    #[test]
    fn matches_missing_fields_as_empty() {
        let object: BTreeMap<&str, &str> =
            BTreeMap::from([("metadata.name", "web"), ("status.phase", "Running")]);
        let value_of = |f: &str| object.get(f).map(|v| v.to_string());
        let cases = [
            ("", true),
            ("metadata.name=web", true),
            ("metadata.name==web", true),
            ("metadata.name=db", false),
            ("metadata.name!=db", true),
            ("metadata.name!=web", false),
            ("spec.nodeName=", true),
            ("spec.nodeName!=", false),
            ("spec.nodeName=n1", false),
            ("metadata.name=web,status.phase!=Pending", true),
            ("metadata.name=web,status.phase=Pending", false),
        ];
        for (input, expected) in cases {
            let selector = Selector::parse(input).unwrap();
            assert_eq!(selector.matches(value_of), expected, "{input}");
        }
    }

    #[test]
    fn supported_fields_and_exact_matches() {
        let selector = Selector::parse("metadata.name=a,spec.foo!=b").unwrap();
        assert_eq!(
            selector.check_supported(&["metadata.name", "metadata.namespace"]),
            Err("field label not supported: spec.foo".to_string())
        );
        assert_eq!(
            selector.check_supported(&["metadata.name", "spec.foo"]),
            Ok(())
        );
        assert_eq!(selector.exact_match("metadata.name"), Some("a"));
        assert_eq!(selector.exact_match("spec.foo"), None);
        assert!(Selector::everything().is_empty());
        assert!(!selector.is_empty());
        assert_eq!(
            Selector::one_term_equal("metadata.name", "a,b").to_string(),
            "metadata.name=a\\,b"
        );
    }

    #[test]
    fn escapes_round_trip() {
        for value in ["", "plain", "a,b", "a=b", "a\\b", "\\,="] {
            assert_eq!(unescape_value(&escape_value(value)).unwrap(), value);
        }
        assert_eq!(escape_value("a,b=c\\"), "a\\,b\\=c\\\\");
    }
}
