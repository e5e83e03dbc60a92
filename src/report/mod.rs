//! The campaign report: the journal (and the campaign's lists, for lists and topics) in, an
//! HTML page per campaign out, with pictures where people would rather look than read:
//! messages handed over over time, by language, list and relay; failures and deferrals by
//! reason; who left through the campaign, over time, by language and topic; its approvals and
//! test sends. Its counts are `status`'s own. No opens or clicks: the page says why.

mod svg;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::Config;
use crate::journal::history::Left;
use crate::journal::{Delivery, State, Store};
use crate::send::status::Status;
use crate::{Error, Result};

const PAGE: &str = include_str!("page.html");

/// One campaign's report, ready for its page.
#[derive(Debug, Serialize)]
pub struct CampaignReport {
    pub campaign: String,
    pub status: Status,
    /// Each state's count, in the order the page lists them.
    pub counts: Vec<(String, usize)>,
    /// When the first and the last message were handed over, as people read times.
    pub span: Option<(String, String)>,
    pub charts: Vec<Chart>,
    pub approvals: Vec<String>,
    pub test_sends: Vec<String>,
    /// Why lists and topics are missing, when the campaign's files could not be read.
    pub note: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Chart {
    pub id: String,
    pub title: String,
    pub svg: String,
    /// The same numbers as a table, for screen readers and for copying.
    pub rows: Vec<(String, usize)>,
}

fn sorted(m: HashMap<String, usize>) -> Vec<(String, usize)> {
    let mut v: Vec<(String, usize)> = m.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    v
}

/// Times bucketed so that there are at most 60 buckets: by minute, ten minutes, hour or day.
fn over_time(times: &[i64]) -> Vec<(String, usize)> {
    let (Some(&first), Some(&last)) = (times.iter().min(), times.iter().max()) else {
        return Vec::new();
    };
    let steps: [(i64, &str); 6] = [
        (1_000, "%Y-%m-%d %H:%M:%S"),
        (10_000, "%Y-%m-%d %H:%M:%S"),
        (60_000, "%Y-%m-%d %H:%M"),
        (600_000, "%Y-%m-%d %H:%M"),
        (3_600_000, "%Y-%m-%d %H:00"),
        (86_400_000, "%Y-%m-%d"),
    ];
    let (step, format) = steps
        .iter()
        .find(|(s, _)| (last - first) / s < 60)
        .copied()
        .unwrap_or((86_400_000 * 7, "%Y-%m-%d"));
    let start = first - first.rem_euclid(step);
    let n = ((last - start) / step + 1) as usize;
    let mut counts = vec![0usize; n];
    for t in times {
        counts[((t - start) / step) as usize] += 1;
    }
    counts
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            let at = crate::clock::from_ms(start + i as i64 * step);
            (at.format(format).to_string(), c)
        })
        .collect()
}

fn journal_span(times: &[i64]) -> Option<(String, String)> {
    let show = |ms: i64| {
        crate::clock::from_ms(ms)
            .format("%Y-%m-%d %H:%M:%S UTC")
            .to_string()
    };
    Some((show(*times.iter().min()?), show(*times.iter().max()?)))
}

/// What the campaign's lists say of its recipients now: their lists and topics.
type Listed = HashMap<String, (Vec<String>, Vec<String>)>;

fn listed(config: &Config, store: &Store, campaign: &str) -> std::result::Result<Listed, String> {
    let p = crate::project::prepare(config.clone(), store, campaign, true)
        .map_err(|e| e.to_string())?;
    // Those left out now (unsubscribed since, say) were recipients once: their rows count too.
    let left_out = p.audience.left_out.iter().map(|l| {
        (
            l.contact.email().to_string(),
            (
                vec![l.contact.list().to_string()],
                l.contact.interests().to_vec(),
            ),
        )
    });
    Ok(p.audience
        .recipients
        .iter()
        .map(|r| {
            (
                r.contact.email().to_string(),
                (
                    r.lists.iter().map(|l| l.to_string()).collect(),
                    r.contact.interests().to_vec(),
                ),
            )
        })
        .chain(left_out)
        .collect())
}

fn chart(id: &str, title: &str, rows: Vec<(String, usize)>, over_time: bool) -> Chart {
    let svg = if over_time {
        svg::columns(title, &rows)
    } else {
        svg::bars(title, &rows)
    };
    Chart {
        id: id.into(),
        title: title.into(),
        svg,
        rows,
    }
}

/// Gathers one campaign's report.
pub fn gather(config: &Config, store: &Store, campaign: &str) -> Result<CampaignReport> {
    let journal = store.existing()?.ok_or_else(|| {
        Error::Refused("no journal yet: nothing has been sent from this project".into())
    })?;
    let status = crate::send::status::status(&journal, campaign, store.held_by_a_run())?;
    let deliveries = journal.deliveries(campaign, &[])?;
    let left = journal.left_through(campaign)?;
    let approvals = journal.approvals(campaign)?;
    let tests = journal.test_sends_of(campaign)?;
    drop(journal);
    let (listed, note) = match listed(config, store, campaign) {
        Ok(l) => (Some(l), None),
        Err(e) => (
            None,
            Some(format!(
                "Lists and topics are left out: the campaign's files cannot be read now ({e})."
            )),
        ),
    };
    let sent: Vec<&Delivery> = deliveries
        .iter()
        .filter(|d| d.state == State::Sent)
        .collect();
    let mut charts = handed_over(&sent, &status, listed.as_ref());
    charts.push(chart(
        "reasons",
        "Failures and deferrals, by reason",
        reasons(&deliveries),
        false,
    ));
    charts.extend(who_left(&deliveries, &left, listed.as_ref()));
    let counts = [
        State::Sent,
        State::Failed,
        State::Deferred,
        State::Unknown,
        State::Queued,
        State::Sending,
    ]
    .iter()
    .map(|s| {
        (
            s.as_str().to_string(),
            status.counts.get(s).copied().unwrap_or(0),
        )
    })
    .collect();
    let span = journal_span(&sent.iter().filter_map(|d| d.sent_at).collect::<Vec<_>>());
    Ok(CampaignReport {
        campaign: campaign.to_string(),
        counts,
        span,
        charts,
        approvals: approvals.iter().map(approval_line).collect(),
        test_sends: tests
            .iter()
            .map(|t| {
                format!(
                    "{}, content {}",
                    day(t.at_ms),
                    &t.content_hash[..t.content_hash.len().min(12)]
                )
            })
            .collect(),
        status,
        note,
    })
}

fn day(ms: i64) -> String {
    crate::clock::from_ms(ms)
        .format("%Y-%m-%d %H:%M UTC")
        .to_string()
}

fn approval_line(a: &crate::journal::Approved) -> String {
    format!(
        "{} by {} ({}), version {}{}",
        day(a.at_ms),
        a.by,
        if a.source == "link" {
            "mailed link"
        } else {
            "command"
        },
        &a.hash[..12],
        a.note
            .as_deref()
            .map(|n| format!(": {n}"))
            .unwrap_or_default()
    )
}

/// The messages handed over: over time, by language, by list (when the lists can be read) and
/// by relay.
fn handed_over(sent: &[&Delivery], status: &Status, listed: Option<&Listed>) -> Vec<Chart> {
    let count_by = |key: &dyn Fn(&Delivery) -> Vec<String>| {
        let mut m = HashMap::new();
        for d in sent {
            for k in key(d) {
                *m.entry(k).or_insert(0) += 1;
            }
        }
        sorted(m)
    };
    let mut charts = vec![
        chart(
            "over-time",
            "Messages handed over to the relay, over time",
            over_time(&sent.iter().filter_map(|d| d.sent_at).collect::<Vec<_>>()),
            true,
        ),
        chart(
            "by-language",
            "Messages handed over, by language",
            count_by(&|d| vec![d.langs.clone()]),
            false,
        ),
    ];
    if let Some(listed) = listed {
        charts.push(chart(
            "by-list",
            "Messages handed over, by list (one on two lists counts in each)",
            count_by(&|d| {
                listed
                    .get(&d.email)
                    .map(|l| l.0.clone())
                    .unwrap_or_else(|| vec!["(no longer in a list)".into()])
            }),
            false,
        ));
    }
    charts.push(chart(
        "by-relay",
        "Messages handed over, by relay",
        sorted(status.sent_by_relay.clone().into_iter().collect()),
        false,
    ));
    charts
}

/// Failures, deferrals and unknowns by reason: the relay's code and words, without the
/// recipient's address (relays name it, and one reason would be one bar each).
fn reasons(deliveries: &[Delivery]) -> Vec<(String, usize)> {
    let mut reasons = HashMap::new();
    for d in deliveries {
        if matches!(d.state, State::Failed | State::Deferred | State::Unknown) {
            let reply: String = d
                .smtp_reply
                .as_deref()
                .unwrap_or("no reply")
                .replace(&d.email, "<recipient>")
                .chars()
                .take(60)
                .collect();
            let code = d.smtp_code.map(|c| format!("{c} ")).unwrap_or_default();
            *reasons
                .entry(format!("{}: {code}{reply}", d.state.as_str()))
                .or_insert(0) += 1;
        }
    }
    sorted(reasons)
}

/// Who left the list through the campaign: by kind, over time, by language and by topic.
fn who_left(deliveries: &[Delivery], left: &[Left], listed: Option<&Listed>) -> Vec<Chart> {
    let langs: HashMap<&str, &str> = deliveries
        .iter()
        .map(|d| (d.email.as_str(), d.langs.as_str()))
        .collect();
    let (mut how, mut by_lang, mut by_topic) = (HashMap::new(), HashMap::new(), HashMap::new());
    for l in left {
        *how.entry(format!("{} ({})", l.reason, l.source))
            .or_insert(0) += 1;
        *by_lang
            .entry(langs.get(l.email.as_str()).unwrap_or(&"?").to_string())
            .or_insert(0) += 1;
        for t in listed
            .and_then(|m| m.get(&l.email))
            .map(|x| x.1.clone())
            .unwrap_or_default()
        {
            *by_topic.entry(t).or_insert(0) += 1;
        }
    }
    let mut charts = vec![
        chart(
            "left-how",
            "Unsubscribes and bounces, by kind",
            sorted(how),
            false,
        ),
        chart(
            "left-over-time",
            "Unsubscribes and bounces, over time",
            over_time(&left.iter().map(|l| l.at_ms).collect::<Vec<_>>()),
            true,
        ),
        chart(
            "left-language",
            "Unsubscribes and bounces, by language",
            sorted(by_lang),
            false,
        ),
    ];
    if listed.is_some() {
        charts.push(chart(
            "left-topic",
            "Unsubscribes and bounces, by topic",
            sorted(by_topic),
            false,
        ));
    }
    charts
}

/// Writes a page per campaign (every campaign the journal knows, when none is named) and an
/// index to `out`; returns the pages written.
pub fn write(
    config: &Config,
    store: &Store,
    campaigns: &[String],
    out: &Path,
) -> Result<Vec<PathBuf>> {
    let ids = if campaigns.is_empty() {
        match store.existing()? {
            Some(j) => j.campaigns()?,
            None => Vec::new(),
        }
    } else {
        // A name neither the journal nor the campaigns folder knows is a mistake, as for status.
        let known = match store.existing()? {
            Some(j) => j.campaigns()?,
            None => Vec::new(),
        };
        for c in campaigns {
            if !known.contains(c) {
                crate::campaign::locate_id(config, c)?;
            }
        }
        campaigns.to_vec()
    };
    if ids.is_empty() {
        return Err(Error::Refused(
            "nothing to report: no campaign has been sent from this project yet".into(),
        ));
    }
    let mut tera = tera::Tera::default();
    tera.autoescape_on(vec![".html"]);
    tera.add_raw_template("page.html", PAGE)
        .map_err(|e| Error::Template(format!("the report's page: {e}")))?;
    std::fs::create_dir_all(out).map_err(|e| Error::io("create", out, e))?;
    let generated = crate::clock::utc().format("%Y-%m-%d %H:%M UTC").to_string();
    let mut written = Vec::new();
    let mut index: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for id in &ids {
        let r = gather(config, store, id)?;
        index.insert(
            id.clone(),
            (
                r.status.total,
                r.status.counts.get(&State::Sent).copied().unwrap_or(0),
            ),
        );
        let mut ctx = tera::Context::new();
        ctx.insert("r", &r);
        ctx.insert("generated", &generated);
        ctx.insert("organisation", &config.sender.organisation);
        ctx.insert("index", &Vec::<(String, usize, usize)>::new());
        let html = tera.render("page.html", &ctx).map_err(|e| {
            Error::Template(format!(
                "the report's page: {}",
                crate::render::tera_error_text(&e)
            ))
        })?;
        let file = out.join(format!("{id}.html"));
        std::fs::write(&file, html).map_err(|e| Error::io("write", &file, e))?;
        written.push(file);
    }
    let mut ctx = tera::Context::new();
    ctx.insert("r", &serde_json::Value::Null);
    ctx.insert("generated", &generated);
    ctx.insert("organisation", &config.sender.organisation);
    let rows: Vec<(String, usize, usize)> =
        index.into_iter().map(|(k, (t, s))| (k, t, s)).collect();
    ctx.insert("index", &rows);
    let html = tera.render("page.html", &ctx).map_err(|e| {
        Error::Template(format!(
            "the report's index: {}",
            crate::render::tera_error_text(&e)
        ))
    })?;
    let file = out.join("index.html");
    std::fs::write(&file, html).map_err(|e| Error::io("write", &file, e))?;
    written.push(file);
    Ok(written)
}
