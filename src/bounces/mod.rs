//! Bounces and mailed unsubscribes: an mbox file or a Maildir folder in, the suppression list
//! kept and a report out. The bounce address is public, so anyone can write to it: a report
//! changes the list only for an address it ties to a message this journal recorded sending
//! there, by the VERP bounce address it came back to (`bounces+TAG@...`) or by the Message-ID
//! of the returned message, whose tags only the journal's bounce key makes (see
//! [`crate::digest::recipient_tag`]). A hard bounce so tied suppresses, a soft one counts;
//! an unsubscribe mail with a valid token suppresses. Everything else that asks for a change is
//! kept on a review list with the reason, for a person. Delivery status notifications are read
//! as RFC 3464 defines them and, for relays that do not follow it (Exchange, Postfix's
//! plain-text reports), from the status code and address in their text. A message is recorded
//! as imported only once what it asks has been applied or put on the review list, so an
//! import run twice counts nothing twice, and one run without the token secret loses nothing.

mod mailbox;

use std::collections::HashMap;
use std::path::Path;

use mail_parser::{MessageParser, MimeHeaders, PartType};

use crate::journal::{Journal, Suppression};
use crate::token::Secrets;
use crate::Result;

/// What one message of the mailbox asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// A permanent failure (5.x.x) of a message sent to this address: suppressed.
    Hard {
        email: String,
        status: String,
        /// The campaign whose message it returned, as the tie says.
        campaign: Option<String>,
    },
    /// A temporary failure (4.x.x): counted.
    Soft { email: String, status: String },
    /// An unsubscribe mail whose subject holds a valid token.
    Unsubscribe { email: String, campaign: String },
    /// For a person to decide: who it is about, and why it was not applied.
    Review { who: String, reason: String },
    /// Cannot be decided now: the message is left for the next import.
    Later { reason: String },
    /// Cannot be read: reported with why, and read again by the next import.
    Unreadable { reason: String },
    /// Neither a bounce nor an unsubscribe.
    Other,
}

/// One item of the review list, as an import found it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ToReview {
    pub place: String,
    pub who: String,
    pub reason: String,
}

/// The report of an import.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Report {
    pub messages: usize,
    pub already_seen: usize,
    pub hard: usize,
    pub soft: usize,
    /// Addresses suppressed after soft bounces in enough consecutive campaigns.
    pub soft_suppressed: usize,
    pub unsubscribed: usize,
    pub to_review: Vec<ToReview>,
    /// Messages left for a later import, with why.
    pub later: Vec<(String, String)>,
    /// Messages that could not be read, with where they are.
    pub unreadable: Vec<String>,
    /// Maildir entries that are symbolic links, skipped.
    pub links_skipped: Vec<String>,
    pub other: usize,
}

/// What ties a report to the journal: the journal's bounce key, and the journal to look in.
pub struct Ties<'a> {
    pub journal: &'a Journal,
    pub key: Vec<u8>,
    /// Every recipient's tag, made the first time a report names only a tag.
    all: Option<HashMap<String, (String, String)>>,
}

impl<'a> Ties<'a> {
    pub fn new(journal: &'a Journal) -> Result<Ties<'a>> {
        Ok(Ties {
            journal,
            key: journal.bounce_key()?,
            all: None,
        })
    }

    /// The campaign of a message this journal sent to `email` that one of `marks` (tags from
    /// the bounce address and the returned Message-IDs) names.
    fn campaign_for(&self, email: &str, marks: &Marks) -> Result<Option<String>> {
        for (campaign, tag) in &marks.message_ids {
            if &crate::digest::recipient_tag(&self.key, campaign, email) == tag
                && self.journal.was_sent_to(campaign, email)?
            {
                return Ok(Some(campaign.clone()));
            }
        }
        if let Some(tag) = &marks.verp {
            for campaign in self.journal.campaigns_of(email)? {
                if &crate::digest::recipient_tag(&self.key, &campaign, email) == tag {
                    return Ok(Some(campaign));
                }
            }
        }
        Ok(None)
    }

    /// The recipient a tag names, when the report names nobody of ours.
    fn recipient_of(&mut self, tag: &str) -> Result<Option<(String, String)>> {
        if self.all.is_none() {
            self.all = Some(self.journal.recipient_tags(&self.key)?);
        }
        Ok(self.all.as_ref().and_then(|m| m.get(tag).cloned()))
    }
}

/// The tags a report carries: of its VERP bounce address, and of the Message-IDs of the
/// returned message (campaign, tag).
#[derive(Debug, Default)]
struct Marks {
    verp: Option<String>,
    message_ids: Vec<(String, String)>,
}

/// An RFC 3463 status code (`5.1.1`) at the start of `word`.
fn status_code(word: &str) -> Option<String> {
    let w = word.trim_matches(|c: char| !c.is_ascii_alphanumeric() && c != '.');
    let mut parts = w.split('.');
    let (a, b, c) = (parts.next()?, parts.next()?, parts.next()?);
    let ok = matches!(a, "2" | "4" | "5")
        && !b.is_empty()
        && b.len() <= 3
        && b.bytes().all(|x| x.is_ascii_digit())
        && !c.is_empty()
        && c.len() <= 3
        && c.bytes().all(|x| x.is_ascii_digit())
        && parts.next().is_none();
    ok.then(|| w.to_string())
}

/// Addresses written in a text (`<a@b.org>`, `rfc822; a@b.org`, or bare).
fn addresses_in(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for w in text.split(|c: char| {
        c.is_whitespace() || matches!(c, '<' | '>' | ';' | ',' | '(' | ')' | '"' | '\'' | ':')
    }) {
        if w.contains('@') {
            if let Ok(a) = crate::address::check(w.trim_end_matches('.')) {
                if !out.contains(&a) {
                    out.push(a);
                }
            }
        }
    }
    out
}

/// The (recipient, status) pairs of an RFC 3464 `message/delivery-status` body.
fn delivery_status(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    // Per-recipient fields come in blocks separated by blank lines.
    for block in text.replace("\r\n", "\n").split("\n\n") {
        let field = |name: &str| {
            block.lines().find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.trim()
                    .eq_ignore_ascii_case(name)
                    .then(|| v.trim().to_string())
            })
        };
        let (Some(rcpt), Some(status)) = (
            field("Final-Recipient").or_else(|| field("Original-Recipient")),
            field("Status"),
        ) else {
            continue;
        };
        let addr = rcpt
            .split_once(';')
            .map_or(rcpt.as_str(), |(_, a)| a)
            .trim();
        if let (Ok(a), Some(s)) = (crate::address::check(addr), status_code(&status)) {
            out.push((a, s));
        }
    }
    out
}

/// Classifies one message. A message that cannot be read is a finding; a journal that cannot
/// be read is an error, which stops the import.
pub fn classify(raw: &[u8], secrets: Option<&Secrets>, ties: &mut Ties) -> Result<Vec<Finding>> {
    let Some(m) = MessageParser::default().parse(raw) else {
        return Ok(vec![Finding::Unreadable {
            reason: "not a mail message".into(),
        }]);
    };
    let subject = m.subject().unwrap_or("").to_string();
    let from = m
        .from()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .unwrap_or("")
        .to_string();
    if !is_report(&m) {
        if subject.to_lowercase().contains("unsubscribe") {
            return Ok(vec![unsubscribe_request(&subject, from, secrets)]);
        }
        return Ok(vec![Finding::Other]);
    }
    let (pairs, text) = recipients_and_statuses(&m);
    let out = tie(pairs, &text, &from, &marks_of(&m), ties)?;
    if out.is_empty() {
        return Ok(vec![Finding::Unreadable {
            reason: "a delivery report, but no recipient and status could be read from it".into(),
        }]);
    }
    Ok(out)
}

/// A mailed unsubscribe: "unsubscribe TOKEN" in the subject.
fn unsubscribe_request(subject: &str, from: String, secrets: Option<&Secrets>) -> Finding {
    let Some(secrets) = secrets else {
        // Whether its token is valid cannot be known now: the next import, with the
        // secret, decides. A subject with nothing like a token is for a person already.
        let tokenish = subject.split_whitespace().any(|w| w.len() >= 40);
        return if tokenish {
            Finding::Later {
                reason: "an unsubscribe mail with a token, and the token secret is not at hand: import again with it".into(),
            }
        } else {
            Finding::Review {
                who: from,
                reason: format!("an unsubscribe request without a token (subject {subject:?}): take the address off the lists by hand if it is on them"),
            }
        };
    };
    match subject.split_whitespace().find_map(|w| secrets.open(w)) {
        Some(n) => Finding::Unsubscribe {
            email: n.email,
            campaign: n.campaign,
        },
        None => Finding::Review {
            who: from,
            reason: format!("an unsubscribe request without a valid token (subject {subject:?}): take the address off the lists by hand if it is on them"),
        },
    }
}

/// Who a report names, with their status codes, and whether they were read from its text
/// (not RFC 3464) rather than from a delivery-status part.
struct Named {
    pairs: Vec<(String, String)>,
    from_text: bool,
}

/// Who a report names, and its text (which `tie` reads a status code from when the
/// delivery-status part has none).
fn recipients_and_statuses(m: &mail_parser::Message) -> (Named, String) {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for part in &m.parts {
        if has_type(part, "message", "delivery-status") {
            pairs.extend(delivery_status(&part_text(part)));
        }
    }
    let text: String = (0..4)
        .filter_map(|i| m.body_text(i))
        .collect::<Vec<_>>()
        .join("\n");
    // Not RFC 3464: the status code and the addresses from the text of the report, which
    // also quotes others (the sender's own): only those tied below count.
    let from_text = pairs.is_empty();
    if from_text {
        if let Some(code) = text.split_whitespace().find_map(status_code) {
            for a in addresses_in(&text) {
                pairs.push((a, code.clone()));
            }
        }
    }
    (Named { pairs, from_text }, text)
}

/// What a report may change: the named addresses it ties to a message of ours, and for a
/// person the ones it does not.
fn tie(
    named: Named,
    text: &str,
    from: &str,
    marks: &Marks,
    ties: &mut Ties,
) -> Result<Vec<Finding>> {
    let mut out = Vec::new();
    let mut untied = Vec::new();
    for (email, status) in named.pairs {
        match ties.campaign_for(&email, marks)? {
            Some(campaign) => out.push(found(email, status, Some(campaign))),
            None => untied.push((email, status)),
        }
    }
    if out.is_empty() {
        // A mangled report that names nobody of ours: the bounce address it came back to
        // still says who the message was for.
        let verp = match &marks.verp {
            Some(tag) => ties.recipient_of(tag)?,
            None => None,
        };
        let code = untied
            .first()
            .map(|(_, s)| s.clone())
            .or_else(|| text.split_whitespace().find_map(status_code));
        if let (Some((campaign, email)), Some(status)) = (verp, code) {
            out.push(found(email, status, Some(campaign)));
            untied.clear();
        }
    }
    let unproven = |status: &str| {
        format!("a delivery report ({status}) from {from:?} names this address, but nothing ties it to a message this journal sent there (no VERP bounce address or returned Message-ID of ours): not applied")
    };
    if named.from_text && out.is_empty() && !untied.is_empty() {
        let who: Vec<&str> = untied.iter().map(|(e, _)| e.as_str()).collect();
        out.push(Finding::Review {
            who: who.join(", "),
            reason: unproven(&untied[0].1),
        });
    } else if !named.from_text {
        for (email, status) in untied {
            out.push(Finding::Review {
                who: email,
                reason: unproven(&status),
            });
        }
    }
    Ok(out)
}

fn found(email: String, status: String, campaign: Option<String>) -> Finding {
    if status.starts_with('5') {
        Finding::Hard {
            email,
            status,
            campaign,
        }
    } else {
        Finding::Soft { email, status }
    }
}

fn has_type(part: &mail_parser::MessagePart, ctype: &str, sub: &str) -> bool {
    part.content_type().is_some_and(|ct| {
        ct.ctype().eq_ignore_ascii_case(ctype)
            && ct.subtype().is_some_and(|s| s.eq_ignore_ascii_case(sub))
    })
}

fn part_text(part: &mail_parser::MessagePart) -> String {
    match &part.body {
        PartType::Text(t) => t.to_string(),
        PartType::Binary(b) | PartType::InlineBinary(b) => String::from_utf8_lossy(b).into_owned(),
        _ => String::new(),
    }
}

/// The tags a report carries: the VERP tag of the address it was delivered to, and those of
/// the Message-IDs of the message it returns (attached whole, as its headers, or quoted in
/// the text, as Exchange and Postfix's plain reports do).
fn marks_of(m: &mail_parser::Message) -> Marks {
    let verp = ["Delivered-To", "X-Original-To", "To"]
        .iter()
        .find_map(|h| {
            let v = m.header_raw(*h)?;
            let local = v
                .trim()
                .trim_matches(|c| c == '<' || c == '>')
                .split('@')
                .next()?;
            Some(local.split_once('+')?.1.to_lowercase())
        });
    let mut marks = Marks {
        verp,
        message_ids: Vec::new(),
    };
    let mut ids: Vec<String> = Vec::new();
    for part in &m.parts {
        if let PartType::Message(inner) = &part.body {
            ids.extend(inner.message_id().map(|i| format!("<{i}>")));
        }
        if has_type(part, "text", "rfc822-headers") || has_type(part, "text", "plain") {
            ids.extend(quoted_message_ids(&part_text(part)));
        }
    }
    for id in ids {
        if let Some((campaign, tag)) = crate::compose::tag_of_message_id(&id) {
            let pair = (campaign.to_string(), tag.to_lowercase());
            if !marks.message_ids.contains(&pair) {
                marks.message_ids.push(pair);
            }
        }
    }
    marks
}

/// `Message-ID: <...>` lines in a text.
fn quoted_message_ids(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| {
            let (k, v) = l.trim_start_matches('>').trim().split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case("message-id")
                .then(|| v.trim().to_string())
        })
        .filter(|v| v.starts_with('<') && v.ends_with('>'))
        .collect()
}

/// Whether a message is a delivery report: RFC 3464's multipart/report, or a relay's own
/// non-standard notice (from MAILER-DAEMON or postmaster, or titled so).
fn is_report(m: &mail_parser::Message) -> bool {
    let ct = m.content_type();
    let report = ct.is_some_and(|c| {
        c.ctype().eq_ignore_ascii_case("multipart")
            && c.subtype()
                .is_some_and(|s| s.eq_ignore_ascii_case("report"))
    });
    let from = m
        .from()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .unwrap_or("")
        .to_lowercase();
    let subject = m.subject().unwrap_or("").to_lowercase();
    report
        || from.starts_with("mailer-daemon")
        || from.starts_with("postmaster")
        || [
            "undeliverable",
            "delivery status notification",
            "returned mail",
            "undelivered mail",
            "delivery failure",
        ]
        .iter()
        .any(|w| subject.contains(w))
}

/// Imports a mailbox: each message seen once, findings applied to the journal.
pub fn import(
    path: &Path,
    journal: &Journal,
    secrets: Option<&Secrets>,
    soft_limit: u32,
) -> Result<Report> {
    let mut ties = Ties::new(journal)?;
    let mut r = Report::default();
    let now = crate::clock::now_ms();
    let mut skipped = mailbox::Skipped::default();
    mailbox::for_each(path, &mut skipped, |item| {
        r.messages += 1;
        let raw = match item.bytes {
            Ok(b) => b,
            Err(e) => {
                r.unreadable.push(e);
                return Ok(());
            }
        };
        let id = MessageParser::default()
            .parse(&raw)
            .and_then(|m| m.message_id().map(str::to_string))
            .unwrap_or_else(|| crate::digest::of([raw.as_slice()]));
        if journal.seen(&id)? {
            r.already_seen += 1;
            return Ok(());
        }
        // An unreadable message, or one left for later, is not marked as seen: the next
        // import reads it again.
        let findings = classify(&raw, secrets, &mut ties)?;
        for f in &findings {
            match f {
                Finding::Unreadable { reason } => {
                    r.unreadable.push(format!("{}: {reason}", item.place));
                    return Ok(());
                }
                Finding::Later { reason } => {
                    r.later.push((item.place, reason.clone()));
                    return Ok(());
                }
                _ => {}
            }
        }
        for f in findings {
            apply(journal, &mut r, f, &id, &item.place, now, soft_limit)?;
        }
        // Marked after its findings are applied: a run killed in between applies them again
        // next time, which changes nothing (each is idempotent).
        journal.first_sight(&id, now)?;
        Ok(())
    })?;
    r.links_skipped = skipped
        .links
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    Ok(r)
}

fn apply(
    journal: &Journal,
    r: &mut Report,
    f: Finding,
    id: &str,
    place: &str,
    now: i64,
    soft_limit: u32,
) -> Result<()> {
    match f {
        Finding::Hard {
            email,
            status,
            campaign,
        } => {
            r.hard += 1;
            let new = journal.suppress(&Suppression {
                email: email.clone(),
                reason: "bounced".into(),
                source: "bounce".into(),
                campaign,
                at_ms: now,
            })?;
            if new {
                journal
                    .note_evidence(&email, &format!("status {status}, report {id} in {place}"))?;
            }
        }
        Finding::Soft { email, .. } => {
            r.soft += 1;
            if journal.soft_bounce(&email, now, soft_limit)? {
                r.soft_suppressed += 1;
            }
        }
        Finding::Unsubscribe { email, campaign } => {
            r.unsubscribed += 1;
            journal.suppress(&Suppression {
                email,
                reason: "unsubscribed".into(),
                source: "mailto".into(),
                campaign: Some(campaign),
                at_ms: now,
            })?;
        }
        Finding::Review { who, reason } => {
            journal.add_review(id, &who, &reason, place, now)?;
            r.to_review.push(ToReview {
                place: place.to_string(),
                who,
                reason,
            });
        }
        Finding::Later { .. } | Finding::Unreadable { .. } => {}
        Finding::Other => r.other += 1,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_and_addresses_are_read_from_text() {
        assert_eq!(status_code("5.1.1"), Some("5.1.1".into()));
        assert_eq!(status_code("(4.2.2)"), Some("4.2.2".into()));
        assert_eq!(status_code("1.2.3"), None);
        assert_eq!(status_code("5.1"), None);
        assert_eq!(
            addresses_in("<Jane@Example.org>: host said: 550 5.1.1 user unknown"),
            vec!["jane@example.org".to_string()]
        );
    }

    #[test]
    fn rfc3464_blocks() {
        let text = "Reporting-MTA: dns; mx.example.net\n\nFinal-Recipient: rfc822; a@example.org\nAction: failed\nStatus: 5.1.1\n\nFinal-Recipient: rfc822;b@example.org\nAction: delayed\nStatus: 4.4.1\n";
        assert_eq!(
            delivery_status(text),
            vec![
                ("a@example.org".into(), "5.1.1".into()),
                ("b@example.org".into(), "4.4.1".into())
            ]
        );
    }
}
