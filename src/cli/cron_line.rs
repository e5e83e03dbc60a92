//! `bulletin cron-line`: the project in, a crontab entry that runs `due` for it out.

use std::path::Path;

use anyhow::Context as _;

use super::{load, Exit};

#[derive(clap::Args)]
pub struct Args {
    /// Minutes between runs.
    #[arg(long, default_value_t = 5)]
    every: u32,
}

pub fn run(config: &Path, a: Args) -> anyhow::Result<Exit> {
    let config = load(config)?;
    let exe = std::env::current_exe().context("cannot tell where the bulletin program is")?;
    let exe = exe.canonicalize().unwrap_or(exe);
    print!("{}", crate::due::cron_line(&config, &exe, a.every)?);
    Ok(Exit::Success)
}
