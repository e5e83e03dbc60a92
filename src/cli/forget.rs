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
    let others: Vec<String> = files_holding(&config.root, &email)
        .into_iter()
        .filter(|f| !known.lists.iter().any(|l| f == &l.file))
        .collect();
    if !others.is_empty() {
        println!("Other files of the project hold it (previews, reports, logs, exports): delete or make them again:");
        for f in others {
            println!("  {f}");
        }
    }
    Ok(Exit::Success)
}

/// The project's files, under `root`, that hold `needle`'s bytes: previews, reports, logs and
/// exports bulletin or the team wrote. Version control, build folders and files over 64 MB
/// are not read.
fn files_holding(root: &Path, needle: &str) -> Vec<String> {
    const SKIP: [&str; 3] = [".git", "target", "node_modules"];
    let mut out = Vec::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(dir) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            let Ok(kind) = e.file_type() else { continue };
            if kind.is_dir() {
                if !SKIP.iter().any(|s| e.file_name() == *s) {
                    todo.push(path);
                }
                continue;
            }
            let small = e
                .metadata()
                .is_ok_and(|m| m.is_file() && m.len() < 64 << 20);
            let holds = small
                && std::fs::read(&path).is_ok_and(|b| {
                    b.windows(needle.len())
                        .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
                });
            if holds {
                let rel = path.strip_prefix(root).unwrap_or(&path);
                out.push(rel.display().to_string());
            }
        }
    }
    out.sort();
    out
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
