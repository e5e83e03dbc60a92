//! Erasure (`bulletin forget`): an address taken out of every row and log of the journal and
//! of the copies beside it, its bytes gone from the files (the WAL checkpointed and truncated,
//! the file vacuumed). What stays is a keyed hash, so that an address that comes back in a
//! list is recognised and never mailed; the key and the hashes are also kept in the
//! suppression copy, so that a new or restored journal still knows them.

use std::collections::HashMap;

use ring::hmac;
use rusqlite::params;
use serde::Serialize;

use super::copy;
use super::Journal;
use crate::Result;

/// What `forget` took out, per table.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Forgotten {
    pub rows: Vec<(String, usize)>,
}

impl Forgotten {
    pub fn total(&self) -> usize {
        self.rows.iter().map(|(_, n)| n).sum()
    }
}

/// The erased addresses: the key and each hash with when it was erased.
#[derive(Debug, Clone, Default)]
pub struct Erased {
    key: Option<hmac::Key>,
    hashes: HashMap<String, i64>,
}

impl Erased {
    /// The erasures the suppression copy beside `journal` records: for a project whose
    /// journal is lost or not made yet.
    pub(super) fn from_copy(journal: &std::path::Path) -> Result<Erased> {
        let (key, hashes) = copy::erasures(&copy::copy_path(journal))?;
        let key = key
            .and_then(|k| data_encoding::HEXLOWER.decode(k.as_bytes()).ok())
            .map(|b| hmac::Key::new(hmac::HMAC_SHA256, &b));
        Ok(Erased {
            key,
            hashes: hashes.into_iter().collect(),
        })
    }

    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// When `email` was erased, if it was.
    pub fn when(&self, email: &str) -> Option<i64> {
        let key = self.key.as_ref()?;
        self.hashes.get(&hash(key, email)).copied()
    }
}

fn hash(key: &hmac::Key, email: &str) -> String {
    data_encoding::HEXLOWER.encode(hmac::sign(key, email.as_bytes()).as_ref())
}

/// Where an address sits, per table, and how to take it out.
const TABLES: [(&str, &str); 10] = [
    ("deliveries", "DELETE FROM deliveries WHERE email = ?1"),
    ("suppressions", "DELETE FROM suppressions WHERE email = ?1"),
    (
        "suppression_log",
        "DELETE FROM suppression_log WHERE email = ?1",
    ),
    ("preferences", "DELETE FROM preferences WHERE email = ?1"),
    (
        "preference_log",
        "DELETE FROM preference_log WHERE email = ?1",
    ),
    ("subscribers", "DELETE FROM subscribers WHERE email = ?1"),
    ("signup_mails", "DELETE FROM signup_mails WHERE email = ?1"),
    ("mail_review", "DELETE FROM mail_review WHERE who = ?1"),
    ("soft_bounces", "DELETE FROM soft_bounces WHERE email = ?1"),
    ("test_sends", ""),
];

const KEY: &str = "erase_key";

impl Journal {
    /// The key erasure hashes are made with: the journal's, else the suppression copy's (a
    /// journal made anew keeps its predecessor's), else a new one, written to both.
    fn erase_key(&self) -> Result<hmac::Key> {
        let hex = match self.meta(KEY)? {
            Some(k) => k,
            None => {
                let copy_path = copy::copy_path(&self.path);
                let k = match copy::erasures(&copy_path)?.0 {
                    Some(k) => k,
                    None => {
                        let mut bytes = [0u8; 32];
                        getrandom::fill(&mut bytes).map_err(|e| {
                            crate::Error::Journal(format!(
                                "no random source for the erasure key: {e}"
                            ))
                        })?;
                        let k = data_encoding::HEXLOWER.encode(&bytes);
                        copy::append_line(&copy_path, &format!("0\terasekey\t{k}"))?;
                        k
                    }
                };
                self.set_meta(KEY, &k)?;
                k
            }
        };
        let bytes = data_encoding::HEXLOWER
            .decode(hex.as_bytes())
            .map_err(|e| crate::Error::Journal(format!("the journal's erasure key: {e}")))?;
        Ok(hmac::Key::new(hmac::HMAC_SHA256, &bytes))
    }

    /// The erased addresses, as audiences check them.
    pub fn erased(&self) -> Result<Erased> {
        let mut st = self
            .conn
            .prepare("SELECT hash, at_ms FROM erased")
            .map_err(|e| self.err(e))?;
        let hashes: HashMap<String, i64> = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .and_then(|rows| rows.collect())
            .map_err(|e| self.err(e))?;
        if hashes.is_empty() {
            return Ok(Erased::default());
        }
        Ok(Erased {
            key: Some(self.erase_key()?),
            hashes,
        })
    }

    /// Takes `email` out of every table and both copies, keeps its keyed hash, and leaves its
    /// bytes in none of the journal's files.
    pub fn forget(&self, email: &str, at_ms: i64) -> Result<Forgotten> {
        let key = self.erase_key()?;
        let h = hash(&key, email);
        // The copies first: once the journal is clean, nothing may bring the address back.
        copy::append_line(
            &copy::copy_path(&self.path),
            &format!("{at_ms}\terase\t{h}"),
        )?;
        let field = format!("\t{email}\t");
        let len =
            copy::rewrite_without(&copy::copy_path(&self.path), |line| !line.contains(&field))?;
        super::readers::forget_in_copy(&self.path, email)?;
        // Messages sent to it leave the journal's count of messages sent: the marker beside it
        // must lose as many, or the next run would take the journal for an older one.
        let sent_to_it: i64 = self
            .conn
            .query_row(
                "SELECT COUNT(*) FROM deliveries WHERE email = ?1 AND state = 'sent'",
                [email],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))?;
        let tx = self.conn.unchecked_transaction().map_err(|e| self.err(e))?;
        let mut out = Forgotten::default();
        for (table, sql) in TABLES {
            let n = if table == "test_sends" {
                forget_in_test_sends(&tx, email).map_err(|e| self.err(e))?
            } else {
                tx.execute(sql, [email]).map_err(|e| self.err(e))?
            };
            if n > 0 {
                out.rows.push((table.to_string(), n));
            }
        }
        tx.execute(
            "INSERT OR IGNORE INTO erased (hash, at_ms) VALUES (?1, ?2)",
            params![h, at_ms],
        )
        .map_err(|e| self.err(e))?;
        tx.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = ?2",
            params![super::suppressions::COPY_LEN, len.to_string()],
        )
        .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))?;
        if let Some(mut m) = super::continuity::read_marker(&self.path) {
            if sent_to_it > 0 {
                m.sent = m.sent.saturating_sub(sent_to_it as u64);
                super::continuity::write_marker(&self.path, &m)?;
            }
        }
        // The deleted rows' bytes linger in free pages and the WAL: rebuild the file and empty
        // the log.
        self.conn
            .execute_batch(
                "PRAGMA wal_checkpoint(TRUNCATE); VACUUM; PRAGMA wal_checkpoint(TRUNCATE);",
            )
            .map_err(|e| self.err(e))?;
        Ok(out)
    }

    /// Brings the erasures up to the suppression copy: a new or restored journal takes in the
    /// erased hashes (and their key) it lacks.
    pub(super) fn bring_erasures_up_to_copy(&self) -> Result<usize> {
        let (key, hashes) = copy::erasures(&copy::copy_path(&self.path))?;
        if let (Some(k), None) = (&key, self.meta(KEY)?) {
            self.set_meta(KEY, k)?;
        }
        let mut n = 0;
        for (h, at) in hashes {
            n += self
                .conn
                .execute(
                    "INSERT OR IGNORE INTO erased (hash, at_ms) VALUES (?1, ?2)",
                    params![h, at],
                )
                .map_err(|e| self.err(e))?;
        }
        Ok(n)
    }
}

/// Test sends name their addresses in one field ("a@x.org, b@x.org"): the address is taken
/// out of it; a row left naming nobody says \"(erased)\".
fn forget_in_test_sends(tx: &rusqlite::Transaction, email: &str) -> rusqlite::Result<usize> {
    let rows: Vec<(i64, String)> = tx
        .prepare("SELECT rowid, sent_to FROM test_sends")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut n = 0;
    for (id, to) in rows {
        let kept: Vec<&str> = to
            .split(", ")
            .filter(|t| !t.trim().eq_ignore_ascii_case(email))
            .collect();
        if kept.len() == to.split(", ").count() {
            continue;
        }
        // The row stays (the campaign was test-sent, and when), naming nobody erased.
        let to = if kept.is_empty() {
            "(erased)".to_string()
        } else {
            kept.join(", ")
        };
        n += tx.execute(
            "UPDATE test_sends SET sent_to = ?2 WHERE rowid = ?1",
            params![id, to],
        )?;
    }
    Ok(n)
}
