//! Sending: a prepared campaign, the journal and the relay settings in, every selected contact's
//! message delivered once (or recorded as failed, deferred or unknown) out. The run is set up
//! here; [`plan`] says what it would do, [`worker`] does it one connection at a time, [`writer`]
//! records it, [`status`] reads it back.

mod approval_request;
pub mod client;
pub mod gate;
mod outcome;
pub mod plan;
pub mod progress;
pub mod rate;
pub mod relays;
mod report;
mod settings;
mod shared;
pub mod status;
mod test_send;
mod trust;
mod worker;
mod writer;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::clock;
use crate::interrupt;
use crate::journal::{self, State, Store};
use crate::project::Prepared;
use crate::Error;

pub use approval_request::request_approval;
pub use plan::{disposition, plan, Disposition, Plan};
use rate::Limiter;
pub use relays::Relays;
pub use report::{Failure, Report, Stop};
use shared::{Counters, Ctx, Item, Shared};
pub use test_send::{test_send, TestSent};
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
    let mut problems = g.problems;
    if let Some(p) = gate::approval(p, store)? {
        problems.push(p);
    }
    match g.relays {
        Some(relays) if problems.is_empty() => Ok(relays),
        _ => Err(SendError::Refused(problems)),
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
    let smtp = Arc::new(p.config.smtp.clone().ok_or_else(|| {
        SendError::Setup(format!("{} has no [smtp] section", p.config.file.display()))
    })?);
    let relay = if opts.dry_run {
        format!("{} (dry run)", relays.describe())
    } else {
        relays.describe()
    };
    // A dry run reads the journal as it is, and makes none where there is none.
    let live_elsewhere = opts.dry_run && store.held_by_a_run();
    let (begun, mut marker) = if opts.dry_run {
        (Begun::default(), None)
    } else {
        begin(&p, store, opts)?
    };
    let journal = if opts.dry_run {
        store.existing_or_empty()?
    } else {
        store.journal()?
    };
    // The run itself requeued the failed and unknown rows it was told to resend; the dry run
    // leaves the journal alone, and the same rule reads the states as they are.
    let (ids, states) = plan::rows_of(&journal, &p)?;
    let sel = plan::select(&p, &states, opts, live_elsewhere);
    drop(states);
    let work: VecDeque<Item> = sel
        .goes
        .iter()
        .map(|&idx| Item {
            idx: idx as u32,
            attempt: 0,
            not_before_ms: 0,
        })
        .collect();
    let history = journal.handovers_since(Limiter::history_from(clock::now_ms()))?;
    let relay_history = journal.handovers_by_relay(Limiter::history_from(clock::now_ms()))?;
    drop(journal);

    let shared = Arc::new(Shared {
        start: Instant::now(),
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
        produce_only(&p, &shared, progress)?;
    } else {
        let journal = store.take()?;
        let setup = Setup {
            relays: Arc::new(relays.with_history(&relay_history)),
            limiter: Arc::new(Limiter::new(&p.config.rate, history)),
            ids: ids.into(),
            smtp,
        };
        let done = transmit(&p, opts, setup, &shared, progress, journal, marker.take());
        store.give_back(done?);
    }
    progress.tick(&shared.counts);
    progress.finish();
    if let Some(fatal) = shared.fatal.lock().unwrap().take() {
        return Err(SendError::Setup(fatal));
    }
    let tally = Tally {
        relay,
        already_sent: sel.already_sent,
        pending: sel.pending,
        recovered: begun.recovered,
        elapsed_secs: started.elapsed().as_secs_f64(),
    };
    Ok(report(&p, opts, &shared, tally))
}

/// What starting a run found in the journal.
#[derive(Default)]
struct Begun {
    /// Rows left `sending` by a run that died, now unknown.
    recovered: usize,
}

/// Takes the run lock and readies the journal for this run: rows a dead run left sending
/// become unknown, a changed campaign is refused, the audience is queued, rows asked for
/// again are requeued, and the run counts itself in the marker before anything goes.
fn begin(
    p: &Prepared,
    store: &Store,
    opts: &Options,
) -> std::result::Result<(Begun, Option<journal::Marker>), SendError> {
    let campaign = &p.campaign.id;
    store.lock_run(opts.lock_wait, &format!("send {campaign}"))?;
    let mut journal = store.journal()?;
    // This run holds the lock: whatever is marked sending was left by a run that died.
    let recovered = journal.recover(campaign)?;
    let counts = journal.counts(campaign)?;
    let touched: usize = counts
        .iter()
        .filter(|(s, _)| **s != State::Queued)
        .map(|(_, n)| n)
        .sum();
    let hash = p.content_hash();
    match journal.content_hash(campaign)? {
        Some(old) if old != hash && touched > 0 && !opts.allow_changed => {
            return Err(SendError::Changed {
                sent: counts.get(&State::Sent).copied().unwrap_or(0),
            });
        }
        _ => journal.set_content_hash(campaign, &hash)?,
    }
    let rows = p.audience.recipients.iter().map(|r| {
        let updates: Vec<&str> = r
            .updates
            .iter()
            .map(|&i| p.campaign.updates[i].as_str())
            .collect();
        (r.contact.email(), r.langs.join("+"), updates.join(";"))
    });
    journal.enqueue(campaign, rows)?;
    if opts.retry_failed {
        journal.requeue(campaign, State::Failed)?;
    }
    if opts.resend_unknown {
        journal.requeue(campaign, State::Unknown)?;
    }
    // This run counts itself before it sends: a copy of the journal from before it (a
    // backup restored after a crash) is then older than the marker says, and refused.
    journal.bump_generation()?;
    let marker = journal.marker()?;
    journal.write_marker(&marker)?;
    Ok((Begun { recovered }, Some(marker)))
}

/// A dry run: every message produced exactly as it would be sent; none handed over.
fn produce_only(
    p: &Prepared,
    shared: &Shared,
    progress: &progress::Progress,
) -> std::result::Result<(), SendError> {
    let marks = crate::compose::Marks::unsent("dry-run");
    let q = std::mem::take(&mut *shared.queue.lock().unwrap());
    for item in q {
        let r = &p.audience.recipients[item.idx()];
        p.message(r, clock::now(), &marks)
            .map_err(|e| SendError::Other(Error::Message(e.to_string())))?;
        shared.counts.attempted.fetch_add(1, Ordering::Relaxed);
        progress.tick(&shared.counts);
    }
    Ok(())
}

/// What the sending tasks share besides the queue, made before they start.
struct Setup {
    relays: Arc<Relays>,
    limiter: Arc<Limiter>,
    /// Journal row of each recipient, by index in the audience.
    ids: Arc<[i64]>,
    smtp: Arc<crate::config::Smtp>,
}

/// The run proper: as many sending tasks as connections, a writer recording what they settle,
/// and a signal asking them to stop. Gives the journal back once every record is committed.
fn transmit(
    p: &Arc<Prepared>,
    opts: &Options,
    setup: Setup,
    shared: &Arc<Shared>,
    progress: &progress::Progress,
    journal: journal::Journal,
    marker: Option<journal::Marker>,
) -> std::result::Result<journal::Journal, SendError> {
    // From here a signal asks the run to stop: it finishes or releases what is in flight.
    let _guard = interrupt::Guard::new();
    let bounce_key = journal.bounce_key()?;
    let writer = Writer::start(journal, marker)?;
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
        let n = setup
            .smtp
            .connections
            .min(shared.open.load(Ordering::SeqCst).max(1));
        let ctx = Arc::new(Ctx {
            p: p.clone(),
            ids: setup.ids,
            shared: shared.clone(),
            writer: writer.tx.clone(),
            limiter: setup.limiter,
            relays: setup.relays,
            marks,
            smtp: setup.smtp,
            deadline_ms: opts.deadline_ms,
        });
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
    Ok(writer.finish()?)
}

/// What the report needs besides the counters.
struct Tally {
    relay: String,
    already_sent: usize,
    /// Recipients this run could have sent to.
    pending: usize,
    recovered: usize,
    elapsed_secs: f64,
}

fn report(p: &Prepared, opts: &Options, shared: &Shared, t: Tally) -> Report {
    let c = &shared.counts;
    let n = |a: &AtomicUsize| a.load(Ordering::SeqCst);
    let (sent, elsewhere, suppressed) = (n(&c.sent), n(&c.elsewhere), n(&c.suppressed));
    let settled = sent + n(&c.failed) + n(&c.unknown) + elsewhere + suppressed;
    let mut failures = std::mem::take(&mut *shared.failures.lock().unwrap());
    failures.sort_by(|a, b| a.email.cmp(&b.email));
    Report {
        campaign: p.campaign.id.clone(),
        relay: t.relay,
        dry_run: opts.dry_run,
        recipients: p.audience.recipients.len(),
        already_sent: t.already_sent,
        attempted: n(&c.attempted),
        sent,
        failed: n(&c.failed),
        deferred: n(&c.deferred),
        unknown: n(&c.unknown),
        remaining: if opts.dry_run {
            t.pending
        } else {
            t.pending.saturating_sub(settled)
        },
        recovered_unknown: t.recovered,
        taken_elsewhere: elsewhere,
        suppressed_during_run: suppressed,
        elapsed_secs: t.elapsed_secs,
        messages_per_second: if t.elapsed_secs > 0.0 {
            sent as f64 / t.elapsed_secs
        } else {
            0.0
        },
        stopped: shared.stop_reason.lock().unwrap().clone(),
        failures,
    }
}
