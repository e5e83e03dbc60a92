//! The campaign's lists made one audience: one recipient per address, a contact on several
//! lists merged into the first row of it (what rows disagree on noted), and the addresses of
//! the exclusion lists.

use std::collections::HashMap;
use std::hash::BuildHasher as _;
use std::sync::Arc;

use super::{Audience, Disagreement, Profile, Recipient};
use crate::campaign::Campaign;
use crate::contacts::{Contact, ContactList};

/// What `later`, a later row for the address of `first`, says differently from it.
pub(super) fn disagreements(first: &Contact, later: &Contact) -> Vec<Disagreement> {
    let mut out = Vec::new();
    let at = |c: &Contact| format!("{}:{}", c.list(), c.line());
    // A cell as read: its supported codes, else the words it holds ("es").
    let lang = |c: &Contact| {
        let l = c.languages();
        if l.codes.is_empty() {
            l.unsupported.join("+")
        } else {
            l.codes.join("+")
        }
    };
    let pairs = [
        (
            "language",
            lang(first),
            lang(later),
            first.language_raw(),
            later.language_raw(),
        ),
        ("name", first.display_name(), later.display_name(), "", ""),
        (
            "organisation",
            first.organisation().to_string(),
            later.organisation().to_string(),
            "",
            "",
        ),
    ];
    for (field, a, b, raw_a, raw_b) in pairs {
        if a.is_empty() || b.is_empty() || a.to_lowercase() == b.to_lowercase() {
            continue;
        }
        let shown = |v: &str, raw: &str| {
            if raw.is_empty() || raw == v {
                v.to_string()
            } else {
                format!("{raw} ({v})")
            }
        };
        out.push(Disagreement {
            email: first.email().to_string(),
            field,
            kept: (shown(&a, raw_a), at(first)),
            other: (shown(&b, raw_b), at(later)),
        });
    }
    out
}

/// The addresses of the campaign's exclusion lists, each with the list that holds it first.
pub(super) fn excluded_addresses(
    campaign: &Campaign,
    lists: &HashMap<String, ContactList>,
) -> HashMap<String, Arc<str>> {
    let mut excluded: HashMap<String, Arc<str>> = HashMap::new();
    for name in &campaign.audience.exclude {
        if let Some(list) = lists.get(name) {
            for c in &list.contacts {
                excluded
                    .entry(c.email().to_string())
                    .or_insert_with(|| list.name.clone());
            }
        }
    }
    excluded
}

/// The contacts of the campaign's lists, one per address: a contact on several lists is merged
/// into the first row of it (what rows disagree on is noted).
pub(super) fn merge(
    campaign: &Campaign,
    lists: &mut HashMap<String, ContactList>,
    aud: &mut Audience,
) -> Vec<Recipient> {
    let total: usize = campaign
        .audience
        .lists
        .iter()
        .filter_map(|n| lists.get(n))
        .map(|l| l.contacts.len())
        .sum();
    let mut merged: Vec<Recipient> = Vec::with_capacity(total);
    // The address of each merged recipient, by its place in `merged`: exact, and four bytes a
    // contact where a map of addresses would copy each one.
    let hasher = std::hash::RandomState::new();
    let mut index: hashbrown::HashTable<u32> = hashbrown::HashTable::with_capacity(total);
    for name in &campaign.audience.lists {
        let Some(list) = lists.get_mut(name) else {
            continue;
        };
        let only_this = Arc::new(Profile {
            lists: vec![list.name.clone()],
            ..Default::default()
        });
        for c in std::mem::take(&mut list.contacts) {
            aud.stats.contacts_read += 1;
            let hash = hasher.hash_one(c.email());
            let found = index.find(hash, |&i| merged[i as usize].contact.email() == c.email());
            match found {
                Some(&i) => {
                    aud.stats.duplicates_merged += 1;
                    let m = &mut merged[i as usize];
                    aud.disagreements.extend(disagreements(&m.contact, &c));
                    m.contact.merge(&c);
                    if !m.profile.lists.contains(c.list()) {
                        Arc::make_mut(&mut m.profile).lists.push(c.list().clone());
                    }
                }
                None => {
                    let i = merged.len() as u32;
                    index.insert_unique(hash, i, |&j| {
                        hasher.hash_one(merged[j as usize].contact.email())
                    });
                    merged.push(Recipient {
                        contact: c,
                        profile: Arc::clone(&only_this),
                    });
                }
            }
        }
    }
    merged
}
