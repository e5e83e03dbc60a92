//! `bulletin send`: a campaign in, its messages delivered through the relay (after a summary and,
//! on a terminal, a question) and a report out.

use std::path::Path;

use super::{clean, load, print_warnings, Exit};
use crate::send::{self, Report, Stop};
use crate::text::count;

#[derive(clap::Args)]
pub struct Args {
    /// The campaign: its id (such as 2026-11-digest) or its file's path.
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
    /// How long to wait, in seconds, for another run sending from this project to finish
    /// before giving up with exit 75 (try again later).
    #[arg(long, value_name = "SECONDS", default_value_t = 5)]
    wait: u64,
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
}

pub fn run(config: &Path, a: Args) -> anyhow::Result<Exit> {
    use std::io::IsTerminal;
    let config = load(config)?;
    let store = super::store(&config);
    let prepared = crate::project::prepare(config, &store, &a.campaign, a.skip_invalid)?;
    print_warnings(&prepared.problems);
    let opts = send::Options {
        limit: a.limit,
        dry_run: a.dry_run,
        resend_unknown: a.resend_unknown,
        retry_failed: a.retry_failed,
        allow_changed: a.allow_changed,
        lock_wait: std::time::Duration::from_secs(a.wait),
        deadline_ms: None,
        new_journal: a.new_journal,
    };
    // Everything that would stop the send before it connects is asked now, before the
    // question below: a dry run fails where the send would.
    let settings = send::preflight(&prepared, &store, &opts)?;
    let plan = send::plan(&prepared, &store, &opts)?;
    eprintln!("{}", overview(&prepared, &plan, &settings, opts.dry_run));
    if plan.to_send == 0 && plan.sending == 0 {
        eprintln!("Nothing to send.");
        return Ok(Exit::Success);
    }
    eprintln!("{}", clean(&what_goes(&prepared, &store)));
    if !opts.dry_run && !a.yes && !confirmed(plan.to_send)? {
        eprintln!("Nothing sent.");
        return Ok(Exit::Success);
    }
    // A dry run hands nothing over: there is no sending to show.
    let progress = if opts.dry_run {
        send::progress::Progress::Quiet
    } else if std::io::stderr().is_terminal() {
        send::progress::Progress::bar()
    } else {
        send::progress::Progress::log(std::time::Duration::from_secs(10))
    };
    let report = send::run_with(
        std::sync::Arc::new(prepared),
        &store,
        &opts,
        &progress,
        settings,
    )?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{}", clean(&report_text(&report)));
    }
    Ok(Exit::of_send(&report))
}

/// Asks on the terminal before sending; refuses to guess off one.
fn confirmed(to_send: usize) -> anyhow::Result<bool> {
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() {
        anyhow::bail!(
            "not on a terminal, so bulletin cannot ask before sending: pass --yes to send"
        );
    }
    eprint!("Send {} now? [y/N] ", count(to_send, "message", "messages"));
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "oui"))
}

/// What the run would do, in two lines: how many messages to whom, what is left out and why,
/// and through which relays at what rate.
fn overview(
    prepared: &crate::project::Prepared,
    plan: &send::Plan,
    relays: &send::Relays,
    dry_run: bool,
) -> String {
    let smtp = prepared.config.smtp.as_ref();
    let rate = &prepared.config.rate;
    let langs: Vec<String> = plan
        .by_language
        .iter()
        .map(|(l, n)| format!("{l} {n}"))
        .collect();
    let mut notes = String::new();
    if plan.failed > 0 {
        notes.push_str(&format!("; {} failed (--retry-failed)", plan.failed));
    }
    if plan.unknown > 0 {
        notes.push_str(&format!("; {} unknown (--resend-unknown)", plan.unknown));
    }
    let stats = &prepared.audience.stats;
    let suppressed = stats.left_out.get("suppressed").copied().unwrap_or(0);
    if suppressed > 0 {
        notes.push_str(&format!("; {suppressed} on the suppression list, left out"));
    }
    if plan.sending > 0 {
        notes.push_str(&format!(
            "; {} being sent by another run right now",
            plan.sending
        ));
    }
    let messages = count(plan.to_send, "message", "messages");
    format!(
        "{}campaign {}: {} ({}); {} of {} already sent{notes}\n  {} {}, {}, {}/s{}{}",
        if dry_run {
            "[dry run: each message is produced and signed as it would be sent; none goes to the relay, and the journal is not touched] "
        } else {
            ""
        },
        prepared.campaign.id,
        if dry_run {
            format!("{messages} would be sent")
        } else {
            format!("{messages} to send")
        },
        if langs.is_empty() {
            "none".into()
        } else {
            langs.join(", ")
        },
        plan.already_sent,
        count(plan.recipients, "recipient", "recipients"),
        if relays.several() { "relays" } else { "relay" },
        relays.describe(),
        count(
            smtp.map_or(0, |s| s.connections),
            "connection",
            "connections"
        ),
        rate.per_second,
        rate.per_hour
            .map(|h| format!(", at most {h}/hour"))
            .unwrap_or_default(),
        rate.per_day
            .map(|d| format!(", at most {d}/day"))
            .unwrap_or_default(),
    )
}

/// Who it comes from, what it says, and whether this very content was test-sent: what to see
/// before saying yes.
fn what_goes(p: &crate::project::Prepared, store: &crate::journal::Store) -> String {
    let s = &p.config.sender;
    let mut o = format!("  from {} <{}>", s.name, s.address);
    for lang in &p.campaign.languages {
        let sample = p
            .audience
            .recipients
            .iter()
            .find(|r| r.langs.len() == 1 && &r.langs[0] == lang);
        if let Some(r) = sample {
            if let Ok((rendered, _)) = p.message(
                r,
                crate::clock::now(),
                &crate::compose::Marks::unsent("confirm"),
            ) {
                o.push_str(&format!(
                    "\n  subject ({lang}, for {}): {}",
                    r.contact.email(),
                    rendered.subject
                ));
            }
        }
    }
    let tested = store.existing().ok().flatten().and_then(|j| {
        j.last_test_send(&p.campaign.id, &p.content_hash())
            .ok()
            .flatten()
    });
    match tested {
        Some((to, at)) => o.push_str(&format!(
            "\n  test-sent to {to} at {}",
            crate::clock::from_ms(at)
                .with_timezone(&p.config.tz())
                .format("%Y-%m-%d %H:%M %Z")
        )),
        None => o.push_str(
            "\n  not test-sent: this content has not gone to a test address (bulletin test-send)",
        ),
    }
    o
}

fn report_text(r: &Report) -> String {
    if r.dry_run {
        return format!(
            "dry run of {}: {} produced, none sent, nothing recorded",
            r.campaign,
            count(r.attempted, "message", "messages")
        );
    }
    let mut o = format!(
        "{} {}: {} sent, {} failed, {} deferred, {} unknown in {:.1} s ({:.1} messages/s); {} already sent before; {} left for a later run",
        crate::clock::utc().format("%Y-%m-%dT%H:%M:%SZ"),
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
    if r.taken_elsewhere > 0 {
        o.push_str(&format!(
            "\n{} taken by another run on the same journal and left to it",
            count(r.taken_elsewhere, "recipient was", "recipients were")
        ));
    }
    if r.suppressed_during_run > 0 {
        o.push_str(&format!(
            "\n{} while this run was sending (unsubscribed or bounced): not mailed",
            count(
                r.suppressed_during_run,
                "recipient left the list",
                "recipients left the list"
            )
        ));
    }
    if r.recovered_unknown > 0 {
        o.push_str(&format!("\n{} left 'sending' by an interrupted run now marked unknown: bulletin does not send them again unless you pass --resend-unknown", count(r.recovered_unknown, "message", "messages")));
    }
    if let Some(stop) = &r.stopped {
        let what = stop.describe(|ms| crate::clock::from_ms(ms).to_rfc3339());
        let next = match stop {
            Stop::Interrupted | Stop::Capped { .. } => "Run the same command to continue.",
            Stop::Window => "The rest goes when it opens again.",
            Stop::RelayFailing { .. } => {
                "Everything done so far is recorded; run again once the relay works."
            }
        };
        o.push_str(&format!("\n{}. {next}", crate::text::capitalised(&what)));
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
