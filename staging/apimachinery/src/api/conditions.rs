//! `metav1.Condition` lists (`ValidateConditions`): what a kind's
//! `status.conditions` must hold when it uses the standard condition type.

use std::collections::BTreeSet;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;

use crate::validation::field::{self, Path};
use crate::validation::regex_error;

use super::validate_label_name;

const CONDITION_STATUSES: [&str; 3] = ["False", "True", "Unknown"];
const MAX_REASON_LENGTH: usize = 1024;
const MAX_MESSAGE_LENGTH: usize = 32 * 1024;
const CONDITION_REASON_FMT: &str = "[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?";
const CONDITION_REASON_ERROR: &str = "a condition reason must start with alphabetic character, optionally followed by a string of alphanumeric characters or '_,:', and must end with an alphanumeric character or '_'";

/// `ValidateConditions`: unique types, each condition valid.
pub fn validate_conditions(conditions: &[Condition], path: &Path) -> field::ErrorList {
    let mut errors = Vec::new();
    let mut types = BTreeSet::new();
    for (index, condition) in conditions.iter().enumerate() {
        let item = path.index(index);
        if !types.insert(condition.type_.as_str()) {
            errors.push(field::Error::duplicate(
                &item.child("type"),
                condition.type_.as_str(),
            ));
        }
        errors.extend(validate_condition(condition, &item));
    }
    errors
}

/// `ValidateCondition`: a qualified type, a known status, a set time and
/// reason, bounded reason and message.
pub fn validate_condition(condition: &Condition, path: &Path) -> field::ErrorList {
    let mut errors = validate_label_name(&condition.type_, &path.child("type"));
    if !CONDITION_STATUSES.contains(&condition.status.as_str()) {
        errors.push(field::Error::not_supported(
            &path.child("status"),
            condition.status.as_str(),
            &CONDITION_STATUSES,
        ));
    }
    if let Some(generation) = condition.observed_generation
        && generation < 0
    {
        errors.push(field::Error::invalid(
            &path.child("observedGeneration"),
            generation,
            "must be greater than or equal to zero",
        ));
    }
    if condition.last_transition_time.0.timestamp() <= ZERO_TIME_SECONDS {
        errors.push(field::Error::required(
            &path.child("lastTransitionTime"),
            "must be set",
        ));
    }
    let reason = condition.reason.as_str();
    if reason.is_empty() {
        errors.push(field::Error::required(&path.child("reason"), "must be set"));
    } else {
        if !is_condition_reason(reason) {
            errors.push(field::Error::invalid(
                &path.child("reason"),
                reason,
                regex_error(
                    CONDITION_REASON_ERROR,
                    CONDITION_REASON_FMT,
                    &[
                        "my_name",
                        "MY_NAME",
                        "MyName",
                        "ReasonA,ReasonB",
                        "ReasonA:ReasonB",
                    ],
                ),
            ));
        }
        if reason.len() > MAX_REASON_LENGTH {
            errors.push(field::Error::too_long(
                &path.child("reason"),
                MAX_REASON_LENGTH,
            ));
        }
    }
    if condition.message.len() > MAX_MESSAGE_LENGTH {
        errors.push(field::Error::too_long(
            &path.child("message"),
            MAX_MESSAGE_LENGTH,
        ));
    }
    errors
}

/// Go's zero `time.Time` (year 1), which a condition decoded without a
/// time holds; anything at or before it counts as unset.
const ZERO_TIME_SECONDS: i64 = -62_135_596_800;

/// `^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$`.
fn is_condition_reason(reason: &str) -> bool {
    let bytes = reason.as_bytes();
    let (Some(first), Some(last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    first.is_ascii_alphabetic()
        && (last.is_ascii_alphanumeric() || *last == b'_')
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b',' | b':'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use k8s_openapi::chrono::DateTime;

    fn condition(type_: &str, status: &str, reason: &str) -> Condition {
        Condition {
            type_: type_.into(),
            status: status.into(),
            reason: reason.into(),
            message: String::new(),
            observed_generation: None,
            last_transition_time: Time(DateTime::from_timestamp(1_700_000_000, 0).unwrap()),
        }
    }

    #[test]
    fn conditions_have_unique_types_known_statuses_and_reasons() {
        let good = [
            condition("DisruptionAllowed", "True", "SufficientPods"),
            condition("example.com/Ready", "Unknown", "A,B:c_"),
        ];
        assert!(validate_conditions(&good, &Path::new("status.conditions")).is_empty());

        let mut unset = condition("Ready", "Maybe", "");
        unset.last_transition_time = Time(DateTime::from_timestamp(ZERO_TIME_SECONDS, 0).unwrap());
        unset.observed_generation = Some(-1);
        let bad = [condition("Ready", "True", "1st"), unset];
        let shown: Vec<String> = validate_conditions(&bad, &Path::new("status.conditions"))
            .iter()
            .map(|e| e.to_string())
            .collect();
        assert!(
            shown[0].starts_with(
                "status.conditions[0].reason: Invalid value: \"1st\": a condition reason must start"
            ),
            "{shown:?}"
        );
        assert_eq!(
            shown[1..],
            [
                "status.conditions[1].type: Duplicate value: \"Ready\"",
                "status.conditions[1].status: Unsupported value: \"Maybe\": supported values: \"False\", \"True\", \"Unknown\"",
                "status.conditions[1].observedGeneration: Invalid value: -1: must be greater than or equal to zero",
                "status.conditions[1].lastTransitionTime: Required value: must be set",
                "status.conditions[1].reason: Required value: must be set",
            ]
        );
    }
}
