//! The journal's schedule rows: campaigns marked ready to go at a time, paused by a cap, or
//! finished, as `schedule` and `due` read and write them.

use rusqlite::params;
use serde::Serialize;

use super::Journal;
use crate::Result;

/// A campaign marked ready to go.
#[derive(Debug, Clone, Serialize)]
pub struct Scheduled {
    pub campaign: String,
    pub send_at_ms: i64,
    pub scheduled_at_ms: i64,
    pub paused_until_ms: Option<i64>,
    pub pause_reason: Option<String>,
    pub finished_at_ms: Option<i64>,
}

impl Journal {
    /// Marks a campaign ready to go at `send_at_ms` (again: a new time, not finished, not paused).
    pub fn schedule(&self, campaign: &str, send_at_ms: i64) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO schedules (campaign, send_at_ms, scheduled_at_ms) VALUES (?1, ?2, ?3)
                 ON CONFLICT(campaign) DO UPDATE SET send_at_ms = ?2, scheduled_at_ms = ?3, paused_until_ms = NULL, pause_reason = NULL, finished_at_ms = NULL",
                params![campaign, send_at_ms, crate::clock::now_ms()],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// How many of a campaign's deliveries were tried at or after `since_ms`: whether a run has
    /// taken up its schedule yet.
    pub fn tried_since(&self, campaign: &str, since_ms: i64) -> Result<usize> {
        self.conn
            .query_row(
                "SELECT COUNT(*) FROM deliveries WHERE campaign = ?1 AND last_attempt_at >= ?2",
                params![campaign, since_ms],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as usize)
            .map_err(|e| self.err(e))
    }

    /// Takes a campaign back to draft; false if it was not scheduled.
    pub fn unschedule(&self, campaign: &str) -> Result<bool> {
        let n = self
            .conn
            .execute("DELETE FROM schedules WHERE campaign = ?1", [campaign])
            .map_err(|e| self.err(e))?;
        Ok(n > 0)
    }

    pub fn scheduled(&self) -> Result<Vec<Scheduled>> {
        let mut st = self
            .conn
            .prepare("SELECT campaign, send_at_ms, scheduled_at_ms, paused_until_ms, pause_reason, finished_at_ms FROM schedules ORDER BY send_at_ms, campaign")
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([], |r| {
                Ok(Scheduled {
                    campaign: r.get(0)?,
                    send_at_ms: r.get(1)?,
                    scheduled_at_ms: r.get(2)?,
                    paused_until_ms: r.get(3)?,
                    pause_reason: r.get(4)?,
                    finished_at_ms: r.get(5)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))
    }

    pub fn set_paused(
        &self,
        campaign: &str,
        until_ms: Option<i64>,
        reason: Option<&str>,
    ) -> Result<()> {
        self.conn
            .execute(
                "UPDATE schedules SET paused_until_ms = ?2, pause_reason = ?3 WHERE campaign = ?1",
                params![campaign, until_ms, reason],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    pub fn set_finished(&self, campaign: &str, at_ms: i64) -> Result<()> {
        self.conn
            .execute("UPDATE schedules SET finished_at_ms = ?2, paused_until_ms = NULL, pause_reason = NULL WHERE campaign = ?1", params![campaign, at_ms])
            .map_err(|e| self.err(e))?;
        Ok(())
    }
}
