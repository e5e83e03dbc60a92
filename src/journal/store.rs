//! The journal store: the one door a command goes through to its journal. A command makes one
//! `Store` from the journal's path (the command layer alone reads the path from the config) and
//! passes it down; the store opens the journal at most once, when first asked, and owns what
//! lives beside it: the run lock, the continuity marker and the suppression copy.
//!
//! What a command may ask of it is the boundary another backend would implement (see
//! ARCHITECTURE.md): the journal read or written, the run lock, whether the journal is the one
//! the project sent from, the marker after a run, and the suppressed addresses even without a
//! journal.

use std::cell::{RefCell, RefMut};
use std::collections::HashMap;
use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{continuity, copy, Journal, Marker};
use crate::{Error, Result};

/// The journal of one command. Not shared between threads: the sending run's writer takes the
/// connection for the run ([`Store::take`]) and gives it back.
pub struct Store {
    // Fields drop in the order declared: the connection closes before the descriptor that
    // holds the run lock. SQLite's own locks on the file are POSIX locks, which the system drops
    // when any descriptor of the file closes in the process; the run lock's descriptor is
    // therefore kept open as long as the store, and never closed under a connection.
    journal: RefCell<Option<Journal>>,
    handle: RefCell<Option<File>>,
    locked: RefCell<bool>,
    path: PathBuf,
}

impl Store {
    /// The store of the journal at `path`. Nothing is opened yet.
    pub fn new(path: PathBuf) -> Store {
        Store {
            journal: RefCell::new(None),
            handle: RefCell::new(None),
            locked: RefCell::new(false),
            path,
        }
    }

    /// Where the journal is: for messages and the problems that name it.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The journal, made if there is none yet; opened on the first call, the same connection
    /// after.
    pub fn journal(&self) -> Result<RefMut<'_, Journal>> {
        let mut slot = self.journal.borrow_mut();
        if slot.is_none() {
            *slot = Some(Journal::open(&self.path)?);
        }
        Ok(RefMut::map(slot, |j| j.as_mut().expect("opened above")))
    }

    /// The journal if there is one, never made: for commands that only read.
    pub fn existing(&self) -> Result<Option<RefMut<'_, Journal>>> {
        if self.journal.borrow().is_none() {
            match Journal::open_existing(&self.path)? {
                Some(j) => *self.journal.borrow_mut() = Some(j),
                None => return Ok(None),
            }
        }
        self.journal().map(Some)
    }

    /// The journal if there is one, else an empty one in memory that records nothing: what a
    /// dry run reads, so that it makes no journal.
    pub fn existing_or_empty(&self) -> Result<RefMut<'_, Journal>> {
        if self.journal.borrow().is_none() {
            let j = match Journal::open_existing(&self.path)? {
                Some(j) => j,
                None => Journal::empty()?,
            };
            *self.journal.borrow_mut() = Some(j);
        }
        self.journal()
    }

    /// Takes the journal's connection for a thread of its own (the run's writer), which gives
    /// it back with [`Store::give_back`]; opened first if need be.
    pub fn take(&self) -> Result<Journal> {
        drop(self.journal()?);
        Ok(self.journal.borrow_mut().take().expect("opened above"))
    }

    pub fn give_back(&self, journal: Journal) {
        *self.journal.borrow_mut() = Some(journal);
    }

    /// Every suppressed address with its reason: from the journal, or when there is none (lost,
    /// or not made yet), from the suppression copy beside where it goes.
    pub fn suppressed_addresses(&self) -> Result<HashMap<String, String>> {
        if let Some(j) = self.existing()? {
            return Ok(j
                .suppressions()?
                .into_iter()
                .map(|s| (s.email, s.reason))
                .collect());
        }
        Ok(copy::last_words(&copy::copy_path(&self.path))?
            .map(|(words, _)| {
                words
                    .into_values()
                    .filter(|c| c.add)
                    .map(|c| (c.email, c.reason))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// The erased addresses (`bulletin forget`): from the journal, or without one from the
    /// suppression copy.
    pub fn erased(&self) -> Result<super::Erased> {
        match self.existing()? {
            Some(j) => j.erased(),
            None => super::Erased::from_copy(&self.path),
        }
    }

    /// Before a run sends: refuses a journal that cannot be the one this project sent from
    /// (see [`continuity`]). Asked before the journal is opened, so that a missing one is seen
    /// as missing.
    pub fn check_continuity(&self, allow_new: bool) -> Result<()> {
        match continuity::judge(&self.path, allow_new)? {
            continuity::Judged::Fine => Ok(()),
            continuity::Judged::Compare(m) => {
                let now = self.journal()?.marker()?;
                continuity::compare(&self.path, &m, &now)
            }
        }
    }

    /// Records beside the journal that it has sent, and how much.
    pub fn write_marker(&self, m: &Marker) -> Result<()> {
        continuity::write_marker(&self.path, m)
    }

    /// The descriptor the run lock is taken on, opened before any connection and kept as long
    /// as the store (see the note on the fields).
    fn handle(&self, create: bool) -> Result<Option<std::cell::RefMut<'_, File>>> {
        let mut slot = self.handle.borrow_mut();
        if slot.is_none() {
            if !create && !self.path.exists() {
                return Ok(None);
            }
            if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;
            }
            let mut o = OpenOptions::new();
            // flock needs no write access: a journal only read is probed through a read-only descriptor.
            o.read(true).write(create).create(create).truncate(false);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
            match o.open(&self.path) {
                Ok(f) => *slot = Some(f),
                Err(e) if !create && e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(Error::io("open the journal to lock it", &self.path, e)),
            }
        }
        Ok(Some(RefMut::map(slot, |f| {
            f.as_mut().expect("opened above")
        })))
    }

    /// Takes the run lock, so that two runs (`send`, `due`, from one config or two, through any
    /// path, symlink or mount that reaches the same file) never send at once; waits up to `wait`
    /// for another run to finish. `what` says who holds it, for the message another run shows.
    /// The system releases it when this process exits or dies: a crashed run never leaves the
    /// journal locked.
    pub fn lock_run(&self, wait: Duration, what: &str) -> Result<()> {
        if *self.locked.borrow() {
            return Ok(());
        }
        {
            let file = self.handle(true)?.expect("made when missing");
            let start = Instant::now();
            loop {
                match file.try_lock() {
                    Ok(()) => break,
                    Err(TryLockError::WouldBlock) if start.elapsed() < wait => {
                        std::thread::sleep(Duration::from_millis(100))
                    }
                    Err(TryLockError::WouldBlock) => {
                        drop(file);
                        return Err(Error::Busy(format!(
                            "another bulletin run is sending from the journal {} ({}), so this one stops to avoid sending anything twice; run again when it is done",
                            self.path.display(),
                            self.holder()
                        )));
                    }
                    Err(TryLockError::Error(e)) => return Err(Error::io("lock", &self.path, e)),
                }
            }
        }
        *self.locked.borrow_mut() = true;
        let holder = format!(
            "pid {} since {}: {what}",
            std::process::id(),
            crate::clock::utc().format("%Y-%m-%d %H:%M:%S UTC")
        );
        self.journal()?.set_meta("holder", &holder)
    }

    fn holder(&self) -> String {
        self.existing()
            .ok()
            .flatten()
            .and_then(|j| j.meta("holder").ok().flatten())
            .unwrap_or_else(|| "another process".into())
    }

    /// Whether another run holds the run lock now: rows it marked sending are in flight, not
    /// left by a run that died.
    pub fn held_by_a_run(&self) -> bool {
        if *self.locked.borrow() {
            return false;
        }
        let Ok(Some(file)) = self.handle(false) else {
            return false;
        };
        match file.try_lock_shared() {
            Ok(()) => {
                let _ = file.unlock();
                false
            }
            Err(TryLockError::WouldBlock) => true,
            Err(TryLockError::Error(_)) => false,
        }
    }

    /// The journal as `serve` keeps it for months: reopened when the path comes to name another
    /// file (a backup restored), never made anew.
    pub fn into_live(self) -> super::live::LiveJournal {
        let journal = self.journal.borrow_mut().take();
        super::live::LiveJournal::new(self.path.clone(), journal)
    }
}
