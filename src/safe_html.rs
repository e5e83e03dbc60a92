//! The HTML of an update or intro in, the same HTML with only a safe subset kept out (links,
//! emphasis, lists, tables, images with absolute addresses), by the ammonia sanitizer; with
//! what was removed, and the relative links found, named so that `check` can report them.

use std::collections::HashSet;

pub use ammonia::Url;

/// What cleaning found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Cleaned {
    pub html: String,
    /// What the sanitizer took out: `<script>`, `onclick=`, `javascript:` links...
    pub removed: Vec<String>,
    /// Links and images with a relative address, which no mail reader can follow (resolved
    /// against `base` when there is one, else removed).
    pub relative: Vec<String>,
}

/// Text that stands for a merge field while the body is cleaned: an address holding one is
/// not relative, whatever it looks like before rendering.
const MERGE_MARK: &str = "zqbulletinmerge";

fn is_relative(url: &str) -> bool {
    let u = url.trim();
    let scheme = u.split_once(':').is_some_and(|(s, _)| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    });
    !scheme && !u.starts_with('#') && !u.starts_with("//") && !u.contains(MERGE_MARK)
}

/// Cleans `html`; relative addresses are resolved against `base` if given.
pub fn clean(html: &str, base: Option<&Url>) -> Cleaned {
    let mut b = ammonia::Builder::default();
    b.link_rel(None)
        .add_tag_attributes("th", &["style"])
        .add_tag_attributes("td", &["style"])
        .add_tag_attributes("img", &["width", "height"])
        // Markdown tables align their columns with this property alone.
        .filter_style_properties(["text-align"].into_iter().collect());
    match base {
        Some(u) => b.url_relative(ammonia::UrlRelative::RewriteWithBase(u.clone())),
        None => b.url_relative(ammonia::UrlRelative::Deny),
    };
    let allowed: HashSet<&str> = b.clone_tags();
    let out = b.clean(html).to_string();
    let mut removed = Vec::new();
    for tag in tags_in(html) {
        let t = format!("<{tag}>");
        if !allowed.contains(tag.as_str()) && !removed.contains(&t) {
            removed.push(t);
        }
    }
    let lower = html.to_ascii_lowercase();
    for handler in event_handlers(&lower) {
        if !removed.contains(&handler) {
            removed.push(handler);
        }
    }
    if lower.contains("javascript:") {
        removed.push("javascript: links".to_string());
    }
    let relative = addresses_in(html)
        .into_iter()
        .filter(|u| is_relative(u))
        .collect();
    Cleaned {
        html: out,
        removed,
        relative,
    }
}

/// The names of the elements that `html` opens, in lower case.
fn tags_in(html: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let bytes = html.as_bytes();
    for (i, _) in html.match_indices('<') {
        let name: String = bytes[i + 1..]
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric())
            .map(|b| b.to_ascii_lowercase() as char)
            .collect();
        if !name.is_empty()
            && name.starts_with(|c: char| c.is_ascii_alphabetic())
            && !out.contains(&name)
        {
            out.push(name);
        }
    }
    out
}

/// The values of `href` and `src` attributes, in order.
fn addresses_in(html: &str) -> Vec<String> {
    let lower = html.to_ascii_lowercase();
    let mut out = Vec::new();
    for attr in ["href", "src"] {
        for (i, _) in lower.match_indices(attr) {
            let before = lower[..i].chars().next_back();
            if !before.is_some_and(char::is_whitespace) {
                continue;
            }
            let rest = html[i + attr.len()..].trim_start();
            let Some(rest) = rest.strip_prefix('=') else {
                continue;
            };
            let rest = rest.trim_start();
            let value = match rest.chars().next() {
                Some(q @ ('"' | '\'')) => rest[1..].split(q).next().unwrap_or(""),
                _ => rest
                    .split(|c: char| c.is_whitespace() || c == '>')
                    .next()
                    .unwrap_or(""),
            };
            out.push((i, value.to_string()));
        }
    }
    out.sort();
    out.into_iter().map(|(_, v)| v).collect()
}

/// Inline event handlers (`onclick=`...) in lower-cased HTML.
fn event_handlers(lower: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, _) in lower.match_indices(" on") {
        let name: String = lower[i + 1..]
            .chars()
            .take_while(|c| c.is_ascii_alphabetic())
            .collect();
        let rest = lower[i + 1 + name.len()..].trim_start();
        if name.len() > 2 && rest.starts_with('=') && lower[..i].rfind('<') > lower[..i].rfind('>')
        {
            let h = format!("{name}=");
            if !out.contains(&h) {
                out.push(h);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_and_handlers_go_and_are_named() {
        let c = clean(
            "<p onclick=\"steal()\">Hi <script>alert(1)</script><a href=\"javascript:x()\">x</a> <em>ok</em></p><iframe src=\"https://x\"></iframe>",
            None,
        );
        assert!(
            !c.html.contains("script") && !c.html.contains("onclick"),
            "{}",
            c.html
        );
        assert!(
            !c.html.contains("javascript") && !c.html.contains("iframe"),
            "{}",
            c.html
        );
        assert!(c.html.contains("<em>ok</em>"));
        for want in ["<script>", "<iframe>", "onclick=", "javascript: links"] {
            assert!(
                c.removed.iter().any(|r| r == want),
                "{want} in {:?}",
                c.removed
            );
        }
        assert!(!c
            .removed
            .iter()
            .any(|r| r == "<p>" || r == "<em>" || r == "<a>"));
    }

    #[test]
    fn relative_links_are_named_and_resolved_only_with_a_base() {
        let html = "<p><a href=\"report.pdf\">r</a> <img src=\"chart.png\" alt=\"c\"> <a href=\"https://ok.example/x\">ok</a> <a href=\"#top\">top</a> <a href=\"https://x/zqbulletinmerge0qz\">m</a></p>";
        let c = clean(html, None);
        assert_eq!(c.relative, vec!["report.pdf", "chart.png"]);
        assert!(
            !c.html.contains("report.pdf") && !c.html.contains("chart.png"),
            "{}",
            c.html
        );
        let base = Url::parse("https://news.example.org/2026/").unwrap();
        let c = clean(html, Some(&base));
        assert!(
            c.html
                .contains("href=\"https://news.example.org/2026/report.pdf\""),
            "{}",
            c.html
        );
        assert!(
            c.html
                .contains("src=\"https://news.example.org/2026/chart.png\""),
            "{}",
            c.html
        );
    }

    #[test]
    fn tables_keep_their_alignment_and_nothing_else() {
        let c = clean(
            "<table><tr><th style=\"text-align: right; color: red\">n</th></tr></table>",
            None,
        );
        assert!(
            c.html.contains("text-align:right") && !c.html.contains("color"),
            "{}",
            c.html
        );
    }
}
