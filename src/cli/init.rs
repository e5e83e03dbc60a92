//! `bulletin init`: a folder in, a new project filled with the example out.

use std::path::PathBuf;

use super::Exit;

/// `bulletin init` on its own: the project does not exist yet, so there is no `--config` to
/// give, and its help offers none (the other commands share a global one).
#[derive(clap::Parser)]
#[command(
    name = "bulletin init",
    bin_name = "bulletin init",
    version,
    about = "Create a new mailing project in DIR, filled with the example content.",
    after_help = "Example:\n  bulletin init my-newsletter && cd my-newsletter && bulletin check --files-only"
)]
pub struct Alone {
    #[command(flatten)]
    args: Args,
}

impl Alone {
    /// Parses `bulletin init ...` from the process's arguments, `init` left out.
    pub fn parse_args() -> Alone {
        use clap::Parser;
        let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
        if args.len() > 1 {
            args.remove(1);
        }
        Alone::parse_from(args)
    }

    pub fn run(self) -> Exit {
        run(self.args).unwrap_or_else(|e| {
            super::report_error(&e);
            Exit::of_error(&e)
        })
    }
}

#[derive(clap::Args)]
pub struct Args {
    /// The folder to create the project in (it must not hold any of the project's files).
    dir: PathBuf,
}

pub fn run(a: Args) -> anyhow::Result<Exit> {
    // The example's time zone: its campaign plans the next weekday there.
    let today = crate::clock::utc()
        .with_timezone(&chrono_tz::Europe::Zurich)
        .date_naive();
    let written = crate::scaffold::init(&a.dir, today)?;
    println!(
        "Created {} with {} files. Next:\n  cd {}\n  bulletin check --files-only          # the files; plain `check` also checks sending\n  bulletin preview 2026-11-digest\nBefore sending, set your relay in bulletin.toml and export the variables it names:\n  export BULLETIN_SMTP_PASSWORD=...     # your relay's password\n  export BULLETIN_UNSUBSCRIBE_SECRET=\"$(openssl rand -base64 32)\"\nThe token secret signs every unsubscribe link: at least 32 random characters, made once and\nkept (links already sent stop working if it changes). Then `bulletin check` covers it all.",
        a.dir.display(),
        written,
        a.dir.display()
    );
    Ok(Exit::Success)
}
