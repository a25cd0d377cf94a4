//! Label selectors (`k8s.io/apimachinery/pkg/labels`): the selector grammar
//! of `?labelSelector=` and `kubectl -l` (`a=b`, `a!=b`, `a in (x,y)`,
//! `!a`, `a>1`, ...), parsed with upstream's lexer rules and error texts, the
//! conversion of a `metav1.LabelSelector` (`LabelSelectorAsSelector`),
//! matching against an object's labels, and the canonical string form.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use crate::validation::field::{self, Path};
use crate::validation::go_string::quote;
use crate::validation::go_syntax::{go_string_slice, invalid_shown};
use crate::validation::{is_qualified_name, is_valid_label_value};

/// `selection.Operator`: how a requirement relates a key to its values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operator {
    In,
    NotIn,
    Equals,
    DoubleEquals,
    NotEquals,
    Exists,
    DoesNotExist,
    GreaterThan,
    LessThan,
}

impl Operator {
    /// The operator's spelling in `selection` (`in`, `!=`, `gt`, `!`).
    pub fn as_str(self) -> &'static str {
        match self {
            Operator::In => "in",
            Operator::NotIn => "notin",
            Operator::Equals => "=",
            Operator::DoubleEquals => "==",
            Operator::NotEquals => "!=",
            Operator::Exists => "exists",
            Operator::DoesNotExist => "!",
            Operator::GreaterThan => "gt",
            Operator::LessThan => "lt",
        }
    }
}

/// The binary operators in upstream's order, as listed in the parser's
/// "expected:" message.
const BINARY_OPERATORS: [Operator; 7] = [
    Operator::In,
    Operator::NotIn,
    Operator::Equals,
    Operator::DoubleEquals,
    Operator::NotEquals,
    Operator::GreaterThan,
    Operator::LessThan,
];

/// One condition of a selector: a key, an operator and its values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requirement {
    key: String,
    operator: Operator,
    /// As given (the parser hands them over sorted and without duplicates).
    values: Vec<String>,
}

impl Requirement {
    /// `labels.NewRequirement`: checks the key (a qualified name), the number
    /// of values the operator takes, integer values for `gt`/`lt` and that
    /// every value is a valid label value. The error is upstream's aggregate
    /// of field errors.
    pub fn new(key: &str, operator: Operator, values: Vec<String>) -> Result<Self, String> {
        Self::new_at(key, operator, values, None)
    }

    /// `NewRequirement` with the error paths under `base` (`None`: upstream's
    /// nil path, so the key's path is `key` and the values' `values`).
    fn new_at(
        key: &str,
        operator: Operator,
        values: Vec<String>,
        base: Option<&Path>,
    ) -> Result<Self, String> {
        let mut errors = Vec::new();
        if let Some(err) = validate_label_key(key, Some(&child_of(base, "key"))) {
            errors.push(err);
        }
        let values_path = child_of(base, "values");
        match operator {
            Operator::In | Operator::NotIn => {
                if values.is_empty() {
                    errors.push(invalid_shown(
                        &values_path,
                        &go_values(&values),
                        "for 'in', 'notin' operators, values set can't be empty",
                    ));
                }
            }
            Operator::Equals | Operator::DoubleEquals | Operator::NotEquals => {
                if values.len() != 1 {
                    errors.push(invalid_shown(
                        &values_path,
                        &go_values(&values),
                        "exact-match compatibility requires one single value",
                    ));
                }
            }
            Operator::Exists | Operator::DoesNotExist => {
                if !values.is_empty() {
                    errors.push(invalid_shown(
                        &values_path,
                        &go_values(&values),
                        "values set must be empty for exists and does not exist",
                    ));
                }
            }
            Operator::GreaterThan | Operator::LessThan => {
                if values.len() != 1 {
                    errors.push(invalid_shown(
                        &values_path,
                        &go_values(&values),
                        "for 'Gt', 'Lt' operators, exactly one value is required",
                    ));
                }
                for (i, value) in values.iter().enumerate() {
                    if value.parse::<i64>().is_err() {
                        errors.push(field::Error::invalid(
                            &values_path.index(i),
                            value.as_str(),
                            "for 'Gt', 'Lt' operators, the value must be an integer",
                        ));
                    }
                }
            }
        }
        for (i, value) in values.iter().enumerate() {
            let problems = is_valid_label_value(value);
            if !problems.is_empty() {
                errors.push(field::Error::invalid(
                    &values_path.index(i).key(key),
                    value.as_str(),
                    problems.join("; "),
                ));
            }
        }
        if errors.is_empty() {
            Ok(Requirement {
                key: key.to_string(),
                operator,
                values,
            })
        } else {
            Err(aggregate_deduplicated(&errors))
        }
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    pub fn operator(&self) -> Operator {
        self.operator
    }

    pub fn values(&self) -> &[String] {
        &self.values
    }

    fn has_value(&self, value: &str) -> bool {
        self.values.iter().any(|v| v == value)
    }

    /// `Requirement.Matches`: `in`/`=` need the key with one of the values,
    /// `notin`/`!=` match a missing key, `gt`/`lt` compare integers.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let found = labels.get(&self.key);
        match self.operator {
            Operator::In | Operator::Equals | Operator::DoubleEquals => {
                found.is_some_and(|v| self.has_value(v))
            }
            Operator::NotIn | Operator::NotEquals => found.is_none_or(|v| !self.has_value(v)),
            Operator::Exists => found.is_some(),
            Operator::DoesNotExist => found.is_none(),
            Operator::GreaterThan | Operator::LessThan => {
                let Some(actual) = found.and_then(|v| v.parse::<i64>().ok()) else {
                    return false;
                };
                let [bound] = self.values.as_slice() else {
                    return false;
                };
                let Ok(bound) = bound.parse::<i64>() else {
                    return false;
                };
                match self.operator {
                    Operator::GreaterThan => actual > bound,
                    _ => actual < bound,
                }
            }
        }
    }
}

/// `Requirement.String()`: `!key`, `key`, `key=v`, `key in (a,b)` with the
/// values sorted.
impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = match self.operator {
            Operator::DoesNotExist => return write!(f, "!{}", self.key),
            Operator::Exists => return f.write_str(&self.key),
            Operator::Equals => "=",
            Operator::DoubleEquals => "==",
            Operator::NotEquals => "!=",
            Operator::In => " in ",
            Operator::NotIn => " notin ",
            Operator::GreaterThan => ">",
            Operator::LessThan => "<",
        };
        let mut values: Vec<&str> = self.values.iter().map(String::as_str).collect();
        values.sort_unstable();
        let joined = values.join(",");
        match self.operator {
            Operator::In | Operator::NotIn => write!(f, "{}{op}({joined})", self.key),
            _ => write!(f, "{}{op}{joined}", self.key),
        }
    }
}

/// A label selector: the AND of its requirements, kept sorted by key.
/// The default (no requirements) selects everything.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Selector {
    requirements: Vec<Requirement>,
    /// `labels.Nothing()`: matches no object (a nil `LabelSelector`).
    matches_nothing: bool,
}

impl Selector {
    /// `labels.Everything()`.
    pub fn everything() -> Self {
        Selector::default()
    }

    /// `labels.Nothing()`: matches nothing, prints as "".
    pub fn nothing() -> Self {
        Selector {
            requirements: Vec::new(),
            matches_nothing: true,
        }
    }

    /// `labels.Parse`: the full selector grammar, with upstream's messages
    /// (`unable to parse requirement: ...`, `found '...', expected: ...`).
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut parser = Parser::new(s);
        let mut requirements = parser.parse()?;
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(Selector {
            requirements,
            matches_nothing: false,
        })
    }

    /// `metav1.LabelSelectorAsSelector`: `matchLabels` as `key=value` and
    /// `matchExpressions` (`In`, `NotIn`, `Exists`, `DoesNotExist`); an empty
    /// selector selects everything.
    pub fn from_label_selector(sel: &LabelSelector) -> Result<Self, String> {
        let labels = sel.match_labels.as_ref();
        let expressions = sel.match_expressions.as_deref().unwrap_or_default();
        if labels.is_none_or(BTreeMap::is_empty) && expressions.is_empty() {
            return Ok(Selector::everything());
        }
        let mut requirements = Vec::new();
        for (key, value) in labels.into_iter().flatten() {
            requirements.push(Requirement::new(
                key,
                Operator::Equals,
                vec![value.clone()],
            )?);
        }
        for expr in expressions {
            let operator = match expr.operator.as_str() {
                "In" => Operator::In,
                "NotIn" => Operator::NotIn,
                "Exists" => Operator::Exists,
                "DoesNotExist" => Operator::DoesNotExist,
                other => {
                    return Err(format!(
                        "{} is not a valid pod selector operator",
                        quote(other)
                    ));
                }
            };
            let values = expr.values.clone().unwrap_or_default();
            requirements.push(Requirement::new(&expr.key, operator, values)?);
        }
        Ok(Selector::everything().add(requirements))
    }

    /// `labels.SelectorFromSet`: `key=value` for each entry (not validated).
    pub fn from_set(set: &BTreeMap<String, String>) -> Self {
        let requirements = set
            .iter()
            .map(|(key, value)| Requirement {
                key: key.clone(),
                operator: Operator::Equals,
                values: vec![value.clone()],
            })
            .collect();
        Selector {
            requirements,
            matches_nothing: false,
        }
    }

    /// `Selector.Add`: a copy with more requirements, sorted by key.
    pub fn add(&self, more: impl IntoIterator<Item = Requirement>) -> Self {
        if self.matches_nothing {
            return self.clone();
        }
        let mut requirements = self.requirements.clone();
        requirements.extend(more);
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Selector {
            requirements,
            matches_nothing: false,
        }
    }

    /// Selects everything (no requirements).
    pub fn is_empty(&self) -> bool {
        !self.matches_nothing && self.requirements.is_empty()
    }

    /// True for [`Selector::nothing`].
    pub fn matches_nothing(&self) -> bool {
        self.matches_nothing
    }

    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    /// Whether the labels satisfy every requirement.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        !self.matches_nothing && self.requirements.iter().all(|r| r.matches(labels))
    }

    /// `RequiresExactMatch`: the value `label` must have when the first
    /// requirement on it is `=`, `==` or a one-value `in`.
    pub fn requires_exact_match(&self, label: &str) -> Option<&str> {
        let requirement = self.requirements.iter().find(|r| r.key == label)?;
        match (requirement.operator, requirement.values.as_slice()) {
            (Operator::Equals | Operator::DoubleEquals | Operator::In, [value]) => Some(value),
            _ => None,
        }
    }
}

/// `Selector.String()`: the requirements joined by `,`, in key order.
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

/// `path.Child(name)` where a nil path makes `name` the root.
fn child_of(base: Option<&Path>, name: &str) -> Path {
    base.map_or_else(|| Path::new(name), |p| p.child(name))
}

/// `validateLabelKey`: one error with every problem of the key joined by
/// "; ". A missing path prints as upstream's nil path, `<nil>`.
fn validate_label_key(key: &str, path: Option<&Path>) -> Option<field::Error> {
    let problems = is_qualified_name(key);
    if problems.is_empty() {
        return None;
    }
    let path = path.cloned().unwrap_or_else(|| Path::new("<nil>"));
    Some(field::Error::invalid(&path, key, problems.join("; ")))
}

/// Go's `%#v` of the values of a requirement: nil when empty, as
/// `LabelSelectorAsSelector` and the parser pass them.
fn go_values(values: &[String]) -> String {
    go_string_slice((!values.is_empty()).then_some(values))
}

/// `ErrorList.ToAggregate().Error()`: duplicates dropped, one message bare,
/// several in brackets.
fn aggregate_deduplicated(errors: &[field::Error]) -> String {
    let mut seen = BTreeSet::new();
    let mut messages = Vec::new();
    for err in errors {
        let message = err.to_string();
        if seen.insert(message.clone()) {
            messages.push(message);
        }
    }
    match messages.as_slice() {
        [one] => one.clone(),
        many => format!("[{}]", many.join(", ")),
    }
}

/// The lexer's tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Token {
    Error,
    EndOfString,
    ClosedPar,
    Comma,
    DoesNotExist,
    DoubleEquals,
    Equals,
    GreaterThan,
    Identifier,
    In,
    LessThan,
    NotEquals,
    NotIn,
    OpenPar,
}

/// `string2token`: the literal tokens.
fn literal_token(literal: &[u8]) -> Option<Token> {
    Some(match literal {
        b")" => Token::ClosedPar,
        b"," => Token::Comma,
        b"!" => Token::DoesNotExist,
        b"==" => Token::DoubleEquals,
        b"=" => Token::Equals,
        b">" => Token::GreaterThan,
        b"in" => Token::In,
        b"<" => Token::LessThan,
        b"!=" => Token::NotEquals,
        b"notin" => Token::NotIn,
        b"(" => Token::OpenPar,
        _ => return None,
    })
}

fn is_whitespace(ch: u8) -> bool {
    matches!(ch, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_special_symbol(ch: u8) -> bool {
    matches!(ch, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
}

/// Upstream's byte-wise lexer: a NUL byte, like the end, reads as 0.
struct Lexer<'a> {
    input: &'a [u8],
    pos: usize,
}

impl Lexer<'_> {
    fn read(&mut self) -> u8 {
        match self.input.get(self.pos) {
            Some(&b) => {
                self.pos += 1;
                b
            }
            None => 0,
        }
    }

    fn unread(&mut self) {
        self.pos = self.pos.saturating_sub(1);
    }

    fn scan_id_or_keyword(&mut self) -> (Token, String) {
        let start = self.pos;
        let mut end = start;
        loop {
            let ch = self.read();
            if ch == 0 {
                break;
            }
            if is_special_symbol(ch) || is_whitespace(ch) {
                self.unread();
                break;
            }
            end = self.pos;
        }
        let literal = &self.input[start..end];
        let text = String::from_utf8_lossy(literal).into_owned();
        (literal_token(literal).unwrap_or(Token::Identifier), text)
    }

    fn scan_special_symbol(&mut self) -> (Token, String) {
        let mut buffer = Vec::new();
        let mut last: Option<(Token, usize)> = None;
        loop {
            let ch = self.read();
            if ch == 0 {
                break;
            }
            if is_special_symbol(ch) {
                buffer.push(ch);
                if let Some(token) = literal_token(&buffer) {
                    last = Some((token, buffer.len()));
                } else if last.is_some() {
                    self.unread();
                    break;
                }
            } else {
                self.unread();
                break;
            }
        }
        match last {
            Some((token, len)) => (token, String::from_utf8_lossy(&buffer[..len]).into_owned()),
            None => (
                Token::Error,
                format!(
                    "error expected: keyword found '{}'",
                    String::from_utf8_lossy(&buffer)
                ),
            ),
        }
    }

    fn lex(&mut self) -> (Token, String) {
        let mut ch = self.read();
        while is_whitespace(ch) {
            ch = self.read();
        }
        if ch == 0 {
            return (Token::EndOfString, String::new());
        }
        self.unread();
        if is_special_symbol(ch) {
            self.scan_special_symbol()
        } else {
            self.scan_id_or_keyword()
        }
    }
}

/// Where the parser is: `in`/`notin` are values (identifiers) everywhere
/// except in operator position.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Context {
    KeyAndOperator,
    Values,
}

struct Parser {
    items: Vec<(Token, String)>,
    position: usize,
}

impl Parser {
    fn new(input: &str) -> Self {
        let mut lexer = Lexer {
            input: input.as_bytes(),
            pos: 0,
        };
        let mut items = Vec::new();
        loop {
            let (token, literal) = lexer.lex();
            items.push((token, literal));
            if token == Token::EndOfString {
                break;
            }
        }
        Parser { items, position: 0 }
    }

    fn item(&self, index: usize, context: Context) -> (Token, String) {
        // The token list always ends with EndOfString; reading past it reads
        // that token again.
        let (token, literal) = self
            .items
            .get(index)
            .or(self.items.last())
            .cloned()
            .unwrap_or((Token::EndOfString, String::new()));
        match (context, token) {
            (Context::Values, Token::In | Token::NotIn) => (Token::Identifier, literal),
            _ => (token, literal),
        }
    }

    fn lookahead(&self, context: Context) -> (Token, String) {
        self.item(self.position, context)
    }

    fn consume(&mut self, context: Context) -> (Token, String) {
        let item = self.item(self.position, context);
        self.position += 1;
        item
    }

    fn parse(&mut self) -> Result<Vec<Requirement>, String> {
        let mut requirements = Vec::new();
        loop {
            let (token, literal) = self.lookahead(Context::Values);
            match token {
                Token::Identifier | Token::DoesNotExist => {
                    let requirement = self
                        .parse_requirement()
                        .map_err(|err| format!("unable to parse requirement: {err}"))?;
                    requirements.push(requirement);
                    let (next, next_literal) = self.consume(Context::Values);
                    match next {
                        Token::EndOfString => return Ok(requirements),
                        Token::Comma => {
                            let (after, after_literal) = self.lookahead(Context::Values);
                            if after != Token::Identifier && after != Token::DoesNotExist {
                                return Err(format!(
                                    "found '{after_literal}', expected: identifier after ','"
                                ));
                            }
                        }
                        _ => {
                            return Err(format!(
                                "found '{next_literal}', expected: ',' or 'end of string'"
                            ));
                        }
                    }
                }
                Token::EndOfString => return Ok(requirements),
                _ => {
                    return Err(format!(
                        "found '{literal}', expected: !, identifier, or 'end of string'"
                    ));
                }
            }
        }
    }

    fn parse_requirement(&mut self) -> Result<Requirement, String> {
        let (key, inferred) = self.parse_key_and_infer_operator()?;
        if let Some(operator) = inferred {
            return Requirement::new_at(&key, operator, Vec::new(), None);
        }
        let operator = self.parse_operator()?;
        let values = match operator {
            Operator::In | Operator::NotIn => self.parse_values()?,
            _ => self.parse_exact_value()?,
        };
        Requirement::new_at(&key, operator, values.into_iter().collect(), None)
    }

    /// The key, and `Exists`/`DoesNotExist` when no operator follows it.
    fn parse_key_and_infer_operator(&mut self) -> Result<(String, Option<Operator>), String> {
        let mut operator = None;
        let (mut token, mut literal) = self.consume(Context::Values);
        if token == Token::DoesNotExist {
            operator = Some(Operator::DoesNotExist);
            (token, literal) = self.consume(Context::Values);
        }
        if token != Token::Identifier {
            return Err(format!("found '{literal}', expected: identifier"));
        }
        if let Some(err) = validate_label_key(&literal, None) {
            return Err(err.to_string());
        }
        let (next, _) = self.lookahead(Context::Values);
        if (next == Token::EndOfString || next == Token::Comma) && operator.is_none() {
            operator = Some(Operator::Exists);
        }
        Ok((literal, operator))
    }

    fn parse_operator(&mut self) -> Result<Operator, String> {
        let (token, literal) = self.consume(Context::KeyAndOperator);
        Ok(match token {
            Token::In => Operator::In,
            Token::Equals => Operator::Equals,
            Token::DoubleEquals => Operator::DoubleEquals,
            Token::GreaterThan => Operator::GreaterThan,
            Token::LessThan => Operator::LessThan,
            Token::NotIn => Operator::NotIn,
            Token::NotEquals => Operator::NotEquals,
            _ => {
                let expected: Vec<&str> = BINARY_OPERATORS.iter().map(|op| op.as_str()).collect();
                return Err(format!(
                    "found '{literal}', expected: {}",
                    expected.join(", ")
                ));
            }
        })
    }

    /// `(x,y,z)`; `()` is the one empty value.
    fn parse_values(&mut self) -> Result<BTreeSet<String>, String> {
        let (token, literal) = self.consume(Context::Values);
        if token != Token::OpenPar {
            return Err(format!("found '{literal}' expected: '('"));
        }
        let (token, literal) = self.lookahead(Context::Values);
        match token {
            Token::Identifier | Token::Comma => {
                let values = self.parse_identifiers_list()?;
                let (closing, _) = self.consume(Context::Values);
                if closing != Token::ClosedPar {
                    return Err(format!("found '{literal}', expected: ')'"));
                }
                Ok(values)
            }
            Token::ClosedPar => {
                self.consume(Context::Values);
                Ok(BTreeSet::from([String::new()]))
            }
            _ => Err(format!(
                "found '{literal}', expected: ',', ')' or identifier"
            )),
        }
    }

    /// A comma-separated list of possibly empty identifiers, up to `)`.
    fn parse_identifiers_list(&mut self) -> Result<BTreeSet<String>, String> {
        let mut values = BTreeSet::new();
        loop {
            let (token, literal) = self.consume(Context::Values);
            match token {
                Token::Identifier => {
                    values.insert(literal);
                    let (next, next_literal) = self.lookahead(Context::Values);
                    match next {
                        Token::Comma => continue,
                        Token::ClosedPar => return Ok(values),
                        _ => {
                            return Err(format!("found '{next_literal}', expected: ',' or ')'"));
                        }
                    }
                }
                Token::Comma => {
                    if values.is_empty() {
                        values.insert(String::new());
                    }
                    let (next, _) = self.lookahead(Context::Values);
                    if next == Token::ClosedPar {
                        values.insert(String::new());
                        return Ok(values);
                    }
                    if next == Token::Comma {
                        values.insert(String::new());
                    }
                }
                _ => return Err(format!("found '{literal}', expected: ',', or identifier")),
            }
        }
    }

    /// The one value of `=`, `==`, `!=`, `>`, `<` (empty when none follows).
    fn parse_exact_value(&mut self) -> Result<BTreeSet<String>, String> {
        let (next, _) = self.lookahead(Context::Values);
        if next == Token::EndOfString || next == Token::Comma {
            return Ok(BTreeSet::from([String::new()]));
        }
        let (token, literal) = self.consume(Context::Values);
        if token == Token::Identifier {
            Ok(BTreeSet::from([literal]))
        } else {
            Err(format!("found '{literal}', expected: identifier"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parses_and_prints_canonically() {
        let cases = [
            ("", ""),
            ("x=a", "x=a"),
            ("x==a", "x==a"),
            ("x!=a", "x!=a"),
            ("x=", "x="),
            ("x", "x"),
            ("!x", "!x"),
            ("  x  ", "x"),
            ("x>1", "x>1"),
            ("x<10", "x<10"),
            ("y=b,x=a", "x=a,y=b"),
            ("x in (c,a,b)", "x in (a,b,c)"),
            ("x notin (a)", "x notin (a)"),
            ("x in ()", "x in ()"),
            ("x in (a,,b)", "x in (,a,b)"),
            ("x in (a,)", "x in (,a)"),
            ("x in (,a)", "x in (,a)"),
            ("x in (in,notin)", "x in (in,notin)"),
            ("in in (in)", "in in (in)"),
            (
                "x in (foo,,baz),y,z notin ()",
                "x in (,baz,foo),y,z notin ()",
            ),
            ("x=a,x!=b", "x=a,x!=b"),
            ("\tx=a ,\n y = b", "x=a,y=b"),
            ("example.com/app=web", "example.com/app=web"),
            ("x=a,!y", "x=a,!y"),
            ("!b,a", "a,!b"),
        ];
        for (input, canonical) in cases {
            let selector = Selector::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(selector.to_string(), canonical, "{input}");
        }
    }

    #[test]
    fn rejects_with_upstream_messages() {
        let cases = [
            (
                "x y",
                "unable to parse requirement: found 'y', expected: in, notin, =, ==, !=, gt, lt",
            ),
            ("x=a,", "found '', expected: identifier after ','"),
            ("x=a y", "found 'y', expected: ',' or 'end of string'"),
            (
                "=a",
                "found '=', expected: !, identifier, or 'end of string'",
            ),
            (
                ",x",
                "found ',', expected: !, identifier, or 'end of string'",
            ),
            (
                "!",
                "unable to parse requirement: found '', expected: identifier",
            ),
            ("!x=a", "found '=', expected: ',' or 'end of string'"),
            (
                "x in a",
                "unable to parse requirement: found 'a' expected: '('",
            ),
            (
                "x in (a",
                "unable to parse requirement: found '', expected: ',' or ')'",
            ),
            (
                "x in (a b)",
                "unable to parse requirement: found 'b', expected: ',' or ')'",
            ),
            (
                "x in (=)",
                "unable to parse requirement: found '=', expected: ',', ')' or identifier",
            ),
            (
                "x in (a,=)",
                "unable to parse requirement: found '=', expected: ',', or identifier",
            ),
            (
                "x!==a",
                "unable to parse requirement: found '=', expected: identifier",
            ),
            (
                "x>a",
                "unable to parse requirement: values[0]: Invalid value: \"a\": for 'Gt', 'Lt' operators, the value must be an integer",
            ),
        ];
        for (input, message) in cases {
            assert_eq!(Selector::parse(input).unwrap_err(), message, "{input}");
        }
        assert_eq!(
            Selector::parse("x=a_").unwrap_err(),
            format!(
                "unable to parse requirement: values[0][x]: Invalid value: \"a_\": {}",
                is_valid_label_value("a_").join("; ")
            )
        );
        // A negative bound is not a valid label value, so upstream rejects it.
        let negative = Selector::parse("x>-1").unwrap_err();
        assert!(
            negative
                .starts_with("unable to parse requirement: values[0][x]: Invalid value: \"-1\": "),
            "{negative}"
        );
        let bad_key = Selector::parse("a/b/c=x").unwrap_err();
        assert!(
            bad_key.starts_with("unable to parse requirement: <nil>: Invalid value: \"a/b/c\": "),
            "{bad_key}"
        );
        let two = Selector::parse("x<a_").unwrap_err();
        assert!(
            two.starts_with("unable to parse requirement: [values[0]: "),
            "{two}"
        );
        assert!(
            two.contains(", values[0][x]: Invalid value: \"a_\""),
            "{two}"
        );
    }

    #[test]
    fn matches_each_operator() {
        let set = labels(&[("app", "web"), ("tier", "front"), ("n", "5")]);
        let cases = [
            ("", true),
            ("app=web", true),
            ("app==web", true),
            ("app=db", false),
            ("app!=db", true),
            ("app!=web", false),
            ("missing!=x", true),
            ("app in (db,web)", true),
            ("app in (db)", false),
            ("missing in (x)", false),
            ("app notin (db)", true),
            ("app notin (web)", false),
            ("missing notin (x)", true),
            ("app", true),
            ("missing", false),
            ("!missing", true),
            ("!app", false),
            ("n>4", true),
            ("n>5", false),
            ("n<6", true),
            ("n<5", false),
            ("app>1", false),
            ("missing<1", false),
            ("app=web,tier=front", true),
            ("app=web,tier=back", false),
            ("missing=", false),
        ];
        for (input, expected) in cases {
            let selector = Selector::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(selector.matches(&set), expected, "{input}");
        }
        assert!(Selector::everything().is_empty());
        assert!(!Selector::parse("a").unwrap().is_empty());
        assert!(!Selector::nothing().matches(&set));
        assert!(!Selector::nothing().is_empty());
    }

    #[test]
    fn converts_label_selectors() {
        let empty = LabelSelector::default();
        assert_eq!(
            Selector::from_label_selector(&empty).unwrap(),
            Selector::everything()
        );
        let sel = LabelSelector {
            match_labels: Some(labels(&[("tier", "front"), ("app", "web")])),
            match_expressions: Some(vec![
                LabelSelectorRequirement {
                    key: "env".into(),
                    operator: "In".into(),
                    values: Some(vec!["prod".into(), "dev".into()]),
                },
                LabelSelectorRequirement {
                    key: "legacy".into(),
                    operator: "DoesNotExist".into(),
                    values: None,
                },
            ]),
        };
        let selector = Selector::from_label_selector(&sel).unwrap();
        assert_eq!(
            selector.to_string(),
            "app=web,env in (dev,prod),!legacy,tier=front"
        );
        assert!(selector.matches(&labels(&[
            ("app", "web"),
            ("tier", "front"),
            ("env", "dev")
        ])));
        assert!(!selector.matches(&labels(&[
            ("app", "web"),
            ("tier", "front"),
            ("env", "dev"),
            ("legacy", "1")
        ])));
        assert_eq!(selector.requires_exact_match("app"), Some("web"));
        assert_eq!(selector.requires_exact_match("env"), None);

        let bad_op = LabelSelector {
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "a".into(),
                operator: "Gt".into(),
                values: None,
            }]),
            ..Default::default()
        };
        assert_eq!(
            Selector::from_label_selector(&bad_op).unwrap_err(),
            "\"Gt\" is not a valid pod selector operator"
        );
        let no_values = LabelSelector {
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "a".into(),
                operator: "In".into(),
                values: None,
            }]),
            ..Default::default()
        };
        assert_eq!(
            Selector::from_label_selector(&no_values).unwrap_err(),
            "values: Invalid value: []string(nil): for 'in', 'notin' operators, values set can't be empty"
        );
        let bad_key = LabelSelector {
            match_labels: Some(labels(&[("-a", "x")])),
            ..Default::default()
        };
        let err = Selector::from_label_selector(&bad_key).unwrap_err();
        assert!(
            err.starts_with("key: Invalid value: \"-a\": name part must consist"),
            "{err}"
        );
    }

    /// The values and the operator in the messages are quoted as Go's `%q`
    /// does (`"\a"`, `"\u200b"`), not as Rust's `{:?}` (`"\u{7}"`,
    /// `"\u{200b}"`); printable ASCII reads as before.
    #[test]
    fn bad_values_are_quoted_as_go_does() {
        let err = Requirement::new("a", Operator::Exists, vec!["x".into()]).unwrap_err();
        assert_eq!(
            err,
            r#"values: Invalid value: []string{"x"}: values set must be empty for exists and does not exist"#
        );
        let err = Requirement::new("a", Operator::Exists, vec!["bell\u{7}".into()]).unwrap_err();
        assert!(
            err.starts_with(
                r#"[values: Invalid value: []string{"bell\a"}: values set must be empty for exists and does not exist, values[0][a]: Invalid value: "bell\a": "#
            ),
            "{err}"
        );
        let err = Requirement::new(
            "a",
            Operator::Equals,
            vec!["x".into(), "zw\u{200b}sp".into()],
        )
        .unwrap_err();
        assert!(
            err.starts_with(
                r#"[values: Invalid value: []string{"x", "zw\u200bsp"}: exact-match compatibility requires one single value, values[1][a]: Invalid value: "zw\u200bsp": "#
            ),
            "{err}"
        );
        let exists_with_value = LabelSelector {
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "a".into(),
                operator: "DoesNotExist".into(),
                values: Some(vec!["esc\u{1b}".into()]),
            }]),
            ..Default::default()
        };
        let err = Selector::from_label_selector(&exists_with_value).unwrap_err();
        assert!(
            err.starts_with(r#"[values: Invalid value: []string{"esc\x1b"}: values set must"#),
            "{err}"
        );
        let bad_op = LabelSelector {
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "a".into(),
                operator: "G\u{7}t\u{200b}".into(),
                values: None,
            }]),
            ..Default::default()
        };
        assert_eq!(
            Selector::from_label_selector(&bad_op).unwrap_err(),
            r#""G\at\u200b" is not a valid pod selector operator"#
        );
    }

    #[test]
    fn set_selectors_and_add() {
        let selector = Selector::from_set(&labels(&[("b", "2"), ("a", "1")]));
        assert_eq!(selector.to_string(), "a=1,b=2");
        let more = selector.add([Requirement::new("a0", Operator::Exists, vec![]).unwrap()]);
        assert_eq!(more.to_string(), "a=1,a0,b=2");
        assert!(Requirement::new("a", Operator::Exists, vec!["x".into()]).is_err());
        assert!(Requirement::new("a", Operator::Equals, vec![]).is_err());
    }
}
