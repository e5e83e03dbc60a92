//! `bulletin bounces import`: a mailbox of bounces and unsubscribe mails in, the suppression
//! list kept, and a report of what was found out.

use std::path::{Path, PathBuf};

use clap::Subcommand;

use super::{clean, load, Exit};
use crate::text::count;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(Subcommand)]
enum Action {
    /// Read an mbox file or a Maildir folder: hard bounces suppress, soft ones are counted,
    /// unsubscribe mails with a valid token suppress. Safe to run again over the same mailbox.
    Import {
        /// The mbox file or Maildir folder.
        path: PathBuf,
    },
}

pub fn run(config: &Path, a: Args) -> anyhow::Result<Exit> {
    let config = load(config)?;
    let Action::Import { path } = a.action;
    let secrets = config.unsubscribe.secrets().ok();
    if secrets.is_none() && config.unsubscribe.offered() {
        eprintln!("warning: the token secret is not at hand: unsubscribe mails are listed for review instead of applied");
    }
    let journal = crate::journal::Journal::open(&config.journal_path())?;
    let r = crate::bounces::import(&path, &journal, secrets.as_ref(), config.bounces.soft_limit)?;
    for u in &r.unreadable {
        eprintln!("{}", clean(&format!("skipped, cannot be read: {u}")));
    }
    for (from, subject) in &r.to_review {
        println!(
            "{}",
            clean(&format!(
                "to review (an unsubscribe request without a valid token): from {from}: {subject}"
            ))
        );
    }
    println!(
        "{}: {}, {} already imported; {} (suppressed), {} soft ({} suppressed after {} in a row), {} unsubscribed by mail, {} to review, {} unreadable, {} other",
        path.display(),
        count(r.messages, "message", "messages"),
        r.already_seen,
        count(r.hard, "hard bounce", "hard bounces"),
        r.soft,
        count(r.soft_suppressed, "address", "addresses"),
        count(config.bounces.soft_limit as usize, "campaign", "campaigns"),
        r.unsubscribed,
        r.to_review.len(),
        r.unreadable.len(),
        r.other
    );
    Ok(Exit::Success)
}
