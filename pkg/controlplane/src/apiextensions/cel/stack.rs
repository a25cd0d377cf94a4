//! Keeping deep rules from overflowing a thread's stack. cel-rust's parser,
//! its interpreter and the cost walk recurse once per level of a rule's
//! syntax tree, a few kilobytes each, and an expression's depth is the
//! writer's to choose (`1 + 1 + ...` is as deep as it is long). So a rule
//! is measured before it is parsed — its length, and a bound of its depth
//! from its operators and brackets, both linear scans — and parsing,
//! checking and evaluating run on a thread whose stack holds the deepest
//! rule allowed.

/// The longest rule, in code points (cel-go's default limit).
pub const MAX_CODE_POINTS: usize = 100_000;

/// The deepest a rule may be, as [`depth_bound`] measures it.
pub const MAX_DEPTH: usize = 1_000;

/// The stack of the threads rules are parsed and evaluated on: room for
/// [`MAX_DEPTH`] levels of an unoptimised build's frames (release builds
/// use far less). It is reserved, not committed: memory is only used as
/// deep as a rule goes.
const STACK_BYTES: usize = 256 << 20;

/// Why a rule is refused before it is parsed.
pub fn refuse_before_parsing(rule: &str) -> Option<String> {
    let code_points = rule.chars().count();
    if code_points > MAX_CODE_POINTS {
        return Some(format!(
            "expression code point size exceeds limit: size: {code_points}, limit {MAX_CODE_POINTS}"
        ));
    }
    let depth = depth_bound(rule);
    if depth > MAX_DEPTH {
        return Some(format!(
            "expression nesting exceeds limit: {depth} levels of operators and brackets, limit {MAX_DEPTH}"
        ));
    }
    None
}

/// An upper bound of the depth of `rule`'s syntax tree: within each
/// bracketed group, every operator may nest the rest once more (a chain
/// `a + b + c` is a tree as deep as it is long), and a group nests its
/// inner groups. String literals are skipped.
pub fn depth_bound(rule: &str) -> usize {
    // For each open group: its operators, and the deepest inner group.
    let mut groups: Vec<(usize, usize)> = vec![(0, 0)];
    let bytes = rule.as_bytes();
    let mut at = 0;
    while at < bytes.len() {
        let byte = bytes[at];
        match byte {
            b'\'' | b'"' => {
                let raw = at > 0 && matches!(bytes[at - 1], b'r' | b'R');
                at = skip_string(bytes, at, raw);
                continue;
            }
            b'(' | b'[' | b'{' => groups.push((0, 0)),
            b')' | b']' | b'}' => {
                if groups.len() > 1
                    && let Some((operators, inner)) = groups.pop()
                    && let Some(parent) = groups.last_mut()
                {
                    parent.1 = parent.1.max(1 + operators + inner);
                }
            }
            b'+' | b'-' | b'*' | b'/' | b'%' | b'!' | b'<' | b'>' | b'=' | b'&' | b'|' | b'?'
            | b':' | b'.' => {
                if let Some(group) = groups.last_mut() {
                    group.0 += 1;
                }
            }
            b'i' if bytes.get(at + 1) == Some(&b'n')
                && !bytes
                    .get(at + 2)
                    .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
                && (at == 0
                    || !(bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_')) =>
            {
                if let Some(group) = groups.last_mut() {
                    group.0 += 1;
                }
            }
            _ => {}
        }
        at += 1;
    }
    // Groups left open count as closed (the parser refuses them anyway).
    let mut depth = 0;
    while let Some((operators, inner)) = groups.pop() {
        depth = 1 + operators + inner.max(depth);
    }
    depth
}

/// The index after the string literal opening at `start` (single, double
/// or triple quotes; escapes unless `raw`).
fn skip_string(bytes: &[u8], start: usize, raw: bool) -> usize {
    let quote = bytes[start];
    let triple = bytes.get(start + 1) == Some(&quote) && bytes.get(start + 2) == Some(&quote);
    let mut at = start + if triple { 3 } else { 1 };
    while at < bytes.len() {
        if !raw && bytes[at] == b'\\' {
            at += 2;
            continue;
        }
        if bytes[at] == quote
            && (!triple || (bytes.get(at + 1) == Some(&quote) && bytes.get(at + 2) == Some(&quote)))
        {
            return at + if triple { 3 } else { 1 };
        }
        at += 1;
    }
    bytes.len()
}

/// Runs `work` on a thread with a stack for the deepest rule allowed;
/// `None` when no thread could be started.
pub fn on_deep_stack<R: Send>(work: impl FnOnce() -> R + Send) -> Option<R> {
    std::thread::scope(|scope| {
        let handle = std::thread::Builder::new()
            .name("cel".into())
            .stack_size(STACK_BYTES)
            .spawn_scoped(scope, work)
            .ok()?;
        match handle.join() {
            Ok(result) => Some(result),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_counts_operators_and_groups_outside_strings() {
        assert_eq!(depth_bound("self.a"), 2);
        assert_eq!(depth_bound("1 + 1 + 1"), 3);
        assert_eq!(depth_bound("((1))"), 3);
        assert_eq!(depth_bound("f(a + b) && c"), 5);
        assert_eq!(depth_bound("'((((+++' == x"), 3);
        assert_eq!(depth_bound(r#""a\"((" in y"#), 2);
        assert_eq!(depth_bound("r'\\' + 1"), 2);
        assert_eq!(depth_bound("'''a'b'c''' + 1"), 2);
        assert!(depth_bound(&"1 + ".repeat(2000)) > MAX_DEPTH);
        assert!(depth_bound(&"(".repeat(2000)) > MAX_DEPTH);
    }

    #[test]
    fn over_long_and_over_deep_rules_are_refused_unparsed() {
        assert!(refuse_before_parsing("self.a == 1").is_none());
        let long = format!("'{}'", "a".repeat(MAX_CODE_POINTS));
        assert!(
            refuse_before_parsing(&long)
                .unwrap()
                .contains("code point size exceeds limit")
        );
        let deep = format!("1{}", " + 1".repeat(MAX_DEPTH));
        assert!(
            refuse_before_parsing(&deep)
                .unwrap()
                .contains("nesting exceeds limit")
        );
    }
}
