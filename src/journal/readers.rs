//! The reader's say, kept in the journal: the languages and topics a reader chose on the
//! preference page (which beat their lists' cells), the people who signed up through the form
//! and confirmed, and the confirmation mails sent, which the form's limits count.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::{Journal, Removal, Suppression};
use crate::Result;

/// A reader's own choice of languages and topics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Choice {
    pub email: String,
    /// Language codes, the first leading; several make the message bilingual.
    pub languages: Vec<String>,
    pub interests: Vec<String>,
    pub at_ms: i64,
    /// How it came: "page" (the preference page).
    pub source: String,
}

/// Someone who signed up through the form and confirmed from the link mailed to them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscriber {
    pub email: String,
    pub name: String,
    pub languages: Vec<String>,
    pub interests: Vec<String>,
    /// When the form was sent.
    pub requested_at_ms: i64,
    pub confirmed_at_ms: i64,
    /// The digest of the form's text the person saw.
    pub form_version: String,
}

/// What confirming a sign-up did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirmed {
    /// A new subscriber; `lifted` is the suppression it took the address off, if it was on it.
    New { lifted: Option<Suppression> },
    /// An address that had confirmed an earlier sign-up: its choices are now this one's.
    Renewed { lifted: Option<Suppression> },
    /// This very sign-up (or a later one) was confirmed already: nothing changes.
    AlreadyDone { confirmed_at_ms: i64 },
}

fn split(s: String, sep: char) -> Vec<String> {
    s.split(sep)
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
}

pub(super) fn choice_row(r: &rusqlite::Row) -> rusqlite::Result<Choice> {
    Ok(Choice {
        email: r.get(0)?,
        languages: split(r.get(1)?, '+'),
        interests: split(r.get(2)?, ';'),
        at_ms: r.get(3)?,
        source: r.get(4)?,
    })
}

fn subscriber_row(r: &rusqlite::Row) -> rusqlite::Result<Subscriber> {
    Ok(Subscriber {
        email: r.get(0)?,
        name: r.get(1)?,
        languages: split(r.get(2)?, '+'),
        interests: split(r.get(3)?, ';'),
        requested_at_ms: r.get(4)?,
        confirmed_at_ms: r.get(5)?,
        form_version: r.get(6)?,
    })
}

const CHOICE: &str = "SELECT email, languages, interests, at_ms, source FROM preferences";
const SUBSCRIBER: &str = "SELECT email, name, languages, interests, requested_at_ms, confirmed_at_ms, form_version FROM subscribers";

/// The counts the sign-up form's limits are taken on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SignupCounts {
    pub to_address: usize,
    pub from_client: usize,
    pub all: usize,
    /// Confirmation mails since `hour_ms`.
    pub all_last_hour: usize,
}

impl Journal {
    /// Saves a reader's choice (it replaces their earlier one) and logs it; the readers' copy
    /// beside the journal has it first.
    pub fn set_preference(&self, c: &Choice) -> Result<()> {
        append(&copy_path(&self.path), &Said::Preference(c.clone()))?;
        self.store_preference(c)
    }

    fn store_preference(&self, c: &Choice) -> Result<()> {
        let tx = self.conn.unchecked_transaction().map_err(|e| self.err(e))?;
        let p = params![
            c.email,
            c.languages.join("+"),
            c.interests.join(";"),
            c.at_ms,
            c.source
        ];
        tx.execute(
            "INSERT INTO preferences (email, languages, interests, at_ms, source) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(email) DO UPDATE SET languages = ?2, interests = ?3, at_ms = ?4, source = ?5",
            p,
        )
        .map_err(|e| self.err(e))?;
        tx.execute(
            "INSERT INTO preference_log (email, languages, interests, at_ms, source) VALUES (?1, ?2, ?3, ?4, ?5)",
            p,
        )
        .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))
    }

    pub fn preference(&self, email: &str) -> Result<Option<Choice>> {
        self.conn
            .query_row(&format!("{CHOICE} WHERE email = ?1"), [email], choice_row)
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Every reader's choice, by address.
    pub fn preferences(&self) -> Result<Vec<Choice>> {
        let mut st = self
            .conn
            .prepare(&format!("{CHOICE} ORDER BY email"))
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([], choice_row)
            .map_err(|e| self.err(e))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e));
        rows
    }

    pub fn subscriber(&self, email: &str) -> Result<Option<Subscriber>> {
        self.conn
            .query_row(
                &format!("{SUBSCRIBER} WHERE email = ?1"),
                [email],
                subscriber_row,
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Every confirmed subscriber, in the order they confirmed.
    pub fn subscribers(&self) -> Result<Vec<Subscriber>> {
        let mut st = self
            .conn
            .prepare(&format!("{SUBSCRIBER} ORDER BY confirmed_at_ms, email"))
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([], subscriber_row)
            .map_err(|e| self.err(e))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e));
        rows
    }

    /// Records a confirmed sign-up. A link confirmed before (or one older than the sign-up
    /// already confirmed) changes nothing: a replayed link must not undo a later unsubscribe.
    /// An address on the suppression list is taken off it, logged as the reader's own doing.
    pub fn confirm_signup(&self, s: &Subscriber) -> Result<Confirmed> {
        let old = self.subscriber(&s.email)?;
        if let Some(old) = &old {
            if old.requested_at_ms >= s.requested_at_ms {
                return Ok(Confirmed::AlreadyDone {
                    confirmed_at_ms: old.confirmed_at_ms,
                });
            }
        }
        // A confirmed sign-up is the person's own fresh consent: it outweighs their earlier
        // unsubscribe, complaint or a bounce (the mailbox just answered). The team's own
        // decision ("manual") is not the person's to undo.
        let team_decided = self
            .suppression(&s.email)?
            .is_some_and(|x| x.reason == "manual");
        let lifted = if team_decided {
            None
        } else {
            self.unsuppress(&Removal {
                email: &s.email,
                at_ms: s.confirmed_at_ms,
                source: "signup",
                by: Some("the reader, confirming a sign-up"),
            })?
        };
        append(&copy_path(&self.path), &Said::Subscriber(s.clone()))?;
        self.store_subscriber(s)?;
        Ok(if old.is_some() {
            Confirmed::Renewed { lifted }
        } else {
            Confirmed::New { lifted }
        })
    }

    fn store_subscriber(&self, s: &Subscriber) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO subscribers (email, name, languages, interests, requested_at_ms, confirmed_at_ms, form_version)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT(email) DO UPDATE SET name = ?2, languages = ?3, interests = ?4,
                    requested_at_ms = ?5, confirmed_at_ms = ?6, form_version = ?7",
                params![
                    s.email,
                    s.name,
                    s.languages.join("+"),
                    s.interests.join(";"),
                    s.requested_at_ms,
                    s.confirmed_at_ms,
                    s.form_version
                ],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Brings the readers' choices and sign-ups up to the copy beside the journal: what the
    /// copy recorded later than the journal (a journal made anew, or restored from an older
    /// backup) is applied. Returns what happened, for the operator, when anything did.
    pub(super) fn bring_readers_up_to_copy(&self) -> Result<Option<String>> {
        let path = copy_path(&self.path);
        // The copy's last word on each reader: lines are appended in the order the journal
        // took them, so a later line wins a tie of times.
        let mut choices: std::collections::BTreeMap<String, Choice> = Default::default();
        let mut signups: std::collections::BTreeMap<String, Subscriber> = Default::default();
        for said in read_copy(&path)? {
            match said {
                Said::Preference(c) => {
                    if choices.get(&c.email).is_none_or(|k| k.at_ms <= c.at_ms) {
                        choices.insert(c.email.clone(), c);
                    }
                }
                Said::Subscriber(s) => {
                    if signups
                        .get(&s.email)
                        .is_none_or(|k| k.requested_at_ms <= s.requested_at_ms)
                    {
                        signups.insert(s.email.clone(), s);
                    }
                }
            }
        }
        let (mut n_choices, mut n_signups) = (0usize, 0usize);
        for c in choices.values() {
            let known = self.preference(&c.email)?;
            let behind = known.is_none_or(|k| {
                k.at_ms < c.at_ms
                    || (k.at_ms == c.at_ms
                        && (k.languages, k.interests) != (c.languages.clone(), c.interests.clone()))
            });
            if behind {
                self.store_preference(c)?;
                n_choices += 1;
            }
        }
        for s in signups.values() {
            let known = self.subscriber(&s.email)?;
            if known.is_none_or(|k| k.requested_at_ms < s.requested_at_ms) {
                self.store_subscriber(s)?;
                n_signups += 1;
            }
        }
        if n_choices + n_signups == 0 {
            return Ok(None);
        }
        Ok(Some(format!(
            "the journal {} lacked {} and {} that {} records (a new journal, one restored from a backup, or a change cut short by a crash): the journal now has them",
            self.path.display(),
            crate::text::count(n_choices, "reader's choice", "readers' choices"),
            crate::text::count(n_signups, "confirmed sign-up", "confirmed sign-ups"),
            path.display()
        )))
    }

    /// The reader takes back their own unsubscribe (the unsubscribe page's button): logged as
    /// theirs. Returns the record it had, if the address was on the list.
    pub fn resubscribe(&self, email: &str, at_ms: i64) -> Result<Option<Suppression>> {
        self.unsuppress(&Removal {
            email,
            at_ms,
            source: "link",
            by: Some("the reader, on the unsubscribe page"),
        })
    }

    /// Since `since_ms`: confirmation mails to this address, sign-ups asked for from this
    /// client (mailed or not), and confirmation mails in all.
    /// Older rows are pruned first, so the table stays a day long.
    pub fn signup_counts(
        &self,
        email: &str,
        client: &str,
        since_ms: i64,
        hour_ms: i64,
    ) -> Result<SignupCounts> {
        self.conn
            .execute("DELETE FROM signup_mails WHERE at_ms < ?1", [since_ms])
            .map_err(|e| self.err(e))?;
        self.conn
            .query_row(
                "SELECT COALESCE(SUM(email = ?1 AND mailed), 0), COALESCE(SUM(client = ?2), 0), COALESCE(SUM(mailed), 0), COALESCE(SUM(mailed AND at_ms >= ?3), 0) FROM signup_mails",
                params![email, client, hour_ms],
                |r| {
                    Ok(SignupCounts {
                        to_address: r.get::<_, i64>(0)? as usize,
                        from_client: r.get::<_, i64>(1)? as usize,
                        all: r.get::<_, i64>(2)? as usize,
                        all_last_hour: r.get::<_, i64>(3)? as usize,
                    })
                },
            )
            .map_err(|e| self.err(e))
    }

    /// Notes a sign-up asked for and, when `relay` names where its confirmation mail goes,
    /// that mail's hand-over (the rate caps count it with the campaigns' messages).
    pub fn record_signup(
        &self,
        email: &str,
        client: &str,
        relay: Option<&str>,
        at_ms: i64,
    ) -> Result<()> {
        let tx = self.conn.unchecked_transaction().map_err(|e| self.err(e))?;
        tx.execute(
            "INSERT INTO signup_mails (email, client, at_ms, mailed) VALUES (?1, ?2, ?3, ?4)",
            params![email, client, at_ms, relay.is_some()],
        )
        .map_err(|e| self.err(e))?;
        if let Some(relay) = relay {
            tx.execute(
                "INSERT INTO handovers (at_ms, relay) VALUES (?1, ?2)",
                params![at_ms, relay],
            )
            .map_err(|e| self.err(e))?;
        }
        tx.commit().map_err(|e| self.err(e))
    }
}

/// What a reader said, as the readers' copy keeps it: one JSON object a line.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Said {
    Preference(Choice),
    Subscriber(Subscriber),
}

/// The readers' copy of the journal at `journal`: like the suppression copy, every choice and
/// confirmed sign-up is appended (and synced) here before the journal records it, so that a
/// journal lost or restored from an older backup loses no reader's word.
pub fn copy_path(journal: &Path) -> PathBuf {
    super::copy::beside(journal, "readers")
}

fn append(path: &Path, said: &Said) -> Result<()> {
    let mut line = serde_json::to_string(said).expect("serialises");
    line.push('\n');
    let mut f = super::copy::open_to_append(path)?;
    f.write_all(line.as_bytes())
        .and_then(|_| f.sync_data())
        .map_err(|e| crate::Error::io("write", path, e))
}

/// Every complete line of the copy (one cut short by a crash is left out).
fn read_copy(path: &Path) -> Result<Vec<Said>> {
    let f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(crate::Error::io("read", path, e)),
    };
    let mut out = Vec::new();
    let mut reader = std::io::BufReader::new(f);
    let mut line = String::new();
    loop {
        line.clear();
        let n = reader
            .read_line(&mut line)
            .map_err(|e| crate::Error::io("read", path, e))?;
        if n == 0 || !line.ends_with('\n') {
            break;
        }
        if let Ok(said) = serde_json::from_str(&line) {
            out.push(said);
        }
    }
    Ok(out)
}

/// Takes every line about `email` out of the readers' copy (`bulletin forget`).
pub(super) fn forget_in_copy(journal: &Path, email: &str) -> Result<()> {
    super::copy::rewrite_without(&copy_path(journal), |line| {
        !matches!(
            serde_json::from_str::<Said>(line),
            Ok(Said::Preference(Choice { email: ref e, .. }) | Said::Subscriber(Subscriber { email: ref e, .. })) if e == email
        )
    })
    .map(|_| ())
}
