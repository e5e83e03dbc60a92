//! Clearance: a prepared campaign in, what an approval binds out (the digest of each input of
//! its messages, and of each list file it reads) and where the campaign stands against the
//! journal's approvals. An approval holds only for the hash it was given: any change to an
//! update, the campaign file, the templates, the attachments or a list makes it stale, and the
//! refusal names what changed and how the audience moved.

use std::collections::BTreeMap;

use crate::journal::{Approved, Journal};
use crate::project::Prepared;
use crate::Result;

/// What an approval of this campaign, now, would bind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    pub hash: String,
    /// Each input's digest, by a name a person reads ("update 2026-11-x (fr)", "list a.csv").
    pub parts: BTreeMap<String, String>,
    /// Recipients, in all and per language.
    pub counts: BTreeMap<String, usize>,
}

/// Where a campaign stands.
#[derive(Debug, Clone)]
pub enum Standing {
    /// The project asks for no approval.
    NotRequired,
    /// Approved as it is now (the latest approval of this hash).
    Approved(Approved),
    /// Never approved.
    Missing,
    /// Approved once, changed since: what changed, and how the audience moved.
    Stale {
        last: Approved,
        changed: Vec<String>,
        moved: Vec<String>,
    },
}

impl Binding {
    pub fn of(p: &Prepared) -> Result<Binding> {
        let mut parts = BTreeMap::new();
        parts.insert(
            "campaign file".to_string(),
            p.campaign.content_digest.clone(),
        );
        for slug in &p.campaign.updates {
            for (lang, u) in p.updates.by_slug.get(slug).into_iter().flatten() {
                let json = serde_json::to_string(u).unwrap_or_default();
                parts.insert(
                    format!("update {slug} ({lang})"),
                    crate::digest::of([json.as_bytes()]),
                );
            }
        }
        parts.insert(
            "templates and strings".to_string(),
            p.renderer.sources_digest().to_string(),
        );
        parts.insert("attachments".to_string(), p.attachments.digest());
        parts.insert(
            "config (sender, languages, links, lists)".to_string(),
            config_digest(p)?,
        );
        for l in &p.lists {
            // Sign-ups come and go between approval and sending: the list of them is the
            // form's, not the team's, and is left out.
            if l.name == crate::campaign::SUBSCRIBERS {
                continue;
            }
            let bytes = std::fs::read(&l.path).map_err(|e| crate::Error::io("read", &l.path, e))?;
            parts.insert(
                format!("list {}", l.name),
                crate::digest::of([bytes.as_slice()]),
            );
        }
        let mut counts = BTreeMap::new();
        counts.insert("recipients".to_string(), p.audience.stats.recipients);
        for (lang, n) in &p.audience.stats.by_language {
            counts.insert(format!("language {lang}"), *n);
        }
        let joined: Vec<String> = parts.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let hash = crate::digest::of(joined.iter().map(|s| s.as_bytes()));
        Ok(Binding {
            hash,
            parts,
            counts,
        })
    }

    /// The approval record of this binding.
    pub fn approved(
        &self,
        campaign: &str,
        by: &str,
        note: Option<&str>,
        at_ms: i64,
        source: &str,
    ) -> Approved {
        Approved {
            campaign: campaign.to_string(),
            hash: self.hash.clone(),
            by: by.to_string(),
            note: note.map(str::to_string),
            at_ms,
            source: source.to_string(),
            parts: self.parts.clone(),
            counts: self.counts.clone(),
        }
    }
}

/// The config as it shapes what goes out, and to whom: the sender and the footer's address,
/// the languages and their fallback, the links, how lists are read. The sections about how and
/// when it goes (relays, rates, schedule, serve, bounces, keys, approval itself) are left out:
/// a new relay password must not ask for a new approval.
fn config_digest(p: &Prepared) -> Result<String> {
    const HOW_AND_WHEN: [&str; 9] = [
        "smtp", "rate", "schedule", "serve", "bounces", "dkim", "approval", "signup", "limits",
    ];
    let text = std::fs::read_to_string(&p.config.file)
        .map_err(|e| crate::Error::io("read", &p.config.file, e))?;
    let mut table: toml::Table = text.parse().unwrap_or_default();
    for key in HOW_AND_WHEN {
        table.remove(key);
    }
    let canonical = toml::to_string(&table).unwrap_or_default();
    Ok(crate::digest::of([canonical.as_bytes()]))
}

/// Where `p` stands against the approvals `journal` holds (none without a journal).
pub fn standing(p: &Prepared, journal: Option<&Journal>) -> Result<Standing> {
    if !p.config.approval.as_ref().is_some_and(|a| a.required) {
        return Ok(Standing::NotRequired);
    }
    let approvals = match journal {
        Some(j) => j.approvals(&p.campaign.id)?,
        None => Vec::new(),
    };
    let now = Binding::of(p)?;
    if let Some(a) = approvals.iter().rev().find(|a| a.hash == now.hash) {
        return Ok(Standing::Approved(a.clone()));
    }
    let Some(last) = approvals.last().cloned() else {
        return Ok(Standing::Missing);
    };
    let mut changed: Vec<String> = now
        .parts
        .iter()
        .filter(|(k, v)| last.parts.get(*k) != Some(*v))
        .map(|(k, _)| {
            if last.parts.contains_key(k) {
                format!("{k} changed")
            } else {
                format!("{k} added")
            }
        })
        .collect();
    changed.extend(
        last.parts
            .keys()
            .filter(|k| !now.parts.contains_key(*k))
            .map(|k| format!("{k} removed")),
    );
    let keys: std::collections::BTreeSet<&String> =
        now.counts.keys().chain(last.counts.keys()).collect();
    let moved = keys
        .into_iter()
        .filter_map(|k| {
            let (a, b) = (
                last.counts.get(k).copied().unwrap_or(0),
                now.counts.get(k).copied().unwrap_or(0),
            );
            (a != b).then(|| format!("{k}: {a} → {b}"))
        })
        .collect();
    Ok(Standing::Stale {
        last,
        changed,
        moved,
    })
}

fn day(ms: i64) -> String {
    crate::clock::from_ms(ms)
        .format("%Y-%m-%d %H:%M UTC")
        .to_string()
}

impl Standing {
    /// Why a send must not go, when it must not.
    pub fn refusal(&self, campaign: &str) -> Option<String> {
        match self {
            Standing::NotRequired | Standing::Approved(_) => None,
            Standing::Missing => Some(format!(
                "{campaign} is not approved, and [approval] requires it: `bulletin approve {campaign} --by NAME` (or `--request` to mail the approvers)"
            )),
            Standing::Stale { last, changed, moved } => {
                let mut why = changed.join(", ");
                if !moved.is_empty() {
                    why.push_str(&format!("; audience {}", moved.join(", ")));
                }
                Some(format!(
                    "{campaign} changed since {} approved it on {}: {why}. Approve this version: `bulletin approve {campaign} --by NAME`",
                    last.by,
                    day(last.at_ms)
                ))
            }
        }
    }

    /// One line for `status` and the preview's index.
    pub fn line(&self) -> Option<String> {
        match self {
            Standing::NotRequired => None,
            Standing::Approved(a) => Some(format!(
                "approved by {} on {} ({}{})",
                a.by,
                day(a.at_ms),
                if a.source == "link" {
                    "by the mailed link"
                } else {
                    "by command"
                },
                a.note
                    .as_deref()
                    .map(|n| format!(": {n}"))
                    .unwrap_or_default()
            )),
            Standing::Missing => Some("not approved yet".into()),
            Standing::Stale { last, .. } => Some(format!(
                "approved by {} on {}, but changed since: approve again before sending",
                last.by,
                day(last.at_ms)
            )),
        }
    }
}
