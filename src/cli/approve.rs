//! `bulletin approve CAMPAIGN`: clearance. `--by NAME` records an approval of exactly what
//! goes out now; `--request` mails each approver the test samples and a signed link whose page
//! (`bulletin serve`) approves with one button.

use std::path::Path;

use super::{clean, load, print_warnings, Exit};

#[derive(clap::Args)]
pub struct Args {
    /// The campaign (its file name under campaigns/, without .toml).
    campaign: String,
    /// Who approves ("Amina Diallo", or an address), recorded with the approval.
    #[arg(
        long,
        value_name = "NAME",
        required_unless_present = "request",
        conflicts_with = "request"
    )]
    by: Option<String>,
    /// Why, or on what condition, recorded with the approval.
    #[arg(long, value_name = "TEXT")]
    note: Option<String>,
    /// Mail each of [approval] approvers the samples and a link that approves.
    #[arg(long)]
    request: bool,
}

pub fn run(config: &Path, a: Args) -> anyhow::Result<Exit> {
    let config = load(config)?;
    let store = super::store(&config);
    let prepared = crate::project::prepare(config.clone(), &store, &a.campaign, false)?;
    print_warnings(&prepared.problems);
    let binding = crate::approval::Binding::of(&prepared)?;
    let counts: Vec<String> = binding
        .counts
        .iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    if a.request {
        let sent = crate::send::request_approval(&prepared, &store, &binding)?;
        for (who, samples) in &sent {
            println!(
                "Asked {} to approve {} ({} samples and the link).",
                clean(who),
                prepared.campaign.id,
                samples
            );
        }
        return Ok(Exit::Success);
    }
    let by = crate::text::one_line(a.by.as_deref().unwrap_or_default());
    let by = by.trim();
    if by.is_empty() {
        anyhow::bail!("--by needs a name: who approves");
    }
    let record = binding.approved(
        &prepared.campaign.id,
        by,
        a.note.as_deref().map(crate::text::one_line).as_deref(),
        crate::clock::now_ms(),
        "command",
    );
    store.journal()?.record_approval(&record)?;
    println!(
        "Approved {} by {}: version {} ({}).",
        prepared.campaign.id,
        clean(by),
        &binding.hash[..16],
        counts.join(", ")
    );
    Ok(Exit::Success)
}
