//! The translation files in (`templates/i18n/LANG.toml`), each language's strings out, checked
//! against the default language's; and the translated interest labels that contact lists use.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use serde_json::Value;

use crate::config::Config;
use crate::problems::Problems;

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

pub(super) fn load_i18n(
    config: &Config,
    p: &mut Problems,
) -> BTreeMap<String, (PathBuf, toml::Table)> {
    let dir = config.templates_dir().join("i18n");
    let mut out = BTreeMap::new();
    for lang in &config.languages.supported {
        let file = dir.join(format!("{lang}.toml"));
        let text = match crate::limits::read_text_capped(&file, crate::limits::TEXT_FILE) {
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

/// Interest values as contacts' lists write them mapped to their tag ("landmines"): the
/// config's `[lists.interests]` ("Mines antipersonnel"), then the labels of every language's
/// `[interests]` table ("Mines terrestres"). Keys are normalised as tags are.
pub fn interest_aliases(config: &Config) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for (value, tag) in &config.lists.interests {
        out.insert(
            crate::config::normalize_tag(value),
            crate::config::normalize_tag(tag),
        );
    }
    for lang in &config.languages.supported {
        let file = config
            .templates_dir()
            .join("i18n")
            .join(format!("{lang}.toml"));
        let Some(table) = crate::limits::read_text_capped(&file, crate::limits::TEXT_FILE)
            .ok()
            .and_then(|t| t.parse::<toml::Table>().ok())
        else {
            continue;
        };
        if let Some(toml::Value::Table(labels)) = table.get("interests") {
            for (tag, label) in labels {
                if let Some(l) = label.as_str() {
                    out.entry(crate::config::normalize_tag(l))
                        .or_insert_with(|| tag.clone());
                }
            }
        }
    }
    out
}

pub(super) fn toml_to_json(t: &toml::Table) -> Value {
    serde_json::to_value(t).unwrap_or(Value::Null)
}
