//! `bulletin test-send`: a campaign and an address in, one marked sample per language sent out.

use std::path::Path;

use super::{load, Exit};

#[derive(clap::Args)]
pub struct Args {
    /// The campaign: its id (such as 2026-11-digest) or its file's path.
    campaign: String,
    /// An address that receives the samples; repeat it for several (--to a@x --to b@y).
    #[arg(long, value_name = "ADDRESS", required = true)]
    to: Vec<String>,

    /// Send the message this contact of the campaign gets (their name, languages, updates),
    /// instead of one sample per language.
    #[arg(long = "as", value_name = "CONTACT_EMAIL")]
    as_contact: Option<String>,

    /// Send to --to addresses even if they are on the suppression list (a colleague who
    /// reviews the newsletter but left its list). Without it such an address is refused.
    #[arg(long)]
    to_suppressed: bool,
}

pub fn run(config: &Path, a: Args) -> anyhow::Result<Exit> {
    let config = load(config)?;
    let store = super::store(&config);
    let prepared = crate::project::prepare(config, &store, &a.campaign, true)?;
    let sent = crate::send::test_send(
        &prepared,
        &store,
        &a.to,
        a.as_contact.as_deref(),
        a.to_suppressed,
    )?;
    for s in sent {
        let line = format!(
            "sent {} sample (as {}) to {}: {} — relay: {}",
            s.langs, s.sample_of, s.to, s.subject, s.reply
        );
        println!("{}", crate::term::clean(&line));
    }
    Ok(Exit::Success)
}
