//! Untrusted text (CSV cells, relay replies, file names) in, text safe to print on a terminal
//! out: control characters, and the format characters that reorder or hide text, are shown as
//! escapes instead of being sent to the terminal, which would obey them.

use std::borrow::Cow;

/// Whether a character would act on a terminal or hide text instead of being shown.
fn unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(c,
            // Bidirectional overrides and isolates (the "Trojan Source" characters).
            '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}'
            // Zero-width characters and the byte-order mark.
            | '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}'
            // Line and paragraph separators, which some terminals treat as line ends.
            | '\u{2028}' | '\u{2029}')
}

fn escape(c: char, out: &mut String) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
    }
}

/// One untrusted value, every unsafe character escaped (line ends included).
pub fn clean(s: &str) -> Cow<'_, str> {
    if !s.chars().any(unsafe_char) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if unsafe_char(c) {
            escape(c, &mut out);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A whole message for the terminal: line ends and tabs stay, every other unsafe character is
/// escaped. The last line of defence where messages quote untrusted values.
pub fn clean_lines(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| unsafe_char(c) && c != '\n' && c != '\t') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if unsafe_char(c) && c != '\n' && c != '\t' {
            escape(c, &mut out);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// An untrusted value in double quotes, escaped, for messages that quote it.
pub fn quoted(s: &str) -> String {
    format!("\"{}\"", clean(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_a_terminal_would_obey() {
        assert_eq!(clean("a\u{1b}[31mred\u{7}"), "a\\u{1b}[31mred\\u{7}");
        assert_eq!(clean("x\r\nRCPT TO:<v@x.y>"), "x\\r\\nRCPT TO:<v@x.y>");
        assert_eq!(clean("abc\u{202E}fed"), "abc\\u{202e}fed");
        assert_eq!(clean("Hélène Dupré"), "Hélène Dupré");
        assert!(matches!(clean("plain"), Cow::Borrowed(_)));
        assert_eq!(
            clean_lines("one\ntwo\u{1b}]0;title\u{7}"),
            "one\ntwo\\u{1b}]0;title\\u{7}"
        );
        assert_eq!(quoted("a\u{9b}b"), "\"a\\u{9b}b\"");
    }
}
