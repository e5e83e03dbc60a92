//! `bulletin archive`: campaigns in, the web archive (a static site) written to a folder out.

use std::path::{Path, PathBuf};

use super::{clean, load, Exit};

#[derive(clap::Args)]
pub struct Args {
    /// Campaigns to put in the archive besides those already sent (ids such as
    /// 2026-11-digest). Without any, the archive holds every campaign the journal has sent.
    campaigns: Vec<String>,

    /// The folder to write the site to; replaced whole if it holds an earlier archive.
    #[arg(long, value_name = "DIR", default_value = "archive")]
    out: PathBuf,
}

pub fn run(config: &Path, a: Args) -> anyhow::Result<Exit> {
    let config = load(config)?;
    let store = super::store(&config);
    let paths = crate::archive::campaigns(&config, &store, &a.campaigns)?;
    if paths.is_empty() {
        println!("Nothing to archive yet: no campaign has been sent. Name one to publish it anyway: bulletin archive CAMPAIGN");
        return Ok(Exit::Success);
    }
    let out = if a.out.is_absolute() {
        a.out.clone()
    } else {
        std::env::current_dir().unwrap_or_default().join(&a.out)
    };
    let r = crate::archive::write(&config, &store, &paths, &out)?;
    println!(
        "Wrote {} page{} in {} ({}) to {}: open {}",
        r.pages.len(),
        if r.pages.len() == 1 { "" } else { "s" },
        if r.languages.len() == 1 {
            "one language".to_string()
        } else {
            format!("{} languages", r.languages.len())
        },
        r.languages.join(", "),
        clean(&out.display().to_string()),
        clean(&out.join("index.html").display().to_string())
    );
    if config.archive_url().is_none() {
        println!("Set [site] archive_url to where you publish it: messages then link to their web copy, and the feeds carry full addresses.");
    }
    Ok(Exit::Success)
}
