//! The campaign's lists and rules plus the loaded contacts in, the [`Audience`] out: one
//! [`Recipient`] per address (deduplicated across lists, interests merged) with the languages and
//! updates they will get, and every contact left out with the reason.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use serde::Serialize;

use crate::campaign::Campaign;
use crate::config::{Config, Fallback};
use crate::contacts::{Contact, ContactList};
use crate::journal::Choice;
use crate::updates::Updates;

mod choices;
mod merge;
mod report;
use merge::{excluded_addresses, merge};

/// How a recipient's note begins when their languages and topics are their own choice.
const READERS_CHOICE: &str = "languages and topics from the reader's choice";
pub use report::{report, write_csv};

/// One address of the audience and what its message holds.
#[derive(Debug, Clone)]
pub struct Recipient {
    pub contact: Contact,
    /// Shared by every recipient whose message holds the same: a million recipients have a
    /// few hundred profiles between them.
    pub profile: Arc<Profile>,
}

/// What a message holds apart from its reader's own values.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Profile {
    /// Languages of the message, the first leading; two or more make it bilingual.
    pub langs: Vec<String>,
    /// Indexes into the campaign's updates, in the campaign's order.
    pub updates: Vec<usize>,
    /// Every list the address came from.
    pub lists: Vec<Arc<str>>,
    /// Why the languages were not the contact's own choice, when they were not.
    pub language_note: Option<String>,
}

impl Recipient {
    pub fn new(contact: Contact, profile: Profile) -> Recipient {
        Recipient {
            contact,
            profile: Arc::new(profile),
        }
    }
}

/// `r.langs`, `r.updates`: a recipient reads as its profile.
impl std::ops::Deref for Recipient {
    type Target = Profile;
    fn deref(&self) -> &Profile {
        &self.profile
    }
}

/// A contact the campaign does not mail, and why.
#[derive(Debug, Clone)]
pub struct LeftOut {
    pub contact: Contact,
    /// What kind of reason: counted in the stats.
    pub why: Why,
    /// The reason in words, with the contact's details; shared by those with the same.
    pub reason: Arc<str>,
}

impl Serialize for LeftOut {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("LeftOut", 5)?;
        st.serialize_field("email", self.contact.email())?;
        st.serialize_field("list", &**self.contact.list())?;
        st.serialize_field("line", &self.contact.line())?;
        st.serialize_field("why", &self.why)?;
        st.serialize_field("reason", &*self.reason)?;
        st.end()
    }
}

/// The kinds of reason a contact is left out of a campaign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Why {
    /// On one of the campaign's exclusion lists.
    Excluded { list: Arc<str> },
    /// No language the campaign is written in.
    Language,
    /// The campaign's interest filters.
    Interests,
    /// A digest with no update on the contact's interests.
    Digest,
    /// On the project's suppression list (unsubscribed, bounced...): never mailed again.
    Suppressed { reason: Arc<str> },
    /// Erased (`bulletin forget`): its row must go from the list.
    Erased,
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
            Why::Erased => "erased".into(),
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
    /// Recipients whose languages and topics are their own choice, not their lists'.
    pub readers_choices: usize,
}

#[derive(Debug, Clone, Default)]
pub struct Audience {
    pub recipients: Vec<Recipient>,
    pub left_out: Vec<LeftOut>,
    pub stats: Stats,
    /// Rows of one address that say different things: which value was kept, and why.
    pub disagreements: Vec<Disagreement>,
    /// Readers whose own choice (the preference page) was applied: address and what it said.
    pub choices_applied: Vec<(String, String)>,
    /// Where a list says otherwise than the reader's own choice, which is kept.
    pub overruled: Vec<Disagreement>,
}

/// Two rows for one address whose values differ: the first row (by the order of the
/// campaign's `lists`, then of the file) is kept; the other is named so it can be fixed.
#[derive(Debug, Clone)]
pub struct Disagreement {
    pub email: String,
    /// "language", "name" or "organisation".
    pub field: &'static str,
    pub kept: (String, String),
    pub other: (String, String),
}

/// Languages the message is written in: the contact's choice within the campaign's languages,
/// else what the config's fallback says. `Err` holds the reason the contact is left out.
fn languages_for(
    c: &Contact,
    campaign: &Campaign,
    config: &Config,
) -> Result<(Vec<String>, Option<String>), String> {
    let chosen: Vec<String> = c
        .languages()
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
    if !c.languages().codes.is_empty() {
        let asks = c.languages().codes.join("+");
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
    let note = if c.language_raw().trim().is_empty() {
        "no language given".to_string()
    } else {
        format!("language \"{}\" not supported", c.language_raw().trim())
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
/// Contacts are moved out of the lists, not copied, and sorted into recipients and left-outs
/// in place: a campaign may reach a million.
/// `suppressed`: the project's suppression list, address to reason. Those addresses are left
/// out whatever the campaign says.
pub fn select(
    config: &Config,
    campaign: &Campaign,
    mut lists: HashMap<String, ContactList>,
    updates: &Updates,
    suppressed: &HashMap<String, String>,
    choices: &HashMap<String, Choice>,
    erased: &crate::journal::Erased,
) -> Audience {
    let mut aud = Audience::default();
    let excluded = excluded_addresses(campaign, &lists);
    let mut merged = merge(campaign, &mut lists, &mut aud);
    drop(lists);
    let chosen = choices::apply(config, choices, suppressed, &mut merged, &mut aud);

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
    let rules = Rules {
        config,
        campaign,
        suppressed,
        excluded: &excluded,
        update_tags: &update_tags,
        chosen: &chosen,
        erased,
    };
    let mut shared = Shared::default();
    // Kept recipients move to the front of `merged`, in order; the rest leave it.
    let placeholder = Contact::made_up("", "", "", "", "");
    let mut kept = 0;
    for i in 0..merged.len() {
        match rules.decide(&merged[i].contact, &mut shared.languages) {
            Err((why, reason)) => {
                *aud.stats.left_out.entry(why.key()).or_default() += 1;
                let contact = std::mem::replace(&mut merged[i].contact, placeholder.clone());
                aud.left_out.push(LeftOut {
                    contact,
                    why,
                    reason: shared.reason(reason),
                });
            }
            Ok(chosen) => {
                let r = &mut merged[i];
                count_in(&mut aud.stats, campaign, r, &chosen);
                let (langs, language_note, updates) = chosen;
                r.profile = shared.profile(Profile {
                    langs,
                    updates,
                    lists: r.profile.lists.clone(),
                    language_note,
                });
                merged.swap(i, kept);
                kept += 1;
            }
        }
    }
    merged.truncate(kept);
    aud.recipients = merged;
    aud.stats.recipients = aud.recipients.len();
    aud
}

/// A kept recipient, counted in the statistics by language, interest, list and update.
fn count_in(s: &mut Stats, campaign: &Campaign, r: &Recipient, chosen: &Chosen) {
    let (langs, note, updates) = chosen;
    *s.by_language.entry(langs.join("+")).or_default() += 1;
    for t in r.contact.interests() {
        *s.by_interest.entry(t.clone()).or_default() += 1;
    }
    for l in &r.profile.lists {
        *s.by_list.entry(l.to_string()).or_default() += 1;
    }
    for &u in updates {
        *s.by_update.entry(campaign.updates[u].clone()).or_default() += 1;
    }
    if note
        .as_deref()
        .is_some_and(|n| n.starts_with(READERS_CHOICE))
    {
        s.readers_choices += 1;
    } else if let Some(n) = note {
        *s.language_fallbacks
            .entry(format!("{n} → {}", langs.join("+")))
            .or_default() += 1;
    }
}

/// The updates a contact's message carries: in a digest, those on their interests and the
/// general ones (no tags); otherwise all.
fn updates_for(
    campaign: &Campaign,
    update_tags: &[HashSet<&str>],
    contact: &Contact,
) -> Vec<usize> {
    if !campaign.digest {
        return (0..campaign.updates.len()).collect();
    }
    update_tags
        .iter()
        .enumerate()
        .filter(|(_, tags)| {
            tags.is_empty()
                || contact
                    .interests()
                    .iter()
                    .any(|i| tags.contains(i.as_str()))
        })
        .map(|(i, _)| i)
        .collect()
}

/// What recipients share, held once: the reading of each language cell, profiles, reasons.
#[derive(Default)]
struct Shared {
    /// Rows share their language cell, so its reading is worked out once per cell.
    languages: HashMap<*const crate::language::LanguageChoice, LanguageResult>,
    profiles: HashSet<Arc<Profile>>,
    reasons: HashSet<Arc<str>>,
}

impl Shared {
    fn reason(&mut self, s: String) -> Arc<str> {
        match self.reasons.get(s.as_str()) {
            Some(r) => Arc::clone(r),
            None => {
                let r: Arc<str> = s.into();
                self.reasons.insert(Arc::clone(&r));
                r
            }
        }
    }

    fn profile(&mut self, profile: Profile) -> Arc<Profile> {
        match self.profiles.get(&profile) {
            Some(p) => Arc::clone(p),
            None => {
                let p = Arc::new(profile);
                self.profiles.insert(Arc::clone(&p));
                p
            }
        }
    }
}

type LanguageResult = Result<(Vec<String>, Option<String>), String>;
/// A recipient's languages, the note on them, and the updates.
type Chosen = (Vec<String>, Option<String>, Vec<usize>);

/// Whether a contact is mailed: the message's languages, why they are not the contact's choice,
/// and its updates; or the reason it is left out.
#[allow(clippy::too_many_arguments)]
/// What decides whether a contact is mailed, and what: the campaign's audience and updates,
/// the suppression and exclusion lists.
struct Rules<'a> {
    config: &'a Config,
    campaign: &'a Campaign,
    suppressed: &'a HashMap<String, String>,
    excluded: &'a HashMap<String, Arc<str>>,
    /// The interests of each of the campaign's updates.
    update_tags: &'a [HashSet<&'a str>],
    /// Per address whose reader chose their own languages and topics, the day they did.
    chosen: &'a HashMap<String, String>,
    erased: &'a crate::journal::Erased,
}

impl Rules<'_> {
    /// A contact's languages and updates, or why they are left out.
    fn decide(
        &self,
        contact: &Contact,
        languages: &mut HashMap<*const crate::language::LanguageChoice, LanguageResult>,
    ) -> Result<Chosen, (Why, String)> {
        let Rules {
            config,
            campaign,
            suppressed,
            excluded,
            update_tags,
            chosen: readers,
            erased,
        } = *self;
        let a = &campaign.audience;
        if !erased.is_empty() {
            if let Some(at) = erased.when(contact.email()) {
                let day = crate::clock::from_ms(at).format("%Y-%m-%d");
                return Err((
                    Why::Erased,
                    format!(
                        "erased on {day}: remove from {}:{}",
                        contact.list(),
                        contact.line()
                    ),
                ));
            }
        }
        if let Some(reason) = suppressed.get(contact.email()) {
            let why = Why::Suppressed {
                reason: reason.as_str().into(),
            };
            return Err((why, format!("suppressed: {reason}")));
        }
        if let Some(list) = excluded.get(contact.email()) {
            let why = Why::Excluded { list: list.clone() };
            let key = why.key();
            return Err((why, key));
        }
        // Keyed by the shared reading of the cell, which the contact holds for as long as this runs.
        let key: *const crate::language::LanguageChoice = contact.languages();
        let (langs, mut note) = languages
            .entry(key)
            .or_insert_with(|| languages_for(contact, campaign, config))
            .clone()
            .map_err(|reason| (Why::Language, format!("language: {reason}")))?;
        if let Some(day) = readers.get(contact.email()) {
            note = Some(match note {
                None => format!("{READERS_CHOICE} of {day}"),
                Some(n) => format!("{READERS_CHOICE} of {day}; {n}"),
            });
        }
        let has = |t: &String| contact.interests().contains(t);
        if !a.interests_any.is_empty() && !a.interests_any.iter().any(has) {
            return Err((
                Why::Interests,
                format!("interests: none of {}", a.interests_any.join(", ")),
            ));
        }
        if !a.interests_all.is_empty() && !a.interests_all.iter().all(has) {
            return Err((
                Why::Interests,
                format!("interests: not all of {}", a.interests_all.join(", ")),
            ));
        }
        if let Some(t) = a.interests_none.iter().find(|t| has(t)) {
            return Err((
                Why::Interests,
                format!("interests: follows {t}, which this campaign leaves out"),
            ));
        }
        let chosen = updates_for(campaign, update_tags, contact);
        if chosen.is_empty() {
            let what = match readers.get(contact.email()) {
                Some(day) if contact.interests().is_empty() => {
                    format!("the reader chose no topics on {day}")
                }
                _ if contact.interests().is_empty() => "no interests given".to_string(),
                _ => contact.interests().join(", "),
            };
            return Err((
                Why::Digest,
                format!("digest: no update matches the contact's interests ({what})"),
            ));
        }
        Ok((langs, note, chosen))
    }
}
