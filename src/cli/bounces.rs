//! `bulletin bounces`: a mailbox of bounces and unsubscribe mails in, the suppression list kept
//! and a report of what was found out; and the review list of what an import left for a person.

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
    /// Read an mbox file or a Maildir folder. A hard bounce of a message this project sent
    /// suppresses the address, a soft one is counted; an unsubscribe mail with a valid token
    /// suppresses. Reports that cannot be tied to a message sent there (the bounce address is
    /// public: anyone can write to it) and unsubscribe requests without a valid token go to
    /// the review list. Safe to run again over the same mailbox.
    Import {
        /// The mbox file or Maildir folder.
        path: PathBuf,
    },
    /// Show the review list: what imports could not apply, with why, for a person to decide.
    Review {
        /// As CSV on stdout.
        #[arg(long)]
        csv: bool,
        /// Empty the list once it is shown: everything on it has been dealt with (each import
        /// adds only what it has not seen before).
        #[arg(long)]
        clear: bool,
    },
}

pub fn run(config: &Path, a: Args) -> anyhow::Result<Exit> {
    let config = load(config)?;
    match a.action {
        Action::Import { path } => import(&config, &path),
        Action::Review { csv, clear } => review(&config, csv, clear),
    }
}

fn import(config: &crate::config::Config, path: &Path) -> anyhow::Result<Exit> {
    use crate::config::SecretError;
    let secrets = match config.token_secrets() {
        Ok(s) => Some(s),
        Err(_) if !config.unsubscribe.offered() => None,
        Err(SecretError::Weak { message: e, .. }) => anyhow::bail!(
            "{e}. Tokens signed with a weak secret can be forged, so unsubscribe mails are not read with it; nothing was imported"
        ),
        Err(_) => {
            eprintln!("warning: the token secret is not at hand: unsubscribe mails with a token are left for the next import (with the secret), not marked as imported");
            None
        }
    };
    let store = super::store(config);
    let journal = store.journal()?;
    let r = crate::bounces::import(path, &journal, secrets.as_ref(), config.bounces.soft_limit)?;
    for l in &r.links_skipped {
        eprintln!(
            "{}",
            clean(&format!(
                "warning: skipped {l}: a symbolic link, which a mailbox's messages never are"
            ))
        );
    }
    for u in &r.unreadable {
        eprintln!("{}", clean(&format!("skipped, cannot be read: {u}")));
    }
    for (place, why) in &r.later {
        eprintln!(
            "{}",
            clean(&format!("left for the next import: {place}: {why}"))
        );
    }
    for t in &r.to_review {
        println!(
            "{}",
            clean(&format!("to review: {}: {} ({})", t.who, t.reason, t.place))
        );
    }
    println!(
        "{}: {}, {} already imported; {} (suppressed), {} soft ({} suppressed after {} in a row), {} unsubscribed by mail, {} to review, {} left for later, {} unreadable, {} other",
        path.display(),
        count(r.messages, "message", "messages"),
        r.already_seen,
        count(r.hard, "hard bounce", "hard bounces"),
        r.soft,
        count(r.soft_suppressed, "address", "addresses"),
        count(config.bounces.soft_limit as usize, "campaign", "campaigns"),
        r.unsubscribed,
        r.to_review.len(),
        r.later.len(),
        r.unreadable.len(),
        r.other
    );
    if !r.to_review.is_empty() {
        println!("`bulletin bounces review` lists everything left to review.");
    }
    Ok(Exit::Success)
}

fn review(config: &crate::config::Config, csv: bool, clear: bool) -> anyhow::Result<Exit> {
    let store = super::store(config);
    let journal = store.existing()?;
    let rows = match &journal {
        Some(j) => j.reviews()?,
        None => Vec::new(),
    };
    let cleared = match (&journal, clear) {
        (Some(j), true) => j.clear_reviews()?,
        _ => 0,
    };
    if csv {
        let mut w = csv::Writer::from_writer(std::io::stdout().lock());
        w.write_record(["time", "who", "reason", "where"])?;
        for (at, who, reason, place) in &rows {
            let at = crate::clock::from_ms(*at)
                .format("%Y-%m-%dT%H:%M:%SZ")
                .to_string();
            w.write_record([at.as_str(), who, reason, place])?;
        }
        w.flush()?;
        if cleared > 0 {
            eprintln!(
                "{} taken off the review list.",
                count(cleared, "entry", "entries")
            );
        }
        return Ok(Exit::Success);
    }
    if rows.is_empty() {
        println!("Nothing to review.");
    }
    if cleared > 0 {
        eprintln!(
            "{} taken off the review list.",
            count(cleared, "entry", "entries")
        );
    }
    for (at, who, reason, place) in &rows {
        println!(
            "{}",
            clean(&format!(
                "{}  {who}: {reason} ({place})",
                crate::clock::from_ms(*at).format("%Y-%m-%d %H:%M")
            ))
        );
    }
    Ok(Exit::Success)
}
