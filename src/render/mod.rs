//! Templates, translations and a campaign in, a [`Renderer`] out that turns one recipient into
//! the subject, HTML body (CSS inlined) and plain-text body of their message. Every template and
//! translation problem is found when the renderer is built, before any message is written.

mod bodies;
mod i18n;
mod inline;
mod inputs;
mod missing;
mod templates;
mod web;

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};
use tera::{Context, Tera};

pub use i18n::interest_aliases;
use i18n::{load_i18n, toml_to_json};
use inputs::messages_digest;
pub use templates::escape as escape_html;
pub use templates::tera_error_text;

/// A language's strings from `templates/i18n/LANG.toml` (empty when they cannot be read: the
/// renderer reports that).
/// A language's strings from its i18n file, set as the language sets text (see
/// [`crate::typography`]): what messages, pages and the archive read them through.
pub fn strings(config: &Config, lang: &str) -> Value {
    let mut v = load_i18n(config, &mut Problems::new())
        .get(lang)
        .map(|(_, t)| toml_to_json(t))
        .unwrap_or_else(|| json!({}));
    set_strings(&mut v, lang);
    v
}
use templates::{forbid_calls, line_using, Source};

use crate::audience::Recipient;
use crate::campaign::Campaign;
use crate::config::Config;
use crate::language::{format_date, native_name};
use crate::problems::Problems;
use crate::updates::Updates;

/// A recipient's own links, which templates show as `unsubscribe_url` and `preferences_url`
/// (empty when the project has none).
#[derive(Debug, Clone, Copy, Default)]
pub struct Links<'a> {
    pub unsubscribe: Option<&'a str>,
    pub preferences: Option<&'a str>,
}

impl Links<'_> {
    fn value(&self) -> Value {
        json!({
            "unsubscribe_url": self.unsubscribe.unwrap_or(""),
            "preferences_url": self.preferences.unwrap_or(""),
        })
    }
}

/// What a recipient's message says, before it is made into MIME.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub subject: String,
    pub html: String,
    pub text: String,
}

pub struct Renderer {
    tera: Tera,
    /// Per language: the HTML and text template names that its messages start from.
    html_template: BTreeMap<String, String>,
    text_template: BTreeMap<String, String>,
    /// Per language, built once: translations, and each of the campaign's updates.
    strings: BTreeMap<String, Value>,
    update_values: BTreeMap<String, Vec<Value>>,
    inliner: css_inline::CSSInliner<'static>,
    sender: Value,
    campaign_id: String,
    campaign_intro: BTreeMap<String, (String, String)>,
    shapes: inline::Shapes,
    /// The HTML templates print personal values only as they are (see [`opaque_templates`]).
    opaque: bool,
    /// A digest of every template and translation the messages are made from.
    sources_digest: String,
    /// Every template's name, file and text, to point at lines in messages.
    sources: Vec<Source>,
    /// Update bodies and intros with merge fields, rendered per recipient.
    bodies: bodies::Bodies,
    /// `[site] archive_url`, under which each campaign's web copy lives, per language.
    archive_base: Option<String>,
}

/// Per language, the names of the campaign's HTML and text templates: its own for the
/// language, else the shared one. `false` when one is missing (each is reported).
type Names = BTreeMap<String, String>;
fn choose_templates(
    config: &Config,
    campaign: &Campaign,
    find: &dyn Fn(&str) -> bool,
    p: &mut Problems,
) -> (Names, Names, bool) {
    let dir = config.templates_dir();
    let mut ok = true;
    let mut html_template = BTreeMap::new();
    let mut text_template = BTreeMap::new();
    for lang in &campaign.languages {
        for (ext, map) in [("html", &mut html_template), ("txt", &mut text_template)] {
            let own = format!("{}.{lang}.{ext}", campaign.template);
            let shared = format!("{}.{ext}", campaign.template);
            if find(&own) {
                map.insert(lang.clone(), own);
            } else if find(&shared) {
                map.insert(lang.clone(), shared);
            } else {
                p.error(
                    &campaign.path,
                    None,
                    format!(
                        "template \"{}\" has no {ext} file for \"{lang}\": create {} (or {})",
                        campaign.template,
                        dir.join(&shared).display(),
                        dir.join(&own).display()
                    ),
                );
                ok = false;
            }
        }
    }
    (html_template, text_template, ok)
}

/// Each language's subject compiled as a template (`subject.LANG`); `false` when one does
/// not compile or calls what templates may not.
fn compile_subjects(tera: &mut Tera, campaign: &Campaign, p: &mut Problems) -> bool {
    let mut ok = true;
    for (lang, subject) in &campaign.subject {
        let name = format!("subject.{lang}");
        match tera.add_raw_template(&name, subject) {
            Ok(()) => {
                let before = p.errors().count();
                forbid_calls(tera, &name, &campaign.path, &campaign.text, p);
                ok &= p.errors().count() == before;
            }
            Err(e) => {
                p.error(
                    &campaign.path,
                    None,
                    format!(
                        "subject for \"{lang}\" does not compile: {}",
                        tera_error_text(&e)
                    ),
                );
                ok = false;
            }
        }
    }
    ok
}

/// Per language: the strings templates read (the i18n file, set as the language sets text),
/// and the campaign's updates as templates see them (date in words, interest labels, anchor).
fn strings_and_updates(
    config: &Config,
    campaign: &Campaign,
    updates: &Updates,
    p: &mut Problems,
) -> (BTreeMap<String, Value>, BTreeMap<String, Vec<Value>>) {
    let i18n = load_i18n(config, p);
    let mut strings = BTreeMap::new();
    let mut update_values = BTreeMap::new();
    for lang in &config.languages.supported {
        let mut table = i18n
            .get(lang)
            .map(|(_, t)| toml_to_json(t))
            .unwrap_or_else(|| json!({}));
        set_strings(&mut table, lang);
        let labels = table.get("interests").cloned().unwrap_or_else(|| json!({}));
        let label = |t: &String| {
            labels
                .get(t)
                .and_then(Value::as_str)
                .unwrap_or(t)
                .to_string()
        };
        let list: Vec<Value> = campaign
            .updates
            .iter()
            .filter_map(|slug| updates.get(slug, lang))
            .map(|u| {
                let mut v = serde_json::to_value(u).unwrap_or(Value::Null);
                if let Value::Object(m) = &mut v {
                    m.insert("date_text".into(), Value::String(format_date(u.date, lang)));
                    m.insert(
                        "interest_labels".into(),
                        json!(u.interests.iter().map(label).collect::<Vec<_>>()),
                    );
                    m.insert("anchor".into(), Value::String(format!("{}-{lang}", u.slug)));
                }
                v
            })
            .collect();
        strings.insert(lang.clone(), table);
        update_values.insert(lang.clone(), list);
    }
    (strings, update_values)
}

impl Renderer {
    /// Compiles the project's templates for a campaign and checks that each language's message
    /// can be rendered. Every problem found is added to `p`; `None` when the renderer is unusable.
    pub fn new(
        config: &Config,
        campaign: &Campaign,
        updates: &Updates,
        p: &mut Problems,
    ) -> Option<Renderer> {
        let (tera, mut sources) = templates::load(config, updates, p)?;
        let mut tera = tera;
        let mut ok = true;
        let names: Vec<String> = sources.iter().map(|(n, _, _)| n.clone()).collect();
        let find = |name: &str| names.iter().any(|n| n == name);

        let (html_template, text_template, found) = choose_templates(config, campaign, &find, p);
        ok &= found;
        ok &= compile_subjects(&mut tera, campaign, p);

        let (bodies, bodies_ok) =
            bodies::Bodies::compile(&mut tera, campaign, updates, &mut sources, p);
        ok &= bodies_ok;
        let (strings, update_values) = strings_and_updates(config, campaign, updates, p);
        let s = &config.sender;
        let sender = json!({
            "name": s.name, "address": s.address, "reply_to": s.reply_to.clone().unwrap_or_else(|| s.address.clone()),
            "organisation": s.organisation, "postal_address": s.postal_address,
            "website": s.website.clone().unwrap_or_default(),
        });
        let campaign_intro = campaign
            .intro_html
            .iter()
            .map(|(l, h)| {
                (
                    l.clone(),
                    (
                        h.clone(),
                        campaign.intro_text.get(l).cloned().unwrap_or_default(),
                    ),
                )
            })
            .collect();
        let inliner = css_inline::CSSInliner::options()
            .load_remote_stylesheets(false)
            // Media queries cannot be inlined; clients that read <style> still get them.
            .keep_style_tags(true)
            .build();
        if !ok {
            return None;
        }
        let opaque = html_template
            .values()
            .chain(bodies.html_names())
            .all(|name| inline::opaque_templates(&tera, name, &mut Vec::new()));
        let sources_digest = messages_digest(
            &tera,
            &html_template,
            &text_template,
            &sources,
            &strings,
            campaign,
        );
        let r = Renderer {
            tera,
            html_template,
            text_template,
            strings,
            update_values,
            inliner,
            sender,
            campaign_id: campaign.id.clone(),
            campaign_intro,
            shapes: Default::default(),
            opaque,
            sources_digest,
            sources,
            bodies,
            archive_base: config.archive_url().map(|u| u.to_string()),
        };
        r.preflight(campaign, p);
        Some(r)
    }

    /// Renders a sample message in each language, and a bilingual one, so that a template
    /// error is reported now, with the line it comes from. Contact values the sample lacks are
    /// left to [`Renderer::check_missing`], which knows the real recipients.
    fn preflight(&self, campaign: &Campaign, p: &mut Problems) {
        let sample = crate::contacts::Contact::made_up(
            "sample",
            "sample@example.org",
            "Sample Contact",
            "Sample",
            "Contact",
        );
        let mut combos: Vec<Vec<String>> =
            campaign.languages.iter().map(|l| vec![l.clone()]).collect();
        if campaign.languages.len() > 1 {
            combos.push(campaign.languages.clone());
        }
        for langs in combos {
            let r = Recipient::new(
                sample.clone(),
                crate::audience::Profile {
                    langs,
                    updates: (0..campaign.updates.len()).collect(),
                    ..Default::default()
                },
            );
            let what = r.langs.join("+");
            if let Some(e) = self.trial(r).error {
                let (name, text) = match &e {
                    RenderError::Template { template, message } => {
                        (template.clone(), message.clone())
                    }
                    RenderError::Css(m) => (String::new(), m.clone()),
                };
                // The name the error quotes: a variable in backticks, a filter in quotes.
                let var = text
                    .split('`')
                    .nth(1)
                    .or_else(|| text.split("Filter '").nth(1)?.split('\'').next())
                    .unwrap_or("")
                    .to_string();
                let (path, line) = self.locate(campaign, &name, &var);
                p.error(
                    &path,
                    line,
                    format!("template fails for the {what} message: {text}"),
                );
                return;
            }
        }
    }

    /// The file and likely line of a problem in template `name` that mentions `needle`.
    fn locate(
        &self,
        campaign: &Campaign,
        name: &str,
        needle: &str,
    ) -> (std::path::PathBuf, Option<usize>) {
        if name.starts_with("subject.") {
            let line = (!needle.is_empty())
                .then(|| line_using(&campaign.text, needle))
                .flatten();
            return (campaign.path.clone(), line);
        }
        match self.sources.iter().find(|(n, _, _)| n == name) {
            Some((_, path, text)) => (
                path.clone(),
                (!needle.is_empty())
                    .then(|| line_using(text, needle))
                    .flatten(),
            ),
            None => (campaign.path.clone(), None),
        }
    }

    /// A contact as templates see it. An empty cell is a missing value, as is a column the
    /// contact's list does not have: `default` applies to both, and `if` finds both false.
    fn contact_value(c: &crate::contacts::Contact, lang: &str) -> Value {
        let mut fields = Map::new();
        let mut m = Map::new();
        for (k, v) in c.fields() {
            if v.trim().is_empty() {
                continue;
            }
            fields.insert(k.to_string(), Value::String(v.to_string()));
            for key in field_keys(k) {
                m.insert(key, Value::String(v.to_string()));
            }
        }
        if !c.email().is_empty() {
            m.insert("email".into(), Value::String(c.email().to_string()));
        }
        for (key, value) in c.core_values() {
            if value.trim().is_empty() {
                m.remove(key);
            } else {
                m.insert(key.into(), Value::String(value));
            }
        }
        m.insert("interests".into(), json!(c.interests()));
        m.insert("language".into(), Value::String(lang.to_string()));
        m.insert("fields".into(), Value::Object(fields));
        Value::Object(m)
    }

    /// The template context of a message; `contact` and `links` (the recipient's own links,
    /// [`Links::value`]) are passed in so that the shape cache can render the same message with
    /// markers in their place.
    fn context(
        &self,
        r: &Recipient,
        contact: Value,
        links: Value,
        web: bool,
    ) -> Result<Value, RenderError> {
        let primary = r.langs[0].as_str();
        let mut sections = Vec::with_capacity(r.langs.len());
        let sender_in = |lang: &str| {
            // The organisation and its address as each language writes them, where the
            // language's strings give them.
            let mut s = self.sender.clone();
            for key in ["organisation", "postal_address"] {
                if let Some(v) = self.strings[lang].get(key).filter(|v| v.is_string()) {
                    s[key] = v.clone();
                }
            }
            s
        };
        for lang in &r.langs {
            let all = &self.update_values[lang];
            let updates: Vec<Value> = r
                .updates
                .iter()
                .filter_map(|&i| all.get(i).cloned())
                .collect();
            let (intro_html, intro_text) =
                self.campaign_intro.get(lang).cloned().unwrap_or_default();
            sections.push(json!({
                "lang": lang,
                "language_name": native_name(lang),
                "anchor": format!("lang-{lang}"),
                "t": self.strings[lang],
                "updates": updates,
                "intro_html": intro_html,
                "intro_text": intro_text,
                "archive_url": self.archive_url(lang),
                "sender": sender_in(lang),
            }));
        }
        let mut value = json!({
            "lang": primary,
            "langs": r.langs,
            "bilingual": r.langs.len() > 1,
            "t": self.strings[primary],
            "sections": sections,
            "contact": contact,
            "sender": sender_in(primary),
            "campaign": { "id": self.campaign_id },
            "unsubscribe_url": links["unsubscribe_url"],
            "preferences_url": links["preferences_url"],
            "archive_url": self.archive_url(primary),
            // The web copy: no reader, no links of their own.
            "web": web,
        });
        // Bodies with merge fields see this same context.
        self.bodies.fill(&self.tera, &mut value, &r.updates)?;
        Ok(value)
    }

    fn run(&self, name: &str, ctx: &Context) -> Result<String, RenderError> {
        self.tera
            .render(name, ctx)
            .map_err(|e| RenderError::Template {
                template: name.to_string(),
                message: tera_error_text(&e),
            })
    }

    /// Renders one recipient's message with their own links.
    pub fn render(&self, r: &Recipient, links: &Links) -> Result<Rendered, RenderError> {
        let primary = r.langs[0].as_str();
        let contact = Self::contact_value(&r.contact, primary);
        let unsub = links.value();
        let to_ctx = |v: Value| {
            Context::from_value(v).map_err(|e| RenderError::Template {
                template: String::new(),
                message: tera_error_text(&e),
            })
        };
        let ctx = to_ctx(self.context(r, contact.clone(), unsub.clone(), false)?)?;
        let mut subjects = Vec::with_capacity(r.langs.len());
        for lang in &r.langs {
            let subject = self.run(&format!("subject.{lang}"), &ctx)?;
            subjects.push(crate::typography::spaces(subject.trim(), lang));
        }
        let text = self.run(&self.text_template[primary], &ctx)?;
        let html = self.inline(r, contact, unsub, || {
            self.run(&self.html_template[primary], &ctx)
        })?;
        Ok(Rendered {
            subject: subjects.join(" / "),
            html,
            text: normalize_text(&text),
        })
    }

    /// A digest of every template and translation the messages are made from.
    pub fn sources_digest(&self) -> &str {
        &self.sources_digest
    }

    /// How many messages so far could not reuse a shape (see `inline`).
    pub fn whole_inlines(&self) -> usize {
        self.shapes.whole_inlines()
    }
}

/// The name under which templates reach a column (see `text::ascii_key`), if it can be one.
fn field_key(header: &str) -> Option<String> {
    let key = crate::text::ascii_key(header);
    (!key.is_empty() && !key.starts_with(|ch: char| ch.is_ascii_digit())).then_some(key)
}

/// The names a column is reachable by in templates: its key in lower case (`contact.topics`),
/// and the header as written when that is a name of its own (`contact.Topics`), since a team
/// writes the header it sees.
fn field_keys(header: &str) -> impl Iterator<Item = String> {
    let lower = field_key(header);
    let as_written: String = deunicode::deunicode(header)
        .chars()
        .map(|ch| if ch.is_ascii_alphanumeric() { ch } else { '_' })
        .collect();
    let as_written = as_written.trim_matches('_').to_string();
    let second = (lower.is_some() && Some(&as_written) != lower.as_ref()).then_some(as_written);
    lower.into_iter().chain(second)
}

/// A language's strings set as it sets text (see [`crate::typography`]): apostrophes curled,
/// and French no-break spaces. Quotes are left as written: a string may hold HTML.
pub fn set_strings(v: &mut Value, lang: &str) {
    match v {
        Value::String(s) => {
            *s = crate::typography::spaces(&crate::typography::apostrophes(s), lang);
        }
        Value::Object(m) => m.values_mut().for_each(|v| set_strings(v, lang)),
        Value::Array(a) => a.iter_mut().for_each(|v| set_strings(v, lang)),
        _ => {}
    }
}

/// Tidies a text body: no trailing spaces, at most one blank line in a row, one final newline.
fn normalize_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = 0;
    for line in text.lines() {
        let line = line.trim_end();
        if line.is_empty() {
            blank += 1;
            if blank > 1 || out.is_empty() {
                continue;
            }
        } else {
            blank = 0;
        }
        out.push_str(line);
        out.push('\n');
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("template {template}: {message}")]
    Template { template: String, message: String },
    #[error("CSS inlining failed: {0}")]
    Css(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_tidied() {
        assert_eq!(normalize_text("\n\na  \n\n\n\nb\n\n"), "a\n\nb\n");
    }
}
