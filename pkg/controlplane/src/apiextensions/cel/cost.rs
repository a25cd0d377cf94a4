//! The cost of a rule, estimated over its syntax tree (after cel-go's
//! `checker/cost.go`, in the same units: one per identifier, selection and
//! call; string and list work at a tenth of a unit per character or item;
//! comprehensions at their range's size times their body). Given the
//! schema's worst-case shapes it is the static estimate a definition is
//! refused over; given an object's own shapes it is an upper bound of
//! what evaluating the rule on that object costs, charged to the
//! request's budget before the rule runs.
//!
//! The same walk checks what cel-go's type check would refuse and cel-rust
//! does not: references to undeclared variables or functions, and fields
//! a closed object does not declare.

use cel::common::ast::{EntryExpr, SourceInfo};
use cel::common::ast::{Expr, IdedExpr, LiteralValue, operators};

use super::library::FUNCTIONS;
use super::quantity::FUNCTIONS as QUANTITY_FUNCTIONS;
use super::shape::{Kind, Shape};

/// Identifiers that name types or namespaces rather than variables.
const TYPE_NAMES: &[&str] = &[
    "int",
    "uint",
    "double",
    "string",
    "bytes",
    "bool",
    "list",
    "map",
    "null_type",
    "type",
    "strings",
    "optional",
    "dyn",
];

/// What compiling a regular expression may cost (about a millisecond at
/// upstream's 0.1 s per million, the compile time of a pattern at
/// [`library`](super::library)'s size limit).
const REGEX_COMPILE_COST: u64 = 10_000;

/// A cost and the shape of the value it produces.
#[derive(Clone, Debug, Default)]
pub struct Estimate {
    pub cost: u64,
    pub shape: Shape,
}

/// One problem the check found, at a byte offset of the rule.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckError {
    pub offset: Option<u32>,
    pub message: String,
}

impl CheckError {
    /// cel-go's rendering: `ERROR: <input>:1:5: message`, the line and a
    /// caret under the column.
    pub fn render(&self, source: &str) -> String {
        let offset = self.offset.unwrap_or(0) as usize;
        let mut line_start = 0;
        let mut line_number = 1;
        for (index, c) in source.char_indices() {
            if index >= offset {
                break;
            }
            if c == '\n' {
                line_number += 1;
                line_start = index + 1;
            }
        }
        let line = source[line_start..].lines().next().unwrap_or_default();
        let column = source
            .get(line_start..offset.max(line_start))
            .map_or(0, |before| before.chars().count());
        format!(
            "ERROR: <input>:{line_number}:{}: {}\n | {line}\n | {}^",
            column + 1,
            self.message,
            ".".repeat(column)
        )
    }
}

/// Walks one rule with its variables' shapes.
pub struct Estimator<'a> {
    scopes: Vec<(String, Shape)>,
    source_info: Option<&'a SourceInfo>,
    pub errors: Vec<CheckError>,
}

/// A tenth of `n`, rounded up (cel-go's traversal cost factor).
fn tenth(n: u64) -> u64 {
    n.div_ceil(10)
}

/// A quarter of `n`, rounded up (cel-go's regex cost factor).
fn quarter(n: u64) -> u64 {
    n.div_ceil(4)
}

impl<'a> Estimator<'a> {
    /// `variables`: `self`, and `oldSelf` for a transition rule.
    /// `source_info` places check errors; without it the walk only
    /// estimates.
    pub fn new(variables: Vec<(String, Shape)>, source_info: Option<&'a SourceInfo>) -> Self {
        Estimator {
            scopes: variables,
            source_info,
            errors: Vec::new(),
        }
    }

    fn error(&mut self, expr: &IdedExpr, message: String) {
        if let Some(info) = self.source_info {
            self.errors.push(CheckError {
                offset: info.offset_for(expr.id).map(|(start, _)| start),
                message,
            });
        }
    }

    fn lookup(&self, name: &str) -> Option<Shape> {
        self.scopes
            .iter()
            .rev()
            .find(|(bound, _)| bound == name)
            .map(|(_, shape)| shape.clone())
    }

    pub fn estimate(&mut self, expr: &IdedExpr) -> Estimate {
        match &expr.expr {
            Expr::Literal(literal) => Estimate {
                cost: 0,
                shape: match literal {
                    LiteralValue::String(text) => {
                        Shape::string(text.inner().chars().count() as u64)
                    }
                    LiteralValue::Bytes(bytes) => Shape::string(bytes.inner().len() as u64),
                    _ => Shape::scalar(),
                },
            },
            Expr::Ident(name) => {
                let shape = match self.lookup(name) {
                    Some(shape) => shape,
                    None => {
                        if !TYPE_NAMES.contains(&name.as_str()) {
                            self.error(
                                expr,
                                format!("undeclared reference to '{name}' (in container '')"),
                            );
                        }
                        Shape::scalar()
                    }
                };
                Estimate { cost: 1, shape }
            }
            Expr::Select(select) => {
                let operand = self.estimate(&select.operand);
                let (shape, declared) = operand.shape.field(&select.field);
                if !declared {
                    self.error(expr, format!("undefined field '{}'", select.field));
                }
                Estimate {
                    cost: operand.cost.saturating_add(1),
                    shape: if select.test { Shape::scalar() } else { shape },
                }
            }
            Expr::List(list) => {
                let mut cost = 10u64;
                let mut element = Shape::default();
                for item in &list.elements {
                    let item = self.estimate(item);
                    cost = cost.saturating_add(item.cost);
                    element = element.merge(item.shape);
                }
                Estimate {
                    cost,
                    shape: Shape::list(list.elements.len() as u64, element),
                }
            }
            Expr::Map(map) => self.entries(30, &map.entries),
            Expr::Struct(structure) => self.entries(40, &structure.entries),
            Expr::Comprehension(comprehension) => {
                let range = self.estimate(&comprehension.iter_range);
                let init = self.estimate(&comprehension.accu_init);
                let iterations = range.shape.size;
                let (first, second) = match range.shape.kind {
                    Kind::Map => (
                        Shape::string(range.shape.size.max(253)),
                        range.shape.element(),
                    ),
                    _ => (range.shape.element(), range.shape.element()),
                };
                let depth = self.scopes.len();
                self.scopes.push((comprehension.iter_var.clone(), first));
                if let Some(second_var) = &comprehension.iter_var2 {
                    self.scopes.push((second_var.clone(), second));
                }
                let accumulator = match init.shape.kind {
                    // `map`/`filter` build a list as long as the range.
                    Kind::List => Shape::list(iterations, init.shape.element()),
                    _ => init.shape.clone(),
                };
                self.scopes
                    .push((comprehension.accu_var.clone(), accumulator.clone()));
                let condition = self.estimate(&comprehension.loop_cond);
                let step = self.appending_step(&comprehension.accu_var, &comprehension.loop_step);
                let produced = match step.shape.kind {
                    Kind::List => Shape::list(iterations, step.shape.element()),
                    _ => step.shape.merge(accumulator),
                };
                self.scopes.truncate(depth);
                self.scopes.push((comprehension.accu_var.clone(), produced));
                let result = self.estimate(&comprehension.result);
                self.scopes.truncate(depth);
                let per_iteration = condition.cost.saturating_add(step.cost);
                Estimate {
                    cost: range
                        .cost
                        .saturating_add(init.cost)
                        .saturating_add(iterations.saturating_mul(per_iteration))
                        .saturating_add(result.cost),
                    shape: result.shape,
                }
            }
            Expr::Call(call) => {
                self.call(expr, &call.func_name, call.target.as_deref(), &call.args)
            }
            Expr::Unspecified => Estimate::default(),
        }
    }

    fn entries(&mut self, base: u64, entries: &[cel::common::ast::IdedEntryExpr]) -> Estimate {
        let mut cost = base;
        let mut shape = Shape {
            kind: Kind::Map,
            size: entries.len() as u64,
            ..Shape::default()
        };
        let mut element = Shape::default();
        for entry in entries {
            let (key, value) = match &entry.expr {
                EntryExpr::MapEntry(entry) => (Some(&entry.key), &entry.value),
                EntryExpr::StructField(field) => (None, &field.value),
            };
            if let Some(key) = key {
                cost = cost.saturating_add(self.estimate(key).cost);
            }
            let value = self.estimate(value);
            cost = cost.saturating_add(value.cost);
            element = element.merge(value.shape);
        }
        shape.element = Some(Box::new(element));
        Estimate { cost, shape }
    }

    /// A `map`/`filter` step appends to the accumulator in place (as
    /// cel-rust and cel-go run it): one unit, not a copy of the list.
    fn appending_step(&mut self, accumulator: &str, step: &IdedExpr) -> Estimate {
        if let Expr::Call(call) = &step.expr {
            let is_accumulator =
                |e: &IdedExpr| matches!(&e.expr, Expr::Ident(name) if name == accumulator);
            match (call.func_name.as_str(), call.args.as_slice()) {
                (operators::ADD, [lhs, rhs]) if is_accumulator(lhs) => {
                    let appended = self.estimate(rhs);
                    let lhs = self.estimate(lhs);
                    return Estimate {
                        cost: appended.cost.saturating_add(1),
                        shape: lhs.shape.merge(appended.shape),
                    };
                }
                (operators::CONDITIONAL, [guard, then, otherwise]) if is_accumulator(otherwise) => {
                    let guard = self.estimate(guard);
                    let then = self.appending_step(accumulator, then);
                    let otherwise = self.estimate(otherwise);
                    return Estimate {
                        cost: guard.cost.saturating_add(then.cost.max(otherwise.cost)),
                        shape: then.shape.merge(otherwise.shape),
                    };
                }
                _ => {}
            }
        }
        self.estimate(step)
    }

    fn call(
        &mut self,
        expr: &IdedExpr,
        function: &str,
        target: Option<&IdedExpr>,
        args: &[IdedExpr],
    ) -> Estimate {
        // `strings.quote(x)` is a call on the namespace: no target to cost.
        let target = target.filter(|t| !matches!(&t.expr, Expr::Ident(n) if n == "strings"));
        let target = target.map(|t| self.estimate(t));
        // A pattern written in the rule is compiled once and cached; one
        // computed from the object may be new on every call.
        let compile = match args.first().map(|arg| &arg.expr) {
            Some(Expr::Literal(LiteralValue::String(_))) => 0,
            _ => REGEX_COMPILE_COST,
        };
        let args: Vec<Estimate> = args.iter().map(|arg| self.estimate(arg)).collect();
        let operands = target
            .iter()
            .chain(&args)
            .fold(0u64, |sum, e| sum.saturating_add(e.cost));
        let receiver = target.as_ref().or(args.first());
        let size = |e: Option<&Estimate>| e.map_or(0, |e| e.shape.size);
        let weight = |e: Option<&Estimate>| e.map_or(1, |e| e.shape.weight());
        let (own, shape) = match function {
            operators::LOGICAL_AND | operators::LOGICAL_OR | operators::NOT_STRICTLY_FALSE => {
                (0, Shape::scalar())
            }
            operators::CONDITIONAL => {
                let branches = args.get(1..).unwrap_or_default();
                let (cost, shape) = branches.iter().fold((0u64, Shape::default()), |(c, s), b| {
                    (c.max(b.cost), s.merge(b.shape.clone()))
                });
                let condition = args.first().map_or(0, |c| c.cost);
                return Estimate {
                    cost: condition.saturating_add(cost),
                    shape,
                };
            }
            operators::INDEX | operators::OPT_INDEX | operators::OPT_SELECT => {
                let container = args.first().map(|a| a.shape.clone()).unwrap_or_default();
                let shape = match args.get(1).map(|key| &key.shape) {
                    Some(_) if container.kind == Kind::Map => match &expr.expr {
                        Expr::Call(call) => match call.args.get(1).map(|k| &k.expr) {
                            Some(Expr::Literal(LiteralValue::String(key))) => {
                                container.field(key.inner()).0
                            }
                            _ => container.element(),
                        },
                        _ => container.element(),
                    },
                    _ => container.element(),
                };
                (1, shape)
            }
            operators::ADD => {
                let (a, b) = (args.first(), args.get(1));
                match a.map(|a| a.shape.kind) {
                    Some(Kind::String) => {
                        let total = size(a).saturating_add(size(b));
                        (1 + tenth(total), Shape::string(total))
                    }
                    Some(Kind::List) => {
                        let total = size(a).saturating_add(size(b));
                        let element = a
                            .map(|a| a.shape.element())
                            .unwrap_or_default()
                            .merge(b.map(|b| b.shape.element()).unwrap_or_default());
                        (1 + tenth(total), Shape::list(total, element))
                    }
                    _ => (1, Shape::scalar()),
                }
            }
            operators::EQUALS | operators::NOT_EQUALS => {
                let smaller = weight(args.first()).min(weight(args.get(1)));
                (1 + tenth(smaller), Shape::scalar())
            }
            operators::LESS
            | operators::LESS_EQUALS
            | operators::GREATER
            | operators::GREATER_EQUALS => {
                let smaller = size(args.first()).min(size(args.get(1)));
                (1 + tenth(smaller), Shape::scalar())
            }
            operators::IN => {
                let container = args.get(1);
                let cost = match container.map(|c| c.shape.kind) {
                    Some(Kind::List) => {
                        size(container).saturating_mul(1 + tenth(weight(args.first())))
                    }
                    _ => 1,
                };
                (cost, Shape::scalar())
            }
            "indexOf" | "lastIndexOf" if receiver.is_some_and(|r| r.shape.kind == Kind::List) => {
                // Each item compared with the value.
                let compare = 1 + tenth(weight(args.first()));
                (1 + size(receiver).saturating_mul(compare), Shape::scalar())
            }
            "contains" | "startsWith" | "endsWith" | "indexOf" | "lastIndexOf" => {
                let total = size(receiver).saturating_add(size(args.last()));
                (1 + tenth(total), Shape::scalar())
            }
            "matches" | "find" => {
                let text = tenth(size(receiver)).max(1);
                let pattern = quarter(size(args.first())).max(1);
                let shape = Shape::string(size(receiver));
                (
                    (1 + compile).saturating_add(text.saturating_mul(pattern)),
                    if function == "find" {
                        shape
                    } else {
                        Shape::scalar()
                    },
                )
            }
            "findAll" => {
                let text = tenth(size(receiver)).max(1);
                let pattern = quarter(size(args.first())).max(1);
                let found = size(receiver);
                (
                    (1 + compile).saturating_add(text.saturating_mul(pattern)),
                    Shape::list(found, Shape::string(found)),
                )
            }
            "lowerAscii" | "upperAscii" | "trim" | "reverse" | "strings.quote" | "substring"
            | "charAt" => {
                let length = size(receiver);
                let quoted = if function == "strings.quote" {
                    length.saturating_mul(2) + 2
                } else {
                    length
                };
                (1 + tenth(length), Shape::string(quoted))
            }
            "replace" => {
                let length = size(receiver);
                let with = size(args.get(1));
                let grown = length.saturating_add(length.saturating_add(1).saturating_mul(with));
                (
                    1 + tenth(length).saturating_add(tenth(grown)),
                    Shape::string(grown),
                )
            }
            "split" => {
                let length = size(receiver);
                (
                    1 + tenth(length),
                    Shape::list(length.saturating_add(1), Shape::string(length)),
                )
            }
            "join" => {
                let list = receiver;
                let items = size(list);
                let each = list.map_or(0, |l| l.shape.element().size);
                let separator = size(args.first());
                let total = items.saturating_mul(each.saturating_add(separator));
                (1 + tenth(total), Shape::string(total))
            }
            "format" => {
                let total = size(receiver).saturating_add(weight(args.first()));
                (1 + tenth(total), Shape::string(total))
            }
            "isSorted" | "sum" | "min" | "max" => {
                let list = receiver;
                let element = list.map(|l| l.shape.element()).unwrap_or_default();
                let compare = 1 + tenth(element.size);
                (size(list).saturating_mul(compare).max(1), element)
            }
            "string" | "bytes" => {
                let length = match receiver.map(|r| r.shape.kind) {
                    Some(Kind::String) => size(receiver),
                    _ => 32,
                };
                (1 + tenth(length), Shape::string(length))
            }
            "size"
            | "int"
            | "uint"
            | "double"
            | "bool"
            | "type"
            | "dyn"
            | operators::LOGICAL_NOT
            | operators::NEGATE
            | operators::SUBSTRACT
            | operators::MULTIPLY
            | operators::DIVIDE
            | operators::MODULO => {
                let shape = if function == "dyn" {
                    receiver.map(|r| r.shape.clone()).unwrap_or_default()
                } else {
                    Shape::scalar()
                };
                (1, shape)
            }
            "quantity" | "isQuantity" => (1 + tenth(size(receiver)), Shape::scalar()),
            "compareTo" | "isGreaterThan" | "isLessThan" | "add" | "sub" | "asInteger"
            | "isInteger" | "asApproximateFloat" | "sign" => (1, Shape::scalar()),
            other => {
                if !FUNCTIONS.contains(&other) && !QUANTITY_FUNCTIONS.contains(&other) {
                    self.error(
                        expr,
                        format!("undeclared reference to '{other}' (in container '')"),
                    );
                }
                (1, Shape::dynamic())
            }
        };
        Estimate {
            cost: operands.saturating_add(own),
            shape,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cost(rule: &str, shape: Shape) -> u64 {
        let program = super::super::library::environment().compile(rule).unwrap();
        Estimator::new(vec![("self".into(), shape)], None)
            .estimate(program.expression())
            .cost
    }

    fn strings(length: u64) -> Shape {
        let mut shape = Shape {
            kind: Kind::Map,
            size: 2,
            ..Shape::default()
        };
        shape.fields.insert("a".into(), Shape::string(length));
        shape.fields.insert("b".into(), Shape::string(length));
        shape
    }

    #[test]
    fn costs_follow_sizes_and_iterations() {
        // Comparing strings costs a tenth of a unit per character.
        assert_eq!(cost("self.a == self.b", strings(100)), 5 + 10);
        assert_eq!(cost("self.a == self.b", strings(1000)), 5 + 100);
        // A comprehension costs its range times its body.
        let list = Shape::list(1000, Shape::scalar());
        let all = cost("self.all(x, x > 0)", list.clone());
        assert!((3000..6000).contains(&all), "{all}");
        let nested = cost("self.all(x, self.all(y, x != y))", list);
        assert!(nested > 1000 * all, "{nested}");
    }

    #[test]
    fn a_pattern_from_the_object_is_charged_its_compile() {
        let literal = cost("self.a.matches('^[a-z]+$')", strings(10));
        let computed = cost("self.a.matches(self.b)", strings(10));
        assert!(
            computed >= literal + REGEX_COMPILE_COST,
            "{literal} {computed}"
        );
    }
}
