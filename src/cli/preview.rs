//! `bulletin preview`: a campaign in, every recipient's message written to a folder out.

use std::path::{Path, PathBuf};

use super::{load, print_warnings, Exit};

#[derive(clap::Args)]
pub struct Args {
    /// The campaign: its id (such as 2026-11-digest) or its file's path.
    campaign: String,
    /// Output folder [default: the config's paths.preview, then the campaign id].
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Write at most N messages.
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
    /// Set invalid rows aside in rejects.csv instead of stopping.
    #[arg(long)]
    skip_invalid: bool,
    /// Render and compose every message but write nothing (for timing).
    #[arg(long, hide = true)]
    no_write: bool,
}

pub fn run(config: &Path, a: Args) -> anyhow::Result<Exit> {
    let config = load(config)?;
    let store = super::store(&config);
    let prepared = crate::project::prepare(config, &store, &a.campaign, a.skip_invalid)?;
    print_warnings(&prepared.problems);
    if let (Err(e), true) = (&prepared.secrets, prepared.config.unsubscribe.offered()) {
        eprintln!(
            "warning: unsubscribe links in this preview carry the placeholder token {}: {e}",
            crate::project::PLACEHOLDER_TOKEN
        );
    }
    if let Some(Err(e)) = &prepared.signer {
        eprintln!("warning: messages in this preview are not signed (DKIM): {e}");
    }
    let out = a
        .out
        .unwrap_or_else(|| prepared.config.preview_dir().join(&prepared.campaign.id));
    let approval = crate::approval::standing(&prepared, store.existing()?.as_deref())?.line();
    let opts = crate::preview::Options {
        out: out.clone(),
        limit: a.limit,
        dry: a.no_write,
        approval,
    };
    let started = std::time::Instant::now();
    // The clock's starting point, not the wall clock: with BULLETIN_NOW set, two previews of the
    // same project are the same bytes.
    let s = crate::preview::run(&prepared, &opts, crate::clock::start())?;
    let secs = started.elapsed().as_secs_f64();
    if a.no_write {
        println!(
            "Rendered and composed {} in {secs:.2} s ({:.0} messages/s); nothing written.",
            crate::text::count(s.messages, "message", "messages"),
            s.messages as f64 / secs
        );
    } else {
        println!(
            "Wrote {} ({}, {} bytes) to {} in {secs:.2} s.\nOpen {} to review {}.",
            crate::text::count(s.messages, "message", "messages"),
            crate::text::count(s.files_written, "file", "files"),
            s.bytes_written,
            out.display(),
            out.join("index.html").display(),
            if s.messages == 1 { "it" } else { "them" }
        );
    }
    if let Some(kept) = &s.kept {
        eprintln!(
            "warning: files were put in the previous preview while this one was made; it is kept as {}",
            kept.display()
        );
    }
    if s.left_out > 0 {
        println!(
            "{} left out: see `bulletin audience {}`.",
            crate::text::count(s.left_out, "contact", "contacts"),
            prepared.campaign.id
        );
    }
    if s.rejects > 0 {
        println!(
            "{} invalid rows set aside in {}.",
            s.rejects,
            out.join("rejects.csv").display()
        );
    }
    Ok(Exit::Success)
}
