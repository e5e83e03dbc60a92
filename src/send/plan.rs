//! What a send would do now: a prepared campaign and the journal's states in, counts out, and
//! the one rule that says what a run does with each recipient.

use serde::Serialize;

use super::{lock, Options};
use crate::journal::{Journal, State};
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

pub fn plan(p: &Prepared, opts: &Options) -> Result<Plan> {
    let path = p.config.journal_path();
    // Rows marked sending are in flight if a run holds the journal now, else left by a dead one.
    let live = lock::held_by_a_run(&path);
    let states = match Journal::open_existing(&path)? {
        Some(j) => j.states(&p.campaign.id)?,
        None => Default::default(),
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
    for r in &p.audience.recipients {
        let st = states
            .get(&r.contact.email)
            .copied()
            .unwrap_or(State::Queued);
        let goes = match disposition(st, opts, live) {
            Disposition::Send => true,
            Disposition::AlreadySent => {
                plan.already_sent += 1;
                false
            }
            Disposition::Failed { resend } => {
                plan.failed += 1;
                resend
            }
            Disposition::Unknown { resend } => {
                plan.unknown += 1;
                resend
            }
            Disposition::InFlight => {
                plan.sending += 1;
                false
            }
        };
        if goes && opts.limit.is_none_or(|l| plan.to_send < l) {
            plan.to_send += 1;
            *plan.by_language.entry(r.langs.join("+")).or_default() += 1;
        }
    }
    Ok(plan)
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
