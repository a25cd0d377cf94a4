//! Running a schema's rules on a written object: each rule's cost
//! estimated over the object's own sizes and charged before it runs, old
//! values correlated for transition rules and ratcheting, upstream's field
//! errors for the rules that fail.

use serde_json::Value;

use apimachinery::validation::field::{Error, ErrorList, ErrorType, Path};

use super::super::schema::{Node, OldItems};
use super::compile::{FieldStep, Reason, Rule};
use super::cost::Estimator;
use super::shape::Shape;
use super::{PER_CALL_LIMIT, RUNTIME_COST_BUDGET, library, stack, value};

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
                    format!(
                        "{} evaluating rule: {}",
                        go_style(&error.to_string()),
                        rule.error_string()
                    ),
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

/// An evaluation error as cel-go words it: lower case first (`no such
/// key: replicas`).
fn go_style(message: &str) -> String {
    let mut chars = message.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
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
