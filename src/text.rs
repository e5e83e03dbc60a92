//! A cell or other value in, the same text fit for one line out: a header, a greeting, a name.

/// Control characters (CR and LF above all, which would start a new header or break a greeting
/// in two) become spaces, and runs of white space fold into one; the ends are trimmed.
pub fn one_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for word in s.split(|c: char| c.is_whitespace() || c.is_control()) {
        if word.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn line_breaks_and_controls_become_one_space() {
        assert_eq!(
            super::one_line("Jane\r\nBcc: evil@example.com"),
            "Jane Bcc: evil@example.com"
        );
        assert_eq!(super::one_line("  a \t b\u{0}c \u{2028} d"), "a b c d");
    }
}
