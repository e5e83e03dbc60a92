//! A campaign's recipients in, the merge fields that some of them lack (with no `default`) out as
//! errors naming the template line, the lists and the count. Empty cells and columns a list does
//! not have are missing values, so a template that prints them bare would fail those messages
//! at send time; this finds them before anything is written or sent.

use std::collections::{BTreeMap, BTreeSet};

use super::{RenderError, Renderer};
use crate::audience::Recipient;
use crate::campaign::Campaign;
use crate::contacts::Contact;
use crate::problems::Problems;

/// The contact value a render error says is missing (`first_name` for `contact.first_name()`).
pub(super) fn missing_contact_value(e: &RenderError) -> Option<String> {
    let RenderError::Template { message, .. } = e else {
        return None;
    };
    let var = message.split('`').nth(1)?;
    if !message.contains("not found in context") {
        return None;
    }
    var.strip_prefix("contact.").map(str::to_string)
}

/// Gives a contact a sample value for `key`, as a column of that name would.
pub(super) fn fill_sample(c: &mut Contact, key: &str) {
    let key = key.strip_prefix("fields.").unwrap_or(key);
    c.fill(key, "Sample");
}

/// What a template said when rendering a message failed for a reason other than a missing
/// contact value, with the values that were missing on the way.
pub(super) struct Trial {
    pub missing: Vec<(String, String)>,
    pub error: Option<RenderError>,
}

impl Renderer {
    /// Renders `r`'s message; each contact value found missing is noted and filled with a
    /// sample, and the render tried again, so that one call finds every missing value.
    pub(super) fn trial(&self, mut r: Recipient) -> Trial {
        let mut missing: Vec<(String, String)> = Vec::new();
        loop {
            match self.render(
                &r,
                &super::Links {
                    unsubscribe: Some("https://example.org/unsubscribe"),
                    preferences: Some("https://example.org/preferences"),
                },
            ) {
                Ok(_) => {
                    return Trial {
                        missing,
                        error: None,
                    }
                }
                Err(e) => {
                    let Some(key) = missing_contact_value(&e) else {
                        return Trial {
                            missing,
                            error: Some(e),
                        };
                    };
                    // A value filled in and still missing: the template asks in a way a
                    // column cannot answer; report the error as it is.
                    if missing.iter().any(|(_, k)| *k == key) || missing.len() > 64 {
                        return Trial {
                            missing,
                            error: Some(e),
                        };
                    }
                    let template = match &e {
                        RenderError::Template { template, .. } => template.clone(),
                        RenderError::Css(_) => String::new(),
                    };
                    fill_sample(&mut r.contact, &key);
                    missing.push((template, key));
                }
            }
        }
    }

    /// Reports each merge field that some of `recipients` lack and that the templates print
    /// without a default. Recipients are grouped by their languages and by which values they
    /// lack, and one of each group is rendered: a campaign has few such groups.
    pub fn check_missing(&self, campaign: &Campaign, recipients: &[Recipient], p: &mut Problems) {
        let mut groups: BTreeMap<(Vec<String>, BTreeSet<String>), Vec<usize>> = BTreeMap::new();
        for (i, r) in recipients.iter().enumerate() {
            groups
                .entry((r.langs.clone(), absent(&r.contact)))
                .or_default()
                .push(i);
        }
        // (template, value) -> per list, recipients whose list has no such column, and
        // recipients whose cell is empty.
        let mut found: BTreeMap<(String, String), BTreeMap<String, (usize, usize)>> =
            BTreeMap::new();
        for members in groups.values() {
            let Some(&first) = members.first() else {
                continue;
            };
            for (template, key) in self.trial(recipients[first].clone()).missing {
                let entry = found.entry((template, key.clone())).or_default();
                for &m in members {
                    let c = &recipients[m].contact;
                    let column = c.core_values().iter().any(|(k, _)| *k == key)
                        || c.fields()
                            .any(|(h, _)| super::field_keys(h).any(|k| k == key));
                    let counts = entry.entry(c.list().to_string()).or_default();
                    if column {
                        counts.1 += 1;
                    } else {
                        counts.0 += 1;
                    }
                }
            }
        }
        for ((template, key), lists) in found {
            let (path, line) = self.locate(campaign, &template, &format!("contact.{key}"));
            let count: usize = lists.values().map(|(a, e)| a + e).sum();
            let why: Vec<String> = lists
                .iter()
                .flat_map(|(list, (absent, empty))| {
                    [
                        (*absent > 0).then(|| format!("{list} has no \"{key}\" column ({absent})")),
                        (*empty > 0).then(|| format!("{list} has empty cells ({empty})")),
                    ]
                })
                .flatten()
                .collect();
            p.error(
                &path,
                line,
                format!(
                    "contact.{key} is missing for {count} recipient{}: {}. Say what to print instead: {{{{ contact.{key} | default(value=\"...\") }}}}, or put it inside {{% if contact.{key} %}}...{{% endif %}}",
                    if count == 1 { "" } else { "s" },
                    why.join("; ")
                ),
            );
        }
    }
}

/// The values a contact has no text for, among those every contact may have.
fn absent(c: &Contact) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (key, value) in c.core_values() {
        if value.trim().is_empty() {
            out.insert(key.to_string());
        }
    }
    for (k, v) in c.fields() {
        if v.trim().is_empty() {
            out.insert(k.to_string());
        }
    }
    // Columns this contact's list lacks show as the list's name: contacts of one list share them.
    out.insert(format!("list:{}", c.list()));
    out
}
