//! The `updates/` folder (one `SLUG.LANG.md` per update and language, TOML front matter between
//! `+++` lines, Markdown body) in, [`Updates`] out: each version's metadata with its body rendered
//! once to HTML and to plain text, so that no message renders Markdown again.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::config::{normalize_tag, parse_toml, Config};
use crate::problems::Problems;
use crate::{Error, Result};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrontMatter {
    pub title: String,
    /// A TOML date (2026-11-24), or the same in quotes.
    pub date: toml::Value,
    pub project: Option<String>,
    #[serde(default)]
    pub interests: Vec<String>,
    pub link: Option<String>,
    pub summary: Option<String>,
    pub image: Option<String>,
    /// Text of the image for readers who do not load images.
    pub image_alt: Option<String>,
    /// Files of the attachments folder that messages carrying this update carry.
    #[serde(default)]
    pub attachments: Vec<String>,
}

/// One language version of an update, ready to be placed in a message.
#[derive(Debug, Clone, Serialize)]
pub struct Update {
    pub slug: String,
    pub lang: String,
    pub title: String,
    pub date: NaiveDate,
    pub project: String,
    pub interests: Vec<String>,
    pub link: String,
    pub summary: String,
    pub image: String,
    pub image_alt: String,
    pub attachments: Vec<String>,
    /// The body as HTML (trusted: it comes from the project's own files). Merge fields in it
    /// are tera syntax, rendered per recipient.
    pub html: String,
    /// The body as plain text, wrapped for a mail reader.
    pub text: String,
    #[serde(skip)]
    pub path: PathBuf,
}

/// Every update of the project, by slug, then by language.
#[derive(Debug, Clone, Default)]
pub struct Updates {
    pub by_slug: BTreeMap<String, BTreeMap<String, Update>>,
}

impl Updates {
    pub fn get(&self, slug: &str, lang: &str) -> Option<&Update> {
        self.by_slug.get(slug).and_then(|m| m.get(lang))
    }

    /// Any language version, for facts that do not depend on language (date, interests).
    pub fn any(&self, slug: &str) -> Option<&Update> {
        self.by_slug.get(slug).and_then(|m| m.values().next())
    }

    pub fn len(&self) -> usize {
        self.by_slug.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_slug.is_empty()
    }
}

/// Width of plain-text bodies: what mail readers show without wrapping again.
const TEXT_WIDTH: usize = 72;

pub fn markdown_to_html(md: &str) -> String {
    use pulldown_cmark::{Options, Parser};
    let opts =
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_SMART_PUNCTUATION;
    let mut html = String::with_capacity(md.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut html, Parser::new_ext(md, opts));
    html
}

/// A Markdown body in, its HTML and plain text out, with its merge fields (tera's `{{ }}`,
/// `{% %}` and `{# #}`) carried through untouched: Markdown's typography would curl their
/// quotes, and its links would percent-encode them. Each is set aside behind a placeholder that
/// Markdown and the text conversion leave alone, and put back after.
///
/// The HTML is cleaned (see `safe_html`), relative addresses resolved against `base`.
pub fn markdown_body(md: &str, base: Option<&crate::safe_html::Url>) -> Body {
    let (protected, spans) = protect_merge_fields(md);
    let cleaned = crate::safe_html::clean(&markdown_to_html(&protected), base);
    let text = html_to_text(&cleaned.html);
    Body {
        html: restore(&cleaned.html, &spans),
        text: restore(&text, &spans),
        removed: cleaned.removed,
        relative: cleaned.relative,
    }
}

/// A Markdown body made ready for messages, and what making it safe took out.
pub struct Body {
    pub html: String,
    pub text: String,
    /// Raw HTML the sanitizer removed (`<script>`, `onclick=`...).
    pub removed: Vec<String>,
    /// Relative links and images: resolved against `[site] base_url`, or removed without it.
    pub relative: Vec<String>,
}

impl Body {
    /// Reports what was removed (a warning) and relative addresses that no base resolved (an
    /// error), each at the first line of `source` that holds it, shifted by `first_line`.
    pub fn report(
        &self,
        path: &Path,
        source: &str,
        first_line: usize,
        resolved: bool,
        p: &mut Problems,
    ) {
        let line_of = |needle: &str| {
            let bare = needle.trim_matches(|c| c == '<' || c == '>' || c == '=');
            source
                .lines()
                .position(|l| l.to_ascii_lowercase().contains(&bare.to_ascii_lowercase()))
                .map(|i| i + first_line)
        };
        if !self.removed.is_empty() {
            p.warning(
                path,
                self.removed.first().and_then(|r| line_of(r)),
                format!(
                    "HTML that messages must not carry was removed: {}. Mail readers block scripts and the like; write the content in Markdown",
                    self.removed.join(", ")
                ),
            );
        }
        if !resolved {
            for url in &self.relative {
                p.error(path, line_of(url), format!(
                    "relative address \"{url}\": a mail reader cannot follow it. Write the full address (https://...), or set [site] base_url in the config to the address it is relative to"));
            }
        }
    }
}

/// Whether a text holds tera syntax, and so must be rendered per recipient.
pub fn has_merge_fields(text: &str) -> bool {
    text.contains("{{") || text.contains("{%") || text.contains("{#")
}

fn placeholder(i: usize) -> String {
    format!("zqbulletinmerge{i}qz")
}

fn protect_merge_fields(md: &str) -> (String, Vec<String>) {
    let mut out = String::with_capacity(md.len());
    let mut spans = Vec::new();
    let mut rest = md;
    while let Some(start) = rest.find('{') {
        let close = match rest[start..].chars().nth(1) {
            Some('{') => "}}",
            Some('%') => "%}",
            Some('#') => "#}",
            _ => {
                out.push_str(&rest[..=start]);
                rest = &rest[start + 1..];
                continue;
            }
        };
        // Unclosed: left as it is, for the template check to report.
        let Some(len) = rest[start + 2..].find(close) else {
            break;
        };
        let end = start + 2 + len + 2;
        out.push_str(&rest[..start]);
        out.push_str(&placeholder(spans.len()));
        spans.push(rest[start..end].to_string());
        rest = &rest[end..];
    }
    out.push_str(rest);
    (out, spans)
}

fn restore(text: &str, spans: &[String]) -> String {
    let mut out = text.to_string();
    // From the last: placeholder 1 is a prefix of placeholder 10's text.
    for (i, span) in spans.iter().enumerate().rev() {
        out = out.replace(&placeholder(i), span);
    }
    out
}

pub fn html_to_text(html: &str) -> String {
    html2text::from_read(html.as_bytes(), TEXT_WIDTH)
        .unwrap_or_else(|_| html.to_string())
        .trim_end()
        .to_string()
}

/// Splits `+++\nTOML\n+++\nbody`, giving the front matter, the body and the line the body starts on.
fn split_front_matter(text: &str) -> Option<(&str, &str, usize)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let rest = text.strip_prefix("+++")?;
    let rest = rest
        .strip_prefix("\r\n")
        .or_else(|| rest.strip_prefix('\n'))?;
    let mut offset = 0;
    for line in rest.split_inclusive('\n') {
        if line.trim_end() == "+++" {
            let fm = &rest[..offset];
            let body = &rest[offset + line.len()..];
            return Some((fm, body, fm.matches('\n').count() + 3));
        }
        offset += line.len();
    }
    None
}

/// The front matter between the `+++` lines, read as TOML, and the body after it; problems
/// name the file's own lines.
fn front_matter<'t>(
    path: &Path,
    text: &'t str,
    p: &mut Problems,
) -> Option<(FrontMatter, &'t str, &'t str)> {
    let Some((fm_text, body, _)) = split_front_matter(text) else {
        p.error(path, Some(1), "no front matter: start the file with a line `+++`, then title, date and interests in TOML, then another `+++`");
        return None;
    };
    let mut local = Problems::new();
    let fm: Option<FrontMatter> = parse_toml(fm_text, path, &mut local);
    // Lines of the front matter start on line 2 of the file.
    for mut prob in local.0 {
        prob.line = prob.line.map(|l| l + 1);
        p.0.push(prob);
    }
    Some((fm?, fm_text, body))
}

/// The front matter's date and interest tags, once it is checked; its problems are reported.
fn checked(
    fm: &FrontMatter,
    fm_line: &dyn Fn(&str) -> Option<usize>,
    config: &Config,
    path: &Path,
    p: &mut Problems,
) -> Option<(NaiveDate, Vec<String>)> {
    let date = match &fm.date {
        toml::Value::Datetime(dt) => match dt.date {
            Some(d) if dt.time.is_none() => {
                NaiveDate::from_ymd_opt(d.year as i32, d.month as u32, d.day as u32)
            }
            _ => None,
        },
        toml::Value::String(s) => NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok(),
        _ => None,
    };
    let Some(date) = date else {
        p.error(
            path,
            fm_line("date"),
            "date must be a plain date such as 2026-11-24 (year-month-day, no time)",
        );
        return None;
    };
    if fm.title.trim().is_empty() {
        p.error(path, fm_line("title"), "title is empty");
    }
    if has_merge_fields(&fm.title) {
        p.error(path, fm_line("title"), "a title is the same for every reader (the web archive and its feed show it too): put merge fields in the body instead");
    }
    let mut interests = Vec::new();
    for raw in &fm.interests {
        let tag = normalize_tag(raw);
        if !config.knows_interest(&tag) {
            p.error(path, fm_line("interests"), format!(
                "unknown interest \"{raw}\": the config declares [{}]; fix the tag or add it to `interests` in {}",
                config.interests.join(", "), config.file.display()));
        }
        interests.push(tag);
    }
    for (key, value) in [("link", &fm.link), ("image", &fm.image)] {
        if let Some(v) = value {
            if !(v.starts_with("https://") || v.starts_with("http://")) {
                p.error(path, fm_line(key), format!("{key} must be a full address starting with https:// (mail readers cannot follow relative links)"));
            }
        }
    }
    if fm.image.is_some() && fm.image_alt.is_none() {
        p.warning(
            path,
            fm_line("image"),
            "image has no image_alt: readers who block images will see nothing in its place",
        );
    }
    Some((date, interests))
}

fn parse_file(
    path: &Path,
    slug: &str,
    lang: &str,
    config: &Config,
    p: &mut Problems,
) -> Option<Update> {
    let text = match crate::limits::read_text_capped(path, crate::limits::TEXT_FILE) {
        Ok(t) => t,
        Err(e) => {
            p.error(
                path,
                None,
                format!("cannot read: {e} (updates must be UTF-8 text)"),
            );
            return None;
        }
    };
    let (fm, fm_text, body) = front_matter(path, &text, p)?;
    let fm_line = |key: &str| {
        fm_text
            .lines()
            .position(|l| l.trim_start().starts_with(key))
            .map(|i| i + 2)
    };
    let (date, interests) = checked(&fm, &fm_line, config, path, p)?;
    let base = config.base_url();
    let body_line = text.lines().count() - body.lines().count() + 1;
    let b = markdown_body(body, base.as_ref());
    b.report(path, body, body_line, base.is_some(), p);
    // Titles and summaries are set like bodies: Markdown curls a body's quotes, these are
    // plain text.
    let set = |t: &str| crate::typography::spaces(t, lang);
    let (html, text) = (set(&b.html), set(&b.text));
    Some(Update {
        slug: slug.to_string(),
        lang: lang.to_string(),
        title: crate::typography::title(fm.title.trim(), lang),
        date,
        project: crate::typography::title(&fm.project.unwrap_or_default(), lang),
        interests,
        link: fm.link.unwrap_or_default(),
        summary: crate::typography::title(&fm.summary.unwrap_or_default(), lang),
        image: fm.image.unwrap_or_default(),
        image_alt: fm.image_alt.unwrap_or_default(),
        attachments: fm.attachments,
        html,
        text,
        path: path.to_path_buf(),
    })
}

/// Loads every update; problems (bad names, bad front matter, unknown languages or interests)
/// are collected, and the versions that could be read are returned.
pub fn load(config: &Config, p: &mut Problems) -> Result<Updates> {
    let dir = config.updates_dir();
    let mut updates = Updates::default();
    let entries =
        std::fs::read_dir(&dir).map_err(|e| Error::io("read the updates folder", &dir, e))?;
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if name.starts_with('.') || !name.ends_with(".md") || path.is_dir() {
            continue;
        }
        let stem = &name[..name.len() - 3];
        let Some((slug, lang)) = stem.rsplit_once('.') else {
            p.error(
                &path,
                None,
                format!(
                    "the file name has no language: name it SLUG.LANG.md, such as {stem}.{}.md",
                    config.languages.default
                ),
            );
            continue;
        };
        let lang_l = lang.to_lowercase();
        if !config.languages.supported.contains(&lang_l) {
            p.error(&path, None, format!(
                "unknown language \"{lang}\" in the file name: the config supports {}; rename the file or add the language to [languages] supported",
                config.languages.supported.join(", ")));
            continue;
        }
        if let Some(u) = parse_file(&path, slug, &lang_l, config, p) {
            updates
                .by_slug
                .entry(slug.to_string())
                .or_default()
                .insert(lang_l, u);
        }
    }
    // Date and interests are facts about the update, not about its language, so the versions must agree.
    for versions in updates.by_slug.values() {
        let mut it = versions.values();
        if let Some(first) = it.next() {
            for other in it {
                if other.date != first.date {
                    p.error(
                        &other.path,
                        None,
                        format!(
                            "date {} differs from {} in {}",
                            other.date,
                            first.date,
                            first.path.display()
                        ),
                    );
                }
                let (mut a, mut b) = (first.interests.clone(), other.interests.clone());
                a.sort();
                b.sort();
                if a != b {
                    p.error(&other.path, None, format!(
                        "interests [{}] differ from [{}] in {}: translations must carry the same tags",
                        other.interests.join(", "), first.interests.join(", "), first.path.display()));
                }
            }
        }
    }
    Ok(updates)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn front_matter_splits_and_counts_lines() {
        let (fm, body, line) =
            split_front_matter("+++\ntitle = \"x\"\ndate = 2026-01-01\n+++\nHello\n").unwrap();
        assert_eq!(fm, "title = \"x\"\ndate = 2026-01-01\n");
        assert_eq!(body, "Hello\n");
        assert_eq!(line, 5);
        assert!(split_front_matter("title = 1\n").is_none());
    }

    #[test]
    fn markdown_renders_to_html_and_text() {
        let html =
            markdown_to_html("A *new* report on [mines](https://example.org/m).\n\n- one\n- two\n");
        assert!(html.contains("<em>new</em>"));
        let text = html_to_text(&html);
        assert!(text.contains("new"));
        assert!(!text.contains("<em>"));
        assert!(
            text.contains("https://example.org/m"),
            "links survive in text: {text}"
        );
    }

    #[test]
    fn merge_fields_pass_through_markdown_untouched() {
        let md = "Dear {{ contact.first_name | default(value=\"colleague\") }}, \"quoted\" and\n\
                  [your page](https://example.org/p/{{ contact.id }}).\n\n\
                  {% if contact.role %}As a *{{ contact.role }}*...{% endif %} {# note #} {x} {{ open";
        let b = markdown_body(md, None);
        let (html, text) = (b.html, b.text);
        for want in [
            "{{ contact.first_name | default(value=\"colleague\") }}",
            "href=\"https://example.org/p/{{ contact.id }}\"",
            "{% if contact.role %}As a <em>{{ contact.role }}</em>…{% endif %}",
            "{# note #}",
            "{x} {{ open",
        ] {
            assert!(html.contains(want), "{want} in {html}");
        }
        assert!(
            html.contains('\u{201c}'),
            "typography still applies outside: {html}"
        );
        assert!(
            text.contains("{{ contact.first_name | default(value=\"colleague\") }}"),
            "{text}"
        );
        assert!(text.contains("{{ contact.role }}"), "{text}");
        assert!(has_merge_fields(&html) && !has_merge_fields("plain { text }"));
    }
}
