//! The campaign's update bodies and intros that hold merge fields in, each compiled once as a
//! template of its own (checked like the project's templates), and rendered per recipient into
//! the message's context out. Bodies without merge fields stay as they were rendered once.

use std::collections::BTreeMap;

use serde_json::Value;
use tera::{Context, Tera};

use super::templates::{
    escape_defaults_once, forbid_calls, forbid_in_content, tera_error_text, Source,
};
use super::RenderError;
use crate::campaign::Campaign;
use crate::problems::Problems;
use crate::updates::{has_merge_fields, Updates};

/// Template names (HTML, text) of the bodies that hold merge fields.
#[derive(Default)]
pub(super) struct Bodies {
    /// By language and the update's place in the campaign.
    updates: BTreeMap<(String, usize), (String, String)>,
    intros: BTreeMap<String, (String, String)>,
}

impl Bodies {
    /// Compiles every body with merge fields; a body that does not compile is an error naming
    /// its file and, where one merge field alone fails, its line. `false` when one failed.
    pub(super) fn compile(
        tera: &mut Tera,
        campaign: &Campaign,
        updates: &Updates,
        sources: &mut Vec<Source>,
        p: &mut Problems,
    ) -> (Bodies, bool) {
        let mut b = Bodies::default();
        let mut ok = true;
        for lang in &campaign.languages {
            for (i, slug) in campaign.updates.iter().enumerate() {
                let Some(u) = updates.get(slug, lang) else {
                    continue;
                };
                if !has_merge_fields(&u.html) && !has_merge_fields(&u.text) {
                    continue;
                }
                let source = std::fs::read_to_string(&u.path).unwrap_or_default();
                let names = (
                    format!("updates/{slug}.{lang}.html"),
                    format!("updates/{slug}.{lang}.txt"),
                );
                if add(
                    tera,
                    &names,
                    (&u.html, &u.text),
                    &u.path,
                    &source,
                    sources,
                    p,
                ) {
                    b.updates.insert((lang.clone(), i), names);
                } else {
                    ok = false;
                }
            }
            let (Some(html), Some(text)) =
                (campaign.intro_html.get(lang), campaign.intro_text.get(lang))
            else {
                continue;
            };
            if has_merge_fields(html) || has_merge_fields(text) {
                let names = (format!("intro.{lang}.html"), format!("intro.{lang}.txt"));
                if add(
                    tera,
                    &names,
                    (html, text),
                    &campaign.path,
                    &campaign.text,
                    sources,
                    p,
                ) {
                    b.intros.insert(lang.clone(), names);
                } else {
                    ok = false;
                }
            }
        }
        (b, ok)
    }

    pub(super) fn is_empty(&self) -> bool {
        self.updates.is_empty() && self.intros.is_empty()
    }

    /// The HTML templates, whose use of personal values the shape cache must know.
    pub(super) fn html_names(&self) -> impl Iterator<Item = &String> {
        self.updates
            .values()
            .chain(self.intros.values())
            .map(|(h, _)| h)
    }

    /// Renders the bodies of `value` (a message's context, as `Renderer::context` builds it)
    /// that hold merge fields, with that same context. `updates` are the recipient's, by their
    /// place in the campaign, in the order of each section's `updates`.
    pub(super) fn fill(
        &self,
        tera: &Tera,
        value: &mut Value,
        updates: &[usize],
    ) -> Result<(), RenderError> {
        if self.is_empty() {
            return Ok(());
        }
        let ctx = Context::from_value(value.clone()).map_err(|e| RenderError::Template {
            template: String::new(),
            message: tera_error_text(&e),
        })?;
        let run = |name: &str| {
            tera.render(name, &ctx)
                .map(Value::String)
                .map_err(|e| RenderError::Template {
                    template: name.to_string(),
                    message: tera_error_text(&e),
                })
        };
        let Some(sections) = value.get_mut("sections").and_then(Value::as_array_mut) else {
            return Ok(());
        };
        for section in sections {
            let lang = section["lang"].as_str().unwrap_or_default().to_string();
            if let Some((h, t)) = self.intros.get(&lang) {
                section["intro_html"] = run(h)?;
                section["intro_text"] = run(t)?;
            }
            let Some(list) = section.get_mut("updates").and_then(Value::as_array_mut) else {
                continue;
            };
            for (entry, &i) in list.iter_mut().zip(updates) {
                if let Some((h, t)) = self.updates.get(&(lang.clone(), i)) {
                    entry["html"] = run(h)?;
                    entry["text"] = run(t)?;
                }
            }
        }
        Ok(())
    }
}

/// Adds a body's two templates; reports what does not compile, or calls what it must not.
fn add(
    tera: &mut Tera,
    (html_name, text_name): &(String, String),
    (html, text): (&str, &str),
    path: &std::path::Path,
    source: &str,
    sources: &mut Vec<Source>,
    p: &mut Problems,
) -> bool {
    for (name, body) in [(html_name, html), (text_name, text)] {
        if let Err(e) = tera.add_raw_template(name, body) {
            // A name the error quotes (an unknown filter) finds its line best.
            let text = tera_error_text(&e);
            let named = text
                .contains("not found")
                .then(|| text.split('`').nth(1))
                .flatten()
                .and_then(|n| super::templates::line_using(source, n));
            p.error(
                path,
                named.or_else(|| failing_line(source)),
                format!("a merge field does not compile: {}", tera_error_text(&e)),
            );
            return false;
        }
        let before = p.errors().count();
        forbid_calls(tera, name, path, source, p);
        forbid_in_content(tera, name, path, source, p);
        if p.errors().count() > before {
            return false;
        }
        escape_defaults_once(tera, name);
        sources.push((name.clone(), path.to_path_buf(), source.to_string()));
    }
    true
}

/// The first line of `source` with a `{{ }}` that does not compile on its own, else the first
/// line with a `{%` (a block left open, most likely).
fn failing_line(source: &str) -> Option<usize> {
    let mut probe = Tera::default();
    for (n, line) in source.lines().enumerate() {
        let mut rest = line;
        while let Some(start) = rest.find("{{") {
            let end = rest[start..]
                .find("}}")
                .map_or(rest.len(), |e| start + e + 2);
            if probe.add_raw_template("probe", &rest[start..end]).is_err() {
                return Some(n + 1);
            }
            rest = &rest[end..];
        }
    }
    source.lines().position(|l| l.contains("{%")).map(|i| i + 1)
}
