//! What a run's sending tasks share: the queue of recipients, the counts, why the run stops,
//! and the context every task is handed (the prepared campaign, the journal's writer, the
//! rate limiter and the relays).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::rate::Limiter;
use super::relays::Relays;
use super::writer::Recorder;
use super::{Failure, Stop};
use crate::project::Prepared;

/// One recipient's turn in the queue. An item in the queue is never claimed in the journal: a
/// claim is taken just before its message goes, and released (as deferred) when it goes back.
#[derive(Clone, Copy)]
pub(super) struct Item {
    pub(super) idx: u32,
    pub(super) attempt: u16,
    /// Milliseconds after the run's start: twelve bytes an item, for a queue of a million.
    pub(super) not_before_ms: u32,
}

impl Item {
    pub(super) fn idx(&self) -> usize {
        self.idx as usize
    }
}

/// What the sending tasks share.
pub(super) struct Shared {
    /// What the items' times count from.
    pub(super) start: Instant,
    pub(super) queue: Mutex<VecDeque<Item>>,
    /// Items not yet settled (in the queue, in flight, or waiting for a retry).
    pub(super) open: AtomicUsize,
    pub(super) stop: AtomicBool,
    pub(super) stop_reason: Mutex<Option<Stop>>,
    pub(super) fatal: Mutex<Option<String>>,
    pub(super) consecutive: AtomicU32,
    pub(super) counts: Counters,
    pub(super) failures: Mutex<Vec<Failure>>,
}

#[derive(Default)]
pub struct Counters {
    pub attempted: AtomicUsize,
    pub sent: AtomicUsize,
    pub failed: AtomicUsize,
    pub deferred: AtomicUsize,
    pub unknown: AtomicUsize,
    /// Claimed first by another run on the same journal.
    pub elsewhere: AtomicUsize,
    /// Suppressed (unsubscribed, bounced) after the run began, found when claiming them.
    pub suppressed: AtomicUsize,
}

impl Shared {
    /// Stops the run for a reason no retry fixes; the run ends with this error.
    pub(super) fn fail(&self, message: String) {
        self.fatal.lock().unwrap().get_or_insert(message);
        self.stop.store(true, Ordering::SeqCst);
    }

    pub(super) fn halt(&self, why: Stop) {
        let mut r = self.stop_reason.lock().unwrap();
        if r.is_none() {
            *r = Some(why);
        }
        self.stop.store(true, Ordering::SeqCst);
    }

    /// Puts an unclaimed item back for a later run (or a later turn of this one).
    pub(super) fn put_back(&self, item: Item) {
        self.queue.lock().unwrap().push_front(item);
    }
}

pub(super) struct Ctx {
    pub(super) p: Arc<Prepared>,
    /// Journal row of each recipient, by index in the audience.
    pub(super) ids: Arc<[i64]>,
    pub(super) shared: Arc<Shared>,
    pub(super) writer: Recorder,
    pub(super) limiter: Arc<Limiter>,
    pub(super) relays: Arc<Relays>,
    pub(super) marks: Arc<crate::compose::Marks>,
    pub(super) smtp: Arc<crate::config::Smtp>,
    pub(super) deadline_ms: Option<i64>,
}
