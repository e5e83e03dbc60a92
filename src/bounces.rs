//! Bounces and mailed unsubscribes: an mbox file or a Maildir folder in, the suppression list
//! kept (hard bounces suppressed, soft ones counted, unsubscribe mails with a valid token
//! honoured) and a report out. Delivery status notifications are read as RFC 3464 defines them,
//! and, for relays that do not follow it (Exchange, Postfix's plain-text reports), from the
//! status code and address in their text; a VERP envelope (`bounces+KEY@...`) names the
//! recipient even when the report does not. Every message is recorded as seen, so running the
//! import again over the same mailbox counts nothing twice.

use std::collections::HashMap;
use std::path::Path;

use mail_parser::{MessageParser, MimeHeaders, PartType};

use crate::journal::{Journal, Suppression};
use crate::token::Secrets;
use crate::{Error, Result};

/// What one message of the mailbox turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// A permanent failure (5.x.x) for this address: suppressed.
    Hard { email: String, status: String },
    /// A temporary failure (4.x.x): counted.
    Soft { email: String, status: String },
    /// An unsubscribe mail whose subject holds a valid token.
    Unsubscribe { email: String, campaign: String },
    /// An unsubscribe mail without a valid token: for a person to decide.
    ToReview { from: String, subject: String },
    /// Neither a bounce nor an unsubscribe.
    Other,
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
    pub to_review: Vec<(String, String)>,
    /// Messages that could not be read, with where they are.
    pub unreadable: Vec<String>,
    pub other: usize,
}

/// One message of a mailbox (where it is, its bytes), or why it could not be read.
type Item = std::result::Result<(String, Vec<u8>), String>;

/// Reads every message of an mbox file or a Maildir folder, with a name saying where it is.
fn read_mailbox(path: &Path) -> Result<Vec<Item>> {
    let mut out = Vec::new();
    if path.is_dir() {
        let it = mail_parser::mailbox::maildir::MessageIterator::new(path)
            .map_err(|e| Error::io("read the Maildir", path, e))?;
        for m in it {
            out.push(
                m.map(|m| (m.path().display().to_string(), m.contents().to_vec()))
                    .map_err(|e| format!("{}: {e}", path.display())),
            );
        }
    } else {
        let f = std::fs::File::open(path).map_err(|e| Error::io("read the mbox", path, e))?;
        let it = mail_parser::mailbox::mbox::MessageIterator::new(std::io::BufReader::new(f));
        for (i, m) in it.enumerate() {
            out.push(
                m.map(|m| {
                    (
                        format!("{} (message {})", path.display(), i + 1),
                        m.unwrap_contents(),
                    )
                })
                .map_err(|_| {
                    format!(
                        "{} (message {}): not an mbox message",
                        path.display(),
                        i + 1
                    )
                }),
            );
        }
    }
    Ok(out)
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

/// Classifies one message. `verp` maps VERP keys to addresses; `sender_local` is the local part
/// of the envelope sender (`bounces` of `bounces+KEY@...`).
pub fn classify(
    raw: &[u8],
    secrets: Option<&Secrets>,
    verp: &HashMap<String, String>,
) -> std::result::Result<Vec<Finding>, String> {
    let m = MessageParser::default()
        .parse(raw)
        .ok_or("not a mail message")?;
    let subject = m.subject().unwrap_or("").to_string();
    // A mailed unsubscribe: "unsubscribe TOKEN" in the subject.
    if subject.to_lowercase().contains("unsubscribe") && !is_report(&m) {
        let named = secrets.and_then(|s| subject.split_whitespace().find_map(|w| s.open(w)));
        return Ok(vec![match named {
            Some(n) => Finding::Unsubscribe {
                email: n.email,
                campaign: n.campaign,
            },
            None => Finding::ToReview {
                from: m
                    .from()
                    .and_then(|a| a.first())
                    .and_then(|a| a.address())
                    .unwrap_or("")
                    .to_string(),
                subject,
            },
        }]);
    }
    if !is_report(&m) {
        return Ok(vec![Finding::Other]);
    }
    let mut pairs: Vec<(String, String)> = Vec::new();
    for part in &m.parts {
        let is_status = part.content_type().is_some_and(|ct| {
            ct.ctype().eq_ignore_ascii_case("message")
                && ct
                    .subtype()
                    .is_some_and(|s| s.eq_ignore_ascii_case("delivery-status"))
        });
        if is_status {
            let text = match &part.body {
                PartType::Text(t) => t.to_string(),
                PartType::Binary(b) | PartType::InlineBinary(b) => {
                    String::from_utf8_lossy(b).into_owned()
                }
                _ => String::new(),
            };
            pairs.extend(delivery_status(&text));
        }
    }
    // The VERP key names the recipient whatever the report says.
    let verp_rcpt = ["Delivered-To", "X-Original-To", "To"]
        .iter()
        .find_map(|h| {
            let v = m.header_raw(*h)?;
            let local = v
                .trim()
                .trim_matches(|c| c == '<' || c == '>')
                .split('@')
                .next()?;
            let key = local.split_once('+')?.1;
            verp.get(&key.to_lowercase()).cloned()
        });
    if pairs.is_empty() {
        // Not RFC 3464: read the status code and the address from the text of the report.
        let text: String = (0..4)
            .filter_map(|i| m.body_text(i))
            .collect::<Vec<_>>()
            .join("\n");
        let code = text.split_whitespace().find_map(status_code);
        let addrs = addresses_in(&text);
        let rcpt = verp_rcpt
            .clone()
            .or_else(|| (addrs.len() == 1).then(|| addrs[0].clone()));
        if let (Some(code), Some(rcpt)) = (code, rcpt) {
            pairs.push((rcpt, code));
        }
    } else if let Some(v) = &verp_rcpt {
        // A mangled report that names the wrong address: the envelope knows better.
        for p in &mut pairs {
            p.0 = v.clone();
        }
    }
    if pairs.is_empty() {
        return Err("a delivery report, but no recipient and status could be read from it".into());
    }
    Ok(pairs
        .into_iter()
        .filter_map(|(email, status)| match status.as_bytes()[0] {
            b'5' => Some(Finding::Hard { email, status }),
            b'4' => Some(Finding::Soft { email, status }),
            _ => None,
        })
        .collect())
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
    let verp = journal.verp_keys()?;
    let mut r = Report::default();
    let now = crate::clock::now_ms();
    for item in read_mailbox(path)? {
        r.messages += 1;
        let (where_, raw) = match item {
            Ok(x) => x,
            Err(e) => {
                r.unreadable.push(e);
                continue;
            }
        };
        let id = MessageParser::default()
            .parse(&raw)
            .and_then(|m| m.message_id().map(str::to_string))
            .unwrap_or_else(|| crate::digest::of([raw.as_slice()]));
        if journal.seen(&id)? {
            r.already_seen += 1;
            continue;
        }
        // An unreadable message is not marked as seen: it is reported again next time.
        let findings = match classify(&raw, secrets, &verp) {
            Ok(f) => f,
            Err(e) => {
                r.unreadable.push(format!("{where_}: {e}"));
                continue;
            }
        };
        for f in findings {
            match f {
                Finding::Hard { email, .. } => {
                    r.hard += 1;
                    journal.suppress(&Suppression {
                        email,
                        reason: "bounced".into(),
                        source: "bounce".into(),
                        campaign: None,
                        at_ms: now,
                    })?;
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
                Finding::ToReview { from, subject } => r.to_review.push((from, subject)),
                Finding::Other => r.other += 1,
            }
        }
        // Marked after its findings are applied: a run killed in between applies them again
        // next time, which changes nothing (each is idempotent).
        journal.first_sight(&id, now)?;
    }
    Ok(r)
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
