//! `bulletin forget ADDRESS`: erasure. The address goes from every row and log of the journal
//! and the copies beside it; a keyed hash stays, so that it is never mailed again should it
//! come back in a list.

use std::path::Path;
use std::time::Duration;

use super::{clean, load, Exit};

#[derive(clap::Args)]
pub struct Args {
    /// The address to erase.
    #[arg(value_name = "ADDRESS")]
    address: String,
    /// Do not ask first.
    #[arg(long)]
    yes: bool,
}

pub fn run(config: &Path, a: Args) -> anyhow::Result<Exit> {
    let config = load(config)?;
    let store = super::store(&config);
    // Says so, and changes nothing, when nothing is known of it.
    let known = crate::history::of(&config, &store, &a.address)?;
    let email = known.address.clone();
    if !a.yes && !confirmed(&email)? {
        eprintln!("Nothing was erased.");
        return Ok(Exit::Failure);
    }
    // No run may send to it, nor write about it, meanwhile.
    store.lock_run(Duration::from_secs(10), "forget")?;
    let gone = store.journal()?.forget(&email, crate::clock::now_ms())?;
    let rows: Vec<String> = gone
        .rows
        .iter()
        .map(|(table, n)| format!("{table} {n}"))
        .collect();
    println!(
        "Erased {}: {} ({}). A keyed hash of it stays, so that no campaign mails it again.",
        clean(&email),
        crate::text::count(gone.total(), "journal row", "journal rows"),
        if rows.is_empty() {
            "none".to_string()
        } else {
            rows.join(", ")
        }
    );
    if !known.lists.is_empty() {
        println!("Lists still hold it; remove it there (campaigns leave it out until then):");
        for l in &known.lists {
            println!("  {}:{}", l.file, l.line);
        }
    }
    Ok(Exit::Success)
}

fn confirmed(email: &str) -> anyhow::Result<bool> {
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() {
        anyhow::bail!(
            "not on a terminal, so bulletin cannot ask before erasing: pass --yes to erase {email}"
        );
    }
    eprint!("Erase everything bulletin holds about {email}? This cannot be undone. [y/N] ");
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "oui"))
}
