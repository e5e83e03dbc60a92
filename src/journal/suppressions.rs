//! The project's suppression list, kept in the journal: addresses that must never be mailed
//! again, each with why (unsubscribed, bounced, complained, manual), how it came (link, mailto,
//! bounce, relay, import, command), the campaign it came from and when; and a log of every
//! addition and removal, so that a team can show who left, when, and that nobody was mailed since.

use rusqlite::{params, OptionalExtension};
use serde::Serialize;

use super::copy::{self, Change};
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

/// Logs a removal.
const LOG_REMOVE: &str = "INSERT INTO suppression_log (email, action, reason, source, campaign, at_ms, actor) VALUES (?1, 'remove', ?2, ?3, NULL, ?4, ?5)";

/// The meta key holding how much of the suppression copy the journal has taken in.
pub(super) const COPY_LEN: &str = "suppression_copy_len";

impl Suppression {
    pub(super) fn change(&self) -> Change {
        Change {
            at_ms: self.at_ms,
            add: true,
            email: self.email.clone(),
            reason: self.reason.clone(),
            source: self.source.clone(),
            campaign: self.campaign.clone(),
            by: None,
        }
    }
}

/// Why an address came off the list, and who took it off.
pub struct Removal<'a> {
    pub email: &'a str,
    pub at_ms: i64,
    /// How: "command" (`suppress remove`).
    pub source: &'a str,
    pub by: Option<&'a str>,
}

impl Journal {
    /// Appends a change to the suppression copy (synced) inside the journal transaction `tx`
    /// that records it; keeps the journal's note of how much of the copy it holds when nobody
    /// else appended meanwhile.
    pub(super) fn copy_change(
        conn: &rusqlite::Connection,
        path: &std::path::Path,
        c: &Change,
    ) -> Result<()> {
        let (before, after) = copy::append(&copy::copy_path(path), std::slice::from_ref(c))?;
        let known: Option<String> = conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [COPY_LEN], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| super::db_err(path, e))?;
        if known.and_then(|k| k.parse::<u64>().ok()) == Some(before) {
            conn.execute(
                "UPDATE meta SET value = ?2 WHERE key = ?1",
                params![COPY_LEN, after.to_string()],
            )
            .map_err(|e| super::db_err(path, e))?;
        }
        Ok(())
    }

    /// Suppresses an address; the first record of it stands (it says when the person left).
    /// Returns whether it is new. The suppression copy has it before the journal does.
    pub fn suppress(&self, s: &Suppression) -> Result<bool> {
        let tx = self.conn.unchecked_transaction().map_err(|e| self.err(e))?;
        let n = tx
            .execute(
                INSERT,
                params![s.email, s.reason, s.source, s.campaign, s.at_ms],
            )
            .map_err(|e| self.err(e))?;
        if n > 0 {
            Journal::copy_change(&tx, &self.path, &s.change())?;
            tx.execute(
                LOG_ADD,
                params![s.email, s.reason, s.source, s.campaign, s.at_ms],
            )
            .map_err(|e| self.err(e))?;
        }
        tx.commit().map_err(|e| self.err(e))?;
        Ok(n > 0)
    }

    /// Notes what proved the address's latest addition to the list (a bounce report: which
    /// message of which mailbox, and its status), for `history`.
    pub fn note_evidence(&self, email: &str, evidence: &str) -> Result<()> {
        self.conn
            .execute(
                "UPDATE suppression_log SET evidence = ?2 WHERE rowid = (SELECT MAX(rowid) FROM suppression_log WHERE email = ?1 AND action = 'add')",
                params![email, evidence],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Takes an address off the list (logged, with who did it when told); returns the record
    /// it had, if it was on the list.
    pub fn unsuppress(&self, r: &Removal) -> Result<Option<Suppression>> {
        let tx = self.conn.unchecked_transaction().map_err(|e| self.err(e))?;
        let old = tx
            .query_row(
                "SELECT email, reason, source, campaign, at_ms FROM suppressions WHERE email = ?1",
                [r.email],
                row,
            )
            .optional()
            .map_err(|e| self.err(e))?;
        if let Some(old) = &old {
            Journal::copy_change(
                &tx,
                &self.path,
                &Change {
                    at_ms: r.at_ms,
                    add: false,
                    email: r.email.to_string(),
                    reason: old.reason.clone(),
                    source: r.source.to_string(),
                    campaign: None,
                    by: r.by.map(str::to_string),
                },
            )?;
            tx.execute("DELETE FROM suppressions WHERE email = ?1", [r.email])
                .map_err(|e| self.err(e))?;
            tx.execute(
                LOG_REMOVE,
                params![r.email, old.reason, r.source, r.at_ms, r.by],
            )
            .map_err(|e| self.err(e))?;
        }
        tx.commit().map_err(|e| self.err(e))?;
        Ok(old)
    }

    /// Brings the suppression list up to the copy beside the journal: what the copy recorded
    /// and this journal lacks (a new journal, or one restored from an older backup) is applied,
    /// each address taking the copy's last word. A journal with no copy yet starts one from its
    /// own list. Returns what happened, for the operator, when anything did.
    pub(super) fn bring_up_to_copy(&self, created: bool) -> Result<Option<String>> {
        let path = copy::copy_path(&self.path);
        let known: Option<u64> = self.meta(COPY_LEN)?.and_then(|v| v.parse().ok());
        let Some((words, len)) = copy::last_words(&path)? else {
            let all: Vec<Change> = self
                .suppressions()?
                .iter()
                .map(Suppression::change)
                .collect();
            if !all.is_empty() {
                let (_, after) = copy::append(&path, &all)?;
                self.set_meta(COPY_LEN, &after.to_string())?;
            }
            return Ok(None);
        };
        if known == Some(len) {
            return Ok(None);
        }
        let tx = self.conn.unchecked_transaction().map_err(|e| self.err(e))?;
        let (mut added, mut removed) = (0usize, 0usize);
        let mut words: Vec<&Change> = words.values().collect();
        words.sort_by_key(|c| c.at_ms);
        for c in words {
            let current: Option<i64> = tx
                .query_row(
                    "SELECT at_ms FROM suppressions WHERE email = ?1",
                    [&c.email],
                    |r| r.get(0),
                )
                .optional()
                .map_err(|e| self.err(e))?;
            match (c.add, current) {
                (true, None) => {
                    let p = params![c.email, c.reason, c.source, c.campaign, c.at_ms];
                    tx.execute(INSERT, p).map_err(|e| self.err(e))?;
                    tx.execute(LOG_ADD, p).map_err(|e| self.err(e))?;
                    added += 1;
                }
                (false, Some(at)) if at <= c.at_ms => {
                    tx.execute("DELETE FROM suppressions WHERE email = ?1", [&c.email])
                        .map_err(|e| self.err(e))?;
                    tx.execute(
                        LOG_REMOVE,
                        params![c.email, c.reason, c.source, c.at_ms, c.by],
                    )
                    .map_err(|e| self.err(e))?;
                    removed += 1;
                }
                _ => {}
            }
        }
        tx.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = ?2",
            params![COPY_LEN, len.to_string()],
        )
        .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))?;
        if added + removed == 0 {
            return Ok(None);
        }
        let (j, c) = (self.path.display(), path.display());
        Ok(Some(if created {
            format!(
                "the new journal {j} starts with the {} kept in {c}: every unsubscribe, bounce and complaint this project recorded before stays in force",
                crate::text::count(added, "suppressed address", "suppressed addresses")
            )
        } else {
            format!(
                "the journal {j} lacked {} that {c} records (it is older than the last changes: restored from a backup?): the journal now has them",
                crate::text::count(added + removed, "change to the suppression list", "changes to the suppression list")
            )
        }))
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

    /// Every recipient's tag under `key` (see [`crate::digest::recipient_tag`]), with the
    /// campaign and address it stands for.
    pub fn recipient_tags(
        &self,
        key: &[u8],
    ) -> Result<std::collections::HashMap<String, (String, String)>> {
        let mut st = self
            .conn
            .prepare("SELECT campaign, email FROM deliveries WHERE message_id IS NOT NULL")
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .map_err(|e| self.err(e))?;
        let mut out = std::collections::HashMap::new();
        for row in rows {
            let (c, e) = row.map_err(|e| self.err(e))?;
            out.insert(crate::digest::recipient_tag(key, &c, &e), (c, e));
        }
        Ok(out)
    }

    /// Whether a message of `campaign` went (or may have gone) to `email`: claimed at least once.
    pub fn was_sent_to(&self, campaign: &str, email: &str) -> Result<bool> {
        self.conn
            .query_row(
                "SELECT 1 FROM deliveries WHERE campaign = ?1 AND email = ?2 AND message_id IS NOT NULL",
                [campaign, email],
                |_| Ok(()),
            )
            .optional()
            .map(|o| o.is_some())
            .map_err(|e| self.err(e))
    }

    /// The campaigns whose messages went (or may have gone) to `email`.
    pub fn campaigns_of(&self, email: &str) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for c in self.campaigns()? {
            if self.was_sent_to(&c, email)? {
                out.push(c);
            }
        }
        Ok(out)
    }

    /// Puts what an import could not apply on the review list.
    pub fn add_review(
        &self,
        id: &str,
        who: &str,
        reason: &str,
        place: &str,
        at_ms: i64,
    ) -> Result<()> {
        self.conn
            .execute(
                "INSERT OR IGNORE INTO mail_review (id, who, reason, place, at_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![id, who, reason, place, at_ms],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Empties the review list; returns how many entries it held.
    pub fn clear_reviews(&self) -> Result<usize> {
        self.conn
            .execute("DELETE FROM mail_review", [])
            .map_err(|e| self.err(e))
    }

    /// The review list, oldest first: (time, who, reason, where).
    pub fn reviews(&self) -> Result<Vec<(i64, String, String, String)>> {
        let mut st = self
            .conn
            .prepare("SELECT at_ms, who, reason, place FROM mail_review ORDER BY at_ms, rowid")
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))
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
        let removal = |at_ms| Removal {
            email: "a@x.org",
            at_ms,
            source: "command",
            by: Some("tester"),
        };
        assert!(j.unsuppress(&removal(30)).unwrap().is_some());
        assert!(j.unsuppress(&removal(31)).unwrap().is_none());
        let log: i64 = j
            .conn
            .query_row("SELECT COUNT(*) FROM suppression_log", [], |r| r.get(0))
            .unwrap();
        assert_eq!(log, 2);
    }
}
