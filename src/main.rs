//! The `bulletin` command: parses the command line and calls the library.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use bulletin::config::Config;
use bulletin::{preview, project, scaffold, Error};

// The pipeline allocates and frees many short strings per message on every core; mimalloc
// does that markedly faster than the system allocator (see bench/preview.sh).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Personal, bilingual newsletters from plain files: project updates in Markdown, contact lists
/// in CSV, templates in tera.
#[derive(Parser)]
#[command(name = "bulletin", version, propagate_version = true)]
#[command(
    after_help = "Examples:\n  bulletin init my-newsletter\n  bulletin check\n  bulletin audience 2026-11-digest\n  bulletin preview 2026-11-digest --out preview\n\nExit codes: 0 success, 1 error (bad input, refused action), 2 wrong usage."
)]
struct Cli {
    /// The project's config file; paths inside it are read relative to its folder.
    #[arg(
        long,
        short,
        global = true,
        default_value = "bulletin.toml",
        value_name = "FILE"
    )]
    config: PathBuf,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate config, lists, updates, templates and campaigns; list every problem at once.
    #[command(
        after_help = "Examples:\n  bulletin check\n  bulletin check 2026-11-digest\n\nExits 1 if any problem is an error; warnings alone exit 0."
    )]
    Check {
        /// Check only this campaign (an id such as 2026-11-digest, or a file path).
        campaign: Option<String>,
    },

    /// Show who would receive a campaign and what, before anything is rendered.
    #[command(
        after_help = "Examples:\n  bulletin audience 2026-11-digest\n  bulletin audience 2026-11-digest --csv > recipients.csv"
    )]
    Audience {
        campaign: String,
        /// Print one CSV row per recipient instead of the summary.
        #[arg(long)]
        csv: bool,
        /// Leave out rows with an invalid address instead of stopping.
        #[arg(long)]
        skip_invalid: bool,
    },

    /// Write every recipient's message as .eml and .html files, with index.html and summary.json.
    #[command(
        after_help = "Examples:\n  bulletin preview 2026-11-digest\n  bulletin preview 2026-11-digest --out /tmp/nov --limit 20\n  bulletin preview 2026-11-digest --skip-invalid   # bad rows go to rejects.csv\n\nThe output folder is replaced whole, but only if it is empty or an earlier preview."
    )]
    Preview {
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
    },

    /// Create a new mailing project in DIR, filled with the example content.
    #[command(
        after_help = "Example:\n  bulletin init my-newsletter && cd my-newsletter && bulletin check"
    )]
    Init { dir: PathBuf },
}

fn print_warnings(p: &bulletin::problems::Problems) {
    for w in p.warnings() {
        eprintln!("{w}");
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let load = || Config::load(&cli.config);
    match cli.command {
        Command::Init { dir } => {
            let written = scaffold::init(&dir)?;
            println!("Created {} with {} files. Next:\n  cd {}\n  bulletin check\n  bulletin preview 2026-11-digest", dir.display(), written, dir.display());
        }
        Command::Check { campaign } => {
            let config = load()?;
            let p = project::check(&config, campaign.as_deref())?;
            if p.is_empty() {
                println!("No problems found.");
            } else {
                eprintln!("{p}");
            }
            let (e, w) = (p.errors().count(), p.warnings().count());
            if e > 0 {
                return Ok(ExitCode::FAILURE);
            }
            if w > 0 {
                println!("{w} warning{}, no errors.", if w == 1 { "" } else { "s" });
            }
        }
        Command::Audience {
            campaign,
            csv,
            skip_invalid,
        } => {
            let prepared = project::prepare(load()?, &campaign, skip_invalid)?;
            print_warnings(&prepared.problems);
            if csv {
                bulletin::audience::write_csv(
                    &prepared.campaign,
                    &prepared.audience,
                    std::io::stdout().lock(),
                )
                .context("writing the CSV")?;
            } else {
                print!(
                    "{}",
                    bulletin::audience::report(&prepared.campaign, &prepared.audience)
                );
            }
        }
        Command::Preview {
            campaign,
            out,
            limit,
            skip_invalid,
            no_write,
        } => {
            let prepared = project::prepare(load()?, &campaign, skip_invalid)?;
            print_warnings(&prepared.problems);
            let out =
                out.unwrap_or_else(|| prepared.config.preview_dir().join(&prepared.campaign.id));
            let opts = preview::Options {
                out: out.clone(),
                limit,
                dry: no_write,
            };
            let started = std::time::Instant::now();
            let s = preview::run(&prepared, &opts, std::time::SystemTime::now())?;
            let secs = started.elapsed().as_secs_f64();
            if no_write {
                println!("Rendered and composed {} messages in {secs:.2} s ({:.0} messages/s); nothing written.", s.messages, s.messages as f64 / secs);
            } else {
                println!(
                    "Wrote {} messages ({} files, {} bytes) to {} in {secs:.2} s.\nOpen {} to browse them.",
                    s.messages,
                    s.files_written,
                    s.bytes_written,
                    out.display(),
                    out.join("index.html").display()
                );
            }
            if s.left_out > 0 {
                println!(
                    "{} contacts left out: see `bulletin audience {}`.",
                    s.left_out, prepared.campaign.id
                );
            }
            if s.rejects > 0 {
                println!(
                    "{} invalid rows set aside in {}.",
                    s.rejects,
                    out.join("rejects.csv").display()
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            match e.downcast_ref::<Error>() {
                Some(Error::Invalid(p)) => eprintln!("{p}"),
                _ => eprintln!("error: {e:#}"),
            }
            ExitCode::FAILURE
        }
    }
}
