//! `bulletin preferences` and `bulletin subscribers`: what readers said for themselves (on the
//! preference page, through the sign-up form) out of the journal, to read or to carry back
//! into the team's CRM.

use std::path::{Path, PathBuf};

use super::{clean, load, Exit};
use crate::clock::from_ms;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(clap::Subcommand)]
enum Action {
    /// Show them: one line each, or CSV with --csv.
    List {
        /// As CSV on stdout.
        #[arg(long)]
        csv: bool,
    },
    /// Write them as CSV (to a file, or to stdout without one), for the team's CRM.
    Export {
        /// The CSV file to write [default: stdout].
        file: Option<PathBuf>,
    },
}

/// What is listed: the readers' choices or the confirmed sign-ups.
#[derive(Clone, Copy)]
pub enum Which {
    Preferences,
    Subscribers,
}

/// The rows as CSV: a header and one record per reader.
fn rows(which: Which, j: Option<&crate::journal::Journal>) -> anyhow::Result<Vec<Vec<String>>> {
    let day = |ms: i64| from_ms(ms).format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let mut out = Vec::new();
    match which {
        Which::Preferences => {
            out.push(
                ["email", "language", "interests", "chosen_at", "source"]
                    .map(String::from)
                    .to_vec(),
            );
            for c in j.map(|j| j.preferences()).transpose()?.unwrap_or_default() {
                out.push(vec![
                    c.email,
                    c.languages.join("+"),
                    c.interests.join(";"),
                    day(c.at_ms),
                    c.source,
                ]);
            }
        }
        Which::Subscribers => {
            out.push(
                [
                    "email",
                    "name",
                    "language",
                    "interests",
                    "requested_at",
                    "confirmed_at",
                    "form_version",
                ]
                .map(String::from)
                .to_vec(),
            );
            for s in j.map(|j| j.subscribers()).transpose()?.unwrap_or_default() {
                out.push(vec![
                    s.email,
                    s.name,
                    s.languages.join("+"),
                    s.interests.join(";"),
                    day(s.requested_at_ms),
                    day(s.confirmed_at_ms),
                    s.form_version,
                ]);
            }
        }
    }
    Ok(out)
}

fn write_csv(out: impl std::io::Write, rows: &[Vec<String>]) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    for r in rows {
        // The address as it is (it is checked); any other cell may be a stranger's words.
        let cells = r.iter().enumerate().map(|(i, c)| {
            if i == 0 {
                c.into()
            } else {
                crate::text::spreadsheet_safe(c)
            }
        });
        w.write_record(cells.map(|c| c.into_owned()))?;
    }
    w.flush()?;
    Ok(())
}

pub fn run(config: &Path, which: Which, a: Args) -> anyhow::Result<Exit> {
    let config = load(config)?;
    let store = super::store(&config);
    let journal = store.existing()?;
    let rows = rows(which, journal.as_deref())?;
    let (one, many) = match which {
        Which::Preferences => ("reader's choice", "readers' choices"),
        Which::Subscribers => ("confirmed sign-up", "confirmed sign-ups"),
    };
    let n = rows.len() - 1;
    match a.action {
        Action::List { csv: true } | Action::Export { file: None } => {
            write_csv(std::io::stdout().lock(), &rows)?
        }
        Action::Export { file: Some(file) } => {
            let f =
                std::fs::File::create(&file).map_err(|e| crate::Error::io("create", &file, e))?;
            write_csv(f, &rows)?;
            println!(
                "{} written to {}",
                crate::text::count(n, one, many),
                file.display()
            );
        }
        Action::List { csv: false } => {
            for r in &rows[1..] {
                println!("{}", clean(&r.join("  ")));
            }
            println!("{}", crate::text::count(n, one, many));
        }
    }
    Ok(Exit::Success)
}
