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
    #[arg(long, value_name = "TIME", conflicts_with = "cancel")]
    at: Option<String>,
    /// Take the campaign back to draft.
    #[arg(long)]
    cancel: bool,
    /// Print the list as JSON on stdout.
    #[arg(long)]
    json: bool,
}

pub fn run(config: &Path, a: Args) -> anyhow::Result<Exit> {
    let config = load(config)?;
    let Some(name) = a.campaign else {
        let list = crate::due::overview(&config)?;
        if a.json {
            println!("{}", serde_json::to_string_pretty(&list)?);
        } else {
            for o in list {
                println!("{:<28} {:<10} {}", o.campaign, o.state, o.detail);
            }
        }
        return Ok(Exit::Success);
    };
    let journal = crate::journal::Journal::open(&config.journal_path())?;
    if a.cancel {
        let id = crate::campaign::resolve_id(&config, &name);
        if journal.unschedule(&id)? {
            println!("{id}: back to draft; `due` will not send it.");
        } else {
            println!("{id} was not scheduled.");
        }
        return Ok(Exit::Success);
    }
    // A campaign is checked whole before it is marked ready.
    let prepared = crate::project::prepare(config.clone(), &name, false)?;
    print_warnings(&prepared.problems);
    let sch = &prepared.campaign.schedule;
    let when = match a.at {
        Some(t) => crate::window::parse_at(&t, sch.tz).map_err(anyhow::Error::msg)?,
        None => sch.send_at.ok_or_else(|| {
            anyhow::anyhow!(
                "{} has no send_at under [schedule]: give the time with --at",
                prepared.campaign.path.display()
            )
        })?,
    };
    journal.schedule(&prepared.campaign.id, when.timestamp_millis())?;
    let now = crate::clock::utc();
    let mut msg = format!(
        "{}: scheduled for {} ({} recipients; window: {})",
        prepared.campaign.id,
        stamp(sch.tz, when),
        prepared.audience.recipients.len(),
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
