//! The project's suppression list, kept in the journal: addresses that must never be mailed
//! again, each with why (unsubscribed, bounced, complained, manual), how it came (link, mailto,
//! bounce, relay, import, command), the campaign it came from and when; and a log of every
//! addition and removal, so that a team can show who left, when, and that nobody was mailed since.

use rusqlite::{params, OptionalExtension};
use serde::Serialize;

use super::Journal;
use crate::Result;

pub const REASONS: [&str; 4] = ["unsubscribed", "bounced", "complained", "manual"];
pub const SOURCES: [&str; 6] = ["link", "mailto", "bounce", "relay", "import", "command"];

/// Adds an address to the list unless it is there (the first record stands).
pub(super) const INSERT: &str = "INSERT OR IGNORE INTO suppressions (email, reason, source, campaign, at_ms) VALUES (?1, ?2, ?3, ?4, ?5)";
/// Logs an addition, after [`INSERT`] added a row.
pub(super) const LOG_ADD: &str = "INSERT INTO suppression_log (email, action, reason, source, campaign, at_ms) VALUES (?1, 'add', ?2, ?3, ?4, ?5)";

/// One suppressed address.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Suppression {
    pub email: String,
    pub reason: String,
    pub source: String,
    pub campaign: Option<String>,
    pub at_ms: i64,
}

impl Journal {
    /// Suppresses an address; the first record of it stands (it says when the person left).
    /// Returns whether it is new.
    pub fn suppress(&self, s: &Suppression) -> Result<bool> {
        let tx = self.conn.unchecked_transaction().map_err(|e| self.err(e))?;
        let n = tx
            .execute(
                INSERT,
                params![s.email, s.reason, s.source, s.campaign, s.at_ms],
            )
            .map_err(|e| self.err(e))?;
        if n > 0 {
            tx.execute(
                LOG_ADD,
                params![s.email, s.reason, s.source, s.campaign, s.at_ms],
            )
            .map_err(|e| self.err(e))?;
        }
        tx.commit().map_err(|e| self.err(e))?;
        Ok(n > 0)
    }

    /// Takes an address off the list (logged); returns whether it was on it.
    pub fn unsuppress(&self, email: &str, at_ms: i64) -> Result<bool> {
        let tx = self.conn.unchecked_transaction().map_err(|e| self.err(e))?;
        let n = tx
            .execute("DELETE FROM suppressions WHERE email = ?1", [email])
            .map_err(|e| self.err(e))?;
        if n > 0 {
            tx.execute(
                "INSERT INTO suppression_log (email, action, reason, source, campaign, at_ms) VALUES (?1, 'remove', 'manual', 'command', NULL, ?2)",
                params![email, at_ms],
            )
            .map_err(|e| self.err(e))?;
        }
        tx.commit().map_err(|e| self.err(e))?;
        Ok(n > 0)
    }

    pub fn suppression(&self, email: &str) -> Result<Option<Suppression>> {
        self.conn
            .query_row(
                "SELECT email, reason, source, campaign, at_ms FROM suppressions WHERE email = ?1",
                [email],
                row,
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Every suppressed address, oldest first.
    pub fn suppressions(&self) -> Result<Vec<Suppression>> {
        let mut st = self
            .conn
            .prepare("SELECT email, reason, source, campaign, at_ms FROM suppressions ORDER BY at_ms, email")
            .map_err(|e| self.err(e))?;
        let rows = st.query_map([], row).map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))
    }
}

impl Journal {
    /// Whether a mailbox message was imported already.
    pub fn seen(&self, id: &str) -> Result<bool> {
        self.conn
            .query_row("SELECT 1 FROM mail_seen WHERE id = ?1", [id], |_| Ok(()))
            .optional()
            .map(|o| o.is_some())
            .map_err(|e| self.err(e))
    }

    /// Records that a mailbox message was imported; false if it was already.
    pub fn first_sight(&self, id: &str, at_ms: i64) -> Result<bool> {
        let n = self
            .conn
            .execute(
                "INSERT OR IGNORE INTO mail_seen (id, at_ms) VALUES (?1, ?2)",
                params![id, at_ms],
            )
            .map_err(|e| self.err(e))?;
        Ok(n == 1)
    }

    /// Each VERP key (see [`crate::digest::recipient_key`]) of the journal's deliveries, with
    /// the address it stands for.
    pub fn verp_keys(&self) -> Result<std::collections::HashMap<String, String>> {
        let mut st = self
            .conn
            .prepare("SELECT campaign, email FROM deliveries")
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .map_err(|e| self.err(e))?;
        let mut out = std::collections::HashMap::new();
        for row in rows {
            let (c, e) = row.map_err(|e| self.err(e))?;
            out.insert(crate::digest::recipient_key(&c, &e), e);
        }
        Ok(out)
    }

    /// Counts a temporary failure against the latest campaign sent to the address; once the
    /// last `limit` campaigns it was sent all soft-bounced, suppresses it. Returns whether this
    /// bounce suppressed it.
    pub fn soft_bounce(&self, email: &str, at_ms: i64, limit: u32) -> Result<bool> {
        let sent: Vec<String> = {
            let mut st = self
                .conn
                .prepare("SELECT campaign FROM deliveries WHERE email = ?1 AND state = 'sent' ORDER BY sent_at DESC")
                .map_err(|e| self.err(e))?;
            let rows = st
                .query_map([email], |r| r.get(0))
                .map_err(|e| self.err(e))?;
            rows.collect::<rusqlite::Result<_>>()
                .map_err(|e| self.err(e))?
        };
        let Some(latest) = sent.first() else {
            return Ok(false);
        };
        self.conn
            .execute(
                "INSERT OR IGNORE INTO soft_bounces (email, campaign, at_ms) VALUES (?1, ?2, ?3)",
                params![email, latest, at_ms],
            )
            .map_err(|e| self.err(e))?;
        if limit == 0 || sent.len() < limit as usize {
            return Ok(false);
        }
        for campaign in sent.iter().take(limit as usize) {
            let bounced: Option<i64> = self
                .conn
                .query_row(
                    "SELECT 1 FROM soft_bounces WHERE email = ?1 AND campaign = ?2",
                    [email, campaign.as_str()],
                    |r| r.get(0),
                )
                .optional()
                .map_err(|e| self.err(e))?;
            if bounced.is_none() {
                return Ok(false);
            }
        }
        self.suppress(&Suppression {
            email: email.to_string(),
            reason: "bounced".into(),
            source: "bounce".into(),
            campaign: Some(latest.clone()),
            at_ms,
        })
    }
}

fn row(r: &rusqlite::Row) -> rusqlite::Result<Suppression> {
    Ok(Suppression {
        email: r.get(0)?,
        reason: r.get(1)?,
        source: r.get(2)?,
        campaign: r.get(3)?,
        at_ms: r.get(4)?,
    })
}

/// Whether a permanent refusal says the mailbox does not exist (RFC 3463 5.1.1 "bad destination
/// mailbox address", 5.1.10 "null MX"; or the plain words relays use for it), which no later
/// campaign can change, unlike a refusal of one message for its content.
pub fn says_no_such_mailbox(code: u16, reply: &str) -> bool {
    let r = reply.to_lowercase();
    let enhanced = r
        .split_whitespace()
        .any(|w| matches!(w.trim_end_matches([',', ';', ':']), "5.1.1" | "5.1.10"));
    let words = [
        "user unknown",
        "unknown user",
        "no such user",
        "no such mailbox",
        "mailbox not found",
        "does not exist",
        "recipient not found",
        "invalid recipient",
    ];
    enhanced || ((550..=553).contains(&code) && words.iter().any(|w| r.contains(w)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_mailboxes_are_told_from_other_refusals() {
        assert!(says_no_such_mailbox(
            550,
            "5.1.1 <a@x.org>: Recipient address rejected"
        ));
        assert!(says_no_such_mailbox(550, "5.1.10 null MX"));
        assert!(says_no_such_mailbox(550, "user unknown"));
        assert!(says_no_such_mailbox(
            550,
            "Requested action not taken: mailbox unavailable, no such user"
        ));
        assert!(!says_no_such_mailbox(550, "5.7.1 message rejected as spam"));
        assert!(!says_no_such_mailbox(552, "5.2.2 mailbox full"));
        assert!(!says_no_such_mailbox(554, "5.1.100 something else"));
    }

    #[test]
    fn the_first_record_stands_and_every_change_is_logged() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::open(&dir.path().join("j.sqlite")).unwrap();
        let s = |reason: &str, at_ms| Suppression {
            email: "a@x.org".into(),
            reason: reason.into(),
            source: "link".into(),
            campaign: Some("c".into()),
            at_ms,
        };
        assert!(j.suppress(&s("unsubscribed", 10)).unwrap());
        assert!(!j.suppress(&s("bounced", 20)).unwrap(), "idempotent");
        assert_eq!(j.suppression("a@x.org").unwrap().unwrap().at_ms, 10);
        assert!(j.unsuppress("a@x.org", 30).unwrap());
        assert!(!j.unsuppress("a@x.org", 31).unwrap());
        let log: i64 = j
            .conn
            .query_row("SELECT COUNT(*) FROM suppression_log", [], |r| r.get(0))
            .unwrap();
        assert_eq!(log, 2);
    }
}
