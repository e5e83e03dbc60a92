//! The campaign's lists and rules plus the loaded contacts in, the [`Audience`] out: one
//! [`Recipient`] per address (deduplicated across lists, interests merged) with the languages and
//! updates they will get, and every contact left out with the reason.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use serde::Serialize;

use crate::campaign::Campaign;
use crate::config::{Config, Fallback};
use crate::contacts::{Contact, ContactList};
use crate::text::count;
use crate::updates::Updates;

#[derive(Debug, Clone)]
pub struct Recipient {
    pub contact: Contact,
    /// Languages of the message, the first leading; two or more make it bilingual.
    pub langs: Vec<String>,
    /// Indexes into the campaign's updates, in the campaign's order.
    pub updates: Vec<usize>,
    /// Every list the address came from.
    pub lists: Vec<Arc<str>>,
    /// Why the languages were not the contact's own choice, when they were not.
    pub language_note: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LeftOut {
    pub email: String,
    pub list: String,
    pub line: usize,
    /// What kind of reason: counted in the stats.
    pub why: Why,
    /// The reason in words, with the contact's details.
    pub reason: String,
}

/// The kinds of reason a contact is left out of a campaign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Why {
    /// On one of the campaign's exclusion lists.
    Excluded { list: String },
    /// No language the campaign is written in.
    Language,
    /// The campaign's interest filters.
    Interests,
    /// A digest with no update on the contact's interests.
    Digest,
    /// On the project's suppression list (unsubscribed, bounced...): never mailed again.
    Suppressed { reason: String },
}

impl Why {
    /// The key the stats count it under (exclusions per list).
    pub fn key(&self) -> String {
        match self {
            Why::Excluded { list } => format!("excluded: listed in {list}"),
            Why::Language => "language".into(),
            Why::Interests => "interests".into(),
            Why::Digest => "digest".into(),
            Why::Suppressed { .. } => "suppressed".into(),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Stats {
    pub contacts_read: usize,
    pub duplicates_merged: usize,
    pub recipients: usize,
    pub by_language: BTreeMap<String, usize>,
    pub by_interest: BTreeMap<String, usize>,
    pub by_list: BTreeMap<String, usize>,
    pub by_update: BTreeMap<String, usize>,
    pub left_out: BTreeMap<String, usize>,
    pub language_fallbacks: BTreeMap<String, usize>,
}

#[derive(Debug, Clone, Default)]
pub struct Audience {
    pub recipients: Vec<Recipient>,
    pub left_out: Vec<LeftOut>,
    pub stats: Stats,
}

/// Merges `other` (a later row for the same address) into `c`: interests add up, empty cells fill.
fn merge(c: &mut Contact, other: &Contact) {
    for i in &other.interests {
        if !c.interests.contains(i) {
            c.interests.push(i.clone());
        }
    }
    for (mine, theirs) in [
        (&mut c.name, &other.name),
        (&mut c.first_name, &other.first_name),
        (&mut c.last_name, &other.last_name),
        (&mut c.organisation, &other.organisation),
    ] {
        if mine.is_empty() && !theirs.is_empty() {
            mine.clone_from(theirs);
        }
    }
    if c.languages.is_empty() && !other.languages.is_empty() {
        c.languages = other.languages.clone();
        c.language_raw.clone_from(&other.language_raw);
    }
    for (k, v) in &other.fields {
        match c.fields.iter_mut().find(|(n, _)| n == k) {
            Some((_, mine)) if mine.is_empty() => mine.clone_from(v),
            Some(_) => {}
            None => c.fields.push((k.clone(), v.clone())),
        }
    }
}

/// Languages the message is written in: the contact's choice within the campaign's languages,
/// else what the config's fallback says. `Err` holds the reason the contact is left out.
fn languages_for(
    c: &Contact,
    campaign: &Campaign,
    config: &Config,
) -> Result<(Vec<String>, Option<String>), String> {
    let chosen: Vec<String> = c
        .languages
        .codes
        .iter()
        .filter(|l| campaign.languages.contains(l))
        .cloned()
        .collect();
    if !chosen.is_empty() {
        return Ok((chosen, None));
    }
    // A campaign written in fewer languages sends its own default to the others, unless it
    // says to leave them out; a campaign narrowed by [audience] languages leaves them out.
    let sends_others = campaign.written_in_some
        && campaign.other_languages == crate::campaign::OtherLanguages::Default
        && !campaign.default_language.is_empty();
    let written = campaign.languages.join(", ");
    if !c.languages.codes.is_empty() {
        let asks = c.languages.codes.join("+");
        if sends_others {
            return Ok((
                vec![campaign.default_language.clone()],
                Some(format!(
                    "reads {asks}; this campaign is written in {written} only"
                )),
            ));
        }
        return Err(format!(
            "asks for {asks} but this campaign goes out in {written}"
        ));
    }
    let note = if c.language_raw.trim().is_empty() {
        "no language given".to_string()
    } else {
        format!("language \"{}\" not supported", c.language_raw.trim())
    };
    let fallback: Vec<String> = match config.languages.fallback {
        Fallback::Default => vec![config.languages.default.clone()],
        Fallback::Bilingual => config.languages.supported.clone(),
    };
    let within: Vec<String> = fallback
        .into_iter()
        .filter(|l| campaign.languages.contains(l))
        .collect();
    if within.is_empty() && sends_others {
        Ok((
            vec![campaign.default_language.clone()],
            Some(format!(
                "{note}; this campaign is written in {written} only"
            )),
        ))
    } else if within.is_empty() {
        Err(format!(
            "{note}; the fallback language is not one this campaign goes out in"
        ))
    } else {
        Ok((within, Some(note)))
    }
}

/// Selects the recipients of a campaign. `lists` holds every list the campaign names, loaded.
/// Contacts are moved out of the lists, not copied: a campaign may reach a hundred thousand.
/// `suppressed`: the project's suppression list, address to reason. Those addresses are left
/// out whatever the campaign says.
pub fn select(
    config: &Config,
    campaign: &Campaign,
    mut lists: HashMap<String, ContactList>,
    updates: &Updates,
    suppressed: &HashMap<String, String>,
) -> Audience {
    let mut aud = Audience::default();
    let mut index: HashMap<String, usize> = HashMap::new();
    let total: usize = campaign
        .audience
        .lists
        .iter()
        .filter_map(|n| lists.get(n))
        .map(|l| l.contacts.len())
        .sum();
    let mut merged: Vec<(Contact, Vec<Arc<str>>)> = Vec::with_capacity(total);
    let mut excluded: HashMap<String, Arc<str>> = HashMap::new();
    for name in &campaign.audience.exclude {
        if let Some(list) = lists.get(name) {
            for c in &list.contacts {
                excluded
                    .entry(c.email.clone())
                    .or_insert_with(|| list.name.clone());
            }
        }
    }
    for name in &campaign.audience.lists {
        let Some(list) = lists.get_mut(name) else {
            continue;
        };
        let list_name = list.name.clone();
        for c in std::mem::take(&mut list.contacts) {
            aud.stats.contacts_read += 1;
            match index.get(&c.email) {
                Some(&i) => {
                    aud.stats.duplicates_merged += 1;
                    let (m, from) = &mut merged[i];
                    merge(m, &c);
                    if !from.contains(&list_name) {
                        from.push(list_name.clone());
                    }
                }
                None => {
                    index.insert(c.email.clone(), merged.len());
                    merged.push((c, vec![list_name.clone()]));
                }
            }
        }
    }
    drop(index);
    drop(lists);

    let a = &campaign.audience;
    let update_tags: Vec<HashSet<&str>> = campaign
        .updates
        .iter()
        .map(|s| {
            updates
                .any(s)
                .map(|u| u.interests.iter().map(String::as_str).collect())
                .unwrap_or_default()
        })
        .collect();

    aud.recipients.reserve_exact(merged.len());
    for (contact, from) in merged {
        let leave = |why: Why, reason: String, aud: &mut Audience| {
            *aud.stats.left_out.entry(why.key()).or_default() += 1;
            aud.left_out.push(LeftOut {
                email: contact.email.clone(),
                list: contact.list.to_string(),
                line: contact.line,
                why,
                reason,
            });
        };
        if let Some(reason) = suppressed.get(contact.email.as_str()) {
            let why = Why::Suppressed {
                reason: reason.clone(),
            };
            leave(why, format!("suppressed: {reason}"), &mut aud);
            continue;
        }
        if let Some(list) = excluded.get(contact.email.as_str()) {
            let why = Why::Excluded {
                list: list.to_string(),
            };
            leave(why.clone(), why.key(), &mut aud);
            continue;
        }
        let (langs, note) = match languages_for(&contact, campaign, config) {
            Ok(l) => l,
            Err(reason) => {
                leave(Why::Language, format!("language: {reason}"), &mut aud);
                continue;
            }
        };
        let has = |t: &String| contact.interests.contains(t);
        if !a.interests_any.is_empty() && !a.interests_any.iter().any(has) {
            leave(
                Why::Interests,
                format!("interests: none of {}", a.interests_any.join(", ")),
                &mut aud,
            );
            continue;
        }
        if !a.interests_all.is_empty() && !a.interests_all.iter().all(has) {
            leave(
                Why::Interests,
                format!("interests: not all of {}", a.interests_all.join(", ")),
                &mut aud,
            );
            continue;
        }
        if let Some(t) = a.interests_none.iter().find(|t| has(t)) {
            leave(
                Why::Interests,
                format!("interests: follows {t}, which this campaign leaves out"),
                &mut aud,
            );
            continue;
        }
        let chosen: Vec<usize> = if campaign.digest {
            // An update with no tags is general news: it goes to everyone.
            update_tags
                .iter()
                .enumerate()
                .filter(|(_, tags)| {
                    tags.is_empty() || contact.interests.iter().any(|i| tags.contains(i.as_str()))
                })
                .map(|(i, _)| i)
                .collect()
        } else {
            (0..campaign.updates.len()).collect()
        };
        if chosen.is_empty() {
            let what = if contact.interests.is_empty() {
                "no interests given".to_string()
            } else {
                contact.interests.join(", ")
            };
            leave(
                Why::Digest,
                format!("digest: no update matches the contact's interests ({what})"),
                &mut aud,
            );
            continue;
        }
        let s = &mut aud.stats;
        *s.by_language.entry(langs.join("+")).or_default() += 1;
        for i in &contact.interests {
            *s.by_interest.entry(i.clone()).or_default() += 1;
        }
        for l in &from {
            *s.by_list.entry(l.to_string()).or_default() += 1;
        }
        for &u in &chosen {
            *s.by_update.entry(campaign.updates[u].clone()).or_default() += 1;
        }
        if let Some(n) = &note {
            *s.language_fallbacks
                .entry(format!("{n} → {}", langs.join("+")))
                .or_default() += 1;
        }
        aud.recipients.push(Recipient {
            contact,
            langs,
            updates: chosen,
            lists: from,
            language_note: note,
        });
    }
    aud.stats.recipients = aud.recipients.len();
    aud
}

fn counts(m: &BTreeMap<String, usize>) -> String {
    if m.is_empty() {
        return "none".into();
    }
    m.iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The report `bulletin audience` prints: who gets what, and who is left out and why.
pub fn report(campaign: &Campaign, aud: &Audience) -> String {
    let s = &aud.stats;
    let mut o = format!(
        "Campaign {}: {} ({} read, {}, {} left out)\n",
        campaign.id,
        count(s.recipients, "recipient", "recipients"),
        count(s.contacts_read, "contact", "contacts"),
        count(s.duplicates_merged, "duplicate merged", "duplicates merged"),
        aud.left_out.len()
    );
    o.push_str(&format!("  by language:  {}\n", counts(&s.by_language)));
    o.push_str(&format!("  by interest:  {}\n", counts(&s.by_interest)));
    o.push_str(&format!("  by list:      {}\n", counts(&s.by_list)));
    o.push_str(&format!("  by update:    {}\n", counts(&s.by_update)));
    if !s.language_fallbacks.is_empty() {
        o.push_str("  language fallbacks:\n");
        for (k, n) in &s.language_fallbacks {
            o.push_str(&format!("    {n} × {k}\n"));
        }
    }
    if !aud.left_out.is_empty() {
        o.push_str(&format!("  left out ({}):\n", counts(&s.left_out)));
        for l in &aud.left_out {
            o.push_str(&format!(
                "    {}:{}  {}  {}\n",
                l.list, l.line, l.email, l.reason
            ));
        }
    }
    o
}

/// One CSV row per recipient: address, name, languages, interests, lists, updates.
pub fn write_csv<W: std::io::Write>(
    campaign: &Campaign,
    aud: &Audience,
    out: W,
) -> csv::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record([
        "email",
        "name",
        "language",
        "interests",
        "lists",
        "updates",
        "language_note",
    ])?;
    for r in &aud.recipients {
        let updates: Vec<&str> = r
            .updates
            .iter()
            .map(|&i| campaign.updates[i].as_str())
            .collect();
        let lists: Vec<&str> = r.lists.iter().map(|l| &**l).collect();
        w.write_record([
            r.contact.email.as_str(),
            &r.contact.display_name(),
            &r.langs.join("+"),
            &r.contact.interests.join(";"),
            &lists.join(";"),
            &updates.join(";"),
            r.language_note.as_deref().unwrap_or(""),
        ])?;
    }
    w.flush()?;
    Ok(())
}
