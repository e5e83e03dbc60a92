//! Templates, translations and a campaign in, a [`Renderer`] out that turns one recipient into
//! the subject, HTML body (CSS inlined) and plain-text body of their message. Every template and
//! translation problem is found when the renderer is built, before any message is written.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde_json::{json, Map, Value};
use tera::{Context, Tera};

use crate::audience::Recipient;
use crate::campaign::Campaign;
use crate::config::Config;
use crate::language::{format_date, native_name};
use crate::problems::Problems;
use crate::updates::Updates;

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
    shapes: Mutex<HashMap<String, Option<Arc<Shape>>>>,
    /// Messages whose CSS was inlined on their own, the slow way: the template used a personal
    /// value in a way the shape cache cannot reuse.
    whole_inlines: std::sync::atomic::AtomicUsize,
    /// The HTML templates print personal values only as they are (see [`opaque_templates`]).
    opaque: bool,
    /// A digest of every template and translation the messages are made from.
    sources_digest: String,
}

/// Where in a template source a tera error points: its "--> LINE:COL" marker.
fn line_in_tera_error(msg: &str) -> Option<usize> {
    let at = msg.find("--> ")?;
    let rest = &msg[at + 4..];
    rest.split(':').next()?.trim().parse().ok()
}

/// The whole chain of a tera error in one line: tera keeps the useful part in its sources.
pub fn tera_error_text(e: &tera::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        parts.push(s.to_string());
        src = s.source();
    }
    parts.join(": ")
}

/// Finds the first line of `source` that uses `needle`, to point at the likely culprit of an
/// error that tera reports without a line (a variable missing at render time).
fn line_using(source: &str, needle: &str) -> Option<usize> {
    source
        .lines()
        .position(|l| l.contains(needle))
        .map(|i| i + 1)
}

/// `{{ date | date(lang="fr") }}`. The updates' dates in every language are written once,
/// up front: templates ask for them in every message.
fn date_filter(
    default_lang: String,
    known: HashMap<(String, String), String>,
) -> impl tera::Filter {
    move |value: &Value, args: &HashMap<String, Value>| -> tera::Result<Value> {
        let lang = args
            .get("lang")
            .and_then(Value::as_str)
            .unwrap_or(&default_lang);
        let s = value.as_str().ok_or_else(|| {
            tera::Error::msg("the date filter takes a date such as \"2026-11-24\"")
        })?;
        if let Some(text) = known.get(&(s.to_string(), lang.to_string())) {
            return Ok(Value::String(text.clone()));
        }
        let day = s.get(..10).unwrap_or(s);
        let d = chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").map_err(|_| {
            tera::Error::msg(format!(
                "the date filter cannot read \"{s}\" as a date (YYYY-MM-DD)"
            ))
        })?;
        Ok(Value::String(format_date(d, lang)))
    }
}

/// Collects the dotted key paths of a translation table ("footer.unsubscribe").
fn key_paths(v: &toml::Table, prefix: &str, out: &mut Vec<String>) {
    for (k, val) in v {
        let path = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match val {
            toml::Value::Table(t) => key_paths(t, &path, out),
            _ => out.push(path),
        }
    }
}

fn load_i18n(config: &Config, p: &mut Problems) -> BTreeMap<String, (PathBuf, toml::Table)> {
    let dir = config.templates_dir().join("i18n");
    let mut out = BTreeMap::new();
    for lang in &config.languages.supported {
        let file = dir.join(format!("{lang}.toml"));
        let text = match std::fs::read_to_string(&file) {
            Ok(t) => t,
            Err(_) => {
                p.error(&file, None, format!(
                    "missing translation file for \"{lang}\": copy {}/{}.toml and translate its strings",
                    dir.display(), config.languages.default));
                continue;
            }
        };
        if let Some(table) = crate::config::parse_toml::<toml::Table>(&text, &file, p) {
            out.insert(lang.clone(), (file, table));
        }
    }
    // Every language must translate every string the default language has, and no more.
    if let Some((def_file, def)) = out.get(&config.languages.default) {
        let mut want = Vec::new();
        key_paths(def, "", &mut want);
        for (lang, (file, table)) in &out {
            if lang == &config.languages.default {
                continue;
            }
            let mut have = Vec::new();
            key_paths(table, "", &mut have);
            for k in want.iter().filter(|k| !have.contains(k)) {
                p.error(
                    file,
                    None,
                    format!(
                        "missing translation: \"{k}\" is in {} but not here",
                        def_file.display()
                    ),
                );
            }
            for k in have.iter().filter(|k| !want.contains(k)) {
                p.warning(
                    file,
                    None,
                    format!("\"{k}\" is not in {}: is it misspelt?", def_file.display()),
                );
            }
        }
    }
    out
}

/// Translated interest labels as contacts type them ("Mines terrestres") mapped to their tag
/// ("landmines"), read from every language's `[interests]` table.
pub fn interest_aliases(config: &Config) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for lang in &config.languages.supported {
        let file = config
            .templates_dir()
            .join("i18n")
            .join(format!("{lang}.toml"));
        let Some(table) = std::fs::read_to_string(&file)
            .ok()
            .and_then(|t| t.parse::<toml::Table>().ok())
        else {
            continue;
        };
        if let Some(toml::Value::Table(labels)) = table.get("interests") {
            for (tag, label) in labels {
                if let Some(l) = label.as_str() {
                    out.insert(crate::config::normalize_tag(l), tag.clone());
                }
            }
        }
    }
    out
}

fn toml_to_json(t: &toml::Table) -> Value {
    serde_json::to_value(t).unwrap_or(Value::Null)
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
        let dir = config.templates_dir();
        let mut sources: Vec<(String, PathBuf, String)> = Vec::new();
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) => {
                p.error(&dir, None, format!("cannot read the templates folder: {e}"));
                return None;
            }
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if !path.is_file() {
                continue;
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || !(name.ends_with(".html") || name.ends_with(".txt")) {
                continue;
            }
            match std::fs::read_to_string(&path) {
                Ok(src) => sources.push((name, path, src)),
                Err(e) => p.error(&path, None, format!("cannot read: {e}")),
            }
        }
        sources.sort();
        let mut tera = Tera::default();
        tera.autoescape_on(vec![".html", ".htm"]);
        let mut known_dates = HashMap::new();
        for versions in updates.by_slug.values() {
            for u in versions.values() {
                for lang in &config.languages.supported {
                    known_dates.insert(
                        (u.date.to_string(), lang.clone()),
                        format_date(u.date, lang),
                    );
                }
            }
        }
        tera.register_filter(
            "date",
            date_filter(config.languages.default.clone(), known_dates),
        );
        tera.register_function(
            "get_env",
            |_: &HashMap<String, Value>| -> tera::Result<Value> {
                Err(tera::Error::msg(
                    "get_env is not available: templates cannot read the environment",
                ))
            },
        );
        // Compiled one by one first, so each syntax error names its own file and line.
        let mut ok = true;
        for (name, path, src) in &sources {
            let mut probe = Tera::default();
            let compiled = probe.add_raw_template(name, src);
            if compiled.is_ok() {
                let before = p.errors().count();
                forbid_calls(&probe, name, path, src, p);
                ok &= p.errors().count() == before;
            }
            if let Err(e) = compiled {
                let text = tera_error_text(&e);
                // An `extends` of a template not yet added is fine here; the full load checks it.
                if !text.contains("doesn't exist") {
                    p.error(
                        path,
                        line_in_tera_error(&text),
                        format!("template does not compile: {text}"),
                    );
                    ok = false;
                }
            }
        }
        if !ok {
            return None;
        }
        if let Err(e) =
            tera.add_raw_templates(sources.iter().map(|(n, _, s)| (n.clone(), s.clone())))
        {
            p.error(
                &dir,
                None,
                format!("templates do not fit together: {}", tera_error_text(&e)),
            );
            return None;
        }
        let find = |name: &str| sources.iter().find(|(n, _, _)| n == name);

        let mut html_template = BTreeMap::new();
        let mut text_template = BTreeMap::new();
        for lang in &campaign.languages {
            for (ext, map) in [("html", &mut html_template), ("txt", &mut text_template)] {
                let own = format!("{}.{lang}.{ext}", campaign.template);
                let shared = format!("{}.{ext}", campaign.template);
                if find(&own).is_some() {
                    map.insert(lang.clone(), own);
                } else if find(&shared).is_some() {
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
        for (lang, subject) in &campaign.subject {
            let name = format!("subject.{lang}");
            let compiled = tera.add_raw_template(&name, subject);
            if compiled.is_ok() {
                let before = p.errors().count();
                let file_text = std::fs::read_to_string(&campaign.path).unwrap_or_default();
                forbid_calls(&tera, &name, &campaign.path, &file_text, p);
                ok &= p.errors().count() == before;
            }
            if let Err(e) = compiled {
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

        let i18n = load_i18n(config, p);
        let mut strings = BTreeMap::new();
        let mut update_values = BTreeMap::new();
        for lang in &config.languages.supported {
            let table = i18n
                .get(lang)
                .map(|(_, t)| toml_to_json(t))
                .unwrap_or_else(|| json!({}));
            let labels = table.get("interests").cloned().unwrap_or_else(|| json!({}));
            let list: Vec<Value> = campaign
                .updates
                .iter()
                .filter_map(|slug| updates.get(slug, lang))
                .map(|u| {
                    let mut v = serde_json::to_value(u).unwrap_or(Value::Null);
                    let label = |t: &String| {
                        labels
                            .get(t)
                            .and_then(Value::as_str)
                            .unwrap_or(t)
                            .to_string()
                    };
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
            .all(|name| opaque_templates(&tera, name, &mut Vec::new()));
        let strings_json = serde_json::to_string(&strings).unwrap_or_default();
        let sources_digest = crate::digest::of(
            sources
                .iter()
                .flat_map(|(n, _, src)| [n.as_bytes(), src.as_bytes()])
                .chain([strings_json.as_bytes()]),
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
            shapes: Mutex::new(HashMap::new()),
            whole_inlines: Default::default(),
            opaque,
            sources_digest,
        };
        r.preflight(campaign, &sources, p);
        Some(r)
    }

    /// Renders a sample message in each language, and a bilingual one, so that a variable a
    /// template uses but no message provides is reported now, with the line that uses it.
    fn preflight(
        &self,
        campaign: &Campaign,
        sources: &[(String, PathBuf, String)],
        p: &mut Problems,
    ) {
        let sample = crate::contacts::Contact {
            email: "sample@example.org".into(),
            name: "Sample Contact".into(),
            first_name: "Sample".into(),
            last_name: "Contact".into(),
            organisation: String::new(),
            language_raw: String::new(),
            languages: Default::default(),
            interests: Vec::new(),
            fields: Vec::new(),
            list: "sample".into(),
            line: 0,
        };
        let mut combos: Vec<Vec<String>> =
            campaign.languages.iter().map(|l| vec![l.clone()]).collect();
        if campaign.languages.len() > 1 {
            combos.push(campaign.languages.clone());
        }
        for langs in combos {
            let r = Recipient {
                contact: sample.clone(),
                langs,
                updates: (0..campaign.updates.len()).collect(),
                lists: Vec::new(),
                language_note: None,
            };
            if let Err(e) = self.render(&r, Some("https://example.org/unsubscribe")) {
                let (name, text) = match &e {
                    RenderError::Template { template, message } => {
                        (template.clone(), message.clone())
                    }
                    RenderError::Css(m) => (String::new(), m.clone()),
                };
                let src = sources.iter().find(|(n, _, _)| *n == name);
                let line = src.and_then(|(_, _, s)| {
                    let var = text.split('`').nth(1)?;
                    line_using(s, var)
                });
                let path = src
                    .map(|(_, p, _)| p.clone())
                    .unwrap_or_else(|| campaign.path.clone());
                p.error(
                    &path,
                    line,
                    format!("template fails for a {} message: {text}", r.langs.join("+")),
                );
                return;
            }
        }
    }

    fn contact_value(c: &crate::contacts::Contact, lang: &str) -> Value {
        let mut fields = Map::new();
        let mut m = Map::new();
        for (k, v) in &c.fields {
            fields.insert(k.to_string(), Value::String(v.clone()));
            // Also reachable as contact.job_title for a column "Job Title".
            let key: String = k
                .to_lowercase()
                .chars()
                .map(|ch| if ch.is_ascii_alphanumeric() { ch } else { '_' })
                .collect();
            if !key.is_empty() && !key.starts_with(|ch: char| ch.is_ascii_digit()) {
                m.insert(key, Value::String(v.clone()));
            }
        }
        m.insert("email".into(), Value::String(c.email.clone()));
        m.insert("name".into(), Value::String(c.display_name()));
        m.insert("first_name".into(), Value::String(c.first_name.clone()));
        m.insert("last_name".into(), Value::String(c.last_name.clone()));
        m.insert("organisation".into(), Value::String(c.organisation.clone()));
        m.insert("interests".into(), json!(c.interests));
        m.insert("language".into(), Value::String(lang.to_string()));
        m.insert("fields".into(), Value::Object(fields));
        Value::Object(m)
    }

    /// The template context of a message; `contact` and `unsubscribe` are passed in so that the
    /// shape cache can render the same message with markers in their place.
    fn context(&self, r: &Recipient, contact: Value, unsubscribe_url: Value) -> Value {
        let primary = r.langs[0].as_str();
        let mut sections = Vec::with_capacity(r.langs.len());
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
            }));
        }
        json!({
            "lang": primary,
            "langs": r.langs,
            "bilingual": r.langs.len() > 1,
            "t": self.strings[primary],
            "sections": sections,
            "contact": contact,
            "sender": self.sender,
            "campaign": { "id": self.campaign_id },
            "unsubscribe_url": unsubscribe_url,
        })
    }

    fn run(&self, name: &str, ctx: &Context) -> Result<String, RenderError> {
        self.tera
            .render(name, ctx)
            .map_err(|e| RenderError::Template {
                template: name.to_string(),
                message: tera_error_text(&e),
            })
    }

    /// Renders one recipient's message. `unsubscribe_url` is the recipient's own link, if any.
    pub fn render(
        &self,
        r: &Recipient,
        unsubscribe_url: Option<&str>,
    ) -> Result<Rendered, RenderError> {
        let primary = r.langs[0].as_str();
        let contact = Self::contact_value(&r.contact, primary);
        let unsub = Value::String(unsubscribe_url.unwrap_or("").to_string());
        let to_ctx = |v: Value| {
            Context::from_value(v).map_err(|e| RenderError::Template {
                template: String::new(),
                message: tera_error_text(&e),
            })
        };
        let ctx = to_ctx(self.context(r, contact.clone(), unsub.clone()))?;
        let mut subjects = Vec::with_capacity(r.langs.len());
        for lang in &r.langs {
            subjects.push(
                self.run(&format!("subject.{lang}"), &ctx)?
                    .trim()
                    .to_string(),
            );
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

    /// Inlines the CSS of a rendered message, reusing the work done for an earlier message of the
    /// same shape. css-inline parses the whole document on every call, which costs more than all
    /// the rest of a message; yet a campaign's messages differ only in a few personal values. So
    /// each shape (languages, updates, which personal values are empty) is rendered once with
    /// markers in place of the personal values and inlined once; a message then takes the cached
    /// result with its own values put in the markers' place. That is sound when the template
    /// treats the values as opaque text: either the templates were proven to (see
    /// [`opaque_templates`]), or this message's own render equals the cached render with its
    /// values put in; otherwise the message is inlined on its own.
    fn inline(
        &self,
        r: &Recipient,
        contact: Value,
        unsub: Value,
        render: impl FnOnce() -> Result<String, RenderError>,
    ) -> Result<String, RenderError> {
        let mut values = Vec::new();
        let mut key = format!("{}|{:?}|", r.langs.join("+"), r.updates);
        let masked_contact = mask_contact(&contact, &mut values, &mut key);
        let masked_unsub = mask(&unsub, &mut values, &mut key);
        let cached = self.shapes.lock().unwrap().get(&key).cloned();
        let shape = match cached {
            Some(s) => s,
            None => {
                let ctx = Context::from_value(self.context(r, masked_contact, masked_unsub))
                    .map_err(|e| RenderError::Template {
                        template: String::new(),
                        message: tera_error_text(&e),
                    })?;
                let raw = self.run(&self.html_template[&r.langs[0]], &ctx)?;
                let inlined = self
                    .inliner
                    .inline(&raw)
                    .map_err(|e| RenderError::Css(e.to_string()))?;
                // The inliner must have kept every marker, in order, for substitution to be sound.
                let shape = (markers_in(&raw) == markers_in(&inlined))
                    .then(|| Arc::new(Shape { raw, inlined }));
                let mut cache = self.shapes.lock().unwrap();
                if cache.len() < MAX_SHAPES {
                    cache.insert(key, shape.clone());
                }
                shape
            }
        };
        let escaped: Vec<String> = values.iter().map(|v| tera::escape_html(v)).collect();
        if let Some(shape) = &shape {
            if self.opaque {
                return Ok(fill(&shape.inlined, &escaped));
            }
        }
        let raw_html = render()?;
        if let Some(shape) = shape {
            if fills_to(&shape.raw, &escaped, &raw_html) {
                return Ok(fill(&shape.inlined, &escaped));
            }
        }
        self.whole_inlines
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.inliner
            .inline(&raw_html)
            .map_err(|e| RenderError::Css(e.to_string()))
    }

    /// A digest of every template and translation the messages are made from.
    pub fn sources_digest(&self) -> &str {
        &self.sources_digest
    }

    /// How many messages so far could not reuse a shape (see `inline`).
    pub fn whole_inlines(&self) -> usize {
        self.whole_inlines
            .load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// Values a message has of its own, which the shape cache replaces by markers: the contact's
/// fields and the unsubscribe link, but not the interests and language, which shapes key on.
fn personal(path: &str) -> bool {
    let contact = path.starts_with("contact")
        && !path.starts_with("contact.interests")
        && path != "contact.language";
    contact || path.starts_with("unsubscribe_url")
}

fn expr_mentions(e: &tera::ast::Expr) -> bool {
    val_mentions(&e.val) || e.filters.iter().any(|f| f.args.values().any(expr_mentions))
}

fn val_mentions(v: &tera::ast::ExprVal) -> bool {
    use tera::ast::ExprVal as V;
    match v {
        V::Ident(p) => personal(p),
        V::Math(m) => expr_mentions(&m.lhs) || expr_mentions(&m.rhs),
        V::Logic(l) => expr_mentions(&l.lhs) || expr_mentions(&l.rhs),
        V::Test(t) => personal(&t.ident) || t.args.iter().any(expr_mentions),
        V::MacroCall(m) => m.args.values().any(expr_mentions),
        V::FunctionCall(f) => f.args.values().any(expr_mentions),
        V::Array(a) => a.iter().any(expr_mentions),
        V::StringConcat(c) => c.values.iter().any(val_mentions),
        V::In(i) => expr_mentions(&i.lhs) || expr_mentions(&i.rhs),
        V::String(_) | V::Int(_) | V::Float(_) | V::Bool(_) => false,
    }
}

/// A bare personal value: `contact.name`, without filters.
fn bare_personal(e: &tera::ast::Expr) -> bool {
    matches!(&e.val, tera::ast::ExprVal::Ident(p) if personal(p)) && e.filters.is_empty()
}

fn nodes_opaque(tera: &Tera, nodes: &[tera::ast::Node], seen: &mut Vec<String>) -> bool {
    use tera::ast::Node as N;
    nodes.iter().all(|n| match n {
        // Printed as it is (escaped, as the markers' values are)...
        N::VariableBlock(_, e) => (bare_personal(e) && !e.negated) || !expr_mentions(e),
        // ...or tested for being empty, which the shape's key already tells.
        N::If(i, _) => {
            i.conditions.iter().all(|(_, e, body)| {
                (bare_personal(e) || !expr_mentions(e)) && nodes_opaque(tera, body, seen)
            }) && i
                .otherwise
                .as_ref()
                .is_none_or(|(_, body)| nodes_opaque(tera, body, seen))
        }
        N::Forloop(_, f, _) => {
            f.value != "contact"
                && f.key.as_deref() != Some("contact")
                && !expr_mentions(&f.container)
                && nodes_opaque(tera, &f.body, seen)
                && f.empty_body
                    .as_ref()
                    .is_none_or(|b| nodes_opaque(tera, b, seen))
        }
        N::Set(_, set) => {
            set.key != "contact" && set.key != "unsubscribe_url" && !expr_mentions(&set.value)
        }
        // A filter over a section would transform the values in it.
        N::FilterSection(_, f, _) => {
            !f.filter.args.values().any(expr_mentions) && !nodes_mention(&f.body)
        }
        N::Block(_, b, _) => nodes_opaque(tera, &b.body, seen),
        N::MacroDefinition(_, m, _) => nodes_opaque(tera, &m.body, seen),
        N::Include(_, names, _) => names.iter().all(|name| opaque_templates(tera, name, seen)),
        N::ImportMacro(_, file, _) => opaque_templates(tera, file, seen),
        N::Extends(_, parent) => opaque_templates(tera, parent, seen),
        N::Super | N::Text(_) | N::Raw(..) | N::Break(_) | N::Continue(_) | N::Comment(..) => true,
    })
}

/// Whether any personal value appears anywhere below these nodes.
fn nodes_mention(nodes: &[tera::ast::Node]) -> bool {
    use tera::ast::Node as N;
    nodes.iter().any(|n| match n {
        N::VariableBlock(_, e) => expr_mentions(e),
        N::If(i, _) => {
            i.conditions
                .iter()
                .any(|(_, e, b)| expr_mentions(e) || nodes_mention(b))
                || i.otherwise.as_ref().is_some_and(|(_, b)| nodes_mention(b))
        }
        N::Forloop(_, f, _) => {
            expr_mentions(&f.container)
                || nodes_mention(&f.body)
                || f.empty_body.as_ref().is_some_and(|b| nodes_mention(b))
        }
        N::Set(_, s) => expr_mentions(&s.value),
        N::FilterSection(_, f, _) => nodes_mention(&f.body),
        N::Block(_, b, _) => nodes_mention(&b.body),
        // Included templates and macros are not followed: treat them as mentioning.
        N::Include(..) | N::MacroDefinition(..) | N::ImportMacro(..) => true,
        _ => false,
    })
}

/// Whether a template (with every template it extends, includes or imports) uses personal
/// values only as plain output (`{{ contact.name }}`, escaped like any value) or in a bare test
/// of emptiness (`{% if contact.organisation %}`). Such a template renders every message of a
/// shape as the shape's render with the message's values in the markers' place, so the message
/// need not be rendered a second time to check it. Anything else (a filter, a comparison, a
/// loop over fields, a `set`) makes the answer no, and messages are then checked one by one.
pub fn opaque_templates(tera: &Tera, name: &str, seen: &mut Vec<String>) -> bool {
    if seen.iter().any(|s| s == name) {
        return true;
    }
    seen.push(name.to_string());
    let Ok(t) = tera.get_template(name) else {
        return false;
    };
    nodes_opaque(tera, &t.ast, seen) && t.parents.iter().all(|p| opaque_templates(tera, p, seen))
}

/// Functions a template may not call: tera's `get_env` reads the process environment, which
/// holds the SMTP password. It is replaced by one that fails, and `check` names every call.
const FORBIDDEN_FUNCTIONS: &[&str] = &["get_env"];

fn expr_calls(e: &tera::ast::Expr, out: &mut Vec<String>) {
    val_calls(&e.val, out);
    for f in &e.filters {
        f.args.values().for_each(|a| expr_calls(a, out));
    }
}

fn val_calls(v: &tera::ast::ExprVal, out: &mut Vec<String>) {
    use tera::ast::ExprVal as V;
    match v {
        V::FunctionCall(f) => {
            out.push(f.name.clone());
            f.args.values().for_each(|a| expr_calls(a, out));
        }
        V::Math(m) => {
            expr_calls(&m.lhs, out);
            expr_calls(&m.rhs, out);
        }
        V::Logic(l) => {
            expr_calls(&l.lhs, out);
            expr_calls(&l.rhs, out);
        }
        V::In(i) => {
            expr_calls(&i.lhs, out);
            expr_calls(&i.rhs, out);
        }
        V::Test(t) => t.args.iter().for_each(|a| expr_calls(a, out)),
        V::MacroCall(m) => m.args.values().for_each(|a| expr_calls(a, out)),
        V::Array(a) => a.iter().for_each(|x| expr_calls(x, out)),
        V::StringConcat(c) => c.values.iter().for_each(|x| val_calls(x, out)),
        V::Ident(_) | V::String(_) | V::Int(_) | V::Float(_) | V::Bool(_) => {}
    }
}

/// The names of the functions a template's nodes call, anywhere.
fn node_calls(nodes: &[tera::ast::Node], out: &mut Vec<String>) {
    use tera::ast::Node as N;
    for n in nodes {
        match n {
            N::VariableBlock(_, e) => expr_calls(e, out),
            N::If(i, _) => {
                for (_, e, body) in &i.conditions {
                    expr_calls(e, out);
                    node_calls(body, out);
                }
                if let Some((_, body)) = &i.otherwise {
                    node_calls(body, out);
                }
            }
            N::Forloop(_, f, _) => {
                expr_calls(&f.container, out);
                node_calls(&f.body, out);
                if let Some(b) = &f.empty_body {
                    node_calls(b, out);
                }
            }
            N::Set(_, set) => expr_calls(&set.value, out),
            N::FilterSection(_, f, _) => {
                f.filter.args.values().for_each(|a| expr_calls(a, out));
                node_calls(&f.body, out);
            }
            N::Block(_, b, _) => node_calls(&b.body, out),
            N::MacroDefinition(_, m, _) => {
                m.args.values().flatten().for_each(|a| expr_calls(a, out));
                node_calls(&m.body, out);
            }
            _ => {}
        }
    }
}

/// Reports each call of a forbidden function in a compiled template, with its line.
fn forbid_calls(tera: &Tera, name: &str, path: &std::path::Path, src: &str, p: &mut Problems) {
    let Ok(t) = tera.get_template(name) else {
        return;
    };
    let mut calls = Vec::new();
    node_calls(&t.ast, &mut calls);
    for f in FORBIDDEN_FUNCTIONS {
        if calls.iter().any(|c| c == f) {
            p.error(
                path,
                line_using(src, f),
                format!("templates cannot call {f}(): it would put the environment (where the SMTP password is) into messages. Write the value in the template or the config instead"),
            );
        }
    }
}

/// Shapes kept at most: enough for the combinations of languages, updates and filled fields of a
/// large campaign, few enough to bound memory (each holds two copies of one message).
const MAX_SHAPES: usize = 4096;

/// A message shape: its render with markers for personal values, before and after inlining.
pub(crate) struct Shape {
    raw: String,
    inlined: String,
}

// Private-use characters: tera does not escape them and html5ever keeps them as they are.
const MARK_OPEN: char = '\u{E000}';
const MARK_CLOSE: char = '\u{E001}';

/// Replaces each non-empty string in `v` by a numbered marker, collecting the strings in
/// `values` and the structure (which strings are empty, list lengths) in `key`.
fn mask(v: &Value, values: &mut Vec<String>, key: &mut String) -> Value {
    match v {
        Value::String(s) if s.is_empty() => {
            key.push('e');
            Value::String(String::new())
        }
        Value::String(s) => {
            key.push('s');
            values.push(s.clone());
            Value::String(format!("{MARK_OPEN}{}{MARK_CLOSE}", values.len() - 1))
        }
        Value::Array(a) => {
            key.push('[');
            let out = a.iter().map(|x| mask(x, values, key)).collect();
            key.push(']');
            Value::Array(out)
        }
        Value::Object(m) => {
            key.push('{');
            let mut out = Map::new();
            for (k, x) in m {
                key.push_str(k);
                key.push(':');
                out.insert(k.clone(), mask(x, values, key));
            }
            key.push('}');
            Value::Object(out)
        }
        other => {
            key.push_str(&other.to_string());
            other.clone()
        }
    }
}

/// Masks a contact's personal values, but not its interests: templates look those up and
/// branch on them (labels, "if ... in contact.interests"), and their few combinations make few
/// shapes, so they go into the key as they are.
fn mask_contact(contact: &Value, values: &mut Vec<String>, key: &mut String) -> Value {
    let Value::Object(m) = contact else {
        return mask(contact, values, key);
    };
    let mut out = Map::new();
    key.push('{');
    for (k, v) in m {
        key.push_str(k);
        key.push(':');
        if k == "interests" || k == "language" {
            key.push_str(&v.to_string());
            out.insert(k.clone(), v.clone());
        } else {
            out.insert(k.clone(), mask(v, values, key));
        }
    }
    key.push('}');
    Value::Object(out)
}

/// The marker numbers found in `s`, in order.
fn markers_in(s: &str) -> Vec<usize> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find(MARK_OPEN) {
        rest = &rest[i + MARK_OPEN.len_utf8()..];
        let Some(j) = rest.find(MARK_CLOSE) else {
            break;
        };
        out.push(rest[..j].parse().unwrap_or(usize::MAX));
        rest = &rest[j + MARK_CLOSE.len_utf8()..];
    }
    out
}

/// Whether putting `values` in the markers of `s` gives exactly `target`, without building it.
fn fills_to(s: &str, values: &[String], target: &str) -> bool {
    let mut rest = s;
    let mut t = target;
    while let Some(i) = rest.find(MARK_OPEN) {
        let Some(after) = t.strip_prefix(&rest[..i]) else {
            return false;
        };
        rest = &rest[i + MARK_OPEN.len_utf8()..];
        let Some(j) = rest.find(MARK_CLOSE) else {
            return false;
        };
        let Some(v) = rest[..j].parse::<usize>().ok().and_then(|n| values.get(n)) else {
            return false;
        };
        let Some(after) = after.strip_prefix(v.as_str()) else {
            return false;
        };
        t = after;
        rest = &rest[j + MARK_CLOSE.len_utf8()..];
    }
    t == rest
}

/// Puts `values[n]` in place of each marker n of `s`.
fn fill(s: &str, values: &[String]) -> String {
    let mut out = String::with_capacity(s.len() + 256);
    let mut rest = s;
    while let Some(i) = rest.find(MARK_OPEN) {
        out.push_str(&rest[..i]);
        rest = &rest[i + MARK_OPEN.len_utf8()..];
        let Some(j) = rest.find(MARK_CLOSE) else {
            break;
        };
        if let Some(v) = rest[..j].parse::<usize>().ok().and_then(|n| values.get(n)) {
            out.push_str(v);
        }
        rest = &rest[j + MARK_CLOSE.len_utf8()..];
    }
    out.push_str(rest);
    out
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
    fn finds_line_in_tera_errors() {
        assert_eq!(
            line_in_tera_error("Failed to parse 'x.html'\n  --> 12:5\n   |"),
            Some(12)
        );
        assert_eq!(line_in_tera_error("no marker"), None);
    }

    #[test]
    fn markers_fill_back() {
        let mut values = Vec::new();
        let mut key = String::new();
        let v = mask(
            &json!({"a": "x", "b": "", "c": ["y", "z"]}),
            &mut values,
            &mut key,
        );
        assert_eq!(values, vec!["x", "y", "z"]);
        assert_eq!(key, "{a:sb:ec:[ss]}");
        let s = format!(
            "<p>{}</p><i>{}</i>",
            v["a"].as_str().unwrap(),
            v["c"][1].as_str().unwrap()
        );
        assert_eq!(markers_in(&s), vec![0, 2]);
        assert_eq!(fill(&s, &values), "<p>x</p><i>z</i>");
        assert!(fills_to(&s, &values, "<p>x</p><i>z</i>"));
        assert!(!fills_to(&s, &values, "<p>x</p><i>Z</i>"));
        assert!(!fills_to(&s, &values, "<p>x</p><i>z</i>!"));
    }

    #[test]
    fn templates_that_print_values_plainly_are_opaque() {
        let check = |src: &str| {
            let mut t = Tera::default();
            t.add_raw_template("t.html", src).unwrap();
            opaque_templates(&t, "t.html", &mut Vec::new())
        };
        assert!(check("<p>{{ contact.name }}</p>{% if contact.organisation %}{{ contact.organisation }}{% endif %}"));
        assert!(check("<a href=\"{{ unsubscribe_url }}\">x</a>{% for i in contact.interests %}{{ i | upper }}{% endfor %}"));
        assert!(check(
            "{% for s in sections %}{{ s.t.greeting }} {{ contact.first_name }}{% endfor %}"
        ));
        assert!(!check("{{ contact.name | upper }}"));
        assert!(!check("{{ contact.name | default(value='x') }}"));
        assert!(!check("{% if contact.name == 'Ann' %}hi{% endif %}"));
        assert!(!check(
            "{% for k, v in contact.fields %}{{ v }}{% endfor %}"
        ));
        assert!(!check("{% set n = contact.name %}{{ n }}"));
        assert!(!check(
            "{% filter upper %}{{ contact.name }}{% endfilter %}"
        ));
        assert!(!check("{{ contact.name ~ '!' }}"));
    }

    #[test]
    fn text_is_tidied() {
        assert_eq!(normalize_text("\n\na  \n\n\n\nb\n\n"), "a\n\nb\n");
    }
}
