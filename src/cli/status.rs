//! `bulletin status`: the journal in, what it says of each campaign out (counts, rate, the
//! relay's reasons for every failure), without changing or creating anything.

use std::path::{Path, PathBuf};

use super::{clean, load, Exit};
use crate::send;

#[derive(clap::Args)]
pub struct Args {
    /// One campaign; every campaign in the journal when left out.
    campaign: Option<String>,
    /// Write failed, deferred and unknown deliveries with their reasons to FILE.
    #[arg(long, value_name = "FILE")]
    failed_csv: Option<PathBuf>,
    /// Print the status as JSON on stdout.
    #[arg(long)]
    json: bool,
}

pub fn run(config: &Path, a: Args) -> anyhow::Result<Exit> {
    let config = load(config)?;
    let store = super::store(&config);
    let path = store.path();
    // Is a run sending right now? Its rows marked sending are in flight, not left by a dead one.
    let live = store.held_by_a_run();
    // An unknown campaign is refused as every command refuses it, unless the journal knows it
    // (a campaign whose file was since removed still has a status).
    if let Some(c) = &a.campaign {
        let journaled = store
            .existing()?
            .map(|j| j.campaigns())
            .transpose()?
            .is_some_and(|known| known.contains(c));
        if !journaled {
            crate::campaign::locate_id(&config, c)?;
        }
    }
    let Some(journal) = store.existing()? else {
        let marker = crate::journal::marker_path(path);
        if marker.exists() {
            anyhow::bail!(
                "the journal {} is missing, but {} says this project has sent from it: restore it from a backup",
                path.display(),
                marker.display()
            );
        }
        println!(
            "No journal yet ({}): nothing has been sent from this project.",
            path.display()
        );
        return Ok(Exit::Success);
    };
    let ids = match a.campaign {
        Some(c) => vec![c],
        None => journal.campaigns()?,
    };
    if ids.is_empty() {
        println!("The journal ({}) holds no campaign yet.", path.display());
    }
    let mut all = Vec::new();
    let mut problems = Vec::new();
    for id in ids {
        let st = send::status::status(&journal, &id, live)?;
        problems.extend(st.problems.iter().cloned());
        all.push(st);
    }
    if let Some(file) = a.failed_csv {
        send::status::write_failed_csv(&file, &problems)?;
        eprintln!(
            "{} failed, deferred or unknown deliveries written to {}",
            problems.len(),
            file.display()
        );
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&all)?);
    } else {
        for st in &all {
            print!("{}", clean(&text(st, &config)));
        }
    }
    Ok(Exit::Success)
}

/// The campaign's latest approval, in one line.
fn approval_line(st: &send::status::Status) -> String {
    match &st.approval {
        Some(a) => format!(
            "  last approved by {} on {} ({}), version {}{}\n",
            a.by,
            crate::clock::from_ms(a.at_ms).format("%Y-%m-%d %H:%M UTC"),
            if a.source == "link" {
                "by the mailed link"
            } else {
                "by command"
            },
            &a.hash[..16],
            a.note
                .as_deref()
                .map(|n| format!(": {n}"))
                .unwrap_or_default()
        ),
        None => String::new(),
    }
}

fn text(st: &send::status::Status, config: &crate::config::Config) -> String {
    let counts: Vec<String> = st
        .counts
        .iter()
        .map(|(s, n)| format!("{} {n}", s.as_str()))
        .collect();
    if st.total == 0 {
        return format!(
            "{0}: not sent yet, the journal records nothing for it (bulletin send {0}, or bulletin schedule {0} --at TIME)\n{1}",
            st.campaign,
            approval_line(st)
        );
    }
    let mut o = format!(
        "{}: {}: {}\n",
        st.campaign,
        crate::text::count(st.total, "recipient", "recipients"),
        counts.join(", ")
    );
    o.push_str(&approval_line(st));
    if let (Some(a), Some(b)) = (&st.first_sent, &st.last_sent) {
        let local = |t: &str| {
            chrono::DateTime::parse_from_rfc3339(t).map_or_else(
                |_| t.to_string(),
                |d| {
                    d.with_timezone(&config.tz())
                        .format("%Y-%m-%d %H:%M:%S %Z")
                        .to_string()
                },
            )
        };
        o.push_str(&format!("  sent from {} to {}", local(a), local(b)));
        let span = chrono::DateTime::parse_from_rfc3339(b)
            .ok()
            .zip(chrono::DateTime::parse_from_rfc3339(a).ok())
            .map(|(b, a)| (b - a).num_milliseconds());
        let rate = &config.rate;
        match st.rate_per_second {
            // Messages sent within a second are the burst at work: an average over a few
            // milliseconds would read like a broken limit.
            Some(_) if span.is_some_and(|ms| ms < 1000) => o.push_str(&format!(
                ": all within a second, as the burst allows (limit {}/s, bursts of {})",
                rate.per_second, rate.burst
            )),
            // The average over the whole run, beside the limit.
            Some(r) => o.push_str(&format!(
                ": an average of {r:.1} messages/s (limit {}/s, bursts of {})",
                rate.per_second, rate.burst
            )),
            None => {}
        }
        o.push('\n');
    }
    if !st.sent_by_relay.is_empty() {
        let by: Vec<String> = st
            .sent_by_relay
            .iter()
            .map(|(r, n)| format!("{r} {n}"))
            .collect();
        o.push_str(&format!("  sent by relay: {}\n", by.join(", ")));
    }
    for d in st.problems.iter().take(50) {
        o.push_str(&format!(
            "  {} {}: {}{}\n",
            d.state.as_str(),
            d.email,
            d.smtp_code.map(|c| format!("{c} ")).unwrap_or_default(),
            d.smtp_reply.as_deref().unwrap_or("")
        ));
    }
    if st.problems.len() > 50 {
        o.push_str(&format!(
            "  … and {} more (--failed-csv FILE lists them all)\n",
            st.problems.len() - 50
        ));
    }
    o
}
