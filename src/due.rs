//! Scheduled sending: the config and the journal's schedule rows in, the campaigns whose time has
//! come sent (within rate caps and sending windows), and every campaign's scheduling state out.

use chrono::{DateTime, Utc};

use crate::journal::{State, Store};
use crate::send::{self, Stop};
use crate::text::count;
use crate::window::stamp;

/// How a `due` run went; `cli::exit` turns it into the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DueOutcome {
    /// Sent what was due, or nothing was due, or a cap or window paused a campaign.
    Ok,
    /// A temporary failure: relay unreachable, messages deferred, another run busy.
    TempFail,
    /// A campaign or the config is broken: someone must fix it.
    Error,
    /// SIGINT or SIGTERM.
    Interrupted,
}

pub enum Level {
    Info,
    /// Something to fix that does not stop the run (a list row in an unknown language):
    /// said once per run, whichever campaigns share its cause.
    Warning,
    Error,
}

const NOTHING_SCHEDULED: &str =
    "nothing due; no campaign is scheduled (bulletin schedule CAMPAIGN --at TIME)";

pub struct DueOptions {
    pub dry_run: bool,
    pub lock_wait: std::time::Duration,
    /// Accept a new journal although this project has sent before.
    pub new_journal: bool,
}

/// Sends every scheduled campaign whose time has come, in order of their times, within rate
/// caps and sending windows. `log` receives one line per event.
pub fn due(
    config: &crate::config::Config,
    store: &Store,
    opts: &DueOptions,
    log: &mut dyn FnMut(Level, String),
) -> crate::Result<DueOutcome> {
    if !opts.dry_run {
        // The gate's word on the journal now; on the relays and secrets when a campaign is due
        // (a project with nothing due needs none of them).
        let gate = send::gate::check(
            config,
            send::gate::Asked {
                journal: Some(store),
                new_journal: opts.new_journal,
            },
        );
        if let Some(p) = gate
            .problems
            .into_iter()
            .find(|p| p.cause == send::gate::Cause::Journal)
        {
            return Err(crate::Error::Discontinuous(p.message));
        }
        store.lock_run(opts.lock_wait, "due")?;
    }
    // A dry run reads only: with no journal yet, nothing can be scheduled.
    let rows = if opts.dry_run {
        match store.existing()? {
            Some(j) => j.scheduled()?,
            None => {
                log(Level::Info, NOTHING_SCHEDULED.to_string());
                return Ok(DueOutcome::Ok);
            }
        }
    } else {
        store.journal()?.scheduled()?
    };
    let now = crate::clock::utc();
    let mut run = Run {
        config,
        store,
        opts,
        log,
        exit: DueOutcome::Ok,
        warned: Default::default(),
    };
    let mut acted = false;
    let mut next: Option<(DateTime<Utc>, String)> = None;
    let mut finished: Option<(i64, String)> = None;
    for row in rows {
        if let Some(at) = row.finished_at_ms {
            if finished.as_ref().is_none_or(|(t, _)| at > *t) {
                finished = Some((at, row.campaign.clone()));
            }
            continue;
        }
        let send_at = crate::clock::from_ms(row.send_at_ms);
        if send_at > now {
            if next.as_ref().is_none_or(|(t, _)| send_at < *t) {
                next = Some((send_at, row.campaign));
            }
            continue;
        }
        acted = true;
        if let Some(until) = row.paused_until_ms.filter(|u| *u > now.timestamp_millis()) {
            let why = row.pause_reason.as_deref().unwrap_or("rate cap");
            let until = stamp(config.tz(), crate::clock::from_ms(until));
            run.say(
                Level::Info,
                format!("{}: paused by the {why} until {until}", row.campaign),
            );
            continue;
        }
        if let Next::Stop = run.campaign(&row.campaign, now)? {
            break;
        }
    }
    if !acted {
        let tz = config.tz();
        let what = match (next, finished) {
            (Some((t, id)), _) => format!("nothing due; next: {id} at {}", stamp(tz, t)),
            // Another `due` may have just finished it while this one waited for the lock.
            (None, Some((at, id))) => format!(
                "nothing due: every scheduled campaign is finished (the last, {id}, at {})",
                stamp(tz, crate::clock::from_ms(at))
            ),
            (None, None) => NOTHING_SCHEDULED.to_string(),
        };
        run.say(Level::Info, what);
    }
    Ok(run.exit)
}

/// After one campaign: on to the next, or this `due` stops (a cap holds for every campaign, a
/// failing relay fails them all, a signal stops everything).
enum Next {
    Continue,
    Stop,
}

/// One `due` run, campaign after campaign.
struct Run<'a> {
    config: &'a crate::config::Config,
    store: &'a Store,
    opts: &'a DueOptions,
    log: &'a mut dyn FnMut(Level, String),
    exit: DueOutcome,
    /// Two campaigns reading one list would otherwise repeat its warnings.
    warned: std::collections::HashSet<String>,
}

impl Run<'_> {
    fn say(&mut self, level: Level, line: String) {
        (self.log)(level, line)
    }

    fn fail(&mut self, outcome: DueOutcome, line: String) {
        self.say(Level::Error, line);
        self.exit = self.exit.max(outcome);
    }

    /// A campaign whose time has come: prepared, sent within its window (or, in a dry run,
    /// what would go said), and what came of it logged.
    fn campaign(&mut self, id: &str, now: DateTime<Utc>) -> crate::Result<Next> {
        let prepared = match crate::project::prepare(self.config.clone(), self.store, id, false) {
            Ok(p) => p,
            Err(e) => {
                self.fail(DueOutcome::Error, format!("{id}: cannot be sent: {e}"));
                return Ok(Next::Continue);
            }
        };
        for w in prepared.problems.warnings() {
            let w = w.to_string();
            if self.warned.insert(w.clone()) {
                self.say(Level::Warning, w);
            }
        }
        let sch = prepared.campaign.schedule.clone();
        let Some(window_end) = sch.window.open_until(sch.tz, now) else {
            let opens = sch
                .window
                .next_open(sch.tz, now)
                .map_or("never".into(), |t| stamp(self.config.tz(), t));
            let window = sch.describe_window();
            self.say(
                Level::Info,
                format!("{id}: outside its sending window ({window}); opens {opens}"),
            );
            return Ok(Next::Continue);
        };
        if self.opts.dry_run {
            // What the real run would refuse on, the dry run says.
            if let Some(p) = send::gate::approval(&prepared, self.store)? {
                self.fail(DueOutcome::Error, format!("{id}: {}", p.message));
                return Ok(Next::Continue);
            }
            let plan = send::plan(&prepared, self.store, &send::Options::default())?;
            let would = count(plan.to_send, "message", "messages");
            self.say(
                Level::Info,
                format!(
                    "{id}: would send {would} now ({} of {} already sent)",
                    plan.already_sent, plan.recipients
                ),
            );
            return Ok(Next::Continue);
        }
        self.store.journal()?.set_paused(id, None, None)?;
        let send_opts = send::Options {
            deadline_ms: window_end.map(|t| t.timestamp_millis()),
            ..Default::default()
        };
        let prepared = std::sync::Arc::new(prepared);
        let quiet = send::progress::Progress::Quiet;
        let report = match send::run(prepared, self.store, &send_opts, &quiet) {
            Ok(r) => r,
            Err(e) => {
                self.fail(DueOutcome::Error, format!("{id}: {e}"));
                return Ok(Next::Continue);
            }
        };
        self.say(
            Level::Info,
            format!(
                "{id}: {} sent, {} failed, {} deferred, {} unknown; {} sent before; {} left",
                report.sent,
                report.failed,
                report.deferred,
                report.unknown,
                report.already_sent,
                report.remaining
            ),
        );
        for f in &report.failures {
            let code = f.code.map(|c| format!("{c} ")).unwrap_or_default();
            let line = format!("{id}: {} {}: {code}{}", f.state.as_str(), f.email, f.reply);
            self.say(Level::Error, line);
        }
        self.settle(id, &sch, &report)
    }

    /// What the end of a campaign's run means for it (paused, finished) and for the rest of
    /// this `due`.
    fn settle(
        &mut self,
        id: &str,
        sch: &crate::window::Schedule,
        report: &send::Report,
    ) -> crate::Result<Next> {
        let tz = self.config.tz();
        match &report.stopped {
            Some(stop) => {
                let what = stop.describe(|ms| stamp(tz, crate::clock::from_ms(ms)));
                match stop {
                    Stop::Capped {
                        cap,
                        limit,
                        resume_at_ms,
                    } => {
                        let why = format!("{cap} cap ({limit})");
                        (self.store.journal()?).set_paused(id, Some(*resume_at_ms), Some(&why))?;
                        self.say(
                            Level::Info,
                            format!("{id}: {what}; the next run after that continues"),
                        );
                        // The cap holds for every campaign: none can go before it lifts.
                        Ok(Next::Stop)
                    }
                    Stop::Window => {
                        let opens = sch
                            .window
                            .next_open(sch.tz, crate::clock::utc())
                            .map_or("never".into(), |t| stamp(tz, t));
                        self.say(
                            Level::Info,
                            format!("{id}: {what}; continues when it opens, {opens}"),
                        );
                        Ok(Next::Continue)
                    }
                    Stop::RelayFailing { .. } => {
                        self.fail(DueOutcome::TempFail, format!("{id}: {what}"));
                        Ok(Next::Stop)
                    }
                    Stop::Interrupted => {
                        self.say(Level::Error, format!("{id}: {what}"));
                        self.exit = DueOutcome::Interrupted;
                        Ok(Next::Stop)
                    }
                }
            }
            None if report.deferred > 0 => {
                let n = count(report.deferred, "message deferred", "messages deferred");
                self.fail(
                    DueOutcome::TempFail,
                    format!("{id}: {n} by the relay; the next run retries them"),
                );
                Ok(Next::Continue)
            }
            None => {
                // Finished when no recipient of the current audience waits; rows of contacts
                // since removed from the lists stay queued in the journal and do not count.
                let journal = self.store.journal()?;
                if report.remaining == 0 {
                    journal.set_finished(id, crate::clock::now_ms())?;
                    let sent = journal.counts(id)?.get(&State::Sent).copied().unwrap_or(0);
                    drop(journal);
                    self.say(Level::Info, format!("{id}: finished: {sent} sent in all"));
                }
                Ok(Next::Continue)
            }
        }
    }
}

/// A campaign's state, as `bulletin schedule` lists it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Overview {
    pub campaign: String,
    pub state: String,
    pub detail: String,
}

/// Every campaign of the project with its scheduling state.
pub fn overview(config: &crate::config::Config, store: &Store) -> crate::Result<Vec<Overview>> {
    let tz = config.tz();
    // Reading only: no journal yet means nothing scheduled or sent, and none is created.
    let journal = store.existing()?;
    let rows = match &journal {
        Some(j) => j.scheduled()?,
        None => Vec::new(),
    };
    let mut p = crate::problems::Problems::new();
    let updates = crate::updates::load(config, &mut p)?;
    let now = crate::clock::utc();
    let mut out = Vec::new();
    let mut ids: Vec<String> = crate::campaign::list_files(config)?
        .iter()
        .filter_map(|f| f.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .collect();
    for r in &rows {
        if !ids.contains(&r.campaign) {
            ids.push(r.campaign.clone());
        }
    }
    for id in ids {
        let campaign = crate::campaign::locate(config, &id)
            .ok()
            .and_then(|path| crate::campaign::load(&path, config, &updates, &mut p));
        let counts = match &journal {
            Some(j) => j.counts(campaign.as_ref().map_or(id.as_str(), |c| c.id.as_str()))?,
            None => Default::default(),
        };
        let cid = campaign.as_ref().map_or(id.clone(), |c| c.id.clone());
        let tally = Tally(counts);
        let (state, detail) = match rows.iter().find(|r| r.campaign == cid) {
            None => unscheduled(campaign.as_ref(), &tally, tz),
            Some(r) => {
                // Rows sent before a schedule made with --again are not this schedule's.
                let tried = match &journal {
                    Some(j) => j.tried_since(&cid, r.scheduled_at_ms)?,
                    None => 0,
                };
                scheduled(r, campaign.as_ref(), &tally, tried, tz, now)
            }
        };
        out.push(Overview {
            campaign: cid,
            state,
            detail,
        });
    }
    Ok(out)
}

/// A campaign's counts per state, as `schedule` lists them.
struct Tally(std::collections::BTreeMap<State, usize>);

impl Tally {
    fn n(&self, s: State) -> usize {
        self.0.get(&s).copied().unwrap_or(0)
    }

    fn total(&self) -> usize {
        self.0.values().sum()
    }
}

impl std::fmt::Display for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} sent, {} failed, {} deferred, {} unknown, {} queued",
            self.n(State::Sent),
            self.n(State::Failed),
            self.n(State::Deferred),
            self.n(State::Unknown),
            self.n(State::Queued)
        )
    }
}

/// The state of a campaign never marked ready: a draft, or sent by hand (`send`).
fn unscheduled(
    campaign: Option<&crate::campaign::Campaign>,
    tally: &Tally,
    tz: chrono_tz::Tz,
) -> (String, String) {
    let plan = campaign
        .and_then(|c| c.schedule.send_at)
        .map(|t| format!("plans {} (not marked ready)", stamp(tz, t)))
        .unwrap_or_else(|| "not scheduled".into());
    let open = tally.n(State::Queued) + tally.n(State::Deferred);
    if tally.total() == 0 {
        ("draft".to_string(), plan)
    } else if open == 0 {
        ("finished".to_string(), format!("sent by hand: {tally}"))
    } else {
        (
            "partly sent".to_string(),
            format!("by hand, not scheduled: {tally}"),
        )
    }
}

/// The state of a scheduled campaign: finished, paused, waiting for its time, sending or due.
/// `tried`: deliveries tried since it was scheduled.
fn scheduled(
    r: &crate::journal::Scheduled,
    campaign: Option<&crate::campaign::Campaign>,
    tally: &Tally,
    tried: usize,
    tz: chrono_tz::Tz,
    now: DateTime<Utc>,
) -> (String, String) {
    let at = |ms: i64| stamp(tz, crate::clock::from_ms(ms));
    if let Some(done) = r.finished_at_ms {
        return ("finished".into(), format!("{}: {tally}", at(done)));
    }
    if let Some(until) = r.paused_until_ms.filter(|u| *u > now.timestamp_millis()) {
        let why = r.pause_reason.as_deref().unwrap_or("rate cap");
        return (
            "paused".into(),
            format!("by the {why} until {}; {tally}", at(until)),
        );
    }
    if crate::clock::from_ms(r.send_at_ms) > now {
        return ("scheduled".into(), format!("for {}", at(r.send_at_ms)));
    }
    let window = campaign.map(|c| {
        (
            c.schedule.window.open_until(c.schedule.tz, now).is_some(),
            c.schedule.window.next_open(c.schedule.tz, now),
        )
    });
    let waiting = match window {
        Some((false, Some(t))) => format!("; window closed, opens {}", stamp(tz, t)),
        _ => String::new(),
    };
    if tried > 0 {
        let (sent, total) = (tally.n(State::Sent), tally.total());
        return (
            "sending".into(),
            format!(
                "{sent} of {total} sent since {}{waiting}; {tally}",
                at(r.send_at_ms)
            ),
        );
    }
    let before = if tally.total() > tally.n(State::Queued) {
        format!("; {} sent before", tally.n(State::Sent))
    } else {
        String::new()
    };
    (
        "due".into(),
        format!("since {}{waiting}{before}", at(r.send_at_ms)),
    )
}

/// A crontab entry for the project, with absolute paths: cron runs with almost no environment
/// and in the home folder. `exe` is the bulletin program to run.
pub fn cron_line(
    config: &crate::config::Config,
    exe: &std::path::Path,
    every: u32,
) -> crate::Result<String> {
    let conf =
        std::path::absolute(&config.file).map_err(|e| crate::Error::io("find", &config.file, e))?;
    let log = config.root.join("bulletin-due.log");
    let quote = |p: &std::path::Path| shell_word(&p.display().to_string());
    let mut o = format!(
        "# bulletin: send the scheduled campaigns of {} every {every} minutes.\n",
        config.root.display()
    );
    o.push_str("# Exit codes: 0 done or nothing due, 1 error to fix, 75 temporary failure, 130/143 interrupted\n# (cron mails what goes to stderr).\n");
    // The variables the gate's settings read (each relay's password, the token secrets).
    let vars = crate::send::gate::variables(config);
    if !vars.is_empty() {
        o.push_str(&format!(
            "# cron passes almost no environment: set each secret here (the crontab is not under version\n# control), or read it with a command instead (password_command, secret_command in {}).\n",
            conf.display()
        ));
    }
    for v in &vars {
        o.push_str(&format!("# {} ({})\n{}=change-me\n", v.what, v.key, v.var));
    }
    o.push_str(&format!(
        "*/{every} * * * * {} --config {} due --quiet --log-file {}\n",
        quote(exe),
        quote(&conf),
        quote(&log)
    ));
    Ok(o)
}

/// A word for a crontab line: single-quoted, so that the shell takes every character as it is
/// (`'` is written `'\''`), and `%`, which cron itself turns into a line end, escaped.
fn shell_word(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''").replace('%', "\\%"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn crontab_words_are_taken_literally() {
        assert_eq!(super::shell_word("/srv/news"), "'/srv/news'");
        assert_eq!(
            super::shell_word("/srv/$(rm -rf x);`y` & 50%/it's"),
            "'/srv/$(rm -rf x);`y` & 50\\%/it'\\''s'"
        );
    }
}
