//! The content hash's share of templates and strings: exactly what a campaign's messages are
//! made of, so that restyling a page the messages do not use (the unsubscribe page) leaves a
//! half-sent campaign free to continue, and changing a template they use does not.

use std::collections::BTreeMap;

use serde_json::Value;
use tera::Tera;

use super::templates::{self, Source};
use crate::campaign::Campaign;

/// What the campaign's messages are made of among the templates and strings: the templates
/// its messages use in each of its languages (their subjects, intros and bodies are in the
/// campaign and updates, hashed apart), with those they include, extend or import, and the
/// strings of its languages, pages' strings (`*_page` tables, which `serve` shows) left out.
pub(super) fn messages_digest(
    tera: &Tera,
    html: &BTreeMap<String, String>,
    text: &BTreeMap<String, String>,
    sources: &[Source],
    strings: &BTreeMap<String, Value>,
    campaign: &Campaign,
) -> String {
    let roots: Vec<String> = campaign
        .languages
        .iter()
        .flat_map(|l| [html.get(l), text.get(l)])
        .flatten()
        .cloned()
        .collect();
    let used = templates::used_templates(tera, &roots);
    let mut parts: Vec<Vec<u8>> = Vec::new();
    for (name, _, src) in sources.iter().filter(|(n, _, _)| used.contains(n)) {
        parts.push(name.as_bytes().to_vec());
        parts.push(src.as_bytes().to_vec());
    }
    for lang in &campaign.languages {
        let mut table = strings.get(lang).cloned().unwrap_or(Value::Null);
        if let Value::Object(m) = &mut table {
            m.retain(|k, _| !k.ends_with("_page"));
        }
        parts.push(lang.as_bytes().to_vec());
        parts.push(serde_json::to_vec(&table).unwrap_or_default());
    }
    crate::digest::of(parts.iter().map(Vec::as_slice))
}
