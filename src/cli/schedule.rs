//! `bulletin schedule`: a campaign and a time in, the campaign marked ready for `due` (or taken
//! back) out; without a campaign, every campaign's scheduling state.

use std::path::Path;

use super::{load, print_warnings, Exit};
use crate::window::stamp;

#[derive(clap::Args)]
pub struct Args {
    /// The campaign: its id (such as 2026-11-digest) or its file's path; every campaign's state
    /// is listed when left out.
    campaign: Option<String>,
    /// When to send: RFC 3339, or a local date and time read in the configured zone.
    #[arg(
        long,
        value_name = "TIME",
        conflicts_with = "cancel",
        requires = "campaign"
    )]
    at: Option<String>,
    /// Take the campaign back to draft.
    #[arg(long, requires = "campaign")]
    cancel: bool,
    /// Print the list as JSON on stdout.
    #[arg(long)]
    json: bool,

    /// Send at the next `bulletin due`; with --at, keep a time more than an hour past.
    #[arg(long, conflicts_with = "cancel", requires = "campaign")]
    now: bool,

    /// Schedule a campaign that has already gone out: the next `due` mails only contacts
    /// added since (the journal never mails anyone twice).
    #[arg(long, conflicts_with = "cancel", requires = "campaign")]
    again: bool,
}

pub fn run(config: &Path, a: Args) -> anyhow::Result<Exit> {
    let config = load(config)?;
    let store = super::store(&config);
    let Some(name) = a.campaign else {
        let list = crate::due::overview(&config, &store)?;
        if a.json {
            println!("{}", serde_json::to_string_pretty(&list)?);
        } else {
            for o in list {
                println!("{:<28} {:<10} {}", o.campaign, o.state, o.detail);
            }
        }
        return Ok(Exit::Success);
    };
    if a.cancel {
        crate::campaign::locate_id(&config, &name)?;
        let id = crate::campaign::resolve_id(&config, &name);
        let was = match store.existing()? {
            Some(journal) => journal.unschedule(&id)?,
            None => false,
        };
        if was {
            println!("{id}: back to draft; `due` will not send it.");
        } else {
            println!("{id} was not scheduled.");
        }
        return Ok(Exit::Success);
    }
    // A campaign is checked whole before it is marked ready.
    let prepared = crate::project::prepare(config.clone(), &store, &name, false)?;
    print_warnings(&prepared.problems);
    // Nothing is marked ready that `due` would then refuse to send.
    if let Some(p) = crate::send::gate::approval(&prepared, &store)? {
        return Err(crate::Error::Refused(p.message).into());
    }
    let sch = &prepared.campaign.schedule;
    let now = crate::clock::utc();
    let when = match (a.at, a.now) {
        (None, true) => now,
        (Some(t), _) => crate::window::parse_at(&t, sch.tz)?,
        (None, false) => sch.send_at.ok_or_else(|| {
            anyhow::anyhow!(
                "{} has no send_at under [schedule]: give the time with --at, or --now",
                prepared.campaign.path.display()
            )
        })?,
    };
    // A time well in the past is a typo more often than a wish (2025 for 2026): the next
    // `due` would send at once.
    if !a.now && when < now - chrono::Duration::hours(1) {
        anyhow::bail!(
            "{} is in the past (it is now {}): check the date; to keep it, add --now (the next `bulletin due` then sends at once)",
            stamp(sch.tz, when),
            stamp(config.tz(), now)
        );
    }
    let id = &prepared.campaign.id;
    if let Some(j) = store.existing()? {
        let counts = j.counts(id)?;
        let n = |s: crate::journal::State| counts.get(&s).copied().unwrap_or(0);
        let total: usize = counts.values().sum();
        let open = n(crate::journal::State::Queued) + n(crate::journal::State::Deferred);
        if total > 0 && open == 0 && !a.again {
            anyhow::bail!(
                "{id} has already gone out ({} sent, {} failed): give --again to send it to contacts added since (nobody already mailed is mailed twice)",
                n(crate::journal::State::Sent),
                n(crate::journal::State::Failed)
            );
        }
    }
    let journal = store.journal()?;
    journal.schedule(id, when.timestamp_millis())?;
    let mut msg = format!(
        "{}: scheduled for {} ({}; window: {})",
        prepared.campaign.id,
        stamp(sch.tz, when),
        crate::text::count(
            prepared.audience.recipients.len(),
            "recipient",
            "recipients"
        ),
        sch.describe_window()
    );
    if when <= now {
        msg.push_str(&format!(
            "; that is past, so the next `bulletin due` sends it (now {})",
            stamp(config.tz(), now)
        ));
    }
    println!("{msg}");
    Ok(Exit::Success)
}
