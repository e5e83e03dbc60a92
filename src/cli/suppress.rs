//! `bulletin suppress`: the project's suppression list (in the journal) managed by hand: add,
//! remove, list, import from a contact-list CSV, export. Every campaign leaves these addresses
//! out, whatever its lists say.

use std::path::{Path, PathBuf};

use clap::Subcommand;

use super::{clean, load, Exit};
use crate::journal::{Journal, Suppression, REASONS};

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
    /// Take addresses off the list (the removal is logged).
    Remove {
        /// The addresses.
        #[arg(required = true, value_name = "ADDRESS")]
        addresses: Vec<String>,
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
    let path = config.journal_path();
    let now = crate::clock::now_ms();
    let entry = |email: String, reason: &str, source: &str| Suppression {
        email,
        reason: reason.to_string(),
        source: source.to_string(),
        campaign: None,
        at_ms: now,
    };
    let all = || -> anyhow::Result<Vec<Suppression>> {
        Ok(match Journal::open_existing(&path)? {
            Some(j) => j.suppressions()?,
            None => Vec::new(),
        })
    };
    let canonical = |addr: &str| {
        crate::address::parse_cell(addr)
            .map(|p| p.email)
            .map_err(|e| anyhow::anyhow!("{}", clean(&e)))
    };
    match a.action {
        Action::Add { addresses, reason } => {
            let j = Journal::open(&path)?;
            let mut added = 0;
            for raw in &addresses {
                let email = canonical(raw)?;
                let new = j.suppress(&entry(email.clone(), &reason, "command"))?;
                if new {
                    added += 1;
                } else {
                    println!("{email} was already suppressed");
                }
            }
            println!("{added} address(es) suppressed ({reason})");
        }
        Action::Remove { addresses } => {
            let j = Journal::open(&path)?;
            for raw in &addresses {
                let email = canonical(raw)?;
                if j.unsuppress(&email, now)? {
                    println!(
                        "{email}: removed from the suppression list; campaigns may mail it again"
                    );
                } else {
                    println!("{email} was not suppressed");
                }
            }
        }
        Action::List { csv } => {
            let rows = all()?;
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
        }
        Action::Import { file, reason } => {
            let mut problems = crate::problems::Problems::new();
            let rules = crate::contacts::Rules {
                supported: &config.languages.supported,
                // Any address the list holds is suppressed, whatever the relay can deliver.
                smtputf8: true,
                columns: Some(&config.lists.columns),
            };
            let list = crate::contacts::load(&file, &rules, &mut problems)?;
            if list.contacts.is_empty() && problems.has_errors() {
                return Err(crate::Error::Invalid(problems).into());
            }
            let j = Journal::open(&path)?;
            let (mut added, mut already) = (0, 0);
            for c in &list.contacts {
                let new = j.suppress(&entry(c.email().to_string(), &reason, "import"))?;
                if new {
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
        }
        Action::Export { file } => {
            let rows = all()?;
            let f =
                std::fs::File::create(&file).map_err(|e| crate::Error::io("create", &file, e))?;
            write_csv(f, &rows)?;
            println!(
                "{} suppressed addresses written to {}",
                rows.len(),
                file.display()
            );
        }
    }
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
