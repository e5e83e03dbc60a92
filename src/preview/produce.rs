//! The messages of a preview made on every core: threads take recipients in chunks, so that
//! one slow message holds back no other thread, and the first error stops them all.

use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use super::{interrupted, nonce, safe_name, write_file, Entry};
use crate::compose::Marks;
use crate::project::Prepared;
use crate::{Error, Result};

/// Recipients a thread takes at a time.
const CHUNK: usize = 64;

/// Writes the messages of the first `n` recipients into `dir` (nothing with `dry`). Returns
/// what the index needs of each (none with `dry`), how many were made, and the bytes written.
pub(super) fn produce(
    prepared: &Prepared,
    n: usize,
    dir: &Path,
    dry: bool,
    now: SystemTime,
) -> Result<(Vec<Entry>, usize, u64)> {
    let job = Job {
        prepared,
        n: n.min(prepared.audience.recipients.len()),
        dir,
        dry,
        now,
        marks: Marks::unsent(&nonce(now)),
        next: AtomicUsize::new(0),
        failed: AtomicBool::new(false),
        first_error: Mutex::new(None),
        made: AtomicUsize::new(0),
        bytes: AtomicUsize::new(0),
    };
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(16);
    let mut all: Vec<Entry> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers).map(|_| s.spawn(|| job.work())).collect();
        // A thread that panicked made only part of its share: the preview is not whole, so
        // the panic goes on here rather than a preview with messages missing.
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    if let Some(e) = job.first_error.into_inner().unwrap() {
        return Err(e);
    }
    all.sort_by_key(|e| e.recipient);
    Ok((all, job.made.into_inner(), job.bytes.into_inner() as u64))
}

/// What the threads share: the next chunk to take, the first error, the counts.
struct Job<'a> {
    prepared: &'a Prepared,
    n: usize,
    dir: &'a Path,
    dry: bool,
    now: SystemTime,
    marks: Marks,
    next: AtomicUsize,
    failed: AtomicBool,
    first_error: Mutex<Option<Error>>,
    made: AtomicUsize,
    bytes: AtomicUsize,
}

impl Job<'_> {
    /// One thread's share: chunks of recipients until none is left or a thread failed.
    fn work(&self) -> Vec<Entry> {
        let mut entries = Vec::new();
        // Most messages have one of a few subjects: each is kept once.
        let mut subjects: HashSet<Arc<str>> = HashSet::new();
        loop {
            let start = self.next.fetch_add(CHUNK, Relaxed);
            if start >= self.n || self.failed.load(Relaxed) {
                break;
            }
            let chunk = interrupted().and_then(|()| {
                for i in start..(start + CHUNK).min(self.n) {
                    entries.extend(self.one(i, &mut subjects)?);
                }
                Ok(())
            });
            if let Err(e) = chunk {
                self.failed.store(true, Relaxed);
                self.first_error.lock().unwrap().get_or_insert(e);
                break;
            }
        }
        entries
    }

    /// Recipient `i`'s message, written with its HTML and text parts beside it.
    fn one(&self, i: usize, subjects: &mut HashSet<Arc<str>>) -> Result<Option<Entry>> {
        let r = &self.prepared.audience.recipients[i];
        let (rendered, composed) = self
            .prepared
            .message(r, self.now, &self.marks)
            .map_err(|e| Error::Message(e.to_string()))?;
        if self.dry {
            self.made.fetch_add(1, Relaxed);
            return Ok(None);
        }
        let base = safe_name(i, r.contact.email());
        write_file(&self.dir.join(format!("{base}.eml")), &composed.bytes)?;
        write_file(
            &self.dir.join(format!("{base}.html")),
            rendered.html.as_bytes(),
        )?;
        write_file(
            &self.dir.join(format!("{base}.txt")),
            rendered.text.as_bytes(),
        )?;
        self.made.fetch_add(1, Relaxed);
        self.bytes.fetch_add(
            composed.bytes.len() + rendered.html.len() + rendered.text.len(),
            Relaxed,
        );
        let subject = match subjects.get(rendered.subject.as_str()) {
            Some(s) => Arc::clone(s),
            None => {
                let s: Arc<str> = rendered.subject.into();
                subjects.insert(Arc::clone(&s));
                s
            }
        };
        Ok(Some(Entry {
            recipient: i,
            subject,
            bytes: composed.bytes.len(),
        }))
    }
}
