//! The delivery journal: an SQLite file in, the record of every campaign's deliveries out. For
//! each campaign and recipient it keeps the state (queued, sending, sent, failed, deferred,
//! unknown), attempts, the relay's reply, the Message-ID and what was sent; and a log of hand-overs
//! to the relay, from which rate caps are kept across runs.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use crate::{Error, Result};

mod approvals;
mod continuity;
mod copy;
mod erase;
mod file;
pub mod history;
mod live;
mod readers;
mod reads;
mod schedules;
mod schema;
mod store;
mod suppressions;

pub use approvals::Approved;
pub use continuity::{marker_path, Marker};
pub use erase::{Erased, Forgotten};
use file::orphaned_log;
pub use file::side_files;
use file::{migrate, owner_only, refuse_hard_links};
pub use live::LiveJournal;
pub use readers::{Choice, Confirmed, SignupCounts, Subscriber};
pub use schedules::Scheduled;
use schema::SCHEMA;
pub use store::Store;
pub use suppressions::{says_no_such_mailbox, Removal, Suppression, REASONS, SOURCES};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Selected, not yet attempted.
    Queued,
    /// Handed to the relay, no reply recorded yet (becomes `Unknown` if the run dies).
    Sending,
    /// Accepted by the relay.
    Sent,
    /// Refused for good (5xx); not retried unless asked.
    Failed,
    /// Refused for now (4xx, broken connection) after the run's retries; retried by the next run.
    Deferred,
    /// Possibly handed over by a run that died: not resent unless asked.
    Unknown,
}

impl State {
    pub const ALL: [State; 6] = [
        State::Queued,
        State::Sending,
        State::Sent,
        State::Failed,
        State::Deferred,
        State::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Queued => "queued",
            State::Sending => "sending",
            State::Sent => "sent",
            State::Failed => "failed",
            State::Deferred => "deferred",
            State::Unknown => "unknown",
        }
    }
}

impl FromStr for State {
    type Err = UnknownState;
    fn from_str(s: &str) -> std::result::Result<Self, UnknownState> {
        State::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| UnknownState(s.to_string()))
    }
}

/// A state name no journal writes (a newer bulletin's, or a hand-edited row).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown state {0}")]
pub struct UnknownState(pub String);

/// One recipient's record.
#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    pub campaign: String,
    pub email: String,
    pub state: State,
    pub attempts: u32,
    pub smtp_code: Option<u16>,
    pub smtp_reply: Option<String>,
    pub message_id: Option<String>,
    pub langs: String,
    pub updates: String,
    pub queued_at: i64,
    pub last_attempt_at: Option<i64>,
    pub sent_at: Option<i64>,
}

pub struct Journal {
    conn: Connection,
    path: PathBuf,
    /// The file opened (none in memory): the path may come to name another.
    opened_as: Option<file::Identity>,
}

fn db_err(path: &Path, e: rusqlite::Error) -> Error {
    Error::Journal(format!("{}: {e}", path.display()))
}

impl Journal {
    pub fn open(path: &Path) -> Result<Journal> {
        if let Some(wal) = orphaned_log(path) {
            return Err(Error::Discontinuous(format!(
                "the journal {} is missing but its write-ahead log {} is still there: the journal was deleted or moved. Restore it from a backup; `bulletin send --new-journal` starts a new one (and sets the old log aside)",
                path.display(),
                wal.display()
            )));
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;
        }
        owner_only(path)?;
        refuse_hard_links(path)?;
        let conn = Connection::open(path).map_err(|e| db_err(path, e))?;
        // WAL: readers (`status`) never block the sender. synchronous=NORMAL in WAL mode keeps
        // every committed record through a crash or kill of the process; only a power failure
        // can lose the last commits. The log is checkpointed every 1000 pages (about 4 MB) and
        // cut back to 4 MB after each checkpoint, so a long run does not grow it without end.
        // An 8 MB page cache: a run reads and writes its rows in the order they were queued.
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=10000; \
             PRAGMA cache_size=-8000; PRAGMA wal_autocheckpoint=1000; \
             PRAGMA journal_size_limit=4194304;",
        )
        .map_err(|e| db_err(path, e))?;
        conn.execute_batch(SCHEMA).map_err(|e| db_err(path, e))?;
        file::add_relay_columns(&conn).map_err(|e| db_err(path, e))?;
        file::add_column(&conn, "suppression_log", "actor").map_err(|e| db_err(path, e))?;
        file::add_column(&conn, "suppression_log", "evidence").map_err(|e| db_err(path, e))?;
        // What each message was made of, as the run that claimed it had it.
        file::add_column(&conn, "deliveries", "content_hash").map_err(|e| db_err(path, e))?;
        migrate(&conn).map_err(|e| db_err(path, e))?;
        let id = format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..));
        let created = conn
            .execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('journal_id', ?1)",
                [id],
            )
            .map_err(|e| db_err(path, e))?
            == 1;
        owner_only(path)?;
        let journal = Journal {
            conn,
            path: path.to_path_buf(),
            opened_as: file::identity(path).ok(),
        };
        if let Some(note) = journal.bring_up_to_copy(created)? {
            // Said whichever command opened it: the operator must know the journal was behind.
            eprintln!("note: {note}");
        }
        if let Some(note) = journal.bring_readers_up_to_copy()? {
            eprintln!("note: {note}");
        }
        journal.bring_erasures_up_to_copy()?;
        Ok(journal)
    }

    /// A journal in memory that records nothing: what a dry run reads when the project has no
    /// journal yet, so that it creates none.
    pub fn empty() -> Result<Journal> {
        let path = PathBuf::from("(no journal yet)");
        let conn = Connection::open_in_memory().map_err(|e| db_err(&path, e))?;
        conn.execute_batch(SCHEMA).map_err(|e| db_err(&path, e))?;
        Ok(Journal {
            conn,
            path,
            opened_as: None,
        })
    }

    /// Opens the journal if there is one, without creating it: for commands that only read.
    pub fn open_existing(path: &Path) -> Result<Option<Journal>> {
        if !path.exists() {
            return match orphaned_log(path) {
                Some(_) => Journal::open(path).map(Some),
                None => Ok(None),
            };
        }
        Journal::open(path).map(Some)
    }

    /// Refuses to go on when the path no longer names the file this journal opened (deleted, or
    /// another file renamed over it): what is recorded here would be lost to the next run.
    pub fn still_in_place(&self) -> Result<()> {
        match self.opened_as {
            Some(id) if file::identity(&self.path).ok() != Some(id) => Err(Error::Journal(format!(
                "the journal {} was deleted or replaced while this run was sending: stopped, so that nothing is sent without a record",
                self.path.display()
            ))),
            _ => Ok(()),
        }
    }

    /// Records beside the journal that it has sent, and how much (see [`Marker`]).
    pub fn write_marker(&self, m: &Marker) -> Result<()> {
        continuity::write_marker(&self.path, m)
    }

    /// The key that makes each recipient's tag in Message-IDs and VERP addresses (see
    /// [`crate::digest::recipient_tag`]): made at random with the journal and kept in it, so
    /// that bounces can be tied to messages this journal recorded and to nothing else.
    pub fn bounce_key(&self) -> Result<Vec<u8>> {
        if let Some(hex) = self.meta("bounce_key")? {
            if let Ok(k) = data_encoding::HEXLOWER.decode(hex.as_bytes()) {
                return Ok(k);
            }
        }
        let mut key = [0u8; 32];
        {
            use ring::rand::SecureRandom;
            ring::rand::SystemRandom::new()
                .fill(&mut key)
                .map_err(|_| Error::Journal("the system's random source failed".into()))?;
        }
        self.conn
            .execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('bounce_key', ?1)",
                [data_encoding::HEXLOWER.encode(&key)],
            )
            .map_err(|e| self.err(e))?;
        // Another process may have made it first: the stored one stands.
        let hex = self.meta("bounce_key")?.unwrap_or_default();
        data_encoding::HEXLOWER.decode(hex.as_bytes()).map_err(|_| {
            Error::Journal(format!(
                "{}: the bounce key is damaged",
                self.path.display()
            ))
        })
    }

    /// The journal's own id, made when it was created.
    pub fn id(&self) -> Result<String> {
        self.meta("journal_id").map(|v| v.unwrap_or_default())
    }

    pub fn meta(&self, key: &str) -> Result<Option<String>> {
        self.conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(|e| self.err(e))
    }

    pub fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = ?2",
                [key, value],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// How many sending runs this journal has seen.
    pub fn generation(&self) -> Result<u64> {
        Ok(self.meta("runs")?.and_then(|v| v.parse().ok()).unwrap_or(0))
    }

    /// Counts a new sending run; called once a run holds the lock, before it sends.
    pub fn bump_generation(&self) -> Result<u64> {
        let n = self.generation()? + 1;
        self.set_meta("runs", &n.to_string())?;
        Ok(n)
    }

    /// Messages the relay accepted, over every campaign.
    pub fn total_sent(&self) -> Result<u64> {
        self.conn
            .query_row(
                "SELECT COUNT(*) FROM deliveries WHERE state = 'sent'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
            .map_err(|e| self.err(e))
    }

    /// Copies the write-ahead log into the journal and empties it.
    pub fn checkpoint(&self) -> Result<()> {
        self.conn
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
            .map_err(|e| self.err(e))
    }

    fn err(&self, e: rusqlite::Error) -> Error {
        db_err(&self.path, e)
    }

    /// Records that the content `hash` of `campaign` was test-sent to `to` (comma-separated).
    pub fn record_test_send(&self, campaign: &str, hash: &str, to: &str) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO test_sends (campaign, content_hash, sent_to, at_ms) VALUES (?1, ?2, ?3, ?4)",
                rusqlite::params![campaign, hash, to, crate::clock::now_ms()],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// The last test send of this very content: to whom, and when.
    pub fn last_test_send(&self, campaign: &str, hash: &str) -> Result<Option<(String, i64)>> {
        use rusqlite::OptionalExtension;
        self.conn
            .query_row(
                "SELECT sent_to, at_ms FROM test_sends WHERE campaign = ?1 AND content_hash = ?2 ORDER BY at_ms DESC LIMIT 1",
                [campaign, hash],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    pub fn content_hash(&self, campaign: &str) -> Result<Option<String>> {
        self.conn
            .query_row(
                "SELECT content_hash FROM campaigns WHERE id = ?1",
                [campaign],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    pub fn set_content_hash(&self, campaign: &str, hash: &str) -> Result<()> {
        let now = crate::clock::now_ms();
        self.conn
            .execute(
                "INSERT INTO campaigns (id, content_hash, first_run_at, last_run_at) VALUES (?1, ?2, ?3, ?3)
                 ON CONFLICT(id) DO UPDATE SET content_hash = ?2, last_run_at = ?3",
                params![campaign, hash, now],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Adds recipients not yet in the journal as queued; those already there keep their state.
    pub fn enqueue<'a>(
        &mut self,
        campaign: &str,
        rows: impl Iterator<Item = (&'a str, String, String)>,
    ) -> Result<usize> {
        let now = crate::clock::now_ms();
        let tx = self.conn.transaction().map_err(|e| db_err(&self.path, e))?;
        let mut added = 0;
        {
            let mut st = tx
                .prepare("INSERT OR IGNORE INTO deliveries (campaign, email, state, langs, updates, queued_at) VALUES (?1, ?2, 'queued', ?3, ?4, ?5)")
                .map_err(|e| db_err(&self.path, e))?;
            for (email, langs, updates) in rows {
                added += st
                    .execute(params![campaign, email, langs, updates, now])
                    .map_err(|e| db_err(&self.path, e))?;
            }
        }
        tx.commit().map_err(|e| db_err(&self.path, e))?;
        Ok(added)
    }

    /// Marks as unknown what a run that died left `sending`: it may have reached the relay.
    pub fn recover(&self, campaign: &str) -> Result<usize> {
        self.conn
            .execute(
                "UPDATE deliveries SET state = 'unknown', smtp_reply = 'the run sending it stopped before the relay answered' WHERE campaign = ?1 AND state = 'sending'",
                [campaign],
            )
            .map_err(|e| self.err(e))
    }

    /// Applies a batch of updates in one transaction: one commit for many messages. Returns, per
    /// update, what became of it: a claim takes effect only if the row was still waiting, so two
    /// runs on one journal, whatever path each reached it by, can never both claim one
    /// recipient; and never for an address suppressed since the run began (an unsubscribe
    /// during a long run is honoured at once).
    pub fn apply(&mut self, batch: &[Update]) -> Result<Vec<Applied>> {
        let path = self.path.clone();
        let e = |e: rusqlite::Error| db_err(&path, e);
        // IMMEDIATE: the write lock is taken first, so the claims read the latest commits.
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(e)?;
        let mut done = Vec::with_capacity(batch.len());
        {
            let mut claim = tx
                .prepare_cached("UPDATE deliveries SET state = 'sending', attempts = attempts + 1, message_id = ?2, last_attempt_at = ?3, relay = ?4, content_hash = (SELECT c.content_hash FROM campaigns c WHERE c.id = deliveries.campaign) WHERE id = ?1 AND state IN ('queued', 'deferred') AND NOT EXISTS (SELECT 1 FROM suppressions s WHERE s.email = deliveries.email)")
                .map_err(e)?;
            let mut suppressed = tx
                .prepare_cached("SELECT 1 FROM deliveries d JOIN suppressions s ON s.email = d.email WHERE d.id = ?1")
                .map_err(e)?;
            // A recipient who left before anything went: no longer of the campaign's audience,
            // so no row waits for them (status would count it as queued for ever).
            let mut forget_waiting = tx
                .prepare_cached(
                    "DELETE FROM deliveries WHERE id = ?1 AND state IN ('queued', 'deferred')",
                )
                .map_err(e)?;
            let mut handover = tx
                .prepare_cached("INSERT INTO handovers (at_ms, relay) VALUES (?1, ?2)")
                .map_err(e)?;
            let mut suppress = tx.prepare_cached(suppressions::INSERT).map_err(e)?;
            let mut suppress_log = tx.prepare_cached(suppressions::LOG_ADD).map_err(e)?;
            let mut outcome = tx
                .prepare_cached("UPDATE deliveries SET state = ?2, smtp_code = ?3, smtp_reply = ?4, sent_at = ?5, last_attempt_at = ?6 WHERE id = ?1 AND state = 'sending'")
                .map_err(e)?;
            for u in batch {
                match u {
                    Update::Claim {
                        id,
                        message_id,
                        at_ms,
                        relay,
                    } => {
                        let relay = relay.as_deref();
                        let claimed = claim
                            .execute(params![id, message_id, at_ms, relay])
                            .map_err(e)?
                            == 1;
                        if claimed {
                            handover.execute(params![at_ms, relay]).map_err(e)?;
                            done.push(Applied::Done);
                        } else if suppressed.exists([id]).map_err(e)? {
                            forget_waiting.execute([id]).map_err(e)?;
                            done.push(Applied::Suppressed);
                        } else {
                            done.push(Applied::NotDone);
                        }
                    }
                    Update::Outcome {
                        id,
                        state,
                        code,
                        reply,
                        at_ms,
                    } => {
                        let sent_at = (*state == State::Sent).then_some(*at_ms);
                        let n = outcome
                            .execute(params![id, state.as_str(), code, reply, sent_at, at_ms])
                            .map_err(e)?;
                        done.push(Applied::from(n == 1));
                    }
                    Update::Suppress(x) => {
                        let n = suppress
                            .execute(params![x.email, x.reason, x.source, x.campaign, x.at_ms])
                            .map_err(e)?;
                        if n == 1 {
                            Journal::copy_change(&tx, &path, &x.change())?;
                            suppress_log
                                .execute(params![x.email, x.reason, x.source, x.campaign, x.at_ms])
                                .map_err(e)?;
                        }
                        done.push(Applied::from(n == 1));
                    }
                }
            }
        }
        tx.commit().map_err(e)?;
        Ok(done)
    }

    /// Puts failed (or unknown) recipients back in the queue, when the user asks for it.
    pub fn requeue(&self, campaign: &str, state: State) -> Result<usize> {
        self.conn
            .execute(
                "UPDATE deliveries SET state = 'queued' WHERE campaign = ?1 AND state = ?2",
                params![campaign, state.as_str()],
            )
            .map_err(|e| self.err(e))
    }
}

/// What became of an [`Update`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Done,
    /// Not applied: the row was not in the state the update expects (another run claimed or
    /// settled it).
    NotDone,
    /// A claim refused because the address is on the suppression list now.
    Suppressed,
}

impl From<bool> for Applied {
    fn from(done: bool) -> Applied {
        if done {
            Applied::Done
        } else {
            Applied::NotDone
        }
    }
}

/// A change to the journal, made by the sender as messages go.
#[derive(Debug, Clone)]
pub enum Update {
    /// Takes a waiting recipient (queued or deferred) for this run: committed before anything of
    /// the message goes to the relay, and refused if another run took it first.
    Claim {
        id: i64,
        message_id: String,
        at_ms: i64,
        /// The relay the message goes to (`host:port`); none when nothing goes.
        relay: Option<std::sync::Arc<str>>,
    },
    /// Settles a claimed recipient: sent, failed, deferred (nothing was handed over, try again),
    /// or unknown (the relay may have it).
    Outcome {
        id: i64,
        state: State,
        code: Option<u16>,
        reply: Option<String>,
        at_ms: i64,
    },
    /// The relay said the mailbox does not exist: no campaign mails it again.
    Suppress(Suppression),
}

#[cfg(test)]
mod tests;
