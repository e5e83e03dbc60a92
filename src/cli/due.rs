//! `bulletin due`: the project in, every scheduled campaign whose time has come sent, as
//! timestamped lines for a log out. The command for cron: it never asks anything.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::{load, Exit};
use crate::due::{DueOptions, Level};

#[derive(clap::Args)]
pub struct Args {
    /// Say what would be sent now, send nothing.
    #[arg(long)]
    dry_run: bool,
    /// Print nothing on stdout when all is well, and nothing at all when another run is still
    /// sending (exit 75): under cron, a long run would otherwise be mailed about at every tick.
    /// --log-file keeps both.
    #[arg(long, short)]
    quiet: bool,
    /// Also append every line to FILE.
    #[arg(long, value_name = "FILE")]
    log_file: Option<PathBuf>,
    /// How long to wait, in seconds, for another run sending from this project to finish
    /// before giving up with exit 75 (try again later).
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    wait: u64,
    /// Start a new journal although this project has sent from one that is now missing,
    /// replaced or older (recipients already mailed would be mailed again).
    #[arg(long)]
    new_journal: bool,
}

pub fn run(config: &Path, a: Args) -> anyhow::Result<Exit> {
    let config = load(config)?;
    let tz = config.tz();
    let mut file = match &a.log_file {
        Some(f) => Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(f)
                .with_context(|| format!("cannot open the log file {}", f.display()))?,
        ),
        None => None,
    };
    let quiet = a.quiet;
    let mut log = |level: Level, line: String| {
        let line = crate::term::clean_lines(&line).into_owned();
        let line = format!("{} {line}", crate::window::stamp(tz, crate::clock::utc()));
        if let Some(f) = file.as_mut() {
            use std::io::Write;
            let _ = writeln!(f, "{line}");
        }
        match level {
            Level::Error => eprintln!("{line}"),
            Level::Info | Level::Warning if !quiet => println!("{line}"),
            Level::Info | Level::Warning => {}
        }
    };
    let opts = DueOptions {
        dry_run: a.dry_run,
        lock_wait: std::time::Duration::from_secs(a.wait),
        new_journal: a.new_journal,
    };
    let store = super::store(&config);
    match crate::due::due(&config, &store, &opts, &mut log) {
        Ok(e) => Ok(Exit::from(e)),
        Err(e) => {
            // Said in the log, so that cron mails it and the log file keeps it; but a run
            // still sending is no news to cron.
            let level = match e {
                crate::Error::Busy(_) if quiet => Level::Warning,
                _ => Level::Error,
            };
            log(level, e.to_string());
            Ok(Exit::of_error(&anyhow::Error::new(e)))
        }
    }
}
