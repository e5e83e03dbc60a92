//! The send lock: the journal's path in, an exclusive OS lock on the journal file itself out, so
//! that two runs (`send`, `due`, from one config or two, through any path, symlink or mount that
//! reaches the same file) never send at once. The OS releases it when the holder exits or dies,
//! so a crashed run never leaves the journal locked.
//!
//! The lock is a `flock` on a descriptor of the journal file, which on Linux is independent of
//! the byte-range locks SQLite takes. SQLite's locks are dropped when any descriptor of the file
//! is closed in the process, so the lock's descriptor is opened before this process opens the
//! journal with SQLite and closed only after every connection is gone (the holder outlives them).

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::{Error, Result};

pub struct JournalLock {
    _file: File,
    pub path: PathBuf,
}

fn open(path: &Path) -> Result<File> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;
    }
    let mut o = OpenOptions::new();
    o.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    o.open(path)
        .map_err(|e| Error::io("open the journal to lock it", path, e))
}

impl JournalLock {
    /// Takes the lock, waiting up to `wait` for another run to finish. `what` says who holds it,
    /// for the message another run shows.
    pub fn acquire(journal: &Path, wait: Duration, what: &str) -> Result<JournalLock> {
        let file = open(journal)?;
        let start = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) if start.elapsed() < wait => {
                    std::thread::sleep(Duration::from_millis(100))
                }
                Err(TryLockError::WouldBlock) => {
                    let holder = crate::journal::Journal::open(journal)
                        .and_then(|j| j.meta("holder"))
                        .ok()
                        .flatten()
                        .unwrap_or_else(|| "another process".into());
                    return Err(Error::Busy(format!(
                        "another bulletin run is sending from the journal {} ({holder}), so this one stops to avoid sending anything twice; run again when it is done",
                        journal.display()
                    )));
                }
                Err(TryLockError::Error(e)) => return Err(Error::io("lock", journal, e)),
            }
        }
        let lock = JournalLock {
            _file: file,
            path: journal.to_path_buf(),
        };
        let holder = format!(
            "pid {} since {}: {what}",
            std::process::id(),
            crate::clock::utc().format("%Y-%m-%d %H:%M:%S UTC")
        );
        crate::journal::Journal::open(journal)?.set_meta("holder", &holder)?;
        Ok(lock)
    }
}

/// Whether a run holds the journal's send lock now. Call it while this process has no SQLite
/// connection to the journal open (see the module's note).
pub fn held_by_a_run(journal: &Path) -> bool {
    let Ok(file) = File::open(journal) else {
        return false;
    };
    match file.try_lock_shared() {
        Ok(()) => false,
        Err(TryLockError::WouldBlock) => true,
        Err(TryLockError::Error(_)) => false,
    }
}
