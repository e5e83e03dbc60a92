//! `bulletin check`: the project's files in, every problem found out (exit 1 if any is an error).

use std::path::Path;

use super::{clean, load, Exit};

#[derive(clap::Args)]
pub struct Args {
    /// Check only this campaign (an id such as 2026-11-digest, or a file path).
    campaign: Option<String>,

    /// Check the files only, not what sending needs (the relay's settings, the password,
    /// the token secret, the DKIM key): for a machine that only previews.
    #[arg(long)]
    files_only: bool,
}

pub fn run(config: &Path, a: Args) -> anyhow::Result<Exit> {
    let config = load(config)?;
    let mut p = crate::project::check(&config, a.campaign.as_deref(), !a.files_only)?;
    if !a.files_only {
        sending_problems(&config, a.campaign.as_deref(), &mut p);
    }
    if p.is_empty() {
        println!("No problems found.");
    } else {
        eprintln!("{}", clean(&p.to_string()));
        let (e, w) = (p.errors().count(), p.warnings().count());
        if e > 0 {
            return Ok(Exit::Failure);
        }
        println!("{w} warning{}, no errors.", if w == 1 { "" } else { "s" });
    }
    print_dns(&config);
    Ok(Exit::Success)
}

/// What would make `send` refuse before it connects, as the one gate finds it: the same
/// problems `send`, `send --dry-run` and `due` refuse on, each at its line.
fn sending_problems(
    config: &crate::config::Config,
    campaign: Option<&str>,
    p: &mut crate::problems::Problems,
) {
    let store = super::store(config);
    let gate = crate::send::gate::check(
        config,
        crate::send::gate::Asked {
            journal: Some(&store),
            new_journal: false,
        },
    );
    let mut problems = gate.problems;
    // A campaign's approval, when the project asks for one and its files can be read (their
    // own problems are listed already).
    let approval_asked = config.approval.as_ref().is_some_and(|a| a.required);
    if let (Some(c), true, false) = (campaign, approval_asked, p.has_errors()) {
        let prepared = crate::project::prepare(config.clone(), &store, c, false);
        if let Ok(Some(problem)) = prepared
            .as_ref()
            .map_err(|_| ())
            .and_then(|pr| crate::send::gate::approval(pr, &store).map_err(|_| ()))
        {
            problems.push(problem);
        }
    }
    for problem in problems {
        p.error(
            &problem.file,
            problem.line,
            format!("`send` would refuse: {}", problem.message),
        );
    }
}

/// What the sending domains must publish, for the team to compare with their DNS.
fn print_dns(config: &crate::config::Config) {
    let signer = crate::project::signer(config).and_then(Result::ok);
    println!(
        "\nDNS records for sending as {} (guidance: nothing was looked up):",
        clean(&config.sender.address)
    );
    for r in crate::dns::records(config, signer.as_ref()) {
        println!(
            "  {:<5}  {}  TXT  {}",
            r.kind,
            clean(&r.name),
            clean(&r.value)
        );
        println!("         {}", clean(&r.note));
    }
}
