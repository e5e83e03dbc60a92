//! `bulletin init`: a folder in, a new project filled with the example out.

use std::path::PathBuf;

use super::Exit;

#[derive(clap::Args)]
pub struct Args {
    /// The folder to create the project in (it must not hold any of the project's files).
    dir: PathBuf,
}

pub fn run(a: Args) -> anyhow::Result<Exit> {
    let written = crate::scaffold::init(&a.dir)?;
    println!(
        "Created {} with {} files. Next:\n  cd {}\n  bulletin check --files-only          # the files; plain `check` also checks sending\n  bulletin preview 2026-11-digest\nBefore sending, set your relay in bulletin.toml and export the variables it names\n(BULLETIN_SMTP_PASSWORD, BULLETIN_UNSUBSCRIBE_SECRET); then `bulletin check` covers it all.",
        a.dir.display(),
        written,
        a.dir.display()
    );
    Ok(Exit::Success)
}
