//! Whether a journal is the one a project sent from: the journal's path in, a refusal out when it
//! is missing, replaced or older than the last run, so that a lost journal never becomes a silent
//! resend to everyone. A marker beside the journal remembers that the project has sent.

use std::path::{Path, PathBuf};

use super::{orphaned_log, side_files, Journal};
use crate::{Error, Result};

/// The marker a journal leaves beside it once a run has sent from it: `.NAME.sent` in the same
/// folder, holding the journal's id and how many messages it recorded as sent. It is how a later
/// run knows that a journal missing, replaced or older than the last run is not a fresh start.
pub fn marker_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "journal".into());
    path.with_file_name(format!(".{name}.sent"))
}

/// What the marker says of the journal: which one it is, how many sending runs it has seen
/// (each run starts by counting itself), and how many messages it had recorded as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marker {
    pub id: String,
    pub generation: u64,
    pub sent: u64,
}

pub(super) fn read_marker(path: &Path) -> Option<Marker> {
    let text = std::fs::read_to_string(marker_path(path)).ok()?;
    let field = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(k)?.strip_prefix('='))
            .map(|v| v.trim().to_string())
    };
    let number = |k: &str| field(k).and_then(|v| v.parse().ok()).unwrap_or(0);
    Some(Marker {
        id: field("journal_id").unwrap_or_default(),
        generation: number("runs"),
        sent: number("sent"),
    })
}

impl Journal {
    /// The marker as this journal stands now.
    pub fn marker(&self) -> Result<Marker> {
        Ok(Marker {
            id: self.id()?,
            generation: self.generation()?,
            sent: self.total_sent()?,
        })
    }
}

/// Records beside the journal (at `path`) that it has sent, and how much. Written only after
/// the journal itself committed what it says, so the marker never claims more than the journal.
pub fn write_marker(path: &Path, m: &Marker) -> Result<()> {
    let mpath = marker_path(path);
    let text = format!(
        "# Written by bulletin: the journal {} has sent messages. Do not delete: it is how bulletin\n# knows that a missing, replaced or older journal is not a fresh start.\njournal_id={}\nruns={}\nsent={}\n",
        path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default(),
        m.id,
        m.generation,
        m.sent,
    );
    let tmp = mpath.with_extension("tmp");
    std::fs::write(&tmp, text).map_err(|e| Error::io("write", &tmp, e))?;
    std::fs::rename(&tmp, &mpath).map_err(|e| Error::io("write", &mpath, e))
}

/// What can be said of the journal before it is opened.
pub(super) enum Judged {
    /// Nothing against it: no marker, a new journal allowed, or none yet and none before.
    Fine,
    /// The journal exists and the marker says what it must be: compare with it opened.
    Compare(Marker),
}

fn refusal(what: String) -> Error {
    Error::Discontinuous(format!(
        "{what}. A new journal knows nothing of who was already mailed, so sending now could mail everyone again. Restore the journal from a backup and run again; or, if you mean to start a new journal on purpose, run again with --new-journal"
    ))
}

/// Before a run sends, the part of the check that needs no connection: refuses a journal that
/// is missing where a run sent from one. With `allow_new` (the user's `--new-journal`), a new
/// journal is accepted and an orphaned write-ahead log is set aside.
pub(super) fn judge(path: &Path, allow_new: bool) -> Result<Judged> {
    let marker = read_marker(path);
    let existed = std::fs::metadata(path).is_ok_and(|m| m.len() > 0);
    let mpath = marker_path(path);
    if !existed {
        if let Some(wal) = orphaned_log(path) {
            if !allow_new {
                return Err(refusal(format!(
                    "the journal {} is missing, but its write-ahead log {} is still there: the journal was deleted or moved",
                    path.display(),
                    wal.display()
                )));
            }
            let stamp = crate::clock::now_ms();
            for f in side_files(path) {
                if f.exists() {
                    let aside = PathBuf::from(format!("{}.orphaned-{stamp}", f.display()));
                    std::fs::rename(&f, &aside).map_err(|e| Error::io("set aside", &f, e))?;
                }
            }
        }
        if marker.is_some() && !allow_new {
            return Err(refusal(format!(
                "the journal {} is missing, but {} says this project has sent from a journal there before",
                path.display(),
                mpath.display()
            )));
        }
        return Ok(Judged::Fine);
    }
    match marker {
        Some(m) if !allow_new => Ok(Judged::Compare(m)),
        _ => Ok(Judged::Fine),
    }
}

/// The rest of the check: refuses a journal (`now`) that is not the one the marker names, or
/// older than the last run.
pub(super) fn compare(path: &Path, m: &Marker, now: &Marker) -> Result<()> {
    let mpath = marker_path(path);
    let sent = now.sent;
    if now.id != m.id {
        return Err(refusal(format!(
            "the journal {} is not the one this project sent from ({} names journal {}, this one is {}): it was replaced",
            path.display(),
            mpath.display(),
            m.id,
            now.id
        )));
    }
    if now.generation < m.generation {
        return Err(refusal(format!(
            "the journal {} has seen {} sending runs, but {} saw {}: it is an older copy (restored from a backup taken before the last run?)",
            path.display(),
            now.generation,
            mpath.display(),
            m.generation
        )));
    }
    if sent < m.sent {
        return Err(refusal(format!(
            "the journal {} records {sent} messages sent, but {} saw {} after an earlier run: it is an older copy (restored from a backup?)",
            path.display(),
            mpath.display(),
            m.sent
        )));
    }
    Ok(())
}
