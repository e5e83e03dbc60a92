//! What a send would do now: a prepared campaign and the journal's states in, counts out, and
//! the one rule that says what a run does with each recipient.

use serde::Serialize;

use super::Options;
use crate::journal::{Journal, State, Store};
use crate::project::Prepared;
use crate::Result;

/// What a send would do now, read from the journal without changing it.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub recipients: usize,
    pub to_send: usize,
    pub already_sent: usize,
    pub failed: usize,
    pub unknown: usize,
    pub sending: usize,
    pub by_language: std::collections::BTreeMap<String, usize>,
}

pub fn plan(p: &Prepared, store: &Store, opts: &Options) -> Result<Plan> {
    // Rows marked sending are in flight if a run holds the journal now, else left by a dead one.
    let live = store.held_by_a_run();
    let states = match store.existing()? {
        Some(j) => rows_of(&j, p)?.1,
        None => vec![None; p.audience.recipients.len()],
    };
    let mut plan = Plan {
        recipients: p.audience.recipients.len(),
        to_send: 0,
        already_sent: 0,
        failed: 0,
        unknown: 0,
        sending: 0,
        by_language: Default::default(),
    };
    let sel = select(p, &states, opts, live);
    plan.already_sent = sel.already_sent;
    plan.failed = sel.failed;
    plan.unknown = sel.unknown;
    plan.sending = sel.in_flight;
    plan.to_send = sel.goes.len();
    for &i in &sel.goes {
        let langs = p.audience.recipients[i].langs.join("+");
        *plan.by_language.entry(langs).or_default() += 1;
    }
    Ok(plan)
}

/// Each recipient's journal row, in the audience's order: its id (-1 if not queued), its state.
pub fn rows_of(j: &Journal, p: &Prepared) -> Result<(Vec<i64>, Vec<Option<State>>)> {
    let r = &p.audience.recipients;
    j.rows_of(&p.campaign.id, r.len(), |i| r[i].contact.email())
}

/// Who a run sends to: the audience's recipients, each by its journal state, within the limit.
pub struct Selection {
    /// Indexes into the audience of those the run sends to, in order, at most `--limit`.
    pub goes: Vec<usize>,
    /// How many would go without the limit.
    pub pending: usize,
    pub already_sent: usize,
    pub failed: usize,
    pub unknown: usize,
    pub in_flight: usize,
}

/// The one place that decides who a run (or its plan, or its dry run) sends to. `live`: a run
/// holds the journal now, so rows marked sending are its messages in flight.
pub fn select(p: &Prepared, states: &[Option<State>], opts: &Options, live: bool) -> Selection {
    let mut sel = Selection {
        goes: Vec::new(),
        pending: 0,
        already_sent: 0,
        failed: 0,
        unknown: 0,
        in_flight: 0,
    };
    for i in 0..p.audience.recipients.len() {
        let st = states.get(i).copied().flatten().unwrap_or(State::Queued);
        let goes = match disposition(st, opts, live) {
            Disposition::Send => true,
            Disposition::AlreadySent => {
                sel.already_sent += 1;
                false
            }
            Disposition::Failed { resend } => {
                sel.failed += 1;
                resend
            }
            Disposition::Unknown { resend } => {
                sel.unknown += 1;
                resend
            }
            Disposition::InFlight => {
                sel.in_flight += 1;
                false
            }
        };
        if goes {
            sel.pending += 1;
            if opts.limit.is_none_or(|l| sel.goes.len() < l) {
                sel.goes.push(i);
            }
        }
    }
    sel
}

/// What a run does with a recipient, given their journal state: the one rule used by the plan,
/// the dry run and the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    Send,
    AlreadySent,
    /// Refused for good by the relay; sent again only with --retry-failed.
    Failed {
        resend: bool,
    },
    /// Maybe delivered by a run that died; sent again only with --resend-unknown.
    Unknown {
        resend: bool,
    },
    /// Being sent by another run right now.
    InFlight,
}

/// `live`: a run holds the journal now, so rows marked sending are its messages in flight.
pub fn disposition(state: State, opts: &Options, live: bool) -> Disposition {
    match state {
        State::Queued | State::Deferred => Disposition::Send,
        State::Sent => Disposition::AlreadySent,
        State::Failed => Disposition::Failed {
            resend: opts.retry_failed,
        },
        State::Sending if live => Disposition::InFlight,
        State::Unknown | State::Sending => Disposition::Unknown {
            resend: opts.resend_unknown,
        },
    }
}
