//! Sending: a prepared campaign, the journal and the relay settings in, every selected contact's
//! message delivered once (or recorded as failed, deferred or unknown) out. The run is set up
//! here; [`plan`] says what it would do, [`worker`] does it one connection at a time, [`writer`]
//! records it, [`status`] reads it back.

pub mod client;
pub mod gate;
pub mod plan;
pub mod progress;
pub mod rate;
pub mod relays;
pub mod status;
mod test_send;
mod trust;
mod worker;
mod writer;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::clock;
use crate::interrupt;
use crate::journal::{State, Store};
use crate::project::Prepared;
use crate::Error;

pub use plan::{disposition, plan, Disposition, Plan};
use rate::Limiter;
pub use relays::Relays;
pub use test_send::{test_send, TestSent};
use worker::{Counters, Ctx, Item, Shared};
use writer::Writer;

#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Send at most this many messages in this run.
    pub limit: Option<usize>,
    /// Everything but talking to the relay (and writing the journal).
    pub dry_run: bool,
    /// Send again to recipients whose fate a dead run left unknown.
    pub resend_unknown: bool,
    /// Send again to recipients the relay refused for good.
    pub retry_failed: bool,
    /// Continue a campaign whose content changed since it was partly sent.
    pub allow_changed: bool,
    /// How long to wait for another run that holds the project's send lock.
    pub lock_wait: Duration,
    /// No message is started after this time (the end of a sending window), in ms.
    pub deadline_ms: Option<i64>,
    /// Accept a journal that is new although this project has sent before (see
    /// [`crate::journal::Store::check_continuity`]).
    pub new_journal: bool,
}

/// Why a run ended before its work was done.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Stop {
    /// SIGINT or SIGTERM: messages in flight were finished and recorded.
    Interrupted,
    /// The sending window closed (the campaign's schedule says when it opens again).
    Window,
    /// A rate cap is full until `resume_at_ms`.
    Capped {
        cap: String,
        limit: u32,
        resume_at_ms: i64,
    },
    /// The relay refused or failed this many times in a row.
    RelayFailing { failures: u32, last_error: String },
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub campaign: String,
    pub relay: String,
    pub dry_run: bool,
    pub recipients: usize,
    pub already_sent: usize,
    pub attempted: usize,
    pub sent: usize,
    pub failed: usize,
    pub deferred: usize,
    pub unknown: usize,
    /// Left for a later run (limit, cap, interruption, or deferred).
    pub remaining: usize,
    /// Marked unknown at the start: left `sending` by a run that died.
    pub recovered_unknown: usize,
    /// Recipients another run on the same journal took first: not sent by this one.
    pub taken_elsewhere: usize,
    /// Recipients who left the list (unsubscribed, bounced) while this run was sending: not
    /// mailed.
    pub suppressed_during_run: usize,
    pub elapsed_secs: f64,
    pub messages_per_second: f64,
    pub stopped: Option<Stop>,
    pub failures: Vec<Failure>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    pub email: String,
    pub state: State,
    pub code: Option<u16>,
    pub reply: String,
}

/// A fatal problem: nothing more can be sent until it is fixed.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// What the gate found before anything could go (see [`gate`]).
    #[error("{}. Nothing was sent", .0.iter().map(|p| p.message.as_str()).collect::<Vec<_>>().join("; "))]
    Refused(Vec<gate::Problem>),
    #[error("{0}")]
    Setup(String),
    #[error("the campaign changed since it was partly sent ({sent} sent so far): check what changed, then run again with --allow-changed to send the new version to the rest")]
    Changed { sent: usize },
    #[error(transparent)]
    Other(#[from] Error),
}

/// Everything that would make a send refuse before its first connection, as the one gate
/// finds it (see [`gate`]): `check`, `send --dry-run`, the send itself and `due` ask it alike.
/// The relays come back when they can be used.
pub fn preflight(
    p: &Prepared,
    store: &Store,
    opts: &Options,
) -> std::result::Result<Relays, SendError> {
    let g = gate::check(
        &p.config,
        gate::Asked {
            journal: Some(store),
            new_journal: opts.new_journal,
        },
    );
    match g.relays {
        Some(relays) if g.problems.is_empty() => Ok(relays),
        _ => Err(SendError::Refused(g.problems)),
    }
}

/// Sends a prepared campaign. `progress` is told of every settled message.
pub fn run(
    p: Arc<Prepared>,
    store: &Store,
    opts: &Options,
    progress: &progress::Progress,
) -> std::result::Result<Report, SendError> {
    let settings = preflight(&p, store, opts)?;
    run_with(p, store, opts, progress, settings)
}

/// As [`run`], with the relays [`preflight`] gave.
pub fn run_with(
    p: Arc<Prepared>,
    store: &Store,
    opts: &Options,
    progress: &progress::Progress,
    relays: Relays,
) -> std::result::Result<Report, SendError> {
    let started = Instant::now();
    let campaign = p.campaign.id.clone();
    let smtp = Arc::new(p.config.smtp.clone().ok_or_else(|| {
        SendError::Setup(format!("{} has no [smtp] section", p.config.file.display()))
    })?);
    let relay = if opts.dry_run {
        format!("{} (dry run)", relays.describe())
    } else {
        relays.describe()
    };
    let relays = (!opts.dry_run).then_some(relays);

    // A dry run reads the journal as it is, and makes none where there is none.
    let live_elsewhere = opts.dry_run && store.held_by_a_run();
    if !opts.dry_run {
        store.lock_run(opts.lock_wait, &format!("send {campaign}"))?;
    }
    let mut journal = if opts.dry_run {
        store.existing_or_empty()?
    } else {
        store.journal()?
    };
    let mut recovered = 0;
    let mut marker = None;
    let hash = p.content_hash();
    if !opts.dry_run {
        // This run holds the lock: whatever is marked sending was left by a run that died.
        recovered = journal.recover(&campaign)?;
        let counts = journal.counts(&campaign)?;
        let touched: usize = counts
            .iter()
            .filter(|(s, _)| **s != State::Queued)
            .map(|(_, n)| n)
            .sum();
        match journal.content_hash(&campaign)? {
            Some(old) if old != hash && touched > 0 && !opts.allow_changed => {
                return Err(SendError::Changed {
                    sent: counts.get(&State::Sent).copied().unwrap_or(0),
                });
            }
            _ => journal.set_content_hash(&campaign, &hash)?,
        }
        let rows = p.audience.recipients.iter().map(|r| {
            let updates: Vec<&str> = r
                .updates
                .iter()
                .map(|&i| p.campaign.updates[i].as_str())
                .collect();
            (r.contact.email(), r.langs.join("+"), updates.join(";"))
        });
        journal.enqueue(&campaign, rows)?;
        if opts.retry_failed {
            journal.requeue(&campaign, State::Failed)?;
        }
        if opts.resend_unknown {
            journal.requeue(&campaign, State::Unknown)?;
        }
        // This run counts itself before it sends: a copy of the journal from before it (a
        // backup restored after a crash) is then older than the marker says, and refused.
        journal.bump_generation()?;
        marker = Some(journal.marker()?);
        journal.write_marker(marker.as_ref().expect("just set"))?;
    }
    // The run itself requeued the failed and unknown rows it was told to resend; the dry run
    // leaves the journal alone, and the same rule reads the states as they are.
    let (ids, states) = plan::rows_of(&journal, &p)?;
    let sel = plan::select(&p, &states, opts, live_elsewhere);
    drop(states);
    let (already_sent, pending_total) = (sel.already_sent, sel.pending);
    let start = Instant::now();
    let work: VecDeque<Item> = sel
        .goes
        .into_iter()
        .map(|idx| Item {
            idx: idx as u32,
            attempt: 0,
            not_before_ms: 0,
        })
        .collect();
    let history = journal.handovers_since(Limiter::history_from(clock::now_ms()))?;
    let relay_history = journal.handovers_by_relay(Limiter::history_from(clock::now_ms()))?;
    drop(journal);

    let shared = Arc::new(Shared {
        start,
        open: AtomicUsize::new(work.len()),
        queue: Mutex::new(work),
        stop: AtomicBool::new(false),
        stop_reason: Mutex::new(None),
        fatal: Mutex::new(None),
        consecutive: AtomicU32::new(0),
        counts: Counters::default(),
        failures: Mutex::new(Vec::new()),
    });
    progress.start(shared.open.load(Ordering::SeqCst));

    if opts.dry_run {
        // Every message is produced exactly as it would be sent; none is handed over.
        let dry_run_marks = crate::compose::Marks::unsent("dry-run");
        let q = std::mem::take(&mut *shared.queue.lock().unwrap());
        for item in q {
            let r = &p.audience.recipients[item.idx()];
            p.message(r, clock::now(), &dry_run_marks)
                .map_err(|e| SendError::Other(Error::Refused(e.to_string())))?;
            shared.counts.attempted.fetch_add(1, Ordering::Relaxed);
            progress.tick(&shared.counts);
        }
    } else if let Some(relays) = relays {
        let relays = Arc::new(relays.with_history(&relay_history));
        // From here a signal asks the run to stop: it finishes or releases what is in flight.
        let _guard = interrupt::Guard::new();
        let journal = store.take()?;
        let bounce_key = journal.bounce_key()?;
        let writer = Writer::start(journal, marker.take())?;
        let limiter = Arc::new(Limiter::new(&p.config.rate, history));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| SendError::Setup(format!("cannot start the async runtime: {e}")))?;
        let marks = Arc::new(crate::compose::Marks {
            nonce: format!("{:x}", clock::now_ms()),
            bounce_key,
        });
        runtime.block_on(async {
            let signals = {
                let shared = shared.clone();
                tokio::spawn(async move {
                    interrupt::reached(1).await;
                    shared.halt(Stop::Interrupted);
                })
            };
            let ticker = {
                let shared = shared.clone();
                let progress = progress.clone();
                tokio::spawn(async move {
                    loop {
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        progress.tick(&shared.counts);
                    }
                })
            };
            let ctx = Arc::new(Ctx {
                p: p.clone(),
                ids: ids.clone().into(),
                shared: shared.clone(),
                writer: writer.tx.clone(),
                limiter: limiter.clone(),
                relays: relays.clone(),
                marks: marks.clone(),
                smtp: smtp.clone(),
                deadline_ms: opts.deadline_ms,
            });
            let n = smtp
                .connections
                .min(shared.open.load(Ordering::SeqCst).max(1));
            let mut tasks = tokio::task::JoinSet::new();
            for _ in 0..n {
                tasks.spawn(worker::sender(ctx.clone()));
            }
            drop(ctx);
            // Joined as they end: a task that fails stops the others, which would otherwise
            // wait for the recipient it held to be settled.
            while let Some(r) = tasks.join_next().await {
                if let Err(e) = r.map_err(|e| e.to_string()) {
                    shared.fail(format!(
                        "a sending task failed ({e}): the recipient it held stays recorded as being sent, and the next run lists it as unknown"
                    ));
                }
            }
            signals.abort();
            ticker.abort();
        });
        // The tasks may have seen a signal before the watcher above did.
        if interrupt::requested() {
            shared.halt(Stop::Interrupted);
        }
        // Quick: the connections are done with; nothing waits on a relay any more.
        runtime.shutdown_timeout(Duration::from_millis(100));
        store.give_back(writer.finish()?);
    }
    progress.tick(&shared.counts);
    progress.finish();

    if let Some(fatal) = shared.fatal.lock().unwrap().take() {
        return Err(SendError::Setup(fatal));
    }
    let c = &shared.counts;
    let (attempted, sent) = (
        c.attempted.load(Ordering::SeqCst),
        c.sent.load(Ordering::SeqCst),
    );
    let elsewhere = c.elsewhere.load(Ordering::SeqCst);
    let suppressed = c.suppressed.load(Ordering::SeqCst);
    let settled = sent
        + c.failed.load(Ordering::SeqCst)
        + c.unknown.load(Ordering::SeqCst)
        + elsewhere
        + suppressed;
    let elapsed = started.elapsed().as_secs_f64();
    let mut failures = std::mem::take(&mut *shared.failures.lock().unwrap());
    failures.sort_by(|a, b| a.email.cmp(&b.email));
    let stopped = shared.stop_reason.lock().unwrap().clone();
    Ok(Report {
        campaign,
        relay,
        dry_run: opts.dry_run,
        recipients: p.audience.recipients.len(),
        already_sent,
        attempted,
        sent,
        failed: c.failed.load(Ordering::SeqCst),
        deferred: c.deferred.load(Ordering::SeqCst),
        unknown: c.unknown.load(Ordering::SeqCst),
        remaining: if opts.dry_run {
            pending_total
        } else {
            pending_total.saturating_sub(settled)
        },
        recovered_unknown: recovered,
        taken_elsewhere: elsewhere,
        suppressed_during_run: suppressed,
        elapsed_secs: elapsed,
        messages_per_second: if elapsed > 0.0 {
            sent as f64 / elapsed
        } else {
            0.0
        },
        stopped,
        failures,
    })
}
