//! `bulletin test-send`: a campaign and an address in, one marked sample per language sent out.

use std::path::Path;

use super::{load, Exit};

#[derive(clap::Args)]
pub struct Args {
    /// The campaign: its id (such as 2026-11-digest) or its file's path.
    campaign: String,
    /// The address that receives the samples.
    #[arg(long, value_name = "ADDRESS")]
    to: String,
}

pub fn run(config: &Path, a: Args) -> anyhow::Result<Exit> {
    let prepared = crate::project::prepare(load(config)?, &a.campaign, true)?;
    let sent = crate::send::test_send(&prepared, &a.to)?;
    for s in sent {
        let line = format!(
            "sent {} sample (as {}) to {}: {} — relay: {}",
            s.langs, s.sample_of, a.to, s.subject, s.reply
        );
        println!("{}", crate::term::clean(&line));
    }
    Ok(Exit::Success)
}
