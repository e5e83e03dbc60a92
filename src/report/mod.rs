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
use crate::journal::{State, Store};
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
    let day = |ms: i64| {
        crate::clock::from_ms(ms)
            .format("%Y-%m-%d %H:%M UTC")
            .to_string()
    };
    let (listed, note) = match listed(config, store, campaign) {
        Ok(l) => (l, None),
        Err(e) => (
            HashMap::new(),
            Some(format!(
                "Lists and topics are left out: the campaign's files cannot be read now ({e})."
            )),
        ),
    };
    let sent: Vec<_> = deliveries
        .iter()
        .filter(|d| d.state == State::Sent)
        .collect();
    let mut charts = vec![chart(
        "over-time",
        "Messages handed over to the relay, over time",
        over_time(&sent.iter().filter_map(|d| d.sent_at).collect::<Vec<_>>()),
        true,
    )];
    let count_by = |key: &dyn Fn(&crate::journal::Delivery) -> Vec<String>| {
        let mut m = HashMap::new();
        for d in &sent {
            for k in key(d) {
                *m.entry(k).or_insert(0) += 1;
            }
        }
        sorted(m)
    };
    charts.push(chart(
        "by-language",
        "Messages handed over, by language",
        count_by(&|d| vec![d.langs.clone()]),
        false,
    ));
    if note.is_none() {
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
    let mut reasons = HashMap::new();
    for d in &deliveries {
        if matches!(d.state, State::Failed | State::Deferred | State::Unknown) {
            // Relays name the recipient in their replies: without it, one reason is one bar.
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
    charts.push(chart(
        "reasons",
        "Failures and deferrals, by reason",
        sorted(reasons),
        false,
    ));
    let langs: HashMap<&str, &str> = deliveries
        .iter()
        .map(|d| (d.email.as_str(), d.langs.as_str()))
        .collect();
    let mut how = HashMap::new();
    let mut by_lang = HashMap::new();
    let mut by_topic = HashMap::new();
    for l in &left {
        *how.entry(format!("{} ({})", l.reason, l.source))
            .or_insert(0) += 1;
        *by_lang
            .entry(langs.get(l.email.as_str()).unwrap_or(&"?").to_string())
            .or_insert(0) += 1;
        for t in listed
            .get(&l.email)
            .map(|x| x.1.clone())
            .unwrap_or_default()
        {
            *by_topic.entry(t).or_insert(0) += 1;
        }
    }
    charts.push(chart(
        "left-how",
        "Unsubscribes and bounces, by kind",
        sorted(how),
        false,
    ));
    charts.push(chart(
        "left-over-time",
        "Unsubscribes and bounces, over time",
        over_time(&left.iter().map(|l| l.at_ms).collect::<Vec<_>>()),
        true,
    ));
    charts.push(chart(
        "left-language",
        "Unsubscribes and bounces, by language",
        sorted(by_lang),
        false,
    ));
    if note.is_none() {
        charts.push(chart(
            "left-topic",
            "Unsubscribes and bounces, by topic",
            sorted(by_topic),
            false,
        ));
    }
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
        approvals: approvals
            .iter()
            .map(|a| {
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
            })
            .collect(),
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
