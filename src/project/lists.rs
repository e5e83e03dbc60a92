//! A project's contact lists as a campaign reads them: each loaded, its interests mapped to the
//! project's tags, and what the project does not know about it warned of.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::Config;
use crate::contacts::{self, ContactList};
use crate::problems::Problems;
use crate::{Error, Result};

/// Loads a list and adds summaries of what it holds that the project does not know.
/// `aliases` maps translated interest labels to tags (see `render::interest_aliases`).
pub fn load_list(
    config: &Config,
    path: &Path,
    aliases: &HashMap<String, String>,
    p: &mut Problems,
) -> Result<ContactList> {
    let rules = contacts::Rules {
        supported: &config.languages.supported,
        smtputf8: config.smtp.as_ref().is_some_and(|s| s.smtputf8),
        columns: Some(&config.lists.columns),
    };
    let mut list = contacts::load(path, &rules, p)?;
    map_interests(config, aliases, &mut list);
    warn_of_unknown_values(config, aliases, path, &list, p);
    Ok(list)
}

/// Each row's interests as the project's tags, through the list's aliases.
fn map_interests(config: &Config, aliases: &HashMap<String, String>, list: &mut ContactList) {
    // Rows share their interest cells, so each cell is mapped once.
    let mut mapped_cells: HashMap<String, Arc<crate::contacts::Interests>> = HashMap::new();
    for c in &mut list.contacts {
        let set = c.interests_shared();
        let mapped = match mapped_cells.get(&set.raw) {
            Some(m) => Arc::clone(m),
            None => {
                let mut tags: Vec<String> = Vec::with_capacity(set.tags.len());
                for i in &set.tags {
                    let tag = match aliases.get(i) {
                        Some(t) if !config.knows_interest(i) || config.interests.is_empty() => {
                            t.clone()
                        }
                        _ => i.clone(),
                    };
                    if !tags.contains(&tag) {
                        tags.push(tag);
                    }
                }
                let mapped = Arc::new(crate::contacts::Interests {
                    raw: set.raw.clone(),
                    tags,
                });
                mapped_cells.insert(set.raw.clone(), Arc::clone(&mapped));
                mapped
            }
        };
        c.set_interests(mapped);
    }
}

/// Warnings for the interests and languages a list holds that the project does not know.
fn warn_of_unknown_values(
    config: &Config,
    aliases: &HashMap<String, String>,
    path: &Path,
    list: &ContactList,
    p: &mut Problems,
) {
    // Per value, the rows that hold it.
    let mut unknown_interests: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    let mut unsupported: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    // Per unknown tag, the value as the list writes it.
    let mut written: HashMap<&str, &str> = HashMap::new();
    for c in &list.contacts {
        for i in c.interests() {
            if !config.knows_interest(i) {
                unknown_interests.entry(i).or_default().push(c.line());
                if !written.contains_key(i.as_str()) {
                    let raw = crate::contacts::interest_pieces(&c.interests_shared().raw)
                        .find(|p| crate::config::normalize_tag(p) == *i);
                    if let Some(raw) = raw {
                        written.insert(i, raw);
                    }
                }
            }
        }
        if c.languages().is_empty() && !c.language_raw().trim().is_empty() {
            unsupported
                .entry(c.language_raw().trim())
                .or_default()
                .push(c.line());
        }
    }
    if !unknown_interests.is_empty() {
        // For each, the line that makes it one of the project's: the closest tag or label.
        let lines: Vec<String> = unknown_interests
            .keys()
            .map(|tag| {
                let as_written = written.get(tag).copied().unwrap_or(tag);
                let guess = closest_interest(config, aliases, tag);
                format!("\"{}\" = \"{guess}\"", as_written.replace('"', "'"))
            })
            .collect();
        p.warning(path, None, format!(
            "interests the config does not declare: {}. Contacts are selected by interest only for the project's own tags, so these rows match no interest filter or digest update. If the list means one of yours, map it in bulletin.toml (each language's [interests] labels in templates/i18n are understood already):\n  [lists.interests]\n  {}\nor add a new tag to `interests`, or fix the spelling",
            on_lines(&unknown_interests),
            lines.join("\n  ")));
    }
    if !unsupported.is_empty() {
        let what = match config.languages.fallback {
            crate::config::Fallback::Default => {
                format!("the default language ({})", config.languages.default)
            }
            crate::config::Fallback::Bilingual => "the bilingual message".to_string(),
        };
        p.warning(
            path,
            None,
            format!(
                "languages not supported, these contacts get {what}: {}",
                on_lines(&unsupported)
            ),
        );
    }
}

/// "es" on lines 7 and 12; five lines at most, then a count.
fn on_lines(m: &BTreeMap<&str, Vec<usize>>) -> String {
    m.iter()
        .map(|(k, lines)| {
            let shown: Vec<String> = lines.iter().take(5).map(usize::to_string).collect();
            let more = lines.len().saturating_sub(5);
            let rest = if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            };
            let word = if lines.len() == 1 { "line" } else { "lines" };
            format!("\"{k}\" on {word} {}{rest}", shown.join(", "))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The project's tag closest to an unknown value: by its tag, or by one of its labels.
fn closest_interest(config: &Config, aliases: &HashMap<String, String>, value: &str) -> String {
    let candidates = config
        .interests
        .iter()
        .map(|t| (t.as_str(), t.as_str()))
        .chain(
            aliases
                .iter()
                .map(|(label, t)| (label.as_str(), t.as_str())),
        );
    candidates
        .map(|(name, tag)| (strsim::jaro_winkler(name, value), tag))
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, tag)| tag.to_string())
        .unwrap_or_else(|| "TAG".into())
}

/// Every CSV file of the lists folder.
pub fn list_files(config: &Config) -> Result<Vec<PathBuf>> {
    let dir = config.lists_dir();
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| Error::io("read the lists folder", &dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv")))
        .collect();
    v.sort();
    Ok(v)
}

/// The people who signed up through the form and confirmed, as a contact list: the journal's
/// `subscribers`, one row each in the order they confirmed (the "line" a report names).
pub(super) fn subscribers(config: &Config, store: &crate::journal::Store) -> Result<ContactList> {
    use crate::contacts::{Contact, Interests, Language, Shape};
    let subscribers = match store.existing()? {
        Some(j) => j.subscribers()?,
        None => Vec::new(),
    };
    let name: Arc<str> = crate::campaign::SUBSCRIBERS.into();
    let columns = ["email", "name", "language", "interests", "confirmed"];
    let shape = Arc::new(Shape {
        list: name.clone(),
        columns: columns.iter().map(|c| Arc::from(*c)).collect(),
        email: Some(0),
        name: Some(1),
        language: Some(2),
        interests: Some(3),
        ..Default::default()
    });
    let contacts = subscribers
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let raw = s.languages.join("+");
            let language = Arc::new(Language {
                choice: crate::language::parse_choice(&raw, &config.languages.supported),
                raw,
            });
            let interests = Arc::new(Interests {
                raw: s.interests.join(";"),
                tags: s.interests.clone(),
            });
            let confirmed = crate::clock::from_ms(s.confirmed_at_ms)
                .format("%Y-%m-%d")
                .to_string();
            let cells = [
                s.email.as_str(),
                s.name.as_str(),
                language.raw.as_str(),
                interests.raw.as_str(),
                confirmed.as_str(),
            ];
            Contact::new(
                shape.clone(),
                &s.email,
                "",
                &cells,
                language.clone(),
                interests.clone(),
                i + 1,
            )
        })
        .collect();
    Ok(ContactList {
        path: store.path().to_path_buf(),
        name,
        encoding: "UTF-8",
        delimiter: b',',
        columns: columns.iter().map(|c| c.to_string()).collect(),
        contacts,
        rejects: Vec::new(),
    })
}
