//! Approvals, kept in the journal: who cleared a campaign, when, how (command or link), and the
//! hash of what they cleared, with what it was made of.

use std::collections::BTreeMap;

use rusqlite::params;
use serde::Serialize;

use super::Journal;
use crate::Result;

/// One approval of a campaign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Approved {
    pub campaign: String,
    pub hash: String,
    pub by: String,
    pub note: Option<String>,
    pub at_ms: i64,
    /// "command" (`bulletin approve --by`) or "link" (the mailed approval link).
    pub source: String,
    /// The digest of each input the hash covers, by name.
    pub parts: BTreeMap<String, String>,
    /// Recipients in all and per language when it was approved.
    pub counts: BTreeMap<String, usize>,
}

impl Journal {
    pub fn record_approval(&self, a: &Approved) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO approvals (campaign, hash, by, note, at_ms, source, parts, counts) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    a.campaign,
                    a.hash,
                    a.by,
                    a.note,
                    a.at_ms,
                    a.source,
                    serde_json::to_string(&a.parts).unwrap_or_default(),
                    serde_json::to_string(&a.counts).unwrap_or_default()
                ],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Every approval of a campaign, oldest first.
    pub fn approvals(&self, campaign: &str) -> Result<Vec<Approved>> {
        let mut st = self
            .conn
            .prepare(
                "SELECT campaign, hash, by, note, at_ms, source, parts, counts FROM approvals
                 WHERE campaign = ?1 ORDER BY at_ms, rowid",
            )
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([campaign], |r| {
                Ok(Approved {
                    campaign: r.get(0)?,
                    hash: r.get(1)?,
                    by: r.get(2)?,
                    note: r.get(3)?,
                    at_ms: r.get(4)?,
                    source: r.get(5)?,
                    parts: serde_json::from_str(&r.get::<_, String>(6)?).unwrap_or_default(),
                    counts: serde_json::from_str(&r.get::<_, String>(7)?).unwrap_or_default(),
                })
            })
            .and_then(|rows| rows.collect())
            .map_err(|e| self.err(e));
        rows
    }
}
