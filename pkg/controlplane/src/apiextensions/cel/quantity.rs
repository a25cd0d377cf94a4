//! Kubernetes' CEL quantity library (`k8s.io/apiserver/pkg/cel/library`'s
//! `quantity`): `quantity('1.5Gi')`, `isQuantity`, comparisons,
//! arithmetic and conversions, over the quantity parser pods use. Values
//! compare by amount: `quantity('1') == quantity('1000m')`.

use std::sync::Arc;

use cel::extractors::This;
use cel::objects::{Opaque, Value};
use cel::{Context, ExecutionError, ResolveResult};

use crate::registry::core::pod::quantity::ParsedQuantity;

/// The functions this library adds, for the compile-time check.
pub const FUNCTIONS: &[&str] = &[
    "quantity",
    "isQuantity",
    "compareTo",
    "isGreaterThan",
    "isLessThan",
    "add",
    "sub",
    "asInteger",
    "isInteger",
    "asApproximateFloat",
    "sign",
];

/// A quantity as a CEL value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Quantity(ParsedQuantity);

impl Opaque for Quantity {
    fn runtime_type_name(&self) -> &str {
        "kubernetes.Quantity"
    }
}

fn value(quantity: ParsedQuantity) -> Value {
    Value::Opaque(Arc::new(Quantity(quantity)))
}

fn error(function: &str, message: impl ToString) -> ExecutionError {
    ExecutionError::function_error(function, message)
}

/// The quantity `value` holds.
fn of(function: &str, value: &Value) -> Result<ParsedQuantity, ExecutionError> {
    match value {
        Value::Opaque(opaque) => opaque
            .downcast_ref::<Quantity>()
            .map(|quantity| quantity.0)
            .ok_or_else(|| error(function, "expected a quantity")),
        other => Err(error(
            function,
            format!("expected a quantity, got {}", other.type_of()),
        )),
    }
}

/// A quantity, or an int as that many units (`add` and `sub` take both).
fn operand(function: &str, value: &Value) -> Result<ParsedQuantity, ExecutionError> {
    match value {
        Value::Int(units) => Ok(ParsedQuantity::from_units(*units)),
        other => of(function, other),
    }
}

fn quantity(text: Arc<String>) -> ResolveResult {
    ParsedQuantity::parse(&text)
        .map(value)
        .map_err(|message| error("quantity", message))
}

fn is_quantity(text: Arc<String>) -> bool {
    ParsedQuantity::parse(&text).is_ok()
}

fn compare(function: &str, this: &Value, other: &Value) -> Result<i64, ExecutionError> {
    let (a, b) = (of(function, this)?, of(function, other)?);
    Ok(a.cmp_value(b) as i64)
}

fn compare_to(This(this): This<Value>, other: Value) -> ResolveResult {
    compare("compareTo", &this, &other).map(Value::Int)
}

fn is_greater_than(This(this): This<Value>, other: Value) -> ResolveResult {
    compare("isGreaterThan", &this, &other).map(|order| Value::Bool(order > 0))
}

fn is_less_than(This(this): This<Value>, other: Value) -> ResolveResult {
    compare("isLessThan", &this, &other).map(|order| Value::Bool(order < 0))
}

fn add(This(this): This<Value>, other: Value) -> ResolveResult {
    of("add", &this)?
        .checked_add(operand("add", &other)?)
        .map(value)
        .ok_or_else(|| error("add", "quantity overflow"))
}

fn sub(This(this): This<Value>, other: Value) -> ResolveResult {
    of("sub", &this)?
        .checked_sub(operand("sub", &other)?)
        .map(value)
        .ok_or_else(|| error("sub", "quantity overflow"))
}

fn as_integer(This(this): This<Value>) -> ResolveResult {
    of("asInteger", &this)?
        .to_units()
        .map(Value::Int)
        .ok_or_else(|| error("asInteger", "cannot convert value to integer"))
}

fn is_integer(This(this): This<Value>) -> ResolveResult {
    Ok(Value::Bool(of("isInteger", &this)?.to_units().is_some()))
}

fn as_approximate_float(This(this): This<Value>) -> ResolveResult {
    Ok(Value::Float(of("asApproximateFloat", &this)?.to_f64()))
}

fn sign(This(this): This<Value>) -> ResolveResult {
    Ok(Value::Int(of("sign", &this)?.signum()))
}

/// Adds the library's functions to `context`.
pub fn register(context: &mut Context<'_, '_>) -> Result<(), cel::DeclarationError> {
    context.add_function("quantity", quantity)?;
    context.add_function("isQuantity", is_quantity)?;
    context.add_function("compareTo", compare_to)?;
    context.add_function("isGreaterThan", is_greater_than)?;
    context.add_function("isLessThan", is_less_than)?;
    context.add_function("add", add)?;
    context.add_function("sub", sub)?;
    context.add_function("asInteger", as_integer)?;
    context.add_function("isInteger", is_integer)?;
    context.add_function("asApproximateFloat", as_approximate_float)?;
    context.add_function("sign", sign)?;
    Ok(())
}
