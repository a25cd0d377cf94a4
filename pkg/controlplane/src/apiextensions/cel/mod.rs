//! `x-kubernetes-validations` (upstream's
//! `apiextensions-apiserver/pkg/apiserver/schema/cel`): CEL rules compiled
//! and priced when a definition is written — a rule over upstream's
//! per-expression limit, or a schema over its total, is refused with
//! upstream's messages — and evaluated on every write of a custom object,
//! each rule's cost bounded before it runs (per call, and per object).
//!
//! Runtime costs are estimates over the object's own sizes, not counts of
//! the work done: cel-rust keeps no cost meter, so a rule runs only when
//! its worst case on this object fits the budget. An estimate is never
//! below the work, so a rule upstream stops midway is refused here before
//! it starts, and a rule close to the limits may be refused where upstream
//! would have let it finish.

mod compile;
mod cost;
mod library;
mod quantity;
mod run;
mod shape;
mod stack;
mod value;

pub use compile::{Position, Rule, RuleCheck, compile_rules};
pub use run::validate;
pub use shape::{entries_bound, min_json_size};

/// The largest estimated cost of one rule (upstream's
/// `StaticEstimatedCostLimit`).
pub const STATIC_ESTIMATED_COST_LIMIT: u64 = 10_000_000;
/// The largest estimated cost of all of a schema's rules, each times the
/// number of values it can run on (`StaticEstimatedCRDCostLimit`).
pub const STATIC_ESTIMATED_CRD_COST_LIMIT: u64 = 100_000_000;
/// The most one evaluation of a rule may cost (`PerCallLimit`).
pub const PER_CALL_LIMIT: u64 = 1_000_000;
/// The most all rules may cost on one object (`RuntimeCELCostBudget`).
pub const RUNTIME_COST_BUDGET: u64 = 10_000_000;

/// The estimated cost from which evaluating a schema's rules is heavy
/// work (at upstream's scale of 0.1 s per million, a millisecond).
const HEAVY_COST: u64 = 10_000;

/// Evaluating rules of this total estimated cost belongs off the async
/// workers.
pub fn is_heavy(total_cost: u64) -> bool {
    total_cost >= HEAVY_COST
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apiextensions::schema::{self, Node};
    use apimachinery::validation::field::Path;
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::JSONSchemaProps;
    use serde_json::Value;
    use serde_json::json;

    fn compiled(schema: Value) -> Result<Node, Vec<String>> {
        let props: JSONSchemaProps = serde_json::from_value(schema).unwrap();
        schema::compile(&props, &Path::new("openAPIV3Schema"))
            .map_err(|errors| errors.iter().map(ToString::to_string).collect())
    }

    fn errors_of(node: &Node, object: Value, old: Option<Value>) -> Vec<String> {
        let mut errors = Vec::new();
        validate(&object, old.as_ref(), node, &mut errors);
        errors.iter().map(ToString::to_string).collect()
    }

    fn with_spec(spec: Value) -> Value {
        json!({"type": "object", "properties": {"spec": spec}})
    }

    fn object(spec: Value) -> Value {
        json!({"apiVersion": "example.com/v1", "kind": "Widget",
               "metadata": {"name": "w1", "namespace": "default", "uid": "u"}, "spec": spec})
    }

    #[test]
    fn failed_rules_read_as_upstream_reports_them() {
        let node = compiled(with_spec(json!({
            "type": "object",
            "x-kubernetes-validations": [
                {"rule": "self.minReplicas <= self.replicas", "message": "minReplicas must not exceed replicas"},
                {"rule": "self.replicas < 100", "fieldPath": ".replicas", "reason": "FieldValueForbidden",
                 "message": "at most 99"},
                {"rule": "self.replicas != 7",
                 "messageExpression": "'replicas ' + string(self.replicas) + ' is unlucky'"},
            ],
            "properties": {
                "replicas": {"type": "integer", "x-kubernetes-validations": [{"rule": "self % 2 == 1"}]},
                "minReplicas": {"type": "integer"},
            },
        })))
        .unwrap();
        assert_eq!(
            errors_of(
                &node,
                object(json!({"replicas": 3, "minReplicas": 1})),
                None
            ),
            Vec::<String>::new()
        );
        assert_eq!(
            errors_of(
                &node,
                object(json!({"replicas": 4, "minReplicas": 5})),
                None
            ),
            [
                "spec: Invalid value: minReplicas must not exceed replicas",
                "spec.replicas: Invalid value: 4: failed rule: self % 2 == 1",
            ]
        );
        assert_eq!(
            errors_of(
                &node,
                object(json!({"replicas": 101, "minReplicas": 1})),
                None
            ),
            ["spec.replicas: Forbidden: at most 99"]
        );
        assert_eq!(
            errors_of(
                &node,
                object(json!({"replicas": 7, "minReplicas": 1})),
                None
            ),
            ["spec: Invalid value: replicas 7 is unlucky"]
        );
    }

    #[test]
    fn the_root_sees_name_kind_and_escaped_fields_and_numbers_as_declared() {
        let node = compiled(json!({
            "type": "object",
            "x-kubernetes-validations": [
                {"rule": "self.metadata.name.startsWith('w') && self.kind == 'Widget'"},
                {"rule": "has(self.metadata.name) && !has(self.metadata.generateName)"},
            ],
            "properties": {"spec": {"type": "object",
                "x-kubernetes-validations": [{"rule": "self.max__dash__surge > 0.5 && self.__namespace__ == 'x'"}],
                "properties": {"max-surge": {"type": "number"}, "namespace": {"type": "string"}}}},
        }))
        .unwrap();
        assert_eq!(
            errors_of(
                &node,
                object(json!({"max-surge": 1, "namespace": "x"})),
                None
            ),
            Vec::<String>::new()
        );
        let mut renamed = object(json!({"max-surge": 0.25, "namespace": "x"}));
        renamed["metadata"]["name"] = json!("v1");
        assert_eq!(
            errors_of(&node, renamed, None),
            [
                "Invalid value: failed rule: self.metadata.name.startsWith('w') && self.kind == 'Widget'",
                "spec: Invalid value: failed rule: self.max__dash__surge > 0.5 && self.__namespace__ == 'x'",
            ]
        );
    }

    #[test]
    fn kubernetes_functions_are_there() {
        let node = compiled(with_spec(json!({
            "type": "object",
            "x-kubernetes-validations": [
                {"rule": "self.name.matches('^[a-z0-9]+$')", "message": "matches"},
                {"rule": "self.name.find('[0-9]+') == '42'", "message": "find"},
                {"rule": "self.name.findAll('[a-z]').size() == 3", "message": "findAll"},
                {"rule": "self.sizes.isSorted() && self.sizes.sum() == 6 && self.sizes.min() == 1 && self.sizes.max() == 3",
                 "message": "lists"},
                {"rule": "self.name.upperAscii().lowerAscii() == self.name && self.name.split('4').size() == 2",
                 "message": "strings"},
                {"rule": "self.sizes.map(s, s * 2).filter(s, s > 2).size() == 2 && self.sizes.exists_one(s, s == 2)",
                 "message": "macros"},
                {"rule": "self.sizes.indexOf(2) == 1 && self.sizes.lastIndexOf(9) == -1 && self.name.indexOf('4') == 3",
                 "message": "indexOf"},
                {"rule": "isQuantity(self.memory) && quantity(self.memory).compareTo(quantity('1Gi')) >= 0 && quantity(self.memory).add(quantity('1Mi')).isGreaterThan(quantity(self.memory))",
                 "message": "quantity"},
                {"rule": "quantity('1') == quantity('1000m') && quantity('1500m').asApproximateFloat() == 1.5 && quantity('2k').asInteger() == 2000 && quantity('-1').sign() == -1 && !quantity('1500m').isInteger() && quantity('1').sub(1).isLessThan(quantity('1m')) && !isQuantity('1Q')",
                 "message": "quantity arithmetic"},
            ],
            "properties": {
                "name": {"type": "string", "maxLength": 63},
                "memory": {"type": "string", "maxLength": 16},
                "sizes": {"type": "array", "maxItems": 10, "items": {"type": "integer"}},
            },
        })))
        .unwrap();
        assert_eq!(
            errors_of(
                &node,
                object(json!({"name": "abc42", "memory": "2Gi", "sizes": [1, 2, 3]})),
                None
            ),
            Vec::<String>::new()
        );
        assert_eq!(
            errors_of(
                &node,
                object(json!({"name": "AB-7", "memory": "512Mi", "sizes": [3, 1]})),
                None
            ),
            [
                "spec: Invalid value: matches",
                "spec: Invalid value: find",
                "spec: Invalid value: findAll",
                "spec: Invalid value: lists",
                "spec: Invalid value: strings",
                "spec: Invalid value: macros",
                "spec: Invalid value: indexOf",
                "spec: Invalid value: quantity",
            ]
        );
    }

    #[test]
    fn transition_rules_compare_with_the_old_value_where_it_correlates() {
        let node = compiled(with_spec(json!({
            "type": "object",
            "properties": {
                "class": {"type": "string", "x-kubernetes-validations": [
                    {"rule": "self == oldSelf", "message": "class is immutable"}]},
                "size": {"type": "integer", "x-kubernetes-validations": [
                    {"rule": "!oldSelf.hasValue() || self >= oldSelf.value()", "optionalOldSelf": true,
                     "message": "size may not shrink"}]},
                "ports": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                          "maxItems": 8,
                          "items": {"type": "object", "required": ["name"],
                                    "x-kubernetes-validations": [{"rule": "self.port == oldSelf.port", "message": "port is immutable"}],
                                    "properties": {"name": {"type": "string", "maxLength": 15}, "port": {"type": "integer"}}}},
            },
        })))
        .unwrap();
        let old =
            object(json!({"class": "gold", "size": 3, "ports": [{"name": "http", "port": 80}]}));
        // A create has no old value: transition rules are skipped.
        assert_eq!(errors_of(&node, old.clone(), None), Vec::<String>::new());
        let new = object(json!({"class": "gold", "size": 4,
            "ports": [{"name": "metrics", "port": 9000}, {"name": "http", "port": 80}]}));
        assert_eq!(
            errors_of(&node, new, Some(old.clone())),
            Vec::<String>::new()
        );
        let new = object(
            json!({"class": "silver", "size": 2, "ports": [{"name": "http", "port": 8080}]}),
        );
        assert_eq!(
            errors_of(&node, new, Some(old)),
            [
                "spec.class: Invalid value: \"silver\": class is immutable",
                "spec.ports[0]: Invalid value: port is immutable",
                "spec.size: Invalid value: 2: size may not shrink",
            ]
        );
    }

    #[test]
    fn rules_do_not_refuse_an_update_for_values_it_leaves_alone() {
        let node = compiled(with_spec(json!({
            "type": "object",
            "properties": {
                "replicas": {"type": "integer", "x-kubernetes-validations": [
                    {"rule": "self % 2 == 1", "message": "odd"},
                    {"rule": "self == oldSelf", "message": "immutable"}]},
                "color": {"type": "string"},
            },
        })))
        .unwrap();
        // Stored before the rule was added.
        let old = object(json!({"replicas": 4, "color": "red"}));
        assert_eq!(
            errors_of(
                &node,
                object(json!({"replicas": 4, "color": "blue"})),
                Some(old.clone())
            ),
            Vec::<String>::new()
        );
        assert_eq!(
            errors_of(
                &node,
                object(json!({"replicas": 6, "color": "red"})),
                Some(old)
            ),
            [
                "spec.replicas: Invalid value: 6: odd",
                "spec.replicas: Invalid value: 6: immutable",
            ]
        );
    }

    #[test]
    fn definitions_with_broken_rules_are_refused() {
        let errors = compiled(with_spec(json!({
            "type": "object",
            "properties": {"a": {"type": "string"}},
            "x-kubernetes-validations": [
                {"rule": "self.a =="},
                {"rule": "self.b == 'x'"},
                {"rule": "lookup(self.a)"},
                {"rule": ""},
                {"rule": "self.a == 'x'", "reason": "Sometimes", "fieldPath": ".nope"},
            ],
        })))
        .unwrap_err();
        let rules = "openAPIV3Schema.properties[spec].x-kubernetes-validations";
        assert!(errors[0].starts_with(&format!(
            "{rules}[0].rule: Invalid value: \"self.a ==\": compilation failed: ERROR: <input>:1:"
        )), "{errors:#?}");
        assert_eq!(
            errors[1..],
            [
                format!(
                    "{rules}[1].rule: Invalid value: \"self.b == 'x'\": compilation failed: ERROR: <input>:1:5: undefined field 'b'\n | self.b == 'x'\n | ....^"
                ),
                format!(
                    "{rules}[2].rule: Invalid value: \"lookup(self.a)\": compilation failed: ERROR: <input>:1:7: undeclared reference to 'lookup' (in container '')\n | lookup(self.a)\n | ......^"
                ),
                format!("{rules}[3].rule: Required value: rule is not specified"),
                format!(
                    "{rules}[4].reason: Unsupported value: \"Sometimes\": supported values: \"FieldValueInvalid\", \"FieldValueForbidden\", \"FieldValueRequired\", \"FieldValueDuplicate\""
                ),
                format!(
                    "{rules}[4].fieldPath: Invalid value: \".nope\": fieldPath must be a valid path: does not refer to a valid field"
                ),
            ]
        );
        let errors = compiled(with_spec(json!({
            "type": "object",
            "properties": {"tags": {"type": "array", "maxItems": 10, "items": {"type": "string", "maxLength": 10,
                "x-kubernetes-validations": [{"rule": "self == oldSelf"}]}}},
        })))
        .unwrap_err();
        assert_eq!(
            errors,
            [
                "openAPIV3Schema.properties[spec].properties[tags].items.x-kubernetes-validations[0].rule: Invalid value: \"self == oldSelf\": oldSelf cannot be used on the uncorrelatable portion of the schema within openAPIV3Schema.properties[spec].properties[tags].items"
            ]
        );
    }

    #[test]
    fn rules_are_priced_against_the_schemas_bounds() {
        let rule = |rule: &str, list: Value| {
            compiled(with_spec(
                json!({"type": "object", "properties": {"list": list},
                "x-kubernetes-validations": [{"rule": rule}]}),
            ))
        };
        // An unbounded list of integers: about 1.5 million items, each
        // cheap to check — within the limit, as upstream finds.
        let ints = json!({"type": "array", "items": {"type": "integer"}});
        assert!(rule("self.list.all(x, x == 5)", ints).is_ok());
        // A list of lists multiplies: refused, as upstream refuses it.
        let nested =
            json!({"type": "array", "items": {"type": "array", "items": {"type": "integer"}}});
        let errors = rule("self.list.all(x, x.all(y, y == 5))", nested).unwrap_err();
        let advice = "(try simplifying the rule, or adding maxItems, maxProperties, and maxLength where arrays, maps, and strings are declared)";
        let path = "openAPIV3Schema.properties[spec].x-kubernetes-validations[0].rule";
        // The rule is over its own limit, and so over the schema's total.
        assert_eq!(
            errors,
            [
                format!(
                    "{path}: Forbidden: estimated rule cost exceeds budget by factor of more than 100x {advice}"
                ),
                format!(
                    "{path}: Forbidden: contributed to estimated rule cost total exceeding cost limit for entire OpenAPIv3 schema"
                ),
                format!(
                    "openAPIV3Schema: Forbidden: x-kubernetes-validations estimated rule cost total for entire OpenAPIv3 schema exceeds budget by factor of more than 100x {advice}"
                ),
            ]
        );
        // Bounds make it affordable.
        let bounded = json!({"type": "array", "maxItems": 100,
            "items": {"type": "array", "maxItems": 100, "items": {"type": "integer"}}});
        assert!(rule("self.list.all(x, x.all(y, y == 5))", bounded).is_ok());
        // Unbounded strings are long: matching each of an unbounded list.
        let strings = json!({"type": "array", "items": {"type": "string"}});
        assert!(rule("self.list.all(s, s.matches('^[a-z]+$'))", strings).is_err());
    }

    #[test]
    fn a_schema_whose_rules_add_up_past_the_total_is_refused() {
        // Each rule is affordable alone, but runs on every item of a list
        // of a million.
        let item_rules: Vec<Value> = (0..5)
            .map(|i| json!({"rule": format!("self.name.startsWith('{i}')")}))
            .collect();
        let errors = compiled(with_spec(
            json!({"type": "object", "properties": {"items": {
                "type": "array",
                "items": {"type": "object", "x-kubernetes-validations": item_rules,
                          "properties": {"name": {"type": "string", "maxLength": 200}}},
            }}}),
        ))
        .unwrap_err();
        let items =
            "openAPIV3Schema.properties[spec].properties[items].items.x-kubernetes-validations";
        assert_eq!(errors.len(), 5, "{errors:#?}");
        assert_eq!(
            errors[0],
            format!(
                "{items}[0].rule: Forbidden: contributed to estimated rule cost total exceeding cost limit for entire OpenAPIv3 schema"
            )
        );
        assert!(errors[4].starts_with(
            "openAPIV3Schema: Forbidden: x-kubernetes-validations estimated rule cost total for entire OpenAPIv3 schema exceeds budget by factor of"
        ), "{errors:#?}");
    }

    #[test]
    fn deep_rules_run_on_a_stack_that_holds_them_and_deeper_ones_are_refused() {
        let rule_on_a = |rule: String| {
            compiled(with_spec(json!({"type": "object",
                "properties": {"a": {"type": "integer"}},
                "x-kubernetes-validations": [{"rule": rule, "message": "deep"}]})))
        };
        // As deep as allowed: it compiles, and runs.
        let deep = format!("self.a{} > 0", " + 1".repeat(stack::MAX_DEPTH - 4));
        let node = rule_on_a(deep).unwrap();
        assert_eq!(
            errors_of(&node, object(json!({"a": 1})), None),
            Vec::<String>::new()
        );
        assert_eq!(
            errors_of(&node, object(json!({"a": -10_000})), None),
            ["spec: Invalid value: deep"]
        );
        // The parser's own nesting limit holds on brackets.
        let bracketed = format!("{}self.a{} > 0", "(".repeat(200), ")".repeat(200));
        let errors = rule_on_a(bracketed).unwrap_err();
        assert!(
            errors[0].contains("compilation failed: ERROR: <input>:1:"),
            "{errors:?}"
        );
        // Deeper still: refused before the parser recurses into it.
        let deeper = format!("self.a{} > 0", " + 1".repeat(20_000));
        let errors = rule_on_a(deeper).unwrap_err();
        let tail = |text: &str| {
            text.chars()
                .rev()
                .take(200)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<String>()
        };
        assert!(
            errors[0].ends_with(&format!("compilation failed: ERROR: <input>:1:1: expression nesting exceeds limit: 20003 levels of operators and brackets, limit {}", stack::MAX_DEPTH)),
            "{}",
            tail(&errors[0])
        );
    }

    #[test]
    fn a_rule_too_costly_for_this_object_does_not_run() {
        // Affordable as declared (a thousand items at most), but comparing
        // every pair of a thousand items is more than one call may cost.
        let node = compiled(with_spec(json!({"type": "object", "properties": {"list": {
            "type": "array", "maxItems": 1000, "items": {"type": "integer"},
            "x-kubernetes-validations": [{"rule": "self.all(x, self.exists_one(y, x == y))", "message": "unique"}],
        }}})))
        .unwrap();
        let few: Vec<i64> = (0..10).collect();
        assert_eq!(
            errors_of(&node, object(json!({"list": few})), None),
            Vec::<String>::new()
        );
        let many: Vec<i64> = (0..1000).collect();
        assert_eq!(
            errors_of(&node, object(json!({"list": many})), None),
            [
                "spec.list: Invalid value: no further validation rules will be run due to call cost exceeds limit for rule: unique"
            ]
        );
    }
}
