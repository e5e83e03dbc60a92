//! The audience as people read it: the report `bulletin audience` prints, and its CSV.

use std::collections::BTreeMap;

use super::Audience;
use crate::campaign::Campaign;
use crate::text::count;

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
    if !aud.disagreements.is_empty() {
        o.push_str(&format!(
            "  rows that disagree ({}; the first row is kept, by the order of the campaign's lists, then of the file; fix the other to match):\n",
            aud.disagreements.len()
        ));
        for d in &aud.disagreements {
            o.push_str(&format!(
                "    {}  {}: \"{}\" from {} kept over \"{}\" from {}\n",
                d.email, d.field, d.kept.0, d.kept.1, d.other.0, d.other.1
            ));
        }
    }
    if !aud.choices_applied.is_empty() {
        o.push_str(&format!(
            "  the reader's own choice ({}; set on the preference page, it beats the lists):\n",
            aud.choices_applied.len()
        ));
        for (email, what) in &aud.choices_applied {
            o.push_str(&format!("    {email}  {what}\n"));
        }
    }
    if !aud.overruled.is_empty() {
        o.push_str(&format!(
            "  lists that disagree with their reader's choice ({}; the reader's is kept: carry it into your CRM, `bulletin preferences export`):\n",
            aud.overruled.len()
        ));
        for d in &aud.overruled {
            o.push_str(&format!(
                "    {}  {}: \"{}\" ({}) kept over \"{}\" from {}\n",
                d.email, d.field, d.kept.0, d.kept.1, d.other.0, d.other.1
            ));
        }
    }
    if !aud.left_out.is_empty() {
        o.push_str(&format!("  left out ({}):\n", counts(&s.left_out)));
        for l in &aud.left_out {
            o.push_str(&format!(
                "    {}:{}  {}  {}\n",
                l.contact.list(),
                l.contact.line(),
                l.contact.email(),
                l.reason
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
            r.contact.email(),
            &r.contact.display_name(),
            &r.langs.join("+"),
            &r.contact.interests().join(";"),
            &lists.join(";"),
            &updates.join(";"),
            r.language_note.as_deref().unwrap_or(""),
        ])?;
    }
    w.flush()?;
    Ok(())
}
