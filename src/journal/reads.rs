//! What is read of the journal: each recipient's row joined in address order (at a run's
//! scale), the counts and rows `status` shows, and the hand-overs the hourly caps count.

use super::{Delivery, Journal, State};
use crate::Result;

impl Journal {
    /// The row of each of `n` addresses in the campaign (`email(i)` is the i-th), in that
    /// order: its id (-1 when not queued) and its state. Read in the order of the
    /// (campaign, email) index and joined with the addresses sorted alike, so that a million
    /// rows need no map of addresses, nor a copy of them.
    pub fn rows_of<'a>(
        &self,
        campaign: &str,
        n: usize,
        email: impl Fn(usize) -> &'a str,
    ) -> Result<(Vec<i64>, Vec<Option<State>>)> {
        let mut order: Vec<u32> = (0..n as u32).collect();
        // SQLite's BINARY collation compares bytes, as `str` does.
        order.sort_unstable_by(|&a, &b| email(a as usize).cmp(email(b as usize)));
        let mut ids = vec![-1; n];
        let mut states = vec![None; n];
        let mut st = self
            .conn
            .prepare("SELECT email, id, state FROM deliveries WHERE campaign = ?1 ORDER BY email")
            .map_err(|e| self.err(e))?;
        let mut rows = st.query([campaign]).map_err(|e| self.err(e))?;
        let mut k = 0;
        while let Some(row) = rows.next().map_err(|e| self.err(e))? {
            let address = row
                .get_ref(0)
                .and_then(|v| v.as_str().map_err(Into::into))
                .map_err(|e| self.err(e))?;
            while k < n && email(order[k] as usize) < address {
                k += 1;
            }
            if k < n && email(order[k] as usize) == address {
                let i = order[k] as usize;
                ids[i] = row.get(1).map_err(|e| self.err(e))?;
                states[i] = Some(
                    row.get_ref(2)
                        .and_then(|v| v.as_str().map_err(Into::into))
                        .map_err(|e| self.err(e))?
                        .parse()
                        .unwrap_or(State::Unknown),
                );
                k += 1;
            }
        }
        Ok((ids, states))
    }

    /// Hand-over times since `since_ms` per relay (`host:port`), oldest first: for each relay's
    /// own caps.
    pub fn handovers_by_relay(
        &self,
        since_ms: i64,
    ) -> Result<std::collections::HashMap<String, Vec<i64>>> {
        let mut st = self
            .conn
            .prepare("SELECT relay, at_ms FROM handovers WHERE at_ms >= ?1 AND relay IS NOT NULL ORDER BY at_ms")
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([since_ms], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
            })
            .map_err(|e| self.err(e))?;
        let mut out: std::collections::HashMap<String, Vec<i64>> = Default::default();
        for row in rows {
            let (relay, at) = row.map_err(|e| self.err(e))?;
            out.entry(relay).or_default().push(at);
        }
        Ok(out)
    }

    /// Messages each relay took for a campaign, by relay.
    pub fn sent_by_relay(
        &self,
        campaign: &str,
    ) -> Result<std::collections::BTreeMap<String, usize>> {
        let mut st = self
            .conn
            .prepare("SELECT relay, COUNT(*) FROM deliveries WHERE campaign = ?1 AND state = 'sent' AND relay IS NOT NULL GROUP BY relay")
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([campaign], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
            })
            .map_err(|e| self.err(e))?;
        rows.map(|r| r.map(|(k, n)| (k, n as usize)))
            .collect::<rusqlite::Result<_>>()
            .map_err(|e| self.err(e))
    }

    /// How many of the campaign's recipients are in each state.
    pub fn counts(&self, campaign: &str) -> Result<std::collections::BTreeMap<State, usize>> {
        let mut st = self
            .conn
            .prepare("SELECT state, COUNT(*) FROM deliveries WHERE campaign = ?1 GROUP BY state")
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([campaign], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
            })
            .map_err(|e| self.err(e))?;
        let mut out = std::collections::BTreeMap::new();
        for row in rows {
            let (s, n) = row.map_err(|e| self.err(e))?;
            out.insert(s.parse().unwrap_or(State::Unknown), n as usize);
        }
        Ok(out)
    }

    /// Every campaign the journal has recipients of.
    pub fn campaigns(&self) -> Result<Vec<String>> {
        let mut st = self
            .conn
            .prepare("SELECT DISTINCT campaign FROM deliveries ORDER BY campaign")
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))
    }

    /// The campaign's recipients in `states` (all with none), in the order they were queued.
    pub fn deliveries(&self, campaign: &str, states: &[State]) -> Result<Vec<Delivery>> {
        let mut st = self
            .conn
            .prepare(
                "SELECT campaign, email, state, attempts, smtp_code, smtp_reply, message_id, langs, updates, queued_at, last_attempt_at, sent_at
                 FROM deliveries WHERE campaign = ?1 ORDER BY queued_at, email",
            )
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([campaign], |r| {
                Ok(Delivery {
                    campaign: r.get(0)?,
                    email: r.get(1)?,
                    state: r.get::<_, String>(2)?.parse().unwrap_or(State::Unknown),
                    attempts: r.get(3)?,
                    smtp_code: r.get(4)?,
                    smtp_reply: r.get(5)?,
                    message_id: r.get(6)?,
                    langs: r.get(7)?,
                    updates: r.get(8)?,
                    queued_at: r.get(9)?,
                    last_attempt_at: r.get(10)?,
                    sent_at: r.get(11)?,
                })
            })
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in rows {
            let d = row.map_err(|e| self.err(e))?;
            if states.is_empty() || states.contains(&d.state) {
                out.push(d);
            }
        }
        Ok(out)
    }

    /// First and last time a message of the campaign was accepted.
    pub fn sent_span(&self, campaign: &str) -> Result<Option<(i64, i64)>> {
        self.conn
            .query_row(
                "SELECT MIN(sent_at), MAX(sent_at) FROM deliveries WHERE campaign = ?1 AND state = 'sent'",
                [campaign],
                |r| Ok(r.get::<_, Option<i64>>(0)?.zip(r.get::<_, Option<i64>>(1)?)),
            )
            .map_err(|e| self.err(e))
    }

    /// Hand-over times since `since_ms`, oldest first; older ones are dropped.
    pub fn handovers_since(&self, since_ms: i64) -> Result<Vec<i64>> {
        self.conn
            .execute("DELETE FROM handovers WHERE at_ms < ?1", [since_ms])
            .map_err(|e| self.err(e))?;
        let mut st = self
            .conn
            .prepare("SELECT at_ms FROM handovers WHERE at_ms >= ?1 ORDER BY at_ms")
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([since_ms], |r| r.get::<_, i64>(0))
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))
    }
}
