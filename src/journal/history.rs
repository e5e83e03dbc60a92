//! Everything the journal holds about one address, oldest first: for `bulletin history`, the
//! answer to a data-protection request.

use serde::Serialize;

use super::{Choice, Journal, Subscriber};
use crate::Result;

/// One message recorded for the address.
#[derive(Debug, Clone, Serialize)]
pub struct Sent {
    pub campaign: String,
    pub state: String,
    pub sent_at_ms: Option<i64>,
    pub last_attempt_at_ms: Option<i64>,
    pub relay: Option<String>,
    pub message_id: Option<String>,
    pub langs: String,
    /// What the message was made of: the campaign's content hash when it was claimed (for
    /// rows older than that record, the campaign's latest).
    pub content_hash: Option<String>,
    pub smtp_reply: Option<String>,
}

/// One change to the suppression list.
#[derive(Debug, Clone, Serialize)]
pub struct ListChange {
    pub at_ms: i64,
    /// "add" or "remove".
    pub action: String,
    pub reason: String,
    pub source: String,
    pub campaign: Option<String>,
    pub actor: Option<String>,
    /// What proved it (a bounce report), when recorded.
    pub evidence: Option<String>,
}

/// A test send that went to the address.
#[derive(Debug, Clone, Serialize)]
pub struct TestSent {
    pub campaign: String,
    pub content_hash: String,
    pub at_ms: i64,
}

/// What the journal holds about one address.
#[derive(Debug, Clone, Serialize, Default)]
pub struct About {
    pub messages: Vec<Sent>,
    pub test_sends: Vec<TestSent>,
    pub suppression_log: Vec<ListChange>,
    pub preference_log: Vec<Choice>,
    pub subscriber: Option<Subscriber>,
    /// Bounce-mailbox findings a person was asked to look at.
    pub reviews: Vec<(i64, String, String)>,
    /// Sign-ups asked for through the form (confirmed or not): when, from which client, and
    /// whether a confirmation mail went.
    pub signup_requests: Vec<(i64, String, bool)>,
}

impl About {
    /// Whether the journal holds anything about the address at all.
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
            && self.test_sends.is_empty()
            && self.suppression_log.is_empty()
            && self.preference_log.is_empty()
            && self.subscriber.is_none()
            && self.reviews.is_empty()
            && self.signup_requests.is_empty()
    }

    /// Whether the address was on the suppression list at `at`: the last change before it.
    fn suppressed_at(&self, at: i64) -> bool {
        self.suppression_log
            .iter()
            .rfind(|c| c.at_ms < at)
            .is_some_and(|c| c.action == "add")
    }

    /// Messages sent while the address was on the suppression list: the exceptions to "nobody
    /// was mailed after they left". A message counts from its hand-over time.
    pub fn sent_while_suppressed(&self) -> Vec<&Sent> {
        self.messages
            .iter()
            .filter(|m| m.sent_at_ms.is_some_and(|at| self.suppressed_at(at)))
            .collect()
    }

    /// Test sends that went to it while it was on the suppression list (`--to-suppressed`).
    pub fn tests_while_suppressed(&self) -> Vec<&TestSent> {
        self.test_sends
            .iter()
            .filter(|t| self.suppressed_at(t.at_ms))
            .collect()
    }
}

impl Journal {
    /// Everything recorded about `email`.
    pub fn about(&self, email: &str) -> Result<About> {
        Ok(About {
            messages: self.messages_to(email)?,
            test_sends: self.test_sends_to(email)?,
            suppression_log: self.list_changes_of(email)?,
            preference_log: self.preference_changes_of(email)?,
            subscriber: self.subscriber(email)?,
            reviews: self.rows(
                "SELECT at_ms, reason, place FROM mail_review WHERE who = ?1 ORDER BY at_ms",
                email,
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )?,
            signup_requests: self.rows(
                "SELECT at_ms, client, mailed FROM signup_mails WHERE email = ?1 ORDER BY at_ms",
                email,
                |r| Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? != 0)),
            )?,
        })
    }

    /// The rows `sql` gives for one address (`?1`), each made by `row`.
    fn rows<T>(
        &self,
        sql: &str,
        email: &str,
        row: impl FnMut(&rusqlite::Row) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>> {
        let mut st = self.conn.prepare(sql).map_err(|e| self.err(e))?;
        let rows = st
            .query_map([email], row)
            .and_then(|rows| rows.collect())
            .map_err(|e| self.err(e));
        rows
    }

    fn messages_to(&self, email: &str) -> Result<Vec<Sent>> {
        self.rows(
            "SELECT d.campaign, d.state, d.sent_at, d.last_attempt_at, d.relay, d.message_id, d.langs, COALESCE(d.content_hash, c.content_hash), d.smtp_reply
             FROM deliveries d LEFT JOIN campaigns c ON c.id = d.campaign
             WHERE d.email = ?1 ORDER BY COALESCE(d.sent_at, d.last_attempt_at, d.queued_at)",
            email,
            |r| {
                Ok(Sent {
                    campaign: r.get(0)?,
                    state: r.get(1)?,
                    sent_at_ms: r.get(2)?,
                    last_attempt_at_ms: r.get(3)?,
                    relay: r.get(4)?,
                    message_id: r.get(5)?,
                    langs: r.get(6)?,
                    content_hash: r.get(7)?,
                    smtp_reply: r.get(8)?,
                })
            },
        )
    }

    /// Test sends name their addresses in one field: read whole, kept where it is named.
    fn test_sends_to(&self, email: &str) -> Result<Vec<TestSent>> {
        let mut st = self
            .conn
            .prepare("SELECT campaign, content_hash, sent_to, at_ms FROM test_sends ORDER BY at_ms")
            .map_err(|e| self.err(e))?;
        let tests: Vec<(String, String, String, i64)> = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .and_then(|rows| rows.collect())
            .map_err(|e| self.err(e))?;
        Ok(tests
            .into_iter()
            .filter(|(_, _, to, _)| to.split(", ").any(|t| t.trim().eq_ignore_ascii_case(email)))
            .map(|(campaign, content_hash, _, at_ms)| TestSent {
                campaign,
                content_hash,
                at_ms,
            })
            .collect())
    }

    fn list_changes_of(&self, email: &str) -> Result<Vec<ListChange>> {
        self.rows(
            "SELECT at_ms, action, reason, source, campaign, actor, evidence FROM suppression_log
             WHERE email = ?1 ORDER BY at_ms, rowid",
            email,
            |r| {
                Ok(ListChange {
                    at_ms: r.get(0)?,
                    action: r.get(1)?,
                    reason: r.get(2)?,
                    source: r.get(3)?,
                    campaign: r.get(4)?,
                    actor: r.get(5)?,
                    evidence: r.get(6)?,
                })
            },
        )
    }

    fn preference_changes_of(&self, email: &str) -> Result<Vec<Choice>> {
        self.rows(
            "SELECT email, languages, interests, at_ms, source FROM preference_log
             WHERE email = ?1 ORDER BY at_ms, rowid",
            email,
            super::readers::choice_row,
        )
    }
}

/// An address that left the list through a campaign (unsubscribed from its link, bounced on it).
#[derive(Debug, Clone, Serialize)]
pub struct Left {
    pub email: String,
    pub at_ms: i64,
    pub reason: String,
    pub source: String,
}

impl Journal {
    /// Every addition to the suppression list that names `campaign`, oldest first.
    pub fn left_through(&self, campaign: &str) -> Result<Vec<Left>> {
        let mut st = self
            .conn
            .prepare(
                "SELECT email, at_ms, reason, source FROM suppression_log
                 WHERE campaign = ?1 AND action = 'add' ORDER BY at_ms, rowid",
            )
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([campaign], |r| {
                Ok(Left {
                    email: r.get(0)?,
                    at_ms: r.get(1)?,
                    reason: r.get(2)?,
                    source: r.get(3)?,
                })
            })
            .and_then(|rows| rows.collect())
            .map_err(|e| self.err(e));
        rows
    }

    /// The campaign's test sends: when, to how many addresses, of which content.
    pub fn test_sends_of(&self, campaign: &str) -> Result<Vec<TestSent>> {
        let mut st = self
            .conn
            .prepare("SELECT campaign, content_hash, at_ms FROM test_sends WHERE campaign = ?1 ORDER BY at_ms")
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([campaign], |r| {
                Ok(TestSent {
                    campaign: r.get(0)?,
                    content_hash: r.get(1)?,
                    at_ms: r.get(2)?,
                })
            })
            .and_then(|rows| rows.collect())
            .map_err(|e| self.err(e));
        rows
    }
}
