//! A project's send lock: the journal's path in, an exclusive OS file lock out, so that two runs
//! (`send`, `due`) never send the same campaign at once. The OS releases it when the holder
//! exits or dies, so a crashed run never leaves the project locked.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::{Error, Result};

pub struct ProjectLock {
    _file: File,
    pub path: PathBuf,
}

impl ProjectLock {
    /// Takes the lock, waiting up to `wait` for another run to finish.
    pub fn acquire(journal: &Path, wait: Duration) -> Result<ProjectLock> {
        let path = journal.with_extension("lock");
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;
        }
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io("open the lock file", &path, e))?;
        let start = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) if start.elapsed() < wait => {
                    std::thread::sleep(Duration::from_millis(100))
                }
                Err(TryLockError::WouldBlock) => {
                    let holder = std::fs::read_to_string(&path).unwrap_or_default();
                    return Err(Error::Busy(format!(
                        "another bulletin run is sending from this project ({}), so this one stops to avoid sending anything twice; it holds {}",
                        holder.trim(),
                        path.display()
                    )));
                }
                Err(TryLockError::Error(e)) => return Err(Error::io("lock", &path, e)),
            }
        }
        // Who holds it, for the message the next run shows.
        let _ = file.set_len(0);
        let _ = writeln!(
            file,
            "pid {} since {}",
            std::process::id(),
            crate::clock::utc().to_rfc3339()
        );
        Ok(ProjectLock { _file: file, path })
    }
}
