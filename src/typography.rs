//! Text in a language in, the same text set as that language sets it out: the apostrophe as a
//! typographer writes it (’), quotes curled as Markdown bodies get them, and in French the
//! no-break space (U+00A0) that keeps `:`, `;`, `!`, `?` and `»` on the line of the word before
//! them, and `«` on the line of the word after. Only spaces the writer typed are made no-break,
//! and nothing is inserted, so addresses (`https://...?a=1`) are never touched.

/// The no-break space.
pub const NBSP: char = '\u{a0}';

/// Apostrophes between letters curled (`l'action` → `l’action`, `don't` → `don’t`): safe in
/// any text, HTML and merge fields included (their quotes are never between two letters).
pub fn apostrophes(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() + 8);
    for (i, &c) in chars.iter().enumerate() {
        let between = i > 0
            && chars[i - 1].is_alphanumeric()
            && chars.get(i + 1).is_some_and(|n| n.is_alphabetic());
        out.push(if c == '\'' && between { '’' } else { c });
    }
    out
}

/// Plain text (a title) set for print: apostrophes curled, and straight quotes made “ ” (‘ ’ for
/// single ones), as Markdown's typography does to bodies.
pub fn quotes(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut prev: Option<char> = None;
    let chars: Vec<char> = text.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let opening = prev.is_none_or(|p| p.is_whitespace() || "([{«—–-/".contains(p));
        let next_letter = chars.get(i + 1).is_some_and(|n| n.is_alphabetic());
        out.push(match c {
            '"' if opening => '“',
            '"' => '”',
            '\'' if prev.is_some_and(|p| p.is_alphanumeric()) => '’',
            '\'' if opening && next_letter => '‘',
            '\'' => '’',
            c => c,
        });
        prev = Some(c);
    }
    out
}

/// The spaces of French punctuation made no-break: before `:` `;` `!` `?` `»` and after `«`,
/// wherever the writer typed a space (or a thin one). Other languages are returned as they are.
pub fn spaces(text: &str, lang: &str) -> String {
    if lang != "fr" {
        return text.to_string();
    }
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    for (i, &c) in chars.iter().enumerate() {
        let is_space = c == ' ' || c == '\u{202f}';
        let before_mark = chars.get(i + 1).is_some_and(|n| ":;!?»".contains(*n));
        let after_guillemet = i > 0 && chars[i - 1] == '«';
        out.push(if is_space && (before_mark || after_guillemet) {
            NBSP
        } else {
            c
        });
    }
    out
}

/// A title or a translated string, set for `lang`: [`quotes`] then [`spaces`].
pub fn title(text: &str, lang: &str) -> String {
    spaces(&quotes(text), lang)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_get_the_typography_of_bodies() {
        assert_eq!(
            title("L'Afrique et \"les armes\" : bilan", "fr"),
            "L’Afrique et “les armes”\u{a0}: bilan"
        );
        assert_eq!(title("Don't 'stop' now", "en"), "Don’t ‘stop’ now");
        assert_eq!(title("Peacekeepers' losses", "en"), "Peacekeepers’ losses");
    }

    #[test]
    fn french_spaces_are_made_no_break_where_typed_and_addresses_left_alone() {
        assert_eq!(
            spaces("Lire : ici ; là ! Oui ? « Non »", "fr"),
            "Lire\u{a0}: ici\u{a0}; là\u{a0}! Oui\u{a0}? «\u{a0}Non\u{a0}»"
        );
        assert_eq!(
            spaces("voir https://example.org/?a=1:2", "fr"),
            "voir https://example.org/?a=1:2"
        );
        assert_eq!(spaces("Read more : here", "en"), "Read more : here");
        assert_eq!(
            apostrophes("<a href='x'>l'action</a>"),
            "<a href='x'>l’action</a>"
        );
    }
}
