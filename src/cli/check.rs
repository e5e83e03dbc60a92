//! `bulletin check`: the project's files in, every problem found out (exit 1 if any is an error).

use std::path::Path;

use super::{clean, load, Exit};

#[derive(clap::Args)]
pub struct Args {
    /// Check only this campaign (an id such as 2026-11-digest, or a file path).
    campaign: Option<String>,
}

pub fn run(config: &Path, a: Args) -> anyhow::Result<Exit> {
    let config = load(config)?;
    let p = crate::project::check(&config, a.campaign.as_deref())?;
    if p.is_empty() {
        println!("No problems found.");
        return Ok(Exit::Success);
    }
    eprintln!("{}", clean(&p.to_string()));
    let (e, w) = (p.errors().count(), p.warnings().count());
    if e > 0 {
        return Ok(Exit::Failure);
    }
    println!("{w} warning{}, no errors.", if w == 1 { "" } else { "s" });
    Ok(Exit::Success)
}
