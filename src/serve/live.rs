//! The journal `serve` writes to, as it is on disk now. A server runs for months; meanwhile the
//! journal may be restored from a backup (a new file renamed over the old name) or moved away.
//! Writing through the connection opened at start would then record an unsubscribe in a file
//! nobody reads any more, and answer "done" for a change that was lost. So each write first
//! checks that the path still names the file it has open, opens the new one if not, and fails
//! (the client is told to retry) when there is none.

use std::path::{Path, PathBuf};

use crate::journal::Journal;
use crate::{Error, Result};

/// A file's identity: the same name may come to mean another file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Identity(u64, u64);

fn identity(path: &Path) -> std::io::Result<Identity> {
    let m = std::fs::metadata(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        Ok(Identity(m.dev(), m.ino()))
    }
    #[cfg(not(unix))]
    {
        Ok(Identity(0, m.len()))
    }
}

pub struct LiveJournal {
    path: PathBuf,
    open: Option<(Journal, Identity)>,
}

impl LiveJournal {
    pub fn new(path: PathBuf) -> LiveJournal {
        LiveJournal { path, open: None }
    }

    /// Whether there is a journal to record changes in at all.
    pub fn present(&self) -> bool {
        identity(&self.path).is_ok()
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
