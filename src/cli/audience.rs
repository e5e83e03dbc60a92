//! `bulletin audience`: a campaign in, who gets what (and who is left out, and why) out.

use std::path::Path;

use anyhow::Context as _;

use std::io::IsTerminal;

use super::{clean, load, print_warnings, Exit};

#[derive(clap::Args)]
pub struct Args {
    /// The campaign: its id (such as 2026-11-digest) or its file's path.
    campaign: String,
    /// Print one CSV row per recipient instead of the summary.
    #[arg(long)]
    csv: bool,
    /// Leave out rows with an invalid address instead of stopping.
    #[arg(long)]
    skip_invalid: bool,
}

pub fn run(config: &Path, a: Args) -> anyhow::Result<Exit> {
    let config = load(config)?;
    let store = super::store(&config);
    let prepared = crate::project::prepare(config, &store, &a.campaign, a.skip_invalid)?;
    print_warnings(&prepared.problems);
    if a.csv && !std::io::stdout().is_terminal() {
        // Data for a file or another program: the cells exactly as the lists hold them.
        crate::audience::write_csv(
            &prepared.campaign,
            &prepared.audience,
            std::io::stdout().lock(),
        )
        .context("writing the CSV")?;
    } else if a.csv {
        let mut buf = Vec::new();
        crate::audience::write_csv(&prepared.campaign, &prepared.audience, &mut buf)
            .context("writing the CSV")?;
        print!("{}", clean(&String::from_utf8_lossy(&buf)));
    } else {
        let report = crate::audience::report(&prepared.campaign, &prepared.audience);
        print!("{}", clean(&report));
    }
    Ok(Exit::Success)
}
