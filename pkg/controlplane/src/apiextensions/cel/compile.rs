//! Compiling a schema's rules when a definition is written: parsing,
//! checking and pricing each against the schema's worst case, and the
//! schema's total, with upstream's messages.

use std::fmt;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::ValidationRule;

use apimachinery::validation::field::{Error, ErrorList, Path};

use super::super::schema::Node;
use super::cost::Estimator;
use super::shape::Shape;
use super::{STATIC_ESTIMATED_COST_LIMIT, STATIC_ESTIMATED_CRD_COST_LIMIT, library, stack};

/// The rules named when a schema's total is over its limit.
const MOST_EXPENSIVE: usize = 4;

/// The `reason` a failed rule's error carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Reason {
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
pub(super) enum FieldStep {
    Child(String),
    Key(String),
}

/// One compiled rule.
pub struct Rule {
    pub(super) text: String,
    pub(super) program: cel::Program,
    pub(super) message: Option<String>,
    pub(super) message_expression: Option<cel::Program>,
    pub(super) reason: Reason,
    pub(super) field_path: Vec<FieldStep>,
    pub(super) uses_old_self: bool,
    pub(super) optional_old_self: bool,
}

impl fmt::Debug for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rule").field("rule", &self.text).finish()
    }
}

impl Rule {
    /// Upstream's `ruleErrorString`: the message, else the rule.
    pub(super) fn error_string(&self) -> &str {
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
