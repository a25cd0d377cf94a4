//! The one query-string parser of the server: a request's `?…` as upstream
//! reads it everywhere (`(*url.URL).Query()`, Go's `url.ParseQuery` with its
//! error dropped), on the `form_urlencoded` crate. Handlers, filters,
//! `RequestInfo`, the health endpoints and the OpenAPI documents all read
//! their parameters through [`Query`].
//!
//! Upstream's rules, kept here:
//! - pairs are split on `&` only; an empty pair is skipped; a pair without
//!   `=` is a key with the empty value;
//! - `+` is a space and `%XX` a byte, in keys and values alike;
//! - a pair that Go refuses is dropped and the rest kept, as `URL.Query()`
//!   silently discards what `ParseQuery` reports: a `%` not followed by two
//!   hex digits (Go's `EscapeError`), or a raw `;` (Go ≥ 1.17's "invalid
//!   semicolon separator in query"). No handler answers 400 for it;
//! - every value of a repeated key is kept in order: scalar options read
//!   the first ([`Query::get`], as `url.Values.Get` and apimachinery's
//!   `Convert_Slice_string_To_string`/`_bool`/`_int64`), list options
//!   (`dryRun`, healthz's `exclude`) read them all ([`Query::get_all`]).
//!
//! Bytes that are not UTF-8 after decoding become U+FFFD (Go keeps them
//! raw); no parameter the server reads can hold them meaningfully.
//! Parsing is one pass over the query and never panics.

/// A request's query parameters, decoded, in the order they were sent
/// (the `url.Values` of upstream, with the order kept).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    /// Parses a raw query (the part after `?`, without it); `None` is the
    /// empty query.
    pub fn parse(raw: Option<&str>) -> Self {
        let Some(raw) = raw else {
            return Query::default();
        };
        let pairs = raw
            .split('&')
            .filter(|pair| accepted_by_go(pair))
            .filter_map(|pair| form_urlencoded::parse(pair.as_bytes()).next())
            .map(|(key, value)| (key.into_owned(), value.into_owned()))
            .collect();
        Query { pairs }
    }

    /// The first value of `key` (`Some("")` for `key` or `key=`), the rule
    /// of every scalar option upstream.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.get_all(key).next()
    }

    /// A boolean option as upstream's parameter codec reads it
    /// (`Convert_Slice_string_To_bool`): its first value is false when it
    /// is `0` or `false` in any case, and true otherwise (`True`, `yes`,
    /// an empty value); `None` when the option is absent.
    pub fn flag(&self, key: &str) -> Option<bool> {
        self.get(key)
            .map(|value| !(value == "0" || value.eq_ignore_ascii_case("false")))
    }

    /// Every value of `key`, in order (list options: `dryRun`, `exclude`).
    pub fn get_all<'a>(&'a self, key: &str) -> impl Iterator<Item = &'a str> {
        self.pairs
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, value)| value.as_str())
    }

    /// Whether `key` was sent at all, with any value (`_, found := values[key]`).
    pub fn contains(&self, key: &str) -> bool {
        self.pairs.iter().any(|(k, _)| k == key)
    }

    /// No parameter at all.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// The decoded pairs, in order.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// Whether Go's `parseQuery` keeps this `&`-separated piece: not empty, no
/// `;`, and every `%` starts a `%XX` escape. (`=` is not a hex digit, so an
/// escape never spans the key and the value: checking the whole piece is
/// checking both.)
fn accepted_by_go(pair: &str) -> bool {
    let bytes = pair.as_bytes();
    if bytes.is_empty() || bytes.contains(&b';') {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let escape = bytes.get(i + 1..i + 3);
            if !escape.is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit)) {
                return false;
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boolean_options_are_false_only_for_0_and_false() {
        let query = parse("a=true&b=True&c=1&d=&e&f=yes&g=0&h=false&i=FALSE&a=0");
        for key in ["a", "b", "c", "d", "e", "f"] {
            assert_eq!(query.flag(key), Some(true), "{key}");
        }
        for key in ["g", "h", "i"] {
            assert_eq!(query.flag(key), Some(false), "{key}");
        }
        assert_eq!(query.flag("missing"), None);
    }

    fn parse(raw: &str) -> Query {
        Query::parse(Some(raw))
    }

    #[test]
    fn scalar_parameters_read_the_first_value() {
        let query = parse("limit=5&labelSelector=a&limit=7&labelSelector=b");
        assert_eq!(query.get("limit"), Some("5"));
        assert_eq!(query.get("labelSelector"), Some("a"));
        assert_eq!(query.get("continue"), None);
    }

    #[test]
    fn list_parameters_read_every_value_in_order() {
        let query = parse("dryRun=All&x=1&dryRun=&dryRun=All");
        assert_eq!(
            query.get_all("dryRun").collect::<Vec<_>>(),
            ["All", "", "All"]
        );
        assert_eq!(query.get_all("nope").count(), 0);
        assert_eq!(
            query.pairs().collect::<Vec<_>>(),
            [
                ("dryRun", "All"),
                ("x", "1"),
                ("dryRun", ""),
                ("dryRun", "All")
            ]
        );
    }

    #[test]
    fn plus_is_a_space_and_escapes_decode_in_keys_and_values() {
        let query = parse("label%53elector=app%3Dweb%2Ctier+in+(a%2Cb)&a%2Bb=1%2B1");
        assert_eq!(query.get("labelSelector"), Some("app=web,tier in (a,b)"));
        assert_eq!(query.get("a+b"), Some("1+1"));
        assert_eq!(parse("x=%e2%9C%93").get("x"), Some("✓"));
        // Not UTF-8 once decoded: replaced, not a panic.
        assert_eq!(parse("x=%ff").get("x"), Some("\u{FFFD}"));
    }

    #[test]
    fn empty_values_keys_without_equals_and_empty_pairs() {
        let query = parse("&&verbose&watch=&=v&a==b&");
        assert_eq!(query.get("verbose"), Some(""));
        assert!(query.contains("verbose"));
        assert_eq!(query.get("watch"), Some(""));
        assert_eq!(query.get(""), Some("v"));
        // Only the first `=` splits.
        assert_eq!(query.get("a"), Some("=b"));
        assert!(!query.contains("missing"));
        assert_eq!(query.pairs().count(), 4);
        assert!(Query::parse(None).is_empty());
        assert!(parse("").is_empty());
        assert!(parse("&&&").is_empty());
    }

    #[test]
    fn pairs_go_refuses_are_dropped_and_the_rest_kept() {
        // As `URL.Query()`: a bad escape (in the key or the value) drops
        // its pair only.
        for bad in ["a=%zz", "a=%", "a=%4", "a=x%4g", "a%=1", "%4=1", "a=%%41"] {
            let query = parse(&format!("before=1&{bad}&after=2"));
            assert_eq!(query.get("a"), None, "{bad}");
            assert_eq!(query.get("before"), Some("1"), "{bad}");
            assert_eq!(query.get("after"), Some("2"), "{bad}");
            assert_eq!(query.pairs().count(), 2, "{bad}");
        }
        // A raw `;` is no separator (Go ≥ 1.17): the pair holding it goes.
        let query = parse("limit=1;watch=1&watch=true");
        assert_eq!(query.get("limit"), None);
        assert_eq!(query.get("watch"), Some("true"));
        // An escaped `;` is fine.
        assert_eq!(parse("x=a%3Bb").get("x"), Some("a;b"));
        // A dropped first value makes the next one first.
        assert_eq!(parse("limit=%zz&limit=3").get("limit"), Some("3"));
    }

    #[test]
    fn hostile_queries_parse_in_one_pass() {
        let many = "a=%&".repeat(100_000);
        assert!(parse(&many).is_empty());
        let long = format!("k={}", "%41".repeat(100_000));
        assert_eq!(parse(&long).get("k").map(str::len), Some(100_000));
        let pairs = "k=v&".repeat(100_000);
        assert_eq!(parse(&pairs).get_all("k").count(), 100_000);
        assert_eq!(parse("%").pairs().count(), 0);
        assert_eq!(parse("=").get(""), Some(""));
    }
}
