//! The command line: arguments in (parsed by clap in `main`), each command run and its outcome
//! out as an [`Exit`]. One module per command; this one holds what they share.

mod approve;
mod archive;
mod audience;
mod bounces;
mod check;
mod cron_line;
mod dkim;
mod due;
pub mod exit;
mod forget;
mod history;
pub mod init;
mod preview;
mod readers;
mod report;
mod schedule;
mod send;
mod serve;
mod status;
mod suppress;
mod test_send;

use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};

use crate::config::Config;
pub use exit::Exit;

/// The command's journal store: the one place that reads where the journal is (each command
/// makes one and passes it down).
fn store(config: &Config) -> crate::journal::Store {
    crate::journal::Store::new(config.journal_path())
}

/// Personal, bilingual newsletters from plain files: project updates in Markdown, contact lists
/// in CSV, templates in tera.
#[derive(Parser)]
#[command(name = "bulletin", version, propagate_version = true)]
#[command(
    after_help = format!("Examples:\n  bulletin init my-newsletter\n  bulletin check\n  bulletin audience 2026-11-digest\n  bulletin preview 2026-11-digest\n  bulletin send 2026-11-digest\n\n{}\n\nBULLETIN_NOW=2026-12-01T09:00:00Z fixes the clock's starting point (for tests and\nreproducible previews).", exit::Exit::described(exit::Whose::Every))
)]
pub struct Cli {
    /// The project's config file; paths inside it are read relative to its folder.
    #[arg(
        long,
        short,
        global = true,
        default_value = "bulletin.toml",
        value_name = "FILE"
    )]
    pub config: PathBuf,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Validate config, lists, updates, templates and campaigns; list every problem at once.
    #[command(
        after_help = "Examples:\n  bulletin check\n  bulletin check 2026-11-digest\n\nExits 1 if any problem is an error; warnings alone exit 0."
    )]
    Check(check::Args),

    /// Show who would receive a campaign and what, before anything is rendered.
    #[command(
        after_help = "Examples:\n  bulletin audience 2026-11-digest\n  bulletin audience 2026-11-digest --csv > recipients.csv"
    )]
    Audience(audience::Args),

    /// Write every recipient's message as .eml and .html files, with index.html and summary.json.
    #[command(
        after_help = "Examples:\n  bulletin preview 2026-11-digest\n  bulletin preview 2026-11-digest --out /tmp/nov --limit 20\n  bulletin preview 2026-11-digest --skip-invalid   # bad rows go to rejects.csv\n\nThe output folder is replaced whole, but only if it is empty or an earlier preview that\nnobody has added to or changed since."
    )]
    Preview(preview::Args),

    /// Send a campaign through the SMTP relay: rate limited, journaled, never twice.
    #[command(
        after_help = format!("Examples:\n  bulletin send 2026-11-digest                 # asks before sending\n  bulletin send 2026-11-digest --yes --limit 500\n  bulletin send 2026-11-digest --dry-run\n  BULLETIN_SMTP_PASSWORD=... bulletin send 2026-11-digest --yes --json\n\nRunning it again continues where it stopped: recipients recorded as sent are never sent\nagain, deferred ones are retried, failed and unknown ones only when asked.\n\n{}", exit::Exit::described(exit::Whose::Send))
    )]
    Send(send::Args),

    /// Send one sample per language (and a bilingual one), or one contact's message, to test
    /// addresses, marked [TEST].
    #[command(
        name = "test-send",
        after_help = "Examples:\n  bulletin test-send 2026-11-digest --to me@example.org\n  bulletin test-send 2026-11-digest --to me@example.org --to colleague@example.org\n  bulletin test-send 2026-11-digest --to me@example.org --as amina.diallo@example.org\n\nNo delivery is recorded; the journal notes that this content was test-sent, and\n`send` says so (or that it was not) before it asks."
    )]
    TestSend(test_send::Args),

    /// Approve a campaign as it is now, or mail the approvers a link to do it.
    #[command(
        after_help = "Examples:\n  bulletin approve 2026-11-digest --by \"Amina Diallo\" --note \"cleared with legal\"\n  bulletin approve 2026-11-digest --request     # samples and a link to each approver\n\nWith [approval] required, send, due and schedule refuse a campaign whose content or lists\nchanged since its last approval, and say what changed."
    )]
    Approve(approve::Args),

    /// Show what the journal says: counts per state, rate, failures with the relay's reasons.
    #[command(
        after_help = "Examples:\n  bulletin status\n  bulletin status 2026-11-digest --failed-csv failed.csv\n  bulletin status 2026-11-digest --json"
    )]
    Status(status::Args),

    /// Mark a campaign ready to go at a time (what `due` sends), take it back, or list campaigns.
    #[command(
        after_help = "Examples:\n  bulletin schedule                                    # every campaign and its state\n  bulletin schedule 2026-12-digest --at 2026-12-01T09:00      # local time, in the config's zone\n  bulletin schedule 2026-12-digest --at 2026-12-01T09:00:00+01:00\n  bulletin schedule 2026-12-digest                     # at the file's [schedule] send_at\n  bulletin schedule 2026-12-digest --cancel            # back to draft\n\nA send_at in the campaign file alone is a plan: nothing goes until the campaign is marked here."
    )]
    Schedule(schedule::Args),

    /// Run the pages messages link to: unsubscribe, preferences, sign-up (behind your proxy).
    #[command(
        after_help = "Examples:\n  bulletin serve                          # on the config's [serve] listen, else 127.0.0.1:8025\n  bulletin serve --listen 127.0.0.1:9000\n\nGET /u/TOKEN shows a page with one button; POST /u/TOKEN (the button, or a mail\nprogram's one-click request) suppresses the address. /p/TOKEN is the reader's\npreference page (languages, topics); /subscribe the sign-up form ([signup]), whose\nconfirmation mail links to /confirm/TOKEN. GET /healthz answers ok.\nNeeds the token secret (the config's [unsubscribe] secret_env) and the journal."
    )]
    Serve(serve::Args),

    /// Read bounces and unsubscribe mails from a mailbox into the suppression list.
    #[command(
        after_help = "Examples:\n  bulletin bounces import ~/Mail/bounces.mbox\n  bulletin bounces import /var/mail/news/Maildir\n\nSet [smtp] envelope_from so that bounces reach that mailbox; verp = true names each\nrecipient in the bounce address itself."
    )]
    Bounces(bounces::Args),

    /// Keep the project's suppression list: addresses no campaign mails again.
    #[command(
        after_help = "Examples:\n  bulletin suppress add jane@example.org --reason unsubscribed\n  bulletin suppress import optouts.csv\n  bulletin suppress list --csv > suppressed.csv\n  bulletin suppress remove jane@example.org\n\nUnsubscribes through the link or mailto, and mailboxes the relay says do not exist,\nare added by bulletin itself."
    )]
    Suppress(suppress::Args),

    /// The readers' own choices of languages and topics, made on the preference page.
    #[command(
        after_help = "Examples:\n  bulletin preferences list\n  bulletin preferences list --csv\n  bulletin preferences export choices.csv      # to carry into your CRM\n\nA reader's choice beats their lists' cells: `bulletin audience` applies it and lists the\nlists that disagree."
    )]
    Preferences(readers::Args),

    /// The people who signed up through the form and confirmed (the list "subscribers").
    #[command(
        after_help = "Examples:\n  bulletin subscribers list\n  bulletin subscribers export subscribers.csv\n\nCampaigns name them as a list: lists = [\"practitioners.csv\", \"subscribers\"]."
    )]
    Subscribers(readers::Args),

    /// Everything bulletin knows of one address: lists, sign-up, messages, suppressions,
    /// preferences; and whether anything was sent after it left.
    #[command(
        after_help = "Examples:\n  bulletin history amina.diallo@example.org\n  bulletin history amina.diallo@example.org --json > request-2026-12.json\n\nThe answer to a data-protection request. An address bulletin knows nothing of is an\nerror (exit 1)."
    )]
    History(history::Args),

    /// Erase an address: out of every journal row and log, a keyed hash kept so that it is
    /// never mailed again.
    #[command(
        after_help = "Examples:\n  bulletin forget amina.diallo@example.org\n  bulletin forget amina.diallo@example.org --yes\n\nAsks first unless --yes. Names the list files that still hold the address: remove it\nthere; until then every campaign leaves it out (`audience` says \"erased on DATE\")."
    )]
    Forget(forget::Args),

    /// Write a campaign report to look at: deliveries over time, by language, list and relay;
    /// failures by reason; who left; approvals and test sends.
    #[command(
        after_help = "Examples:\n  bulletin report                           # every campaign sent, to report/\n  bulletin report 2026-11-digest --out /tmp/report\n\nThe page opens from file:// (no script, no font from elsewhere); its counts are\n`status`'s. No opens or clicks, by design: the page says why."
    )]
    Report(report::Args),

    /// Write the web archive: each campaign's web copy per language, an index and an Atom feed.
    #[command(
        after_help = "Examples:\n  bulletin archive --out public/archive            # every campaign sent so far\n  bulletin archive 2026-12-digest --out public/archive\n\nThe pages carry no reader's name and no unsubscribe link. Publish the folder at\n[site] archive_url, and messages link to their page there (archive_url in templates)."
    )]
    Archive(archive::Args),

    /// DKIM keys: make a key pair and get the DNS record to publish.
    #[command(
        after_help = "Example:\n  bulletin dkim keygen --selector bulletin2026\n\nThen add the printed [dkim] lines to the config: every message is signed from then on.\n`bulletin check` lists the DNS records (SPF, DKIM, DMARC) the sending domain needs."
    )]
    Dkim(dkim::Args),

    /// Send every scheduled campaign whose time has come: the command for cron.
    #[command(
        after_help = format!("Examples:\n  bulletin due\n  bulletin due --dry-run\n  bulletin due --quiet --log-file /var/log/bulletin.log    # in a crontab\n\nNever asks anything. Output: timestamped lines on stdout (none with --quiet), errors on stderr.\n{}\n`bulletin cron-line` prints a crontab entry for this project.", exit::Exit::described(exit::Whose::Due))
    )]
    Due(due::Args),

    /// Print a crontab entry that runs `due` for this project every few minutes.
    #[command(
        name = "cron-line",
        after_help = "Example (adds to the current crontab):\n  (crontab -l 2>/dev/null; bulletin cron-line) | crontab -"
    )]
    CronLine(cron_line::Args),

    /// Create a new mailing project in DIR, filled with the example content.
    #[command(
        after_help = "Example:\n  bulletin init my-newsletter && cd my-newsletter && bulletin check --files-only"
    )]
    Init(init::Args),
}

/// Runs a parsed command line; prints what went wrong, if anything, and says how it ended.
pub fn run(cli: Cli) -> Exit {
    if let Err(e) = crate::clock::check_env() {
        eprintln!("error: {}", clean(&e.to_string()));
        return Exit::Usage;
    }
    let config = cli.config;
    let result = match cli.command {
        Command::Check(a) => check::run(&config, a),
        Command::Audience(a) => audience::run(&config, a),
        Command::Preview(a) => preview::run(&config, a),
        Command::Send(a) => send::run(&config, a),
        Command::TestSend(a) => test_send::run(&config, a),
        Command::Status(a) => status::run(&config, a),
        Command::Approve(a) => approve::run(&config, a),
        Command::Schedule(a) => schedule::run(&config, a),
        Command::Due(a) => due::run(&config, a),
        Command::Suppress(a) => suppress::run(&config, a),
        Command::Bounces(a) => bounces::run(&config, a),
        Command::Serve(a) => serve::run(&config, a),
        Command::Dkim(a) => dkim::run(&config, a),
        Command::Archive(a) => archive::run(&config, a),
        Command::History(a) => history::run(&config, a),
        Command::Report(a) => report::run(&config, a),
        Command::Forget(a) => forget::run(&config, a),
        Command::Preferences(a) => readers::run(&config, readers::Which::Preferences, a),
        Command::Subscribers(a) => readers::run(&config, readers::Which::Subscribers, a),
        Command::CronLine(a) => cron_line::run(&config, a),
        // `main` hands a plain `bulletin init` to `init::Alone`; here an option came first.
        Command::Init(_) => {
            eprintln!("error: init creates the project's config, so it takes no --config: run `bulletin init DIR`");
            return Exit::Usage;
        }
    };
    result.unwrap_or_else(|e| {
        report_error(&e);
        Exit::of_error(&e)
    })
}

fn report_error(e: &anyhow::Error) {
    match e.downcast_ref::<crate::Error>() {
        Some(crate::Error::Invalid(p)) => eprintln!("{}", clean(&p.to_string())),
        Some(crate::Error::Interrupted(sig)) => {
            eprintln!("Interrupted by {sig}: nothing half-written was left behind.")
        }
        _ => eprintln!("error: {}", clean(&format!("{e:#}"))),
    }
}

fn load(config: &Path) -> crate::Result<Config> {
    Config::load(config)
}

/// Messages quote CSV cells and relay replies: whatever they hold reaches the terminal escaped.
fn clean(s: &str) -> std::borrow::Cow<'_, str> {
    crate::term::clean_lines(s)
}

fn print_warnings(p: &crate::problems::Problems) {
    for w in p.warnings() {
        eprintln!("{}", clean(&w.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// Every command, argument and flag says what it is for in `--help`.
    fn undescribed(cmd: &clap::Command, path: &str, out: &mut Vec<String>) {
        cmd.clone().debug_assert();
        for a in cmd.get_arguments() {
            let id = a.get_id().as_str();
            if id == "help" || id == "version" {
                continue;
            }
            if a.get_help().is_none_or(|h| h.to_string().trim().is_empty()) {
                out.push(format!("{path} {id}"));
            }
        }
        for s in cmd.get_subcommands() {
            let sub = format!("{path} {}", s.get_name());
            if s.get_name() != "help" && s.get_about().is_none() {
                out.push(sub.clone());
            }
            undescribed(s, &sub, out);
        }
    }

    #[test]
    fn every_command_argument_and_flag_is_described() {
        let mut out = Vec::new();
        undescribed(&super::Cli::command(), "bulletin", &mut out);
        undescribed(&super::init::Alone::command(), "bulletin init", &mut out);
        assert!(out.is_empty(), "without a description: {out:?}");
        // The walk sees what it should: a command's positional argument is among them.
        let cli = super::Cli::command();
        let send = cli.find_subcommand("send").unwrap();
        assert!(send.get_arguments().any(|a| a.get_id() == "campaign"));
    }

    #[test]
    fn init_offers_no_config() {
        let init = super::init::Alone::command();
        assert!(init.get_arguments().all(|a| a.get_id() != "config"));
    }
}
