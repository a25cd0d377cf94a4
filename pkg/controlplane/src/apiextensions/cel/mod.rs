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

mod cost;
mod library;
mod shape;
mod stack;
mod value;

pub use shape::{entries_bound, min_json_size};

use std::fmt;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::ValidationRule;
use serde_json::Value;

use apimachinery::validation::field::{Error, ErrorList, ErrorType, Path};

use super::schema::{Node, OldItems};
use cost::Estimator;
use shape::Shape;

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
/// The rules named when a schema's total is over its limit.
const MOST_EXPENSIVE: usize = 4;

/// The `reason` a failed rule's error carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reason {
    Invalid,
    Forbidden,
    Required,
    Duplicate,
}

const REASONS: [&str; 4] = [
    "FieldValueInvalid",
    "FieldValueForbidden",
    "FieldValueRequired",
    "FieldValueDuplicate",
];

/// One step of a rule's `fieldPath`.
#[derive(Clone, Debug, PartialEq, Eq)]
enum FieldStep {
    Child(String),
    Key(String),
}

/// One compiled rule.
pub struct Rule {
    text: String,
    program: cel::Program,
    message: Option<String>,
    message_expression: Option<cel::Program>,
    reason: Reason,
    field_path: Vec<FieldStep>,
    uses_old_self: bool,
    optional_old_self: bool,
}

impl fmt::Debug for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rule").field("rule", &self.text).finish()
    }
}

impl Rule {
    /// Upstream's `ruleErrorString`: the message, else the rule.
    fn error_string(&self) -> &str {
        self.message.as_deref().unwrap_or(&self.text).trim()
    }
}

/// Where a schema node sits, as its rules' compile needs it.
#[derive(Clone, Copy, Debug)]
pub struct Position {
    /// How many values the node can describe in one object: the product
    /// of the bounds of the lists and maps above it.
    pub cardinality: u64,
    /// An update's old value of the node can be found (no list above it
    /// other than a `map` list): transition rules are allowed.
    pub correlatable: bool,
    /// The root of the object or of an embedded resource.
    pub resource_root: bool,
}

impl Position {
    pub const ROOT: Position = Position {
        cardinality: 1,
        correlatable: true,
        resource_root: true,
    };
}

/// What compiling a schema's rules found: their estimated costs, for the
/// schema's total limit, and the rules' errors. A definition with errors
/// is refused when written; one already stored is served with the rules
/// that compiled.
#[derive(Debug, Default)]
pub struct RuleCheck {
    costs: Vec<(Path, u64)>,
    total: u64,
    pub errors: ErrorList,
}

impl RuleCheck {
    fn observe(&mut self, path: Path, cost: u64) {
        self.total = self.total.saturating_add(cost);
        self.costs.push((path, cost));
    }

    /// The sum of the rules' costs, each times its node's cardinality.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The errors, with the schema's (at `path`) when its total is over
    /// the limit, naming its most expensive rules.
    pub fn finish(mut self, path: &Path) -> ErrorList {
        if self.total > STATIC_ESTIMATED_CRD_COST_LIMIT {
            self.costs.sort_by_key(|(_, cost)| std::cmp::Reverse(*cost));
            for (rule, _) in self.costs.iter().take(MOST_EXPENSIVE) {
                self.errors.push(Error::forbidden(
                    rule,
                    "contributed to estimated rule cost total exceeding cost limit for entire OpenAPIv3 schema",
                ));
            }
            self.errors.push(Error::forbidden(
                path,
                cost_message(
                    "x-kubernetes-validations estimated rule cost total for entire OpenAPIv3 schema",
                    self.total,
                    STATIC_ESTIMATED_CRD_COST_LIMIT,
                ),
            ));
        }
        self.errors
    }
}

/// Upstream's `getCostErrorMessage`.
fn cost_message(what: &str, cost: u64, limit: u64) -> String {
    let factor = cost as f64 / limit as f64;
    let factor = if factor > 100.0 {
        "more than 100x".to_string()
    } else if factor < 1.5 {
        format!("{factor:.6}x")
    } else {
        format!("{factor:.1}x")
    };
    format!(
        "{what} exceeds budget by factor of {factor} (try simplifying the rule, or adding maxItems, maxProperties, and maxLength where arrays, maps, and strings are declared)"
    )
}

/// The variables a rule on a node of `shape` sees at compile time.
fn variables(shape: &Shape) -> Vec<(String, Shape)> {
    vec![
        ("self".to_string(), shape.clone()),
        ("oldSelf".to_string(), shape.clone()),
    ]
}

/// Compiles `expression` and estimates its cost on `shape`; the error is
/// upstream's detail (`compilation failed: ERROR: <input>:1:5: ...`).
fn compile_expression(expression: &str, shape: &Shape) -> Result<(cel::Program, u64), String> {
    if let Some(refused) = stack::refuse_before_parsing(expression) {
        return Err(format!("ERROR: <input>:1:1: {refused}"));
    }
    stack::on_deep_stack(|| {
        let program = library::environment()
            .compile(expression)
            .map_err(|errors| errors.to_string())?;
        let mut estimator = Estimator::new(variables(shape), Some(program.source_info()));
        let estimate = estimator.estimate(program.expression());
        if !estimator.errors.is_empty() {
            let rendered: Vec<String> = estimator
                .errors
                .iter()
                .map(|error| error.render(expression))
                .collect();
            return Err(rendered.join("\n"));
        }
        Ok((program, estimate.cost))
    })
    .unwrap_or_else(|| Err("ERROR: <input>:1:1: no thread to compile the rule on".into()))
}

/// Compiles the `x-kubernetes-validations` of the schema at `path`, whose
/// node (children included) is `node`.
pub fn compile_rules(
    rules: &[ValidationRule],
    node: &Node,
    path: &Path,
    position: Position,
    check: &mut RuleCheck,
) -> Vec<Rule> {
    let shape = Shape::of_schema(node, position.resource_root);
    let mut compiled = Vec::new();
    for (index, rule) in rules.iter().enumerate() {
        let rule_path = path.child("x-kubernetes-validations").index(index);
        if rule.rule.trim().is_empty() {
            check.errors.push(Error::required(
                &rule_path.child("rule"),
                "rule is not specified",
            ));
            continue;
        }
        let program = match compile_expression(&rule.rule, &shape) {
            Ok((program, cost)) => {
                if cost > STATIC_ESTIMATED_COST_LIMIT {
                    check.errors.push(Error::forbidden(
                        &rule_path.child("rule"),
                        cost_message("estimated rule cost", cost, STATIC_ESTIMATED_COST_LIMIT),
                    ));
                }
                check.observe(
                    rule_path.child("rule"),
                    cost.saturating_mul(position.cardinality),
                );
                program
            }
            Err(detail) => {
                check.errors.push(Error::invalid(
                    &rule_path.child("rule"),
                    rule.rule.as_str(),
                    format!("compilation failed: {detail}"),
                ));
                continue;
            }
        };
        let uses_old_self = program.references().has_variable("oldSelf");
        let optional_old_self = rule.optional_old_self == Some(true);
        if uses_old_self && !position.correlatable {
            check.errors.push(Error::invalid(
                &rule_path.child("rule"),
                rule.rule.as_str(),
                format!("oldSelf cannot be used on the uncorrelatable portion of the schema within {path}"),
            ));
        }
        if optional_old_self && !uses_old_self {
            check.errors.push(Error::forbidden(
                &rule_path.child("optionalOldSelf"),
                "may not be set if oldSelf is not used in rule",
            ));
        }
        if let Some(message) = &rule.message {
            if message.trim().is_empty() {
                check.errors.push(Error::required(
                    &rule_path.child("message"),
                    "message must be non-empty if specified",
                ));
            } else if message.contains(['\n', '\r']) {
                check.errors.push(Error::invalid(
                    &rule_path.child("message"),
                    message.as_str(),
                    "message must not contain line breaks",
                ));
            }
        }
        let message_expression = match rule.message_expression.as_deref() {
            None | Some("") => None,
            Some(expression) => match compile_expression(expression, &shape) {
                Ok((program, cost)) => {
                    if cost > STATIC_ESTIMATED_COST_LIMIT {
                        check.errors.push(Error::forbidden(
                            &rule_path.child("messageExpression"),
                            cost_message(
                                "estimated messageExpression cost",
                                cost,
                                STATIC_ESTIMATED_COST_LIMIT,
                            ),
                        ));
                    }
                    check.observe(
                        rule_path.child("messageExpression"),
                        cost.saturating_mul(position.cardinality),
                    );
                    Some(program)
                }
                Err(detail) => {
                    check.errors.push(Error::invalid(
                        &rule_path.child("messageExpression"),
                        expression,
                        format!("messageExpression compilation failed: {detail}"),
                    ));
                    None
                }
            },
        };
        let reason = match rule.reason.as_deref() {
            None | Some("FieldValueInvalid") => Reason::Invalid,
            Some("FieldValueForbidden") => Reason::Forbidden,
            Some("FieldValueRequired") => Reason::Required,
            Some("FieldValueDuplicate") => Reason::Duplicate,
            Some(other) => {
                check.errors.push(Error::not_supported(
                    &rule_path.child("reason"),
                    other,
                    &REASONS,
                ));
                Reason::Invalid
            }
        };
        let field_path = match rule.field_path.as_deref() {
            None | Some("") => Vec::new(),
            Some(field_path) => match parse_field_path(field_path, node) {
                Ok(steps) => steps,
                Err(reason) => {
                    check.errors.push(Error::invalid(
                        &rule_path.child("fieldPath"),
                        field_path,
                        format!("fieldPath must be a valid path: {reason}"),
                    ));
                    Vec::new()
                }
            },
        };
        {
            compiled.push(Rule {
                text: rule.rule.clone(),
                program,
                message: rule.message.clone(),
                message_expression,
                reason,
                field_path,
                uses_old_self,
                optional_old_self,
            });
        }
    }
    compiled
}

/// A rule's `fieldPath` (`.spec.replicas`, `.labels['app.kubernetes.io/name']`),
/// checked against the schema it starts at.
fn parse_field_path(text: &str, node: &Node) -> Result<Vec<FieldStep>, String> {
    let mut steps = Vec::new();
    let mut at = node;
    let mut rest = text;
    while !rest.is_empty() {
        let name = if let Some(after) = rest.strip_prefix("['") {
            let end = after
                .find("']")
                .ok_or_else(|| "expected a closing ']'".to_string())?;
            let name = &after[..end];
            rest = &after[end + 2..];
            name
        } else if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            let name = &after[..end];
            rest = &after[end..];
            name
        } else {
            return Err(format!("expected [ or . but got: {rest}"));
        };
        if name.is_empty() {
            return Err("a field name is empty".into());
        }
        if let Some(child) = at.properties.get(name) {
            steps.push(FieldStep::Child(name.to_string()));
            at = child;
        } else if let Some(values) = at.additional_properties.as_deref() {
            steps.push(FieldStep::Key(name.to_string()));
            at = values;
        } else {
            return Err("does not refer to a valid field".into());
        }
    }
    Ok(steps)
}

/// Evaluates every rule of `node`'s schema on `value` (a whole object),
/// `old` being the object an update replaces.
pub fn validate(value: &Value, old: Option<&Value>, node: &Node, errors: &mut ErrorList) {
    if !node.has_rules {
        return;
    }
    let found = stack::on_deep_stack(|| {
        let mut found = Vec::new();
        let mut run = Run {
            context: library::context(),
            remaining: RUNTIME_COST_BUDGET,
            exhausted: false,
            errors: &mut found,
        };
        run.walk(value, old, node, &Path::default(), true, false);
        found
    });
    match found {
        Some(found) => errors.extend(found),
        None => errors.push(Error::internal(
            &Path::default(),
            "validation rules could not be run: no thread to run them on",
        )),
    }
}

/// One object's evaluation: its context, what is left of its budget.
struct Run<'e> {
    context: cel::Context<'static, 'static>,
    remaining: u64,
    exhausted: bool,
    errors: &'e mut ErrorList,
}

impl Run<'_> {
    /// `unchanged`: an ancestor equals its old value, so this one does.
    fn walk(
        &mut self,
        value: &Value,
        old: Option<&Value>,
        node: &Node,
        path: &Path,
        root: bool,
        unchanged: bool,
    ) {
        if self.exhausted || !node.has_rules || value.is_null() {
            return;
        }
        let unchanged = unchanged || old == Some(value);
        if !node.rules.is_empty() {
            self.evaluate(value, old, node, path, root, unchanged);
        }
        match value {
            Value::Object(fields) => {
                if let Some(values) = node.additional_properties.as_deref() {
                    for (key, field) in fields {
                        let old_field = old.and_then(|old| old.get(key));
                        self.walk(
                            field,
                            old_field,
                            values,
                            &path.child(key),
                            values.embedded_resource,
                            unchanged,
                        );
                    }
                } else {
                    for (name, child) in &node.properties {
                        if let Some(field) = fields.get(name) {
                            let old_field = old.and_then(|old| old.get(name));
                            self.walk(
                                field,
                                old_field,
                                child,
                                &path.child(name),
                                child.embedded_resource,
                                unchanged,
                            );
                        }
                    }
                }
            }
            Value::Array(items) => {
                let Some(item_node) = node.items.as_deref() else {
                    return;
                };
                let old_items = OldItems::of(node, old);
                for (index, item) in items.iter().enumerate() {
                    let old_item = old_items.counterpart(node, item);
                    self.walk(
                        item,
                        old_item,
                        item_node,
                        &path.index(index),
                        item_node.embedded_resource,
                        unchanged,
                    );
                    if self.exhausted {
                        return;
                    }
                }
            }
            _ => {}
        }
    }

    fn stop(&mut self, path: &Path, value: &Value, node: &Node, detail: String) {
        self.errors.push(invalid(path, value, node, detail));
        self.exhausted = true;
    }

    /// Charges `cost` to the budget; `false` (and the error) when it does
    /// not fit.
    fn charge(&mut self, cost: u64, rule: &Rule, path: &Path, value: &Value, node: &Node) -> bool {
        if cost > PER_CALL_LIMIT {
            self.stop(
                path,
                value,
                node,
                format!(
                    "no further validation rules will be run due to call cost exceeds limit for rule: {}",
                    rule.error_string()
                ),
            );
            return false;
        }
        if cost > self.remaining {
            self.stop(
                path,
                value,
                node,
                "validation failed due to running out of cost budget, no further validation rules will be run".into(),
            );
            return false;
        }
        self.remaining -= cost;
        true
    }

    /// Runs `node`'s rules on `value`; when it is `unchanged` from its old
    /// value only transition rules (upstream ratchets the others' errors:
    /// a rule made stricter does not refuse an update that leaves the value
    /// alone).
    fn evaluate(
        &mut self,
        value: &Value,
        old: Option<&Value>,
        node: &Node,
        path: &Path,
        root: bool,
        unchanged: bool,
    ) {
        let self_value = value::to_cel(value, Some(node), root);
        let old_value = old.map(|old| value::to_cel(old, Some(node), root));
        let self_shape = Shape::of_value(value);
        let old_shape = old.map_or_else(Shape::default, Shape::of_value);
        let shapes = vec![
            ("self".to_string(), self_shape),
            ("oldSelf".to_string(), old_shape),
        ];
        for rule in &node.rules {
            if unchanged && !rule.uses_old_self {
                continue;
            }
            if rule.uses_old_self && old_value.is_none() && !rule.optional_old_self {
                // A transition rule needs an old value to compare with.
                continue;
            }
            let cost = Estimator::new(shapes.clone(), None)
                .estimate(rule.program.expression())
                .cost;
            if !self.charge(cost, rule, path, value, node) {
                return;
            }
            let outcome = {
                let mut scope = self.context.new_inner_scope();
                scope.add_variable_from_value("self", self_value.clone());
                if rule.uses_old_self {
                    bind_old_self(&mut scope, old_value.as_ref(), rule.optional_old_self);
                }
                rule.program.execute(&scope)
            };
            match outcome {
                Ok(cel::Value::Bool(true)) => {}
                Ok(cel::Value::Bool(false)) => {
                    let detail = self.failure_detail(rule, &self_value, old_value.as_ref(), &shapes);
                    let mut at = path.clone();
                    for step in &rule.field_path {
                        at = match step {
                            FieldStep::Child(name) => at.child(name),
                            FieldStep::Key(key) => at.key(key),
                        };
                    }
                    self.errors.push(failed(&at, value, node, rule.reason, detail));
                }
                Ok(other) => self.errors.push(invalid(
                    path,
                    value,
                    node,
                    format!(
                        "rule evaluated to {}, not a bool: {}",
                        other.type_of(),
                        rule.error_string()
                    ),
                )),
                Err(cel::ExecutionError::NoSuchOverload(overload)) => self.errors.push(invalid(
                    path,
                    value,
                    node,
                    format!(
                        "'{overload}': call arguments did not match a supported operator, function or macro signature for rule: {}",
                        rule.error_string()
                    ),
                )),
                Err(error) => self.errors.push(invalid(
                    path,
                    value,
                    node,
                    format!("{error} evaluating rule: {}", rule.error_string()),
                )),
            }
            if self.exhausted {
                return;
            }
        }
    }

    /// The failed rule's message: its `messageExpression`'s value when
    /// that evaluates to a non-empty single-line string within the budget,
    /// else its `message`, else `failed rule: <rule>`.
    fn failure_detail(
        &mut self,
        rule: &Rule,
        self_value: &cel::Value,
        old_value: Option<&cel::Value>,
        shapes: &[(String, Shape)],
    ) -> String {
        let fallback = || match &rule.message {
            Some(message) => message.trim().to_string(),
            None => format!("failed rule: {}", rule.text.trim()),
        };
        let Some(expression) = &rule.message_expression else {
            return fallback();
        };
        let cost = Estimator::new(shapes.to_vec(), None)
            .estimate(expression.expression())
            .cost;
        if cost > PER_CALL_LIMIT || cost > self.remaining {
            return fallback();
        }
        self.remaining -= cost;
        let mut scope = self.context.new_inner_scope();
        scope.add_variable_from_value("self", self_value.clone());
        bind_old_self(&mut scope, old_value, rule.optional_old_self);
        match expression.execute(&scope) {
            Ok(cel::Value::String(text))
                if !text.trim().is_empty()
                    && !text.contains(['\n', '\r'])
                    && text.len() <= 5 * 1024 =>
            {
                text.trim().to_string()
            }
            _ => fallback(),
        }
    }
}

fn bind_old_self(scope: &mut cel::Context<'_, '_>, old: Option<&cel::Value>, optional: bool) {
    use cel::common::types::CelOptional;
    use cel::common::value::Val;
    if !optional {
        if let Some(old) = old {
            scope.add_variable_from_value("oldSelf", old.clone());
        }
        return;
    }
    let wrapped = match old.cloned().map(Box::<dyn Val>::try_from) {
        Some(Ok(old)) => CelOptional::of(old),
        _ => CelOptional::none(),
    };
    scope.add_variable_as_val("oldSelf", Box::new(wrapped));
}

/// Upstream shows the value of a failing scalar, and omits an object's or
/// a list's.
fn shown_value(value: &Value, node: &Node) -> Option<Value> {
    match value {
        Value::Object(_) | Value::Array(_) => None,
        _ if node.kind == "object" || node.kind == "array" => None,
        other => Some(other.clone()),
    }
}

fn invalid(path: &Path, value: &Value, node: &Node, detail: String) -> Error {
    Error {
        error_type: ErrorType::Invalid,
        field: path.to_string(),
        bad_value: shown_value(value, node),
        detail,
    }
}

fn failed(path: &Path, value: &Value, node: &Node, reason: Reason, detail: String) -> Error {
    match reason {
        Reason::Invalid => invalid(path, value, node, detail),
        Reason::Forbidden => Error::forbidden(path, detail),
        Reason::Required => Error::required(path, detail),
        Reason::Duplicate => Error {
            error_type: ErrorType::Duplicate,
            field: path.to_string(),
            bad_value: shown_value(value, node),
            detail: String::new(),
        },
    }
}

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
    use crate::apiextensions::schema;
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::JSONSchemaProps;
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
            ],
            "properties": {
                "name": {"type": "string", "maxLength": 63},
                "sizes": {"type": "array", "maxItems": 10, "items": {"type": "integer"}},
            },
        })))
        .unwrap();
        assert_eq!(
            errors_of(
                &node,
                object(json!({"name": "abc42", "sizes": [1, 2, 3]})),
                None
            ),
            Vec::<String>::new()
        );
        assert_eq!(
            errors_of(
                &node,
                object(json!({"name": "AB-7", "sizes": [3, 1]})),
                None
            ),
            [
                "spec: Invalid value: matches",
                "spec: Invalid value: find",
                "spec: Invalid value: findAll",
                "spec: Invalid value: lists",
                "spec: Invalid value: strings",
                "spec: Invalid value: macros",
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
