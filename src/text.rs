//! A cell or other value in, the same text fit for one line out: a header, a greeting, a name.

/// Control characters (CR and LF above all, which would start a new header or break a greeting
/// in two) become spaces, and runs of white space fold into one; the ends are trimmed. No-break
/// spaces are kept: French puts them before a colon on purpose (see `typography`).
pub fn one_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let breaks =
        |c: char| (c.is_whitespace() && c != '\u{a0}' && c != '\u{202f}') || c.is_control();
    for word in s.split(breaks) {
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

/// The name under which templates reach a column: `job_title` for "Job Title", `civilite`
/// for "Civilité" (letters with accents written without them).
pub fn ascii_key(header: &str) -> String {
    let key: String = deunicode::deunicode(header)
        .to_lowercase()
        .chars()
        .map(|ch| if ch.is_ascii_alphanumeric() { ch } else { '_' })
        .collect();
    key.trim_matches('_').to_string()
}

/// `n` and the word for it: "1 message", "2 messages".
pub fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `s` with its first letter upper-cased: a clause made to start a sentence.
pub fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// A cell as a spreadsheet may show it without running it: one that would start a formula
/// (`=`, `+`, `-`, `@`, a tab or a carriage return) gets a leading apostrophe. For exports of
/// what strangers typed (a sign-up's name) that a team opens in Excel or imports into a CRM.
pub fn spreadsheet_safe(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        std::borrow::Cow::Owned(format!("'{cell}"))
    } else {
        std::borrow::Cow::Borrowed(cell)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_take_the_right_form() {
        assert_eq!(super::count(1, "message", "messages"), "1 message");
        assert_eq!(super::count(0, "message", "messages"), "0 messages");
        assert_eq!(
            super::count(2, "duplicate merged", "duplicates merged"),
            "2 duplicates merged"
        );
    }

    #[test]
    fn line_breaks_and_controls_become_one_space() {
        assert_eq!(
            super::one_line("Jane\r\nBcc: evil@example.com"),
            "Jane Bcc: evil@example.com"
        );
        assert_eq!(super::one_line("  a \t b\u{0}c \u{2028} d"), "a b c d");
    }
}
