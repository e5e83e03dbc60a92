//! What the journal says of a campaign: the journal in, counts per state, the sending span and
//! rate, and every failed, deferred or unknown delivery with the relay's words out.

use serde::Serialize;

use crate::clock;
use crate::journal::{Journal, State};
use crate::{Error, Result};

/// What the journal says of a campaign.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub campaign: String,
    pub total: usize,
    pub counts: std::collections::BTreeMap<State, usize>,
    pub first_sent: Option<String>,
    pub last_sent: Option<String>,
    /// Accepted messages per second between the first and the last acceptance.
    pub rate_per_second: Option<f64>,
    /// Messages each relay took.
    pub sent_by_relay: std::collections::BTreeMap<String, usize>,
    pub problems: Vec<crate::journal::Delivery>,
    /// The campaign's latest approval, when it has one.
    pub approval: Option<crate::journal::Approved>,
}

/// What a row left `sending` by a run that is no longer alive is called.
pub const STOPPED_WHILE_SENDING: &str =
    "a run stopped while sending: the relay may or may not have the message";

/// `live`: a run holds the journal now (see [`crate::journal::Store::held_by_a_run`]); otherwise rows still
/// marked sending were left by a run that died, and are shown as the unknown they are.
pub fn status(journal: &Journal, campaign: &str, live: bool) -> Result<Status> {
    let mut counts = journal.counts(campaign)?;
    if !live {
        if let Some(n) = counts.remove(&State::Sending) {
            *counts.entry(State::Unknown).or_default() += n;
        }
    }
    let span = journal.sent_span(campaign)?;
    let sent = counts.get(&State::Sent).copied().unwrap_or(0);
    let rate = span.and_then(|(a, b)| {
        (b > a && sent > 1).then(|| (sent - 1) as f64 / ((b - a) as f64 / 1000.0))
    });
    let mut wanted = vec![State::Failed, State::Deferred, State::Unknown];
    if !live {
        wanted.push(State::Sending);
    }
    let mut problems = journal.deliveries(campaign, &wanted)?;
    for d in &mut problems {
        if d.state == State::Sending {
            d.state = State::Unknown;
            d.smtp_reply = Some(STOPPED_WHILE_SENDING.to_string());
            d.smtp_code = None;
        }
    }
    let approval = journal.approvals(campaign)?.pop();
    Ok(Status {
        approval,
        campaign: campaign.to_string(),
        total: counts.values().sum(),
        counts,
        first_sent: span.map(|(a, _)| clock::from_ms(a).to_rfc3339()),
        last_sent: span.map(|(_, b)| clock::from_ms(b).to_rfc3339()),
        rate_per_second: rate,
        sent_by_relay: journal.sent_by_relay(campaign)?,
        problems,
    })
}

/// Writes failed, deferred and unknown deliveries with their reasons, ready to fix and resend.
pub fn write_failed_csv(path: &std::path::Path, rows: &[crate::journal::Delivery]) -> Result<()> {
    let io = |e: std::io::Error| Error::io("write", path, e);
    let mut w = csv::Writer::from_path(path).map_err(|e| io(e.into()))?;
    w.write_record([
        "email",
        "state",
        "attempts",
        "smtp_code",
        "smtp_reply",
        "last_attempt_at",
        "language",
        "updates",
    ])
    .map_err(|e| io(e.into()))?;
    for d in rows {
        w.write_record([
            d.email.as_str(),
            d.state.as_str(),
            &d.attempts.to_string(),
            &d.smtp_code.map(|c| c.to_string()).unwrap_or_default(),
            d.smtp_reply.as_deref().unwrap_or(""),
            &d.last_attempt_at
                .map(|t| clock::from_ms(t).to_rfc3339())
                .unwrap_or_default(),
            &d.langs,
            &d.updates,
        ])
        .map_err(|e| io(e.into()))?;
    }
    w.flush().map_err(io)
}
