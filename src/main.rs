//! The `bulletin` command: parses the command line and calls the library.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use bulletin::config::Config;
use bulletin::{preview, project, scaffold, send, Error};

// The pipeline allocates and frees many short strings per message on every core; mimalloc
// does that markedly faster than the system allocator (see bench/preview.sh).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Personal, bilingual newsletters from plain files: project updates in Markdown, contact lists
/// in CSV, templates in tera.
#[derive(Parser)]
#[command(name = "bulletin", version, propagate_version = true)]
#[command(
    after_help = "Examples:\n  bulletin init my-newsletter\n  bulletin check\n  bulletin audience 2026-11-digest\n  bulletin preview 2026-11-digest --out preview\n\nExit codes: 0 success, 1 error (bad input, refused action), 2 wrong usage;\nsend also: 3 stopped by a rate cap, 75 relay failing or messages deferred, 130 interrupted."
)]
struct Cli {
    /// The project's config file; paths inside it are read relative to its folder.
    #[arg(
        long,
        short,
        global = true,
        default_value = "bulletin.toml",
        value_name = "FILE"
    )]
    config: PathBuf,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate config, lists, updates, templates and campaigns; list every problem at once.
    #[command(
        after_help = "Examples:\n  bulletin check\n  bulletin check 2026-11-digest\n\nExits 1 if any problem is an error; warnings alone exit 0."
    )]
    Check {
        /// Check only this campaign (an id such as 2026-11-digest, or a file path).
        campaign: Option<String>,
    },

    /// Show who would receive a campaign and what, before anything is rendered.
    #[command(
        after_help = "Examples:\n  bulletin audience 2026-11-digest\n  bulletin audience 2026-11-digest --csv > recipients.csv"
    )]
    Audience {
        campaign: String,
        /// Print one CSV row per recipient instead of the summary.
        #[arg(long)]
        csv: bool,
        /// Leave out rows with an invalid address instead of stopping.
        #[arg(long)]
        skip_invalid: bool,
    },

    /// Write every recipient's message as .eml and .html files, with index.html and summary.json.
    #[command(
        after_help = "Examples:\n  bulletin preview 2026-11-digest\n  bulletin preview 2026-11-digest --out /tmp/nov --limit 20\n  bulletin preview 2026-11-digest --skip-invalid   # bad rows go to rejects.csv\n\nThe output folder is replaced whole, but only if it is empty or an earlier preview."
    )]
    Preview {
        campaign: String,
        /// Output folder [default: the config's paths.preview, then the campaign id].
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Write at most N messages.
        #[arg(long, value_name = "N")]
        limit: Option<usize>,
        /// Set invalid rows aside in rejects.csv instead of stopping.
        #[arg(long)]
        skip_invalid: bool,
        /// Render and compose every message but write nothing (for timing).
        #[arg(long, hide = true)]
        no_write: bool,
    },

    /// Send a campaign through the SMTP relay: rate limited, journaled, never twice.
    #[command(
        after_help = "Examples:\n  bulletin send 2026-11-digest                 # asks before sending\n  bulletin send 2026-11-digest --yes --limit 500\n  bulletin send 2026-11-digest --dry-run\n  BULLETIN_SMTP_PASSWORD=... bulletin send 2026-11-digest --yes --json\n\nRunning it again continues where it stopped: recipients recorded as sent are never sent\nagain, deferred ones are retried, failed and unknown ones only when asked.\n\nExit codes: 0 done; 1 error; 3 stopped by a rate cap (run again after the time shown);\n75 the relay is failing or messages were deferred (try again later); 130 interrupted."
    )]
    Send {
        campaign: String,
        /// Send without asking (required when not on a terminal, as under cron).
        #[arg(long, short = 'y')]
        yes: bool,
        /// Send at most N messages in this run.
        #[arg(long, value_name = "N")]
        limit: Option<usize>,
        /// Produce every message but send none and record nothing.
        #[arg(long)]
        dry_run: bool,
        /// Send again to recipients whose fate an interrupted run left unknown.
        #[arg(long)]
        resend_unknown: bool,
        /// Send again to recipients the relay refused for good.
        #[arg(long)]
        retry_failed: bool,
        /// Continue although the campaign's content changed since it was partly sent.
        #[arg(long)]
        allow_changed: bool,
        /// Start a new journal although this project has sent from one that is now missing,
        /// replaced or older (recipients already mailed would be mailed again).
        #[arg(long)]
        new_journal: bool,
        /// Leave out rows with an invalid address instead of stopping.
        #[arg(long)]
        skip_invalid: bool,
        /// Print the final report as JSON on stdout.
        #[arg(long)]
        json: bool,
    },

    /// Send one sample per language (and a bilingual one) to a test address, marked [TEST].
    #[command(
        name = "test-send",
        after_help = "Example:\n  bulletin test-send 2026-11-digest --to me@example.org\n\nNothing is recorded in the journal."
    )]
    TestSend {
        campaign: String,
        /// The address that receives the samples.
        #[arg(long, value_name = "ADDRESS")]
        to: String,
    },

    /// Show what the journal says: counts per state, rate, failures with the relay's reasons.
    #[command(
        after_help = "Examples:\n  bulletin status\n  bulletin status 2026-11-digest --failed-csv failed.csv\n  bulletin status 2026-11-digest --json"
    )]
    Status {
        /// One campaign; every campaign in the journal when left out.
        campaign: Option<String>,
        /// Write failed, deferred and unknown deliveries with their reasons to FILE.
        #[arg(long, value_name = "FILE")]
        failed_csv: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },

    /// Mark a campaign ready to go at a time (what `due` sends), take it back, or list campaigns.
    #[command(
        after_help = "Examples:\n  bulletin schedule                                    # every campaign and its state\n  bulletin schedule 2026-12-digest --at 2026-12-01T09:00      # local time, in the config's zone\n  bulletin schedule 2026-12-digest --at 2026-12-01T09:00:00+01:00\n  bulletin schedule 2026-12-digest                     # at the file's [schedule] send_at\n  bulletin schedule 2026-12-digest --cancel            # back to draft\n\nA send_at in the campaign file alone is a plan: nothing goes until the campaign is marked here."
    )]
    Schedule {
        campaign: Option<String>,
        /// When to send: RFC 3339, or a local date and time read in the configured zone.
        #[arg(long, value_name = "TIME", conflicts_with = "cancel")]
        at: Option<String>,
        /// Take the campaign back to draft.
        #[arg(long)]
        cancel: bool,
        #[arg(long)]
        json: bool,
    },

    /// Send every scheduled campaign whose time has come: the command for cron.
    #[command(
        after_help = "Examples:\n  bulletin due\n  bulletin due --dry-run\n  bulletin due --quiet --log-file /var/log/bulletin.log    # in a crontab\n\nNever asks anything. Output: timestamped lines on stdout (none with --quiet), errors on stderr.\nExit codes: 0 done, nothing due, or paused by a rate cap or sending window (continues next run);\n1 error (a campaign or the config needs fixing); 75 temporary failure (relay unreachable,\nmessages deferred, another run still sending); 130 interrupted.\n`bulletin cron-line` prints a crontab entry for this project."
    )]
    Due {
        /// Say what would be sent now, send nothing.
        #[arg(long)]
        dry_run: bool,
        /// Print nothing on stdout when all is well.
        #[arg(long, short)]
        quiet: bool,
        /// Also append every line to FILE.
        #[arg(long, value_name = "FILE")]
        log_file: Option<PathBuf>,
        /// Start a new journal although this project has sent from one that is now missing,
        /// replaced or older (recipients already mailed would be mailed again).
        #[arg(long)]
        new_journal: bool,
    },

    /// Print a crontab entry that runs `due` for this project every few minutes.
    #[command(
        name = "cron-line",
        after_help = "Example (adds to the current crontab):\n  (crontab -l 2>/dev/null; bulletin cron-line) | crontab -"
    )]
    CronLine {
        /// Minutes between runs.
        #[arg(long, default_value_t = 5)]
        every: u32,
    },

    /// Create a new mailing project in DIR, filled with the example content.
    #[command(
        after_help = "Example:\n  bulletin init my-newsletter && cd my-newsletter && bulletin check"
    )]
    Init { dir: PathBuf },
}

fn print_warnings(p: &bulletin::problems::Problems) {
    for w in p.warnings() {
        eprintln!("{}", clean(&w.to_string()));
    }
}

/// Messages quote CSV cells and relay replies: whatever they hold reaches the terminal escaped.
fn clean(s: &str) -> std::borrow::Cow<'_, str> {
    bulletin::term::clean_lines(s)
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let load = || Config::load(&cli.config);
    match cli.command {
        Command::Init { dir } => {
            let written = scaffold::init(&dir)?;
            println!("Created {} with {} files. Next:\n  cd {}\n  bulletin check\n  bulletin preview 2026-11-digest", dir.display(), written, dir.display());
        }
        Command::Check { campaign } => {
            let config = load()?;
            let p = project::check(&config, campaign.as_deref())?;
            if p.is_empty() {
                println!("No problems found.");
            } else {
                eprintln!("{}", clean(&p.to_string()));
            }
            let (e, w) = (p.errors().count(), p.warnings().count());
            if e > 0 {
                return Ok(ExitCode::FAILURE);
            }
            if w > 0 {
                println!("{w} warning{}, no errors.", if w == 1 { "" } else { "s" });
            }
        }
        Command::Audience {
            campaign,
            csv,
            skip_invalid,
        } => {
            let prepared = project::prepare(load()?, &campaign, skip_invalid)?;
            print_warnings(&prepared.problems);
            if csv {
                bulletin::audience::write_csv(
                    &prepared.campaign,
                    &prepared.audience,
                    std::io::stdout().lock(),
                )
                .context("writing the CSV")?;
            } else {
                print!(
                    "{}",
                    bulletin::audience::report(&prepared.campaign, &prepared.audience)
                );
            }
        }
        Command::Send {
            campaign,
            yes,
            limit,
            dry_run,
            resend_unknown,
            retry_failed,
            allow_changed,
            new_journal,
            skip_invalid,
            json,
        } => {
            let prepared = project::prepare(load()?, &campaign, skip_invalid)?;
            print_warnings(&prepared.problems);
            let opts = send::Options {
                limit,
                dry_run,
                resend_unknown,
                retry_failed,
                allow_changed,
                lock_wait: std::time::Duration::from_secs(5),
                lock_held: false,
                deadline_ms: None,
                new_journal,
            };
            return send_command(prepared, &opts, yes, json);
        }
        Command::TestSend { campaign, to } => {
            let prepared = project::prepare(load()?, &campaign, true)?;
            let sent = send::test_send(&prepared, &to).map_err(anyhow::Error::new)?;
            for s in sent {
                println!(
                    "sent {} sample (as {}) to {to}: {} — relay: {}",
                    s.langs, s.sample_of, s.subject, s.reply
                );
            }
        }
        Command::Status {
            campaign,
            failed_csv,
            json,
        } => {
            let config = load()?;
            let path = config.journal_path();
            // Asked before the journal is opened (see send::lock): is a run sending right now?
            let live = send::lock::held_by_a_run(&path);
            let Some(journal) = bulletin::journal::Journal::open_existing(&path)? else {
                let marker = bulletin::journal::marker_path(&path);
                if marker.exists() {
                    anyhow::bail!(
                        "the journal {} is missing, but {} says this project has sent from it: restore it from a backup",
                        path.display(),
                        marker.display()
                    );
                }
                println!(
                    "No journal yet ({}): nothing has been sent from this project.",
                    path.display()
                );
                return Ok(ExitCode::SUCCESS);
            };
            let ids = match campaign {
                Some(c) => vec![c],
                None => journal.campaigns()?,
            };
            if ids.is_empty() {
                println!("The journal ({}) holds no campaign yet.", path.display());
            }
            let mut all = Vec::new();
            let mut problems = Vec::new();
            for id in ids {
                let st = send::status(&journal, &id, live)?;
                problems.extend(st.problems.iter().cloned());
                all.push(st);
            }
            if let Some(file) = failed_csv {
                send::write_failed_csv(&file, &problems)?;
                eprintln!(
                    "{} failed, deferred or unknown deliveries written to {}",
                    problems.len(),
                    file.display()
                );
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&all)?);
            } else {
                for st in &all {
                    print!("{}", clean(&status_text(st)));
                }
            }
        }
        Command::Schedule {
            campaign,
            at,
            cancel,
            json,
        } => {
            let config = load()?;
            let Some(name) = campaign else {
                let list = bulletin::schedule::overview(&config)?;
                if json {
                    println!("{}", serde_json::to_string_pretty(&list)?);
                } else {
                    for o in list {
                        println!("{:<28} {:<10} {}", o.campaign, o.state, o.detail);
                    }
                }
                return Ok(ExitCode::SUCCESS);
            };
            let journal = bulletin::journal::Journal::open(&config.journal_path())?;
            if cancel {
                let id = bulletin::campaign::locate(&config, &name)
                    .ok()
                    .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
                    .unwrap_or(name.clone());
                // The id inside the file wins over the file name.
                let id = project::prepare(config.clone(), &name, true)
                    .map(|p| p.campaign.id.clone())
                    .unwrap_or(id);
                if journal.unschedule(&id)? {
                    println!("{id}: back to draft; `due` will not send it.");
                } else {
                    println!("{id} was not scheduled.");
                }
                return Ok(ExitCode::SUCCESS);
            }
            // A campaign is checked whole before it is marked ready.
            let prepared = project::prepare(config.clone(), &name, false)?;
            print_warnings(&prepared.problems);
            let sch = &prepared.campaign.schedule;
            let when = match at {
                Some(t) => bulletin::schedule::parse_at(&t, sch.tz).map_err(anyhow::Error::msg)?,
                None => sch.send_at.ok_or_else(|| {
                    anyhow::anyhow!(
                        "{} has no send_at under [schedule]: give the time with --at",
                        prepared.campaign.path.display()
                    )
                })?,
            };
            journal.schedule(&prepared.campaign.id, when.timestamp_millis())?;
            let tz = config.tz();
            let mut msg = format!(
                "{}: scheduled for {} ({} recipients; window: {})",
                prepared.campaign.id,
                bulletin::schedule::stamp(sch.tz, when),
                prepared.audience.recipients.len(),
                sch.describe_window()
            );
            if when <= bulletin::clock::utc() {
                msg.push_str(&format!(
                    "; that is past, so the next `bulletin due` sends it (now {})",
                    bulletin::schedule::stamp(tz, bulletin::clock::utc())
                ));
            }
            println!("{msg}");
        }
        Command::Due {
            dry_run,
            quiet,
            log_file,
            new_journal,
        } => {
            let config = load()?;
            let tz = config.tz();
            let mut file = match &log_file {
                Some(f) => Some(
                    std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(f)
                        .with_context(|| format!("cannot open the log file {}", f.display()))?,
                ),
                None => None,
            };
            let mut log = |level: bulletin::schedule::Level, line: String| {
                let line = format!(
                    "{} {line}",
                    bulletin::schedule::stamp(tz, bulletin::clock::utc())
                );
                if let Some(f) = file.as_mut() {
                    use std::io::Write;
                    let _ = writeln!(f, "{line}");
                }
                match level {
                    bulletin::schedule::Level::Error => eprintln!("{line}"),
                    bulletin::schedule::Level::Info if !quiet => println!("{line}"),
                    bulletin::schedule::Level::Info => {}
                }
            };
            let opts = bulletin::schedule::DueOptions {
                dry_run,
                lock_wait: std::time::Duration::from_secs(10),
                new_journal,
            };
            let exit = match bulletin::schedule::due(&config, &opts, &mut log) {
                Ok(e) => e,
                Err(Error::Busy(m)) => {
                    log(bulletin::schedule::Level::Error, m);
                    return Ok(ExitCode::from(EXIT_TEMPFAIL));
                }
                Err(e) => {
                    log(bulletin::schedule::Level::Error, e.to_string());
                    return Ok(ExitCode::FAILURE);
                }
            };
            return Ok(match exit {
                bulletin::schedule::DueExit::Ok => ExitCode::SUCCESS,
                bulletin::schedule::DueExit::Error => ExitCode::FAILURE,
                bulletin::schedule::DueExit::TempFail => ExitCode::from(EXIT_TEMPFAIL),
                bulletin::schedule::DueExit::Interrupted => {
                    ExitCode::from(bulletin::interrupt::exit_code())
                }
            });
        }
        Command::CronLine { every } => {
            let config = load()?;
            print!("{}", cron_line(&config, every)?);
        }
        Command::Preview {
            campaign,
            out,
            limit,
            skip_invalid,
            no_write,
        } => {
            let prepared = project::prepare(load()?, &campaign, skip_invalid)?;
            print_warnings(&prepared.problems);
            let out =
                out.unwrap_or_else(|| prepared.config.preview_dir().join(&prepared.campaign.id));
            let opts = preview::Options {
                out: out.clone(),
                limit,
                dry: no_write,
            };
            let started = std::time::Instant::now();
            let s = preview::run(&prepared, &opts, std::time::SystemTime::now())?;
            let secs = started.elapsed().as_secs_f64();
            if no_write {
                println!("Rendered and composed {} messages in {secs:.2} s ({:.0} messages/s); nothing written.", s.messages, s.messages as f64 / secs);
            } else {
                println!(
                    "Wrote {} messages ({} files, {} bytes) to {} in {secs:.2} s.\nOpen {} to browse them.",
                    s.messages,
                    s.files_written,
                    s.bytes_written,
                    out.display(),
                    out.join("index.html").display()
                );
            }
            if s.left_out > 0 {
                println!(
                    "{} contacts left out: see `bulletin audience {}`.",
                    s.left_out, prepared.campaign.id
                );
            }
            if s.rejects > 0 {
                println!(
                    "{} invalid rows set aside in {}.",
                    s.rejects,
                    out.join("rejects.csv").display()
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A crontab entry for the project, with absolute paths: cron runs with almost no environment
/// and in the home folder.
fn cron_line(config: &Config, every: u32) -> anyhow::Result<String> {
    let exe = std::env::current_exe().context("cannot tell where the bulletin program is")?;
    let exe = exe.canonicalize().unwrap_or(exe);
    let conf = std::path::absolute(&config.file)?;
    let log = config.root.join("bulletin-due.log");
    let quote = |p: &std::path::Path| {
        let s = p.display().to_string();
        if s.contains([' ', '\'', '"', '%']) {
            format!("'{}'", s.replace('\'', "'\\''").replace('%', "\\%"))
        } else {
            s
        }
    };
    let mut o = format!(
        "# bulletin: send the scheduled campaigns of {} every {every} minutes.\n",
        config.root.display()
    );
    o.push_str("# Exit codes: 0 done or nothing due, 1 error to fix, 75 temporary failure (cron mails what goes to stderr).\n");
    let password = config.smtp.as_ref().and_then(|s| s.password_env.clone());
    if let Some(var) = &password {
        o.push_str(&format!(
            "# The SMTP password comes from ${var}, and cron passes almost no environment: set it here\n# (the crontab is not under version control), or use password_command in {}.\n{var}=change-me\n",
            conf.display()
        ));
    }
    o.push_str(&format!(
        "*/{every} * * * * {} --config {} due --quiet --log-file {}\n",
        quote(&exe),
        quote(&conf),
        quote(&log)
    ));
    Ok(o)
}

fn status_text(st: &send::Status) -> String {
    let counts: Vec<String> = st
        .counts
        .iter()
        .map(|(s, n)| format!("{} {n}", s.as_str()))
        .collect();
    let mut o = format!(
        "{}: {} recipients: {}\n",
        st.campaign,
        st.total,
        counts.join(", ")
    );
    if let (Some(a), Some(b)) = (&st.first_sent, &st.last_sent) {
        o.push_str(&format!("  sent from {a} to {b}"));
        if let Some(r) = st.rate_per_second {
            o.push_str(&format!(" ({r:.1} messages/s)"));
        }
        o.push('\n');
    }
    for d in st.problems.iter().take(50) {
        o.push_str(&format!(
            "  {} {}: {}{}\n",
            d.state.as_str(),
            d.email,
            d.smtp_code.map(|c| format!("{c} ")).unwrap_or_default(),
            d.smtp_reply.as_deref().unwrap_or("")
        ));
    }
    if st.problems.len() > 50 {
        o.push_str(&format!(
            "  … and {} more (--failed-csv FILE lists them all)\n",
            st.problems.len() - 50
        ));
    }
    o
}

/// Exit codes of `send`, documented in its --help and the README.
const EXIT_CAPPED: u8 = 3;
const EXIT_TEMPFAIL: u8 = 75;

fn send_command(
    prepared: project::Prepared,
    opts: &send::Options,
    yes: bool,
    json: bool,
) -> anyhow::Result<ExitCode> {
    use std::io::IsTerminal;
    let plan = send::plan(&prepared, opts)?;
    let smtp = prepared.config.smtp.as_ref();
    let rate = &prepared.config.rate;
    let langs: Vec<String> = plan
        .by_language
        .iter()
        .map(|(l, n)| format!("{l} {n}"))
        .collect();
    eprintln!(
        "{}campaign {}: {} messages to send ({}); {} of {} recipients already sent{}{}{}\n  relay {}, {} connections, {}/s{}{}",
        if opts.dry_run { "[dry run] " } else { "" },
        prepared.campaign.id,
        plan.to_send,
        if langs.is_empty() { "none".into() } else { langs.join(", ") },
        plan.already_sent,
        plan.recipients,
        if plan.failed > 0 { format!("; {} failed (--retry-failed)", plan.failed) } else { String::new() },
        if plan.unknown > 0 { format!("; {} unknown (--resend-unknown)", plan.unknown) } else { String::new() },
        if plan.sending > 0 { format!("; {} being sent by another run right now", plan.sending) } else { String::new() },
        smtp.map_or("(none configured)".to_string(), |s| format!("{}:{}", s.host, s.port.map_or("default".into(), |p| p.to_string()))),
        smtp.map_or(0, |s| s.connections),
        rate.per_second,
        rate.per_hour.map(|h| format!(", at most {h}/hour")).unwrap_or_default(),
        rate.per_day.map(|d| format!(", at most {d}/day")).unwrap_or_default(),
    );
    if plan.to_send == 0 && plan.sending == 0 {
        eprintln!("Nothing to send.");
        return Ok(ExitCode::SUCCESS);
    }
    if !opts.dry_run && !yes {
        if !std::io::stdin().is_terminal() {
            anyhow::bail!(
                "not on a terminal, so bulletin cannot ask before sending: pass --yes to send"
            );
        }
        eprint!("Send {} messages now? [y/N] ", plan.to_send);
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes" | "oui") {
            eprintln!("Nothing sent.");
            return Ok(ExitCode::SUCCESS);
        }
    }
    let progress = if std::io::stderr().is_terminal() {
        send::progress::Progress::bar()
    } else {
        send::progress::Progress::log(std::time::Duration::from_secs(10))
    };
    let report =
        send::run(std::sync::Arc::new(prepared), opts, &progress).map_err(anyhow::Error::new)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{}", clean(&report_text(&report)));
    }
    Ok(match &report.stopped {
        Some(send::Stop::Interrupted) => ExitCode::from(bulletin::interrupt::exit_code()),
        Some(send::Stop::Capped { .. }) | Some(send::Stop::Window { .. }) => {
            ExitCode::from(EXIT_CAPPED)
        }
        Some(send::Stop::RelayFailing { .. }) => ExitCode::from(EXIT_TEMPFAIL),
        None if report.deferred > 0 => ExitCode::from(EXIT_TEMPFAIL),
        None => ExitCode::SUCCESS,
    })
}

fn report_text(r: &send::Report) -> String {
    let mut o = format!(
        "{} {}: {} sent, {} failed, {} deferred, {} unknown in {:.1} s ({:.1} messages/s); {} already sent before; {} left for a later run",
        bulletin::clock::utc().format("%Y-%m-%dT%H:%M:%SZ"),
        r.campaign,
        r.sent,
        r.failed,
        r.deferred,
        r.unknown,
        r.elapsed_secs,
        r.messages_per_second,
        r.already_sent,
        r.remaining
    );
    if r.dry_run {
        o = format!(
            "dry run of {}: {} messages produced, none sent, nothing recorded",
            r.campaign, r.attempted
        );
    }
    if r.taken_elsewhere > 0 {
        o.push_str(&format!(
            "\n{} recipients were taken by another run on the same journal and left to it",
            r.taken_elsewhere
        ));
    }
    if r.recovered_unknown > 0 {
        o.push_str(&format!("\n{} messages left 'sending' by an interrupted run are now marked unknown: bulletin does not send them again unless you pass --resend-unknown", r.recovered_unknown));
    }
    match &r.stopped {
        Some(send::Stop::Interrupted) => o.push_str("\nInterrupted: every message is recorded (those not yet handed to the relay as deferred). Run the same command to continue."),
        Some(send::Stop::Capped { cap, limit, resume_at }) => o.push_str(&format!("\nStopped by the rate cap {cap} = {limit}: the rest can go from {resume_at}. Run the same command then to continue.")),
        Some(send::Stop::Window { .. }) => o.push_str("\nThe sending window closed; the rest goes when it opens again."),
        Some(send::Stop::RelayFailing { failures, last_error }) => o.push_str(&format!("\nStopped after {failures} failures in a row; the relay last said: {last_error}. Everything done so far is recorded; run again once the relay works.")),
        None => {}
    }
    for f in r.failures.iter().take(20) {
        o.push_str(&format!(
            "\n  {} {}: {}{}",
            f.state.as_str(),
            f.email,
            f.code.map(|c| format!("{c} ")).unwrap_or_default(),
            f.reply
        ));
    }
    if r.failures.len() > 20 {
        o.push_str(&format!(
            "\n  … and {} more: bulletin status {} --failed-csv FILE",
            r.failures.len() - 20,
            r.campaign
        ));
    }
    o
}

fn main() -> ExitCode {
    bulletin::interrupt::install();
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            match e.downcast_ref::<Error>() {
                Some(Error::Invalid(p)) => eprintln!("{}", clean(&p.to_string())),
                Some(Error::Interrupted(sig)) => {
                    eprintln!("Interrupted by {sig}: nothing half-written was left behind.");
                    return ExitCode::from(bulletin::interrupt::exit_code());
                }
                _ => eprintln!("error: {}", clean(&format!("{e:#}"))),
            }
            // Another run holding the lock is a temporary condition, as cron wrappers see it.
            let busy = matches!(e.downcast_ref::<Error>(), Some(Error::Busy(_)))
                || matches!(
                    e.downcast_ref::<send::SendError>(),
                    Some(send::SendError::Other(Error::Busy(_)))
                );
            if busy {
                return ExitCode::from(EXIT_TEMPFAIL);
            }
            ExitCode::FAILURE
        }
    }
}
