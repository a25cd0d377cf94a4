//! Go's rendering of strings in messages: `unicode.IsPrint` and
//! `strconv.Quote` (`%q`), which upstream uses for the bad value of a field
//! error, so that a message with an unprintable character reads as
//! upstream's (`"bell\a"`, not Rust's `"bell\u{7}"`).

/// Go's `unicode.IsPrint`: graphic characters and the ASCII space. Without
/// Unicode's category tables, the characters that are not are the control
/// characters, the non-ASCII spaces and line separators, the format
/// characters (category Cf) and the private-use planes; unassigned code
/// points count as printable.
pub fn is_print(c: char) -> bool {
    c == ' '
        || !(c.is_control()
            || c.is_whitespace()
            || is_format(c)
            || matches!(c, '\u{e000}'..='\u{f8ff}' | '\u{f0000}'..))
}

/// Unicode's format characters (Cf).
fn is_format(c: char) -> bool {
    matches!(
        c,
        '\u{ad}'
            | '\u{600}'..='\u{605}'
            | '\u{61c}'
            | '\u{6dd}'
            | '\u{70f}'
            | '\u{890}'..='\u{891}'
            | '\u{8e2}'
            | '\u{180e}'
            | '\u{200b}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206f}'
            | '\u{feff}'
            | '\u{fff9}'..='\u{fffb}'
            | '\u{110bd}'
            | '\u{110cd}'
            | '\u{13430}'..='\u{1343f}'
            | '\u{1bca0}'..='\u{1bca3}'
            | '\u{1d173}'..='\u{1d17a}'
            | '\u{e0001}'
            | '\u{e0020}'..='\u{e007f}'
    )
}

/// Go's `strconv.Quote`: double quotes; `\"` and `\\`; printable characters
/// as they are; `\a \b \f \n \r \t \v`; other control characters as `\xHH`;
/// other unprintable characters as `\uHHHH` or `\UHHHHHHHH`.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if is_print(c) => out.push(c),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if c < ' ' || c == '\u{7f}' => out.push_str(&format!("\\x{:02x}", u32::from(c))),
            c if u32::from(c) < 0x10000 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push_str(&format!("\\U{:08x}", u32::from(c))),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_as_go_does() {
        assert_eq!(quote("web"), r#""web""#);
        assert_eq!(quote(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(quote("bell\u{7}"), r#""bell\a""#);
        assert_eq!(
            quote("t\tn\nr\rv\u{b}f\u{c}b\u{8}"),
            r#""t\tn\nr\rv\vf\fb\b""#
        );
        assert_eq!(
            quote("nul\0 del\u{7f} esc\u{1b}"),
            r#""nul\x00 del\x7f esc\x1b""#
        );
        assert_eq!(quote("soft\u{ad}hyphen"), r#""soft\u00adhyphen""#);
        assert_eq!(quote("zwsp\u{200b}"), r#""zwsp\u200b""#);
        assert_eq!(quote("\u{e0001}"), r#""\U000e0001""#);
        assert_eq!(quote("ünïcødé 名前 ✓"), "\"ünïcødé 名前 ✓\"");
        assert_eq!(quote("a'b"), r#""a'b""#);
    }

    #[test]
    fn printable_is_graphic_or_space() {
        assert!(is_print('a') && is_print(' ') && is_print('é') && is_print('名'));
        assert!(!is_print('\t') && !is_print('\u{7}') && !is_print('\u{a0}'));
        assert!(!is_print('\u{feff}') && !is_print('\u{e000}') && !is_print('\u{2028}'));
    }
}
