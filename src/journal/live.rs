//! The journal `serve` writes to, as it is on disk now. A server runs for months; meanwhile the
//! journal may be restored from a backup (a new file renamed over the old name) or moved away.
//! Writing through the connection opened at start would then record an unsubscribe in a file
//! nobody reads any more, and answer "done" for a change that was lost. So each write first
//! checks that the path still names the file it has open, opens the new one if not, and fails
//! (the client is told to retry) when there is none.

use std::path::{Path, PathBuf};

use super::file::{identity, Identity};
use super::Journal;
use crate::{Error, Result};

/// Whether `path` is a file that holds an SQLite database (its first 16 bytes say so).
fn is_journal(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 16];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok()
        && std::fs::metadata(path).is_ok_and(|m| m.is_file())
        && &head == b"SQLite format 3\0"
}

pub struct LiveJournal {
    path: PathBuf,
    open: Option<(Journal, Identity)>,
}

impl LiveJournal {
    /// Keeps `journal` (just opened at `path`) as long as the path names its file.
    pub(super) fn new(path: PathBuf, journal: Option<Journal>) -> LiveJournal {
        let open = journal.and_then(|j| Some((j.opened_as?, j)).map(|(id, j)| (j, id)));
        LiveJournal { path, open }
    }

    /// A store of the same journal for one request that must read a campaign through it
    /// (the approval page prepares the campaign): the server's own connection stays its own.
    pub fn store_for_a_request(&self) -> super::Store {
        super::Store::new(self.path.clone())
    }

    /// Whether there is a journal to record changes in at all. Never opens the file this
    /// process holds a connection to: closing any descriptor of a file drops the process's
    /// POSIX locks on it, SQLite's included, and another process (a backup, `sqlite3`, a
    /// command of bulletin's) would then take itself for the last user of the journal and
    /// delete the write-ahead log the server still writes to.
    pub fn present(&self) -> bool {
        let now = identity(&self.path).ok();
        match &self.open {
            Some((_, id)) if now == Some(*id) => true,
            _ => is_journal(&self.path),
        }
    }

    /// Runs `f` on the journal the path names now, and makes sure it still names it after:
    /// if the file was replaced meanwhile, `f` runs again on the new one (it must be
    /// idempotent, as suppressing is).
    pub fn write<T>(&mut self, mut f: impl FnMut(&Journal) -> Result<T>) -> Result<T> {
        for _ in 0..3 {
            let now = identity(&self.path).map_err(|e| {
                Error::Journal(format!(
                    "the journal {} cannot be found ({e}): it was moved or deleted; restore it, then the change can be recorded",
                    self.path.display()
                ))
            })?;
            if self.open.as_ref().map(|(_, id)| *id) != Some(now) {
                self.open = None;
                // Only a journal: an empty or foreign file put in its place would become a new
                // journal, whose log could then be replayed onto the one restored later.
                if !is_journal(&self.path) {
                    return Err(Error::Journal(format!(
                        "{} is not a journal (a folder, an empty file, or not SQLite): restore the journal, then the change can be recorded",
                        self.path.display()
                    )));
                }
                let j = Journal::open(&self.path)?;
                self.open = Some((j, now));
            }
            let (j, _) = self.open.as_ref().expect("opened above");
            let out = f(j)?;
            if identity(&self.path).ok() == Some(now) {
                return Ok(out);
            }
        }
        Err(Error::Journal(format!(
            "the journal {} kept being replaced while a change was recorded",
            self.path.display()
        )))
    }
}
