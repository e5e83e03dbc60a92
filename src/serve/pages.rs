//! The pages `serve` shows, in the reader's language: templates (built in, each restylable
//! by a file of the same name under `templates/pages/`), their strings per language (built in for
//! English and French, overridden by the project's i18n files), the organisation as each
//! language writes it, and which language a request is answered in.

use std::collections::BTreeMap;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::config::Config;
use crate::{Error, Result};

/// The built-in templates, by name; `templates/NAME` replaces one.
const TEMPLATES: [(&str, &str); 7] = [
    ("approve.html", include_str!("pages/approve.html")),
    ("layout.html", include_str!("pages/layout.html")),
    ("unsubscribe.html", include_str!("pages/unsubscribe.html")),
    ("preferences.html", include_str!("pages/preferences.html")),
    ("subscribe.html", include_str!("pages/subscribe.html")),
    ("confirm.html", include_str!("pages/confirm.html")),
    ("message.html", include_str!("pages/message.html")),
];

const STRINGS: &str = include_str!("pages/strings.toml");

pub(super) struct Pages {
    tera: tera::Tera,
    /// Per language, the pages' strings, set as the language sets text.
    strings: BTreeMap<String, Value>,
    /// Per language, the sender's name, organisation and postal address.
    senders: BTreeMap<String, Value>,
    /// Per language, each interest tag with its label, in the config's order.
    topics: BTreeMap<String, Vec<(String, String)>>,
    pub supported: Vec<String>,
    pub default: String,
    /// Per language, a digest of the sign-up form's text as it is shown.
    form_versions: BTreeMap<String, String>,
}

/// Where a request's language comes from, strongest first.
#[derive(Default, Clone, Copy)]
pub(super) struct Asked<'a> {
    /// `?lang=` (the switch on every page).
    pub query: Option<&'a str>,
    /// The language the reader's message led with (in its token).
    pub token: Option<&'a str>,
    /// The browser's `Accept-Language`.
    pub accept: Option<&'a str>,
}

impl Pages {
    pub fn load(config: &Config) -> Result<Pages> {
        let mut tera = tera::Tera::default();
        tera.autoescape_on(vec![".html"]);
        let mut sources = Vec::new();
        // Kept apart from the messages' templates (every file of templates/ is one), so
        // that a page may extend layout.html without the messages knowing it; an unsubscribe
        // page restyled before the other pages came stays where it was.
        let dir = config.templates_dir();
        for (name, builtin) in TEMPLATES {
            let mut places = vec![dir.join("pages").join(name)];
            if name == "unsubscribe.html" {
                places.push(dir.join(name));
            }
            let own = places.iter().find(|p| p.is_file());
            let text = match own {
                Some(path) => crate::limits::read_text_capped(path, crate::limits::TEXT_FILE)
                    .map_err(|e| Error::io("read the page template", path, e))?,
                None => builtin.to_string(),
            };
            sources.push((name, text));
        }
        tera.add_raw_templates(sources.iter().map(|(n, t)| (*n, t.as_str())))
            .map_err(|e| {
                Error::Template(format!(
                    "the pages of `serve` (templates/pages/): {}",
                    crate::render::tera_error_text(&e)
                ))
            })?;
        let builtin: toml::Table = STRINGS.parse().expect("built-in strings");
        let mut strings = BTreeMap::new();
        let mut senders = BTreeMap::new();
        let mut topics = BTreeMap::new();
        let mut form_versions = BTreeMap::new();
        for lang in &config.languages.supported {
            let own = crate::render::strings(config, lang);
            let (p, sender) = language_strings(config, &builtin, &own, lang);
            senders.insert(lang.clone(), sender);
            let labels = own.get("interests");
            let list: Vec<(String, String)> = config
                .interests
                .iter()
                .map(|tag| {
                    let label = labels
                        .and_then(|l| l.get(tag))
                        .and_then(Value::as_str)
                        .unwrap_or(tag);
                    (tag.clone(), label.to_string())
                })
                .collect();
            let form = sources
                .iter()
                .find(|(n, _)| *n == "subscribe.html")
                .map(|(_, t)| t.as_str())
                .unwrap_or_default();
            let shown = serde_json::to_string(&(&p, &list)).unwrap_or_default();
            form_versions.insert(
                lang.clone(),
                crate::digest::of([form.as_bytes(), shown.as_bytes()])[..16].to_string(),
            );
            topics.insert(lang.clone(), list);
            strings.insert(lang.clone(), p);
        }
        Ok(Pages {
            tera,
            strings,
            senders,
            topics,
            supported: config.languages.supported.clone(),
            default: config.languages.default.clone(),
            form_versions,
        })
    }

    /// The language to answer in: the switch's, the token's, the browser's first that the
    /// project has (by its primary subtag: fr-CH is fr), else the project's default.
    pub fn language(&self, asked: Asked) -> String {
        let known = |l: &str| {
            let l = l.trim().to_ascii_lowercase();
            let primary = l.split(['-', '_']).next().unwrap_or("").to_string();
            self.supported.iter().find(|s| **s == primary).cloned()
        };
        asked
            .query
            .and_then(known)
            .or_else(|| asked.token.and_then(known))
            .or_else(|| {
                asked
                    .accept
                    .map(accept_language::parse)
                    .and_then(|tags| tags.iter().find_map(|t| known(t)))
            })
            .unwrap_or_else(|| self.default.clone())
    }

    pub fn strings(&self, lang: &str) -> &Value {
        &self.strings[lang]
    }

    /// A string of the pages in `lang`.
    pub fn text(&self, lang: &str, key: &str) -> String {
        self.strings[lang]
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or(key)
            .to_string()
    }

    pub fn form_version(&self, lang: &str) -> &str {
        &self.form_versions[lang]
    }

    /// The project's topics with their labels in `lang`, each ticked when `chosen` has it.
    pub fn topics(&self, lang: &str, chosen: &[String]) -> Vec<Value> {
        self.topics[lang]
            .iter()
            .map(
                |(tag, label)| json!({"tag": tag, "label": label, "checked": chosen.contains(tag)}),
            )
            .collect()
    }

    pub fn topic_label(&self, lang: &str, tag: &str) -> String {
        self.topics[lang]
            .iter()
            .find(|(t, _)| t == tag)
            .map(|(_, l)| l.clone())
            .unwrap_or_else(|| tag.to_string())
    }

    /// The choices of language a form offers: each language in its own name, and every
    /// language in one message; `current` is ticked.
    pub fn language_options(&self, lang: &str, current: &str) -> Vec<Value> {
        let mut v: Vec<Value> = self
            .supported
            .iter()
            .map(|code| {
                json!({"value": code, "lang": code, "label": crate::language::native_name(code), "checked": current == code})
            })
            .collect();
        if self.supported.len() > 1 {
            v.push(json!({"value": "all", "lang": lang, "label": self.text(lang, "prefs_all"), "checked": current == "all"}));
        }
        v
    }

    /// Renders `template` in `lang` for the page at `path` (its language switch links there),
    /// with `extra` in the context beside `lang`, `p`, `sender` and `languages`.
    pub fn render(
        &self,
        status: StatusCode,
        lang: &str,
        template: &str,
        path: &str,
        extra: Value,
    ) -> Response {
        let mut ctx = tera::Context::new();
        ctx.insert("lang", lang);
        ctx.insert("p", &self.strings[lang]);
        ctx.insert("sender", &self.senders[lang]);
        let languages: Vec<Value> = self
            .supported
            .iter()
            .map(|code| {
                json!({
                    "code": code,
                    "name": crate::language::native_name(code),
                    "url": format!("{path}?lang={code}"),
                    "current": code == lang,
                })
            })
            .collect();
        ctx.insert("languages", &languages);
        if let Value::Object(m) = extra {
            for (k, v) in m {
                ctx.insert(k, &v);
            }
        }
        match self.tera.render(template, &ctx) {
            Ok(html) => (
                status,
                [
                    (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                    (header::CACHE_CONTROL, "no-store"),
                    (header::CONTENT_LANGUAGE, lang),
                ],
                html,
            )
                .into_response(),
            Err(e) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!(
                    "the page template {template} failed: {}\n",
                    crate::render::tera_error_text(&e)
                ),
            )
                .into_response(),
        }
    }

    /// A page of one heading and one text (errors, confirmations).
    pub fn message(
        &self,
        status: StatusCode,
        lang: &str,
        path: &str,
        state: &str,
        extra: Value,
    ) -> Response {
        let mut ctx = json!({
            "state": state,
            "heading": self.text(lang, &format!("{state}_title")),
            "text": self.text(lang, state),
        });
        if let (Value::Object(m), Value::Object(e)) = (&mut ctx, extra) {
            m.extend(e);
        }
        self.render(status, lang, "message.html", path, ctx)
    }
}

/// A language's page strings (built in for English, then the language's own, then the
/// project's `[unsubscribe_page]` and `[pages]`), with the sender as that language writes it,
/// which the strings carry too (the confirmation mail signs with it).
fn language_strings(
    config: &Config,
    builtin: &toml::Table,
    own: &Value,
    lang: &str,
) -> (Value, Value) {
    let mut p = serde_json::Map::new();
    for table in [builtin.get("en"), builtin.get(lang)].into_iter().flatten() {
        if let Ok(Value::Object(m)) = serde_json::to_value(table) {
            p.extend(m);
        }
    }
    let mut p = Value::Object(p);
    crate::render::set_strings(&mut p, lang);
    for key in ["unsubscribe_page", "pages"] {
        if let Some(Value::Object(m)) = own.get(key) {
            p.as_object_mut().expect("an object").extend(m.clone());
        }
    }
    let text = |key: &str, fallback: &str| {
        own.get(key)
            .and_then(Value::as_str)
            .unwrap_or(fallback)
            .to_string()
    };
    let s = &config.sender;
    let sender = json!({
        "name": s.name,
        "organisation": text("organisation", &s.organisation),
        "postal_address": text("postal_address", &s.postal_address),
        // The newsletter's name, as its masthead gives it.
        "masthead": text("masthead", &s.name),
    });
    p["sender"] = sender.clone();
    (p, sender)
}
