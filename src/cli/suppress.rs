//! `bulletin suppress`: the project's suppression list (in the journal) managed by hand: add,
//! remove, list, import from a contact-list CSV, export. Every campaign leaves these addresses
//! out, whatever its lists say.

use std::path::{Path, PathBuf};

use clap::Subcommand;

use super::{clean, load, Exit};
use crate::journal::{Store, Suppression, REASONS};

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(Subcommand)]
enum Action {
    /// Suppress addresses: no campaign mails them again.
    Add {
        /// The addresses.
        #[arg(required = true, value_name = "ADDRESS")]
        addresses: Vec<String>,
        /// Why: unsubscribed, bounced, complained or manual.
        #[arg(long, default_value = "manual", value_parser = REASONS)]
        reason: String,
    },
    /// Take addresses off the list (the removal is logged). An address that left by its own
    /// choice (unsubscribed, by link, mail or any other way, or complained) is taken off only
    /// with --override-their-choice and --by: when the person asked to be mailed again.
    Remove {
        /// The addresses.
        #[arg(required = true, value_name = "ADDRESS")]
        addresses: Vec<String>,
        /// Take back addresses that unsubscribed or complained themselves: only when the
        /// person asked to be mailed again. Needs --by.
        #[arg(long, requires = "by")]
        override_their_choice: bool,
        /// Who makes the change, recorded in the suppression log ("Amina Diallo").
        #[arg(long, value_name = "NAME")]
        by: Option<String>,
    },
    /// Show the list: address, reason, source, campaign, time.
    List {
        /// As CSV on stdout.
        #[arg(long)]
        csv: bool,
    },
    /// Suppress every address of a CSV file (any list bulletin reads: Excel, CRM, Outlook).
    Import {
        /// The CSV file.
        file: PathBuf,
        /// Why: unsubscribed, bounced, complained or manual.
        #[arg(long, default_value = "unsubscribed", value_parser = REASONS)]
        reason: String,
    },
    /// Write the list to a CSV file (to hand to another tool, or to keep).
    Export {
        /// The CSV file to write.
        file: PathBuf,
    },
}

pub fn run(config: &Path, a: Args) -> anyhow::Result<Exit> {
    let config = load(config)?;
    let store = super::store(&config);
    let now = crate::clock::now_ms();
    match a.action {
        Action::Add { addresses, reason } => add(&store, &addresses, &reason, now),
        Action::Remove {
            addresses,
            override_their_choice,
            by,
        } => remove(
            &store,
            &addresses,
            override_their_choice,
            by.as_deref(),
            now,
        ),
        Action::List { csv } => list(&store, csv),
        Action::Import { file, reason } => import(&config, &store, &file, &reason, now),
        Action::Export { file } => {
            let rows = all(&store)?;
            let f =
                std::fs::File::create(&file).map_err(|e| crate::Error::io("create", &file, e))?;
            write_csv(f, &rows)?;
            println!(
                "{} suppressed addresses written to {}",
                rows.len(),
                file.display()
            );
            Ok(Exit::Success)
        }
    }
}

fn entry(email: String, reason: &str, source: &str, at_ms: i64) -> Suppression {
    Suppression {
        email,
        reason: reason.to_string(),
        source: source.to_string(),
        campaign: None,
        at_ms,
    }
}

/// The list as it stands; empty, and no journal made, when there is none yet.
fn all(store: &Store) -> anyhow::Result<Vec<Suppression>> {
    Ok(match store.existing()? {
        Some(j) => j.suppressions()?,
        None => Vec::new(),
    })
}

fn canonical(addr: &str) -> anyhow::Result<String> {
    crate::address::parse_cell(addr)
        .map(|p| p.email)
        .map_err(|e| anyhow::anyhow!("{}", clean(&e.to_string())))
}

fn add(store: &Store, addresses: &[String], reason: &str, now: i64) -> anyhow::Result<Exit> {
    let j = store.journal()?;
    let mut added = 0;
    for raw in addresses {
        let email = canonical(raw)?;
        if j.suppress(&entry(email.clone(), reason, "command", now))? {
            added += 1;
        } else {
            println!("{email} was already suppressed");
        }
    }
    println!("{added} address(es) suppressed ({reason})");
    Ok(Exit::Success)
}

/// A name someone can read back: letters or digits, and no invisible or control characters (a
/// zero-width space, an escape).
fn readable(by: &str) -> bool {
    by.chars().any(char::is_alphanumeric)
        && !by.chars().any(|c| {
            c.is_control()
                || matches!(c, '\u{200b}'..='\u{200f}' | '\u{2060}'..='\u{2064}' | '\u{feff}')
        })
}

fn remove(
    store: &Store,
    addresses: &[String],
    override_their_choice: bool,
    by: Option<&str>,
    now: i64,
) -> anyhow::Result<Exit> {
    if by.is_some_and(|b| !readable(b)) {
        anyhow::bail!("--by needs the name of whoever makes the change, in letters a person can read: it is kept in the suppression log");
    }
    let j = store.journal()?;
    let emails = addresses
        .iter()
        .map(|a| canonical(a))
        .collect::<anyhow::Result<Vec<String>>>()?;
    // Every address is looked at before any is taken off: all or nothing.
    let mut theirs = Vec::new();
    for email in &emails {
        if let Some(s) = j.suppression(email)? {
            if their_own_choice(&s) && !override_their_choice {
                theirs.push(format!(
                    "{} {} themselves ({}, {}{})",
                    clean(email),
                    s.reason,
                    s.source,
                    crate::clock::from_ms(s.at_ms).format("%Y-%m-%d"),
                    s.campaign
                        .as_deref()
                        .map(|c| format!(", from {c}"))
                        .unwrap_or_default()
                ));
            }
        }
    }
    if !theirs.is_empty() {
        anyhow::bail!(
            "nothing was changed: {}. Taking them back overrides their own choice: do it only if they asked to be mailed again, and say who you are: bulletin suppress remove ADDRESS --override-their-choice --by \"Your Name\"",
            theirs.join("; ")
        );
    }
    for email in &emails {
        let removal = crate::journal::Removal {
            email,
            at_ms: now,
            source: "command",
            by,
        };
        match j.unsuppress(&removal)? {
            Some(old) => println!(
                "{}: removed from the suppression list ({} before){}; campaigns may mail it again",
                clean(email),
                old.reason,
                by.map(|b| format!(", by {}", clean(b))).unwrap_or_default()
            ),
            None => println!("{} was not suppressed", clean(email)),
        }
    }
    Ok(Exit::Success)
}

fn list(store: &Store, csv: bool) -> anyhow::Result<Exit> {
    let rows = all(store)?;
    if csv {
        write_csv(std::io::stdout().lock(), &rows)?;
    } else if rows.is_empty() {
        println!("The suppression list is empty.");
    } else {
        for s in &rows {
            println!(
                "{}  {:<12} {:<8} {:<24} {}",
                crate::clock::from_ms(s.at_ms).format("%Y-%m-%d %H:%M"),
                s.reason,
                s.source,
                s.campaign.as_deref().unwrap_or("-"),
                clean(&s.email)
            );
        }
        println!("{} suppressed", rows.len());
    }
    Ok(Exit::Success)
}

fn import(
    config: &crate::config::Config,
    store: &Store,
    file: &Path,
    reason: &str,
    now: i64,
) -> anyhow::Result<Exit> {
    let mut problems = crate::problems::Problems::new();
    let rules = crate::contacts::Rules {
        supported: &config.languages.supported,
        // Any address the list holds is suppressed, whatever the relay can deliver.
        smtputf8: true,
        columns: Some(&config.lists.columns),
    };
    let list = crate::contacts::load(file, &rules, &mut problems)?;
    if list.contacts.is_empty() && problems.has_errors() {
        return Err(crate::Error::Invalid(problems).into());
    }
    let j = store.journal()?;
    let (mut added, mut already) = (0, 0);
    for c in &list.contacts {
        if j.suppress(&entry(c.email().to_string(), reason, "import", now))? {
            added += 1;
        } else {
            already += 1;
        }
    }
    for p in problems.errors() {
        eprintln!("{}", clean(&format!("refused: {p}")));
    }
    println!(
        "{}: {added} added, {already} already suppressed, {} refused",
        file.display(),
        crate::text::count(list.rejects.len(), "row", "rows")
    );
    Ok(Exit::Success)
}

fn write_csv(w: impl std::io::Write, rows: &[Suppression]) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_writer(w);
    w.write_record(["email", "reason", "source", "campaign", "suppressed_at"])?;
    for s in rows {
        w.write_record([
            s.email.as_str(),
            &s.reason,
            &s.source,
            s.campaign.as_deref().unwrap_or(""),
            &crate::clock::from_ms(s.at_ms).to_rfc3339(),
        ])?;
    }
    w.flush()?;
    Ok(())
}

/// Whether the person left by their own act: an unsubscribe (by link, mail or any other way) or
/// a complaint. Bounces and manual entries are the team's to undo.
fn their_own_choice(s: &Suppression) -> bool {
    matches!(s.reason.as_str(), "unsubscribed" | "complained")
}
