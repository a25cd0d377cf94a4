//! The CEL environment rules are compiled and run in: the standard
//! library and macros, cel-go's strings extension, and of Kubernetes'
//! libraries the list functions (`isSorted`, `sum`, `min`, `max`,
//! `indexOf`, `lastIndexOf`), quantities (`quantity`) and the
//! regular expressions (`matches`, `find`, `findAll`), whose patterns are
//! compiled with a bounded size and cached.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use cel::common::types::{CelInt, DYN_TYPE, LIST_TYPE};
use cel::common::value::CowVal;
use cel::extractors::{Arguments, This};
use cel::objects::Value;
use cel::{Context, Env, ExecutionError, ResolveResult};
use regex::Regex;

/// The functions a rule may call (operators aside), by name: what the
/// environment declares and [`context`] adds (with the quantity library's
/// [`super::quantity::FUNCTIONS`]). A call to anything else is a compile
/// error, as cel-go's type check makes it.
pub const FUNCTIONS: &[&str] = &[
    // Standard library.
    "size",
    "contains",
    "startsWith",
    "endsWith",
    "int",
    "uint",
    "double",
    "string",
    "bytes",
    "bool",
    "dyn",
    "type",
    "has",
    "optional.of",
    "optional.none",
    "optional.ofNonZeroValue",
    "hasValue",
    "value",
    "orValue",
    "or",
    // Strings extension.
    "charAt",
    "indexOf",
    "lastIndexOf",
    "join",
    "lowerAscii",
    "upperAscii",
    "trim",
    "replace",
    "split",
    "substring",
    "format",
    "strings.quote",
    "reverse",
    // Kubernetes' lists library.
    "isSorted",
    "sum",
    "min",
    "max",
    // Kubernetes' regex library, and the standard `matches`.
    "matches",
    "find",
    "findAll",
];

/// The largest compiled pattern (the regex crate's `size_limit`): larger
/// ones are an evaluation error, not a long compile (about a millisecond
/// at most; `[a-z]{1000}` still fits).
const REGEX_SIZE_LIMIT: usize = 256 << 10;
/// Compiled patterns kept; the cache starts over when full.
const REGEX_CACHE_ENTRIES: usize = 256;

/// The compile-time environment (macros and declared overloads).
pub fn environment() -> &'static Arc<Env> {
    static ENV: OnceLock<Arc<Env>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Env::stdlib();
        // The strings extension's overloads are new names on a fresh
        // environment: declaring them cannot clash.
        if let Err(error) = cel::extensions::strings(&mut env) {
            tracing::error!(%error, "the CEL strings extension could not be declared");
        }
        // Kubernetes' `list.indexOf(x)` and `list.lastIndexOf(x)`, beside
        // the strings extension's overloads of the same names.
        let lists = [
            env.add_member_overload(
                "indexOf",
                "list_indexOf",
                LIST_TYPE,
                vec![DYN_TYPE],
                list_index_of,
            ),
            env.add_member_overload(
                "lastIndexOf",
                "list_lastIndexOf",
                LIST_TYPE,
                vec![DYN_TYPE],
                list_last_index_of,
            ),
        ];
        for result in lists {
            if let Err(error) = result {
                tracing::error!(%error, "a Kubernetes CEL list function could not be declared");
            }
        }
        Arc::new(env)
    })
}

/// A root context for one object's validation, with Kubernetes' functions.
pub fn context() -> Context<'static, 'static> {
    let mut context = Context::with_env(Arc::clone(environment()));
    let added = [
        context.add_function("isSorted", is_sorted),
        context.add_function("sum", sum),
        context.add_function("min", min),
        context.add_function("max", max),
        context.add_function("matches", matches),
        context.add_function("find", find),
        context.add_function("findAll", find_all),
    ];
    for result in added
        .into_iter()
        .chain([super::quantity::register(&mut context)])
    {
        if let Err(error) = result {
            tracing::error!(%error, "a Kubernetes CEL function could not be added");
        }
    }
    context
}

fn function_error(function: &str, message: impl ToString) -> ExecutionError {
    ExecutionError::function_error(function, message)
}

fn list_of(function: &str, value: &Value) -> Result<Arc<Vec<Value>>, ExecutionError> {
    match value {
        Value::List(items) => Ok(Arc::clone(items)),
        other => Err(function_error(
            function,
            format!("expected a list, got {}", other.type_of()),
        )),
    }
}

fn compare(function: &str, a: &Value, b: &Value) -> Result<std::cmp::Ordering, ExecutionError> {
    a.partial_cmp(b).ok_or_else(|| {
        function_error(
            function,
            format!("cannot compare {} and {}", a.type_of(), b.type_of()),
        )
    })
}

/// The index of the first (or `last`) item of a list equal to a value,
/// `-1` when none is.
fn position_in<'b, 'v>(
    function: &str,
    args: Vec<CowVal<'b, 'v>>,
    last: bool,
) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let [list, wanted]: [CowVal<'b, 'v>; 2] = args
        .try_into()
        .map_err(|args: Vec<_>| ExecutionError::invalid_argument_count(2, args.len()))?;
    let items = list
        .as_ref()
        .as_iterable()
        .ok_or_else(|| function_error(function, "expected a list"))?;
    let mut items = items.iter();
    let (mut index, mut found) = (0i64, -1i64);
    while let Some(item) = items.next() {
        if item.equals(wanted.as_ref()) {
            found = index;
            if !last {
                break;
            }
        }
        index += 1;
    }
    Ok(CowVal::owned(CelInt::from(found)))
}

/// `list.indexOf(value)`.
fn list_index_of<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    position_in("indexOf", args, false)
}

/// `list.lastIndexOf(value)`.
fn list_last_index_of<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    position_in("lastIndexOf", args, true)
}

/// `list.isSorted()`: every item is no less than the one before.
fn is_sorted(This(list): This<Value>) -> ResolveResult {
    let items = list_of("isSorted", &list)?;
    for pair in items.windows(2) {
        if compare("isSorted", &pair[0], &pair[1])? == std::cmp::Ordering::Greater {
            return Ok(Value::Bool(false));
        }
    }
    Ok(Value::Bool(true))
}

/// `list.sum()`: of ints, uints or doubles; `0` for an empty list.
fn sum(This(list): This<Value>) -> ResolveResult {
    let items = list_of("sum", &list)?;
    let mut total = match items.first() {
        None | Some(Value::Int(_)) => Value::Int(0),
        Some(Value::UInt(_)) => Value::UInt(0),
        Some(Value::Float(_)) => Value::Float(0.0),
        Some(other) => {
            return Err(function_error(
                "sum",
                format!("cannot sum {}", other.type_of()),
            ));
        }
    };
    for item in items.iter() {
        total = match (&total, item) {
            (Value::Int(a), Value::Int(b)) => Value::Int(
                a.checked_add(*b)
                    .ok_or_else(|| function_error("sum", "integer overflow"))?,
            ),
            (Value::UInt(a), Value::UInt(b)) => Value::UInt(
                a.checked_add(*b)
                    .ok_or_else(|| function_error("sum", "integer overflow"))?,
            ),
            (Value::Float(a), Value::Float(b)) => Value::Float(a + b),
            (_, other) => {
                return Err(function_error(
                    "sum",
                    format!("cannot add {} to {}", other.type_of(), total.type_of()),
                ));
            }
        };
    }
    Ok(total)
}

fn extreme(function: &str, list: &Value, keep: std::cmp::Ordering) -> ResolveResult {
    let items = list_of(function, list)?;
    let mut best = items
        .first()
        .ok_or_else(|| function_error(function, "the list is empty"))?;
    for item in items.iter().skip(1) {
        if compare(function, item, best)? == keep {
            best = item;
        }
    }
    Ok(best.clone())
}

/// `list.min()`.
fn min(This(list): This<Value>) -> ResolveResult {
    extreme("min", &list, std::cmp::Ordering::Less)
}

/// `list.max()`.
fn max(This(list): This<Value>) -> ResolveResult {
    extreme("max", &list, std::cmp::Ordering::Greater)
}

/// `pattern` compiled, from the cache when it was seen before.
fn compiled(function: &str, pattern: &str) -> Result<Arc<Regex>, ExecutionError> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<Regex>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(regex) = cache.lock().ok().and_then(|c| c.get(pattern).cloned()) {
        return Ok(regex);
    }
    let regex = regex::RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map(Arc::new)
        .map_err(|err| function_error(function, format!("'{pattern}' not a valid regex: {err}")))?;
    if let Ok(mut cache) = cache.lock() {
        if cache.len() >= REGEX_CACHE_ENTRIES {
            cache.clear();
        }
        cache.insert(pattern.to_string(), Arc::clone(&regex));
    }
    Ok(regex)
}

fn text_and_pattern(
    function: &str,
    this: &Value,
    pattern: Option<&Value>,
) -> Result<(Arc<String>, Arc<Regex>), ExecutionError> {
    match (this, pattern) {
        (Value::String(text), Some(Value::String(pattern))) => {
            Ok((Arc::clone(text), compiled(function, pattern)?))
        }
        _ => Err(function_error(function, "expects a string and a pattern")),
    }
}

/// `string.matches(pattern)`.
fn matches(This(this): This<Value>, Arguments(args): Arguments) -> ResolveResult {
    let (text, regex) = text_and_pattern("matches", &this, args.first())?;
    Ok(Value::Bool(regex.is_match(&text)))
}

/// `string.find(pattern)`: the first match, or `""`.
fn find(This(this): This<Value>, Arguments(args): Arguments) -> ResolveResult {
    let (text, regex) = text_and_pattern("find", &this, args.first())?;
    let found = regex.find(&text).map_or("", |m| m.as_str());
    Ok(Value::String(Arc::new(found.to_string())))
}

/// `string.findAll(pattern)`, `string.findAll(pattern, limit)`: the
/// matches, at most `limit` of them when it is not negative.
fn find_all(This(this): This<Value>, Arguments(args): Arguments) -> ResolveResult {
    let (text, regex) = text_and_pattern("findAll", &this, args.first())?;
    let limit = match args.get(1) {
        None => usize::MAX,
        Some(Value::Int(n)) => usize::try_from(*n).unwrap_or(usize::MAX),
        Some(_) => return Err(function_error("findAll", "the limit must be an int")),
    };
    let found: Vec<Value> = regex
        .find_iter(&text)
        .take(limit)
        .map(|m| Value::String(Arc::new(m.as_str().to_string())))
        .collect();
    Ok(Value::List(Arc::new(found)))
}
