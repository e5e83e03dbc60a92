//! `bulletin report [CAMPAIGN...]`: an HTML page per campaign, to look at.

use std::path::{Path, PathBuf};

use super::{load, Exit};

#[derive(clap::Args)]
pub struct Args {
    /// The campaigns [default: every campaign the journal knows].
    campaigns: Vec<String>,
    /// The folder to write the pages to.
    #[arg(long, value_name = "DIR", default_value = "report")]
    out: PathBuf,
}

pub fn run(config: &Path, a: Args) -> anyhow::Result<Exit> {
    let config = load(config)?;
    let store = super::store(&config);
    let out = if a.out.is_absolute() {
        a.out.clone()
    } else {
        std::env::current_dir()?.join(&a.out)
    };
    let written = crate::report::write(&config, &store, &a.campaigns, &out)?;
    println!(
        "Wrote {} to {}: open {}",
        crate::text::count(written.len(), "page", "pages"),
        out.display(),
        out.join("index.html").display()
    );
    Ok(Exit::Success)
}
