//! Sending: a prepared campaign, the journal and the relay settings in, every selected contact's
//! message delivered once (or recorded as failed, deferred or unknown) out.

pub mod client;
pub mod lock;
pub mod progress;
pub mod rate;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::clock;
use crate::interrupt;
use crate::journal::{self, Journal, State, Update};
use crate::project::Prepared;
use crate::{Error, Result};

use client::{Client, Settings, SmtpError};
use rate::{Limiter, Permit};

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
    /// The caller holds the project's send lock already (`due`).
    pub lock_held: bool,
    /// No message is started after this time (the end of a sending window), in ms.
    pub deadline_ms: Option<i64>,
    /// Accept a journal that is new although this project has sent before (see
    /// [`crate::journal::check_continuity`]).
    pub new_journal: bool,
}

/// Why a run ended before its work was done.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Stop {
    /// SIGINT or SIGTERM: messages in flight were finished and recorded.
    Interrupted,
    /// The sending window closed; it opens again at `resume_at` when known.
    Window { resume_at: Option<String> },
    /// A rate cap is full until `resume_at`.
    Capped {
        cap: String,
        limit: u32,
        resume_at: String,
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
    #[error("{0}")]
    Setup(String),
    #[error("the campaign changed since it was partly sent ({sent} sent so far): check what changed, then run again with --allow-changed to send the new version to the rest")]
    Changed { sent: usize },
    #[error(transparent)]
    Other(#[from] Error),
}

/// What a send would do now, read from the journal without changing it.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub recipients: usize,
    pub to_send: usize,
    pub already_sent: usize,
    pub failed: usize,
    pub unknown: usize,
    pub sending: usize,
    pub by_language: std::collections::BTreeMap<String, usize>,
}

pub fn plan(p: &Prepared, opts: &Options) -> Result<Plan> {
    let path = p.config.journal_path();
    // Rows marked sending are in flight if a run holds the journal now, else left by a dead one.
    let live = lock::held_by_a_run(&path);
    let states = match Journal::open_existing(&path)? {
        Some(j) => j.states(&p.campaign.id)?,
        None => Default::default(),
    };
    let mut plan = Plan {
        recipients: p.audience.recipients.len(),
        to_send: 0,
        already_sent: 0,
        failed: 0,
        unknown: 0,
        sending: 0,
        by_language: Default::default(),
    };
    for r in &p.audience.recipients {
        let st = states
            .get(&r.contact.email)
            .copied()
            .unwrap_or(State::Queued);
        let goes = match disposition(st, opts, live) {
            Disposition::Send => true,
            Disposition::AlreadySent => {
                plan.already_sent += 1;
                false
            }
            Disposition::Failed { resend } => {
                plan.failed += 1;
                resend
            }
            Disposition::Unknown { resend } => {
                plan.unknown += 1;
                resend
            }
            Disposition::InFlight => {
                plan.sending += 1;
                false
            }
        };
        if goes && opts.limit.is_none_or(|l| plan.to_send < l) {
            plan.to_send += 1;
            *plan.by_language.entry(r.langs.join("+")).or_default() += 1;
        }
    }
    Ok(plan)
}

/// What a run does with a recipient, given their journal state: the one rule used by the plan,
/// the dry run and the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    Send,
    AlreadySent,
    /// Refused for good by the relay; sent again only with --retry-failed.
    Failed {
        resend: bool,
    },
    /// Maybe delivered by a run that died; sent again only with --resend-unknown.
    Unknown {
        resend: bool,
    },
    /// Being sent by another run right now.
    InFlight,
}

/// `live`: a run holds the journal now, so rows marked sending are its messages in flight.
pub fn disposition(state: State, opts: &Options, live: bool) -> Disposition {
    match state {
        State::Queued | State::Deferred => Disposition::Send,
        State::Sent => Disposition::AlreadySent,
        State::Failed => Disposition::Failed {
            resend: opts.retry_failed,
        },
        State::Sending if live => Disposition::InFlight,
        State::Unknown | State::Sending => Disposition::Unknown {
            resend: opts.resend_unknown,
        },
    }
}

/// A digest of what a campaign's messages are made of: its file, its updates and the templates.
/// Contact lists are left out: adding contacts to a running campaign is normal.
pub fn content_hash(p: &Prepared) -> String {
    let mut h = Sha256::new();
    // The campaign's [schedule] is when it goes, not what it says: moving it changes nothing.
    let campaign_text = std::fs::read_to_string(&p.campaign.path).unwrap_or_default();
    let content = match campaign_text.parse::<toml::Table>() {
        Ok(mut t) => {
            t.remove("schedule");
            t.to_string()
        }
        Err(_) => campaign_text,
    };
    h.update(content.as_bytes());
    let mut add = |path: &std::path::Path| {
        h.update(
            path.file_name()
                .map(|n| n.as_encoded_bytes())
                .unwrap_or_default(),
        );
        h.update(std::fs::read(path).unwrap_or_default());
    };

    for slug in &p.campaign.updates {
        if let Some(versions) = p.updates.by_slug.get(slug) {
            for u in versions.values() {
                add(&u.path);
            }
        }
    }
    let mut templates: Vec<PathBuf> = walk(&p.config.templates_dir());
    templates.sort();
    for t in &templates {
        add(t);
    }
    h.finalize()
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn walk(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// One recipient's turn in the queue. An item in the queue is never claimed in the journal: a
/// claim is taken just before its message goes, and released (as deferred) when it goes back.
struct Item {
    idx: usize,
    attempt: u32,
    not_before: Instant,
}

/// What the sending tasks share.
struct Shared {
    queue: Mutex<VecDeque<Item>>,
    /// Items not yet settled (in the queue, in flight, or waiting for a retry).
    open: AtomicUsize,
    stop: AtomicBool,
    stop_reason: Mutex<Option<Stop>>,
    fatal: Mutex<Option<String>>,
    consecutive: AtomicU32,
    counts: Counters,
    failures: Mutex<Vec<Failure>>,
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
}

impl Shared {
    /// Stops the run for a reason no retry fixes; the run ends with this error.
    fn fail(&self, message: String) {
        self.fatal.lock().unwrap().get_or_insert(message);
        self.stop.store(true, Ordering::SeqCst);
    }

    fn halt(&self, why: Stop) {
        let mut r = self.stop_reason.lock().unwrap();
        if r.is_none() {
            *r = Some(why);
        }
        self.stop.store(true, Ordering::SeqCst);
    }

    /// Puts an unclaimed item back for a later run (or a later turn of this one).
    fn put_back(&self, item: Item) {
        self.queue.lock().unwrap().push_front(item);
    }
}

/// The journal's writer: a thread that applies updates in batches, one commit for all the updates
/// waiting, and tells each sender whether its update took effect once it is safely recorded.
type Ack = tokio::sync::oneshot::Sender<Result<bool>>;

struct Writer {
    tx: Recorder,
    handle: std::thread::JoinHandle<Result<()>>,
}

/// The senders' side of the journal writer.
#[derive(Clone)]
struct Recorder(std::sync::mpsc::Sender<(Update, Option<Ack>)>);

/// The journal file must stay the one this run locked and opened: deleted or replaced under a
/// running send, what it records would be lost, and the next run would resend.
fn same_file(a: &std::fs::Metadata, path: &std::path::Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(path).is_ok_and(|b| a.dev() == b.dev() && a.ino() == b.ino())
    }
    #[cfg(not(unix))]
    {
        let _ = a;
        path.exists()
    }
}

impl Writer {
    fn start(mut journal: Journal) -> Result<Writer> {
        let (tx, rx) = std::sync::mpsc::channel::<(Update, Option<Ack>)>();
        let identity = std::fs::metadata(&journal.path)
            .map_err(|e| Error::io("read", journal.path.clone(), e))?;
        let handle = std::thread::Builder::new()
            .name("journal".into())
            .spawn(move || -> Result<()> {
                let mut batches = 0u64;
                while let Ok(first) = rx.recv() {
                    let mut batch = vec![first];
                    while let Ok(more) = rx.try_recv() {
                        batch.push(more);
                        if batch.len() >= 512 {
                            break;
                        }
                    }
                    batches += 1;
                    let moved = batches.is_multiple_of(64) && !same_file(&identity, &journal.path);
                    let r = if moved {
                        Err(Error::Journal(format!(
                            "the journal {} was deleted or replaced while this run was sending: stopped, so that nothing is sent without a record",
                            journal.path.display()
                        )))
                    } else {
                        let updates: Vec<Update> = batch.iter().map(|(u, _)| u.clone()).collect();
                        journal.apply(&updates)
                    };
                    let failed = r.as_ref().err().map(|e| e.to_string());
                    for (i, (_, ack)) in batch.into_iter().enumerate() {
                        if let Some(ack) = ack {
                            let _ = ack.send(match (&r, &failed) {
                                (Ok(done), _) => Ok(done[i]),
                                (Err(_), Some(m)) => Err(Error::Journal(m.clone())),
                                (Err(_), None) => Err(Error::Journal("unknown".into())),
                            });
                        }
                    }
                    r?;
                }
                // Fold the write-ahead log back into the journal: the next run starts small.
                journal.checkpoint()
            })
            .map_err(|e| Error::Journal(format!("cannot start the journal writer: {e}")))?;
        Ok(Writer {
            tx: Recorder(tx),
            handle,
        })
    }

    fn finish(self) -> Result<()> {
        drop(self.tx);
        self.handle
            .join()
            .map_err(|_| Error::Journal("the journal writer panicked".into()))?
    }
}

impl Recorder {
    /// Records and waits until the record is committed; says whether it took effect.
    async fn record_now(&self, u: Update) -> Result<bool> {
        let (ack, wait) = tokio::sync::oneshot::channel();
        self.0
            .send((u, Some(ack)))
            .map_err(|_| Error::Journal("the journal writer stopped".into()))?;
        wait.await
            .map_err(|_| Error::Journal("the journal writer stopped".into()))?
    }

    fn record(&self, u: Update) {
        let _ = self.0.send((u, None));
    }
}

/// Sends a prepared campaign. `progress` is told of every settled message.
pub fn run(
    p: Arc<Prepared>,
    opts: &Options,
    progress: &progress::Progress,
) -> std::result::Result<Report, SendError> {
    let started = Instant::now();
    let campaign = p.campaign.id.clone();
    let smtp = p.config.smtp.as_ref().ok_or_else(|| {
        SendError::Setup(format!(
            "{} has no [smtp] section: add one with the relay's host (see config.example.toml)",
            p.config.file.display()
        ))
    })?;
    let smtp = Arc::new(smtp.clone());
    let settings = if opts.dry_run {
        None
    } else {
        Some(Arc::new(
            Settings::from_config(&smtp, &p.config.root)
                .map_err(|e| SendError::Setup(e.to_string()))?,
        ))
    };
    let relay = settings.as_ref().map_or_else(
        || format!("{}:{} (dry run)", smtp.host, smtp.port.unwrap_or(0)),
        |s| s.describe(),
    );

    let journal_path = p.config.journal_path();
    if !opts.dry_run && !opts.lock_held {
        journal::check_continuity(&journal_path, opts.new_journal)?;
    }
    // Declared before the journal so that it is released after every connection closes.
    let _lock = if opts.dry_run || opts.lock_held {
        None
    } else {
        Some(lock::JournalLock::acquire(
            &journal_path,
            opts.lock_wait,
            &format!("send {campaign}"),
        )?)
    };
    let live_elsewhere = opts.dry_run && lock::held_by_a_run(&journal_path);
    let mut journal = Journal::open(&journal_path)?;
    let mut recovered = 0;
    let hash = content_hash(&p);
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
            (
                r.contact.email.as_str(),
                r.langs.join("+"),
                updates.join(";"),
            )
        });
        journal.enqueue(&campaign, rows)?;
        if opts.retry_failed {
            journal.requeue(&campaign, State::Failed)?;
        }
        if opts.resend_unknown {
            journal.requeue(&campaign, State::Unknown)?;
        }
        journal::write_marker(&journal)?;
    }
    let states = journal.states(&campaign)?;
    let mut already_sent = 0;
    let mut work: VecDeque<Item> = VecDeque::new();
    let now = Instant::now();
    for (idx, r) in p.audience.recipients.iter().enumerate() {
        let state = states
            .get(&r.contact.email)
            .copied()
            .unwrap_or(State::Queued);
        // The run itself requeued failed and unknown rows it was told to resend; the dry run
        // leaves the journal alone, so it applies the same rule to the states as they are.
        match disposition(state, opts, live_elsewhere) {
            Disposition::AlreadySent => already_sent += 1,
            Disposition::Send
            | Disposition::Failed { resend: true }
            | Disposition::Unknown { resend: true } => work.push_back(Item {
                idx,
                attempt: 0,
                not_before: now,
            }),
            _ => {}
        }
    }
    let pending_total = work.len();
    if let Some(limit) = opts.limit {
        work.truncate(limit);
    }
    let history = journal.handovers_since(Limiter::history_from(clock::now_ms()))?;
    let ids_by_email = journal.ids(&campaign)?;
    let ids: Vec<i64> = p
        .audience
        .recipients
        .iter()
        .map(|r| ids_by_email.get(&r.contact.email).copied().unwrap_or(-1))
        .collect();
    drop(journal);

    let shared = Arc::new(Shared {
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
        let q = std::mem::take(&mut *shared.queue.lock().unwrap());
        for item in q {
            let r = &p.audience.recipients[item.idx];
            p.message(r, clock::now(), "dry-run")
                .map_err(|e| SendError::Other(Error::Refused(e.to_string())))?;
            shared.counts.attempted.fetch_add(1, Ordering::Relaxed);
            progress.tick(&shared.counts);
        }
    } else if let Some(settings) = settings {
        // From here a signal asks the run to stop: it finishes or releases what is in flight.
        let _guard = interrupt::Guard::new();
        let writer = Writer::start(Journal::open(&journal_path)?)?;
        let limiter = Arc::new(Limiter::new(&p.config.rate, history));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| SendError::Setup(format!("cannot start the async runtime: {e}")))?;
        let nonce: Arc<str> = format!("{:x}", clock::now_ms()).into();
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
                settings: settings.clone(),
                nonce: nonce.clone(),
                smtp: smtp.clone(),
                deadline_ms: opts.deadline_ms,
            });
            let n = smtp
                .connections
                .min(shared.open.load(Ordering::SeqCst).max(1));
            let tasks: Vec<_> = (0..n).map(|_| tokio::spawn(sender(ctx.clone()))).collect();
            drop(ctx);
            for t in tasks {
                let _ = t.await;
            }
            signals.abort();
            ticker.abort();
        });
        // Quick: the connections are done with; nothing waits on a relay any more.
        runtime.shutdown_timeout(Duration::from_millis(100));
        writer.finish()?;
        journal::write_marker(&Journal::open(&journal_path)?)?;
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
    let settled =
        sent + c.failed.load(Ordering::SeqCst) + c.unknown.load(Ordering::SeqCst) + elsewhere;
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

struct Ctx {
    p: Arc<Prepared>,
    /// Journal row of each recipient, by index in the audience.
    ids: Arc<[i64]>,
    shared: Arc<Shared>,
    writer: Recorder,
    limiter: Arc<Limiter>,
    settings: Arc<Settings>,
    nonce: Arc<str>,
    smtp: Arc<crate::config::Smtp>,
    deadline_ms: Option<i64>,
}

/// Takes the next item that is due; waits for a retry that is not due yet; `None` when done.
async fn next_item(shared: &Shared) -> Option<Item> {
    loop {
        if shared.stop.load(Ordering::SeqCst) || shared.open.load(Ordering::SeqCst) == 0 {
            return None;
        }
        let wait = {
            let mut q = shared.queue.lock().unwrap();
            let now = Instant::now();
            if let Some(pos) = q.iter().position(|i| i.not_before <= now) {
                return q.remove(pos);
            }
            q.iter()
                .map(|i| i.not_before - now)
                .min()
                .unwrap_or(Duration::from_millis(20))
        };
        tokio::time::sleep(wait.min(Duration::from_millis(200))).await;
    }
}

/// Runs `f` unless `signals` signals arrive first (1: stop what has handed nothing over yet;
/// 2: abort even a message in transit).
async fn unless_signalled<T>(signals: u32, f: impl std::future::Future<Output = T>) -> Option<T> {
    tokio::select! {
        biased;
        _ = interrupt::reached(signals) => None,
        v = f => Some(v),
    }
}

/// The envelope of a message: addresses as they go on the wire (domains in ASCII), and whether
/// the recipient's needs SMTPUTF8.
fn envelope(from: &str, to: &str) -> std::result::Result<(String, String, bool), String> {
    let (from, to) = (crate::address::wire(from), crate::address::wire(to));
    for a in [&from, &to] {
        if a.parse::<lettre::Address>().is_err() {
            return Err(format!(
                "invalid envelope address {}",
                crate::term::quoted(a)
            ));
        }
    }
    let utf8 = crate::address::needs_smtputf8(&to) || crate::address::needs_smtputf8(&from);
    Ok((from, to, utf8))
}

/// One connection's loop: take a recipient, produce their message, claim them in the journal,
/// hand the message over, record the outcome.
async fn sender(ctx: Arc<Ctx>) {
    let sh = &ctx.shared;
    let mut client: Option<Client> = None;
    while let Some(item) = next_item(sh).await {
        let r = &ctx.p.audience.recipients[item.idx];
        let email = r.contact.email.clone();
        let composed = match ctx.p.message(r, clock::now(), &ctx.nonce) {
            Ok((_, c)) => c,
            Err(e) => {
                let why = format!("cannot produce the message: {}", e.message);
                settle_unclaimed(&ctx, item.idx, &email, State::Failed, None, why).await;
                continue;
            }
        };
        let (from, to, utf8) = match envelope(&ctx.p.config.sender.address, &email) {
            Ok(e) => e,
            Err(why) => {
                settle_unclaimed(&ctx, item.idx, &email, State::Failed, None, why).await;
                continue;
            }
        };
        if ctx.deadline_ms.is_some_and(|d| clock::now_ms() >= d) {
            sh.put_back(item);
            sh.halt(Stop::Window { resume_at: None });
            break;
        }
        let Some(permit) = unless_signalled(1, ctx.limiter.acquire()).await else {
            sh.put_back(item);
            break;
        };
        let at_ms = match permit {
            Permit::Go(at) => at,
            Permit::Capped {
                cap,
                limit,
                until_ms,
            } => {
                sh.put_back(item);
                sh.halt(Stop::Capped {
                    cap: cap.to_string(),
                    limit,
                    resume_at: clock::from_ms(until_ms).to_rfc3339(),
                });
                break;
            }
        };
        if client.is_none() {
            match unless_signalled(1, Client::connect(ctx.settings.clone())).await {
                None => {
                    sh.put_back(item);
                    break;
                }
                Some(Ok(c)) => client = Some(c),
                Some(Err(SmtpError::Setup(m))) => {
                    sh.put_back(item);
                    sh.fail(m);
                    break;
                }
                Some(Err(e)) => {
                    retry_or_defer(&ctx, item, &email, e, false).await;
                    continue;
                }
            }
        }
        // The claim is on disk before anything of the message reaches the relay: if this process
        // dies from here on, the next run sees `sending` and will not send it twice; and if
        // another run on the same journal claimed this recipient first, this one leaves it.
        match ctx
            .writer
            .record_now(Update::Claim {
                id: ctx.ids[item.idx],
                message_id: composed.message_id.clone(),
                at_ms,
            })
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                sh.counts.elsewhere.fetch_add(1, Ordering::Relaxed);
                sh.open.fetch_sub(1, Ordering::SeqCst);
                continue;
            }
            Err(e) => {
                sh.put_back(item);
                sh.fail(e.to_string());
                break;
            }
        }
        sh.counts.attempted.fetch_add(1, Ordering::Relaxed);
        let c = client.as_mut().expect("connected");
        if utf8 && !c.smtputf8() {
            let why = format!(
                "{} needs a relay that speaks SMTPUTF8, and {} does not offer it: fix the relay or set smtputf8 = false (such addresses are then refused at check)",
                crate::term::quoted(&email),
                ctx.settings.host
            );
            settle(&ctx, item.idx, &email, State::Deferred, None, why);
            continue;
        }
        // Until the relay's go-ahead for data, nothing of the message has been handed over: a
        // first Ctrl-C stops here at once and the recipient waits for the next run.
        match unless_signalled(1, c.begin(&from, &to, utf8)).await {
            None => {
                client = None;
                let why = "interrupted before the message was handed over".to_string();
                settle(&ctx, item.idx, &email, State::Deferred, None, why);
                break;
            }
            Some(Err(e)) => {
                if matches!(e, SmtpError::Connection(_)) {
                    client = None;
                }
                match e {
                    SmtpError::Permanent { code, reply } => {
                        settle(&ctx, item.idx, &email, State::Failed, Some(code), reply)
                    }
                    SmtpError::Setup(m) => {
                        settle(&ctx, item.idx, &email, State::Deferred, None, m.clone());
                        sh.fail(m);
                        break;
                    }
                    other => retry_or_defer(&ctx, item, &email, other, true).await,
                }
                continue;
            }
            Some(Ok(())) => {}
        }
        // The data is going: the message is the relay's unless it says otherwise. A first
        // Ctrl-C lets it finish; a second one gives it up, its fate unknown.
        match unless_signalled(2, c.finish(&composed.bytes)).await {
            None => {
                client = None;
                let why = "interrupted while the relay had the message: it may have been delivered"
                    .to_string();
                settle(&ctx, item.idx, &email, State::Unknown, None, why);
                break;
            }
            Some(Ok(reply)) => {
                sh.consecutive.store(0, Ordering::SeqCst);
                settle(&ctx, item.idx, &email, State::Sent, Some(250), reply);
            }
            Some(Err(SmtpError::Permanent { code, reply })) => {
                settle(&ctx, item.idx, &email, State::Failed, Some(code), reply)
            }
            // The relay answered "not now": it did not take the message.
            Some(Err(e @ SmtpError::Transient { .. })) => {
                retry_or_defer(&ctx, item, &email, e, true).await
            }
            Some(Err(e)) => {
                client = None;
                settle(
                    &ctx,
                    item.idx,
                    &email,
                    State::Unknown,
                    None,
                    format!(
                        "connection lost after the message was sent, before the relay's answer: {}",
                        e.reply()
                    ),
                );
            }
        }
    }
    if let Some(c) = client {
        // A quick goodbye: an interrupted run does not wait on a slow relay.
        let _ = tokio::time::timeout(Duration::from_millis(500), c.quit()).await;
    }
}

/// Records a final outcome for this run, for a recipient this run claimed.
fn settle(ctx: &Ctx, idx: usize, email: &str, state: State, code: Option<u16>, reply: String) {
    let sh = &ctx.shared;
    let counter = match state {
        State::Sent => &sh.counts.sent,
        State::Failed => &sh.counts.failed,
        State::Deferred => &sh.counts.deferred,
        _ => &sh.counts.unknown,
    };
    counter.fetch_add(1, Ordering::Relaxed);
    if state != State::Sent {
        let n = sh.consecutive.fetch_add(1, Ordering::SeqCst) + 1;
        if n >= ctx.smtp.max_consecutive_failures {
            sh.halt(Stop::RelayFailing {
                failures: n,
                last_error: format!(
                    "{}{reply}",
                    code.map(|c| format!("{c} ")).unwrap_or_default()
                ),
            });
        }
        sh.failures.lock().unwrap().push(Failure {
            email: email.to_string(),
            state,
            code,
            reply: reply.clone(),
        });
    }
    ctx.writer.record(Update::Outcome {
        id: ctx.ids[idx],
        state,
        code,
        reply: Some(reply),
        at_ms: clock::now_ms(),
    });
    sh.open.fetch_sub(1, Ordering::SeqCst);
}

/// Settles a recipient this run has not claimed yet (nothing went to the relay): claims it
/// first, so that the outcome is recorded against this run's attempt and never over another's.
async fn settle_unclaimed(
    ctx: &Ctx,
    idx: usize,
    email: &str,
    state: State,
    code: Option<u16>,
    reply: String,
) {
    let claim = Update::Claim {
        id: ctx.ids[idx],
        message_id: String::new(),
        at_ms: clock::now_ms(),
    };
    match ctx.writer.record_now(claim).await {
        Ok(true) => {
            ctx.shared.counts.attempted.fetch_add(1, Ordering::Relaxed);
            settle(ctx, idx, email, state, code, reply)
        }
        Ok(false) => {
            ctx.shared.counts.elsewhere.fetch_add(1, Ordering::Relaxed);
            ctx.shared.open.fetch_sub(1, Ordering::SeqCst);
        }
        Err(e) => ctx.shared.fail(e.to_string()),
    }
}

/// A temporary failure: back in the queue after a growing pause, or deferred to the next run
/// once the run's tries are used. `claimed`: the recipient is claimed by this run, and is
/// released (as deferred, with the relay's words) before going back to the queue.
async fn retry_or_defer(ctx: &Ctx, item: Item, email: &str, e: SmtpError, claimed: bool) {
    let sh = &ctx.shared;
    let n = sh.consecutive.fetch_add(1, Ordering::SeqCst) + 1;
    if n >= ctx.smtp.max_consecutive_failures {
        sh.halt(Stop::RelayFailing {
            failures: n,
            last_error: e.to_string(),
        });
    }
    let attempt = item.attempt + 1;
    if attempt < ctx.smtp.max_attempts && !sh.stop.load(Ordering::SeqCst) {
        if claimed {
            ctx.writer.record(Update::Outcome {
                id: ctx.ids[item.idx],
                state: State::Deferred,
                code: e.code(),
                reply: Some(e.reply()),
                at_ms: clock::now_ms(),
            });
        }
        let delay =
            Duration::from_secs_f64(ctx.smtp.retry_delay_secs * 2f64.powi(attempt as i32 - 1));
        sh.queue.lock().unwrap().push_back(Item {
            idx: item.idx,
            attempt,
            not_before: Instant::now() + delay,
        });
        return;
    }
    // `settle` counts this failure again; undo ours so one message counts once.
    sh.consecutive.fetch_sub(1, Ordering::SeqCst);
    if claimed {
        settle(ctx, item.idx, email, State::Deferred, e.code(), e.reply());
    } else {
        settle_unclaimed(ctx, item.idx, email, State::Deferred, e.code(), e.reply()).await;
    }
}

/// One test message per language the campaign goes out in, and a bilingual one, to `to`.
#[derive(Debug, Clone, Serialize)]
pub struct TestSent {
    pub langs: String,
    pub sample_of: String,
    pub subject: String,
    pub reply: String,
}

/// Sends samples of the campaign to a test address, marked "[TEST]", outside the journal.
pub fn test_send(p: &Prepared, to: &str) -> std::result::Result<Vec<TestSent>, SendError> {
    let addr: lettre::Address = to
        .parse()
        .map_err(|_| SendError::Setup(format!("--to {to:?} is not a valid e-mail address")))?;
    let smtp = p
        .config
        .smtp
        .as_ref()
        .ok_or_else(|| SendError::Setup("the config has no [smtp] section".into()))?;
    let settings = Arc::new(
        Settings::from_config(smtp, &p.config.root).map_err(|e| SendError::Setup(e.to_string()))?,
    );
    let mut combos: Vec<Vec<String>> = p
        .campaign
        .languages
        .iter()
        .map(|l| vec![l.clone()])
        .collect();
    if p.campaign.languages.len() > 1 {
        combos.push(p.campaign.languages.clone());
    }
    // A real recipient of each combination shows the message as they will see it; without one,
    // the first recipient stands in with the combination's languages.
    let first = p.audience.recipients.first().ok_or_else(|| {
        SendError::Setup("the campaign has no recipients to take samples from".into())
    })?;
    let mut samples = Vec::new();
    for langs in combos {
        let mut r = p
            .audience
            .recipients
            .iter()
            .find(|r| r.langs == langs)
            .unwrap_or(first)
            .clone();
        let sample_of = r.contact.email.clone();
        r.langs = langs;
        r.contact.email = addr.to_string();
        samples.push((r, sample_of));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| SendError::Setup(e.to_string()))?;
    runtime.block_on(async {
        let mut client = Client::connect(settings)
            .await
            .map_err(|e| SendError::Setup(e.to_string()))?;
        let mut out = Vec::new();
        for (r, sample_of) in samples {
            let (rendered, composed) = p
                .message_marked(&r, clock::now(), "test", "[TEST] ")
                .map_err(|e| SendError::Other(Error::Refused(e.to_string())))?;
            let (from, to, utf8) =
                envelope(&p.config.sender.address, &r.contact.email).map_err(SendError::Setup)?;
            client.begin(&from, &to, utf8).await.map_err(|e| {
                SendError::Setup(format!("the relay refused the test message: {e}"))
            })?;
            let reply = client.finish(&composed.bytes).await.map_err(|e| {
                SendError::Setup(format!("the relay refused the test message: {e}"))
            })?;
            out.push(TestSent {
                langs: r.langs.join("+"),
                sample_of,
                subject: rendered.subject,
                reply,
            });
        }
        client.quit().await;
        Ok(out)
    })
}

/// What the journal says of a campaign.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub campaign: String,
    pub total: usize,
    pub counts: std::collections::BTreeMap<State, usize>,
    pub first_sent: Option<String>,
    pub last_sent: Option<String>,
    /// Accepted messages per second between the first and the last acceptance.
    pub rate_per_second: Option<f64>,
    pub problems: Vec<crate::journal::Delivery>,
}

/// What a row left `sending` by a run that is no longer alive is called.
pub const STOPPED_WHILE_SENDING: &str =
    "a run stopped while sending: the relay may or may not have the message";

/// `live`: a run holds the journal now (see [`lock::held_by_a_run`]); otherwise rows still
/// marked sending were left by a run that died, and are shown as the unknown they are.
pub fn status(journal: &Journal, campaign: &str, live: bool) -> Result<Status> {
    let mut counts = journal.counts(campaign)?;
    if !live {
        if let Some(n) = counts.remove(&State::Sending) {
            *counts.entry(State::Unknown).or_default() += n;
        }
    }
    let span = journal.sent_span(campaign)?;
    let sent = counts.get(&State::Sent).copied().unwrap_or(0);
    let rate = span.and_then(|(a, b)| {
        (b > a && sent > 1).then(|| (sent - 1) as f64 / ((b - a) as f64 / 1000.0))
    });
    let mut wanted = vec![State::Failed, State::Deferred, State::Unknown];
    if !live {
        wanted.push(State::Sending);
    }
    let mut problems = journal.deliveries(campaign, &wanted)?;
    for d in &mut problems {
        if d.state == State::Sending {
            d.state = State::Unknown;
            d.smtp_reply = Some(STOPPED_WHILE_SENDING.to_string());
            d.smtp_code = None;
        }
    }
    Ok(Status {
        campaign: campaign.to_string(),
        total: counts.values().sum(),
        counts,
        first_sent: span.map(|(a, _)| clock::from_ms(a).to_rfc3339()),
        last_sent: span.map(|(_, b)| clock::from_ms(b).to_rfc3339()),
        rate_per_second: rate,
        problems,
    })
}

/// Writes failed, deferred and unknown deliveries with their reasons, ready to fix and resend.
pub fn write_failed_csv(path: &std::path::Path, rows: &[crate::journal::Delivery]) -> Result<()> {
    let io = |e: std::io::Error| Error::io("write", path, e);
    let mut w = csv::Writer::from_path(path).map_err(|e| io(e.into()))?;
    w.write_record([
        "email",
        "state",
        "attempts",
        "smtp_code",
        "smtp_reply",
        "last_attempt_at",
        "language",
        "updates",
    ])
    .map_err(|e| io(e.into()))?;
    for d in rows {
        w.write_record([
            d.email.as_str(),
            d.state.as_str(),
            &d.attempts.to_string(),
            &d.smtp_code.map(|c| c.to_string()).unwrap_or_default(),
            d.smtp_reply.as_deref().unwrap_or(""),
            &d.last_attempt_at
                .map(|t| clock::from_ms(t).to_rfc3339())
                .unwrap_or_default(),
            &d.langs,
            &d.updates,
        ])
        .map_err(|e| io(e.into()))?;
    }
    w.flush().map_err(io)
}
